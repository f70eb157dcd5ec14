// SPDX-License-Identifier: Apache-2.0
/*
 * fs_mount.c - `fencefs mount` and `fencefs umount`: parse, validate, run,
 * report.  The FUSE handlers are in fs_ops.c and fs_dir.c, the delta in
 * delta.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "commands.h"
#include "delta.h"
#include "delta_format.h"
#include "fs.h"
#include "fs_opts.h"
#include "policy_load.h"
#include "util.h"

/*
 * The policy is fixed for the life of a mount and only this daemon changes
 * the delta, so the kernel may keep entries and attributes for a day.  The
 * source is assumed not to change under a mount (as for overlayfs's lower
 * layers, Documentation/filesystems/overlayfs.rst "Changes to underlying
 * filesystems").
 */
#define FS_CACHE_TIMEOUT 86400.0

/* --- paths -------------------------------------------------------------- */

/* Canonical absolute form of PATH, which may not exist yet (its parent must). */
static char *canonical_maybe_missing(const char *path)
{
	_cleanup_free_ char *dup = NULL, *parent = NULL;
	char *slash, *out = realpath(path, NULL);
	const char *base;

	if (out || errno != ENOENT)
		return out;
	dup = strdup(path);
	if (!dup)
		return NULL;
	while (strlen(dup) > 1 && dup[strlen(dup) - 1] == '/')
		dup[strlen(dup) - 1] = '\0';
	slash = strrchr(dup, '/');
	if (slash) {
		*slash = '\0';
		base = slash + 1;
		parent = realpath(dup[0] ? dup : "/", NULL);
	} else {
		base = dup;
		parent = realpath(".", NULL);
	}
	if (!parent || !strcmp(base, ".") || !strcmp(base, "..") || !base[0])
		return NULL;
	if (asprintf(&out, "%s%s%s", parent, strcmp(parent, "/") ? "/" : "", base) < 0)
		return NULL;
	return out;
}

/* Whether A is B or lies beneath it. */
static bool path_within(const char *a, const char *b)
{
	size_t n = strlen(b);

	if (!strcmp(b, "/"))
		return true;
	return !strncmp(a, b, n) && (a[n] == '\0' || a[n] == '/');
}

static bool overlaps(const char *a, const char *b)
{
	return path_within(a, b) || path_within(b, a);
}

/* --- pid files: how `fencefs umount` finds the daemon ------------------- */

static int runtime_dir(char *buf, size_t len)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	if (geteuid() == 0)
		snprintf(buf, len, "/run/fencefs");
	else if (xdg && xdg[0] == '/')
		snprintf(buf, len, "%s/fencefs", xdg);
	else
		snprintf(buf, len, "/tmp/fencefs-%u", (unsigned)geteuid());
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* The pid file of the mount at canonical path MP: keyed by a hash of it. */
static int pidfile_path(const char *mp, char *buf, size_t len)
{
	char dir[PATH_MAX - 64];
	uint64_t h = 0xcbf29ce484222325ULL;
	const char *p;
	int r = runtime_dir(dir, sizeof(dir));

	if (r < 0)
		return r;
	for (p = mp; *p; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
	snprintf(buf, len, "%s/mnt-%016llx.pid", dir, (unsigned long long)h);
	return 0;
}

/* --- the session -------------------------------------------------------- */

struct mount_run {
	struct fs_opts o;
	struct policy *policy;
	char *source;          /* canonical */
	char *mountpoint;      /* canonical, or "/dev/fd/N" */
	bool fd_mount;
	char *delta;           /* canonical */
	bool private_delta;
	char pidfile[PATH_MAX];
	char *stats_file;      /* --stats-file, absolute (the daemon changes to /) */
	pthread_t stats_thread;
	bool stats_running;
	struct fs_session s;
};

static void session_init(struct fs_session *s)
{
	memset(s, 0, sizeof(*s));
	s->src_root = s->delta_fd = s->upper_root = s->work_fd = s->delta_lock = -1;
	s->root.src_fd = s->root.upper_fd = s->root.data_fd = -1;
	s->timeout = FS_CACHE_TIMEOUT;
}

static void session_close_fds(struct fs_session *s)
{
	int *fds[] = { &s->src_root, &s->delta_fd, &s->upper_root, &s->work_fd, &s->delta_lock };
	size_t k;

	for (k = 0; k < ARRAY_SIZE(fds); k++)
		if (*fds[k] >= 0) {
			(void)close(*fds[k]);
			*fds[k] = -1;
		}
}

/* Appends "opt" to a -o list, escaping ',' and '\' as libfuse's parser wants. */
static void add_escaped(struct buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == ',' || *s == '\\')
			buf_add(b, "\\", 1);
		buf_add(b, s, 1);
	}
}

