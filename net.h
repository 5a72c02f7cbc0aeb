/*
 * The connection to the hub: name resolution, connect with a timeout, and
 * buffered reads and writes over plain TCP or TLS.  Every wait is bounded
 * by a timeout in seconds; no call blocks longer.
 */
#ifndef SSMTP_NET_H
#define SSMTP_NET_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "err.h"

#define NET_RBUF	16384
#define NET_WBUF	65536
#define NET_LINE_MAX	(1024 * 1024)	/* longest reply line read */

struct net {
	int		 fd;
	SSL		*ssl;
	char		 peer[300];	/* "host [addr]:port" for messages */
	char		 addr[64];	/* numeric address connected to */
	int		 loopback;	/* connected to 127/8 or ::1 */
	char		 rbuf[NET_RBUF];
	size_t		 rpos, rlen;
	char		*wbuf;
	size_t		 wlen;
	char		*line;		/* the last line read, grown as needed */
	size_t		 linelen, linecap;
};

void	net_init(struct net *);

/*
 * Resolve host and connect to each of its addresses in turn (family is
 * AF_UNSPEC, AF_INET or AF_INET6), each within timeout seconds.  Errors:
 * ERR_NOHOST when the name does not exist, ERR_TEMPFAIL when no address
 * answered (refused, unreachable, timed out) or the resolver failed.
 */
int	net_connect(struct net *, const char *host, int port, int family,
	    int timeout, struct err *);

/*
 * Read one line (CRLF or LF removed, NUL-terminated) into the
 * connection's line buffer, which grows with the line up to NET_LINE_MAX;
 * *line points into it until the next read or close.  Errors:
 * ERR_TEMPFAIL on timeout, reset or close, ERR_PROTOCOL for a line over
 * NET_LINE_MAX or a NUL byte.
 */
int	net_read_line(struct net *, const char **line, size_t *len,
	    int timeout, struct err *);

/* Queue bytes for sending; flushes when the buffer fills.  As net_flush. */
int	net_write(struct net *, const void *, size_t, int timeout,
	    struct err *);

/* Send what is queued.  ERR_TEMPFAIL on timeout, reset or close. */
int	net_flush(struct net *, int timeout, struct err *);

/* Bytes received and not yet read. */
size_t	net_pending(const struct net *);

/*
 * Run the TLS handshake with ssl over the connection.  ERR_TEMPFAIL when
 * the connection fails or times out, ERR_UNAVAILABLE when TLS fails.
 */
int	net_tls_handshake(struct net *, SSL *, int timeout, struct err *);

/* Close the connection (no TLS close_notify wait) and free buffers. */
void	net_close(struct net *);

#endif
