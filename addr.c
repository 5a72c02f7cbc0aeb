/* RFC 5322 section 3.4 address lists, tokenised then parsed. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "err.h"

enum tok_type { T_WORD, T_QUOTED, T_LITERAL, T_SPECIAL, T_END };

struct tok {
	enum tok_type	 type;
	const char	*s;
	size_t		 len;
};

struct lexer {
	const char	*p, *end;
	struct err	*e;
	const char	*comment;	/* the first comment of this mailbox */
	size_t		 comment_len;
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
	return err_set(lx->e, ERR_DATA, "%s", what);
}

/* Skip blanks and (nested) comments. */
static int
skip_cfws(struct lexer *lx)
{
	const char *start;
	int depth;

	for (;;) {
		while (lx->p < lx->end && (*lx->p == ' ' || *lx->p == '\t' ||
		    *lx->p == '\r' || *lx->p == '\n'))
			lx->p++;
		if (lx->p == lx->end || *lx->p != '(')
			return 0;
		start = lx->p + 1;
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
		if (lx->comment == NULL) {
			lx->comment = start;
			lx->comment_len = lx->p - 1 - start;
		}
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

/* What the parse calls back with: the addr-spec and its display name. */
typedef int named_cb(void *, const char *, const char *, size_t);

static int
spec_emit(struct spec *sp, struct lexer *lx, named_cb *cb, void *arg,
    const char *phrase, size_t plen)
{
	int r;

	if (sp->ntok == 0)
		return 0;
	if (sp->bad == 2)
		return lex_error(lx, "address longer than 254 bytes");
	if (sp->bad || sp->buf[0] == '@' || sp->buf[0] == '.' ||
	    sp->buf[sp->len - 1] == '@' || sp->buf[sp->len - 1] == '.')
		return err_set(lx->e, ERR_DATA, "\"%s\" is not an address",
		    sp->buf);
	/* The name: the phrase before '<', else the first comment. */
	if (phrase == NULL || plen == 0) {
		phrase = lx->comment;
		plen = lx->comment_len;
	}
	r = cb(arg, sp->buf, phrase, phrase != NULL ? plen : 0);
	spec_reset(sp);
	lx->comment = NULL;
	return r;
}

static int
parse_list(const char *s, size_t len, named_cb *cb, void *arg, struct err *e)
{
	struct lexer lx = { s, s + len, e, NULL, 0 };
	const char *start = NULL, *phrase = NULL;	/* of this mailbox */
	size_t plen = 0;
	struct spec sp;
	struct tok t;
	int in_group = 0, angle_done = 0, r;

	spec_reset(&sp);
	for (;;) {
		if (lex_next(&lx, &t) == -1)
			return -1;
		if (t.type == T_END || is_special(&t, ',') ||
		    is_special(&t, ';')) {
			if ((r = spec_emit(&sp, &lx, cb, arg, NULL, 0)) != 0)
				return r;
			angle_done = 0;
			start = NULL;
			lx.comment = NULL;
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
			start = NULL;
			lx.comment = NULL;
			continue;
		}
		if (is_special(&t, '<')) {
			/* What came before was the display name. */
			phrase = start;
			plen = start != NULL ? (size_t)(t.s - start) : 0;
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
			if ((r = spec_emit(&sp, &lx, cb, arg, phrase, plen)) != 0)
				return r;
			continue;
		}
		if (is_special(&t, '>'))
			return lex_error(&lx, "'>' without '<'");
		if (start == NULL)
			start = t.s;
		spec_add(&sp, &t);
	}
	if (in_group)
		return lex_error(&lx, "group without ';'");
	return 0;
}

struct plain {
	int	(*cb)(void *, const char *);
	void	*arg;
};

static int
plain_cb(void *arg, const char *a, const char *name, size_t nlen)
{
	struct plain *pl = arg;

	(void)name;
	(void)nlen;
	return pl->cb(pl->arg, a);
}

int
addr_parse_list(const char *s, size_t len, int (*cb)(void *, const char *),
    void *arg, struct err *e)
{
	struct plain pl = { cb, arg };

	return parse_list(s, len, plain_cb, &pl, e);
}

struct first {
	char	*addr, *name;
	size_t	 asz, nsz;
};

static int
first_cb(void *arg, const char *a, const char *name, size_t nlen)
{
	struct first *f = arg;

	strlcpy(f->addr, a, f->asz);
	/* Blanks, quotes and line ends around the name are not the name. */
	while (nlen > 0 && strchr(" \t\r\n\"", *name) != NULL) {
		name++;
		nlen--;
	}
	while (nlen > 0 && strchr(" \t\r\n\"", name[nlen - 1]) != NULL)
		nlen--;
	if (nlen > 0 && nlen < f->nsz) {
		memcpy(f->name, name, nlen);
		f->name[nlen] = '\0';
	}
	return 1;
}

int
addr_first_mailbox(const char *s, size_t len, char *addr, size_t asz,
    char *name, size_t nsz, struct err *e)
{
	struct first f = { addr, name, asz, nsz };
	int r;

	if (nsz > 0)
		*name = '\0';
	if ((r = parse_list(s, len, first_cb, &f, e)) == -1)
		return -1;
	return r == 1;
}

int
addr_check(const char *a, int empty_ok, struct err *e)
{
	size_t len = strlen(a), i;
	int quoted = 0;

	if (len == 0 && !empty_ok)
		return err_set(e, ERR_DATA, "empty address");
	if (len > ADDR_MAX)
		return err_set(e, ERR_DATA, "address longer than %d bytes",
		    ADDR_MAX);
	for (i = 0; i < len; i++) {
		unsigned char c = a[i];

		if (c < 0x20 || c == 0x7f)
			return err_set(e, ERR_DATA, "address contains a "
			    "control character (0x%02x)", c);
		if (c == '"')
			quoted = !quoted;
		else if (c == '\\' && quoted && i + 1 < len)
			i++;
		else if (!quoted && (c == ' ' || c == '<' || c == '>'))
			return err_set(e, ERR_DATA, "address \"%s\" contains "
			    "'%c'", a, c);
	}
	if (quoted)
		return err_set(e, ERR_DATA, "address \"%s\" has an open "
		    "quote", a);
	return 0;
}

int
addr_is_local(const char *a, const char *hostname)
{
	const char *at = strrchr(a, '@');

	return at == NULL || strcasecmp(at + 1, "localhost") == 0 ||
	    (hostname != NULL && strcasecmp(at + 1, hostname) == 0);
}
