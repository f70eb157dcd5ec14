/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fs_opts.h - the command line of `fencefs mount`, parsed into one config
 * struct by a parser that unit tests call (STYLE.md: no option globals).
 */
#ifndef FENCE_FS_OPTS_H
#define FENCE_FS_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "policy_load.h"

/* Bounds of --fd-cache (fs_fds.c: the root's two fds and a path's directories). */
#define FS_FD_CACHE_MIN 16
#define FS_FD_CACHE_MAX (1 << 20)

struct fs_opts {
	struct fence_policy_opts policy; /* --preset, --policy, --rule (rules malloc'd) */
	const char *delta;       /* --delta DIR, or NULL: a private temporary delta */
	const char *audit;       /* --audit FILE */
	int audit_fd;            /* --audit-fd N, or -1 */
	bool audit_all;          /* --audit-all */
	uint64_t audit_max;      /* --audit-max BYTES, 0: AUDIT_MAX_DEFAULT */
	bool audit_max_set;
	uint64_t max_delta;      /* --max-delta BYTES, 0: no budget */
	bool foreground;         /* -f */
	bool verbose;            /* -v */
	bool debug;              /* -d: libfuse's request trace */
	bool kernel_opens;       /* --kernel-opens: the default, said explicitly */
	bool exact_opens;        /* --exact-opens: OPEN and OPENDIR go to the daemon */
	bool no_passthrough;     /* --no-passthrough: daemon mode serves data itself */
	const char **fuse_opts;  /* -o values, in order (array malloc'd) */
	size_t nfuse_opts;
	bool has_owner;          /* --owner UID:GID */
	uid_t owner_uid;
	gid_t owner_gid;
	int ready_fd;            /* --ready-fd N, or -1 */
	int stats_fd;            /* --stats-fd N, or -1 */
	int64_t fd_cache;        /* --fd-cache N: fds the daemon may cache, 0: from RLIMIT_NOFILE */
	const char *stats_file;  /* --stats-file FILE: counters on SIGUSR1 and at exit */
	const char *source;
	const char *mountpoint;
	bool help;               /* -h/--help: print usage, nothing else checked */
};

/*
 * Parses the arguments of `fencefs mount` (argv[0] is "mount"; the strings
 * are borrowed, not copied).  Returns 0, or -EINVAL with a message in err
 * ("no policy: give --preset, --policy or --rule", "unknown option
 * '--x'", ...), or -ENOMEM.  Free with fs_opts_free() either way.
 */
int fs_opts_parse(int argc, char **argv, struct fs_opts *o, char *err, size_t errlen);
void fs_opts_free(struct fs_opts *o);

/* The usage text (also the SYNOPSIS of fencefs(1)). */
extern const char fs_mount_usage[];

#endif
