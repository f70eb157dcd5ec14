// SPDX-License-Identifier: Apache-2.0
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "util.h"

#define AUDIT_FLUSH_BYTES (64 * 1024)
/* Room past the cap for the events that close a log: audit_truncated, exit. */
#define AUDIT_RESERVE 4096
/* Identical events let through per key and second; the rest are summed up. */
#define AUDIT_BURST 8
/* Keys the rate limiter tracks (a power of two); a collision just shares a slot. */
#define AUDIT_KEYS 1024

/*
 * One kind of event for the rate limiter: the event name and its fields
 * but the pid and command name.  Past AUDIT_BURST in one second the
 * events are counted, not written, and one "suppressed" event gives the
 * count and the times of the first and last of them.
 */
struct audit_key {
	uint64_t hash;
	char *event;
	char *fields;
	int64_t window;        /* the second (CLOCK_MONOTONIC) being counted */
	uint32_t in_window;
	uint64_t suppressed;
	char first[40], last[40];
};

struct audit {
	int fd;
	bool all;
	/* The cap: events past it are dropped, and one audit_truncated says so. */
	uint64_t max;              /* 0: none */
	_Atomic int64_t size;      /* the log's size as far as this process knows */
	atomic_bool truncated;
	atomic_uint_fast64_t dropped;
	pthread_mutex_t rl_lock;   /* guards keys */
	struct audit_key *keys;
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
	struct stat st;

	if (!a)
		return -ENOMEM;
	a->fd = fd;
	a->all = all;
	a->max = AUDIT_MAX_DEFAULT;
	a->size = fstat(fd, &st) == 0 ? st.st_size : 0;
	pthread_mutex_init(&a->lock, NULL);
	pthread_mutex_init(&a->rl_lock, NULL);
	pthread_cond_init(&a->wake, NULL);
	*out = a;
	return 0;
}

void audit_set_max(struct audit *a, uint64_t max)
{
	if (a)
		a->max = max;
}

