// SPDX-License-Identifier: Apache-2.0
/*
 * escape_proc - hostile process probe for the escape suite (issue 6).
 *
 *   escape_proc [--pids FILE] [--suid PATH] [--abstract NAME] [--host-canaries FILE]
 *               [--wait SECONDS]
 *
 * Run inside `fence-run --preset agent-safe` as the command itself (it
 * checks the descriptors it inherited before opening anything).  Tries to
 * leave the box through the process interface and prints one line per
 * vector, "VECTOR RESULT [DETAIL]", RESULT being OK or the errno name (or
 * SIGSYS when the seccomp filter killed the attempt, or a verdict word).
 *
 * --pids FILE names a file (on a read-only bind of a host directory) where
 * the test script writes "launcher PID" / "daemon PID" lines with host pids;
 * the probe waits up to --wait seconds for it, then signals and traces each.
 * --suid PATH is a set-user-ID copy of this program, run with "whoami".
 * --abstract NAME is an abstract unix socket the script listens on in the
 * host's network namespace: connecting to it must fail.
 * --host-canaries FILE lists (one a line) strings that the host put in every
 * path and rule on fence-run's command line, in its environment and in the
 * name it was started by: none may be readable in any /proc file of the
 * sandbox's pid 1 or of the probe itself (issue 15 item 1).  The strings
 * come from a file, so that they are not in the probe's own argv.
 *
 * Attempts that could kill the probe (foreign-ABI syscalls, seccomp KILL
 * actions) run in a forked child.  Standalone, no sanitizers.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <linux/fs.h>
#include <linux/sched.h>

#ifndef TIOCLINUX
#define TIOCLINUX 0x541C
#endif
#define X32_BIT 0x40000000L

static const char *errname(int e)
{
	const char *n = strerrorname_np(e);
	static char buf[32];

	if (n)
		return n;
	snprintf(buf, sizeof(buf), "E%d", e);
	return buf;
}

static void report(const char *vector, long r, const char *detail)
{
	printf("%s %s", vector, r < 0 ? errname((int)-r) : "OK");
	if (detail && *detail)
		printf(" %s", detail);
	putchar('\n');
	fflush(stdout);
}

static void verdict(const char *vector, const char *word, const char *detail)
{
	printf("%s %s%s%s\n", vector, word, detail && *detail ? " " : "", detail ? detail : "");
	fflush(stdout);
}

static long neg(long r)
{
	return r < 0 ? -errno : r;
}

/*
 * Runs FN in a child and reports how it ended: the errno it returned, OK,
 * or the signal that killed it (SIGSYS is seccomp's kill action).  The child
 * returns 0 for success or an errno through its exit status.
 */
static void in_child(const char *vector, int (*fn)(void))
{
	pid_t pid;
	int status;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		report(vector, -errno, "(fork)");
		return;
	}
	if (pid == 0) {
		alarm(5);
		_exit(fn());
	}
	if (waitpid(pid, &status, 0) < 0) {
		report(vector, -errno, "(waitpid)");
		return;
	}
	if (WIFSIGNALED(status)) {
		const char *sig = sigabbrev_np(WTERMSIG(status));

		printf("%s SIG%s\n", vector, sig ? sig : "?");
		fflush(stdout);
	} else {
		report(vector, WEXITSTATUS(status) ? -WEXITSTATUS(status) : 0, NULL);
	}
}

static int child_errno(long r)
{
	return r < 0 ? errno : 0;
}

/* -------------------------------------------------------------- identity */

static void check_fds(void)
{
	char list[256] = "";
	int fd, n = 0;

	/* Before this program opened anything: what fence-run let through. */
	for (fd = 3; fd < 4096; fd++) {
		if (fcntl(fd, F_GETFD) < 0)
			continue;
		n++;
		if (strlen(list) < sizeof(list) - 16)
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%d",
				 n > 1 ? "," : "", fd);
	}
	verdict("fds:inherited", n ? "LEAK" : "NONE", list);
}

static void check_status(void)
{
	static const char *const keys[] = { "NoNewPrivs:", "Seccomp:", "CapInh:", "CapPrm:",
					    "CapEff:", "CapBnd:", "CapAmb:", NULL };
	char line[256], vector[64], *v;
	FILE *f = fopen("/proc/self/status", "re");
	int i;

	if (!f) {
		report("status:open", -errno, NULL);
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		for (i = 0; keys[i]; i++) {
			if (strncmp(line, keys[i], strlen(keys[i])))
				continue;
			v = line + strlen(keys[i]);
			v += strspn(v, " \t");
			v[strcspn(v, "\n")] = '\0';
			snprintf(vector, sizeof(vector), "status:%.*s", (int)strlen(keys[i]) - 1,
				 keys[i]);
			verdict(vector, v, NULL);
		}
	}
	(void)fclose(f);
}

