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

#include "deadletter.h"

#define DL_CHUNK	65536
#define DL_CARRY_MAX	4096	/* a line start we cannot judge yet */
#define LOCK_TRIES	100	/* of 100 ms each */

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
		snprintf(buf, size, "/var/tmp/dead.letter.%u",
		    (unsigned)getuid());
}

struct dlout {
	int	 fd;
	char	 buf[DL_CHUNK];
	size_t	 len;
	int	 failed;
};

static void
out_flush(struct dlout *o)
{
	size_t off = 0;
	ssize_t w;

	while (!o->failed && off < o->len) {
		if ((w = write(o->fd, o->buf + off, o->len - off)) == -1) {
			if (errno != EINTR)
				o->failed = errno;
			continue;
		}
		off += w;
	}
	o->len = 0;
}

static void
out_add(struct dlout *o, const char *p, size_t n)
{
	size_t c;

	while (n > 0 && !o->failed) {
		if (o->len == sizeof(o->buf))
			out_flush(o);
		c = sizeof(o->buf) - o->len;
		if (c > n)
			c = n;
		memcpy(o->buf + o->len, p, c);
		o->len += c;
		p += c;
		n -= c;
	}
}

/*
 * Copy buf[0..len) quoting ">*From " line starts.  Returns how much was
 * used: less than len when a line start at the end cannot be judged yet.
 */
static size_t
quote(struct dlout *o, const char *buf, size_t len, int *bol, int eof)
{
	size_t i = 0, j;
	const char *nl, *end;

	while (i < len) {
		if (*bol) {
			for (j = i; j < len && buf[j] == '>'; j++)
				;
			if (!eof && len - j < 5 && len - i < DL_CARRY_MAX &&
			    memcmp(buf + j, "From ", len - j) == 0)
				return i;	/* wait for more bytes */
			if (len - j >= 5 && memcmp(buf + j, "From ", 5) == 0)
				out_add(o, ">", 1);
			*bol = 0;
		}
		nl = memchr(buf + i, '\n', len - i);
		end = nl != NULL ? nl + 1 : buf + len;
		out_add(o, buf + i, end - (buf + i));
		i = end - buf;
		*bol = nl != NULL;
	}
	return i;
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

int
deadletter_save(const struct message *m, const char *file,
    const char *sender, struct err *e)
{
	struct dlout *o;
	struct stat st;
	char *buf, date[64];
	time_t now = time(NULL);
	off_t off = 0;
	size_t carry = 0, used;
	ssize_t n;
	int bol = 1, fd, rc = -1;

	fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1)
		return err_set(e, ERR_IOERR, "cannot open %s: %s", file,
		    strerror(errno));
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_uid != geteuid()) {
		close(fd);
		return err_set(e, ERR_IOERR, "%s is not a regular file of "
		    "this user; not writing to it", file);
	}
	if (lock_file(fd) == -1) {
		close(fd);
		return err_set(e, ERR_IOERR, "cannot lock %s: %s", file,
		    strerror(errno));
	}
	o = malloc(sizeof(*o));
	buf = malloc(DL_CHUNK + DL_CARRY_MAX);
	if (o == NULL || buf == NULL) {
		err_set(e, ERR_OSERR, "out of memory");
		goto done;
	}
	o->fd = fd;
	o->len = 0;
	o->failed = 0;
	strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", localtime(&now));
	out_add(o, "From ", 5);
	out_add(o, *sender ? sender : "MAILER-DAEMON", *sender ?
	    strlen(sender) : 13);
	out_add(o, " ", 1);
	out_add(o, date, strlen(date));
	out_add(o, "\n", 1);
	for (;;) {
		if ((n = msg_read(m, off, buf + carry, DL_CHUNK, e)) == -1)
			goto done;
		off += n;
		used = quote(o, buf, carry + n, &bol, n == 0);
		carry = carry + n - used;
		memmove(buf, buf + used, carry);
		if (n == 0)
			break;
	}
	/* mbox: the message ends with a line end and a blank line. */
	if (m->size > 0 && m->lastc != '\n')
		out_add(o, "\n", 1);
	out_add(o, "\n", 1);
	out_flush(o);
	if (o->failed == 0 && fsync(fd) == -1)
		o->failed = errno;
	if (o->failed) {
		err_set(e, ERR_IOERR, "cannot write %s: %s", file,
		    strerror(o->failed));
		goto done;
	}
	rc = 0;
done:
	free(o);
	free(buf);
	if (close(fd) == -1 && rc == 0)
		rc = err_set(e, ERR_IOERR, "cannot write %s: %s", file,
		    strerror(errno));
	return rc;
}
