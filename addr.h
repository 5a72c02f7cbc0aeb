/*
 * RFC 5322 address lists (section 3.4): display names, comments, quoted
 * local parts, angle addresses, groups.  Yields bare addr-specs.
 */
#ifndef SSMTP_ADDR_H
#define SSMTP_ADDR_H

#include <stddef.h>

#define ADDR_MAX	254	/* RFC 5321 4.5.3.1.3: a path is 256 with <> */

/*
 * Parse an address list of len bytes (header value, already unfolded or
 * not: CR and LF count as blanks).  cb is called with each addr-spec, in
 * order; a non-zero return from cb stops the parse and is returned.
 * Returns 0, or -1 with msg filled when the list is malformed.
 */
int	addr_parse_list(const char *, size_t,
	    int (*cb)(void *, const char *), void *, char *msg, size_t msgsz);

/*
 * Check an address for use in MAIL FROM or RCPT TO: not empty (unless
 * empty_ok, for the null sender), at most ADDR_MAX bytes, no control
 * characters, blanks, or angle brackets outside quotes.  Returns 0 or -1
 * with msg filled.
 */
int	addr_check(const char *, int empty_ok, char *msg, size_t msgsz);

/* The domain part of an address (after the last '@'), or NULL. */
const char *addr_domain(const char *);

#endif
