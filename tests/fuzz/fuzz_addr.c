/* libFuzzer: RFC 5322 address lists; every address found must pass or
 * fail addr_check cleanly and fit the limit. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
check(void *arg, const char *a)
{
	char msg[512];

	(void)arg;
	if (strlen(a) > ADDR_MAX)
		abort();	/* the parser promised to cap it */
	(void)addr_check(a, 0, msg, sizeof(msg));
	(void)addr_domain(a);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char msg[512];

	(void)addr_parse_list((const char *)data, size, check, NULL, msg,
	    sizeof(msg));
	return 0;
}
