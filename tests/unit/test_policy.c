// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for policy/ (patterns, resolution, parsing, digest) and
 * common/policy_load.c (presets).  Table-driven: every table row is its own
 * cmocka case, named after what it checks, so a failure says which row.
 *
 * Presets are read from the repository's presets/ (FENCE_PRESET_DIR is set
 * from FENCE_ROOT, which tests/run.sh exports; "." otherwise).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fnmatch.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "policy_internal.h"
#include "policy_load.h"
#include "sha256.h"

/* ---- patterns: one rule "read = PATTERN"; does it reach PATH? ---- */

struct glob_case {
	const char *pattern;
	const char *path; /* NULL: the root */
	bool dir;
	bool match;       /* matches PATH or one of its ancestors */
};

static const struct glob_case glob_cases[] = {
	/* literal basename: any depth, and everything beneath */
	{ "foo", "foo", false, true },
	{ "foo", "foo", true, true },
	{ "foo", "a/foo", false, true },
	{ "foo", "a/b/c/foo", false, true },
	{ "foo", "foo/bar", false, true },
	{ "foo", "a/foo/b/c", false, true },
	{ "foo", "foobar", false, false },
	{ "foo", "barfoo", false, false },
	{ "foo", "a/foo.c", false, false },
	{ "foo", "fo", false, false },
	{ "foo", "Foo", false, false },
	/* anchoring: a leading '/' or an inner '/' */
	{ "/foo", "foo", false, true },
	{ "/foo", "a/foo", false, false },
	{ "/foo", "foo/x/y", false, true },
	{ "a/b", "a/b", false, true },
	{ "a/b", "x/a/b", false, false },
	{ "a/b", "a/b/c", false, true },
	{ "a/b", "a/bc", false, false },
	{ "a/b", "a", true, false },
	{ "/a/b", "a/b", false, true },
	{ "src/*.c", "src/main.c", false, true },
	{ "/src/*.c", "src/main.c", false, true },
	{ "src/*.c", "src/x/main.c", false, false },
	{ "src/*.c", "lib/src/main.c", false, false },
	/* '*' */
	{ "*.c", "main.c", false, true },
	{ "*.c", "a/b/main.c", false, true },
	{ "*.c", "main.cc", false, false },
	{ "*.c", ".c", false, true },
	{ "*.c", "main.c/x", false, true },
	{ "*", "anything", false, true },
	{ "*", "a/b", false, true },
	{ "a*", "abc", false, true },
	{ "a*", "a", false, true },
	{ "a*", "ba", false, false },
	{ "*a*", "xax", false, true },
	{ "*a*", "xyz", false, false },
	{ "/*", "top", false, true },
	{ "/*", "a/b", false, true },
	{ "a/*", "a", true, false },
	{ "a/*", "a/x", false, true },
	{ "a/*", "a/x/y", false, true },
	{ "a/*/c", "a/b/c", false, true },
	{ "a/*/c", "a/b/x/c", false, false },
	{ "a/*/c", "a/c", false, false },
	{ "a**b", "axyb", false, true },
	{ "a**b", "ax/yb", false, false },
	{ "*", NULL, true, false },
	{ "/*", NULL, true, false },
	{ "*.c", "a.c.d", false, false },
	{ "*c", "c", false, true },
	{ "*x/", "ax", true, true },
	{ "*x/", "ax", false, false },
	{ "**/*.c", "a/b/x.c", false, true },
	{ "**/*.c", "x.cc", false, false },
	{ "a/**/*.c", "a/x.c", false, true },
	{ "a/**/*.c", "b/a/x.c", false, false },
	{ "*{,a}", NULL, true, false },
	{ "*{,a}", "b", false, true },
	{ "*?", "b", false, true },
	{ "*?", NULL, true, false },
	/* '?' */
	{ "?.c", "a.c", false, true },
	{ "?.c", "ab.c", false, false },
	{ "?.c", ".c", false, false },
	{ "a?c", "a/c", false, false },
	{ "???", "abc", false, true },
	{ "???", "ab", false, false },
	/* classes */
	{ "[abc].txt", "a.txt", false, true },
	{ "[abc].txt", "d.txt", false, false },
	{ "[a-c]x", "bx", false, true },
	{ "[a-c]x", "dx", false, false },
	{ "[!a]x", "bx", false, true },
	{ "[!a]x", "ax", false, false },
	{ "[^a]x", "bx", false, true },
	{ "[^a]x", "ax", false, false },
	{ "x[!a]y", "x/y", false, false },
	{ "[]]x", "]x", false, true },
	{ "[]]x", "x", false, false },
	{ "[!]]x", "ax", false, true },
	{ "[!]]x", "]x", false, false },
	{ "[a-]x", "-x", false, true },
	{ "[a-]x", "ax", false, true },
	{ "[\\]]x", "]x", false, true },
	{ "[.]c", ".c", false, true },
	{ "[.]c", "xc", false, false },
	{ "[[:digit:]]x", "5x", false, true },
	{ "[[:digit:]]x", "ax", false, false },
	{ "[A-Z]", "Q", false, true },
	{ "[A-Z]", "q", false, false },
	{ "*.[ch]", "x.h", false, true },
	{ "*.[ch]", "x.o", false, false },
	{ "[\\-]", "-", false, true },
	/* escapes */
	{ "\\*", "*", false, true },
	{ "\\*", "a", false, false },
	{ "\\?", "?", false, true },
	{ "\\?", "x", false, false },
	{ "\\[a]", "[a]", false, true },
	{ "\\[a]", "a", false, false },
	{ "a\\{b,c\\}", "a{b,c}", false, true },
	{ "a\\{b,c\\}", "ab", false, false },
	{ "\\#x", "#x", false, true },
	{ "\\\\", "\\", false, true },
	{ "\\a", "a", false, true },
	/* braces, nested */
	{ "*.{c,h}", "x.c", false, true },
	{ "*.{c,h}", "x.h", false, true },
	{ "*.{c,h}", "x.o", false, false },
	{ "{a,b}/x", "a/x", false, true },
	{ "{a,b}/x", "b/x", false, true },
	{ "{a,b}/x", "c/x", false, false },
	{ "{a,b}/x", "z/a/x", false, false },
	{ "{a,{b,c}d}", "a", false, true },
	{ "{a,{b,c}d}", "bd", false, true },
	{ "{a,{b,c}d}", "cd", false, true },
	{ "{a,{b,c}d}", "b", false, false },
	{ "{a,{b,c}d}", "ad", false, false },
	{ "x{,y}z", "xz", false, true },
	{ "x{,y}z", "xyz", false, true },
	{ "x{,y}z", "xyyz", false, false },
	{ "{a*,b?}", "abc", false, true },
	{ "{a*,b?}", "bx", false, true },
	{ "{a*,b?}", "bxy", false, false },
	{ "a,b", "a,b", false, true },
	{ "a,b", "a", false, false },
	{ "{src,lib}/**/*.c", "src/a/b/x.c", false, true },
	{ "{src,lib}/**/*.c", "lib/x.c", false, true },
	{ "{src,lib}/**/*.c", "doc/x.c", false, false },
	{ "{,a}", NULL, true, false },
	/* '**' at the start, in the middle, at the end, alone */
	{ "**", "anything", false, true },
	{ "**", "a/b/c", false, true },
	{ "**", NULL, true, true },
	{ "**/foo", "foo", false, true },
	{ "**/foo", "a/b/foo", false, true },
	{ "**/foo", "a/foo/x", false, true },
	{ "**/foo", "afoo", false, false },
	{ "a/**/b", "a/b", false, true },
	{ "a/**/b", "a/x/b", false, true },
	{ "a/**/b", "a/x/y/b", false, true },
	{ "a/**/b", "a/x/y/bb", false, false },
	{ "a/**/b", "x/a/b", false, false },
	{ "a/**/b", "ab", false, false },
	{ "a/**", "a", true, false },
	{ "a/**", "a", false, false },
	{ "a/**", "a/x", false, true },
	{ "a/**", "a/x/y", false, true },
	{ "a/**", "ab/x", false, false },
	{ "**/a/**", "x/a/y", false, true },
	{ "**/a/**", "a/y", false, true },
	{ "**/a/**", "x/a", true, false },
	{ "a/**/**/b", "a/b", false, true },
	{ "a/**/**/b", "a/x/b", false, true },
	{ "a/**b", "a/xb", false, true },
	{ "a/**b", "a/x/b", false, false },
	{ "**.c", "x/y.c", false, true },
	{ "**/", "x", false, true },
	{ "**/", "x", true, true },
	{ "a/**/**", "a", true, false },
	{ "a/**/**", "a/b", false, true },
	{ "**/**", NULL, true, true },
	{ "**/", "x/y", false, true },
	{ "**/", NULL, true, true },
	{ "a/**/", "a/x", false, false },
	{ "a/**/", "a/x", true, true },
	{ "a/**/", "a/x/y", false, true },
	/* trailing '/': directories only, and all beneath */
	{ "build/", "build", true, true },
	{ "build/", "build", false, false },
	{ "build/", "build/x", false, true },
	{ "build/", "a/build/x", false, true },
	{ "build/", "a/build", false, false },
	{ "/build/", "build", true, true },
	{ "/build/", "a/build", true, false },
	{ "a/b/", "a/b", true, true },
	{ "a/b/", "a/b", false, false },
	{ "a/b/", "a/b/c", false, true },
	{ "*.d/", "x.d", true, true },
	{ "*.d/", "x.d", false, false },
	{ "a", NULL, true, false },
	{ "a/**", NULL, true, false },
	/* regex metacharacters are literals */
	{ "a.c", "abc", false, false },
	{ "a.c", "a.c", false, true },
	{ "a+b", "aab", false, false },
	{ "a+b", "a+b", false, true },
	{ "(x)", "x", false, false },
	{ "(x)", "(x)", false, true },
	{ "^$|", "^$|", false, true },
	{ "^$|", "x", false, false },
	{ "a|b", "a", false, false },
	{ "a|b", "b", false, false },
	{ "a|b", "a|b", false, true },
	{ "x$", "x", false, false },
	{ ".*", "abc", false, false },
	{ ".*", ".abc", false, true },
	{ "\\Q.\\E", "Q.E", false, true },
	{ "\\Q.\\E", "QxE", false, false },
	{ "(?i)a", "A", false, false },
	{ "(?i)a", "(?i)a", false, true },
	{ "(*UTF)x", "x", false, false },
	{ "a{1}", "a1", false, true },
	{ "a{1}", "a{1}", false, false },
	{ "a b", "a b", false, true },
	{ "a b", "ab", false, false },
	/* case-sensitive, bytes, names with line breaks */
	{ ".env", ".ENV", false, false },
	{ "*.PEM", "x.pem", false, false },
	{ "foo", "foo\n", false, false },
	{ "*", "a\nb", false, true },
	{ "a?b", "a\nb", false, true },
	{ "caf\xc3\xa9", "caf\xc3\xa9", false, true },
	{ "caf?", "caf\xc3\xa9", false, false },
	{ "caf??", "caf\xc3\xa9", false, true },
};

