/*
 * ssmtp --check: the config read as a send would read it, then, for each
 * hub a send could use, every step of a session reported on its own line
 * (address, TLS, the certificate, the pin, the capabilities, AUTH) and
 * QUIT; no message is sent and nothing is queued.
 */
#ifndef SSMTP_CHECK_H
#define SSMTP_CHECK_H

#include <stdio.h>

#include "config.h"
#include "err.h"
#include "smtp.h"

struct check {
	const struct config *conf;
	const struct hub *first;	/* the user's revaliases hub, or NULL */
	struct smtp_params *p;		/* filled by prepare */
	int		(*prepare)(void *, struct err *);
	void		*arg;
	FILE		*out;
	int		 hide_user;	/* the user may not read the config */
};

/*
 * Warn (on out) about a file holding a secret that every user can read:
 * the config with AuthPass, the client key.  Returns how many.
 */
int	check_files(const struct check *);

/*
 * Try every hub.  Returns ERR_NONE when each one took the whole session
 * (AUTH included), else the kind of the worst failure (a permanent one
 * over a temporary one), with e saying what it was.
 */
enum err_kind check_hubs(struct check *, struct err *);

#endif
