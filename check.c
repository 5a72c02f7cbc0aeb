/*
 * ssmtp --check (check.h).
 */
#include <sys/stat.h>

#include <stdio.h>
#include <string.h>

#include "check.h"
#include "hubs.h"

static void
line(FILE *out, const char *step, const char *text)
{
	fprintf(out, "  %-13s %s\n", step, text);
}

/* A file with a secret, readable by every user: say so. */
static int
exposed(FILE *out, const char *path, const char *what)
{
	struct stat st;

	if (path == NULL || stat(path, &st) == -1 || !(st.st_mode & S_IROTH))
		return 0;
	fprintf(out, "warning: %s holds %s and every user can read it "
	    "(mode %04o): make it 0640 root:mail with the setgid install, or "
	    "0600\n", path, what, (unsigned)(st.st_mode & 07777));
	return 1;
}

int
check_files(const struct check *c)
{
	const struct config *k = c->conf;
	int n = 0;

	if (k->auth_pass != NULL)
		n += exposed(c->out, k->path, "AuthPass");
	if (k->use_tls_cert)
		n += exposed(c->out, k->tls_key ? k->tls_key : k->tls_cert,
		    "the client certificate's private key");
	return n;
}

/* What the session reached, step by step, as far as it got. */
static void
report(FILE *out, const struct smtp_info *in, const struct smtp_params *p,
    int hide_user)
{
	const struct tls_info *t = &in->tls;
	char buf[1200];

	if (*in->peer)
		line(out, "connected", in->peer);
	if (*in->greeting)
		line(out, "greeting", in->greeting);
	if (t->on) {
		snprintf(buf, sizeof(buf), "%s, %s", t->version, t->cipher);
		line(out, "TLS", buf);
		if (*t->subject) {
			line(out, "certificate", t->subject);
			line(out, "issuer", t->issuer);
			snprintf(buf, sizeof(buf), "%s to %s", t->not_before,
			    t->not_after);
			line(out, "valid", buf);
		}
		if (t->verified)
			line(out, "verified", "yes: the chain and the host "
			    "name");
		else {
			snprintf(buf, sizeof(buf), "NO: %s%s", t->verify_error,
			    p->tls->verify ? "" : " (TLSVerify=NO: not "
			    "checked)");
			line(out, "verified", buf);
		}
		line(out, "pin", t->pin == -1 ? "none (TLSFingerprint unset)" :
		    t->pin ? "matches TLSFingerprint" :
		    "DOES NOT match TLSFingerprint");
	} else if (*in->greeting)
		line(out, "TLS", "none");
	if (*in->caps)
		line(out, "capabilities", in->caps);
	if (*in->auth_mech) {
		snprintf(buf, sizeof(buf), "%s as %s: %s", in->auth_mech,
		    hide_user ? "the configured user" : p->auth_user,
		    in->authenticated ? "accepted" : "refused");
		line(out, "AUTH", buf);
	} else if (p->auth_user == NULL && *in->caps)
		line(out, "AUTH", "not configured (no AuthUser)");
}

/* Which failure is worse: a permanent one over a temporary one. */
static int
worse(enum err_kind a, enum err_kind b)
{
	if (b == ERR_NONE)
		return 0;
	if (a == ERR_NONE)
		return 1;
	return a == ERR_TEMPFAIL && b != ERR_TEMPFAIL;
}

enum err_kind
check_hubs(struct check *c, struct err *e)
{
	struct hub hubs[CONF_MAX_HUBS + 1];
	struct smtp_result res;
	struct smtp_info info;
	struct smtp *s;
	struct err he;
	enum err_kind worst = ERR_NONE;
	size_t n, i;
	char buf[1200];

	if (c->prepare(c->arg, e) == -1)
		return e->kind;
	n = hubs_for(c->conf, c->first, hubs);
	for (i = 0; i < n; i++) {
		fprintf(c->out, "%s%s port %d%s\n", i ? "\n" : "",
		    hubs[i].host, hubs[i].port ? hubs[i].port :
		    c->p->tls_mode == SMTP_TLS_IMPLICIT ? 465 : 587,
		    c->first != NULL && c->first->host != NULL && i == 0 ?
		    " (your revaliases hub)" : "");
		c->p->host = hubs[i].host;
		c->p->port = hubs[i].port;
		if ((s = smtp_new(c->p, e)) == NULL)
			return e->kind;
		if (smtp_open(s, &res) == 0) {
			smtp_describe(s, &info);
			report(c->out, &info, c->p, c->hide_user);
			smtp_close(s);
			line(c->out, "QUIT", "done");
			line(c->out, "result", "ok");
		} else {
			smtp_describe(s, &info);
			report(c->out, &info, c->p, c->hide_user);
			he = res.err;
			snprintf(buf, sizeof(buf), "FAILED at %s: %s",
			    smtp_step_name(res.step), he.msg);
			line(c->out, "result", buf);
			if (worse(worst, he.kind)) {
				worst = he.kind;
				*e = he;
			}
		}
		smtp_result_free(&res);
		smtp_free(s);
	}
	return worst;
}
