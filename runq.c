/*
 * Running the queue (runq.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "clock.h"
#include "deadletter.h"
#include "hubs.h"
#include "log.h"
#include "message.h"
#include "notice.h"
#include "runq.h"

/* The session of the hub key being worked on. */
struct hubsess {
	char		 key[HUB_KEY_MAX];
	struct smtp	*s;
	char		*host;		/* the recorded hub's, for p->host */
	const char	*used;
	int		 down;		/* could not be opened: err says why */
	struct err	 err;
	int		 tried, reached;
	int		 prepared;
	int		 borrowed;	/* s is the caller's (runq_flush) */
};

static void
session_end(struct hubsess *hs)
{
	if (!hs->borrowed)
		smtp_free(hs->s);
	hs->s = NULL;
	free(hs->host);
	hs->host = NULL;
}

/* A session for key ("" for the Mailhub list), reused while it lasts. */
static struct smtp *
session_for(struct runq *r, struct hubsess *hs, const char *key)
{
	struct hub hubs[CONF_MAX_HUBS + 1], first = { NULL, 0 };
	char enh[16];
	size_t n;
	int code;

	if (strcmp(hs->key, key) == 0 && (hs->s != NULL || hs->down))
		return hs->s;
	session_end(hs);
	strlcpy(hs->key, key, sizeof(hs->key));
	hs->down = 0;
	hs->tried = 1;
	if (!hs->prepared && r->prepare(r->arg, &hs->err) == -1) {
		hs->down = 1;
		return NULL;
	}
	hs->prepared = 1;
	if (*key != '\0' && hub_parse_key(key, &first) == -1) {
		hs->down = 1;
		err_set(&hs->err, ERR_DATA, "the recorded hub \"%s\" is "
		    "malformed", key);
		return NULL;
	}
	hs->host = first.host;
	if ((n = hubs_for(r->conf, &first, hubs)) == 0) {
		hs->down = 1;
		err_set(&hs->err, ERR_CONFIG, "%s: no Mailhub set",
		    r->conf->path ? r->conf->path : "the configuration");
		return NULL;
	}
	if ((hs->s = hubs_open(r->p, hubs, n, &hs->used, &hs->err, &code,
	    enh)) == NULL) {
		hs->down = 1;
		return NULL;
	}
	hs->reached = 1;
	return hs->s;
}

static void
log_entry(const struct qentry *qe, int prio, const char *status,
    const char *what)
{
	char to[1024];

	log_rcpts(to, sizeof(to), qe->rcpts, qe->nrcpts);
	log_syslog(prio, "%s: from=<%s>, to=%s, size=%lld, status=%s (%s)",
	    qe->id, qe->from, to, (long long)qe->rawlen, status, what);
}

/* A temporary failure: the next try later, the message kept. */
static void
defer(struct runq *r, struct qentry *qe, const char *why, int unknown)
{
	struct err e;

	qe->attempts++;
	qe->next = time(NULL) + queue_backoff(qe->attempts);
	qe->unknown = unknown;
	strlcpy(qe->error, why, sizeof(qe->error));
	if (queue_update(r->q, qe, &e) == -1) {
		log_warnx("%s: %s (it stays queued as it was)", qe->id, e.msg);
		log_syslog(LOG_ERR, "%s: %s", qe->id, e.msg);
	}
	r->deferred++;
	log_info("%s: deferred: %s", qe->id, why);
	log_entry(qe, LOG_INFO, "deferred", why);
}

/* Keep m in the owner's dead.letter; returns 0 when kept (or not asked). */
static int
keep(struct runq *r, const struct message *m, const char *sender,
    const char *what)
{
	char used[4096];
	struct err e;

	if (r->dead_letter == NULL) {
		log_syslog(LOG_WARNING, "%s not kept (DeadLetter=NO)", what);
		return 0;
	}
	if (deadletter_save(m, r->dead_letter, sender, used, sizeof(used),
	    &e) == -1) {
		log_warnx("could not keep %s: %s", what, e.msg);
		log_syslog(LOG_ERR, "could not keep %s: %s", what, e.msg);
		return -1;
	}
	log_syslog(LOG_NOTICE, "%s kept in %s", what, used);
	return 0;
}

