/* Spooling stdin and the RFC 5322 header section. */
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "addr.h"
#include "buf.h"
#include "message.h"

#define SPOOL_CHUNK	(64 * 1024)
#define SCAN_BLOCK	64

void
msg_init(struct message *m)
{
	memset(m, 0, sizeof(*m));
	m->fd = -1;
}

void
msg_free(struct message *m)
{
	free(m->mem);
	free(m->fields);
	free(m->out);
	if (m->fd != -1)
		close(m->fd);
	msg_init(m);
}

/* Move the spool to an unlinked temp file; mem keeps the first bytes. */
static int
spool_to_file(struct message *m, struct err *e)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];

	if (dir == NULL || *dir == '\0')
		dir = "/tmp";
	snprintf(path, sizeof(path), "%s/ssmtp.XXXXXX", dir);
	if ((m->fd = mkostemp(path, O_CLOEXEC)) == -1)
		return err_set(e, ERR_OSERR, "cannot create a temporary file "
		    "in %s: %s", dir, strerror(errno));
	unlink(path);
	if (bufw_fd_sink(&m->fd, m->mem, m->mlen, e) == -1) {
		err_prefix(e, ": ");
		err_prefix(e, dir);
		err_prefix(e, "cannot write the temporary file in ");
		return -1;
	}
	return 0;
}

size_t
msg_eol(const char *p, size_t n, size_t *len)
{
	const char *lf, *cr;

	lf = memchr(p, '\n', n);
	cr = memchr(p, '\r', lf != NULL ? (size_t)(lf - p) : n);
	if (cr != NULL) {
		*len = cr + 1 < p + n && cr[1] == '\n' ? 2 : 1;
		return cr - p;
	}
	*len = lf != NULL ? 1 : 0;
	return lf != NULL ? (size_t)(lf - p) : n;
}

/* Whether mem holds the end of the header section (a blank line). */
static int
header_done(struct message *m)
{
	size_t pos = 0, eol, elen;

	while (!m->hdr_done && pos < m->mlen) {
		eol = msg_eol(m->mem + pos, m->mlen - pos, &elen);
		if (elen == 0)
			break;
		m->hdr_done = eol == 0;
		pos += eol + elen;
	}
	return m->hdr_done;
}

/*
 * Note what the spool needs to know of p[0..n): its LFs, CRs and CRLF
 * pairs (for the exact wire size, msg_wire_size), 8-bit bytes
 * (BODY=8BITMIME), NUL bytes.  This runs over every byte of every
 * message: in 64-byte blocks, loops of fixed length that the compiler
 * makes vector instructions of at -O2 (lf[] counts in bytes, so at most
 * 255 blocks go by before it is summed); memchr only for the CRs, which
 * most messages lack.
 */
static void
scan(struct message *m, const char *p, size_t n)
{
	const unsigned char *u = (const unsigned char *)p;
	const char *q, *end = p + n;
	unsigned char acc[SCAN_BLOCK] = { 0 }, zero[SCAN_BLOCK] = { 0 };
	unsigned char lf[SCAN_BLOCK];
	size_t i = 0, j, k, nlf = 0;

	while (i + SCAN_BLOCK <= n) {
		memset(lf, 0, sizeof(lf));
		for (k = 0; k < 255 && i + SCAN_BLOCK <= n; k++, i += SCAN_BLOCK)
			for (j = 0; j < SCAN_BLOCK; j++) {
				acc[j] |= u[i + j];
				zero[j] |= u[i + j] == 0;
				lf[j] += u[i + j] == '\n';
			}
		for (j = 0; j < SCAN_BLOCK; j++)
			nlf += lf[j];
	}
	for (; i < n; i++) {
		acc[0] |= u[i];
		zero[0] |= u[i] == 0;
		nlf += u[i] == '\n';
	}
	for (j = 0; j < SCAN_BLOCK; j++) {
		m->eightbit |= (acc[j] & 0x80) != 0;
		m->nul |= zero[j] != 0;
	}
	m->nlf += nlf;
	if ((q = memchr(p, '\r', n)) != NULL) {
		for (; q != NULL; q = memchr(q + 1, '\r', end - q - 1))
			m->ncr++;
		for (q = p; (q = memchr(q, '\n', end - q)) != NULL; q++)
			m->ncrlf += (q == p ? m->lastc : q[-1]) == '\r';
	} else if (m->lastc == '\r' && p[0] == '\n')
		m->ncrlf++;	/* the CR ended the last piece */
	m->lastc = p[n - 1];
}

