/* OpenSSL: the client context, verification, SNI, the pin.  No SMTP. */
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "provider.h"
#include "tls.h"

/*
 * The tickets of one connection, collected by the new-session callback:
 * under TLS 1.3 they arrive after the handshake, inside SSL_read.
 */
struct tickets {
	SSL_SESSION	*s[TLS_TICKETS_MAX];
	size_t		 n;
};

static int tickets_index = -1;

static void
tickets_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
    void *argp)
{
	struct tickets *t = ptr;
	size_t i;

	(void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
	if (t == NULL)
		return;
	for (i = 0; i < t->n; i++)
		SSL_SESSION_free(t->s[i]);
	free(t);
}

/*
 * Keep a TLS 1.3 session the hub sent, the newest TLS_TICKETS_MAX; a
 * TLS 1.2 session holds the master secret of the connection that carried
 * AUTH, and is never kept.  Returns 1: the session is ours.
 */
static int
new_session(SSL *ssl, SSL_SESSION *sess)
{
	struct tickets *t = SSL_get_ex_data(ssl, tickets_index);

	if (t == NULL || SSL_SESSION_get_protocol_version(sess) !=
	    TLS1_3_VERSION || !SSL_SESSION_is_resumable(sess))
		return 0;
	if (t->n == TLS_TICKETS_MAX) {
		SSL_SESSION_free(t->s[0]);
		memmove(t->s, t->s + 1, sizeof(t->s[0]) * (t->n - 1));
		t->n--;
	}
	t->s[t->n++] = sess;
	return 1;
}

/*
 * OpenSSL's error strings, loaded when the first error is described: at
 * start-up they cost about 1.3 million instructions (tls_init).  The
 * loaders are deprecated in OpenSSL 3.0 but are its only way to load
 * them after OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS.
 */
static void
load_error_strings(void)
{
	static int loaded;

	if (loaded)
		return;
	loaded = 1;
#ifndef OPENSSL_NO_DEPRECATED_3_0	/* an OpenSSL built without them */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	ERR_load_ERR_strings();
	ERR_load_SSL_strings();
	ERR_load_X509_strings();
	ERR_load_X509V3_strings();
	ERR_load_PEM_strings();
	ERR_load_ASN1_strings();
	ERR_load_EVP_strings();
	ERR_load_BIO_strings();
	ERR_load_BUF_strings();
	ERR_load_CRYPTO_strings();
	ERR_load_OBJ_strings();
	ERR_load_EC_strings();
	ERR_load_RSA_strings();
	ERR_load_BN_strings();
	ERR_load_DH_strings();
	ERR_load_RAND_strings();
	ERR_load_OSSL_STORE_strings();
	ERR_load_CONF_strings();
#pragma GCC diagnostic pop
#endif
}

const char *
tls_reason(void)
{
	unsigned long code = ERR_peek_last_error();
	const char *r;
	static char buf[128];

	if (code == 0)
		return NULL;
	load_error_strings();
	if ((r = ERR_reason_error_string(code)) != NULL)
		return r;
	/* A library without strings here: "error:1C800064:...". */
	ERR_error_string_n(code, buf, sizeof(buf));
	return buf;
}

static const char *
ssl_reason(void)
{
	const char *r = tls_reason();

	return r != NULL ? r : "unknown error";
}

/*
 * Set OpenSSL up once, leaving out what costs instructions on every run
 * and that ssmtp does not use (bench/RESULTS.md):
 * - openssl.cnf: what Debian's sets, tls_ctx_new sets itself (TLS 1.2 at
 *   least, security level 2);
 * - the legacy tables of every cipher and digest by name: libssl fetches
 *   its algorithms from the providers.  Certificate checks still look
 *   digests up in that table (the security bits of a signature, RSA-PSS
 *   parameters), so the SHA-2 and SHA-3 digests go back in; without an
 *   entry a signature counts as too weak, as SHA-1 and MD5 are anyway;
 * - the error strings, until an error is described (tls_reason);
 * - the clean-up at exit, which frees what the kernel frees anyway;
 * - the default provider's 108 ciphers libssl never fetches, and the
 *   decoders a certificate's key does not need unless a client key is to
 *   be read: ssmtp's provider hands on the rest (provider.c).
 */
static void
tls_init(int client_key)
{
	static int done;

	if (done)
		return;
	done = 1;
	OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG |
	    OPENSSL_INIT_NO_ADD_ALL_CIPHERS | OPENSSL_INIT_NO_ADD_ALL_DIGESTS |
	    OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS |
	    OPENSSL_INIT_NO_LOAD_SSL_STRINGS | OPENSSL_INIT_NO_ATEXIT, NULL);
	EVP_add_digest(EVP_sha224());
	EVP_add_digest(EVP_sha256());
	EVP_add_digest(EVP_sha384());
	EVP_add_digest(EVP_sha512());
	EVP_add_digest(EVP_sha512_224());
	EVP_add_digest(EVP_sha512_256());
	EVP_add_digest(EVP_sha3_224());
	EVP_add_digest(EVP_sha3_256());
	EVP_add_digest(EVP_sha3_384());
	EVP_add_digest(EVP_sha3_512());
	(void)provider_setup(client_key);
}