/*
 * The RFC 3463 status of a reply: the enhanced code the hub gave (enh,
 * when it offered them, else at the start of text, in the reply's
 * class), else the class.
 */
static void
status_from(const char *enh, int code, const char *t, char *buf, size_t size)
{
	size_t n = strspn(t, "0123456789.");

	if (enh != NULL && *enh != '\0')
		strlcpy(buf, enh, size);
	else if (code >= 200 && n >= 5 && n < size && t[0] == '0' + code /
	    100 && t[1] == '.' && strchr(t + 2, '.') != NULL &&
	    (size_t)(strchr(t + 2, '.') - t) < n) {
		memcpy(buf, t, n);
		buf[n] = '\0';
	} else
		snprintf(buf, size, "%d.0.0", code >= 400 ? code / 100 : 5);
}

/*
 * What became of each recipient: with no result (the queue gave up),
 * status for all; the hub's refusal of a recipient, for that one; its
 * refusal of the message, for all; a recipient the hub took when another
 * was refused was not sent either (all or nothing): 5.0.0, no reply.
 */
static void
outcomes(const struct qentry *qe, const struct smtp_result *res,
    const char *status, struct notice_rcpt *out)
{
	const struct smtp_refusal *f;
	size_t i, j;

	for (i = 0; i < qe->nrcpts; i++) {
		out[i].addr = qe->rcpts[i];
		out[i].code = 0;
		out[i].text = NULL;
		if (res == NULL)
			strlcpy(out[i].status, status, sizeof(out[i].status));
		else if (res->nrefused == 0) {
			status_from(res->enh, res->code, res->text,
			    out[i].status, sizeof(out[i].status));
			out[i].code = res->code;
			out[i].text = res->text;
		} else
			strlcpy(out[i].status, "5.0.0", sizeof(out[i].status));
	}
	/* Each refusal names its recipient (an index into qe->rcpts). */
	for (j = 0; res != NULL && j < res->nrefused; j++) {
		f = &res->refused[j];
		if (f->rcpt >= qe->nrcpts)
			continue;
		i = f->rcpt;
		status_from(NULL, f->code, f->text, out[i].status,
		    sizeof(out[i].status));
		out[i].code = f->code;
		out[i].text = f->text;
	}
}

/* The failure notice to the sender, through hs's hub, never queued. */
static void
notify_sender(struct runq *r, struct hubsess *hs, const struct qentry *qe,
    const struct message *m, const struct smtp_result *refusal,
    const char *status, const char *reason)
{
	struct notice_rcpt *rcpts;
	struct notice_info ni;
	struct message nm;
	struct smtp_result res;
	struct smtp_txn t;
	struct smtp *s;
	char * const to[1] = { qe->from };
	char what[100];
	struct err e;
	int rc;

	if (!notice_wanted(qe->from, qe->notify, r->hostname))
		return;
	snprintf(what, sizeof(what), "the failure notice for %s", qe->id);
	if ((rcpts = calloc(qe->nrcpts ? qe->nrcpts : 1, sizeof(*rcpts))) ==
	    NULL) {
		log_syslog(LOG_ERR, "%s: out of memory", what);
		return;
	}
	outcomes(qe, refusal, status, rcpts);
	memset(&ni, 0, sizeof(ni));
	ni.hostname = r->hostname;
	ni.sender = qe->from;
	ni.id = qe->id;
	ni.arrival = qe->created;
	ni.rcpts = rcpts;
	ni.nrcpts = qe->nrcpts;
	ni.reason = reason;
	ni.envid = qe->envid;
	ni.orig = m;
	msg_init(&nm);
	rc = notice_build(&ni, &nm, &e);
	free(rcpts);
	if (rc == -1) {
		log_syslog(LOG_ERR, "%s: %s", what, e.msg);
		msg_free(&nm);
		return;
	}
	memset(&t, 0, sizeof(t));
	t.from = "";
	t.rcpts = to;
	t.nrcpts = 1;
	t.msg = &nm;
	t.notify = "NEVER";
	if ((s = session_for(r, hs, qe->hub ? qe->hub : "")) == NULL)
		e = hs->err;
	else if (smtp_send(s, &t, 0, &res) == 0) {
		log_syslog(LOG_INFO, "%s: sent to <%s> (%d %s)", what, qe->from,
		    res.code, res.text);
		smtp_result_free(&res);
		msg_free(&nm);
		return;
	} else {
		e = res.err;
		smtp_result_free(&res);
	}
	/* Refused or not sent: logged and kept, never queued (no loop). */
	log_syslog(LOG_ERR, "%s to <%s> was not sent: %s", what, qe->from,
	    e.msg);
	keep(r, &nm, "", what);
	msg_free(&nm);
}

