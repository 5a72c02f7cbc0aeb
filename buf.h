/*
 * Buffers for every module: a growable buffer with a hard ceiling, a
 * buffered writer that hands full blocks to a sink, and the one way to
 * wipe and free a secret.  Ground floor: uses only err.
 */
#ifndef SSMTP_BUF_H
#define SSMTP_BUF_H

#include <stddef.h>

#include "err.h"

/* A growable buffer; it never grows past max bytes. */
struct buf {
	char		*p;		/* NUL-terminated when not NULL */
	size_t		 len, cap, max;
};

/* An empty buffer that may hold up to max bytes. */
void	buf_init(struct buf *, size_t max);

/* Free (and, with wipe, first zero) the memory; the buffer is empty. */
void	buf_free(struct buf *, int wipe);

/*
 * Append n bytes.  Returns 0, or -1 with ERR_DATA when the ceiling would
 * be passed (the buffer is unchanged), ERR_OSERR without memory.
 */
int	buf_add(struct buf *, const void *, size_t, struct err *)
	    __attribute__((warn_unused_result));

/* Append formatted text, sized from what the format gives.  As buf_add. */
int	buf_printf(struct buf *, struct err *, const char *, ...)
	    __attribute__((format(printf, 3, 4), warn_unused_result));

/*
 * A buffered writer: bytes collect in a block of size bytes, and each
 * full block (and the rest, at bufw_flush) goes to sink, which returns 0
 * or -1 with e filled.  A failure sticks: later calls return -1 at once.
 */
struct bufw {
	char		*p;
	size_t		 len, size;
	size_t		 high;		/* the most it held: what a wipe covers */
	size_t		 block;		/* the sink's unit, for bufw_add's
					   write-through; 0: always copy */
	int		(*sink)(void *, const char *, size_t, struct err *);
	void		*arg;
	int		 failed;
};

/* Set up a writer; returns 0, or -1 with ERR_OSERR without memory. */
int	bufw_init(struct bufw *, size_t size,
	    int (*sink)(void *, const char *, size_t, struct err *), void *,
	    struct err *);

/*
 * Queue n bytes, handing full blocks to the sink.  With w->block set (a
 * divisor of the size), n of a block or more is not copied where it can
 * be helped: what is queued is topped up to a whole block and handed on,
 * then whole blocks go to the sink straight from p, and the rest is
 * queued.  The sink sees the same bytes in the same order either way.
 */
int	bufw_add(struct bufw *, const void *, size_t, struct err *)
	    __attribute__((warn_unused_result));

/* Hand what is queued to the sink. */
int	bufw_flush(struct bufw *, struct err *)
	    __attribute__((warn_unused_result));

/* Free the block (wiped first with wipe); unflushed bytes are lost. */
void	bufw_free(struct bufw *, int wipe);

/* A sink for bufw that writes everything to the descriptor in arg. */
int	bufw_fd_sink(void *, const char *, size_t, struct err *);

/* Wipe a NUL-terminated secret and free it; NULL is fine. */
void	secret_free(char *);

/* Wipe n bytes and free them; NULL is fine. */
void	secret_free_n(void *, size_t);

#endif
