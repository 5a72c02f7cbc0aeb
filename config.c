/*
 * ssmtp.conf and revaliases.  The format is sSMTP 2.64's: one key=value per
 * line, keys case-insensitive, '#' starting a comment.  Unlike sSMTP, a
 * value may hold blanks and '=', and '#' only starts a comment at the start
 * of a line or after a blank, so passwords with '#' in them survive.
 */
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <fcntl.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "addr.h"
#include "buf.h"
#include "config.h"

#define CONF_LINE_MAX	65536
#define F(x)		offsetof(struct config, x)

void
conf_init(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->use_starttls = CONF_UNSET;
	c->tls_verify = 1;
	c->tls_min_version = CONF_TLS_1_2;
	c->use_chunking = 1;
	c->idle_timeout = 300;	/* RFC 5321 4.5.3.2.7 */
	c->queue_lifetime = CONF_QUEUE_LIFETIME;
	c->tls_session_cache = 1;
}

static void
hubs_clear(struct config *c)
{
	size_t i;

	for (i = 0; i < c->nhubs; i++)
		free(c->hubs[i].host);
	c->nhubs = 0;
}

static void
wipe_free(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void
conf_free(struct config *c)
{
	size_t i, j;

	hubs_clear(c);
	for (i = 0; i < c->nadd_headers; i++)
		free(c->add_headers[i]);
	free(c->path);
	free(c->root);
	free(c->rewrite_domain);
	free(c->hostname);
	free(c->tls_cert);
	free(c->tls_key);
	free(c->tls_ca_file);
	free(c->tls_ca_dir);
	free(c->auth_user);
	wipe_free(c->auth_pass);
	free(c->auth_pass_command);
	free(c->auth_method);
	free(c->dead_letter);
	free(c->revaliases);
	free(c->aliases_path);
	free(c->queue_dir);
	for (i = 0; i < c->naliases; i++) {
		for (j = 0; j < c->aliases[i].nto; j++)
			free(c->aliases[i].to[j]);
		free(c->aliases[i].to);
		free(c->aliases[i].name);
	}
	free(c->aliases);
	conf_blob_free(&c->tls_ca_pem);
	conf_blob_free(&c->tls_cert_pem);
	conf_blob_free(&c->tls_key_pem);
	conf_init(c);
}

int
conf_bool(const char *v)
{
	static const char *yes[] = { "yes", "true", "on", "1" };
	static const char *no[] = { "no", "false", "off", "0" };
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(v, yes[i]) == 0)
			return 1;
		if (strcasecmp(v, no[i]) == 0)
			return 0;
	}
	return -1;
}

/* Replace *dst with a copy of v, or NULL when v is empty. */
static int
set_str(char **dst, const char *v)
{
	char *s = NULL;

	if (*v != '\0' && (s = strdup(v)) == NULL)
		return -1;
	if (dst != NULL) {
		wipe_free(*dst);
		*dst = s;
	}
	return 0;
}

/* True when s holds only printable ASCII with no blanks. */
static int
is_token(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s <= ' ' || *s >= 0x7f)
			return 0;
	return 1;
}

/*
 * A host name as DNS allows (RFC 1035 2.3.4): labels of 1 to 63 bytes,
 * 253 in all, no empty label (a final dot is allowed); or an address
 * literal in brackets ("[192.0.2.1]", "[IPv6:...]") where allow_literal.
 * Returns NULL, or what is wrong.
 */
static const char *
bad_host(const char *h, int allow_literal)
{
	size_t len = strlen(h), label = 0, i;

	if (len == 0)
		return "is empty";
	if (!is_token(h))
		return "must not contain blanks or control characters";
	if (h[0] == '[')
		return allow_literal && h[len - 1] == ']' && len <= 64 ? NULL :
		    "is not a valid address literal";
	if (len > 254 || (len == 254 && h[253] != '.'))
		return "is longer than 253 bytes (RFC 1035)";
	for (i = 0; i < len; i++) {
		if (h[i] == '.') {
			if (label == 0)
				return "has an empty label (\"..\" or a "
				    "leading dot)";
			label = 0;
		} else if (++label > 63)
			return "has a label longer than 63 bytes (RFC 1035)";
		else if (strchr("[]@:/\\\"", h[i]) != NULL)
			return "is not a host name";
	}
	return NULL;
}

static int
is_ip(const char *h)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, h, buf) == 1 ||
	    inet_pton(AF_INET6, h, buf) == 1;
}

