/* The SMTP client protocol engine (RFC 5321). */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth.h"
#include "log.h"
#include "smtp.h"
#include "tls.h"

#define CMD_MAX		16384	/* AUTH lines may exceed 512 (RFC 4954 4) */
#define BODY_CHUNK	65536

/* Copy s into out with control characters replaced, for messages. */
static void
sanitize(char *out, size_t size, const char *s, size_t len)
{
	size_t i, o = 0;

	for (i = 0; i < len && o + 1 < size; i++)
		out[o++] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' :
		    s[i];
	out[o] = '\0';
}

/* RFC 3463: class.subject.detail at the start of the text. */
static void
parse_enhanced(struct reply *r, const char *t, size_t len)
{
	size_t i = 0, part, digits;

	if (len < 5 || t[0] - '0' != r->code / 100 || t[1] != '.')
		return;
	i = 2;
	for (part = 0; part < 2; part++) {
		for (digits = 0; i < len && isdigit((unsigned char)t[i]) &&
		    digits < 3; i++)
			digits++;
		if (digits == 0)
			return;
		if (part == 0) {
			if (i >= len || t[i] != '.')
				return;
			i++;
		}
	}
	if (i < len && t[i] != ' ')
		return;
	if (i < sizeof(r->enh)) {
		memcpy(r->enh, t, i);
		r->enh[i] = '\0';
	}
}

int
smtp_reply_line(struct reply *r, const char *line, size_t len, char *msg,
    size_t msgsz)
{
	char shown[64];
	const char *text;
	size_t tlen;
	int code;

	sanitize(shown, sizeof(shown), line, len);
	if (len < 3 || !isdigit((unsigned char)line[0]) ||
	    !isdigit((unsigned char)line[1]) ||
	    !isdigit((unsigned char)line[2]) || line[0] < '2' ||
	    line[0] > '5' || (len > 3 && line[3] != ' ' && line[3] != '-')) {
		snprintf(msg, msgsz, "not an SMTP reply: \"%s\"", shown);
		return -1;
	}
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (r->nlines > 0 && code != r->code) {
		snprintf(msg, msgsz, "reply code changed from %d within a "
		    "multiline reply: \"%s\"", r->code, shown);
		return -1;
	}
	if (r->nlines == SMTP_LINES_MAX) {
		snprintf(msg, msgsz, "reply longer than %d lines",
		    SMTP_LINES_MAX);
		return -1;
	}
	r->code = code;
	text = len > 4 ? line + 4 : "";
	tlen = len > 4 ? len - 4 : 0;
	if (r->nlines == 0)
		parse_enhanced(r, text, tlen);
	if (r->nlines > 0 && r->textlen + 1 < sizeof(r->text))
		r->text[r->textlen++] = '\n';
	if (tlen > sizeof(r->text) - 1 - r->textlen)
		tlen = sizeof(r->text) - 1 - r->textlen;
	memcpy(r->text + r->textlen, text, tlen);
	r->textlen += tlen;
	r->text[r->textlen] = '\0';
	r->nlines++;
	r->done = len == 3 || line[3] == ' ';
	return r->done;
}

/* A transport or protocol failure: the session cannot go on. */
static int
broken(struct smtp *s)
{
	s->broken = 1;
	return -1;
}

/* Send what is queued; a failure breaks the session. */
static int
flush(struct smtp *s, int timeout, struct err *e)
{
	if (net_flush(&s->net, timeout, e) == -1)
		return broken(s);
	return 0;
}

/*
 * Read a whole reply; with caps, each line after the first of it is an
 * EHLO keyword line, parsed whole whatever its length.
 */
static int
read_reply(struct smtp *s, struct reply *r, int timeout, struct smtp_caps *caps,
    struct err *e)
{
	const char *line;
	char msg[256];
	size_t len;
	int rc;
	struct timespec now;
	time_t end;

