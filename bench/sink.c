/*
 * The benchmark's hub: an SMTP sink that keeps no mail, only counts.
 * STARTTLS, AUTH PLAIN/LOGIN, PIPELINING, SIZE, 8BITMIME and CHUNKING,
 * like Postfix.  Written in C so that at 300 MB/s it is the client that is
 * measured, not the hub (a Python sink used a whole core at 250 MB/s).
 *
 * For each session it appends a line to the stats file:
 *   {"turns": N, "data": BYTES, "cpu_us": N, "resumed": 0|1}
 * turns are the round trips the client spent: each time the sink had to
 * wait for the client after answering (two for the TLS handshake), plus
 * the TCP handshake and the trip of the last reply.
 *
 * usage: sink --certs DIR --port N --stats FILE [--host ADDR] [--plain]
 *             [--no-tickets]
 * One process per connection; every read times out after 60 s.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* memmem */
#endif
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define BUFSZ	(256 * 1024)

struct sess {
	int	 fd;
	SSL	*ssl;
	int	 plain;
	char	*buf;		/* unread input is buf[off..len) */
	size_t	 off, len;
	char	 out[2048];	/* replies not yet sent */
	size_t	 outlen;
	int	 wrote;		/* answered since the last read */
	long	 waits;
	long long data;
};

static SSL_CTX *ctx;
static const char *stats_path;

