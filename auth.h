/*
 * SASL as a codec (RFC 4954): PLAIN, LOGIN, CRAM-MD5, XOAUTH2 and
 * OAUTHBEARER; choosing a mechanism.  Challenges in, responses out, no
 * I/O: the engine runs the exchange.
 */
#ifndef SSMTP_AUTH_H
#define SSMTP_AUTH_H

#include <stddef.h>

#include "err.h"

/* The mechanisms ssmtp knows, as bits of an offered set. */
#define AUTH_PLAIN		0x01
#define AUTH_LOGIN		0x02
#define AUTH_CRAM_MD5		0x04
#define AUTH_XOAUTH2		0x08
#define AUTH_OAUTHBEARER	0x10

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

/* One SASL exchange, client side. */
struct sasl {
	unsigned	 mech;		/* AUTH_* */
	const char	*name;
	const char	*user, *secret;
	int		 step;		/* challenges answered */
};

/*
 * Start mech (a name auth_choose returned) for user with secret; host and
 * port go into OAUTHBEARER's response.  *initial gets the initial
 * response (base64, for the AUTH line; wipe it with secret_free) or NULL
 * when the server speaks first (LOGIN, CRAM-MD5).  Returns 0, or -1 with
 * ERR_OSERR.
 */
int	sasl_start(struct sasl *, const char *mech, const char *user,
	    const char *secret, const char *host, int port, char **initial,
	    struct err *);

/*
 * The response to a 334 challenge (its text, base64 for CRAM-MD5): *resp
 * gets the line to send (wipe it with secret_free).  Returns 0, or -1
 * with ERR_PROTOCOL when the mechanism has nothing more to say (the
 * engine then cancels with "*") or the challenge is not base64.
 */
int	sasl_step(struct sasl *, const char *chal, size_t len, char **resp,
	    struct err *);

#endif
