/*
 * The TLS session cache file (tlscache.h).
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "paths.h"
#include "tlscache.h"

#define MAGIC		"ssmtp-tls-sessions 1"
#define LOCK_TRIES	100		/* 100 x 20 ms: 2 s at the most */
#define LOCK_WAIT_US	20000

struct entry {
	time_t		 expiry;
	char		*key;
	unsigned char	*der;
	size_t		 len;
	off_t		 off;		/* where its expiry is in the file */
	size_t		 explen;	/* and how many digits */
};

struct cache {
	struct entry	 e[TLSCACHE_ENTRIES + TLSCACHE_PER_KEY];
	size_t		 n;
};

int
tlscache_path(char *buf, size_t size)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = home_dir();
	size_t n;

	if (xdg != NULL && *xdg == '/')
		n = (size_t)snprintf(buf, size, "%s/ssmtp/tls-sessions", xdg);
	else if (home != NULL && strcmp(home, "/") != 0)
		n = (size_t)snprintf(buf, size, "%s/.cache/ssmtp/tls-sessions",
		    home);
	else if (getuid() == 0)
		n = strlcpy(buf, "/var/cache/ssmtp/tls-sessions", size);
	else
		return -1;
	return n < size ? 0 : -1;
}

/* Append s to the key, bytes outside printable ASCII, '%', '|' escaped. */
static int
add(char *buf, size_t size, size_t *o, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)(s ? s : "");

	for (; *p != '\0'; p++) {
		if (*o + 4 >= size)
			return -1;
		if (*p <= ' ' || *p > '~' || *p == '%' || *p == '|') {
			buf[(*o)++] = '%';
			buf[(*o)++] = hex[*p >> 4];
			buf[(*o)++] = hex[*p & 15];
		} else
			buf[(*o)++] = (char)*p;
	}
	if (*o + 2 >= size)
		return -1;
	buf[(*o)++] = '|';
	buf[*o] = '\0';
	return 0;
}

int
tlscache_key(const struct tls_settings *t, const char *host, int port,
    const char *store, char *buf, size_t size)
{
	char num[100], pin[65];
	size_t o = 0, i;

	*buf = '\0';
	for (i = 0; t->pin && i < 32; i++)
		snprintf(pin + 2 * i, 3, "%02x", t->fingerprint[i]);
	if (!t->pin)
		*pin = '\0';
	snprintf(num, sizeof(num), "%d", port);
	if (add(buf, size, &o, host) == -1 || add(buf, size, &o, num) == -1)
		return -1;
	snprintf(num, sizeof(num), "v%d m%d c%d", t->verify, t->min_version,
	    t->client_cert);
	return add(buf, size, &o, num) == -1 || add(buf, size, &o, pin) == -1 ||
	    add(buf, size, &o, store) == -1 ||
	    add(buf, size, &o, t->client_cert ? t->cert_file : "") == -1 ?
	    -1 : 0;
}

static void
cache_free(struct cache *c)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		free(c->e[i].key);
		secret_free_n(c->e[i].der, c->e[i].len);
	}
	c->n = 0;
}

static int
unhex(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ?
	    c - 'a' + 10 : -1;
}

/*
 * One line, "<expiry> <key> <hex>", off bytes into the file; 0 when it is
 * good and kept.  An expiry of zeros is a ticket used (tlscache_take).
 */
static int
parse_line(struct cache *c, char *line, off_t off, time_t now)
{
	char *sp1, *sp2, *end;
	struct entry *e;
	size_t hl, i;
	long long exp;
	int hi, lo;

	if (c->n == TLSCACHE_ENTRIES || (sp1 = strchr(line, ' ')) == NULL ||
	    (sp2 = strchr(sp1 + 1, ' ')) == NULL)
		return -1;
	*sp1 = *sp2 = '\0';
	exp = strtoll(line, &end, 10);
	hl = strlen(sp2 + 1);
	if (*end != '\0' || exp <= now || exp > now + TLSCACHE_LIFETIME ||
	    sp2 == sp1 + 1 || hl == 0 || hl % 2 != 0 ||
	    hl / 2 > TLSCACHE_DER_MAX)
		return -1;
	e = &c->e[c->n];
	if ((e->der = malloc(hl / 2)) == NULL)
		return -1;
	for (i = 0; i < hl / 2; i++) {
		if ((hi = unhex(sp2[1 + 2 * i])) < 0 ||
		    (lo = unhex(sp2[2 + 2 * i])) < 0) {
			free(e->der);
			return -1;
		}
		e->der[i] = (unsigned char)(hi << 4 | lo);
	}
	if ((e->key = strdup(sp1 + 1)) == NULL) {
		free(e->der);
		return -1;
	}
	e->len = hl / 2;
	e->expiry = (time_t)exp;
	e->off = off;
	e->explen = (size_t)(sp1 - line);
	c->n++;
	return 0;
}

