// SPDX-License-Identifier: Apache-2.0
/*
 * glob.c - policy pattern (gitignore syntax plus {a,b}) to pcre2 regex.
 *
 * Every byte of the pattern that is not glob syntax becomes a literal: it
 * is written as \xHH unless it is an ASCII letter or digit, so no regex
 * metacharacter ('.', '+', '(', '^', '$', '|', ...) and no verb such as
 * "(*UTF)" can ever reach pcre2 from user text.
 */
#include "glob.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A tiny string builder; policy/ links nothing from common/. */
struct sb {
	char *d;
	size_t len;
	size_t cap;
	bool oom;
};

static void sb_add(struct sb *s, const char *data, size_t n)
{
	if (s->oom)
		return;
	if (s->len + n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 64;
		char *d;

		while (cap < s->len + n + 1)
			cap *= 2;
		d = realloc(s->d, cap);
		if (!d) {
			s->oom = true;
			return;
		}
		s->d = d;
		s->cap = cap;
	}
	memcpy(s->d + s->len, data, n);
	s->len += n;
	s->d[s->len] = '\0';
}

static void sb_adds(struct sb *s, const char *str)
{
	sb_add(s, str, strlen(str));
}

static void sb_addc(struct sb *s, char c)
{
	sb_add(s, &c, 1);
}

/* One literal byte, safe anywhere in a regex, inside a class too. */
static void sb_add_literal(struct sb *s, unsigned char c)
{
	char hex[5];

	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
		sb_addc(s, (char)c);
		return;
	}
	(void)snprintf(hex, sizeof(hex), "\\x%02x", c);
	sb_add(s, hex, 4);
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* POSIX bracket expressions that pcre2 understands inside a class. */
static bool posix_class_name(const char *s, size_t n)
{
	static const char *const names[] = { "alnum", "alpha", "blank", "cntrl", "digit", "graph",
					     "lower", "print", "punct", "space", "upper", "xdigit" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == n && !memcmp(names[i], s, n))
			return true;
	return false;
}

/*
 * Translates the class starting at c[*i] == '['.  fnmatch(3) rules: a ']'
 * right after "[" or "[!" is a member, "[!" and "[^" negate, '\' escapes.
 * A class never matches '/': a negated one excludes it explicitly, and a
 * plain one cannot contain it (components are split at '/').
 */
static int class_translate(const char *c, size_t n, size_t *i, struct sb *out, char *err,
			   size_t errlen)
{
	size_t j = *i + 1;
	bool first = true;

	sb_addc(out, '[');
	if (j < n && (c[j] == '!' || c[j] == '^')) {
		sb_adds(out, "^/");
		j++;
	}
	for (;;) {
		unsigned char lo, hi;

		if (j >= n)
			return fail(err, errlen, "unterminated character class");
		if (c[j] == ']' && !first)
			break;
		first = false;
		if (c[j] == '[' && j + 1 < n && c[j + 1] == ':') {
			const char *end = memchr(c + j + 2, ':', n - j - 2);

			if (end && (size_t)(end - c) + 1 < n && end[1] == ']' &&
			    posix_class_name(c + j + 2, (size_t)(end - (c + j + 2)))) {
				sb_add(out, c + j, (size_t)(end - (c + j)) + 2);
				j = (size_t)(end - c) + 2;
				continue;
			}
		}
		if (c[j] == '\\') {
			if (++j >= n)
				return fail(err, errlen, "unterminated character class");
		}
		lo = (unsigned char)c[j++];
		if (j + 1 < n && c[j] == '-' && c[j + 1] != ']') {
			j++;
			if (c[j] == '\\' && ++j >= n)
				return fail(err, errlen, "unterminated character class");
			hi = (unsigned char)c[j++];
			if (hi < lo)
				return fail(err, errlen, "invalid range '%c-%c' in character class",
					    lo, hi);
			sb_add_literal(out, lo);
			sb_addc(out, '-');
			sb_add_literal(out, hi);
		} else {
			sb_add_literal(out, lo);
		}
	}
	sb_addc(out, ']');
	*i = j;
	return 0;
}

/*
 * Translates one component c[0..n) (not "**") into out.  Sets *literal and
 * fills lit with the unescaped text when it holds no glob syntax.  LAST
 * says whether more components follow, for a better brace message.
 * FLOATING says that the leading '*' run was dropped (see floating_star()).
 */
