/*
 * Unit tests for the parsers and the encoder: config lines, revaliases,
 * addresses, reply lines, spooling, headers, dot-stuffing.  Prints
 * "unit: N passed, N failed" and exits non-zero on any failure.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "addr.h"
#include "auth.h"
#include "buf.h"
#include "config.h"
#include "message.h"
#include "smtp.h"
#include "tlscache.h"

static int npass, nfail;

#define CHECK(cond, ...) do {						\
	if (cond)							\
		npass++;						\
	else {								\
		nfail++;						\
		fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);	\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
	}								\
} while (0)

/* A temp file holding data, opened for reading; removed already. */
static int
tmpfd(const char *data, size_t len)
{
	char path[] = "/tmp/ssmtp-unit.XXXXXX";
	int fd = mkstemp(path);

	if (fd == -1 || write(fd, data, len) != (ssize_t)len) {
		perror("tmpfd");
		exit(2);
	}
	unlink(path);
	lseek(fd, 0, SEEK_SET);
	return fd;
}

static int
parse(struct config *c, const char *line)
{
	struct err ue;

	return conf_parse_line(c, line, &ue);
}

static void
test_config(void)
{
	struct config c;
	struct hub h;
	struct err e;
	char *from, path[] = "/tmp/ssmtp-unit-conf.XXXXXX";
	int fd;

	conf_init(&c);
	CHECK(parse(&c, "Mailhub=mail.example.com:2525") == 0, "mailhub");
	CHECK(c.nhubs == 1 && strcmp(c.hubs[0].host, "mail.example.com") == 0
	    && c.hubs[0].port == 2525, "mailhub host:port");
	CHECK(parse(&c, "  mailhub  =  [::1]:25  ") == 0 &&
	    strcmp(c.hubs[0].host, "::1") == 0 && c.hubs[0].port == 25,
	    "bracketed IPv6, blanks, lower case key");
	CHECK(parse(&c, "MAILHUB=::1") == 0 && strcmp(c.hubs[0].host, "::1")
	    == 0 && c.hubs[0].port == 0, "bare IPv6 address, no port");
	CHECK(parse(&c, "Mailhub=a.example:0") == -1, "port 0");
	CHECK(parse(&c, "Mailhub=a.example:65536") == -1, "port 65536");
	CHECK(parse(&c, "Mailhub=a.example:smtp") == -1, "port not a number");
	CHECK(parse(&c, "Mailhub=[::1") == -1, "unclosed bracket");
	CHECK(parse(&c, "Mailhub=") == -1, "empty mailhub");
	CHECK(parse(&c, "AuthPass") == -1 && parse(&c, "AuthPass secret") == -1,
	    "a known key without '='");
	CHECK(parse(&c, "Mailhub=a.example, b.example:26") == 0 &&
	    c.nhubs == 2 && strcmp(c.hubs[1].host, "b.example") == 0 &&
	    c.hubs[1].port == 26, "two hubs");
	CHECK(parse(&c, "Mailhub=a b") == -1, "blank in host");
	CHECK(parse(&c, "UseSTARTTLS=maybe") == -1, "bad bool");
	CHECK(parse(&c, "UseSTARTTLS=Yes") == 0 && c.use_starttls == 1,
	    "bool yes");
	CHECK(parse(&c, "usetls=NO") == 0 && c.use_tls == 0, "bool no");
	CHECK(parse(&c, "AuthPass=p#ss word=x  # comment") == 0 &&
	    strcmp(c.auth_pass, "p#ss word=x") == 0, "password with # and =");
	CHECK(parse(&c, "# AuthPass=zzz") == 0 &&
	    strcmp(c.auth_pass, "p#ss word=x") == 0, "comment line");
	CHECK(parse(&c, "") == 0 && parse(&c, "   \t") == 0, "blank lines");
	CHECK(parse(&c, "novalue") == -1, "no '='");
	CHECK(parse(&c, "=value") == -1, "no key");
	CHECK(parse(&c, "Bogus=1") == 1, "unknown key");
	CHECK(parse(&c, "Timeout=0") == -1 && parse(&c, "Timeout=x") == -1 &&
	    parse(&c, "Timeout=30s") == -1, "bad timeouts");
	CHECK(parse(&c, "Timeout=30") == 0 && c.timeout == 30, "timeout");
	CHECK(parse(&c, "TLSFingerprint=" "00:11:22:33:44:55:66:77:88:99:aa:"
	    "bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF")
	    == 0 && c.has_fingerprint && c.tls_fingerprint[31] == 0xff,
	    "fingerprint with colons");
	CHECK(parse(&c, "TLSFingerprint=0011") == -1, "short fingerprint");
	CHECK(parse(&c, "AuthMethod=cram-md5") == 0 &&
	    strcmp(c.auth_method, "CRAM-MD5") == 0, "auth method");
	CHECK(parse(&c, "AuthMethod=DIGEST-MD5") == -1, "bad auth method");
	CHECK(parse(&c, "AddHeader=X-Origin: cron") == 0 &&
	    c.nadd_headers == 1, "AddHeader");
	CHECK(parse(&c, "AddHeader=no colon") == -1, "bad AddHeader");
	CHECK(parse(&c, "DeadLetter=NO") == 0 && c.dead_letter_off,
	    "DeadLetter=NO");
	CHECK(parse(&c, "DeadLetter=relative") == -1, "relative DeadLetter");
	CHECK(parse(&c, "TLSMinVersion=1.3") == 0, "TLSMinVersion");
	CHECK(parse(&c, "TLSMinVersion=2") == -1, "bad TLSMinVersion");
	CHECK(parse(&c, "Hostname=has space") == -1, "blank in Hostname");
	conf_free(&c);

	/* Whole files: errors carry file:line. */
	conf_init(&c);
	fd = mkstemp(path);
	dprintf(fd, "# ssmtp.conf\r\nMailhub=mail:25\r\nUseTLS=perhaps\n");
	close(fd);
	CHECK(conf_load(&c, path, &e) == -1 && e.kind == ERR_CONFIG &&
	    strstr(e.msg, ":3: ") != NULL && strstr(e.msg, path) != NULL,
	    "file:line error: %s", e.msg);
	CHECK(c.nhubs == 1 && c.hubs[0].port == 25, "CRLF line read");
	conf_free(&c);
	CHECK(conf_load(&c, "/nonexistent/ssmtp.conf", &e) == -1 &&
	    e.kind == ERR_CONFIG && strstr(e.msg, "/nonexistent/ssmtp.conf"),
	    "missing file named: %s", e.msg);
	conf_free(&c);

	fd = open(path, O_WRONLY | O_TRUNC);
	dprintf(fd, "# revaliases\nroot:admin@example.com:smtp.example.com:"
	    "2525\nalice: alice@example.org\nbroken\n");
	close(fd);
	CHECK(conf_revalias(path, "root", &from, &h, &e) == 1 &&
	    strcmp(from, "admin@example.com") == 0 &&
	    strcmp(h.host, "smtp.example.com") == 0 && h.port == 2525,
	    "revaliases with hub");
	free(from);
	free(h.host);
	CHECK(conf_revalias(path, "alice", &from, &h, &e) == 1 &&
	    strcmp(from, "alice@example.org") == 0 && h.host == NULL,
	    "revaliases without hub");
	free(from);
	CHECK(conf_revalias(path, "bob", &from, &h, &e) == -1 &&
	    strstr(e.msg, ":4:") != NULL, "malformed revaliases line");
	CHECK(conf_revalias("/nonexistent", "bob", &from, &h, &e) == 0,
	    "no revaliases file");
	unlink(path);
}

