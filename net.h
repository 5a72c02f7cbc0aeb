/*
 * The transport: name resolution, connect with a timeout, buffered reads
 * and writes over plain TCP or TLS, and TLS itself (through tls.c, with
 * one client context per process).  Every wait is bounded by a timeout
 * in seconds; no call blocks longer.  It knows nothing of SMTP.
 */
#ifndef SSMTP_NET_H
#define SSMTP_NET_H

#include <stddef.h>

#include "buf.h"
#include "err.h"
#include "tlsconf.h"

#define NET_RBUF	16384
#define NET_WBUF	65536
#define NET_BLOCK	16384		/* a TLS record; divides NET_WBUF */
#define NET_LINE_MAX	(1024 * 1024)	/* longest line read */

struct ssl_st;

struct net {
	int		 fd;
	struct ssl_st	*ssl;		/* TLS is on */
	char		 peer[300];	/* "host [addr]:port" for messages */
	int		 loopback;	/* connected to 127/8 or ::1 */
	char		 rbuf[NET_RBUF];
	size_t		 rpos, rlen;
	struct bufw	 w;		/* what is queued to send */
	int		 wtimeout;	/* for the writer's sink */
	struct buf	 line;		/* the last line read */
	int		 port;
	/* The TLS session cache: the key of this hub, once TLS is up. */
	const struct tls_settings *tls;
	int		 tls_ok;	/* verified (or pinned) */
	char		 cache_key[2048];
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
 * NET_LINE_MAX or a NUL byte, ERR_UNAVAILABLE for a TLS alert.
 */
int	net_read_line(struct net *, const char **line, size_t *len,
	    int timeout, struct err *);

/* Queue bytes for sending; full blocks go out at once.  As net_flush. */
int	net_write(struct net *, const void *, size_t, int timeout,
	    struct err *);

/* Send what is queued.  ERR_TEMPFAIL on timeout, reset or close. */
int	net_flush(struct net *, int timeout, struct err *);

/* Bytes received and not yet read. */
size_t	net_pending(const struct net *);

/*
 * Make the process's TLS context now, if it is not made yet (its CPU then
 * hides in a round trip the caller is waiting for); a failure is left for
 * net_start_tls to report.
 */
void	net_tls_prepare(const struct tls_settings *);

/*
 * Run TLS on the connection (implicit TLS, or after STARTTLS) and check
 * the peer as the settings say.  host is what the certificate must name.
 * Errors: ERR_CONFIG when the context cannot be made, ERR_UNAVAILABLE for
 * handshake or verification failures, ERR_TEMPFAIL when the connection
 * fails or times out.
 */
int	net_start_tls(struct net *, const struct tls_settings *,
	    const char *host, int timeout, struct err *);

/* Whether TLS is on; whether the peer is on a loopback address. */
int	net_tls_active(const struct net *);
int	net_loopback(const struct net *);

/* "host [addr]:port", for messages. */
const char *net_peer(const struct net *);

/* The TLS session as text (ti->on is 0 when TLS was never started). */
void	net_tls_info(const struct net *, const struct tls_settings *,
	    struct tls_info *);

/* Close the connection (no TLS close_notify wait) and free buffers. */
void	net_close(struct net *);

/* Free the process's TLS context (at exit). */
void	net_cleanup(void);

#endif
