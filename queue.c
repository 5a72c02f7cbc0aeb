/*
 * The queue's directory, files and locks (queue.h gives the format).
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "addr.h"
#include "buf.h"
#include "log.h"
#include "paths.h"
#include "queue.h"

#define QUEUE_MAGIC	"ssmtp-queue 1"
#define COPY_CHUNK	65536
#define SET_ASIDE_DIR	"corrupt"

/* State directories: the XDG base directory specification's. */
int
queue_path(const char *dir, char *buf, size_t size, struct err *e)
{
	const char *state = getenv("XDG_STATE_HOME"), *home;
	size_t n;

	if (getuid() == 0)
		n = strlcpy(buf, dir, size);
	else if (state != NULL && *state == '/')
		n = (size_t)snprintf(buf, size, "%s/ssmtp/queue", state);
	else if ((home = home_dir()) != NULL)
		n = (size_t)snprintf(buf, size, "%s/.local/state/ssmtp/queue",
		    home);
	else
		return err_set(e, ERR_CONFIG, "no home directory for the queue "
		    "(set HOME or XDG_STATE_HOME)");
	if (n >= size)
		return err_set(e, ERR_CONFIG, "the queue's path is too long");
	return 0;
}

int
queue_open(struct queue *q, const char *path, int create, struct err *e)
{
	struct stat st;

	q->dirfd = -1;
	if (strlcpy(q->path, path, sizeof(q->path)) >= sizeof(q->path))
		return err_set(e, ERR_CONFIG, "the queue's path is too long");
	if (create && make_private_dirs(path, "queue directory", e) == -1)
		return -1;
	if ((q->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		if (errno == ENOENT && !create)
			return 0;
		return err_set(e, errno == ELOOP || errno == ENOTDIR ?
		    ERR_CONFIG : ERR_IOERR, "cannot open the queue %s: %s",
		    path, errno == ELOOP ? "a symbolic link" :
		    strerror(errno));
	}
	if (fstat(q->dirfd, &st) == -1) {
		err_set(e, ERR_IOERR, "queue %s: %s", path, strerror(errno));
		goto fail;
	}
	if (st.st_uid != geteuid()) {
		err_set(e, ERR_CONFIG, "the queue %s belongs to uid %u, not to "
		    "this user (%u)", path, (unsigned)st.st_uid,
		    (unsigned)geteuid());
		goto fail;
	}
	if (st.st_mode & 077) {
		err_set(e, ERR_CONFIG, "the queue %s is open to others (mode "
		    "%04o); it must be 0700", path,
		    (unsigned)(st.st_mode & 07777));
		goto fail;
	}
	return 0;
fail:
	close(q->dirfd);
	q->dirfd = -1;
	return -1;
}

void
queue_close(struct queue *q)
{
	if (q->dirfd != -1)
		close(q->dirfd);
	q->dirfd = -1;
}

void
qentry_init(struct qentry *q)
{
	memset(q, 0, sizeof(*q));
	q->fd = -1;
}

void
qentry_free(struct qentry *q)
{
	size_t i;

	for (i = 0; i < q->nrcpts; i++)
		free(q->rcpts[i]);
	free(q->rcpts);
	free(q->hub);
	free(q->from);
	if (q->fd != -1)
		close(q->fd);
	qentry_init(q);
}

int
queue_id_valid(const char *s)
{
	size_t i;

	for (i = 0; i < QUEUE_ID_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' &&
		    s[i] <= 'F')))
			return 0;
	return s[i] == '\0';
}

long
queue_backoff(unsigned attempts)
{
	long d = QUEUE_RETRY_MIN;

	while (attempts-- > 1 && d < QUEUE_RETRY_MAX)
		d *= 2;
	return d < QUEUE_RETRY_MAX ? d : QUEUE_RETRY_MAX;
}

/* One line of text for the envelope: control characters become blanks. */
static void
one_line(char *dst, size_t size, const char *src)
{
	size_t i;

	for (i = 0; src[i] != '\0' && i + 1 < size; i++)
		dst[i] = (unsigned char)src[i] < 0x20 || src[i] == 0x7f ? ' ' :
		    src[i];
	dst[i] = '\0';
}