struct list {
	char	 s[2048];
	int	 n;
};

static int
collect(void *arg, const char *a)
{
	struct list *l = arg;

	if (l->n++ > 0)
		strlcat(l->s, "|", sizeof(l->s));
	strlcat(l->s, a, sizeof(l->s));
	return 0;
}

/* Parse and compare the addresses found, "|"-joined; NULL: must fail. */
static void
addrs(const char *in, const char *want)
{
	struct list l = { "", 0 };
	struct err ue;
	int r = addr_parse_list(in, strlen(in), collect, &l, &ue);

	if (want == NULL)
		CHECK(r == -1, "\"%s\" should fail, got \"%s\"", in, l.s);
	else
		CHECK(r == 0 && strcmp(l.s, want) == 0,
		    "\"%s\": got \"%s\" (%s), want \"%s\"", in, l.s,
		    r ? ue.msg : "ok", want);
}

/* The first mailbox of a list: its address and display name. */
static void
first(const char *in, int want, const char *addr, const char *name)
{
	char a[300] = "", n[256] = "";
	struct err ue;
	int r = addr_first_mailbox(in, strlen(in), a, sizeof(a), n, sizeof(n),
	    &ue);

	CHECK(r == want && (r != 1 || (strcmp(a, addr) == 0 &&
	    strcmp(n, name) == 0)), "first mailbox of \"%s\": %d <%s> \"%s\"",
	    in, r, a, n);
}