static void test_glob_case(void **state)
{
	const struct glob_case *c = *state;
	struct policy *p = policy_new();
	struct policy_error err = { 0 };
	struct policy_decision d;

	assert_non_null(p);
	if (policy_add_rule(p, POLICY_READ, c->pattern, "t", 1, &err) != 0)
		fail_msg("pattern '%s' refused: %s", c->pattern, err.msg);
	if (c->path)
		assert_int_equal(policy_resolve(p, c->path, c->dir, &d), 0);
	else
		policy_resolve_root(p, &d);
	if ((d.own == POLICY_READ) != c->match)
		fail_msg("pattern '%s' %s '%s'%s", c->pattern, c->match ? "should match" : "matched",
			 c->path ? c->path : "(root)", c->dir ? " (dir)" : "");
	/* A hidden path reports its ancestor's rule; own is the pattern's verdict. */
	if (!d.hidden)
		assert_int_equal(d.rule, c->match ? 0 : -1);
	policy_free(p);
}

/*
 * ---- the same, against a reference matcher on generated patterns ----
 *
 * The reference is written from docs/SPEC.md 2 without regexes: brace expansion,
 * fnmatch(3) on single components, "**" matched component by component,
 * and "covers everything beneath" as "some prefix of the path matches".
 */

/* fnmatch() on one component, after expanding the first {a,b} group. */
static bool ref_component(const char *pat, const char *name)
{
	const char *open = NULL, *close = NULL, *alt;
	char buf[256];
	int depth = 0;
	const char *c;

	for (c = pat; *c; c++) {
		if (*c == '\\' && c[1]) {
			c++;
		} else if (*c == '{') {
			if (!depth++ && !open)
				open = c;
		} else if (*c == '}' && depth && !--depth && !close) {
			close = c;
			break;
		}
	}
	if (!open || !close)
		return fnmatch(pat, name, 0) == 0;
	/* Each alternative at depth 1, spliced between prefix and suffix. */
	for (alt = open + 1, depth = 0, c = open + 1; c <= close; c++) {
		if (*c == '\\') {
			c++;
			continue;
		}
		if (*c == '{')
			depth++;
		else if (*c == '}' && depth)
			depth--;
		else if ((*c == ',' && !depth) || c == close) {
			(void)snprintf(buf, sizeof(buf), "%.*s%.*s%s", (int)(open - pat), pat,
				       (int)(c - alt), alt, close + 1);
			if (ref_component(buf, name))
				return true;
			alt = c + 1;
		}
	}
	return false;
}

/* Pattern components pc[0..np) against names[0..nn), "**" being zero or more (one or more last). */
static bool ref_components(char **pc, int np, char **names, int nn)
{
	int k;

	if (!np)
		return !nn;
	if (!strcmp(pc[0], "**")) {
		for (k = np == 1 ? 1 : 0; k <= nn; k++)
			if (ref_components(pc + 1, np - 1, names + k, nn - k))
				return true;
		return false;
	}
	return nn && ref_component(pc[0], names[0]) &&
	       ref_components(pc + 1, np - 1, names + 1, nn - 1);
}

/* Splits s at '/' in place into v; returns the count. */
static int split(char *s, char **v)
{
	int n = 0;

	if (!*s)
		return 0;
	v[n++] = s;
	for (; *s; s++)
		if (*s == '/') {
			*s = '\0';
			v[n++] = s + 1;
		}
	return n;
}

static bool ref_match(const char *pattern, const char *path, bool is_dir)
{
	char pbuf[256], nbuf[256], *pc[64], *names[64];
	bool anchored = false, dir_only = false;
	int np, nn, k, i, m = 0;
	size_t len;

	if (*pattern == '/') {
		anchored = true;
		pattern++;
	}
	(void)snprintf(pbuf, sizeof(pbuf), "%s", pattern);
	len = strlen(pbuf);
	if (len && pbuf[len - 1] == '/') {
		dir_only = true;
		pbuf[--len] = '\0';
	}
	if (strchr(pbuf, '/'))
		anchored = true;
	np = split(pbuf, pc);
	for (i = 0; i < np; i++) /* runs of "**" count as one */
		if (!(m && !strcmp(pc[i], "**") && !strcmp(pc[m - 1], "**")))
			pc[m++] = pc[i];
	(void)snprintf(nbuf, sizeof(nbuf), "%s", path ? path : "");
	nn = split(nbuf, names);
	for (k = 0; k <= nn; k++) {
		bool q_dir = k < nn || is_dir;

		if (dir_only && !q_dir)
			continue;
		if (m == 1 && !strcmp(pc[0], "**"))
			return true;
		if (!k)
			continue;
		if (!anchored ? ref_component(pc[0], names[k - 1])
			      : ref_components(pc, m, names, k))
			return true;
	}
	return false;
}

static unsigned rnd_state = 12345;

static unsigned rnd(unsigned n)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return (rnd_state >> 16) % n;
}

static void test_glob_differential(void **state)
{
	static const char *const tokens[] = {
		"a", "b", "ab", ".", "*", "?", "[ab]", "[!a]", "{a,b}", "{a,{b,.}}", "\\*", "[a-b]*",
		"{*.,b}", "a*",
	};
	static const char *const names[] = { "a", "b", "ab", "ba", "a.b", ".a", "*", "aa", "b.a" };
	unsigned checked = 0, matched = 0, i;

	for (i = 0; i < 30000; i++) {
		char pattern[128] = "", path[128] = "";
		struct policy *p = policy_new();
		struct policy_error err;
		struct policy_decision d;
		unsigned k, ncomp = 1 + rnd(3), depth = 1 + rnd(4);
		bool dir = rnd(2), want;

		if (rnd(4) == 0)
			strcat(pattern, "/");
		for (k = 0; k < ncomp; k++) {
			unsigned t, ntok = 1 + rnd(3);

			if (k)
				strcat(pattern, "/");
			if (rnd(5) == 0) {
				strcat(pattern, "**");
				continue;
			}
			for (t = 0; t < ntok; t++)
				strcat(pattern, tokens[rnd(sizeof(tokens) / sizeof(tokens[0]))]);
		}
		if (rnd(4) == 0)
			strcat(pattern, "/");
		for (k = 0; k < depth; k++) {
			if (k)
				strcat(path, "/");
			strcat(path, names[rnd(sizeof(names) / sizeof(names[0]))]);
		}
		if (policy_add_rule(p, POLICY_READ, pattern, "t", 1, &err) == 0) {
			assert_int_equal(policy_resolve(p, path, dir, &d), 0);
			want = ref_match(pattern, path, dir);
			if ((d.own == POLICY_READ) != want)
				fail_msg("pattern '%s' on '%s'%s: engine %s, reference %s", pattern,
					 path, dir ? " (dir)" : "", d.own == POLICY_READ ? "match" : "no",
					 want ? "match" : "no");
			matched += want;
			/* The DFA fallback agrees. */
			policy_set_dfa_only(p, true);
			assert_int_equal(policy_resolve(p, path, dir, &d), 0);
			if ((d.own == POLICY_READ) != want)
				fail_msg("DFA: pattern '%s' on '%s'%s disagrees", pattern, path,
					 dir ? " (dir)" : "");
			policy_set_dfa_only(p, false);
			/*
			 * A match beneath an ancestor directory is seen from it: the
			 * partial match never misses ("could match beneath").
			 */
			if (want && !ref_match(pattern, NULL, true)) {
				char anc[128];
				char *slash;

				strcpy(anc, path);
				while ((slash = strrchr(anc, '/')) != NULL) {
					*slash = '\0';
					if (!ref_match(pattern, anc, true) &&
					    !policy_could_match_beneath(p, anc, POLICY_READ))
						fail_msg("pattern '%s' matches '%s'%s but not beneath '%s'",
							 pattern, path, dir ? "/" : "", anc);
				}
			}
			/* The root, too. */
			policy_resolve_root(p, &d);
			if ((d.own == POLICY_READ) != ref_match(pattern, NULL, true))
				fail_msg("pattern '%s' on the root disagrees", pattern);
			checked++;
		}
		policy_free(p);
	}
	/* Most generated patterns are valid; both answers are well represented. */
	assert_true(checked > 20000);
	assert_true(matched > checked / 10 && matched < checked - checked / 10);
}

/* ---- malformed patterns: the exact message ---- */

struct pattern_error_case {
	const char *pattern;
	const char *msg; /* policy_error_format() with origin "t.ini", line 3 */
};

static const struct pattern_error_case pattern_errors[] = {
	{ "", "t.ini:3: pattern '': empty pattern" },
	{ "/", "t.ini:3: pattern '/': empty pattern" },
	{ "x[a", "t.ini:3: pattern 'x[a': unterminated character class" },
	{ "[!", "t.ini:3: pattern '[!': unterminated character class" },
	{ "[]", "t.ini:3: pattern '[]': unterminated character class" },
	{ "[[:alpha:]", "t.ini:3: pattern '[[:alpha:]': unterminated character class" },
	{ "[a/b]", "t.ini:3: pattern '[a/b]': unterminated character class" },
	{ "x\\", "t.ini:3: pattern 'x\\': trailing backslash escapes nothing" },
	{ "{a,b", "t.ini:3: pattern '{a,b': unbalanced '{'" },
	{ "{a,{b}", "t.ini:3: pattern '{a,{b}': unbalanced '{'" },
	{ "{a/b,c}", "t.ini:3: pattern '{a/b,c}': unbalanced '{' (an alternation cannot contain '/')" },
	{ "a}", "t.ini:3: pattern 'a}': unbalanced '}' (write '\\}' for a literal one)" },
	{ "a//b", "t.ini:3: pattern 'a//b': empty path component" },
	{ "//a", "t.ini:3: pattern '//a': empty path component" },
	{ "a/./b", "t.ini:3: pattern 'a/./b': '.' and '..' components are not allowed" },
	{ "../x", "t.ini:3: pattern '../x': '.' and '..' components are not allowed" },
	{ "..", "t.ini:3: pattern '..': '.' and '..' components are not allowed" },
	{ ".", "t.ini:3: pattern '.': '.' and '..' components are not allowed" },
	{ "a/\\.", "t.ini:3: pattern 'a/\\.': '.' and '..' components are not allowed" },
	{ "a\\/b", "t.ini:3: pattern 'a\\/b': '/' cannot be escaped" },
	{ "[z-a]", "t.ini:3: pattern '[z-a]': invalid range 'z-a' in character class" },
	{ "a\nb", "t.ini:3: pattern 'a\nb': contains a line break (use '?' to match one)" },
};

static void test_pattern_error(void **state)
{
	const struct pattern_error_case *c = *state;
	struct policy *p = policy_new();
	struct policy_error err = { 0 };
	char msg[1024];

	assert_non_null(p);
	assert_int_equal(policy_add_rule(p, POLICY_NONE, c->pattern, "t.ini", 3, &err), -EINVAL);
	policy_error_format(&err, msg, sizeof(msg));
	assert_string_equal(msg, c->msg);
	assert_int_equal(policy_rule_count(p), 0);
	policy_free(p);
}

/* ---- resolution: effective level, deciding rule, pass-through, hiding ---- */

struct resolve_case {
	const char *policy; /* [rules] body */
	const char *path;   /* NULL: the root */
	bool dir;
	enum policy_level level;
	enum policy_level own;
	int rule;
	bool passthrough;
	bool hidden;
	size_t hidden_by;
};

