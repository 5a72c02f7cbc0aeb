/* libFuzzer: SMTP reply lines fed one by one, as from the network. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reply *r;
	const char *p = (const char *)data, *end = p + size, *nl;
	struct err ue;
	int rc;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return 0;
	while (p < end) {
		nl = memchr(p, '\n', end - p);
		rc = smtp_reply_line(r, p, (nl ? nl : end) - p, &ue);
		if (r->textlen >= sizeof(r->text) || r->text[r->textlen] != '\0')
			abort();
		if (rc != 0)
			memset(r, 0, sizeof(*r));	/* the next reply */
		p = nl ? nl + 1 : end;
	}
	free(r);
	return 0;
}