static void
test_addr(void)
{
	struct err ue;
	char big[400];

	addrs("a@b.example", "a@b.example");
	addrs("John Doe <j@x.example>, \"Doe, Jane\" <jd@y.example>",
	    "j@x.example|jd@y.example");
	addrs("undisclosed-recipients:;", "");
	addrs("team: a@b.example, c@d.example;, e@f.example",
	    "a@b.example|c@d.example|e@f.example");
	addrs("a@b.example (The (nested) comment)", "a@b.example");
	addrs("(lead) <a@b.example>", "a@b.example");
	addrs("\"quoted local\"@x.example", "\"quoted local\"@x.example");
	addrs("Joe Q. Public <jqp@x.example>", "jqp@x.example");
	addrs("<@route.example:a@b.example>", "a@b.example");
	addrs("a@[127.0.0.1]", "a@[127.0.0.1]");
	addrs("root", "root");
	addrs("root (Cron Daemon)", "root");
	addrs("a@b.example,\r\n\tc@d.example", "a@b.example|c@d.example");
	addrs(",,a@b.example,", "a@b.example");
	addrs("<>", "");
	addrs("john doe", NULL);
	addrs("<a@b.example", NULL);
	addrs("a@b.example>", NULL);
	addrs("a@b.example (open comment", NULL);
	addrs("\"open quote@b.example", NULL);
	addrs("g: a@b.example", NULL);
	addrs("a@", NULL);
	addrs("x@y\001z", NULL);

	CHECK(addr_check("a@b.example", 0, &ue) == 0, "ok addr");
	CHECK(addr_check("a@b\r\nRCPT TO:<x@y>", 0, &ue) == -1,
	    "CRLF in address");
	CHECK(addr_check("a b@c", 0, &ue) == -1, "blank");
	CHECK(addr_check("\"a b\"@c", 0, &ue) == 0,
	    "quoted blank");
	CHECK(addr_check("a>@c", 0, &ue) == -1, "'>'");
	CHECK(addr_check("", 0, &ue) == -1 &&
	    addr_check("", 1, &ue) == 0, "empty");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK(addr_check(big, 0, &ue) == -1, "too long");
	first(" root (Cron Daemon)\n", 1, "root", "Cron Daemon");
	first("\"Doe, John\" <jd@x.example>, b@y", 1, "jd@x.example",
	    "Doe, John");
	first("Jane Roe <jr@x.example> (work)", 1, "jr@x.example", "Jane Roe");
	first("<only@x.example>", 1, "only@x.example", "");
	first("list: a@x.example, b@x.example;", 1, "a@x.example", "");
	first("", 0, "", "");
	first("a@", -1, "", "");
}

/* Feed reply lines; return the last result. */
static int
reply(struct reply *r, const char *const *lines)
{
	struct err ue;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	for (; *lines != NULL; lines++)
		if ((rc = smtp_reply_line(r, *lines, strlen(*lines), &ue)) != 0)
			break;
	return rc;
}

static void
test_reply(void)
{
	struct reply r;
	struct err ue;
	char line[200];
	int i, rc = 0;

	CHECK(reply(&r, (const char *[]){ "250 OK", NULL }) == 1 &&
	    r.code == 250 && strcmp(r.text, "OK") == 0, "single line");
	CHECK(reply(&r, (const char *[]){ "250-hub.example", "250-PIPELINING",
	    "250 SIZE 1000", NULL }) == 1 && r.nlines == 3 &&
	    strcmp(r.text, "hub.example\nPIPELINING\nSIZE 1000") == 0,
	    "multiline: %s", r.text);
	CHECK(reply(&r, (const char *[]){ "354", NULL }) == 1 &&
	    r.code == 354, "code alone (RFC 5321 4.2)");
	CHECK(reply(&r, (const char *[]){ "25", NULL }) == -1, "short");
	CHECK(reply(&r, (const char *[]){ "abc def", NULL }) == -1, "letters");
	CHECK(reply(&r, (const char *[]){ "250x", NULL }) == -1, "no separator");
	CHECK(reply(&r, (const char *[]){ "650 what", NULL }) == -1, "class 6");
	CHECK(reply(&r, (const char *[]){ "150 what", NULL }) == -1, "class 1");
	CHECK(reply(&r, (const char *[]){ "250-a", "251 b", NULL }) == -1,
	    "code changes");
	CHECK(reply(&r, (const char *[]){ "250-a", "b", NULL }) == -1,
	    "broken continuation");
	CHECK(reply(&r, (const char *[]){ "550 5.1.1 <x@y>: no such user",
	    NULL }) == 1 && strcmp(r.enh, "5.1.1") == 0, "enhanced code");
	CHECK(reply(&r, (const char *[]){ "250 2.0.0", NULL }) == 1 &&
	    strcmp(r.enh, "2.0.0") == 0, "enhanced code alone");
	CHECK(reply(&r, (const char *[]){ "550 4.1.1 x", NULL }) == 1 &&
	    r.enh[0] == '\0', "enhanced class mismatch");
	CHECK(reply(&r, (const char *[]){ "550 5.1.1234 x", NULL }) == 1 &&
	    r.enh[0] == '\0', "enhanced detail too long");

	/* Endless multiline replies stop at the line limit. */
	memset(&r, 0, sizeof(r));
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	memcpy(line, "250-", 4);
	for (i = 0; i < SMTP_LINES_MAX + 5 && rc == 0; i++)
		rc = smtp_reply_line(&r, line, strlen(line), &ue);
	CHECK(rc == -1 && i == SMTP_LINES_MAX + 1, "line limit (%d)", i);
	CHECK(r.textlen < sizeof(r.text), "text capped");
}

/* Encode in with the given chunk size and compare with want. */
static void
enc(const char *in, size_t chunk, const char *want)
{
	struct dotenc d;
	char out[1024];
	size_t n = 0, i, c, len = strlen(in);

	dotenc_init(&d);
	for (i = 0; i < len; i += c) {
		c = len - i < chunk ? len - i : chunk;
		n += dotenc_chunk(&d, in + i, c, out + n, 1);
	}
	n += dotenc_finish(&d, out + n);
	out[n] = '\0';
	CHECK(strcmp(out, want) == 0, "encode \"%s\" by %zu: got \"%s\"", in,
	    chunk, out);
}

