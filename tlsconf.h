/*
 * TLS settings as plain data: what the face takes from the config and
 * hands, through the engine and the transport, to tls.c.  Ground floor:
 * no code, no OpenSSL.
 */
#ifndef SSMTP_TLSCONF_H
#define SSMTP_TLSCONF_H

#include <stddef.h>

struct tls_settings {
	int		 verify;	/* chain and host name (TLSVerify) */
	int		 pin;		/* fingerprint is set */
	unsigned char	 fingerprint[32];	/* SHA-256 of the certificate */
	int		 min_version;	/* 10, 11, 12 or 13 (TLS 1.x) */
	const char	*ca_file;	/* TLS_CA_File, for messages */
	const char	*ca_pem;	/* its bytes, read before the drop */
	size_t		 ca_pem_len;
	const char	*ca_dir;	/* TLS_CA_Dir, read when needed */
	int		 client_cert;	/* UseTLSCert */
	const char	*cert_file, *cert_pem;
	size_t		 cert_pem_len;
	const char	*key_file, *key_pem;	/* the key: a secret */
	size_t		 key_pem_len;
	const char	*session_cache;	/* the TLS session cache, or NULL */
};

/* TLS sessions kept between processes (tlscache.h). */
#define TLS_SESSION_LIFETIME	3600	/* s, whatever the ticket says */
#define TLS_SESSION_DER_MAX	8192	/* one session, encoded */
#define TLS_TICKETS_MAX		2	/* kept per hub: servers send two */

/* What a TLS session came to, as plain text (for ssmtp --check). */
struct tls_info {
	int		 on;		/* a handshake was tried */
	char		 version[16];	/* "TLSv1.3" */
	char		 cipher[64];
	char		 subject[256];	/* the hub's certificate, RFC 2253 */
	char		 issuer[256];
	char		 not_before[40], not_after[40];
	int		 verified;	/* chain and host name checked, good */
	char		 verify_error[160];	/* why not, or "" */
	int		 pin;		/* -1 not set, 0 mismatch, 1 match */
};

#endif
