// SPDX-License-Identifier: Apache-2.0
/*
 * escape_fs - hostile filesystem probe for the escape suite (issue 6).
 *
 *   escape_fs [--host-root DIR] [--host-src DIR] [--host-delta DIR]
 *             [--host-file FILE] [--host-victim FILE] GROUP...
 *
 * Run inside `fence-run --preset agent-safe` with /workspace as the cwd, on
 * the canary codebase that tests/security/lib.sh builds.  GROUP is paths,
 * names, meta or writes (or all, which adds the symlink, deep-path and
 * special-file vectors), levels (view and pass-through, under the policy
 * escape.sh gives) or swap (source directories swapped for symlinks to the
 * host while the sandbox runs).  Each vector prints one line
 *
 *   VECTOR RESULT [DETAIL]
 *
 * RESULT is OK or the errno name (ENOENT, EACCES, ...), or for compound
 * vectors a verdict (CLEAN/LEAK, SAFE/UNSAFE).  Whatever a vector manages to
 * read is printed in DETAIL (non-printable bytes as \xNN), so the script's
 * canary scan sees any leak even when the verdict logic is wrong.  The
 * script holds the expected RESULT of every vector; this program only
 * attacks and reports.
 *
 * The --host-* paths are where things live on the host; inside the sandbox
 * they must not be reachable, and /proc/self/mountinfo must not name them.
 * --host-victim is a host file that symlinks made in the delta point at:
 * attribute changes on those symlinks must not reach it through the daemon
 * (which resolves paths in the host's mount namespace); the script checks.
 *
 * Standalone (no project headers, no sanitizers), like tests/probes/fsprobe.c.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <linux/fs.h>
#include <linux/openat2.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#define RENAME_EXCHANGE (1 << 1)
#define RENAME_WHITEOUT (1 << 2)
#endif
#ifndef RESOLVE_CACHED
#define RESOLVE_CACHED 0x20
#endif

static const char *host_root = "/nonexistent-host-root";
static const char *host_src = "/nonexistent-host-src";
static const char *host_delta = "/nonexistent-host-delta";
static const char *host_file = "/nonexistent-host-file";
static const char *host_victim = "/nonexistent-host-victim";

/* Names that must never appear in a listing of the canary codebase. */
static const char *const hidden_names[] = {
	".env", ".env.local", "secrets", "server.pem", "id_rsa", ".aws", "credentials", NULL,
};

/* Every hidden path of the canary codebase (lib.sh: fence_canary_tree). */
static const char *const hidden_paths[] = {
	".env",
	"a/b/.env.local",
	"config/secrets",
	"config/secrets/db.txt",
	"keys/server.pem",
	"deep/x/y/z/id_rsa",
	".aws",
	".aws/credentials",
	"output/.env",
	"output/sub/.env",
	"output/only/id_rsa",
	NULL,
};

static const char *errname(int e)
{
	const char *n = strerrorname_np(e);
	static char buf[32];

	if (n)
		return n;
	snprintf(buf, sizeof(buf), "E%d", e);
	return buf;
}

/* Prints DATA with everything outside printable ASCII escaped. */
static void put_bytes(const char *data, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)data[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			putchar(c);
		else
			printf("\\x%02x", c);
	}
}

/* VECTOR RESULT for a 0 / -errno outcome, with an optional detail. */
static void report(const char *vector, int r, const char *detail)
{
	printf("%s %s", vector, r < 0 ? errname(-r) : "OK");
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

static int neg(long r)
{
	return r < 0 ? -errno : 0;
}

/*
 * Opens PATH (relative to DIRFD) for reading and dumps what it could read,
 * so a leak shows up in the output whatever the verdict.
 */
static void try_read_at(const char *vector, int dirfd, const char *path, int flags)
{
	char buf[4096];
	ssize_t n;
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | flags);

	if (fd < 0) {
		report(vector, -errno, NULL);
		return;
	}
	n = read(fd, buf, sizeof(buf));
	if (n < 0) {
		/* Opening a directory is fine, reading it is EISDIR. */
		report(vector, -errno, "(opened)");
	} else {
		printf("%s OK ", vector);
		put_bytes(buf, (size_t)n);
		putchar('\n');
		fflush(stdout);
	}
	(void)close(fd);
}

static void try_read(const char *vector, const char *path)
{
	try_read_at(vector, AT_FDCWD, path, 0);
}

static void try_create(const char *vector, const char *path, int flags);

static void vname(char *out, size_t size, const char *a, const char *b)
{
	snprintf(out, size, "%s:%s", a, b);
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		r = -EIO;
	(void)close(fd);
	return r;
}

static bool file_contains(const char *path, const char *needle)
{
	char buf[8192];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return strstr(buf, needle) != NULL;
}

/* ---------------------------------------------------------------- paths */

/* A /proc file must not name where the source, the delta or the test live. */
static void scan_for_host_paths(const char *vector, const char *path)
{
	const char *needles[] = { host_root, host_src, host_delta };
	static char buf[1 << 20];
	char *hit = NULL, *eol;
	size_t len = 0, i;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		report(vector, -errno, NULL);
		return;
	}
	while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	(void)close(fd);
	buf[len] = '\0';
	for (i = 0; i < 3 && !hit; i++)
		hit = strstr(buf, needles[i]);
	if (!hit) {
		verdict(vector, "CLEAN", NULL);
		return;
	}
	while (hit > buf && hit[-1] != '\n')
		hit--;
	eol = strchr(hit, '\n');
	if (eol)
		*eol = '\0';
	verdict(vector, "LEAK", hit);
}