/* Why a file OpenSSL failed to use: the OS error when it has one. */
static const char *
file_reason(const char *path)
{
	if (path != NULL && access(path, R_OK) == -1)
		return strerror(errno);
	return ssl_reason();
}

/* Whether dir holds OpenSSL hash links ("5ad8a5d6.0"): c_rehash'ed. */
static int
hashed_dir(const char *dir)
{
	struct dirent *de;
	DIR *d;
	size_t n;
	int found = 0;

	if ((d = opendir(dir)) == NULL)
		return 0;
	while (!found && (de = readdir(d)) != NULL) {
		n = strspn(de->d_name, "0123456789abcdef");
		found = n == 8 && de->d_name[8] == '.' &&
		    isdigit((unsigned char)de->d_name[9]);
	}
	closedir(d);
	return found;
}

/*
 * Trust the system's CA store.  Parsing the whole bundle costs about 240
 * million instructions, ten times the rest of a run; the hashed folder
 * (/etc/ssl/certs on Debian) lets OpenSSL load just the CA a chain needs,
 * when it needs it.  The bundle is the fall back, and SSL_CERT_FILE is
 * honoured as OpenSSL does.
 */
static int
load_system_store(SSL_CTX *ctx)
{
	const char *dir = getenv(X509_get_default_cert_dir_env());

	if (dir == NULL)
		dir = X509_get_default_cert_dir();
	if (getenv(X509_get_default_cert_file_env()) == NULL && hashed_dir(dir))
		return SSL_CTX_load_verify_dir(ctx, dir);
	return SSL_CTX_set_default_verify_paths(ctx);
}

