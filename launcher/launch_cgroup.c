// SPDX-License-Identifier: Apache-2.0
/*
 * launch_cgroup.c - one leaf cgroup per sandbox, v2 or v1 (see the header).
 *
 * Why a leaf even without limits: it gives peak memory and OOM detection,
 * and a default pids limit contains fork bombs (issue 4 item 4).
 */
#include "launch_cgroup.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "util.h"

static const char *const ctl_name[LAUNCH_CG_NCTL] = { "memory", "pids", "cpu" };

/* The cpu controller period fence-run uses for --cpus (sched-bwc.rst). */
#define CPU_PERIOD_US 100000

void launch_cgroup_init(struct launch_cgroup *cg)
{
	int i;

	*cg = (struct launch_cgroup){ 0 };
	for (i = 0; i < LAUNCH_CG_NCTL; i++)
		cg->fd[i] = -1;
}

/* Decodes mountinfo's octal escapes (\040 for a space) in place. */
static void unescape_octal(char *s)
{
	char *o = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
}

/* True when the comma-separated LIST contains WORD. */
static bool list_has(const char *list, const char *word, char sep)
{
	size_t n = strlen(word);
	const char *p = list;

	while (p && *p) {
		size_t len = strcspn(p, sep == ',' ? "," : " \n");

		if (len == n && !strncmp(p, word, n))
			return true;
		p += len;
		while (*p == sep || *p == '\n' || *p == ' ')
			p++;
	}
	return false;
}

/*
 * Finds a mount in MOUNTINFO of FSTYPE ("cgroup2", or "cgroup" with
 * CONTROLLER in its super options).  Fills its mount point and root.
 */