static void group_paths(void)
{
	char path[PATH_MAX * 2];
	int fd, r;

	scan_for_host_paths("mountinfo:self", "/proc/self/mountinfo");
	scan_for_host_paths("mountinfo:1", "/proc/1/mountinfo");
	scan_for_host_paths("mounts:self", "/proc/self/mounts");
	try_read("dotdot:../workspace/.env", "../workspace/.env");
	try_read("dotdot:src/../a/b/../../.env", "src/../a/b/../../.env");
	try_read("dotdot:deep-roundtrip-id_rsa", "deep/x/y/z/../../../../deep/x/y/z/id_rsa");
	try_read("dotdot:config/secrets/../secrets/db.txt", "config/secrets/../secrets/db.txt");
	try_read("dotdot:output/../.aws/credentials", "output/../.aws/credentials");
	snprintf(path, sizeof(path), "../../../../../../../..%s/.env", host_src);
	try_read("dotdot:host-src-env", path);
	snprintf(path, sizeof(path), "../../../../../../../..%s", host_file);
	try_read("dotdot:host-file", path);
	snprintf(path, sizeof(path), "%s/.env", host_src);
	try_read("abs:host-src-env", path);
	try_read("abs:host-file", host_file);
	try_read("abs:/workspace/.env", "/workspace/.env");

	/* Symlinks created inside (output/ is writable) pointing at hidden files. */
	report("symlink-create:abs", neg(symlink("/workspace/.env", "output/ln_abs")), NULL);
	try_read("symlink-open:abs", "output/ln_abs");
	report("symlink-create:rel", neg(symlink("../keys/server.pem", "output/ln_rel")), NULL);
	try_read("symlink-open:rel", "output/ln_rel");
	report("symlink-create:dir", neg(symlink("../config/secrets", "output/ln_dir")), NULL);
	try_read("symlink-open:dir", "output/ln_dir/db.txt");
	report("symlink-create:deep", neg(symlink("../../deep/x/y/z/id_rsa", "output/sub/ln_deep")),
	       NULL);
	try_read("symlink-open:deep", "output/sub/ln_deep");
	report("symlink-create:sibling", neg(symlink(".env", "output/ln_sib")), NULL);
	try_read("symlink-open:sibling", "output/ln_sib");
	/* ... and out of the mount, at the host's files. */
	report("symlink-create:host", neg(symlink(host_file, "output/ln_host")), NULL);
	try_read("symlink-open:host", "output/ln_host");
	snprintf(path, sizeof(path), "../../../../../../../../..%s", host_file);
	report("symlink-create:host-dotdot", neg(symlink(path, "output/ln_hostdd")), NULL);
	try_read("symlink-open:host-dotdot", "output/ln_hostdd");
	snprintf(path, sizeof(path), "/proc/1/root%s", host_file);
	report("symlink-create:proc-root", neg(symlink(path, "output/ln_procroot")), NULL);
	try_read("symlink-open:proc-root", "output/ln_procroot");
	snprintf(path, sizeof(path), "%s/.env", host_src);
	report("symlink-create:host-src", neg(symlink(path, "output/ln_hostsrc")), NULL);
	try_read("symlink-open:host-src", "output/ln_hostsrc");
	/* Loops. */
	r = neg(symlink("loop_b", "output/loop_a"));
	report("symlink-create:loop", r < 0 ? r : neg(symlink("loop_a", "output/loop_b")), NULL);
	try_read("symlink-open:loop", "output/loop_a");
	report("symlink-create:self", neg(symlink("loop_self", "output/loop_self")), NULL);
	try_read("symlink-open:self", "output/loop_self");
	report("symlink-create:dirloop", neg(symlink(".", "output/loop_dot")), NULL);
	snprintf(path, sizeof(path), "output");
	for (r = 0; r < 60; r++)
		strcat(path, "/loop_dot");
	strcat(path, "/.env");
	try_read("symlink-open:dirloop-env", path);

	/* Hard links to hidden files, from a writable directory. */
	report("hardlink:.env", neg(link(".env", "output/hl_env")), NULL);
	report("hardlink:keys/server.pem", neg(link("keys/server.pem", "output/hl_pem")), NULL);
	report("hardlink:output/.env", neg(link("output/.env", "output/hl_outenv")), NULL);
	report("hardlink:deep-id_rsa", neg(link("deep/x/y/z/id_rsa", "output/hl_rsa")), NULL);
	try_read("hardlink-open:.env", "output/hl_env");
	try_read("hardlink-open:output/.env", "output/hl_outenv");
	/*
	 * A hard link from a read-level file into a writable directory must not
	 * become a way to write the read-level file (both names would share one
	 * inode in the delta).
	 */
	r = neg(link("src/main.c", "output/hl_main"));
	if (r == 0) {
		fd = open("output/hl_main", O_WRONLY | O_APPEND | O_CLOEXEC);
		if (fd >= 0) {
			(void)!write(fd, "ESCALATED\n", 10);
			(void)close(fd);
		}
	}
	verdict("hardlink-escalate:src/main.c", file_contains("src/main.c", "ESCALATED") ?
		"UNSAFE" : "SAFE", r < 0 ? errname(-r) : "link=OK");
	/* The same through an open descriptor and linkat(AT_SYMLINK_FOLLOW). */
	fd = open("src/main.c", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		report("linkat-procfd:src/main.c", neg(linkat(AT_FDCWD, path, AT_FDCWD,
							      "output/hl_main_fd",
							      AT_SYMLINK_FOLLOW)), NULL);
		(void)close(fd);
	}
	fd = open("output/keep.txt", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		report("linkat-procfd-onto:output/.env", neg(linkat(AT_FDCWD, path, AT_FDCWD,
								    "output/.env",
								    AT_SYMLINK_FOLLOW)), NULL);
		(void)close(fd);
	}

	/* /proc magic links. */
	try_read("proc:self-root-workspace-env", "/proc/self/root/workspace/.env");
	snprintf(path, sizeof(path), "/proc/self/root%s/.env", host_src);
	try_read("proc:self-root-host-src", path);
	snprintf(path, sizeof(path), "/proc/self/root%s", host_file);
	try_read("proc:self-root-host-file", path);
	try_read("proc:1-root-workspace-env", "/proc/1/root/workspace/.env");
	snprintf(path, sizeof(path), "/proc/1/root%s", host_file);
	try_read("proc:1-root-host-file", path);
	snprintf(path, sizeof(path), "/proc/1/root%s/.env", host_src);
	try_read("proc:1-root-host-src", path);
	try_read("proc:self-cwd-env", "/proc/self/cwd/.env");
	try_read("proc:self-cwd-secrets", "/proc/self/cwd/config/secrets/db.txt");
	snprintf(path, sizeof(path), "/proc/self/cwd/../../../../../..%s", host_file);
	try_read("proc:self-cwd-dotdot-host", path);
	fd = open("/workspace", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d/.env", fd);
		try_read("proc:fd-magic-env", path);
		snprintf(path, sizeof(path), "/proc/self/fd/%d/../../../..%s", fd, host_file);
		try_read("proc:fd-magic-dotdot-host", path);
		(void)close(fd);
	}
}

/* ---------------------------------------------------------------- names */

