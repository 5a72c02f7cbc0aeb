/*
 * The SMTP client engine (RFC 5321): one session, opened from a small
 * parameter struct (connect, greeting, EHLO, STARTTLS or implicit TLS,
 * AUTH), then any number of transactions (MAIL, RCPT..., DATA or BDAT),
 * then QUIT or a plain close.  It reads the message's bytes, never
 * changes them, and reports each outcome with its step and the hub's
 * reply; the face turns that into exit codes.  Sockets and TLS are the
 * transport's (net.c); SASL is a codec (auth.c) this engine drives.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "buf.h"
#include "clock.h"
#include "log.h"
#include "net.h"
#include "smtp.h"

#define CMD_MAX		16384	/* AUTH lines may exceed 512 (RFC 4954 4) */
#define BODY_CHUNK	65536
#define SASL_ROUNDS_MAX	8	/* 334 challenges in one AUTH */

struct smtp {
	struct smtp_params p;
	int		 port;		/* p.port or the mode's default */
	struct net	 net;
	struct smtp_caps ehlo;
	int		 open;		/* ready for a transaction */
	int		 broken;	/* out of step: close without QUIT */
	int		 quit_sent;	/* QUIT went with the last group */
	char		*secret;	/* for AUTH; asked again on a reopen */
	int		 opens;		/* sessions opened so far */
	int		 txns;		/* transactions done on this one */
	int		 no_chunking;	/* the hub refused BDAT once */
	int		 bdat_refused;	/* ... just now: send with DATA */
	struct smtp_info info;		/* how far smtp_open got */
};

static const char *step_names[] = {
	"connect", "greeting", "EHLO", "STARTTLS", "TLS", "AUTH",
	"MAIL FROM", "RCPT TO", "DATA", "sending the message", "end of data",
	"BDAT", "RSET", "QUIT",
};

