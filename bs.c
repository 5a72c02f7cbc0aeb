/*
 * SMTP on standard input and output (-bs), the server side of RFC 5321:
 * commands and their replies, pipelined input read in order (RFC 2920),
 * DATA unstuffed (RFC 5321 4.5.2), each message relayed at its end.
 */
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "bs.h"
#include "buf.h"

#define BS_RBUF		16384
#define BS_WBUF		4096

struct bs {
	const struct bs_server *srv;
	int		 in;
	char		 rbuf[BS_RBUF];
	size_t		 rpos, rlen;
	struct bufw	 w;
	struct bs_txn	 t;
	int		 has_mail;
};

enum { GOT_LINE = 1, GOT_EOF = 0, GOT_IDLE = -1, GOT_LONG = -2,
    GOT_ERROR = -3 };

void
bs_txn_reset(struct bs_txn *t)
{
	size_t i;

	for (i = 0; i < t->nrcpts; i++)
		free(t->rcpts[i]);
	free(t->rcpts);
	msg_free(&t->msg);
	memset(t, 0, sizeof(*t));
	msg_init(&t->msg);
}

/* Queue a reply line (CRLF added). */
static int
reply(struct bs *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
reply(struct bs *b, const char *fmt, ...)
{
	char line[1024];
	struct err e;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(line) - 3)
		n = sizeof(line) - 3;
	line[n++] = '\r';
	line[n++] = '\n';
	return bufw_add(&b->w, line, n, &e);
}

/*
 * More input into rbuf.  What is queued for the caller goes out first:
 * a reply group is complete when the caller has nothing more pending.
 */
static int
fill(struct bs *b)
{
	struct pollfd pfd = { b->in, POLLIN, 0 };
	struct err e;
	ssize_t n;
	int r;

	if (bufw_flush(&b->w, &e) == -1)
		return GOT_ERROR;
	for (;;) {
		r = poll(&pfd, 1, b->srv->idle_timeout * 1000);
		if (r == 0)
			return GOT_IDLE;
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return GOT_ERROR;
		n = read(b->in, b->rbuf, sizeof(b->rbuf));
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return n == 0 ? GOT_EOF : GOT_ERROR;
		b->rpos = 0;
		b->rlen = (size_t)n;
		return GOT_LINE;
	}
}

/*
 * One command line into line (CRLF or LF removed).  A line longer than
 * BS_LINE_MAX is read to its end and reported as GOT_LONG.
 */
static int
read_command(struct bs *b, char *line, size_t *len)
{
	const char *nl;
	size_t take, n = 0;
	int r, toolong = 0;

	for (;;) {
		if (b->rpos == b->rlen && (r = fill(b)) != GOT_LINE) {
			if (r != GOT_EOF || (n == 0 && !toolong))
				return r;
			break;		/* a last line without its LF */
		}
		nl = memchr(b->rbuf + b->rpos, '\n', b->rlen - b->rpos);
		take = nl != NULL ? (size_t)(nl - (b->rbuf + b->rpos)) + 1 :
		    b->rlen - b->rpos;
		if (!toolong && n + take < BS_LINE_MAX) {
			memcpy(line + n, b->rbuf + b->rpos, take);
			n += take;
		} else
			toolong = 1;
		b->rpos += take;
		if (nl != NULL)
			break;
	}
	if (toolong)
		return GOT_LONG;
	if (n > 0 && line[n - 1] == '\n')
		n--;
	if (n > 0 && line[n - 1] == '\r')
		n--;
	line[n] = '\0';
	*len = n;
	return GOT_LINE;
}

/* The verb of a command: "MAIL FROM:" matches "mail from:" and such. */
static int
verb(const char *line, const char *v)
{
	size_t n = strlen(v);

	return strncasecmp(line, v, n) == 0 && (line[n] == '\0' ||
	    line[n] == ' ' || v[n - 1] == ':');
}

/* Decode xtext (RFC 3461 4) into out; -1 when malformed or too long. */
static int
unxtext(const char *in, char *out, size_t size)
{
	size_t o = 0;
	int hi, lo;

	for (; *in != '\0'; in++) {
		if (o + 1 >= size || *in < '!' || *in > '~' || *in == '=')
			return -1;
		if (*in == '+') {
			if (!isxdigit((unsigned char)in[1]) ||
			    !isxdigit((unsigned char)in[2]))
				return -1;
			hi = isdigit((unsigned char)in[1]) ? in[1] - '0' :
			    (tolower((unsigned char)in[1]) - 'a' + 10);
			lo = isdigit((unsigned char)in[2]) ? in[2] - '0' :
			    (tolower((unsigned char)in[2]) - 'a' + 10);
			out[o++] = (char)(hi << 4 | lo);
			in += 2;
		} else
			out[o++] = *in;
	}
	out[o] = '\0';
	return 0;
}