static void group_names(void)
{
	static char path[8192];
	char name[300];
	size_t i;
	int fd;

	try_read("case:.ENV", ".ENV");
	try_read("case:.Env", ".Env");
	try_read("case:KEYS/SERVER.PEM", "keys/SERVER.PEM");
	try_read("case:.AWS/credentials", ".AWS/credentials");
	try_read("trailing:.env.", ".env.");
	try_read("trailing:.env-space", ".env ");
	try_read("trailing:.env-slash", ".env/");
	try_read("trailing:.env-slashdot", ".env/.");
	try_read("trailing:secrets.-dir", "config/secrets./db.txt");
	try_read("trailing:secrets-space-dir", "config/secrets /db.txt");
	try_read("slashes:keys//server.pem", "keys//server.pem");
	try_read("slashes:./keys/./server.pem", "./keys/./server.pem");
	try_read("nul:.env-with-suffix", ".env\0ignored");
	try_read("utf8:overlong-dot-env", "\xc0\xae" "env");
	/* Secret names that are not UTF-8 (escape.sh puts canaries there). */
	try_read("utf8-secret:keys/FF-FE.pem", "keys/\xff\xfe.pem");
	try_read("utf8-secret:.env.FF", ".env.\xff");
	try_read("utf8-secret:id_rsaFF", "id_rsa\xff");
	try_read("utf8-secret:deep/FF/.env", "deep/\xff/.env");
	try_read("utf8-secret:xFF/secrets/f", "x\xff/secrets/f");
	try_read("utf8:fullwidth-dot-env", "\xef\xbc\x8e" "env");

	/* Very long names and paths. */
	memset(name, 'a', 256);
	name[256] = '\0';
	try_read("long:name-256", name);
	snprintf(path, sizeof(path), "output/%.255s", name);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	report("long:create-255", fd < 0 ? -errno : 0, NULL);
	if (fd >= 0)
		(void)close(fd);
	snprintf(path, sizeof(path), "output/%s", name);
	report("long:create-256", neg(open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)), NULL);
	path[0] = '\0';
	for (i = 0; i < 2040; i++)
		strcat(path, "./");
	strcat(path, ".env");
	try_read("long:path-4084-env", path);
	path[0] = '\0';
	for (i = 0; i < 2100; i++)
		strcat(path, "./");
	strcat(path, ".env");
	try_read("long:path-4204-env", path);
	path[0] = '\0';
	for (i = 0; i < 600; i++)
		strcat(path, "src/../");
	strcat(path, "keys/server.pem");
	try_read("long:dotdot-chain-4215", path);
	path[0] = '\0';
	for (i = 0; i < 500; i++)
		strcat(path, "src/../");
	strcat(path, "keys/server.pem");
	try_read("long:dotdot-chain-3515", path);

	/* Hostile bytes in names; the audit log must stay valid JSON Lines. */
	report("utf8:create-invalid", neg(open("output/\xff\xfe\x80" "bad",
					       O_WRONLY | O_CREAT | O_CLOEXEC, 0644)), NULL);
	report("utf8:deny-invalid", neg(open("src/\xff\xfe\x80" "bad",
					     O_WRONLY | O_CREAT | O_CLOEXEC, 0644)), NULL);
	report("quote:create-newline", neg(open("output/nl\nname\"q'\\{}",
						O_WRONLY | O_CREAT | O_CLOEXEC, 0644)), NULL);
	report("quote:deny-newline", neg(open("src/nl\n\"}{\"event\":\"fake\"",
					      O_WRONLY | O_CREAT | O_CLOEXEC, 0644)), NULL);
	/* Valid JSON if unescaped, with a forged "event" key: lib.sh looks for it. */
	report("quote:deny-injection", neg(open("src/x\",\"event\":\"fake\",\"y\":\"",
						O_WRONLY | O_CREAT | O_CLOEXEC, 0644)), NULL);
	/*
	 * The same names where the daemon itself refuses them (a secret
	 * pattern in a writable directory), so the deny event carries them.
	 */
	report("utf8:deny-invalid-pem", neg(open("output/\xff\xfe\x80" "bad.pem",
						 O_WRONLY | O_CREAT | O_CLOEXEC, 0644)), NULL);
	report("quote:deny-newline-pem", neg(open("output/nl\n\"}{\"event\":\"fake\".pem",
						  O_WRONLY | O_CREAT | O_CLOEXEC, 0644)), NULL);
	report("quote:deny-injection-pem", neg(open("output/x\",\"event\":\"fake\",\"y\":\".pem",
						    O_WRONLY | O_CREAT | O_CLOEXEC, 0644)), NULL);
	report("ctrl:create-escape-seq", neg(open("output/\x01\x1b[31mred\x7f",
						  O_WRONLY | O_CREAT | O_CLOEXEC, 0644)), NULL);
	report("ctrl:deny-escape-seq", neg(mkdir("\x1b]0;title\x07", 0755)), NULL);
}

/* ----------------------------------------------------------------- meta */

static void list_dir(const char *vector, const char *dir, size_t bufsize, bool seek)
{
	char buf[32768], detail[512] = "";
	struct dirent64_raw {
		uint64_t d_ino;
		int64_t d_off;
		unsigned short d_reclen;
		unsigned char d_type;
		char d_name[];
	} *d;
	long n, pos, total = 0;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), i, round;
	bool leak = false;

	if (fd < 0) {
		report(vector, -errno, NULL);
		return;
	}
	for (round = 0; round < (seek ? 8 : 1); round++) {
		/* Seek to offsets the daemon never handed out, then list on. */
		if (seek && lseek(fd, round == 0 ? 0 : (off_t)round * 7919, SEEK_SET) < 0)
			continue;
		while ((n = syscall(SYS_getdents64, fd, buf, bufsize)) > 0) {
			for (pos = 0; pos < n; pos += d->d_reclen) {
				d = (struct dirent64_raw *)(buf + pos);
				total++;
				for (i = 0; hidden_names[i]; i++)
					if (!strcmp(d->d_name, hidden_names[i]))
						break;
				if (hidden_names[i]) {
					leak = true;
					snprintf(detail, sizeof(detail), "%s", d->d_name);
				}
			}
		}
		/* An offset the daemon never handed out may be refused. */
		if (n < 0 && seek && errno == EINVAL)
			continue;
		if (n < 0) {
			report(vector, -errno, "(getdents64)");
			(void)close(fd);
			return;
		}
	}
	(void)close(fd);
	if (!leak)
		snprintf(detail, sizeof(detail), "entries=%ld", total);
	verdict(vector, leak ? "LEAK" : "CLEAN", detail);
}

/*
 * A directory's link count is 2 + its subdirectories; counting hidden ones
 * would tell that something hides there (config/secrets/, .aws/).
 */
