// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for launcher/launch_seccomp.c: the filter is built, loaded in
 * a forked child (no_new_privs makes that possible without privileges),
 * and each docs/SPEC.md 7 vector is tried there, next to calls that must keep
 * working.  Arguments are invalid on purpose so that a call the filter
 * lets through fails differently (EFAULT, EBADF, EINVAL) instead of EPERM.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "launch_seccomp.h"

#define BAD 1L /* a pointer that always faults */

struct vector {
	const char *name;
	long nr;
	long a[6];
	int want; /* errno, 0 for success, or -SIGSYS for a kill */
};

static const struct vector vectors[] = {
	{ "mount", SYS_mount, { BAD, BAD, BAD, 0, BAD }, EPERM },
	{ "umount2", SYS_umount2, { BAD, -1 }, EPERM },
	{ "pivot_root", SYS_pivot_root, { BAD, BAD }, EPERM },
	{ "chroot", SYS_chroot, { BAD }, EPERM },
	{ "unshare", SYS_unshare, { CLONE_NEWUSER }, EPERM },
	{ "setns", SYS_setns, { -1, 0 }, EPERM },
	{ "clone NEWUSER", SYS_clone, { CLONE_NEWUSER | SIGCHLD }, EPERM },
	{ "clone NEWNS", SYS_clone, { CLONE_NEWNS | SIGCHLD }, EPERM },
	{ "clone NEWPID", SYS_clone, { CLONE_NEWPID | SIGCHLD }, EPERM },
	{ "clone NEWNET", SYS_clone, { CLONE_NEWNET | SIGCHLD }, EPERM },
	{ "clone NEWIPC", SYS_clone, { CLONE_NEWIPC | SIGCHLD }, EPERM },
	{ "clone NEWUTS", SYS_clone, { CLONE_NEWUTS | SIGCHLD }, EPERM },
	{ "clone NEWCGROUP", SYS_clone, { CLONE_NEWCGROUP | SIGCHLD }, EPERM },
	{ "clone3", SYS_clone3, { BAD, 88 }, ENOSYS },
	{ "ptrace", SYS_ptrace, { 3, 999999 }, EPERM },
	{ "process_vm_readv", SYS_process_vm_readv, { 999999, BAD, 1, BAD, 1 }, EPERM },
	{ "process_vm_writev", SYS_process_vm_writev, { 999999, BAD, 1, BAD, 1 }, EPERM },
	{ "bpf", SYS_bpf, { -1, BAD }, EPERM },
	{ "userfaultfd", SYS_userfaultfd, { -1 }, EPERM },
	{ "perf_event_open", SYS_perf_event_open, { BAD, -1, -1, -1, -1 }, EPERM },
	{ "keyctl", SYS_keyctl, { -1 }, EPERM },
	{ "add_key", SYS_add_key, { BAD, BAD, BAD }, EPERM },
	{ "request_key", SYS_request_key, { BAD, BAD, BAD }, EPERM },
	{ "kexec_load", SYS_kexec_load, { 0, 0, BAD, -1 }, EPERM },
	{ "kexec_file_load", SYS_kexec_file_load, { -1, -1, 0, BAD, -1 }, EPERM },
	{ "init_module", SYS_init_module, { BAD, 0, BAD }, EPERM },
	{ "finit_module", SYS_finit_module, { -1, BAD, -1 }, EPERM },
	{ "delete_module", SYS_delete_module, { BAD, -1 }, EPERM },
	{ "open_by_handle_at", SYS_open_by_handle_at, { -1, BAD }, EPERM },
	{ "io_uring_setup", SYS_io_uring_setup, { 0, BAD }, EPERM },
	{ "io_uring_enter", SYS_io_uring_enter, { -1 }, EPERM },
	{ "io_uring_register", SYS_io_uring_register, { -1 }, EPERM },
	{ "fsopen", SYS_fsopen, { BAD, -1 }, EPERM },
	{ "fsconfig", SYS_fsconfig, { -1 }, EPERM },
	{ "fsmount", SYS_fsmount, { -1, -1 }, EPERM },
	{ "fspick", SYS_fspick, { -1, BAD, -1 }, EPERM },
	{ "move_mount", SYS_move_mount, { -1, BAD, -1, BAD, -1 }, EPERM },
	{ "open_tree", SYS_open_tree, { -1, BAD, -1 }, EPERM },
	{ "mount_setattr", SYS_mount_setattr, { -1, BAD, -1, BAD }, EPERM },
#if defined(__x86_64__)
	{ "open_tree_attr", 467, { -1, BAD, -1, BAD, 0 }, EPERM },
#endif
	{ "ioctl TIOCSTI", SYS_ioctl, { -1, TIOCSTI, BAD }, EPERM },
	{ "ioctl TIOCSTI high bits", SYS_ioctl, { -1, (long)(TIOCSTI | (1UL << 32)), BAD }, EPERM },
	{ "ioctl TIOCLINUX", SYS_ioctl, { -1, TIOCLINUX, BAD }, EPERM },
	{ "ioctl TIOCLINUX high bits", SYS_ioctl, { -1, (long)(TIOCLINUX | (3UL << 40)) }, EPERM },
	{ "personality ADDR_NO_RANDOMIZE", SYS_personality, { 0x0040000 }, EPERM },
	{ "personality READ_IMPLIES_EXEC", SYS_personality, { 0x0400000 }, EPERM },
	{ "personality PER_LINUX32", SYS_personality, { 0x0008 }, EPERM },
	{ "personality 0xfffffffe", SYS_personality, { 0xfffffffeL }, EPERM },
	{ "personality 1", SYS_personality, { 1 }, EPERM },
	{ "personality 0x80000000", SYS_personality, { 0x80000000L }, EPERM },
	{ "personality high bits", SYS_personality, { (long)(1UL << 32) | 0x0040000 }, EPERM },
	{ "personality query", SYS_personality, { 0xffffffffL }, 0 },
	{ "personality PER_LINUX", SYS_personality, { 0 }, 0 },
	/* Still allowed: */
	{ "ioctl other (EBADF)", SYS_ioctl, { -1, TIOCGWINSZ, BAD }, EBADF },
	{ "getpid", SYS_getpid, { 0 }, 0 },
	{ "name_to_handle_at (EFAULT)", SYS_name_to_handle_at, { -1, BAD, BAD, BAD, 0 }, EFAULT },
#if defined(__x86_64__)
	/* x32 shares the x86_64 audit arch; libseccomp treats it as a bad arch. */
	{ "x32 getpid", SYS_getpid | 0x40000000L, { 0 }, -SIGSYS },
#endif
};