	memset(r, 0, offsetof(struct reply, text));
	r->text[0] = '\0';
	r->textlen = 0;
	if (caps != NULL)
		smtp_caps_init(caps);
	/*
	 * The timeout covers the whole reply: a hub that trickles lines of
	 * a multiline reply cannot stretch it line by line.
	 */
	clock_gettime(CLOCK_MONOTONIC, &now);
	end = now.tv_sec + timeout;
	do {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec >= end) {
			err_set(e, ERR_TEMPFAIL, "timed out after %d s", timeout);
			return broken(s);
		}
		if (net_read_line(&s->net, &line, &len,
		    (int)(end - now.tv_sec), e) == -1)
			return broken(s);
		log_proto("<-", line, len);
		if ((rc = smtp_reply_line(r, line, len, msg, sizeof(msg))) ==
		    -1) {
			err_set(e, ERR_PROTOCOL, "%s", msg);
			return broken(s);
		}
		if (caps != NULL && r->nlines > 1 && len > 4)
			smtp_caps_line(caps, line + 4, len - 4);
	} while (rc == 0);
	snprintf(s->last, sizeof(s->last), "%d %.*s", r->code,
	    (int)strcspn(r->text, "\n"), r->text);
	return 0;
}

int
smtp_read_reply(struct smtp *s, struct reply *r, int timeout, struct err *e)
{
	return read_reply(s, r, timeout, NULL, e);
}

int
smtp_timeout(const struct smtp *s, int dflt)
{
	return s->timeout > 0 ? s->timeout : dflt;
}