/*
 * A message that leaves the queue undelivered: refused by the hub for
 * good (refusal), or given up on by the queue (NULL; status says why).
 */
static void
fail(struct runq *r, struct hubsess *hs, struct qentry *qe,
    const struct message *m, const struct smtp_result *refusal,
    const char *status, const char *reason)
{
	char what[64];
	struct err e;

	snprintf(what, sizeof(what), "queued message %s", qe->id);
	if (keep(r, m, qe->from, what) == -1) {
		defer(r, qe, reason, qe->unknown);
		return;
	}
	log_warnx("%s: not delivered, given up: %s", qe->id, reason);
	log_entry(qe, LOG_ERR, "bounced", reason);
	notify_sender(r, hs, qe, m, refusal, status, reason);
	if (queue_remove(r->q, qe, &e) == -1)
		log_syslog(LOG_ERR, "%s: %s", qe->id, e.msg);
	r->failed++;
}

/* Whether a result is the hub's (or the engine's) refusal for good. */
static int
permanent(const struct smtp_result *res)
{
	if (res->status != SMTP_PERM && res->status != SMTP_REFUSED)
		return 0;
	if (res->status == SMTP_REFUSED)
		return res->err.kind != ERR_TEMPFAIL;
	return res->code / 100 == 5 || (res->code == 0 && *res->enh == '5');
}

/* Try one locked entry over its hub's session. */
static void
process(struct runq *r, struct hubsess *hs, struct qentry *qe)
{
	struct smtp_result res;
	struct smtp_txn t;
	struct message m;
	struct smtp *s;
	struct err e;
	char why[700];
	time_t now = time(NULL);

	if (queue_message(qe, &m, &e) == -1) {
		log_warnx("%s: %s", qe->id, e.msg);
		log_syslog(LOG_ERR, "%s: %s", qe->id, e.msg);
		msg_free(&m);
		return;
	}
	if (now - qe->created >= r->conf->queue_lifetime) {
		snprintf(why, sizeof(why), "not delivered for %ld days "
		    "(QueueLifetime); the last try said: %s",
		    (now - qe->created) / 86400, *qe->error ? qe->error :
		    "nothing");
		fail(r, hs, qe, &m, NULL, "4.4.7", why);
		msg_free(&m);
		return;
	}
	if ((s = session_for(r, hs, qe->hub ? qe->hub : "")) == NULL) {
		defer(r, qe, hs->err.msg, qe->unknown);
		msg_free(&m);
		return;
	}
	memset(&t, 0, sizeof(t));
	t.from = qe->from;
	t.rcpts = qe->rcpts;
	t.nrcpts = qe->nrcpts;
	t.msg = &m;
	t.notify = *qe->notify ? qe->notify : NULL;
	t.ret = *qe->ret ? qe->ret : NULL;
	t.envid = *qe->envid ? qe->envid : NULL;
	t.need_8bitmime = qe->body8;
	if (smtp_send(s, &t, 0, &res) == 0) {
		snprintf(why, sizeof(why), "%d %s", res.code, res.text);
		if (queue_remove(r->q, qe, &e) == -1)
			log_syslog(LOG_ERR, "%s: %s", qe->id, e.msg);
		r->sent++;
		log_info("%s: sent: %s", qe->id, why);
		log_entry(qe, LOG_INFO, "sent", why);
	} else if (permanent(&res)) {
		fail(r, hs, qe, &m, &res, NULL, res.err.msg);
	} else {
		defer(r, qe, res.err.msg, res.status == SMTP_UNKNOWN);
		/* The session was lost and could not be opened again. */
		if (res.status == SMTP_LOST && res.step <= SMTP_STEP_AUTH) {
			hs->down = 1;
			hs->err = res.err;
			session_end(hs);
		}
	}
	smtp_result_free(&res);
	msg_free(&m);
}