static int
parse_port(const char *s, int *port)
{
	char *end;
	long v;

	if (*s == '\0' || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1 || v > 65535)
		return -1;
	*port = (int)v;
	return 0;
}

/* Parse one "host[:port]" or "[addr]:port" of length len into h. */
static int
parse_hub(const char *s, size_t len, struct hub *h, struct err *e)
{
	char buf[512], *host, *port = NULL, *p;

	while (len > 0 && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	if (len == 0 || len >= sizeof(buf))
		return err_set(e, ERR_CONFIG, "empty or overlong mailhub "
		    "entry");
	memcpy(buf, s, len);
	buf[len] = '\0';
	host = buf;
	if (*host == '[') {
		if ((p = strchr(host, ']')) == NULL)
			return err_set(e, ERR_CONFIG, "mailhub \"%s\": "
			    "missing ']'", buf);
		*p++ = '\0';
		host++;
		if (*p == ':')
			port = p + 1;
		else if (*p != '\0')
			return err_set(e, ERR_CONFIG, "mailhub \"%s\": junk "
			    "after ']'", s);
	} else if ((p = strchr(host, ':')) != NULL && strchr(p + 1, ':') == NULL) {
		/* One colon: host:port.  Several: a bare IPv6 address. */
		*p = '\0';
		port = p + 1;
	}
	if (*host == '\0' || !is_token(host) || (!is_ip(host) &&
	    bad_host(host, 0) != NULL))
		return err_set(e, ERR_CONFIG, "Mailhub \"%.*s\": bad host "
		    "name%s%s",
		    (int)(len > 80 ? 80 : len), s, *host && is_token(host) ?
		    ": it " : "", *host && is_token(host) ? bad_host(host, 0) :
		    "");
	h->port = 0;
	if (port != NULL && parse_port(port, &h->port) == -1)
		return err_set(e, ERR_CONFIG, "mailhub \"%.*s\": port \"%s\" "
		    "is not a number from 1 to 65535", (int)len, s, port);
	if ((h->host = strdup(host)) == NULL)
		return err_set(e, ERR_CONFIG, "out of memory");
	return 0;
}

int
conf_parse_hubs(struct config *c, const char *v, struct err *e)
{
	const char *comma;
	size_t len;

	hubs_clear(c);
	for (;;) {
		comma = strchr(v, ',');
		len = comma != NULL ? (size_t)(comma - v) : strlen(v);
		if (c->nhubs == CONF_MAX_HUBS)
			return err_set(e, ERR_CONFIG, "more than %d mailhubs",
			    CONF_MAX_HUBS);
		if (parse_hub(v, len, &c->hubs[c->nhubs], e) == -1)
			return -1;
		c->nhubs++;
		if (comma == NULL)
			return 0;
		v = comma + 1;
	}
}

static int
hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = tolower(ch);
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/* SHA-256 as 64 hex digits, optionally separated by colons. */
static int
parse_fingerprint(const char *v, unsigned char out[32])
{
	size_t n = 0;
	int hi, lo;

	while (*v != '\0') {
		if (*v == ':') {
			v++;
			continue;
		}
		if (n == 32 || (hi = hexval(v[0])) == -1 ||
		    (lo = hexval(v[1])) == -1)
			return -1;
		out[n++] = (unsigned char)(hi << 4 | lo);
		v += 2;
	}
	return n == 32 ? 0 : -1;
}

static int
parse_tls_version(const char *v)
{
	if (strncasecmp(v, "TLSv", 4) == 0)
		v += 4;
	if (strcmp(v, "1.2") == 0)
		return CONF_TLS_1_2;
	if (strcmp(v, "1.3") == 0)
		return CONF_TLS_1_3;
	if (strcmp(v, "1.1") == 0)
		return CONF_TLS_1_1;
	if (strcmp(v, "1.0") == 0 || strcmp(v, "1") == 0)
		return CONF_TLS_1_0;
	return -1;
}

static int
valid_auth_method(const char *v)
{
	static const char *m[] = { "PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2",
	    "OAUTHBEARER" };
	size_t i;

	for (i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		if (strcasecmp(v, m[i]) == 0)
			return 1;
	return 0;
}

/* "Name: value" with a valid field name and no line breaks. */
static int
valid_header(const char *v)
{
	const char *p;

	for (p = v; *p != '\0' && *p != ':'; p++)
		if (*p <= ' ' || *p >= 0x7f)
			return 0;
	if (*p != ':' || p == v)
		return 0;
	for (; *p != '\0'; p++)
		if (*p == '\r' || *p == '\n')
			return 0;
	return 1;
}

struct key;
typedef int setter(struct config *, const struct key *, const char *,
    struct err *);

struct key {
	const char	*name;
	setter		*set;
	size_t		 off;		/* offsetof the field, for the plain ones */
};

#define FIELD(c, k, type)	((type *)(void *)((char *)(c) + (k)->off))

static int
nomem(struct err *e)
{
	return err_set(e, ERR_OSERR, "out of memory");
}

/* A value shown in a message: at most 60 bytes of it. */
#define SHOWN(v)	(int)(strlen(v) > 60 ? 60 : strlen(v)), (v), \
			strlen(v) > 60 ? "..." : ""

static int
set_string(struct config *c, const struct key *k, const char *v, struct err *e)
{
	return set_str(FIELD(c, k, char *), v) == -1 ? nomem(e) : 0;
}

static int
set_bool(struct config *c, const struct key *k, const char *v, struct err *e)
{
	int b;

	if ((b = conf_bool(v)) == -1)
		return err_set(e, ERR_CONFIG, "%s: \"%.*s%s\" is not YES or "
		    "NO", k->name, SHOWN(v));
	*FIELD(c, k, int) = b;
	return 0;
}

/* An absolute path. */
static int
set_path(struct config *c, const struct key *k, const char *v,
    struct err *e)
{
	if (*v != '/')
		return err_set(e, ERR_CONFIG, "%s \"%.*s%s\" must be an "
		    "absolute path", k->name, SHOWN(v));
	return set_string(c, k, v, e);
}

/* Hostname: a name for EHLO and Message-ID, or an address literal. */
static int
set_host(struct config *c, const struct key *k, const char *v, struct err *e)
{
	const char *why;

	if (*v != '\0' && (why = bad_host(v, k->off == F(hostname))) != NULL)
		return err_set(e, ERR_CONFIG, "%s \"%.*s%s\" %s", k->name,
		    SHOWN(v), why);
	return set_string(c, k, v, e);
}

/* Root: where mail for system accounts goes, a name or an address. */
static int
set_root(struct config *c, const struct key *k, const char *v,
    struct err *e)
{
	struct err why;

	if (*v != '\0' && addr_check(v, 0, &why) == -1)
		return err_set(e, ERR_CONFIG, "%s \"%.*s%s\": %s", k->name,
		    SHOWN(v), strlen(v) > ADDR_MAX ? "address longer than 254 "
		    "bytes" : why.msg);
	return set_string(c, k, v, e);
}

static int
set_mailhub(struct config *c, const struct key *k, const char *v, struct err *e)
{
	(void)k;
	return conf_parse_hubs(c, v, e);
}

static int
set_auth_method(struct config *c, const struct key *k, const char *v,
    struct err *e)
{
	char *p;

	(void)k;
	if (*v != '\0' && !valid_auth_method(v))
		return err_set(e, ERR_CONFIG, "AuthMethod \"%.*s%s\" is not "
		    "one of "
		    "PLAIN, LOGIN, CRAM-MD5, XOAUTH2, OAUTHBEARER", SHOWN(v));
	if (set_str(&c->auth_method, v) == -1)
		return nomem(e);
	for (p = c->auth_method; p != NULL && *p != '\0'; p++)
		*p = (char)toupper((unsigned char)*p);
	return 0;
}

static int
set_add_header(struct config *c, const struct key *k, const char *v,
    struct err *e)
{
	(void)k;
	if (!valid_header(v))
		return err_set(e, ERR_CONFIG, "AddHeader \"%.*s%s\" is not a "
		    "\"Name: value\" header", SHOWN(v));
	/* It cannot be folded (no line breaks): one line, RFC 5322 2.1.1. */
	if (strlen(v) > 998)
		return err_set(e, ERR_CONFIG, "AddHeader \"%.20s...\" is "
		    "longer than 998 "
		    "bytes, the longest line a message may have (RFC 5322 "
		    "2.1.1)", v);
	if (c->nadd_headers == CONF_MAX_HEADERS)
		return err_set(e, ERR_CONFIG, "more than %d AddHeader lines",
		    CONF_MAX_HEADERS);
	if ((c->add_headers[c->nadd_headers] = strdup(v)) == NULL)
		return nomem(e);
	c->nadd_headers++;
	return 0;
}

static int
set_fingerprint(struct config *c, const struct key *k, const char *v,
    struct err *e)
{
	(void)k;
	c->has_fingerprint = 0;
	if (*v == '\0')
		return 0;
	if (parse_fingerprint(v, c->tls_fingerprint) == -1)
		return err_set(e, ERR_CONFIG, "TLSFingerprint must be a "
		    "SHA-256 digest: 64 hex digits, colons allowed");
	c->has_fingerprint = 1;
	return 0;
}

static int
set_tls_min(struct config *c, const struct key *k, const char *v, struct err *e)
{
	int ver;

	(void)k;
	if ((ver = parse_tls_version(v)) == -1)
		return err_set(e, ERR_CONFIG, "TLSMinVersion \"%.*s%s\" is "
		    "not 1.0, 1.1, 1.2 or 1.3", SHOWN(v));
	c->tls_min_version = ver;
	return 0;
}

/* A number of seconds from 1 to 86400. */
static int
set_seconds(struct config *c, const struct key *k, const char *v,
    struct err *e)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (*v == '\0' || *end != '\0' || errno != 0 || n < 1 || n > 86400)
		return err_set(e, ERR_CONFIG, "%s \"%.*s%s\" is not a number "
		    "of seconds from 1 to 86400", k->name, SHOWN(v));
	*FIELD(c, k, int) = (int)n;
	return 0;
}

/*
 * A duration: a number with an optional unit, s, m, h or d ("5d",
 * "36h"), from one minute to a year.
 */
static int
set_duration(struct config *c, const struct key *k, const char *v,
    struct err *e)
{
	static const char units[] = "smhd";
	static const long mult[] = { 1, 60, 3600, 86400 };
	const char *u;
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (*end != '\0' && end[1] == '\0' && (u = strchr(units,
	    tolower((unsigned char)*end))) != NULL) {
		if (n > 0 && n <= 366L * 86400 / mult[u - units])
			n *= mult[u - units];
		else
			n = 0;
		end++;
	}
	if (*v == '\0' || !isdigit((unsigned char)*v) || *end != '\0' ||
	    errno != 0 || n < 60 || n > 366L * 86400)
		return err_set(e, ERR_CONFIG, "%s \"%.*s%s\" is not a duration "
		    "from 1 minute to a year (a number of seconds, or with "
		    "m, h or d: 5d)", k->name, SHOWN(v));
	*FIELD(c, k, long) = n;
	return 0;
}

static int
set_dead_letter(struct config *c, const struct key *k, const char *v,
    struct err *e)
{
	(void)k;
	if (conf_bool(v) == 0) {
		c->dead_letter_off = 1;
		return set_str(&c->dead_letter, "") == -1 ? nomem(e) :
		    0;
	}
	if (*v != '/')
		return err_set(e, ERR_CONFIG, "DeadLetter \"%.*s%s\" must be "
		    "an absolute path or NO", SHOWN(v));
	c->dead_letter_off = 0;
	return set_str(&c->dead_letter, v) == -1 ? nomem(e) : 0;
}

static const struct key keys[] = {
	{ "Root",		set_root,		F(root) },
	{ "Mailhub",		set_mailhub,		0 },
	{ "RewriteDomain",	set_host,		F(rewrite_domain) },
	{ "Hostname",		set_host,		F(hostname) },
	{ "FromLineOverride",	set_bool,		F(from_line_override) },
	{ "UseTLS",		set_bool,		F(use_tls) },
	{ "UseSTARTTLS",	set_bool,		F(use_starttls) },
	{ "UseTLSCert",		set_bool,		F(use_tls_cert) },
	{ "TLSCert",		set_string,		F(tls_cert) },
	{ "TLSKey",		set_string,		F(tls_key) },
	{ "TLS_CA_File",	set_string,		F(tls_ca_file) },
	{ "TLS_CA_Dir",		set_string,		F(tls_ca_dir) },
	{ "AuthUser",		set_string,		F(auth_user) },
	{ "AuthPass",		set_string,		F(auth_pass) },
	{ "AuthPassCommand",	set_string,		F(auth_pass_command) },
	{ "AuthMethod",		set_auth_method,	0 },
	{ "AddHeader",		set_add_header,		0 },
	{ "Debug",		set_bool,		F(debug) },
	{ "TLSVerify",		set_bool,		F(tls_verify) },
	{ "TLSFingerprint",	set_fingerprint,	0 },
	{ "TLSMinVersion",	set_tls_min,		0 },
	{ "Timeout",		set_seconds,		F(timeout) },
	{ "DeadLetter",		set_dead_letter,	0 },
	{ "Revaliases",		set_path,		F(revaliases) },
	{ "Aliases",		set_path,		F(aliases_path) },
	{ "UseChunking",	set_bool,		F(use_chunking) },
	{ "IdleTimeout",	set_seconds,		F(idle_timeout) },
	{ "Queue",		set_bool,		F(queue) },
	{ "QueueDir",		set_path,		F(queue_dir) },
	{ "QueueLifetime",	set_duration,		F(queue_lifetime) },
	{ "TLSSessionCache",	set_bool,		F(tls_session_cache) },
};

static const struct key *
find_key(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strlen(keys[i].name) == len &&
		    strncasecmp(name, keys[i].name, len) == 0)
			return &keys[i];
	return NULL;
}