int
msg_append(struct message *m, const char *p, size_t n, struct err *e)
{
	if (n == 0)
		return 0;
	scan(m, p, n);
	m->size += n;
	/*
	 * Memory stays small whatever the size: past MSG_MEM_MAX the message
	 * goes to the temp file, and mem keeps only what it has, which holds
	 * the whole header section (it grows to MSG_HDR_MAX for that).
	 */
	if (m->fd == -1 && m->mlen + n > MSG_MEM_MAX &&
	    (m->mlen + n > MSG_HDR_MAX || header_done(m)) &&
	    spool_to_file(m, e) == -1)
		return -1;
	if (m->fd != -1) {
		if (bufw_fd_sink(&m->fd, p, n, e) == -1) {
			err_prefix(e, "cannot write the temporary spool file: ");
			return -1;
		}
		return 0;
	}
	if (m->mlen + n > m->mcap) {
		size_t cap = m->mcap ? m->mcap : SPOOL_CHUNK;
		char *nm;

		while (cap < m->mlen + n)
			cap *= 2;
		if ((nm = realloc(m->mem, cap)) == NULL)
			return err_set(e, ERR_OSERR, "out of memory");
		m->mem = nm;
		m->mcap = cap;
	}
	memcpy(m->mem + m->mlen, p, n);
	m->mlen += n;
	return 0;
}

/*
 * The state of the scan for a line holding a single ".": at the start of
 * a line (the last byte was a line end, msg_eol's rule), and a "." seen
 * there and not yet spooled.
 */
struct dotscan {
	int	 bol;
	int	 dot;
};

/* The line end in [p, end) that a "." follows, or NULL. */
static const char *
find_dot_line(const char *p, const char *end)
{
	const char *d;

	/*
	 * Look for the dot, not the line end: bodies have fewer dots than
	 * lines, and base64 attachments have none.
	 */
	for (d = p + 1; d < end && (d = memchr(d, '.', end - d)) != NULL; d++)
		if (d[-1] == '\n' || d[-1] == '\r')
			return d - 1;
	return NULL;
}

/*
 * Spool buf, stopping at a terminating "." line.  Returns 1 when the
 * terminator was found, 0 when more input may follow, -1 on error.
 */
static int
spool_dots(struct message *m, struct dotscan *ds, const char *buf, size_t n,
    struct err *e)
{
	const char *p = buf, *end = buf + n, *nl;

	while (p < end) {
		if (ds->dot) {
			/* A "." alone on its line, whatever ends the line. */
			if (*p == '\n' || *p == '\r')
				return 1;
			if (msg_append(m, ".", 1, e) == -1)
				return -1;
			ds->dot = 0;
			ds->bol = 0;
			continue;
		}
		if (ds->bol && *p == '.') {
			ds->dot = 1;
			p++;
			continue;
		}
		/*
		 * Only a line starting with "." can end the input: spool
		 * everything up to the next one in one piece, not line by line
		 * (in the temp file that would be a write per line).
		 */
		if ((nl = find_dot_line(p, end)) == NULL) {
			ds->bol = end[-1] == '\n' || end[-1] == '\r';
			return msg_append(m, p, end - p, e);
		}
		if (msg_append(m, p, nl + 1 - p, e) == -1)
			return -1;
		p = nl + 1;
		ds->bol = 1;
	}
	return 0;
}

int
msg_spool(struct message *m, int fd, int ignore_dots, struct err *e)
{
	struct dotscan ds = { 1, 0 };
	char *buf;
	ssize_t n;
	int r = 0;

	if ((buf = malloc(SPOOL_CHUNK)) == NULL)
		return err_set(e, ERR_OSERR, "out of memory");
	for (;;) {
		n = read(fd, buf, SPOOL_CHUNK);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			r = err_set(e, ERR_IOERR, "cannot read the message "
			    "from standard input: %s", strerror(errno));
			break;
		}
		if (n == 0) {
			if (ds.dot)
				r = msg_append(m, ".", 1, e);
			break;
		}
		if (ignore_dots)
			r = msg_append(m, buf, n, e);
		else if ((r = spool_dots(m, &ds, buf, n, e)) == 1) {
			r = 0;
			break;
		}
		if (r == -1)
			break;
	}
	free(buf);
	return r;
}

/*
 * What CRLF form adds to p[0..n), a whole piece that no CRLF straddles: a
 * byte for each lone CR and each lone LF (msg_eol's rule).
 */
