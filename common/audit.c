// SPDX-License-Identifier: Apache-2.0
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "util.h"

#define AUDIT_FLUSH_BYTES (64 * 1024)

struct audit {
	int fd;
	bool all;
	/* lock guards pending, stop and the writer's wake-up */
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct buf pending;
	bool buffered;
	bool stop;
	pthread_t writer;
	atomic_bool failed;
	atomic_bool reported;
	atomic_uint_fast64_t denied;
	atomic_uint_fast64_t written;
	atomic_uint_fast64_t lost;
};

int audit_open_fd(int fd, bool all, struct audit **out)
{
	struct audit *a = calloc(1, sizeof(*a));

	if (!a)
		return -ENOMEM;
	a->fd = fd;
	a->all = all;
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->wake, NULL);
	*out = a;
	return 0;
}

int audit_open(const char *path, bool all, struct audit **out)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
	int r;

	if (fd < 0)
		return -errno;
	r = audit_open_fd(fd, all, out);
	if (r < 0)
		close(fd);
	return r;
}

static void report_failure(struct audit *a, int err, size_t bytes)
{
	atomic_store(&a->failed, true);
	atomic_fetch_add(&a->lost, 1);
	if (!atomic_exchange(&a->reported, true))
		fprintf(stderr, "%s: audit log write failed: %s; %zu bytes of events lost\n",
			program_invocation_short_name, strerror(err), bytes);
}

/* One write() of whole lines; a short write is retried for the rest. */
static int write_all(struct audit *a, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(a->fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int err = n < 0 ? errno : EIO;

			report_failure(a, err, len);
			return -err;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

int audit_flush(struct audit *a)
{
	struct buf out = { 0 };
	int r = 0;

	if (!a)
		return 0;
	pthread_mutex_lock(&a->lock);
	out = a->pending;
	a->pending = (struct buf){ 0 };
	pthread_mutex_unlock(&a->lock);
	if (out.len)
		r = write_all(a, out.data, out.len);
	buf_free(&out);
	return r;
}

static void *writer_main(void *arg)
{
	struct audit *a = arg;
	bool stop;

	for (;;) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_mutex_lock(&a->lock);
		if (!a->stop && a->pending.len < AUDIT_FLUSH_BYTES)
			pthread_cond_timedwait(&a->wake, &a->lock, &ts);
		stop = a->stop;
		pthread_mutex_unlock(&a->lock);
		(void)audit_flush(a);
		if (stop)
			return NULL;
	}
}

int audit_start_writer(struct audit *a)
{
	int r;

	if (a->buffered)
		return 0;
	a->buffered = true;
	r = pthread_create(&a->writer, NULL, writer_main, a);
	if (r) {
		a->buffered = false;
		return -r;
	}
	return 0;
}

void audit_close(struct audit *a)
{
	if (!a)
		return;
	if (a->buffered) {
		pthread_mutex_lock(&a->lock);
		a->stop = true;
		pthread_cond_signal(&a->wake);
		pthread_mutex_unlock(&a->lock);
		pthread_join(a->writer, NULL);
	}
	(void)audit_flush(a);
	if (a->fd >= 0)
		(void)close(a->fd);
	buf_free(&a->pending);
	pthread_mutex_destroy(&a->lock);
	pthread_cond_destroy(&a->wake);
	free(a);
}

bool audit_wants_all(const struct audit *a)
{
	return a && a->all;
}

bool audit_failed(const struct audit *a)
{
	return a && atomic_load(&a->failed);
}

uint64_t audit_count_denied(const struct audit *a)
{
	return a ? atomic_load(&a->denied) : 0;
}

uint64_t audit_count_written(const struct audit *a)
{
	return a ? atomic_load(&a->written) : 0;
}

void audit_emit(struct audit *a, const char *event, const char *fields)
{
	struct buf line = { 0 };
	char ts[40];

	if (!a)
		return;
	if (!strcmp(event, "deny"))
		atomic_fetch_add(&a->denied, 1);
	else if (!strcmp(event, "write"))
		atomic_fetch_add(&a->written, 1);
	fence_timestamp(ts, sizeof(ts));
	buf_addf(&line, "{\"ts\":\"%s\",\"event\":", ts);
	buf_add_json_str(&line, event);
	if (fields && *fields) {
		buf_adds(&line, ",");
		buf_adds(&line, fields);
	}
	buf_adds(&line, "}\n");
	if (line.oom) {
		report_failure(a, ENOMEM, 0);
		buf_free(&line);
		return;
	}
	if (!a->buffered) {
		(void)write_all(a, line.data, line.len);
	} else {
		pthread_mutex_lock(&a->lock);
		buf_add(&a->pending, line.data, line.len);
		if (a->pending.oom) {
			buf_free(&a->pending);
			pthread_mutex_unlock(&a->lock);
			report_failure(a, ENOMEM, line.len);
			buf_free(&line);
			return;
		}
		if (a->pending.len >= AUDIT_FLUSH_BYTES)
			pthread_cond_signal(&a->wake);
		pthread_mutex_unlock(&a->lock);
	}
	buf_free(&line);
}

void audit_read_comm(const char *path, char *comm, size_t len)
{
	ssize_t n;
	int fd;

	comm[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, comm, len - 1);
	(void)close(fd);
	if (n > 0) {
		comm[n] = '\0';
		comm[strcspn(comm, "\n")] = '\0';
	}
}

static void read_proc_comm(pid_t pid, char *comm, size_t len)
{
	char path[64];

	comm[0] = '\0';
	if (pid <= 0)
		return;
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	audit_read_comm(path, comm, len);
}

void audit_op(struct audit *a, const char *event, const char *op, const char *path,
	      const char *path2, const char *level, int err, pid_t pid, const char *comm)
{
	struct buf b = { 0 };
	char own[64];

	if (!a)
		return;
	buf_adds(&b, "\"op\":");
	buf_add_json_str(&b, op);
	buf_adds(&b, ",\"path\":");
	buf_add_json_str(&b, path);
	if (path2) {
		buf_adds(&b, ",\"path2\":");
		buf_add_json_str(&b, path2);
	}
	if (level) {
		buf_adds(&b, ",\"level\":");
		buf_add_json_str(&b, level);
		buf_addf(&b, ",\"errno\":\"%s\"", fence_errno_name(err));
	}
	if (!comm) {
		read_proc_comm(pid, own, sizeof(own));
		comm = own;
	}
	buf_addf(&b, ",\"pid\":%d,\"comm\":", (int)pid);
	buf_add_json_str(&b, comm);
	audit_emit(a, event, b.oom ? NULL : b.data);
	buf_free(&b);
}

void audit_deny(struct audit *a, const char *op, const char *path, const char *level, int err,
		pid_t pid)
{
	audit_op(a, "deny", op, path, NULL, level, err, pid, NULL);
}

void audit_access(struct audit *a, const char *event, const char *op, const char *path,
		  const char *path2, pid_t pid)
{
	audit_op(a, event, op, path, path2, NULL, 0, pid, NULL);
}
