// SPDX-License-Identifier: Apache-2.0
/*
 * hostile - resource attacks for the escape and fault suites (issue 6).
 *
 *   hostile forkbomb [MAX]         fork children that sleep until fork fails
 *   hostile memhog [MAX_MIB]       allocate and touch memory 1 MiB at a time
 *   hostile fill PATH [MAX_MIB]    write 64 KiB blocks to PATH until it fails
 *   hostile metafill DIR [MAX]     make MAX directories, each with an empty
 *                                  file carrying a 2 KiB xattr and a symlink
 *                                  with a 4000-byte target
 *   hostile inodes DIR [MAX]       create empty files in DIR until that fails
 *   hostile churn DIR SECONDS THREADS
 *                                  race every namespace operation over a
 *                                  dozen names in DIR from THREADS threads
 *   hostile heavywrite PATH        rewrite PATH in 1 MiB blocks forever,
 *                                  reporting the first error it meets
 *   hostile daemonize MARKER exit|stay
 *                                  double-fork a session leader that runs
 *                                  "hostile sleeper MARKER", then exit or
 *                                  sleep until killed
 *   hostile sleeper MARKER         ignore every catchable signal and sleep
 *
 * Each prints "VECTOR RESULT [DETAIL]" lines like the escape probes.  The
 * MAX arguments are a safety net for when a limit does not work, so that a
 * failing test fails instead of taking the machine down: reaching one prints
 * RESULT "OK", which the scripts treat as a failed containment.
 * Standalone, no sanitizers.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *errname(int e)
{
	const char *n = strerrorname_np(e);

	return n ? n : "EUNKNOWN";
}

/* "VECTOR RESULT KEY=V": RESULT is OK or the errno's name. */
static void say(const char *vector, int err, const char *key, long long v)
{
	printf("%s %s %s=%lld\n", vector, err ? errname(err) : "OK", key, v);
	fflush(stdout);
}

static int forkbomb(long max)
{
	pid_t *kids = calloc((size_t)max, sizeof(*kids));
	long n = 0, i;
	int err = 0;

	if (!kids)
		return 1;
	while (n < max) {
		pid_t pid = fork();

		if (pid == 0) {
			/* Children hold their pid slot until the parent is done. */
			for (;;)
				pause();
		}
		if (pid < 0) {
			err = errno;
			break;
		}
		kids[n++] = pid;
	}
	say("forkbomb", err, "children", n);
	for (i = 0; i < n; i++)
		(void)kill(kids[i], SIGKILL);
	for (i = 0; i < n; i++)
		(void)waitpid(kids[i], NULL, 0);
	free(kids);
	return 0;
}

static int memhog(long max_mib)
{
	long mib;

	for (mib = 0; mib < max_mib; mib++) {
		char *p = malloc(1 << 20);

		if (!p) {
			say("memhog", ENOMEM, "mib", mib);
			return 0;
		}
		memset(p, (int)mib | 1, 1 << 20);
		if (mib % 16 == 0)
			say("memhog:progress", 0, "mib", mib);
	}
	say("memhog", 0, "mib", mib);
	return 0;
}

static int fill(const char *path, long max_mib)
{
	static char block[65536];
	long long total = 0;
	ssize_t n;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0) {
		say("fill", errno, "bytes", 0);
		return 0;
	}
	memset(block, 'F', sizeof(block));
	while (total < max_mib * 1048576LL) {
		n = write(fd, block, sizeof(block));
		if (n < 0) {
			say("fill", errno, "bytes", total);
			(void)close(fd);
			return 0;
		}
		total += n;
		if (n < (ssize_t)sizeof(block)) {
			/* A short write is the last one that fits; the next says why. */
			continue;
		}
	}
	if (fsync(fd) < 0) {
		say("fill", errno, "bytes", total);
	} else if (close(fd) < 0) {
		say("fill", errno, "bytes", total);
		return 0;
	} else {
		say("fill", 0, "bytes", total);
		return 0;
	}
	(void)close(fd);
	return 0;
}

/*
 * Grows the delta without writing file data: directories, empty files,
 * long symlink targets and big xattrs each cost the host disk blocks and
 * inodes that a byte count of file contents would miss.
 */