static size_t
eol_extra(const char *p, size_t n)
{
	size_t i, extra = 0;

	for (i = 0; i < n; i++) {
		if (p[i] == '\r')
			extra += i + 1 == n || p[i + 1] != '\n';
		else if (p[i] == '\n')
			extra += i == 0 || p[i - 1] != '\r';
	}
	return extra;
}

unsigned long long
msg_wire_size(const struct message *m)
{
	unsigned long long size;
	off_t body = m->size - m->hdr_end;

	/*
	 * The header block ends with LF and the body starts a line (the
	 * header section never ends inside a CRLF), so the body's lone CRs
	 * and LFs are those of the whole message less the header section's.
	 */
	size = m->outlen + eol_extra(m->out, m->outlen);
	size += body + (m->ncr - m->ncrlf) + (m->nlf - m->ncrlf) -
	    eol_extra(m->mem, m->hdr_end);
	/* The encoder closes an unfinished last line (dotenc_finish). */
	if (body > 0 && m->lastc != '\n' && m->lastc != '\r')
		size += 2;
	return size;
}

ssize_t
msg_read(const struct message *m, off_t off, char *buf, size_t n,
    struct err *e)
{
	ssize_t r;

	if (off >= m->size)
		return 0;
	if ((off_t)n > m->size - off)
		n = m->size - off;
	if (m->fd == -1) {
		memcpy(buf, m->mem + off, n);
		return n;
	}
	do
		r = pread(m->fd, buf, n, off);
	while (r == -1 && errno == EINTR);
	if (r == -1)
		return err_set(e, ERR_IOERR, "cannot read the spooled message: "
		    "%s", strerror(errno));
	return r;
}

/*
 * A field name: printable ASCII but ':' and SP (RFC 5322 3.6.8), then the
 * colon, with white space allowed before it (obs-optional, RFC 5322 4.5).
 * Returns the name's length and sets *colon, or 0 when the line is not a
 * field.
 */
static size_t
field_name_len(const char *p, size_t n, size_t *colon)
{
	size_t i, name;

	for (i = 0; i < n && p[i] != ':'; i++)
		if (p[i] <= ' ' || p[i] >= 0x7f)
			break;
	name = i;
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	if (name == 0 || i == n || p[i] != ':')
		return 0;
	*colon = i;
	return name;
}

int
msg_parse_headers(struct message *m, struct err *e)
{
	size_t avail = m->mlen, pos = 0, len, eol, elen, name_len, colon;
	size_t cap = 0;
	const char *p = m->mem;
	struct field *f;

	m->nfields = 0;
	/* An mbox "From " line in front is not a header (sendmail drops it). */
	if (avail >= 5 && memcmp(p, "From ", 5) == 0) {
		eol = msg_eol(p, avail, &elen);
		pos = eol + elen;
	}
	m->hdr_start = pos;
	while (pos < avail) {
		/* Lines end as msg_eol says, here as on the wire. */
		eol = msg_eol(p + pos, avail - pos, &elen);
		len = eol + elen;
		if ((off_t)avail < m->size && (elen == 0 ||
		    (elen == 1 && p[pos + eol] == '\r' && pos + len == avail)))
			break;		/* the line runs past what is in memory */
		if (pos + len > MSG_HDR_MAX)
			break;
		if (eol == 0 && elen > 0) {
			m->hdr_end = pos + len;
			return 0;	/* the blank line ends the section */
		}
		if ((p[pos] == ' ' || p[pos] == '\t') && m->nfields > 0) {
			m->fields[m->nfields - 1].len += len;
			pos += len;
			continue;
		}
		if ((name_len = field_name_len(p + pos, eol, &colon)) == 0) {
			m->hdr_end = pos;	/* not a field: the body starts */
			return 0;
		}
		if (m->nfields == MSG_FIELDS_MAX)
			return err_set(e, ERR_DATA, "message has more than %d "
			    "header fields", MSG_FIELDS_MAX);
		if (m->nfields == cap) {
			cap = cap ? cap * 2 : 32;
			if ((f = reallocarray(m->fields, cap, sizeof(*f))) ==
			    NULL)
				return err_set(e, ERR_OSERR, "out of memory");
			m->fields = f;
		}
		f = &m->fields[m->nfields++];
		f->off = pos;
		f->len = len;
		f->name_len = name_len;
		f->value = colon + 1;
		pos += len;
	}
	if (pos < avail || (off_t)avail < m->size)
		return err_set(e, ERR_DATA, "the message's header section is "
		    "larger than %d KiB (no blank line before the body?)",
		    MSG_HDR_MAX / 1024);
	m->hdr_end = pos;
	return 0;
}