static void nlink_leak(const char *vector, const char *dir)
{
	char path[PATH_MAX], detail[96];
	struct dirent *e;
	struct stat st, sub;
	unsigned long subdirs = 0;
	DIR *d = opendir(dir);

	if (!d || stat(dir, &st) < 0) {
		report(vector, -errno, NULL);
		if (d)
			(void)closedir(d);
		return;
	}
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (lstat(path, &sub) == 0 && S_ISDIR(sub.st_mode))
			subdirs++;
	}
	(void)closedir(d);
	snprintf(detail, sizeof(detail), "nlink=%lu visible-subdirs=%lu",
		 (unsigned long)st.st_nlink, subdirs);
	/* 1 is what filesystems that do not count say (btrfs, some FUSE). */
	verdict(vector, st.st_nlink == 1 || st.st_nlink <= 2 + subdirs ? "CLEAN" : "LEAK", detail);
}

struct fh_buf {
	struct file_handle fh;
	unsigned char bytes[MAX_HANDLE_SZ];
};

/*
 * Inode guessing: take a handle of a readable file and mutate it towards its
 * neighbours (hidden files were created right next to it).  open_by_handle_at
 * must be refused outright (seccomp, and no CAP_DAC_READ_SEARCH).
 */
static void handle_guess(void)
{
	struct fh_buf h, g;
	int mount_id, mfd, fd, first = 1, opened = 0, k, b;
	char buf[4096];
	ssize_t n;

	h.fh.handle_bytes = MAX_HANDLE_SZ;
	report("name_to_handle:.env", neg(syscall(SYS_name_to_handle_at, AT_FDCWD, ".env", &h.fh,
						  &mount_id, 0)), NULL);
	h.fh.handle_bytes = MAX_HANDLE_SZ;
	if (syscall(SYS_name_to_handle_at, AT_FDCWD, "src/main.c", &h.fh, &mount_id, 0) < 0) {
		report("name_to_handle:src/main.c", -errno, NULL);
		/* Still try a forged handle: the common ext4/tmpfs/FUSE shapes. */
		h.fh.handle_bytes = 8;
		h.fh.handle_type = 1;
		memset(h.bytes, 0, sizeof(h.bytes));
	} else {
		report("name_to_handle:src/main.c", 0, NULL);
	}
	mfd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (k = -64; k <= 64; k++) {
		for (b = 0; b < 2; b++) {
			g = h;
			/* Bump the inode/nodeid word, low then high half. */
			((uint32_t *)g.bytes)[b] += (uint32_t)k;
			fd = (int)syscall(SYS_open_by_handle_at, mfd, &g.fh, O_RDONLY | O_CLOEXEC);
			if (fd < 0) {
				if (first)
					report("open_by_handle_at", -errno, NULL);
				first = 0;
				continue;
			}
			opened++;
			n = read(fd, buf, sizeof(buf));
			printf("open_by_handle_at:guess%+d OK ", k);
			if (n > 0)
				put_bytes(buf, (size_t)n);
			putchar('\n');
			(void)close(fd);
		}
	}
	if (mfd >= 0)
		(void)close(mfd);
	snprintf(buf, sizeof(buf), "opened=%d", opened);
	verdict("open_by_handle_at:guesses", opened ? "UNSAFE" : "SAFE", buf);
}

static const struct {
	const char *name;
	uint64_t flags;
} resolve_flags[] = {
	{ "none", 0 },
	{ "BENEATH", RESOLVE_BENEATH },
	{ "IN_ROOT", RESOLVE_IN_ROOT },
	{ "NO_SYMLINKS", RESOLVE_NO_SYMLINKS },
	{ "NO_MAGICLINKS", RESOLVE_NO_MAGICLINKS },
	{ "NO_XDEV", RESOLVE_NO_XDEV },
	{ "CACHED", RESOLVE_CACHED },
	{ "ALL_BENEATH", RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
				 RESOLVE_NO_XDEV },
	{ "IN_ROOT_NO_XDEV", RESOLVE_IN_ROOT | RESOLVE_NO_XDEV },
};

static void openat2_all(void)
{
	static const char *const targets[] = {
		".env", "keys/server.pem", "config/secrets/db.txt", "output/.env",
		"meta_ln_abs", "meta_ln_rel", "../workspace/.env", "/workspace/.env",
		"/.env", "/proc/self/root/workspace/.env", "/proc/self/cwd/.env", NULL,
	};
	char vector[256], buf[4096];
	struct open_how how;
	size_t i, t;
	ssize_t n;
	int root, fd;

	/* Links the targets use; in output/, the writable place. */
	(void)symlink("/workspace/.env", "output/meta_ln_abs");
	(void)symlink("../a/b/.env.local", "output/meta_ln_rel");
	root = open("output", O_PATH | O_DIRECTORY | O_CLOEXEC);
	for (t = 0; targets[t]; t++) {
		for (i = 0; i < sizeof(resolve_flags) / sizeof(resolve_flags[0]); i++) {
			/* Paths without "meta_" are relative to /workspace, not output/. */
			int dirfd = strncmp(targets[t], "meta_", 5) ? AT_FDCWD : root;

			memset(&how, 0, sizeof(how));
			how.flags = O_RDONLY | O_CLOEXEC;
			how.resolve = resolve_flags[i].flags;
			snprintf(vector, sizeof(vector), "openat2:%s:%s", resolve_flags[i].name,
				 targets[t]);
			fd = (int)syscall(SYS_openat2, dirfd, targets[t], &how, sizeof(how));
			if (fd < 0) {
				report(vector, -errno, NULL);
				continue;
			}
			n = read(fd, buf, sizeof(buf));
			printf("%s OK ", vector);
			if (n > 0)
				put_bytes(buf, (size_t)n);
			putchar('\n');
			(void)close(fd);
		}
	}
	if (root >= 0)
		(void)close(root);
}

