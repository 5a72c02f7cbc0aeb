/*
 * The failure notice for a queued message that leaves the queue undelivered
 * (a permanent refusal, or QueueLifetime passed): a delivery status
 * notification in the form of RFC 3464 (multipart/report, RFC 6522) for
 * the envelope sender, sent with the null sender.
 */
#ifndef SSMTP_NOTICE_H
#define SSMTP_NOTICE_H

#include <stddef.h>
#include <time.h>

#include "err.h"
#include "message.h"

/* What became of one recipient (RFC 3464 2.3). */
struct notice_rcpt {
	const char	*addr;
	char		 status[16];	/* "5.1.1", "4.4.7" (RFC 3463) */
	int		 code;		/* the hub's reply for it, 0 if none */
	const char	*text;		/* that reply's text (Diagnostic-Code) */
};

struct notice_info {
	const char	*hostname;	/* the Reporting-MTA, MAILER-DAEMON@ */
	const char	*sender;	/* whom it goes to */
	const char	*id;		/* the queue ID */
	time_t		 arrival;
	const struct notice_rcpt *rcpts;
	size_t		 nrcpts;
	const char	*reason;	/* why, in words, for the sender */
	const char	*envid;		/* the sender's ENVID, or "" */
	const struct message *orig;	/* its header block is returned */
};

/*
 * Whether the sender gets a notice: never for the null sender (a notice
 * is never about a notice), nor when the sender's NOTIFY leaves out
 * FAILURE (NEVER among them, RFC 3461 4.1), nor for a local-only
 * sender (no '@', or at localhost or at hostname).
 */
int	notice_wanted(const char *sender, const char *notify,
	    const char *hostname);

/* Build the notice into m (initialised by the caller).  Returns 0 or -1. */
int	notice_build(const struct notice_info *, struct message *m,
	    struct err *);

#endif