static scmp_filter_ctx ctx;

static int setup(void **state)
{
	return launch_seccomp_build(&ctx) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	seccomp_release(ctx);
	return 0;
}

/* Runs V in a child under the filter; returns its errno, 0, or -signal. */
static int try_vector(const struct vector *v)
{
	int p[2], st, err = -1000;
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		long r;

		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || seccomp_load(ctx) < 0)
			_exit(99);
		r = syscall(v->nr, v->a[0], v->a[1], v->a[2], v->a[3], v->a[4], v->a[5]);
		err = r < 0 ? errno : 0;
		/* A clone that got through returns 0 in its child. */
		if (r == 0 && (v->nr == SYS_clone) && getpid() != 0)
			_exit(0);
		if (write(p[1], &err, sizeof(err)) != sizeof(err))
			_exit(98);
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], &err, sizeof(err)) != sizeof(err))
		err = -1000;
	close(p[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (WIFSIGNALED(st))
		return -WTERMSIG(st);
	if (WEXITSTATUS(st) == 99)
		fail_msg("%s: cannot load the filter", v->name);
	return err;
}

static void test_vectors(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		int got = try_vector(&vectors[i]);

		if (got != vectors[i].want)
			fail_msg("%s: got %d (%s), want %d (%s)", vectors[i].name, got,
				 got > 0 ? strerror(got) : "signal/none", vectors[i].want,
				 vectors[i].want > 0 ? strerror(vectors[i].want) : "signal/none");
	}
}

/* fork() (clone without namespace flags) and threads keep working. */
static void test_fork_and_exec_still_work(void **state)
{
	pid_t pid = fork();
	int st;

	assert_true(pid >= 0);
	if (pid == 0) {
		pid_t inner;
		int ist;

		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || seccomp_load(ctx) < 0)
			_exit(99);
		inner = fork();
		if (inner < 0)
			_exit(2);
		if (inner == 0) {
			execl("/bin/true", "true", (char *)NULL);
			_exit(3);
		}
		if (waitpid(inner, &ist, 0) != inner || !WIFEXITED(ist) || WEXITSTATUS(ist))
			_exit(4);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* Every name of the list is a syscall of some architecture libseccomp
 * knows (a typo would silently block nothing). */
static void test_names_are_syscalls(void **state)
{
	unsigned i, n = launch_seccomp_blocked_count();

	assert_true(n >= 30);
	for (i = 0; i < n; i++) {
		const char *name = launch_seccomp_blocked_name(i);
		int nr = seccomp_syscall_resolve_name(name);
		int nr32 = seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86, name);

		if (nr == __NR_SCMP_ERROR && nr32 == __NR_SCMP_ERROR &&
		    strcmp(name, "open_tree_attr"))
			fail_msg("'%s' is not a syscall libseccomp knows", name);
	}
	assert_null(launch_seccomp_blocked_name(n));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_fork_and_exec_still_work),
		cmocka_unit_test(test_names_are_syscalls),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
