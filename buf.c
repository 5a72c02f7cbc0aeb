/* Growable buffers with a ceiling, a buffered writer, secret wiping. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"

void
buf_init(struct buf *b, size_t max)
{
	b->p = NULL;
	b->len = b->cap = 0;
	b->max = max;
}

void
buf_free(struct buf *b, int wipe)
{
	if (b->p != NULL && wipe)
		explicit_bzero(b->p, b->cap);	/* grown as needed: no bigger */
	free(b->p);
	buf_init(b, b->max);
}

/* Room for n more bytes and a NUL. */
static int
buf_room(struct buf *b, size_t n, struct err *e)
{
	size_t cap;
	char *p;

	if (n > b->max - b->len)
		return err_set(e, ERR_DATA, "more than %zu bytes", b->max);
	if (b->len + n + 1 <= b->cap)
		return 0;
	for (cap = b->cap ? b->cap : 256; cap < b->len + n + 1; cap *= 2)
		;
	if ((p = realloc(b->p, cap)) == NULL)
		return err_set(e, ERR_OSERR, "out of memory");
	b->p = p;
	b->cap = cap;
	return 0;
}

int
buf_add(struct buf *b, const void *p, size_t n, struct err *e)
{
	if (buf_room(b, n, e) == -1)
		return -1;
	if (n > 0)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

int
buf_printf(struct buf *b, struct err *e, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return err_set(e, ERR_SOFTWARE, "cannot format text");
	if (buf_room(b, (size_t)n, e) == -1)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

int
bufw_init(struct bufw *w, size_t size,
    int (*sink)(void *, const char *, size_t, struct err *), void *arg,
    struct err *e)
{
	w->len = 0;
	w->high = 0;
	w->block = 0;
	w->size = size;
	w->sink = sink;
	w->arg = arg;
	w->failed = 0;
	if ((w->p = malloc(size)) == NULL)
		return err_set(e, ERR_OSERR, "out of memory");
	return 0;
}

int
bufw_flush(struct bufw *w, struct err *e)
{
	if (w->failed)
		return -1;
	if (w->len > 0 && w->sink(w->arg, w->p, w->len, e) == -1) {
		w->failed = 1;
		return -1;
	}
	w->len = 0;
	return 0;
}

int
bufw_add(struct bufw *w, const void *p, size_t n, struct err *e)
{
	const char *s = p;
	size_t c;

	if (w->failed)
		return -1;
	while (n > 0) {
		if (w->len == w->size && bufw_flush(w, e) == -1)
			return -1;
		if (w->block > 0 && n >= w->block && w->len % w->block == 0) {
			if (w->len > 0 && bufw_flush(w, e) == -1)
				return -1;
			c = n - n % w->block;
			if (w->sink(w->arg, s, c, e) == -1) {
				w->failed = 1;
				return -1;
			}
			s += c;
			n -= c;
			continue;
		}
		c = w->size - w->len < n ? w->size - w->len : n;
		/* Up to a whole block, so that the rest can go straight on. */
		if (w->block > 0 && n >= w->block && c > w->block - w->len %
		    w->block)
			c = w->block - w->len % w->block;
		memcpy(w->p + w->len, s, c);
		w->len += c;
		if (w->len > w->high)
			w->high = w->len;
		s += c;
		n -= c;
	}
	return 0;
}

void
bufw_free(struct bufw *w, int wipe)
{
	if (w->p != NULL && wipe)
		explicit_bzero(w->p, w->high);
	free(w->p);
	w->p = NULL;
	w->len = 0;
}

int
bufw_fd_sink(void *arg, const char *p, size_t n, struct err *e)
{
	int fd = *(int *)arg;
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			return err_set(e, ERR_IOERR, "%s", strerror(errno));
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

void
secret_free(char *s)
{
	if (s != NULL)
		secret_free_n(s, strlen(s));
}

void
secret_free_n(void *p, size_t n)
{
	if (p != NULL) {
		explicit_bzero(p, n);
		free(p);
	}
}
