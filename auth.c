/* SASL client mechanisms over SMTP AUTH (RFC 4954). */
#include <sys/types.h>
#include <sys/wait.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth.h"
#include "log.h"
#include "smtp.h"

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

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The helper's side of the fork: a clean start, then exec. */
static void
exec_helper(char **argv, int out)
{
	sigset_t none;
	int fd;

	/* Its own process group, so that a timeout can end all of it. */
	setpgid(0, 0);
	/* Default dispositions and no blocked signals (ssmtp ignores SIGPIPE). */
	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Not the caller's stdin: that held the message. */
	if ((fd = open("/dev/null", O_RDONLY)) != -1 && fd != STDIN_FILENO) {
		dup2(fd, STDIN_FILENO);
		close(fd);
	}
	/* dup2 clears close-on-exec on stdout; every other fd has it set. */
	dup2(out, STDOUT_FILENO);
	execvp(argv[0], argv);
	fprintf(stderr, "ssmtp: AuthPassCommand: cannot run %s: %s\n",
	    argv[0], strerror(errno));
	_exit(127);
}

/*
 * Wait for pid until the deadline.  Returns 1 with *status when it
 * exited, 0 when it is still running at the deadline.
 */
static int
wait_until(pid_t pid, long long deadline, int *status)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	pid_t r;

	for (;;) {
		r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return 1;
		if (r == -1 && errno != EINTR)
			return 1;	/* not ours to wait for: treat as gone */
		if (now_ms() >= deadline)
			return 0;
		nanosleep(&ts, NULL);
	}
}

/* End the helper and everything it started, and reap it. */
static void
kill_helper(pid_t pid)
{
	int status;

	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
}

/*
 * Read from fd until the buffer holds a line end, end of file, or the
 * deadline.  Returns 1 for a line end, 0 for end of file or a full
 * buffer, -1 at the deadline.
 */
static int
read_first_line(int fd, char *buf, size_t size, size_t *len,
    long long deadline)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	long long left;
	ssize_t r;

	while (*len < size - 1) {
		if (memchr(buf, '\n', *len) != NULL)
			return 1;
		if ((left = deadline - now_ms()) <= 0)
			return -1;
		if (poll(&pfd, 1, left > 1000 ? 1000 : (int)left) <= 0)
			continue;
		r = read(fd, buf + *len, size - 1 - *len);
		if (r == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0)
			return 0;
		*len += r;
	}
	return memchr(buf, '\n', *len) != NULL;
}

/* Read and drop what the helper still prints, until EOF or the deadline. */
static void
drain(int fd, long long deadline)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	char junk[4096];
	long long left;
	ssize_t r;

	while ((left = deadline - now_ms()) > 0) {
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		r = read(fd, junk, sizeof(junk));
		if (r == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0)
			return;
	}
}

/*
 * Run AuthPassCommand and keep the first line of its output.  The helper
 * gets timeout seconds for that line (ERR_TEMPFAIL after them: a pinentry
 * nobody answers); once the line is in, it may go on printing (that is
 * read and dropped) for a second more, then it is ended and the line
 * used.  A helper that exits non-zero, or prints nothing, is ERR_CONFIG.
 */
