// SPDX-License-Identifier: Apache-2.0
/*
 * sysprobe - run inside fence-run; tries every syscall docs/SPEC.md 7 says the
 * seccomp filter blocks and prints "NAME ERRNO" per line (bubblewrap's
 * tests/try-syscall.c idea), then a few facts about the process:
 *
 *   mount EPERM
 *   clone:newuser EPERM
 *   clone3 ENOSYS
 *   x32:getpid SIGSYS
 *   status:NoNewPrivs 1
 *   fds 0 1 2
 *
 * Arguments are invalid on purpose (bad pointers, bad flags): where the
 * filter lets a call through, the kernel answers EFAULT, EINVAL or EBADF
 * instead of EPERM, so a hole in the filter shows.  Calls whose success
 * would change this process (unshare, clone) run in a forked child.
 * "sysprobe NAME..." runs only those vectors.
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define BAD ((long)1) /* a pointer that always faults */

static int nvectors;
static char **only;

static bool wanted(const char *name)
{
	int i;

	if (!nvectors)
		return true;
	for (i = 0; i < nvectors; i++)
		if (!strcmp(only[i], name))
			return true;
	return false;
}

static const char *errname(int e)
{
	static char other[16];

	switch (e) {
	case 0: return "OK";
	case EPERM: return "EPERM";
	case ENOSYS: return "ENOSYS";
	case EFAULT: return "EFAULT";
	case EINVAL: return "EINVAL";
	case EBADF: return "EBADF";
	case ENOENT: return "ENOENT";
	case EACCES: return "EACCES";
	case ESRCH: return "ESRCH";
	case ENOTTY: return "ENOTTY";
	case ENOTDIR: return "ENOTDIR";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case ENOMEM: return "ENOMEM";
	case EEXIST: return "EEXIST";
	case EBUSY: return "EBUSY";
	case ENXIO: return "ENXIO";
	}
	snprintf(other, sizeof(other), "E%d", e);
	return other;
}

static void report(const char *name, long r)
{
	printf("%s %s\n", name, errname(r < 0 ? errno : 0));
	fflush(stdout);
}

/* Runs the raw syscall NR in a child and reports its errno, or the
 * signal that killed the child ("SIGSYS" for a seccomp kill). */
static void in_child(const char *name, long nr, long a, long b, long c, long d, long e)
{
	int pipefd[2], st, err = 0;
	pid_t pid;

	if (!wanted(name))
		return;
	if (pipe(pipefd) < 0) {
		perror("pipe");
		exit(2);
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	if (pid == 0) {
		long r = syscall(nr, a, b, c, d, e);

		err = r < 0 ? errno : 0;
		if (write(pipefd[1], &err, sizeof(err)) != sizeof(err))
			_exit(3);
		_exit(0);
	}
	(void)close(pipefd[1]);
	if (read(pipefd[0], &err, sizeof(err)) != sizeof(err))
		err = -1;
	(void)close(pipefd[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(st))
		printf("%s %s\n", name, WTERMSIG(st) == SIGSYS ? "SIGSYS" : strsignal(WTERMSIG(st)));
	else if (err < 0)
		printf("%s NOREPORT\n", name);
	else
		printf("%s %s\n", name, errname(err));
	fflush(stdout);
}

#define TRY(name, ...)                                                                             \
	do {                                                                                       \
		if (wanted(name)) {                                                                \
			errno = 0;                                                                 \
			report(name, syscall(__VA_ARGS__));                                        \
		}                                                                                  \
	} while (0)

#if defined(__x86_64__)
/* An i386 getpid through int 0x80: audit arch I386, not in the filter. */
static void try_i386(void)
{
	int st;
	pid_t pid;

	if (!wanted("i386:getpid"))
		return;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		long ret;

		__asm__ volatile("int $0x80" : "=a"(ret) : "a"(20L) : "memory");
		_exit(ret > 0 ? 0 : 1);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(st))
		printf("i386:getpid %s\n", WTERMSIG(st) == SIGSYS ? "SIGSYS" : strsignal(WTERMSIG(st)));
	else
		printf("i386:getpid %s\n", WEXITSTATUS(st) == 0 ? "OK" : "FAILED");
	fflush(stdout);
}
#endif

static void status_facts(void)
{
	static const char *const keys[] = { "NoNewPrivs", "Seccomp", "CapInh", "CapPrm",
					     "CapEff",     "CapBnd",  "CapAmb" };
	char line[256];
	FILE *f;
	size_t i;

	if (!wanted("status"))
		return;
	f = fopen("/proc/self/status", "re");
	if (!f) {
		printf("status:open %s\n", errname(errno));
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			size_t n = strlen(keys[i]);
			char *v;

			if (strncmp(line, keys[i], n) || line[n] != ':')
				continue;
			v = line + n + 1;
			v += strspn(v, " \t");
			v[strcspn(v, "\n")] = '\0';
			printf("status:%s %s\n", keys[i], v);
		}
	}
	(void)fclose(f);
}