/* A uid map that sends anything to host uid 0 makes the sandbox host root. */
static void check_uid_map(void)
{
	unsigned long in, out, count;
	FILE *f = fopen("/proc/self/uid_map", "re");
	bool root = false;
	char detail[64];

	if (!f) {
		report("uid_map:host-root", -errno, NULL);
		return;
	}
	while (fscanf(f, "%lu %lu %lu", &in, &out, &count) == 3)
		if (out == 0)
			root = true;
	(void)fclose(f);
	snprintf(detail, sizeof(detail), "uid=%u euid=%u", getuid(), geteuid());
	verdict("uid_map:host-root", root ? "UNSAFE" : "SAFE", detail);
}

/* The setuid copy reports what it became. */
static int whoami(void)
{
	char line[256], capeff[64] = "?";
	FILE *f = fopen("/proc/self/status", "re");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "CapEff:", 7))
			snprintf(capeff, sizeof(capeff), "%s", line + 7 + strspn(line + 7, " \t"));
	if (f)
		(void)fclose(f);
	capeff[strcspn(capeff, "\n")] = '\0';
	printf("ruid=%u euid=%u capeff=%s\n", getuid(), geteuid(), capeff);
	return 0;
}

static void check_setuid(const char *suid)
{
	char out[256] = "", detail[320];
	unsigned ruid = 0, euid = 1;
	char capeff[64] = "";
	int pipefd[2], status;
	ssize_t n;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		report("setuid:exec", -errno, "(pipe)");
		return;
	}
	pid = fork();
	if (pid == 0) {
		(void)dup2(pipefd[1], 1);
		execl(suid, suid, "whoami", (char *)NULL);
		printf("exec-failed errno=%s\n", errname(errno));
		_exit(127);
	}
	(void)close(pipefd[1]);
	n = read(pipefd[0], out, sizeof(out) - 1);
	(void)close(pipefd[0]);
	(void)waitpid(pid, &status, 0);
	if (n > 0)
		out[n] = '\0';
	out[strcspn(out, "\n")] = '\0';
	snprintf(detail, sizeof(detail), "%s", out);
	if (sscanf(out, "ruid=%u euid=%u capeff=%63s", &ruid, &euid, capeff) != 3) {
		verdict("setuid:gain", "SAFE", detail);
		return;
	}
	verdict("setuid:gain", ruid == euid && !strcmp(capeff, "0000000000000000") ?
		"SAFE" : "UNSAFE", detail);
}

/* ---------------------------------------------------- host pids, /proc */

static bool cmdline_of(pid_t pid, char *buf, size_t size)
{
	char path[64];
	ssize_t n, i;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, size - 1);
	(void)close(fd);
	if (n < 0)
		return false;
	for (i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	buf[n] = '\0';
	return true;
}

/* No process of the sandbox's pid namespace may be the daemon. */
static void scan_proc(void)
{
	char cmd[512], detail[600] = "";
	struct dirent *e;
	DIR *d = opendir("/proc");
	int count = 0;

	if (!d) {
		report("proc:scan-fencefs", -errno, NULL);
		return;
	}
	while ((e = readdir(d))) {
		pid_t pid = (pid_t)atoi(e->d_name);

		if (pid <= 0)
			continue;
		count++;
		if (cmdline_of(pid, cmd, sizeof(cmd)) && strstr(cmd, "fencefs"))
			snprintf(detail, sizeof(detail), "pid=%d %s", pid, cmd);
	}
	(void)closedir(d);
	if (*detail) {
		verdict("proc:scan-fencefs", "FOUND", detail);
	} else {
		snprintf(detail, sizeof(detail), "processes=%d", count);
		verdict("proc:scan-fencefs", "ABSENT", detail);
	}
}

/*
 * The host pids of fence-run and the daemon.  A pid of ours can collide with
 * a host pid by number; then it is one of the sandbox's own processes, which
 * the sandbox may signal, and the probe says so instead of signalling it.
 */