/* Give key k its value, for a config line and a command-line option. */
static int
set_value(struct config *c, const struct key *k, const char *value,
    struct err *e)
{
	if (strlen(value) > CONF_VALUE_MAX)
		return err_set(e, ERR_CONFIG, "value of %s is longer than %d "
		    "bytes", k->name, CONF_VALUE_MAX);
	return k->set(c, k, value, e);
}

int
conf_set(struct config *c, const char *key, const char *value, struct err *e)
{
	const struct key *k;

	if ((k = find_key(key, strlen(key))) == NULL) {
		err_set(e, ERR_CONFIG, "unknown key \"%.*s%s\"", SHOWN(key));
		return 1;
	}
	return set_value(c, k, value, e);
}

int
conf_parse_line(struct config *c, const char *line, struct err *e)
{
	char *val;
	const char *p, *v, *vend;
	size_t klen, vlen;
	const struct key *k;
	int rc;

	for (p = line; isspace((unsigned char)*p); p++)
		;
	if (*p == '\0' || *p == '#')
		return 0;
	/*
	 * The key is the first word.  No message shows anything after it:
	 * the rest of a malformed line may be a password ("AuthPass x").
	 */
	for (klen = 0; p[klen] != '\0' && p[klen] != '=' &&
	    !isspace((unsigned char)p[klen]); klen++)
		;
	k = find_key(p, klen);
	for (v = p + klen; isspace((unsigned char)*v); v++)
		;
	if (*v != '=') {
		if (k != NULL)
			return err_set(e, ERR_CONFIG, "\"%s\": expected "
			    "%s=value", k->name, k->name);
		return err_set(e, ERR_CONFIG, "expected key=value (the line is "
		    "not shown: it may hold a secret)");
	}
	if (klen == 0)
		return err_set(e, ERR_CONFIG, "missing key before '='");
	if (k == NULL) {
		err_set(e, ERR_CONFIG, "unknown key \"%.*s%s\"",
		    (int)(klen > 60 ? 60 : klen), p, klen > 60 ? "..." : "");
		return 1;
	}
	for (v++; isspace((unsigned char)*v); v++)
		;
	/* A '#' after a blank starts a comment; elsewhere it is data. */
	for (vend = v; *vend != '\0'; vend++)
		if (*vend == '#' && vend > v && isspace((unsigned char)vend[-1]))
			break;
	for (vlen = vend - v; vlen > 0 && isspace((unsigned char)v[vlen - 1]);
	    vlen--)
		;
	if ((val = strndup(v, vlen)) == NULL)
		return nomem(e);
	rc = set_value(c, k, val, e);
	explicit_bzero(val, vlen);
	free(val);
	return rc;
}

