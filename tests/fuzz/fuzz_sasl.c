/*
 * libFuzzer: what a hub sends during AUTH.  The input is a 334 challenge
 * as it arrives: base64 decoding must never read or write past its
 * buffers, a decoded challenge must encode back to the same text, and a
 * CRAM-MD5 response, for a user name whose length the first byte picks
 * (up to 4095, the longest the config takes), must decode to exactly
 * "user SP 32 hex digits".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char user[4096];
	unsigned char *raw, *back;
	char *resp, *enc;
	size_t ulen, n, m, i;
	struct err e;

	if (size < 2)
		return 0;
	ulen = (size_t)data[0] * 16 + data[1] % 16;
	memset(user, 'u', ulen);
	user[ulen] = '\0';
	data += 2;
	size -= 2;
	if ((raw = auth_b64_decode((const char *)data, size, &n)) != NULL) {
		/* Canonical base64 encodes back to what came in. */
		if ((enc = malloc(4 * ((n + 2) / 3) + 1)) == NULL)
			abort();
		EVP_EncodeBlock((unsigned char *)enc, raw, (int)n);
		if (strlen(enc) == size && memcmp(enc, data, size) == 0 &&
		    raw[n] != '\0')
			abort();
		free(enc);
		free(raw);
	}
	resp = auth_cram_md5_response(user, "secret", (const char *)data, size,
	    &e);
	if (resp == NULL)
		return 0;
	if ((back = auth_b64_decode(resp, strlen(resp), &m)) == NULL)
		abort();
	if (m != ulen + 33 || memcmp(back, user, ulen) != 0 ||
	    back[ulen] != ' ')
		abort();
	for (i = ulen + 1; i < m; i++)
		if (strchr("0123456789abcdef", back[i]) == NULL)
			abort();
	free(back);
	free(resp);
	return 0;
}
