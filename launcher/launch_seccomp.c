// SPDX-License-Identifier: Apache-2.0
/*
 * launch_seccomp.c - the seccomp filter of docs/SPEC.md 7 (see the header).
 * Which syscalls and why follows Docker's and bubblewrap's default
 * profiles: namespace and mount manipulation (escape the fence), tracing
 * and cross-process memory access, kernel attack surface that ordinary
 * build tools do not need (bpf, userfaultfd, io_uring, perf, keyrings,
 * modules, kexec), handle-based opens that bypass path checks
 * (CVE-2014-3519 "shocker"), and terminal input injection (TIOCSTI,
 * CVE-2017-5226 in bubblewrap).  name_to_handle_at stays allowed: it only
 * reads a handle of a path the caller can already look up (so fencefs's
 * ENOENT for hidden paths still answers), and the handle is useless
 * without open_by_handle_at, which is blocked.
 */
#include "launch_seccomp.h"

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>

#include "cleanup.h"

/* Each answers EPERM whatever its arguments. */
static const char *const blocked[] = {
	"mount", "umount", "umount2", "pivot_root", "chroot", "unshare", "setns",
	"ptrace", "process_vm_readv", "process_vm_writev", "bpf", "userfaultfd",
	"perf_event_open", "keyctl", "add_key", "request_key", "kexec_load",
	"kexec_file_load", "init_module", "finit_module", "delete_module",
	"open_by_handle_at", "io_uring_setup", "io_uring_enter",
	"io_uring_register", "fsopen", "fsconfig", "fsmount", "fspick", "move_mount",
	"open_tree", "open_tree_attr", "mount_setattr", "acct", "swapon", "swapoff",
	"reboot", "syslog", "uselib", "quotactl", "lookup_dcookie", "vm86", "vm86old",
	"nfsservctl", "fanotify_init",
};

/*
 * Syscalls newer than the libseccomp we build against resolve to
 * __NR_SCMP_ERROR; on x86_64 they still get blocked by number.
 */
#if defined(__x86_64__)
static const struct {
	const char *name;
	int nr;
} by_number[] = {
	{ "open_tree_attr", 467 },
};
#endif

/* The namespace flags a clone(2) may not carry (CLONE_NEWTIME is 0x80,
 * inside clone's exit-signal byte, so only clone3/unshare can pass it). */
static const unsigned long clone_ns_flags[] = {
	CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC,
	CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET,
};

unsigned launch_seccomp_blocked_count(void)
{
	return ARRAY_SIZE(blocked);
}

const char *launch_seccomp_blocked_name(unsigned i)
{
	return i < ARRAY_SIZE(blocked) ? blocked[i] : NULL;
}

static int resolve(const char *name)
{
	int nr = seccomp_syscall_resolve_name(name);

#if defined(__x86_64__)
	if (nr == __NR_SCMP_ERROR)
		for (size_t i = 0; i < ARRAY_SIZE(by_number); i++)
			if (!strcmp(by_number[i].name, name))
				return by_number[i].nr;
#endif
	return nr;
}

static int add_rules(scmp_filter_ctx ctx)
{
	size_t i;
	int r, nr;

	for (i = 0; i < ARRAY_SIZE(blocked); i++) {
		nr = resolve(blocked[i]);
		/* Not a syscall on this architecture (umount, vm86 on x86_64). */
		if (nr == __NR_SCMP_ERROR || nr < 0)
			continue;
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
		if (r < 0)
			return r;
	}

	/* clone: one rule per namespace flag; rules are ORed. */
	for (i = 0; i < ARRAY_SIZE(clone_ns_flags); i++) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
				     SCMP_A0(SCMP_CMP_MASKED_EQ, clone_ns_flags[i],
					     clone_ns_flags[i]));
		if (r < 0)
			return r;
	}
	/* clone3 passes its flags in memory a filter cannot read: ENOSYS
	 * makes glibc (2.34+) fall back to clone, which is checked above. */
	r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (r < 0)
		return r;

	/* The kernel reads the ioctl request as unsigned int, so match the
	 * low 32 bits: TIOCSTI | (1UL << 32) must not slip through. */
	r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
			     SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffUL, (unsigned long)TIOCSTI));
	if (r < 0)
		return r;
	r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
			     SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffUL, (unsigned long)TIOCLINUX));
	if (r < 0)
		return r;

	/*
	 * personality: only 0 (PER_LINUX) and 0xffffffff (query) pass, again
	 * on the low 32 bits.  libseccomp allows one comparison per argument
	 * and rule, so "low32 is neither all zeros nor all ones" is written as
	 * "some bit i is set while bit i+1 (mod 32) is clear": every 32-bit
	 * value but those two has such a pair.
	 */
	for (i = 0; i < 32; i++) {
		uint32_t bit = 1U << i, next = 1U << ((i + 1) % 32);

		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(personality), 1,
				     SCMP_A0(SCMP_CMP_MASKED_EQ, (uint64_t)(bit | next),
					     (uint64_t)bit));
		if (r < 0)
			return r;
	}
	return 0;
}

int launch_seccomp_build(scmp_filter_ctx *out)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int r;

	if (!ctx)
		return -ENOMEM;
	/* Only the native architecture is added, so i386 (int 0x80) and x32
	 * (nr | 0x40000000) syscalls hit the bad-arch action: a process
	 * that switches ABI to dodge the list dies. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (r == 0)
		r = add_rules(ctx);
	if (r < 0) {
		seccomp_release(ctx);
		return r;
	}
	*out = ctx;
	return 0;
}
