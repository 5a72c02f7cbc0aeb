/*
 * A driver for the engine's session API, for tests: sends each message
 * file over one session to the hub (the first user of many messages per
 * connection until SMTP on stdin lands), and prints one line per message:
 * "N status step code text".  Not installed.
 *
 * usage: session [-s] [-c cafile] [-u user -p secret] [-t timeout]
 *            host port from rcpt[,rcpt...] file...
 */
#include <sys/socket.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "message.h"
#include "smtp.h"

static const char *statuses[] = { "sent", "temp", "perm", "refused", "lost",
    "unknown" };

static int
secret(void *arg, int again, char **out, struct err *e)
{
	(void)again;
	if ((*out = strdup(arg)) == NULL)
		return err_set(e, ERR_OSERR, "out of memory");
	return 0;
}

static int
load(const char *path, struct message *m, struct err *e)
{
	struct msg_build b = { "Session <session@client.test>", 0,
	    "client.test", NULL, 0 };
	int fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return err_set(e, ERR_IOERR, "%s: cannot open", path);
	msg_init(m);
	rc = msg_spool(m, fd, 1, e) == -1 || msg_parse_headers(m, e) == -1 ||
	    msg_build_headers(m, &b, e) == -1 ? -1 : 0;
	close(fd);
	return rc;
}

int
main(int argc, char **argv)
{
	struct tls_settings tls;
	struct smtp_params p;
	struct smtp_result res;
	struct smtp_txn t;
	struct message m;
	struct smtp *s;
	struct err e;
	char *rcpts[64], *list, *tok;
	int ch, i, n, failed = 0;

	memset(&tls, 0, sizeof(tls));
	memset(&p, 0, sizeof(p));
	tls.verify = 1;
	tls.min_version = 12;
	p.family = AF_UNSPEC;
	p.tls_mode = SMTP_TLS_NONE;
	p.tls = &tls;
	p.helo = "client.test";
	p.get_secret = secret;
	while ((ch = getopt(argc, argv, "c:p:st:u:")) != -1) {
		switch (ch) {
		case 'c': tls.ca_file = optarg; break;
		case 'p': p.secret_arg = optarg; break;
		case 's': p.tls_mode = SMTP_TLS_STARTTLS; break;
		case 't': p.timeout = atoi(optarg); break;
		case 'u': p.auth_user = optarg; break;
		default: return 64;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 5)
		return 64;
	p.host = argv[0];
	p.port = atoi(argv[1]);
	list = argv[3];
	for (n = 0; n < 64 && (tok = strsep(&list, ",")) != NULL; n++)
		rcpts[n] = tok;
	if ((s = smtp_new(&p, &e)) == NULL)
		return 71;
	for (i = 4; i < argc; i++) {
		if (load(argv[i], &m, &e) == -1) {
			fprintf(stderr, "session: %s\n", e.msg);
			return 74;
		}
		t.from = argv[2];
		t.rcpts = rcpts;
		t.nrcpts = (size_t)n;
		t.msg = &m;
		if (smtp_send(s, &t, i == argc - 1, &res) == -1)
			failed = 1;
		printf("%d %s %s %d %s\n", i - 3, statuses[res.status],
		    smtp_step_name(res.step), res.code, res.status == SMTP_SENT ?
		    res.text : res.err.msg);
		fflush(stdout);
		smtp_result_free(&res);
		msg_free(&m);
	}
	smtp_free(s);
	smtp_cleanup();
	return failed;
}
