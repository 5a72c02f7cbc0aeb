/*
 * libFuzzer: EHLO reply lines of any length, one after another, as a hub
 * sends them (after the "250-"): the capability parser must stay in its
 * buffers, keep the offered list NUL-terminated, and only ever set bits
 * of the mechanisms it knows.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "smtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const unsigned known = AUTH_PLAIN | AUTH_LOGIN | AUTH_CRAM_MD5 |
	    AUTH_XOAUTH2 | AUTH_OAUTHBEARER;
	const char *p = (const char *)data, *end = p + size, *nl;
	struct smtp_caps c;

	smtp_caps_init(&c);
	while (p < end) {
		nl = memchr(p, '\n', end - p);
		smtp_caps_line(&c, p, (nl != NULL ? nl : end) - p);
		if (memchr(c.auth_offered, '\0', sizeof(c.auth_offered)) ==
		    NULL || (c.auth & ~known) != 0)
			abort();
		p = nl != NULL ? nl + 1 : end;
	}
	return 0;
}