#define SPEC3 "read = **\nnone = secrets/\nread = /secrets/public.key\n"
#define SPEC3_REVERSED "read = **\nread = /secrets/public.key\nnone = secrets/\n"
#define NESTED "read = **\nnone = /config/secrets/\nread = /config/secrets/*.pub\n"
#define CHAIN "none = /a/\nread = /a/b/c/d.txt\n"
#define ONLY_SRC "read = src/\n"
#define VIEW_MD "view = **\nread = *.md\n"
#define WRITE_BUILD "write = **\nnone = /build/\n"
#define LAST_WINS "none = *.c\nread = **\n"
#define DOCS "none = **\nread = /docs/\n"
#define FILE_OR_DIR "none = /a\nread = /a/b\n"
#define ROOT_NONE "read = *.c\nnone = **\n"
#define STAR_REINCLUDE "read = **\nnone = /vault/\nread = /vault/**\n"
#define BASENAME_REINCLUDE "read = **\nnone = /vault/\nread = **/public.key\n"
#define NONE_AFTER "read = **\nnone = /a/\nread = /a/b\nnone = /a/b/\n"

static const struct resolve_case resolve_cases[] = {
	/* docs/SPEC.md 3's example */
	{ SPEC3, "secrets", true, POLICY_VIEW, POLICY_NONE, 1, true, false, 0 },
	{ SPEC3, "secrets/public.key", false, POLICY_READ, POLICY_READ, 2, false, false, 0 },
	{ SPEC3, "secrets/other", false, POLICY_NONE, POLICY_NONE, 1, false, false, 0 },
	{ SPEC3, "secrets/sub", true, POLICY_NONE, POLICY_NONE, 1, false, false, 0 },
	{ SPEC3, "secrets/sub/x", false, POLICY_NONE, POLICY_NONE, 1, false, true, 11 },
	{ SPEC3, "a/secrets", true, POLICY_NONE, POLICY_NONE, 1, false, false, 0 },
	{ SPEC3, "a/secrets/public.key", false, POLICY_NONE, POLICY_NONE, 1, false, true, 9 },
	{ SPEC3, "src/x", false, POLICY_READ, POLICY_READ, 0, false, false, 0 },
	{ SPEC3, NULL, true, POLICY_READ, POLICY_READ, 0, false, false, 0 },
	/* the re-including rule must come after the hiding one */
	{ SPEC3_REVERSED, "secrets", true, POLICY_NONE, POLICY_NONE, 2, false, false, 0 },
	{ SPEC3_REVERSED, "secrets/public.key", false, POLICY_NONE, POLICY_NONE, 2, false, true,
	  7 },
	/* nested */
	{ NESTED, "config", true, POLICY_READ, POLICY_READ, 0, false, false, 0 },
	{ NESTED, "config/secrets", true, POLICY_VIEW, POLICY_NONE, 1, true, false, 0 },
	{ NESTED, "config/secrets/a.pub", false, POLICY_READ, POLICY_READ, 2, false, false, 0 },
	{ NESTED, "config/secrets/a.key", false, POLICY_NONE, POLICY_NONE, 1, false, false, 0 },
	{ NESTED, "config/secrets/d", true, POLICY_NONE, POLICY_NONE, 1, false, false, 0 },
	{ NESTED, "config/secrets/d/a.pub", false, POLICY_NONE, POLICY_NONE, 1, false, true, 16 },
	/* a chain of pass-through directories down to one file */
	{ CHAIN, NULL, true, POLICY_VIEW, POLICY_NONE, -1, true, false, 0 },
	{ CHAIN, "a", true, POLICY_VIEW, POLICY_NONE, 0, true, false, 0 },
	{ CHAIN, "a/b", true, POLICY_VIEW, POLICY_NONE, 0, true, false, 0 },
	{ CHAIN, "a/b/c", true, POLICY_VIEW, POLICY_NONE, 0, true, false, 0 },
	{ CHAIN, "a/b/c/d.txt", false, POLICY_READ, POLICY_READ, 1, false, false, 0 },
	{ CHAIN, "a/b/c/e.txt", false, POLICY_NONE, POLICY_NONE, 0, false, false, 0 },
	{ CHAIN, "a/x", true, POLICY_NONE, POLICY_NONE, 0, false, false, 0 },
	{ CHAIN, "a/x/y", false, POLICY_NONE, POLICY_NONE, 0, false, true, 3 },
	{ CHAIN, "b", true, POLICY_NONE, POLICY_NONE, -1, false, false, 0 },
	{ CHAIN, "b/x", false, POLICY_NONE, POLICY_NONE, -1, false, true, 1 },
	{ CHAIN, "a/b/c/d.txt", true, POLICY_READ, POLICY_READ, 1, false, false, 0 },
	/* the empty policy: nothing, the root included */
	{ "", NULL, true, POLICY_NONE, POLICY_NONE, -1, false, false, 0 },
	{ "", "x", false, POLICY_NONE, POLICY_NONE, -1, false, true, 0 },
	{ "", "x/y", true, POLICY_NONE, POLICY_NONE, -1, false, true, 0 },
	/* a basename rule alone: every directory passes through (a src/ may lie beneath) */
	{ ONLY_SRC, NULL, true, POLICY_VIEW, POLICY_NONE, -1, true, false, 0 },
	{ ONLY_SRC, "x", true, POLICY_VIEW, POLICY_NONE, -1, true, false, 0 },
	{ ONLY_SRC, "src", true, POLICY_READ, POLICY_READ, 0, false, false, 0 },
	{ ONLY_SRC, "src/a", false, POLICY_READ, POLICY_READ, 0, false, false, 0 },
	{ ONLY_SRC, "x", false, POLICY_NONE, POLICY_NONE, -1, false, false, 0 },
	{ ONLY_SRC, "x/y", false, POLICY_NONE, POLICY_NONE, -1, false, false, 0 },
	{ ONLY_SRC, "a/src/b", false, POLICY_READ, POLICY_READ, 0, false, false, 0 },
	/* levels and last match */
	{ VIEW_MD, "x.md", false, POLICY_READ, POLICY_READ, 1, false, false, 0 },
	{ VIEW_MD, "a/b.c", false, POLICY_VIEW, POLICY_VIEW, 0, false, false, 0 },
	{ WRITE_BUILD, "build", true, POLICY_NONE, POLICY_NONE, 1, false, false, 0 },
	{ WRITE_BUILD, "build/x", false, POLICY_NONE, POLICY_NONE, 1, false, true, 5 },
	{ WRITE_BUILD, "src/build", false, POLICY_WRITE, POLICY_WRITE, 0, false, false, 0 },
	{ LAST_WINS, "x.c", false, POLICY_READ, POLICY_READ, 1, false, false, 0 },
	{ DOCS, NULL, true, POLICY_VIEW, POLICY_NONE, 0, true, false, 0 },
	{ DOCS, "docs", true, POLICY_READ, POLICY_READ, 1, false, false, 0 },
	{ DOCS, "docs/x", false, POLICY_READ, POLICY_READ, 1, false, false, 0 },
	{ DOCS, "docs", false, POLICY_NONE, POLICY_NONE, 0, false, false, 0 },
	{ DOCS, "src", true, POLICY_NONE, POLICY_NONE, 0, false, false, 0 },
	{ DOCS, "README", false, POLICY_NONE, POLICY_NONE, 0, false, false, 0 },
	/* pass-through is for directories only */
	{ FILE_OR_DIR, "a", true, POLICY_VIEW, POLICY_NONE, 0, true, false, 0 },
	{ FILE_OR_DIR, "a", false, POLICY_NONE, POLICY_NONE, 0, false, false, 0 },
	{ FILE_OR_DIR, "a/b", false, POLICY_READ, POLICY_READ, 1, false, false, 0 },
	/* hidden by the root itself */
	{ ROOT_NONE, NULL, true, POLICY_NONE, POLICY_NONE, 1, false, false, 0 },
	{ ROOT_NONE, "x.c", false, POLICY_NONE, POLICY_NONE, 1, false, true, 0 },
	/* a trailing globstar re-includes the contents; so does a leading one (issue 16) */
	{ STAR_REINCLUDE, "vault", true, POLICY_VIEW, POLICY_NONE, 1, true, false, 0 },
	{ STAR_REINCLUDE, "vault/x", false, POLICY_READ, POLICY_READ, 2, false, false, 0 },
	{ STAR_REINCLUDE, "vault/d/x", false, POLICY_READ, POLICY_READ, 2, false, false, 0 },
	{ BASENAME_REINCLUDE, "vault", true, POLICY_VIEW, POLICY_NONE, 1, true, false, 0 },
	{ BASENAME_REINCLUDE, "vault/public.key", false, POLICY_READ, POLICY_READ, 2, false, false,
	  0 },
	{ BASENAME_REINCLUDE, "vault/other", false, POLICY_NONE, POLICY_NONE, 1, false, false, 0 },
	/* a later none on the re-included directory wins again */
	{ NONE_AFTER, "a", true, POLICY_VIEW, POLICY_NONE, 1, true, false, 0 },
	{ NONE_AFTER, "a/b", true, POLICY_NONE, POLICY_NONE, 3, false, false, 0 },
	{ NONE_AFTER, "a/b", false, POLICY_READ, POLICY_READ, 2, false, false, 0 },
	{ NONE_AFTER, "/a/b", false, POLICY_READ, POLICY_READ, 2, false, false, 0 },
};

static struct policy *load_rules(const char *body)
{
	struct policy *p = policy_new();
	struct policy_error err = { 0 };
	char *text;

	assert_non_null(p);
	assert_true(asprintf(&text, "[rules]\n%s", body) > 0);
	if (policy_load_text(p, text, strlen(text), "t.ini", NULL, NULL, &err) != 0)
		fail_msg("policy did not load: %s:%d: %s", err.file, err.line, err.msg);
	free(text);
	return p;
}

static void test_resolve_case(void **state)
{
	const struct resolve_case *c = *state;
	struct policy *p = load_rules(c->policy);
	struct policy_decision d;

	if (c->path)
		assert_int_equal(policy_resolve(p, c->path, c->dir, &d), 0);
	else
		policy_resolve_root(p, &d);
	assert_string_equal(policy_level_name(d.level), policy_level_name(c->level));
	assert_string_equal(policy_level_name(d.own), policy_level_name(c->own));
	assert_int_equal(d.rule, c->rule);
	assert_int_equal(d.passthrough, c->passthrough);
	assert_int_equal(d.hidden, c->hidden);
	assert_int_equal(d.hidden_by, c->hidden_by);
	policy_free(p);
}

/* ---- re-inclusion: any later rule that could match beneath (issue 16 item 1) ---- */

struct reinclude_case {
	const char *policy; /* [rules] body */
	const char *path;   /* NULL: the root */
	bool dir;
	enum policy_level level;
	bool passthrough;
	int by;             /* reincluded_by: 0-based rule index, -1 */
};

#define A_B "none = **\nread = a/**/b\n"
#define ANY_MD "none = **\nread = **/*.md\n"
#define SRC_LIB "none = **\nread = {src,lib}/**/*.py\n"
#define SRC_C "none = **\nread = src/**/*.c\n"
/*
 * Under a dir-only secret rule.  The intent (docs/SPEC.md 3's own example is
 * "read = /secrets/public.key" after "none = secrets/"): a dir-only none
 * rule is a rule like any other, so a later rule that could match beneath
 * it re-opens it as a pass-through directory that shows only what the
 * later rule reaches.  An anchored later rule re-opens only its own
 * secrets/; one at any depth (SECRET_ANY_PUB) re-opens every secrets/, since by
 * last-match-wins it does decide every .pub beneath them.  Whoever wants
 * a directory sealed whatever comes later repeats its none rule last.
 */
