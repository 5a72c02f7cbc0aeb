/*
 * libFuzzer: the DATA encoder's round trip.  The input, split at points
 * taken from its first byte, is encoded; un-stuffing the output as a
 * server does (RFC 5321 4.5.2) must give the input with every line end
 * (CRLF, lone LF, lone CR) made CRLF, and no output line may be a lone "." (the end of data).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dotenc d;
	const char *in;
	char *out, *canon, *back;
	size_t n, i, k, c, olen = 0, clen = 0, blen = 0, step;
	int bol = 1;

	if (size < 1)
		return 0;
	step = 1 + data[0] % 17;
	in = (const char *)data + 1;
	n = size - 1;
	out = malloc(2 * n + 8);
	canon = malloc(2 * n + 8);
	back = malloc(2 * n + 8);
	if (out == NULL || canon == NULL || back == NULL)
		goto done;
	dotenc_init(&d);
	for (k = 0; k < n; k += c) {
		c = n - k < step ? n - k : step;
		olen += dotenc_chunk(&d, in + k, c, out + olen, 1);
	}
	olen += dotenc_finish(&d, out + olen);
	/* Every line end (CRLF, lone LF, lone CR) as CRLF, the last closed. */
	for (i = 0; i < n; i++) {
		if (in[i] == '\r' || in[i] == '\n') {
			canon[clen++] = '\r';
			canon[clen++] = '\n';
			if (in[i] == '\r' && i + 1 < n && in[i + 1] == '\n')
				i++;
		} else
			canon[clen++] = in[i];
	}
	if (n > 0 && in[n - 1] != '\r' && in[n - 1] != '\n') {
		canon[clen++] = '\r';
		canon[clen++] = '\n';
	}
	for (i = 0; i < olen; i++) {
		if (bol && out[i] == '.' && ++i == olen)
			break;
		back[blen++] = out[i];
		bol = out[i] == '\n';
	}
	if (blen != clen || memcmp(back, canon, clen) != 0)
		abort();
	if ((olen >= 3 && memcmp(out, ".\r\n", 3) == 0) ||
	    memmem(out, olen, "\r\n.\r\n", 5) != NULL)
		abort();
done:
	free(out);
	free(canon);
	free(back);
	return 0;
}