static int
format_envelope(struct buf *b, const struct qentry *q, struct err *e)
{
	char err[sizeof(q->error)];
	size_t i;

	one_line(err, sizeof(err), q->error);
	if (buf_printf(b, e, QUEUE_MAGIC "\ncreated %lld\nattempts %u\n"
	    "next %lld\nunknown %d\nerror %s\n", (long long)q->created,
	    q->attempts, (long long)q->next, q->unknown ? 1 : 0, err) == -1)
		return -1;
	if (q->hub != NULL && buf_printf(b, e, "hub %s\n", q->hub) == -1)
		return -1;
	if (buf_printf(b, e, "from %s\n", q->from) == -1)
		return -1;
	if (*q->notify && buf_printf(b, e, "notify %s\n", q->notify) == -1)
		return -1;
	if (*q->ret && buf_printf(b, e, "ret %s\n", q->ret) == -1)
		return -1;
	if (*q->envid && buf_printf(b, e, "envid %s\n", q->envid) == -1)
		return -1;
	if (buf_printf(b, e, "body8 %d\n", q->body8 ? 1 : 0) == -1)
		return -1;
	for (i = 0; i < q->nrcpts; i++)
		if (buf_printf(b, e, "rcpt %s\n", q->rcpts[i]) == -1)
			return -1;
	return buf_printf(b, e, "headers %lld\nraw %lld\n\n",
	    (long long)q->hdrlen, (long long)q->rawlen);
}

/* A new temporary file in the queue; its path into path. */
static int
temp_file(struct queue *q, char *path, size_t size, struct err *e)
{
	int fd;

	snprintf(path, size, "%s/.tmp.XXXXXX", q->path);
	if ((fd = mkostemp(path, O_CLOEXEC)) == -1)
		return err_set(e, ERR_IOERR, "cannot create a file in the "
		    "queue %s: %s", q->path, strerror(errno));
	return fd;
}

/* Write all of p to fd. */
static int
write_all(int fd, const char *p, size_t n, const char *path, struct err *e)
{
	int fdv = fd;

	if (bufw_fd_sink(&fdv, p, n, e) == -1) {
		err_prefix(e, ": ");
		err_prefix(e, path);
		err_prefix(e, "cannot write ");
		return -1;
	}
	return 0;
}

/* Sync the file, then write it off as done; errors name the path. */
static int
sync_file(int fd, const char *path, struct err *e)
{
	if (fsync(fd) == -1)
		return err_set(e, ERR_IOERR, "cannot sync %s: %s", path,
		    strerror(errno));
	return 0;
}

static int
sync_dir(struct queue *q, struct err *e)
{
	if (fsync(q->dirfd) == -1)
		return err_set(e, ERR_IOERR, "cannot sync the queue %s: %s",
		    q->path, strerror(errno));
	return 0;
}

static void
new_id(char *id)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	snprintf(id, QUEUE_ID_LEN + 1, "%08lX%05lX%04X",
	    (unsigned long)tv.tv_sec & 0xffffffffUL,
	    (unsigned long)tv.tv_usec & 0xfffffUL,
	    (unsigned)(arc4random() & 0xffff));
}

/*
 * Move the temporary file to its ID, never replacing a file: in one step
 * with RENAME_NOREPLACE, so that no moment has both names (a writer
 * killed in between would leave a file with two links, which a run
 * refuses); where the file system lacks it, link and unlink.  Returns 0,
 * or -1 with errno (EEXIST: the ID is taken).
 */
