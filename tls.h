/*
 * OpenSSL for the hub connection: one context per run, verification of the
 * chain and host name (or address) by default, SNI, the TLSFingerprint pin
 * and the client certificate.
 */
#ifndef SSMTP_TLS_H
#define SSMTP_TLS_H

#include <openssl/ssl.h>

#include "config.h"
#include "err.h"
#include "net.h"

/*
 * Make the context from the config: minimum version, CA store, client
 * certificate.  Returns NULL with ERR_CONFIG when a file cannot be used.
 */
SSL_CTX	*tls_ctx_new(const struct config *, struct err *);

/*
 * Start TLS on the connection (implicit TLS or after STARTTLS) and check
 * the peer: chain and host (unless TLSVerify=NO) and the pin when set.
 * host is what the certificate must name: a DNS name or an IP address.
 * Errors: ERR_UNAVAILABLE for handshake or verification failures,
 * ERR_TEMPFAIL when the connection fails or times out.
 */
int	tls_start(struct net *, SSL_CTX *, const struct config *,
	    const char *host, int timeout, struct err *);

/*
 * The reason OpenSSL gives for its last error, in words (its error
 * strings are loaded on first use), or NULL when it has none.
 */
const char	*tls_reason(void);

#endif