static int
vqueue(struct smtp *s, int show, struct err *e, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

static int
vqueue(struct smtp *s, int show, struct err *e, const char *fmt, va_list ap)
{
	char *buf;
	size_t used;
	int n, rc, fits;

	if ((buf = malloc(CMD_MAX)) == NULL)
		return err_set(e, ERR_OSERR, "out of memory");
	n = vsnprintf(buf, CMD_MAX - 2, fmt, ap);
	fits = n >= 0 && n < CMD_MAX - 2;
	/* What the wipe below must cover: the line, its CRLF or NUL. */
	used = fits ? (size_t)n + 2 : CMD_MAX;
	if (!fits)
		rc = err_set(e, ERR_SOFTWARE, "SMTP command too long");
	else if (memchr(buf, '\r', n) != NULL || memchr(buf, '\n', n) !=
	    NULL || memchr(buf, '\0', n) != NULL)
		/* Defence in depth: never let a value smuggle a command. */
		rc = err_set(e, ERR_DATA, "refusing to send a command with a "
		    "line break in it");
	else {
		if (show < 0 || show >= n)
			log_proto("->", buf, n);
		else if (log_verbose)
			fprintf(stderr, "-> %.*s<redacted>\n", show, buf);
		buf[n++] = '\r';
		buf[n++] = '\n';
		if ((rc = net_write(&s->net, buf, n, smtp_timeout(s, TO_COMMAND),
		    e)) == -1)
			broken(s);
	}
	explicit_bzero(buf, used);
	free(buf);
	return rc;
}

int
smtp_queue(struct smtp *s, int show, struct err *e, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vqueue(s, show, e, fmt, ap);
	va_end(ap);
	return rc;
}

int
smtp_command(struct smtp *s, struct reply *r, int timeout, int show,
    struct err *e, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vqueue(s, show, e, fmt, ap);
	va_end(ap);
	if (rc == -1)
		return -1;
	if (flush(s, smtp_timeout(s, TO_COMMAND), e) == -1)
		return -1;
	return smtp_read_reply(s, r, timeout, e);
}

int
smtp_reply_error(struct smtp *s, const struct reply *r, const char *step,
    enum err_kind perm, struct err *e)
{
	char text[512];
	enum err_kind kind;

	sanitize(text, sizeof(text), r->text, strcspn(r->text, "\n"));
	if (r->code >= 400 && r->code < 500)
		kind = ERR_TEMPFAIL;
	else if (r->code >= 500)
		kind = perm;
	else
		kind = ERR_PROTOCOL;
	return err_set(e, kind, "%s: %s %s %d %s", s->host, step,
	    kind == ERR_PROTOCOL ? "got unexpected reply" : "refused:",
	    r->code, text);
}

/* Prefix a transport error with the hub and the step. */
static int
step_error(struct smtp *s, const char *step, struct err *e)
{
	char pre[300];

	snprintf(pre, sizeof(pre), "%s: %s: ", s->host, step);
	err_prefix(e, pre);
	return -1;
}

void
smtp_caps_init(struct smtp_caps *c)
{
	memset(c, 0, sizeof(*c));
}

/* The next blank-separated word of p[0..n) from *i, or 0 at the end. */
static size_t
next_word(const char *p, size_t n, size_t *i, const char **w)
{
	size_t start;

	while (*i < n && p[*i] == ' ')
		(*i)++;
	start = *i;
	while (*i < n && p[*i] != ' ')
		(*i)++;
	*w = p + start;
	return *i - start;
}

void
smtp_caps_line(struct smtp_caps *c, const char *line, size_t len)
{
	static const struct {
		const char	*kw;
		unsigned	 flag;
	} kws[] = {
		{ "PIPELINING", CAP_PIPELINING }, { "STARTTLS", CAP_STARTTLS },
		{ "8BITMIME", CAP_8BITMIME }, { "CHUNKING", CAP_CHUNKING },
		{ "ENHANCEDSTATUSCODES", CAP_ENHANCED },
		{ "SMTPUTF8", CAP_SMTPUTF8 }, { "SIZE", CAP_SIZE },
		{ "AUTH", CAP_AUTH },
	};
	const char *w;
	char num[24];
	size_t i = 0, klen, wlen, k, have;

	/* "AUTH=LOGIN PLAIN" is the old form of "AUTH LOGIN PLAIN". */
	for (klen = 0; klen < len && line[klen] != ' ' && line[klen] != '=';)
		klen++;
	for (k = 0; k < sizeof(kws) / sizeof(kws[0]); k++)
		if (strlen(kws[k].kw) == klen &&
		    strncasecmp(line, kws[k].kw, klen) == 0)
			break;
	if (k == sizeof(kws) / sizeof(kws[0]))
		return;
	c->flags |= kws[k].flag;
	i = klen < len ? klen + 1 : len;
	if (kws[k].flag == CAP_SIZE) {
		/* RFC 1870 4: the limit, 0 or none for no fixed one. */
		if ((wlen = next_word(line, len, &i, &w)) > 0 &&
		    wlen < sizeof(num)) {
			memcpy(num, w, wlen);
			num[wlen] = '\0';
			c->size_max = strtoul(num, NULL, 10);
		}
		return;
	}
	if (kws[k].flag != CAP_AUTH)
		return;
	/* RFC 4954 3: every mechanism, over every AUTH line. */
	while ((wlen = next_word(line, len, &i, &w)) > 0) {
		c->auth |= auth_mech_bit(w, wlen);
		/* The list for messages; mechanism names hold no dots. */
		have = strlen(c->auth_offered);
		if (strstr(c->auth_offered, "...") != NULL)
			continue;
		if (have + wlen + 6 < sizeof(c->auth_offered))
			snprintf(c->auth_offered + have,
			    sizeof(c->auth_offered) - have, "%s%.*s",
			    have ? " " : "", (int)wlen, w);
		else
			strlcat(c->auth_offered, " ...",
			    sizeof(c->auth_offered));
	}
}

/*
 * EHLO.  With ctx (STARTTLS will follow), the TLS context is made while
 * the reply is on its way: on a long link its cost, a few milliseconds of
 * CPU, hides inside that round trip.  A failure is left for start_tls to
 * report, where it happened before.
 */
static int
ehlo(struct smtp *s, const char *helo, SSL_CTX **ctx, const struct config *c,
    struct err *e)
{
	struct reply r;
	struct err later;
	int to = smtp_timeout(s, TO_COMMAND);

	if (smtp_queue(s, -1, e, "EHLO %s", helo) == -1 ||
	    flush(s, to, e) == -1)
		return step_error(s, "EHLO", e);
	if (ctx != NULL && *ctx == NULL)
		*ctx = tls_ctx_new(c, &later);
	if (read_reply(s, &r, to, &s->ehlo, e) == -1)
		return step_error(s, "EHLO", e);
	if (r.code == 250)
		return 0;
	if (r.code < 500 || r.code > 504)
		return smtp_reply_error(s, &r, "EHLO", ERR_UNAVAILABLE, e);
	/* Not an ESMTP server (RFC 5321 3.2): fall back to HELO. */
	smtp_caps_init(&s->ehlo);
	if (smtp_command(s, &r, to, -1, e, "HELO %s", helo) == -1)
		return step_error(s, "HELO", e);
	if (r.code != 250)
		return smtp_reply_error(s, &r, "HELO", ERR_UNAVAILABLE, e);
	return 0;
}

/* Make the TLS context on first use, then run TLS on the connection. */
static int
start_tls(struct smtp *s, SSL_CTX **ctx, const struct config *c,
    struct err *e)
{
	if (*ctx == NULL && (*ctx = tls_ctx_new(c, e)) == NULL)
		return -1;
	return tls_start(&s->net, *ctx, c, s->host, smtp_timeout(s, TO_CONNECT),
	    e);
}

int
smtp_open(struct smtp *s, const struct config *c, const struct hub *h,
    SSL_CTX **ctx, const char *helo, int family, struct err *e)
{
	struct reply r;
	int implicit = c->use_tls && c->use_starttls != CONF_YES;
	int starttls;

	memset(s, 0, sizeof(*s));
	net_init(&s->net);
	s->host = h->host;
	s->timeout = c->timeout;
	s->port = h->port ? h->port : implicit ? 465 : 587;
	if (net_connect(&s->net, h->host, s->port, family,
	    smtp_timeout(s, TO_CONNECT), e) == -1)
		return -1;
	log_info("connected to %s", s->net.peer);
	if (implicit) {
		if (start_tls(s, ctx, c, e) == -1)
			return step_error(s, "TLS", e);
		s->tls = 1;
	}
	if (smtp_read_reply(s, &r, smtp_timeout(s, TO_GREETING), e) == -1)
		return step_error(s, "greeting", e);
	if (r.code != 220)
		return smtp_reply_error(s, &r, "greeting", ERR_UNAVAILABLE, e);
	if (ehlo(s, helo, !s->tls && c->use_starttls == CONF_YES ? ctx : NULL,
	    c, e) == -1)
		return -1;
	if (s->tls)
		return 0;
	starttls = c->use_starttls == CONF_YES ||
	    (c->use_starttls == CONF_UNSET && (s->ehlo.flags & CAP_STARTTLS));
	if (!starttls)
		return 0;
	if (!(s->ehlo.flags & CAP_STARTTLS))
		return err_set(e, ERR_UNAVAILABLE, "%s: the hub does not offer "
		    "STARTTLS, and UseSTARTTLS=YES requires it", s->host);
	if (smtp_command(s, &r, smtp_timeout(s, TO_COMMAND), -1, e,
	    "STARTTLS") == -1)
		return step_error(s, "STARTTLS", e);
	if (r.code != 220)
		return smtp_reply_error(s, &r, "STARTTLS", ERR_UNAVAILABLE, e);
	/*
	 * RFC 3207 5 and CVE-2011-0411: anything received before the
	 * handshake was sent in clear and may be an injected reply.
	 */
	if (net_pending(&s->net) > 0)
		return err_set(e, ERR_PROTOCOL, "%s: the hub sent data after "
		    "its STARTTLS reply, before TLS started (possible "
		    "injection); giving up", s->host);
	if (start_tls(s, ctx, c, e) == -1)
		return step_error(s, "STARTTLS", e);
	s->tls = 1;
	/* RFC 3207 4.2: forget what was learnt before TLS. */
	return ehlo(s, helo, NULL, c, e);
}

void
dotenc_init(struct dotenc *d)
{
	d->bol = 1;
	d->cr = 0;
}

size_t
dotenc_chunk(struct dotenc *d, const char *in, size_t n, char *out, int stuff)
{
	const char *p = in, *end = in + n, *nl, *stop;
	char *o = out;
	size_t len;

	while (p < end) {
		if (d->cr) {
			/* The LF of a CRLF whose line end is written. */
			d->cr = 0;
			if (*p == '\n') {
				p++;
				continue;
			}
		}
		if (d->bol) {
			if (stuff && *p == '.')
				*o++ = '.';
			d->bol = 0;
		}
		/*
		 * The next line end: CRLF, a lone LF or a lone CR, each sent
		 * as CRLF (msg_eol's rule; RFC 5321 2.3.8), so that no bare
		 * CR reaches a hub that would take it for a line end.
		 */
		nl = memchr(p, '\n', end - p);
		stop = nl != NULL ? nl : end;
		if ((nl = memchr(p, '\r', stop - p)) != NULL)
			stop = nl;
		if ((len = stop - p) > 0) {
			memcpy(o, p, len);
			o += len;
			p = stop;
		}
		if (p == end)
			break;
		*o++ = '\r';
		*o++ = '\n';
		d->cr = *p == '\r';
		d->bol = 1;
		p++;
	}
	return o - out;
}

size_t
dotenc_finish(struct dotenc *d, char *out)
{
	size_t n = 0;

	if (!d->bol) {
		out[n++] = '\r';
		out[n++] = '\n';
	}
	d->bol = 1;
	d->cr = 0;
	return n;
}

/*
 * Queue the header block and the body in CRLF form: dot-stuffed and ended
 * by "." for DATA (stuff set), as they are for BDAT.  Big writes go out as
 * the buffer fills; the rest waits for the caller's flush.
 */
static int
send_message(struct smtp *s, const struct message *m, int stuff,
    struct err *e)
{
	struct dotenc d;
	char *in, *out;
	off_t off = m->hdr_end;
	ssize_t n;
	size_t olen, h, c;
	int to = smtp_timeout(s, TO_DATA_BLOCK), rc = -1;

	in = malloc(BODY_CHUNK);
	out = malloc(2 * BODY_CHUNK + 8);
	if (in == NULL || out == NULL) {
		err_set(e, ERR_OSERR, "out of memory");
		goto done;
	}
	dotenc_init(&d);
	for (h = 0; h < m->outlen; h += c) {
		c = m->outlen - h < BODY_CHUNK ? m->outlen - h : BODY_CHUNK;
		olen = dotenc_chunk(&d, m->out + h, c, out, stuff);
		if (net_write(&s->net, out, olen, to, e) == -1)
			goto done;
	}
	for (;;) {
		if ((n = msg_read(m, off, in, BODY_CHUNK, e)) == -1)
			goto done;
		if (n == 0)
			break;
		off += n;
		olen = dotenc_chunk(&d, in, n, out, stuff);
		if (net_write(&s->net, out, olen, to, e) == -1)
			goto done;
	}
	olen = dotenc_finish(&d, out);
	if (stuff) {
		memcpy(out + olen, ".\r\n", 3);
		olen += 3;
	}
	if (net_write(&s->net, out, olen, to, e) == -1)
		goto done;
	if (stuff)
		log_proto("->", ".", 1);
	rc = 0;
done:
	free(in);
	free(out);
	if (rc == -1)
		s->broken = 1;
	return rc;
}

/*
 * Read the replies to a pipelined MAIL and its RCPTs.  Returns 0 when all
 * were accepted, else -1 with e naming every refusal (ERR_NOUSER when one
 * is permanent) or the transport error (the session is then broken).
 */
static int
read_envelope(struct smtp *s, char * const *rcpts, size_t nrcpts,
    struct err *e)
{
	struct reply r;
	char refused[512] = "", shown[512];
	size_t i, nref = 0;
	int to = smtp_timeout(s, TO_COMMAND), mail_ok, perm = 0;

	if (smtp_read_reply(s, &r, to, e) == -1)
		return step_error(s, "MAIL FROM", e);
	if (!(mail_ok = r.code == 250))
		smtp_reply_error(s, &r, "MAIL FROM", ERR_UNAVAILABLE, e);
	for (i = 0; i < nrcpts; i++) {
		if (smtp_read_reply(s, &r, to, e) == -1)
			return step_error(s, "RCPT TO", e);
		if (r.code == 250 || r.code == 251 || !mail_ok)
			continue;
		nref++;
		perm |= r.code >= 500;
		if (strlen(refused) < 300)
			snprintf(refused + strlen(refused), sizeof(refused) -
			    strlen(refused), "%s<%s> %d %.*s",
			    nref > 1 ? "; " : "", rcpts[i], r.code,
			    (int)strcspn(r.text, "\n"), r.text);
	}
	if (!mail_ok)
		return -1;
	if (nref == 0)
		return 0;
	sanitize(shown, sizeof(shown), refused, strlen(refused));
	return err_set(e, perm ? ERR_NOUSER : ERR_TEMPFAIL, "%s: %zu "
	    "recipient%s refused, nothing sent: %s", s->host, nref,
	    nref > 1 ? "s" : "", shown);
}

static int
ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return 0;
	return 1;
}