#define SECRET_PUB "read = **\nnone = secrets/\nread = secrets/**/*.pub\n"
#define SECRET_ANY_PUB "read = **\nnone = secrets/\nread = **/*.pub\n"
#define SECRET_SEALED "read = **\nnone = secrets/\nread = **/*.pub\nnone = secrets/\n"
#define HIDE_AGAIN "none = **\nread = src/**/*.c\nnone = src/gen/\n"
#define NONE_RULES_DONT "none = **\nnone = src/**/*.c\n"
#define VIEW_DOCS "none = **\nview = docs/**\n"
#define CLASS_ESC "none = **\nread = [ab]x/k\nread = c\\*/k\n"

static const struct reinclude_case reinclude_cases[] = {
	/* A_B: every directory under a/, nothing else */
	{ A_B, NULL, true, POLICY_VIEW, true, 1 },
	{ A_B, "a", true, POLICY_VIEW, true, 1 },
	{ A_B, "a/x", true, POLICY_VIEW, true, 1 },
	{ A_B, "a/x/y/z", true, POLICY_VIEW, true, 1 },
	{ A_B, "a/b", false, POLICY_READ, false, -1 },
	{ A_B, "a/x/y/b", false, POLICY_READ, false, -1 },
	{ A_B, "a/x/b/inside", false, POLICY_READ, false, -1 },
	{ A_B, "a/x/c", false, POLICY_NONE, false, -1 },
	{ A_B, "c", true, POLICY_NONE, false, -1 },
	{ A_B, "c/a/b", false, POLICY_NONE, false, -1 },
	{ A_B, "ab", true, POLICY_NONE, false, -1 },
	/* ANY_MD: every directory at any depth */
	{ ANY_MD, "docs", true, POLICY_VIEW, true, 1 },
	{ ANY_MD, "docs/x/y", true, POLICY_VIEW, true, 1 },
	{ ANY_MD, "docs/x/y/README.md", false, POLICY_READ, false, -1 },
	{ ANY_MD, "README.md", false, POLICY_READ, false, -1 },
	{ ANY_MD, "docs/x/main.c", false, POLICY_NONE, false, -1 },
	{ ANY_MD, "docs/x/main.c", true, POLICY_VIEW, true, 1 },
	/* SRC_LIB: both roots, nothing beside them */
	{ SRC_LIB, "src", true, POLICY_VIEW, true, 1 },
	{ SRC_LIB, "lib", true, POLICY_VIEW, true, 1 },
	{ SRC_LIB, "lib/a/b", true, POLICY_VIEW, true, 1 },
	{ SRC_LIB, "lib/a/b/m.py", false, POLICY_READ, false, -1 },
	{ SRC_LIB, "src/m.py", false, POLICY_READ, false, -1 },
	{ SRC_LIB, "src/m.c", false, POLICY_NONE, false, -1 },
	{ SRC_LIB, "bin", true, POLICY_NONE, false, -1 },
	{ SRC_LIB, "srcx", true, POLICY_NONE, false, -1 },
	{ SRC_LIB, "bin/src/m.py", false, POLICY_NONE, false, -1 },
	/* the example */
	{ SRC_C, "src/x/y/z.c", false, POLICY_READ, false, -1 },
	{ SRC_C, "src/x/y", true, POLICY_VIEW, true, 1 },
	{ SRC_C, "src/x/y/z.h", false, POLICY_NONE, false, -1 },
	/* under a dir-only secret rule (see SECRET_PUB) */
	{ SECRET_PUB, "secrets", true, POLICY_VIEW, true, 2 },
	{ SECRET_PUB, "secrets/id.pub", false, POLICY_READ, false, -1 },
	{ SECRET_PUB, "secrets/id", false, POLICY_NONE, false, -1 },
	{ SECRET_PUB, "secrets/sub", true, POLICY_VIEW, true, 2 },
	{ SECRET_PUB, "secrets/sub/k.pub", false, POLICY_READ, false, -1 },
	{ SECRET_PUB, "secrets/sub/k", false, POLICY_NONE, false, -1 },
	{ SECRET_PUB, "a/secrets", true, POLICY_NONE, false, -1 },
	{ SECRET_PUB, "a/secrets/k.pub", false, POLICY_NONE, false, -1 },
	{ SECRET_ANY_PUB, "a/secrets", true, POLICY_VIEW, true, 2 },
	{ SECRET_ANY_PUB, "a/secrets/k.pub", false, POLICY_READ, false, -1 },
	{ SECRET_ANY_PUB, "a/secrets/k", false, POLICY_NONE, false, -1 },
	{ SECRET_SEALED, "secrets", true, POLICY_NONE, false, -1 },
	{ SECRET_SEALED, "a/secrets", true, POLICY_NONE, false, -1 },
	{ SECRET_SEALED, "a/secrets/k.pub", false, POLICY_NONE, false, -1 },
	{ SECRET_SEALED, "a/k.pub", false, POLICY_READ, false, -1 },
	/* last match still wins: a later none hides again */
	{ HIDE_AGAIN, "src", true, POLICY_VIEW, true, 1 },
	{ HIDE_AGAIN, "src/a/x.c", false, POLICY_READ, false, -1 },
	{ HIDE_AGAIN, "src/gen", true, POLICY_NONE, false, -1 },
	{ HIDE_AGAIN, "src/gen/x.c", false, POLICY_NONE, false, -1 },
	{ HIDE_AGAIN, "src/gen/d", true, POLICY_NONE, false, -1 },
	/* only rules of level view or more re-include */
	{ NONE_RULES_DONT, NULL, true, POLICY_NONE, false, -1 },
	{ VIEW_DOCS, "docs", true, POLICY_VIEW, true, 1 },
	{ VIEW_DOCS, "docs/x", false, POLICY_VIEW, false, -1 },
	{ VIEW_DOCS, "doc", true, POLICY_NONE, false, -1 },
	/* classes and escapes are pcre2's business, not a literal-prefix guess */
	{ CLASS_ESC, "ax", true, POLICY_VIEW, true, 1 },
	{ CLASS_ESC, "bx", true, POLICY_VIEW, true, 1 },
	{ CLASS_ESC, "cx", true, POLICY_NONE, false, -1 },
	{ CLASS_ESC, "c*", true, POLICY_VIEW, true, 2 },
	{ CLASS_ESC, "cc", true, POLICY_NONE, false, -1 },
	{ CLASS_ESC, "c*/k", false, POLICY_READ, false, -1 },
};

static void check_reinclude(const struct reinclude_case *c, bool dfa)
{
	struct policy *p = load_rules(c->policy);
	struct policy_decision d;

	policy_set_dfa_only(p, dfa);
	if (c->path)
		assert_int_equal(policy_resolve(p, c->path, c->dir, &d), 0);
	else
		policy_resolve_root(p, &d);
	if (d.level != c->level || d.passthrough != c->passthrough || d.reincluded_by != c->by)
		fail_msg("%s: level %s pass-through %d by #%d; want %s %d #%d",
			 dfa ? "DFA" : "JIT", policy_level_name(d.level), d.passthrough,
			 d.reincluded_by, policy_level_name(c->level), c->passthrough, c->by);
	assert_false(d.match_error);
	policy_free(p);
}

static void test_reinclude_case(void **state)
{
	check_reinclude(*state, false);
	check_reinclude(*state, true);
}

/* ---- policy_could_match_beneath (issue 16 item 2) ---- */

struct beneath_case {
	const char *policy;
	const char *dir;
	enum policy_level min;
	bool want;
};

#define AGENT_LIKE "read = **\nwrite = /output/\nwrite = /tmp/\nnone = .env\n"
#define WRITE_LOG "read = **\nwrite = *.log\n"
#define WRITE_OUT "read = **\nwrite = out/**/*.txt\n"
#define DOCS_RO "write = **\nread = /docs/\n"
#define DOCS_DRAFTS "write = **\nread = /docs/\nwrite = /docs/drafts/\n"
#define WRITE_ALT "read = **\nwrite = a/{b,c}/d\n"
#define WRITE_ESC "read = **\nwrite = a\\*/x\nwrite = [kl]/x\n"
#define WRITE_BEFORE "write = /out/\nread = **\n"

static const struct beneath_case beneath_cases[] = {
	{ AGENT_LIKE, "", POLICY_WRITE, true },
	{ AGENT_LIKE, "/", POLICY_WRITE, true },
	{ AGENT_LIKE, "src", POLICY_WRITE, false },
	{ AGENT_LIKE, "src/output", POLICY_WRITE, false },
	{ AGENT_LIKE, "output", POLICY_WRITE, false }, /* itself write: nothing after decides */
	{ AGENT_LIKE, "src", POLICY_NONE, true },        /* none = .env at any depth */
	{ AGENT_LIKE, "src", POLICY_VIEW, false },
	{ WRITE_LOG, "a/b", POLICY_WRITE, true },
	{ WRITE_LOG, "", POLICY_WRITE, true },
	{ WRITE_OUT, "out", POLICY_WRITE, true },
	{ WRITE_OUT, "out/x/y", POLICY_WRITE, true },
	{ WRITE_OUT, "outx", POLICY_WRITE, false },
	{ WRITE_OUT, "src/out", POLICY_WRITE, false },
	{ DOCS_RO, "docs", POLICY_WRITE, false },
	{ DOCS_RO, "docs/x", POLICY_WRITE, false },
	{ DOCS_DRAFTS, "docs", POLICY_WRITE, true },
	{ DOCS_DRAFTS, "docs/x", POLICY_WRITE, false },
	{ WRITE_ALT, "a", POLICY_WRITE, true },
	{ WRITE_ALT, "a/c", POLICY_WRITE, true },
	{ WRITE_ALT, "a/e", POLICY_WRITE, false },
	{ WRITE_ALT, "b", POLICY_WRITE, false },
	{ WRITE_ESC, "a*", POLICY_WRITE, true },
	{ WRITE_ESC, "ab", POLICY_WRITE, false },
	{ WRITE_ESC, "k", POLICY_WRITE, true },
	{ WRITE_ESC, "m", POLICY_WRITE, false },
	{ WRITE_BEFORE, "", POLICY_WRITE, false }, /* read = ** after it decides everything */
	{ WRITE_BEFORE, "out", POLICY_WRITE, false },
	{ "", "", POLICY_NONE, false },
	{ AGENT_LIKE, "a//b", POLICY_WRITE, false }, /* malformed: false */
	{ AGENT_LIKE, "../x", POLICY_WRITE, false },
};

static void test_beneath_case(void **state)
{
	const struct beneath_case *c = *state;
	struct policy *p = load_rules(c->policy);

	assert_int_equal(policy_could_match_beneath(p, c->dir, c->min), c->want);
	policy_set_dfa_only(p, true);
	assert_int_equal(policy_could_match_beneath(p, c->dir, c->min), c->want);
	policy_free(p);
}

