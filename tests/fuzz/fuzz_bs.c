/*
 * libFuzzer: a -bs caller's whole dialogue (commands, pipelined, and the
 * data), served by bs_serve from a memfd to /dev/null with a relay that
 * takes every message: no crash, no leak, every transaction it relays
 * has a sender and between 1 and BS_RCPTS_MAX recipients.
 */
#include <sys/mman.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bs.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
relay(void *arg, struct bs_txn *t, char *text, size_t size)
{
	(void)arg;
	if (t->nrcpts == 0 || t->nrcpts > BS_RCPTS_MAX ||
	    strlen(t->from) > ADDR_MAX)
		abort();
	strlcpy(text, "2.0.0 ok", size);
	return 250;
}

static void
cut(void *arg, struct bs_txn *t)
{
	(void)arg;
	(void)t;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int in = -1, out = -1;
	struct bs_server srv = { "fuzz.test", 1, 1000, relay, cut, NULL };

	if (in == -1)
		in = memfd_create("bs", MFD_CLOEXEC);
	if (out == -1)
		out = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (in == -1 || out == -1 || ftruncate(in, 0) != 0 ||
	    pwrite(in, data, size, 0) != (ssize_t)size ||
	    lseek(in, 0, SEEK_SET) != 0)
		return 0;
	(void)bs_serve(in, out, &srv);
	return 0;
}
