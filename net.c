/* The transport: TCP and TLS with deadlines (poll), for the engine. */
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "buf.h"
#include "clock.h"
#include "log.h"
#include "net.h"
#include "tls.h"
#include "tlscache.h"

static int	send_all(void *, const char *, size_t, struct err *);

void
net_init(struct net *n)
{
	memset(n, 0, sizeof(*n));
	n->fd = -1;
	buf_init(&n->line, NET_LINE_MAX + 2);
}

/*
 * Wait until fd is ready for events or the deadline passes.  Returns 0 when
 * ready, -1 with ERR_TEMPFAIL on timeout.
 */
static int
wait_fd(int fd, short events, long long deadline, int timeout, struct err *e)
{
	struct pollfd pfd;
	long long left;
	int r;

	for (;;) {
		left = deadline - clock_ms();
		if (left <= 0)
			return err_set(e, ERR_TEMPFAIL, "timed out after %d s",
			    timeout);
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		r = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
		if (r > 0)
			return 0;
		if (r == -1 && errno != EINTR)
			return err_set(e, ERR_OSERR, "poll: %s",
			    strerror(errno));
	}
}

static int
is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;

		return (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		return IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr);
	}
	return 0;
}

/* Connect to one address.  Returns the socket, or -1 with errno set. */
static int
connect_one(const struct addrinfo *ai, int timeout)
{
	long long deadline = clock_ms() + (long long)timeout * 1000;
	struct pollfd pfd;
	socklen_t len;
	long long left;
	int fd, r, soerr, one = 1;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, ai->ai_protocol);
	if (fd == -1)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1) {
		if (errno != EINPROGRESS)
			goto fail;
		for (;;) {
			left = deadline - clock_ms();
			if (left <= 0) {
				errno = ETIMEDOUT;
				goto fail;
			}
			pfd.fd = fd;
			pfd.events = POLLOUT;
			r = poll(&pfd, 1, (int)left);
			if (r > 0)
				break;
			if (r == -1 && errno != EINTR)
				goto fail;
		}
		len = sizeof(soerr);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == -1)
			goto fail;
		if (soerr != 0) {
			errno = soerr;
			goto fail;
		}
	}
	/* Our writes are already whole flights: do not let Nagle hold them. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
fail:
	r = errno;
	close(fd);
	errno = r;
	return -1;
}

int
net_connect(struct net *n, const char *host, int port, int family,
    int timeout, struct err *e)
{
	struct addrinfo hints, *res, *ai;
	char portstr[8], addr[INET6_ADDRSTRLEN];
	char tried[512] = "";
	int r, saved = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = family;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(portstr, sizeof(portstr), "%d", port);
	n->port = port;
	r = getaddrinfo(host, portstr, &hints, &res);
	if (r == EAI_NONAME || r == EAI_NODATA || r == EAI_ADDRFAMILY)
		return err_set(e, ERR_NOHOST, "mailhub %s: no such host%s",
		    host, family == AF_UNSPEC ? "" : " for this address "
		    "family");
	if (r == EAI_SYSTEM)
		return err_set(e, ERR_TEMPFAIL, "cannot resolve %s: %s", host,
		    strerror(errno));
	if (r != 0)
		return err_set(e, ERR_TEMPFAIL, "cannot resolve %s: %s", host,
		    gai_strerror(r));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)
			    (void *)ai->ai_addr)->sin_addr, addr, sizeof(addr));
		else
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)
			    (void *)ai->ai_addr)->sin6_addr, addr,
			    sizeof(addr));
		if ((n->fd = connect_one(ai, timeout)) != -1) {
			n->loopback = is_loopback(ai->ai_addr);
			snprintf(n->peer, sizeof(n->peer), "%s [%s]:%d", host,
			    addr, port);
			break;
		}
		saved = errno;
		snprintf(tried + strlen(tried), sizeof(tried) - strlen(tried),
		    "%s[%s]: %s", *tried ? ", " : "", addr,
		    saved == ETIMEDOUT ? "connect timed out" : strerror(saved));
	}
	freeaddrinfo(res);
	if (n->fd == -1)
		return err_set(e, ERR_TEMPFAIL, "cannot connect to %s port %d: "
		    "%s", host, port, tried);
	if (bufw_init(&n->w, NET_WBUF, send_all, n, e) == -1)
		return -1;
	/*
	 * A message's body goes to OpenSSL straight from the encoder's
	 * output, in whole TLS records (RFC 8446 5.1: 2^14 bytes of data).
	 */
	n->w.block = NET_BLOCK;
	return 0;
}