static bool find_mount(const char *mountinfo, const char *fstype, const char *controller,
		       char *mnt, size_t mntlen, char *root, size_t rootlen)
{
	const char *line = mountinfo;

	while (line && *line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char copy[4096];
		char *f[6], *sep, *save = NULL, *type, *src, *opts;
		int n = 0;

		if (len < sizeof(copy)) {
			memcpy(copy, line, len);
			copy[len] = '\0';
			sep = strstr(copy, " - ");
			if (sep) {
				*sep = '\0';
				for (char *t = strtok_r(copy, " ", &save); t && n < 6;
				     t = strtok_r(NULL, " ", &save))
					f[n++] = t;
				save = NULL;
				type = strtok_r(sep + 3, " ", &save);
				src = strtok_r(NULL, " ", &save);
				opts = strtok_r(NULL, " ", &save);
				if (n >= 5 && type && src && opts && !strcmp(type, fstype) &&
				    (!controller || list_has(opts, controller, ','))) {
					unescape_octal(f[3]);
					unescape_octal(f[4]);
					snprintf(mnt, mntlen, "%s", f[4]);
					snprintf(root, rootlen, "%s", f[3]);
					return true;
				}
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	return false;
}

/* Our cgroup path in the hierarchy of CONTROLLER ("" for v2's "0::"). */
static bool find_own_path(const char *proc_cgroup, const char *controller, char *out,
			  size_t outlen)
{
	const char *line = proc_cgroup;

	while (line && *line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char copy[4096];
		char *c1, *c2;

		if (len < sizeof(copy)) {
			memcpy(copy, line, len);
			copy[len] = '\0';
			c1 = strchr(copy, ':');
			c2 = c1 ? strchr(c1 + 1, ':') : NULL;
			if (c2) {
				/* copy: hierarchy id, c1 + 1: controllers */
				*c1 = '\0';
				*c2 = '\0';
				if ((!*controller && !strcmp(copy, "0") && c1[1] == '\0') ||
				    (*controller && list_has(c1 + 1, controller, ','))) {
					snprintf(out, outlen, "%s", c2 + 1);
					return true;
				}
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	return false;
}

/* ROOTPREFIX + MNT + (OWN below MNTROOT); "/" components collapse. */
static char *join_cgroup_dir(const char *rootprefix, const char *mnt, const char *mntroot,
			     const char *own)
{
	size_t rl = strlen(mntroot);
	const char *rel = own;
	char *out;

	/* With a cgroup namespace or a bind of a sub-hierarchy, the mount's
	 * root is a prefix of our path; outside it we fall back to the mount. */
	if (strcmp(mntroot, "/")) {
		if (!strncmp(own, mntroot, rl) && (own[rl] == '\0' || own[rl] == '/'))
			rel = own + rl;
		else
			rel = "";
	}
	while (*rel == '/')
		rel++;
	if (asprintf(&out, "%s%s%s%s", rootprefix, mnt, *rel ? "/" : "", rel) < 0)
		return NULL;
	return out;
}

static int read_small(int dirfd, const char *dir, const char *name, char *buf, size_t len)
{
	_cleanup_close_ int fd = -1;
	ssize_t n;

	if (dirfd >= 0) {
		fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	} else {
		char path[4096];

		snprintf(path, sizeof(path), "%s/%s", dir, name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

static bool subtree_has(const char *dir, const struct launch_limits *lim)
{
	char ctl[1024];

	if (read_small(-1, dir, "cgroup.subtree_control", ctl, sizeof(ctl)) < 0)
		return false;
	return list_has(ctl, "memory", ' ') && list_has(ctl, "pids", ' ') &&
	       (lim->cpus <= 0 || list_has(ctl, "cpu", ' '));
}

static int find_v2(struct launch_cgroup *cg, const struct launch_cgroup_env *env,
		   const struct launch_limits *lim)
{
	char mnt[4096], mntroot[4096], own[4096];
	_cleanup_free_ char *dir = NULL;
	size_t floor;

	if (!find_mount(env->mountinfo, "cgroup2", NULL, mnt, sizeof(mnt), mntroot,
			sizeof(mntroot)) ||
	    !find_own_path(env->proc_cgroup, "", own, sizeof(own)))
		return -ENOENT;
	dir = join_cgroup_dir(env->root, mnt, mntroot, own);
	if (!dir)
		return -ENOMEM;
	floor = strlen(env->root) + strlen(mnt);
	/* Our own cgroup first, then each ancestor up to the mount's root:
	 * a cgroup with controllers in subtree_control holds no processes
	 * (cgroup-v2.rst "no internal process constraint"), so normally it is
	 * an ancestor, e.g. the hierarchy root or a delegated slice. */
	for (;;) {
		char *slash;

		if (subtree_has(dir, lim)) {
			cg->version = 2;
			cg->parent[0] = TAKE_PTR(dir);
			return 0;
		}
		slash = strrchr(dir, '/');
		if (!slash || (size_t)(slash - dir) < floor)
			break;
		*slash = '\0';
	}
	return -ENOENT;
}

static int find_v1(struct launch_cgroup *cg, const struct launch_cgroup_env *env,
		   const struct launch_limits *lim, char *err, size_t errlen)
{
	int i;

	for (i = 0; i < LAUNCH_CG_NCTL; i++) {
		char mnt[4096], mntroot[4096], own[4096];

		if (i == LAUNCH_CG_CPU && lim->cpus <= 0)
			continue;
		if (!find_mount(env->mountinfo, "cgroup", ctl_name[i], mnt, sizeof(mnt), mntroot,
				sizeof(mntroot)))
			return fence_errf(err, errlen, -ENOENT,
				    "no cgroup v2 hierarchy with memory and pids enabled, and no "
				    "cgroup v1 '%s' hierarchy mounted",
				    ctl_name[i]);
		if (!find_own_path(env->proc_cgroup, ctl_name[i], own, sizeof(own)))
			snprintf(own, sizeof(own), "/");
		cg->parent[i] = join_cgroup_dir(env->root, mnt, mntroot, own);
		if (!cg->parent[i])
			return -ENOMEM;
	}
	cg->version = 1;
	return 0;
}

int launch_cgroup_find(struct launch_cgroup *cg, const struct launch_cgroup_env *env,
		       const struct launch_limits *lim, char *err, size_t errlen)
{
	int r = find_v2(cg, env, lim);

	if (r != -ENOENT)
		return r;
	return find_v1(cg, env, lim, err, errlen);
}

int launch_cgroup_mkdir(struct launch_cgroup *cg, const char *name, char *err, size_t errlen)
{
	int i;

	for (i = 0; i < LAUNCH_CG_NCTL; i++) {
		if (!cg->parent[i])
			continue;
		if (asprintf(&cg->leaf[i], "%s/%s", cg->parent[i], name) < 0) {
			cg->leaf[i] = NULL;
			return -ENOMEM;
		}
		if (mkdir(cg->leaf[i], 0755) < 0) {
			int r = -errno;

			free(cg->leaf[i]);
			cg->leaf[i] = NULL;
			return fence_errf(err, errlen, r, "cannot create cgroup '%s/%s': %s",
				    cg->parent[i], name, strerror(-r));
		}
		cg->fd[i] = open(cg->leaf[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (cg->fd[i] < 0)
			return fence_errf(err, errlen, -errno, "cannot open cgroup '%s': %s",
				    cg->leaf[i], strerror(errno));
	}
	return 0;
}

/* Writes VALUE to NAME in leaf I.  0 or -errno. */
static int write_ctl(const struct launch_cgroup *cg, int i, const char *name, const char *value)
{
	_cleanup_close_ int fd = openat(cg->fd[i], name, O_WRONLY | O_CLOEXEC | O_TRUNC);
	size_t len = strlen(value);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, value, len);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

static int set_ctl(const struct launch_cgroup *cg, int i, const char *name, const char *value,
		   bool optional, char *err, size_t errlen)
{
	int r = write_ctl(cg, i, name, value);

	if (r == -ENOENT && optional)
		return 0;
	if (r < 0)
		return fence_errf(err, errlen, r, "cannot write '%s' to '%s/%s': %s", value, cg->leaf[i],
			    name, strerror(-r));
	return 0;
}

int launch_cgroup_set_limits(const struct launch_cgroup *cg, const struct launch_limits *lim,
			     char *err, size_t errlen)
{
	char v[64];
	int r;
	int mem = cg->version == 2 ? 0 : LAUNCH_CG_MEMORY;
	int pids = cg->version == 2 ? 0 : LAUNCH_CG_PIDS;
	int cpu = cg->version == 2 ? 0 : LAUNCH_CG_CPU;

	if (lim->memory) {
		snprintf(v, sizeof(v), "%" PRIu64, lim->memory);
		if (cg->version == 2) {
			r = set_ctl(cg, mem, "memory.max", v, false, err, errlen);
			/* Without this the limit could be dodged into swap. */
			if (!r)
				r = set_ctl(cg, mem, "memory.swap.max", "0", true, err, errlen);
		} else {
			r = set_ctl(cg, mem, "memory.limit_in_bytes", v, false, err, errlen);
			/* memsw must be >= limit_in_bytes, so it comes second;
			 * it exists only with swap accounting. */
			if (!r)
				r = set_ctl(cg, mem, "memory.memsw.limit_in_bytes", v, true, err,
					    errlen);
		}
		if (r)
			return r;
	}
	if (lim->pids) {
		snprintf(v, sizeof(v), "%" PRIu64, lim->pids);
		r = set_ctl(cg, pids, "pids.max", v, false, err, errlen);
		if (r)
			return r;
	}
	if (lim->cpus > 0) {
		long quota = (long)(lim->cpus * CPU_PERIOD_US + 0.5);

		/* The kernel refuses quotas under 1 ms. */
		if (quota < 1000)
			quota = 1000;
		if (cg->version == 2) {
			snprintf(v, sizeof(v), "%ld %d", quota, CPU_PERIOD_US);
			r = set_ctl(cg, cpu, "cpu.max", v, false, err, errlen);
		} else {
			snprintf(v, sizeof(v), "%d", CPU_PERIOD_US);
			r = set_ctl(cg, cpu, "cpu.cfs_period_us", v, false, err, errlen);
			snprintf(v, sizeof(v), "%ld", quota);
			if (!r)
				r = set_ctl(cg, cpu, "cpu.cfs_quota_us", v, false, err, errlen);
		}
		if (r)
			return r;
	}
	return 0;
}

int launch_cgroup_attach(const struct launch_cgroup *cg, pid_t pid)
{
	char v[32];
	int i, r;

	snprintf(v, sizeof(v), "%d", (int)pid);
	for (i = 0; i < LAUNCH_CG_NCTL; i++) {
		if (cg->fd[i] < 0)
			continue;
		r = write_ctl(cg, i, "cgroup.procs", v);
		if (r < 0)
			return r;
	}
	return 0;
}

int launch_cgroup_open_tasks(const struct launch_cgroup *cg, int fds[LAUNCH_CG_NCTL])
{
	int i;

	for (i = 0; i < LAUNCH_CG_NCTL; i++)
		fds[i] = -1;
	if (cg->version != 1)
		return -EOPNOTSUPP;
	for (i = 0; i < LAUNCH_CG_NCTL; i++) {
		if (cg->fd[i] < 0)
			continue;
		fds[i] = openat(cg->fd[i], "tasks", O_WRONLY | O_CLOEXEC);
		if (fds[i] < 0) {
			int e = errno;

			while (i-- > 0)
				if (fds[i] >= 0)
					(void)close(fds[i]);
			return -e;
		}
	}
	return 0;
}

int launch_cgroup_attach_self(int fds[LAUNCH_CG_NCTL])
{
	int i, r = 0;

	for (i = 0; i < LAUNCH_CG_NCTL; i++) {
		if (fds[i] < 0)
			continue;
		if (r == 0 && write(fds[i], "0", 1) != 1)
			r = -errno;
		(void)close(fds[i]);
		fds[i] = -1;
	}
	return r;
}

/* Value of "KEY N" in a flat keyed file such as memory.events. */
static uint64_t keyed_value(const char *text, const char *key)
{
	size_t n = strlen(key);
	const char *p = text;

	while (p && *p) {
		if (!strncmp(p, key, n) && p[n] == ' ')
			return strtoull(p + n + 1, NULL, 10);
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return 0;
}

void launch_cgroup_stats(const struct launch_cgroup *cg, struct launch_cgroup_stats *st)
{
	char buf[4096];

	*st = (struct launch_cgroup_stats){ 0 };
	if (cg->version == 2 && cg->fd[0] >= 0) {
		if (!read_small(cg->fd[0], NULL, "memory.peak", buf, sizeof(buf)))
			st->peak_memory = strtoull(buf, NULL, 10);
		if (!read_small(cg->fd[0], NULL, "memory.events", buf, sizeof(buf)))
			st->oom_killed = keyed_value(buf, "oom_kill") > 0;
	} else if (cg->version == 1 && cg->fd[LAUNCH_CG_MEMORY] >= 0) {
		int fd = cg->fd[LAUNCH_CG_MEMORY];

		if (!read_small(fd, NULL, "memory.max_usage_in_bytes", buf, sizeof(buf)))
			st->peak_memory = strtoull(buf, NULL, 10);
		/* "oom_kill N" exists since Linux 4.13 (memory.rst). */
		if (!read_small(fd, NULL, "memory.oom_control", buf, sizeof(buf)))
			st->oom_killed = keyed_value(buf, "oom_kill") > 0;
	}
}

uint64_t launch_cgroup_oom_kills(const struct launch_cgroup *cg)
{
	char buf[4096];

	if (cg->version == 2 && cg->fd[0] >= 0 &&
	    !read_small(cg->fd[0], NULL, "memory.events", buf, sizeof(buf)))
		return keyed_value(buf, "oom_kill");
	if (cg->version == 1 && cg->fd[LAUNCH_CG_MEMORY] >= 0 &&
	    !read_small(cg->fd[LAUNCH_CG_MEMORY], NULL, "memory.oom_control", buf, sizeof(buf)))
		return keyed_value(buf, "oom_kill");
	return 0;
}

void launch_cgroup_destroy(struct launch_cgroup *cg)
{
	int i, tries;

	for (i = 0; i < LAUNCH_CG_NCTL; i++) {
		if (cg->fd[i] >= 0)
			(void)close(cg->fd[i]);
		cg->fd[i] = -1;
		if (cg->leaf[i]) {
			/* Tasks of a dead pid namespace may take a moment to
			 * leave; rmdir answers EBUSY until then. */
			for (tries = 0; tries < 50; tries++) {
				if (rmdir(cg->leaf[i]) == 0 || errno != EBUSY)
					break;
				(void)nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
			}
		}
		free(cg->leaf[i]);
		free(cg->parent[i]);
		cg->leaf[i] = cg->parent[i] = NULL;
	}
	cg->version = 0;
}

void launch_cgroup_reap_stale(const struct launch_cgroup *cg)
{
	int i;

	for (i = 0; i < LAUNCH_CG_NCTL; i++) {
		_cleanup_closedir_ DIR *d = NULL;
		struct dirent *e;

		if (!cg->parent[i])
			continue;
		d = opendir(cg->parent[i]);
		if (!d)
			continue;
		while ((e = readdir(d))) {
			char *end;
			long pid;

			if (strncmp(e->d_name, "fence-run.", 10))
				continue;
			pid = strtol(e->d_name + 10, &end, 10);
			if (*end || pid <= 0)
				continue;
			/* Our own pid: a dead fence-run's leaf (pid reuse) that
			 * would make our mkdir fail; we have made none yet. */
			if (pid != getpid() && (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
				continue;
			/* Fails harmlessly (EBUSY) while tasks remain. */
			(void)unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR);
		}
	}
}

static char *slurp(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct buf b = { 0 };
	char chunk[8192];
	ssize_t n;

	if (fd < 0)
		return NULL;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		buf_add(&b, chunk, (size_t)n);
	if (n < 0 || b.oom) {
		buf_free(&b);
		return NULL;
	}
	if (!b.data)
		buf_adds(&b, "");
	return b.data;
}

int launch_cgroup_setup(struct launch_cgroup *cg, const struct launch_limits *lim, char *err,
			size_t errlen)
{
	_cleanup_free_ char *mountinfo = slurp("/proc/self/mountinfo");
	_cleanup_free_ char *proc_cgroup = slurp("/proc/self/cgroup");
	struct launch_cgroup_env env = { "", mountinfo, proc_cgroup };
	char name[64];
	int r;

	if (!mountinfo || !proc_cgroup)
		return fence_errf(err, errlen, -EIO, "cannot read /proc/self/mountinfo or /proc/self/cgroup");
	r = launch_cgroup_find(cg, &env, lim, err, errlen);
	if (r < 0)
		return r;
	launch_cgroup_reap_stale(cg);
	snprintf(name, sizeof(name), "fence-run.%d", (int)getpid());
	r = launch_cgroup_mkdir(cg, name, err, errlen);
	if (r < 0)
		return r;
	return launch_cgroup_set_limits(cg, lim, err, errlen);
}