static void group_meta(void)
{
	char vector[256], buf[4096];
	struct stat st;
	struct statx stx;
	size_t i;
	ssize_t n;

	for (i = 0; hidden_paths[i]; i++) {
		const char *p = hidden_paths[i];

		vname(vector, sizeof(vector), "stat", p);
		report(vector, neg(stat(p, &st)), NULL);
		vname(vector, sizeof(vector), "lstat", p);
		report(vector, neg(lstat(p, &st)), NULL);
		vname(vector, sizeof(vector), "statx", p);
		report(vector, neg(statx(AT_FDCWD, p, AT_SYMLINK_NOFOLLOW, STATX_ALL, &stx)), NULL);
		vname(vector, sizeof(vector), "access", p);
		report(vector, neg(access(p, F_OK)), NULL);
		vname(vector, sizeof(vector), "getxattr", p);
		n = lgetxattr(p, "user.test", buf, sizeof(buf));
		report(vector, n < 0 ? -errno : 0, NULL);
		vname(vector, sizeof(vector), "listxattr", p);
		n = llistxattr(p, buf, sizeof(buf));
		if (n > 0) {
			printf("%s OK ", vector);
			put_bytes(buf, (size_t)n);
			putchar('\n');
		} else {
			report(vector, n < 0 ? -errno : 0, NULL);
		}
		vname(vector, sizeof(vector), "readlink", p);
		report(vector, neg(readlink(p, buf, sizeof(buf))), NULL);
		vname(vector, sizeof(vector), "open_path", p);
		try_read_at(vector, AT_FDCWD, p, O_PATH);
		vname(vector, sizeof(vector), "chdir", p);
		if (chdir(p) == 0) {
			report(vector, 0, NULL);
			if (chdir("/workspace") < 0)
				exit(1);
		} else {
			report(vector, -errno, NULL);
		}
	}

	nlink_leak("nlink:config", "config");
	nlink_leak("nlink:root", ".");
	nlink_leak("nlink:output", "output");
	list_dir("getdents:.", ".", 32768, false);
	list_dir("getdents:a/b", "a/b", 32768, false);
	list_dir("getdents:config", "config", 32768, false);
	list_dir("getdents:keys", "keys", 32768, false);
	list_dir("getdents:deep/x/y/z", "deep/x/y/z", 32768, false);
	list_dir("getdents:output", "output", 32768, false);
	list_dir("getdents:output/sub", "output/sub", 32768, false);
	list_dir("getdents:output/only", "output/only", 32768, false);
	list_dir("getdents:small-buffer-root", ".", 80, false);
	list_dir("getdents:seek-root", ".", 32768, true);
	list_dir("getdents:seek-output", "output", 128, true);
	list_dir("getdents:config/secrets", "config/secrets", 32768, false);
	list_dir("getdents:.aws", ".aws", 32768, false);

	handle_guess();
	openat2_all();
}

/* --------------------------------------------------------------- writes */

static void try_create(const char *vector, const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC, 0644);

	report(vector, fd < 0 ? -errno : 0, NULL);
	if (fd >= 0)
		(void)close(fd);
}