/*
 * Open a file to read: never blocking (a FIFO with no writer), only a
 * regular file, close-on-exec.  Errors name the file (ERR_CONFIG); a
 * missing file is ENOENT in *eno, for callers that allow it.
 */
static FILE *
open_regular(const char *path, const char *what, int *eno, struct err *e)
{
	struct stat st;
	FILE *fp;
	int fd, fl;

	*eno = 0;
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)) ==
	    -1) {
		*eno = errno;
		err_set(e, ERR_CONFIG, "cannot read %s %s: %s", what, path,
		    strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		err_set(e, ERR_CONFIG, "cannot read %s %s: not a regular file",
		    what, path);
		return NULL;
	}
	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == -1 ||
	    (fp = fdopen(fd, "r")) == NULL) {
		err_set(e, ERR_CONFIG, "cannot read %s %s: %s", what, path,
		    strerror(errno));
		close(fd);
		return NULL;
	}
	return fp;
}

/*
 * Read the next line of fp into *buf, without its line end, never
 * holding more than CONF_LINE_MAX bytes of it.  Returns the line's
 * length, -1 at end of file, -2 when it is longer than CONF_LINE_MAX
 * (the rest of that line is then skipped, unread into memory).
 */
static ssize_t
read_line(FILE *fp, char **buf, size_t *cap)
{
	size_t n = 0, ncap;
	char *p;
	int ch;

	while ((ch = getc_unlocked(fp)) != EOF && ch != '\n') {
		if (n == CONF_LINE_MAX)
			return -2;
		if (n + 1 >= *cap) {
			/* Grown as the line needs, so the wipe stays small. */
			ncap = *cap ? *cap * 2 : 256;
			if (ncap > CONF_LINE_MAX + 1)
				ncap = CONF_LINE_MAX + 1;
			if ((p = realloc(*buf, ncap)) == NULL)
				return -1;
			*buf = p;
			*cap = ncap;
		}
		(*buf)[n++] = (char)ch;
	}
	if (ch == EOF && n == 0)
		return -1;
	while (n > 0 && (*buf)[n - 1] == '\r')
		n--;
	if (*buf == NULL && (*buf = malloc(*cap = 1)) == NULL)
		return -1;
	(*buf)[n] = '\0';
	return (ssize_t)n;
}

