// SPDX-License-Identifier: Apache-2.0
/*
 * launch_result.c - the --result object, audit event fields and the
 * command's environment (see the header).
 */
#include "launch_result.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SANDBOX_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static void add_bool(struct buf *b, const char *key, bool v)
{
	buf_addf(b, ",\"%s\":%s", key, v ? "true" : "false");
}

static void add_str_or_null(struct buf *b, const char *key, const char *v)
{
	buf_addf(b, ",\"%s\":", key);
	if (v)
		buf_add_json_str(b, v);
	else
		buf_adds(b, "null");
}

/* True when S (trimmed) looks like one JSON object; the commit tool is
 * trusted to produce valid JSON when it says it does. */
static bool is_json_object(const char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')
		s++;
	n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		n--;
	return n >= 2 && s[0] == '{' && s[n - 1] == '}';
}

/* The outcome both --result and the audit "exit" event report: signal,
 * timed_out, oom_killed and the three times. */
static void add_outcome(const struct launch_result *r, struct buf *b)
{
	buf_adds(b, ",\"signal\":");
	if (r->signal)
		buf_addf(b, "%d", r->signal);
	else
		buf_adds(b, "null");
	add_bool(b, "timed_out", r->timed_out);
	add_bool(b, "oom_killed", r->oom_killed);
	buf_addf(b, ",\"wall_seconds\":%.6f,\"user_seconds\":%.6f,\"sys_seconds\":%.6f",
		 r->wall_seconds, r->user_seconds, r->sys_seconds);
}

void launch_result_json(const struct launch_result *r, struct buf *b)
{
	buf_addf(b, "{\"exit_code\":%d", r->exit_code);
	add_outcome(r, b);
	buf_addf(b, ",\"peak_memory_bytes\":%" PRIu64 ",\"denied\":%" PRIu64 ",\"written\":%" PRIu64,
		 r->peak_memory_bytes, r->denied, r->written);
	add_str_or_null(b, "delta", r->delta);
	if (r->apply_json && is_json_object(r->apply_json)) {
		const char *s = r->apply_json;
		size_t n;

		while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')
			s++;
		n = strlen(s);
		while (n && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\t' ||
			     s[n - 1] == '\r'))
			n--;
		buf_adds(b, ",\"apply\":");
		buf_add(b, s, n);
	} else {
		add_str_or_null(b, "apply", r->apply_json);
	}
	add_str_or_null(b, "error", r->error);
	buf_adds(b, "}");
}

int launch_result_write(int fd, const struct launch_result *r)
{
	struct buf b = { 0 };
	size_t off = 0;
	int ret = 0;

	launch_result_json(r, &b);
	buf_adds(&b, "\n");
	if (b.oom) {
		buf_free(&b);
		return -ENOMEM;
	}
	if (ftruncate(fd, 0) < 0 && errno != EINVAL) {
		ret = -errno;
		goto out;
	}
	while (off < b.len) {
		ssize_t n = pwrite(fd, b.data + off, b.len - off, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			goto out;
		}
		off += (size_t)n;
	}
out:
	buf_free(&b);
	return ret;
}

void launch_audit_start_fields(const struct fence_run_config *c, int argc, char **argv,
			       const char *codebase, const char *digest, struct buf *b)
{
	int i;

	buf_adds(b, "\"tool\":\"fence-run\",\"argv\":[");
	for (i = 0; i < argc; i++) {
		if (i)
			buf_adds(b, ",");
		buf_add_json_str(b, argv[i]);
	}
	buf_adds(b, "],\"codebase\":");
	buf_add_json_str(b, codebase);
	buf_addf(b, ",\"policy_digest\":\"%s\",\"pid\":%d", digest, (int)getpid());
	buf_addf(b, ",\"limits\":{\"timeout_seconds\":%.3f,\"memory_bytes\":%" PRIu64
		    ",\"pids\":%" PRIu64 ",\"cpus\":%.3f,\"max_delta_bytes\":%" PRIu64
		    ",\"tmp_bytes\":%" PRIu64 ",\"net\":\"%s\"}",
		 c->timeout, c->memory, c->pids, c->cpus, c->max_delta, c->tmp_size,
		 c->net_host ? "host" : "none");
}

void launch_audit_exit_fields(const struct launch_result *r, struct buf *b)
{
	buf_addf(b, "\"status\":%d", r->exit_code);
	add_outcome(r, b);
	buf_addf(b, ",\"peak_memory_bytes\":%" PRIu64, r->peak_memory_bytes);
	add_str_or_null(b, "error", r->error);
}

void launch_env_free(char **envp)
{
	size_t i;

	if (!envp)
		return;
	for (i = 0; envp[i]; i++)
		free(envp[i]);
	free(envp);
}

/* Sets KEY=VALUE (KEYLEN bytes of key) in the array, replacing an old one. */
static bool env_set(char ***envp, size_t *n, const char *key, size_t keylen, const char *value)
{
	char *kv, **e;
	size_t i;

	if (asprintf(&kv, "%.*s=%s", (int)keylen, key, value) < 0)
		return false;
	for (i = 0; i < *n; i++) {
		if (!strncmp((*envp)[i], key, keylen) && (*envp)[i][keylen] == '=') {
			free((*envp)[i]);
			(*envp)[i] = kv;
			return true;
		}
	}
	e = realloc(*envp, (*n + 2) * sizeof(*e));
	if (!e) {
		free(kv);
		return false;
	}
	e[(*n)++] = kv;
	e[*n] = NULL;
	*envp = e;
	return true;
}

char **launch_env_build(const struct fence_run_config *c, const char *(*get)(const char *key))
{
	char **envp = calloc(1, sizeof(*envp));
	size_t n = 0, i;
	const char *term = get("TERM");
	bool ok;

	if (!envp)
		return NULL;
	/* HOME is /tmp: /workspace may well be read-only. */
	ok = env_set(&envp, &n, "PATH", 4, SANDBOX_PATH) && env_set(&envp, &n, "HOME", 4, "/tmp") &&
	     env_set(&envp, &n, "LANG", 4, "C.UTF-8");
	if (ok && term)
		ok = env_set(&envp, &n, "TERM", 4, term);
	for (i = 0; ok && i < c->nenv_pass; i++) {
		const char *v = get(c->env_pass[i]);

		if (v)
			ok = env_set(&envp, &n, c->env_pass[i], strlen(c->env_pass[i]), v);
	}
	for (i = 0; ok && i < c->nenv; i++) {
		const char *eq = strchr(c->env[i], '=');

		ok = env_set(&envp, &n, c->env[i], (size_t)(eq - c->env[i]), eq + 1);
	}
	if (!ok) {
		launch_env_free(envp);
		return NULL;
	}
	return envp;
}