static struct fuse_session *new_session(struct mount_run *m)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_session *se = NULL;
	struct buf opts = { 0 };
	size_t k;

	buf_adds(&opts, "fsname=");
	add_escaped(&opts, m->source);
	/*
	 * default_permissions in both modes: the kernel does the Unix DAC
	 * check (search permission on every directory of a path, w on the
	 * parent, the sticky bit, ownership) on the level-derived mode bits,
	 * on every access, cached or not.  Without it a root mount
	 * (allow_other) would let local users past the host's own
	 * permissions wherever the kernel answers from its caches.  What the
	 * mode bits cannot stop -- root, who passes them -- the daemon stops
	 * at OPEN in daemon mode (fs_mount.c prepare()).
	 */
	buf_adds(&opts, ",subtype=fencefs,default_permissions");
	/* Root mounts for everyone; mode bits (from the levels) decide access. */
	if (geteuid() == 0)
		buf_adds(&opts, ",allow_other");
	if (fuse_opt_add_arg(&args, "fencefs") < 0 || fuse_opt_add_arg(&args, "-o") < 0 ||
	    opts.oom || fuse_opt_add_arg(&args, opts.data) < 0)
		goto out;
	for (k = 0; k < m->o.nfuse_opts; k++)
		if (fuse_opt_add_arg(&args, "-o") < 0 ||
		    fuse_opt_add_arg(&args, m->o.fuse_opts[k]) < 0)
			goto out;
	if (m->o.debug && fuse_opt_add_arg(&args, "-d") < 0)
		goto out;
	se = fuse_session_new(&args, &fs_ops, sizeof(fs_ops), &m->s);
out:
	fuse_opt_free_args(&args);
	buf_free(&opts);
	return se;
}

static void write_stats(struct mount_run *m)
{
	char line[160];
	int n;

	if (m->o.stats_fd < 0)
		return;
	n = snprintf(line, sizeof(line), "{\"denied\":%llu,\"written\":%llu,\"delta_bytes\":%lld}\n",
		     (unsigned long long)atomic_load(&m->s.denied),
		     (unsigned long long)atomic_load(&m->s.written),
		     (long long)atomic_load(&m->s.delta_bytes));
	if (write(m->o.stats_fd, line, (size_t)n) != n)
		fprintf(stderr, "fencefs: cannot write stats: %s\n", strerror(errno));
	(void)close(m->o.stats_fd);
}

/* FILE made absolute against the working directory; malloc'd, NULL with errno. */
static char *absolute_path(const char *file)
{
	char cwd[PATH_MAX], *out;

	if (file[0] == '/')
		return strdup(file);
	if (!getcwd(cwd, sizeof(cwd)))
		return NULL;
	if (asprintf(&out, "%s/%s", cwd, file) < 0)
		return NULL;
	return out;
}

/* --stats-file: the counters, replaced at once (written beside, then renamed). */
static void write_stats_file(struct mount_run *m)
{
	char line[512], tmp[PATH_MAX + 16];
	int fd, n;

	if (!m->stats_file)
		return;
	fs_fds_stats(&m->s, line, sizeof(line) - 1);
	n = (int)strlen(line);
	line[n++] = '\n';
	snprintf(tmp, sizeof(tmp), "%s.%d", m->stats_file, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, line, (size_t)n) != n || close(fd) < 0 ||
	    rename(tmp, m->stats_file) < 0) {
		fprintf(stderr, "fencefs: cannot write '%s': %s\n", m->stats_file, strerror(errno));
		(void)unlink(tmp);
	}
}

/* Writes the stats file at each SIGUSR1 (blocked in every other thread). */
static void *stats_main(void *arg)
{
	struct mount_run *m = arg;
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	while (sigwait(&set, &sig) == 0 && sig == SIGUSR1)
		write_stats_file(m);
	return NULL;
}

