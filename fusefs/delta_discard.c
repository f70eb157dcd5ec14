// SPDX-License-Identifier: Apache-2.0
/*
 * delta_discard.c - `fencefs discard DELTA`: remove a delta directory.
 *
 * rm -rf on a directory a sandbox wrote into is how people delete files
 * they never meant to, so this refuses anything that is not a fencefs
 * delta (no valid fencefs-delta.json), never follows a symlink (the walk
 * uses dirfds, openat(O_NOFOLLOW) and unlinkat), and does not cross into
 * anything mounted inside the delta: not another filesystem, and not a
 * bind mount of the same one either, which st_dev cannot tell apart, so
 * each directory's mount id (statx STATX_MNT_ID, Linux 5.8) is compared
 * with the delta's.  The metadata file goes
 * last, so an interrupted discard can be run again.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "commands.h"
#include "delta_format.h"
#include "delta_read.h"
#include "dirnames.h"

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

static void discard_usage(FILE *f)
{
	fprintf(f, "usage: fencefs discard DELTA\n"
		   "Removes a fencefs delta directory and everything in it.\n"
		   "See fencefs-commit(1).\n");
}

/* The mount id of open file FD, or 0 when the kernel cannot say. */
static uint64_t mount_id(int fd)
{
	struct statx stx;

	if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &stx) < 0 ||
	    !(stx.stx_mask & STATX_MNT_ID))
		return 0;
	return stx.stx_mnt_id;
}

/*
 * Removes every entry of directory FD (on device DEV, mount MNT); PATH is
 * for messages.
 */
static int remove_entries(int fd, dev_t dev, uint64_t mnt, const char *path, int depth,
			  bool keep_meta)
{
	_cleanup_closedir_ DIR *d = fence_opendirat(fd, ".", 0);
	struct dirent *de;
	int r = 0;

	if (!d)
		return -errno;
	for (;;) {
		struct stat st;

		errno = 0;
		de = readdir(d);
		if (!de)
			return errno ? -errno : 0;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (keep_meta && !strcmp(de->d_name, DELTA_META_NAME))
			continue;
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		if (S_ISDIR(st.st_mode)) {
			_cleanup_close_ int sub = -1;

			if (st.st_dev != dev) {
				fprintf(stderr, "fencefs discard: '%s/%s' is another filesystem; "
						"not removed\n", path, de->d_name);
				return -EXDEV;
			}
			if (depth >= DELTA_MAX_DEPTH)
				return -ELOOP;
			sub = openat(fd, de->d_name, DIR_FLAGS);
			/* overlayfs leaves work/work mode 000; an owner may fix that. */
			if (sub < 0 && errno == EACCES &&
			    fchmodat(fd, de->d_name, 0700, AT_SYMLINK_NOFOLLOW) == 0)
				sub = openat(fd, de->d_name, DIR_FLAGS);
			if (sub < 0)
				return -errno;
			/* Checked on the open fd: no window to swap in a mount. */
			if (mount_id(sub) != mnt) {
				fprintf(stderr, "fencefs discard: '%s/%s' is a mount point; "
						"not removed\n", path, de->d_name);
				return -EXDEV;
			}
			r = remove_entries(sub, dev, mnt, path, depth + 1, false);
			if (r)
				return r;
			if (unlinkat(fd, de->d_name, AT_REMOVEDIR) < 0)
				return -errno;
		} else if (unlinkat(fd, de->d_name, 0) < 0) {
			return -errno;
		}
	}
}

int cmd_discard(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	_cleanup_close_ int parentfd = -1, fd = -1;
	_cleanup_free_ char *path = NULL;
	struct delta_meta m;
	struct stat st;
	const char *base;
	size_t plen, len;
	uint64_t mnt;
	pid_t user;
	char err[512];
	int c, r;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		if (c == 'h') {
			discard_usage(stdout);
			return 0;
		}
		fprintf(stderr, "fencefs discard: unknown option '%s'\n", argv[optind - 1]);
		discard_usage(stderr);
		return 2;
	}
	if (argc - optind != 1) {
		discard_usage(stderr);
		return 2;
	}
	path = strdup(argv[optind]);
	if (!path)
		return 2;
	len = strlen(path);
	while (len > 1 && path[len - 1] == '/')
		path[--len] = '\0';
	base = delta_basename(path, &plen);
	if (!base[0] || !strcmp(base, ".") || !strcmp(base, "..")) {
		fprintf(stderr, "fencefs discard: '%s': name the delta directory itself\n",
			argv[optind]);
		return 2;
	}
	if (plen == 0 && path[0] == '/')
		parentfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	else if (plen == 0)
		parentfd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	else {
		path[plen] = '\0';
		parentfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
		path[plen] = '/';
	}
	if (parentfd < 0) {
		fprintf(stderr, "fencefs discard: cannot open the directory of '%s': %s\n",
			argv[optind], strerror(errno));
		return 2;
	}
	fd = openat(parentfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "fencefs discard: cannot open '%s': %s\n", argv[optind],
			errno == ENOTDIR || errno == ELOOP ? "not a directory (a symlink is not "
							     "followed)" : strerror(errno));
		return 2;
	}
	r = delta_meta_read(fd, &m, err, sizeof(err));
	if (r) {
		fprintf(stderr, "fencefs discard: '%s' is not a fencefs delta (%s); not removed\n",
			argv[optind], err);
		return 2;
	}
	delta_meta_free(&m);
	if (delta_in_use(fd, &user) > 0) {
		fprintf(stderr, "fencefs discard: '%s' is in use by process %d (still mounted?); "
				"not removed\n", argv[optind], (int)user);
		return 2;
	}
	if (fstat(fd, &st) < 0) {
		fprintf(stderr, "fencefs discard: cannot stat '%s': %s\n", argv[optind],
			strerror(errno));
		return 2;
	}
	mnt = mount_id(fd);
	if (!mnt) {
		fprintf(stderr, "fencefs discard: cannot tell the mount of '%s'; not removed\n",
			argv[optind]);
		return 2;
	}
	r = remove_entries(fd, st.st_dev, mnt, argv[optind], 0, true);
	if (!r && unlinkat(fd, DELTA_META_NAME, 0) < 0)
		r = -errno;
	if (!r && unlinkat(parentfd, base, AT_REMOVEDIR) < 0)
		r = -errno;
	if (r) {
		fprintf(stderr, "fencefs discard: cannot remove '%s': %s\n", argv[optind],
			strerror(-r));
		return 2;
	}
	return 0;
}
