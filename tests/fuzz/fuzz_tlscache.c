/*
 * libFuzzer: the TLS session cache file, as a later process reads it
 * (the user's own file, but possibly damaged or written by an older
 * version): the parser must stay in its buffers and keep at most
 * TLSCACHE_ENTRIES sessions.
 */
#include <stdint.h>
#include <stdlib.h>

#include "tlscache.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (tlscache_parse((const char *)data, size) > TLSCACHE_ENTRIES)
		abort();
	return 0;
}
