/*
 * ssmtp.conf and revaliases.  The format is sSMTP 2.64's: one key=value per
 * line, keys case-insensitive, '#' starting a comment.  Unlike sSMTP, a
 * value may hold blanks and '=', and '#' only starts a comment at the start
 * of a line or after a blank, so passwords with '#' in them survive.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/ssl.h>

#include "config.h"

#define CONF_LINE_MAX	65536

void
conf_init(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->use_starttls = CONF_UNSET;
	c->tls_verify = 1;
	c->tls_min_version = TLS1_2_VERSION;
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
	size_t i;

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
parse_hub(const char *s, size_t len, struct hub *h, char *msg, size_t msgsz)
{
	char buf[512], *host, *port = NULL, *p;

	while (len > 0 && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	if (len == 0 || len >= sizeof(buf)) {
		snprintf(msg, msgsz, "empty or overlong mailhub entry");
		return -1;
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	host = buf;
	if (*host == '[') {
		if ((p = strchr(host, ']')) == NULL) {
			snprintf(msg, msgsz, "mailhub \"%s\": missing ']'", buf);
			return -1;
		}
		*p++ = '\0';
		host++;
		if (*p == ':')
			port = p + 1;
		else if (*p != '\0') {
			snprintf(msg, msgsz, "mailhub \"%s\": junk after ']'",
			    s);
			return -1;
		}
	} else if ((p = strchr(host, ':')) != NULL && strchr(p + 1, ':') == NULL) {
		/* One colon: host:port.  Several: a bare IPv6 address. */
		*p = '\0';
		port = p + 1;
	}
	if (*host == '\0' || !is_token(host) || strlen(host) > 255) {
		snprintf(msg, msgsz, "mailhub \"%.*s\": bad host name",
		    (int)len, s);
		return -1;
	}
	h->port = 0;
	if (port != NULL && parse_port(port, &h->port) == -1) {
		snprintf(msg, msgsz, "mailhub \"%.*s\": port \"%s\" is not a "
		    "number from 1 to 65535", (int)len, s, port);
		return -1;
	}
	if ((h->host = strdup(host)) == NULL) {
		snprintf(msg, msgsz, "out of memory");
		return -1;
	}
	return 0;
}

