/* Diagnostics and the error type shared by the modules. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "err.h"
#include "log.h"

int log_verbose;

int
err_set(struct err *e, enum err_kind kind, const char *fmt, ...)
{
	va_list ap;

	e->kind = kind;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

void
err_prefix(struct err *e, const char *prefix)
{
	char tmp[sizeof(e->msg)];

	snprintf(tmp, sizeof(tmp), "%s%s", prefix, e->msg);
	strlcpy(e->msg, tmp, sizeof(e->msg));
}

static void
vwarn(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

static void
vwarn(const char *fmt, va_list ap)
{
	fputs("ssmtp: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
}

void
log_proto(const char *dir, const char *line, size_t len)
{
	size_t i;

	if (!log_verbose)
		return;
	fprintf(stderr, "%s ", dir);
	/* Show control characters escaped so a hostile reply cannot forge lines. */
	for (i = 0; i < len; i++) {
		unsigned char c = line[i];

		if (c < 0x20 || c == 0x7f)
			fprintf(stderr, "\\x%02x", c);
		else
			fputc(c, stderr);
	}
	fputc('\n', stderr);
}

void
log_syslog(int prio, const char *fmt, ...)
{
	va_list ap;

	openlog("ssmtp", LOG_PID, LOG_MAIL);
	va_start(ap, fmt);
	vsyslog(prio, fmt, ap);
	va_end(ap);
	closelog();
}

void
log_rcpts(char *buf, size_t size, char * const *rcpts, size_t n)
{
	size_t i, len = 0;

	*buf = '\0';
	for (i = 0; i < n && len < 900 && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s<%s>",
		    i ? "," : "", rcpts[i]);
	if (i < n && len < size)
		snprintf(buf + len, size - len, ",... (%zu in all)", n);
}
