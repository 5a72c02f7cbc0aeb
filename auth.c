/* SASL client mechanisms over SMTP AUTH (RFC 4954). */
#include <sys/types.h>
#include <sys/wait.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth.h"
#include "log.h"

#define SECRET_MAX	8192	/* passwords and OAuth2 tokens */
#define ARGV_MAX	64

void
auth_secret_free(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* Split a command line on blanks; "..." and '...' quote. No shell. */
static int
split_args(char *s, char **argv, size_t max)
{
	size_t n = 0;
	char *o, q;

	while (*s != '\0') {
		while (isspace((unsigned char)*s))
			s++;
		if (*s == '\0')
			break;
		if (n + 1 == max)
			return -1;
		argv[n++] = o = s;
		while (*s != '\0' && !isspace((unsigned char)*s)) {
			if (*s == '"' || *s == '\'') {
				q = *s++;
				while (*s != '\0' && *s != q)
					*o++ = *s++;
				if (*s != q)
					return -1;
				s++;
			} else
				*o++ = *s++;
		}
		if (*s != '\0')
			s++;
		*o = '\0';
	}
	argv[n] = NULL;
	return n > 0 ? 0 : -1;
}

/* Run AuthPassCommand and keep the first line of its output. */
static int
run_pass_command(const char *cmd, char **secret, struct err *e)
{
	char *copy, *argv[ARGV_MAX], *buf = NULL, *nl;
	size_t len = 0;
	ssize_t r;
	pid_t pid;
	int fds[2], status;

	if ((copy = strdup(cmd)) == NULL)
		return err_set(e, ERR_OSERR, "out of memory");
	if (split_args(copy, argv, ARGV_MAX) == -1) {
		free(copy);
		return err_set(e, ERR_CONFIG, "AuthPassCommand: cannot split "
		    "\"%s\" into words (unbalanced quote?)", cmd);
	}
	if (pipe2(fds, O_CLOEXEC) == -1 || (buf = malloc(SECRET_MAX)) == NULL) {
		free(copy);
		free(buf);
		return err_set(e, ERR_OSERR, "AuthPassCommand: %s",
		    strerror(errno));
	}
	if ((pid = fork()) == -1) {
		free(copy);
		free(buf);
		close(fds[0]);
		close(fds[1]);
		return err_set(e, ERR_OSERR, "fork: %s", strerror(errno));
	}
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		execvp(argv[0], argv);
		fprintf(stderr, "ssmtp: AuthPassCommand: cannot run %s: %s\n",
		    argv[0], strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	while (len < SECRET_MAX - 1) {
		r = read(fds[0], buf + len, SECRET_MAX - 1 - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += r;
	}
	close(fds[0]);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	buf[len] = '\0';
	if ((nl = strpbrk(buf, "\r\n")) != NULL)
		*nl = '\0';
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || *buf == '\0') {
		explicit_bzero(buf, SECRET_MAX);
		free(buf);
		err_set(e, ERR_CONFIG, "AuthPassCommand \"%s\" %s", argv[0],
		    !WIFEXITED(status) ? "was killed by a signal" :
		    WEXITSTATUS(status) != 0 ? "failed" :
		    "printed no password");
		free(copy);
		return -1;
	}
	free(copy);
	*secret = strdup(buf);
	explicit_bzero(buf, SECRET_MAX);
	free(buf);
	if (*secret == NULL)
		return err_set(e, ERR_OSERR, "out of memory");
	return 0;
}

int
auth_secret(const struct config *c, char **secret, struct err *e)
{
	*secret = NULL;
	if (c->auth_pass != NULL) {
		if ((*secret = strdup(c->auth_pass)) == NULL)
			return err_set(e, ERR_OSERR, "out of memory");
		return 0;
	}
	if (c->auth_pass_command != NULL)
		return run_pass_command(c->auth_pass_command, secret, e);
	return err_set(e, ERR_CONFIG, "AuthUser is set but neither AuthPass "
	    "nor AuthPassCommand is");
}

static int
offered(const char *list, const char *mech)
{
	size_t n = strlen(mech);
	const char *p = list;

	while ((p = strcasestr(p, mech)) != NULL) {
		if ((p == list || p[-1] == ' ') && (p[n] == '\0' ||
		    p[n] == ' '))
			return 1;
		p += n;
	}
	return 0;
}

const char *
auth_choose(const char *list, const char *forced, int tls, struct err *e)
{
	/* PLAIN costs one round trip and TLS already protects it. */
	static const char *with_tls[] = { "PLAIN", "CRAM-MD5", "LOGIN" };
	static const char *clear[] = { "CRAM-MD5", "PLAIN", "LOGIN" };
	const char **order = tls ? with_tls : clear;
	size_t i;

	if (forced != NULL) {
		if (offered(list, forced))
			return forced;
		err_set(e, ERR_UNAVAILABLE, "AuthMethod=%s, but the hub offers "
		    "only: %s", forced, *list ? list : "no AUTH");
		return NULL;
	}
	for (i = 0; i < 3; i++)
		if (offered(list, order[i]))
			return order[i];
	err_set(e, ERR_UNAVAILABLE, "no supported AUTH mechanism (the hub "
	    "offers: %s)", *list ? list : "none");
	return NULL;
}

/* Base64 of n bytes into a new string. */
static char *
b64(const void *p, size_t n)
{
	char *out;

	if ((out = malloc(4 * ((n + 2) / 3) + 1)) == NULL)
		return NULL;
	EVP_EncodeBlock((unsigned char *)out, p, (int)n);
	return out;
}

/* Decode base64 into out (size >= 3/4 of len + 1); returns length or -1. */
static int
unb64(const char *in, size_t len, unsigned char *out)
{
	int n, pad = 0;

	if (len % 4 != 0)
		return -1;
	if ((n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len)) ==
	    -1)
		return -1;
	/* EVP_DecodeBlock counts the padding as zero bytes. */
	if (len >= 1 && in[len - 1] == '=')
		pad++;
	if (len >= 2 && in[len - 2] == '=')
		pad++;
	n -= pad;
	out[n] = '\0';
	return n;
}

static void
wipe_free(char *p, size_t n)
{
	if (p != NULL) {
		explicit_bzero(p, n);
		free(p);
	}
}

/* Judge the final reply to AUTH. */
static int
auth_result(struct smtp *s, const struct reply *r, const char *mech,
    struct err *e)
{
	char step[64];

	if (r->code == 235) {
		log_info("authenticated with %s", mech);
		return 0;
	}
	snprintf(step, sizeof(step), "AUTH %s", mech);
	return smtp_reply_error(s, r, step, ERR_NOPERM, e);
}

static int
auth_plain(struct smtp *s, const char *user, const char *pass, struct err *e)
{
	size_t ul = strlen(user), pl = strlen(pass), n = ul + pl + 2;
	struct reply r;
	char *raw, *enc;
	int rc;

	if ((raw = malloc(n)) == NULL)
		return err_set(e, ERR_OSERR, "out of memory");
	/* RFC 4616: authzid NUL authcid NUL passwd, authzid empty. */
	raw[0] = '\0';
	memcpy(raw + 1, user, ul);
	raw[1 + ul] = '\0';
	memcpy(raw + 2 + ul, pass, pl);
	enc = b64(raw, n);
	wipe_free(raw, n);
	if (enc == NULL)
		return err_set(e, ERR_OSERR, "out of memory");
	rc = smtp_command(s, &r, smtp_timeout(s, TO_COMMAND), 11, e,
	    "AUTH PLAIN %s", enc);
	wipe_free(enc, strlen(enc));
	if (rc == -1)
		return -1;
	if (r.code == 334) {
		/* A hub that ignored the initial response: cancel. */
		smtp_command(s, &r, smtp_timeout(s, TO_COMMAND), -1, e, "*");
		return err_set(e, ERR_PROTOCOL, "%s: AUTH PLAIN: the hub "
		    "asked again for credentials already sent", s->host);
	}
	return auth_result(s, &r, "PLAIN", e);
}

/* Send one base64 line of a SASL exchange (hidden in the transcript). */
static int
send_b64(struct smtp *s, struct reply *r, const void *p, size_t n,
    struct err *e)
{
	char *enc;
	int rc;

	if ((enc = b64(p, n)) == NULL)
		return err_set(e, ERR_OSERR, "out of memory");
	rc = smtp_command(s, r, smtp_timeout(s, TO_COMMAND), 0, e, "%s", enc);
	wipe_free(enc, strlen(enc));
	return rc;
}

static int
auth_login_mech(struct smtp *s, const char *user, const char *pass,
    struct err *e)
{
	struct reply r;
	int to = smtp_timeout(s, TO_COMMAND);

	if (smtp_command(s, &r, to, -1, e, "AUTH LOGIN") == -1)
		return -1;
	if (r.code != 334)
		return auth_result(s, &r, "LOGIN", e);
	if (send_b64(s, &r, user, strlen(user), e) == -1)
		return -1;
	if (r.code != 334)
		return auth_result(s, &r, "LOGIN", e);
	if (send_b64(s, &r, pass, strlen(pass), e) == -1)
		return -1;
	return auth_result(s, &r, "LOGIN", e);
}

static int
auth_cram_md5(struct smtp *s, const char *user, const char *pass,
    struct err *e)
{
	unsigned char chal[1024], mac[EVP_MAX_MD_SIZE];
	char resp[600];
	unsigned int maclen = 0, i;
	struct reply r;
	int clen, n;

	if (smtp_command(s, &r, smtp_timeout(s, TO_COMMAND), -1, e,
	    "AUTH CRAM-MD5") == -1)
		return -1;
	if (r.code != 334)
		return auth_result(s, &r, "CRAM-MD5", e);
	if (r.textlen > 4 * (sizeof(chal) - 1) / 3 ||
	    (clen = unb64(r.text, r.textlen, chal)) == -1)
		return err_set(e, ERR_PROTOCOL, "%s: AUTH CRAM-MD5: bad "
		    "challenge", s->host);
	/* RFC 2195 2: user SP hex(HMAC-MD5(password, challenge)). */
	if (HMAC(EVP_md5(), pass, (int)strlen(pass), chal, clen, mac,
	    &maclen) == NULL)
		return err_set(e, ERR_SOFTWARE, "HMAC-MD5 failed");
	n = snprintf(resp, sizeof(resp), "%s ", user);
	for (i = 0; i < maclen && n + 3 < (int)sizeof(resp); i++)
		n += snprintf(resp + n, sizeof(resp) - n, "%02x", mac[i]);
	explicit_bzero(mac, sizeof(mac));
	if (send_b64(s, &r, resp, n, e) == -1)
		return -1;
	return auth_result(s, &r, "CRAM-MD5", e);
}

static int
auth_oauth(struct smtp *s, const char *mech, const char *user,
    const char *token, struct err *e)
{
	struct reply r;
	char *raw, *enc;
	size_t n = strlen(user) + strlen(token) + 64 + strlen(s->host);
	int rc, len;

	if ((raw = malloc(n)) == NULL)
		return err_set(e, ERR_OSERR, "out of memory");
	if (strcmp(mech, "XOAUTH2") == 0)
		len = snprintf(raw, n, "user=%s\001auth=Bearer %s\001\001",
		    user, token);
	else	/* RFC 7628 3.1 */
		len = snprintf(raw, n, "n,a=%s,\001host=%s\001port=%d\001"
		    "auth=Bearer %s\001\001", user, s->host, s->port, token);
	enc = b64(raw, len);
	wipe_free(raw, n);
	if (enc == NULL)
		return err_set(e, ERR_OSERR, "out of memory");
	rc = smtp_command(s, &r, smtp_timeout(s, TO_COMMAND),
	    (int)strlen(mech) + 6, e, "AUTH %s %s", mech, enc);
	wipe_free(enc, strlen(enc));
	if (rc == -1)
		return -1;
	if (r.code == 334) {
		/* The error details come as a challenge; end the exchange. */
		if (smtp_command(s, &r, smtp_timeout(s, TO_COMMAND), -1, e,
		    "%s", strcmp(mech, "XOAUTH2") == 0 ? "" : "AQ==") == -1)
			return -1;
	}
	return auth_result(s, &r, mech, e);
}

int
auth_login(struct smtp *s, const struct config *c, struct err *e)
{
	const char *mech;
	char *secret = NULL;
	int rc;

	if (!s->tls && !s->net.loopback)
		return err_set(e, ERR_UNAVAILABLE, "%s: refusing to send the "
		    "password over a connection without TLS (set "
		    "UseSTARTTLS=YES or UseTLS=YES, or use a hub that offers "
		    "STARTTLS)", s->host);
	if (!(s->caps & CAP_AUTH))
		return err_set(e, ERR_UNAVAILABLE, "%s: AuthUser is set but "
		    "the hub offers no AUTH%s", s->host, s->tls ? "" :
		    " (some hubs offer it only after STARTTLS)");
	if ((mech = auth_choose(s->auth_mechs, c->auth_method, s->tls, e)) ==
	    NULL) {
		err_prefix(e, ": ");
		err_prefix(e, s->host);
		return -1;
	}
	if (auth_secret(c, &secret, e) == -1)
		return -1;
	if (strcmp(mech, "PLAIN") == 0)
		rc = auth_plain(s, c->auth_user, secret, e);
	else if (strcmp(mech, "LOGIN") == 0)
		rc = auth_login_mech(s, c->auth_user, secret, e);
	else if (strcmp(mech, "CRAM-MD5") == 0)
		rc = auth_cram_md5(s, c->auth_user, secret, e);
	else
		rc = auth_oauth(s, mech, c->auth_user, secret, e);
	auth_secret_free(secret);
	return rc;
}