static int metafill(const char *dir, long max)
{
	static char target[4000], value[2048];
	char path[4200];
	long n;
	int err = 0, fd;

	memset(target, 't', sizeof(target) - 1);
	memset(value, 'v', sizeof(value));
	for (n = 0; n < max && !err; n++) {
		snprintf(path, sizeof(path), "%s/d%ld", dir, n);
		if (mkdir(path, 0755) < 0) {
			err = errno;
			break;
		}
		snprintf(path, sizeof(path), "%s/d%ld/f", dir, n);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0) {
			err = errno;
			break;
		}
		(void)close(fd);
		if (setxattr(path, "user.fill", value, sizeof(value), 0) < 0 && errno != ENOTSUP &&
		    errno != EOPNOTSUPP) {
			/* E2BIG: the filesystem's xattr limit; keep going with the rest. */
			if (errno != E2BIG && errno != ENOSPC)
				err = errno;
			else if (errno == ENOSPC)
				err = ENOSPC;
		}
		snprintf(path, sizeof(path), "%s/d%ld/l", dir, n);
		if (symlink(target, path) < 0)
			err = errno;
	}
	say("metafill", err, "entries", n);
	return 0;
}

/* Empty files in DIR until creation fails (inodes, not bytes) or MAX. */
static int inodes(const char *dir, long max)
{
	char path[4200];
	long n;
	int fd;

	for (n = 0; n < max; n++) {
		snprintf(path, sizeof(path), "%s/i%ld", dir, n);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0) {
			say("inodes", errno, "files", n);
			return 0;
		}
		(void)close(fd);
	}
	say("inodes", 0, "files", n);
	return 0;
}

/*
 * Many threads racing every namespace operation over a few names in DIR,
 * for SECONDS: the daemon's inode table, locks and delta bookkeeping under
 * contention.  Errors are expected (the names collide on purpose); what
 * must not happen is the daemon dying, which the probe sees as ENOTCONN or
 * ECONNABORTED from every call afterwards.
 */
struct churn {
	const char *dir;
	time_t until;
	unsigned seed;
	long ops;
	int dead;
};

static void *churn_thread(void *arg)
{
	struct churn *c = arg;
	char a[256], b[256], buf[4096];
	unsigned r = c->seed;
	int fd;

	memset(buf, 'c', sizeof(buf));
	while (time(NULL) < c->until) {
		long res = 0;

		r = r * 1103515245 + 12345;
		snprintf(a, sizeof(a), "%s/n%u", c->dir, (r >> 8) % 12);
		snprintf(b, sizeof(b), "%s/n%u%s", c->dir, (r >> 12) % 12,
			 (r >> 20) % 3 ? "" : "/n1");
		switch ((r >> 16) % 14) {
		case 0:
			fd = open(a, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
			res = fd;
			if (fd >= 0) {
				(void)!pwrite(fd, buf, (r >> 4) % sizeof(buf), (r >> 3) % 8192);
				(void)close(fd);
			}
			break;
		case 1: res = rename(a, b); break;
		case 2: res = link(a, b); break;
		case 3: res = unlink(a); break;
		case 4: res = mkdir(a, 0755); break;
		case 5: res = rmdir(a); break;
		case 6: res = symlink("n3", a); break;
		case 7: res = truncate(a, (r >> 5) % 10000); break;
		case 8: {
			struct stat st;

			res = lstat(a, &st);
			break;
		}
		case 9: {
			DIR *d = opendir(c->dir);

			if (d) {
				while (readdir(d))
					;
				(void)closedir(d);
			}
			break;
		}
		case 10: res = setxattr(a, "user.c", "v", 1, 0); break;
		case 11: res = (long)getxattr(a, "user.c", buf, sizeof(buf)); break;
		case 12: res = utimensat(AT_FDCWD, a, NULL, AT_SYMLINK_NOFOLLOW); break;
		case 13:
			fd = open(a, O_RDONLY | O_CLOEXEC);
			res = fd;
			if (fd >= 0) {
				(void)!read(fd, buf, sizeof(buf));
				(void)close(fd);
			}
			break;
		}
		if (res < 0 && (errno == ENOTCONN || errno == ECONNABORTED)) {
			c->dead = errno;
			break;
		}
		c->ops++;
	}
	return NULL;
}

static int churn(const char *dir, int seconds, int threads)
{
	struct churn c[64];
	pthread_t t[64];
	struct stat st;
	long ops = 0;
	int i, dead = 0;

	if (threads > 64)
		threads = 64;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		say("churn", errno, "ops", 0);
		return 0;
	}
	for (i = 0; i < threads; i++) {
		c[i] = (struct churn){ dir, time(NULL) + seconds, (unsigned)i * 7919u + 1, 0, 0 };
		if (pthread_create(&t[i], NULL, churn_thread, &c[i]) != 0)
			return 1;
	}
	for (i = 0; i < threads; i++) {
		(void)pthread_join(t[i], NULL);
		ops += c[i].ops;
		if (c[i].dead)
			dead = c[i].dead;
	}
	/* The mount still answers: the daemon survived. */
	if (!dead && stat(".", &st) < 0)
		dead = errno;
	say("churn", dead, "ops", ops);
	return 0;
}