/* Undo dot-stuffing as a server does (RFC 5321 4.5.2). */
static size_t
unstuff(const char *in, size_t n, char *out)
{
	size_t i, o = 0;
	int bol = 1;

	for (i = 0; i < n; i++) {
		if (bol && in[i] == '.')
			i++;
		if (i == n)
			break;
		out[o++] = in[i];
		bol = in[i] == '\n';
	}
	return o;
}

/*
 * in with every line end (CRLF, lone LF, lone CR) as CRLF and the last
 * line closed: what the encoder must send before stuffing.
 */
static size_t
canonical(const char *in, size_t n, char *out)
{
	size_t k, o = 0;

	for (k = 0; k < n; k++) {
		if (in[k] == '\r' || in[k] == '\n') {
			out[o++] = '\r';
			out[o++] = '\n';
			if (in[k] == '\r' && k + 1 < n && in[k + 1] == '\n')
				k++;
		} else
			out[o++] = in[k];
	}
	if (n > 0 && in[n - 1] != '\r' && in[n - 1] != '\n') {
		out[o++] = '\r';
		out[o++] = '\n';
	}
	return o;
}

static void
test_dotenc(void)
{
	static const char alphabet[] = "..\r\n\nab";
	char in[256], canon[600], out[600], back[600];
	size_t i, k, n, c, clen, olen, blen;
	struct dotenc d;
	unsigned seed = 1;
	size_t chunks[] = { 1, 2, 3, 7, 1000 };

	for (k = 0; k < 5; k++) {
		enc("", chunks[k], "");
		enc("a\nb", chunks[k], "a\r\nb\r\n");
		enc(".x\n..\n.\n", chunks[k], "..x\r\n...\r\n..\r\n");
		enc("a\r\nb\r\n", chunks[k], "a\r\nb\r\n");
		enc("x\n.y", chunks[k], "x\r\n..y\r\n");
		enc("end\r", chunks[k], "end\r\n");
		enc("a\rb\n", chunks[k], "a\r\nb\r\n");
		enc("a\r.b\r\r\n.", chunks[k], "a\r\n..b\r\n\r\n..\r\n");
		enc("\r\n\r\r\n", chunks[k], "\r\n\r\n\r\n");
		enc("x\n\r.\r", chunks[k], "x\r\n\r\n..\r\n");
		enc("\n\n.\n", chunks[k], "\r\n\r\n..\r\n");
	}
	/*
	 * Round trip on random input split at random points: un-stuffing
	 * the output gives the input with every line ended by CRLF, and no
	 * line of the output is a lone "." (the end of data).
	 */
	for (i = 0; i < 20000; i++) {
		n = (seed = seed * 1103515245 + 12345) % 40;
		for (k = 0; k < n; k++) {
			seed = seed * 1103515245 + 12345;
			in[k] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
		}
		clen = canonical(in, n, canon);
		dotenc_init(&d);
		olen = 0;
		for (k = 0; k < n; k += c) {
			seed = seed * 1103515245 + 12345;
			c = 1 + (seed >> 16) % 5;
			if (c > n - k)
				c = n - k;
			olen += dotenc_chunk(&d, in + k, c, out + olen, 1);
		}
		olen += dotenc_finish(&d, out + olen);
		blen = unstuff(out, olen, back);
		if (blen != clen || memcmp(back, canon, clen) != 0 ||
		    (olen >= 3 && memcmp(out, ".\r\n", 3) == 0) ||
		    memmem(out, olen, "\r\n.\r\n", 5) != NULL) {
			CHECK(0, "round trip %zu failed", i);
			return;
		}
	}
	CHECK(1, "round trip");
}

static void
spool(const char *in, int ignore_dots, const char *want)
{
	struct message m;
	struct err e;
	int fd = tmpfd(in, strlen(in));

	msg_init(&m);
	CHECK(msg_spool(&m, fd, ignore_dots, &e) == 0 &&
	    m.size == (off_t)strlen(want) &&
	    (m.size == 0 || memcmp(m.mem, want, m.size) == 0),
	    "spool \"%s\" (-i %d): got \"%.*s\"", in, ignore_dots,
	    (int)m.size, m.mem ? m.mem : "");
	close(fd);
	msg_free(&m);
}

/* The wire size predicted must be what the encoder sends (no stuffing). */
static void
wire(const char *in)
{
	struct message m;
	struct msg_build b = { "Me <me@x.example>", 0, "h.example", NULL, 0 };
	struct dotenc d;
	struct err e;
	char out[4096];
	size_t n;
	int fd = tmpfd(in, strlen(in));

	msg_init(&m);
	if (msg_spool(&m, fd, 1, &e) == -1 || msg_parse_headers(&m, &e) == -1 ||
	    msg_build_headers(&m, &b, &e) == -1) {
		CHECK(0, "wire: %s", e.msg);
		return;
	}
	dotenc_init(&d);
	n = dotenc_chunk(&d, m.out, m.outlen, out, 0);
	n += dotenc_chunk(&d, m.mem + m.hdr_end, m.size - m.hdr_end, out + n,
	    0);
	n += dotenc_finish(&d, out + n);
	CHECK(msg_wire_size(&m) == n, "wire size of \"%s\": %llu, sent %zu",
	    in, msg_wire_size(&m), n);
	close(fd);
	msg_free(&m);
}