static void group_writes(void)
{
	static const char *const forged[] = {
		"trusted.overlay.opaque",  "user.overlay.opaque",    "trusted.overlay.whiteout",
		"user.overlay.whiteout",   "trusted.overlay.redirect", "user.overlay.redirect",
		"trusted.overlay.origin",  "user.overlay.metacopy",  "trusted.overlay.upper",
		"user.fencefs.origin",     "trusted.fencefs.origin", "security.capability",
		"trusted.overlay.impure",  NULL,
	};
	char vector[256], buf[4096];
	struct timespec ts[2] = { { 0, 0 }, { 0, 0 } };
	ssize_t n;
	size_t i;
	int fd;

	/* Creating a hidden name: EACCES whether or not something is hidden there. */
	try_create("create-excl:output/.env(exists)", "output/.env", O_WRONLY | O_CREAT | O_EXCL);
	try_create("create-excl:output/.env.nothere", "output/.env.nothere",
		   O_WRONLY | O_CREAT | O_EXCL);
	try_create("create-trunc:output/.env", "output/.env", O_WRONLY | O_CREAT | O_TRUNC);
	try_create("create-trunc:output/sub/.env", "output/sub/.env", O_WRONLY | O_CREAT | O_TRUNC);
	try_create("create:output/new.pem", "output/new.pem", O_WRONLY | O_CREAT | O_EXCL);
	try_create("create:output/id_rsa.pub", "output/id_rsa.pub", O_WRONLY | O_CREAT | O_EXCL);
	try_create("create:.env", ".env", O_WRONLY | O_CREAT | O_EXCL);
	try_create("create:src/new.c", "src/new.c", O_WRONLY | O_CREAT | O_EXCL);
	try_create("create:keys/new.txt", "keys/new.txt", O_WRONLY | O_CREAT | O_EXCL);
	try_create("create:config/secrets/new.txt", "config/secrets/new.txt",
		   O_WRONLY | O_CREAT | O_EXCL);
	try_create("create-tmpfile:src", "src", O_TMPFILE | O_RDWR);
	report("mkdir:output/.aws", neg(mkdir("output/.aws", 0755)), NULL);
	report("mkdir:output/.env(exists)", neg(mkdir("output/.env", 0755)), NULL);
	report("mkdir:output/secrets", neg(mkdir("output/secrets", 0755)), NULL);
	report("symlink-as:output/.env", neg(symlink("x", "output/.env")), NULL);
	report("mknod-fifo:output/.env", neg(mknod("output/.env", S_IFIFO | 0644, 0)), NULL);

	/* Read-level and hidden targets of every modifying call. */
	try_create("open-write:src/main.c", "src/main.c", O_WRONLY);
	try_create("open-trunc:src/main.c", "src/main.c", O_WRONLY | O_TRUNC);
	try_create("open-write:.env", ".env", O_WRONLY);
	report("truncate:src/main.c", neg(truncate("src/main.c", 0)), NULL);
	fd = open("src/main.c", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

		report("mmap-shared-write:src/main.c", m == MAP_FAILED ? -errno : 0, NULL);
		if (m != MAP_FAILED)
			(void)munmap(m, 4096);
		m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
		report("mprotect-shared-write:src/main.c", m == MAP_FAILED ? -errno :
		       neg(mprotect(m, 4096, PROT_READ | PROT_WRITE)), NULL);
		if (m != MAP_FAILED)
			(void)munmap(m, 4096);
		snprintf(buf, sizeof(buf), "/proc/self/fd/%d", fd);
		try_create("reopen-proc-fd-write:src/main.c", buf, O_WRONLY);
		/*
		 * Attribute changes through a read-only descriptor: the kernel lets
		 * the owner (the sandbox's user owns what it sees) ask for them, so
		 * only the daemon's level check stands in the way.
		 */
		report("futimens:src/main.c", neg(futimens(fd, ts)), NULL);
		report("futimens-now:src/main.c", neg(futimens(fd, NULL)), NULL);
		report("fchmod:src/main.c", neg(fchmod(fd, 0666)), NULL);
		report("fchown:src/main.c", neg(fchown(fd, getuid(), getgid())), NULL);
		report("fsetxattr:src/main.c", neg(fsetxattr(fd, "user.x", "1", 1, 0)), NULL);
		report("fremovexattr:src/main.c", neg(fremovexattr(fd, "user.x")), NULL);
		(void)close(fd);
	}
	report("utimens-now:src/main.c", neg(utimensat(AT_FDCWD, "src/main.c", NULL, 0)), NULL);
	report("truncate:.env", neg(truncate(".env", 0)), NULL);
	report("chmod:src/main.c", neg(chmod("src/main.c", 0777)), NULL);
	report("chmod:.env", neg(chmod(".env", 0777)), NULL);
	/* To our own ids: mapped, so only the level can refuse it. */
	report("chown:src/main.c", neg(chown("src/main.c", getuid(), getgid())), NULL);
	report("utimens:src/main.c", neg(utimensat(AT_FDCWD, "src/main.c", ts, 0)), NULL);
	report("setxattr:src/main.c", neg(setxattr("src/main.c", "user.x", "1", 1, 0)), NULL);
	report("unlink:src/main.c", neg(unlink("src/main.c")), NULL);
	report("unlink:.env", neg(unlink(".env")), NULL);
	report("unlink:output/.env", neg(unlink("output/.env")), NULL);
	report("rmdir:config/secrets", neg(rmdir("config/secrets")), NULL);
	report("rmdir:.aws", neg(rmdir(".aws")), NULL);

	/* Rename and link onto hidden or read-level names. */
	report("prepare:output/victim", write_file("output/victim", "victim\n"), NULL);
	report("rename-onto:output/.env", neg(rename("output/victim", "output/.env")), NULL);
	report("rename-onto:output/.env.new", neg(rename("output/victim", "output/.env.new")), NULL);
	report("rename-onto:.env", neg(rename("output/victim", ".env")), NULL);
	report("rename-onto:src/main.c", neg(rename("output/victim", "src/main.c")), NULL);
	report("rename-onto:output/sub/.env", neg(rename("output/victim", "output/sub/.env")), NULL);
	report("rename-noreplace:output/.env",
	       neg(renameat2(AT_FDCWD, "output/victim", AT_FDCWD, "output/.env", RENAME_NOREPLACE)),
	       NULL);
	report("rename-exchange:output/.env",
	       neg(renameat2(AT_FDCWD, "output/victim", AT_FDCWD, "output/.env", RENAME_EXCHANGE)),
	       NULL);
	report("rename-exchange:src/main.c",
	       neg(renameat2(AT_FDCWD, "output/victim", AT_FDCWD, "src/main.c", RENAME_EXCHANGE)),
	       NULL);
	report("rename-whiteout:output/victim",
	       neg(renameat2(AT_FDCWD, "output/victim", AT_FDCWD, "output/victim2",
			     RENAME_WHITEOUT)), NULL);
	report("rename-away:.env", neg(rename(".env", "output/stolen_env")), NULL);
	report("rename-away:output/.env", neg(rename("output/.env", "output/stolen_outenv")), NULL);
	report("rename-away:src/main.c", neg(rename("src/main.c", "output/stolen_main")), NULL);
	try_read("rename-check:output/.env-still-hidden", "output/.env");
	report("link-onto:output/.env", neg(link("output/victim", "output/.env")), NULL);
	report("link-onto:output/x.key", neg(link("output/victim", "output/x.key")), NULL);
	report("link-onto:src/new.c", neg(link("output/victim", "src/new.c")), NULL);

	/* A directory holding hidden entries cannot move or go away. */
	report("rename-dir:output/sub", neg(rename("output/sub", "output/sub_moved")), NULL);
	try_read("rename-dir-check:sub_moved/.env", "output/sub_moved/.env");
	report("unlink:output/sub/visible.txt", neg(unlink("output/sub/visible.txt")), NULL);
	report("unlink:output/sub/ln_deep", neg(unlink("output/sub/ln_deep")), NULL);
	report("rmdir-hidden:output/sub", neg(rmdir("output/sub")), NULL);
	report("rmdir-hidden:output/only", neg(rmdir("output/only")), NULL);
	report("mkdir:output/emptydir", neg(mkdir("output/emptydir", 0755)), NULL);
	report("rename-dir-onto-hidden-holder:output/only",
	       neg(rename("output/emptydir", "output/only")), NULL);
	list_dir("rmdir-check:getdents-output/only", "output/only", 32768, false);
	try_read("rmdir-check:output/only/id_rsa", "output/only/id_rsa");

	/* Forged overlay markers: a 0:0 device, and overlay xattrs. */
	report("mknod-whiteout:output/wh", neg(mknod("output/wh", S_IFCHR | 0600, makedev(0, 0))),
	       NULL);
	/* Where a whiteout already sits (after a real unlink), too. */
	report("unlink:output/keep.txt", neg(unlink("output/keep.txt")), NULL);
	report("mknod-whiteout:output/keep.txt-replace",
	       neg(mknod("output/keep.txt", S_IFCHR | 0600, makedev(0, 0))), NULL);
	report("mknod-chr:output/null", neg(mknod("output/null", S_IFCHR | 0666, makedev(1, 3))),
	       NULL);
	report("mkdir:output/od", neg(mkdir("output/od", 0755)), NULL);
	report("prepare:output/od/f", write_file("output/od/f", "f\n"), NULL);
	for (i = 0; forged[i]; i++) {
		vname(vector, sizeof(vector), "setxattr-dir", forged[i]);
		report(vector, neg(lsetxattr("output/od", forged[i], "y", 1, 0)), NULL);
		vname(vector, sizeof(vector), "setxattr-file", forged[i]);
		report(vector, neg(lsetxattr("output/od/f", forged[i], "y", 1, 0)), NULL);
		vname(vector, sizeof(vector), "setxattr-root", forged[i]);
		report(vector, neg(lsetxattr(".", forged[i], "y", 1, 0)), NULL);
	}
	n = llistxattr("output/od", buf, sizeof(buf));
	for (i = 0; n > 0 && i < (size_t)n; i += strlen(buf + i) + 1)
		if (strstr(buf + i, "overlay.") || strstr(buf + i, "fencefs."))
			break;
	verdict("listxattr-check:output/od", n > 0 && i < (size_t)n ? "LEAK" : "CLEAN",
		n > 0 && i < (size_t)n ? buf + i : NULL);
	fd = open("output/od/f", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = fgetxattr(fd, "user.fencefs.origin", buf, sizeof(buf));
		report("getxattr:user.fencefs.origin", n < 0 ? -errno : 0, NULL);
		(void)close(fd);
	}
	/* A plain user xattr on a writable file is fine (docs/SPEC.md 1: write allows setxattr). */
	report("setxattr-user:output/od/f", neg(lsetxattr("output/od/f", "user.note", "1", 1, 0)),
	       NULL);
}

