/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy.h - the pure policy engine: glob rules in, access levels out.
 *
 * Nothing in policy/ opens files, prints, exits or reads the environment
 * (STYLE.md "Shape").  Loading a policy *file* or a preset by name is done
 * by the caller (common/policy_load.c), which hands the text in here.
 *
 * Contract: docs/SPEC.md sections 2 (patterns), 3 (resolution),
 * 4 (presets) and 5 (policy file).  The user-facing form is
 * man/fence-policy.5.
 *
 * Paths given to the resolver are relative to the codebase root, with or
 * without a leading '/': "" and "/" are the root itself, "src/main.c" and
 * "/src/main.c" are the same path.  They must not contain "." or ".."
 * components or empty components ("a//b"); the resolver answers -EINVAL.
 */
#ifndef FENCE_POLICY_H
#define FENCE_POLICY_H

#include <stdbool.h>
#include <stddef.h>

/* Ordered: none < view < read < write. */
enum policy_level {
	POLICY_NONE = 0,
	POLICY_VIEW = 1,
	POLICY_READ = 2,
	POLICY_WRITE = 3,
};

/* "none", "view", "read", "write". */
const char *policy_level_name(enum policy_level level);
/* Parses a level name (exact, lower case).  0 or -EINVAL. */
int policy_level_parse(const char *name, enum policy_level *out);

/*
 * Error report filled by every function that can fail on user input.
 * file is the origin given by the caller ("policy.ini", "preset agent-safe",
 * "--rule"), line is 1-based or 0 when there is no line.  format() below
 * renders it as "policy.ini:7: unknown level 'wirte'".
 */
struct policy_error {
	char file[256];
	int line;
	char msg[512];
};

/* Renders err as "FILE:LINE: MSG" (or "FILE: MSG" when line is 0) into buf. */
void policy_error_format(const struct policy_error *err, char *buf, size_t len);

struct policy; /* opaque; immutable once loading is finished */

/* One rule as the user wrote it, for explain and audit. */
struct policy_rule_info {
	unsigned index;          /* 0-based position in the ordered list */
	enum policy_level level;
	const char *pattern;     /* the text as written */
	const char *origin;      /* file name, "preset NAME" or "--rule" */
	int line;                /* 1-based line in origin, 0 if none */
};

/* Returns a new empty policy, or NULL when out of memory. */
struct policy *policy_new(void);
/* Frees everything.  NULL is fine. */
void policy_free(struct policy *p);

/*
 * Compiles PATTERN (docs/SPEC.md 2) and appends it as the last rule.
 * origin/line are copied and only used for reporting.
 * Returns 0, -EINVAL with err filled (bad pattern, naming it; a pattern
 * longer than 1024 bytes; one the DFA matcher cannot run), -ENOMEM.
 */
int policy_add_rule(struct policy *p, enum policy_level level, const char *pattern,
		    const char *origin, int line, struct policy_error *err);

/*
 * Parses "LEVEL=PATTERN" (split at the first '=', blanks around both
 * trimmed) as given to --rule and appends it with origin "--rule".
 * Returns 0 or -EINVAL with err filled ("--rule 'x': ...").
 */
int policy_add_rule_arg(struct policy *p, const char *arg, struct policy_error *err);

/*
 * Callback that gives the text of a preset by name, for "preset =" inside a
 * policy file.  On success it returns 0 and sets *text (malloc'd, the
 * engine frees it) and *origin (malloc'd, e.g. the preset file's path;
 * the engine frees it).  On failure it returns -errno (-ENOENT: no such
 * preset) and the engine reports "unknown preset 'NAME'".
 */
typedef int (*policy_preset_fn)(void *ctx, const char *name, char **text, char **origin);

/*
 * Parses TEXT (an INI policy file, docs/SPEC.md 5) of LEN bytes and appends its
 * rules.  ORIGIN names it in errors.  A "preset =" key loads that preset's
 * rules first through PRESET_FN (may be NULL: then "preset =" is an error);
 * presets may not nest more than 4 deep.  Unknown sections or keys, unknown
 * levels, bad patterns, a second "preset =", and text that is not an INI
 * file are errors with the line.  Returns 0, -EINVAL (err filled), -ENOMEM.
 */
int policy_load_text(struct policy *p, const char *text, size_t len, const char *origin,
		     policy_preset_fn preset_fn, void *ctx, struct policy_error *err);

/* The [policy] description of the last text loaded that had one, or NULL. */
const char *policy_description(const struct policy *p);

/* Number of rules, and rule I (0-based; NULL when out of range). */
size_t policy_rule_count(const struct policy *p);
const struct policy_rule_info *policy_rule(const struct policy *p, size_t i);