static int
place(struct queue *q, const char *tmp, const char *id)
{
	if (renameat2(AT_FDCWD, tmp, q->dirfd, id, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	if (linkat(AT_FDCWD, tmp, q->dirfd, id, 0) == -1)
		return -1;
	unlink(tmp);
	return 0;
}

int
queue_add(struct queue *q, struct qentry *qe, const struct message *m,
    struct err *e)
{
	char tmp[4200], *chunk = NULL;
	struct buf b;
	off_t off;
	ssize_t n;
	int fd, tries, rc = -1;

	if (q->dirfd == -1)
		return err_set(e, ERR_IOERR, "the queue %s does not exist",
		    q->path);
	buf_init(&b, QUEUE_HDR_MAX);
	if ((fd = temp_file(q, tmp, sizeof(tmp), e)) == -1)
		return -1;
	if (qe->created == 0)
		qe->created = time(NULL);
	qe->hdrlen = (off_t)m->outlen;
	qe->rawlen = m->size;
	if (format_envelope(&b, qe, e) == -1 ||
	    write_all(fd, b.p, b.len, tmp, e) == -1 ||
	    write_all(fd, m->out, m->outlen, tmp, e) == -1)
		goto out;
	if ((chunk = malloc(COPY_CHUNK)) == NULL) {
		err_set(e, ERR_OSERR, "out of memory");
		goto out;
	}
	for (off = 0; (n = msg_read(m, off, chunk, COPY_CHUNK, e)) > 0;
	    off += n)
		if (write_all(fd, chunk, (size_t)n, tmp, e) == -1)
			goto out;
	if (n == -1 || sync_file(fd, tmp, e) == -1)
		goto out;
	/* Never over an ID already taken. */
	for (tries = 0; tries < 20; tries++) {
		new_id(qe->id);
		if (place(q, tmp, qe->id) == 0)
			break;
		if (errno != EEXIST) {
			err_set(e, ERR_IOERR, "cannot add to the queue %s: %s",
			    q->path, strerror(errno));
			goto out;
		}
	}
	if (tries == 20) {
		err_set(e, ERR_IOERR, "cannot find a free queue ID in %s",
		    q->path);
		goto out;
	}
	*tmp = '\0';
	if (sync_dir(q, e) == -1) {
		unlinkat(q->dirfd, qe->id, 0);
		goto out;
	}
	rc = 0;
out:
	if (*tmp != '\0')
		unlink(tmp);
	close(fd);
	free(chunk);
	buf_free(&b, 0);
	return rc;
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char * const *)a, *(char * const *)b);
}

void
queue_ids_free(char **ids, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
}

