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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <sysexits.h>
#include <unistd.h>

#include "addr.h"
#include "auth.h"
#include "config.h"
#include "deadletter.h"
#include "log.h"
#include "message.h"
#include "smtp.h"
#include "tls.h"

#ifndef VERSION
#define VERSION		"0.1"
#endif

#define RCPTS_MAX	100000

enum mode {
	MODE_SEND,		/* -bm, the default */
	MODE_QUEUE,		/* -bp, mailq: simulated */
	MODE_ALIASES,		/* -bi, newaliases: ignored */
	MODE_RUNQ,		/* -q: simulated */
	MODE_VERSION,		/* -V, --version */
	MODE_HELP		/* --help */
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
	char	       **args;		/* recipients */
	int		 nargs;
};

struct rcpts {
	char	**v;
	size_t	 n, cap;
	const struct config *conf;
	const char *domain;		/* to qualify bare names */
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
	    "  -i, -oi      a line holding a single \".\" does not end the "
	    "message\n"
	    "  -f, -r ADDR  the envelope sender\n"
	    "  -F NAME      the sender's full name, for a From header ssmtp "
	    "writes\n"
	    "  -C FILE      another configuration file\n"
	    "  -au, -ap, -am  AuthUser, AuthPass, AuthMethod for this run\n"
	    "  -4, -6       connect over IPv4 or IPv6 only\n"
	    "  -v           show the SMTP dialogue (secrets hidden)\n"
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
				o->mode = MODE_VERSION;
				continue;
			case 'a':
				if (parse_a(o, argv, &i, p + 1, e) == -1)
					return -1;
				break;
			case 'b':
				if (parse_b(o, p + 1, e) == -1)
					return -1;
				break;
			case 'q':
				o->mode = MODE_RUNQ;
				break;		/* -q[time] */
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
	if (o->mode != MODE_SEND && o->nargs > 0)
		return err_set(e, ERR_USAGE, "recipients given, but this mode "
		    "sends nothing");
	return 0;
}

/*
 * The machine's fully qualified name, for EHLO and bare addresses when
 * Hostname is unset: the host name when it has a dot, else the first
 * name with a dot on the host name's line in /etc/hosts.  The resolver is
 * not asked: with an unreachable DNS server that could hold up every
 * message for the resolver's whole timeout.
 */
