/*
 * Running the queue: `ssmtp -q` and `-qI<id>`, the bounded catch-up after
 * a successful send, and the listing of mailq and -bp.  What is due goes
 * over one session per hub; a message leaves the queue after the hub's
 * 250, or as a failure (dead.letter and a notice to its sender).
 */
#ifndef SSMTP_RUNQ_H
#define SSMTP_RUNQ_H

#include <stdio.h>

#include "config.h"
#include "err.h"
#include "queue.h"
#include "smtp.h"

#define RUNQ_FLUSH_MAX	10	/* messages after a send, */
#define RUNQ_FLUSH_MS	5000	/* for at most 5 s */

struct runq {
	const struct config *conf;
	struct queue	*q;
	struct smtp_params *p;		/* filled by prepare */
	/* Fill p (the secret fetched) before the first session. */
	int		(*prepare)(void *, struct err *);
	void		*arg;
	const char	*hostname;	/* notices' MAILER-DAEMON@ */
	const char	*dead_letter;	/* the owner's file */
	unsigned	 sent, deferred, failed;
};

/*
 * Send what is due (every message with only_id NULL, else that one,
 * due or not).  Returns ERR_NONE when the run went as planned (messages
 * sent or deferred), the hub's error kind when no hub could be reached,
 * ERR_USAGE for an ID not in the queue, with e saying why.
 */
enum err_kind runq_run(struct runq *, const char *only_id, struct err *);

/*
 * After a successful send over s (left open), send what is due and was
 * recorded for hubkey ("" for the Mailhub list), at most RUNQ_FLUSH_MAX
 * messages in RUNQ_FLUSH_MS.  Failures stay in the queue, quietly.
 */
void	runq_flush(struct runq *, struct smtp *s, const char *hubkey);

/* Whether the queue holds any message (a cheap look at the names). */
int	runq_pending(struct runq *);

/* mailq: the queue in Postfix's layout.  Returns ERR_NONE or a kind. */
enum err_kind runq_list(struct runq *, FILE *, struct err *);

#endif