static void attack_host_pids(const char *file, int wait_s)
{
	char role[32], vector[96], cmd[512], path[64];
	struct stat st;
	FILE *f = NULL;
	int i, pid;
	long r;

	for (i = 0; i < wait_s * 10 && !(f = fopen(file, "re")); i++)
		usleep(100000);
	if (!f) {
		report("hostpids:file", -errno, file);
		return;
	}
	while (fscanf(f, "%31s %d", role, &pid) == 2) {
		snprintf(path, sizeof(path), "/proc/%d", pid);
		if (stat(path, &st) == 0 && cmdline_of(pid, cmd, sizeof(cmd)) &&
		    !strstr(cmd, "fencefs") && !strstr(cmd, "fence-run")) {
			snprintf(vector, sizeof(vector), "kill:%s", role);
			verdict(vector, "ESRCH", "collision-with-own-pid");
			continue;
		}
		snprintf(vector, sizeof(vector), "proc:%s-pid-visible", role);
		report(vector, neg(stat(path, &st)), NULL);
		snprintf(vector, sizeof(vector), "kill:%s", role);
		report(vector, neg(kill(pid, 0)), NULL);
		snprintf(vector, sizeof(vector), "kill-SIGKILL:%s", role);
		report(vector, neg(kill(pid, SIGKILL)), NULL);
		snprintf(vector, sizeof(vector), "ptrace-attach:%s", role);
		r = neg(ptrace(PTRACE_ATTACH, pid, NULL, NULL));
		report(vector, r, NULL);
		if (r == 0)
			(void)ptrace(PTRACE_DETACH, pid, NULL, NULL);
		snprintf(vector, sizeof(vector), "ptrace-seize:%s", role);
		r = neg(ptrace(PTRACE_SEIZE, pid, NULL, NULL));
		report(vector, r, NULL);
		if (r == 0)
			(void)ptrace(PTRACE_DETACH, pid, NULL, NULL);
		snprintf(vector, sizeof(vector), "pidfd_open:%s", role);
		r = neg(syscall(SYS_pidfd_open, pid, 0));
		report(vector, r < 0 ? r : 0, NULL);
		if (r >= 0)
			(void)close((int)r);
	}
	(void)fclose(f);
}

/* /proc/N/exe of every process inside: none may be opened for writing. */
static void attack_exe(void)
{
	char path[300], detail[320] = "";
	struct dirent *e;
	DIR *d = opendir("/proc");
	int fd, writable = 0, tried = 0;

	while (d && (e = readdir(d))) {
		if (atoi(e->d_name) <= 0 && strcmp(e->d_name, "self"))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/exe", e->d_name);
		fd = open(path, O_WRONLY | O_CLOEXEC);
		tried++;
		if (fd >= 0) {
			writable++;
			snprintf(detail, sizeof(detail), "%s", path);
			(void)close(fd);
		}
	}
	if (d)
		(void)closedir(d);
	report("exe:open-write-self", neg(open("/proc/self/exe", O_WRONLY | O_CLOEXEC)), NULL);
	report("exe:open-write-1", neg(open("/proc/1/exe", O_RDWR | O_CLOEXEC)), NULL);
	if (!*detail)
		snprintf(detail, sizeof(detail), "tried=%d", tried);
	verdict("exe:open-write-any", writable ? "UNSAFE" : "SAFE", detail);
}

/* docs/SPEC.md 7: the environment is cleared to PATH, HOME, LANG, TERM (+ --env). */
static void check_environ(char **envp)
{
	static const char *const allowed[] = { "PATH=", "HOME=", "LANG=", "TERM=", NULL };
	char extra[512] = "";
	int i, k;

	for (i = 0; envp[i]; i++) {
		for (k = 0; allowed[k]; k++)
			if (!strncmp(envp[i], allowed[k], strlen(allowed[k])))
				break;
		if (!allowed[k] && strlen(extra) + strlen(envp[i]) < sizeof(extra) - 2)
			snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), "%s%.*s",
				 *extra ? "," : "", (int)strcspn(envp[i], "="), envp[i]);
	}
	verdict("env:only-the-four", *extra ? "LEAK" : "CLEAN", extra);
}

/* ------------------------------------- the host's command line, issue 15 */

#define MAX_HOST_CANARIES 16

/* Reads up to 1 MiB of PATH (a /proc file, or the target of a /proc link
 * when LINK) into BUF; its length, or -errno. */