int
conf_load(struct config *c, const char *path, struct err *e)
{
	FILE *fp;
	struct stat st;
	char *line = NULL;
	struct err le;
	size_t cap = 0, lineno = 0;
	ssize_t n;
	int r, rc = 0, eno;

	if ((fp = open_regular(path, "configuration", &eno, e)) == NULL)
		return -1;
	free(c->path);
	if ((c->path = strdup(path)) == NULL) {
		fclose(fp);
		return err_set(e, ERR_OSERR, "out of memory");
	}
	while ((n = read_line(fp, &line, &cap)) != -1) {
		lineno++;
		if (n == -2) {
			rc = err_set(e, ERR_CONFIG, "%s:%zu: line too long "
			    "(more "
			    "than %d bytes)", path, lineno, CONF_LINE_MAX);
			break;
		}
		if (strlen(line) != (size_t)n) {
			rc = err_set(e, ERR_CONFIG, "%s:%zu: NUL byte in line",
			    path, lineno);
			break;
		}
		r = conf_parse_line(c, line, &le);
		if (r == -1) {
			rc = err_set(e, le.kind, "%s:%zu: %s", path, lineno,
			    le.msg);
			break;
		}
		if (r == 1)
			fprintf(stderr, "ssmtp: %s:%zu: warning: %s ignored\n",
			    path, lineno, le.msg);
	}
	if (rc == 0 && ferror(fp))
		rc = err_set(e, ERR_CONFIG, "cannot read configuration %s: %s",
		    path, strerror(errno));
	/* msmtp's rule: a password others can read is no secret. */
	if (rc == 0 && c->auth_pass != NULL && fstat(fileno(fp), &st) == 0 &&
	    (st.st_mode & S_IROTH))
		fprintf(stderr, "ssmtp: warning: %s holds AuthPass and can be "
		    "read by every user; make it mode 0640 or 0600\n", path);
	if (line != NULL) {
		explicit_bzero(line, cap);
		free(line);
	}
	fclose(fp);
	return rc;
}