/* Describe the last TLS error for a message. */
static const char *
tls_errstr(void)
{
	const char *r = tls_reason();

	return r != NULL ? r : "connection closed";
}

enum ssl_op { OP_READ, OP_WRITE, OP_HANDSHAKE };

/* Why an SSL operation failed, as an error of the right kind. */
static int
ssl_failure(enum ssl_op op, int se, struct err *e)
{
	int queued = ERR_peek_error() != 0;

	if (op == OP_HANDSHAKE) {
		/*
		 * No TLS error recorded: the connection itself failed (closed
		 * or reset mid-handshake), which is worth a retry.
		 */
		if ((se == SSL_ERROR_SYSCALL || se == SSL_ERROR_ZERO_RETURN ||
		    se == SSL_ERROR_SSL) && !queued)
			return err_set(e, ERR_TEMPFAIL, "TLS handshake: "
			    "connection lost: %s", errno ? strerror(errno) :
			    "closed by the server");
		return err_set(e, ERR_UNAVAILABLE, "TLS handshake failed: %s",
		    tls_errstr());
	}
	if (se == SSL_ERROR_ZERO_RETURN && op == OP_READ)
		return err_set(e, ERR_TEMPFAIL, "connection closed by the "
		    "server");
	if (se == SSL_ERROR_SYSCALL && errno != 0)
		return err_set(e, ERR_TEMPFAIL, "connection lost: %s",
		    strerror(errno));
	/*
	 * A TLS alert from the hub (under TLS 1.3 a refused client
	 * certificate arrives only after the handshake) is a TLS failure,
	 * not a lost connection.
	 */
	if (op == OP_READ && se == SSL_ERROR_SSL && queued)
		return err_set(e, ERR_UNAVAILABLE, "TLS error: %s",
		    tls_errstr());
	return err_set(e, ERR_TEMPFAIL, "connection lost: %s", tls_errstr());
}

/*
 * The one wait loop for OpenSSL: run the operation, waiting on the socket
 * for what OpenSSL asks, until it completes or the deadline passes.
 * Returns what the operation returned (> 0), or -1 with e filled.
 */
static int
ssl_io(struct net *n, enum ssl_op op, void *buf, size_t len,
    long long deadline, int timeout, struct err *e)
{
	int r, se, cap = len > INT_MAX ? INT_MAX : (int)len;

	for (;;) {
		ERR_clear_error();
		errno = 0;
		r = op == OP_READ ? SSL_read(n->ssl, buf, cap) :
		    op == OP_WRITE ? SSL_write(n->ssl, buf, cap) :
		    SSL_connect(n->ssl);
		if (r > 0)
			return r;
		se = SSL_get_error(n->ssl, r);
		if (se != SSL_ERROR_WANT_READ && se != SSL_ERROR_WANT_WRITE)
			return ssl_failure(op, se, e);
		if (wait_fd(n->fd, se == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
		    deadline, timeout, e) == -1) {
			if (op == OP_HANDSHAKE)
				err_prefix(e, "TLS handshake: ");
			return -1;
		}
	}
}

/*
 * Receive into rbuf.  Returns bytes read (> 0), or -1 with an error; a
 * close by the peer is an error here, since SMTP always expects more.
 */