static ssize_t slurp(const char *path, bool link, char *buf, size_t size)
{
	size_t got = 0;
	ssize_t n = 0;
	int fd;

	if (link) {
		n = readlink(path, buf, size);
		return n < 0 ? -errno : n;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (got < size && (n = read(fd, buf + got, size - got)) > 0)
		got += (size_t)n;
	if (n < 0 && got == 0) {
		n = -errno;
		(void)close(fd);
		return n;
	}
	(void)close(fd);
	return (ssize_t)got;
}

static bool holds(const char *buf, size_t len, const char *needle)
{
	return memmem(buf, len, needle, strlen(needle)) != NULL;
}

/*
 * Every /proc file of pid 1 (fence-run's init, a copy of fence-run's
 * memory) and of ourselves that an attacker would read for the host's
 * paths: the command line, environment, name, mount tables (a mount's
 * source or root path), cgroup paths, maps (the launcher's binary path),
 * and the links.  Each reports CLEAN, LEAK or why it could not be read.
 * pid1:title checks what pid 1 shows instead: "fence-init".
 */
static void check_host_args(const char *file)
{
	static const struct {
		const char *name;
		bool link;
	} files[] = {
		{ "cmdline", false }, { "environ", false },  { "comm", false },
		{ "stat", false },    { "status", false },   { "sched", false },
		{ "mountinfo", false }, { "mounts", false }, { "mountstats", false },
		{ "cgroup", false },  { "maps", false },     { "auxv", false },
		{ "wchan", false },   { "task/1/comm", false }, { "attr/current", false },
		{ "exe", true },      { "cwd", true },       { "root", true },
	};
	static const char *const who[] = { "1", "self" };
	static char buf[1 << 20];
	char canary[MAX_HOST_CANARIES][128], path[128], vector[192];
	int ncanary = 0, i;
	size_t w, k;
	FILE *f = fopen(file, "re");
	ssize_t n;

	if (!f) {
		report("hostargs:canaries", -errno, file);
		return;
	}
	while (ncanary < MAX_HOST_CANARIES && fgets(canary[ncanary], sizeof(canary[0]), f)) {
		canary[ncanary][strcspn(canary[ncanary], "\n")] = '\0';
		if (*canary[ncanary])
			ncanary++;
	}
	(void)fclose(f);
	verdict("hostargs:canaries", ncanary ? "READ" : "NONE", NULL);
	for (w = 0; w < sizeof(who) / sizeof(who[0]); w++) {
		for (k = 0; k < sizeof(files) / sizeof(files[0]); k++) {
			const char *hit = NULL;

			snprintf(path, sizeof(path), "/proc/%s/%s", who[w], files[k].name);
			snprintf(vector, sizeof(vector), "hostargs:%s", path);
			n = slurp(path, files[k].link, buf, sizeof(buf));
			if (n < 0) {
				report(vector, n, NULL);
				continue;
			}
			for (i = 0; i < ncanary && !hit; i++)
				if (holds(buf, (size_t)n, canary[i]))
					hit = canary[i];
			/* The detail names the canary, so that the host sees
			 * the leak in the output too. */
			verdict(vector, hit ? "LEAK" : "CLEAN", hit);
		}
	}
	for (k = 0; k < 2; k++) {
		snprintf(path, sizeof(path), "/proc/1/%s", k ? "comm" : "cmdline");
		n = slurp(path, false, buf, sizeof(buf) - 1);
		if (n < 0) {
			report(k ? "hostargs:pid1-comm" : "hostargs:pid1-cmdline", n, NULL);
			continue;
		}
		verdict(k ? "hostargs:pid1-comm" : "hostargs:pid1-cmdline",
			(k ? (n == 11 && !memcmp(buf, "fence-init\n", 11))
			   : (n == 11 && !memcmp(buf, "fence-init", 11))) ?
				"FIXED" : "OTHER",
			NULL);
	}
}

/* docs/SPEC.md 7: only loopback unless --net host. */
static void check_network(const char *abstract)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	char list[256] = "", detail[300];
	struct sockaddr_un sun;
	bool other = false;
	socklen_t len;
	int fd;

	for (i = ifs; i && i->if_name; i++) {
		if (strcmp(i->if_name, "lo"))
			other = true;
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", *list ? "," : "",
			 i->if_name);
	}
	if (ifs)
		if_freenameindex(ifs);
	snprintf(detail, sizeof(detail), "interfaces=%s", list);
	verdict("net:interfaces", other ? "LEAK" : "CLEAN", detail);
	if (!abstract)
		return;
	/* An abstract socket the test listens on in the host's network namespace. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path + 1, sizeof(sun.sun_path) - 1, "%s", abstract);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(abstract));
	report("net:abstract-socket-host", fd < 0 ? -errno : neg(connect(fd, (void *)&sun, len)),
	       NULL);
	if (fd >= 0)
		(void)close(fd);
}

/* Host files and devices that must not exist (or open) inside. */
static void check_hostfs(void)
{
	static const struct {
		const char *path;
		int flags;
	} paths[] = {
		{ "/etc/shadow", O_RDONLY },	  { "/root", O_RDONLY | O_DIRECTORY },
		{ "/home", O_RDONLY | O_DIRECTORY }, { "/var/log", O_RDONLY | O_DIRECTORY },
		{ "/run/systemd/private", O_RDONLY }, { "/dev/fuse", O_RDWR },
		{ "/dev/vda", O_RDONLY },	  { "/dev/sda", O_RDONLY },
		{ "/dev/mem", O_RDONLY },	  { "/dev/kmsg", O_RDONLY },
		{ "/proc/sys/kernel/core_pattern", O_WRONLY }, { "/proc/sysrq-trigger", O_WRONLY },
		{ "/proc/sys/vm/drop_caches", O_WRONLY },
		{ "/sys/fs/cgroup/cgroup.procs", O_WRONLY },
		{ "/sys/kernel/uevent_helper", O_WRONLY },
		{ "/proc/1/mem", O_RDWR },	  { "/proc/1/environ", O_RDONLY },
		{ "/proc/1/fd", O_RDONLY | O_DIRECTORY },
	};
	char vector[128];
	size_t i;
	int fd;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		snprintf(vector, sizeof(vector), "hostfs:%s", paths[i].path);
		fd = open(paths[i].path, paths[i].flags | O_CLOEXEC);
		report(vector, fd < 0 ? -errno : 0, NULL);
		if (fd >= 0)
			(void)close(fd);
	}
}