static int
run_pass_command(const char *cmd, int timeout, char **secret, struct err *e)
{
	char *copy, *argv[ARGV_MAX], *buf = NULL, *nl;
	long long deadline = now_ms() + (long long)timeout * 1000, grace;
	size_t len = 0;
	pid_t pid;
	int fds[2], status = 0, got, exited, rc = -1;

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
		err_set(e, ERR_OSERR, "fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		goto done;
	}
	if (pid == 0)
		exec_helper(argv, fds[1]);
	setpgid(pid, pid);	/* also here: no race with the kill below */
	close(fds[1]);
	got = read_first_line(fds[0], buf, SECRET_MAX, &len, deadline);
	if (got == -1) {
		close(fds[0]);
		kill_helper(pid);
		err_set(e, ERR_TEMPFAIL, "AuthPassCommand \"%s\" timed out "
		    "after %d s without printing a line", argv[0], timeout);
		goto done;
	}
	if (got == 1) {
		/* The line is in: a second for the rest, then it ends. */
		grace = now_ms() + 1000;
		drain(fds[0], grace < deadline ? grace : deadline);
		exited = wait_until(pid, grace < deadline ? grace : deadline,
		    &status);
	} else
		exited = wait_until(pid, deadline, &status);
	close(fds[0]);
	if (!exited) {
		kill_helper(pid);
		if (got != 1) {
			err_set(e, ERR_TEMPFAIL, "AuthPassCommand \"%s\" timed "
			    "out after %d s", argv[0], timeout);
			goto done;
		}
		status = 0;	/* ended by us after its line: use it */
	} else
		kill(-pid, SIGKILL);	/* what it left behind in its group */
	buf[len] = '\0';
	if ((nl = strpbrk(buf, "\r\n")) != NULL)
		*nl = '\0';
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || *buf == '\0' ||
	    (got == 0 && len == SECRET_MAX - 1)) {
		err_set(e, ERR_CONFIG, "AuthPassCommand \"%s\" %s", argv[0],
		    !WIFEXITED(status) ? "was killed by a signal" :
		    WEXITSTATUS(status) != 0 ? "failed" :
		    *buf == '\0' ? "printed no password" :
		    "printed a first line longer than 8 KiB");
		goto done;
	}
	if ((*secret = strdup(buf)) == NULL)
		err_set(e, ERR_OSERR, "out of memory");
	else
		rc = 0;
done:
	explicit_bzero(buf, SECRET_MAX);
	free(buf);
	free(copy);
	return rc;
}

int
auth_secret(const struct config *c, int timeout, char **secret,
    struct err *e)
{
	*secret = NULL;
	if (c->auth_pass != NULL) {
		if ((*secret = strdup(c->auth_pass)) == NULL)
			return err_set(e, ERR_OSERR, "out of memory");
		return 0;
	}
	if (c->auth_pass_command != NULL)
		return run_pass_command(c->auth_pass_command, timeout, secret,
		    e);
	return err_set(e, ERR_CONFIG, "AuthUser is set but neither AuthPass "
	    "nor AuthPassCommand is");
}

static const struct {
	const char	*name;
	unsigned	 bit;
} mechs[] = {
	{ "PLAIN", AUTH_PLAIN }, { "LOGIN", AUTH_LOGIN },
	{ "CRAM-MD5", AUTH_CRAM_MD5 }, { "XOAUTH2", AUTH_XOAUTH2 },
	{ "OAUTHBEARER", AUTH_OAUTHBEARER },
};

unsigned
auth_mech_bit(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++)
		if (strlen(mechs[i].name) == len &&
		    strncasecmp(name, mechs[i].name, len) == 0)
			return mechs[i].bit;
	return 0;
}

const char *
auth_choose(unsigned offered, const char *list, const char *forced, int tls,
    struct err *e)
{
	/* PLAIN costs one round trip and TLS already protects it. */
	static const char *with_tls[] = { "PLAIN", "CRAM-MD5", "LOGIN" };
	static const char *clear[] = { "CRAM-MD5", "PLAIN", "LOGIN" };
	const char **order = tls ? with_tls : clear;
	size_t i;

	if (forced != NULL) {
		if (offered & auth_mech_bit(forced, strlen(forced)))
			return forced;
		err_set(e, ERR_UNAVAILABLE, "AuthMethod=%s, but the hub offers "
		    "only: %s", forced, *list ? list : "no AUTH");
		return NULL;
	}
	for (i = 0; i < 3; i++)
		if (offered & auth_mech_bit(order[i], strlen(order[i])))
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

unsigned char *
auth_b64_decode(const char *in, size_t len, size_t *outlen)
{
	unsigned char *out;
	size_t pad = 0;
	int n;

	if (len % 4 != 0 || len > INT_MAX)
		return NULL;
	if ((out = malloc(len / 4 * 3 + 1)) == NULL)
		return NULL;
	if ((n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len)) ==
	    -1) {
		free(out);
		return NULL;
	}
	/* EVP_DecodeBlock counts the padding as zero bytes. */
	if (len >= 1 && in[len - 1] == '=')
		pad++;
	if (len >= 2 && in[len - 2] == '=')
		pad++;
	*outlen = (size_t)n - pad;
	out[*outlen] = '\0';
	return out;
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

char *
auth_cram_md5_response(const char *user, const char *secret,
    const char *chal, size_t len, struct err *e)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char *raw, mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0, i;
	size_t clen, ulen = strlen(user), n;
	char *resp, *enc;

