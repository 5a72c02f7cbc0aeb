/*
 * SASL authentication (RFC 4954): PLAIN, LOGIN, CRAM-MD5, XOAUTH2 and
 * OAUTHBEARER; choosing a mechanism; the secret from AuthPass or
 * AuthPassCommand.
 */
#ifndef SSMTP_AUTH_H
#define SSMTP_AUTH_H

#include <stddef.h>

#include "config.h"
#include "err.h"

struct smtp;

/* The mechanisms ssmtp knows, as bits of an offered set. */
#define AUTH_PLAIN		0x01
#define AUTH_LOGIN		0x02
#define AUTH_CRAM_MD5		0x04
#define AUTH_XOAUTH2		0x08
#define AUTH_OAUTHBEARER	0x10

/*
 * Fetch the secret into *secret (allocated; wipe and free with
 * auth_secret_free): AuthPass, else the first line AuthPassCommand prints
 * within timeout seconds.  The helper runs in its own process group with
 * /dev/null as stdin, default signal dispositions and no descriptor of
 * ours; it is ended (the whole group) a second after its first line, or
 * at the timeout.  Errors: ERR_TEMPFAIL when it timed out, ERR_CONFIG
 * when neither is set, or the command fails, exits non-zero or prints
 * no line.
 */
int	auth_secret(const struct config *, int timeout, char **secret,
	    struct err *);

void	auth_secret_free(char *);

/* The AUTH_* bit of a mechanism name of len bytes, or 0 when unknown. */
unsigned auth_mech_bit(const char *name, size_t len);

/*
 * Pick the mechanism from the offered AUTH_* bits: AuthMethod when set
 * (it must be offered), else the strongest both sides have.  list is
 * what the hub offered, for the message.  Returns the name, or NULL with
 * ERR_UNAVAILABLE when none fits.
 */
const char *auth_choose(unsigned offered, const char *list,
	    const char *forced, int tls, struct err *);

/*
 * Decode len bytes of base64 into a new buffer (NUL-terminated; its
 * length in *outlen).  Returns NULL when in is not base64 or without
 * memory.
 */
unsigned char *auth_b64_decode(const char *in, size_t len, size_t *outlen);

/*
 * The CRAM-MD5 response (RFC 2195 2) to a base64 challenge of len bytes:
 * base64 of "user SP 32 hex digits", sized from the user name.  Returns
 * a new string (wipe it), or NULL with ERR_PROTOCOL for a challenge that
 * is not base64, ERR_OSERR without memory.
 */
char	*auth_cram_md5_response(const char *user, const char *secret,
	    const char *chal, size_t len, struct err *);

/*
 * Authenticate as c->auth_user with secret.  Refuses (ERR_UNAVAILABLE) to send a secret
 * over a connection without TLS unless the hub is on a loopback address.
 * Errors: ERR_NOPERM when the hub refuses the credentials, ERR_TEMPFAIL
 * for 4xx, as smtp otherwise.
 */
int	auth_login(struct smtp *, const struct config *, const char *secret,
	    struct err *);

#endif
