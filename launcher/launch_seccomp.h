/* SPDX-License-Identifier: Apache-2.0 */
/*
 * launch_seccomp.h - the sandbox's seccomp filter (docs/SPEC.md 7), built with
 * libseccomp: default allow, each listed syscall fails with EPERM (clone3
 * with ENOSYS so that libc falls back to clone, whose flags a classic BPF
 * filter can inspect), and syscalls of any other architecture (i386,
 * x32) kill the process.
 */
#ifndef FENCE_LAUNCH_SECCOMP_H
#define FENCE_LAUNCH_SECCOMP_H

#include <seccomp.h>

/*
 * Builds the filter.  Done in the launcher before any fork so that the
 * sandboxed process only has to load it (seccomp_load()) as its very
 * last step before execve.  Returns 0 with *out set (release with
 * seccomp_release()), or -errno.
 */
int launch_seccomp_build(scmp_filter_ctx *out);

/* Number of syscall names in the plain EPERM list (for tests). */
unsigned launch_seccomp_blocked_count(void);
/* Name I of that list, or NULL past the end. */
const char *launch_seccomp_blocked_name(unsigned i);

#endif
