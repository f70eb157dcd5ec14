// SPDX-License-Identifier: Apache-2.0
/*
 * policy.c - the ordered rule list and path resolution (docs/SPEC.md 3).
 *
 * Each rule is compiled once, when it is added, to one pcre2 regex (see
 * glob.h for its shape).  A regex matches the subject of a path when the
 * rule matches the path or any of its ancestors, so the own level of a
 * path is found by trying the rules from the last to the first and
 * stopping at the first match: one pass, at most one pcre2 call per rule.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include "policy.h"

#include <errno.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "glob.h"
#include "policy_internal.h"
#include "sha256.h"

/*
 * Longest pattern accepted.  A policy file's lines are far shorter; this
 * bounds what one --rule can make the DFA matcher work through (its cost
 * is the subject's length times the regex's size).
 */
#define PATTERN_MAX 1024

/*
 * pcre2_match()'s backtracking budget per call before rule_match() hands
 * the call to pcre2_dfa_match().  Every pattern of the project's presets
 * and tests needs a few hundred steps at most on a 4 KiB path; a pattern
 * with many stars in one component ("*a*a*a*a*b") needs O(len^stars) on a
 * hostile name, and this keeps what such a name costs to about a
 * millisecond before the DFA matcher gives the same answer in linear time.
 */
#define BACKTRACK_LIMIT 100000

struct rule {
	struct policy_rule_info info; /* pattern and origin are owned */
	struct glob glob;
	pcre2_code *re;               /* glob.regex: JIT or the interpreter */
	pcre2_code *dfa_re;           /* glob.dfa_regex: when re runs out of budget */
	bool jit;                     /* pcre2_jit_compile() succeeded */
};

struct policy {
	struct rule *rules;
	size_t nrules;
	size_t cap;
	char *description;
	char *canon;                  /* policy_canonical_text(), grown per rule */
	size_t canon_len;
	size_t canon_cap;
	pcre2_match_context *mctx;    /* BACKTRACK_LIMIT; read-only once made */
	bool dfa_only;                /* tests: every match by pcre2_dfa_match() */
};

static const char *const level_names[] = { "none", "view", "read", "write" };

const char *policy_level_name(enum policy_level level)
{
	if ((unsigned)level < sizeof(level_names) / sizeof(level_names[0]))
		return level_names[level];
	return "?";
}