/* ---- what a pass-through directory lists, and its mode ---- */

struct listing_case {
	const char *policy;
	const char *dir;      /* "" the root */
	const char *children; /* names, ',' between, a trailing '/' for a directory */
	const char *listed;   /* the children whose level is not none, in order */
	const char *levels;   /* the directory's level, then 'w' when it keeps its w bits */
};

static const struct listing_case listing_cases[] = {
	{ SRC_C, "src", "a.c,a.h,sub/,gen/,.env", "a.c,sub/,gen/", "view" },
	{ HIDE_AGAIN, "src", "a.c,a.h,sub/,gen/", "a.c,sub/", "view" },
	{ SECRET_PUB, "secrets", "id,id.pub,sub/,x.pub/", "id.pub,sub/,x.pub/", "view" },
	{ SECRET_SEALED, "a", "secrets/,k.pub,k", "k.pub,k", "read" },
	{ A_B, "", "a/,b,c/", "a/", "view" },
	{ "none = **\nwrite = out/**/*.log\n", "out", "x.log,x.txt,d/", "x.log,d/", "view w" },
	{ "none = **\nwrite = out/**/*.log\n", "", "out/,x.log", "out/", "view w" },
	{ "none = **\nread = src/**/*.c\n", "", "src/,x.c", "src/", "view" },
};

/* The level of DIR's child NAME, as the daemon resolves it at lookup. */
static enum policy_level child_level(const struct policy *p, const struct policy_decision *dir,
				     const char *dirpath, const char *name, bool is_dir)
{
	struct policy_decision d;
	char path[256];

	(void)snprintf(path, sizeof(path), "%s%s%s", dirpath, *dirpath ? "/" : "", name);
	assert_int_equal(policy_resolve_child(p, dir, path, is_dir, &d), 0);
	return d.level;
}

static void test_listing_case(void **state)
{
	const struct listing_case *c = *state;
	struct policy *p = load_rules(c->policy);
	struct policy_decision d;
	char listed[256] = "", levels[32], *names = strdup(c->children), *save = NULL, *n;

	assert_non_null(names);
	assert_int_equal(policy_resolve(p, c->dir, true, &d), 0);
	/* As fs_fill_attr() does: a directory below write keeps w only if writes may land beneath. */
	(void)snprintf(levels, sizeof(levels), "%s%s", policy_level_name(d.level),
		       d.level < POLICY_WRITE && policy_could_match_beneath(p, c->dir, POLICY_WRITE)
			       ? " w" : "");
	assert_string_equal(levels, c->levels);
	for (n = strtok_r(names, ",", &save); n; n = strtok_r(NULL, ",", &save)) {
		size_t len = strlen(n);
		bool is_dir = n[len - 1] == '/';
		char name[64];

		(void)snprintf(name, sizeof(name), "%.*s", (int)(len - is_dir), n);
		if (child_level(p, &d, c->dir, name, is_dir) == POLICY_NONE)
			continue;
		if (*listed)
			strcat(listed, ",");
		strcat(listed, n);
	}
	assert_string_equal(listed, c->listed);
	free(names);
	policy_free(p);
}

/* ---- bounded matching (issue 15 item 6) ---- */

/*
 * Patterns that backtrack catastrophically on some names: many stars in
 * one component (O(len^stars)) and alternations of overlapping lengths
 * (O(2^n)).  The names hold the 'b' each pattern requires, so pcre2's
 * required-character check cannot cut the search short; the miss has it
 * one place too early.  Behind "read = **", a none rule of each kind must
 * hide exactly the names it matches and leave the others readable: never
 * an error (the ERANGE of issue 15 item 6), never another answer.
 */
static void test_match_limit(void **state)
{
	static const struct {
		const char *pattern;
		size_t as; /* the names: as 'a's, then "b" (hit) or "ba" (miss) */
	} evil[] = {
		{ "*a*a*a*a*a*a*a*a*a*b", 240 },
		{ "/*a*a*a*a*a*a*a*a*a*b", 240 },
		{ "**/*a*a*a*a*a*a*a*a*a*b", 240 },
		{ "{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}"
		  "{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}"
		  "{a,aa}{a,aa}{a,aa}{a,aa}b",
		  45 },
		{ "*{a,aa}*{a,aa}*{a,aa}*{a,aa}*{a,aa}*{a,aa}*{a,aa}*b", 240 },
		{ "[a]*[!b]*?*a*a*?*a*a*a*b", 240 },
	};
	char hit[256], miss[256], path[600];
	size_t k;

	for (k = 0; k < sizeof(evil) / sizeof(evil[0]); k++) {
		struct policy *p = policy_new();
		struct policy_error err = { 0 };
		struct policy_decision d;
		int dfa;

		memset(hit, 'a', evil[k].as);
		memcpy(miss, hit, evil[k].as);
		strcpy(hit + evil[k].as, "b");
		strcpy(miss + evil[k].as, "ba");
		assert_int_equal(policy_add_rule(p, POLICY_READ, "**", "t", 1, &err), 0);
		if (policy_add_rule(p, POLICY_NONE, evil[k].pattern, "t", 2, &err) != 0)
			fail_msg("'%s' refused: %s", evil[k].pattern, err.msg);
		for (dfa = 0; dfa < 2; dfa++) {
			policy_set_dfa_only(p, dfa);
			assert_int_equal(policy_resolve(p, miss, false, &d), 0);
			if (d.level != POLICY_READ || d.match_error)
				fail_msg("'%s' on the miss (%s): level %s, error %d", evil[k].pattern,
					 dfa ? "DFA" : "JIT", policy_level_name(d.level),
					 d.match_error);
			(void)snprintf(path, sizeof(path), "%s/%s", miss, miss);
			assert_int_equal(policy_resolve(p, path, true, &d), 0);
			assert_int_equal(d.level, POLICY_READ);
			assert_int_equal(policy_rule_matches(p, 1, path, true), 0);
			assert_int_equal(policy_resolve(p, hit, false, &d), 0);
			if (d.level != POLICY_NONE || d.rule != 1 || d.match_error)
				fail_msg("'%s' on the hit (%s): level %s rule %d", evil[k].pattern,
					 dfa ? "DFA" : "JIT", policy_level_name(d.level), d.rule);
			assert_int_equal(policy_rule_matches(p, 1, hit, false), 1);
			assert_false(policy_could_match_beneath(p, hit, POLICY_VIEW));
		}
		policy_free(p);
	}
}

/* Over-long patterns are refused at load, with their line. */
static void test_pattern_too_long(void **state)
{
	char text[1200 + 32], msg[1024];
	struct policy *p = policy_new();
	struct policy_error err = { 0 };

	strcpy(text, "[rules]\nread = ");
	memset(text + strlen(text), 'a', 1025);
	strcpy(text + 15 + 1025, "\n");
	/* Over the 197-byte line limit: that error comes first, and names the line. */
	assert_int_equal(policy_load_text(p, text, strlen(text), "p.ini", NULL, NULL, &err),
			 -EINVAL);
	policy_error_format(&err, msg, sizeof(msg));
	assert_non_null(strstr(msg, "p.ini:2: "));
	memset(text, 'a', 1025);
	text[1025] = '\0';
	assert_int_equal(policy_add_rule(p, POLICY_READ, text, "--rule", 0, &err), -EINVAL);
	policy_error_format(&err, msg, sizeof(msg));
	assert_string_equal(msg, "--rule: pattern 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...': "
				 "longer than 1024 bytes");
	text[1024] = '\0';
	assert_int_equal(policy_add_rule(p, POLICY_READ, text, "--rule", 0, &err), 0);
	policy_free(p);
}

/* Both matchers agree on every pattern table row (the DFA one is the fallback). */
static void test_dfa_agrees(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(glob_cases) / sizeof(glob_cases[0]); i++) {
		const struct glob_case *c = &glob_cases[i];
		struct policy *p = policy_new();
		struct policy_error err;
		struct policy_decision d;

		assert_int_equal(policy_add_rule(p, POLICY_READ, c->pattern, "t", 1, &err), 0);
		policy_set_dfa_only(p, true);
		if (c->path)
			assert_int_equal(policy_resolve_child(
						 p, &(struct policy_decision){ .level = POLICY_READ },
						 c->path, c->dir, &d),
					 0);
		else
			policy_resolve_root(p, &d);
		if ((d.own == POLICY_READ) != c->match)
			fail_msg("DFA: glob '%s' on '%s'%s: %s", c->pattern,
				 c->path ? c->path : "(root)", c->dir ? "/" : "",
				 d.own == POLICY_READ ? "match" : "no match");
		policy_free(p);
	}
	for (i = 0; i < sizeof(resolve_cases) / sizeof(resolve_cases[0]); i++) {
		const struct resolve_case *c = &resolve_cases[i];
		struct policy *p = load_rules(c->policy);
		struct policy_decision d;

		policy_set_dfa_only(p, true);
		if (c->path)
			assert_int_equal(policy_resolve(p, c->path, c->dir, &d), 0);
		else
			policy_resolve_root(p, &d);
		if (d.level != c->level || d.rule != c->rule || d.passthrough != c->passthrough ||
		    d.hidden != c->hidden)
			fail_msg("DFA: resolve #%zu disagrees", i);
		policy_free(p);
	}
}

/* ---- malformed policy files: one line with file, line and reason ---- */

struct load_error_case {
	const char *text;
	size_t len; /* 0: strlen(text) */
	const char *msg;
};

static char long_line[300];

static const struct load_error_case load_errors[] = {
	{ "[rules]\nwirte = x\n", 0,
	  "policy.ini:2: unknown level 'wirte' (expected none, view, read or write)" },
	{ "[rules]\nRead = x\n", 0,
	  "policy.ini:2: unknown level 'Read' (expected none, view, read or write)" },
	{ "[foo]\n", 0, "policy.ini:1: unknown section [foo] (expected [policy] or [rules])" },
	{ "[rules]\nread = a\n\n[Rules]\nread = b\n", 0,
	  "policy.ini:4: unknown section [Rules] (expected [policy] or [rules])" },
	{ "\xef\xbb\xbf[foo]\n", 0, "policy.ini:1: unknown section [foo] (expected [policy] or [rules])" },
	{ "[policy]\nx = 1\n", 0,
	  "policy.ini:2: unknown key 'x' in [policy] (expected description or preset)" },
	{ "read = x\n", 0,
	  "policy.ini:1: key 'read' before any section (expected [policy] or [rules])" },
	{ "[rules]\nread = x[a\n", 0, "policy.ini:2: pattern 'x[a': unterminated character class" },
	{ "[rules]\nnone =\n", 0, "policy.ini:2: pattern '': empty pattern" },
	{ "[rules]\nread = a\n[policy]\npreset = base\n", 0,
	  "policy.ini:4: 'preset =' must come before the rules" },
	{ "[policy]\npreset = base\npreset = base\n", 0,
	  "policy.ini:3: a second 'preset =' (only one base preset)" },
	{ "[policy]\npreset = nope\n", 0, "policy.ini:2: unknown preset 'nope'" },
	{ "[policy]\npreset = bad\n", 0,
	  "bad.ini:3: unknown level 'reed' (expected none, view, read or write)" },
	{ "[policy]\npreset = loop\n", 0, "loop.ini:2: preset 'loop': presets nest too deep" },
	{ "[rules]\njunk\n", 0, "policy.ini:2: expected '[section]' or 'key = value'" },
	{ "[rules\n", 0, "policy.ini:1: expected '[section]' or 'key = value'" },
	{ "[rules]\njunk\nwirte = x\n", 0, "policy.ini:2: expected '[section]' or 'key = value'" },
	{ "[rules]\nread = a\0b\n", 17, "policy.ini:2: line contains a NUL byte" },
	{ long_line, 0, "policy.ini:2: line too long (at most 197 bytes)" },
	{ "; comment\n# comment\n\n[rules]\nread = a\nview = **\nwrite = b{\n", 0,
	  "policy.ini:7: pattern 'b{': unbalanced '{'" },
};

