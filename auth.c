/*
 * SASL as a codec (RFC 4954, 4616, 2195, 7628; XOAUTH2): choosing a
 * mechanism, the initial response, and the response to each challenge.
 * No I/O: the engine sends and reads, and runs the 334 loop.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth.h"
#include "buf.h"

static const struct {
	const char	*name;
	unsigned	 bit;
} mechs[] = {
	{ "PLAIN", AUTH_PLAIN }, { "LOGIN", AUTH_LOGIN },
	{ "CRAM-MD5", AUTH_CRAM_MD5 }, { "XOAUTH2", AUTH_XOAUTH2 },
	{ "OAUTHBEARER", AUTH_OAUTHBEARER },
};

unsigned
auth_mech_bit(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++)
		if (strlen(mechs[i].name) == len &&
		    strncasecmp(name, mechs[i].name, len) == 0)
			return mechs[i].bit;
	return 0;
}

const char *
auth_choose(unsigned offered, const char *list, const char *forced, int tls,
    struct err *e)
{
	/* PLAIN costs one round trip and TLS already protects it. */
	static const char *with_tls[] = { "PLAIN", "CRAM-MD5", "LOGIN" };
	static const char *clear[] = { "CRAM-MD5", "PLAIN", "LOGIN" };
	const char **order = tls ? with_tls : clear;
	size_t i;

	if (forced != NULL) {
		if (offered & auth_mech_bit(forced, strlen(forced)))
			return forced;
		err_set(e, ERR_UNAVAILABLE, "AuthMethod=%s, but the hub offers "
		    "only: %s", forced, *list ? list : "no AUTH");
		return NULL;
	}
	for (i = 0; i < 3; i++)
		if (offered & auth_mech_bit(order[i], strlen(order[i])))
			return order[i];
	err_set(e, ERR_UNAVAILABLE, "no supported AUTH mechanism (the hub "
	    "offers: %s)", *list ? list : "none");
	return NULL;
}

/* Base64 of n bytes into a new string. */
static char *
b64(const void *p, size_t n)
{
	char *out;

	if ((out = malloc(4 * ((n + 2) / 3) + 1)) == NULL)
		return NULL;
	EVP_EncodeBlock((unsigned char *)out, p, (int)n);
	return out;
}

unsigned char *
auth_b64_decode(const char *in, size_t len, size_t *outlen)
{
	unsigned char *out;
	size_t pad = 0;
	int n;

	if (len % 4 != 0 || len > INT_MAX)
		return NULL;
	if ((out = malloc(len / 4 * 3 + 1)) == NULL)
		return NULL;
	if ((n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len)) ==
	    -1) {
		free(out);
		return NULL;
	}
	/* EVP_DecodeBlock counts the padding as zero bytes. */
	if (len >= 1 && in[len - 1] == '=')
		pad++;
	if (len >= 2 && in[len - 2] == '=')
		pad++;
	*outlen = (size_t)n - pad;
	out[*outlen] = '\0';
	return out;
}

char *
auth_cram_md5_response(const char *user, const char *secret,
    const char *chal, size_t len, struct err *e)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char *raw, mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0, i;
	size_t clen, ulen = strlen(user), n;
	char *resp, *enc;

	while (len > 0 && (chal[len - 1] == ' ' || chal[len - 1] == '\t'))
		len--;
	if ((raw = auth_b64_decode(chal, len, &clen)) == NULL) {
		err_set(e, ERR_PROTOCOL, "AUTH CRAM-MD5: the challenge is not "
		    "base64");
		return NULL;
	}
	/* RFC 2195 2: user SP hex(HMAC-MD5(password, challenge)). */
	if (HMAC(EVP_md5(), secret, (int)strlen(secret), raw, clen, mac,
	    &maclen) == NULL) {
		free(raw);
		err_set(e, ERR_SOFTWARE, "HMAC-MD5 failed");
		return NULL;
	}
	free(raw);
	/* Sized from the user name, whatever its length. */
	n = ulen + 1 + 2 * (size_t)maclen;
	if ((resp = malloc(n + 1)) == NULL) {
		explicit_bzero(mac, sizeof(mac));
		err_set(e, ERR_OSERR, "out of memory");
		return NULL;
	}
	memcpy(resp, user, ulen);
	resp[ulen] = ' ';
	for (i = 0; i < maclen; i++) {
		resp[ulen + 1 + 2 * i] = hex[mac[i] >> 4];
		resp[ulen + 2 + 2 * i] = hex[mac[i] & 0xf];
	}
	resp[n] = '\0';
	explicit_bzero(mac, sizeof(mac));
	enc = b64(resp, n);
	secret_free_n(resp, n);
	if (enc == NULL)
		err_set(e, ERR_OSERR, "out of memory");
	return enc;
}


