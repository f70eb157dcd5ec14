// SPDX-License-Identifier: Apache-2.0
/*
 * smallfiles.c - the small-file workload of bench/run.sh: create, stat,
 * open+read and unlink COUNT files of SIZE bytes in one fresh directory,
 * timing each phase on its own.
 *
 *   smallfiles DIR COUNT SIZE
 *
 * DIR must not exist; it is created, filled, emptied and removed.  One line
 * per phase on stdout: "PHASE SECONDS FILES_PER_SECOND".  Every result is
 * checked (sizes from stat, bytes read back), so a filesystem that loses or
 * truncates a file makes the run fail instead of looking fast.
 *
 * The phases are separate loops, not one loop per file, because that is how
 * the costs differ: create and unlink are what a copy-on-write layer has to
 * do in the daemon, stat and open are what the kernel can answer from its
 * caches when the daemon lets it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"

#define SF_MAX_SIZE (64 * 1024)

struct sf_run {
	int dfd;
	unsigned long count;
	size_t size;
	char *buf; /* SIZE bytes of content, then SIZE bytes to read into */
};

static double sf_now(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail with a valid pointer (clock_gettime(2)). */
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sf_name(char *name, size_t len, unsigned long i)
{
	(void)snprintf(name, len, "f%06lu.txt", i);
}

static int sf_write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int sf_create(struct sf_run *r, unsigned long i)
{
	char name[32];
	_cleanup_close_ int fd = -1;
	int err;

	sf_name(name, sizeof(name), i);
	fd = openat(r->dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	err = sf_write_all(fd, r->buf, r->size);
	if (err)
		return err;
	/* close(2) reports delayed write errors (NFS, FUSE flush): check it. */
	if (close(TAKE_FD(fd)) < 0)
		return -errno;
	return 0;
}

static int sf_stat(struct sf_run *r, unsigned long i)
{
	char name[32];
	struct stat st;

	sf_name(name, sizeof(name), i);
	if (fstatat(r->dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size != r->size)
		return -EIO;
	return 0;
}

static int sf_read(struct sf_run *r, unsigned long i)
{
	char name[32];
	_cleanup_close_ int fd = -1;
	char *dst = r->buf + r->size;
	size_t got = 0;

	sf_name(name, sizeof(name), i);
	fd = openat(r->dfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		/* One spare byte so that a file longer than SIZE is noticed. */
		ssize_t n = read(fd, dst + got, r->size + 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
		if (got > r->size)
			return -EIO;
	}
	if (got != r->size || memcmp(dst, r->buf, r->size) != 0)
		return -EIO;
	return 0;
}

static int sf_unlink(struct sf_run *r, unsigned long i)
{
	char name[32];

	sf_name(name, sizeof(name), i);
	if (unlinkat(r->dfd, name, 0) < 0)
		return -errno;
	return 0;
}

struct sf_phase {
	const char *name;
	int (*fn)(struct sf_run *r, unsigned long i);
};

static const struct sf_phase sf_phases[] = {
	{ "create", sf_create },
	{ "stat", sf_stat },
	{ "read", sf_read },
	{ "unlink", sf_unlink },
};

static int sf_parse_ulong(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v == 0 || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	struct sf_run r = { .dfd = -1 };
	unsigned long size;
	_cleanup_free_ char *buf = NULL;
	_cleanup_close_ int dfd = -1;
	size_t p;

	if (argc != 4 || sf_parse_ulong(argv[2], 10000000, &r.count) ||
	    sf_parse_ulong(argv[3], SF_MAX_SIZE, &size)) {
		fprintf(stderr, "usage: smallfiles DIR COUNT SIZE (1 <= SIZE <= %d)\n", SF_MAX_SIZE);
		return 2;
	}
	r.size = size;
	buf = malloc(2 * r.size + 1);
	if (!buf) {
		fprintf(stderr, "smallfiles: out of memory\n");
		return 1;
	}
	for (size_t i = 0; i < r.size; i++)
		buf[i] = (char)('a' + i % 26);
	r.buf = buf;

	if (mkdir(argv[1], 0755) < 0) {
		fprintf(stderr, "smallfiles: cannot create '%s': %s\n", argv[1], strerror(errno));
		return 1;
	}
	dfd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		fprintf(stderr, "smallfiles: cannot open '%s': %s\n", argv[1], strerror(errno));
		return 1;
	}
	r.dfd = dfd;

	for (p = 0; p < ARRAY_SIZE(sf_phases); p++) {
		double t0 = sf_now(), dt;

		for (unsigned long i = 0; i < r.count; i++) {
			int err = sf_phases[p].fn(&r, i);

			if (err) {
				/* errno before the path: the harness shows the line's start. */
				fprintf(stderr, "smallfiles: %s of file %lu failed: %s (in '%s')\n",
					sf_phases[p].name, i, strerror(-err), argv[1]);
				return 1;
			}
		}
		dt = sf_now() - t0;
		printf("%s %.6f %.1f\n", sf_phases[p].name, dt, (double)r.count / dt);
	}
	if (rmdir(argv[1]) < 0) {
		fprintf(stderr, "smallfiles: cannot remove '%s': %s\n", argv[1], strerror(errno));
		return 1;
	}
	return 0;
}