/* Presets for the tests above, served from memory. */
static int test_presets(void *ctx, const char *name, char **text, char **origin)
{
	static const struct {
		const char *name, *text;
	} presets[] = {
		{ "base", "[policy]\ndescription = the base\n[rules]\nread = **\n" },
		{ "bad", "[rules]\nread = **\nreed = x\n" },
		{ "loop", "[policy]\npreset = loop\n" },
		{ "mid", "[policy]\npreset = base\n[rules]\nnone = *.key\n" },
	};
	size_t i;

	(void)ctx;
	for (i = 0; i < sizeof(presets) / sizeof(presets[0]); i++) {
		if (strcmp(presets[i].name, name))
			continue;
		*text = strdup(presets[i].text);
		assert_true(asprintf(origin, "%s.ini", name) > 0);
		return 0;
	}
	return -ENOENT;
}

static void test_load_error(void **state)
{
	const struct load_error_case *c = *state;
	struct policy *p = policy_new();
	struct policy_error err = { 0 };
	size_t len = c->len ? c->len : strlen(c->text);
	char msg[1024];

	assert_non_null(p);
	assert_int_equal(policy_load_text(p, c->text, len, "policy.ini", test_presets, NULL, &err),
			 -EINVAL);
	policy_error_format(&err, msg, sizeof(msg));
	assert_string_equal(msg, c->msg);
	policy_free(p);
}

static void test_preset_without_callback(void **state)
{
	static const char text[] = "[policy]\npreset = base\n";
	struct policy *p = policy_new();
	struct policy_error err = { 0 };
	char msg[1024];

	assert_int_equal(policy_load_text(p, text, strlen(text), "p.ini", NULL, NULL, &err), -EINVAL);
	policy_error_format(&err, msg, sizeof(msg));
	assert_string_equal(msg, "p.ini:2: 'preset =' is not allowed here");
	policy_free(p);
}

/* ---- what does load: order, origins, description, comments, indentation ---- */

static void test_load_good(void **state)
{
	static const char text[] = "; a policy\n"
				   "[policy]\n"
				   "description = Read the code, write build/\n"
				   "preset = mid\n"
				   "\n"
				   "[rules]\n"
				   "    write = build/\n"
				   "\tnone  = *.sqlite ; inline comment\n"
				   "read = a;b\n"
				   "view: x=y\n";
	static const struct {
		enum policy_level level;
		const char *pattern, *origin;
		int line;
	} want[] = {
		{ POLICY_READ, "**", "base.ini", 4 },     { POLICY_NONE, "*.key", "mid.ini", 4 },
		{ POLICY_WRITE, "build/", "p.ini", 7 },   { POLICY_NONE, "*.sqlite", "p.ini", 8 },
		{ POLICY_READ, "a;b", "p.ini", 9 },       { POLICY_VIEW, "x=y", "p.ini", 10 },
	};
	struct policy *p = policy_new();
	struct policy_error err = { 0 };
	size_t i;

	if (policy_load_text(p, text, strlen(text), "p.ini", test_presets, NULL, &err))
		fail_msg("%s:%d: %s", err.file, err.line, err.msg);
	assert_int_equal(policy_rule_count(p), sizeof(want) / sizeof(want[0]));
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct policy_rule_info *ri = policy_rule(p, i);

		assert_non_null(ri);
		assert_int_equal(ri->index, i);
		assert_int_equal(ri->level, want[i].level);
		assert_string_equal(ri->pattern, want[i].pattern);
		assert_string_equal(ri->origin, want[i].origin);
		assert_int_equal(ri->line, want[i].line);
	}
	assert_null(policy_rule(p, i));
	/* The file's own description wins over its preset's. */
	assert_string_equal(policy_description(p), "Read the code, write build/");
	assert_string_equal(policy_canonical_text(p), "[rules]\n"
						      "read = **\n"
						      "none = *.key\n"
						      "write = build/\n"
						      "none = *.sqlite\n"
						      "read = a;b\n"
						      "view = x=y\n");
	policy_free(p);

	/* Empty text and comments only: no rules, no description. */
	p = policy_new();
	assert_int_equal(policy_load_text(p, "", 0, "e.ini", NULL, NULL, &err), 0);
	assert_int_equal(policy_load_text(p, "; x\n\n# y\n", 9, "e.ini", NULL, NULL, &err), 0);
	assert_int_equal(policy_rule_count(p), 0);
	assert_null(policy_description(p));
	assert_string_equal(policy_canonical_text(p), "[rules]\n");
	policy_free(p);

	/* A byte order mark and CRLF line ends are fine. */
	p = policy_new();
	assert_int_equal(policy_load_text(p, "\xef\xbb\xbf[rules]\r\nread = a\r\n", 22, "b.ini", NULL,
					  NULL, &err),
			 0);
	assert_int_equal(policy_rule_count(p), 1);
	assert_string_equal(policy_rule(p, 0)->pattern, "a");
	policy_free(p);

	/* A preset's description stays when the file has none; no final newline needed. */
	p = policy_new();
	assert_int_equal(policy_load_text(p, "[policy]\npreset = base", 22, "f.ini", test_presets,
					  NULL, &err),
			 0);
	assert_string_equal(policy_description(p), "the base");
	policy_free(p);
}

/* ---- --rule ---- */

static void test_rule_arg(void **state)
{
	static const struct {
		const char *arg;
		int ret;
		const char *pattern; /* or the formatted error */
		enum policy_level level;
	} cases[] = {
		{ "read=src/", 0, "src/", POLICY_READ },
		{ " write = a b ", 0, "a b", POLICY_WRITE },
		{ "read=a=b", 0, "a=b", POLICY_READ },
		{ "none=\t*.key", 0, "*.key", POLICY_NONE },
		{ "nope", -EINVAL, "--rule 'nope': expected LEVEL=PATTERN", 0 },
		{ "wirte=x", -EINVAL, "--rule 'wirte=x': unknown level 'wirte'", 0 },
		{ "=x", -EINVAL, "--rule '=x': unknown level ''", 0 },
		{ "none=x[a", -EINVAL, "--rule 'none=x[a': pattern 'x[a': unterminated character class",
		  0 },
		{ "read=", -EINVAL, "--rule 'read=': pattern '': empty pattern", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct policy *p = policy_new();
		struct policy_error err = { 0 };
		int r = policy_add_rule_arg(p, cases[i].arg, &err);

		if (r != cases[i].ret)
			fail_msg("--rule '%s' gave %d", cases[i].arg, r);
		if (r == 0) {
			const struct policy_rule_info *ri = policy_rule(p, 0);

			assert_string_equal(ri->pattern, cases[i].pattern);
			assert_int_equal(ri->level, cases[i].level);
			assert_string_equal(ri->origin, "--rule");
			assert_int_equal(ri->line, 0);
		} else {
			char msg[1024];

			policy_error_format(&err, msg, sizeof(msg));
			assert_string_equal(msg, cases[i].pattern);
		}
		policy_free(p);
	}
}

/* ---- levels, paths the resolver refuses ---- */

static void test_levels_and_bad_paths(void **state)
{
	static const char *const bad[] = { "a//b", "a/./b", "../a", "a/..", "a/", ".", "//a" };
	struct policy *p = load_rules("read = **\n");
	struct policy_decision d, root;
	enum policy_level l;
	size_t i;

	assert_int_equal(policy_level_parse("none", &l), 0);
	assert_int_equal(l, POLICY_NONE);
	assert_int_equal(policy_level_parse("write", &l), 0);
	assert_int_equal(l, POLICY_WRITE);
	assert_int_equal(policy_level_parse("WRITE", &l), -EINVAL);
	assert_int_equal(policy_level_parse("", &l), -EINVAL);
	assert_string_equal(policy_level_name(POLICY_VIEW), "view");
	assert_true(POLICY_NONE < POLICY_VIEW && POLICY_VIEW < POLICY_READ &&
		    POLICY_READ < POLICY_WRITE);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (policy_resolve(p, bad[i], false, &d) != -EINVAL)
			fail_msg("path '%s' accepted", bad[i]);
	}
	policy_resolve_root(p, &root);
	assert_int_equal(policy_resolve_child(p, &root, "", true, &d), -EINVAL);
	assert_int_equal(policy_resolve_child(p, &root, "/", true, &d), -EINVAL);
	assert_int_equal(policy_resolve_child(p, &root, "a//b", true, &d), -EINVAL);
	/* "" and "/" are the root. */
	assert_int_equal(policy_resolve(p, "", true, &d), 0);
	assert_int_equal(d.level, POLICY_READ);
	assert_int_equal(policy_resolve(p, "/", true, &d), 0);
	assert_int_equal(d.level, POLICY_READ);
	assert_int_equal(policy_add_rule(p, (enum policy_level)7, "x", "t", 0, NULL), -EINVAL);
	policy_free(p);
}

/* ---- policy_rule_matches: each rule on its own ---- */

static void test_rule_matches(void **state)
{
	struct policy *p = load_rules("read = **\nnone = secrets/\nread = /secrets/public.key\n");

	assert_int_equal(policy_rule_matches(p, 0, "/", true), 1);
	assert_int_equal(policy_rule_matches(p, 1, "", true), 0);
	assert_int_equal(policy_rule_matches(p, 1, "secrets/public.key", false), 1);
	assert_int_equal(policy_rule_matches(p, 2, "secrets/public.key", false), 1);
	assert_int_equal(policy_rule_matches(p, 2, "x/secrets/public.key", false), 0);
	assert_int_equal(policy_rule_matches(p, 1, "secrets", false), 0);
	assert_int_equal(policy_rule_matches(p, 1, "secrets", true), 1);
	assert_int_equal(policy_rule_matches(p, 3, "a", false), -EINVAL);
	assert_int_equal(policy_rule_matches(p, 0, "a//b", false), -EINVAL);
	policy_free(p);
}

/* ---- policy_resolve and policy_resolve_child agree on a whole tree ---- */

