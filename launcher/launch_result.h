/* SPDX-License-Identifier: Apache-2.0 */
/*
 * launch_result.h - fence-run's --result JSON object (docs/SPEC.md 7, issue 4) and
 * the matching audit "start"/"exit" event fields.  An API for agent
 * frameworks: keys are only ever added, never renamed.
 */
#ifndef FENCE_LAUNCH_RESULT_H
#define FENCE_LAUNCH_RESULT_H

#include <stdbool.h>
#include <stdint.h>

#include "launch_config.h"
#include "util.h"

struct launch_result {
	int exit_code;          /* fence-run's own exit status */
	int signal;             /* signal that killed the command, 0 if none */
	bool timed_out;
	bool oom_killed;
	double wall_seconds;
	double user_seconds;
	double sys_seconds;
	uint64_t peak_memory_bytes;
	uint64_t denied;
	uint64_t written;
	const char *delta;      /* kept delta directory, or NULL */
	const char *apply_json; /* `fencefs commit --json` output, or NULL */
	const char *error;      /* fence-run's own failure, or NULL */
};

/*
 * Appends the result as one JSON object:
 * {"exit_code":N,"signal":N|null,"timed_out":b,"oom_killed":b,
 *  "wall_seconds":f,"user_seconds":f,"sys_seconds":f,"peak_memory_bytes":N,
 *  "denied":N,"written":N,"delta":"path"|null,"apply":{...}|null,
 *  "error":"message"|null}
 * apply_json is embedded as is when it is a JSON object, else as a string.
 */
void launch_result_json(const struct launch_result *r, struct buf *b);

/* Writes the object and a newline to FD (truncating it).  0 or -errno. */
int launch_result_write(int fd, const struct launch_result *r);

/* Fields of the audit "start" event: argv, codebase, policy digest, limits. */
void launch_audit_start_fields(const struct fence_run_config *c, int argc, char **argv,
			       const char *codebase, const char *digest, struct buf *b);
/* Fields of the audit "exit" event: status and usage. */
void launch_audit_exit_fields(const struct launch_result *r, struct buf *b);

/*
 * The command's environment (docs/SPEC.md 7): PATH, HOME, LANG, TERM from the
 * caller when set, then --env-pass values the caller has, then --env
 * KEY=VALUE; a later key replaces an earlier one.  GETENV reads the
 * caller's environment (getenv, or a table in tests).  Returns a
 * NULL-terminated array of malloc'd strings (launch_env_free), or NULL
 * when out of memory.
 */
char **launch_env_build(const struct fence_run_config *c, const char *(*get)(const char *key));
void launch_env_free(char **envp);

#endif
