/* SPDX-License-Identifier: Apache-2.0 */
/*
 * audit.h - the JSON Lines audit log (docs/SPEC.md 8), shared by the daemon and the
 * launcher.  Both may append to one file: every flush is a single write()
 * of whole lines on an O_APPEND descriptor, so lines never interleave.
 *
 * Two modes.  Direct (the default): each event is written at once.
 * Buffered (audit_start_writer()): events go to a memory buffer under a
 * short mutex and a writer thread flushes it at least once a second, when
 * it passes 64 KiB, and at audit_close(), so logging never makes a FUSE
 * worker wait for the disk.
 *
 * A failed write is never dropped silently: it is counted, reported once on
 * stderr, and audit_failed() tells the caller.
 */
#ifndef FENCE_AUDIT_H
#define FENCE_AUDIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct audit;

/*
 * Opens PATH for appending (created 0600 if missing; never follows a
 * symlink in its last component).  ALL asks for read and lookup events too.
 * Returns 0 or -errno; the caller reports "cannot open audit log '%s'".
 */
int audit_open(const char *path, bool all, struct audit **out);
/* Same on an fd the caller opened; the audit takes ownership of FD. */
int audit_open_fd(int fd, bool all, struct audit **out);
/* The cap when none is set (--audit-max). */
#define AUDIT_MAX_DEFAULT (64ULL << 20)
/*
 * Caps the log at MAX bytes (0: no cap; default AUDIT_MAX_DEFAULT): past
 * it events are dropped, and one "audit_truncated" event (written in a
 * small reserve past the cap, with the launcher's "exit") says so.  The
 * file's own size counts, so fence-run and its daemon share one cap.
 * Identical events (all fields but pid and comm) past 8 in one second
 * are not written either: a "suppressed" event gives their count and the
 * times of the first and last.  Counts (audit_count_denied()) stay exact.
 */
void audit_set_max(struct audit *a, uint64_t max);
/* Events dropped at the cap. */
uint64_t audit_count_dropped(const struct audit *a);
/* Switches to buffered mode with a writer thread.  0 or -errno. */
int audit_start_writer(struct audit *a);
/* Flushes, stops the writer, closes.  NULL is fine. */
void audit_close(struct audit *a);
/* Writes out what is buffered now.  0 or -errno of the failed write. */
int audit_flush(struct audit *a);

bool audit_wants_all(const struct audit *a);
/* True once a write to the sink failed (events were lost). */
bool audit_failed(const struct audit *a);

/*
 * Emits {"ts":...,"event":EVENT,FIELDS}.  FIELDS is already-encoded JSON
 * members without braces or a leading comma (see buf_add_json_str()), or
 * NULL.  A NULL audit is fine (nothing happens).
 */
void audit_emit(struct audit *a, const char *event, const char *fields);

/*
 * A refused operation: {"event":"deny","op":OP,"path":PATH,"level":LEVEL,
 * "errno":"EACCES","pid":PID,"comm":...}.  comm is read from
 * /proc/PID/comm.  PATH is relative to the codebase root, with a leading
 * '/'.
 */
void audit_deny(struct audit *a, const char *op, const char *path, const char *level, int err,
		pid_t pid);

/*
 * A change or an access: EVENT is "write", "exec", "read" or "lookup";
 * PATH2 is the target of a rename or link, or NULL.
 */
void audit_access(struct audit *a, const char *event, const char *op, const char *path,
		  const char *path2, pid_t pid);

/*
 * The general form behind audit_deny() and audit_access(): EVENT with op,
 * path, path2 (omitted when NULL), level and errno (both omitted when
 * LEVEL is NULL), pid, and COMM (read from /proc/PID/comm when NULL; the
 * daemon passes its own, read through the sandbox's pid namespace).
 */
void audit_op(struct audit *a, const char *event, const char *op, const char *path,
	      const char *path2, const char *level, int err, pid_t pid, const char *comm);

/*
 * Reads a /proc/.../comm file at PATH into COMM (LEN bytes), without the
 * newline; "" when it cannot be read (the process is gone).
 */
void audit_read_comm(const char *path, char *comm, size_t len);

/* Number of deny and write events emitted so far (for --result counts). */
uint64_t audit_count_denied(const struct audit *a);
uint64_t audit_count_written(const struct audit *a);

#endif