static int heavywrite(const char *path)
{
	static char block[1 << 20];
	long long rounds = 0;
	int fd;

	memset(block, 'H', sizeof(block));
	for (;;) {
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0) {
			say("heavywrite", errno, "rounds", rounds);
			return 1;
		}
		for (int i = 0; i < 8; i++) {
			if (write(fd, block, sizeof(block)) < 0) {
				say("heavywrite", errno, "rounds", rounds);
				return 1;
			}
		}
		if (close(fd) < 0) {
			say("heavywrite", errno, "rounds", rounds);
			return 1;
		}
		if (++rounds == 1)
			say("heavywrite:started", 0, "rounds", rounds);
	}
}

static __attribute__((noreturn)) void sleeper(void)
{
	struct sigaction sa;
	int sig;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)sigaction(sig, &sa, NULL);
	for (;;)
		sleep(1000);
}

static int daemonize(const char *self, const char *marker, const char *mode)
{
	pid_t pid = fork();
	int status;

	if (pid < 0) {
		say("daemonize", errno, "stage", 1);
		return 1;
	}
	if (pid == 0) {
		if (setsid() < 0)
			_exit(1);
		pid = fork();
		if (pid < 0)
			_exit(1);
		if (pid == 0) {
			int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

			if (fd >= 0) {
				(void)dup2(fd, 0);
				(void)dup2(fd, 1);
				(void)dup2(fd, 2);
			}
			execl(self, self, "sleeper", marker, (char *)NULL);
			_exit(127);
		}
		_exit(0);
	}
	(void)waitpid(pid, &status, 0);
	say("daemonize", WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : ECHILD,
	    "middle-status", status);
	/* Give the grandchild time to exec before the caller looks for it. */
	usleep(300000);
	if (!strcmp(mode, "stay"))
		for (;;)
			pause();
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "forkbomb"))
		return forkbomb(argc > 2 ? atol(argv[2]) : 4096);
	if (argc >= 2 && !strcmp(argv[1], "memhog"))
		return memhog(argc > 2 ? atol(argv[2]) : 2048);
	if (argc >= 3 && !strcmp(argv[1], "fill"))
		return fill(argv[2], argc > 3 ? atol(argv[3]) : 1024);
	if (argc >= 3 && !strcmp(argv[1], "metafill"))
		return metafill(argv[2], argc > 3 ? atol(argv[3]) : 100000);
	if (argc >= 3 && !strcmp(argv[1], "inodes"))
		return inodes(argv[2], argc > 3 ? atol(argv[3]) : 1000000);
	if (argc == 5 && !strcmp(argv[1], "churn"))
		return churn(argv[2], atoi(argv[3]), atoi(argv[4]));
	if (argc == 3 && !strcmp(argv[1], "heavywrite"))
		return heavywrite(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "sleeper"))
		sleeper();
	if (argc == 4 && !strcmp(argv[1], "daemonize"))
		return daemonize(argv[0], argv[2], argv[3]);
	fprintf(stderr, "usage: hostile forkbomb [MAX] | memhog [MAX_MIB] | fill PATH [MAX_MIB]"
			" | metafill DIR [MAX] | inodes DIR [MAX] | churn DIR SECONDS THREADS | heavywrite PATH | daemonize MARKER exit|stay | sleeper MARKER\n");
	return 2;
}
