/*
 * Hub lists and opening a session on one (hubs.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hubs.h"
#include "log.h"

size_t
hubs_for(const struct config *c, const struct hub *first, struct hub *out)
{
	size_t n = 0, i;

	if (first != NULL && first->host != NULL)
		out[n++] = *first;
	for (i = 0; i < c->nhubs; i++)
		out[n++] = c->hubs[i];
	return n;
}

struct smtp *
hubs_open(struct smtp_params *p, const struct hub *hubs, size_t n,
    const char **used, struct err *e, int *code, char *enh)
{
	struct smtp_result res;
	struct smtp *s;
	size_t i;

	*code = 0;
	*enh = '\0';
	for (i = 0; i < n; i++) {
		if (i > 0)
			log_warnx("%s; trying %s", e->msg, hubs[i].host);
		p->host = hubs[i].host;
		p->port = hubs[i].port;
		if ((s = smtp_new(p, e)) == NULL)
			return NULL;
		if (smtp_open(s, &res) == 0) {
			smtp_result_free(&res);
			*used = hubs[i].host;
			return s;
		}
		*e = res.err;
		*code = res.code;
		strlcpy(enh, res.enh, 16);
		smtp_result_free(&res);
		smtp_free(s);
		if (e->kind != ERR_TEMPFAIL && e->kind != ERR_NOHOST)
			return NULL;
	}
	return NULL;
}

void
hub_key(const struct hub *h, char *buf, size_t size)
{
	if (h == NULL || h->host == NULL)
		*buf = '\0';
	else if (strchr(h->host, ':') != NULL)
		snprintf(buf, size, "[%s]:%d", h->host, h->port);
	else
		snprintf(buf, size, "%s:%d", h->host, h->port);
}

int
hub_parse_key(const char *k, struct hub *h)
{
	const char *colon = strrchr(k, ':'), *host = k;
	size_t len;
	char *end;
	long port;

	h->host = NULL;
	if (colon == NULL || colon == k)
		return -1;
	port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || end == colon + 1 || port < 0 || port > 65535)
		return -1;
	len = (size_t)(colon - k);
	if (*k == '[') {
		if (len < 3 || k[len - 1] != ']')
			return -1;
		host++;
		len -= 2;
	}
	if ((h->host = strndup(host, len)) == NULL)
		return -1;
	h->port = (int)port;
	return 0;
}
