/*
 * libFuzzer: RFC 5322 address lists; every address found must pass or
 * fail addr_check cleanly and fit the limit, and the first mailbox with
 * its display name must agree with the list's first address.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char first_seen[ADDR_MAX + 1];

static int
check(void *arg, const char *a)
{
	struct err ue;

	(void)arg;
	if (strlen(a) > ADDR_MAX)
		abort();	/* the parser promised to cap it */
	(void)addr_check(a, 0, &ue);
	if (*(int *)arg == 0)
		strlcpy(first_seen, a, sizeof(first_seen));
	(*(int *)arg)++;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char addr[ADDR_MAX + 1], name[256];
	struct err ue;
	int n = 0, r;

	if (addr_parse_list((const char *)data, size, check, &n, &ue) != 0)
		return 0;
	r = addr_first_mailbox((const char *)data, size, addr, sizeof(addr),
	    name, sizeof(name), &ue);
	if (r != (n > 0) || (r == 1 && strcmp(addr, first_seen) != 0) ||
	    strlen(name) >= sizeof(name))
		abort();
	return 0;
}