int policy_level_parse(const char *name, enum policy_level *out)
{
	unsigned i;

	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (!strcmp(name, level_names[i])) {
			*out = (enum policy_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

void policy_error_format(const struct policy_error *err, char *buf, size_t len)
{
	if (err->line > 0)
		(void)snprintf(buf, len, "%s:%d: %s", err->file, err->line, err->msg);
	else
		(void)snprintf(buf, len, "%s: %s", err->file, err->msg);
}

int policy_error_set(struct policy_error *err, const char *origin, int line, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return -EINVAL;
	(void)snprintf(err->file, sizeof(err->file), "%s", origin ? origin : "");
	err->line = line;
	va_start(ap, fmt);
	(void)vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int canon_add(struct policy *p, const char *s)
{
	size_t n = strlen(s);

	if (p->canon_len + n + 1 > p->canon_cap) {
		size_t cap = p->canon_cap ? p->canon_cap : 256;
		char *c;

		while (cap < p->canon_len + n + 1)
			cap *= 2;
		c = realloc(p->canon, cap);
		if (!c)
			return -ENOMEM;
		p->canon = c;
		p->canon_cap = cap;
	}
	memcpy(p->canon + p->canon_len, s, n + 1);
	p->canon_len += n;
	return 0;
}

struct policy *policy_new(void)
{
	struct policy *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->mctx = pcre2_match_context_create(NULL);
	/* The canonical text is itself a loadable policy file. */
	if (!p->mctx || pcre2_set_match_limit(p->mctx, BACKTRACK_LIMIT) != 0 ||
	    canon_add(p, "[rules]\n") < 0) {
		pcre2_match_context_free(p->mctx);
		free(p->canon);
		free(p);
		return NULL;
	}
	return p;
}

static void rule_free(struct rule *r)
{
	free((char *)r->info.pattern);
	free((char *)r->info.origin);
	glob_free(&r->glob);
	pcre2_code_free(r->re);
	pcre2_code_free(r->dfa_re);
}

void policy_free(struct policy *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->nrules; i++)
		rule_free(&p->rules[i]);
	free(p->rules);
	free(p->description);
	free(p->canon);
	pcre2_match_context_free(p->mctx);
	free(p);
}

void policy_set_dfa_only(struct policy *p, bool on)
{
	p->dfa_only = on;
}

/* Compiles one regex of a rule; NULL with *code set on failure. */
static pcre2_code *rule_compile(const char *regex, int *code)
{
	PCRE2_SIZE off;

	return pcre2_compile((PCRE2_SPTR)regex, PCRE2_ZERO_TERMINATED,
			     PCRE2_DOTALL | PCRE2_NEVER_UTF | PCRE2_NEVER_UCP |
				     PCRE2_NEVER_BACKSLASH_C | PCRE2_NO_AUTO_CAPTURE,
			     code, &off, NULL);
}

/* ---- matching ---- */

/* pcre2_dfa_match()'s workspace: on the stack, grown on the heap up to the cap. */
#define DFA_WS_STACK 512
#define DFA_WS_MAX (1u << 20)

/*
 * The DFA matcher follows every way through the regex at once instead of
 * backtracking: its work is the subject's length times the regex's size,
 * whatever the pattern (pcre2matching(3)).  Same answers as pcre2_match()
 * on dfa_regex, which has no atomic group; returns >= 0 for a match.
 */
static int dfa_match(const struct rule *r, const char *subj, size_t len, uint32_t opts,
		     pcre2_match_data *md)
{
	int stack[DFA_WS_STACK], *ws = stack;
	size_t n = DFA_WS_STACK;
	int rc;

	/* A complete match only has to exist: the shortest one says so soonest. */
	if (!(opts & PCRE2_PARTIAL_HARD))
		opts |= PCRE2_DFA_SHORTEST;
	for (;;) {
		int *grown;

		rc = pcre2_dfa_match(r->dfa_re, (PCRE2_SPTR)subj, len, 0, opts, md, NULL, ws, n);
		if (rc != PCRE2_ERROR_DFA_WSSIZE || n >= DFA_WS_MAX)
			break;
		n *= 8;
		grown = realloc(ws == stack ? NULL : ws, n * sizeof(*ws));
		if (!grown) {
			rc = PCRE2_ERROR_NOMEMORY;
			break;
		}
		ws = grown;
	}
	if (ws != stack)
		free(ws);
	return rc;
}

/*
 * pcre2's answer for rule R on SUBJ: >= 0 match, PCRE2_ERROR_NOMATCH,
 * PCRE2_ERROR_PARTIAL (only with OPTS PCRE2_PARTIAL_HARD), or an error
 * (only when even the DFA matcher could not answer).
 *
 * JIT (or the interpreter) first, with BACKTRACK_LIMIT; when it runs out
 * of any budget (match limit, JIT stack, heap), the DFA matcher answers
 * instead.  So a pattern that backtracks badly on some name costs time
 * but never changes an answer: issue 15 item 6, where a limit error made
 * a hidden name answer ERANGE instead of ENOENT.
 */
static int rule_match(const struct policy *p, const struct rule *r, const char *subj,
		      size_t len, uint32_t opts, pcre2_match_data *md)
{
	int rc;

	/*
	 * Partial matching (could the rule match beneath a directory?) is
	 * the DFA matcher's alone: it needs the DFA regex (see glob.c
	 * comps_translate()), and a directory's subject is short.
	 */
	if (!p->dfa_only && !(opts & PCRE2_PARTIAL_HARD)) {
		if (r->jit)
			rc = pcre2_jit_match(r->re, (PCRE2_SPTR)subj, len, 0, opts, md, p->mctx);
		else
			rc = pcre2_match(r->re, (PCRE2_SPTR)subj, len, 0, opts, md, p->mctx);
		if (rc >= 0 || rc == PCRE2_ERROR_NOMATCH || rc == PCRE2_ERROR_PARTIAL)
			return rc;
	}
	return dfa_match(r, subj, len, opts, md);
}

/*
 * Runs R's DFA regex once each way, so that a pattern the DFA matcher
 * cannot handle is refused when it loads.  0, -ENOMEM or -EINVAL.
 */
static int rule_dfa_probe(const struct rule *r)
{
	pcre2_match_data *md = pcre2_match_data_create(1, NULL);
	int a, b;

	if (!md)
		return -ENOMEM;
	a = dfa_match(r, "a/", 2, 0, md);
	b = dfa_match(r, "a/", 2, PCRE2_PARTIAL_HARD, md);
	pcre2_match_data_free(md);
	if (a == PCRE2_ERROR_NOMEMORY || b == PCRE2_ERROR_NOMEMORY)
		return -ENOMEM;
	if ((a < 0 && a != PCRE2_ERROR_NOMATCH) ||
	    (b < 0 && b != PCRE2_ERROR_NOMATCH && b != PCRE2_ERROR_PARTIAL))
		return -EINVAL;
	return 0;
}

int policy_add_rule(struct policy *p, enum policy_level level, const char *pattern,
		    const char *origin, int line, struct policy_error *err)
{
	struct rule r = { 0 };
	char reason[256];
	int code, ret;

	if ((unsigned)level > POLICY_WRITE)
		return policy_error_set(err, origin, line, "invalid level %d", (int)level);
	/*
	 * A line break would make the canonical text (what a delta records
	 * and the digest covers) read as two rules.  '?' and '*' still match
	 * names that contain one.
	 */
	if (strpbrk(pattern, "\n\r"))
		return policy_error_set(err, origin, line,
					"pattern '%s': contains a line break (use '?' to match one)",
					pattern);
	if (strlen(pattern) > PATTERN_MAX)
		return policy_error_set(err, origin, line,
					"pattern '%.40s...': longer than %d bytes", pattern,
					PATTERN_MAX);
	ret = glob_translate(pattern, &r.glob, reason, sizeof(reason));
	if (ret == -EINVAL)
		return policy_error_set(err, origin, line, "pattern '%s': %s", pattern, reason);
	if (ret < 0)
		return ret;
	r.re = rule_compile(r.glob.regex, &code);
	if (r.re)
		r.dfa_re = rule_compile(r.glob.dfa_regex, &code);
	if (!r.re || !r.dfa_re) {
		PCRE2_UCHAR msg[160];

		(void)pcre2_get_error_message(code, msg, sizeof(msg));
		pcre2_code_free(r.re);
		glob_free(&r.glob);
		if (code == PCRE2_ERROR_HEAPLIMIT || code == PCRE2_ERROR_NOMEMORY)
			return -ENOMEM;
		return policy_error_set(err, origin, line, "pattern '%s': cannot compile: %s",
					pattern, (const char *)msg);
	}
	/* The interpreter gives the same answers, only slower: JIT is optional. */
	r.jit = pcre2_jit_compile(r.re, PCRE2_JIT_COMPLETE) == 0;
	/*
	 * The DFA matcher is the bound on every match (rule_match()): a
	 * pattern it cannot run is refused here, with its line, rather than
	 * failing on some path later.
	 */
	ret = rule_dfa_probe(&r);
	if (ret < 0) {
		rule_free(&r);
		if (ret == -ENOMEM)
			return ret;
		return policy_error_set(err, origin, line,
					"pattern '%s': cannot be matched within bounded work",
					pattern);
	}

	r.info.index = (unsigned)p->nrules;
	r.info.level = level;
	r.info.line = line;
	r.info.pattern = strdup(pattern);
	r.info.origin = strdup(origin ? origin : "");
	if (!r.info.pattern || !r.info.origin)
		goto out_nomem;
	if (p->nrules == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 16;
		struct rule *rules = realloc(p->rules, cap * sizeof(*rules));

		if (!rules)
			goto out_nomem;
		p->rules = rules;
		p->cap = cap;
	}
	if (canon_add(p, policy_level_name(level)) < 0 || canon_add(p, " = ") < 0 ||
	    canon_add(p, pattern) < 0 || canon_add(p, "\n") < 0)
		goto out_nomem;
	p->rules[p->nrules++] = r;
	return 0;

out_nomem:
	rule_free(&r);
	return -ENOMEM;
}

static const char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	return s;
}

int policy_add_rule_arg(struct policy *p, const char *arg, struct policy_error *err)
{
	enum policy_level level;
	char origin[sizeof(err->file)];
	const char *name, *pattern;
	char *copy, *eq;
	int r;

	(void)snprintf(origin, sizeof(origin), "--rule '%s'", arg);
	copy = strdup(arg);
	if (!copy)
		return -ENOMEM;
	eq = strchr(copy, '=');
	if (!eq) {
		free(copy);
		return policy_error_set(err, origin, 0, "expected LEVEL=PATTERN");
	}
	*eq = '\0';
	name = trim(copy);
	pattern = trim(eq + 1);
	if (policy_level_parse(name, &level) < 0) {
		r = policy_error_set(err, origin, 0, "unknown level '%s'", name);
		free(copy);
		return r;
	}
	r = policy_add_rule(p, level, pattern, "--rule", 0, err);
	if (r == -EINVAL && err)
		(void)snprintf(err->file, sizeof(err->file), "%s", origin);
	free(copy);
	return r;
}

int policy_set_description(struct policy *p, const char *desc)
{
	char *d = strdup(desc);

	if (!d)
		return -ENOMEM;
	free(p->description);
	p->description = d;
	return 0;
}

const char *policy_description(const struct policy *p)
{
	return p->description;
}

size_t policy_rule_count(const struct policy *p)
{
	return p->nrules;
}

const struct policy_rule_info *policy_rule(const struct policy *p, size_t i)
{
	return i < p->nrules ? &p->rules[i].info : NULL;
}

const char *policy_canonical_text(const struct policy *p)
{
	return p->canon;
}

void policy_digest(const struct policy *p, char out[65])
{
	sha256_hex(p->canon, p->canon_len, out);
}

/* ---- resolution ---- */

/* A decision with nothing decided yet: none, by the default. */
static const struct policy_decision decision_none = {
	.level = POLICY_NONE,
	.own = POLICY_NONE,
	.rule = -1,
	.reincluded_by = -1,
};

/*
 * Index of the last rule whose regex matches SUBJ, or -1 when none does.
 * *fail gets -ENOMEM, or -ERANGE when even the DFA matcher could not
 * answer (the caller then fails closed: see own_level()).
 */
static int last_match(const struct policy *p, const char *subj, size_t len,
		      pcre2_match_data *md, int *fail)
{
	size_t i;

	for (i = p->nrules; i-- > 0;) {
		int rc = rule_match(p, &p->rules[i], subj, len, 0, md);

		if (rc >= 0)
			return (int)i;
		if (rc != PCRE2_ERROR_NOMATCH) {
			*fail = rc == PCRE2_ERROR_NOMEMORY ? -ENOMEM : -ERANGE;
			return -1;
		}
	}
	return -1;
}

/*
 * The first rule after rule AFTER (any rule when AFTER is -1) with level
 * MIN or more that could match some path strictly beneath the directory
 * rel[0..len), or -1.  For the root (len 0) every such rule counts: every
 * path lies beneath the root.  Otherwise the question goes to pcre2 as a
 * partial match of "rel/" (see glob.h); a rule that matches "rel/"
 * completely covers everything beneath too.
 *
 * Only rules after the directory's own deciding rule AFTER can decide a
 * path beneath it: AFTER matches every such path as well, and the last
 * match wins.  A matching error counts as "cannot": the directory stays
 * as hidden (or as unwritable) as its own level says, failing closed.
 */
static int beneath_rule(const struct policy *p, int after, const char *rel, size_t len,
			enum policy_level min, pcre2_match_data *md)
{
	char stack[1024], *subj = NULL;
	int found = -1;
	size_t k;

	for (k = (size_t)(after + 1); k < p->nrules && found < 0; k++) {
		int rc;

		if (p->rules[k].info.level < min)
			continue;
		if (!len)
			return (int)k;
		if (!subj) {
			subj = len + 1 <= sizeof(stack) ? stack : malloc(len + 1);
			if (!subj)
				return -1;
			memcpy(subj, rel, len);
			subj[len] = '/';
		}
		rc = rule_match(p, &p->rules[k], subj, len + 1, PCRE2_PARTIAL_HARD, md);
		if (rc >= 0 || rc == PCRE2_ERROR_PARTIAL)
			found = (int)k;
	}
	if (subj != stack)
		free(subj);
	return found;
}

/* Strips one leading '/' and checks the components: 0 or -EINVAL. */
static int path_relative(const char *path, const char **rel, size_t *len)
{
	const char *c;

	if (*path == '/')
		path++;
	*rel = path;
	*len = strlen(path);
	if (!*len)
		return 0;
	for (c = path;;) {
		const char *slash = strchr(c, '/');
		size_t n = slash ? (size_t)(slash - c) : strlen(c);

		if (!n || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return -EINVAL;
		if (!slash)
			return 0;
		c = slash + 1;
	}
}

int policy_rule_matches(const struct policy *p, size_t i, const char *path, bool is_dir)
{
	const struct rule *r;
	pcre2_match_data *md;
	const char *rel;
	char *subj;
	size_t len;
	int rc;

	if (i >= p->nrules || path_relative(path, &rel, &len) < 0)
		return -EINVAL;
	r = &p->rules[i];
	/* The root is a directory: its subject is "/". */
	if (!len)
		is_dir = true;
	subj = malloc(len + 2);
	md = pcre2_match_data_create(1, NULL);
	if (!subj || !md) {
		free(subj);
		pcre2_match_data_free(md);
		return -ENOMEM;
	}
	memcpy(subj, rel, len);
	if (is_dir)
		subj[len++] = '/';
	rc = rule_match(p, r, subj, len, 0, md);
	free(subj);
	pcre2_match_data_free(md);
	if (rc >= 0)
		return 1;
	if (rc == PCRE2_ERROR_NOMATCH)
		return 0;
	return rc == PCRE2_ERROR_NOMEMORY ? -ENOMEM : -ERANGE;
}

/*
 * Own level and rule of the path rel[0..len) (len 0: the root).  When no
 * matcher could answer (-ERANGE from last_match(), which the DFA fallback
 * makes all but unreachable) the path is none with match_error set and 0
 * is returned: it answers exactly as a hidden name does, never with an
 * error of its own that would tell a hidden name from an absent one.
 */
static int own_level(const struct policy *p, const char *rel, size_t len, bool is_dir,
		     pcre2_match_data *md, struct policy_decision *out)
{
	char stack[1024], *subj = stack;
	int fail = 0, r;

	if (len + 2 > sizeof(stack)) {
		subj = malloc(len + 2);
		if (!subj)
			return -ENOMEM;
	}
	memcpy(subj, rel, len);
	if (is_dir)
		subj[len++] = '/';
	r = last_match(p, subj, len, md, &fail);
	if (subj != stack)
		free(subj);
	if (fail == -ERANGE) {
		out->rule = -1;
		out->own = POLICY_NONE;
		out->match_error = true;
		return 0;
	}
	if (fail)
		return fail;
	out->rule = r;
	out->own = r >= 0 ? p->rules[r].info.level : POLICY_NONE;
	return 0;
}

/*
 * The level of a reachable path from its own: its own level, or a
 * pass-through view for a directory whose own level is none but beneath
 * which a later rule of level view or more could match (docs/SPEC.md 3).
 */
static void reach(const struct policy *p, const char *rel, size_t len, bool is_dir,
		  pcre2_match_data *md, struct policy_decision *d)
{
	int k;

	if (d->own >= POLICY_VIEW) {
		d->level = d->own;
		return;
	}
	if (!is_dir || d->match_error)
		return;
	k = beneath_rule(p, d->rule, rel, len, POLICY_VIEW, md);
	if (k >= 0) {
		d->level = POLICY_VIEW;
		d->passthrough = true;
		d->reincluded_by = k;
	}
}

/* Decision for rel[0..len) given its parent's; WANT_OWN false skips matching under a hidden parent. */
static int decide_child(const struct policy *p, const struct policy_decision *parent,
			const char *rel, size_t len, bool is_dir, bool want_own,
			pcre2_match_data *md, struct policy_decision *out)
{
	const char *slash = memrchr(rel, '/', len);
	struct policy_decision d = decision_none;
	int r;

	if (parent->level == POLICY_NONE) {
		if (want_own) {
			r = own_level(p, rel, len, is_dir, md, &d);
			if (r < 0)
				return r;
		}
		d.level = POLICY_NONE;
		d.hidden = true;
		d.hidden_by = parent->hidden ? parent->hidden_by : (slash ? (size_t)(slash - rel) : 0);
		d.rule = parent->rule;
		*out = d;
		return 0;
	}
	r = own_level(p, rel, len, is_dir, md, &d);
	if (r < 0)
		return r;
	reach(p, rel, len, is_dir, md, &d);
	*out = d;
	return 0;
}

static int root_decide(const struct policy *p, pcre2_match_data *md, struct policy_decision *out)
{
	struct policy_decision d = decision_none;
	int r = own_level(p, "", 0, true, md, &d);

	if (r < 0)
		return r;
	reach(p, "", 0, true, md, &d);
	*out = d;
	return 0;
}

void policy_resolve_root(const struct policy *p, struct policy_decision *out)
{
	pcre2_match_data *md = pcre2_match_data_create(1, NULL);

	/* Fail closed: without memory to match, the root shows nothing. */
	if (!md || root_decide(p, md, out) < 0)
		*out = decision_none;
	pcre2_match_data_free(md);
}

int policy_resolve(const struct policy *p, const char *path, bool is_dir,
		   struct policy_decision *out)
{
	struct policy_decision d;
	pcre2_match_data *md;
	const char *rel;
	size_t len, i;
	int r;

	r = path_relative(path, &rel, &len);
	if (r < 0)
		return r;
	md = pcre2_match_data_create(1, NULL);
	if (!md)
		return -ENOMEM;
	r = root_decide(p, md, &d);
	for (i = 0; r == 0 && i < len; i++) {
		if (rel[i] == '/')
			r = decide_child(p, &d, rel, i, true, d.level != POLICY_NONE, md, &d);
	}
	if (r == 0 && len)
		r = decide_child(p, &d, rel, len, is_dir, true, md, &d);
	pcre2_match_data_free(md);
	if (r == 0)
		*out = d;
	return r;
}

int policy_resolve_child(const struct policy *p, const struct policy_decision *parent,
			 const char *path, bool is_dir, struct policy_decision *out)
{
	pcre2_match_data *md;
	const char *rel;
	size_t len;
	int r;

	r = path_relative(path, &rel, &len);
	if (r < 0)
		return r;
	if (!len)
		return -EINVAL; /* the root is nobody's child */
	md = pcre2_match_data_create(1, NULL);
	if (!md)
		return -ENOMEM;
	r = decide_child(p, parent, rel, len, is_dir, true, md, out);
	pcre2_match_data_free(md);
	return r;
}

bool policy_could_match_beneath(const struct policy *p, const char *dirpath,
				enum policy_level min_level)
{
	struct policy_decision d = decision_none;
	pcre2_match_data *md;
	const char *rel;
	size_t len;
	int k = -1;

	if (path_relative(dirpath, &rel, &len) < 0)
		return false;
	md = pcre2_match_data_create(1, NULL);
	if (!md)
		return false;
	if (own_level(p, rel, len, true, md, &d) == 0 && !d.match_error)
		k = beneath_rule(p, d.rule, rel, len, min_level, md);
	pcre2_match_data_free(md);
	return k >= 0;
}