static int
fill(struct net *n, long long deadline, int timeout, struct err *e)
{
	ssize_t r;

	n->rpos = n->rlen = 0;
	if (n->ssl != NULL) {
		if ((r = ssl_io(n, OP_READ, n->rbuf, sizeof(n->rbuf), deadline,
		    timeout, e)) == -1)
			return -1;
		n->rlen = (size_t)r;
		return (int)r;
	}
	for (;;) {
		r = recv(n->fd, n->rbuf, sizeof(n->rbuf), 0);
		if (r > 0)
			break;
		if (r == 0)
			return err_set(e, ERR_TEMPFAIL, "connection closed by "
			    "the server");
		if (errno == EAGAIN || errno == EINTR) {
			if (wait_fd(n->fd, POLLIN, deadline, timeout, e) == -1)
				return -1;
			continue;
		}
		return err_set(e, ERR_TEMPFAIL, "connection lost: %s",
		    strerror(errno));
	}
	n->rlen = (size_t)r;
	return (int)r;
}

int
net_read_line(struct net *n, const char **line, size_t *len, int timeout,
    struct err *e)
{
	long long deadline = clock_ms() + (long long)timeout * 1000;
	const char *start, *nl;
	size_t take;

	n->line.len = 0;
	for (;;) {
		if (n->rpos == n->rlen && fill(n, deadline, timeout, e) == -1)
			return -1;
		start = n->rbuf + n->rpos;
		nl = memchr(start, '\n', n->rlen - n->rpos);
		take = nl != NULL ? (size_t)(nl - start) + 1 : n->rlen - n->rpos;
		if (buf_add(&n->line, start, take, e) == -1) {
			if (e->kind == ERR_DATA)
				err_set(e, ERR_PROTOCOL, "server sent a line "
				    "longer than %d bytes", NET_LINE_MAX);
			return -1;
		}
		n->rpos += take;
		if (nl != NULL)
			break;
	}
	/* Remove LF, then CR. */
	n->line.len--;
	if (n->line.len > 0 && n->line.p[n->line.len - 1] == '\r')
		n->line.len--;
	n->line.p[n->line.len] = '\0';
	if (memchr(n->line.p, '\0', n->line.len) != NULL)
		return err_set(e, ERR_PROTOCOL, "server sent a NUL byte");
	*line = n->line.p;
	*len = n->line.len;
	return 0;
}

/* The writer's sink: everything to the socket by the deadline. */
static int
send_all(void *arg, const char *p, size_t len, struct err *e)
{
	struct net *n = arg;
	long long deadline = clock_ms() + (long long)n->wtimeout * 1000;
	size_t off = 0;
	ssize_t w;

	while (off < len) {
		if (n->ssl != NULL) {
			if ((w = ssl_io(n, OP_WRITE, (char *)p + off, len - off,
			    deadline, n->wtimeout, e)) == -1)
				return -1;
			off += (size_t)w;
			continue;
		}
		w = send(n->fd, p + off, len - off, MSG_NOSIGNAL);
		if (w >= 0) {
			off += (size_t)w;
			continue;
		}
		if (errno == EAGAIN || errno == EINTR) {
			if (wait_fd(n->fd, POLLOUT, deadline, n->wtimeout, e) ==
			    -1)
				return -1;
			continue;
		}
		return err_set(e, ERR_TEMPFAIL, "connection lost: %s",
		    strerror(errno));
	}
	return 0;
}

int
net_flush(struct net *n, int timeout, struct err *e)
{
	n->wtimeout = timeout;
	return bufw_flush(&n->w, e);
}

int
net_write(struct net *n, const void *p, size_t len, int timeout,
    struct err *e)
{
	n->wtimeout = timeout;
	return bufw_add(&n->w, p, len, e);
}

size_t
net_pending(const struct net *n)
{
	return n->rlen - n->rpos + (n->ssl ? (size_t)SSL_pending(n->ssl) : 0);
}

/*
 * The process's TLS client: one context, made on first use, for every
 * connection (hub failover, reconnects).
 */
static struct {
	SSL_CTX				*ctx;
	const struct tls_settings	*for_settings;
} client;