/*
 * Descriptors other processes of the sandbox hold (its init is a fork of
 * fence-run): reopening one through /proc/PID/fd would hand the command
 * whatever the launcher kept open.
 */
static void check_proc_fds(void)
{
	char path[300], target[300], detail[700] = "";
	struct dirent *e, *f;
	DIR *d = opendir("/proc"), *fds;
	int fd, opened = 0, seen = 0;

	while (d && (e = readdir(d))) {
		pid_t pid = (pid_t)atoi(e->d_name);

		if (pid <= 0 || pid == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd", pid);
		fds = opendir(path);
		if (!fds)
			continue;
		while ((f = readdir(fds))) {
			if (f->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "/proc/%d/fd/%s", pid, f->d_name);
			seen++;
			fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
			if (fd < 0)
				continue;
			opened++;
			target[0] = '\0';
			if (readlink(path, target, sizeof(target) - 1) < 0)
				target[0] = '\0';
			target[sizeof(target) - 1] = '\0';
			if (strlen(detail) < 400)
				snprintf(detail + strlen(detail), sizeof(detail) - strlen(detail),
					 "%s=%s ", path, target);
			(void)close(fd);
		}
		(void)closedir(fds);
	}
	if (d)
		(void)closedir(d);
	if (!opened)
		snprintf(detail, sizeof(detail), "listed=%d", seen);
	verdict("procfd:reopen-others", opened ? "UNSAFE" : "SAFE", detail);
}

/* ----------------------------------------------------------- namespaces */

static int try_clone3_newuser(void)
{
	struct clone_args args;
	long r;

	memset(&args, 0, sizeof(args));
	args.flags = CLONE_NEWUSER;
	args.exit_signal = SIGCHLD;
	r = syscall(SYS_clone3, &args, sizeof(args));
	if (r == 0)
		_exit(0);
	if (r > 0) {
		(void)waitpid((pid_t)r, NULL, 0);
		return 0;
	}
	return errno;
}

static int try_clone3_newns(void)
{
	struct clone_args args;
	long r;

	memset(&args, 0, sizeof(args));
	args.flags = CLONE_NEWNS | CLONE_NEWPID;
	args.exit_signal = SIGCHLD;
	r = syscall(SYS_clone3, &args, sizeof(args));
	if (r == 0)
		_exit(0);
	if (r > 0) {
		(void)waitpid((pid_t)r, NULL, 0);
		return 0;
	}
	return errno;
}

static int try_clone_newuser(void)
{
	long r = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, 0);

	if (r == 0)
		_exit(0);
	if (r > 0) {
		(void)waitpid((pid_t)r, NULL, 0);
		return 0;
	}
	return errno;
}

