/*
 * SASL authentication (RFC 4954): PLAIN, LOGIN, CRAM-MD5, XOAUTH2 and
 * OAUTHBEARER; choosing a mechanism; the secret from AuthPass or
 * AuthPassCommand.
 */
#ifndef SSMTP_AUTH_H
#define SSMTP_AUTH_H

#include "config.h"
#include "err.h"
#include "smtp.h"

/*
 * Fetch the secret into *secret (allocated; wipe and free with
 * auth_secret_free): AuthPass, else the first line AuthPassCommand prints.
 * Errors: ERR_CONFIG when neither is set or the command fails.
 */
int	auth_secret(const struct config *, char **secret, struct err *);

void	auth_secret_free(char *);

/*
 * Pick the mechanism: AuthMethod when set (it must be offered), else the
 * strongest both sides have.  Returns the name, or NULL with
 * ERR_UNAVAILABLE when none fits.
 */
const char *auth_choose(const char *offered, const char *forced, int tls,
	    struct err *);

/*
 * Authenticate as c->auth_user.  Refuses (ERR_UNAVAILABLE) to send a secret
 * over a connection without TLS unless the hub is on a loopback address.
 * Errors: ERR_NOPERM when the hub refuses the credentials, ERR_TEMPFAIL
 * for 4xx, as smtp otherwise.
 */
int	auth_login(struct smtp *, const struct config *, struct err *);

#endif