const char *
smtp_step_name(enum smtp_step st)
{
	return (size_t)st < sizeof(step_names) / sizeof(step_names[0]) ?
	    step_names[st] : "?";
}

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
smtp_reply_line(struct reply *r, const char *line, size_t len, struct err *e)
{
	char shown[64];
	const char *text;
	size_t tlen;
	int code;

	sanitize(shown, sizeof(shown), line, len);
	if (len < 3 || !isdigit((unsigned char)line[0]) ||
	    !isdigit((unsigned char)line[1]) ||
	    !isdigit((unsigned char)line[2]) || line[0] < '2' ||
	    line[0] > '5' || (len > 3 && line[3] != ' ' && line[3] != '-'))
		return err_set(e, ERR_PROTOCOL, "not an SMTP reply: \"%s\"",
		    shown);
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (r->nlines > 0 && code != r->code)
		return err_set(e, ERR_PROTOCOL, "reply code changed from %d "
		    "within a multiline reply: \"%s\"", r->code, shown);
	if (r->nlines == SMTP_LINES_MAX)
		return err_set(e, ERR_PROTOCOL, "reply longer than %d lines",
		    SMTP_LINES_MAX);
	r->code = code;
	text = len > 4 ? line + 4 : "";
	tlen = len > 4 ? len - 4 : 0;
	if (r->nlines == 0)
		parse_enhanced(r, text, tlen);	/* used when offered */
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


/* The per-step timeout: Timeout= when set, else the RFC default. */
static int
timeout(const struct smtp *s, int dflt)
{
	return s->p.timeout > 0 ? s->p.timeout : dflt;
}

static void
result_init(struct smtp_result *res)
{
	memset(res, 0, sizeof(*res));
	res->status = SMTP_SENT;
}

void
smtp_result_free(struct smtp_result *res)
{
	free(res->refused);
	res->refused = NULL;
	res->nrefused = 0;
}

/*
 * The transport failed at step (e says how): the session is out of step.
 * Before the end of data that is safe to retry (SMTP_LOST); after it,
 * the hub may have the message (SMTP_UNKNOWN).  Returns -1.
 */
static int
lost(struct smtp *s, struct smtp_result *res, enum smtp_step st,
    const struct err *e)
{
	char pre[300];

	s->broken = 1;
	res->step = st;
	res->status = st == SMTP_STEP_END || st == SMTP_STEP_BDAT ?
	    SMTP_UNKNOWN : SMTP_LOST;
	/* Not a loss but nonsense (or a TLS alert): nothing to retry. */
	if (e->kind == ERR_PROTOCOL || e->kind == ERR_UNAVAILABLE)
		res->status = SMTP_PERM;
	res->err = *e;
	if (res->status == SMTP_UNKNOWN)
		err_prefix(&res->err, "the hub may or may not have the "
		    "message: ");
	snprintf(pre, sizeof(pre), "%s: %s: ", s->p.host, smtp_step_name(st));
	err_prefix(&res->err, pre);
	return -1;
}

/* Keep the hub's reply in the result. */
static void
keep_reply(struct smtp *s, struct smtp_result *res, const struct reply *r)
{
	res->code = r->code;
	strlcpy(res->enh, (s->ehlo.flags & CAP_ENHANCED) ? r->enh : "",
	    sizeof(res->enh));
	sanitize(res->text, sizeof(res->text), r->text, strcspn(r->text,
	    "\n"));
}

/*
 * The hub refused step with r: 4xx is temporary, 5xx permanent (of the
 * kind given), anything else is not SMTP.  what names the step in the
 * message when it says more than the step's name.  Returns -1.
 */
static int
refused(struct smtp *s, struct smtp_result *res, enum smtp_step st,
    const struct reply *r, enum err_kind perm, const char *what)
{
	enum err_kind kind;

	keep_reply(s, res, r);
	res->step = st;
	if (r->code >= 400 && r->code < 500) {
		kind = ERR_TEMPFAIL;
		res->status = SMTP_TEMP;
	} else if (r->code >= 500) {
		kind = perm;
		res->status = SMTP_PERM;
	} else {
		kind = ERR_PROTOCOL;
		res->status = SMTP_PERM;
		s->broken = 1;
	}
	return err_set(&res->err, kind, "%s: %s %s %d %s", s->p.host,
	    what != NULL ? what : smtp_step_name(st), kind == ERR_PROTOCOL ?
	    "got unexpected reply" : "refused:", r->code, res->text);
}

/* A failure of ours at step (e says it), not the hub's. */
static int
local(struct smtp_result *res, enum smtp_step st, enum smtp_status status,
    const struct err *e)
{
	res->step = st;
	res->status = status;
	res->err = *e;
	return -1;
}

/*
 * Read a whole reply; with caps, each line after the first of it is an
 * EHLO keyword line, parsed whole whatever its length.
 */
static int
read_reply(struct smtp *s, struct reply *r, int to, struct smtp_caps *caps,
    struct err *e)
{
	const char *line;
	long long end, left;
	size_t len;
	int rc;

	memset(r, 0, offsetof(struct reply, text));
	r->text[0] = '\0';
	r->textlen = 0;
	if (caps != NULL)
		smtp_caps_init(caps);
	/*
	 * The timeout covers the whole reply: a hub that trickles lines of
	 * a multiline reply cannot stretch it line by line.
	 */
	end = clock_ms() + (long long)to * 1000;
	do {
		if ((left = end - clock_ms()) <= 0)
			return err_set(e, ERR_TEMPFAIL, "timed out after %d s",
			    to);
		/* What is left of the whole reply's time, in whole seconds. */
		if (net_read_line(&s->net, &line, &len, (int)((left + 999) /
		    1000), e) == -1)
			return -1;
		log_proto("<-", line, len);
		if ((rc = smtp_reply_line(r, line, len, e)) == -1)
			return -1;
		if (caps != NULL && r->nlines > 1 && len > 4)
			smtp_caps_line(caps, line + 4, len - 4);
	} while (rc == 0);
	return 0;
}

static int
vqueue(struct smtp *s, int show, struct err *e, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

/*
 * Queue a command line (CRLF added) without sending it.  With show >= 0,
 * only the first show bytes appear in the -v transcript (secrets).
 */
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
		rc = net_write(&s->net, buf, n, timeout(s, TO_COMMAND), e);
	}
	explicit_bzero(buf, used);
	free(buf);
	return rc;
}