static void test_resolve_child_agrees(void **state)
{
	static const char *const policies[] = {
		SPEC3, SPEC3_REVERSED, NESTED, CHAIN, "", ONLY_SRC, VIEW_MD, WRITE_BUILD,
		LAST_WINS, DOCS, FILE_OR_DIR, ROOT_NONE, STAR_REINCLUDE, BASENAME_REINCLUDE,
		NONE_AFTER, A_B, ANY_MD, SRC_LIB, SRC_C, SECRET_PUB, SECRET_ANY_PUB, SECRET_SEALED,
		HIDE_AGAIN, VIEW_DOCS,
		"read = **\nwrite = /output/\nnone = .env\nnone = secrets/\nnone = **/.docker/config.json\n",
	};
	/* Parents before children; a trailing '/' marks a directory. */
	static const char *const tree[] = {
		"a/", "a/b/", "a/b/c/", "a/b/c/d.txt", "a/b/c/e.txt", "a/x/", "a/x/y", "b/", "b/x",
		"secrets/", "secrets/public.key", "secrets/other", "secrets/sub/", "secrets/sub/x",
		"src/", "src/main.c", "src/secrets/", "src/secrets/public.key", "config/",
		"config/secrets/", "config/secrets/a.pub", "config/secrets/d/", "config/secrets/d/a.pub",
		"docs/", "docs/x", "build/", "build/x", "x.c", "x.md", ".env", "output/", "output/x",
		"vault/", "vault/public.key", "vault/d/", "vault/d/x", ".docker/",
		".docker/config.json", "a/.docker/", "a/.docker/config.json",
	};
	size_t n = sizeof(tree) / sizeof(tree[0]), pi, i, j;

	for (pi = 0; pi < sizeof(policies) / sizeof(policies[0]); pi++) {
		struct policy *p = load_rules(policies[pi]);
		struct policy_decision dec[sizeof(tree) / sizeof(tree[0])], root;

		policy_resolve_root(p, &root);
		for (i = 0; i < n; i++) {
			char path[128];
			size_t len = strlen(tree[i]);
			bool dir = tree[i][len - 1] == '/';
			const struct policy_decision *parent = &root;
			struct policy_decision full;
			const char *slash;

			memcpy(path, tree[i], len + 1);
			if (dir)
				path[--len] = '\0';
			slash = strrchr(path, '/');
			for (j = 0; slash && j < i; j++) {
				size_t pl = strlen(tree[j]);

				if (pl == (size_t)(slash - path) + 1 && !memcmp(tree[j], path, pl))
					parent = &dec[j];
			}
			assert_true(!slash || parent != &root);
			assert_int_equal(policy_resolve_child(p, parent, path, dir, &dec[i]), 0);
			assert_int_equal(policy_resolve(p, path, dir, &full), 0);
			if (full.level != dec[i].level || full.own != dec[i].own ||
			    full.rule != dec[i].rule || full.passthrough != dec[i].passthrough ||
			    full.hidden != dec[i].hidden || full.hidden_by != dec[i].hidden_by ||
			    full.reincluded_by != dec[i].reincluded_by)
				fail_msg("policy %zu, '%s': resolve %s/%d, resolve_child %s/%d", pi,
					 tree[i], policy_level_name(full.level), full.rule,
					 policy_level_name(dec[i].level), dec[i].rule);
		}
		policy_free(p);
	}
}

/* ---- presets: every preset against every secret, at depth 0 and 3 ---- */

/* One example name per secret pattern of docs/SPEC.md 4 (and the extras). */
static const char *const secret_examples[] = {
	".env", ".env.local", ".envrc", "server.key", "cert.pem", "store.p12", "store.pfx",
	"app.jks", "app.keystore", "db.kdbx", "putty.ppk", "id_rsa", "id_rsa.pub", "id_dsa",
	"id_ed25519", "id_ecdsa", "secrets/x", "secrets/d/y", ".secrets/x", "credentials",
	"credentials.json", ".netrc", ".pgpass", ".htpasswd", ".git-credentials", ".npmrc",
	".pypirc", ".vault-token", ".terraformrc", ".aws/credentials", ".ssh/id_rsa",
	".ssh/config", ".gnupg/pubring.kbx", ".docker/config.json", ".kube/config",
	".config/gcloud/credentials.db",
};

struct preset_case {
	const char *preset;
	enum policy_level secret; /* level of every secret */
	char name[160];
	const char *example;
	int depth;
};

static struct preset_case preset_cases[5 * 2 * sizeof(secret_examples) / sizeof(char *)];

static const struct {
	const char *preset;
	enum policy_level secret;
} preset_levels[] = {
	{ "agent-safe", POLICY_NONE }, { "development", POLICY_NONE }, { "view-only", POLICY_VIEW },
	{ "read-only", POLICY_READ },  { "full-access", POLICY_WRITE },
};

static struct policy *load_preset(const char *name)
{
	struct fence_policy_opts o = { .preset = name };
	struct policy_error err = { 0 };
	struct policy *p = NULL;

	if (fence_policy_build(&o, &p, &err) != 0)
		fail_msg("preset %s: %s:%d: %s (preset dir %s)", name, err.file, err.line, err.msg,
			 fence_preset_dir());
	return p;
}

static void test_preset_secret(void **state)
{
	const struct preset_case *c = *state;
	struct policy *p = load_preset(c->preset);
	struct policy_decision d;
	char path[256];

	(void)snprintf(path, sizeof(path), "%s%s", c->depth ? "a/b/c/" : "", c->example);
	assert_int_equal(policy_resolve(p, path, false, &d), 0);
	if (d.level != c->secret)
		fail_msg("%s: '%s' is %s, want %s", c->preset, path, policy_level_name(d.level),
			 policy_level_name(c->secret));
	policy_free(p);
}

/* What is not a secret keeps the preset's level; agent-safe's write areas are anchored. */
static void test_preset_ordinary(void **state)
{
	static const struct {
		const char *preset, *path;
		bool dir;
		enum policy_level level;
	} cases[] = {
		{ "agent-safe", "src/main.c", false, POLICY_READ },
		{ "agent-safe", "output", true, POLICY_WRITE },
		{ "agent-safe", "output/x", false, POLICY_WRITE },
		{ "agent-safe", "tmp/x", false, POLICY_WRITE },
		{ "agent-safe", "a/output/x", false, POLICY_READ },
		{ "agent-safe", "output", false, POLICY_READ },
		{ "agent-safe", ".git/config", false, POLICY_READ },
		{ "agent-safe", ".git/objects/ab/cdef", false, POLICY_READ },
		{ "agent-safe", "config.env", false, POLICY_READ },
		{ "agent-safe", ".environment", false, POLICY_READ },
		{ "agent-safe", "keys/README", false, POLICY_READ },
		{ "agent-safe", "secrets", false, POLICY_READ },
		{ "agent-safe", ".docker/daemon.json", false, POLICY_READ },
		{ "agent-safe", "output/.env", false, POLICY_NONE },
		{ "agent-safe", "", true, POLICY_READ },
		{ "development", "src/main.c", false, POLICY_WRITE },
		{ "development", ".git/config", false, POLICY_WRITE },
		{ "view-only", "src/main.c", false, POLICY_VIEW },
		{ "read-only", "", true, POLICY_READ },
		{ "full-access", "x", false, POLICY_WRITE },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct policy *p = load_preset(cases[i].preset);
		struct policy_decision d;

		assert_int_equal(policy_resolve(p, cases[i].path, cases[i].dir, &d), 0);
		if (d.level != cases[i].level)
			fail_msg("%s: '%s' is %s, want %s", cases[i].preset, cases[i].path,
				 policy_level_name(d.level), policy_level_name(cases[i].level));
		assert_non_null(policy_description(p));
		policy_free(p);
	}
}

/* issue 2's done-when example, rule by rule. */
static void test_agent_safe_example(void **state)
{
	static const struct {
		const char *path;
		enum policy_level level;
		const char *pattern;
	} cases[] = {
		{ "/src/main.c", POLICY_READ, "**" },
		{ "/.env", POLICY_NONE, ".env" },
		{ "/a/b/.env.local", POLICY_NONE, ".env.*" },
		{ "/config/secrets/db.txt", POLICY_NONE, "secrets/" },
		{ "/output/x", POLICY_WRITE, "/output/" },
		{ "/keys/server.pem", POLICY_NONE, "*.pem" },
		{ "/.git/config", POLICY_READ, "**" },
	};
	struct policy *p = load_preset("agent-safe");
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct policy_decision d;
		const struct policy_rule_info *ri;

		assert_int_equal(policy_resolve(p, cases[i].path, false, &d), 0);
		assert_int_equal(d.level, cases[i].level);
		ri = policy_rule(p, (size_t)d.rule);
		assert_non_null(ri);
		assert_string_equal(ri->pattern, cases[i].pattern);
		assert_non_null(strstr(ri->origin, "agent-safe.ini"));
		assert_true(ri->line > 0);
	}
	policy_free(p);
}

static void test_preset_lookup(void **state)
{
	struct fence_policy_opts o = { 0 };
	struct policy_error err = { 0 };
	struct policy *p = NULL;
	char *text = NULL, *origin = NULL;
	char msg[1024];
	const char *rules[] = { "write=/x/", "bogus" };

	assert_int_equal(fence_read_preset(NULL, "../presets/agent-safe", &text, &origin), -EINVAL);
	assert_int_equal(fence_read_preset(NULL, "Agent-Safe", &text, &origin), -EINVAL);
	assert_int_equal(fence_read_preset(NULL, "", &text, &origin), -EINVAL);
	assert_int_equal(fence_read_preset(NULL, "no-such-preset", &text, &origin), -ENOENT);
	assert_int_equal(fence_read_preset(NULL, "read-only", &text, &origin), 0);
	assert_non_null(strstr(text, "read = **"));
	assert_non_null(strstr(origin, "/read-only.ini"));
	free(text);
	free(origin);

	o.preset = "no-such-preset";
	assert_int_equal(fence_policy_build(&o, &p, &err), -EINVAL);
	assert_null(p);
	policy_error_format(&err, msg, sizeof(msg));
	assert_non_null(strstr(msg, "--preset: unknown preset 'no-such-preset'"));
	o.preset = "../etc";
	assert_int_equal(fence_policy_build(&o, &p, &err), -EINVAL);
	policy_error_format(&err, msg, sizeof(msg));
	assert_string_equal(msg, "--preset: invalid preset name '../etc' (letters a-z, digits "
				 "and '-' only)");
	o.preset = NULL;
	o.policy_file = "/nonexistent/policy.ini";
	assert_int_equal(fence_policy_build(&o, &p, &err), -ENOENT);
	policy_error_format(&err, msg, sizeof(msg));
	assert_string_equal(msg, "/nonexistent/policy.ini: cannot read: No such file or directory");

	/* preset, then --rule values, in order; a bad --rule fails the build. */
	o.policy_file = NULL;
	o.preset = "read-only";
	o.rules = rules;
	o.nrules = 1;
	assert_int_equal(fence_policy_build(&o, &p, &err), 0);
	assert_int_equal(policy_rule_count(p), 2);
	assert_string_equal(policy_rule(p, 1)->pattern, "/x/");
	policy_free(p);
	p = NULL;
	o.nrules = 2;
	assert_int_equal(fence_policy_build(&o, &p, &err), -EINVAL);
	assert_null(p);

	/* Nothing at all: an empty policy. */
	memset(&o, 0, sizeof(o));
	assert_int_equal(fence_policy_build(&o, &p, &err), 0);
	assert_int_equal(policy_rule_count(p), 0);
	policy_free(p);
}

static void count_preset(void *ctx, const char *name, const char *description)
{
	char *seen = ctx;

	(void)strncat(seen, name, 1000 - strlen(seen));
	(void)strncat(seen, description[0] ? "+" : "-", 1000 - strlen(seen));
}