static const char *
local_hostname(void)
{
	static char name[256];
	char *line = NULL, *tok[16], *save;
	size_t cap = 0, n, k;
	int mine;
	FILE *fp;

	if (*name != '\0')
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

/* Add one recipient: qualified, mapped by Root, checked, sent once. */
static int
rcpt_add(void *arg, const char *a)
{
	struct rcpts *r = arg;
	struct passwd *pw;
	char buf[ADDR_MAX + 1], msg[300];
	const char *use = a;
	size_t i;
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
	if (addr_check(use, 0, msg, sizeof(msg)) == -1)
		return rcpt_fail(r, "recipient %s: %s", a, msg);
	for (i = 0; i < r->n; i++)
		if (strcasecmp(r->v[i], use) == 0)
			return 0;
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
	r->n++;
	return 0;
}

static void
rcpts_free(struct rcpts *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		free(r->v[i]);
	free(r->v);
}

/* Qualify a bare sender name with the domain into buf. */
static int
qualify(const char *a, const char *domain, char *buf, size_t size,
    enum err_kind kind, struct err *e)
{
	char msg[300];

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
	if (addr_check(buf, 0, msg, sizeof(msg)) == -1)
		return err_set(e, kind, "sender %s: %s", a, msg);
	return 0;
}

struct run {
	struct opts	 o;
	struct config	 conf;
	struct message	 msg;
	struct rcpts	 rcpts;
	char		 sender[ADDR_MAX + 1];
	char		 user[256];
	char		 gecos[256];
	char		*alias_from;	/* revaliases address */
	struct hub	 alias_hub;	/* revaliases hub */
	const char	*hub_used;
	char		 reply[512];
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
	char msg[300];
	size_t i;

	for (i = 0; i < 3; i++)
		if (val[i] != NULL && conf_set(&r->conf, key[i], val[i], msg,
		    sizeof(msg)) != 0)
			return err_set(e, ERR_USAGE, "-a%c: %s", "upm"[i], msg);
	return 0;
}

/*
 * Read ssmtp.conf and revaliases, then drop any setgid/setuid rights:
 * everything after this runs as the user.  With such rights, -C and the
 * -a options are ignored for everyone but root, so that a user cannot
 * make ssmtp read another file or use the protected password elsewhere.
 */
static int
load_config(struct run *r, struct err *e)
{
	const char *conffile = SSMTP_CONF_DIR "/ssmtp.conf", *slash;
	char path[4096];
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
	rc = conf_load(&r->conf, conffile, e);
	if (rc == 0) {
		/* revaliases sits beside the config file read (-C moves both). */
		slash = strrchr(conffile, '/');
		snprintf(path, sizeof(path), "%.*s/revaliases",
		    slash ? (int)(slash - conffile) : 1, slash ? conffile : ".");
		rc = conf_revalias(path, r->user, &r->alias_from,
		    &r->alias_hub, e) == -1 ? -1 : 0;
	}
	/* Protected TLS files too: after the drop they cannot be read. */
	if (rc == 0)
		rc = conf_read_tls_files(&r->conf, e);
	if (drop_privileges(rc == 0 ? e : &(struct err){ 0 }) == -1 && rc == 0)
		return -1;
	if (rc == 0 && !priv)
		rc = apply_auth_options(r, e);
	if (rc == 0 && r->conf.debug)
		log_verbose = 1;
	if (rc == 0 && r->conf.nhubs == 0)
		rc = err_set(e, ERR_CONFIG, "%s: no Mailhub set", conffile);
	return rc;
}

/* Everything between reading the message and the hub's final reply. */
static int
prepare(struct run *r, struct err *e)
{
	const char *domain;
	char own[ADDR_MAX + 1], hdr[1024], fromaddr[ADDR_MAX + 1];
	char display[256];
	const char *name;
	struct msg_build b;
	struct passwd *pw;
	int i, has = 0;		/* the message's From address was read */

	if ((pw = getpwuid(getuid())) != NULL) {
		strlcpy(r->user, pw->pw_name, sizeof(r->user));
		strlcpy(r->gecos, pw->pw_gecos ? pw->pw_gecos : "",
		    sizeof(r->gecos));
		/* gecos: "Full Name,Room,Phone,...": the name only. */
		r->gecos[strcspn(r->gecos, ",")] = '\0';
	} else
		snprintf(r->user, sizeof(r->user), "%u", (unsigned)getuid());
	if (load_config(r, e) == -1)
		return -1;
	if (msg_parse_headers(&r->msg, e) == -1)
		return -1;
	domain = r->conf.rewrite_domain ? r->conf.rewrite_domain :
	    r->conf.hostname ? r->conf.hostname : local_hostname();

	/* The user's own address: revaliases, else user@domain. */
	if (qualify(r->alias_from ? r->alias_from : r->user, domain, own,
	    sizeof(own), ERR_CONFIG, e) == -1)
		return -1;
	/* The envelope sender (DESIGN.md, "Envelope and input rules"). */
	if (r->o.sender != NULL) {
		if (qualify(r->o.sender, domain, r->sender, sizeof(r->sender),
		    ERR_USAGE, e) == -1)
			return -1;
	} else if (r->conf.from_line_override &&
	    (has = msg_from_address(&r->msg, fromaddr, sizeof(fromaddr),
	    e)) != 0) {
		if (has == -1 || qualify(fromaddr, domain, r->sender,
		    sizeof(r->sender), ERR_DATA, e) == -1)
			return -1;
	} else
		strlcpy(r->sender, own, sizeof(r->sender));

	r->rcpts.conf = &r->conf;
	r->rcpts.domain = domain;
	r->rcpts.e = e;
	r->rcpts.kind = ERR_USAGE;
	for (i = 0; i < r->o.nargs; i++) {
		char msg[300];
		int rc;

		rc = addr_parse_list(r->o.args[i], strlen(r->o.args[i]),
		    rcpt_add, &r->rcpts, msg, sizeof(msg));
		if (rc == -1)
			return err_set(e, ERR_USAGE, "recipient \"%s\": %s",
			    r->o.args[i], msg);
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

	/*
	 * A From we add or replace names the -f address when given, else the
	 * user's own.  With FromLineOverride=YES the message's From stays,
	 * unless its address is a bare local name ("root (Cron Daemon)"):
	 * then it is rewritten qualified, keeping its display name, so that
	 * strict hubs accept it.
	 */
	memset(&b, 0, sizeof(b));
	name = r->o.fullname ? r->o.fullname : r->gecos;
	b.replace_from = !r->conf.from_line_override;
	if (has == 1 && strchr(fromaddr, '@') == NULL) {	/* found above */
		b.replace_from = 1;
		if (r->o.fullname == NULL && msg_from_name(&r->msg, display,
		    sizeof(display)) == 1)
			name = display;
		msg_mailbox(name, r->sender, hdr, sizeof(hdr));
	} else
		msg_mailbox(name, r->o.sender ? r->sender : own, hdr,
		    sizeof(hdr));
	b.from = hdr;
	b.hostname = r->conf.hostname ? r->conf.hostname : local_hostname();
	b.add = r->conf.add_headers;
	b.nadd = r->conf.nadd_headers;
	return msg_build_headers(&r->msg, &b, e);
}

/* Try the hubs in order; a hub that cannot be reached yields to the next. */
static int
deliver(struct run *r, struct err *e)
{
	struct hub hubs[CONF_MAX_HUBS + 1];
	struct smtp s;
	SSL_CTX *ctx = NULL;		/* made when TLS is first needed */
	char *secret = NULL;
	size_t n = 0, i;
	int rc = -1;
	const char *helo = r->conf.hostname ? r->conf.hostname :
	    local_hostname();

	if (r->alias_hub.host != NULL)
		hubs[n++] = r->alias_hub;
	for (i = 0; i < r->conf.nhubs; i++)
		hubs[n++] = r->conf.hubs[i];
	if (!r->conf.tls_verify && !r->conf.has_fingerprint)
		log_warnx("warning: TLSVerify=NO: the hub's certificate is not "
		    "checked; anyone on the path can read this mail and the "
		    "password");
	/*
	 * The secret first, as the user (the rights are gone): a slow
	 * AuthPassCommand then holds no session open at the hub.
	 */
	if (r->conf.auth_user != NULL && auth_secret(&r->conf,
	    r->conf.timeout > 0 ? r->conf.timeout : TO_COMMAND, &secret,
	    e) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (i > 0)
			log_warnx("%s; trying %s", e->msg, hubs[i].host);
		if (smtp_open(&s, &r->conf, &hubs[i], &ctx, helo, r->o.family,
		    e) == -1) {
			smtp_close(&s);
			if (e->kind == ERR_TEMPFAIL || e->kind == ERR_NOHOST)
				continue;
			break;
		}
		r->hub_used = hubs[i].host;
		if ((r->conf.auth_user == NULL ||
		    auth_login(&s, &r->conf, secret, e) == 0) &&
		    smtp_send(&s, r->sender, r->rcpts.v, r->rcpts.n, &r->msg,
		    e) == 0) {
			strlcpy(r->reply, s.last, sizeof(r->reply));
			rc = 0;
		}
		if (rc == 0 || s.net.fd != -1)
			smtp_quit(&s);
		else
			smtp_close(&s);
		break;
	}
	auth_secret_free(secret);
	SSL_CTX_free(ctx);
	return rc;
}

static void
log_result(struct run *r, int ok, const struct err *e)
{
	char to[1024] = "";
	size_t i;

	for (i = 0; i < r->rcpts.n && strlen(to) < 900; i++)
		snprintf(to + strlen(to), sizeof(to) - strlen(to), "%s<%s>",
		    i ? "," : "", r->rcpts.v[i]);
	if (i < r->rcpts.n)
		snprintf(to + strlen(to), sizeof(to) - strlen(to),
		    ",... (%zu in all)", r->rcpts.n);
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

int
main(int argc, char **argv)
{
	struct run r;
	struct err e = { ERR_NONE, "" }, de;
	char dl[4096], used[4096];
	const char *prog;
	int rc;

	signal(SIGPIPE, SIG_IGN);
	memset(&r, 0, sizeof(r));
	conf_init(&r.conf);
	msg_init(&r.msg);
	prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	if (strcmp(prog, "mailq") == 0)
		r.o.mode = MODE_QUEUE;
	else if (strcmp(prog, "newaliases") == 0)
		r.o.mode = MODE_ALIASES;
	rc = parse_args(argc, argv, &r.o, &e);
	if (rc == 0 && r.o.mode != MODE_SEND) {
		/* Modes that send nothing; none reads standard input. */
		if (r.o.mode == MODE_VERSION)
			printf("ssmtp %s\n", VERSION);
		else if (r.o.mode == MODE_HELP)
			help();
		else if (r.o.mode == MODE_QUEUE)
			printf("Mail queue is empty (ssmtp keeps no queue)\n");
		else if (r.o.mode == MODE_RUNQ)
			printf("ssmtp keeps no queue: nothing to run\n");
		auth_secret_free(r.o.auth_pass);
		return EX_OK;
	}
	if (rc == -1) {
		log_warnx("%s", e.msg);
		auth_secret_free(r.o.auth_pass);
		return exit_code(e.kind);
	}
	if (msg_spool(&r.msg, STDIN_FILENO, r.o.ignore_dots, &e) == -1) {
		log_warnx("%s", e.msg);
		return exit_code(e.kind);
	}
	rc = prepare(&r, &e);
	if (rc == 0 && r.msg.nul)
		rc = err_set(&e, ERR_DATA, "the message contains NUL bytes, "
		    "which SMTP cannot carry");
	if (rc == 0)
		rc = deliver(&r, &e);
	if (rc == 0) {
		log_info("sent: %s", r.reply);
		log_result(&r, 1, &e);
	} else {
		log_warnx("%s", e.msg);
		log_result(&r, 0, &e);
		if (r.conf.dead_letter_off)
			log_warnx("message not kept (DeadLetter=NO)");
		else {
			deadletter_path(r.conf.dead_letter, dl, sizeof(dl));
			if (deadletter_save(&r.msg, dl, r.sender, used,
			    sizeof(used), &de) == 0)
				log_warnx("message kept in %s", used);
			else {
				log_warnx("could not keep the message: %s",
				    de.msg);
				e.kind = ERR_IOERR;
			}
		}
	}
	rcpts_free(&r.rcpts);
	auth_secret_free(r.o.auth_pass);
	free(r.alias_from);
	free(r.alias_hub.host);
	msg_free(&r.msg);
	conf_free(&r.conf);
	return exit_code(rc == 0 ? ERR_NONE : e.kind);
}