int
msg_field_is(const struct message *m, const struct field *f, const char *name)
{
	return strlen(name) == f->name_len &&
	    strncasecmp(m->mem + f->off, name, f->name_len) == 0;
}

const struct field *
msg_field(const struct message *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->nfields; i++)
		if (msg_field_is(m, &m->fields[i], name))
			return &m->fields[i];
	return NULL;
}

void
msg_field_value(const struct message *m, const struct field *f,
    const char **v, size_t *len)
{
	*v = m->mem + f->off + f->value;
	*len = f->len - f->value;
}

/*
 * The newest Resent- block (RFC 5322 3.6.6: each resend prepends one,
 * with one Resent-Date and one Resent-From): from the first Resent-*
 * field to the first field that is not one, or whose name the block
 * already has (where the next older block starts).  Returns 1 with
 * [*first, *end) when the message has one, else 0.
 */
static int
resent_block(const struct message *m, size_t *first, size_t *end)
{
	const struct field *f;
	size_t i, j;

	for (i = 0; i < m->nfields; i++)
		if (m->fields[i].name_len > 7 &&
		    strncasecmp(m->mem + m->fields[i].off, "Resent-", 7) == 0)
			break;
	if (i == m->nfields)
		return 0;
	for (*first = i; i < m->nfields; i++) {
		f = &m->fields[i];
		if (f->name_len <= 7 || strncasecmp(m->mem + f->off, "Resent-",
		    7) != 0)
			break;
		for (j = *first; j < i; j++)
			if (m->fields[j].name_len == f->name_len &&
			    strncasecmp(m->mem + m->fields[j].off,
			    m->mem + f->off, f->name_len) == 0)
				break;
		if (j < i)
			break;		/* a second of a name: an older block */
	}
	*end = i;
	return 1;
}

int
msg_recipients(const struct message *m, int (*cb)(void *, const char *),
    void *arg, struct err *e)
{
	static const char *names[] = { "To", "Cc", "Bcc", "Resent-To",
	    "Resent-Cc", "Resent-Bcc" };
	const struct field *f;
	const char *v;
	struct err ae;
	size_t i, j, len, first = 0, end = m->nfields, base = 0;
	int r;

	/* With a Resent- block, its recipients only (sendmail's -t rule). */
	if (resent_block(m, &first, &end))
		base = 3;
	for (i = first; i < end; i++) {
		f = &m->fields[i];
		for (j = base; j < base + 3; j++)
			if (msg_field_is(m, f, names[j]))
				break;
		if (j == base + 3)
			continue;
		msg_field_value(m, f, &v, &len);
		r = addr_parse_list(v, len, cb, arg, &ae);
		if (r == -1)
			return err_set(e, ERR_DATA, "%s header: %s", names[j],
			    ae.msg);
		if (r != 0)
			return r;
	}
	return 0;
}

int
msg_from_address(const struct message *m, char *buf, size_t size,
    struct err *e)
{
	const struct field *f = NULL;
	const char *v, *which = "From";
	struct err ae;
	char name[1];
	size_t len, first, end, i;
	int r;

	/* The newest Resent-From, when the message was resent. */
	if (resent_block(m, &first, &end))
		for (i = first; i < end && f == NULL; i++)
			if (msg_field_is(m, &m->fields[i], "Resent-From")) {
				f = &m->fields[i];
				which = "Resent-From";
			}
	if (f == NULL && (f = msg_field(m, "From")) == NULL)
		return 0;
	msg_field_value(m, f, &v, &len);
	r = addr_first_mailbox(v, len, buf, size, name, sizeof(name), &ae);
	if (r == -1)
		return err_set(e, ERR_DATA, "%s header: %s", which, ae.msg);
	return r;
}

int
msg_from_name(const struct message *m, char *buf, size_t size)
{
	const struct field *f;
	const char *v;
	char addr[ADDR_MAX + 1];
	struct err ae;
	size_t len;

	if ((f = msg_field(m, "From")) == NULL)
		return 0;
	msg_field_value(m, f, &v, &len);
	if (addr_first_mailbox(v, len, addr, sizeof(addr), buf, size, &ae) != 1)
		return 0;
	return *buf != '\0';
}

