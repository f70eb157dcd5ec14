/* SPDX-License-Identifier: Apache-2.0 */
/*
 * glob.h - translation of one policy pattern (docs/SPEC.md 2) into a pcre2 regex.
 * Internal to policy/; policy.c compiles the result.
 *
 * The regex is matched against the subject S: a path without its leading
 * '/', plus a trailing '/' when the path is a directory (the root is "/").
 * Because a rule that matches a directory covers everything beneath it,
 * every regex only anchors at the start and ends at a component boundary:
 *
 *   anchored  PAT   ^PAT(?:/|\z)           PAT/  ^PAT/
 *   basename  PAT   (?<![^/])PAT(?:/|\z)   PAT/  (?<![^/])PAT/
 *
 * so one match of S answers "does the rule match P or an ancestor of P".
 * (?<![^/]) is "at the start or right after a '/'", i.e. ^(?:.*\/)? but
 * searchable.  A leading "**\/" becomes the same, a middle one
 * /(?:.*\/)?, a trailing one /.+ (inside, not the directory itself).
 * With two or more "**", each skip is an atomic group instead, so that a
 * deep path costs linear time (see comps_translate()).
 *
 * The DFA regex (no atomic groups, no floating star) also answers "could
 * the rule match some path strictly beneath the directory D?": a partial
 * match (PCRE2_PARTIAL_HARD) of the subject "D/", since every path
 * beneath D has a subject that extends it.
 */
#ifndef FENCE_POLICY_GLOB_H
#define FENCE_POLICY_GLOB_H

#include <stdbool.h>
#include <stddef.h>

struct glob {
	char *regex;     /* pcre2 source text for pcre2_match(), malloc'd */
	char *dfa_regex; /* the same language for pcre2_dfa_match(): see
			  * comps_translate() and policy.c rule_match() */
	bool anchored;   /* matched from the root, not at any depth */
	bool dir_only;   /* pattern ended in '/' */
};

/*
 * Translates PATTERN.  Returns 0 with *g filled, -EINVAL with the reason in
 * err ("unterminated character class"; the caller names the pattern), or
 * -ENOMEM.  On failure *g holds nothing to free.
 */
int glob_translate(const char *pattern, struct glob *g, char *err, size_t errlen);

/* Frees what glob_translate() allocated.  A zeroed struct is fine. */
void glob_free(struct glob *g);

#endif