/* A file's or folder's identity for the session cache's key. */
static size_t
identity(char *buf, size_t size, const char *what, const char *path)
{
	struct stat st;

	if (path == NULL)
		return (size_t)snprintf(buf, size, "%s:-|", what);
	if (stat(path, &st) == -1)
		return (size_t)snprintf(buf, size, "%s:%s:none|", what, path);
	return (size_t)snprintf(buf, size, "%s:%s:%llu:%llu:%lld:%lld.%09ld|",
	    what, path, (unsigned long long)st.st_dev,
	    (unsigned long long)st.st_ino, (long long)st.st_size,
	    (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

int
tls_store_id(const struct tls_settings *c, char *buf, size_t size)
{
	const char *f, *d;
	size_t n;

	if (c->ca_file != NULL || c->ca_dir != NULL) {
		n = identity(buf, size, "file", c->ca_file);
		if (n < size)
			n += identity(buf + n, size - n, "dir", c->ca_dir);
	} else {
		/* The system store, as load_system_store finds it. */
		if ((f = getenv(X509_get_default_cert_file_env())) == NULL)
			f = X509_get_default_cert_file();
		if ((d = getenv(X509_get_default_cert_dir_env())) == NULL)
			d = X509_get_default_cert_dir();
		n = identity(buf, size, "sysfile", f);
		if (n < size)
			n += identity(buf + n, size - n, "sysdir", d);
	}
	return n < size ? 0 : -1;
}

/*
 * The passphrase callback for TLSKey: OpenSSL's default asks on the
 * terminal (or reads stdin), which a sendmail must never do.  Refuse, and
 * note that the key wanted one.
 */
static int
no_passphrase(char *buf, int size, int rwflag, void *wanted)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	if (wanted != NULL)
		*(int *)wanted = 1;
	return -1;
}

/* Add the CA certificates (and CRLs) of PEM text to store. */
static int
add_ca_pem(X509_STORE *store, const char *pem, size_t len)
{
	STACK_OF(X509_INFO) *infos;
	X509_INFO *xi;
	BIO *bio;
	int i, n = 0, ok = 1;

	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return 0;
	infos = PEM_X509_INFO_read_bio(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (infos == NULL)
		return 0;
	for (i = 0; i < sk_X509_INFO_num(infos) && ok; i++) {
		xi = sk_X509_INFO_value(infos, i);
		if (xi->x509 != NULL) {
			ok = X509_STORE_add_cert(store, xi->x509) == 1;
			n++;
		}
		if (xi->crl != NULL && ok)
			ok = X509_STORE_add_crl(store, xi->crl) == 1;
	}
	sk_X509_INFO_pop_free(infos, X509_INFO_free);
	return ok && n > 0;
}

/*
 * Whether PEM text holds a certificate or a CRL, without parsing one:
 * the blocks' names only (decoding a certificate's key is what costs).
 */
static int
pem_has_certs(const char *pem, size_t len)
{
	char *name = NULL, *header = NULL;
	unsigned char *data = NULL;
	long dlen;
	BIO *bio;
	int n = 0;

	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return 0;
	/* One is enough: a bundle of 140 need not be decoded now. */
	while (n == 0 && PEM_read_bio(bio, &name, &header, &data, &dlen) ==
	    1) {
		n += strcmp(name, PEM_STRING_X509) == 0 ||
		    strcmp(name, PEM_STRING_X509_OLD) == 0 ||
		    strcmp(name, PEM_STRING_X509_TRUSTED) == 0 ||
		    strcmp(name, PEM_STRING_X509_CRL) == 0;
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(data);
	}
	BIO_free(bio);
	ERR_clear_error();	/* the end of the text reads as an error */
	if (n == 0)	/* OpenSSL's words for it, as from a file */
		ERR_raise(ERR_LIB_X509, X509_R_NO_CERTIFICATE_OR_CRL_FOUND);
	return n > 0;
}

/*
 * TLS_CA_File's certificates, read before the rights were dropped, are
 * parsed when a chain first asks for an issuer: a resumed session never
 * does, and each certificate's key costs OpenSSL 3.0 an OSSL_DECODER
 * (about 1.5 million instructions).  Then they are in the store.
 */
struct lazy_ca {
	const char	*pem;
	size_t		 len;
	int		 loaded;
};

static int
lazy_ca_by_subject(X509_LOOKUP *lu, X509_LOOKUP_TYPE type,
    const X509_NAME *name, X509_OBJECT *ret)
{
	struct lazy_ca *lz = X509_LOOKUP_get_method_data(lu);
	X509_STORE *store = X509_LOOKUP_get_store(lu);
	X509_OBJECT *o;

	if (lz == NULL || store == NULL)
		return 0;
	if (!lz->loaded) {
		lz->loaded = 1;
		if (!add_ca_pem(store, lz->pem, lz->len))
			ERR_clear_error();
	}
	if ((o = X509_OBJECT_retrieve_by_subject(X509_STORE_get0_objects(store),
	    type, (X509_NAME *)name)) == NULL)
		return 0;
	/*
	 * ret borrows the store's reference, as OpenSSL's own lookups fill
	 * it: the caller takes its own (X509_OBJECT_up_ref_count) and never
	 * frees ret.  So the one set1 takes is given back at once.
	 */
	if (type == X509_LU_X509) {
		X509 *x = X509_OBJECT_get0_X509(o);

		if (x == NULL || !X509_OBJECT_set1_X509(ret, x))
			return 0;
		X509_free(x);
		return 1;
	}
	if (type == X509_LU_CRL) {
		X509_CRL *c = X509_OBJECT_get0_X509_CRL(o);

		if (c == NULL || !X509_OBJECT_set1_X509_CRL(ret, c))
			return 0;
		X509_CRL_free(c);
		return 1;
	}
	return 0;
}

static void
lazy_ca_free(X509_LOOKUP *lu)
{
	free(X509_LOOKUP_get_method_data(lu));
}

/* Trust the CA certificates (and CRLs) of a PEM file read earlier. */
static int
load_ca_pem(SSL_CTX *ctx, const char *pem, size_t len)
{
	static X509_LOOKUP_METHOD *meth;	/* one for the process */
	X509_LOOKUP *lu;
	struct lazy_ca *lz;

	if (!pem_has_certs(pem, len))
		return 0;
	if (meth == NULL && ((meth = X509_LOOKUP_meth_new("ssmtp CA file")) ==
	    NULL || !X509_LOOKUP_meth_set_get_by_subject(meth,
	    lazy_ca_by_subject) || !X509_LOOKUP_meth_set_free(meth,
	    lazy_ca_free)))
		return 0;
	if ((lz = calloc(1, sizeof(*lz))) == NULL)
		return 0;
	lz->pem = pem;
	lz->len = len;
	if ((lu = X509_STORE_add_lookup(SSL_CTX_get_cert_store(ctx), meth)) ==
	    NULL || !X509_LOOKUP_set_method_data(lu, lz)) {
		free(lz);
		return 0;
	}
	return 1;
}

/* The client certificate and its chain, from a PEM file read earlier. */
static int
use_cert_pem(SSL_CTX *ctx, const char *pem, size_t len)
{
	X509 *x;
	BIO *bio;
	int ok;

	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return 0;
	if ((x = PEM_read_bio_X509_AUX(bio, NULL, NULL, NULL)) == NULL) {
		BIO_free(bio);
		return 0;
	}
	ok = SSL_CTX_use_certificate(ctx, x) == 1;
	X509_free(x);
	while (ok && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
		if (!(ok = SSL_CTX_add0_chain_cert(ctx, x) == 1))
			X509_free(x);
	ERR_clear_error();	/* the end of the chain reads as an error */
	BIO_free(bio);
	return ok;
}

/* The client key from a PEM file read earlier; never asks a passphrase. */
static int
use_key_pem(SSL_CTX *ctx, const char *pem, size_t len, int *encrypted)
{
	EVP_PKEY *k;
	BIO *bio;
	int ok;

	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return 0;
	k = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, encrypted);
	BIO_free(bio);
	if (k == NULL)
		return 0;
	ok = SSL_CTX_use_PrivateKey(ctx, k) == 1 &&
	    SSL_CTX_check_private_key(ctx) == 1;
	EVP_PKEY_free(k);
	return ok;
}

static int
tls_version(int v)
{
	switch (v) {
	case 10:	return TLS1_VERSION;
	case 11:	return TLS1_1_VERSION;
	case 13:	return TLS1_3_VERSION;
	default:	return TLS1_2_VERSION;
	}
}

SSL_CTX *
tls_ctx_new(const struct tls_settings *c, struct err *e)
{
	SSL_CTX *ctx;
	int encrypted = 0;

	tls_init(c->client_cert);
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		err_set(e, ERR_SOFTWARE, "cannot create a TLS context: %s",
		    ssl_reason());
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, tls_version(c->min_version));
	SSL_CTX_set_security_level(ctx, 2);
	/* Hubs that close without close_notify must not fail a good send. */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	/*
	 * Read what the socket holds, not a record's header and then its
	 * body: a handshake and a reply of several records take one read
	 * instead of two a record.  Nothing but TLS follows STARTTLS.
	 */
	SSL_CTX_set_read_ahead(ctx, 1);
	if (c->session_cache != NULL) {
		/* Sessions go to the cache file, never to OpenSSL's own. */
		if (tickets_index == -1)
			tickets_index = SSL_get_ex_new_index(0, NULL, NULL,
			    NULL, tickets_free);
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
		    SSL_SESS_CACHE_NO_INTERNAL_STORE);
		SSL_CTX_sess_set_new_cb(ctx, new_session);
	}
	if (c->ca_file != NULL || c->ca_dir != NULL) {
		/*
		 * The CA file was read before the rights were dropped; a CA
		 * folder is read when a chain needs it, as the user.
		 */
		if (c->ca_file != NULL && (c->ca_pem != NULL ?
		    load_ca_pem(ctx, c->ca_pem, c->ca_pem_len) :
		    SSL_CTX_load_verify_file(ctx, c->ca_file)) != 1) {
			err_set(e, ERR_CONFIG, "cannot load CA certificates "
			    "from %s: %s", c->ca_file, c->ca_pem != NULL ?
			    ssl_reason() : file_reason(c->ca_file));
			goto fail;
		}
		if (c->ca_dir != NULL &&
		    SSL_CTX_load_verify_dir(ctx, c->ca_dir) != 1) {
			err_set(e, ERR_CONFIG, "cannot load CA certificates "
			    "from %s: %s", c->ca_dir, file_reason(c->ca_dir));
			goto fail;
		}
	} else if (load_system_store(ctx) != 1) {
		err_set(e, ERR_CONFIG, "cannot load the system CA "
		    "certificates: %s", ssl_reason());
		goto fail;
	}
	if (!c->client_cert)
		return ctx;
	if (c->cert_pem == NULL || c->key_pem == NULL) {
		err_set(e, ERR_CONFIG, "UseTLSCert=YES needs TLSCert");
		goto fail;
	}
	if (!use_cert_pem(ctx, c->cert_pem, c->cert_pem_len)) {
		err_set(e, ERR_CONFIG, "cannot use TLSCert %s: %s", c->cert_file,
		    ssl_reason());
		goto fail;
	}
	if (!use_key_pem(ctx, c->key_pem, c->key_pem_len, &encrypted)) {
		if (encrypted)
			err_set(e, ERR_CONFIG, "cannot use TLSKey %s: it is "
			    "encrypted, and ssmtp cannot ask for its passphrase; "
			    "store the key unencrypted, readable only by whom "
			    "needs it", c->key_file);
		else
			err_set(e, ERR_CONFIG, "cannot use TLSKey %s: %s",
			    c->key_file, ssl_reason());
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/*
 * The hub's certificate when its verification fails: the handshake stops
 * before the session holds it, and --check still shows whose it is.  One
 * handshake at a time in this process; replaced by the next.
 */
static X509 *refused_leaf;

static int
keep_refused(int ok, X509_STORE_CTX *ctx)
{
	X509 *leaf;

	if (!ok && refused_leaf == NULL &&
	    (leaf = X509_STORE_CTX_get0_cert(ctx)) != NULL &&
	    X509_up_ref(leaf) == 1)
		refused_leaf = leaf;
	return ok;
}

void
tls_ctx_free(SSL_CTX *ctx)
{
	SSL_CTX_free(ctx);
	X509_free(refused_leaf);
	refused_leaf = NULL;
}

static int
is_ip(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, buf) == 1 ||
	    inet_pton(AF_INET6, host, buf) == 1;
}

SSL *
tls_session_new(SSL_CTX *ctx, const struct tls_settings *c, const char *host,
    int fd, struct err *e)
{
	X509_VERIFY_PARAM *param;
	SSL *ssl;
	int ip = is_ip(host);

	if ((ssl = SSL_new(ctx)) == NULL) {
		err_set(e, ERR_SOFTWARE, "cannot create a TLS session: %s",
		    ssl_reason());
		return NULL;
	}
	X509_free(refused_leaf);
	refused_leaf = NULL;
	if (c->verify) {
		SSL_set_verify(ssl, SSL_VERIFY_PEER, keep_refused);
		param = SSL_get0_param(ssl);
		X509_VERIFY_PARAM_set_hostflags(param,
		    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (ip) {
			if (X509_VERIFY_PARAM_set1_ip_asc(param, host) != 1)
				goto soft;
		} else if (SSL_set1_host(ssl, host) != 1)
			goto soft;
	} else
		SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
	/* RFC 6066 3: SNI names a host, never an address literal. */
	if (!ip && SSL_set_tlsext_host_name(ssl, host) != 1)
		goto soft;
	if (SSL_set_fd(ssl, fd) != 1)
		goto soft;
	if (c->session_cache != NULL && tickets_index != -1) {
		struct tickets *t = calloc(1, sizeof(*t));

		if (t == NULL || SSL_set_ex_data(ssl, tickets_index, t) != 1) {
			free(t);
			goto soft;
		}
	}
	return ssl;
soft:
	SSL_free(ssl);
	err_set(e, ERR_SOFTWARE, "cannot set up TLS verification for %s",
	    host);
	return NULL;
}

int
tls_verify_error(SSL *ssl, const struct tls_settings *c, const char *host,
    struct err *e)
{
	long vr = SSL_get_verify_result(ssl);

	if (!c->verify || vr == X509_V_OK)
		return 0;
	return err_set(e, ERR_UNAVAILABLE, "certificate of %s not trusted: %s",
	    host, X509_verify_cert_error_string(vr));
}

int
tls_offer_session(SSL *ssl, const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	SSL_SESSION *s;
	int ok;

	if ((s = d2i_SSL_SESSION(NULL, &p, (long)len)) == NULL) {
		ERR_clear_error();
		return 0;
	}
	ok = SSL_SESSION_get_protocol_version(s) == TLS1_3_VERSION &&
	    SSL_SESSION_get0_peer(s) != NULL && SSL_set_session(ssl, s) == 1;
	SSL_SESSION_free(s);
	ERR_clear_error();
	return ok;
}

int
tls_resumed(SSL *ssl)
{
	return SSL_session_reused(ssl);
}

size_t
tls_tickets(SSL *ssl, unsigned char **der, size_t *len, time_t *expiry,
    size_t max)
{
	struct tickets *t = tickets_index == -1 ? NULL :
	    SSL_get_ex_data(ssl, tickets_index);
	time_t now = time(NULL), end;
	size_t i, n = 0;
	int l;

	if (t == NULL)
		return 0;
	for (i = 0; i < t->n && n < max; i++) {
		if ((l = i2d_SSL_SESSION(t->s[i], NULL)) <= 0 ||
		    (size_t)l > TLS_SESSION_DER_MAX ||
		    (der[n] = malloc((size_t)l)) == NULL)
			continue;
		unsigned char *p = der[n];
		len[n] = (size_t)i2d_SSL_SESSION(t->s[i], &p);
		end = (time_t)SSL_SESSION_get_time(t->s[i]) +
		    (time_t)SSL_SESSION_get_timeout(t->s[i]);
		expiry[n] = end < now + TLS_SESSION_LIFETIME ? end :
		    now + TLS_SESSION_LIFETIME;
		if (expiry[n] <= now) {
			free(der[n]);
			continue;
		}
		n++;
	}
	return n;
}

/*
 * A resumed session skipped the chain: its certificate (the one verified
 * when the session was made) must still name the host and be within its
 * dates; OpenSSL's client checks neither again.
 */
static int
resumed_check(SSL *ssl, const struct tls_settings *c, const char *host,
    struct err *e)
{
	X509 *cert = SSL_get0_peer_certificate(ssl);

	if (cert == NULL)
		return err_set(e, ERR_UNAVAILABLE, "resumed TLS session of %s "
		    "holds no certificate", host);
	if (c->verify && (is_ip(host) ? X509_check_ip_asc(cert, host, 0) :
	    X509_check_host(cert, host, 0,
	    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL)) != 1)
		return err_set(e, ERR_UNAVAILABLE, "resumed TLS session: the "
		    "certificate does not name %s", host);
	if (X509_cmp_current_time(X509_get0_notBefore(cert)) >= 0 ||
	    X509_cmp_current_time(X509_get0_notAfter(cert)) <= 0)
		return err_set(e, ERR_UNAVAILABLE, "resumed TLS session: the "
		    "certificate of %s is not valid now", host);
	return 0;
}

int
tls_session_check(SSL *ssl, const struct tls_settings *c, const char *host,
    struct err *e)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	X509 *cert;

	if (SSL_session_reused(ssl) && resumed_check(ssl, c, host, e) == -1)
		return -1;
	if (c->pin) {
		if ((cert = SSL_get0_peer_certificate(ssl)) == NULL)
			return err_set(e, ERR_UNAVAILABLE, "server sent no "
			    "certificate");
		if (X509_digest(cert, EVP_sha256(), md, &len) != 1 ||
		    len != 32)
			return err_set(e, ERR_SOFTWARE, "cannot hash the server "
			    "certificate");
		if (memcmp(md, c->fingerprint, 32) != 0)
			return err_set(e, ERR_UNAVAILABLE, "server certificate "
			    "does not match TLSFingerprint");
	}
	log_info("TLS: %s, %s, certificate %s%s", SSL_get_version(ssl),
	    SSL_get_cipher_name(ssl), c->verify ? "verified" :
	    c->pin ? "pinned (chain not verified)" : "NOT VERIFIED",
	    SSL_session_reused(ssl) ? " (session resumed)" : "");
	return 0;
}

/* An X509 name or time through a memory BIO, into buf, one line. */
static void
bio_text(BIO *b, char *buf, size_t size)
{
	int n = BIO_read(b, buf, (int)size - 1);
	int i;

	buf[n > 0 ? n : 0] = '\0';
	for (i = 0; buf[i] != '\0'; i++)
		if ((unsigned char)buf[i] < 0x20)
			buf[i] = ' ';
}

void
tls_describe(SSL *ssl, const struct tls_settings *c, struct tls_info *ti)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	X509 *cert;
	BIO *b;
	long vr;

	memset(ti, 0, sizeof(*ti));
	ti->on = 1;
	ti->pin = -1;
	snprintf(ti->version, sizeof(ti->version), "%s", SSL_get_version(ssl));
	snprintf(ti->cipher, sizeof(ti->cipher), "%s",
	    SSL_get_cipher_name(ssl) ? SSL_get_cipher_name(ssl) : "none");
	vr = SSL_get_verify_result(ssl);
	ti->verified = vr == X509_V_OK;
	if (!ti->verified)
		snprintf(ti->verify_error, sizeof(ti->verify_error), "%s",
		    X509_verify_cert_error_string(vr));
	if ((cert = SSL_get0_peer_certificate(ssl)) == NULL &&
	    (cert = refused_leaf) == NULL) {
		if (ti->verified)
			snprintf(ti->verify_error, sizeof(ti->verify_error),
			    "no certificate received");
		ti->verified = 0;
		return;
	}
	if (c->pin)
		ti->pin = X509_digest(cert, EVP_sha256(), md, &len) == 1 &&
		    len == 32 && memcmp(md, c->fingerprint, 32) == 0;
	if ((b = BIO_new(BIO_s_mem())) == NULL)
		return;
	X509_NAME_print_ex(b, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
	bio_text(b, ti->subject, sizeof(ti->subject));
	(void)BIO_reset(b);
	X509_NAME_print_ex(b, X509_get_issuer_name(cert), 0, XN_FLAG_RFC2253);
	bio_text(b, ti->issuer, sizeof(ti->issuer));
	(void)BIO_reset(b);
	ASN1_TIME_print(b, X509_get0_notBefore(cert));
	bio_text(b, ti->not_before, sizeof(ti->not_before));
	(void)BIO_reset(b);
	ASN1_TIME_print(b, X509_get0_notAfter(cert));
	bio_text(b, ti->not_after, sizeof(ti->not_after));
	BIO_free(b);
}
