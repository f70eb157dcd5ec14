/* SPDX-License-Identifier: Apache-2.0 */
/*
 * launch_session.h - long-lived sandboxes (issue 17): fence-run --name NAME
 * --detach, --in NAME, --list, --stop, --pause, --resume.
 *
 * Who does what:
 *
 *   caller (--detach)       supervisor (the forked fence-run)      init (pid 1 inside)
 *   claims BASE/NAME/ -----> setsid; the one-shot setup steps -----> exec server
 *   waits on a pipe  <------ "ready" once /workspace is served       (launch_exec.c)
 *   exits 0 or 125           listens on BASE/NAME/control            forks, execs,
 *                                                                     reports statuses
 *   client (--in ...) -----> SO_PEERCRED + namespace check,
 *   fds 0-2 by SCM_RIGHTS    relays the request and the fds -------> over the existing
 *   <---------------------- the command's status <----------------- socket pair
 *
 * BASE is $FENCE_RUN_STATE_DIR, else /run/fence-run for root, else
 * $XDG_RUNTIME_DIR/fence-run; BASE and BASE/NAME are 0700 and owned by
 * the caller, the socket 0600.  The supervisor holds an exclusive flock on
 * BASE/NAME/lock all its life: a directory whose lock can be taken is
 * stale (its supervisor died) and --list / --stop / a new --detach clean
 * it.  BASE/.lock serialises claiming a name against that cleaning.
 *
 * Every message on the control socket and on the init socket in session
 * mode is one SOCK_SEQPACKET datagram: a struct launch_wire, then LEN
 * payload bytes, with up to 3 fds.  Sizes are bounded and every field is
 * checked by the receiver: the client and the sandbox are not trusted.
 */
#ifndef FENCE_LAUNCH_SESSION_H
#define FENCE_LAUNCH_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "launch_config.h"

#define LAUNCH_SESSION_NAME_MAX 64
#define LAUNCH_WIRE_MAX_PAYLOAD 65536
#define LAUNCH_WIRE_MAX_ARGS	4096
/* Commands running at once in one sandbox, and control connections. */
#define LAUNCH_SESSION_MAX_CMDS	   128
#define LAUNCH_SESSION_MAX_CLIENTS 160
/* EXEC's VALUE bits. */
#define LAUNCH_EXEC_TTY 1 /* fd 0 is a terminal: make it the controlling one */

enum launch_wire_type {
	LAUNCH_WIRE_EXEC = 'C',	    /* client->sup->init: run a command; 3 fds */
	LAUNCH_WIRE_KILL = 'K',	    /* client->sup->init: signal VALUE to command ID */
	LAUNCH_WIRE_STATUS = 'S',   /* init->sup->client: wait status VALUE; ARG 1: timed out */
	LAUNCH_WIRE_EXECFAIL = 'X', /* init->sup->client: execvp failed with errno VALUE */
	LAUNCH_WIRE_ERROR = 'E',    /* any: a failure, payload the message */
	LAUNCH_WIRE_INFO = 'I',	    /* client->sup: describe; reply: JSON payload */
	LAUNCH_WIRE_STOP = 'T',	    /* client->sup: stop the sandbox */
	LAUNCH_WIRE_PAUSE = 'P',
	LAUNCH_WIRE_RESUME = 'U',
	LAUNCH_WIRE_OK = 'O',	   /* sup->client: done; payload: a kept delta path */
	LAUNCH_WIRE_STARTED = 'B', /* init->sup: command ID runs as pid VALUE (sandbox's) */
};

struct launch_wire {
	uint32_t type;
	uint32_t id; /* command id, given by the supervisor (1, 2, ...) */
	int32_t value;
	uint32_t argc; /* EXEC: strings after the workdir */
	uint32_t envc; /* EXEC: KEY=VALUE strings after argv */
	uint32_t len;  /* payload bytes that follow */
	int64_t arg;   /* EXEC: timeout in ms (0: none); STATUS: bit 0 timed out, bit 1 OOM-killed */
};

/*
 * Sends H (H->len set from LEN) and PAYLOAD with NFDS (0-3) fds.  0 or -errno.
 */
int launch_wire_send(int sock, struct launch_wire *h, const void *payload, size_t len,
		     const int *fds, int nfds);
/*
 * Receives one datagram: the header into H, the payload into BUF (CAP
 * bytes, NUL-terminated after H->len: BUF must hold CAP + 1), fds into
 * FDS (up to 3, *NFDS set; extra fds are closed).  0, -EPIPE at end of
 * file, -EPROTO/-EMSGSIZE for a malformed datagram (its fds closed), or
 * -errno.
 */
int launch_wire_recv(int sock, struct launch_wire *h, char *buf, size_t cap, int *fds, int *nfds);

/* [A-Za-z0-9_.-]{1,64}, and not "." or "..". */
bool launch_session_name_valid(const char *name);

/*
 * Checks the session options of C once parsed (called by
 * launch_config_parse()): one mode at most, valid names, options that
 * belong to it.  Returns 1 when C is a session mode that needs no
 * further command check, 0 when the ordinary "a command is needed" rule
 * applies, or -EINVAL with ERR filled.
 */
int launch_session_check(const struct fence_run_config *c, char *err, size_t errlen);

/* True for --in, --list, --stop, --pause, --resume (no sandbox is built). */
bool launch_session_is_client(const struct fence_run_config *c);

/*
 * The state base directory for the calling user into OUT: GETENV reads
 * FENCE_RUN_STATE_DIR and XDG_RUNTIME_DIR.  0, or -ENOENT when a
 * non-root caller has neither (ERR says so).
 */
int launch_session_base(char *out, size_t outlen, bool root, const char *(*get)(const char *key),
			char *err, size_t errlen);