/*
 * Symlinks in the delta that point at a host file, by absolute path and by
 * a relative path that climbs out of DELTA/upper/output/ in the daemon's
 * view.  Then every attribute change that does not follow symlinks: the
 * daemon must apply it to the link, never to what it names.
 */
static void symlink_setattr(void)
{
	static const char *const links[] = { "output/vict_abs", "output/vict_rel", NULL };
	struct timespec ts[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	char rel[PATH_MAX], vector[128];
	size_t i;

	/* DELTA/upper/output/vict_rel -> ../../../<victim relative to DELTA/..> */
	snprintf(rel, sizeof(rel), "../../..%s", host_victim + strlen(host_root));
	report("symlink-create:victim-abs", neg(symlink(host_victim, links[0])), NULL);
	report("symlink-create:victim-rel", neg(symlink(rel, links[1])), NULL);
	for (i = 0; links[i]; i++) {
		snprintf(vector, sizeof(vector), "lutimens:%s", links[i]);
		report(vector, neg(utimensat(AT_FDCWD, links[i], ts, AT_SYMLINK_NOFOLLOW)), NULL);
		snprintf(vector, sizeof(vector), "lchown:%s", links[i]);
		report(vector, neg(lchown(links[i], getuid(), getgid())), NULL);
		snprintf(vector, sizeof(vector), "fchmodat2-nofollow:%s", links[i]);
		report(vector, neg(syscall(452 /* fchmodat2 */, AT_FDCWD, links[i], 0777,
					   AT_SYMLINK_NOFOLLOW)), NULL);
		snprintf(vector, sizeof(vector), "lsetxattr:%s", links[i]);
		report(vector, neg(lsetxattr(links[i], "user.pwned", "1", 1, 0)), NULL);
		snprintf(vector, sizeof(vector), "lremovexattr:%s", links[i]);
		report(vector, neg(lremovexattr(links[i], "user.keep")), NULL);
		snprintf(vector, sizeof(vector), "truncate-follow:%s", links[i]);
		report(vector, neg(truncate(links[i], 0)), NULL);
		snprintf(vector, sizeof(vector), "open-follow:%s", links[i]);
		report(vector, neg(open(links[i], O_WRONLY | O_CLOEXEC)), NULL);
	}
	/* A FIFO in the delta: the host's review tools must not hang on it. */
	report("mkfifo:output/fifo", neg(mkfifo("output/fifo", 0644)), NULL);
}

/* A pass-through directory lists exactly what is re-included in it. */
static void vault_listing(void)
{
	char detail[512] = "";
	struct dirent *e;
	DIR *d = opendir("vault");

	if (!d) {
		report("pass:getdents-vault", -errno, NULL);
		return;
	}
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    strlen(detail) + strlen(e->d_name) < sizeof(detail) - 2)
			snprintf(detail + strlen(detail), sizeof(detail) - strlen(detail), "%s ",
				 e->d_name);
	(void)closedir(d);
	verdict("pass:getdents-vault", strcmp(detail, "public.key ") ? "LEAK" : "CLEAN", detail);
}

/*
 * The view level and a pass-through directory, under the policy escape.sh
 * gives (view = docs/, none = vault/, read = /vault/public.key, write =
 * /output/): a view file's contents are as secret as a hidden file's, and
 * vault/ lists only what is re-included.
 */
static void group_levels(void)
{
	static const char *const view = "docs/manual.txt";
	char path[64], buf[256];
	struct stat st;
	ssize_t n;
	int fd, pfd;

	report("view:stat", neg(stat(view, &st)), NULL);
	snprintf(buf, sizeof(buf), "mode=%04o", (unsigned)(st.st_mode & 07777));
	verdict("view:mode-bits", (st.st_mode & 0777) ? "LEAK" : "CLEAN", buf);
	try_read("view:open-read", view);
	try_read_at("view:open-noatime", AT_FDCWD, view, O_NOATIME);
	try_read_at("view:open-direct", AT_FDCWD, view, O_DIRECT);
	try_create("view:open-write", view, O_WRONLY);
	pfd = open(view, O_PATH | O_CLOEXEC);
	report("view:open-path", pfd < 0 ? -errno : 0, NULL);
	if (pfd >= 0) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", pfd);
		try_read("view:reopen-proc-fd", path);
		report("view:linkat-proc-fd-into-output",
		       neg(linkat(AT_FDCWD, path, AT_FDCWD, "output/view_link", AT_SYMLINK_FOLLOW)),
		       NULL);
		report("view:linkat-empty-path-into-output",
		       neg(linkat(pfd, "", AT_FDCWD, "output/view_link2", AT_EMPTY_PATH)), NULL);
		/* Attribute changes through the O_PATH descriptor itself. */
		report("view:utimensat-empty-path", neg(utimensat(pfd, "", NULL, AT_EMPTY_PATH)),
		       NULL);
		report("view:fchownat-empty-path",
		       neg(fchownat(pfd, "", getuid(), getgid(), AT_EMPTY_PATH)), NULL);
		report("view:chmod-proc-fd", neg(chmod(path, 0644)), NULL);
		(void)close(pfd);
	}
	report("view:link-into-output", neg(link(view, "output/view_link3")), NULL);
	report("view:exec", neg(access("docs/run.sh", X_OK)), NULL);
	report("view:chmod", neg(chmod(view, 0644)), NULL);
	report("view:truncate", neg(truncate(view, 0)), NULL);
	report("view:unlink", neg(unlink(view)), NULL);
	report("view:rename-away", neg(rename(view, "output/manual.txt")), NULL);
	n = lgetxattr(view, "user.test", buf, sizeof(buf));
	report("view:getxattr", n < 0 ? -errno : 0, NULL);
	fd = open("output/from_view", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	pfd = open(view, O_RDONLY | O_CLOEXEC);
	report("view:copy_file_range", pfd < 0 ? -errno :
	       neg(copy_file_range(pfd, NULL, fd, NULL, 4096, 0)), NULL);
	if (pfd >= 0)
		(void)close(pfd);
	if (fd >= 0)
		(void)close(fd);

	vault_listing();
	try_read("pass:read-public", "vault/public.key");
	try_read("pass:read-private", "vault/private.key");
	try_read("pass:read-sub", "vault/sub/deep.txt");
	try_read("pass:dotdot-private", "vault/../vault/private.key");
	report("pass:stat-private", neg(stat("vault/private.key", &st)), NULL);
	report("pass:stat-sub", neg(stat("vault/sub", &st)), NULL);
	try_create("pass:create-in-vault", "vault/new.txt", O_WRONLY | O_CREAT | O_EXCL);
	try_create("pass:create-private", "vault/private.key", O_WRONLY | O_CREAT | O_EXCL);
	report("pass:rmdir-vault", neg(rmdir("vault")), NULL);
	report("pass:rename-vault", neg(rename("vault", "output/vault")), NULL);
	report("pass:rename-public", neg(rename("vault/public.key", "output/public.key")), NULL);
	report("pass:symlink-private", neg(symlink("../vault/private.key", "output/ln_private")),
	       NULL);
	try_read("pass:symlink-private-open", "output/ln_private");
}