/* A large message through the temp file: stats and bytes as a reference. */
static void
test_big_spool(int ignore_dots)
{
	struct message m;
	struct err e;
	size_t n = 700 * 1024, i, bare = 0, got = 0, ncr = 0, nlf = 0;
	char *in = malloc(n), *back = malloc(n);
	unsigned seed = 7;
	ssize_t r;
	int fd;

	memcpy(in, "Subject: big\n\n", 14);
	for (i = 14; i < n; i++) {
		seed = seed * 1103515245 + 12345;
		in[i] = "ab\r\n\n.xyz"[(seed >> 16) % 9];
	}
	in[n / 2] = (char)0xe9;			/* 8-bit */
	for (i = 0; i < n; i++) {
		ncr += in[i] == '\r';
		nlf += in[i] == '\n';
		bare += in[i] == '\n' && i > 0 && in[i - 1] == '\r';
	}
	fd = tmpfd(in, n);
	msg_init(&m);
	CHECK(msg_spool(&m, fd, ignore_dots, &e) == 0, "big spool");
	if (ignore_dots) {
		CHECK(m.fd != -1 && m.size == (off_t)n, "in the temp file");
		CHECK(m.ncrlf == (off_t)bare && m.ncr == (off_t)ncr &&
		    m.nlf == (off_t)nlf && m.eightbit && !m.nul,
		    "stats: %lld CRLF, want %zu; 8bit %d nul %d",
		    (long long)m.ncrlf, bare, m.eightbit, m.nul);
		while ((r = msg_read(&m, got, back + got, 65536, &e)) > 0)
			got += r;
		CHECK(got == n && memcmp(in, back, n) == 0, "bytes back");
	} else {
		/* The first line holding a lone "." ends it: find it. */
		size_t want = 0;

		for (i = 1; i + 1 < n && want == 0; i++)
			if (in[i] == '.' && (in[i - 1] == '\n' ||
			    in[i - 1] == '\r') && (in[i + 1] == '\n' ||
			    in[i + 1] == '\r'))
				want = i;

		CHECK(m.size == (off_t)want, "ends at the dot line: %lld, "
		    "want %zu", (long long)m.size, want);
	}
	close(fd);
	msg_free(&m);
	free(in);
	free(back);
}

static void
test_message(void)
{
	struct message m;
	struct msg_build b = { "Me <me@x.example>", 0, "h.example", NULL, 0 };
	const char *v, *in;
	struct err e;
	size_t len;
	int fd;

	spool("a\n.\nb\n", 0, "a\n");
	spool("a\r\n.\r\nb\r\n", 0, "a\r\n");
	spool(".\n", 0, "");
	spool("a\n..\n.x\n", 0, "a\n..\n.x\n");
	spool("a\n.", 0, "a\n.");
	spool("a\n.\r", 0, "a\n");
	spool("a\r.\rb\n", 0, "a\r");
	spool("a\r.\nb\n", 0, "a\r");
	spool("a\r.x\r..\r", 0, "a\r.x\r..\r");
	spool("a\r\n.\n", 0, "a\r\n");
	spool("a\n.\nb\n", 1, "a\n.\nb\n");

	in = "From someone Sat Jan  1 00:00:00 2000\nFrom: a@x.example\n"
	    "To: b@y.example,\n c@z.example\nBcc: secret@w.example\n"
	    "Subject: s\n\nbody\n";
	fd = tmpfd(in, strlen(in));
	msg_init(&m);
	CHECK(msg_spool(&m, fd, 0, &e) == 0 && msg_parse_headers(&m, &e) == 0,
	    "parse");
	CHECK(m.nfields == 4 && m.hdr_start > 0, "fields: %zu", m.nfields);
	msg_field_value(&m, msg_field(&m, "to"), &v, &len);
	CHECK(len == strlen(" b@y.example,\n c@z.example\n"), "folded To");
	CHECK(msg_build_headers(&m, &b, &e) == 0, "build");
	CHECK(memmem(m.out, m.outlen, "secret", 6) == NULL, "Bcc removed");
	CHECK(memmem(m.out, m.outlen, "From someone", 12) == NULL,
	    "From_ line dropped");
	CHECK(memmem(m.out, m.outlen, "Me <me", 6) == NULL, "From kept");
	CHECK(memmem(m.out, m.outlen, "\nDate: ", 7) != NULL ||
	    memcmp(m.out, "Date: ", 6) == 0, "Date added");
	CHECK(memmem(m.out, m.outlen, "Message-ID: <", 13) != NULL,
	    "Message-ID added");
	CHECK(m.outlen > 2 && memcmp(m.out + m.outlen - 2, "\n\n", 2) == 0,
	    "blank line after the headers");
	close(fd);
	msg_free(&m);

	/* A first line that is not a header starts the body. */
	fd = tmpfd("Hello world\nSubject: not a header\n", 34);
	msg_init(&m);
	CHECK(msg_spool(&m, fd, 1, &e) == 0 && msg_parse_headers(&m, &e) == 0 &&
	    m.nfields == 0 && m.hdr_end == 0, "no header section");
	close(fd);
	msg_free(&m);

	wire("Subject: x\n\nbody\n");
	wire("Subject: x\r\n\r\nbody\r\nmore");
	wire("Subject: x\n\nend with cr\r");
	wire("Subject: x\n\n");
	wire("no headers\nat all");
	wire("Subject: x\nTo: a@b\n\n.\n..\n\n\n");
	wire("Subject: x\rTo: a@b\r\r.\r\n\r");
	wire("Subject: x\r\r\nBcc: v@x\n\nbody\r");
	wire("Subject: x\r");
	wire("Bcc: v@x\rSubject: y\r\n\rbody");

	/* White space before the colon (RFC 5322 4.5): still a field. */
	in = "To: a@x.example\nBcc : v@x.example\nX-Foo\t: y\nSubject: s\n\nb\n";
	fd = tmpfd(in, strlen(in));
	msg_init(&m);
	CHECK(msg_spool(&m, fd, 0, &e) == 0 && msg_parse_headers(&m, &e) == 0 &&
	    m.nfields == 4, "obsolete field syntax: %zu fields", m.nfields);
	CHECK(msg_field(&m, "Bcc") != NULL && msg_field(&m, "X-Foo") != NULL,
	    "names without the blanks");
	msg_field_value(&m, msg_field(&m, "bcc"), &v, &len);
	CHECK(len == strlen(" v@x.example\n") && *v == ' ', "value after ':'");
	close(fd);
	msg_free(&m);

	/* A lone CR ends a line for the parser as on the wire. */
	in = "Subject: x\rBcc: v@x.example\rFrom: a@b.example\r\rbody";
	fd = tmpfd(in, strlen(in));
	msg_init(&m);
	CHECK(msg_spool(&m, fd, 1, &e) == 0 && msg_parse_headers(&m, &e) == 0 &&
	    m.nfields == 3 && m.hdr_end == strlen(in) - 4,
	    "lone CR fields: %zu", m.nfields);
	close(fd);
	msg_free(&m);
}