static void stats_start(struct mount_run *m)
{
	sigset_t set;

	if (!m->stats_file)
		return;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	/* Before the workers start: they inherit the mask. */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	m->stats_running = pthread_create(&m->stats_thread, NULL, stats_main, m) == 0;
}

static void stats_stop(struct mount_run *m)
{
	if (!m->stats_running)
		return;
	/* SIGUSR2 ends the wait (sigwait() takes it from the pending set). */
	pthread_kill(m->stats_thread, SIGUSR2);
	pthread_join(m->stats_thread, NULL);
	m->stats_running = false;
}

static void signal_ready(struct mount_run *m)
{
	if (m->o.ready_fd < 0)
		return;
	if (write(m->o.ready_fd, "ready\n", 6) != 6)
		fprintf(stderr, "fencefs: cannot signal ready: %s\n", strerror(errno));
	(void)close(m->o.ready_fd);
	m->o.ready_fd = -1;
}

static void write_pidfile(struct mount_run *m)
{
	_cleanup_close_ int fd = -1;
	char line[2 * PATH_MAX + 32];
	int n;

	if (m->fd_mount || pidfile_path(m->mountpoint, m->pidfile, sizeof(m->pidfile)) < 0) {
		m->pidfile[0] = '\0';
		return;
	}
	fd = open(m->pidfile, O_CREAT | O_TRUNC | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
	/* Line 3: a private delta, for umount to remove if the daemon was killed. */
	n = snprintf(line, sizeof(line), "%d\n%s\n%s\n", (int)getpid(), m->mountpoint,
		     m->private_delta ? m->delta : "");
	if (fd < 0 || write(fd, line, (size_t)n) != n) {
		fprintf(stderr, "fencefs: cannot write pid file '%s': %s\n", m->pidfile,
			strerror(errno));
		m->pidfile[0] = '\0';
	}
}

/*
 * Many fds are held: an O_PATH fd or two per inode the kernel knows, and a
 * data fd per file read.  As root the hard limit itself is raised (up to
 * fs.nr_open, proc(5)); otherwise the soft limit goes up to the hard one.
 */
static void raise_fd_limit(void)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/sys/fs/nr_open", "re");
	unsigned long nr_open = 0;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (geteuid() == 0 && f && fscanf(f, "%lu", &nr_open) == 1 && nr_open > rl.rlim_max) {
		struct rlimit big = { nr_open, nr_open };

		if (setrlimit(RLIMIT_NOFILE, &big) == 0)
			return;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/*
 * The fds the daemon may cache (--fd-cache, else a quarter of the soft fd
 * limit, at most 4096): the rest is for the files the sandbox holds open
 * (orphans), transient opens and libfuse.
 */
static int64_t fd_budget(const struct fs_opts *o)
{
	struct rlimit rl;
	int64_t b;

	if (o->fd_cache > 0)
		return o->fd_cache;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return 4096;
	b = (int64_t)rl.rlim_cur / 4;
	return b < FS_FD_CACHE_MIN ? FS_FD_CACHE_MIN : b > 4096 ? 4096 : b;
}

/* Everything before the session: source, delta, policy, audit.  Exit status or 0. */
static int prepare(struct mount_run *m)
{
	struct policy_error perr;
	char err[PATH_MAX + 256], msg[1024];
	int r;

	r = fence_policy_build(&m->o.policy, &m->policy, &perr);
	if (r < 0) {
		policy_error_format(&perr, msg, sizeof(msg));
		fprintf(stderr, "fencefs mount: %s\n", msg);
		return r == -EINVAL ? 2 : 1;
	}
	m->source = realpath(m->o.source, NULL);
	if (m->source)
		m->s.src_root = open(m->source, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (!m->source || m->s.src_root < 0) {
		fprintf(stderr, "fencefs mount: cannot open source '%s': %s\n", m->o.source,
			strerror(errno));
		return 1;
	}
	m->fd_mount = !strncmp(m->o.mountpoint, "/dev/fd/", 8);
	m->mountpoint = m->fd_mount ? strdup(m->o.mountpoint) : realpath(m->o.mountpoint, NULL);
	if (!m->mountpoint) {
		fprintf(stderr, "fencefs mount: cannot use mountpoint '%s': %s\n",
			m->o.mountpoint, strerror(errno));
		return 1;
	}
	if (!m->fd_mount && overlaps(m->mountpoint, m->source) && strcmp(m->mountpoint,
									  m->source)) {
		fprintf(stderr, "fencefs mount: mountpoint '%s' and source '%s' nest\n",
			m->mountpoint, m->source);
		return 2;
	}
	if (m->o.delta) {
		m->delta = canonical_maybe_missing(m->o.delta);
		if (!m->delta) {
			fprintf(stderr, "fencefs mount: cannot use delta '%s': %s\n", m->o.delta,
				strerror(errno));
			return 1;
		}
	} else {
		r = delta_make_private(&m->delta);
		if (r < 0) {
			fprintf(stderr, "fencefs mount: cannot make a private delta: %s\n",
				strerror(-r));
			return 1;
		}
		m->private_delta = true;
	}
	/* A delta inside what it records (or is served through) would loop. */
	if (overlaps(m->delta, m->source) || (!m->fd_mount && overlaps(m->delta, m->mountpoint))) {
		fprintf(stderr, "fencefs mount: delta '%s' must not be inside (or contain) the "
				"source or the mountpoint\n", m->delta);
		return 2;
	}
	m->s.policy = m->policy;
	m->s.max_delta = m->o.max_delta;
	m->s.has_owner = m->o.has_owner;
	m->s.owner_uid = m->o.owner_uid;
	m->s.owner_gid = m->o.owner_gid;
	m->s.verbose = m->o.verbose;
	m->s.foreign_pids = m->fd_mount;
	m->s.fd_budget = fd_budget(&m->o);
	if (m->o.stats_file) {
		m->stats_file = absolute_path(m->o.stats_file);
		if (!m->stats_file) {
			fprintf(stderr, "fencefs mount: --stats-file '%s': %s\n", m->o.stats_file,
				strerror(errno));
			return 1;
		}
	}
	r = delta_setup(&m->s, m->delta, m->source, m->policy, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "fencefs mount: %s\n", err);
		return r == -EEXIST || r == -EXDEV || r == -EBUSY ? 2 : 1;
	}
	r = fs_table_init(&m->s);
	if (r < 0) {
		fprintf(stderr, "fencefs mount: cannot set up the inode table: %s\n", strerror(-r));
		return 1;
	}
	if (m->o.audit)
		r = audit_open(m->o.audit, m->o.audit_all, &m->s.audit);
	else if (m->o.audit_fd >= 0)
		r = audit_open_fd(m->o.audit_fd, m->o.audit_all, &m->s.audit);
	if (r < 0) {
		fprintf(stderr, "fencefs mount: cannot open audit log '%s': %s\n",
			m->o.audit ? m->o.audit : "fd", strerror(-r));
		return 1;
	}
	if (m->o.audit_max_set)
		audit_set_max(m->s.audit, m->o.audit_max);
	/*
	 * Whether OPEN and OPENDIR come to the daemon.  By default they do
	 * not: the kernel checks every open against the level-derived mode
	 * bits (default_permissions) with zero messages and keeps its page
	 * cache, which is what makes a warm `grep -r` run at native speed
	 * (one OPEN and one RELEASE per file cost 3-5x).  The price is paid
	 * by callers with CAP_DAC_OVERRIDE (root): they pass any mode bits,
	 * so root's write-open of a read file succeeds and its first write
	 * fails (EACCES), and its read-open of a view file fails at the
	 * first read.  O_TRUNC, creates and every namespace change are
	 * refused at the call in both modes.  --exact-opens sends opens to
	 * the daemon, which then answers root at open(2) too; an audit log
	 * needs it as well (exec and read events, and refused opens, are
	 * only seen there).  access(2) is the kernel's in both modes
	 * (default_permissions): root's access(W_OK) on a read file says yes.
	 */
	/*
	 * The kernel has applied the caller's umask to the modes of CREATE,
	 * MKDIR and MKNOD already (no FUSE_CAP_DONT_MASK): the daemon's own
	 * must not be applied on top.  Everything else it makes has an
	 * explicit mode.
	 */
	(void)umask(0);
	m->s.read_fd_budget = m->s.fd_budget / 4;
	m->s.daemon_opens = m->s.audit != NULL || m->o.exact_opens;
	return 0;
}

static int serve(struct mount_run *m)
{
	struct fuse_loop_config *cfg;
	int r;

	m->s.se = new_session(m);
	if (!m->s.se) {
		fprintf(stderr, "fencefs mount: cannot create the FUSE session\n");
		return 1;
	}
	if (fuse_set_signal_handlers(m->s.se) < 0) {
		fprintf(stderr, "fencefs mount: cannot set signal handlers\n");
		return 1;
	}
	if (fuse_session_mount(m->s.se, m->mountpoint) < 0) {
		fprintf(stderr, "fencefs mount: cannot mount '%s'\n", m->mountpoint);
		fuse_remove_signal_handlers(m->s.se);
		return 1;
	}
	/*
	 * Passthrough needs OPEN (it is set up in the reply) and a root
	 * daemon (BACKING_OPEN wants CAP_SYS_ADMIN in the initial user
	 * namespace); kernel mode has neither need nor use for it.
	 */
	if (m->s.daemon_opens && !m->o.no_passthrough && geteuid() == 0) {
		r = fs_pt_setup(&m->s);
		if (r < 0) {
			fprintf(stderr, "fencefs mount: cannot start the FUSE session on '%s': %s\n",
				m->mountpoint, strerror(-r));
			fuse_session_unmount(m->s.se);
			fuse_remove_signal_handlers(m->s.se);
			return 1;
		}
	} else {
		m->s.pt_why = !m->s.daemon_opens ? "kernel mode" :
			      m->o.no_passthrough ? "--no-passthrough" : "not root";
	}
	if (m->o.verbose)
		fprintf(stderr,
			"fencefs: serving '%s' at '%s' (delta '%s'%s, %zu rules, budget %llu)\n"
			"fencefs: opens: %s\n"
			"fencefs: data: %s%s%s\n",
			m->source, m->mountpoint, m->delta, m->private_delta ? ", private" : "",
			policy_rule_count(m->policy), (unsigned long long)m->s.max_delta,
			m->s.daemon_opens ? "daemon" : "zero-message (kernel-cached)",
			m->s.passthrough ? "passthrough (FUSE backing files)" :
					   "page cache (keep_cache)",
			m->s.passthrough ? "" : ", no passthrough: ",
			m->s.passthrough ? "" : m->s.pt_why);
	/* The mount is live: the parent returns now (fuse_daemonize waits for us). */
	if (fuse_daemonize(m->o.foreground) < 0) {
		fuse_session_unmount(m->s.se);
		fuse_remove_signal_handlers(m->s.se);
		return 1;
	}
	write_pidfile(m);
	stats_start(m); /* first: the threads below inherit its signal mask */
	if (fs_fds_start(&m->s) < 0)
		fprintf(stderr, "fencefs: no fd sweeping thread: cached fds are not bounded\n");
	if (m->s.audit && audit_start_writer(m->s.audit) < 0)
		fprintf(stderr, "fencefs: audit log unbuffered (no writer thread)\n");
	signal_ready(m);
	cfg = fuse_loop_cfg_create();
	if (!cfg) {
		r = -ENOMEM;
	} else {
		fuse_loop_cfg_set_clone_fd(cfg, 0);
		fuse_loop_cfg_set_idle_threads(cfg, 10);
		if (fs_notify_start(&m->s, m->fd_mount ? NULL : m->mountpoint) < 0)
			fprintf(stderr, "fencefs: no notification thread: second listings will be slower\n");
		r = fuse_session_loop_mt(m->s.se, cfg);
		fs_notify_stop(&m->s);
		fuse_loop_cfg_destroy(cfg);
	}
	fuse_session_unmount(m->s.se);
	fuse_remove_signal_handlers(m->s.se);
	if (r < 0 && r != -ENODEV)
		fprintf(stderr, "fencefs: session ended: %s\n", strerror(-r));
	return r < 0 && r != -ENODEV ? 1 : 0;
}

static void teardown(struct mount_run *m)
{
	write_stats(m);
	stats_stop(m);
	fs_fds_stop(&m->s);
	write_stats_file(m);
	free(m->stats_file);
	/* The backing ids go with the session's fd: inode_free() must not close them. */
	m->s.passthrough = false;
	if (m->s.se)
		fuse_session_destroy(m->s.se);
	if (m->s.audit) {
		audit_close(m->s.audit);
		m->s.audit = NULL;
	}
	if (m->pidfile[0])
		(void)unlink(m->pidfile);
	if (m->s.table)
		fs_table_destroy(&m->s);
	session_close_fds(&m->s);
	if (m->private_delta && m->delta) {
		int r = delta_remove_private(m->delta);

		if (r < 0)
			fprintf(stderr, "fencefs: cannot remove private delta '%s': %s\n", m->delta,
				strerror(-r));
	}
	policy_free(m->policy);
	free(m->source);
	free(m->mountpoint);
	free(m->delta);
	fs_opts_free(&m->o);
}

int cmd_mount(int argc, char **argv)
{
	struct mount_run m;
	char err[512];
	int status;

	memset(&m, 0, sizeof(m));
	session_init(&m.s);
	if (fs_opts_parse(argc, argv, &m.o, err, sizeof(err)) < 0) {
		fprintf(stderr, "fencefs mount: %s\n%s", err, fs_mount_usage);
		fs_opts_free(&m.o);
		return 2;
	}
	if (m.o.help) {
		fputs(fs_mount_usage, stdout);
		fs_opts_free(&m.o);
		return 0;
	}
	/*
	 * Launched by fence-run: never outlive it.  A parent that died before
	 * the prctl() took effect has already handed us to a reaper.
	 */
	if (m.o.ready_fd >= 0) {
		pid_t parent = getppid();

		if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
			fprintf(stderr, "fencefs: cannot set the parent-death signal: %s\n",
				strerror(errno));
		if (getppid() != parent || parent == 1) {
			fprintf(stderr, "fencefs mount: the launcher is gone\n");
			fs_opts_free(&m.o);
			return 1;
		}
	}
	raise_fd_limit();
	status = prepare(&m);
	if (status == 0)
		status = serve(&m);
	if (m.o.ready_fd >= 0)
		(void)close(m.o.ready_fd); /* never wrote "ready": the caller sees EOF */
	teardown(&m);
	return status;
}

/* --- umount ------------------------------------------------------------- */

/* Whether canonical MP is a fencefs mount point now (/proc/self/mountinfo). */
static bool is_fencefs_mount(const char *mp)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;

	if (!f)
		return false;
	while (getline(&line, &cap, f) > 0) {
		char point[PATH_MAX], unesc[PATH_MAX], *dash;
		size_t i, j;

		if (sscanf(line, "%*s %*s %*s %*s %4095s", point) != 1)
			continue;
		/* mountinfo escapes blanks and backslashes as \ooo (proc(5)). */
		for (i = j = 0; point[i] && j + 1 < sizeof(unesc); j++) {
			if (point[i] == '\\' && point[i + 1] && point[i + 2] && point[i + 3]) {
				unesc[j] = (char)strtol((char[]){ point[i + 1], point[i + 2],
								  point[i + 3], 0 },
							NULL, 8);
				i += 4;
			} else {
				unesc[j] = point[i++];
			}
		}
		unesc[j] = '\0';
		dash = strstr(line, " - ");
		if (!strcmp(unesc, mp) && dash && !strncmp(dash + 3, "fuse.fencefs ", 13))
			return true;
	}
	return false;
}

/* The daemon's pid from MP's pid file (-1 if none), and its private delta ("" if none). */
static pid_t read_pidfile(const char *mp, char *path, size_t len, char *delta, size_t dlen)
{
	_cleanup_fclose_ FILE *f = NULL;
	char line[PATH_MAX + 2];
	int pid;

	delta[0] = '\0';
	if (pidfile_path(mp, path, len) < 0)
		return -1;
	f = fopen(path, "re");
	if (!f || !fgets(line, sizeof(line), f) || sscanf(line, "%d", &pid) != 1 || pid <= 0)
		return -1;
	if (!fgets(line, sizeof(line), f))
		return -1;
	line[strcspn(line, "\n")] = '\0';
	if (strcmp(line, mp))
		return -1;
	if (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		snprintf(delta, dlen, "%s", line);
	}
	return pid;
}

/*
 * Whether PID is a running fencefs process: not a reused pid, and not a
 * zombie that its (re)parent has yet to reap (proc(5): /proc/PID/stat is
 * "PID (COMM) STATE ...").
 */
static bool is_our_daemon(pid_t pid)
{
	_cleanup_fclose_ FILE *f = NULL;
	char path[64], line[256], *close_paren;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f || !fgets(line, sizeof(line), f))
		return false;
	close_paren = strrchr(line, ')');
	if (!close_paren || close_paren[1] != ' ' || close_paren[2] == 'Z' ||
	    close_paren[2] == 'X')
		return false;
	*close_paren = '\0';
	return strstr(line, " (fencefs") != NULL;
}

