/* libFuzzer: ssmtp.conf lines and Mailhub lists. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c;
	char *buf, *line, *next, msg[512];

	if ((buf = malloc(size + 1)) == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	conf_init(&c);
	for (line = buf; line != NULL; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		(void)conf_parse_line(&c, line, msg, sizeof(msg));
	}
	conf_free(&c);
	conf_init(&c);
	(void)conf_parse_hubs(&c, buf, msg, sizeof(msg));
	conf_free(&c);
	free(buf);
	return 0;
}
