/*
 * Failure notices (notice.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "buf.h"
#include "notice.h"

/* The returned header block, the texts, and a block per recipient. */
#define NOTICE_MAX	(MSG_HDR_MAX + 64 * 1024)
#define RCPT_BLOCK_MAX	1024

int
notice_wanted(const char *sender, const char *notify, const char *hostname)
{
	if (sender == NULL || *sender == '\0')
		return 0;
	if (notify != NULL && *notify != '\0' &&
	    strstr(notify, "FAILURE") == NULL)
		return 0;
	return !addr_is_local(sender, hostname);
}

/* A value on one line, printable ASCII: for the report's fields. */
static void
clean(char *dst, size_t size, const char *src)
{
	size_t i;

	for (i = 0; src[i] != '\0' && i + 1 < size; i++)
		dst[i] = src[i] < ' ' || src[i] > '~' ? ' ' : src[i];
	dst[i] = '\0';
}

static void
rfc5322_date(time_t t, char *buf, size_t size)
{
	strftime(buf, size, "%a, %d %b %Y %H:%M:%S %z", localtime(&t));
}

int
notice_build(const struct notice_info *n, struct message *m, struct err *e)
{
	char boundary[64], reason[600], diag[300], arrived[64], now[64];
	char from[400];
	const struct notice_rcpt *r;
	struct msg_build b;
	struct buf o;
	size_t i;
	int rc = 0;

	clean(reason, sizeof(reason), n->reason);
	rfc5322_date(n->arrival, arrived, sizeof(arrived));
	rfc5322_date(time(NULL), now, sizeof(now));
	snprintf(boundary, sizeof(boundary), "%s.%lld/%s", n->id,
	    (long long)time(NULL), n->hostname);
	buf_init(&o, NOTICE_MAX + n->nrcpts * 2 * RCPT_BLOCK_MAX);
	rc |= buf_printf(&o, e, "To: <%s>\n"
	    "Subject: Undelivered Mail Returned to Sender\n"
	    "Auto-Submitted: auto-replied\n"
	    "MIME-Version: 1.0\n"
	    "Content-Type: multipart/report; report-type=delivery-status;\n"
	    "\tboundary=\"%s\"\n\n"
	    "This is a MIME-encapsulated message.\n\n"
	    "--%s\n"
	    "Content-Type: text/plain; charset=us-ascii\n\n"
	    "This is the ssmtp program on %s.\n\n"
	    "Your message (queue ID %s, first tried %s) could not be\n"
	    "delivered to these recipients, and ssmtp has given up:\n\n",
	    n->sender, boundary, boundary, n->hostname, n->id, arrived);
	for (i = 0; i < n->nrcpts; i++)
		rc |= buf_printf(&o, e, "  <%s>\n", n->rcpts[i].addr);
	rc |= buf_printf(&o, e, "\nThe reason: %s\n\n"
	    "--%s\n"
	    "Content-Type: message/delivery-status\n\n"
	    "Reporting-MTA: dns; %s\n", reason, boundary, n->hostname);
	if (n->envid != NULL && *n->envid != '\0')
		rc |= buf_printf(&o, e, "Original-Envelope-Id: %s\n", n->envid);
	rc |= buf_printf(&o, e, "X-Ssmtp-Queue-ID: %s\nArrival-Date: %s\n",
	    n->id, arrived);
	for (i = 0; i < n->nrcpts; i++) {
		r = &n->rcpts[i];
		rc |= buf_printf(&o, e, "\nFinal-Recipient: rfc822; %s\n"
		    "Action: failed\nStatus: %s\n", r->addr, r->status);
		/* RFC 3464 2.3.6: the hub's own reply about this one. */
		if (r->code >= 200 && r->code <= 599) {
			clean(diag, sizeof(diag), r->text ? r->text : "");
			rc |= buf_printf(&o, e, "Diagnostic-Code: smtp; %d%s%s\n",
			    r->code, *diag ? " " : "", diag);
		}
		rc |= buf_printf(&o, e, "Last-Attempt-Date: %s\n", now);
	}
	rc |= buf_printf(&o, e, "\n--%s\n"
	    "Content-Type: text/rfc822-headers\n\n", boundary);
	if (n->orig != NULL && n->orig->out != NULL)
		rc |= buf_add(&o, n->orig->out, n->orig->outlen, e);
	rc |= buf_printf(&o, e, "--%s--\n", boundary);
	if (rc == 0)
		rc = msg_append(m, o.p, o.len, e);
	buf_free(&o, 0);
	if (rc != 0 || msg_parse_headers(m, e) == -1)
		return -1;
	memset(&b, 0, sizeof(b));
	snprintf(from, sizeof(from), "Mail Delivery System "
	    "<MAILER-DAEMON@%s>", n->hostname);
	b.from = from;
	b.hostname = n->hostname;
	return msg_build_headers(m, &b, e);
}