/*
 * A daemon killed outright cannot remove its private delta; the unmount is
 * where it goes (docs/SPEC.md 6), so umount does it -- only for a directory that
 * is a fencefs delta made by mkdtemp ("fencefs-delta.XXXXXX").
 */
static void remove_orphan_delta(const char *delta)
{
	const char *base = strrchr(delta, '/');
	char meta[PATH_MAX + 32];
	struct stat st;
	int r;

	if (!delta[0] || !base || strncmp(base + 1, "fencefs-delta.", 14))
		return;
	snprintf(meta, sizeof(meta), "%s/%s", delta, DELTA_META_NAME);
	if (lstat(meta, &st) < 0 || !S_ISREG(st.st_mode))
		return;
	r = delta_remove_private(delta);
	if (r < 0)
		fprintf(stderr, "fencefs umount: cannot remove private delta '%s': %s\n", delta,
			strerror(-r));
}

static int run_fusermount(const char *mp)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execlp("fusermount3", "fusermount3", "-u", "-z", "--", mp, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0)
		return -errno;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EPERM;
}

/* Waits up to SECONDS for PID to exit.  True when it did. */
static bool wait_gone(pid_t pid, int seconds)
{
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0);

	if (pfd >= 0) {
		struct pollfd p = { .fd = pfd, .events = POLLIN };
		int r = poll(&p, 1, seconds * 1000);

		(void)close(pfd);
		return r > 0;
	}
	for (int k = 0; k < seconds * 20; k++) {
		if (kill(pid, 0) < 0 && errno == ESRCH)
			return true;
		(void)nanosleep(&(struct timespec){ 0, 50000000 }, NULL);
	}
	return false;
}

