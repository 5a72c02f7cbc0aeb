/*
 * Diagnostics: the -v transcript on stderr, warnings, and the one syslog
 * line per message.  Secrets never pass through here unredacted.
 */
#ifndef SSMTP_LOG_H
#define SSMTP_LOG_H

extern int log_verbose;		/* -v or Debug=YES */

/* Print "ssmtp: " and a message to stderr. */
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));

/* With -v, print a line of the dialogue: dir is "<-" or "->". */
void	log_proto(const char *dir, const char *line, size_t len);

/* With -v, print an informational line. */
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));

/* Send one line to syslog (LOG_MAIL) at the given priority. */
void	log_syslog(int, const char *, ...) __attribute__((format(printf, 2, 3)));

#include <stddef.h>

/*
 * The recipients for a log line, "<a>,<b>", into buf: as many as fit in
 * about 900 bytes, then ",... (N in all)".
 */
void	log_rcpts(char *buf, size_t size, char * const *rcpts, size_t n);

#endif
