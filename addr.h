/*
 * RFC 5322 address lists (section 3.4): display names, comments, quoted
 * local parts, angle addresses, groups.  Yields bare addr-specs.
 */
#ifndef SSMTP_ADDR_H
#define SSMTP_ADDR_H

#include <stddef.h>

#include "err.h"

#define ADDR_MAX	254	/* RFC 5321 4.5.3.1.3: a path is 256 with <> */

/*
 * Parse an address list of len bytes (header value, already unfolded or
 * not: CR and LF count as blanks).  cb is called with each addr-spec, in
 * order; a non-zero return from cb stops the parse and is returned.
 * Returns 0, or -1 with ERR_DATA when the list is malformed.
 */
int	addr_parse_list(const char *, size_t,
	    int (*cb)(void *, const char *), void *, struct err *);

/*
 * Check an address for use in MAIL FROM or RCPT TO: not empty (unless
 * empty_ok, for the null sender), at most ADDR_MAX bytes, no control
 * characters, blanks, or angle brackets outside quotes.  Returns 0 or -1
 * with ERR_DATA.
 */
int	addr_check(const char *, int empty_ok, struct err *);

/*
 * The first mailbox of an address list: its addr-spec into addr, and its
 * display name (the phrase before '<', else its first comment; quotes
 * and blanks around it removed; "" when there is none or it does not
 * fit) into name.  Returns 1 when there is one, 0 when the list is
 * empty, -1 with ERR_DATA when it is malformed.
 */
int	addr_first_mailbox(const char *, size_t, char *addr, size_t asz,
	    char *name, size_t nsz, struct err *);

/*
 * Whether an address is for this machine only: no '@', or at localhost,
 * or at hostname (without case).  NULL hostname: only the first two.
 */
int	addr_is_local(const char *, const char *hostname);

#endif