/* The text of a cache file (NUL-terminated, changed in place) into c. */
static void
cache_parse(struct cache *c, char *text, time_t now)
{
	char *p, *nl;

	if (strncmp(text, MAGIC "\n", sizeof(MAGIC)) != 0)
		return;
	for (p = text + sizeof(MAGIC); *p != '\0'; p = nl + 1) {
		if ((nl = strchr(p, '\n')) == NULL)
			break;
		*nl = '\0';
		(void)parse_line(c, p, (off_t)(p - text), now);
	}
}

size_t
tlscache_parse(const char *p, size_t len)
{
	struct cache c;
	size_t n;
	char *copy;

	if ((copy = malloc(len + 1)) == NULL)
		return 0;
	memcpy(copy, p, len);
	copy[len] = '\0';
	c.n = 0;
	cache_parse(&c, copy, time(NULL));
	n = c.n;
	cache_free(&c);
	free(copy);
	return n;
}

/*
 * Read the cache (a missing file is an empty cache).  A file that is not
 * a regular file of this user's, private, and within bounds is ignored
 * as a whole, with a line under -v.  With wfd, the file is opened for
 * writing too and *wfd is its descriptor (-1 when none was read).
 */
static void
cache_read(const char *path, struct cache *c, int *wfd)
{
	struct stat st;
	struct buf b;
	struct err e;
	char chunk[8192];
	time_t now = time(NULL);
	ssize_t r;
	int fd;

	c->n = 0;
	if (wfd != NULL)
		*wfd = -1;
	if ((fd = open(path, (wfd != NULL ? O_RDWR : O_RDONLY) | O_NOFOLLOW |
	    O_NONBLOCK | O_CLOEXEC)) == -1) {
		if (errno != ENOENT)
			log_info("TLS session cache %s not used: %s", path,
			    strerror(errno));
		return;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_uid != geteuid() || (st.st_mode & 077) != 0 ||
	    st.st_nlink != 1 || st.st_size > TLSCACHE_FILE_MAX) {
		log_info("TLS session cache %s not used: not a private "
		    "regular file of this user's", path);
		close(fd);
		return;
	}
	buf_init(&b, TLSCACHE_FILE_MAX);
	while ((r = read(fd, chunk, sizeof(chunk))) > 0)
		if (buf_add(&b, chunk, (size_t)r, &e) == -1)
			break;
	if (r == 0 && b.p != NULL)
		cache_parse(c, b.p, now);
	buf_free(&b, 1);
	if (wfd != NULL && r == 0)
		*wfd = fd;
	else
		close(fd);
}

/*
 * Mark an entry used where it is: its expiry overwritten with zeros, which
 * no reader keeps.  A write cut short leaves a number smaller than the
 * expiry, long past, so that too is dropped.  Cheaper than rewriting the
 * file on every take: one rename per message, in tlscache_put.
 */
static int
mark_used(int fd, const struct entry *e)
{
	static const char zeros[] = "00000000000000000000";

	if (fd == -1 || e->explen == 0 || e->explen >= sizeof(zeros))
		return -1;
	return pwrite(fd, zeros, e->explen, e->off) == (ssize_t)e->explen ?
	    0 : -1;
}

/* Write the cache: a temporary file beside it, renamed over it. */
static int
cache_write(const char *path, const struct cache *c)
{
	static const char hex[] = "0123456789abcdef";
	char tmp[4200], *line;
	struct bufw w;
	struct err e;
	size_t i, j, o;
	int fd, rc = 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >=
	    sizeof(tmp) || (fd = mkostemp(tmp, O_CLOEXEC)) == -1)
		return -1;
	if ((line = malloc(2 * TLSCACHE_DER_MAX + TLSCACHE_KEY_MAX + 64)) ==
	    NULL || bufw_init(&w, 16384, bufw_fd_sink, &fd, &e) == -1) {
		free(line);
		close(fd);
		unlink(tmp);
		return -1;
	}
	rc |= bufw_add(&w, MAGIC "\n", sizeof(MAGIC), &e);
	for (i = 0; i < c->n && rc == 0; i++) {
		o = (size_t)snprintf(line, TLSCACHE_KEY_MAX + 32, "%lld %s ",
		    (long long)c->e[i].expiry, c->e[i].key);
		for (j = 0; j < c->e[i].len; j++) {
			line[o++] = hex[c->e[i].der[j] >> 4];
			line[o++] = hex[c->e[i].der[j] & 15];
		}
		line[o++] = '\n';
		rc |= bufw_add(&w, line, o, &e);
	}
	rc |= bufw_flush(&w, &e);
	bufw_free(&w, 1);
	secret_free_n(line, 2 * TLSCACHE_DER_MAX + TLSCACHE_KEY_MAX + 64);
	if (close(fd) == -1)
		rc = -1;
	if (rc == 0 && rename(tmp, path) == -1)
		rc = -1;
	if (rc != 0)
		unlink(tmp);
	return rc;
}