static void attack_namespaces(void)
{
	static const struct {
		const char *name;
		int flag;
	} ns[] = {
		{ "NEWUSER", CLONE_NEWUSER }, { "NEWNS", CLONE_NEWNS },   { "NEWPID", CLONE_NEWPID },
		{ "NEWNET", CLONE_NEWNET },   { "NEWUTS", CLONE_NEWUTS }, { "NEWIPC", CLONE_NEWIPC },
		{ "NEWCGROUP", CLONE_NEWCGROUP }, { "NEWTIME", 0x80 },
	};
	static const char *const nsfiles[] = { "user", "mnt", "pid", "net", "cgroup", NULL };
	char vector[64], path[64];
	size_t i;
	int fd;

	for (i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		snprintf(vector, sizeof(vector), "unshare:%s", ns[i].name);
		report(vector, neg(unshare(ns[i].flag)), NULL);
	}
	for (i = 0; nsfiles[i]; i++) {
		snprintf(path, sizeof(path), "/proc/1/ns/%s", nsfiles[i]);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		snprintf(vector, sizeof(vector), "setns:%s", nsfiles[i]);
		if (fd < 0) {
			report(vector, -errno, "(open)");
			continue;
		}
		report(vector, neg(setns(fd, 0)), NULL);
		(void)close(fd);
	}
	in_child("clone3:NEWUSER", try_clone3_newuser);
	in_child("clone3:NEWNS|NEWPID", try_clone3_newns);
	in_child("clone:NEWUSER", try_clone_newuser);

	report("mount:tmpfs", neg(mount("none", "/tmp", "tmpfs", 0, NULL)), NULL);
	report("mount:remount-workspace-rw",
	       neg(mount(NULL, "/workspace", NULL, MS_REMOUNT | MS_BIND, NULL)), NULL);
	report("mount:bind-root", neg(mount("/", "/tmp", NULL, MS_BIND | MS_REC, NULL)), NULL);
	report("umount2:workspace", neg(umount2("/workspace", MNT_DETACH)), NULL);
	report("umount2:proc", neg(umount2("/proc", MNT_DETACH)), NULL);
	report("pivot_root", neg(syscall(SYS_pivot_root, ".", ".")), NULL);
	report("chroot", neg(chroot("/tmp")), NULL);
	report("fsopen:tmpfs", neg(syscall(SYS_fsopen, "tmpfs", 0)), NULL);
	report("fspick:workspace", neg(syscall(SYS_fspick, AT_FDCWD, "/workspace", 0)), NULL);
	report("open_tree:clone", neg(syscall(SYS_open_tree, AT_FDCWD, "/workspace",
					      1 /* OPEN_TREE_CLONE */)), NULL);
	report("move_mount", neg(syscall(SYS_move_mount, AT_FDCWD, "/workspace", AT_FDCWD,
					 "/tmp", 0)), NULL);
	report("fsmount", neg(syscall(SYS_fsmount, 0, 0, 0)), NULL);
	report("mount_setattr", neg(syscall(SYS_mount_setattr, AT_FDCWD, "/workspace", 0, NULL,
					    0)), NULL);
}

/* ---------------------------------------------------- blocked syscalls */

static int try_x32_getpid(void)
{
	return child_errno(syscall(X32_BIT | SYS_getpid));
}

static int try_x32_unshare(void)
{
	/* 272 is unshare in the x32 table as in the 64-bit one. */
	return child_errno(syscall(X32_BIT | 272, CLONE_NEWUSER));
}

static int try_x32_ptrace(void)
{
	/* x32 ptrace is 521 (the compat entry): the number with the bit set. */
	return child_errno(syscall(X32_BIT | 521, PTRACE_TRACEME, 0, 0, 0));
}

/* The i386 ABI through int 0x80: unshare is 310, getpid 20. */
static int try_i386_unshare(void)
{
	long r;

	__asm__ volatile("int $0x80" : "=a"(r) : "a"(310L), "b"((long)CLONE_NEWUSER) : "memory");
	return r < 0 ? (int)-r : 0;
}

static int try_i386_getpid(void)
{
	long r;

	__asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) : "memory");
	return r < 0 ? (int)-r : 0;
}