/* Read a whole file (at most max bytes) into b. */
static int
slurp(const char *path, const char *what, size_t max, struct conf_blob *b,
    struct err *e)
{
	FILE *fp;
	size_t n;
	int eno;

	if ((fp = open_regular(path, what, &eno, e)) == NULL)
		return -1;
	if ((b->data = malloc(max + 1)) == NULL) {
		fclose(fp);
		return err_set(e, ERR_OSERR, "out of memory");
	}
	n = fread(b->data, 1, max + 1, fp);
	if (ferror(fp) || n > max) {
		err_set(e, ERR_CONFIG, "cannot read %s %s: %s", what, path,
		    n > max ? "larger than 16 MiB" : strerror(errno));
		fclose(fp);
		conf_blob_free(b);
		return -1;
	}
	fclose(fp);
	b->len = n;
	return 0;
}

void
conf_blob_free(struct conf_blob *b)
{
	if (b->data != NULL) {
		explicit_bzero(b->data, b->len);
		free(b->data);
	}
	b->data = NULL;
	b->len = 0;
}

int
conf_read_tls_files(struct config *c, struct err *e)
{
	if (c->tls_ca_file != NULL && slurp(c->tls_ca_file, "TLS_CA_File",
	    CONF_FILE_MAX, &c->tls_ca_pem, e) == -1)
		return -1;
	if (!c->use_tls_cert)
		return 0;
	if (c->tls_cert == NULL)
		return err_set(e, ERR_CONFIG, "UseTLSCert=YES needs TLSCert");
	if (slurp(c->tls_cert, "TLSCert", CONF_FILE_MAX, &c->tls_cert_pem,
	    e) == -1)
		return -1;
	return slurp(c->tls_key != NULL ? c->tls_key : c->tls_cert, "TLSKey",
	    CONF_FILE_MAX, &c->tls_key_pem, e);
}