static void test_list_presets(void **state)
{
	char seen[1024] = "";

	assert_int_equal(fence_list_presets(count_preset, seen), 0);
	/* Sorted by name, each with a description. */
	assert_string_equal(seen, "agent-safe+development+full-access+read-only+view-only+");
}

/* ---- digest: SHA-256 against FIPS 180-2's examples, then the policy's ---- */

static void test_sha256(void **state)
{
	static const struct {
		const char *in;
		const char *hex;
	} vectors[] = {
		{ "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
		{ "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
	};
	char hex[65], *million;
	struct sha256 s;
	unsigned char raw[32];
	size_t i;

	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		sha256_hex(vectors[i].in, strlen(vectors[i].in), hex);
		assert_string_equal(hex, vectors[i].hex);
	}
	/* One million 'a', fed in uneven pieces to exercise the block buffer. */
	million = malloc(1000000);
	assert_non_null(million);
	memset(million, 'a', 1000000);
	sha256_init(&s);
	for (i = 0; i < 1000000;) {
		size_t n = (i % 7 + 1) * 37;

		if (n > 1000000 - i)
			n = 1000000 - i;
		sha256_update(&s, million + i, n);
		i += n;
	}
	sha256_final(&s, raw);
	for (i = 0; i < 32; i++)
		(void)snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	free(million);
}

static void test_digest(void **state)
{
	struct policy *a = load_rules("read = **\nnone = .env\n");
	struct policy *b = load_rules("read = **\nnone = .env\n");
	struct policy *c = load_rules("read = **\nnone = .envx\n");
	char da[65], db[65], dc[65], want[65];
	const char *canon = policy_canonical_text(a);

	assert_string_equal(canon, "[rules]\nread = **\nnone = .env\n");
	sha256_hex(canon, strlen(canon), want);
	policy_digest(a, da);
	policy_digest(b, db);
	policy_digest(c, dc);
	assert_string_equal(da, want);
	assert_string_equal(da, db);
	assert_string_not_equal(da, dc);
	assert_int_equal(strlen(da), 64);
	policy_free(a);
	policy_free(b);
	policy_free(c);
}

/* Several "**" on a deep path: linear, not a pcre2 match-limit failure. */
static void test_deep_path_globstars(void **state)
{
	static const char *const patterns[] = { "a/**/a/**/a/**/a/**/b", "**/a/**/a/**/a/**/b/",
						"**/a/**/a/**/a/**", "*/**/a/**/a/**/b" };
	size_t n = 2000 * 2, i, k;
	char *path = malloc(n + 3);
	struct policy_decision d;

	assert_non_null(path);
	for (i = 0; i < n; i += 2)
		memcpy(path + i, "a/", 2);
	path[n - 1] = '\0'; /* "a/a/.../a", 2000 components */
	for (k = 0; k < sizeof(patterns) / sizeof(patterns[0]); k++) {
		struct policy *p = policy_new();
		struct policy_error err;

		assert_int_equal(policy_add_rule(p, POLICY_READ, patterns[k], "t", 1, &err), 0);
		assert_int_equal(policy_resolve_child(p, &(struct policy_decision){ .level = POLICY_READ },
						      path, false, &d),
				 0);
		/* Only the third pattern matches: the others want a 'b'. */
		assert_int_equal(d.own, k == 2 ? POLICY_READ : POLICY_NONE);
		policy_free(p);
	}
	/* And a match that needs the last components. */
	memcpy(path + n - 1, "/b", 3);
	{
		struct policy *p = policy_new();
		struct policy_error err;

		assert_int_equal(policy_add_rule(p, POLICY_READ, patterns[0], "t", 1, &err), 0);
		assert_int_equal(policy_resolve_child(p, &(struct policy_decision){ .level = POLICY_READ },
						      path, false, &d),
				 0);
		assert_int_equal(d.own, POLICY_READ);
		policy_free(p);
	}
	free(path);
}

/* Regressions found by tests/fuzz/fuzz_policy.c go here. */
static void test_fuzz_regressions(void **state)
{
	static const char *const texts[] = {
		"[rules]\nread = [\n",
		"[rules]\nread = {{{{{{{{{{}}}}}}}}}}\n",
		"[rules]\nread = **/**/**/**/**/**/**/**/a\n",
		"[rules]\nread = [[:alpha:]\n",
		"[rules]\nread = [a-\n",
		"[rules]\nread = \\\n",
		"\xef\xbb\xbf[rules]\nread = a\n",
		"[]\n",
		"[rules]\n=\n",
	};
	size_t i;

	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct policy *p = policy_new();
		struct policy_error err = { 0 };
		struct policy_decision d;

		(void)policy_load_text(p, texts[i], strlen(texts[i]), "f", NULL, NULL, &err);
		assert_int_equal(policy_resolve(p, "a/b/c", false, &d), 0);
		policy_free(p);
	}
}

static struct CMUnitTest *add_case(struct CMUnitTest *t, size_t *n, char *name,
				   CMUnitTestFunction fn, const void *state)
{
	char *c;

	/* Keep one case per output line: names may hold a line break. */
	for (c = (char *)name; *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = '?';
	t[*n].name = name;
	t[*n].test_func = fn;
	t[*n].setup_func = NULL;
	t[*n].teardown_func = NULL;
	t[*n].initial_state = (void *)state;
	(*n)++;
	return t;
}

int main(void)
{
	static const struct {
		const char *name;
		CMUnitTestFunction fn;
	} single[] = {
		{ "preset_without_callback", test_preset_without_callback },
		{ "load_good", test_load_good },
		{ "rule_arg", test_rule_arg },
		{ "levels_and_bad_paths", test_levels_and_bad_paths },
		{ "resolve_child_agrees", test_resolve_child_agrees },
		{ "preset_ordinary", test_preset_ordinary },
		{ "agent_safe_example", test_agent_safe_example },
		{ "preset_lookup", test_preset_lookup },
		{ "list_presets", test_list_presets },
		{ "sha256", test_sha256 },
		{ "digest", test_digest },
		{ "fuzz_regressions", test_fuzz_regressions },
		{ "glob_differential", test_glob_differential },
		{ "deep_path_globstars", test_deep_path_globstars },
		{ "rule_matches", test_rule_matches },
		{ "match_limit", test_match_limit },
		{ "pattern_too_long", test_pattern_too_long },
		{ "dfa_agrees", test_dfa_agrees },
	};
	size_t nglob = sizeof(glob_cases) / sizeof(glob_cases[0]);
	size_t nperr = sizeof(pattern_errors) / sizeof(pattern_errors[0]);
	size_t nres = sizeof(resolve_cases) / sizeof(resolve_cases[0]);
	size_t nlerr = sizeof(load_errors) / sizeof(load_errors[0]);
	size_t nsecret = sizeof(secret_examples) / sizeof(secret_examples[0]);
	size_t nreinc = sizeof(reinclude_cases) / sizeof(reinclude_cases[0]);
	size_t nbeneath = sizeof(beneath_cases) / sizeof(beneath_cases[0]);
	size_t nlisting = sizeof(listing_cases) / sizeof(listing_cases[0]);
	size_t npreset = 0, total, n = 0, i, k, nnamed;
	struct CMUnitTest *tests;
	const char *root = getenv("FENCE_ROOT");
	char *dir, *name;
	int rc;

	if (asprintf(&dir, "%s/presets", root && *root ? root : ".") < 0)
		return 1;
	(void)setenv("FENCE_PRESET_DIR", dir, 1);
	memset(long_line, 'x', sizeof(long_line) - 1);
	memcpy(long_line, "[rules]\nread = ", 15);

	for (i = 0; i < sizeof(preset_levels) / sizeof(preset_levels[0]); i++) {
		for (k = 0; k < 2 * nsecret; k++) {
			struct preset_case *c = &preset_cases[npreset++];

			c->preset = preset_levels[i].preset;
			c->secret = preset_levels[i].secret;
			c->example = secret_examples[k % nsecret];
			c->depth = k < nsecret ? 0 : 3;
			(void)snprintf(c->name, sizeof(c->name), "preset %s: %s%s is %s", c->preset,
				       c->depth ? "a/b/c/" : "", c->example,
				       policy_level_name(c->secret));
		}
	}
	total = nglob + nperr + nres + nlerr + npreset + nreinc + nbeneath + nlisting +
		sizeof(single) / sizeof(single[0]);
	tests = calloc(total, sizeof(*tests));
	if (!tests)
		return 1;
	for (i = 0; i < nglob; i++) {
		const struct glob_case *c = &glob_cases[i];

		if (asprintf(&name, "glob '%s' %s '%s'%s", c->pattern, c->match ? "~" : "!~",
			     c->path ? c->path : "(root)", c->dir ? "/" : "") < 0)
			return 1;
		add_case(tests, &n, name, test_glob_case, c);
	}
	for (i = 0; i < nperr; i++) {
		if (asprintf(&name, "bad pattern '%s'", pattern_errors[i].pattern) < 0)
			return 1;
		add_case(tests, &n, name, test_pattern_error, &pattern_errors[i]);
	}
	for (i = 0; i < nres; i++) {
		const struct resolve_case *c = &resolve_cases[i];

		if (asprintf(&name, "resolve #%zu '%s'%s is %s", i, c->path ? c->path : "(root)",
			     c->dir ? "/" : "", policy_level_name(c->level)) < 0)
			return 1;
		add_case(tests, &n, name, test_resolve_case, c);
	}
	for (i = 0; i < nlerr; i++) {
		if (asprintf(&name, "bad policy: %s", load_errors[i].msg) < 0)
			return 1;
		add_case(tests, &n, name, test_load_error, &load_errors[i]);
	}
	for (i = 0; i < nreinc; i++) {
		const struct reinclude_case *c = &reinclude_cases[i];

		if (asprintf(&name, "re-include #%zu '%s'%s is %s%s", i, c->path ? c->path : "(root)",
			     c->dir ? "/" : "", policy_level_name(c->level),
			     c->passthrough ? " pass-through" : "") < 0)
			return 1;
		add_case(tests, &n, name, test_reinclude_case, c);
	}
	for (i = 0; i < nbeneath; i++) {
		const struct beneath_case *c = &beneath_cases[i];

		if (asprintf(&name, "beneath #%zu '%s' %s: %s", i, c->dir, policy_level_name(c->min),
			     c->want ? "yes" : "no") < 0)
			return 1;
		add_case(tests, &n, name, test_beneath_case, c);
	}
	for (i = 0; i < nlisting; i++) {
		if (asprintf(&name, "listing #%zu of '%s': %s", i, listing_cases[i].dir,
			     listing_cases[i].listed) < 0)
			return 1;
		add_case(tests, &n, name, test_listing_case, &listing_cases[i]);
	}
	nnamed = n; /* the names above were allocated */
	for (i = 0; i < npreset; i++)
		add_case(tests, &n, preset_cases[i].name, test_preset_secret, &preset_cases[i]);
	for (i = 0; i < sizeof(single) / sizeof(single[0]); i++)
		add_case(tests, &n, (char *)single[i].name, single[i].fn, NULL);

	rc = _cmocka_run_group_tests("policy", tests, n, NULL, NULL);
	for (i = 0; i < nnamed; i++)
		free((char *)tests[i].name);
	free(tests);
	free(dir);
	return rc;
}