/* A file that is not ours to send: moved aside, with a line why. */
static void
set_aside(struct runq *r, const char *id, const struct err *why)
{
	struct err e;

	if (queue_set_aside(r->q, id, &e) == -1) {
		log_warnx("%s", e.msg);
		return;
	}
	log_warnx("queue %s: %s: %s; moved to corrupt/", r->q->path, id,
	    why->msg);
	log_syslog(LOG_WARNING, "queue %s: %s: %s; moved to corrupt/",
	    r->q->path, id, why->msg);
}

struct todo {
	char	*id;
	char	 key[HUB_KEY_MAX];
};

static int
by_key(const void *a, const void *b)
{
	const struct todo *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	return c != 0 ? c : strcmp(x->id, y->id);
}

enum err_kind
runq_run(struct runq *r, const char *only_id, struct err *e)
{
	struct hubsess hs;
	struct qentry qe;
	struct todo *todo = NULL;
	char **ids = NULL, *one[1];
	size_t nids = 0, ntodo = 0, i;
	time_t now = time(NULL);
	enum err_kind k = ERR_NONE;
	int rc;

	if (only_id != NULL) {
		if (!queue_id_valid(only_id)) {
			err_set(e, ERR_USAGE, "-qI%s: not a queue ID", only_id);
			return ERR_USAGE;
		}
		one[0] = (char *)only_id;
		ids = one;
		nids = 1;
	} else if (queue_list(r->q, &ids, &nids, e) == -1)
		return e->kind;
	if (nids > 0 && (todo = calloc(nids, sizeof(*todo))) == NULL) {
		err_set(e, ERR_OSERR, "out of memory");
		k = ERR_OSERR;
		goto out;
	}
	/* What is due, grouped by hub: one session for each. */
	for (i = 0; i < nids; i++) {
		rc = queue_read(r->q, ids[i], &qe, 0, e);
		if (rc == -1 && e->kind == ERR_DATA)
			set_aside(r, ids[i], e);
		else if (rc == -1)
			log_warnx("%s", e->msg);
		else if (rc == 0 && (only_id != NULL || qe.next <= now ||
		    now - qe.created >= r->conf->queue_lifetime)) {
			todo[ntodo].id = ids[i];
			strlcpy(todo[ntodo].key, qe.hub ? qe.hub : "",
			    sizeof(todo[ntodo].key));
			ntodo++;
		} else if (only_id != NULL) {
			k = rc == 1 ? ERR_USAGE : ERR_TEMPFAIL;
			err_set(e, k, rc == 1 ? "no message %s in the queue %s" :
			    "%s is being sent by another run", only_id,
			    r->q->path);
		}
		qentry_free(&qe);
	}
	if (ntodo > 1)
		qsort(todo, ntodo, sizeof(*todo), by_key);
	memset(&hs, 0, sizeof(hs));
	strlcpy(hs.key, "\n", sizeof(hs.key));	/* no session yet */
	for (i = 0; i < ntodo; i++) {
		rc = queue_read(r->q, todo[i].id, &qe, 1, e);
		if (rc == -1 && e->kind == ERR_DATA)
			set_aside(r, todo[i].id, e);
		else if (rc == -1)
			log_warnx("%s", e->msg);
		else if (rc == 0)
			process(r, &hs, &qe);
		else if (only_id != NULL) {
			err_set(e, ERR_TEMPFAIL, "%s is being sent by another "
			    "run", only_id);
			k = ERR_TEMPFAIL;
		}
		qentry_free(&qe);
	}
	if (hs.tried && !hs.reached) {
		*e = hs.err;
		k = e->kind;
	}
	session_end(&hs);
out:
	free(todo);
	if (ids != one)
		queue_ids_free(ids, nids);
	return k;
}

