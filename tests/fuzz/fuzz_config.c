/* libFuzzer: ssmtp.conf lines, Mailhub lists, and aliases files. */
#include <sys/mman.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c;
	static int afd = -1;
	char *buf, *line, *next, path[64];
	struct err ue;
	size_t i;

	if ((buf = malloc(size + 1)) == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	conf_init(&c);
	for (line = buf; line != NULL; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		(void)conf_parse_line(&c, line, &ue);
	}
	conf_free(&c);
	conf_init(&c);
	(void)conf_parse_hubs(&c, buf, &ue);
	conf_free(&c);
	/* The same bytes as an aliases file (from a memfd). */
	if (afd == -1)
		afd = memfd_create("aliases", MFD_CLOEXEC);
	if (afd != -1 && ftruncate(afd, 0) == 0 &&
	    pwrite(afd, data, size, 0) == (ssize_t)size) {
		conf_init(&c);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", afd);
		c.aliases_path = strdup(path);
		if (conf_load_aliases(&c, &ue) == 0)
			for (i = 0; i < c.naliases; i++)
				if (c.aliases[i].nto == 0 ||
				    c.aliases[i].name[0] == '\0')
					abort();
		conf_free(&c);
	}
	free(buf);
	return 0;
}
