/*
 * The queue: messages that could not go now, one file each in a
 * directory private to the user (mode 0700), written durably (temporary
 * file, fsync, link into place, fsync of the directory) and locked by
 * whoever sends one (flock, held from reading to removal).  This module
 * knows the directory, the file format and the locks; what is sent and
 * when is the caller's.
 *
 * A queue file is a text envelope, a blank line, then the header block as
 * built at the first try (Date and Message-ID fixed) and the raw input
 * (for dead.letter and the body):
 *
 *	ssmtp-queue 1
 *	created 1764654905
 *	attempts 1
 *	next 1764655205
 *	unknown 0
 *	error mail.example.com: connect: Connection refused
 *	hub mail.example.com:587	(only for a revaliases hub)
 *	from alice@example.com	(empty: the null sender)
 *	notify FAILURE		(notify, ret, envid: only when given)
 *	body8 0
 *	rcpt bob@example.org	(one line each)
 *	headers 512
 *	raw 2048
 *
 * The ID is the file's name: 17 upper-case hex digits, the creation time
 * (8 for the seconds, 5 for the microseconds) and 4 random ones, so that
 * names sort oldest first.  Temporary files are ".tmp.*"; files that are
 * not queue files go to the "corrupt" directory inside the queue.
 */
#ifndef SSMTP_QUEUE_H
#define SSMTP_QUEUE_H

#include <sys/types.h>

#include <stddef.h>
#include <time.h>

#include "err.h"
#include "message.h"

#define QUEUE_ID_LEN	17
#define QUEUE_HDR_MAX	(32 * 1024 * 1024)	/* the envelope text */
#define QUEUE_LINE_MAX	2048			/* one envelope line */
#define QUEUE_TMP_GRACE	3600	/* a temporary file older is removed, s */
#define QUEUE_RETRY_MIN	300	/* the first retry after 5 minutes, */
#define QUEUE_RETRY_MAX	14400	/* doubling up to 4 hours */

struct queue {
	char		 path[4096];
	int		 dirfd;		/* -1: the queue does not exist */
};

/* One queued message: its envelope and state. */
struct qentry {
	char		 id[QUEUE_ID_LEN + 1];
	int		 fd;		/* open and locked, or -1 */
	time_t		 created, next;
	unsigned	 attempts;
	int		 unknown;	/* the last try's outcome was unknown */
	char		 error[512];	/* the last try's, one line */
	char		*hub;		/* "host:port" or NULL */
	char		*from;		/* "" for the null sender */
	char	       **rcpts;
	size_t		 nrcpts;
	char		 notify[32], ret[8], envid[101];
	int		 body8;
	off_t		 data;		/* where the header block starts */
	off_t		 hdrlen, rawlen;
};

/*
 * The directory of this user's queue into buf: for root, dir (QueueDir)
 * or CONF's default; for other users $XDG_STATE_HOME/ssmtp/queue, else
 * ~/.local/state/ssmtp/queue (HOME, else the passwd home).  Returns 0,
 * or -1 with ERR_CONFIG when there is no home to put it in.
 */
int	queue_path(const char *dir, char *buf, size_t size, struct err *);

/*
 * Open the queue at path.  With create, missing directories are made
 * (mode 0700); without, a missing queue is an empty one (dirfd -1).  The
 * queue must be a directory of this user's with no group or other
 * access.  Returns 0, or -1 with ERR_IOERR (ERR_CONFIG for a directory
 * that is not safe to use) naming the path.
 */
int	queue_open(struct queue *, const char *path, int create,
	    struct err *);
void	queue_close(struct queue *);

void	qentry_init(struct qentry *);
void	qentry_free(struct qentry *);

/*
 * Add a message with the envelope of q (created, attempts, next, error,
 * unknown as set by the caller): written to a temporary file, synced,
 * linked under a new ID, the directory synced.  The ID is written into
 * q->id.  Returns 0 only once the message is on disk, else -1 with
 * ERR_IOERR saying why (the queue is unchanged).
 */
int	queue_add(struct queue *, struct qentry *, const struct message *,
	    struct err *);

/*
 * The IDs in the queue, sorted (oldest first), into *ids (each
 * allocated).  On the way, temporary files older than QUEUE_TMP_GRACE
 * are removed and names that are not IDs are set aside.  Returns 0 or -1
 * with ERR_IOERR.
 */
int	queue_list(struct queue *, char ***ids, size_t *n, struct err *);
void	queue_ids_free(char **, size_t);

/* Whether s is a well-formed ID. */
int	queue_id_valid(const char *);

/*
 * Open, lock and read one entry.  Returns 0 with q filled and locked
 * (q->fd), 1 when it is gone or another run holds it, -1 with ERR_DATA
 * when the file is not a queue file of ours (the caller sets it aside),
 * or with ERR_IOERR.  With lock unset, the file is read without a lock
 * (for listing) and 2 is returned when another run holds it.
 */
int	queue_read(struct queue *, const char *id, struct qentry *, int lock,
	    struct err *);

/*
 * Parse an envelope text (up to and without the blank line) into q.
 * Returns 0 or -1 with ERR_DATA.  Exposed for the fuzzer.
 */
int	queue_parse(const char *, size_t, struct qentry *, struct err *);

/*
 * The message of a read entry: its raw input spooled again and parsed,
 * and its header block as built.  Returns 0 or -1.
 */
int	queue_message(const struct qentry *, struct message *, struct err *);

/*
 * Write q's new state (attempts, next, error, unknown) durably: a new
 * file with the same message, renamed over the old one.  The lock ends
 * with it (q->fd is closed).  Returns 0 or -1 with ERR_IOERR.
 */
int	queue_update(struct queue *, struct qentry *, struct err *);

/* Remove a locked entry (after the hub's 250).  Returns 0 or -1. */
int	queue_remove(struct queue *, struct qentry *, struct err *);

/* Move a file aside into the queue's "corrupt" directory. */
int	queue_set_aside(struct queue *, const char *name, struct err *);

/* The delay before the next try after n attempts: 5 min, doubling, 4 h. */
long	queue_backoff(unsigned attempts);

#endif