static void
eol(const char *in, size_t want, size_t wantlen)
{
	size_t len, at = msg_eol(in, strlen(in), &len);

	CHECK(at == want && len == wantlen, "msg_eol \"%s\": %zu/%zu", in, at,
	    len);
}

/*
 * Random messages of header-ish bytes: the wire size predicted is what
 * the encoder sends, and the encoded header section ends exactly where
 * ssmtp's header block does: no body line turns into a field on the
 * wire, and no field of the block falls into the body.
 */
static void
test_wire_random(void)
{
	static const char alphabet[] = "ab: \t\r\n\n.BF";
	static const char *names[] = { "Bcc", "From", "To", "X" };
	struct msg_build b = { "Me <me@x.example>", 1, "h.example", NULL, 0 };
	char in[200], out[2000];
	struct message m;
	struct dotenc d;
	struct err e;
	unsigned seed = 3;
	size_t i, k, n, nh, hl;
	const char *end;
	int bad = 0;

	eol("abc", 3, 0);
	eol("a\nb", 1, 1);
	eol("a\r\nb", 1, 2);
	eol("a\rb", 1, 1);
	eol("a\r", 1, 1);
	eol("\r\r\n", 0, 1);
	for (i = 0; i < 20000 && !bad; i++) {
		n = 0;
		seed = seed * 1103515245 + 12345;
		for (k = 0, nh = (seed >> 16) % 4; k < nh; k++) {
			seed = seed * 1103515245 + 12345;
			n += snprintf(in + n, sizeof(in) - n, "%s:",
			    names[(seed >> 16) % 4]);
		}
		seed = seed * 1103515245 + 12345;
		for (k = (seed >> 16) % 60; k > 0 && n < 150; k--) {
			seed = seed * 1103515245 + 12345;
			in[n++] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
		}
		msg_init(&m);
		if (msg_append(&m, in, n, &e) == -1 ||
		    msg_parse_headers(&m, &e) == -1 ||
		    msg_build_headers(&m, &b, &e) == -1) {
			bad = 1;
			break;
		}
		dotenc_init(&d);
		hl = dotenc_chunk(&d, m.out, m.outlen, out, 0);
		k = hl + dotenc_chunk(&d, m.mem + m.hdr_end, m.size -
		    m.hdr_end, out + hl, 0);
		k += dotenc_finish(&d, out + k);
		end = memmem(out, k, "\r\n\r\n", 4);
		if (k != msg_wire_size(&m) || end == NULL ||
		    (size_t)(end - out) + 4 != hl)
			bad = 1;
		msg_free(&m);
	}
	CHECK(!bad, "random message %zu: \"%.*s\"", i, (int)n, in);
}

/*
 * CRAM-MD5 for every user name length from 560 to 4095 (the config's
 * limit): the response is exactly "user SP hex(HMAC-MD5)", whatever the
 * length (a 600-byte stack buffer once sent stack memory instead).
 */