/*
 * The path of MAIL FROM or RCPT TO: "<addr>" (a source route dropped,
 * RFC 5321 4.1.1.3) or a bare address, then *params at the rest.
 * Returns -1 when it is malformed.
 */
static int
parse_path(char *p, char *addr, size_t size, char **params)
{
	char *end, *colon;
	int q = 0;

	while (*p == ' ')
		p++;
	if (*p == '<') {
		for (end = ++p; *end != '\0' && (q || *end != '>'); end++)
			if (*end == '"')
				q = !q;
			else if (*end == '\\' && q && end[1] != '\0')
				end++;
		if (*end != '>')
			return -1;
		*end++ = '\0';
		if (*p == '@' && (colon = strchr(p, ':')) != NULL)
			p = colon + 1;
	} else {
		end = p + strcspn(p, " ");
		if (*end != '\0')
			*end++ = '\0';
	}
	if (strlcpy(addr, p, size) >= size)
		return -1;
	if (*end != '\0' && *end != ' ')
		return -1;
	while (*end == ' ')
		end++;
	*params = end;
	return 0;
}

/* The next "KEY[=VALUE]" of params, split in place. */
static char *
next_param(char **params, char **value)
{
	char *p = *params, *eq;

	if (*p == '\0')
		return NULL;
	*params = p + strcspn(p, " ");
	if (**params != '\0')
		*(*params)++ = '\0';
	while (**params == ' ')
		(*params)++;
	if ((eq = strchr(p, '=')) != NULL)
		*eq++ = '\0';
	*value = eq;
	return p;
}

static int
do_mail(struct bs *b, char *arg)
{
	struct bs_txn *t = &b->t;
	char addr[ADDR_MAX + 1], *params, *k, *v, *end;
	struct err e;
	unsigned long long size;

	if (b->has_mail)
		return reply(b, "503 5.5.1 Error: nested MAIL command");
	if (parse_path(arg, addr, sizeof(addr), &params) == -1)
		return reply(b, "501 5.1.7 Syntax: MAIL FROM:<address>");
	if (addr_check(addr, 1, &e) == -1)
		return reply(b, "501 5.1.7 Bad sender address: %s", e.msg);
	while ((k = next_param(&params, &v)) != NULL) {
		if (strcasecmp(k, "SIZE") == 0 && v != NULL && *v != '\0' &&
		    strspn(v, "0123456789") == strlen(v)) {
			size = strtoull(v, &end, 10);
			if (b->srv->size_max > 0 && size > b->srv->size_max)
				return reply(b, "552 5.3.4 Message size exceeds "
				    "the limit of %lu bytes", b->srv->size_max);
		} else if (strcasecmp(k, "BODY") == 0 && v != NULL &&
		    (strcasecmp(v, "7BIT") == 0 ||
		    strcasecmp(v, "8BITMIME") == 0))
			t->body8 = strcasecmp(v, "8BITMIME") == 0;
		else if (strcasecmp(k, "SMTPUTF8") == 0 && v == NULL)
			;
		else if (strcasecmp(k, "RET") == 0 && v != NULL &&
		    (strcasecmp(v, "FULL") == 0 || strcasecmp(v, "HDRS") == 0)) {
			strlcpy(t->ret, v, sizeof(t->ret));
			for (end = t->ret; *end != '\0'; end++)
				*end = (char)toupper((unsigned char)*end);
		} else if (strcasecmp(k, "ENVID") == 0 && v != NULL &&
		    unxtext(v, t->envid, sizeof(t->envid)) == 0)
			;
		else if (strcasecmp(k, "AUTH") == 0 && v != NULL)
			;	/* RFC 4954 5: no AUTH here, so nothing to use */
		else
			return reply(b, "555 5.5.4 Unsupported or malformed MAIL "
			    "parameter %.40s", k);
	}
	strlcpy(t->from, addr, sizeof(t->from));
	b->has_mail = 1;
	return reply(b, "250 2.1.0 Ok");
}

/* NOTIFY (RFC 3461 4.1): NEVER alone, or SUCCESS, FAILURE, DELAY. */
static int
good_notify(const char *v)
{
	char copy[64], *p = copy, *w;
	int n = 0, never = 0;

	if (strlcpy(copy, v, sizeof(copy)) >= sizeof(copy))
		return 0;
	while ((w = strsep(&p, ",")) != NULL) {
		n++;
		if (strcasecmp(w, "NEVER") == 0)
			never = 1;
		else if (strcasecmp(w, "SUCCESS") != 0 &&
		    strcasecmp(w, "FAILURE") != 0 && strcasecmp(w, "DELAY") != 0)
			return 0;
	}
	return !never || n == 1;
}

