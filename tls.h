/*
 * OpenSSL for the hub connection: the client context (one per process,
 * kept by the transport), a TLS session per connection with the chain
 * and host name (or address) verified by default and SNI, the
 * TLSFingerprint pin and the client certificate.  tls.c knows nothing of
 * SMTP or of the connection: the transport runs the handshake.
 */
#ifndef SSMTP_TLS_H
#define SSMTP_TLS_H

#include <time.h>

#include <openssl/ssl.h>

#include "err.h"
#include "tlsconf.h"

/*
 * Make the context from the settings: minimum version, CA store (the CA
 * file from the bytes read early), client certificate and key.  Returns
 * NULL with ERR_CONFIG when one cannot be used.
 */
SSL_CTX	*tls_ctx_new(const struct tls_settings *, struct err *);

void	 tls_ctx_free(SSL_CTX *);

/*
 * A TLS session on socket fd for a connection to host (a DNS name or an
 * IP address): verification of the chain and host unless !verify, SNI
 * for a name.  Returns NULL with ERR_SOFTWARE.
 */
SSL	*tls_session_new(SSL_CTX *, const struct tls_settings *,
	    const char *host, int fd, struct err *);

/*
 * Offer a cached session (DER) on the next handshake of ssl; one that
 * OpenSSL no longer parses is ignored.  Returns 1 when offered.
 */
int	 tls_offer_session(SSL *, const unsigned char *, size_t);

/*
 * The identity of the trust store the settings name (the CA file and
 * folder, or the system's as OpenSSL finds it: paths, inodes, sizes,
 * times) into buf, for the session cache's key: a changed store is
 * another key.  Returns 0, or -1 when it does not fit.
 */
int	 tls_store_id(const struct tls_settings *, char *, size_t);

/* Whether the handshake resumed a session. */
int	 tls_resumed(SSL *);

/*
 * The TLS 1.3 sessions the hub sent on this connection (new session
 * tickets, collected as they arrived), as DER with their expiry (at most
 * TLS_SESSION_LIFETIME away), up to max.  The caller asks only for a
 * session that was verified or pinned.  Returns how many; each der[i] is
 * allocated.
 */
size_t	 tls_tickets(SSL *, unsigned char **der, size_t *len, time_t *expiry,
	    size_t max);

/*
 * After a failed handshake: -1 with ERR_UNAVAILABLE ("not trusted" and
 * OpenSSL's reason) when certificate verification failed, else 0.
 */
int	 tls_verify_error(SSL *, const struct tls_settings *,
	    const char *host, struct err *);

/*
 * After the handshake: the pin, when set (ERR_UNAVAILABLE when it does
 * not match); with -v, the version, cipher and verification.
 */
int	 tls_session_check(SSL *, const struct tls_settings *,
	    const char *host, struct err *);

/*
 * The reason OpenSSL gives for its last error, in words (its error
 * strings are loaded on first use), or NULL when it has none.
 */
const char *tls_reason(void);

/*
 * Describe a session (after its handshake, or after one that failed):
 * version, cipher, the hub's certificate, the verification and the pin.
 */
void	 tls_describe(SSL *, const struct tls_settings *, struct tls_info *);

#endif