int cmd_umount(int argc, char **argv)
{
	_cleanup_free_ char *mp = NULL;
	char pidfile[PATH_MAX], delta[PATH_MAX + 2];
	bool alive;
	pid_t pid;
	int r;

	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		fputs("usage: fencefs umount MOUNTPOINT\n", stdout);
		return 0;
	}
	if (argc != 2) {
		fputs("usage: fencefs umount MOUNTPOINT\n", stderr);
		return 2;
	}
	mp = realpath(argv[1], NULL);
	if (!mp) {
		fprintf(stderr, "fencefs umount: cannot use '%s': %s\n", argv[1], strerror(errno));
		return 1;
	}
	if (!is_fencefs_mount(mp)) {
		fprintf(stderr, "fencefs umount: '%s' is not a fencefs mount\n", mp);
		return 1;
	}
	pid = read_pidfile(mp, pidfile, sizeof(pidfile), delta, sizeof(delta));
	alive = pid > 0 && is_our_daemon(pid);
	/* Lazy: files still open inside keep working; the daemon leaves when they close. */
	if (geteuid() == 0)
		r = umount2(mp, MNT_DETACH) < 0 ? -errno : 0;
	else
		r = run_fusermount(mp);
	if (r < 0) {
		fprintf(stderr, "fencefs umount: cannot unmount '%s': %s\n", mp, strerror(-r));
		return 1;
	}
	/*
	 * An idle daemon leaves at once (its next read of /dev/fuse fails
	 * with ENODEV).  One still serving files held open goes when they
	 * are closed; the mount is gone already, so that is no failure.
	 */
	if (alive && !wait_gone(pid, 3))
		fprintf(stderr, "fencefs umount: '%s' is detached; the daemon (pid %d) exits "
				"when the files still open there are closed\n", mp, (int)pid);
	if (pid > 0 && !alive) {
		remove_orphan_delta(delta);
		(void)unlink(pidfile);
	}
	return 0;
}
