/*
 * libFuzzer: a message's header section: parsing, -t recipients, the From
 * address and name, the header block built, and the predicted wire size,
 * which must equal what the encoder produces.  The encoded header section
 * must end exactly where the header block does: whatever the line ends
 * of the input, no body line becomes a field on the wire and no field
 * falls into the body.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "message.h"
#include "smtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
rcpt(void *arg, const char *a)
{
	(void)arg;
	(void)a;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct message m;
	struct msg_build b = { "Fuzz <fuzz@example.org>", 0, "h.example",
	    NULL, 0 };
	struct dotenc d;
	struct err e;
	char addr[300], name[256], *out, *end;
	size_t n, hl, k, c, step;

	if (size == 0 || size > MSG_MEM_MAX)
		return 0;
	msg_init(&m);
	/*
	 * In pieces, as stdin gives it: the size picks their length, so that
	 * a CRLF or a block split between two is tried too.
	 */
	step = 1 + size % 131;
	for (k = 0; k < size; k += c) {
		c = size - k < step ? size - k : step;
		if (msg_append(&m, (const char *)data + k, c, &e) == -1) {
			msg_free(&m);
			return 0;
		}
	}
	b.replace_from = size > 0 && data[0] & 1;
	if (msg_parse_headers(&m, &e) == 0) {
		(void)msg_recipients(&m, rcpt, NULL, &e);
		(void)msg_from_address(&m, addr, sizeof(addr), &e);
		(void)msg_from_name(&m, name, sizeof(name));
		if (msg_build_headers(&m, &b, &e) == 0 &&
		    (out = malloc(2 * (m.outlen + size) + 8)) != NULL) {
			dotenc_init(&d);
			hl = dotenc_chunk(&d, m.out, m.outlen, out, 0);
			n = hl + dotenc_chunk(&d, m.mem + m.hdr_end,
			    m.size - m.hdr_end, out + hl, 0);
			n += dotenc_finish(&d, out + n);
			if (n != msg_wire_size(&m))
				abort();
			end = memmem(out, n, "\r\n\r\n", 4);
			if (end == NULL || (size_t)(end - out) + 4 != hl)
				abort();
			free(out);
		}
	}
	msg_free(&m);
	return 0;
}
