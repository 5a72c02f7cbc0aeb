/* TCP and TLS transport with deadlines (poll), for the SMTP client. */
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "net.h"
#include "tls.h"

void
net_init(struct net *n)
{
	memset(n, 0, sizeof(*n));
	n->fd = -1;
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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
		left = deadline - now_ms();
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
	long long deadline = now_ms() + (long long)timeout * 1000;
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
			left = deadline - now_ms();
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
			strlcpy(n->addr, addr, sizeof(n->addr));
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
	if ((n->wbuf = malloc(NET_WBUF)) == NULL)
		return err_set(e, ERR_OSERR, "out of memory");
	return 0;
}

/* Describe the last TLS error for a message. */
static const char *
tls_errstr(void)
{
	const char *r = tls_reason();

	return r != NULL ? r : "connection closed";
}

/*
 * Receive into rbuf.  Returns bytes read (> 0), or -1 with an error; a
 * close by the peer is an error here, since SMTP always expects more.
 */
static int
fill(struct net *n, long long deadline, int timeout, struct err *e)
{
	ssize_t r;
	int se;

	n->rpos = n->rlen = 0;
	for (;;) {
		if (n->ssl != NULL) {
			ERR_clear_error();
			r = SSL_read(n->ssl, n->rbuf, sizeof(n->rbuf));
			if (r > 0)
				break;
			se = SSL_get_error(n->ssl, r);
			if (se == SSL_ERROR_WANT_READ) {
				if (wait_fd(n->fd, POLLIN, deadline, timeout,
				    e) == -1)
					return -1;
				continue;
			}
			if (se == SSL_ERROR_WANT_WRITE) {
				if (wait_fd(n->fd, POLLOUT, deadline, timeout,
				    e) == -1)
					return -1;
				continue;
			}
			if (se == SSL_ERROR_ZERO_RETURN)
				return err_set(e, ERR_TEMPFAIL, "connection "
				    "closed by the server");
			if (se == SSL_ERROR_SYSCALL && errno != 0)
				return err_set(e, ERR_TEMPFAIL, "connection "
				    "lost: %s", strerror(errno));
			/*
			 * A TLS alert from the hub (under TLS 1.3 a refused
			 * client certificate arrives only now) is a TLS
			 * failure, not a lost connection.
			 */
			if (se == SSL_ERROR_SSL && ERR_peek_error() != 0)
				return err_set(e, ERR_UNAVAILABLE, "TLS error: "
				    "%s", tls_errstr());
			return err_set(e, ERR_TEMPFAIL, "connection lost: %s",
			    tls_errstr());
		}
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

/* Make room for n more bytes in the line buffer, up to NET_LINE_MAX. */
static int
line_room(struct net *n, size_t more, struct err *e)
{
	size_t cap;
	char *p;

	if (n->linelen + more + 1 <= n->linecap)
		return 0;
	if (n->linelen + more > NET_LINE_MAX)
		return err_set(e, ERR_PROTOCOL, "server sent a line longer "
		    "than %d bytes", NET_LINE_MAX);
	for (cap = n->linecap ? n->linecap : 1024; cap < n->linelen + more + 1;)
		cap *= 2;
	if ((p = realloc(n->line, cap)) == NULL)
		return err_set(e, ERR_OSERR, "out of memory");
	n->line = p;
	n->linecap = cap;
	return 0;
}

int
net_read_line(struct net *n, const char **line, size_t *len, int timeout,
    struct err *e)
{
	long long deadline = now_ms() + (long long)timeout * 1000;
	const char *start, *nl;
	size_t take;

	n->linelen = 0;
	for (;;) {
		if (n->rpos == n->rlen && fill(n, deadline, timeout, e) == -1)
			return -1;
		start = n->rbuf + n->rpos;
		nl = memchr(start, '\n', n->rlen - n->rpos);
		take = nl != NULL ? (size_t)(nl - start) + 1 : n->rlen - n->rpos;
		if (line_room(n, take, e) == -1)
			return -1;
		memcpy(n->line + n->linelen, start, take);
		n->linelen += take;
		n->rpos += take;
		if (nl != NULL)
			break;
	}
	/* Remove LF, then CR. */
	n->linelen--;
	if (n->linelen > 0 && n->line[n->linelen - 1] == '\r')
		n->linelen--;
	n->line[n->linelen] = '\0';
	if (memchr(n->line, '\0', n->linelen) != NULL)
		return err_set(e, ERR_PROTOCOL, "server sent a NUL byte");
	*line = n->line;
	*len = n->linelen;
	return 0;
}

int
net_flush(struct net *n, int timeout, struct err *e)
{
	long long deadline = now_ms() + (long long)timeout * 1000;
	size_t off = 0;
	ssize_t w;
	int se;

	while (off < n->wlen) {
		if (n->ssl != NULL) {
			ERR_clear_error();
			w = SSL_write(n->ssl, n->wbuf + off, n->wlen - off);
			if (w > 0) {
				off += w;
				continue;
			}
			se = SSL_get_error(n->ssl, w);
			if (se == SSL_ERROR_WANT_WRITE || se ==
			    SSL_ERROR_WANT_READ) {
				if (wait_fd(n->fd, se == SSL_ERROR_WANT_WRITE ?
				    POLLOUT : POLLIN, deadline, timeout, e) ==
				    -1)
					return -1;
				continue;
			}
			if (se == SSL_ERROR_SYSCALL && errno != 0)
				return err_set(e, ERR_TEMPFAIL, "connection "
				    "lost: %s", strerror(errno));
			return err_set(e, ERR_TEMPFAIL, "connection lost: %s",
			    tls_errstr());
		}
		w = send(n->fd, n->wbuf + off, n->wlen - off, MSG_NOSIGNAL);
		if (w >= 0) {
			off += w;
			continue;
		}
		if (errno == EAGAIN || errno == EINTR) {
			if (wait_fd(n->fd, POLLOUT, deadline, timeout, e) == -1)
				return -1;
			continue;
		}
		return err_set(e, ERR_TEMPFAIL, "connection lost: %s",
		    strerror(errno));
	}
	n->wlen = 0;
	return 0;
}

int
net_write(struct net *n, const void *p, size_t len, int timeout,
    struct err *e)
{
	const char *s = p;
	size_t c;

	while (len > 0) {
		if (n->wlen == NET_WBUF && net_flush(n, timeout, e) == -1)
			return -1;
		c = NET_WBUF - n->wlen;
		if (c > len)
			c = len;
		memcpy(n->wbuf + n->wlen, s, c);
		n->wlen += c;
		s += c;
		len -= c;
	}
	return 0;
}

size_t
net_pending(const struct net *n)
{
	return n->rlen - n->rpos + (n->ssl ? (size_t)SSL_pending(n->ssl) : 0);
}

int
net_tls_handshake(struct net *n, SSL *ssl, int timeout, struct err *e)
{
	long long deadline = now_ms() + (long long)timeout * 1000;
	int r, se;

	if (SSL_set_fd(ssl, n->fd) != 1)
		return err_set(e, ERR_SOFTWARE, "SSL_set_fd failed");
	n->ssl = ssl;
	for (;;) {
		ERR_clear_error();
		if ((r = SSL_connect(ssl)) == 1)
			return 0;
		se = SSL_get_error(ssl, r);
		if (se == SSL_ERROR_WANT_READ || se == SSL_ERROR_WANT_WRITE) {
			if (wait_fd(n->fd, se == SSL_ERROR_WANT_READ ? POLLIN :
			    POLLOUT, deadline, timeout, e) == -1) {
				err_prefix(e, "TLS handshake: ");
				return -1;
			}
			continue;
		}
		/*
		 * No TLS error recorded: the connection itself failed (closed
		 * or reset mid-handshake), which is worth a retry.
		 */
		if ((se == SSL_ERROR_SYSCALL || se == SSL_ERROR_ZERO_RETURN ||
		    se == SSL_ERROR_SSL) && ERR_peek_error() == 0)
			return err_set(e, ERR_TEMPFAIL, "TLS handshake: "
			    "connection lost: %s", errno ? strerror(errno) :
			    "closed by the server");
		return err_set(e, ERR_UNAVAILABLE, "TLS handshake failed: %s",
		    tls_errstr());
	}
}

void
net_close(struct net *n)
{
	if (n->ssl != NULL)
		SSL_free(n->ssl);
	if (n->fd != -1)
		close(n->fd);
	free(n->wbuf);
	free(n->line);
	net_init(n);
}
