/*
 * Results shared by every module.  A module reports what went wrong and of
 * what kind; only ssmtp.c turns a kind into an exit code (sysexits.h).
 */
#ifndef SSMTP_ERR_H
#define SSMTP_ERR_H

#include <stddef.h>

enum err_kind {
	ERR_NONE = 0,
	ERR_USAGE,		/* bad command line (64) */
	ERR_DATA,		/* unusable message (65) */
	ERR_NOUSER,		/* a recipient refused permanently (67) */
	ERR_NOHOST,		/* the hub's name does not exist (68) */
	ERR_UNAVAILABLE,	/* other permanent refusal, TLS failure (69) */
	ERR_SOFTWARE,		/* internal error (70) */
	ERR_OSERR,		/* system failure on this machine (71) */
	ERR_IOERR,		/* local I/O failure (74) */
	ERR_TEMPFAIL,		/* try again later (75) */
	ERR_PROTOCOL,		/* the server does not speak SMTP (76) */
	ERR_NOPERM,		/* authentication refused (77) */
	ERR_CONFIG		/* configuration error (78) */
};

struct err {
	enum err_kind	 kind;
	char		 msg[1024];
};

/*
 * Record an error of the given kind with a printf-style message.  Always
 * returns -1 so that callers can write "return err_set(...)".
 */
int	err_set(struct err *, enum err_kind, const char *, ...)
	    __attribute__((format(printf, 3, 4)));

/* Add context in front of an existing message ("connect: " + msg). */
void	err_prefix(struct err *, const char *);

#endif
