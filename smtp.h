/*
 * The SMTP client (RFC 5321): replies, EHLO capabilities, STARTTLS
 * (RFC 3207), the MAIL/RCPT/DATA transaction with PIPELINING (RFC 2920)
 * and SIZE (RFC 1870), and the mapping of replies to error kinds.
 */
#ifndef SSMTP_SMTP_H
#define SSMTP_SMTP_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "config.h"
#include "err.h"
#include "message.h"
#include "net.h"

#define SMTP_TEXT_MAX	8192	/* reply text kept; the rest is read */
#define SMTP_LINES_MAX	1000	/* lines in one reply */

/* Timeouts in seconds, RFC 5321 4.5.3.2. */
#define TO_CONNECT	30
#define TO_GREETING	300
#define TO_COMMAND	300
#define TO_DATA_INIT	120
#define TO_DATA_BLOCK	180
#define TO_DATA_END	600
#define TO_QUIT		10

#define CAP_PIPELINING	0x01
#define CAP_STARTTLS	0x02
#define CAP_SIZE	0x04
#define CAP_8BITMIME	0x08
#define CAP_AUTH	0x10
#define CAP_ENHANCED	0x20
#define CAP_CHUNKING	0x40
#define CAP_SMTPUTF8	0x80

struct reply {
	int		 code;		/* 0 until the first line */
	int		 nlines;
	int		 done;
	char		 enh[16];	/* enhanced status code, or "" */
	char		 text[SMTP_TEXT_MAX];	/* lines joined by '\n' */
	size_t		 textlen;
};

/* What the hub's EHLO reply offers. */
struct smtp_caps {
	unsigned	 flags;		/* CAP_* */
	unsigned long	 size_max;	/* from SIZE, 0 when none */
	unsigned	 auth;		/* AUTH_* of the mechanisms we know */
	char		 auth_offered[200];	/* all offered, for messages */
};

struct smtp {
	struct net	 net;
	const char	*host;		/* the hub's name, for messages */
	int		 port;
	int		 timeout;	/* Timeout=, 0 for the defaults */
	struct smtp_caps ehlo;
	int		 tls;		/* TLS is active */
	int		 broken;	/* out of step: timeout, loss, garbage */
	int		 quit_sent;	/* QUIT went with the last group */
	char		 last[512];	/* the last reply, for the log line */
};

/*
 * Feed one reply line (without CRLF) into r.  Returns 1 when the reply is
 * complete, 0 when more lines follow, -1 with msg filled when the line is
 * not a valid reply line (RFC 5321 4.2) or does not continue the reply.
 */
int	smtp_reply_line(struct reply *, const char *, size_t, char *msg,
	    size_t msgsz);

void	smtp_caps_init(struct smtp_caps *);

/*
 * Parse one line of an EHLO reply after its code ("SIZE 1000", "AUTH
 * PLAIN LOGIN", "AUTH=LOGIN"), of any length, into c: keywords are
 * added to c->flags, AUTH mechanisms (every one, over every AUTH line)
 * to c->auth.  Unknown keywords are ignored.
 */
void	smtp_caps_line(struct smtp_caps *c, const char *line, size_t len);

/* Read a whole reply.  ERR_PROTOCOL for malformed replies, as net. */
int	smtp_read_reply(struct smtp *, struct reply *, int timeout,
	    struct err *);

/*
 * Queue a command line (CRLF added) without sending it.  With show >= 0,
 * only the first show bytes appear in the -v transcript (secrets).
 */
int	smtp_queue(struct smtp *, int show, struct err *, const char *, ...)
	    __attribute__((format(printf, 4, 5)));

/* Send a command and read its reply. */
int	smtp_command(struct smtp *, struct reply *, int timeout, int show,
	    struct err *, const char *, ...)
	    __attribute__((format(printf, 6, 7)));

/*
 * The per-step timeout: Timeout= when set, else the RFC default.
 */
int	smtp_timeout(const struct smtp *, int);

/*
 * Set e from a failed reply to step: 4xx ERR_TEMPFAIL, 5xx perm (the kind
 * given), anything else ERR_PROTOCOL.  Returns -1.
 */
int	smtp_reply_error(struct smtp *, const struct reply *, const char *step,
	    enum err_kind perm, struct err *);

/*
 * Connect to the hub, read the greeting, EHLO (HELO when EHLO is
 * refused), and set up TLS as configured: implicit, required STARTTLS, or
 * STARTTLS when offered.  *ctx is made (tls_ctx_new) the first time TLS is
 * needed, since making it costs more than the rest of a plain session;
 * the caller frees it.  On success the session is ready for AUTH.
 */
int	smtp_open(struct smtp *, const struct config *, const struct hub *,
	    SSL_CTX **ctx, const char *helo, int family, struct err *);

/*
 * Send one message: MAIL, every RCPT, DATA (pipelined when offered), the
 * dot-stuffed CRLF body, and the end of data; or, for one recipient with
 * PIPELINING and CHUNKING, MAIL, RCPT and BDAT LAST in one flight.  With
 * PIPELINING, QUIT goes with the last group.  Returns 0 only after the
 * hub's 250 to the end of data.  All or nothing: when any recipient is
 * refused, nothing is sent (ERR_NOUSER for 5xx, ERR_TEMPFAIL for 4xx).
 */
int	smtp_send(struct smtp *, const char *from, char * const *rcpts,
	    size_t nrcpts, const struct message *, struct err *);

/*
 * Send QUIT (briefly waiting for the reply) and close; just close when the
 * session is broken, since the hub is then in no state to answer.
 */
void	smtp_quit(struct smtp *);

/* Close without QUIT. */
void	smtp_close(struct smtp *);

/* The CRLF and dot-stuffing encoder for DATA (RFC 5321 4.5.2). */
struct dotenc {
	int	 bol;		/* at the start of a line */
	int	 cr;		/* the last byte was CR: its line end is out */
};

void	dotenc_init(struct dotenc *);

/*
 * Encode n bytes into out, which must hold 2 * n bytes: every line end
 * (CRLF, lone LF, lone CR: msg_eol's rule) becomes CRLF, and a "."
 * starting a line gets another in front (when stuff is set).  Returns
 * the bytes written.
 */
size_t	dotenc_chunk(struct dotenc *, const char *, size_t, char *, int stuff);

/* Close the last line: writes "\r\n" or nothing (out: 2 bytes). */
size_t	dotenc_finish(struct dotenc *, char *);

#endif
