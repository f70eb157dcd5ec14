/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy_load.h - the OS side of policy loading: finding presets on disk and
 * reading policy files, then handing their text to the pure engine.
 *
 * Presets are looked up, by name ([a-z0-9-]+ only, so a name can never be a
 * path), in the first of these that holds agent-safe.ini:
 *   - $FENCE_PRESET_DIR when set (taken as is);
 *   - the source tree's presets/ when the binary runs from the build
 *     directory it was built in, wherever BUILD= put it (the Makefile
 *     records FENCE_SRCDIR and FENCE_BUILDDIR);
 *   - <exe dir>/../share/fencefs/presets: an install under any PREFIX,
 *     moved or not;
 *   - <exe dir>/../presets: a build directory inside a source tree that
 *     was moved along with it (not for a binary in FENCE_BINDIR);
 *   - else the configured FENCE_PRESETDIR ($(PREFIX)/share/fencefs/presets),
 *     which errors name.
 * See fencefs(1) FILES.
 */
#ifndef FENCE_POLICY_LOAD_H
#define FENCE_POLICY_LOAD_H

#include <stddef.h>

#include "policy.h"

/* What the command line says about the policy, in order of application. */
struct fence_policy_opts {
	const char *preset;        /* NULL: no preset */
	const char *policy_file;   /* NULL: no file */
	const char **rules;        /* --rule LEVEL=PATTERN values, in order */
	size_t nrules;
};

/* The directory presets are read from (see above); never NULL. */
const char *fence_preset_dir(void);

/*
 * Reads preset NAME's file.  0 with *text and *origin malloc'd, or -errno
 * (-ENOENT unknown preset, -EINVAL bad name).  Matches policy_preset_fn.
 */
int fence_read_preset(void *ctx, const char *name, char **text, char **origin);

/*
 * Builds a policy: the preset's rules, then the policy file's, then the
 * --rule values.  With neither preset, file nor rules, the policy is empty
 * (everything none).  Returns 0 with *out set, or -errno with err filled
 * (unreadable file: "FILE: cannot read: ..."; bad content: "FILE:LINE: ...").
 */
int fence_policy_build(const struct fence_policy_opts *o, struct policy **out,
		       struct policy_error *err);

/*
 * Lists the presets: calls fn once per preset found in fence_preset_dir(),
 * sorted by name, with its name and [policy] description ("" if none).
 * Returns 0 or -errno.
 */
int fence_list_presets(void (*fn)(void *ctx, const char *name, const char *description),
		       void *ctx);

#endif