/*
 * An EXEC payload: WORKDIR, ARGV (ARGC strings), ENV (ENVC strings),
 * each NUL-terminated.  launch_exec_encode appends to B;
 * launch_exec_decode checks that BUF (LEN bytes) holds exactly that,
 * that ARGC is 1..LAUNCH_WIRE_MAX_ARGS, argv[0] is not empty and every
 * env string is KEY=VALUE with a non-empty KEY, then points WORKDIR,
 * ARGV and ENV (NULL-terminated, malloc'd arrays the caller frees) into
 * BUF.  0 or -EPROTO / -ENOMEM.
 */
struct buf;
void launch_exec_encode(struct buf *b, const char *workdir, char *const *argv, size_t argc,
			char *const *env, size_t envc);
int launch_exec_decode(char *buf, size_t len, uint32_t argc, uint32_t envc, const char **workdir,
		       char ***argv, char ***env);

/* ------------------------------------------------------------------ */
/* The supervisor side (launch_session.c), driven by main.c.          */

struct audit;
struct launch_cgroup;

struct launch_session {
	const struct fence_run_config *cfg;
	char base[4096];
	char dir[4200]; /* BASE/NAME */
	int dirfd;
	int lockfd;   /* flock LOCK_EX, held for life */
	int ready_fd; /* pipe to the waiting caller; -1 once told */
	int listen_fd;
	char freezer[4096];  /* freezer leaf (v1) or the sandbox's leaf (v2), or "" */
	int freezer_version; /* 0: none, 1 or 2 */
	int stop_fds[LAUNCH_SESSION_MAX_CLIENTS]; /* clients waiting for --stop */
	int nstop;
	char kept_delta[4096]; /* printed by --stop; "" for a private delta */
};

/* What the one-shot setup built, handed over to the supervisor loop. */
struct launch_session_sandbox {
	int sock; /* to the init (session mode: launch_wire) */
	pid_t init;
	int init_pidfd;
	pid_t daemon;
	int daemon_pidfd;
	int sfd; /* signalfd: SIGINT, SIGTERM, SIGHUP */
	const struct launch_cgroup *cg;
	struct audit *audit;
	const char *codebase;
	const char *delta;
	bool private_delta;
};

/*
 * In the caller, before any setup: resolves BASE, claims BASE/NAME (taken:
 * -EEXIST; stale state is cleaned first), forks.  The caller's process
 * waits for the supervisor's word and exits 0 or 125 without returning;
 * the supervisor (a new session, stdin/stdout on /dev/null, stderr into
 * BASE/NAME/log) returns 0.  On -errno nothing was forked and the
 * message is printed.
 */
int launch_session_detach(struct launch_session *s, const struct fence_run_config *cfg);

/* Setup failed in the supervisor: tells the caller ERROR, removes the state. */
void launch_session_failed(struct launch_session *s, const char *error);

/*
 * The supervisor's life once /workspace is served: state.json, the
 * control socket, "ready" to the caller, then the loop until --stop,
 * --ttl, --idle-timeout, a signal, or the death of the init or daemon.
 * Returns with the sandbox still standing: the caller kills the init
 * (after launch_session_thaw()), reaps, cleans, then calls
 * launch_session_finish().
 */
void launch_session_serve(struct launch_session *s, struct launch_session_sandbox *sb);

/* Thaws the freezer, so that a paused sandbox can be killed (cgroup v1
 * freezes SIGKILL too). */
void launch_session_thaw(struct launch_session *s);

/* Last: removes the state directory and the freezer leaf, and answers the
 * --stop clients (with the kept delta's path). */
void launch_session_finish(struct launch_session *s);

/* Between launch_session.c, launch_state.c, launch_freezer.c and
 * launch_control.c. */
/* Resolves BASE into BASE (launch_session_base()), creates it 0700 when
 * missing, checks that it is ours and not writable by others; an fd of
 * it, or -errno with ERR filled. */
int launch_session_open_base(char *base, size_t baselen, char *err, size_t errlen);
/* Takes BASE/.lock (blocking); its fd, or -errno. */
int launch_session_lock_base(int basefd);
/* Removes BASE/NAME and what it holds; closes s->dirfd. */
void launch_session_remove_state(struct launch_session *s);
/* Reads a small file into OUT (NUL-terminated).  0 or -errno. */
int launch_session_read_small(const char *path, char *out, size_t outlen);
/* Sets up s->freezer for INIT's sandbox (cgroup v2: CG's leaf; v1: a
 * freezer leaf of its own, recorded in BASE/NAME/freezer); without one
 * s->freezer_version stays 0. */
void launch_session_freezer_setup(struct launch_session *s, const struct launch_cgroup *cg,
				  pid_t init);
/* Freezes or thaws LEAF and waits for the kernel to confirm.  0 or -errno. */
int launch_session_freezer_set(const char *leaf, int version, bool freeze);
/* Thaws and removes a v1 freezer leaf named fence-run.session.*. */
void launch_session_freezer_remove(const char *leaf);

/* ------------------------------------------------------------------ */
/* Clients (launch_control.c): --in, --list, --stop, --pause, --resume. */

/* Runs the client mode of C and returns fence-run's exit status. */
int launch_session_client(const struct fence_run_config *c);

/* Removes the state of a sandbox whose supervisor is gone (its lock could
 * be taken: LOCKFD holds it), thawing and removing its freezer leaf. */
void launch_session_clean_stale(int basefd, const char *name, int lockfd);

/* ------------------------------------------------------------------ */
/* The init's exec server (launch_exec.c). */
struct launch_sandbox;
__attribute__((noreturn)) void launch_exec_serve(const struct launch_sandbox *sb, int sfd);

#endif
