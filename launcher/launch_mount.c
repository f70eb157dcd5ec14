// SPDX-License-Identifier: Apache-2.0
/*
 * launch_mount.c - the sandbox's root filesystem (docs/SPEC.md 7 "Inside the
 * sandbox"), built by the init in its own mount namespace:
 *
 *   /            tmpfs, read-only once built
 *   /usr /bin /sbin /lib*   read-only binds (symlinks stay symlinks on
 *                merged-usr systems)
 *   /etc         tmpfs entries: generated passwd and group, read-only
 *                binds of what programs need to run
 *   /workspace   the fencefs FUSE mount (the daemon runs outside)
 *   /tmp         private tmpfs, size-limited
 *   /proc        a new procfs of the sandbox's pid namespace
 *   /dev         tmpfs with binds of null zero full random urandom tty, a
 *                new devpts instance, shm
 *
 * The root is assembled in a tmpfs mounted over /tmp of the (private) mount
 * namespace, with relative paths from there as the working directory, then
 * becomes / with pivot_root(".", ".") and a lazy unmount of the old root
 * (pivot_root(2), NOTES).  Read-only is applied with mount_setattr(2)
 * (Linux 5.12), which only adds flags: binds of host mounts inherit
 * "locked" flags that a classic MS_REMOUNT would have to repeat exactly.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "util.h"
#include "launch_sandbox.h"

/* Where the new root is assembled before pivot_root. */
#define STAGE "/tmp"

/* O_PATH fds of the --bind-ro sources, opened before the id switch. */
static int *user_bind_fd;

/*
 * Inodes for a tmpfs of SIZE bytes.  tmpfs bounds bytes and inodes
 * separately and an empty file costs no data block, so without this a
 * 4 MiB /tmp held 300,000 empty files (~300 MB of kernel memory, outside
 * --tmp-size).  One inode per 4 KiB of size, at least 1024.
 */
static unsigned long long tmpfs_inodes(unsigned long long size)
{
	unsigned long long n = size / 4096;

	return n < 1024 ? 1024 : n;
}

static int do_mount(const char *src, const char *dst, const char *type, unsigned long flags,
		    const char *data, char *err, size_t errlen)
{
	if (mount(src, dst, type, flags, data) < 0) {
		int e = errno;

		return fence_errf(err, errlen, -e, "cannot mount %s on '/%s': %s",
			    type ? type : src, dst, strerror(e));
	}
	return 0;
}

static int set_attr(const char *dst, unsigned long long attr, bool recursive, char *err,
		    size_t errlen)
{
	struct mount_attr a = { .attr_set = attr };

	if (mount_setattr(AT_FDCWD, dst, recursive ? AT_RECURSIVE : 0, &a, sizeof(a)) < 0) {
		int e = errno;

		if (e == ENOSYS)
			return fence_errf(err, errlen, -e,
				    "mount_setattr(2) is missing: fence-run needs Linux 5.12 or newer");
		return fence_errf(err, errlen, -e, "cannot make '/%s' read-only: %s", dst, strerror(e));
	}
	return 0;
}

/* Bind SRC (a host path or /proc/self/fd/N) read-only, nosuid, nodev. */
static int bind_ro(const char *src, const char *dst, char *err, size_t errlen)
{
	int r = do_mount(src, dst, NULL, MS_BIND | MS_REC, NULL, err, errlen);

	if (r == 0)
		r = set_attr(dst, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, true,
			     err, errlen);
	return r;
}

/* Creates the mount point DST for a source of mode MODE. */
static int make_target(const char *dst, mode_t mode, char *err, size_t errlen)
{
	if (S_ISDIR(mode)) {
		if (mkdir(dst, 0755) < 0 && errno != EEXIST)
			return fence_errf(err, errlen, -errno, "cannot create '/%s': %s", dst,
				    strerror(errno));
	} else {
		int fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);

		if (fd < 0)
			return fence_errf(err, errlen, -errno, "cannot create '/%s': %s", dst,
				    strerror(errno));
		(void)close(fd);
	}
	return 0;
}

