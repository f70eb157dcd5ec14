// SPDX-License-Identifier: Apache-2.0
/*
 * fsprobe - try one filesystem operation and print its outcome, for the
 * integration scripts (in the manner of bubblewrap's tests/try-syscall.c).
 *
 *   fsprobe OP ARGS...
 *
 * prints "OK" when the operation succeeded and the errno's name (ENOENT,
 * EACCES, ...) when it failed, and exits 0 either way, so a script compares
 * one word per operation with the errno docs/SPEC.md prescribes.  Usage errors
 * exit 2 with a message on stderr.
 *
 * Most operations are exactly one syscall on a path.  Those that need an
 * open descriptor (ftruncate, fallocate, flock, fcntl locks, fsync, mmap,
 * read, write, getdents64, copy_file_range) open the path first with the
 * flags the table gives and report the errno of the first call that fails,
 * which is the open's when the level forbids the access mode.
 *
 * Standalone on purpose (no project headers, no sanitizers): it also runs
 * inside the sandbox.  Every descriptor is O_CLOEXEC; exec runs the target
 * in a child and learns execve()'s errno through a close-on-exec pipe.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#define RENAME_EXCHANGE	 (1 << 1)
#define RENAME_WHITEOUT	 (1 << 2)
#endif

/* Set by the operations that have something to show (readlink, xattr list). */
static char probe_detail[PATH_MAX + 64];

static long probe_num(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 0);
	if (errno || *end || end == s) {
		fprintf(stderr, "fsprobe: not a number: '%s'\n", s);
		exit(2);
	}
	return v;
}

static const struct {
	const char *name;
	int flag;
} open_flags[] = {
    {"rdonly", O_RDONLY},	{"r", O_RDONLY},
    {"wronly", O_WRONLY},	{"w", O_WRONLY},
    {"rdwr", O_RDWR},		{"rw", O_RDWR},
    {"creat", O_CREAT},		{"excl", O_EXCL},
    {"trunc", O_TRUNC},		{"append", O_APPEND},
    {"directory", O_DIRECTORY}, {"nofollow", O_NOFOLLOW},
    {"path", O_PATH},		{"tmpfile", O_TMPFILE},
    {"noatime", O_NOATIME},	{"direct", O_DIRECT},
    {"sync", O_SYNC},		{"nonblock", O_NONBLOCK},
};

/* "wronly,creat,excl" -> O_WRONLY|O_CREAT|O_EXCL; O_CLOEXEC always. */
static int probe_open_flags(const char *spec)
{
	char buf[256], *tok, *save = NULL;
	int flags = O_CLOEXEC;
	size_t i;

	if (strlen(spec) >= sizeof(buf)) {
		fprintf(stderr, "fsprobe: flags too long\n");
		exit(2);
	}
	strcpy(buf, spec);
	for (tok = strtok_r(buf, ",|", &save); tok; tok = strtok_r(NULL, ",|", &save)) {
		for (i = 0; i < sizeof(open_flags) / sizeof(open_flags[0]); i++)
			if (!strcmp(tok, open_flags[i].name))
				break;
		if (i == sizeof(open_flags) / sizeof(open_flags[0])) {
			fprintf(stderr, "fsprobe: unknown open flag '%s'\n", tok);
			exit(2);
		}
		flags |= open_flags[i].flag;
	}
	return flags;
}

