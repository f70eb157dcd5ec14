/* SPDX-License-Identifier: Apache-2.0 */
/*
 * launch_cgroup.h - the sandbox's leaf cgroup: limits (memory, pids, cpu),
 * peak memory and OOM detection, on cgroup v2 where a cgroup2 hierarchy
 * has the controllers enabled, else on cgroup v1 (one leaf per controller
 * hierarchy).  Kernel docs: Documentation/admin-guide/cgroup-v2.rst,
 * cgroup-v1/memory.rst, cgroup-v1/pids.rst, scheduler/sched-bwc.rst.
 *
 * Everything works below a root prefix and on mountinfo / proc cgroup text
 * handed in by the caller, so unit tests run it on a fake directory tree.
 */
#ifndef FENCE_LAUNCH_CGROUP_H
#define FENCE_LAUNCH_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Where to look: ROOT is prepended to every mount point ("" for the host). */
struct launch_cgroup_env {
	const char *root;
	const char *mountinfo;   /* text of /proc/self/mountinfo */
	const char *proc_cgroup; /* text of /proc/self/cgroup */
};

struct launch_limits {
	uint64_t memory; /* bytes, 0: none */
	uint64_t pids;   /* 0: none */
	double cpus;     /* 0: none */
};

enum launch_cg_ctl { LAUNCH_CG_MEMORY, LAUNCH_CG_PIDS, LAUNCH_CG_CPU, LAUNCH_CG_NCTL };

struct launch_cgroup {
	int version;                   /* 0: none yet, 1 or 2 */
	/* v2: parent[0] / leaf[0] only.  v1: one per controller, NULL when
	 * that controller is not used (cpu without --cpus). */
	char *parent[LAUNCH_CG_NCTL];  /* directory the leaf is made in */
	char *leaf[LAUNCH_CG_NCTL];    /* the leaf itself, once made */
	int fd[LAUNCH_CG_NCTL];        /* O_PATH fd of each leaf, -1 if none */
};

struct launch_cgroup_stats {
	uint64_t peak_memory; /* bytes; 0 when unknown */
	bool oom_killed;
};

/* Sets every fd to -1 and pointers to NULL. */
void launch_cgroup_init(struct launch_cgroup *cg);

/*
 * Decides v2 or v1 and the parent directories: v2 when a cgroup2 mount has
 * memory and pids (and cpu when LIM asks for it) in the cgroup.subtree_control
 * of our own cgroup or of its nearest ancestor that has them; else v1 under
 * our own cgroup of each controller's hierarchy.  Returns 0, or -ENOENT with
 * ERR saying what is missing.
 */
int launch_cgroup_find(struct launch_cgroup *cg, const struct launch_cgroup_env *env,
		       const struct launch_limits *lim, char *err, size_t errlen);

/*
 * Creates the leaf NAME in each parent and keeps an O_PATH fd to it.
 * 0 or -errno with ERR filled (EEXIST: a leaf of that name exists).
 */
int launch_cgroup_mkdir(struct launch_cgroup *cg, const char *name, char *err, size_t errlen);

/* Writes the limits into the leaves.  0 or -errno with ERR naming the file. */
int launch_cgroup_set_limits(const struct launch_cgroup *cg, const struct launch_limits *lim,
			     char *err, size_t errlen);

/* Moves PID (a host pid) into every leaf.  0 or -errno. */
int launch_cgroup_attach(const struct launch_cgroup *cg, pid_t pid);

/*
 * cgroup v1 only: opens each leaf's "tasks" file for writing into FDS
 * (-1 where there is no leaf), so that the sandbox's init can move itself
 * with launch_cgroup_attach_self().  Why: writing another process's pid
 * to cgroup.procs takes cgroup_threadgroup_rwsem for writing, a percpu
 * rwsem whose write side waits for an RCU grace period (5-15 ms measured
 * here), while a single thread moving itself through "tasks" skips that
 * lock (kernel/cgroup/cgroup.c cgroup_procs_write_start()).  The open
 * file carries the opener's credentials for the permission check.
 * Returns 0, -EOPNOTSUPP for v2 (use launch_cgroup_attach()), or -errno.
 */
int launch_cgroup_open_tasks(const struct launch_cgroup *cg, int fds[LAUNCH_CG_NCTL]);

/* Moves the calling (single-threaded) process into each leaf of FDS by
 * writing "0", and closes the fds.  0 or -errno. */
int launch_cgroup_attach_self(int fds[LAUNCH_CG_NCTL]);

/* How many processes the OOM killer has killed in the cgroup so far (0 when unknown). */
uint64_t launch_cgroup_oom_kills(const struct launch_cgroup *cg);
/* Reads peak memory and whether the OOM killer struck; missing files give 0. */
void launch_cgroup_stats(const struct launch_cgroup *cg, struct launch_cgroup_stats *st);

/*
 * Removes the leaves (they must be empty of tasks; retried briefly while
 * the kernel finishes tearing the tasks down), closes fds, frees.
 */
void launch_cgroup_destroy(struct launch_cgroup *cg);

/*
 * Removes leftovers of fence-run instances that were SIGKILLed: empty
 * "fence-run.PID" leaves in the parents whose PID no longer exists.
 */
void launch_cgroup_reap_stale(const struct launch_cgroup *cg);

/* Does everything on the host: reads /proc/self/{mountinfo,cgroup},
 * find + mkdir "fence-run.<getpid()>" + set_limits. */
int launch_cgroup_setup(struct launch_cgroup *cg, const struct launch_limits *lim, char *err,
			size_t errlen);

#endif
