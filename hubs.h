/*
 * The hubs a message may take and a session on the first that answers:
 * for a message sent now and for one sent from the queue.
 */
#ifndef SSMTP_HUBS_H
#define SSMTP_HUBS_H

#include <stddef.h>

#include "config.h"
#include "err.h"
#include "smtp.h"

#define HUB_KEY_MAX	300

/*
 * The hubs in order into out (CONF_MAX_HUBS + 1 entries): first (the
 * user's revaliases hub, or the one a queued message recorded) when it
 * has a host, then the Mailhub list.  Returns how many.
 */
size_t	hubs_for(const struct config *, const struct hub *first,
	    struct hub *out);

/*
 * Open a session on the first hub that answers; a hub that cannot be
 * reached or answers 4xx before the transaction yields to the next (a
 * warning says so).  Returns the session with *used naming the hub, or
 * NULL with e, *code and enh (16 bytes) from the last hub tried.
 */
struct smtp *hubs_open(struct smtp_params *, const struct hub *, size_t,
	    const char **used, struct err *, int *code, char *enh);

/* "host:port" ("[v6]:port"), to record a hub; "" for none. */
void	hub_key(const struct hub *, char *buf, size_t size);

/*
 * A recorded key back into a hub (host allocated).  Returns 0, or -1
 * when it is malformed.
 */
int	hub_parse_key(const char *, struct hub *);

#endif