static int comp_translate(const char *c, size_t n, bool last, bool floating, struct sb *out,
			  bool *literal, struct sb *lit, char *err, size_t errlen)
{
	unsigned depth = 0;
	size_t i = 0;
	int r;

	*literal = true;
	if (floating) {
		while (c[i] == '*')
			i++;
		*literal = false;
	} else if (c[0] == '*' || c[0] == '{') {
		/*
		 * Names are never empty, so a component that could match
		 * nothing ("*", "{,a}") must not: otherwise "*" would match
		 * the root's subject "/", and "a" followed by "/" and "*" the
		 * directory "a/".
		 */
		sb_adds(out, "(?=[^/])");
	}
	for (; i < n; i++) {
		switch (c[i]) {
		case '\\':
			i++; /* glob_translate() checked that something follows */
			sb_add_literal(out, (unsigned char)c[i]);
			sb_addc(lit, c[i]);
			break;
		case '*':
			while (i + 1 < n && c[i + 1] == '*')
				i++;
			sb_adds(out, "[^/]*");
			*literal = false;
			break;
		case '?':
			sb_adds(out, "[^/]");
			*literal = false;
			break;
		case '[':
			r = class_translate(c, n, &i, out, err, errlen);
			if (r < 0)
				return r;
			*literal = false;
			break;
		case '{':
			depth++;
			sb_adds(out, "(?:");
			*literal = false;
			break;
		case '}':
			if (!depth)
				return fail(err, errlen, "unbalanced '}' (write '\\}' for a literal one)");
			depth--;
			sb_addc(out, ')');
			break;
		case ',':
			if (depth) {
				sb_addc(out, '|');
				break;
			}
			/* A comma outside braces is a literal. */
			sb_add_literal(out, ',');
			sb_addc(lit, ',');
			break;
		default:
			sb_add_literal(out, (unsigned char)c[i]);
			sb_addc(lit, c[i]);
			break;
		}
	}
	if (depth)
		return fail(err, errlen, "unbalanced '{'%s",
			    last ? "" : " (an alternation cannot contain '/')");
	if (*literal && ((lit->len == 1 && lit->d[0] == '.') ||
			 (lit->len == 2 && lit->d[0] == '.' && lit->d[1] == '.')))
		return fail(err, errlen, "'.' and '..' components are not allowed");
	return 0;
}

void glob_free(struct glob *g)
{
	free(g->regex);
	free(g->dfa_regex);
	memset(g, 0, sizeof(*g));
}

/*
 * "At the start of the subject or right after a '/'": the same set of
 * matches as "^(?:.*\/)?", but an unanchored search lets pcre2 skip ahead
 * to its first literal (memchr) instead of backtracking over every '/'.
 */
#define AT_ANY_DEPTH "(?<![^/])"

/*
 * A component at any depth that starts with '*' and has more after it
 * ("*.pem", "*a*"): "(?<![^/])[^/]*X" matches exactly where "X" does,
 * because what lies between the component's start and X is never a '/'.
 * Dropping the star lets pcre2 search for X's literals instead of
 * backtracking from every position.  X must not match the empty string
 * (or "*{,a}" would match the root), so it has to start with something
 * that takes a character: not '{'.
 */
static bool floating_star(const char *c, size_t n)
{
	size_t i = 0;

	while (i < n && c[i] == '*')
		i++;
	return i > 0 && i < n && c[i] != '{';
}

static bool is_globstar(const char *c, size_t n)
{
	return n == 2 && c[0] == '*' && c[1] == '*';
}

/* One component of the pattern; runs of "**" are collapsed into one. */
struct comp {
	const char *s;
	size_t len;
	bool star; /* "**" */
};

/*
 * Emits the regex of the components (see glob.h) into out.  FOR_DFA says
 * it is the regex for pcre2_dfa_match(), which goes without the two
 * tricks that save a backtracking matcher work: atomic groups (the DFA
 * matcher locks in an atomic group's longest match, not its first one)
 * and floating stars (a partial match must inspect a character, and a
 * floating "*.md" does not at the end of "docs/", where the lookbehind
 * of AT_ANY_DEPTH does).
 */