	while (len > 0 && (chal[len - 1] == ' ' || chal[len - 1] == '\t'))
		len--;
	if ((raw = auth_b64_decode(chal, len, &clen)) == NULL) {
		err_set(e, ERR_PROTOCOL, "AUTH CRAM-MD5: the challenge is not "
		    "base64");
		return NULL;
	}
	/* RFC 2195 2: user SP hex(HMAC-MD5(password, challenge)). */
	if (HMAC(EVP_md5(), secret, (int)strlen(secret), raw, clen, mac,
	    &maclen) == NULL) {
		free(raw);
		err_set(e, ERR_SOFTWARE, "HMAC-MD5 failed");
		return NULL;
	}
	free(raw);
	/* Sized from the user name, whatever its length. */
	n = ulen + 1 + 2 * (size_t)maclen;
	if ((resp = malloc(n + 1)) == NULL) {
		explicit_bzero(mac, sizeof(mac));
		err_set(e, ERR_OSERR, "out of memory");
		return NULL;
	}
	memcpy(resp, user, ulen);
	resp[ulen] = ' ';
	for (i = 0; i < maclen; i++) {
		resp[ulen + 1 + 2 * i] = hex[mac[i] >> 4];
		resp[ulen + 2 + 2 * i] = hex[mac[i] & 0xf];
	}
	resp[n] = '\0';
	explicit_bzero(mac, sizeof(mac));
	enc = b64(resp, n);
	wipe_free(resp, n);
	if (enc == NULL)
		err_set(e, ERR_OSERR, "out of memory");
	return enc;
}

static int
auth_cram_md5(struct smtp *s, const char *user, const char *pass,
    struct err *e)
{
	struct reply r;
	char *enc;
	int rc;

	if (smtp_command(s, &r, smtp_timeout(s, TO_COMMAND), -1, e,
	    "AUTH CRAM-MD5") == -1)
		return -1;
	if (r.code != 334)
		return auth_result(s, &r, "CRAM-MD5", e);
	if ((enc = auth_cram_md5_response(user, pass, r.text, r.textlen,
	    e)) == NULL) {
		err_prefix(e, ": ");
		err_prefix(e, s->host);
		return -1;
	}
	rc = smtp_command(s, &r, smtp_timeout(s, TO_COMMAND), 0, e, "%s", enc);
	wipe_free(enc, strlen(enc));
	if (rc == -1)
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
	if (len < 0 || (size_t)len >= n) {
		wipe_free(raw, n);
		return err_set(e, ERR_SOFTWARE, "%s: AUTH %s: response too "
		    "long", s->host, mech);
	}
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
auth_login(struct smtp *s, const struct config *c, const char *secret,
    struct err *e)
{
	const char *mech;

	if (!s->tls && !s->net.loopback)
		return err_set(e, ERR_UNAVAILABLE, "%s: refusing to send the "
		    "password over a connection without TLS (set "
		    "UseSTARTTLS=YES or UseTLS=YES, or use a hub that offers "
		    "STARTTLS)", s->host);
	if (!(s->ehlo.flags & CAP_AUTH))
		return err_set(e, ERR_UNAVAILABLE, "%s: AuthUser is set but "
		    "the hub offers no AUTH%s", s->host, s->tls ? "" :
		    " (some hubs offer it only after STARTTLS)");
	if ((mech = auth_choose(s->ehlo.auth, s->ehlo.auth_offered,
	    c->auth_method, s->tls, e)) == NULL) {
		err_prefix(e, ": ");
		err_prefix(e, s->host);
		return -1;
	}
	if (strcmp(mech, "PLAIN") == 0)
		return auth_plain(s, c->auth_user, secret, e);
	if (strcmp(mech, "LOGIN") == 0)
		return auth_login_mech(s, c->auth_user, secret, e);
	if (strcmp(mech, "CRAM-MD5") == 0)
		return auth_cram_md5(s, c->auth_user, secret, e);
	return auth_oauth(s, mech, c->auth_user, secret, e);
}
