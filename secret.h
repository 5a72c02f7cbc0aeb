/*
 * The secret for AUTH: AuthPass, or the first line an AuthPassCommand
 * helper prints (part of the face).
 */
#ifndef SSMTP_SECRET_H
#define SSMTP_SECRET_H

#include "config.h"
#include "err.h"

/*
 * Fetch the secret into *secret (allocated; wipe and free with
 * secret_free): AuthPass, else the first line AuthPassCommand prints
 * within timeout seconds.  The helper runs in its own process group with
 * /dev/null as stdin, default signal dispositions and no descriptor of
 * ours; it is ended (the whole group) a second after its first line, or
 * at the timeout.  Errors: ERR_TEMPFAIL when it timed out, ERR_CONFIG
 * when neither is set, or the command fails, exits non-zero or prints
 * no line.
 */
int	secret_get(const struct config *, int timeout, char **secret,
	    struct err *);

#endif