static int
do_rcpt(struct bs *b, char *arg)
{
	struct bs_txn *t = &b->t;
	char addr[ADDR_MAX + 1], *params, *k, *v, **nr;
	struct err e;

	if (!b->has_mail)
		return reply(b, "503 5.5.1 Error: need MAIL command");
	if (parse_path(arg, addr, sizeof(addr), &params) == -1)
		return reply(b, "501 5.1.3 Syntax: RCPT TO:<address>");
	if (addr_check(addr, 0, &e) == -1)
		return reply(b, "501 5.1.3 Bad recipient address: %s", e.msg);
	while ((k = next_param(&params, &v)) != NULL) {
		if (strcasecmp(k, "NOTIFY") == 0 && v != NULL && good_notify(v)) {
			if (*t->notify == '\0')
				strlcpy(t->notify, v, sizeof(t->notify));
		} else if (strcasecmp(k, "ORCPT") == 0 && v != NULL)
			;
		else
			return reply(b, "555 5.5.4 Unsupported or malformed RCPT "
			    "parameter %.40s", k);
	}
	if (t->nrcpts == BS_RCPTS_MAX)
		return reply(b, "452 4.5.3 Error: too many recipients");
	if ((nr = reallocarray(t->rcpts, t->nrcpts + 1, sizeof(*nr))) == NULL)
		return reply(b, "451 4.3.0 Error: out of memory");
	t->rcpts = nr;
	if ((t->rcpts[t->nrcpts] = strdup(addr)) == NULL)
		return reply(b, "451 4.3.0 Error: out of memory");
	t->nrcpts++;
	return reply(b, "250 2.1.5 Ok");
}

/*
 * The data after 354, unstuffed, up to the line holding a single ".";
 * line ends are kept as the caller sent them (CRLF or LF).  Returns
 * GOT_LINE at the end of data, or what ended the input.
 */
static int
read_data(struct bs *b)
{
	enum { BOL, MID, DOT, DOTCR } st = BOL;
	char out[BS_RBUF + 2];
	struct err e;
	size_t o, i;
	int r;

	for (;;) {
		if (b->rpos == b->rlen && (r = fill(b)) != GOT_LINE)
			return r;
		for (o = 0, i = b->rpos; i < b->rlen; i++) {
			char c = b->rbuf[i];

			switch (st) {
			case BOL:
				if (c == '.') {
					st = DOT;
					continue;
				}
				st = c == '\n' ? BOL : MID;
				out[o++] = c;
				continue;
			case MID:
				out[o++] = c;
				if (c == '\n')
					st = BOL;
				continue;
			case DOT:
				if (c == '\n')
					goto end;
				if (c == '\r') {
					st = DOTCR;
					continue;
				}
				/* RFC 5321 4.5.2: the first "." goes. */
				out[o++] = c;
				st = MID;
				continue;
			case DOTCR:
				if (c == '\n')
					goto end;
				out[o++] = '\r';
				out[o++] = c;
				st = c == '\n' ? BOL : MID;
				continue;
			}
		}
		b->rpos = i;
		if (msg_append(&b->t.msg, out, o, &e) == -1)
			return GOT_ERROR;
	}
end:
	b->rpos = i + 1;
	return msg_append(&b->t.msg, out, o, &e) == -1 ? GOT_ERROR : GOT_LINE;
}

static int
do_data(struct bs *b, enum err_kind *ended)
{
	char text[600];
	int r, code;

	if (!b->has_mail)
		return reply(b, "503 5.5.1 Error: need MAIL command");
	if (b->t.nrcpts == 0)
		return reply(b, "503 5.5.1 Error: need RCPT command");
	if (reply(b, "354 End data with <CR><LF>.<CR><LF>") == -1)
		return -1;
	if ((r = read_data(b)) != GOT_LINE) {
		/* Cut off: keep what arrived, and end the session. */
		b->srv->cut(b->srv->arg, &b->t);
		if (r == GOT_IDLE)
			reply(b, "421 4.4.2 %s Error: timeout exceeded",
			    b->srv->hostname);
		*ended = r == GOT_IDLE ? ERR_TEMPFAIL : r == GOT_EOF ?
		    ERR_DATA : ERR_IOERR;
		return -1;
	}
	if (b->srv->size_max > 0 && (unsigned long long)b->t.msg.size >
	    b->srv->size_max) {
		b->srv->cut(b->srv->arg, &b->t);
		code = 552;
		snprintf(text, sizeof(text), "5.3.4 Message size exceeds the "
		    "limit of %lu bytes", b->srv->size_max);
	} else
		code = b->srv->relay(b->srv->arg, &b->t, text, sizeof(text));
	bs_txn_reset(&b->t);
	b->has_mail = 0;
	return reply(b, "%d %s", code, text);
}