static int try_ptrace_traceme(void)
{
	return child_errno(ptrace(PTRACE_TRACEME, 0, NULL, NULL));
}

static int try_tiocsti_tty(int high)
{
	char c = 'x';
	unsigned long req = TIOCSTI | (high ? 0xffffffff00000000UL : 0);
	int m, s;
	char *name;

	/* A pty of our own: TIOCSTI there would type into its reader. */
	m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0)
		return errno;
	if (grantpt(m) < 0 || unlockpt(m) < 0 || !(name = ptsname(m)))
		return errno;
	s = open(name, O_RDWR | O_CLOEXEC);
	if (s < 0)
		return errno;
	if (setsid() < 0 && errno != EPERM)
		return errno;
	(void)ioctl(s, TIOCSCTTY, 0);
	return child_errno(syscall(SYS_ioctl, s, req, &c));
}

static int try_tiocsti(void)
{
	return try_tiocsti_tty(0);
}

static int try_tiocsti_high(void)
{
	return try_tiocsti_tty(1);
}

static int try_tiocsti_stdin_high(void)
{
	char c = 'x';

	return child_errno(syscall(SYS_ioctl, 0, TIOCSTI | 0x100000000UL, &c));
}

static int try_tioclinux(void)
{
	char c = 2; /* TIOCL_SETSEL (part of the CVE-2023-1523-style paste attack) */

	return child_errno(syscall(SYS_ioctl, 0, TIOCLINUX | 0xdead00000000UL, &c));
}

static int try_io_uring(void)
{
	unsigned char params[120];

	memset(params, 0, sizeof(params));
	return child_errno(syscall(SYS_io_uring_setup, 4, params));
}

static int try_personality_linux32(void)
{
	long r = personality(PER_LINUX32);

	return r < 0 ? errno : (personality(PER_LINUX32) & 0xff) == PER_LINUX32 ? 0 : EINVAL;
}

static int try_personality_rie(void)
{
	long r = personality(READ_IMPLIES_EXEC);

	return r < 0 ? errno : (personality(0xffffffff) & READ_IMPLIES_EXEC) ? 0 : EINVAL;
}

static int try_personality_noaslr(void)
{
	long r = personality(ADDR_NO_RANDOMIZE);

	return r < 0 ? errno : (personality(0xffffffff) & ADDR_NO_RANDOMIZE) ? 0 : EINVAL;
}

static void attack_syscalls(void)
{
	char buf[64];
	struct iovec local = { buf, sizeof(buf) }, remote = { buf, sizeof(buf) };
	unsigned char attr[128];

	in_child("ptrace:traceme", try_ptrace_traceme);
	report("ptrace:attach-parent", neg(ptrace(PTRACE_ATTACH, getppid(), NULL, NULL)), NULL);
	report("process_vm_readv:parent",
	       neg(process_vm_readv(getppid(), &local, 1, &remote, 1, 0)), NULL);
	memset(attr, 0, sizeof(attr));
	report("bpf:prog_load", neg(syscall(SYS_bpf, 5 /* BPF_PROG_LOAD */, attr, 72)), NULL);
	report("userfaultfd", neg(syscall(SYS_userfaultfd, O_CLOEXEC)), NULL);
	attr[0] = 1; /* PERF_TYPE_SOFTWARE */
	attr[4] = 128;
	report("perf_event_open", neg(syscall(SYS_perf_event_open, attr, 0, -1, -1, 0)), NULL);
	report("keyctl:get_keyring", neg(syscall(SYS_keyctl, 0, -3 /* session */, 1)), NULL);
	report("add_key", neg(syscall(SYS_add_key, "user", "fence", "x", 1, -3)), NULL);
	report("request_key", neg(syscall(SYS_request_key, "user", "fence", NULL, 0)), NULL);
	report("kexec_load", neg(syscall(SYS_kexec_load, 0, 0, NULL, 0)), NULL);
	report("init_module", neg(syscall(SYS_init_module, NULL, 0, "")), NULL);
	report("finit_module", neg(syscall(SYS_finit_module, 0, "", 0)), NULL);
	in_child("io_uring_setup", try_io_uring);
	in_child("tiocsti:pty", try_tiocsti);
	in_child("tiocsti:pty-high-bits", try_tiocsti_high);
	in_child("tiocsti:stdin-high-bits", try_tiocsti_stdin_high);
	in_child("tioclinux:high-bits", try_tioclinux);
	in_child("personality:LINUX32", try_personality_linux32);
	in_child("personality:READ_IMPLIES_EXEC", try_personality_rie);
	in_child("personality:ADDR_NO_RANDOMIZE", try_personality_noaslr);
	in_child("x32:getpid", try_x32_getpid);
	in_child("x32:unshare", try_x32_unshare);
	in_child("x32:ptrace", try_x32_ptrace);
	in_child("i386:getpid", try_i386_getpid);
	in_child("i386:unshare", try_i386_unshare);
}

