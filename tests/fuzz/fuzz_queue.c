/*
 * libFuzzer: the envelope text of a queue file, as a later run reads it
 * (a file in the user's own queue, but possibly truncated or damaged):
 * the parser must stay in its buffers, and what it accepts must hold
 * only well-formed addresses and values that fit their fields.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "queue.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qentry q;
	struct err e;
	size_t i;

	qentry_init(&q);
	if (queue_parse((const char *)data, size, &q, &e) == 0) {
		if (q.nrcpts == 0 || q.from == NULL ||
		    addr_check(q.from, 1, &e) == -1 || q.hdrlen < 0 ||
		    q.rawlen < 0)
			abort();
		for (i = 0; i < q.nrcpts; i++)
			if (addr_check(q.rcpts[i], 0, &e) == -1)
				abort();
		if (memchr(q.error, '\0', sizeof(q.error)) == NULL ||
		    memchr(q.envid, '\0', sizeof(q.envid)) == NULL)
			abort();
	}
	qentry_free(&q);
	return 0;
}