static int
queue(struct smtp *s, int show, struct err *e, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
queue(struct smtp *s, int show, struct err *e, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vqueue(s, show, e, fmt, ap);
	va_end(ap);
	return rc;
}

/* Send what is queued. */
static int
flush(struct smtp *s, int to, struct err *e)
{
	return net_flush(&s->net, to, e);
}

/*
 * Send one command and read its reply, at step st.  Returns 0 with the
 * reply in r, or -1 with res filled (a transport failure).
 */
static int
command(struct smtp *s, struct reply *r, enum smtp_step st, int to, int show,
    struct smtp_result *res, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

static int
command(struct smtp *s, struct reply *r, enum smtp_step st, int to, int show,
    struct smtp_result *res, const char *fmt, ...)
{
	struct err e;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vqueue(s, show, &e, fmt, ap);
	va_end(ap);
	if (rc == -1 && e.kind != ERR_TEMPFAIL)
		return local(res, st, SMTP_PERM, &e);
	if (rc == -1 || flush(s, timeout(s, TO_COMMAND), &e) == -1 ||
	    read_reply(s, r, to, NULL, &e) == -1)
		return lost(s, res, st, &e);
	return 0;
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
		{ "AUTH", CAP_AUTH }, { "DSN", CAP_DSN },
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


/* The keywords of an EHLO reply (its lines after the first), for info. */
static void
keep_caps(struct smtp *s, const struct reply *r)
{
	const char *p = memchr(r->text, '\n', r->textlen);
	size_t i, o = 0;

	for (i = p ? (size_t)(p - r->text) + 1 : r->textlen; i < r->textlen &&
	    o + 3 < sizeof(s->info.caps); i++) {
		if (r->text[i] == '\n') {
			s->info.caps[o++] = ',';
			s->info.caps[o++] = ' ';
		} else
			s->info.caps[o++] = (unsigned char)r->text[i] < 0x20 ?
			    '?' : r->text[i];
	}
	s->info.caps[o] = '\0';
}

/*
 * EHLO, or HELO when the server is not ESMTP (RFC 5321 3.2).  With
 * prepare (STARTTLS will follow), the TLS context is made while the reply
 * is on its way: on a long link its CPU hides inside that round trip.
 */
static int
ehlo(struct smtp *s, int prepare, struct smtp_result *res)
{
	struct reply r;
	struct err e;
	int to = timeout(s, TO_COMMAND);

	if (queue(s, -1, &e, "EHLO %s", s->p.helo) == -1 ||
	    flush(s, to, &e) == -1)
		return lost(s, res, SMTP_STEP_EHLO, &e);
	if (prepare)
		net_tls_prepare(s->p.tls);
	if (read_reply(s, &r, to, &s->ehlo, &e) == -1)
		return lost(s, res, SMTP_STEP_EHLO, &e);
	if (r.code == 250) {
		keep_caps(s, &r);
		return 0;
	}
	if (r.code < 500 || r.code > 504)
		return refused(s, res, SMTP_STEP_EHLO, &r, ERR_UNAVAILABLE,
		    NULL);
	smtp_caps_init(&s->ehlo);
	if (command(s, &r, SMTP_STEP_EHLO, to, -1, res, "HELO %s",
	    s->p.helo) == -1)
		return -1;
	if (r.code != 250)
		return refused(s, res, SMTP_STEP_EHLO, &r, ERR_UNAVAILABLE,
		    "HELO");
	return 0;
}

/* TLS on the connection, at step st (implicit, or after STARTTLS). */
static int
start_tls(struct smtp *s, enum smtp_step st, struct smtp_result *res)
{
	struct err e;

	if (net_start_tls(&s->net, s->p.tls, s->p.host, timeout(s,
	    TO_CONNECT), &e) == -1) {
		if (e.kind == ERR_TEMPFAIL)
			return lost(s, res, st, &e);
		s->broken = 1;
		err_prefix(&e, ": ");
		err_prefix(&e, smtp_step_name(st));
		err_prefix(&e, ": ");
		err_prefix(&e, s->p.host);
		return local(res, st, SMTP_PERM, &e);
	}
	return 0;
}

/*
 * AUTH with the mechanism chosen, the engine driving the SASL codec
 * through every 334 challenge.  The engine, not the codec, refuses to
 * send a secret in clear text to a hub off loopback.
 */
static int
authenticate(struct smtp *s, struct smtp_result *res)
{
	struct reply r;
	struct sasl sa;
	struct err e;
	const char *mech;
	char *line = NULL, step[64];
	int to = timeout(s, TO_COMMAND), tls = net_tls_active(&s->net), i;
	int rc;

	if (!tls && !net_loopback(&s->net)) {
		err_set(&e, ERR_UNAVAILABLE, "%s: refusing to send the "
		    "password "
		    "over a connection without TLS (set UseSTARTTLS=YES or "
		    "UseTLS=YES, or use a hub that offers STARTTLS)",
		s->p.host);
		return local(res, SMTP_STEP_AUTH, SMTP_PERM, &e);
	}
	if (!(s->ehlo.flags & CAP_AUTH)) {
		err_set(&e, ERR_UNAVAILABLE, "%s: AuthUser is set but the hub "
		    "offers no AUTH%s", s->p.host, tls ? "" :
		    " (some hubs offer it only after STARTTLS)");
		return local(res, SMTP_STEP_AUTH, SMTP_PERM, &e);
	}
	if ((mech = auth_choose(s->ehlo.auth, s->ehlo.auth_offered,
	    s->p.auth_method, tls, &e)) == NULL) {
		err_prefix(&e, ": ");
		err_prefix(&e, s->p.host);
		return local(res, SMTP_STEP_AUTH, SMTP_PERM, &e);
	}
	/* The secret: asked again on a reopen (an OAuth token may expire). */
	if (s->secret == NULL && s->p.get_secret(s->p.secret_arg, s->opens > 1,
	    &s->secret, &e) == -1)
		return local(res, SMTP_STEP_AUTH, e.kind == ERR_TEMPFAIL ?
		    SMTP_TEMP : SMTP_PERM, &e);
	if (sasl_start(&sa, mech, s->p.auth_user, s->secret, s->p.host,
	    s->port, &line, &e) == -1)
		return local(res, SMTP_STEP_AUTH, SMTP_PERM, &e);
	strlcpy(s->info.auth_mech, mech, sizeof(s->info.auth_mech));
	snprintf(step, sizeof(step), "AUTH %s", mech);
	rc = line != NULL ? command(s, &r, SMTP_STEP_AUTH, to,
	    (int)strlen(step) + 1, res, "AUTH %s %s", mech, line) :
	    command(s, &r, SMTP_STEP_AUTH, to, -1, res, "AUTH %s", mech);
	secret_free(line);
	for (i = 0; rc == 0 && r.code == 334; i++) {
		if (i == SASL_ROUNDS_MAX || sasl_step(&sa, r.text, r.textlen,
		    &line, &e) == -1) {
			/* Cancel (RFC 4954 4), then fail as the codec said. */
			if (command(s, &r, SMTP_STEP_AUTH, to, -1, res, "*") == 0)
				res->status = SMTP_PERM;
			if (i == SASL_ROUNDS_MAX)
				err_set(&e, ERR_PROTOCOL, "too many "
				    "challenges");
			err_prefix(&e, ": ");
			err_prefix(&e, s->p.host);
			return local(res, SMTP_STEP_AUTH, SMTP_PERM, &e);
		}
		rc = command(s, &r, SMTP_STEP_AUTH, to, 0, res, "%s", line);
		secret_free(line);
	}
	if (rc == -1)
		return -1;
	if (r.code != 235)
		return refused(s, res, SMTP_STEP_AUTH, &r, ERR_NOPERM, step);
	log_info("authenticated with %s", mech);
	s->info.authenticated = 1;
	return 0;
}

struct smtp *
smtp_new(const struct smtp_params *p, struct err *e)
{
	struct smtp *s;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		err_set(e, ERR_OSERR, "out of memory");
		return NULL;
	}
	s->p = *p;
	s->port = p->port ? p->port : p->tls_mode == SMTP_TLS_IMPLICIT ? 465 :
	    587;
	net_init(&s->net);
	return s;
}

int
smtp_open(struct smtp *s, struct smtp_result *res)
{
	struct reply r;
	struct err e;
	int starttls;

	result_init(res);
	if (s->net.fd != -1)
		smtp_close(s);
	s->broken = s->quit_sent = 0;
	s->txns = 0;
	s->opens++;
	memset(&s->info, 0, sizeof(s->info));
	if (net_connect(&s->net, s->p.host, s->port, s->p.family,
	    timeout(s, TO_CONNECT), &e) == -1)
		return local(res, SMTP_STEP_CONNECT, e.kind == ERR_NOHOST ?
		    SMTP_PERM : SMTP_LOST, &e);
	log_info("connected to %s", net_peer(&s->net));
	strlcpy(s->info.peer, net_peer(&s->net), sizeof(s->info.peer));
	if (s->p.tls_mode == SMTP_TLS_IMPLICIT &&
	    start_tls(s, SMTP_STEP_TLS, res) == -1)
		return -1;
	if (read_reply(s, &r, timeout(s, TO_GREETING), NULL, &e) == -1)
		return lost(s, res, SMTP_STEP_GREETING, &e);
	snprintf(s->info.greeting, sizeof(s->info.greeting), "%d ", r.code);
	sanitize(s->info.greeting + strlen(s->info.greeting),
	    sizeof(s->info.greeting) - strlen(s->info.greeting), r.text,
	    strcspn(r.text, "\n"));
	if (r.code != 220)
		return refused(s, res, SMTP_STEP_GREETING, &r, ERR_UNAVAILABLE,
		    NULL);
	if (ehlo(s, !net_tls_active(&s->net) &&
	    s->p.tls_mode == SMTP_TLS_STARTTLS, res) == -1)
		return -1;
	starttls = !net_tls_active(&s->net) &&
	    (s->p.tls_mode == SMTP_TLS_STARTTLS ||
	    (s->p.tls_mode == SMTP_TLS_OFFERED &&
	    (s->ehlo.flags & CAP_STARTTLS)));
	if (starttls) {
		if (!(s->ehlo.flags & CAP_STARTTLS)) {
			err_set(&e, ERR_UNAVAILABLE, "%s: the hub does not "
			    "offer STARTTLS, and UseSTARTTLS=YES requires it",
			    s->p.host);
			return local(res, SMTP_STEP_STARTTLS, SMTP_PERM, &e);
		}
		if (command(s, &r, SMTP_STEP_STARTTLS, timeout(s, TO_COMMAND),
		    -1, res, "STARTTLS") == -1)
			return -1;
		if (r.code != 220)
			return refused(s, res, SMTP_STEP_STARTTLS, &r,
			    ERR_UNAVAILABLE, NULL);
		/*
		 * RFC 3207 5 and CVE-2011-0411: anything received before the
		 * handshake was sent in clear and may be an injected reply.
		 */
		if (net_pending(&s->net) > 0) {
			s->broken = 1;
			err_set(&e, ERR_PROTOCOL, "%s: the hub sent data after "
			    "its STARTTLS reply, before TLS started (possible "
			    "injection); giving up", s->p.host);
			return local(res, SMTP_STEP_STARTTLS, SMTP_PERM, &e);
		}
		if (start_tls(s, SMTP_STEP_STARTTLS, res) == -1)
			return -1;
		/* RFC 3207 4.2: forget what was learnt before TLS. */
		if (ehlo(s, 0, res) == -1)
			return -1;
	}
	if (s->p.auth_user != NULL && authenticate(s, res) == -1)
		return -1;
	s->open = 1;
	return 0;
}
void
smtp_describe(const struct smtp *s, struct smtp_info *info)
{
	*info = s->info;
	/*
	 * The TLS part only now, from the connection smtp_open leaves open
	 * even when it failed: describing a certificate costs a send that
	 * never asks for it.
	 */
	net_tls_info(&s->net, s->p.tls, &info->tls);
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
	const char *p = in, *end = in + n, *nl, *stop, *cr = NULL;
	char *o = out;
	size_t len;
	int cr_known = 0;	/* cr: the first CR at or after p, or none */

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
		/* CRs are rare: looked for again only once the last is passed. */
		if (!cr_known || (cr != NULL && cr < p)) {
			cr = memchr(p, '\r', end - p);
			cr_known = 1;
		}
		if (cr != NULL && cr < stop)
			stop = cr;
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
	int to = timeout(s, TO_DATA_BLOCK), rc = -1;

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
 * xtext (RFC 3461 4): "+" and "=", and bytes outside "!" to "~", become
 * "+" and two hex digits.  Returns -1 when out cannot hold it.
 */
static int
xtext(const char *in, char *out, size_t size)
{
	size_t o = 0;

	for (; *in != '\0'; in++) {
		unsigned char c = *in;

		if (o + 4 > size)
			return -1;
		if (c < '!' || c > '~' || c == '+' || c == '=')
			o += snprintf(out + o, size - o, "+%02X", c);
		else
			out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

static int
ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return 0;
	return 1;
}

/* What one transaction has heard so far. */
struct txn {
	const struct smtp_txn *t;
	int		 pipe;		/* PIPELINING: one flight */
	int		 mail_ok;
	int		 perm;		/* a refusal was permanent */
	struct reply	 mail;		/* the refusal of MAIL */
};

/*
 * The reply to MAIL (which == 0) or to RCPT which - 1: one reader for
 * the envelope, lock-step or pipelined.  Refusals are kept in res.
 */
static int
envelope_reply(struct smtp *s, struct txn *x, size_t which,
    struct smtp_result *res)
{
	struct smtp_refusal *f;
	struct reply r;
	struct err e;

	if (read_reply(s, &r, timeout(s, TO_COMMAND), NULL, &e) == -1)
		return lost(s, res, which == 0 ? SMTP_STEP_MAIL :
		    SMTP_STEP_RCPT, &e);
	if (which == 0) {
		if (!(x->mail_ok = r.code == 250))
			x->mail = r;
		return 0;
	}
	if (r.code == 250 || r.code == 251 || !x->mail_ok)
		return 0;
	if (res->refused == NULL && (res->refused = calloc(x->t->nrcpts,
	    sizeof(*res->refused))) == NULL) {
		err_set(&e, ERR_OSERR, "out of memory");
		return local(res, SMTP_STEP_RCPT, SMTP_PERM, &e);
	}
	f = &res->refused[res->nrefused++];
	f->rcpt = which - 1;
	f->code = r.code;
	sanitize(f->text, sizeof(f->text), r.text, strcspn(r.text, "\n"));
	x->perm |= r.code >= 500;
	keep_reply(s, res, &r);
	return 0;
}

/* The outcome of the envelope: 0 when MAIL and every RCPT were taken. */
static int
envelope_result(struct smtp *s, struct txn *x, struct smtp_result *res)
{
	char list[600] = "";
	size_t i, n = res->nrefused;

	if (!x->mail_ok)
		return refused(s, res, SMTP_STEP_MAIL, &x->mail,
		    ERR_UNAVAILABLE, NULL);
	if (n == 0)
		return 0;
	for (i = 0; i < n && strlen(list) < 300; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list),
		    "%s<%s> %d %s", i ? "; " : "",
		    x->t->rcpts[res->refused[i].rcpt], res->refused[i].code,
		    res->refused[i].text);
	res->step = SMTP_STEP_RCPT;
	res->status = SMTP_REFUSED;
	/* All or nothing: nothing is sent when any recipient is refused. */
	return err_set(&res->err, x->perm ? ERR_NOUSER : ERR_TEMPFAIL, "%s: "
	    "%zu recipient%s refused, nothing sent: %s", s->p.host, n,
	    n > 1 ? "s" : "", list);
}

/* After a refusal before any data: RSET keeps the session usable. */
static void
reset(struct smtp *s)
{
	struct smtp_result ignored;
	struct reply r;

	result_init(&ignored);
	if (s->broken || command(s, &r, SMTP_STEP_RSET, timeout(s,
	    TO_COMMAND), -1, &ignored, "RSET") == -1 || r.code != 250)
		s->broken = 1;
	if (s->broken)
		smtp_close(s);
}

/* A transaction refused or broken after data went out: end the session. */
static int
end_session(struct smtp *s, int rc)
{
	smtp_close(s);
	return rc;
}

/* Queue QUIT behind the last group (RFC 2920 3.1 allows it). */
static int
queue_quit(struct smtp *s, struct err *e)
{
	if (queue(s, -1, e, "QUIT") == -1)
		return -1;
	s->quit_sent = 1;
	return 0;
}

static int	transaction(struct smtp *, const struct smtp_txn *, int,
		    struct smtp_result *);

int
smtp_send(struct smtp *s, const struct smtp_txn *t, int last,
    struct smtp_result *res)
{
	int reused = s->open && s->txns > 0;

	if (transaction(s, t, last, res) == 0)
		return 0;
	/*
	 * A session kept open from an earlier transaction may have been
	 * closed by the hub meanwhile (an idle timeout, a restart): when
	 * the connection failed before any of the data went out, nothing
	 * can have been taken, so one more try on a new connection is safe.
	 */
	if (s->bdat_refused) {
		s->bdat_refused = 0;
		log_info("%s: the hub offers CHUNKING but refused BDAT; sending "
		    "with DATA on a new connection, and no BDAT to it again",
		    s->p.host);
		smtp_result_free(res);
		return transaction(s, t, last, res);
	}
	if (!reused || res->status != SMTP_LOST ||
	    res->step >= SMTP_STEP_BODY)
		return -1;
	log_info("%s; trying again on a new connection", res->err.msg);
	smtp_result_free(res);
	smtp_close(s);
	return transaction(s, t, last, res);
}

/* One transaction, on the open session or a new one. */
static int
transaction(struct smtp *s, const struct smtp_txn *t, int last,
    struct smtp_result *res)
{
	struct txn x = { t, 0, 1, 0, { 0 } };
	struct reply r;
	struct err e;
	char params[1024] = "", rparams[1024] = "", xt[800];
	unsigned long long size = msg_wire_size(t->msg);
	size_t i;
	int utf8, bdat, dsn, to = timeout(s, TO_COMMAND);

	if (!s->open && smtp_open(s, res) == -1)
		return -1;
	result_init(res);
	s->txns++;
	/* RFC 1870 6: check the hub's limit before sending anything. */
	if ((s->ehlo.flags & CAP_SIZE) && s->ehlo.size_max > 0 &&
	    size > s->ehlo.size_max) {
		err_set(&e, ERR_UNAVAILABLE, "%s: message of %llu bytes is "
		    "larger than the hub's limit of %lu bytes (SIZE)",
		    s->p.host, size, s->ehlo.size_max);
		strlcpy(res->enh, "5.3.4", sizeof(res->enh));
		return local(res, SMTP_STEP_MAIL, SMTP_PERM, &e);
	}
	if (s->ehlo.flags & CAP_SIZE)
		snprintf(params, sizeof(params), " SIZE=%llu", size);
	if (t->msg->eightbit && (s->ehlo.flags & CAP_8BITMIME))
		strlcat(params, " BODY=8BITMIME", sizeof(params));
	/* RFC 6152: a caller that declared 8BITMIME needs a hub that takes it. */
	if (t->need_8bitmime && t->msg->eightbit &&
	    !(s->ehlo.flags & CAP_8BITMIME)) {
		err_set(&e, ERR_UNAVAILABLE, "%s: the message is 8-bit "
		    "(BODY=8BITMIME) and the hub does not offer 8BITMIME",
		    s->p.host);
		strlcpy(res->enh, "5.6.7", sizeof(res->enh));
		return local(res, SMTP_STEP_MAIL, SMTP_PERM, &e);
	}
	/* RFC 6531 3.4: an address that is not ASCII needs SMTPUTF8. */
	for (i = 0, utf8 = !ascii(t->from); i < t->nrcpts && !utf8; i++)
		utf8 = !ascii(t->rcpts[i]);
	if (utf8 && !(s->ehlo.flags & CAP_SMTPUTF8)) {
		err_set(&e, ERR_UNAVAILABLE, "%s: an address is not ASCII and "
		    "the hub does not offer SMTPUTF8", s->p.host);
		strlcpy(res->enh, "5.6.7", sizeof(res->enh));
		return local(res, SMTP_STEP_MAIL, SMTP_PERM, &e);
	}
	if (utf8)
		strlcat(params, " SMTPUTF8", sizeof(params));
	/* DSN (RFC 3461 4.3, 4.4): RET and ENVID on MAIL. */
	dsn = (s->ehlo.flags & CAP_DSN) != 0;
	if (!dsn && (t->notify || t->ret || t->envid))
		log_info("%s: the hub does not offer DSN; the delivery status "
		    "notification request is dropped", s->p.host);
	if (dsn && t->ret != NULL)
		snprintf(params + strlen(params), sizeof(params) -
		    strlen(params), " RET=%s", t->ret);
	if (dsn && t->envid != NULL && xtext(t->envid, xt, sizeof(xt)) == 0)
		snprintf(params + strlen(params), sizeof(params) -
		    strlen(params), " ENVID=%s", xt);
	x.pipe = (s->ehlo.flags & CAP_PIPELINING) != 0;
	/*
	 * CHUNKING (RFC 3030) with PIPELINING: MAIL, RCPT, "BDAT n LAST" with
	 * the whole message (and QUIT) in one flight.  Only for one
	 * recipient: data sent before a RCPT is refused would reach the
	 * others, so with several the DATA path keeps all or nothing.
	 */
	bdat = x.pipe && t->nrcpts == 1 && (s->ehlo.flags & CAP_CHUNKING) &&
	    !s->p.no_chunking && !s->no_chunking;

	/*
	 * The envelope in one shape: each command is queued; lock-step
	 * flushes and reads its reply at once, PIPELINING flushes the group
	 * once (RFC 2920 3.1: DATA or BDAT ends it) and reads them after.
	 */
	if (queue(s, -1, &e, "MAIL FROM:<%s>%s", t->from, params) == -1)
		return e.kind == ERR_TEMPFAIL ? lost(s, res, SMTP_STEP_MAIL,
		    &e) : local(res, SMTP_STEP_MAIL, SMTP_PERM, &e);
	if (!x.pipe && (flush(s, to, &e) == -1 ? lost(s, res, SMTP_STEP_MAIL,
	    &e) : envelope_reply(s, &x, 0, res)) == -1)
		return -1;
	for (i = 0; i < t->nrcpts && x.mail_ok; i++) {
		/* RFC 3461 4.1, 4.2: NOTIFY, and ORCPT, the address as given. */
		*rparams = '\0';
		if (dsn && t->notify != NULL && xtext(t->rcpts[i], xt,
		    sizeof(xt)) == 0)
			snprintf(rparams, sizeof(rparams), " NOTIFY=%s "
			    "ORCPT=rfc822;%s", t->notify, xt);
		if (queue(s, -1, &e, "RCPT TO:<%s>%s", t->rcpts[i],
		    rparams) == -1)
			return e.kind == ERR_TEMPFAIL ? lost(s, res,
			    SMTP_STEP_RCPT, &e) : local(res, SMTP_STEP_RCPT,
			    SMTP_PERM, &e);
		if (!x.pipe && (flush(s, to, &e) == -1 ? lost(s, res,
		    SMTP_STEP_RCPT, &e) : envelope_reply(s, &x, i + 1, res)) ==
		    -1)
			return -1;
	}
	if (!x.pipe && envelope_result(s, &x, res) == -1) {
		reset(s);
		return -1;
	}
	if (bdat) {
		if (queue(s, -1, &e, "BDAT %llu LAST", size) == -1)
			return lost(s, res, SMTP_STEP_MAIL, &e);
		log_info("sending %llu bytes", size);
		if (send_message(s, t->msg, 0, &e) == -1 ||
		    (last && queue_quit(s, &e) == -1) ||
		    flush(s, timeout(s, TO_DATA_BLOCK), &e) == -1)
			return lost(s, res, SMTP_STEP_BODY, &e);
		for (i = 0; i <= t->nrcpts; i++)
			if (envelope_reply(s, &x, i, res) == -1)
				return -1;
		/* The chunk went out: whatever the replies, no going on. */
		if (read_reply(s, &r, timeout(s, TO_DATA_END), NULL, &e) == -1)
			return end_session(s, lost(s, res, SMTP_STEP_BDAT, &e));
		if ((r.code == 500 || r.code == 502) && x.mail_ok &&
		    res->nrefused == 0) {
			/*
			 * It offered CHUNKING, then did not know BDAT: it may
			 * be reading the chunk as commands, and nobody knows
			 * how many replies are still coming.  Leave at once
			 * (no RSET, no QUIT); the caller sends with DATA.
			 */
			refused(s, res, SMTP_STEP_BDAT, &r, ERR_UNAVAILABLE,
			    NULL);
			s->no_chunking = s->bdat_refused = s->broken = 1;
			return end_session(s, -1);
		}
		if (envelope_result(s, &x, res) == -1)
			return end_session(s, -1);
		if (r.code != 250)
			return end_session(s, refused(s, res, SMTP_STEP_BDAT,
			    &r, ERR_UNAVAILABLE, NULL));
		keep_reply(s, res, &r);
		res->step = SMTP_STEP_BDAT;
		return 0;
	}
	if (x.pipe) {
		if (queue(s, -1, &e, "DATA") == -1 || flush(s, to, &e) == -1)
			return lost(s, res, SMTP_STEP_MAIL, &e);
		for (i = 0; i <= t->nrcpts; i++)
			if (envelope_reply(s, &x, i, res) == -1)
				return -1;
		if (read_reply(s, &r, timeout(s, TO_DATA_INIT), NULL, &e) == -1)
			return lost(s, res, SMTP_STEP_DATA, &e);
		if (envelope_result(s, &x, res) == -1) {
			if (r.code == 354)
				/*
				 * The hub waits for data we will not send:
				 * hanging up discards the transaction.
				 */
				return end_session(s, (s->broken = 1, -1));
			reset(s);
			return -1;
		}
	} else if (command(s, &r, SMTP_STEP_DATA, timeout(s, TO_DATA_INIT), -1,
	    res, "DATA") == -1)
		return -1;
	if (r.code != 354) {
		refused(s, res, SMTP_STEP_DATA, &r, ERR_UNAVAILABLE, NULL);
		reset(s);
		return -1;
	}
	log_info("sending %llu bytes", size);
	if (send_message(s, t->msg, 1, &e) == -1 || (x.pipe && last &&
	    queue_quit(s, &e) == -1) || flush(s, timeout(s, TO_DATA_BLOCK),
	    &e) == -1)
		return end_session(s, lost(s, res, SMTP_STEP_BODY, &e));
	if (read_reply(s, &r, timeout(s, TO_DATA_END), NULL, &e) == -1)
		return end_session(s, lost(s, res, SMTP_STEP_END, &e));
	if (r.code != 250)
		return end_session(s, refused(s, res, SMTP_STEP_END, &r,
		    ERR_UNAVAILABLE, NULL));
	keep_reply(s, res, &r);
	res->step = SMTP_STEP_END;
	return 0;
}

void
smtp_close(struct smtp *s)
{
	struct reply r;
	struct err e;
	int to = timeout(s, TO_QUIT);

	/* QUIT only in step: a broken session is in no state to answer. */
	if (s->net.fd != -1 && !s->broken) {
		if (s->quit_sent)	/* pipelined: only its reply is due */
			read_reply(s, &r, to, NULL, &e);
		else if (queue(s, -1, &e, "QUIT") == 0 &&
		    flush(s, to, &e) == 0)
			read_reply(s, &r, to, NULL, &e);
	}
	net_close(&s->net);
	s->open = 0;
	s->quit_sent = 0;
}

void
smtp_free(struct smtp *s)
{
	if (s == NULL)
		return;
	smtp_close(s);
	secret_free(s->secret);
	free(s);
}

void
smtp_cleanup(void)
{
	net_cleanup();
}