/* ------------------------------------------------- ioctls on the mount */

static void attack_ioctls(void)
{
	unsigned int flags = 0;
	int src, dst, out;

	src = open("src/main.c", O_RDONLY | O_CLOEXEC);
	out = open("output/ioctl_dst", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	report("ioctl:open-src", src < 0 ? -errno : 0, NULL);
	report("ioctl:open-output", out < 0 ? -errno : 0, NULL);
	if (src < 0 || out < 0)
		return;
	/* Cloning into a read-level file through an fd opened for reading. */
	report("ioctl:FICLONE-into-read-level", neg(ioctl(src, FICLONE, out)), NULL);
	report("ioctl:FICLONE-from-read-level", neg(ioctl(out, FICLONE, src)), NULL);
	report("ioctl:GETFLAGS-read-level", neg(ioctl(src, FS_IOC_GETFLAGS, &flags)), NULL);
	/* The owner may set NOATIME on ext4 with a read-only fd: must not reach the source. */
	flags = FS_NOATIME_FL;
	report("ioctl:SETFLAGS-read-level", neg(ioctl(src, FS_IOC_SETFLAGS, &flags)), NULL);
	flags = FS_IMMUTABLE_FL;
	report("ioctl:SETFLAGS-immutable-output", neg(ioctl(out, FS_IOC_SETFLAGS, &flags)), NULL);
	flags = FS_APPEND_FL;
	report("ioctl:SETFLAGS-append-read-level", neg(ioctl(src, FS_IOC_SETFLAGS, &flags)), NULL);
	report("ioctl:SETVERSION-read-level", neg(ioctl(src, FS_IOC_SETVERSION, &flags)), NULL);
	(void)close(src);
	(void)close(out);
	dst = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	flags = FS_IMMUTABLE_FL;
	report("ioctl:SETFLAGS-workspace-root", neg(ioctl(dst, FS_IOC_SETFLAGS, &flags)), NULL);
	(void)close(dst);
}

int main(int argc, char **argv, char **envp)
{
	const char *pids = NULL, *suid = NULL, *abstract = NULL, *host_canaries = NULL;
	int i, wait_s = 10;

	char cwd[PATH_MAX];

	if (argc == 2 && !strcmp(argv[1], "whoami"))
		return whoami();
	/*
	 * On a host, as root, these attacks would mount, chroot and unshare for
	 * real: refuse to run anywhere but a sandbox's /workspace.
	 */
	if (!getcwd(cwd, sizeof(cwd)) || strcmp(cwd, "/workspace")) {
		fprintf(stderr, "escape_proc: refusing to run outside /workspace\n");
		return 2;
	}
	check_fds();
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--pids") && i + 1 < argc) {
			pids = argv[++i];
		} else if (!strcmp(argv[i], "--suid") && i + 1 < argc) {
			suid = argv[++i];
		} else if (!strcmp(argv[i], "--abstract") && i + 1 < argc) {
			abstract = argv[++i];
		} else if (!strcmp(argv[i], "--host-canaries") && i + 1 < argc) {
			host_canaries = argv[++i];
		} else if (!strcmp(argv[i], "--wait") && i + 1 < argc) {
			wait_s = atoi(argv[++i]);
		} else {
			fprintf(stderr, "usage: escape_proc [--pids FILE] [--suid PATH] "
					"[--abstract NAME] [--host-canaries FILE] [--wait SECONDS] | "
					"whoami\n");
			return 2;
		}
	}
	check_status();
	check_environ(envp);
	if (host_canaries)
		check_host_args(host_canaries);
	check_uid_map();
	check_network(abstract);
	check_hostfs();
	check_proc_fds();
	scan_proc();
	if (pids)
		attack_host_pids(pids, wait_s);
	attack_exe();
	if (suid)
		check_setuid(suid);
	attack_namespaces();
	attack_syscalls();
	attack_ioctls();
	printf("escape_proc:done OK\n");
	return 0;
}