#define ALIASES_MAX	10000	/* entries in an aliases file */
#define ALIAS_TO_MAX	1000	/* addresses of one entry */

/* Parse one logical line "name: a, b" of an aliases file into c. */
static int
alias_line(struct config *c, char *line, const char *path, size_t lineno,
    struct err *e)
{
	struct alias *al, *na;
	struct err ae;
	char *colon, *name, *item, *p, **nt;
	size_t i;
	int q;

	if ((colon = strchr(line, ':')) == NULL)
		return err_set(e, ERR_CONFIG, "%s:%zu: expected \"name: "
		    "address, ...\"", path, lineno);
	*colon = '\0';
	for (name = line; isspace((unsigned char)*name); name++)
		;
	for (p = colon; p > name && isspace((unsigned char)p[-1]); p--)
		*(p - 1) = '\0';
	if (*name == '\0' || strpbrk(name, " \t@,\"") != NULL)
		return err_set(e, ERR_CONFIG, "%s:%zu: \"%.60s\" is not a "
		    "local name", path, lineno, name);
	for (i = 0; i < c->naliases; i++)
		if (strcasecmp(c->aliases[i].name, name) == 0)
			return err_set(e, ERR_CONFIG, "%s:%zu: %s is defined "
			    "again (first at line %zu)", path, lineno, name,
			    c->aliases[i].line);
	if (c->naliases == ALIASES_MAX)
		return err_set(e, ERR_CONFIG, "%s: more than %d aliases", path,
		    ALIASES_MAX);
	if ((na = reallocarray(c->aliases, c->naliases + 1,
	    sizeof(*na))) == NULL)
		return err_set(e, ERR_OSERR, "out of memory");
	c->aliases = na;
	al = &c->aliases[c->naliases];
	memset(al, 0, sizeof(*al));
	al->line = lineno;
	if ((al->name = strdup(name)) == NULL)
		return err_set(e, ERR_OSERR, "out of memory");
	c->naliases++;
	/* The items, split at commas outside quotes. */
	for (p = colon + 1; *p != '\0';) {
		for (item = p, q = 0; *p != '\0' && (q || *p != ','); p++)
			if (*p == '"')
				q = !q;
		if (*p == ',')
			*p++ = '\0';
		while (isspace((unsigned char)*item))
			item++;
		for (i = strlen(item); i > 0 &&
		    isspace((unsigned char)item[i - 1]); i--)
			item[i - 1] = '\0';
		if (*item == '\0')
			continue;
		/* Never run a program or write a file for an alias. */
		if (*item == '|' || *item == '/' ||
		    strncasecmp(item, ":include:", 9) == 0 ||
		    (*item == '"' && (item[1] == '|' || item[1] == '/')))
			return err_set(e, ERR_CONFIG, "%s:%zu: alias %s: "
			    "\"%.40s\" (a program, a file or an include) is "
			    "not supported: ssmtp only relays to addresses",
			    path, lineno, name, item);
		if (strchr(item, '@') != NULL && addr_check(item, 0, &ae) == -1)
			return err_set(e, ERR_CONFIG, "%s:%zu: alias %s: %s",
			    path, lineno, name, ae.msg);
		if (al->nto == ALIAS_TO_MAX)
			return err_set(e, ERR_CONFIG, "%s:%zu: alias %s has more "
			    "than %d addresses", path, lineno, name,
			    ALIAS_TO_MAX);
		if ((nt = reallocarray(al->to, al->nto + 1,
		    sizeof(*nt))) == NULL)
			return err_set(e, ERR_OSERR, "out of memory");
		al->to = nt;
		if ((al->to[al->nto] = strdup(item)) == NULL)
			return err_set(e, ERR_OSERR, "out of memory");
		al->nto++;
	}
	if (al->nto == 0)
		return err_set(e, ERR_CONFIG, "%s:%zu: alias %s has no address",
		    path, lineno, name);
	return 0;
}

