/*
 * The TLS session cache: the hub's TLS 1.3 session tickets kept in a file
 * of the user's own between processes, so that the next connection to the
 * same hub, with the same verification settings, resumes instead of
 * verifying the chain again (as Postfix's SMTP client does).  Plain data
 * (a session is an opaque DER blob here); transport level: net.c uses it.
 *
 * The file: "ssmtp-tls-sessions 1", then one line per session,
 * "<expiry> <key> <hex DER>".  It is the user's (mode 0600 in a 0700
 * folder, owner and mode checked before use), read and rewritten (a
 * temporary file renamed over it) under a lock on "<file>.lock", bounded
 * (TLSCACHE_ENTRIES sessions, TLSCACHE_FILE_MAX bytes).  A session taken
 * is marked used in place, its expiry overwritten with zeros, so that a
 * message costs one rewrite, not two.  A file that is not safe is
 * ignored; a line that does not parse, or has expired, is dropped.
 */
#ifndef SSMTP_TLSCACHE_H
#define SSMTP_TLSCACHE_H

#include <stddef.h>
#include <time.h>

#include "tlsconf.h"

#define TLSCACHE_ENTRIES	32		/* sessions in the file */
#define TLSCACHE_DER_MAX	TLS_SESSION_DER_MAX
#define TLSCACHE_FILE_MAX	(1024 * 1024)
#define TLSCACHE_LIFETIME	TLS_SESSION_LIFETIME
#define TLSCACHE_KEY_MAX	2048
#define TLSCACHE_PER_KEY	TLS_TICKETS_MAX

/*
 * The cache file of this user into buf: $XDG_CACHE_HOME/ssmtp, else
 * ~/.cache/ssmtp (HOME, else the passwd home), else /var/cache/ssmtp for
 * root; "tls-sessions" in it.  Returns 0, or -1 when there is no place.
 */
int	tlscache_path(char *buf, size_t size);

/*
 * The key of a hub and the settings its verification depends on: host,
 * port (the SNI name is the host), TLSVerify, the minimum version, the
 * client certificate, the pin, and store, the trust store's identity
 * (tls.c: tls_store_id): a changed setting is another key.  Returns 0,
 * or -1 when it does not fit (then: no cache).
 */
int	tlscache_key(const struct tls_settings *, const char *host, int port,
	    const char *store, char *buf, size_t size);

/*
 * Take the newest session for key that has not expired out of the cache
 * (a TLS 1.3 ticket is for one use, RFC 8446 C.4): *der allocated.
 * Returns 1 when there was one, 0 when not (or on any trouble: a cache
 * never fails a send).
 */
int	tlscache_take(const char *path, const char *key, unsigned char **der,
	    size_t *len);

/*
 * Store n sessions (at most TLSCACHE_PER_KEY) for key, each with its
 * expiry, in place of the key's others; expired ones are dropped and the
 * oldest go past TLSCACHE_ENTRIES.  Returns 0, or -1 (nothing changed).
 */
int	tlscache_put(const char *path, const char *key,
	    unsigned char * const *der, const size_t *len,
	    const time_t *expiry, size_t n);

/*
 * How many entries of a cache file's text (len bytes, not necessarily
 * NUL-terminated) are kept: for the fuzzer.
 */
size_t	tlscache_parse(const char *, size_t);

#endif
