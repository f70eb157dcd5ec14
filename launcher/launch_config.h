/* SPDX-License-Identifier: Apache-2.0 */
/*
 * launch_config.h - fence-run's one configuration struct and the option
 * parser that fills it (callable from unit tests: no I/O but what the
 * caller asks for, no exit()).  Contract: docs/SPEC.md 7, issue 4 item 1, and
 * man/fence-run.1; usage() and the SYNOPSIS say the same thing.
 */
#ifndef FENCE_LAUNCH_CONFIG_H
#define FENCE_LAUNCH_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* Exit statuses of docs/SPEC.md 7. */
#define LAUNCH_EXIT_TIMEOUT 124
#define LAUNCH_EXIT_FAILURE 125
#define LAUNCH_EXIT_NOEXEC 126
#define LAUNCH_EXIT_NOTFOUND 127

#define LAUNCH_DEFAULT_PRESET "agent-safe"
#define LAUNCH_DEFAULT_PIDS 4096
#define LAUNCH_DEFAULT_TMP_SIZE (256ULL << 20)
#define LAUNCH_DEFAULT_UID 65534 /* nobody */
#define LAUNCH_DEFAULT_GID 65534 /* nogroup */
/* --fd-cache bounds: the daemon needs a few fds of its own to work at all
 * (fencefs(1) --fd-cache), and more than fs.nr_open's ceiling is a typo. */
#define LAUNCH_FD_CACHE_MIN 16
#define LAUNCH_FD_CACHE_MAX (1U << 20)

/* --bind-ro HOST[:PATH] */
struct launch_bind {
	const char *host; /* as given */
	const char *path; /* absolute path inside the sandbox */
};

/*
 * Everything the command line says.  Strings point into argv (or are
 * static defaults) except the arrays, which launch_config_free() releases.
 */
struct fence_run_config {
	const char *codebase;    /* default "." */
	const char *preset;      /* NULL: none (the default preset only applies
				    when neither --preset nor --policy is given) */
	const char *policy_file;
	const char **rules;      /* --rule values in order */
	size_t nrules;
	const char *delta;       /* NULL: a private delta, removed at the end */
	bool apply;
	const char *workdir;     /* relative to /workspace, no "..", or NULL */
	const char **env;        /* --env KEY=VALUE in order */
	size_t nenv;
	const char **env_pass;   /* --env-pass KEY in order */
	size_t nenv_pass;
	bool net_host;
	double timeout;          /* seconds; 0: none */
	uint64_t memory;         /* bytes; 0: no limit */
	uint64_t pids;           /* max tasks in the sandbox */
	double cpus;             /* CPUs of quota; 0: no limit */
	uint64_t max_delta;      /* bytes; 0: no limit */
	uint64_t tmp_size;       /* bytes of the private /tmp */
	uint64_t fd_cache;       /* --fd-cache: fds the daemon may cache; 0: its default */
	struct launch_bind *binds;
	size_t nbinds;
	const char *user;        /* --user as given, or NULL */
	const char *audit;
	bool audit_all;
	uint64_t audit_max;      /* --audit-max: bytes; 0: AUDIT_MAX_DEFAULT */
	const char *result;
	bool quiet;
	bool unsafe_no_cgroup;
	bool help;
	bool version;
	char **command;          /* NULL-terminated, points into argv */
	int ncommand;
	/* Long-lived sandboxes (issue 17, launch_session.h); at most one mode. */
	const char *name;        /* --name NAME (with --detach) */
	bool detach;
	const char *in;          /* --in NAME */
	bool list;               /* --list */
	bool json;               /* --list --json */
	const char *stop;        /* --stop NAME, or NULL */
	bool stop_all;           /* --stop --all */
	const char *pause;       /* --pause NAME */
	const char *resume;      /* --resume NAME */
	double ttl;              /* --ttl seconds; 0: none */
	double idle_timeout;     /* --idle-timeout seconds; 0: none */
	bool tty;                /* --tty */
};

/*
 * Parses ARGV into C (which it initialises with the defaults first).
 * Everything after "--" or after the first non-option word is the
 * command.  Returns 0, or -EINVAL with a message like
 * "--memory '12Q': invalid size" in ERR (without the "fence-run: " prefix).
 * With --help or --version it returns 0 and sets the flag; the command
 * may then be missing.
 */
int launch_config_parse(struct fence_run_config *c, int argc, char **argv, char *err,
			size_t errlen);

/* Frees the arrays of C.  Safe on a zeroed or partly filled struct. */
void launch_config_free(struct fence_run_config *c);

/* Prints the usage text (the man page's SYNOPSIS and option list). */
void launch_usage(FILE *f);

/*
 * Checks a --workdir value and normalises it to a path relative to
 * /workspace ("" for the root) in OUT.  Accepts "src", "/workspace/src",
 * "./src/"; refuses "..", anything that leaves /workspace and absolute
 * paths elsewhere.  0 or -EINVAL.
 */
int launch_workdir_normalise(const char *in, char *out, size_t outlen);

#endif
