/*
 * The SMTP client engine (RFC 5321): a session that carries any number of
 * transactions and owns its connection, TLS (RFC 3207, 8314), AUTH
 * (RFC 4954) and teardown; PIPELINING (RFC 2920), SIZE (RFC 1870),
 * 8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531), CHUNKING (RFC 3030).  The
 * face opens it from smtp_params and gets an smtp_result for each step:
 * what happened, where, and the hub's reply.
 */
#ifndef SSMTP_SMTP_H
#define SSMTP_SMTP_H

#include <stddef.h>

#include "err.h"
#include "message.h"
#include "tlsconf.h"

#define SMTP_TEXT_MAX	8192	/* reply text kept; the rest is read */
#define SMTP_LINES_MAX	1000	/* lines in one reply */

/* Timeouts in seconds, RFC 5321 4.5.3.2; Timeout= replaces them all. */
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
#define CAP_DSN		0x100

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

enum smtp_tls {
	SMTP_TLS_NONE,		/* UseSTARTTLS=NO: clear text */
	SMTP_TLS_OFFERED,	/* STARTTLS when the hub offers it */
	SMTP_TLS_STARTTLS,	/* STARTTLS required */
	SMTP_TLS_IMPLICIT	/* TLS from the first byte (port 465) */
};

/* What a session needs, filled by the face from the config. */
struct smtp_params {
	const char	*host;		/* the hub: a name or an address */
	int		 port;		/* 0: 587, or 465 for implicit TLS */
	int		 family;	/* AF_UNSPEC, AF_INET, AF_INET6 */
	enum smtp_tls	 tls_mode;
	const struct tls_settings *tls;	/* kept by the caller */
	const char	*helo;
	int		 timeout;	/* Timeout=, 0 for the RFC's */
	const char	*auth_user;	/* NULL: no AUTH */
	const char	*auth_method;	/* NULL: the best offered */
	/*
	 * The secret for AUTH, allocated (the engine wipes it); again is
	 * set on a reopen, when a token may have expired.  Returns 0, or -1
	 * with the error.
	 */
	int		(*get_secret)(void *, int again, char **,
			    struct err *);
	void		*secret_arg;
	int		 no_chunking;	/* never BDAT (UseChunking=NO) */
};

enum smtp_status {
	SMTP_SENT,		/* the hub took it, for every recipient */
	SMTP_TEMP,		/* a 4xx reply: try again later */
	SMTP_PERM,		/* a 5xx reply, or a local refusal */
	SMTP_REFUSED,		/* recipients refused: res.refused */
	SMTP_LOST,		/* the connection failed before the data
				   was complete: safe to retry */
	SMTP_UNKNOWN		/* the reply to the end of data never came:
				   the hub may have the message */
};

enum smtp_step {
	SMTP_STEP_CONNECT, SMTP_STEP_GREETING, SMTP_STEP_EHLO,
	SMTP_STEP_STARTTLS, SMTP_STEP_TLS, SMTP_STEP_AUTH, SMTP_STEP_MAIL,
	SMTP_STEP_RCPT, SMTP_STEP_DATA, SMTP_STEP_BODY, SMTP_STEP_END,
	SMTP_STEP_BDAT, SMTP_STEP_RSET, SMTP_STEP_QUIT
};

struct smtp_refusal {
	size_t		 rcpt;		/* index into the transaction's */
	int		 code;
	char		 text[256];
};

/* What a step came to. */
struct smtp_result {
	enum smtp_status status;
	enum smtp_step	 step;		/* where it ended */
	struct err	 err;		/* kind (for the exit code), message */
	int		 code;		/* the hub's last reply, 0 if none */
	char		 enh[16];	/* its enhanced code (RFC 3463); for a
					   local refusal, ours (SIZE 5.3.4,
					   SMTPUTF8 5.6.7) */
	char		 text[512];	/* its first line, sanitized */
	struct smtp_refusal *refused;	/* SMTP_REFUSED: which, and why */
	size_t		 nrefused;
};