static int comps_translate(const struct glob *g, const struct comp *comps, size_t m,
			   bool for_dfa, struct sb *out, char *err, size_t errlen)
{
	struct sb lit = { 0 };
	bool atomic, open = false;
	size_t k, nstars = 0;
	int r = 0;

	/*
	 * With two or more "**", "(?:.*\/)?" skips nest and backtrack in
	 * O(n^stars) on a deep path, until pcre2's match limit fails the
	 * lookup.  Each "**" is then followed by an atomic group: skip to the
	 * earliest component boundary where the next run of components
	 * matches, and commit.  Earliest is always best: what follows is
	 * another "**" (it can skip whatever an earlier match leaves over), a
	 * trailing "**" (it wants as much as possible after it) or the end
	 * (where only the boundary matters, and it is inside the group).
	 */
	for (k = 0; k < m; k++)
		nstars += comps[k].star;
	atomic = !for_dfa && nstars >= 2;
	for (k = 0; k < m; k++) {
		const struct comp *c = &comps[k];
		bool last = k + 1 == m, any_depth, floating, literal;

		if (c->star) {
			if (k == 0 && atomic) {
				sb_adds(out, "^(?>(?:.*?/)??");
				open = true;
			} else if (k == 0) {
				; /* leading: the next component, or the end, says how */
			} else if (last) {
				/* Inside, not the directory itself (gitignore). */
				sb_adds(out, open ? "/).+" : "/.+");
				open = false;
			} else if (atomic) {
				sb_adds(out, open ? "/)(?>(?:.*?/)??" : "/(?>(?:.*?/)??");
				open = true;
			} else {
				sb_adds(out, "/(?:.*/)?");
			}
			continue;
		}
		/* At any depth: a basename pattern, or right after a leading "**". */
		any_depth = k == 0 ? !g->anchored : (k == 1 && comps[0].star && !atomic);
		floating = !for_dfa && any_depth && floating_star(c->s, c->len);
		if (floating)
			; /* no start condition at all: see floating_star() */
		else if (any_depth)
			sb_adds(out, AT_ANY_DEPTH);
		else if (k == 0)
			sb_addc(out, '^');
		else if (!comps[k - 1].star)
			sb_addc(out, '/');
		lit.len = 0;
		if (lit.d)
			lit.d[0] = '\0';
		r = comp_translate(c->s, c->len, last, floating, out, &literal, &lit, err, errlen);
		if (r < 0)
			break;
	}
	if (!r && lit.oom)
		r = -ENOMEM;
	free(lit.d);
	if (r < 0)
		return r;
	if (m == 1 && comps[0].star) {
		/*
		 * "**" alone is everything.  So is "**" with a trailing '/': it
		 * matches every directory, the root included, and all beneath.
		 */
		sb_addc(out, '^');
	} else if (comps[m - 1].star) {
		if (g->dir_only)
			sb_addc(out, '/');
	} else {
		sb_adds(out, g->dir_only ? "/" : "(?:/|\\z)");
	}
	if (open)
		sb_addc(out, ')');
	return 0;
}

int glob_translate(const char *pattern, struct glob *g, char *err, size_t errlen)
{
	struct sb out = { 0 }, dfa = { 0 };
	struct comp *comps = NULL;
	const char *p = pattern, *c;
	size_t n, i, m = 0;
	int r;

	memset(g, 0, sizeof(*g));
	err[0] = '\0';
	if (*p == '/') {
		g->anchored = true;
		p++;
	}
	n = strlen(p);
	/* Escapes first, so that "\/" and a lone trailing '\' are caught once. */
	for (i = 0; i < n; i++) {
		if (p[i] != '\\')
			continue;
		if (i + 1 == n)
			return fail(err, errlen, "trailing backslash escapes nothing");
		if (p[i + 1] == '/')
			return fail(err, errlen, "'/' cannot be escaped");
		i++;
	}
	/* A trailing '/' is always a separator: "\/" was refused above. */
	if (n && p[n - 1] == '/') {
		g->dir_only = true;
		n--;
	}
	if (!n)
		return fail(err, errlen, "empty pattern");
	if (memchr(p, '/', n))
		g->anchored = true;

	/* Split at '/' (n / 2 + 1 components at most), collapsing "**" runs. */
	comps = calloc(n / 2 + 1, sizeof(*comps));
	if (!comps) {
		r = -ENOMEM;
		goto out_free;
	}
	for (c = p; c <= p + n;) {
		const char *end = c;
		bool star;

		while (end < p + n && *end != '/')
			end += (*end == '\\') ? 2 : 1;
		if (end == c) {
			r = fail(err, errlen, "empty path component");
			goto out_free;
		}
		star = is_globstar(c, (size_t)(end - c));
		if (!(star && m && comps[m - 1].star))
			comps[m++] = (struct comp){ c, (size_t)(end - c), star };
		c = end + 1;
	}
	r = comps_translate(g, comps, m, false, &out, err, errlen);
	if (r == 0)
		r = comps_translate(g, comps, m, true, &dfa, err, errlen);
	if (r < 0)
		goto out_free;
	if (out.oom || dfa.oom) {
		r = -ENOMEM;
		goto out_free;
	}
	g->regex = out.d;
	g->dfa_regex = dfa.d;
	free(comps);
	return 0;

out_free:
	free(comps);
	free(out.d);
	free(dfa.d);
	glob_free(g);
	return r;
}