/* The base64 of n bytes, or NULL with ERR_OSERR. */
static char *
b64_or_err(const void *p, size_t n, struct err *e)
{
	char *out;

	if ((out = b64(p, n)) == NULL)
		err_set(e, ERR_OSERR, "out of memory");
	return out;
}

int
sasl_start(struct sasl *sa, const char *mech, const char *user,
    const char *secret, const char *host, int port, char **initial,
    struct err *e)
{
	struct buf raw;
	int rc;

	memset(sa, 0, sizeof(*sa));
	sa->mech = auth_mech_bit(mech, strlen(mech));
	sa->name = mech;
	sa->user = user;
	sa->secret = secret;
	*initial = NULL;
	if (sa->mech == AUTH_LOGIN || sa->mech == AUTH_CRAM_MD5)
		return 0;	/* the server speaks first */
	buf_init(&raw, 3 * (strlen(user) + strlen(secret) + strlen(host)) +
	    128);
	if (sa->mech == AUTH_PLAIN)
		/* RFC 4616 2: authzid NUL authcid NUL passwd, authzid empty. */
		rc = buf_add(&raw, "", 1, e) == -1 ||
		    buf_add(&raw, user, strlen(user) + 1, e) == -1 ||
		    buf_add(&raw, secret, strlen(secret), e) == -1 ? -1 : 0;
	else if (sa->mech == AUTH_XOAUTH2)
		rc = buf_printf(&raw, e, "user=%s\001auth=Bearer %s\001\001",
		    user, secret);
	else if (sa->mech == AUTH_OAUTHBEARER)	/* RFC 7628 3.1 */
		rc = buf_printf(&raw, e, "n,a=%s,\001host=%s\001port=%d\001"
		    "auth=Bearer %s\001\001", user, host, port, secret);
	else
		rc = err_set(e, ERR_SOFTWARE, "unknown SASL mechanism %s",
		    mech);
	if (rc == 0 && (*initial = b64_or_err(raw.p, raw.len, e)) == NULL)
		rc = -1;
	buf_free(&raw, 1);
	return rc;
}

int
sasl_step(struct sasl *sa, const char *chal, size_t len, char **resp,
    struct err *e)
{
	int step = sa->step++;

	*resp = NULL;
	switch (sa->mech) {
	case AUTH_LOGIN:
		/* "Username:", then "Password:" (the text does not matter). */
		if (step > 1)
			break;
		*resp = step == 0 ? b64_or_err(sa->user, strlen(sa->user), e) :
		    b64_or_err(sa->secret, strlen(sa->secret), e);
		return *resp == NULL ? -1 : 0;
	case AUTH_CRAM_MD5:
		if (step > 0)
			break;
		*resp = auth_cram_md5_response(sa->user, sa->secret, chal, len,
		    e);
		return *resp == NULL ? -1 : 0;
	case AUTH_XOAUTH2:
	case AUTH_OAUTHBEARER:
		/*
		 * The error details come as a challenge (RFC 7628 3.2.2);
		 * answer so that the server sends its final reply.
		 */
		if (step > 0)
			break;
		*resp = strdup(sa->mech == AUTH_XOAUTH2 ? "" : "AQ==");
		return *resp == NULL ? err_set(e, ERR_OSERR, "out of memory") :
		    0;
	}
	/* PLAIN sent everything already; the others are done: cancel. */
	return err_set(e, ERR_PROTOCOL, "AUTH %s: the hub asked again for "
	    "credentials already sent", sa->name);
}
