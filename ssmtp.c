/*
 * ssmtp: a sendmail-compatible, send-only mail client.  This file owns
 * the order of the steps and is the only place that turns results into
 * exit codes (sysexits.h).
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "bs.h"
#include "check.h"
#include "buf.h"
#include "config.h"
#include "deadletter.h"
#include "hubs.h"
#include "log.h"
#include "message.h"
#include "queue.h"
#include "runq.h"
#include "secret.h"
#include "smtp.h"
#include "tlscache.h"

#ifndef VERSION
#define VERSION		"3.0"
#endif
#ifndef SSMTP_MAILNAME
#define SSMTP_MAILNAME	"/etc/mailname"
#endif

#define RCPTS_MAX	100000

enum mode {
	MODE_SEND,		/* -bm, the default */
	MODE_QUEUE,		/* -bp, mailq: list the queue */
	MODE_ALIASES,		/* -bi, newaliases: check the Aliases file */
	MODE_RUNQ,		/* -q, -qI<id>: run the queue */
	MODE_VERSION,		/* -V, --version */
	MODE_HELP,		/* --help */
	MODE_BS,		/* -bs: SMTP on stdin and stdout */
	MODE_CHECK		/* --check: try the config and the hubs */
};

struct opts {
	enum mode	 mode;
	const char	*conf;		/* -C */
	const char	*sender;	/* -f, -r */
	const char	*fullname;	/* -F */
	const char	*auth_user;	/* -au */
	char		*auth_pass;	/* -ap, copied and wiped from argv */
	const char	*auth_method;	/* -am */
	int		 ignore_dots;	/* -i, -oi */
	int		 from_headers;	/* -t */
	int		 family;	/* -4, -6 */
	char		 notify[32];	/* -N, as NOTIFY= wants it */
	const char	*ret;		/* -R: FULL or HDRS */
	const char	*envid;		/* -V<envid> */
	const char	*runq_id;	/* -qI<id> */
	char	       **args;		/* recipients */
	int		 nargs;
};

struct rcpts {
	char	**v;
	size_t	 n, cap;
	size_t	*slots;			/* a hash set: index + 1, or 0 */
	size_t	 nslots;
	const struct config *conf;
	const char *domain;		/* to qualify bare names */
	const char *hostname;		/* local: @it, @localhost, bare */
	unsigned char *expanded;	/* aliases already expanded */
	enum err_kind kind;		/* for errors: usage or data */
	struct err *e;
};

static int
exit_code(enum err_kind k)
{
	switch (k) {
	case ERR_NONE:		return EX_OK;
	case ERR_USAGE:		return EX_USAGE;
	case ERR_DATA:		return EX_DATAERR;
	case ERR_NOUSER:	return EX_NOUSER;
	case ERR_NOHOST:	return EX_NOHOST;
	case ERR_UNAVAILABLE:	return EX_UNAVAILABLE;
	case ERR_SOFTWARE:	return EX_SOFTWARE;
	case ERR_OSERR:		return EX_OSERR;
	case ERR_IOERR:		return EX_IOERR;
	case ERR_TEMPFAIL:	return EX_TEMPFAIL;
	case ERR_PROTOCOL:	return EX_PROTOCOL;
	case ERR_NOPERM:	return EX_NOPERM;
	case ERR_CONFIG:	return EX_CONFIG;
	}
	return EX_SOFTWARE;
}

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: ssmtp [-46itVv] [-C config] [-F name] "
	    "[-f sender] [-o option] [-au user] [-am method] [--] "
	    "[recipient ...]\n"
	    "       ssmtp -bs [-C config]\n"
	    "       ssmtp -q[interval] | -qI<id> | -bp (mailq) [-v] "
	    "[-C config]\n"
	    "       ssmtp --check [-v] [-C config]\n"
	    "       ssmtp --help | --version\n");
}

static void
help(void)
{
	usage(stdout);
	printf("\nSend the message on standard input through the mailhub "
	    "set in\n" SSMTP_CONF_DIR "/ssmtp.conf (see ssmtp(8) and "
	    "ssmtp.conf(5)).\n\n"
	    "  -t           take the recipients from To, Cc and Bcc\n"
	    "  -bs          speak SMTP on standard input and output\n"
	    "  -q, -qI<id>  send what is due in the queue (Queue=YES), or that "
	    "message\n"
	    "  -bp, mailq   list the queue\n"
	    "  -N, -R, -Vid delivery status notifications (NOTIFY, RET, "
	    "ENVID)\n"
	    "  -i, -oi      a line holding a single \".\" does not end the "
	    "message\n"
	    "  -f, -r ADDR  the envelope sender\n"
	    "  -F NAME      the sender's full name, for a From header ssmtp "
	    "writes\n"
	    "  -C FILE      another configuration file\n"
	    "  -au, -ap, -am  AuthUser, AuthPass, AuthMethod for this run\n"
	    "  -4, -6       connect over IPv4 or IPv6 only\n"
	    "  -v           show the SMTP dialogue (secrets hidden)\n"
	    "  --check      read the config and try each hub: TLS, the "
	    "certificate,\n"
	    "               AUTH; no message is sent\n"
	    "  -V, --version  print the version\n"
	    "  --help       print this help\n");
}

/* Options that take a value, attached or as the next argument. */
static char *
optval(char **argv, int *i, char *rest, const char *flag, struct err *e)
{
	if (*rest != '\0')
		return rest;
	if (argv[*i + 1] == NULL) {
		err_set(e, ERR_USAGE, "option -%s needs a value", flag);
		return NULL;
	}
	return argv[++*i];
}

/*
 * -b modes (sSMTP 2.64's table): m sends, p and i are simulated or ignored,
 * the rest are unsupported.
 */
static int
parse_b(struct opts *o, const char *m, struct err *e)
{
	if (strcmp(m, "m") == 0)
		o->mode = MODE_SEND;
	else if (strcmp(m, "p") == 0)
		o->mode = MODE_QUEUE;
	else if (strcmp(m, "i") == 0)
		o->mode = MODE_ALIASES;
	else if (strcmp(m, "s") == 0)
		o->mode = MODE_BS;
	else
		return err_set(e, ERR_USAGE, "option -b%s is not supported "
		    "(ssmtp only sends mail)", m);
	return 0;
}

/* -au, -ap, -am: AUTH settings that override the config file. */
static int
parse_a(struct opts *o, char **argv, int *i, char *p, struct err *e)
{
	char flag[3] = { 'a', *p, '\0' }, *v;

	if (*p != 'u' && *p != 'p' && *p != 'm')
		return err_set(e, ERR_USAGE, "unknown option -a%s", p);
	if ((v = optval(argv, i, p + 1, flag, e)) == NULL)
		return -1;
	if (*p == 'u')
		o->auth_user = v;
	else if (*p == 'm')
		o->auth_method = v;
	else {
		/* Keep the password out of ps(1) from now on. */
		free(o->auth_pass);
		if ((o->auth_pass = strdup(v)) == NULL)
			return err_set(e, ERR_OSERR, "out of memory");
		explicit_bzero(v, strlen(v));
	}
	return 0;
}