static void
test_cram_md5(void)
{
	static const char chal[] = "<1896.697170952@postoffice.example.net>";
	static char user[4096];
	unsigned char mac[EVP_MAX_MD_SIZE], *back;
	char b64chal[128], want[4200];
	unsigned int maclen, i;
	size_t ulen, n;
	struct err e;
	char *resp;
	int bad = 0;

	EVP_EncodeBlock((unsigned char *)b64chal, (const unsigned char *)chal,
	    (int)strlen(chal));
	HMAC(EVP_md5(), "tanstaaftanstaaf", 16, (const unsigned char *)chal,
	    strlen(chal), mac, &maclen);
	for (ulen = 560; ulen <= 4095 && !bad; ulen++) {
		memset(user, 'a' + ulen % 26, ulen);
		user[ulen] = '\0';
		n = (size_t)snprintf(want, sizeof(want), "%s ", user);
		for (i = 0; i < maclen; i++)
			n += (size_t)snprintf(want + n, sizeof(want) - n, "%02x",
			    mac[i]);
		resp = auth_cram_md5_response(user, "tanstaaftanstaaf", b64chal,
		    strlen(b64chal), &e);
		back = resp ? auth_b64_decode(resp, strlen(resp), &n) : NULL;
		bad = back == NULL || n != ulen + 33 || memcmp(back, want, n) != 0;
		free(back);
		free(resp);
	}
	CHECK(!bad, "CRAM-MD5 response for a %zu-byte user", ulen - 1);
	CHECK(auth_cram_md5_response("u", "p", "not base64!", 11, &e) == NULL &&
	    e.kind == ERR_PROTOCOL, "a challenge that is not base64");
	/* RFC 2195's own example. */
	resp = auth_cram_md5_response("tim", "tanstaaftanstaaf",
	    "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+", 56, &e);
	CHECK(resp != NULL && strcmp(resp, "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZl"
	    "NzMzNGQzODkw") == 0, "RFC 2195 example: %s", resp ? resp : "");
	free(resp);
}

/* EHLO keyword lines: every mechanism over every AUTH line, any length. */
static void
test_caps(void)
{
	struct smtp_caps c;
	char line[8000];
	size_t n = 0, i;

	smtp_caps_init(&c);
	smtp_caps_line(&c, "PIPELINING", 10);
	smtp_caps_line(&c, "SIZE 10240000", 13);
	smtp_caps_line(&c, "AUTH=LOGIN", 10);
	CHECK(c.flags == (CAP_PIPELINING | CAP_SIZE | CAP_AUTH) &&
	    c.size_max == 10240000 && c.auth == AUTH_LOGIN, "basic caps");
	n = (size_t)snprintf(line, sizeof(line), "AUTH");
	for (i = 0; i < 700; i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, " X-M%03zu", i);
	n += (size_t)snprintf(line + n, sizeof(line) - n, " cram-md5 PLAIN");
	smtp_caps_line(&c, line, n);
	CHECK(c.auth == (AUTH_LOGIN | AUTH_CRAM_MD5 | AUTH_PLAIN),
	    "a %zu-byte AUTH line: %#x", n, c.auth);
	CHECK(strlen(c.auth_offered) < sizeof(c.auth_offered) &&
	    strstr(c.auth_offered, "...") != NULL, "offered list cut: %s",
	    c.auth_offered);
	smtp_caps_line(&c, "AUTHX PLAIN", 11);
	smtp_caps_line(&c, "SIZE", 4);
	CHECK(c.size_max == 0 || c.size_max == 10240000, "SIZE without value");
}

/*
 * What the spool notes of a message (LFs, CRs, CRLF pairs, 8-bit and NUL
 * bytes), for messages of up to 3,000 bytes appended in pieces of every
 * size, against a byte-by-byte count of the whole.
 */
static void
test_scan_random(void)
{
	static const char alphabet[] = "ab.\r\n\n\n\x80\0";
	static char in[3000];
	struct message m;
	struct err e;
	unsigned seed = 11;
	size_t i, k, n, off, c;
	long nlf, ncr, ncrlf;
	int eight, nul, bad = 0;

	for (i = 0; i < 3000 && !bad; i++) {
		seed = seed * 1103515245 + 12345;
		n = (seed >> 16) % sizeof(in);
		nlf = ncr = ncrlf = eight = nul = 0;
		for (k = 0; k < n; k++) {
			seed = seed * 1103515245 + 12345;
			/* Mostly text, as mail is; the rare bytes now and then. */
			in[k] = (seed >> 20) % 4 ? (char)('a' + (seed >> 16) % 26) :
			    alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
			nlf += in[k] == '\n';
			ncr += in[k] == '\r';
			ncrlf += in[k] == '\n' && k > 0 && in[k - 1] == '\r';
			eight |= (unsigned char)in[k] >= 0x80;
			nul |= in[k] == '\0';
		}
		msg_init(&m);
		seed = seed * 1103515245 + 12345;
		for (off = 0; off < n && !bad; off += c) {
			c = 1 + (seed >> 16) % (i % 2 ? 300 : 7);
			if (c > n - off)
				c = n - off;
			bad = msg_append(&m, in + off, c, &e) == -1;
		}
		if (m.nlf != nlf || m.ncr != ncr || m.ncrlf != ncrlf ||
		    m.eightbit != eight || m.nul != nul)
			bad = 1;
		msg_free(&m);
	}
	CHECK(!bad, "scan of random message %zu (%zu bytes)", i, n);
}