int
conf_parse_hubs(struct config *c, const char *v, char *msg, size_t msgsz)
{
	const char *comma;
	size_t len;

	hubs_clear(c);
	for (;;) {
		comma = strchr(v, ',');
		len = comma != NULL ? (size_t)(comma - v) : strlen(v);
		if (c->nhubs == CONF_MAX_HUBS) {
			snprintf(msg, msgsz, "more than %d mailhubs",
			    CONF_MAX_HUBS);
			return -1;
		}
		if (parse_hub(v, len, &c->hubs[c->nhubs], msg, msgsz) == -1)
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
		return TLS1_2_VERSION;
	if (strcmp(v, "1.3") == 0)
		return TLS1_3_VERSION;
	if (strcmp(v, "1.1") == 0)
		return TLS1_1_VERSION;
	if (strcmp(v, "1.0") == 0 || strcmp(v, "1") == 0)
		return TLS1_VERSION;
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

enum key_type { K_STR, K_HOSTISH, K_BOOL, K_SPECIAL };

struct key {
	const char	*name;
	enum key_type	 type;
	size_t		 off;		/* offsetof the field */
};

#define F(x)	offsetof(struct config, x)
static const struct key keys[] = {
	{ "Root",		K_HOSTISH,	F(root) },
	{ "Mailhub",		K_SPECIAL,	0 },
	{ "RewriteDomain",	K_HOSTISH,	F(rewrite_domain) },
	{ "Hostname",		K_HOSTISH,	F(hostname) },
	{ "FromLineOverride",	K_BOOL,		F(from_line_override) },
	{ "UseTLS",		K_BOOL,		F(use_tls) },
	{ "UseSTARTTLS",	K_BOOL,		F(use_starttls) },
	{ "UseTLSCert",		K_BOOL,		F(use_tls_cert) },
	{ "TLSCert",		K_STR,		F(tls_cert) },
	{ "TLSKey",		K_STR,		F(tls_key) },
	{ "TLS_CA_File",	K_STR,		F(tls_ca_file) },
	{ "TLS_CA_Dir",		K_STR,		F(tls_ca_dir) },
	{ "AuthUser",		K_STR,		F(auth_user) },
	{ "AuthPass",		K_STR,		F(auth_pass) },
	{ "AuthPassCommand",	K_STR,		F(auth_pass_command) },
	{ "AuthMethod",		K_SPECIAL,	0 },
	{ "AddHeader",		K_SPECIAL,	0 },
	{ "Debug",		K_BOOL,		F(debug) },
	{ "TLSVerify",		K_BOOL,		F(tls_verify) },
	{ "TLSFingerprint",	K_SPECIAL,	0 },
	{ "TLSMinVersion",	K_SPECIAL,	0 },
	{ "Timeout",		K_SPECIAL,	0 },
	{ "DeadLetter",		K_SPECIAL,	0 },
};
#undef F

static int
set_special(struct config *c, const char *k, const char *v, char *msg,
    size_t msgsz)
{
	char *end;
	long n;

	if (strcasecmp(k, "Mailhub") == 0)
		return conf_parse_hubs(c, v, msg, msgsz);
	if (strcasecmp(k, "AuthMethod") == 0) {
		if (*v != '\0' && !valid_auth_method(v)) {
			snprintf(msg, msgsz, "AuthMethod \"%s\" is not one of "
			    "PLAIN, LOGIN, CRAM-MD5, XOAUTH2, OAUTHBEARER", v);
			return -1;
		}
		if (set_str(&c->auth_method, v) == -1)
			goto nomem;
		for (end = c->auth_method; end != NULL && *end != '\0'; end++)
			*end = (char)toupper((unsigned char)*end);
		return 0;
	}
	if (strcasecmp(k, "AddHeader") == 0) {
		if (!valid_header(v)) {
			snprintf(msg, msgsz, "AddHeader \"%s\" is not a "
			    "\"Name: value\" header", v);
			return -1;
		}
		if (c->nadd_headers == CONF_MAX_HEADERS) {
			snprintf(msg, msgsz, "more than %d AddHeader lines",
			    CONF_MAX_HEADERS);
			return -1;
		}
		if ((c->add_headers[c->nadd_headers] = strdup(v)) == NULL)
			goto nomem;
		c->nadd_headers++;
		return 0;
	}
	if (strcasecmp(k, "TLSFingerprint") == 0) {
		c->has_fingerprint = 0;
		if (*v == '\0')
			return 0;
		if (parse_fingerprint(v, c->tls_fingerprint) == -1) {
			snprintf(msg, msgsz, "TLSFingerprint must be a SHA-256 "
			    "digest: 64 hex digits, colons allowed");
			return -1;
		}
		c->has_fingerprint = 1;
		return 0;
	}
	if (strcasecmp(k, "TLSMinVersion") == 0) {
		if ((c->tls_min_version = parse_tls_version(v)) == -1) {
			snprintf(msg, msgsz, "TLSMinVersion \"%s\" is not 1.0, "
			    "1.1, 1.2 or 1.3", v);
			return -1;
		}
		return 0;
	}
	if (strcasecmp(k, "Timeout") == 0) {
		errno = 0;
		n = strtol(v, &end, 10);
		if (*v == '\0' || *end != '\0' || errno != 0 || n < 1 ||
		    n > 86400) {
			snprintf(msg, msgsz, "Timeout \"%s\" is not a number of "
			    "seconds from 1 to 86400", v);
			return -1;
		}
		c->timeout = (int)n;
		return 0;
	}
	/* DeadLetter */
	if (conf_bool(v) == 0) {
		c->dead_letter_off = 1;
		return set_str(&c->dead_letter, "");
	}
	if (*v != '/') {
		snprintf(msg, msgsz, "DeadLetter \"%s\" must be an absolute "
		    "path or NO", v);
		return -1;
	}
	c->dead_letter_off = 0;
	if (set_str(&c->dead_letter, v) == -1)
		goto nomem;
	return 0;
nomem:
	snprintf(msg, msgsz, "out of memory");
	return -1;
}

int
conf_parse_line(struct config *c, const char *line, char *msg, size_t msgsz)
{
	char key[64], val[4096];
	const char *p, *eq, *vend;
	size_t klen, vlen;
	const struct key *k = NULL;
	size_t i;
	int b;

	for (p = line; isspace((unsigned char)*p); p++)
		;
	if (*p == '\0' || *p == '#')
		return 0;
	if ((eq = strchr(p, '=')) == NULL) {
		snprintf(msg, msgsz, "expected key=value, got \"%.60s\"", p);
		return -1;
	}
	for (klen = eq - p; klen > 0 && isspace((unsigned char)p[klen - 1]);
	    klen--)
		;
	if (klen == 0 || klen >= sizeof(key)) {
		snprintf(msg, msgsz, "missing or overlong key before '='");
		return -1;
	}
	memcpy(key, p, klen);
	key[klen] = '\0';
	for (p = eq + 1; isspace((unsigned char)*p); p++)
		;
	/* A '#' after a blank starts a comment; elsewhere it is data. */
	for (vend = p; *vend != '\0'; vend++)
		if (*vend == '#' && vend > p && isspace((unsigned char)vend[-1]))
			break;
	for (vlen = vend - p; vlen > 0 && isspace((unsigned char)p[vlen - 1]);
	    vlen--)
		;
	if (vlen >= sizeof(val)) {
		snprintf(msg, msgsz, "value of %s is longer than %zu bytes",
		    key, sizeof(val) - 1);
		return -1;
	}
	memcpy(val, p, vlen);
	val[vlen] = '\0';

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcasecmp(key, keys[i].name) == 0)
			k = &keys[i];
	if (k == NULL)
		return 1;

	switch (k->type) {
	case K_BOOL:
		if ((b = conf_bool(val)) == -1) {
			snprintf(msg, msgsz, "%s: \"%s\" is not YES or NO",
			    k->name, val);
			explicit_bzero(val, sizeof(val));
			return -1;
		}
		*(int *)((char *)c + k->off) = b;
		return 0;
	case K_HOSTISH:
		if (!is_token(val)) {
			snprintf(msg, msgsz, "%s: \"%s\" must not contain "
			    "blanks or control characters", k->name, val);
			return -1;
		}
		/* FALLTHROUGH */
	case K_STR:
		if (set_str((char **)((char *)c + k->off), val) == -1) {
			snprintf(msg, msgsz, "out of memory");
			explicit_bzero(val, sizeof(val));
			return -1;
		}
		explicit_bzero(val, sizeof(val));
		return 0;
	case K_SPECIAL:
		return set_special(c, k->name, val, msg, msgsz);
	}
	return 0;
}

/*
 * Read the next line of fp into *buf, without its line end.  Returns the
 * line's length, -1 at end of file, -2 when it is longer than CONF_LINE_MAX.
 */
static ssize_t
read_line(FILE *fp, char **buf, size_t *cap)
{
	ssize_t n;

	if ((n = getline(buf, cap, fp)) == -1)
		return -1;
	if (n > CONF_LINE_MAX)
		return -2;
	while (n > 0 && ((*buf)[n - 1] == '\n' || (*buf)[n - 1] == '\r'))
		(*buf)[--n] = '\0';
	return n;
}

int
conf_load(struct config *c, const char *path, struct err *e)
{
	FILE *fp;
	struct stat st;
	char *line = NULL, msg[512];
	size_t cap = 0, lineno = 0;
	ssize_t n;
	int r, rc = 0;

	if ((fp = fopen(path, "r")) == NULL)
		return err_set(e, ERR_CONFIG, "cannot read configuration %s: "
		    "%s", path, strerror(errno));
	free(c->path);
	if ((c->path = strdup(path)) == NULL) {
		fclose(fp);
		return err_set(e, ERR_OSERR, "out of memory");
	}
	while ((n = read_line(fp, &line, &cap)) != -1) {
		lineno++;
		if (n == -2) {
			rc = err_set(e, ERR_CONFIG, "%s:%zu: line longer than "
			    "%d bytes", path, lineno, CONF_LINE_MAX);
			break;
		}
		if (strlen(line) != (size_t)n) {
			rc = err_set(e, ERR_CONFIG, "%s:%zu: NUL byte in line",
			    path, lineno);
			break;
		}
		r = conf_parse_line(c, line, msg, sizeof(msg));
		if (r == -1) {
			rc = err_set(e, ERR_CONFIG, "%s:%zu: %s", path, lineno,
			    msg);
			break;
		}
		if (r == 1) {
			char *eq = strchr(line, '=');

			fprintf(stderr, "ssmtp: %s:%zu: warning: unknown key "
			    "\"%.*s\" ignored\n", path, lineno,
			    (int)(eq - line), line);
		}
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

int
conf_revalias(const char *path, const char *user, char **from,
    struct hub *hub, struct err *e)
{
	FILE *fp;
	char *line = NULL, *p, *colon, *end, msg[256];
	size_t cap = 0, lineno = 0, ulen = strlen(user);
	ssize_t n;
	int rc = 0;

	*from = NULL;
	hub->host = NULL;
	hub->port = 0;
	if ((fp = fopen(path, "r")) == NULL) {
		if (errno == ENOENT)
			return 0;
		return err_set(e, ERR_CONFIG, "cannot read %s: %s", path,
		    strerror(errno));
	}
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
		    hub, msg, sizeof(msg)) == -1) {
			free(*from);
			*from = NULL;
			rc = err_set(e, ERR_CONFIG, "%s:%zu: %s", path, lineno,
			    msg);
			break;
		}
		rc = 1;
	}
	free(line);
	fclose(fp);
	return rc;
}