/*
 * Canonical text of the whole ordered rule list: "[rules]\n", then one
 * "LEVEL = PATTERN\n" per rule (so it is itself a policy file); what the
 * digest covers.  Patterns never hold a line break (policy_add_rule()
 * refuses them), so the text cannot be read as other rules.  Owned by p.
 */
const char *policy_canonical_text(const struct policy *p);
/* Lower-case hex SHA-256 of policy_canonical_text(), 64 chars + NUL. */
void policy_digest(const struct policy *p, char out[65]);

/*
 * The decision for one path.
 *
 * level      effective level: POLICY_NONE when the path is hidden, whether
 *            by its own rule or by an ancestor that is not reachable.
 * own        level from the rules alone (last rule matching the path or an
 *            ancestor), before reachability and pass-through.
 * rule       index of the deciding rule, or -1 for the default (none).
 *            For a path hidden by an ancestor this is the ancestor's rule.
 * passthrough true for a directory whose own level is none but which is
 *            shown as view because a later rule of level view or more
 *            could match some path strictly beneath it (docs/SPEC.md 3); it lists
 *            only reachable entries.
 * reincluded_by  for a pass-through directory, the index of the first such
 *            later rule; -1 otherwise.
 * hidden_by  when the path is hidden because an ancestor is not reachable:
 *            the length of that ancestor's path (without leading '/'), so
 *            that path[0..hidden_by) names it; 0 otherwise (and 0 when the
 *            unreachable ancestor is the root itself: see hidden).
 * hidden     true when the path is hidden because an ancestor (the root
 *            included) is not reachable, whatever its own level.
 * match_error true when no matcher could decide the path within its
 *            bounds (never seen in practice: the DFA fallback bounds every
 *            match).  The path is then none with rule -1, and answers
 *            exactly as any hidden name does (fail closed).
 */
struct policy_decision {
	enum policy_level level;
	enum policy_level own;
	int rule;
	bool passthrough;
	size_t hidden_by;
	bool hidden;
	int reincluded_by;
	bool match_error;
};

/* Decision for the codebase root (a directory). */
void policy_resolve_root(const struct policy *p, struct policy_decision *out);

/*
 * Full resolution of PATH (see top for its form), walking every ancestor
 * for reachability.  IS_DIR says whether PATH itself is a directory (it
 * matters for trailing-'/' patterns and pass-through); every ancestor is
 * a directory.  Returns 0, -EINVAL for a malformed path, or -ENOMEM.
 * A pattern that backtracks too long on this path is answered by the DFA
 * matcher instead (same answer, bounded work); should even that fail, the
 * path is none (match_error above), never an error code of its own.
 */
int policy_resolve(const struct policy *p, const char *path, bool is_dir,
		   struct policy_decision *out);

/*
 * Incremental resolution for a filesystem walk: the decision for PATH
 * (the full path of the child, not just its name) given its parent's
 * decision.  Costs one pass over the rules, not one per ancestor; this is
 * what the FUSE daemon calls at lookup.  A child of a hidden parent is
 * hidden.  Returns 0 or the errors of policy_resolve().
 */
int policy_resolve_child(const struct policy *p, const struct policy_decision *parent,
			 const char *path, bool is_dir, struct policy_decision *out);

/*
 * Does rule I match PATH (or one of its ancestors), by its pattern alone?
 * For explain --all, which shows every matching rule and not only the
 * last one.  Returns 1, 0, or -EINVAL (bad path or I out of range),
 * -ENOMEM, -ERANGE when no matcher could decide within its bounds.
 */
int policy_rule_matches(const struct policy *p, size_t i, const char *path, bool is_dir);

/*
 * Could a rule of level MIN_LEVEL or more decide some path strictly
 * beneath the directory DIRPATH (form as at the top; "" is the root)?
 * By the patterns alone, whether DIRPATH is reachable or not.  Only rules
 * after the last rule matching DIRPATH itself count (an earlier one can
 * never be the last match beneath it); the pattern question goes to pcre2
 * as a partial match (see policy/glob.h), so no caller re-parses globs.
 *
 * This is docs/SPEC.md 3's pass-through test (MIN_LEVEL view) and the daemon's
 * "may this directory hold writable names" (MIN_LEVEL write).  It
 * over-approximates only where a still later none rule hides again all
 * that the rule could reach.  False on a malformed path, without memory,
 * or when matching fails: fail closed.
 */
bool policy_could_match_beneath(const struct policy *p, const char *dirpath,
				enum policy_level min_level);

#endif
