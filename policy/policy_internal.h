/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy_internal.h - what parse.c needs from policy.c beyond policy.h.
 */
#ifndef FENCE_POLICY_INTERNAL_H
#define FENCE_POLICY_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>

#include "policy.h"

/* Replaces the description with a copy of DESC.  0 or -ENOMEM. */
int policy_set_description(struct policy *p, const char *desc);

/* Fills err with ORIGIN, LINE and a printf-style message; returns -EINVAL. */
int policy_error_set(struct policy_error *err, const char *origin, int line, const char *fmt,
		     ...) __attribute__((format(printf, 4, 5)));

/*
 * Tests only: with ON, every match goes straight to pcre2_dfa_match(), the
 * fallback that bounds the work of a backtracking match (policy.c
 * rule_match()), so that tests can check both matchers give one answer.
 */
void policy_set_dfa_only(struct policy *p, bool on);

#endif
