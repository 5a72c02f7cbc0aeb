/*
 * SMTP on standard input and output (-bs): the server side of RFC 5321
 * for a local caller (Symfony Mailer, Laravel, Nextcloud).  It reads the
 * dialogue, keeps the envelope and the message, and hands each message
 * to the face's relay at the end of DATA; the caller hears the outcome.
 * No AUTH and no STARTTLS on this side: the caller is a local process.
 */
#ifndef SSMTP_BS_H
#define SSMTP_BS_H

#include <stddef.h>

#include "addr.h"
#include "err.h"
#include "message.h"

#define BS_LINE_MAX	1000	/* a command line, with its CRLF */
#define BS_RCPTS_MAX	1000	/* recipients of one message */

/* One transaction as the caller gave it. */
struct bs_txn {
	char		 from[ADDR_MAX + 1];	/* "" for the null sender */
	char		**rcpts;
	size_t		 nrcpts;
	char		 notify[32];	/* DSN: NOTIFY of the first RCPT */
	char		 ret[8];	/* RET= */
	char		 envid[101];	/* ENVID=, decoded */
	int		 body8;		/* BODY=8BITMIME */
	struct message	 msg;		/* the data, unstuffed */
};

struct bs_server {
	const char	*hostname;	/* in the greeting and EHLO */
	int		 idle_timeout;	/* seconds without a line: 421 */
	unsigned long	 size_max;	/* advertised in EHLO; 0: none */
	/*
	 * Relay one message.  Returns the reply's code (250 when the hub
	 * took it for every recipient) and fills text with the rest of the
	 * reply line ("2.0.0 ..."), one line, no CR or LF.
	 */
	int		(*relay)(void *, struct bs_txn *, char *text, size_t);
	/* Keep what arrived of a message cut off inside DATA. */
	void		(*cut)(void *, struct bs_txn *);
	void		*arg;
};

/*
 * Serve the dialogue on fds in and out until QUIT, end of input or the
 * idle timeout.  Returns ERR_NONE after QUIT or at end of input between
 * transactions, ERR_DATA when the input ended inside DATA, ERR_TEMPFAIL
 * after the idle timeout (the caller heard 421), ERR_IOERR when the
 * caller cannot be written to.
 */
enum err_kind bs_serve(int in, int out, const struct bs_server *);

/* Free what a transaction holds and make it empty. */
void	bs_txn_reset(struct bs_txn *);

#endif