/* A descriptor for the fd-based operations; -errno when the open fails. */
static int probe_fd(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

static int ret(long r)
{
	return r < 0 ? -errno : 0;
}

static int op_open(char **a)
{
	return ret(open(a[0], probe_open_flags(a[1]), 0644));
}

static int op_openmode(char **a)
{
	return ret(open(a[0], probe_open_flags(a[1]), (mode_t)probe_num(a[2])));
}

static int op_creat(char **a)
{
	return ret(open(a[0], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
}

static int op_stat(char **a)
{
	struct stat st;

	return ret(stat(a[0], &st));
}

static int op_lstat(char **a)
{
	struct stat st;

	return ret(lstat(a[0], &st));
}

static int op_statx(char **a)
{
	struct statx stx;

	return ret(statx(AT_FDCWD, a[0], AT_SYMLINK_NOFOLLOW, STATX_ALL, &stx));
}

/* Prints the octal permission bits and the file type letter: "OK 0644 f". */
static int op_mode(char **a)
{
	struct stat st;
	char t;

	if (lstat(a[0], &st) < 0)
		return -errno;
	t = S_ISREG(st.st_mode) ? 'f' : S_ISDIR(st.st_mode) ? 'd' : S_ISLNK(st.st_mode) ? 'l' : '?';
	snprintf(probe_detail, sizeof(probe_detail), "%04o %c", (unsigned)(st.st_mode & 07777), t);
	return 0;
}

static int op_readlink(char **a)
{
	char buf[PATH_MAX];
	ssize_t n = readlink(a[0], buf, sizeof(buf) - 1);

	if (n < 0)
		return -errno;
	buf[n] = '\0';
	snprintf(probe_detail, sizeof(probe_detail), "%s", buf);
	return 0;
}

static int op_getxattr(char **a)
{
	char buf[4096];
	ssize_t n = lgetxattr(a[0], a[1], buf, sizeof(buf) - 1);

	if (n < 0)
		return -errno;
	buf[n] = '\0';
	snprintf(probe_detail, sizeof(probe_detail), "%s", buf);
	return 0;
}

/* VALUE is taken as text, or as bytes when written 0x<hex> (as setfattr does). */
static int op_setxattr(char **a)
{
	unsigned char bin[1024];
	size_t len = strlen(a[2]), i;

	if (strncmp(a[2], "0x", 2) || len % 2 || len / 2 - 1 > sizeof(bin))
		return ret(lsetxattr(a[0], a[1], a[2], len, 0));
	for (i = 0; i < len / 2 - 1; i++) {
		unsigned int byte;

		if (sscanf(a[2] + 2 + 2 * i, "%2x", &byte) != 1) {
			fprintf(stderr, "fsprobe: bad hex value '%s'\n", a[2]);
			exit(2);
		}
		bin[i] = (unsigned char)byte;
	}
	return ret(lsetxattr(a[0], a[1], bin, len / 2 - 1, 0));
}

static int op_listxattr(char **a)
{
	char buf[4096];
	ssize_t n = llistxattr(a[0], buf, sizeof(buf));

	return n < 0 ? -errno : 0;
}

static int op_removexattr(char **a)
{
	return ret(lremovexattr(a[0], a[1]));
}

static int op_unlink(char **a)
{
	return ret(unlink(a[0]));
}

static int op_rmdir(char **a)
{
	return ret(rmdir(a[0]));
}

static int op_mkdir(char **a)
{
	return ret(mkdir(a[0], 0755));
}

/* mknod PATH char|block|fifo|sock|reg [MAJOR MINOR] */
static int op_mknod(char **a)
{
	static const struct {
		const char *name;
		mode_t type;
	} types[] = {{"char", S_IFCHR},
		     {"block", S_IFBLK},
		     {"fifo", S_IFIFO},
		     {"sock", S_IFSOCK},
		     {"reg", S_IFREG}};
	dev_t dev = 0;
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcmp(a[1], types[i].name))
			break;
	if (i == sizeof(types) / sizeof(types[0])) {
		fprintf(stderr, "fsprobe: unknown node type '%s'\n", a[1]);
		exit(2);
	}
	if (a[2] && a[3])
		dev = makedev((unsigned)probe_num(a[2]), (unsigned)probe_num(a[3]));
	return ret(mknod(a[0], types[i].type | 0644, dev));
}

static int op_rename(char **a)
{
	return ret(rename(a[0], a[1]));
}

/* renameat2 OLD NEW noreplace|exchange|whiteout[,...] */
static int op_renameat2(char **a)
{
	unsigned int flags = 0;

	if (strstr(a[2], "noreplace"))
		flags |= RENAME_NOREPLACE;
	if (strstr(a[2], "exchange"))
		flags |= RENAME_EXCHANGE;
	if (strstr(a[2], "whiteout"))
		flags |= RENAME_WHITEOUT;
	return ret(syscall(SYS_renameat2, AT_FDCWD, a[0], AT_FDCWD, a[1], flags));
}

static int op_link(char **a)
{
	return ret(link(a[0], a[1]));
}

static int op_symlink(char **a)
{
	return ret(symlink(a[0], a[1]));
}

static int op_chmod(char **a)
{
	return ret(chmod(a[0], (mode_t)probe_num(a[1])));
}

static int op_chown(char **a)
{
	return ret(chown(a[0], (uid_t)probe_num(a[1]), (gid_t)probe_num(a[2])));
}

static int op_lchown(char **a)
{
	return ret(lchown(a[0], (uid_t)probe_num(a[1]), (gid_t)probe_num(a[2])));
}

/* utimensat PATH [SEC NSEC]: both atime and mtime; without them, now. */
static int op_utimensat(char **a)
{
	struct timespec ts[2];

	if (!a[1])
		return ret(utimensat(AT_FDCWD, a[0], NULL, AT_SYMLINK_NOFOLLOW));
	ts[0].tv_sec = ts[1].tv_sec = probe_num(a[1]);
	ts[0].tv_nsec = ts[1].tv_nsec = a[2] ? probe_num(a[2]) : 0;
	return ret(utimensat(AT_FDCWD, a[0], ts, AT_SYMLINK_NOFOLLOW));
}

static int op_truncate(char **a)
{
	return ret(truncate(a[0], probe_num(a[1])));
}

static int op_ftruncate(char **a)
{
	int fd = probe_fd(a[0], O_WRONLY);

	if (fd < 0)
		return fd;
	return ret(ftruncate(fd, probe_num(a[1])));
}

/* fallocate PATH OFFSET LEN [keep|punch|zero] */
static int op_fallocate(char **a)
{
	int mode = 0;
	int fd = probe_fd(a[0], O_WRONLY);

	if (fd < 0)
		return fd;
	if (a[3] && !strcmp(a[3], "keep"))
		mode = FALLOC_FL_KEEP_SIZE;
	else if (a[3] && !strcmp(a[3], "punch"))
		mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	else if (a[3] && !strcmp(a[3], "zero"))
		mode = FALLOC_FL_ZERO_RANGE;
	return ret(fallocate(fd, mode, probe_num(a[1]), probe_num(a[2])));
}

/* access PATH MODES: any of "r", "w", "x", or "f" for F_OK. */
static int op_access(char **a)
{
	int mode = 0;

	if (strchr(a[1], 'r'))
		mode |= R_OK;
	if (strchr(a[1], 'w'))
		mode |= W_OK;
	if (strchr(a[1], 'x'))
		mode |= X_OK;
	return ret(access(a[0], mode));
}

/*
 * exec PATH: execve in a child with stdio on /dev/null.  The child writes
 * execve()'s errno into a close-on-exec pipe; EOF means the exec happened.
 */
static int op_exec(char **a)
{
	int p[2], err = 0, status;
	pid_t pid;
	ssize_t n;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		char *argv[] = {a[0], NULL};
		char *envp[] = {"PATH=/usr/bin:/bin", NULL};
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);

		if (null >= 0) {
			(void)dup2(null, 0);
			(void)dup2(null, 1);
			(void)dup2(null, 2);
		}
		execve(a[0], argv, envp);
		err = errno;
		(void)!write(p[1], &err, sizeof(err));
		_exit(127);
	}
	close(p[1]);
	do
		n = read(p[0], &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	close(p[0]);
	(void)waitpid(pid, &status, 0);
	return n == sizeof(err) ? -err : 0;
}

/* opendir PATH: open O_DIRECTORY and read every entry with getdents64. */
static int op_opendir(char **a)
{
	char buf[8192];
	long n;
	int fd = probe_fd(a[0], O_RDONLY | O_DIRECTORY);

	if (fd < 0)
		return fd;
	do
		n = syscall(SYS_getdents64, fd, buf, sizeof(buf));
	while (n > 0);
	return ret(n);
}

static int op_tmpfile(char **a)
{
	return ret(open(a[0], O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
}

/* copy_file_range SRC DST: copies all of SRC into DST (which must exist). */
static int op_copy_file_range(char **a)
{
	int in = probe_fd(a[0], O_RDONLY), out;
	ssize_t n;

	if (in < 0)
		return in;
	out = probe_fd(a[1], O_WRONLY | O_TRUNC);
	if (out < 0)
		return out;
	do
		n = copy_file_range(in, NULL, out, NULL, 1 << 20, 0);
	while (n > 0);
	return ret(n);
}

static int op_flock(char **a)
{
	int fd = probe_fd(a[0], O_RDONLY);

	if (fd < 0)
		return fd;
	return ret(flock(fd, LOCK_EX | LOCK_NB));
}

/* lock PATH r|w: a POSIX record lock over the whole file (F_SETLK). */
static int op_lock(char **a)
{
	bool wr = !strcmp(a[1], "w");
	struct flock fl = {.l_type = wr ? F_WRLCK : F_RDLCK, .l_whence = SEEK_SET};
	int fd = probe_fd(a[0], wr ? O_WRONLY : O_RDONLY);

	if (fd < 0)
		return fd;
	if (fcntl(fd, F_SETLK, &fl) < 0)
		return -errno;
	fl.l_type = F_UNLCK;
	return ret(fcntl(fd, F_SETLK, &fl));
}

/* ofdlock PATH: an open file description lock, as used by sqlite and others. */
static int op_ofdlock(char **a)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	int fd = probe_fd(a[0], O_RDWR);

	if (fd < 0)
		return fd;
	return ret(fcntl(fd, F_OFD_SETLK, &fl));
}

static int op_fsync(char **a)
{
	int fd = probe_fd(a[0], O_RDONLY);

	if (fd < 0)
		return fd;
	return ret(fsync(fd));
}

static int op_fdatasync(char **a)
{
	int fd = probe_fd(a[0], O_RDONLY);

	if (fd < 0)
		return fd;
	return ret(fdatasync(fd));
}

static int op_statfs(char **a)
{
	struct statfs sfs;

	return ret(statfs(a[0], &sfs));
}

/*
 * A page of a mapping that the filesystem cannot read raises SIGBUS; the
 * probe reports it as the word SIGBUS instead of dying.
 */
static sigjmp_buf probe_sigbus_jmp;

static void probe_on_sigbus(int sig)
{
	siglongjmp(probe_sigbus_jmp, 1);
}

/*
 * mmap PATH r|w: map the first page PROT_READ (private) or PROT_WRITE
 * (shared, on an O_RDWR fd), touch it, and for w store a byte and msync.
 * An empty file cannot be touched, so the mapping alone counts there.
 */
static int op_mmap(char **a)
{
	bool wr = !strcmp(a[1], "w");
	int fd = probe_fd(a[0], wr ? O_RDWR : O_RDONLY);
	struct stat st;
	char *p;

	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		return -errno;
	p = mmap(NULL, 4096, wr ? PROT_READ | PROT_WRITE : PROT_READ, wr ? MAP_SHARED : MAP_PRIVATE,
		 fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	if (sigsetjmp(probe_sigbus_jmp, 1)) {
		snprintf(probe_detail, sizeof(probe_detail), "SIGBUS");
		return -EFAULT;
	}
	if (signal(SIGBUS, probe_on_sigbus) == SIG_ERR)
		return -errno;
	if (st.st_size > 0) {
		if (wr) {
			((volatile char *)p)[0] = p[0];
			if (msync(p, 4096, MS_SYNC) < 0)
				return -errno;
		} else {
			*(volatile char *)p;
		}
	}
	return ret(munmap(p, 4096));
}

/* read PATH: open O_RDONLY and read the whole file. */
static int op_read(char **a)
{
	char buf[65536];
	ssize_t n;
	int fd = probe_fd(a[0], O_RDONLY);

	if (fd < 0)
		return fd;
	do
		n = read(fd, buf, sizeof(buf));
	while (n > 0);
	return ret(n);
}

/* pwrite PATH OFFSET DATA: open O_WRONLY (no O_CREAT, no O_TRUNC), pwrite. */
static int op_pwrite(char **a)
{
	size_t len = strlen(a[2]);
	ssize_t n;
	int fd = probe_fd(a[0], O_WRONLY);

	if (fd < 0)
		return fd;
	n = pwrite(fd, a[2], len, probe_num(a[1]));
	if (n < 0)
		return -errno;
	if ((size_t)n != len)
		return -EIO;
	return ret(close(fd));
}

/* fill PATH BYTES: create or truncate PATH and write BYTES bytes of 'x'. */
static int op_fill(char **a)
{
	static char buf[65536];
	long left = probe_num(a[1]);
	int fd = probe_fd(a[0], O_WRONLY | O_CREAT | O_TRUNC);

	if (fd < 0)
		return fd;
	memset(buf, 'x', sizeof(buf));
	while (left > 0) {
		ssize_t n = write(fd, buf, left < (long)sizeof(buf) ? (size_t)left : sizeof(buf));

		if (n < 0)
			return -errno;
		left -= n;
	}
	if (fsync(fd) < 0)
		return -errno;
	return ret(close(fd));
}

static const struct probe_op {
	const char *name;
	int min_args;
	int (*fn)(char **args);
	const char *usage;
} probe_ops[] = {
    {"open", 2, op_open, "PATH FLAGS (e.g. wronly,creat,excl)"},
    {"openmode", 3, op_openmode, "PATH FLAGS MODE"},
    {"creat", 1, op_creat, "PATH"},
    {"stat", 1, op_stat, "PATH"},
    {"lstat", 1, op_lstat, "PATH"},
    {"statx", 1, op_statx, "PATH"},
    {"mode", 1, op_mode, "PATH (prints OK 0644 f)"},
    {"readlink", 1, op_readlink, "PATH (prints OK TARGET)"},
    {"getxattr", 2, op_getxattr, "PATH NAME (prints OK VALUE)"},
    {"setxattr", 3, op_setxattr, "PATH NAME VALUE"},
    {"listxattr", 1, op_listxattr, "PATH"},
    {"removexattr", 2, op_removexattr, "PATH NAME"},
    {"unlink", 1, op_unlink, "PATH"},
    {"rmdir", 1, op_rmdir, "PATH"},
    {"mkdir", 1, op_mkdir, "PATH"},
    {"mknod", 2, op_mknod, "PATH char|block|fifo|sock|reg [MAJOR MINOR]"},
    {"rename", 2, op_rename, "OLD NEW"},
    {"renameat2", 3, op_renameat2, "OLD NEW noreplace|exchange|whiteout"},
    {"link", 2, op_link, "OLD NEW"},
    {"symlink", 2, op_symlink, "TARGET LINKPATH"},
    {"chmod", 2, op_chmod, "PATH MODE"},
    {"chown", 3, op_chown, "PATH UID GID"},
    {"lchown", 3, op_lchown, "PATH UID GID"},
    {"utimensat", 1, op_utimensat, "PATH [SEC [NSEC]]"},
    {"truncate", 2, op_truncate, "PATH LENGTH"},
    {"ftruncate", 2, op_ftruncate, "PATH LENGTH"},
    {"fallocate", 3, op_fallocate, "PATH OFFSET LEN [keep|punch|zero]"},
    {"access", 2, op_access, "PATH r|w|x|f"},
    {"exec", 1, op_exec, "PATH"},
    {"opendir", 1, op_opendir, "PATH"},
    {"tmpfile", 1, op_tmpfile, "DIR"},
    {"copy_file_range", 2, op_copy_file_range, "SRC DST"},
    {"flock", 1, op_flock, "PATH"},
    {"lock", 2, op_lock, "PATH r|w"},
    {"ofdlock", 1, op_ofdlock, "PATH"},
    {"fsync", 1, op_fsync, "PATH"},
    {"fdatasync", 1, op_fdatasync, "PATH"},
    {"statfs", 1, op_statfs, "PATH"},
    {"mmap", 2, op_mmap, "PATH r|w"},
    {"read", 1, op_read, "PATH"},
    {"pwrite", 3, op_pwrite, "PATH OFFSET DATA"},
    {"fill", 2, op_fill, "PATH BYTES"},
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: fsprobe OP ARGS...   (prints OK or the errno name)\n");
	for (i = 0; i < sizeof(probe_ops) / sizeof(probe_ops[0]); i++)
		fprintf(f, "  %-16s %s\n", probe_ops[i].name, probe_ops[i].usage);
}

int main(int argc, char **argv)
{
	const struct probe_op *op = NULL;
	const char *name;
	size_t i;
	int r;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	for (i = 0; i < sizeof(probe_ops) / sizeof(probe_ops[0]); i++)
		if (!strcmp(argv[1], probe_ops[i].name))
			op = &probe_ops[i];
	if (!op) {
		fprintf(stderr, "fsprobe: unknown operation '%s'\n", argv[1]);
		usage(stderr);
		return 2;
	}
	if (argc - 2 < op->min_args) {
		fprintf(stderr, "usage: fsprobe %s %s\n", op->name, op->usage);
		return 2;
	}
	r = op->fn(argv + 2);
	if (r == -EFAULT && !strcmp(probe_detail, "SIGBUS")) {
		printf("SIGBUS\n");
		return 0;
	}
	if (r == 0) {
		if (probe_detail[0])
			printf("OK %s\n", probe_detail);
		else
			printf("OK\n");
		return 0;
	}
	name = strerrorname_np(-r);
	if (name)
		printf("%s\n", name);
	else
		printf("E%d\n", -r);
	return 0;
}