/*
 * -N never | a list of success, failure and delay (RFC 3461 4.1), into
 * NOTIFY='s form.
 */
static int
parse_notify(struct opts *o, const char *v, struct err *e)
{
	static const char *words[] = { "success", "failure", "delay" };
	char copy[64], *p = copy, *w;
	size_t i;
	int seen = 0;

	*o->notify = '\0';
	if (strcasecmp(v, "never") == 0) {
		strlcpy(o->notify, "NEVER", sizeof(o->notify));
		return 0;
	}
	if (strlcpy(copy, v, sizeof(copy)) >= sizeof(copy))
		return err_set(e, ERR_USAGE, "-N: \"%.40s...\" is too long", v);
	while ((w = strsep(&p, ",")) != NULL) {
		for (i = 0; i < 3 && strcasecmp(w, words[i]) != 0; i++)
			;
		if (i == 3 || (seen & (1 << i)))
			return err_set(e, ERR_USAGE, "-N %s: expected never, or "
			    "success, failure and delay separated by commas",
			    v);
		seen |= 1 << i;
		if (*o->notify != '\0')
			strlcat(o->notify, ",", sizeof(o->notify));
		strlcat(o->notify, i == 0 ? "SUCCESS" : i == 1 ? "FAILURE" :
		    "DELAY", sizeof(o->notify));
	}
	return 0;
}

/* -V<envid>: printable ASCII, at most 100 characters (RFC 3461 4.4). */
static int
parse_envid(struct opts *o, const char *v, struct err *e)
{
	const char *p;

	if (strlen(v) > 100)
		return err_set(e, ERR_USAGE, "-V: the envelope id is longer "
		    "than 100 characters");
	for (p = v; *p != '\0'; p++)
		if (*p < ' ' || *p > '~')
			return err_set(e, ERR_USAGE, "-V: the envelope id must "
			    "be printable ASCII");
	o->envid = v;
	return 0;
}

/*
 * -q, -q<interval> (sendmail's daemon interval: the queue is run once),
 * -qf (in the foreground: always) and -qI<id> (that message now).
 */
static int
parse_q(struct opts *o, const char *v, struct err *e)
{
	o->mode = MODE_RUNQ;
	if (*v == 'I' && v[1] != '\0') {
		o->runq_id = v + 1;
		return 0;
	}
	if (strcmp(v, "f") == 0 || (*v == '\0') ||
	    strspn(v, "0123456789smhdw") == strlen(v))
		return 0;
	return err_set(e, ERR_USAGE, "option -q%s is not supported (-q, "
	    "-q<interval>, -qf and -qI<id> are)", v);
}

/*
 * Parse sendmail's command line (sSMTP 2.64's options, plus what callers
 * pass to sendmail).  Returns 0, or -1 with ERR_USAGE.
 */
static int
parse_args(int argc, char **argv, struct opts *o, struct err *e)
{
	char *p, *v;
	int i;

	for (i = 1; i < argc; i++) {
		p = argv[i];
		if (p[0] != '-' || p[1] == '\0')
			break;
		if (strcmp(p, "--") == 0) {
			i++;
			break;
		}
		if (p[1] == '-') {
			if (strcmp(p, "--help") == 0)
				o->mode = MODE_HELP;
			else if (strcmp(p, "--version") == 0)
				o->mode = MODE_VERSION;
			else if (strcmp(p, "--check") == 0)
				o->mode = MODE_CHECK;
			else {
				usage(stderr);
				return err_set(e, ERR_USAGE, "unknown option "
				    "%.100s", p);
			}
			continue;
		}
		for (p++; *p != '\0'; p++) {
			char c = *p, flag[2] = { *p, '\0' };

			switch (c) {
			case 'i':
				o->ignore_dots = 1;
				continue;
			case 't':
				o->from_headers = 1;
				continue;
			case 'v':
				log_verbose = 1;
				continue;
			case 'E': case 'm': case 'n': case 'U':
				continue;	/* ignored */
			case '4':
				o->family = AF_INET;
				continue;
			case '6':
				o->family = AF_INET6;
				continue;
			case 'V':
				/* -V<envid> (DSN); a bare -V: the version. */
				if (p[1] == '\0') {
					o->mode = MODE_VERSION;
					continue;
				}
				if (parse_envid(o, p + 1, e) == -1)
					return -1;
				break;
			case 'a':
				if (parse_a(o, argv, &i, p + 1, e) == -1)
					return -1;
				break;
			case 'b':
				if (parse_b(o, p + 1, e) == -1)
					return -1;
				break;
			case 'q':
				if (parse_q(o, p + 1, e) == -1)
					return -1;
				break;
			case 'd':
				break;		/* -dX: sendmail debug, ignored */
			case 'C': case 'f': case 'r': case 'F': case 'o':
			case 'B': case 'N': case 'R': case 'h': case 'L':
			case 'X': case 'O': case 'p': case 'M':
				if ((v = optval(argv, &i, p + 1, flag, e)) == NULL)
					return -1;
				if (c == 'C')
					o->conf = v;
				else if (c == 'f' || c == 'r')
					o->sender = v;
				else if (c == 'F')
					o->fullname = v;
				else if (c == 'N' && parse_notify(o, v, e) == -1)
					return -1;
				else if (c == 'R') {
					if (strcasecmp(v, "hdrs") == 0)
						o->ret = "HDRS";
					else if (strcasecmp(v, "full") == 0)
						o->ret = "FULL";
					else
						return err_set(e, ERR_USAGE,
						    "-R %s: expected hdrs or "
						    "full", v);
				}
				else if (c == 'o' && strcmp(v, "i") == 0)
					o->ignore_dots = 1;
				else if (c == 'o' && v[0] == 'o')
					return err_set(e, ERR_USAGE, "option "
					    "-oo (old-style headers) is not "
					    "supported");
				break;	/* other -o options: ignored */
			default:
				usage(stderr);
				return err_set(e, ERR_USAGE, "unknown option "
				    "-%c", c);
			}
			break;	/* the value took the rest of the word */
		}
	}
	o->args = argv + i;
	o->nargs = argc - i;
	if (o->mode == MODE_BS && o->nargs > 0)
		return err_set(e, ERR_USAGE, "recipients given with -bs: they "
		    "come with RCPT TO");
	if (o->mode != MODE_SEND && o->mode != MODE_BS && o->nargs > 0)
		return err_set(e, ERR_USAGE, "recipients given, but this mode "
		    "sends nothing");
	return 0;
}

/*
 * /etc/mailname's name into buf (Debian Policy 11.6: the name the machine
 * uses for mail), when it holds one with a dot.  Returns 1 when it did.
 */