/* RFC 2047 encoded-words of at most 75 characters, split on UTF-8 chars. */
static void
encode_words(const char *s, size_t n, char *out, size_t size)
{
	char word[80];
	size_t take, o = 0;

	out[0] = '\0';
	while (n > 0) {
		take = n < 45 ? n : 45;		/* 60 base64 chars a word */
		while (take < n && take > 1 &&
		    ((unsigned char)s[take] & 0xc0) == 0x80)
			take--;
		EVP_EncodeBlock((unsigned char *)word, (const unsigned char *)s,
		    (int)take);
		o += snprintf(out + o, o < size ? size - o : 0, "%s=?UTF-8?B?%s?=",
		    o ? " " : "", word);
		if (o >= size) {
			out[size - 1] = '\0';
			return;
		}
		s += take;
		n -= take;
	}
}

void
msg_mailbox(const char *name, const char *addr, char *buf, size_t size)
{
	char clean[256], enc[1024];
	size_t i, o = 0;
	int special = 0, eight = 0;

	for (i = 0; name != NULL && name[i] != '\0' && o + 2 < sizeof(clean);
	    i++) {
		unsigned char c = name[i];

		if (c < 0x20 || c == 0x7f)
			continue;
		eight |= c >= 0x80;
		special |= strchr("()<>[]:;@.,\"\\", c) != NULL;
		clean[o++] = c;
	}
	clean[o] = '\0';
	if (o == 0) {
		snprintf(buf, size, "<%s>", addr);
		return;
	}
	if (eight) {
		encode_words(clean, o, enc, sizeof(enc));
		snprintf(buf, size, "%s <%s>", enc, addr);
	} else if (special) {
		/* A quoted-string: escape '"' and '\\' (RFC 5322 3.2.4). */
		for (i = 0, o = 0; clean[i] != '\0' && o + 3 < sizeof(enc); i++) {
			if (clean[i] == '"' || clean[i] == '\\')
				enc[o++] = '\\';
			enc[o++] = clean[i];
		}
		enc[o] = '\0';
		snprintf(buf, size, "\"%s\" <%s>", enc, addr);
	} else
		snprintf(buf, size, "%s <%s>", clean, addr);
}

int
msg_build_headers(struct message *m, const struct msg_build *b, struct err *e)
{
	struct buf o;
	const struct field *f;
	unsigned char rnd[8];
	char date[64];
	time_t now = time(NULL);
	size_t i;
	char c;
	int has_from = msg_field(m, "From") != NULL, rc = 0;

	buf_init(&o, MSG_HDR_MAX + 64 * 1024);
	if (b->from != NULL && (!has_from || b->replace_from))
		rc |= buf_printf(&o, e, "From: %s\n", b->from);
	if (msg_field(m, "Date") == NULL) {
		/* RFC 5322 3.3, in the C locale: day and month in English. */
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z",
		    localtime(&now));
		rc |= buf_printf(&o, e, "Date: %s\n", date);
	}
	if (msg_field(m, "Message-ID") == NULL) {
		arc4random_buf(rnd, sizeof(rnd));
		rc |= buf_printf(&o, e, "Message-ID: <%lld.%02x%02x%02x%02x%02x%02x%02x"
		    "%02x@%s>\n", (long long)now, rnd[0], rnd[1], rnd[2],
		    rnd[3], rnd[4], rnd[5], rnd[6], rnd[7], b->hostname);
	}
	for (i = 0; i < b->nadd; i++)
		rc |= buf_printf(&o, e, "%s\n", b->add[i]);
	for (i = 0; i < m->nfields; i++) {
		f = &m->fields[i];
		if (msg_field_is(m, f, "Bcc") ||
		    msg_field_is(m, f, "Resent-Bcc"))
			continue;
		if (b->replace_from && b->from != NULL &&
		    msg_field_is(m, f, "From"))
			continue;
		rc |= buf_add(&o, m->mem + f->off, f->len, e);
		/*
		 * A last field without a line end still needs one, and a
		 * field ending in a lone CR gets its LF here: else the blank
		 * line added below would join it as one CRLF, and the body
		 * would be read as more header fields.
		 */
		c = m->mem[f->off + f->len - 1];
		if (c != '\n')
			rc |= buf_add(&o, "\n", 1, e);
	}
	rc |= buf_add(&o, "\n", 1, e);
	if (rc != 0) {
		buf_free(&o, 0);
		err_prefix(e, "building the header block: ");
		return -1;
	}
	free(m->out);
	m->out = o.p;
	m->outlen = o.len;
	return 0;
}