static int write_file(const char *dst, const char *text, char *err, size_t errlen)
{
	_cleanup_close_ int fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	size_t len = strlen(text);

	if (fd < 0 || write(fd, text, len) != (ssize_t)len)
		return fence_errf(err, errlen, -EIO, "cannot write '/%s': %s", dst, strerror(errno));
	return 0;
}

int launch_root_open_binds(const struct launch_sandbox *sb, char *err, size_t errlen)
{
	size_t i, n = sb->cfg->nbinds;

	if (!n)
		return 0;
	user_bind_fd = calloc(n, sizeof(int));
	if (!user_bind_fd)
		return fence_errf(err, errlen, -ENOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		user_bind_fd[i] = open(sb->cfg->binds[i].host, O_PATH | O_CLOEXEC);
		if (user_bind_fd[i] < 0)
			return fence_errf(err, errlen, -errno, "--bind-ro '%s': %s",
				    sb->cfg->binds[i].host, strerror(errno));
	}
	return 0;
}

int launch_root_prepare(const struct launch_sandbox *sb, char *err, size_t errlen)
{
	int r;

	/* Nothing we mount may propagate back to the host (and the host's
	 * later mounts must not appear here). */
	r = do_mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL, err, errlen);
	if (r)
		return r;
	r = do_mount("fence-root", STAGE, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=8m", err,
		     errlen);
	if (r)
		return r;
	if (chdir(STAGE) < 0)
		return fence_errf(err, errlen, -errno, "cannot enter the new root: %s", strerror(errno));
	return 0;
}

int launch_root_workspace(const struct launch_sandbox *sb, int fuse_fd, char *err, size_t errlen)
{
	char opts[256];

	if (mkdir("workspace", 0755) < 0)
		return fence_errf(err, errlen, -errno, "cannot create /workspace: %s", strerror(errno));
	/* default_permissions: the kernel checks the mode bits the daemon
	 * reports (docs/SPEC.md 1 maps levels to modes); allow_other: the init, which
	 * is the same uid, and nothing outside this user namespace, may use
	 * it (a userns FUSE mount never serves processes outside its ns). */
	snprintf(opts, sizeof(opts),
		 "fd=%d,rootmode=40000,user_id=%u,group_id=%u,default_permissions,allow_other",
		 fuse_fd, (unsigned)sb->uid, (unsigned)sb->gid);
	return do_mount("fencefs", "workspace", "fuse.fencefs", MS_NOSUID | MS_NODEV, opts, err,
			errlen);
}

static int bind_system_dirs(char *err, size_t errlen)
{
	static const char *const dirs[] = { "usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32" };
	size_t i;
	int r;

	for (i = 0; i < ARRAY_SIZE(dirs); i++) {
		char host[64], link[PATH_MAX];
		struct stat st;
		ssize_t n;

		snprintf(host, sizeof(host), "/%s", dirs[i]);
		if (lstat(host, &st) < 0)
			continue;
		if (S_ISLNK(st.st_mode)) {
			n = readlink(host, link, sizeof(link) - 1);
			if (n < 0)
				return fence_errf(err, errlen, -errno, "cannot read link '%s': %s", host,
					    strerror(errno));
			link[n] = '\0';
			if (symlink(link, dirs[i]) < 0)
				return fence_errf(err, errlen, -errno, "cannot create '/%s': %s", dirs[i],
					    strerror(errno));
			continue;
		}
		if (!S_ISDIR(st.st_mode))
			continue;
		r = make_target(dirs[i], S_IFDIR, err, errlen);
		if (!r)
			r = bind_ro(host, dirs[i], err, errlen);
		if (r)
			return r;
	}
	return 0;
}

/*
 * /etc: only what programs need to run (docs/SPEC.md 7).  A symlink into /usr
 * (localtime, os-release on most systems) is recreated as a symlink, since
 * /usr is there; any other symlink (resolv.conf -> /run/...) is followed
 * and its target bound, because /run is not.
 */