static SSL_CTX *
client_ctx(const struct tls_settings *t, struct err *e)
{
	if (client.ctx != NULL && client.for_settings != t) {
		tls_ctx_free(client.ctx);
		client.ctx = NULL;
	}
	if (client.ctx == NULL && (client.ctx = tls_ctx_new(t, e)) != NULL)
		client.for_settings = t;
	return client.ctx;
}

void
net_tls_prepare(const struct tls_settings *t)
{
	struct err later;

	(void)client_ctx(t, &later);	/* net_start_tls reports a failure */
}

int
net_start_tls(struct net *n, const struct tls_settings *t, const char *host,
    int timeout, struct err *e)
{
	long long deadline = clock_ms() + (long long)timeout * 1000;
	unsigned char *der;
	char store[1200];
	size_t len;
	SSL_CTX *ctx;
	int offered = 0;

	if ((ctx = client_ctx(t, e)) == NULL)
		return -1;
	if ((n->ssl = tls_session_new(ctx, t, host, n->fd, e)) == NULL)
		return -1;
	/*
	 * A session kept from an earlier process, for the same hub and the
	 * same verification settings; only verified or pinned ones are kept.
	 */
	*n->cache_key = '\0';
	if (t->session_cache != NULL && (t->verify || t->pin) &&
	    (tls_store_id(t, store, sizeof(store)) == -1 ||
	    tlscache_key(t, host, n->port, store, n->cache_key,
	    sizeof(n->cache_key)) == -1))
		*n->cache_key = '\0';
	if (*n->cache_key != '\0' && tlscache_take(t->session_cache,
	    n->cache_key, &der, &len) == 1) {
		offered = tls_offer_session(n->ssl, der, len);
		secret_free_n(der, len);
	}
	if (ssl_io(n, OP_HANDSHAKE, NULL, 0, deadline, timeout, e) == -1) {
		tls_verify_error(n->ssl, t, host, e);
		return -1;
	}
	if (offered && !tls_resumed(n->ssl))
		log_info("TLS: the hub did not resume the cached session");
	if (tls_session_check(n->ssl, t, host, e) == -1)
		return -1;
	n->tls = t;
	n->tls_ok = 1;
	return 0;
}

/* Keep the hub's new TLS 1.3 sessions for the next process. */
static void
keep_sessions(struct net *n)
{
	unsigned char *der[TLS_TICKETS_MAX];
	size_t len[TLS_TICKETS_MAX], k, i;
	time_t expiry[TLS_TICKETS_MAX];

	if (!n->tls_ok || *n->cache_key == '\0' || n->tls == NULL ||
	    n->tls->session_cache == NULL)
		return;
	if ((k = tls_tickets(n->ssl, der, len, expiry, TLS_TICKETS_MAX)) == 0)
		return;
	if (tlscache_put(n->tls->session_cache, n->cache_key, der, len,
	    expiry, k) == -1)
		log_info("TLS session cache %s: not written",
		    n->tls->session_cache);
	for (i = 0; i < k; i++)
		secret_free_n(der[i], len[i]);
}

int
net_tls_active(const struct net *n)
{
	return n->ssl != NULL;
}

int
net_loopback(const struct net *n)
{
	return n->loopback;
}

const char *
net_peer(const struct net *n)
{
	return n->peer;
}

void
net_tls_info(const struct net *n, const struct tls_settings *t,
    struct tls_info *ti)
{
	if (n->ssl == NULL) {
		memset(ti, 0, sizeof(*ti));
		ti->pin = -1;
		return;
	}
	tls_describe(n->ssl, t, ti);
}

void
net_close(struct net *n)
{
	if (n->ssl != NULL) {
		keep_sessions(n);
		SSL_free(n->ssl);
	}
	if (n->fd != -1)
		close(n->fd);
	bufw_free(&n->w, 1);
	buf_free(&n->line, 1);
	net_init(n);
}

void
net_cleanup(void)
{
	if (client.ctx != NULL)
		tls_ctx_free(client.ctx);
	client.ctx = NULL;
	client.for_settings = NULL;
}