int
conf_load_aliases(struct config *c, struct err *e)
{
	struct buf logical;
	FILE *fp;
	char *line = NULL;
	size_t cap = 0, lineno = 0, start = 0;
	ssize_t n;
	int rc = 0, eno;

	if (c->aliases_path == NULL)
		return 0;
	if ((fp = open_regular(c->aliases_path, "aliases file", &eno, e)) ==
	    NULL)
		return -1;
	buf_init(&logical, CONF_LINE_MAX);
	for (;;) {
		n = read_line(fp, &line, &cap);
		if (n >= 0)
			lineno++;
		if (n == -2) {
			rc = err_set(e, ERR_CONFIG, "%s:%zu: line too long",
			    c->aliases_path, lineno);
			break;
		}
		/* A line starting with a blank continues the entry. */
		if (n >= 0 && (*line == ' ' || *line == '\t') && logical.len) {
			if (buf_add(&logical, line, n, e) == -1) {
				rc = err_set(e, ERR_CONFIG, "%s:%zu: entry too "
				    "long", c->aliases_path, start);
				break;
			}
			continue;
		}
		if (logical.len > 0 && (rc = alias_line(c, logical.p,
		    c->aliases_path, start, e)) == -1)
			break;
		logical.len = 0;
		if (n < 0)
			break;
		if (line[strspn(line, " \t")] == '\0' || *line == '#')
			continue;
		start = lineno;
		if ((rc = buf_add(&logical, line, n, e)) == -1)
			break;
	}
	buf_free(&logical, 0);
	free(line);
	fclose(fp);
	return rc;
}

const struct alias *
conf_alias(const struct config *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->naliases; i++)
		if (strcasecmp(c->aliases[i].name, name) == 0)
			return &c->aliases[i];
	return NULL;
}

int
conf_revalias(const char *path, const char *user, char **from,
    struct hub *hub, struct err *e)
{
	FILE *fp;
	char *line = NULL, *p, *colon, *end;
	struct err he;
	size_t cap = 0, lineno = 0, ulen = strlen(user);
	ssize_t n;
	int rc = 0, eno;

	*from = NULL;
	hub->host = NULL;
	hub->port = 0;
	if ((fp = open_regular(path, "revaliases", &eno, e)) == NULL)
		return eno == ENOENT ? 0 : -1;
	while (rc == 0 && (n = read_line(fp, &line, &cap)) != -1) {
		lineno++;
		if (n == -2) {
			rc = err_set(e, ERR_CONFIG, "%s:%zu: line too long",
			    path, lineno);
			break;
		}
		for (p = line; isspace((unsigned char)*p); p++)
			;
		if (*p == '\0' || *p == '#')
			continue;
		if ((end = strchr(p, '#')) != NULL)
			*end = '\0';
		if ((colon = strchr(p, ':')) == NULL) {
			rc = err_set(e, ERR_CONFIG, "%s:%zu: expected "
			    "user:address[:mailhub[:port]]", path, lineno);
			break;
		}
		if ((size_t)(colon - p) != ulen || strncmp(p, user, ulen) != 0)
			continue;
		p = colon + 1;
		while (isspace((unsigned char)*p))
			p++;
		colon = strchr(p, ':');
		end = colon != NULL ? colon : p + strlen(p);
		while (end > p && isspace((unsigned char)end[-1]))
			end--;
		if (end == p) {
			rc = err_set(e, ERR_CONFIG, "%s:%zu: no address for "
			    "user %s", path, lineno, user);
			break;
		}
		if ((*from = strndup(p, end - p)) == NULL) {
			rc = err_set(e, ERR_OSERR, "out of memory");
			break;
		}
		if (colon != NULL && parse_hub(colon + 1, strlen(colon + 1),
		    hub, &he) == -1) {
			free(*from);
			*from = NULL;
			rc = err_set(e, ERR_CONFIG, "%s:%zu: %s", path, lineno,
			    he.msg);
			break;
		}
		rc = 1;
	}
	if (line != NULL) {
		explicit_bzero(line, cap);
		free(line);
	}
	fclose(fp);
	return rc;
}
