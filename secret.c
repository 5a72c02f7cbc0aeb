/*
 * The secret for AUTH: AuthPass, or the first line an AuthPassCommand
 * helper prints, run without a shell, bounded, as the user.  Part of the
 * face: it runs a program and reads the config; the engine only asks for
 * the secret through the callback the face gives it.
 */
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
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "secret.h"

#define SECRET_MAX	8192	/* passwords and OAuth2 tokens */
#define ARGV_MAX	64
#define GRACE_MS	1000	/* after the first line, before the kill */

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
		if (clock_ms() >= deadline)
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
		if ((left = deadline - clock_ms()) <= 0)
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

	while ((left = deadline - clock_ms()) > 0) {
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
	long long deadline = clock_ms() + (long long)timeout * 1000, grace;
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
		grace = clock_ms() + GRACE_MS;
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
secret_get(const struct config *c, int timeout, char **secret,
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