static int
do_ehlo(struct bs *b, const char *arg, int extended)
{
	bs_txn_reset(&b->t);
	b->has_mail = 0;
	if (*arg == '\0')
		return reply(b, "501 5.5.4 Syntax: %s hostname", extended ?
		    "EHLO" : "HELO");
	if (!extended)
		return reply(b, "250 %s", b->srv->hostname);
	if (reply(b, "250-%s", b->srv->hostname) == -1 ||
	    reply(b, "250-PIPELINING") == -1 ||
	    (b->srv->size_max > 0 ? reply(b, "250-SIZE %lu",
	    b->srv->size_max) : reply(b, "250-SIZE")) == -1 ||
	    reply(b, "250-8BITMIME") == -1 || reply(b, "250-SMTPUTF8") == -1 ||
	    reply(b, "250-DSN") == -1)
		return -1;
	return reply(b, "250 ENHANCEDSTATUSCODES");
}

enum err_kind
bs_serve(int in, int out, const struct bs_server *srv)
{
	struct bs *b;
	struct err e;
	char line[BS_LINE_MAX + 1], *arg;
	enum err_kind ended = ERR_NONE;
	size_t len = 0;
	int r, done = 0;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return ERR_OSERR;
	b->srv = srv;
	b->in = in;
	msg_init(&b->t.msg);
	if (bufw_init(&b->w, BS_WBUF, bufw_fd_sink, &out, &e) == -1) {
		free(b);
		return ERR_OSERR;
	}
	r = reply(b, "220 %s ESMTP ssmtp", srv->hostname);
	while (!done && r == 0) {
		switch (read_command(b, line, &len)) {
		case GOT_EOF:
			/* Between transactions, that is a normal end. */
			ended = ERR_NONE;
			done = 1;
			continue;
		case GOT_IDLE:
			reply(b, "421 4.4.2 %s Error: timeout exceeded",
			    srv->hostname);
			ended = ERR_TEMPFAIL;
			done = 1;
			continue;
		case GOT_ERROR:
			ended = ERR_IOERR;
			done = 1;
			continue;
		case GOT_LONG:
			r = reply(b, "500 5.5.2 Error: line too long");
			continue;
		}
		if (memchr(line, '\0', len) != NULL || strchr(line, '\r') != NULL) {
			r = reply(b, "501 5.5.2 Error: a CR or NUL in a command");
			continue;
		}
		arg = line + strcspn(line, " ");
		while (*arg == ' ')
			arg++;
		if (verb(line, "EHLO"))
			r = do_ehlo(b, arg, 1);
		else if (verb(line, "HELO"))
			r = do_ehlo(b, arg, 0);
		else if (verb(line, "MAIL FROM:"))
			r = do_mail(b, line + 10);
		else if (verb(line, "RCPT TO:"))
			r = do_rcpt(b, line + 8);
		else if (verb(line, "DATA")) {
			if ((r = do_data(b, &ended)) == -1 && ended != ERR_NONE)
				done = 1;
		} else if (verb(line, "RSET")) {
			bs_txn_reset(&b->t);
			b->has_mail = 0;
			r = reply(b, "250 2.0.0 Ok");
		} else if (verb(line, "NOOP"))
			r = reply(b, "250 2.0.0 Ok");
		else if (verb(line, "HELP"))
			r = reply(b, "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA "
			    "RSET NOOP VRFY QUIT");
		else if (verb(line, "VRFY"))
			r = reply(b, "252 2.5.2 Cannot VRFY a user; send mail "
			    "and it will be relayed");
		else if (verb(line, "QUIT")) {
			r = reply(b, "221 2.0.0 Bye");
			done = 1;
		} else if (verb(line, "STARTTLS") || verb(line, "AUTH") ||
		    verb(line, "BDAT") || verb(line, "EXPN") ||
		    verb(line, "ETRN"))
			r = reply(b, "502 5.5.1 Error: command not implemented "
			    "(the caller is a local process)");
		else
			r = reply(b, "500 5.5.2 Error: command not recognized");
	}
	if (r == -1 && ended == ERR_NONE)
		ended = ERR_IOERR;
	if (bufw_flush(&b->w, &e) == -1 && ended == ERR_NONE)
		ended = ERR_IOERR;
	bufw_free(&b->w, 0);
	bs_txn_reset(&b->t);
	msg_free(&b->t.msg);
	free(b);
	return ended;
}