static int populate_etc(const struct launch_sandbox *sb, char *err, size_t errlen)
{
	static const char *const entries[] = {
		"hosts", "resolv.conf", "nsswitch.conf", "host.conf", "gai.conf", "ld.so.cache",
		"ld.so.conf", "ld.so.conf.d", "ssl", "ca-certificates", "pki", "alternatives",
		"localtime", "timezone", "os-release", "services", "protocols", "mime.types",
	};
	size_t i;
	int r;

	if (mkdir("etc", 0755) < 0)
		return fence_errf(err, errlen, -errno, "cannot create /etc: %s", strerror(errno));
	r = write_file("etc/passwd", sb->passwd, err, errlen);
	if (!r)
		r = write_file("etc/group", sb->group, err, errlen);
	if (r)
		return r;
	for (i = 0; i < ARRAY_SIZE(entries); i++) {
		char host[PATH_MAX], dst[PATH_MAX], link[PATH_MAX];
		struct stat st;

		snprintf(host, sizeof(host), "/etc/%s", entries[i]);
		snprintf(dst, sizeof(dst), "etc/%s", entries[i]);
		if (lstat(host, &st) < 0)
			continue;
		if (S_ISLNK(st.st_mode)) {
			_cleanup_free_ char *real = realpath(host, NULL);
			ssize_t n;

			if (!real)
				continue; /* dangling: leave it out */
			if (!strncmp(real, "/usr/", 5)) {
				n = readlink(host, link, sizeof(link) - 1);
				if (n < 0)
					continue;
				link[n] = '\0';
				if (symlink(link, dst) < 0)
					return fence_errf(err, errlen, -errno, "cannot create '/%s': %s",
						    dst, strerror(errno));
				continue;
			}
			if (stat(host, &st) < 0)
				continue;
		}
		if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
			continue;
		r = make_target(dst, st.st_mode, err, errlen);
		if (!r)
			r = bind_ro(host, dst, err, errlen);
		if (r)
			return r;
	}
	return 0;
}

static int populate_dev(const struct launch_sandbox *sb, char *err, size_t errlen)
{
	static const char *const nodes[] = { "null", "zero", "full", "random", "urandom", "tty" };
	static const char *const links[][2] = {
		{ "ptmx", "pts/ptmx" },         { "fd", "/proc/self/fd" },
		{ "stdin", "/proc/self/fd/0" }, { "stdout", "/proc/self/fd/1" },
		{ "stderr", "/proc/self/fd/2" },
	};
	char opts[64];
	size_t i;
	int r;

	if (mkdir("dev", 0755) < 0)
		return fence_errf(err, errlen, -errno, "cannot create /dev: %s", strerror(errno));
	r = do_mount("fence-dev", "dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k", err,
		     errlen);
	if (r)
		return r;
	for (i = 0; i < ARRAY_SIZE(nodes); i++) {
		char host[32], dst[32];

		snprintf(host, sizeof(host), "/dev/%s", nodes[i]);
		snprintf(dst, sizeof(dst), "dev/%s", nodes[i]);
		r = make_target(dst, S_IFREG, err, errlen);
		/* Plain binds: a read-only mount would still allow writes to
		 * the device, but nodev would make it useless. */
		if (!r)
			r = do_mount(host, dst, NULL, MS_BIND, NULL, err, errlen);
		if (r)
			return r;
	}
	if (mkdir("dev/pts", 0755) < 0 || mkdir("dev/shm", 01777) < 0)
		return fence_errf(err, errlen, -errno, "cannot create /dev/pts: %s", strerror(errno));
	/* A private devpts instance: the host's ptys are not reachable. */
	r = do_mount("devpts", "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
		     "newinstance,ptmxmode=0666,mode=620", err, errlen);
	/* Bounded like /tmp: tmpfs's default is half of the host's RAM. */
	snprintf(opts, sizeof(opts), "mode=1777,size=%llu,nr_inodes=%llu",
		 (unsigned long long)sb->cfg->tmp_size, tmpfs_inodes(sb->cfg->tmp_size));
	if (!r)
		r = do_mount("fence-shm", "dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, opts, err,
			     errlen);
	if (r)
		return r;
	for (i = 0; i < ARRAY_SIZE(links); i++) {
		char dst[32];

		snprintf(dst, sizeof(dst), "dev/%s", links[i][0]);
		if (symlink(links[i][1], dst) < 0)
			return fence_errf(err, errlen, -errno, "cannot create '/%s': %s", dst,
				    strerror(errno));
	}
	return 0;
}

