/*
 * The OpenSSL provider ssmtp fetches from: OpenSSL's own default provider,
 * with the ciphers and key decoders that ssmtp never asks for left out.
 *
 * Why: OpenSSL 3.0 builds a method object for every algorithm a provider
 * offers for an operation, and does so again for every decoder each time
 * it decodes a key.  The default provider offers 124 ciphers, of which
 * libssl asks for 16, and 40 decoders, of which a certificate's key needs
 * 8: those for a SubjectPublicKeyInfo of a key type that can sign.
 * Building the rest was a fifth of what a message cost (bench/RESULTS.md).
 *
 * How: the default provider is loaded into a library context of its own
 * (so that its own fetches, of the digest inside an HMAC, say, still see
 * all of it), and this provider, the only one of the process's default
 * context, hands on its algorithms, filtered, with its provider context:
 * the code that runs is OpenSSL's, unchanged.  Every other operation
 * (digests, MACs, KDFs, key management, signatures, key exchange,
 * encoders, stores) is handed on whole, as are the TLS group list and
 * the parameters.
 *
 * The random generators of both contexts are Hash_DRBG with SHA-256 (SP
 * 800-90A, as CTR_DRBG with AES-256, OpenSSL's default, is): CTR_DRBG
 * would fetch a cipher in the inner context and so build all 124 there.
 */
#include <strings.h>
#include <string.h>

#include <openssl/core.h>
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/provider.h>
#include <openssl/rand.h>

#include "provider.h"

#define PROVIDER_NAME	"ssmtp"

/*
 * The ciphers libssl 3.0 fetches (ssl/ssl_ciph.c: the table of record
 * ciphers and the stitched CBC-HMAC ones), by their first names; those
 * of them the default provider lacks (DES, RC4, IDEA, SEED, GOST) are
 * absent anyway.
 */
static const char *const tls_ciphers[] = {
	"DES-EDE3-CBC",
	"AES-128-CBC", "AES-256-CBC",
	"AES-128-CBC-HMAC-SHA1", "AES-256-CBC-HMAC-SHA1",
	"AES-128-CBC-HMAC-SHA256", "AES-256-CBC-HMAC-SHA256",
	"AES-128-GCM", "AES-256-GCM",
	"AES-128-CCM", "AES-256-CCM",
	"CAMELLIA-128-CBC", "CAMELLIA-256-CBC",
	"ARIA-128-GCM", "ARIA-256-GCM",
	"ChaCha20-Poly1305",
	NULL
};

static OSSL_LIB_CTX *inner;
static OSSL_PROVIDER *deflt;
static int all_decoders;

/* The filtered lists, made once; a list holds at most what it filters. */
#define FILTERED_MAX	160
static OSSL_ALGORITHM ciphers[FILTERED_MAX + 1], decoders[FILTERED_MAX + 1];
static int ciphers_made, decoders_made;

/* Does the first of names ("AES-128-GCM:id-aes128-GCM:2.16...") match? */
static int
first_name_listed(const char *names, const char *const *list)
{
	size_t n = strcspn(names, ":");

	for (; *list != NULL; list++)
		if (strlen(*list) == n && strncasecmp(names, *list, n) == 0)
			return 1;
	return 0;
}

static int
cipher_wanted(const OSSL_ALGORITHM *a)
{
	return first_name_listed(a->algorithm_names, tls_ciphers);
}

/*
 * Key types that cannot sign, so never are a certificate's in a chain
 * TLS can use (RFC 8446 4.4.2.4, RFC 5246 7.4.2: the leaf signs or is
 * RSA; a CA signs): a certificate holding one still parses, only its key
 * is left undecoded, as for any type OpenSSL does not know.
 */
static const char *const unsigning_keys[] = {
	"DH", "DHX", "X25519", "X448", NULL
};

/*
 * A certificate's key is "DER", "SubjectPublicKeyInfo" (crypto/x509/
 * x_pubkey.c); a client key needs the others too (PEM, PKCS #8, the
 * types' own structures), and gets them all.
 */