void
runq_flush(struct runq *r, struct smtp *s, const char *hubkey)
{
	struct hubsess hs;
	struct qentry qe;
	struct err e;
	char **ids;
	size_t nids, i, done = 0;
	long long end = clock_ms() + RUNQ_FLUSH_MS;
	time_t now = time(NULL);

	if (queue_list(r->q, &ids, &nids, &e) == -1)
		return;
	memset(&hs, 0, sizeof(hs));
	strlcpy(hs.key, hubkey, sizeof(hs.key));
	hs.s = s;
	hs.borrowed = 1;
	hs.prepared = 1;
	for (i = 0; i < nids && done < RUNQ_FLUSH_MAX && clock_ms() < end &&
	    hs.s != NULL && !hs.down; i++) {
		if (queue_read(r->q, ids[i], &qe, 1, &e) != 0) {
			qentry_free(&qe);
			continue;
		}
		if ((qe.next <= now || now - qe.created >=
		    r->conf->queue_lifetime) &&
		    strcmp(qe.hub ? qe.hub : "", hubkey) == 0) {
			process(r, &hs, &qe);
			done++;
		}
		qentry_free(&qe);
	}
	hs.s = NULL;		/* the caller's: it closes it */
	session_end(&hs);
	queue_ids_free(ids, nids);
}

int
runq_pending(struct runq *r)
{
	char **ids;
	size_t n;
	struct err e;

	if (r->q->dirfd == -1 || queue_list(r->q, &ids, &n, &e) == -1)
		return 0;
	queue_ids_free(ids, n);
	return n > 0;
}

static void
ctime20(time_t t, char *buf, size_t size)
{
	/* "Wed Dec  2 05:55:05", as Postfix's mailq shows it. */
	strftime(buf, size, "%a %b %e %H:%M:%S", localtime(&t));
}

enum err_kind
runq_list(struct runq *r, FILE *out, struct err *e)
{
	struct qentry qe;
	char **ids, when[64], next[64];
	size_t nids, i, j, shown = 0;
	long long bytes = 0;
	int rc;

	if (queue_list(r->q, &ids, &nids, e) == -1)
		return e->kind;
	for (i = 0; i < nids; i++) {
		if ((rc = queue_read(r->q, ids[i], &qe, 0, e)) == 1 ||
		    rc == -1) {
			if (rc == -1)
				log_warnx("%s: %s", ids[i], e->msg);
			qentry_free(&qe);
			continue;
		}
		if (shown++ == 0)
			fprintf(out, "%-17s  %8s %-20s %s\n", "-Queue ID-",
			    "--Size--", "----Arrival Time----",
			    "-Sender/Recipient-------");
		ctime20(qe.created, when, sizeof(when));
		ctime20(qe.next, next, sizeof(next));
		fprintf(out, "%s%c %8lld %-20s %s\n", qe.id, rc == 2 ? '*' :
		    ' ', (long long)qe.rawlen, when, *qe.from ? qe.from :
		    "MAILER-DAEMON");
		fprintf(out, "(attempt %u, next try %s%s: %s)\n", qe.attempts,
		    next, qe.unknown ? "; the last outcome is unknown, the "
		    "hub may have it" : "", qe.error);
		for (j = 0; j < qe.nrcpts; j++)
			fprintf(out, "%48s%s\n", "", qe.rcpts[j]);
		fputc('\n', out);
		bytes += qe.rawlen;
		qentry_free(&qe);
	}
	queue_ids_free(ids, nids);
	if (shown == 0)
		fprintf(out, "Mail queue is empty\n");
	else
		fprintf(out, "-- %lld Kbytes in %zu Request%s.\n",
		    (bytes + 1023) / 1024, shown, shown == 1 ? "" : "s");
	return ERR_NONE;
}