int
queue_set_aside(struct queue *q, const char *name, struct err *e)
{
	char to[300];
	int d;

	if (mkdirat(q->dirfd, SET_ASIDE_DIR, 0700) == -1 && errno != EEXIST)
		return err_set(e, ERR_IOERR, "cannot create %s/%s: %s",
		    q->path, SET_ASIDE_DIR, strerror(errno));
	if ((d = openat(q->dirfd, SET_ASIDE_DIR, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) == -1)
		return err_set(e, ERR_IOERR, "cannot open %s/%s: %s", q->path,
		    SET_ASIDE_DIR, strerror(errno));
	/* A name already there keeps its file: this one gets a suffix. */
	snprintf(to, sizeof(to), "%.200s", name);
	if (faccessat(d, to, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		snprintf(to, sizeof(to), "%.200s.%lld.%u", name,
		    (long long)time(NULL), (unsigned)(arc4random() & 0xffff));
	if (renameat(q->dirfd, name, d, to) == -1) {
		err_set(e, ERR_IOERR, "cannot move %s/%s aside: %s", q->path,
		    name, strerror(errno));
		close(d);
		return -1;
	}
	close(d);
	return 0;
}

int
queue_list(struct queue *q, char ***ids, size_t *nids, struct err *e)
{
	struct dirent *de;
	struct stat st;
	struct err se;
	char **v = NULL, **nv;
	size_t n = 0, cap = 0;
	DIR *d;
	int fd;

	*ids = NULL;
	*nids = 0;
	if (q->dirfd == -1)
		return 0;
	if ((fd = dup(q->dirfd)) == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return err_set(e, ERR_IOERR, "cannot read the queue %s: %s",
		    q->path, strerror(errno));
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0 ||
		    strcmp(de->d_name, SET_ASIDE_DIR) == 0)
			continue;
		if (strncmp(de->d_name, ".tmp.", 5) == 0) {
			/* A writer's, or one killed while writing. */
			if (fstatat(q->dirfd, de->d_name, &st,
			    AT_SYMLINK_NOFOLLOW) == 0 &&
			    st.st_mtime + QUEUE_TMP_GRACE < time(NULL))
				unlinkat(q->dirfd, de->d_name, 0);
			continue;
		}
		if (!queue_id_valid(de->d_name)) {
			if (queue_set_aside(q, de->d_name, &se) == 0)
				log_syslog(LOG_WARNING, "queue %s: %s is not a "
				    "queue file; moved to %s/", q->path,
				    de->d_name, SET_ASIDE_DIR);
			continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((nv = reallocarray(v, cap, sizeof(*v))) == NULL)
				goto nomem;
			v = nv;
		}
		if ((v[n] = strdup(de->d_name)) == NULL)
			goto nomem;
		n++;
	}
	closedir(d);
	if (n > 1)
		qsort(v, n, sizeof(*v), by_name);
	*ids = v;
	*nids = n;
	return 0;
nomem:
	closedir(d);
	queue_ids_free(v, n);
	return err_set(e, ERR_OSERR, "out of memory");
}

/* A whole decimal number from 0 to max. */
static int
number(const char *v, long long max, long long *out)
{
	char *end;

	if (*v < '0' || *v > '9')
		return -1;
	errno = 0;
	*out = strtoll(v, &end, 10);
	return *end != '\0' || errno != 0 || *out > max ? -1 : 0;
}

static int
bad(struct err *e, size_t line, const char *what)
{
	return err_set(e, ERR_DATA, "line %zu: %s", line, what);
}

int
queue_parse(const char *p, size_t len, struct qentry *q, struct err *e)
{
	static const char *keys[] = { "created", "attempts", "next",
	    "unknown", "error", "hub", "from", "notify", "ret", "envid",
	    "body8", "headers", "raw" };
	char line[QUEUE_LINE_MAX + 1], **nv;
	const char *end = p + len, *nl, *v;
	unsigned seen = 0;
	size_t lineno = 0, k, l, cap = 0;
	long long num;
	struct err ae;

	while (p < end) {
		nl = memchr(p, '\n', end - p);
		l = (nl ? nl : end) - p;
		lineno++;
		if (l > QUEUE_LINE_MAX || memchr(p, '\0', l) != NULL)
			return bad(e, lineno, "too long, or holds NUL");
		memcpy(line, p, l);
		line[l] = '\0';
		p += l + (nl != NULL);
		if (lineno == 1) {
			if (strcmp(line, QUEUE_MAGIC) != 0)
				return bad(e, 1, "not \"" QUEUE_MAGIC "\"");
			continue;
		}
		if ((v = strchr(line, ' ')) == NULL)
			return bad(e, lineno, "no value");
		line[v++ - line] = '\0';
		if (strcmp(line, "rcpt") == 0) {
			if (addr_check(v, 0, &ae) == -1)
				return bad(e, lineno, ae.msg);
			if (q->nrcpts == cap) {
				cap = cap ? cap * 2 : 8;
				if ((nv = reallocarray(q->rcpts, cap,
				    sizeof(*nv))) == NULL)
					return err_set(e, ERR_OSERR, "out of "
					    "memory");
				q->rcpts = nv;
			}
			if ((q->rcpts[q->nrcpts] = strdup(v)) == NULL)
				return err_set(e, ERR_OSERR, "out of memory");
			q->nrcpts++;
			continue;
		}
		for (k = 0; k < sizeof(keys) / sizeof(keys[0]) &&
		    strcmp(line, keys[k]) != 0; k++)
			;
		if (k == sizeof(keys) / sizeof(keys[0]))
			return bad(e, lineno, "unknown key");
		if (seen & (1u << k))
			return bad(e, lineno, "key given twice");
		seen |= 1u << k;
		switch (k) {
		case 0: case 1: case 2: case 3: case 10: case 11: case 12:
			if (number(v, k == 1 ? 1000000 : k == 3 || k == 10 ? 1 :
			    (long long)INT64_MAX / 4, &num) == -1)
				return bad(e, lineno, "not a number in range");
			if (k == 0)
				q->created = (time_t)num;
			else if (k == 1)
				q->attempts = (unsigned)num;
			else if (k == 2)
				q->next = (time_t)num;
			else if (k == 3)
				q->unknown = (int)num;
			else if (k == 10)
				q->body8 = (int)num;
			else if (k == 11)
				q->hdrlen = (off_t)num;
			else
				q->rawlen = (off_t)num;
			break;
		case 4:
			strlcpy(q->error, v, sizeof(q->error));
			break;
		case 5:
			if (*v == '\0' || strcspn(v, " \t") != strlen(v) ||
			    (q->hub = strdup(v)) == NULL)
				return bad(e, lineno, "not a hub");
			break;
		case 6:
			if (addr_check(v, 1, &ae) == -1)
				return bad(e, lineno, ae.msg);
			if ((q->from = strdup(v)) == NULL)
				return err_set(e, ERR_OSERR, "out of memory");
			break;
		case 7:
			if (strspn(v, "NEVRSUCFAILDY,") != strlen(v) ||
			    strlcpy(q->notify, v, sizeof(q->notify)) >=
			    sizeof(q->notify))
				return bad(e, lineno, "not a NOTIFY value");
			break;
		case 8:
			if (strcmp(v, "FULL") != 0 && strcmp(v, "HDRS") != 0)
				return bad(e, lineno, "not FULL or HDRS");
			strlcpy(q->ret, v, sizeof(q->ret));
			break;
		case 9:
			for (l = 0; v[l] != '\0'; l++)
				if (v[l] < ' ' || v[l] > '~')
					return bad(e, lineno, "not printable");
			if (strlcpy(q->envid, v, sizeof(q->envid)) >=
			    sizeof(q->envid))
				return bad(e, lineno, "envid too long");
			break;
		}
	}
	/* created, next, from, headers and raw are required. */
	if ((seen & 0x1845) != 0x1845 || q->nrcpts == 0)
		return err_set(e, ERR_DATA, "the envelope is incomplete");
	return 0;
}

/* Read the envelope text of fd (up to the blank line) into b. */
static int
read_envelope(int fd, struct buf *b, off_t *data, struct err *e)
{
	char chunk[8192], *end;
	ssize_t n;
	off_t off = 0;

	for (;;) {
		do
			n = pread(fd, chunk, sizeof(chunk), off);
		while (n == -1 && errno == EINTR);
		if (n == -1)
			return err_set(e, ERR_IOERR, "%s", strerror(errno));
		if (n == 0)
			return err_set(e, ERR_DATA, "truncated envelope");
		if (buf_add(b, chunk, (size_t)n, e) == -1)
			return err_set(e, ERR_DATA, "envelope too large");
		off += n;
		/* The blank line: "\n\n", possibly across chunks. */
		if ((end = memmem(b->p, b->len, "\n\n", 2)) != NULL) {
			*data = (off_t)(end - b->p) + 2;
			b->len = (size_t)(end - b->p) + 1;
			return 0;
		}
	}
}

int
queue_read(struct queue *q, const char *id, struct qentry *qe, int lock,
    struct err *e)
{
	struct stat st, now;
	struct buf b;
	int fd, busy = 0, rc;

	qentry_init(qe);
	strlcpy(qe->id, id, sizeof(qe->id));
	if (q->dirfd == -1)
		return 1;
	if ((fd = openat(q->dirfd, id, (lock ? O_RDWR : O_RDONLY) |
	    O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return 1;
		if (errno == ELOOP)
			return err_set(e, ERR_DATA, "a symbolic link");
		return err_set(e, ERR_IOERR, "cannot open %s/%s: %s", q->path,
		    id, strerror(errno));
	}
	if (fstat(fd, &st) == -1) {
		err_set(e, ERR_IOERR, "%s/%s: %s", q->path, id,
		    strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    st.st_nlink != 1) {
		err_set(e, ERR_DATA, "not a regular file of this user's with "
		    "one link");
		goto fail;
	}
	if (flock(fd, (lock ? LOCK_EX : LOCK_SH) | LOCK_NB) == -1) {
		if (errno != EWOULDBLOCK) {
			err_set(e, ERR_IOERR, "cannot lock %s/%s: %s", q->path,
			    id, strerror(errno));
			goto fail;
		}
		if (lock) {
			close(fd);
			return 1;
		}
		busy = 1;
	} else if (!lock)
		flock(fd, LOCK_UN);	/* a listing never holds a run back */
	/* Locked the file that is still there, not one replaced since. */
	if (fstatat(q->dirfd, id, &now, AT_SYMLINK_NOFOLLOW) == -1 ||
	    now.st_ino != st.st_ino || now.st_dev != st.st_dev) {
		close(fd);
		return 1;
	}
	buf_init(&b, QUEUE_HDR_MAX);
	rc = read_envelope(fd, &b, &qe->data, e);
	if (rc == 0)
		rc = queue_parse(b.p, b.len - 1, qe, e);
	buf_free(&b, 0);
	if (rc == 0 && qe->data + qe->hdrlen + qe->rawlen != st.st_size)
		rc = err_set(e, ERR_DATA, "truncated: %lld bytes, the envelope "
		    "says %lld", (long long)st.st_size,
		    (long long)(qe->data + qe->hdrlen + qe->rawlen));
	if (rc == -1)
		goto fail;
	if (lock)
		qe->fd = fd;
	else
		close(fd);
	return busy ? 2 : 0;
fail:
	close(fd);
	strlcpy(qe->id, id, sizeof(qe->id));
	return -1;
}

/* Copy n bytes of fd from off, in chunks, to cb. */
static int
copy_range(int fd, off_t off, off_t n, int (*cb)(void *, const char *,
    size_t, struct err *), void *arg, struct err *e)
{
	char *chunk;
	ssize_t r;
	int rc = 0;

	if ((chunk = malloc(COPY_CHUNK)) == NULL)
		return err_set(e, ERR_OSERR, "out of memory");
	while (n > 0 && rc == 0) {
		do
			r = pread(fd, chunk, n < COPY_CHUNK ? (size_t)n :
			    COPY_CHUNK, off);
		while (r == -1 && errno == EINTR);
		if (r <= 0) {
			rc = err_set(e, ERR_IOERR, "cannot read the queue "
			    "file: %s", r == 0 ? "truncated" :
			    strerror(errno));
			break;
		}
		rc = cb(arg, chunk, (size_t)r, e);
		off += r;
		n -= r;
	}
	free(chunk);
	return rc;
}

static int
to_message(void *arg, const char *p, size_t n, struct err *e)
{
	return msg_append(arg, p, n, e);
}

int
queue_message(const struct qentry *qe, struct message *m, struct err *e)
{
	ssize_t r;

	msg_init(m);
	if (copy_range(qe->fd, qe->data + qe->hdrlen, qe->rawlen, to_message,
	    m, e) == -1 || msg_parse_headers(m, e) == -1)
		return -1;
	if ((m->out = malloc(qe->hdrlen + 1)) == NULL)
		return err_set(e, ERR_OSERR, "out of memory");
	do
		r = pread(qe->fd, m->out, (size_t)qe->hdrlen, qe->data);
	while (r == -1 && errno == EINTR);
	if (r != qe->hdrlen)
		return err_set(e, ERR_IOERR, "cannot read the queue file's "
		    "header block");
	m->outlen = (size_t)qe->hdrlen;
	return 0;
}

int
queue_update(struct queue *q, struct qentry *qe, struct err *e)
{
	char tmp[4200];
	struct buf b;
	int fd, rc = -1;

	buf_init(&b, QUEUE_HDR_MAX);
	if ((fd = temp_file(q, tmp, sizeof(tmp), e)) == -1)
		return -1;
	if (format_envelope(&b, qe, e) == 0 &&
	    write_all(fd, b.p, b.len, tmp, e) == 0 &&
	    copy_range(qe->fd, qe->data, qe->hdrlen + qe->rawlen,
	    bufw_fd_sink, &fd, e) == 0 && sync_file(fd, tmp, e) == 0) {
		if (renameat(AT_FDCWD, tmp, q->dirfd, qe->id) == -1)
			err_set(e, ERR_IOERR, "cannot replace %s/%s: %s",
			    q->path, qe->id, strerror(errno));
		else
			rc = sync_dir(q, e);
	}
	if (rc == -1)
		unlink(tmp);
	close(fd);
	buf_free(&b, 0);
	close(qe->fd);
	qe->fd = -1;
	return rc;
}

int
queue_remove(struct queue *q, struct qentry *qe, struct err *e)
{
	int rc = 0;

	if (unlinkat(q->dirfd, qe->id, 0) == -1)
		rc = err_set(e, ERR_IOERR, "cannot remove %s/%s: %s", q->path,
		    qe->id, strerror(errno));
	close(qe->fd);
	qe->fd = -1;
	return rc;
}