static int
mail_name(char *buf, size_t size)
{
	char line[256];
	size_t n;
	FILE *fp;

	if ((fp = fopen(SSMTP_MAILNAME, "re")) == NULL)
		return 0;
	if (fgets(line, sizeof(line), fp) == NULL)
		*line = '\0';
	fclose(fp);
	line[strcspn(line, " \t\r\n")] = '\0';
	n = strspn(line, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789.-");
	if (n == 0 || line[n] != '\0' || strchr(line, '.') == NULL ||
	    *line == '.' || *line == '-' || n >= size)
		return 0;
	memcpy(buf, line, n + 1);
	return 1;
}

/*
 * The machine's fully qualified name, for EHLO and bare addresses when
 * Hostname is unset: /etc/mailname's, else the host name when it has a
 * dot, else the first name with a dot on the host name's line in
 * /etc/hosts.  The resolver is not asked: with an unreachable DNS server
 * that could hold up every message for the resolver's whole timeout.
 */
static const char *
local_hostname(void)
{
	static char name[256];
	char *line = NULL, *tok[16], *save;
	size_t cap = 0, n, k;
	int mine;
	FILE *fp;

	if (*name != '\0' || mail_name(name, sizeof(name)))
		return name;
	if (gethostname(name, sizeof(name) - 1) == -1 || *name == '\0')
		strlcpy(name, "localhost", sizeof(name));
	if (strchr(name, '.') != NULL || (fp = fopen("/etc/hosts", "re")) ==
	    NULL)
		return name;
	while (getline(&line, &cap, fp) != -1) {
		line[strcspn(line, "#\n")] = '\0';
		/* The address, then its names. */
		n = 0;
		for (tok[0] = strtok_r(line, " \t", &save); tok[n] != NULL &&
		    n + 1 < 16; tok[++n] = strtok_r(NULL, " \t", &save))
			;
		for (k = 1, mine = 0; k < n; k++)
			mine |= strcmp(tok[k], name) == 0;
		for (k = 1; mine && k < n; k++)
			if (strchr(tok[k], '.') != NULL) {
				strlcpy(name, tok[k], sizeof(name));
				goto done;
			}
	}
done:
	free(line);
	fclose(fp);
	return name;
}

/*
 * Record a recipient error.  Returns 1: a callback's "stop", distinct from
 * the parser's own -1.
 */
static int
rcpt_fail(struct rcpts *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
rcpt_fail(struct rcpts *r, const char *fmt, ...)
{
	va_list ap;

	r->e->kind = r->kind;
	va_start(ap, fmt);
	vsnprintf(r->e->msg, sizeof(r->e->msg), fmt, ap);
	va_end(ap);
	return 1;
}

/*
 * The hash of an address as a mailbox: the local part byte for byte, the
 * domain without case (RFC 5321 2.4: "Bob" and "bob" may be two
 * mailboxes; domains are not case-sensitive).  FNV-1a.
 */
static size_t
rcpt_hash(const char *a)
{
	const char *at = strrchr(a, '@'), *p;
	uint64_t h = 14695981039346656037ULL;

	for (p = a; *p != '\0'; p++) {
		h ^= (unsigned char)(at != NULL && p > at ?
		    tolower((unsigned char)*p) : *p);
		h *= 1099511628211ULL;
	}
	return (size_t)h;
}

static int
rcpt_same(const char *a, const char *b)
{
	const char *x = strrchr(a, '@'), *y = strrchr(b, '@');
	size_t la = x ? (size_t)(x - a) : strlen(a);
	size_t lb = y ? (size_t)(y - b) : strlen(b);

	return la == lb && memcmp(a, b, la) == 0 && (x == NULL) == (y == NULL) &&
	    (x == NULL || strcasecmp(x, y) == 0);
}

/* The slot of address a: where it is, or the empty one it would take. */
static size_t
rcpt_slot(const struct rcpts *r, const char *a)
{
	size_t i = rcpt_hash(a) & (r->nslots - 1);

	while (r->slots[i] != 0 && !rcpt_same(r->v[r->slots[i] - 1], a))
		i = (i + 1) & (r->nslots - 1);
	return i;
}

/* Keep the set at most half full: grow it (a power of two) and rehash. */
static int
rcpt_grow(struct rcpts *r)
{
	size_t *old = r->slots, oldn = r->nslots, i;

	if (r->nslots != 0 && (r->n + 1) * 2 <= r->nslots)
		return 0;
	r->nslots = r->nslots ? r->nslots * 2 : 64;
	if ((r->slots = calloc(r->nslots, sizeof(*r->slots))) == NULL) {
		r->slots = old;
		r->nslots = oldn;
		return -1;
	}
	for (i = 0; i < oldn; i++)
		if (old[i] != 0)
			r->slots[rcpt_slot(r, r->v[old[i] - 1])] = old[i];
	free(old);
	return 0;
}

/*
 * Add one recipient: qualified, mapped by Root, checked, sent once (in
 * the order first seen; a hash set keeps 100,000 of them linear).
 */
static int
rcpt_one(struct rcpts *r, const char *a)
{
	struct passwd *pw;
	char buf[ADDR_MAX + 1];
	struct err ae;
	const char *use = a;
	size_t slot;
	char **nv;

	if (strchr(a, '@') == NULL) {
		/* sSMTP's Root: mail for system accounts goes there. */
		if (r->conf->root != NULL && (pw = getpwnam(a)) != NULL &&
		    pw->pw_uid < 1000)
			use = r->conf->root;
		if (strchr(use, '@') == NULL) {
			if ((size_t)snprintf(buf, sizeof(buf), "%s@%s", use,
			    r->domain) >= sizeof(buf))
				return rcpt_fail(r, "recipient %s: address too "
				    "long", a);
			use = buf;
		}
	}
	if (addr_check(use, 0, &ae) == -1)
		return rcpt_fail(r, "recipient %s: %s", a, ae.msg);
	if (rcpt_grow(r) == -1)
		return err_set(r->e, ERR_OSERR, "out of memory"), 1;
	if (r->slots[slot = rcpt_slot(r, use)] != 0)
		return 0;		/* already a recipient */
	if (r->n == RCPTS_MAX)
		return rcpt_fail(r, "more than %d recipients", RCPTS_MAX);
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 16;
		if ((nv = reallocarray(r->v, r->cap, sizeof(*nv))) == NULL)
			return err_set(r->e, ERR_OSERR, "out of memory"), 1;
		r->v = nv;
	}
	if ((r->v[r->n] = strdup(use)) == NULL)
		return err_set(r->e, ERR_OSERR, "out of memory"), 1;
	r->slots[slot] = ++r->n;
	return 0;
}

#define ALIAS_DEPTH_MAX	8

/*
 * The local part of a local recipient (a bare name, or one at localhost
 * or at Hostname), or NULL when it is not local.
 */
static const char *
local_name(const struct rcpts *r, const char *a, char *buf, size_t size)
{
	const char *at = strrchr(a, '@');

	if (!addr_is_local(a, r->hostname))
		return NULL;
	if (at == NULL)
		return a;
	if ((size_t)(at - a) >= size)
		return NULL;
	memcpy(buf, a, at - a);
	buf[at - a] = '\0';
	return buf;
}

/*
 * A recipient through the Aliases file: a local name found there (or
 * caught by its "default" entry) stands for its addresses, each mapped
 * again, to ALIAS_DEPTH_MAX; a loop is a configuration error.  "\name"
 * is taken as it is.  The headers are not touched.
 */
static int
rcpt_expand(struct rcpts *r, const char *a, const char **chain, int depth)
{
	const struct alias *al;
	const char *name;
	char buf[ADDR_MAX + 1];
	size_t k;
	int i, rc;

	if (r->conf->naliases == 0 ||
	    (name = local_name(r, a, buf, sizeof(buf))) == NULL)
		return rcpt_one(r, a);
	if (*name == '\\')
		return rcpt_one(r, name + 1);
	if ((al = conf_alias(r->conf, name)) == NULL &&
	    (al = conf_alias(r->conf, "default")) == NULL)
		return rcpt_one(r, a);
	for (i = 0; i < depth; i++)
		if (strcasecmp(chain[i], al->name) == 0)
			return err_set(r->e, ERR_CONFIG, "%s:%zu: alias %s "
			    "leads back to itself (a loop)",
			    r->conf->aliases_path, al->line, al->name), 1;
	/*
	 * Its addresses are in already: once per message, so that aliases
	 * naming each other many times cannot multiply the work.
	 */
	if (r->expanded == NULL && (r->expanded = calloc(r->conf->naliases,
	    1)) == NULL)
		return err_set(r->e, ERR_OSERR, "out of memory"), 1;
	if (r->expanded[al - r->conf->aliases])
		return 0;
	if (depth == ALIAS_DEPTH_MAX)
		return err_set(r->e, ERR_CONFIG, "%s:%zu: alias %s: more than "
		    "%d aliases in a chain", r->conf->aliases_path, al->line,
		    al->name, ALIAS_DEPTH_MAX), 1;
	chain[depth] = al->name;
	for (k = 0; k < al->nto; k++)
		if ((rc = rcpt_expand(r, al->to[k], chain, depth + 1)) != 0)
			return rc;
	r->expanded[al - r->conf->aliases] = 1;
	return 0;
}

/* The callback of the address parser: one recipient, aliases applied. */
static int
rcpt_add(void *arg, const char *a)
{
	const char *chain[ALIAS_DEPTH_MAX];

	return rcpt_expand(arg, a, chain, 0);
}

static void
rcpts_free(struct rcpts *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		free(r->v[i]);
	free(r->v);
	free(r->slots);
	free(r->expanded);
}

/* Qualify a bare sender name with the domain into buf. */
static int
qualify(const char *a, const char *domain, char *buf, size_t size,
    enum err_kind kind, struct err *e)
{
	struct err ae;

	if (*a == '\0' || strcmp(a, "<>") == 0) {
		*buf = '\0';	/* the null sender */
		return 0;
	}
	if (strchr(a, '@') == NULL) {
		if ((size_t)snprintf(buf, size, "%s@%s", a, domain) >= size)
			return err_set(e, kind, "sender %s: address too long",
			    a);
	} else
		strlcpy(buf, a, size);
	if (addr_check(buf, 0, &ae) == -1)
		return err_set(e, kind, "sender %s: %s", a, ae.msg);
	return 0;
}

/* Where the engine gets the secret: fetched before the first connect. */
struct secret_src {
	const struct config	*conf;
	int			 timeout;
	char			*first;		/* handed to the first session */
};

struct run {
	struct opts	 o;
	struct config	 conf;
	struct message	 msg;
	struct rcpts	 rcpts;
	char		 sender[ADDR_MAX + 1];
	char		 own[ADDR_MAX + 1];	/* the user's own address */
	char		 user[256];
	char		 gecos[256];
	char		*alias_from;	/* revaliases address */
	struct hub	 alias_hub;	/* revaliases hub */
	const char	*hub_used;
	char		 reply[600];
	int		 code;		/* the hub's last reply, 0 if none */
	char		 enh[16];	/* its enhanced code, or a local one */
	/* The hub session, kept across messages with -bs. */
	struct smtp	*session;
	int		 keep;		/* -bs: more messages may follow */
	int		 prepared;	/* the fields below are set */
	struct tls_settings tls;
	struct smtp_params p;
	struct secret_src ss;
	int		 config_failed;	/* -bs: relay nothing, keep all */
	int		 body8;		/* -bs: the caller said 8BITMIME */
	struct err	 config_err;
	int		 unknown;	/* the last outcome: may have gone */
	char		 queued[QUEUE_ID_LEN + 1];	/* "": not queued */
	/* The queue, when Queue=YES or for -q and mailq. */
	struct queue	 q;
	struct runq	 rq;
	char		 dl_path[4096];
	int		 user_reads_config;	/* can read the config (load_config) */
	char		 cache_path[4096];
};

/* Whether we run setuid or setgid for someone else (to read ssmtp.conf). */
static int
privileged(void)
{
	return getuid() != 0 && (getegid() != getgid() || geteuid() != getuid());
}

/*
 * Give up setgid/setuid rights for good (after reading the config): the
 * real, effective and saved IDs all become the caller's, so that no later
 * bug can take the group back (setgid() alone keeps the saved set-group-ID
 * of an unprivileged caller).  Checked, since a half drop must not go on.
 */
static int
drop_privileges(struct err *e)
{
	uid_t uid = getuid(), ru, eu, su;
	gid_t gid = getgid(), rg, eg, sg;

	if (setresgid(gid, gid, gid) == -1 || setresuid(uid, uid, uid) == -1)
		return err_set(e, ERR_OSERR, "cannot drop privileges: %s",
		    strerror(errno));
	if (getresgid(&rg, &eg, &sg) == -1 || getresuid(&ru, &eu, &su) == -1 ||
	    rg != gid || eg != gid || sg != gid || ru != uid || eu != uid ||
	    su != uid)
		return err_set(e, ERR_OSERR, "cannot drop privileges: the "
		    "saved IDs remain");
	return 0;
}

/* Apply -au, -ap and -am, their values used as given. */
static int
apply_auth_options(struct run *r, struct err *e)
{
	const char *key[] = { "AuthUser", "AuthPass", "AuthMethod" };
	const char *val[] = { r->o.auth_user, r->o.auth_pass,
	    r->o.auth_method };
	struct err ce;
	size_t i;

	for (i = 0; i < 3; i++)
		if (val[i] != NULL && conf_set(&r->conf, key[i], val[i], &ce) !=
		    0)
			return err_set(e, ERR_USAGE, "-a%c: %s", "upm"[i],
			    ce.msg);
	return 0;
}

/* Step 1: who runs us (the passwd entry; the uid when there is none). */
static void
identify(struct run *r)
{
	struct passwd *pw;

	if ((pw = getpwuid(getuid())) != NULL) {
		strlcpy(r->user, pw->pw_name, sizeof(r->user));
		strlcpy(r->gecos, pw->pw_gecos ? pw->pw_gecos : "",
		    sizeof(r->gecos));
		/* gecos: "Full Name,Room,Phone,...": the name only. */
		r->gecos[strcspn(r->gecos, ",")] = '\0';
	} else
		snprintf(r->user, sizeof(r->user), "%u", (unsigned)getuid());
}

/*
 * Step 2: read ssmtp.conf, revaliases and the TLS files, then drop any
 * setgid/setuid rights: everything after this runs as the user.  With
 * such rights, -C and the -a options are ignored for everyone but root,
 * so that a user cannot make ssmtp read another file or use the
 * protected password elsewhere.
 */
static int
load_config(struct run *r, struct err *e)
{
	const char *conffile = SSMTP_CONF_DIR "/ssmtp.conf";
	struct err drop;
	int rc, priv = privileged();	/* decided before the rights go */

	if (priv) {
		if (r->o.conf != NULL)
			log_warnx("ignoring -C %s: ssmtp runs with extra "
			    "rights to read %s", r->o.conf, conffile);
		if (r->o.auth_user || r->o.auth_pass || r->o.auth_method)
			log_warnx("ignoring -au, -ap and -am: ssmtp runs with "
			    "extra rights");
	} else if (r->o.conf != NULL)
		conffile = r->o.conf;
	/*
	 * No TLS session cache for a user who cannot read the config that
	 * ssmtp reads with extra rights: a session planted in their own
	 * cache, with a rogue listener, would skip verification and get the
	 * protected password.  access() asks with the real IDs: the user's.
	 */
	r->user_reads_config = !priv || access(conffile, R_OK) == 0;
	rc = conf_load(&r->conf, conffile, e);
	/*
	 * revaliases: the Revaliases key, else /etc/ssmtp's whatever -C
	 * names, as sSMTP does (with extra rights only the system config
	 * is read, so only it can move the file).
	 */
	if (rc == 0)
		rc = conf_revalias(r->conf.revaliases != NULL ?
		    r->conf.revaliases : SSMTP_CONF_DIR "/revaliases", r->user,
		    &r->alias_from, &r->alias_hub, e) == -1 ? -1 : 0;
	/* Protected TLS files and aliases too: not readable after the drop. */
	if (rc == 0)
		rc = conf_read_tls_files(&r->conf, e);
	if (rc == 0)
		rc = conf_load_aliases(&r->conf, e);
	if (drop_privileges(&drop) == -1) {
		if (rc == 0)
			*e = drop;
		return -1;
	}
	if (rc == 0 && !priv)
		rc = apply_auth_options(r, e);
	if (rc == 0 && r->conf.debug)
		log_verbose = 1;
	/*
	 * mailq and -q need a hub only for mail that is due: the timer runs
	 * -q every 5 minutes on machines whose config is still the
	 * commented one, and an empty queue is no error there.
	 */
	if (rc == 0 && r->conf.nhubs == 0 && r->o.mode != MODE_QUEUE &&
	    r->o.mode != MODE_RUNQ)
		rc = err_set(e, ERR_CONFIG, "%s: no Mailhub set", conffile);
	return rc;
}

/* The domain for bare names: RewriteDomain, else Hostname, else ours. */
static const char *
domain_of(const struct run *r)
{
	return r->conf.rewrite_domain ? r->conf.rewrite_domain :
	    r->conf.hostname ? r->conf.hostname : local_hostname();
}

/*
 * Step 4: the envelope, sender and recipients (DESIGN.md, "Envelope and
 * input rules").  Sets *from_addr to the message's From address when it
 * was read for the sender, for the headers step.
 */
static int
envelope(struct run *r, char *fromaddr, size_t fsize, int *has,
    struct err *e)
{
	const char *domain = domain_of(r);
	struct err ae;
	int i, rc;

	*has = 0;
	/* The user's own address: revaliases, else user@domain. */
	if (qualify(r->alias_from ? r->alias_from : r->user, domain, r->own,
	    sizeof(r->own), ERR_CONFIG, e) == -1)
		return -1;
	if (r->o.sender != NULL) {
		if (qualify(r->o.sender, domain, r->sender, sizeof(r->sender),
		    ERR_USAGE, e) == -1)
			return -1;
	} else if (r->conf.from_line_override &&
	    (*has = msg_from_address(&r->msg, fromaddr, fsize, e)) != 0) {
		if (*has == -1 || qualify(fromaddr, domain, r->sender,
		    sizeof(r->sender), ERR_DATA, e) == -1)
			return -1;
	} else
		strlcpy(r->sender, r->own, sizeof(r->sender));

	r->rcpts.conf = &r->conf;
	r->rcpts.domain = domain;
	r->rcpts.hostname = r->conf.hostname ? r->conf.hostname :
	    local_hostname();
	r->rcpts.e = e;
	r->rcpts.kind = ERR_USAGE;
	for (i = 0; i < r->o.nargs; i++) {
		rc = addr_parse_list(r->o.args[i], strlen(r->o.args[i]),
		    rcpt_add, &r->rcpts, &ae);
		if (rc == -1)
			return err_set(e, ERR_USAGE, "recipient \"%s\": %s",
			    r->o.args[i], ae.msg);
		if (rc != 0)
			return -1;
	}
	if (r->o.from_headers) {
		r->rcpts.kind = ERR_DATA;
		if (msg_recipients(&r->msg, rcpt_add, &r->rcpts, e) != 0)
			return -1;
	}
	if (r->rcpts.n == 0)
		return err_set(e, r->o.from_headers ? ERR_DATA : ERR_USAGE,
		    "no recipients%s", r->o.from_headers ? " in the To, Cc "
		    "or Bcc headers" : " given (name them, or use -t)");
	return 0;
}

/*
 * Step 5: the header block to send.  A From we add or replace names the
 * -f address when given, else the user's own.  With FromLineOverride=YES
 * the message's From stays, unless its address is a bare local name
 * ("root (Cron Daemon)"): then it is rewritten qualified, keeping its
 * display name, so that strict hubs accept it.
 */
static int
headers(struct run *r, const char *fromaddr, int has, struct err *e)
{
	char hdr[1024], display[256];
	const char *name;
	struct msg_build b;

	memset(&b, 0, sizeof(b));
	name = r->o.fullname ? r->o.fullname : r->gecos;
	b.replace_from = !r->conf.from_line_override;
	if (has == 1 && strchr(fromaddr, '@') == NULL) {
		b.replace_from = 1;
		if (r->o.fullname == NULL && msg_from_name(&r->msg, display,
		    sizeof(display)) == 1)
			name = display;
		msg_mailbox(name, r->sender, hdr, sizeof(hdr));
	} else
		/* A null sender (-f '<>') is no From: the user's own then. */
		msg_mailbox(name, r->o.sender != NULL && *r->sender != '\0' ?
		    r->sender : r->own, hdr, sizeof(hdr));
	b.from = hdr;
	b.hostname = r->conf.hostname ? r->conf.hostname : local_hostname();
	b.add = r->conf.add_headers;
	b.nadd = r->conf.nadd_headers;
	if (r->msg.nul)
		return err_set(e, ERR_DATA, "the message contains NUL bytes, "
		    "which SMTP cannot carry");
	return msg_build_headers(&r->msg, &b, e);
}

/* The TLS settings, as plain data, from the config. */
static void
tls_settings(const struct config *c, struct tls_settings *t)
{
	memset(t, 0, sizeof(*t));
	t->verify = c->tls_verify;
	t->pin = c->has_fingerprint;
	memcpy(t->fingerprint, c->tls_fingerprint, sizeof(t->fingerprint));
	t->min_version = c->tls_min_version;
	t->ca_file = c->tls_ca_file;
	t->ca_pem = c->tls_ca_pem.data;
	t->ca_pem_len = c->tls_ca_pem.len;
	t->ca_dir = c->tls_ca_dir;
	t->client_cert = c->use_tls_cert;
	t->cert_file = c->tls_cert;
	t->cert_pem = c->tls_cert_pem.data;
	t->cert_pem_len = c->tls_cert_pem.len;
	t->key_file = c->tls_key != NULL ? c->tls_key : c->tls_cert;
	t->key_pem = c->tls_key_pem.data;
	t->key_pem_len = c->tls_key_pem.len;
}

/* The TLS mode the config asks for. */
static enum smtp_tls
tls_mode(const struct config *c)
{
	if (c->use_tls && c->use_starttls != CONF_YES)
		return SMTP_TLS_IMPLICIT;
	if (c->use_starttls == CONF_YES)
		return SMTP_TLS_STARTTLS;
	return c->use_starttls == CONF_NO ? SMTP_TLS_NONE : SMTP_TLS_OFFERED;
}

static int
get_secret(void *arg, int again, char **secret, struct err *e)
{
	struct secret_src *ss = arg;

	(void)again;
	if (ss->first != NULL) {
		*secret = ss->first;
		ss->first = NULL;
		return 0;
	}
	return secret_get(ss->conf, ss->timeout, secret, e);
}

/* What every session of this run shares: filled once. */
static int
prepare_sessions(struct run *r, struct err *e)
{
	if (r->prepared)
		return 0;
	if (!r->conf.tls_verify && !r->conf.has_fingerprint)
		log_warnx("warning: TLSVerify=NO: the hub's certificate is not "
		    "checked; anyone on the path can read this mail and the "
		    "password");
	/*
	 * The secret first, as the user (the rights are gone): a slow
	 * AuthPassCommand then holds no session open at the hub.
	 */
	r->ss.conf = &r->conf;
	r->ss.timeout = r->conf.timeout > 0 ? r->conf.timeout : TO_COMMAND;
	if (r->conf.auth_user != NULL && secret_get(&r->conf, r->ss.timeout,
	    &r->ss.first, e) == -1)
		return -1;
	tls_settings(&r->conf, &r->tls);
	if (r->conf.tls_session_cache && r->user_reads_config &&
	    tlscache_path(r->cache_path, sizeof(r->cache_path)) == 0)
		r->tls.session_cache = r->cache_path;
	memset(&r->p, 0, sizeof(r->p));
	r->p.family = r->o.family;
	r->p.tls_mode = tls_mode(&r->conf);
	r->p.tls = &r->tls;
	r->p.helo = r->conf.hostname ? r->conf.hostname : local_hostname();
	r->p.timeout = r->conf.timeout;
	r->p.auth_user = r->conf.auth_user;
	r->p.auth_method = r->conf.auth_method;
	r->p.get_secret = get_secret;
	r->p.secret_arg = &r->ss;
	r->p.no_chunking = !r->conf.use_chunking;
	r->prepared = 1;
	return 0;
}

/* For runq and --check: the sessions' settings, the secret fetched. */
static int
sessions_prepare(void *arg, struct err *e)
{
	return prepare_sessions(arg, e);
}

/*
 * The user's queue (queue.h says where), opened for runq; with create,
 * made when missing.  Returns 0 or -1.
 */
static int
queue_setup(struct run *r, int create, struct err *e)
{
	char path[4096];

	if (r->rq.q != NULL && (!create || r->q.dirfd != -1))
		return 0;
	if (queue_path(r->conf.queue_dir ? r->conf.queue_dir :
	    CONF_QUEUE_DIR, path, sizeof(path), e) == -1 ||
	    queue_open(&r->q, path, create, e) == -1)
		return -1;
	log_info("queue: %s", path);
	r->rq.conf = &r->conf;
	r->rq.q = &r->q;
	r->rq.p = &r->p;
	r->rq.prepare = sessions_prepare;
	r->rq.arg = r;
	r->rq.hostname = r->conf.hostname ? r->conf.hostname :
	    local_hostname();
	if (!r->conf.dead_letter_off) {
		deadletter_path(r->conf.dead_letter, r->dl_path,
		    sizeof(r->dl_path));
		r->rq.dead_letter = r->dl_path;
	}
	return 0;
}

/*
 * Step 6: send the message.  A session is opened trying the hubs in
 * order (the revaliases hub first); a hub that cannot be reached, or
 * answers 4xx before the transaction, yields to the next.  With -bs the
 * session is kept for the next message (the engine reopens it when it
 * was lost); otherwise QUIT rides with this one, unless the queue has
 * mail waiting: then that follows over the same session, bounded.
 */
static int
deliver(struct run *r, struct err *e)
{
	struct hub hubs[CONF_MAX_HUBS + 1];
	struct smtp_result res;
	struct smtp_txn t = { r->sender, r->rcpts.v, r->rcpts.n, &r->msg,
	    *r->o.notify ? r->o.notify : NULL, r->o.ret, r->o.envid,
	    r->body8 };
	struct err qe;
	char key[HUB_KEY_MAX];
	size_t n;
	int rc = -1, flush = 0;

	r->code = 0;
	r->unknown = 0;
	*r->enh = '\0';
	if (prepare_sessions(r, e) == -1)
		return -1;
	n = hubs_for(&r->conf, &r->alias_hub, hubs);
	if (r->session == NULL && (r->session = hubs_open(&r->p, hubs, n,
	    &r->hub_used, e, &r->code, r->enh)) == NULL)
		return -1;
	if (!r->keep && r->conf.queue && queue_setup(r, 0, &qe) == 0)
		flush = runq_pending(&r->rq);
	if ((rc = smtp_send(r->session, &t, !r->keep && !flush, &res)) == 0)
		snprintf(r->reply, sizeof(r->reply), "%d %s", res.code,
		    res.text);
	else
		*e = res.err;
	r->code = res.code;
	r->unknown = res.status == SMTP_UNKNOWN;
	strlcpy(r->enh, res.enh, sizeof(r->enh));
	smtp_result_free(&res);
	if (rc == 0 && flush) {
		hub_key(&r->alias_hub, key, sizeof(key));
		runq_flush(&r->rq, r->session, key);
	}
	if (!r->keep) {
		smtp_free(r->session);
		r->session = NULL;
	}
	return rc;
}

static void
log_result(struct run *r, int ok, const struct err *e)
{
	char to[1024];

	log_rcpts(to, sizeof(to), r->rcpts.v, r->rcpts.n);
	if (ok)
		log_syslog(LOG_INFO, "from=<%s>, to=%s, size=%lld, hub=%s, "
		    "status=sent (%s)", r->sender, to, (long long)r->msg.size,
		    r->hub_used, r->reply);
	else
		log_syslog(LOG_ERR, "from=<%s>, to=%s, size=%lld, hub=%s, "
		    "status=failed (%s)", r->sender, to,
		    (long long)r->msg.size, r->hub_used ? r->hub_used : "none",
		    e->msg);
}

/*
 * Keep a message whose delivery failed for now in the user's queue,
 * durably, with its envelope and the reason.  Returns 0 once it is on
 * disk (r->queued names it), else -1 with e saying why.
 */
static int
enqueue(struct run *r, const struct err *why, struct err *e)
{
	struct qentry qe;
	char key[HUB_KEY_MAX];
	int rc;

	if (queue_setup(r, 1, e) == -1)
		return -1;
	qentry_init(&qe);
	qe.attempts = 1;
	qe.created = time(NULL);
	qe.next = qe.created + queue_backoff(1);
	qe.unknown = r->unknown;
	strlcpy(qe.error, why->msg, sizeof(qe.error));
	hub_key(&r->alias_hub, key, sizeof(key));
	qe.hub = *key != '\0' ? key : NULL;
	qe.from = r->sender;
	qe.rcpts = r->rcpts.v;
	qe.nrcpts = r->rcpts.n;
	strlcpy(qe.notify, r->o.notify, sizeof(qe.notify));
	strlcpy(qe.ret, r->o.ret ? r->o.ret : "", sizeof(qe.ret));
	strlcpy(qe.envid, r->o.envid ? r->o.envid : "", sizeof(qe.envid));
	qe.body8 = r->body8;
	rc = queue_add(r->rq.q, &qe, &r->msg, e);
	if (rc == 0)
		strlcpy(r->queued, qe.id, sizeof(r->queued));
	/* The envelope is borrowed from r: nothing to free. */
	return rc;
}

/*
 * Step 7: say what happened (stderr with -v or on failure, syslog), and
 * keep a message that was not sent.  Returns the exit code: the one
 * place where results become exit codes.
 */
static int
report(struct run *r, int rc, struct err *e)
{
	char dl[4096], used[4096], to[1024];
	struct err de;

	*r->queued = '\0';
	if (rc == 0) {
		log_info("sent: %s", r->reply);
		log_result(r, 1, e);
		return EX_OK;
	}
	if (exit_code(e->kind) == EX_TEMPFAIL && r->conf.queue &&
	    r->msg.out != NULL && r->rcpts.n > 0) {
		if (enqueue(r, e, &de) == 0) {
			log_warnx("queued as %s: %s", r->queued, e->msg);
			log_rcpts(to, sizeof(to), r->rcpts.v, r->rcpts.n);
			log_syslog(LOG_INFO, "from=<%s>, to=%s, size=%lld, "
			    "status=queued as %s: %s", r->sender, to,
			    (long long)r->msg.size, r->queued, e->msg);
			return EX_OK;
		}
		log_warnx("could not queue the message: %s", de.msg);
	}
	log_warnx("%s", e->msg);
	log_result(r, 0, e);
	if (r->conf.dead_letter_off)
		log_warnx("message not kept (DeadLetter=NO)");
	else {
		deadletter_path(r->conf.dead_letter, dl, sizeof(dl));
		if (deadletter_save(&r->msg, dl, r->sender, used, sizeof(used),
		    &de) == 0)
			log_warnx("message kept in %s", used);
		else {
			log_warnx("could not keep the message: %s", de.msg);
			e->kind = ERR_IOERR;
		}
	}
	return exit_code(e->kind);
}

/* The modes that send nothing; none reads standard input. */
static int
other_mode(enum mode m)
{
	if (m == MODE_VERSION)
		printf("ssmtp %s\n", VERSION);
	else if (m == MODE_HELP)
		help();
	return EX_OK;
}

static void
run_free(struct run *r)
{
	rcpts_free(&r->rcpts);
	smtp_free(r->session);
	queue_close(&r->q);
	secret_free(r->ss.first);
	secret_free(r->o.auth_pass);
	free(r->alias_from);
	free(r->alias_hub.host);
	msg_free(&r->msg);
	conf_free(&r->conf);
	smtp_cleanup();
}

/* Per message state back to empty, for the next -bs transaction. */
static void
message_reset(struct run *r)
{
	rcpts_free(&r->rcpts);
	memset(&r->rcpts, 0, sizeof(r->rcpts));
	msg_free(&r->msg);
	*r->sender = '\0';
	*r->reply = '\0';
}

/* A message of the caller's, from its transaction, for the steps. */
static void
message_take(struct run *r, struct bs_txn *t)
{
	message_reset(r);
	r->msg = t->msg;
	msg_init(&t->msg);
	r->o.sender = t->from;
	r->o.args = t->rcpts;
	r->o.nargs = (int)t->nrcpts;
	r->o.from_headers = 0;
	strlcpy(r->o.notify, t->notify, sizeof(r->o.notify));
	r->o.ret = *t->ret ? t->ret : NULL;
	r->o.envid = *t->envid ? t->envid : NULL;
	r->body8 = t->body8;
}

/*
 * The reply the -bs caller hears for a message that did not go: the
 * hub's code and enhanced code when it refused, else ours for the kind
 * of failure; temporary when nothing says it is for good.
 */
static int
bs_failure(const struct run *r, const struct err *e, char *text, size_t size)
{
	const char *enh;
	char msg[400];
	size_t i;
	int code;

	switch (e->kind) {
	case ERR_NOUSER:
		code = 550, enh = "5.1.1";
		break;
	case ERR_UNAVAILABLE:
		code = 554, enh = "5.0.0";
		break;
	case ERR_DATA:
		code = 554, enh = "5.6.0";
		break;
	case ERR_USAGE:
		code = 553, enh = "5.1.3";
		break;
	case ERR_NOPERM:
		code = 451, enh = "4.7.0";	/* our credentials: fixable */
		break;
	case ERR_PROTOCOL:
		code = 451, enh = "4.5.0";
		break;
	case ERR_TEMPFAIL:
		code = 451, enh = "4.4.0";
		break;
	default:
		code = 451, enh = "4.3.0";	/* local: config, system */
	}
	if (*r->enh != '\0' && *r->enh == '0' + code / 100)
		enh = r->enh;
	if (strcmp(enh, "5.3.4") == 0)
		code = 552;
	/* One line, no control characters: the text goes to the caller. */
	for (i = 0; e->msg[i] != '\0' && i + 1 < sizeof(msg); i++)
		msg[i] = (unsigned char)e->msg[i] < 0x20 ? ' ' : e->msg[i];
	msg[i] = '\0';
	snprintf(text, size, "%s %s", enh, msg);
	return code;
}

/* -bs: relay one message of the caller's; the reply it hears. */
static int
bs_relay(void *arg, struct bs_txn *t, char *text, size_t size)
{
	struct run *r = arg;
	struct err e = { ERR_NONE, "" };
	char fromaddr[ADDR_MAX + 1];
	int rc, has = 0;

	message_take(r, t);
	if (r->config_failed) {
		e = r->config_err;
		rc = -1;
	} else if ((rc = msg_parse_headers(&r->msg, &e)) == 0 &&
	    (rc = envelope(r, fromaddr, sizeof(fromaddr), &has, &e)) == 0 &&
	    (rc = headers(r, fromaddr, has, &e)) == 0)
		rc = deliver(r, &e);
	rc = report(r, rc, &e);
	if (rc == EX_OK && *r->queued != '\0') {
		snprintf(text, size, "2.0.0 queued as %s", r->queued);
		return 250;
	}
	if (rc == EX_OK) {
		snprintf(text, size, "2.0.0 Ok: relayed, the hub said: %.400s",
		    r->reply);
		return 250;
	}
	return bs_failure(r, &e, text, size);
}

/* -bs: a message cut off inside DATA, or over the size limit: keep it. */
static void
bs_cut(void *arg, struct bs_txn *t)
{
	struct run *r = arg;
	struct err e;

	message_take(r, t);
	err_set(&e, ERR_DATA, "the message was cut off or too large; not "
	    "sent");
	report(r, -1, &e);
}

/*
 * SMTP on stdin and stdout for a local caller.  The hub session is
 * opened at the first end of data and kept; a config error still lets
 * the caller talk, and every message it sends is kept and refused with
 * a temporary reply.
 */
static int
serve_bs(struct run *r, int config_rc, struct err *e)
{
	struct bs_server srv;
	enum err_kind k;

	if (config_rc == -1) {
		log_warnx("%s", e->msg);
		r->config_failed = 1;
		r->config_err = *e;
	}
	r->keep = 1;
	memset(&srv, 0, sizeof(srv));
	srv.hostname = r->conf.hostname ? r->conf.hostname : local_hostname();
	srv.idle_timeout = r->conf.idle_timeout;
	srv.relay = bs_relay;
	srv.cut = bs_cut;
	srv.arg = r;
	k = bs_serve(STDIN_FILENO, STDOUT_FILENO, &srv);
	if (k == ERR_DATA)
		log_warnx("the input ended inside DATA; what arrived is kept");
	else if (k == ERR_TEMPFAIL)
		log_warnx("the caller was silent for %d s (IdleTimeout); "
		    "closed", srv.idle_timeout);
	return exit_code(k);
}

/*
 * --check: the config as a send reads it (its errors as for a send), then
 * each hub's session step by step.  The exit status is the worst hub's.
 */
static int
check_mode(struct run *r, int config_rc, struct err *e)
{
	struct check c;
	enum err_kind k;

	if (config_rc == -1) {
		printf("config: %s\n", e->msg);
		log_warnx("%s", e->msg);
		return exit_code(e->kind);
	}
	memset(&c, 0, sizeof(c));
	c.conf = &r->conf;
	c.first = &r->alias_hub;
	c.p = &r->p;
	c.prepare = sessions_prepare;
	c.arg = r;
	c.out = stdout;
	/* With extra rights for a user who cannot read it: no AuthUser. */
	c.hide_user = !r->user_reads_config;
	printf("config: %s: ok\n", r->conf.path ? r->conf.path : "?");
	check_files(&c);
	k = check_hubs(&c, e);
	if (k != ERR_NONE)
		log_warnx("%s", e->msg);
	fflush(stdout);
	return exit_code(k);
}

/*
 * mailq (-bp) and -q: the user's queue, listed or run.  The config is
 * read as for a send (QueueDir, the hubs); the rights are gone by now.
 */
static int
queue_mode(struct run *r, int config_rc, struct err *e)
{
	enum err_kind k;

	if (config_rc == -1 || queue_setup(r, 0, e) == -1) {
		log_warnx("%s", e->msg);
		return exit_code(e->kind);
	}
	if (r->o.mode == MODE_QUEUE)
		k = runq_list(&r->rq, stdout, e);
	else {
		k = runq_run(&r->rq, r->o.runq_id, e);
		log_info("queue %s: %u sent, %u deferred, %u given up",
		    r->q.path, r->rq.sent, r->rq.deferred, r->rq.failed);
	}
	if (k != ERR_NONE)
		log_warnx("%s", e->msg);
	if (fflush(stdout) == EOF && k == ERR_NONE)
		k = ERR_IOERR;
	return exit_code(k);
}

/*
 * The order of the steps, each with one output: options, config (the
 * rights are dropped there), spool, envelope, headers, deliver, report.
 * A config error still keeps the message: stdin is read all the same.
 */
int
main(int argc, char **argv)
{
	struct run r;
	struct err e = { ERR_NONE, "" }, se;
	char fromaddr[ADDR_MAX + 1];
	const char *prog;
	int rc, has = 0;

	signal(SIGPIPE, SIG_IGN);
	memset(&r, 0, sizeof(r));
	conf_init(&r.conf);
	msg_init(&r.msg);
	r.q.dirfd = -1;
	prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	if (strcmp(prog, "mailq") == 0)
		r.o.mode = MODE_QUEUE;
	else if (strcmp(prog, "newaliases") == 0)
		r.o.mode = MODE_ALIASES;
	if ((rc = parse_args(argc, argv, &r.o, &e)) == 0 &&
	    (r.o.mode == MODE_VERSION || r.o.mode == MODE_HELP)) {
		rc = other_mode(r.o.mode);
		run_free(&r);
		return rc;
	}
	if (rc == -1) {
		log_warnx("%s", e.msg);
		run_free(&r);
		return exit_code(e.kind);
	}
	identify(&r);
	rc = load_config(&r, &e);
	if (r.o.mode == MODE_ALIASES) {
		/* newaliases: ssmtp keeps no database; it checks the file. */
		if (rc == 0 && r.conf.aliases_path != NULL)
			printf("%s: %zu aliases\n", r.conf.aliases_path,
			    r.conf.naliases);
		else if (rc == 0)
			printf("no Aliases file is set in the configuration\n");
		else
			log_warnx("%s", e.msg);
		run_free(&r);
		return rc == 0 ? EX_OK : exit_code(e.kind);
	}
	if (r.o.mode == MODE_CHECK) {
		rc = check_mode(&r, rc, &e);
		run_free(&r);
		return rc;
	}
	if (r.o.mode == MODE_QUEUE || r.o.mode == MODE_RUNQ) {
		rc = queue_mode(&r, rc, &e);
		run_free(&r);
		return rc;
	}
	if (r.o.mode == MODE_BS) {
		rc = serve_bs(&r, rc, &e);
		run_free(&r);
		return rc;
	}
	if (msg_spool(&r.msg, STDIN_FILENO, r.o.ignore_dots, &se) == -1) {
		log_warnx("%s", se.msg);
		run_free(&r);
		return exit_code(se.kind);
	}
	if (rc == 0)
		rc = msg_parse_headers(&r.msg, &e);
	if (rc == 0)
		rc = envelope(&r, fromaddr, sizeof(fromaddr), &has, &e);
	if (rc == 0)
		rc = headers(&r, fromaddr, has, &e);
	if (rc == 0)
		rc = deliver(&r, &e);
	rc = report(&r, rc, &e);
	run_free(&r);
	return rc;
}