/*
 * The host swaps source directories for symlinks to a host directory while
 * the sandbox runs (a checkout, or another user with write access to the
 * source): early/ was looked up before the swap, late/ only after.  The
 * daemon must show the symlinks as symlinks (resolved inside the sandbox,
 * where the host path does not exist), never follow them itself.  The
 * script writes /ctl/swapped once it has swapped.
 */
static void group_swap(void)
{
	struct stat st;
	int i;

	report("swap:early-before", neg(stat("early/file.txt", &st)), NULL);
	printf("swap:ready OK\n");
	fflush(stdout);
	for (i = 0; i < 200 && access("/ctl/swapped", F_OK) < 0; i++)
		usleep(50000);
	report("swap:signal", neg(access("/ctl/swapped", F_OK)), NULL);
	try_read("swap:early-read", "early/secret.txt");
	try_read("swap:late-read", "late/secret.txt");
	try_read("swap:early-old-file", "early/file.txt");
	list_dir("swap:early-list", "early", 32768, false);
	list_dir("swap:late-list", "late", 32768, false);
	report("swap:late-lstat", neg(lstat("late", &st)), S_ISLNK(st.st_mode) ? "symlink" : NULL);
}

/*
 * Special files that sit in the source (escape.sh makes them): a unix
 * socket a host service listens on (a docker.sock in a repository), and a
 * character device node (a tarball unpacked as root).  Through the mount
 * neither may reach the host's object: connect must fail, and the device
 * must not open (the mount is nodev).
 */
static void special_files(void)
{
	struct sockaddr_un sun;
	char buf[64];
	ssize_t n;
	int fd;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "run/host.sock");
	report("source-socket:connect", fd < 0 ? -errno : neg(connect(fd, (void *)&sun,
								     sizeof(sun))), NULL);
	if (fd >= 0)
		(void)close(fd);
	fd = open("run/zero-node", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		report("source-device:open", -errno, NULL);
	} else {
		n = read(fd, buf, sizeof(buf));
		report("source-device:open", 0, n == sizeof(buf) ? "(read zeros: not nodev)" : NULL);
		(void)close(fd);
	}
}

/*
 * Paths longer than PATH_MAX inside the mount, built with relative calls:
 * the daemon (root, in C) must neither overflow a buffer nor decide a level
 * on a truncated path (a hidden name created at that depth would mean it
 * did), and must still answer afterwards.
 */
static void deep_paths(void)
{
	char name[201], detail[64];
	int base = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC), depth, fd, r = 0;

	memset(name, 'd', 200);
	name[200] = '\0';
	if (base < 0 || chdir("output") < 0) {
		report("deep:enter-output", -errno, NULL);
		return;
	}
	for (depth = 0; depth < 30; depth++) {
		if (mkdir(name, 0755) < 0 && errno != EEXIST) {
			r = -errno;
			break;
		}
		if (chdir(name) < 0) {
			r = -errno;
			break;
		}
	}
	snprintf(detail, sizeof(detail), "depth=%d", depth);
	report("deep:mkdir-30x200", r, detail);
	fd = open("f", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	report("deep:create", fd < 0 ? -errno : 0, NULL);
	if (fd >= 0) {
		(void)!write(fd, "deep\n", 5);
		(void)close(fd);
	}
	try_read("deep:read", "f");
	report("deep:create-.env", neg(open(".env", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)),
	       NULL);
	report("deep:create-x.pem", neg(open("x.pem", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
					     0644)), NULL);
	report("deep:mkdir-secrets", neg(mkdir("secrets", 0755)), NULL);
	report("deep:rename-to-.env", neg(rename("f", ".env")), NULL);
	report("deep:link-to-id_rsa", neg(link("f", "id_rsa")), NULL);
	list_dir("deep:getdents", ".", 32768, false);
	if (fchdir(base) < 0)
		exit(1);
	(void)close(base);
	try_read("deep:mount-still-answers", "README.md");
}

int main(int argc, char **argv)
{
	int i, done = 0;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--host-root") && i + 1 < argc) {
			host_root = argv[++i];
		} else if (!strcmp(argv[i], "--host-src") && i + 1 < argc) {
			host_src = argv[++i];
		} else if (!strcmp(argv[i], "--host-delta") && i + 1 < argc) {
			host_delta = argv[++i];
		} else if (!strcmp(argv[i], "--host-file") && i + 1 < argc) {
			host_file = argv[++i];
		} else if (!strcmp(argv[i], "--host-victim") && i + 1 < argc) {
			host_victim = argv[++i];
		} else if (!strcmp(argv[i], "paths") || !strcmp(argv[i], "all")) {
			group_paths();
			done++;
			if (strcmp(argv[i], "all"))
				continue;
			group_names();
			group_meta();
			group_writes();
			symlink_setattr();
			deep_paths();
			special_files();
		} else if (!strcmp(argv[i], "swap")) {
			group_swap();
			done++;
		} else if (!strcmp(argv[i], "levels")) {
			group_levels();
			done++;
		} else if (!strcmp(argv[i], "names")) {
			group_names();
			done++;
		} else if (!strcmp(argv[i], "meta")) {
			group_meta();
			done++;
		} else if (!strcmp(argv[i], "writes")) {
			group_writes();
			symlink_setattr();
			done++;
		} else {
			fprintf(stderr, "usage: escape_fs [--host-root DIR] [--host-src DIR] "
					"[--host-delta DIR] [--host-file F] [--host-victim F] "
					"paths|names|meta|writes|all|levels|swap...\n");
			return 2;
		}
	}
	if (!done) {
		fprintf(stderr, "escape_fs: no group given\n");
		return 2;
	}
	printf("escape_fs:done OK\n");
	return 0;
}
