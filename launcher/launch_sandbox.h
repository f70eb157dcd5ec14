/* SPDX-License-Identifier: Apache-2.0 */
/*
 * launch_sandbox.h - the sandbox itself: the namespaced init process
 * (launch_init.c), its root filesystem (launch_mount.c), id maps
 * (launch_ns.c) and privilege drop (launch_caps.c).
 *
 * The launcher and the init talk over one SOCK_SEQPACKET socket pair
 * (message boundaries kept, SCM_RIGHTS for the /dev/fuse fd):
 *
 *   launcher                                init (pid 1 of the new pid ns)
 *   clone(NEWUSER|NEWNS|NEWPID|...) ----->  cgroup v1: joins its cgroup
 *   (cgroup v2: CLONE_INTO_CGROUP)          itself; waits for GO
 *   writes uid_map/gid_map
 *   GO --------------------------------->   opens /dev/fuse, drops to U:G,
 *                                           tmpfs root, mounts /workspace
 *   <------------------- FUSE + fd          (fd passed with SCM_RIGHTS)
 *   spawns fencefs on the fd,               builds the rest of the root,
 *   cgroup v2 without CLONE_INTO_CGROUP:    pivot_root, waits for RUN
 *   moves the init into it
 *   waits for the daemon's "ready"
 *   RUN -------------------------------->   new cgroup ns, forks the
 *                                           command, reaps
 *   <------------------- STATUS wstatus     command ended; init exits
 *   any time: ERROR text (setup failed; the init exits 125)
 *             EXECFAIL errno (sent by the command process itself)
 *
 * Why the init opens /dev/fuse and not the launcher: the kernel refuses a
 * FUSE mount whose /dev/fuse fd was opened in another user namespace
 * (fs/fuse/inode.c fuse_fill_super(): f_cred->user_ns != s_user_ns).
 */
#ifndef FENCE_LAUNCH_SANDBOX_H
#define FENCE_LAUNCH_SANDBOX_H

#include <stdbool.h>
#include <sys/types.h>

#include "launch_cgroup.h"
#include "launch_config.h"
#include "launch_seccomp.h"

enum launch_msg_type {
	LAUNCH_MSG_GO = 'G',
	LAUNCH_MSG_RUN = 'R',
	LAUNCH_MSG_FUSE = 'F',
	LAUNCH_MSG_STATUS = 'S',
	LAUNCH_MSG_ERROR = 'E',
	LAUNCH_MSG_EXECFAIL = 'X',
};

struct launch_msg {
	char type;
	int value;       /* STATUS: wait status; EXECFAIL: errno */
	char text[480];  /* ERROR: message */
};

/* A run of NUL-terminated strings as execve(2) laid them out on the stack:
 * what the kernel shows as /proc/PID/cmdline (argv) or environ. */
struct launch_strings_area {
	char *start;
	size_t len;
};

/* What the init needs; prepared by the launcher before clone(). */
struct launch_sandbox {
	const struct fence_run_config *cfg;
	uid_t uid;               /* the id the command runs as, inside = outside */
	gid_t gid;
	bool host_root;          /* the launcher runs as root: setgroups allowed */
	char **envp;             /* the command's whole environment */
	const char *workdir;     /* absolute, "/workspace[/...]" */
	const char *passwd;      /* text of the sandbox's /etc/passwd */
	const char *group;       /* text of the sandbox's /etc/group */
	scmp_filter_ctx seccomp; /* built, loaded last by the command */
	int sock;                /* the init's end of the socket pair */
	/* cgroup v1: "tasks" files the init writes itself into, first thing
	 * (launch_cgroup_open_tasks()); -1 when the launcher attaches it. */
	int cg_tasks[LAUNCH_CG_NCTL];
	/* cgroup v2: the leaf, for CLONE_INTO_CGROUP; -1 otherwise. */
	int cg_v2_fd;
	/* fence-run's own argv and environment strings, which the init's copy
	 * of our memory still holds and overwrites first thing (nothing in
	 * the configuration points into them: main() parses a copy). */
	struct launch_strings_area host_args, host_env;
};