/* One message: the engine reads msg, never changes it. */
struct smtp_txn {
	const char	*from;		/* "" for the null sender */
	char * const	*rcpts;
	size_t		 nrcpts;
	const struct message *msg;
	/* DSN (RFC 3461), each NULL when not asked for; sent when offered. */
	const char	*notify;	/* "NEVER" or "SUCCESS,FAILURE,DELAY" */
	const char	*ret;		/* "FULL" or "HDRS" */
	const char	*envid;		/* the envelope id, as given */
	int		 need_8bitmime;	/* the caller declared BODY=8BITMIME */
};

/* How far a session got, as text, step by step (for ssmtp --check). */
struct smtp_info {
	char		 peer[300];	/* connected: "host [addr]:port" */
	char		 greeting[512];
	struct tls_info	 tls;		/* tls.on: a handshake was tried */
	char		 caps[1024];	/* the last EHLO's keywords */
	char		 auth_mech[32];	/* the mechanism tried, or "" */
	int		 authenticated;
};

struct smtp;

/* A session for p (kept by the caller while it lives).  ERR_OSERR. */
struct smtp *smtp_new(const struct smtp_params *p, struct err *);

/*
 * Connect (each address of the host in turn), read the greeting, EHLO
 * (HELO when EHLO is refused), TLS as p says, then AUTH when p names a
 * user (never a secret in clear text to a hub off loopback).  Returns 0
 * when the session is ready for a transaction, else -1 with res.
 */
int	smtp_open(struct smtp *, struct smtp_result *res);

/*
 * Send one message, opening the session first if it is not open (a
 * failed or refused transaction may have closed it).  MAIL, every RCPT
 * and DATA are pipelined when offered, or MAIL, RCPT and "BDAT n LAST"
 * with the message for one recipient and CHUNKING; with last set, QUIT
 * rides with the final group.  A hub that offers CHUNKING and then
 * refuses BDAT as unknown (500, 502) is left at once, and the message
 * sent again with DATA on a new connection; the session uses no BDAT
 * after that.  All or nothing: when any recipient is
 * refused nothing is sent (SMTP_REFUSED).  A transaction refused before
 * its data is followed by RSET and leaves the session usable; once DATA
 * had its 354 or a BDAT chunk went out, a refusal or failure closes the
 * session.  Returns 0 only after the hub's 250 to the end of data, else
 * -1; res says what happened either way.
 */
int	smtp_send(struct smtp *, const struct smtp_txn *, int last,
	    struct smtp_result *res);

/*
 * What the last smtp_open reached (filled as it goes, kept on failure);
 * call it before smtp_close, which ends the TLS session it describes.
 */
void	smtp_describe(const struct smtp *, struct smtp_info *);

/* QUIT (briefly waiting for its reply) when in step, then close. */
void	smtp_close(struct smtp *);

/* Close and free the session; NULL is fine. */
void	smtp_free(struct smtp *);

/* Free what a result holds (its refusals). */
void	smtp_result_free(struct smtp_result *);

/* The name of a step, for messages ("MAIL FROM", "end of data"). */
const char *smtp_step_name(enum smtp_step);

/* At the end of the process: the transport's TLS client. */
void	smtp_cleanup(void);

/*
 * Feed one reply line (without CRLF) into r.  Returns 1 when the reply is
 * complete, 0 when more lines follow, -1 with ERR_PROTOCOL when the line
 * is not a valid reply line (RFC 5321 4.2) or does not continue the reply.
 */
int	smtp_reply_line(struct reply *, const char *, size_t, struct err *);

void	smtp_caps_init(struct smtp_caps *);

/*
 * Parse one line of an EHLO reply after its code ("SIZE 1000", "AUTH
 * PLAIN LOGIN", "AUTH=LOGIN"), of any length, into c: keywords are
 * added to c->flags, AUTH mechanisms (every one, over every AUTH line)
 * to c->auth.  Unknown keywords are ignored.
 */
void	smtp_caps_line(struct smtp_caps *c, const char *line, size_t len);

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
