/* SPDX-License-Identifier: Apache-2.0 */
/*
 * delta_apply.h - applying a delta's changes to SOURCE, one by one: the
 * engine behind `fencefs commit` (delta_commit.c is its command line and
 * report).  Internal to fusefs/.
 */
#ifndef FENCE_DELTA_APPLY_H
#define FENCE_DELTA_APPLY_H

#include <stdbool.h>
#include <sys/stat.h>

#include "delta_read.h"
#include "policy.h"

enum delta_result {
	RES_APPLIED,
	RES_UNCHANGED, /* SOURCE already holds exactly this */
	RES_CONFLICT,
	RES_SKIPPED,   /* refused by the policy, or cannot be represented */
	RES_ERROR,
	RES_STAGED,    /* written under a temporary name, renamed in the last pass */
	RES_COUNT,
};

/* "applied", "unchanged", "conflict", "skipped", "error", "staged". */
extern const char *const delta_result_names[RES_COUNT];

/* A file written under a temporary name, waiting for its rename. */
struct delta_staged {
	char tmp[40];      /* "" when there is nothing to rename in */
	bool existed;      /* the target existed when it was checked */
	struct stat seen;  /* ... and looked like this */
	bool old_removed;  /* a rename's old name went in the first pass */
	bool settled;      /* the change has its final result */
};

struct delta_commit_opts {
	bool dry_run, force, json;
	const char *delta, *source;
};

/*
 * One commit.  The caller fills o, m, policy (rebuilt from m's rules),
 * upperfd, srcfd and c (from delta_collect()), and allocates res, why and
 * staged with c->n entries (res all RES_ERROR, why and staged zeroed); it
 * frees them and every why[i] afterwards.
 */
struct delta_commit {
	const struct delta_commit_opts *o;
	const struct delta_meta *m;
	struct policy *policy;
	int upperfd, srcfd;
	struct delta_changes *c;
	enum delta_result *res;  /* per change */
	char **why;              /* per change: the reason, malloc'd, or NULL */
	struct delta_staged *staged;
	bool sync_failed;        /* the final syncfs(2) failed: nothing is known durable */
	unsigned early_renames;  /* renames whose old name went in the first pass */
	unsigned counts[RES_COUNT];
};

/* ---- delta_stage.c: writing ---- */

struct buf;

/* The user.* attributes of the delta's entry at PATH, into OUT.  0 or -errno. */
int delta_upper_xattrs(const struct delta_commit *k, const char *path, struct buf *out);

/* Do SOURCE's NAME in PFD and the delta's PATH carry the same user.* attributes? */
bool delta_same_xattrs(const struct delta_commit *k, int pfd, const char *name, const char *path);

/* A fresh temporary name, ".fencefs-commit-" and 16 random hex digits. */
void delta_temp_name(char out[40]);

/*
 * Writes the delta's entry at CH->path (a regular file or a symlink) to a
 * new temporary name in PFD, stored in TMP, with the delta's bytes,
 * permission bits and user.* attributes.  OLD, when not NULL, is the entry
 * it will replace: its owner is kept (as root).  Not synced.  0 or -errno
 * (the temporary name is then removed).
 */
int delta_stage_entry(const struct delta_commit *k, const struct delta_change *ch, int pfd,
		      const struct stat *old, char tmp[40]);

/*
 * Gives directory NAME in PFD the mode and user.* attributes of the
 * delta's directory CH->path, creating it first when CREATE.  0 or -errno.
 */
int delta_make_dir(const struct delta_commit *k, const struct delta_change *ch, int pfd,
		   const char *name, bool create);

/*
 * Checks and applies every change of k->c (or only checks, with
 * o->dry_run), setting res[i] and why[i] for each and the counts.  Never
 * fails as a whole: each change reports its own error.
 */
void delta_commit_run(struct delta_commit *k);

#endif
