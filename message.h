/*
 * One message: stdin spooled whole (memory, then an unlinked temp file),
 * its header section parsed (RFC 5322 section 2.2), and the header block
 * to send built from it.  The raw bytes stay untouched for dead.letter.
 */
#ifndef SSMTP_MESSAGE_H
#define SSMTP_MESSAGE_H

#include <sys/types.h>

#include <stddef.h>

#include "err.h"

#define MSG_MEM_MAX	(128 * 1024)	/* kept in memory once headers end */
#define MSG_HDR_MAX	(512 * 1024)	/* the header section must fit */
#define MSG_FIELDS_MAX	10000

struct field {
	size_t		 off;		/* into mem: the name's first byte */
	size_t		 len;		/* through the last line end */
	size_t		 name_len;
	size_t		 value;		/* from off: after the colon */
};

struct message {
	char		*mem;		/* the first bytes, all if fd == -1 */
	size_t		 mlen, mcap;
	int		 fd;		/* temp file with every byte, or -1 */
	off_t		 size;		/* bytes spooled */
	off_t		 ncr, nlf;	/* CR and LF bytes */
	off_t		 ncrlf;		/* CR LF pairs */
	char		 lastc;		/* the last byte spooled */
	int		 eightbit;	/* a byte >= 0x80 was seen */
	int		 nul;		/* a NUL byte was seen */
	int		 hdr_done;	/* mem holds the blank line */
	size_t		 hdr_start;	/* after a leading "From " line */
	size_t		 hdr_end;	/* where the body starts */
	struct field	*fields;
	size_t		 nfields;
	char		*out;		/* header block to send */
	size_t		 outlen;
};

/* Options for msg_build_headers(). */
struct msg_build {
	const char	*from;		/* "Name <addr>" for a new From */
	int		 replace_from;	/* drop the message's own From */
	const char	*hostname;	/* for Message-ID */
	char * const	*add;		/* AddHeader lines */
	size_t		 nadd;
};

void	msg_init(struct message *);
void	msg_free(struct message *);

/*
 * Read the whole message from fd.  Without ignore_dots, a line holding a
 * single "." ends it (sendmail's rule).  Returns 0, or -1 with ERR_IOERR
 * or ERR_OSERR when reading or spooling fails.
 */
int	msg_spool(struct message *, int fd, int ignore_dots, struct err *);

/*
 * Add n bytes to the spool as if read from the input (no "." rule).
 * Returns 0, or -1 with ERR_IOERR or ERR_OSERR.
 */
int	msg_append(struct message *, const char *, size_t, struct err *);

/*
 * The line-end rule, one for the header parser, -t, Bcc removal, the "."
 * rule, the wire size and the encoder (RFC 5321 2.3.8 allows CR and LF on
 * the wire only as CRLF): CRLF, a lone LF and a lone CR each end a line.
 * Returns the offset of the first line end in p[0..n) and sets *len to
 * its length (2 for CRLF, else 1), or returns n with *len 0 when there
 * is none.  A CR at p[n - 1] counts as a lone CR.
 */
size_t	msg_eol(const char *p, size_t n, size_t *len);

/*
 * Parse the header section (lines end as msg_eol says; white space may
 * come before a field's colon, RFC 5322 4.5).  Returns 0, or -1 with
 * ERR_DATA when it is larger than MSG_HDR_MAX or has too many fields.
 */
int	msg_parse_headers(struct message *, struct err *);

/* The first field with this name, or NULL. */
const struct field *msg_field(const struct message *, const char *name);

/* Whether a field has this name (case-insensitive). */
int	msg_field_is(const struct message *, const struct field *,
	    const char *name);

/* The value of a field: after the colon, through its line end. */
void	msg_field_value(const struct message *, const struct field *,
	    const char **, size_t *);

/*
 * Call cb with each address of the To, Cc and Bcc fields (for -t); when
 * the message was resent, of the Resent-To, Resent-Cc and Resent-Bcc of
 * its newest Resent- block instead (RFC 5322 3.6.6).  Returns 0, cb's
 * non-zero result, or -1 with ERR_DATA naming the field.
 */
int	msg_recipients(const struct message *,
	    int (*cb)(void *, const char *), void *, struct err *);

/*
 * The address of the From field into buf (first mailbox), or of the
 * newest Resent-From when the message was resent.  Returns 1 when found,
 * 0 when there is none, -1 with ERR_DATA when it is malformed.
 */
int	msg_from_address(const struct message *, char *, size_t, struct err *);

/*
 * The display name of the From field (the phrase before '<', else the
 * first comment) into buf.  Returns 1 when there is one, else 0.
 */
int	msg_from_name(const struct message *, char *, size_t);

/*
 * Format a mailbox for a header: "Name <addr>", the name quoted when it
 * holds specials and RFC 2047-encoded (UTF-8, base64) when it is not
 * ASCII; "<addr>" when name is empty.  Control characters are dropped.
 */
void	msg_mailbox(const char *name, const char *addr, char *, size_t);

/*
 * Build the header block to send: From, Date and Message-ID when missing,
 * AddHeader lines, then the message's own fields less Bcc and Resent-Bcc
 * (and From when replaced), and the blank line.  Returns 0 or -1.
 */
int	msg_build_headers(struct message *, const struct msg_build *,
	    struct err *);

/*
 * The exact size of the header block and body as sent in CRLF form,
 * before dot-stuffing: the SIZE value (RFC 1870) and the BDAT count.
 */
unsigned long long msg_wire_size(const struct message *);

/*
 * Copy up to n raw bytes from offset off into buf.  Returns the count (0
 * at the end), or -1 with ERR_IOERR.
 */
ssize_t	msg_read(const struct message *, off_t, char *, size_t, struct err *);

#endif