/* The fds open in this process, not counting the one reading the list. */
static void fd_facts(void)
{
	DIR *d;
	struct dirent *e;
	int fds[64], n = 0, i, j, self;

	if (!wanted("fds"))
		return;
	d = opendir("/proc/self/fd");
	if (!d) {
		printf("fds %s\n", errname(errno));
		return;
	}
	self = dirfd(d);
	while ((e = readdir(d)) && n < 64) {
		if (e->d_name[0] == '.' || atoi(e->d_name) == self)
			continue;
		fds[n++] = atoi(e->d_name);
	}
	(void)closedir(d);
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && fds[j - 1] > fds[j]; j--) {
			int t = fds[j];

			fds[j] = fds[j - 1];
			fds[j - 1] = t;
		}
	printf("fds");
	for (i = 0; i < n; i++)
		printf(" %d", fds[i]);
	printf("\n");
}

int main(int argc, char **argv)
{
	nvectors = argc - 1;
	only = argv + 1;

	TRY("mount", SYS_mount, BAD, BAD, BAD, 0, BAD);
	TRY("umount2", SYS_umount2, BAD, -1L);
	TRY("pivot_root", SYS_pivot_root, BAD, BAD);
	TRY("chroot", SYS_chroot, BAD);
	in_child("unshare:newuser", SYS_unshare, CLONE_NEWUSER, 0, 0, 0, 0);
	in_child("unshare:newns", SYS_unshare, CLONE_NEWNS, 0, 0, 0, 0);
	TRY("setns", SYS_setns, -1L, 0);
	in_child("clone:newuser", SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
	in_child("clone:newns", SYS_clone, CLONE_NEWNS | SIGCHLD, 0, 0, 0, 0);
	in_child("clone:newpid", SYS_clone, CLONE_NEWPID | SIGCHLD, 0, 0, 0, 0);
	in_child("clone:newnet", SYS_clone, CLONE_NEWNET | SIGCHLD, 0, 0, 0, 0);
	in_child("clone3", SYS_clone3, BAD, 88, 0, 0, 0);
	TRY("ptrace", SYS_ptrace, 3 /* PTRACE_PEEKUSER */, 999999L, 0, 0);
	TRY("process_vm_readv", SYS_process_vm_readv, 999999L, BAD, 1, BAD, 1, 0);
	TRY("process_vm_writev", SYS_process_vm_writev, 999999L, BAD, 1, BAD, 1, 0);
	TRY("bpf", SYS_bpf, -1L, BAD, 0);
	TRY("userfaultfd", SYS_userfaultfd, -1L);
	TRY("perf_event_open", SYS_perf_event_open, BAD, -1L, -1L, -1L, -1L);
	TRY("keyctl", SYS_keyctl, -1L, 0, 0, 0, 0);
	TRY("add_key", SYS_add_key, BAD, BAD, BAD, 0, 0);
	TRY("request_key", SYS_request_key, BAD, BAD, BAD, 0);
	TRY("kexec_load", SYS_kexec_load, 0, 0, BAD, -1L);
	TRY("kexec_file_load", SYS_kexec_file_load, -1L, -1L, 0, BAD, -1L);
	TRY("init_module", SYS_init_module, BAD, 0, BAD);
	TRY("finit_module", SYS_finit_module, -1L, BAD, -1L);
	TRY("delete_module", SYS_delete_module, BAD, -1L);
	TRY("open_by_handle_at", SYS_open_by_handle_at, -1L, BAD, 0);
	TRY("io_uring_setup", SYS_io_uring_setup, 0, BAD);
	TRY("io_uring_enter", SYS_io_uring_enter, -1L, 0, 0, 0, 0, 0);
	TRY("io_uring_register", SYS_io_uring_register, -1L, 0, 0, 0);
	TRY("fsopen", SYS_fsopen, BAD, -1L);
	TRY("fsconfig", SYS_fsconfig, -1L, 0, 0, 0, 0);
	TRY("fsmount", SYS_fsmount, -1L, -1L, 0);
	TRY("fspick", SYS_fspick, -1L, BAD, -1L);
	TRY("move_mount", SYS_move_mount, -1L, BAD, -1L, BAD, -1L);
	TRY("open_tree", SYS_open_tree, -1L, BAD, -1L);
	TRY("mount_setattr", SYS_mount_setattr, -1L, BAD, -1L, BAD, 0);
	/* The low 32 bits decide: a request with high bits set is the same
	 * ioctl to the kernel. */
	TRY("ioctl:TIOCSTI", SYS_ioctl, 0, (long)TIOCSTI, BAD);
	TRY("ioctl:TIOCSTI-high", SYS_ioctl, 0, (long)(TIOCSTI | (1UL << 32)), BAD);
	TRY("ioctl:TIOCLINUX", SYS_ioctl, 0, (long)TIOCLINUX, BAD);
	TRY("ioctl:TIOCLINUX-high", SYS_ioctl, 0, (long)(TIOCLINUX | (1UL << 32)), BAD);
	TRY("personality:query", SYS_personality, 0xffffffffL);
	TRY("personality:linux", SYS_personality, 0L);
	TRY("personality:addr-no-randomize", SYS_personality, 0x0040000L);
	TRY("personality:read-implies-exec", SYS_personality, 0x0400000L);
	TRY("personality:linux32", SYS_personality, 0x0008L);
	TRY("personality:high-bits", SYS_personality, (long)(1UL << 32) | 0x0040000L);
#if defined(__x86_64__)
	in_child("x32:getpid", SYS_getpid | 0x40000000L, 0, 0, 0, 0, 0);
	try_i386();
#endif
	status_facts();
	fd_facts();
	return 0;
}