static int
decoder_wanted(const OSSL_ALGORITHM *a)
{
	const char *p = a->property_definition;

	if (all_decoders)
		return 1;
	return p != NULL && strstr(p, "input=der") != NULL &&
	    strstr(p, "structure=SubjectPublicKeyInfo") != NULL &&
	    !first_name_listed(a->algorithm_names, unsigning_keys);
}

static const OSSL_ALGORITHM *
filtered(const OSSL_ALGORITHM *from, OSSL_ALGORITHM *to, int *made,
    int (*wanted)(const OSSL_ALGORITHM *))
{
	size_t n = 0;

	if (from == NULL)
		return NULL;
	if (!*made) {
		for (; from->algorithm_names != NULL; from++)
			if (wanted(from)) {
				if (n == FILTERED_MAX)
					break;	/* a later OpenSSL: the rest */
				to[n++] = *from;
			}
		memset(&to[n], 0, sizeof(to[n]));
		*made = 1;
	}
	return to;
}

static const OSSL_ALGORITHM *
query_operation(void *provctx, int op, int *no_cache)
{
	const OSSL_ALGORITHM *a;

	(void)provctx;
	a = OSSL_PROVIDER_query_operation(deflt, op, no_cache);
	switch (op) {
	case OSSL_OP_CIPHER:
		return filtered(a, ciphers, &ciphers_made, cipher_wanted);
	case OSSL_OP_DECODER:
		return filtered(a, decoders, &decoders_made, decoder_wanted);
	default:
		return a;
	}
}

static int
get_capabilities(void *provctx, const char *capability,
    OSSL_CALLBACK *cb, void *arg)
{
	(void)provctx;
	return OSSL_PROVIDER_get_capabilities(deflt, capability, cb, arg);
}

static const OSSL_PARAM *
gettable_params(void *provctx)
{
	(void)provctx;
	return OSSL_PROVIDER_gettable_params(deflt);
}

static int
get_params(void *provctx, OSSL_PARAM params[])
{
	(void)provctx;
	return OSSL_PROVIDER_get_params(deflt, params);
}

static void
teardown(void *provctx)
{
	(void)provctx;
	OSSL_PROVIDER_unload(deflt);
	OSSL_LIB_CTX_free(inner);
	deflt = NULL;
	inner = NULL;
}

static const OSSL_DISPATCH dispatch[] = {
	{ OSSL_FUNC_PROVIDER_QUERY_OPERATION, (void (*)(void))query_operation },
	{ OSSL_FUNC_PROVIDER_GET_CAPABILITIES,
	    (void (*)(void))get_capabilities },
	{ OSSL_FUNC_PROVIDER_GETTABLE_PARAMS, (void (*)(void))gettable_params },
	{ OSSL_FUNC_PROVIDER_GET_PARAMS, (void (*)(void))get_params },
	{ OSSL_FUNC_PROVIDER_TEARDOWN, (void (*)(void))teardown },
	{ 0, NULL }
};

static int
provider_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
    const OSSL_DISPATCH **out, void **provctx)
{
	(void)handle, (void)in;
	if ((inner = OSSL_LIB_CTX_new()) == NULL)
		return 0;
	if (!RAND_set_DRBG_type(inner, "HASH-DRBG", NULL, NULL, "SHA256") ||
	    (deflt = OSSL_PROVIDER_load(inner, "default")) == NULL) {
		OSSL_LIB_CTX_free(inner);
		inner = NULL;
		return 0;
	}
	*provctx = OSSL_PROVIDER_get0_provider_ctx(deflt);
	*out = dispatch;
	return 1;
}

int
provider_setup(int key_decoders)
{
	all_decoders = key_decoders;
	return RAND_set_DRBG_type(NULL, "HASH-DRBG", NULL, NULL, "SHA256") &&
	    OSSL_PROVIDER_add_builtin(NULL, PROVIDER_NAME, provider_init) &&
	    OSSL_PROVIDER_load(NULL, PROVIDER_NAME) != NULL;
}