uint64_t audit_count_dropped(const struct audit *a)
{
	return a ? atomic_load(&a->dropped) : 0;
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

/*
 * Another process may append to the same log (fence-run and its daemon):
 * the file's size, plus what is still pending here, is what counts.
 */
static void resync_size(struct audit *a)
{
	struct stat st;
	size_t pending;

	if (fstat(a->fd, &st) < 0 || !S_ISREG(st.st_mode))
		return;
	pthread_mutex_lock(&a->lock);
	pending = a->pending.len;
	pthread_mutex_unlock(&a->lock);
	atomic_store(&a->size, (int64_t)st.st_size + (int64_t)pending);
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
	resync_size(a);
	return r;
}

static void emit_summaries(struct audit *a, bool all);

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
		emit_summaries(a, false);
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
	emit_summaries(a, true);
	(void)audit_flush(a);
	if (a->fd >= 0)
		(void)close(a->fd);
	buf_free(&a->pending);
	if (a->keys) {
		size_t k;

		for (k = 0; k < AUDIT_KEYS; k++) {
			free(a->keys[k].event);
			free(a->keys[k].fields);
		}
		free(a->keys);
	}
	pthread_mutex_destroy(&a->rl_lock);
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

static void count_event(struct audit *a, const char *event)
{
	if (!strcmp(event, "deny"))
		atomic_fetch_add(&a->denied, 1);
	else if (!strcmp(event, "write"))
		atomic_fetch_add(&a->written, 1);
}

/* Queues or writes one finished line. */
static void put_line(struct audit *a, const struct buf *line)
{
	if (!a->buffered) {
		(void)write_all(a, line->data, line->len);
		return;
	}
	pthread_mutex_lock(&a->lock);
	buf_add(&a->pending, line->data, line->len);
	if (a->pending.oom) {
		buf_free(&a->pending);
		pthread_mutex_unlock(&a->lock);
		report_failure(a, ENOMEM, line->len);
		return;
	}
	if (a->pending.len >= AUDIT_FLUSH_BYTES)
		pthread_cond_signal(&a->wake);
	pthread_mutex_unlock(&a->lock);
}

static void emit_line(struct audit *a, const char *event, const char *fields, bool closing);

/*
 * Under the cap, or the cap's reserve for CLOSING events: LEN more bytes
 * may go.  The first refusal writes the audit_truncated event.
 */
static bool room_for(struct audit *a, size_t len, bool closing)
{
	int64_t limit = (int64_t)a->max + (closing ? AUDIT_RESERVE : 0);

	if (!a->max || atomic_load(&a->size) + (int64_t)len <= limit) {
		atomic_fetch_add(&a->size, (int64_t)len);
		return true;
	}
	atomic_fetch_add(&a->dropped, 1);
	if (!closing && !atomic_exchange(&a->truncated, true)) {
		char f[96];

		snprintf(f, sizeof(f), "\"max\":%llu", (unsigned long long)a->max);
		emit_line(a, "audit_truncated", f, true);
	}
	return false;
}

static void emit_line(struct audit *a, const char *event, const char *fields, bool closing)
{
	struct buf line = { 0 };
	char ts[40];

	fence_timestamp(ts, sizeof(ts));
	buf_addf(&line, "{\"ts\":\"%s\",\"event\":", ts);
	buf_add_json_str(&line, event);
	if (fields && *fields) {
		buf_adds(&line, ",");
		buf_adds(&line, fields);
	}
	buf_adds(&line, "}\n");
	if (line.oom)
		report_failure(a, ENOMEM, 0);
	else if (room_for(a, line.len, closing))
		put_line(a, &line);
	buf_free(&line);
}

void audit_emit(struct audit *a, const char *event, const char *fields)
{
	if (!a)
		return;
	count_event(a, event);
	/* The launcher's own start and exit events open and close the log: never cut. */
	emit_line(a, event, fields, !strcmp(event, "exit") || !strcmp(event, "start"));
}

static uint64_t hash_key(const char *event, const char *fields)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	const char *p;

	for (p = event; *p; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
	h = (h ^ 0xff) * 0x100000001b3ULL;
	for (p = fields; *p; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
	return h;
}

static int64_t now_second(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* A "suppressed" event for slot K (rl_lock held) into OUT; the count restarts. */
static void summary_of(struct audit_key *k, struct buf *out)
{
	buf_adds(out, "\"of\":");
	buf_add_json_str(out, k->event);
	buf_adds(out, ",");
	buf_adds(out, k->fields);
	buf_addf(out, ",\"count\":%llu,\"first\":\"%s\",\"last\":\"%s\"",
		 (unsigned long long)k->suppressed, k->first, k->last);
	k->suppressed = 0;
}

/*
 * Whether an event of kind (EVENT, KEYFIELDS) may be written now; if not,
 * it is counted in its slot.  A slot taken by another kind first gives
 * that kind's summary out.
 */
static bool rate_ok(struct audit *a, const char *event, const char *keyfields)
{
	uint64_t h = hash_key(event, keyfields);
	int64_t sec = now_second();
	struct buf sum = { 0 };
	struct audit_key *k;
	bool ok = true;

	pthread_mutex_lock(&a->rl_lock);
	if (!a->keys)
		a->keys = calloc(AUDIT_KEYS, sizeof(*a->keys));
	if (!a->keys) {
		pthread_mutex_unlock(&a->rl_lock);
		return true;
	}
	k = &a->keys[h & (AUDIT_KEYS - 1)];
	if (k->hash != h || !k->event || strcmp(k->event, event) || strcmp(k->fields, keyfields)) {
		if (k->suppressed)
			summary_of(k, &sum);
		free(k->event);
		free(k->fields);
		k->event = strdup(event);
		k->fields = strdup(keyfields);
		k->hash = h;
		k->window = sec;
		k->in_window = 0;
		if (!k->event || !k->fields) {
			free(k->event);
			free(k->fields);
			k->event = k->fields = NULL;
		}
	} else if (k->window != sec) {
		if (k->suppressed)
			summary_of(k, &sum);
		k->window = sec;
		k->in_window = 0;
	}
	if (k->in_window < AUDIT_BURST) {
		k->in_window++;
	} else {
		char ts[40];

		fence_timestamp(ts, sizeof(ts));
		if (!k->suppressed)
			snprintf(k->first, sizeof(k->first), "%s", ts);
		snprintf(k->last, sizeof(k->last), "%s", ts);
		k->suppressed++;
		ok = false;
	}
	pthread_mutex_unlock(&a->rl_lock);
	if (sum.len && !sum.oom)
		emit_line(a, "suppressed", sum.data, false);
	buf_free(&sum);
	return ok;
}

/* Gives out the summaries of slots whose second is over (ALL: every one). */
static void emit_summaries(struct audit *a, bool all)
{
	int64_t sec = now_second();
	struct buf sums = { 0 };
	size_t k;
	char *p, *nl;

	/* Gathered under the lock, one per line (JSON fields hold no raw newline), written after. */
	pthread_mutex_lock(&a->rl_lock);
	for (k = 0; a->keys && k < AUDIT_KEYS; k++) {
		struct audit_key *key = &a->keys[k];

		if (!key->suppressed || (!all && key->window == sec))
			continue;
		summary_of(key, &sums);
		buf_add(&sums, "\n", 1);
	}
	pthread_mutex_unlock(&a->rl_lock);
	if (sums.oom) {
		report_failure(a, ENOMEM, 0);
	} else if (sums.len) {
		buf_add(&sums, "", 1);
		for (p = sums.data; (nl = strchr(p, '\n')); p = nl + 1) {
			*nl = '\0';
			emit_line(a, "suppressed", p, false);
		}
	}
	buf_free(&sums);
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
	count_event(a, event);
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
	/* Identical events (pid and command aside) are rate-limited. */
	if (b.oom || !rate_ok(a, event, b.data)) {
		buf_free(&b);
		return;
	}
	if (!comm) {
		read_proc_comm(pid, own, sizeof(own));
		comm = own;
	}
	buf_addf(&b, ",\"pid\":%d,\"comm\":", (int)pid);
	buf_add_json_str(&b, comm);
	emit_line(a, event, b.oom ? NULL : b.data, false);
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