/* mkdir -p for the parents of REL (relative to the new root). */
static int make_parents(char *rel, char *err, size_t errlen)
{
	char *p;

	for (p = strchr(rel, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (mkdir(rel, 0755) < 0 && errno != EEXIST) {
			int e = errno;

			*p = '/';
			return fence_errf(err, errlen, -e, "cannot create '/%s': %s", rel, strerror(e));
		}
		*p = '/';
	}
	return 0;
}

static int bind_user_dirs(const struct launch_sandbox *sb, char *err, size_t errlen)
{
	size_t i;
	int r;

	for (i = 0; i < sb->cfg->nbinds; i++) {
		char rel[PATH_MAX], src[64];
		const char *p = sb->cfg->binds[i].path;
		struct stat st;

		while (*p == '/')
			p++;
		snprintf(rel, sizeof(rel), "%s", p);
		if (fstat(user_bind_fd[i], &st) < 0)
			return fence_errf(err, errlen, -errno, "--bind-ro '%s': %s",
				    sb->cfg->binds[i].host, strerror(errno));
		r = make_parents(rel, err, errlen);
		if (!r)
			r = make_target(rel, st.st_mode, err, errlen);
		if (r)
			return r;
		/* The fd was opened before the id switch and before STAGE hid
		 * the host's /tmp; /proc/self/fd/N reaches it (bubblewrap's
		 * --bind-fd does the same). */
		snprintf(src, sizeof(src), "/proc/self/fd/%d", user_bind_fd[i]);
		r = bind_ro(src, rel, err, errlen);
		if (r)
			return r;
		(void)close(user_bind_fd[i]);
		user_bind_fd[i] = -1;
	}
	return 0;
}

int launch_root_populate(const struct launch_sandbox *sb, char *err, size_t errlen)
{
	char opts[64];
	int r;

	r = bind_system_dirs(err, errlen);
	if (!r)
		r = populate_etc(sb, err, errlen);
	if (!r)
		r = populate_dev(sb, err, errlen);
	if (r)
		return r;
	if (mkdir("tmp", 01777) < 0 || mkdir("proc", 0555) < 0)
		return fence_errf(err, errlen, -errno, "cannot create /tmp or /proc: %s",
			    strerror(errno));
	snprintf(opts, sizeof(opts), "mode=1777,size=%llu,nr_inodes=%llu",
		 (unsigned long long)sb->cfg->tmp_size, tmpfs_inodes(sb->cfg->tmp_size));
	r = do_mount("fence-tmp", "tmp", "tmpfs", MS_NOSUID | MS_NODEV, opts, err, errlen);
	/* A procfs of our own pid namespace: the init is its pid 1. */
	if (!r)
		r = do_mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, err,
			     errlen);
	if (!r)
		r = bind_user_dirs(sb, err, errlen);
	return r;
}

int launch_root_pivot(char *err, size_t errlen)
{
	/* pivot_root(".", ".") stacks the old root on top of the new one;
	 * unmounting "." then detaches it (pivot_root(2), NOTES). */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return fence_errf(err, errlen, -errno, "cannot pivot_root: %s", strerror(errno));
	if (umount2(".", MNT_DETACH) < 0)
		return fence_errf(err, errlen, -errno, "cannot detach the old root: %s", strerror(errno));
	if (chdir("/") < 0)
		return fence_errf(err, errlen, -errno, "cannot enter the new root: %s", strerror(errno));
	return set_attr("/", MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, false, err,
			errlen);
}

int launch_loopback_up(char *err, size_t errlen)
{
	_cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = { 0 };

	if (fd < 0)
		return fence_errf(err, errlen, -errno, "cannot create a socket: %s", strerror(errno));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		return fence_errf(err, errlen, -errno, "cannot read the flags of lo: %s", strerror(errno));
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		return fence_errf(err, errlen, -errno, "cannot bring lo up: %s", strerror(errno));
	return 0;
}