/* Queue QUIT behind the last group (RFC 2920 3.1 allows it). */
static int
queue_quit(struct smtp *s, struct err *e)
{
	if (smtp_queue(s, -1, e, "QUIT") == -1)
		return -1;
	s->quit_sent = 1;
	return 0;
}

/*
 * CHUNKING (RFC 3030) with PIPELINING: MAIL, RCPT, "BDAT n LAST" with the
 * whole message, and QUIT, in one flight.  Only for one recipient: data
 * sent before a RCPT is refused would reach the others, so with several
 * the DATA path (which can still hang up) keeps all or nothing.
 */
static int
send_bdat(struct smtp *s, char * const *rcpts, const struct message *m,
    unsigned long long size, struct err *e)
{
	struct reply r;
	int to = smtp_timeout(s, TO_DATA_BLOCK);

	if (smtp_queue(s, -1, e, "BDAT %llu LAST", size) == -1)
		return -1;
	log_info("sending %llu bytes", size);
	if (send_message(s, m, 0, e) == -1 || queue_quit(s, e) == -1 ||
	    flush(s, to, e) == -1)
		return step_error(s, "sending the message", e);
	if (read_envelope(s, rcpts, 1, e) == -1)
		return -1;
	if (smtp_read_reply(s, &r, smtp_timeout(s, TO_DATA_END), e) == -1) {
		err_prefix(e, "the hub may or may not have the message: ");
		return step_error(s, "BDAT", e);
	}
	if (r.code != 250)
		return smtp_reply_error(s, &r, "BDAT", ERR_UNAVAILABLE, e);
	return 0;
}

