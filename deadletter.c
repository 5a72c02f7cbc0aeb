/* The dead letter file: the last copy of a message that was not sent. */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "deadletter.h"
#include "log.h"

#define DL_CHUNK	65536
#define LOCK_TRIES	100	/* of 100 ms each */

/* Where a message goes when its file is refused: not HOME. */
static const char *
fallback_dir(void)
{
	const char *t = getenv("TMPDIR");

	return t != NULL && *t == '/' ? t : "/var/tmp";
}

void
deadletter_path(const char *path, char *buf, size_t size)
{
	const char *home = getenv("HOME");
	struct passwd *pw;

	if (path != NULL && *path != '\0') {
		strlcpy(buf, path, size);
		return;
	}
	if ((home == NULL || *home == '\0') &&
	    (pw = getpwuid(getuid())) != NULL)
		home = pw->pw_dir;
	if (home != NULL && *home == '/' && access(home, W_OK) == 0)
		snprintf(buf, size, "%s%sdead.letter", home,
		    home[strlen(home) - 1] == '/' ? "" : "/");
	else
		snprintf(buf, size, "%s/dead.letter.%u", fallback_dir(),
		    (unsigned)getuid());
}

/*
 * mboxrd quoting as a stream: a line start, its run of '>', then how many
 * bytes of "From " have matched there (held back until they decide).
 * The '>' added goes after the run, which is the same line as before
 * it, so no run is ever held in memory whatever its length.
 */
struct quoter {
	int	 bol;
	size_t	 k;
};

static int
quote(struct bufw *o, struct quoter *q, const char *buf, size_t len,
    struct err *e)
{
	static const char from[] = "From ";
	size_t i = 0, j;
	const char *nl, *end;

	while (i < len) {
		if (q->bol) {
			if (q->k == 0) {
				for (j = i; j < len && buf[j] == '>'; j++)
					;
				if (bufw_add(o, buf + i, j - i, e) == -1)
					return -1;
				i = j;
			}
			while (i < len && q->k < 5 && buf[i] == from[q->k]) {
				q->k++;
				i++;
			}
			if (q->k == 5 && bufw_add(o, ">", 1, e) == -1)
				return -1;
			if (q->k < 5 && i == len)
				return 0;	/* undecided: the next read */
			if (bufw_add(o, from, q->k, e) == -1)
				return -1;
			q->k = 0;
			q->bol = 0;
			continue;
		}
		nl = memchr(buf + i, '\n', len - i);
		end = nl != NULL ? nl + 1 : buf + len;
		if (bufw_add(o, buf + i, end - (buf + i), e) == -1)
			return -1;
		i = end - buf;
		q->bol = nl != NULL;
	}
	return 0;
}

static int
lock_file(int fd)
{
	struct flock fl;
	struct timespec ts = { 0, 100 * 1000 * 1000 };
	int i;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	for (i = 0; i < LOCK_TRIES; i++) {
		if (fcntl(fd, F_SETLK, &fl) == 0)
			return 0;
		if (errno != EACCES && errno != EAGAIN && errno != EINTR)
			return -1;
		nanosleep(&ts, NULL);
	}
	errno = ETIMEDOUT;
	return -1;
}

/*
 * Open file to append: without blocking (a FIFO there must not hang
 * us), only a regular file of this user with one link (a hard link would
 * append to another file of the user's, root's included), never through
 * a symbolic link.  Returns the descriptor, or -1 with why filled.
 */
static int
open_target(const char *file, char *why, size_t whysz)
{
	struct stat st;
	int fd, fl;

	fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW |
	    O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0600);
	if (fd == -1) {
		snprintf(why, whysz, "cannot open %s: %s", file,
		    errno == ELOOP ? "it is a symbolic link" :
		    errno == ENXIO ? "it is a FIFO" : strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_uid != geteuid() || st.st_nlink != 1) {
		snprintf(why, whysz, "%s is %s; not writing to it", file,
		    !S_ISREG(st.st_mode) ? "not a regular file" :
		    st.st_uid != geteuid() ? "owned by another user" :
		    "a file with more than one link (a hard link)");
		close(fd);
		return -1;
	}
	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == -1) {
		snprintf(why, whysz, "%s: %s", file, strerror(errno));
		close(fd);
		return -1;
	}
	if (lock_file(fd) == -1) {
		snprintf(why, whysz, "cannot lock %s: %s", file,
		    strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * A new file of a random name, made with O_EXCL (mkostemp) in a sticky
 * temporary folder: nothing another user planted can be in its way.
 */
static int
open_private(char *path, size_t size, char *why, size_t whysz)
{
	int fd;

	snprintf(path, size, "%s/dead.letter.%u.XXXXXX", fallback_dir(),
	    (unsigned)getuid());
	if ((fd = mkostemp(path, O_APPEND | O_CLOEXEC)) == -1)
		snprintf(why, whysz, "cannot create %s: %s", path,
		    strerror(errno));
	return fd;
}

int
deadletter_save(const struct message *m, const char *file,
    const char *sender, char *used, size_t usedsz, struct err *e)
{
	struct quoter q = { 1, 0 };
	struct bufw o;
	struct err we;
	char *buf = NULL, date[64], why[1024], why2[1024];
	time_t now = time(NULL);
	off_t off = 0;
	ssize_t n = 0;
	int fd, rc = -1;

	strlcpy(used, file, usedsz);
	if ((fd = open_target(file, why, sizeof(why))) == -1) {
		/* Refused or unusable: a private file instead, and say so. */
		log_warnx("%s", why);
		if ((fd = open_private(used, usedsz, why2, sizeof(why2))) ==
		    -1)
			return err_set(e, ERR_IOERR, "%s; %s", why, why2);
	}
	if (bufw_init(&o, DL_CHUNK, bufw_fd_sink, &fd, e) == -1 ||
	    (buf = malloc(DL_CHUNK)) == NULL) {
		err_set(e, ERR_OSERR, "out of memory");
		goto done;
	}
	strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", localtime(&now));
	if (bufw_add(&o, "From ", 5, &we) == -1 || bufw_add(&o, *sender ?
	    sender : "MAILER-DAEMON", *sender ? strlen(sender) : 13, &we) == -1 ||
	    bufw_add(&o, " ", 1, &we) == -1 ||
	    bufw_add(&o, date, strlen(date), &we) == -1 ||
	    bufw_add(&o, "\n", 1, &we) == -1)
		goto failed;
	while ((n = msg_read(m, off, buf, DL_CHUNK, e)) > 0) {
		off += n;
		if (quote(&o, &q, buf, n, &we) == -1)
			goto failed;
	}
	if (n == -1)
		goto done;
	/* An undecided line start at the end; mbox: a blank line after. */
	if (bufw_add(&o, "From ", q.k, &we) == -1 ||
	    (m->size > 0 && m->lastc != '\n' && bufw_add(&o, "\n", 1, &we) ==
	    -1) || bufw_add(&o, "\n", 1, &we) == -1 || bufw_flush(&o, &we) == -1)
		goto failed;
	if (fsync(fd) == -1) {
		err_set(&we, ERR_IOERR, "%s", strerror(errno));
		goto failed;
	}
	rc = 0;
	goto done;
failed:
	err_set(e, ERR_IOERR, "cannot write %s: %s", used, we.msg);
done:
	bufw_free(&o, 0);
	free(buf);
	if (close(fd) == -1 && rc == 0)
		rc = err_set(e, ERR_IOERR, "cannot write %s: %s", used,
		    strerror(errno));
	return rc;
}