/* The session is over, however it ended: record it and leave. */
static void __attribute__((noreturn))
finish(struct sess *s)
{
	struct rusage ru;
	char text[160];
	int fd, n;

	/* The hub's own CPU for this session (its process is this one). */
	getrusage(RUSAGE_SELF, &ru);
	n = snprintf(text, sizeof(text), "{\"turns\": %ld, \"data\": %lld, "
	    "\"cpu_us\": %lld, \"resumed\": %d}\n", s->waits + 2, s->data,
	    (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
	    ru.ru_utime.tv_usec + ru.ru_stime.tv_usec,
	    s->ssl != NULL && SSL_session_reused(s->ssl));
	if ((fd = open(stats_path, O_WRONLY | O_APPEND | O_CREAT, 0644)) != -1) {
		if (write(fd, text, n) != n)
			warn("%s", stats_path);
		close(fd);
	}
	exit(0);
}

static void
flush(struct sess *s)
{
	size_t done = 0;
	ssize_t n;

	while (done < s->outlen) {
		n = s->ssl ? SSL_write(s->ssl, s->out + done, s->outlen - done) :
		    write(s->fd, s->out + done, s->outlen - done);
		if (n <= 0)
			finish(s);
		done += n;
	}
	if (s->outlen > 0)
		s->wrote = 1;
	s->outlen = 0;
}

/* Read more input; answer everything queued first. */
static void
fill(struct sess *s)
{
	int answered;
	ssize_t n;

	flush(s);
	answered = s->wrote;
	s->wrote = 0;
	if (s->off > 0) {
		memmove(s->buf, s->buf + s->off, s->len - s->off);
		s->len -= s->off;
		s->off = 0;
	}
	if (s->len == BUFSZ)
		errx(1, "line too long");
	n = s->ssl ? SSL_read(s->ssl, s->buf + s->len, BUFSZ - s->len) :
	    read(s->fd, s->buf + s->len, BUFSZ - s->len);
	if (n <= 0)
		finish(s);	/* closed or timed out */
	if (answered)
		s->waits++;	/* the client had to hear us first */
	s->len += n;
}

/* The next line, without its CRLF, NUL-terminated in place. */
static char *
line(struct sess *s)
{
	char *p, *l;

	while ((p = memmem(s->buf + s->off, s->len - s->off, "\r\n", 2)) ==
	    NULL)
		fill(s);
	*p = '\0';
	l = s->buf + s->off;
	s->off = p + 2 - s->buf;
	return l;
}

static void
reply(struct sess *s, const char *text)
{
	size_t n = strlen(text);

	if (s->outlen + n + 2 > sizeof(s->out))
		flush(s);
	memcpy(s->out + s->outlen, text, n);
	memcpy(s->out + s->outlen + n, "\r\n", 2);
	s->outlen += n + 2;
	/* Replies wait while more pipelined commands are already here. */
	if (memmem(s->buf + s->off, s->len - s->off, "\r\n", 2) == NULL)
		flush(s);
}

/* DATA: up to and including CRLF.CRLF (the CRLF before the dot may be
 * the one ending the DATA command). */
static void
read_data(struct sess *s)
{
	char *p;
	size_t keep;
	int start = 1;

	for (;;) {
		if (start && s->len - s->off >= 3) {
			if (memcmp(s->buf + s->off, ".\r\n", 3) == 0) {
				s->off += 3;	/* an empty message */
				return;
			}
			start = 0;
		}
		p = memmem(s->buf + s->off, s->len - s->off, "\r\n.\r\n", 5);
		if (p != NULL) {
			s->data += p + 5 - (s->buf + s->off);
			s->off = p + 5 - s->buf;
			return;
		}
		/* Keep the last 4 bytes: the end mark may straddle reads. */
		keep = s->len - s->off < 4 ? s->len - s->off : 4;
		s->data += s->len - s->off - keep;
		s->off = s->len - keep;
		fill(s);
	}
}

static void
read_exact(struct sess *s, long long n)
{
	size_t have;

	for (;;) {
		have = s->len - s->off;
		if ((long long)have >= n) {
			s->off += n;
			s->data += n;
			return;
		}
		n -= have;
		s->data += have;
		s->off = s->len;
		fill(s);
	}
}

static void
session(struct sess *s)
{
	char *l;
	int tls = 0;

	reply(s, "220 sink.test ESMTP");
	for (;;) {
		l = line(s);
		if (strncasecmp(l, "EHLO", 4) == 0 || strncasecmp(l, "HELO", 4) == 0) {
			reply(s, "250-sink.test");
			reply(s, "250-PIPELINING");
			reply(s, "250-SIZE 1073741824");
			reply(s, "250-8BITMIME");
			if (!tls && !s->plain) {
				reply(s, "250-CHUNKING");
				reply(s, "250 STARTTLS");
			} else {
				reply(s, "250-CHUNKING");
				reply(s, "250 AUTH PLAIN LOGIN");
			}
		} else if (strncasecmp(l, "STARTTLS", 8) == 0) {
			reply(s, "220 go ahead");
			flush(s);
			if ((s->ssl = SSL_new(ctx)) == NULL ||
			    SSL_set_fd(s->ssl, s->fd) != 1 ||
			    SSL_accept(s->ssl) != 1)
				finish(s);
			s->off = s->len = 0;
			s->waits += 2;	/* for ClientHello, then for Finished */
			s->wrote = 0;
			tls = 1;
		} else if (strncasecmp(l, "AUTH", 4) == 0) {
			if (strncasecmp(l, "AUTH LOGIN", 10) == 0) {
				reply(s, "334 VXNlcm5hbWU6");
				line(s);
				reply(s, "334 UGFzc3dvcmQ6");
				line(s);
			} else if (strchr(l + 5, ' ') == NULL) {
				reply(s, "334 ");
				line(s);
			}
			reply(s, "235 2.7.0 ok");
		} else if (strncasecmp(l, "DATA", 4) == 0) {
			reply(s, "354 go ahead");
			read_data(s);
			reply(s, "250 2.0.0 queued");
		} else if (strncasecmp(l, "BDAT ", 5) == 0) {
			read_exact(s, atoll(l + 5));
			reply(s, "250 2.0.0 queued");
		} else if (strncasecmp(l, "QUIT", 4) == 0) {
			reply(s, "221 bye");
			flush(s);
			return;
		} else
			reply(s, "250 ok");
	}
}

static void
serve(int fd, int plain)
{
	struct sess s;
	struct timeval tv = { 60, 0 };
	int one = 1;

	memset(&s, 0, sizeof(s));
	s.fd = fd;
	s.plain = plain;
	if ((s.buf = malloc(BUFSZ)) == NULL)
		err(1, "malloc");
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	session(&s);
	if (s.ssl)
		SSL_shutdown(s.ssl);
	finish(&s);
}

int
main(int argc, char **argv)
{
	const char *certs = NULL, *host = "127.0.0.1";
	int no_tickets = 0;
	char crt[4096], key[4096];
	struct sockaddr_in sin;
	struct sigaction sa;
	int port = 0, plain = 0, ls, fd, one = 1, i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--no-tickets") == 0)
			no_tickets = 1;
		else if (strcmp(argv[i], "--plain") == 0)
			plain = 1;
		else if (i + 1 < argc && strcmp(argv[i], "--certs") == 0)
			certs = argv[++i];
		else if (i + 1 < argc && strcmp(argv[i], "--port") == 0)
			port = atoi(argv[++i]);
		else if (i + 1 < argc && strcmp(argv[i], "--stats") == 0)
			stats_path = argv[++i];
		else if (i + 1 < argc && strcmp(argv[i], "--host") == 0)
			host = argv[++i];
		else
			errx(64, "usage: sink --certs DIR --port N --stats FILE "
			    "[--host ADDR] [--plain] [--no-tickets]");
	}
	if (certs == NULL || port <= 0 || stats_path == NULL)
		errx(64, "--certs, --port and --stats are required");
	snprintf(crt, sizeof(crt), "%s/server.crt", certs);
	snprintf(key, sizeof(key), "%s/server.key", certs);
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL ||
	    SSL_CTX_use_certificate_chain_file(ctx, crt) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		ERR_print_errors_fp(stderr);
		errx(1, "cannot use %s", crt);
	}
	/* --no-tickets: a hub that sends no TLS 1.3 session tickets. */
	if (no_tickets)
		SSL_CTX_set_num_tickets(ctx, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sa.sa_flags = SA_NOCLDWAIT;	/* no zombies */
	sigaction(SIGCHLD, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
		errx(64, "--host: an IPv4 address");
	if ((ls = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		err(1, "socket");
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(ls, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(ls, 64) == -1)
		err(1, "%s:%d", host, port);
	for (;;) {
		if ((fd = accept(ls, NULL, NULL)) == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			err(1, "accept");
		}
		switch (fork()) {
		case -1:
			warn("fork");
			break;
		case 0:
			close(ls);
			serve(fd, plain);
			break;
		}
		close(fd);
	}
}