int
smtp_send(struct smtp *s, const char *from, char * const *rcpts,
    size_t nrcpts, const struct message *m, struct err *e)
{
	struct reply r;
	char params[64] = "", what[300];
	unsigned long long size = msg_wire_size(m);
	size_t i;
	int pipe = (s->ehlo.flags & CAP_PIPELINING) != 0, utf8;
	int to = smtp_timeout(s, TO_COMMAND);

	/* RFC 1870 6: check the hub's limit before sending anything. */
	if ((s->ehlo.flags & CAP_SIZE) && s->ehlo.size_max > 0 && size > s->ehlo.size_max)
		return err_set(e, ERR_UNAVAILABLE, "%s: message of %llu bytes "
		    "is larger than the hub's limit of %lu bytes (SIZE)",
		    s->host, size, s->ehlo.size_max);
	if (s->ehlo.flags & CAP_SIZE)
		snprintf(params, sizeof(params), " SIZE=%llu", size);
	if (m->eightbit && (s->ehlo.flags & CAP_8BITMIME))
		strlcat(params, " BODY=8BITMIME", sizeof(params));
	/* RFC 6531 3.4: an address that is not ASCII needs SMTPUTF8. */
	for (i = 0, utf8 = !ascii(from); i < nrcpts && !utf8; i++)
		utf8 = !ascii(rcpts[i]);
	if (utf8 && !(s->ehlo.flags & CAP_SMTPUTF8))
		return err_set(e, ERR_UNAVAILABLE, "%s: an address is not "
		    "ASCII and the hub does not offer SMTPUTF8", s->host);
	if (utf8)
		strlcat(params, " SMTPUTF8", sizeof(params));

	if (smtp_queue(s, -1, e, "MAIL FROM:<%s>%s", from, params) == -1)
		return -1;
	if (!pipe) {
		if (flush(s, to, e) == -1 ||
		    smtp_read_reply(s, &r, to, e) == -1)
			return step_error(s, "MAIL FROM", e);
		if (r.code != 250) {
			smtp_reply_error(s, &r, "MAIL FROM", ERR_UNAVAILABLE, e);
			goto reset;
		}
	}
	for (i = 0; i < nrcpts; i++) {
		if (smtp_queue(s, -1, e, "RCPT TO:<%s>", rcpts[i]) == -1)
			return -1;
		if (pipe)
			continue;
		if (flush(s, to, e) == -1 ||
		    smtp_read_reply(s, &r, to, e) == -1)
			return step_error(s, "RCPT TO", e);
		if (r.code != 250 && r.code != 251) {
			snprintf(what, sizeof(what), "RCPT TO:<%s>", rcpts[i]);
			smtp_reply_error(s, &r, what, ERR_NOUSER, e);
			goto reset;
		}
	}
	if (pipe && nrcpts == 1 && (s->ehlo.flags & CAP_CHUNKING))
		return send_bdat(s, rcpts, m, size, e);
	if (pipe) {
		/* RFC 2920 3.1: DATA ends the group; read every reply. */
		if (smtp_queue(s, -1, e, "DATA") == -1 ||
		    flush(s, to, e) == -1)
			return step_error(s, "MAIL FROM", e);
		if (read_envelope(s, rcpts, nrcpts, e) == -1) {
			if (s->broken)
				return -1;
			if (smtp_read_reply(s, &r, smtp_timeout(s,
			    TO_DATA_INIT), &(struct err){ 0 }) == -1)
				return -1;
			if (r.code == 354) {
				/*
				 * The hub waits for data we will not send:
				 * hanging up discards the transaction.
				 */
				net_close(&s->net);
				return -1;
			}
			goto reset;
		}
		if (smtp_read_reply(s, &r, smtp_timeout(s, TO_DATA_INIT), e) ==
		    -1)
			return step_error(s, "DATA", e);
	} else if (smtp_command(s, &r, smtp_timeout(s, TO_DATA_INIT), -1, e,
	    "DATA") == -1)
		return step_error(s, "DATA", e);
	if (r.code != 354) {
		smtp_reply_error(s, &r, "DATA", ERR_UNAVAILABLE, e);
		goto reset;
	}
	log_info("sending %llu bytes", size);
	if (send_message(s, m, 1, e) == -1 || (pipe && queue_quit(s, e) ==
	    -1) || flush(s, smtp_timeout(s, TO_DATA_BLOCK), e) == -1)
		return step_error(s, "sending the message", e);
	if (smtp_read_reply(s, &r, smtp_timeout(s, TO_DATA_END), e) == -1) {
		err_prefix(e, "the hub may or may not have the message: ");
		return step_error(s, "end of data", e);
	}
	if (r.code != 250)
		return smtp_reply_error(s, &r, "end of data", ERR_UNAVAILABLE,
		    e);
	return 0;
reset:
	/* Keep the session usable and leave no half transaction behind. */
	if (s->net.fd != -1 && smtp_command(s, &r, to, -1, &(struct err){0},
	    "RSET") == -1)
		net_close(&s->net);
	return -1;
}

void
smtp_quit(struct smtp *s)
{
	struct reply r;
	struct err e;

	if (!s->broken && s->net.fd != -1 && s->net.wbuf != NULL) {
		if (s->quit_sent)	/* pipelined: only its reply is due */
			smtp_read_reply(s, &r, smtp_timeout(s, TO_QUIT), &e);
		else
			smtp_command(s, &r, smtp_timeout(s, TO_QUIT), -1, &e,
			    "QUIT");
	}
	net_close(&s->net);
}

void
smtp_close(struct smtp *s)
{
	net_close(&s->net);
}