/* Sends / receives one message; FD (-1: none) travels with SCM_RIGHTS.
 * launch_msg_recv returns 0, -EPIPE at end of file, or -errno. */
int launch_msg_send(int sock, const struct launch_msg *m, int fd);
int launch_msg_recv(int sock, struct launch_msg *m, int *fd);
/* Convenience: sends an ERROR message formatted like printf. */
void launch_msg_error(int sock, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * launch_ns.c: clone with fork() semantics and FLAGS (namespaces and the
 * exit signal).  With CGROUP_FD >= 0 (a cgroup v2 directory) the child
 * starts in that cgroup when the kernel can (*IN_CGROUP then true in the
 * parent).  Returns the pid in the parent, 0 in the child, or -errno.
 */
pid_t launch_clone(unsigned long flags, int cgroup_fd, bool *in_cgroup);

/*
 * Clones the init with new user, mount, pid, ipc, uts and (unless
 * --net host) net namespaces, into sb->cg_v2_fd's cgroup when set; the
 * child runs launch_init_main(SB) and never returns.  Returns the child's
 * pid or -errno; *IN_CGROUP as for launch_clone().
 */
pid_t launch_clone_init(const struct launch_sandbox *sb, bool *in_cgroup);

/*
 * Writes the child's uid_map and gid_map: the single id UID -> UID and
 * GID -> GID.  Without root, "deny" goes to setgroups first, as
 * user_namespaces(7) requires.  0 or -errno with ERR filled.
 */
int launch_write_id_maps(pid_t pid, uid_t uid, gid_t gid, bool host_root, char *err,
			 size_t errlen);

/*
 * launch_init.c: the area of the strings of the NULL-terminated vector
 * STRV, as long as they lie back to back from STRV[0] (execve(2) puts
 * them so).  Call it before anything changes them; {NULL, 0} when STRV
 * is empty.
 */
struct launch_strings_area launch_strings_area(char *const *strv);

/*
 * Overwrites the argument area A so that /proc/PID/cmdline reads TITLE
 * (cut to fit) and nothing else: TITLE, then NULs, and a last byte that
 * is not NUL, which makes the kernel read only up to the first NUL
 * (fs/proc/base.c, get_mm_cmdline(): setproctitle(3) support), so that
 * not even the length of the old command line shows.
 */
void launch_strings_retitle(struct launch_strings_area a, const char *title);

/* launch_init.c: the command's rlimit floors (RLIMIT_CORE 0, a bounded
 * RLIMIT_NOFILE, RLIMIT_NPROC without a cgroup).  0 or -errno. */
int launch_init_rlimits(const struct launch_sandbox *sb);

/* launch_init.c: the init's whole life.  Never returns. */
__attribute__((noreturn)) void launch_init_main(const struct launch_sandbox *sb);

/*
 * launch_mount.c: the root filesystem, in steps called by the init in
 * this order (see launch_init.c for why).  Each returns 0 or -errno after
 * sending nothing: the init reports with the message in ERR.
 */
int launch_root_prepare(const struct launch_sandbox *sb, char *err, size_t errlen);
int launch_root_workspace(const struct launch_sandbox *sb, int fuse_fd, char *err,
			  size_t errlen);
int launch_root_populate(const struct launch_sandbox *sb, char *err, size_t errlen);
int launch_root_pivot(char *err, size_t errlen);
/* Opens --bind-ro sources (before the id switch: they may be under 0700
 * dirs only host root can walk).  Fds are kept in a static table. */
int launch_root_open_binds(const struct launch_sandbox *sb, char *err, size_t errlen);

/* launch_mount.c: brings "lo" up in the new network namespace. */
int launch_loopback_up(char *err, size_t errlen);

/*
 * launch_caps.c: drops everything for the command: supplementary groups
 * (when allowed), bounding and ambient sets, switches to UID:GID, empties
 * the permitted/effective/inheritable sets, sets no_new_privs.  0 or -errno
 * with ERR naming the step.
 */
int launch_drop_privileges(uid_t uid, gid_t gid, bool setgroups_ok, char *err, size_t errlen);

#endif