/* A bufw sink that keeps what it is given, and the size of each call. */
struct record_sink {
	char	 out[20000];
	size_t	 len;
	size_t	 calls[4000];
	size_t	 ncalls;
	int	 fail_at;		/* fail the call of this number, 1-based */
};

static int
record(void *arg, const char *p, size_t n, struct err *e)
{
	struct record_sink *r = arg;

	if (r->ncalls + 1 == (size_t)r->fail_at)
		return err_set(e, ERR_TEMPFAIL, "sink failed");
	if (r->len + n > sizeof(r->out) || r->ncalls == 4000)
		return err_set(e, ERR_SOFTWARE, "record sink full");
	memcpy(r->out + r->len, p, n);
	r->len += n;
	r->calls[r->ncalls++] = n;
	return 0;
}

/*
 * The buffered writer, with and without write-through: the sink gets the
 * same bytes in the same order; with a block, what it gets is whole
 * blocks but for the flushes, and a large add reaches it uncopied; a
 * failed sink fails every later add.
 */
static void
test_bufw(void)
{
	static struct record_sink r;
	char in[16000];
	struct bufw w;
	struct err e;
	unsigned seed = 7;
	size_t i, n, off, k;
	int block, bad;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (char)('a' + i % 23);
	for (block = 0; block <= 16; block += 16) {
		memset(&r, 0, sizeof(r));
		bad = bufw_init(&w, 64, record, &r, &e) == -1;
		w.block = (size_t)block;
		for (off = 0; off < sizeof(in) && !bad; off += n) {
			seed = seed * 1103515245 + 12345;
			n = (seed >> 16) % 200;
			if (n > sizeof(in) - off)
				n = sizeof(in) - off;
			bad = bufw_add(&w, in + off, n, &e) == -1;
			/* A flush now and then, as a command's end is. */
			if (!bad && (seed >> 8) % 7 == 0)
				bad = bufw_flush(&w, &e) == -1;
		}
		bad = bad || bufw_flush(&w, &e) == -1;
		CHECK(!bad && r.len == sizeof(in) &&
		    memcmp(r.out, in, sizeof(in)) == 0,
		    "bufw (block %d): the sink got what was added", block);
		for (k = 0; block == 0 && k < r.ncalls; k++)
			CHECK(r.calls[k] <= 64, "bufw: a call of %zu", r.calls[k]);
		for (k = 0, n = 0; block != 0 && k < r.ncalls; k++)
			n += r.calls[k] > 64;
		CHECK(block == 0 || n > 0, "bufw: no call went past the buffer");
		bufw_free(&w, 1);
	}
	memset(&r, 0, sizeof(r));
	r.fail_at = 3;
	bad = bufw_init(&w, 64, record, &r, &e) == -1;
	w.block = 16;
	/* 10 queued; 6 more make a block, handed on; 80 straight; 14 left. */
	CHECK(!bad && bufw_add(&w, in, 10, &e) == 0 &&
	    bufw_add(&w, in, 100, &e) == 0 && r.ncalls == 2 &&
	    r.calls[0] == 16 && r.calls[1] == 80 && w.len == 14,
	    "bufw: topped up to a block, then whole blocks: %zu calls",
	    r.ncalls);
	CHECK(bufw_add(&w, in, 200, &e) == -1 && bufw_add(&w, in, 1, &e) ==
	    -1 && bufw_flush(&w, &e) == -1, "bufw: a failed sink stays failed");
	CHECK(r.len == 96, "bufw: nothing after the failure: %zu", r.len);
	bufw_free(&w, 1);
}

/*
 * The TLS session cache's text: good lines kept; a ticket marked used
 * (its expiry zeros), a mark cut short, an expired or too distant one,
 * and a line with bad hex are dropped.
 */
static void
test_tlscache_text(void)
{
	char text[1024];
	long long now = (long long)time(NULL);
	int n;

	n = snprintf(text, sizeof(text), "ssmtp-tls-sessions 1\n"
	    "%lld k1 0a0b\n"			/* kept */
	    "0000000000 k1 0a0b\n"		/* used */
	    "000%07lld k1 0a0b\n"		/* the mark cut short */
	    "%lld k1 0a0b\n"			/* expired */
	    "%lld k1 0a0b\n"			/* past the hour */
	    "%lld k1 0a0g\n"			/* not hex */
	    "%lld k2 ff\n",			/* kept */
	    now + 60, (now + 60) % 10000000, now - 1, now + 7200, now + 60,
	    now + 60);
	CHECK(n > 0 && tlscache_parse(text, (size_t)n) == 2,
	    "cache text: %zu kept", tlscache_parse(text, (size_t)n));
	CHECK(tlscache_parse("ssmtp-tls-sessions 2\n", 21) == 0,
	    "another version");
}

int
main(void)
{
	test_config();
	test_addr();
	test_reply();
	test_dotenc();
	test_message();
	test_wire_random();
	test_cram_md5();
	test_caps();
	test_tlscache_text();
	test_bufw();
	test_scan_random();
	test_big_spool(1);
	test_big_spool(0);
	printf("unit: %d passed, %d failed\n", npass, nfail);
	return nfail != 0;
}