/*
 * The folder (made 0700 when missing) and the lock, bounded in time.
 * Returns the lock's descriptor, or -1: no cache this time.
 */
static int
cache_lock(const char *path, int create)
{
	char dir[4096], lock[4200], *slash;
	struct stat st;
	struct err e;
	int fd, i;

	strlcpy(dir, path, sizeof(dir));
	if ((slash = strrchr(dir, '/')) == NULL || slash == dir)
		return -1;
	*slash = '\0';
	if (create && lstat(dir, &st) == -1 && errno == ENOENT &&
	    make_private_dirs(dir, "TLS session cache folder", &e) == -1)
		log_info("%s", e.msg);
	if (lstat(dir, &st) == -1 || !S_ISDIR(st.st_mode) ||
	    st.st_uid != geteuid() || (st.st_mode & 077) != 0)
		return -1;
	snprintf(lock, sizeof(lock), "%s.lock", path);
	if ((fd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	    0600)) == -1)
		return -1;
	if (fstat(fd, &st) == -1 || st.st_uid != geteuid()) {
		close(fd);
		return -1;
	}
	for (i = 0; i < LOCK_TRIES; i++) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return fd;
		if (errno != EWOULDBLOCK)
			break;
		usleep(LOCK_WAIT_US);
	}
	close(fd);
	return -1;
}

int
tlscache_take(const char *path, const char *key, unsigned char **der,
    size_t *len)
{
	struct cache c;
	size_t i, best = 0;
	int lock, fd, marked, found = 0;

	*der = NULL;
	if ((lock = cache_lock(path, 0)) == -1)
		return 0;
	cache_read(path, &c, &fd);
	for (i = 0; i < c.n; i++)
		if (strcmp(c.e[i].key, key) == 0 && (!found ||
		    c.e[i].expiry > c.e[best].expiry)) {
			best = i;
			found = 1;
		}
	if (found) {
		*der = c.e[best].der;
		*len = c.e[best].len;
		free(c.e[best].key);
		marked = mark_used(fd, &c.e[best]) == 0;
		c.e[best] = c.e[--c.n];
		if (!marked)
			(void)cache_write(path, &c);
	}
	if (fd != -1)
		close(fd);
	cache_free(&c);
	close(lock);
	return found;
}

int
tlscache_put(const char *path, const char *key, unsigned char * const *der,
    const size_t *len, const time_t *expiry, size_t n)
{
	struct cache c;
	struct entry *e;
	size_t i, k, oldest;
	int lock, rc = 0;

	if (n > TLSCACHE_PER_KEY)
		n = TLSCACHE_PER_KEY;
	if (strlen(key) >= TLSCACHE_KEY_MAX || (lock = cache_lock(path, 1)) ==
	    -1)
		return -1;
	cache_read(path, &c, NULL);
	/* The key's others go: these are newer. */
	for (i = 0; i < c.n; )
		if (strcmp(c.e[i].key, key) == 0) {
			free(c.e[i].key);
			secret_free_n(c.e[i].der, c.e[i].len);
			c.e[i] = c.e[--c.n];
		} else
			i++;
	for (k = 0; k < n && rc == 0; k++) {
		if (len[k] == 0 || len[k] > TLSCACHE_DER_MAX)
			continue;
		/* Full: the one that expires first makes room. */
		if (c.n == TLSCACHE_ENTRIES) {
			for (oldest = 0, i = 1; i < c.n; i++)
				if (c.e[i].expiry < c.e[oldest].expiry)
					oldest = i;
			free(c.e[oldest].key);
			secret_free_n(c.e[oldest].der, c.e[oldest].len);
			c.e[oldest] = c.e[--c.n];
		}
		e = &c.e[c.n];
		if ((e->key = strdup(key)) == NULL ||
		    (e->der = malloc(len[k])) == NULL) {
			free(e->key);
			rc = -1;
			break;
		}
		memcpy(e->der, der[k], len[k]);
		e->len = len[k];
		e->expiry = expiry[k];
		c.n++;
	}
	if (rc == 0)
		rc = cache_write(path, &c);
	cache_free(&c);
	close(lock);
	return rc;
}
