/* SPDX-License-Identifier: Apache-2.0 */
/*
 * launch_daemon.h - starting the fencefs daemon on the sandbox's /dev/fuse
 * fd, waiting until it serves, and collecting its statistics; running
 * `fencefs commit` for --apply.  The daemon runs outside the sandbox
 * (the command can neither signal nor trace it), in its own session.
 *
 * Interface (issue 4, "How the pieces fit"):
 *   fencefs mount -f --owner UID:GID --ready-fd N --stats-fd M
 *     [--audit-fd A [--audit-all]] [--preset P] [--policy F] [--rule L=P]...
 *     --delta DIR [--max-delta B] SOURCE /dev/fd/K
 * It writes "ready\n" to N once serving, {"denied":N,"written":N,
 * "delta_bytes":N} to M at exit, and exits when the mount disappears.
 */
#ifndef FENCE_LAUNCH_DAEMON_H
#define FENCE_LAUNCH_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "launch_config.h"

struct launch_daemon {
	pid_t pid;      /* 0 when not running */
	int pidfd;      /* readable when it exits */
	int ready_fd;   /* read end of the ready pipe */
	int stats_fd;   /* read end of the stats pipe */
	int status;     /* wait status once reaped */
	bool reaped;
	bool killed;    /* launch_daemon_finish() had to SIGKILL it */
};

struct launch_daemon_stats {
	bool valid;
	uint64_t denied;
	uint64_t written;
	uint64_t delta_bytes;
};

/* Path of a sibling tool NAME: $FENCE_BINDIR/NAME, else next to
 * /proc/self/exe.  0 with *out malloc'd, or -ENOENT. */
int launch_find_tool(const char *name, char **out);

/* Builds the daemon's argv (NULL-terminated, strings malloc'd; free with
 * launch_argv_free).  FUSE_FD, READY_FD, STATS_FD, AUDIT_FD (-1: none) are
 * the fd numbers the daemon will have.  NULL when out of memory. */
char **launch_daemon_argv(const char *fencefs, const struct fence_run_config *c,
			  const char *source, const char *delta, uid_t uid, gid_t gid, int fuse_fd,
			  int ready_fd, int stats_fd, int audit_fd);
void launch_argv_free(char **argv);

/*
 * Forks and execs the daemon with FUSE_FD and AUDIT_FD (-1: none)
 * inherited.  0 or -errno with ERR filled.
 */
int launch_daemon_spawn(struct launch_daemon *d, const char *fencefs,
			const struct fence_run_config *c, const char *source, const char *delta,
			uid_t uid, gid_t gid, int fuse_fd, int audit_fd, char *err, size_t errlen);

/*
 * Waits up to TIMEOUT_MS for "ready\n", while also watching ALSO_FD (the
 * init's socket: -1 for none) for readability.  Returns 0 when ready,
 * 1 when ALSO_FD became readable first, -ETIMEDOUT, or -EPIPE when the
 * daemon closed the pipe without saying ready (it exited).
 */
int launch_daemon_wait_ready(struct launch_daemon *d, int also_fd, int timeout_ms);

/* Waits up to GRACE_MS for the daemon to exit, then kills it; reads its
 * statistics.  Safe to call when it never started. */
/* True when the reaped daemon failed on its own: killed by a signal we
 * did not send, or a non-zero exit. */
bool launch_daemon_failed(const struct launch_daemon *d);
void launch_daemon_finish(struct launch_daemon *d, int grace_ms, struct launch_daemon_stats *st);

/* Parses the stats JSON object.  0 or -EINVAL. */
int launch_daemon_parse_stats(const char *text, struct launch_daemon_stats *st);

/*
 * Runs `fencefs commit --json DELTA SOURCE`, capturing stdout in *JSON
 * (malloc'd, may be NULL).  Returns the tool's exit status (0 applied,
 * 1 conflicts, 2 errors) or -errno when it could not run.
 */
int launch_apply(const char *fencefs, const char *delta, const char *source, char **json);

#endif
