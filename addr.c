/* RFC 5322 section 3.4 address lists, tokenised then parsed. */
#include <stdio.h>
#include <string.h>

#include "addr.h"

enum tok_type { T_WORD, T_QUOTED, T_LITERAL, T_SPECIAL, T_END };

struct tok {
	enum tok_type	 type;
	const char	*s;
	size_t		 len;
};

struct lexer {
	const char	*p, *end;
	char		*msg;
	size_t		 msgsz;
};

/* atext of RFC 5322 3.2.3, plus 8-bit bytes (RFC 6532). */
static int
is_atext(unsigned char c)
{
	if (c >= 0x80)
		return 1;
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static int
lex_error(struct lexer *lx, const char *what)
{
	snprintf(lx->msg, lx->msgsz, "%s", what);
	return -1;
}

/* Skip blanks and (nested) comments. */
static int
skip_cfws(struct lexer *lx)
{
	int depth;

	for (;;) {
		while (lx->p < lx->end && (*lx->p == ' ' || *lx->p == '\t' ||
		    *lx->p == '\r' || *lx->p == '\n'))
			lx->p++;
		if (lx->p == lx->end || *lx->p != '(')
			return 0;
		depth = 0;
		do {
			if (lx->p == lx->end)
				return lex_error(lx, "unterminated comment");
			if (*lx->p == '\\' && lx->p + 1 < lx->end)
				lx->p++;
			else if (*lx->p == '(')
				depth++;
			else if (*lx->p == ')')
				depth--;
			lx->p++;
		} while (depth > 0);
	}
}

static int
lex_next(struct lexer *lx, struct tok *t)
{
	const char *start;
	unsigned char c;

	if (skip_cfws(lx) == -1)
		return -1;
	if (lx->p == lx->end) {
		t->type = T_END;
		t->s = lx->p;
		t->len = 0;
		return 0;
	}
	start = lx->p;
	c = *lx->p;
	if (c == '"' || c == '[') {
		char close = c == '"' ? '"' : ']';

		for (lx->p++; lx->p < lx->end && *lx->p != close; lx->p++)
			if (*lx->p == '\\' && lx->p + 1 < lx->end)
				lx->p++;
		if (lx->p == lx->end)
			return lex_error(lx, c == '"' ? "unterminated quoted "
			    "string" : "unterminated domain literal");
		lx->p++;
		t->type = c == '"' ? T_QUOTED : T_LITERAL;
	} else if (is_atext(c)) {
		while (lx->p < lx->end && is_atext(*lx->p))
			lx->p++;
		t->type = T_WORD;
	} else if (c != '\0' && strchr("<>:;@,.", c) != NULL) {
		lx->p++;
		t->type = T_SPECIAL;
	} else
		return lex_error(lx, "character not allowed in an address");
	t->s = start;
	t->len = lx->p - start;
	return 0;
}

static int
is_special(const struct tok *t, char c)
{
	return t->type == T_SPECIAL && t->s[0] == c;
}

/*
 * Append the addr-spec tokens between <...> or of a bare mailbox into buf.
 * Words must be joined by '.' or '@' (no blank-separated phrases).
 */
struct spec {
	char	 buf[ADDR_MAX + 1];
	size_t	 len;
	int	 last_word;	/* the last token was a word */
	int	 ntok;
	int	 bad;
};

static void
spec_add(struct spec *sp, const struct tok *t)
{
	int word = t->type != T_SPECIAL;

	if (word && sp->last_word)
		sp->bad = 1;
	sp->last_word = word;
	sp->ntok++;
	if (sp->len + t->len > ADDR_MAX) {
		sp->bad = 2;
		return;
	}
	memcpy(sp->buf + sp->len, t->s, t->len);
	sp->len += t->len;
	sp->buf[sp->len] = '\0';
}

static void
spec_reset(struct spec *sp)
{
	sp->len = 0;
	sp->buf[0] = '\0';
	sp->last_word = 0;
	sp->ntok = 0;
	sp->bad = 0;
}

static int
spec_emit(struct spec *sp, struct lexer *lx, int (*cb)(void *, const char *),
    void *arg)
{
	int r;

	if (sp->ntok == 0)
		return 0;
	if (sp->bad == 2)
		return lex_error(lx, "address longer than 254 bytes");
	if (sp->bad || sp->buf[0] == '@' || sp->buf[0] == '.' ||
	    sp->buf[sp->len - 1] == '@' || sp->buf[sp->len - 1] == '.') {
		snprintf(lx->msg, lx->msgsz, "\"%s\" is not an address",
		    sp->buf);
		return -1;
	}
	r = cb(arg, sp->buf);
	spec_reset(sp);
	return r;
}

int
addr_parse_list(const char *s, size_t len, int (*cb)(void *, const char *),
    void *arg, char *msg, size_t msgsz)
{
	struct lexer lx = { s, s + len, msg, msgsz };
	struct spec sp;
	struct tok t;
	int in_group = 0, angle_done = 0, r;

	spec_reset(&sp);
	for (;;) {
		if (lex_next(&lx, &t) == -1)
			return -1;
		if (t.type == T_END || is_special(&t, ',') ||
		    is_special(&t, ';')) {
			if ((r = spec_emit(&sp, &lx, cb, arg)) != 0)
				return r;
			angle_done = 0;
			if (is_special(&t, ';')) {
				if (!in_group)
					return lex_error(&lx, "';' outside "
					    "a group");
				in_group = 0;
			}
			if (t.type == T_END)
				break;
			continue;
		}
		if (angle_done)
			return lex_error(&lx, "text after '>'");
		if (is_special(&t, ':')) {
			/* The phrase so far named a group. */
			if (in_group)
				return lex_error(&lx, "nested group");
			in_group = 1;
			spec_reset(&sp);
			continue;
		}
		if (is_special(&t, '<')) {
			/* What came before was the display name. */
			spec_reset(&sp);
			for (;;) {
				if (lex_next(&lx, &t) == -1)
					return -1;
				if (t.type == T_END)
					return lex_error(&lx, "missing '>'");
				if (is_special(&t, '>'))
					break;
				if (is_special(&t, ':')) {
					/* obs-route (RFC 5322 4.4): drop it. */
					spec_reset(&sp);
					continue;
				}
				if (is_special(&t, '<'))
					return lex_error(&lx, "'<' inside "
					    "an angle address");
				spec_add(&sp, &t);
			}
			angle_done = 1;
			if (sp.ntok == 0)
				continue;	/* "<>": nobody */
			if ((r = spec_emit(&sp, &lx, cb, arg)) != 0)
				return r;
			continue;
		}
		if (is_special(&t, '>'))
			return lex_error(&lx, "'>' without '<'");
		spec_add(&sp, &t);
	}
	if (in_group)
		return lex_error(&lx, "group without ';'");
	return 0;
}

int
addr_check(const char *a, int empty_ok, char *msg, size_t msgsz)
{
	size_t len = strlen(a), i;
	int quoted = 0;

	if (len == 0 && !empty_ok) {
		snprintf(msg, msgsz, "empty address");
		return -1;
	}
	if (len > ADDR_MAX) {
		snprintf(msg, msgsz, "address longer than %d bytes", ADDR_MAX);
		return -1;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = a[i];

		if (c < 0x20 || c == 0x7f) {
			snprintf(msg, msgsz, "address contains a control "
			    "character (0x%02x)", c);
			return -1;
		}
		if (c == '"')
			quoted = !quoted;
		else if (c == '\\' && quoted && i + 1 < len)
			i++;
		else if (!quoted && (c == ' ' || c == '<' || c == '>')) {
			snprintf(msg, msgsz, "address \"%s\" contains '%c'",
			    a, c);
			return -1;
		}
	}
	if (quoted) {
		snprintf(msg, msgsz, "address \"%s\" has an open quote", a);
		return -1;
	}
	return 0;
}

const char *
addr_domain(const char *a)
{
	const char *at = strrchr(a, '@');

	/* An '@' inside a quoted local part is not the separator. */
	if (at == NULL || strchr(at, '"') != NULL)
		return NULL;
	return at + 1;
}
