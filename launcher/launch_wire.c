// SPDX-License-Identifier: Apache-2.0
/*
 * launch_wire.c - the datagrams of long-lived sandboxes (launch_session.h):
 * framing with fds, the EXEC payload, and the pure checks of names and
 * options that the parser and the unit tests call.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "launch_session.h"
#include "util.h"

#define WIRE_MAX_FDS 3

int launch_wire_send(int sock, struct launch_wire *h, const void *payload, size_t len,
		     const int *fds, int nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * WIRE_MAX_FDS)];
		struct cmsghdr align;
	} u;
	struct iovec iov[2] = {{h, sizeof(*h)}, {(void *)payload, len}};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};
	ssize_t n;

	if (len > LAUNCH_WIRE_MAX_PAYLOAD || nfds < 0 || nfds > WIRE_MAX_FDS)
		return -EMSGSIZE;
	h->len = (uint32_t)len;
	if (nfds > 0) {
		struct cmsghdr *c;

		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
	}
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == (ssize_t)(sizeof(*h) + len) ? 0 : -EIO;
}

int launch_wire_recv(int sock, struct launch_wire *h, char *buf, size_t cap, int *fds, int *nfds)
{
	/* Room for more fds than we take, so that extra ones are seen (and
	 * closed) rather than silently dropped with MSG_CTRUNC. */
	union {
		char buf[CMSG_SPACE(sizeof(int) * 16)];
		struct cmsghdr align;
	} u;
	struct iovec iov[2] = {{h, sizeof(*h)}, {buf, cap}};
	struct msghdr mh = {
	    .msg_iov = iov, .msg_iovlen = 2, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
	struct cmsghdr *c;
	int got = 0, bad = 0;
	ssize_t n;

	*nfds = 0;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -EPIPE;
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		size_t i, k;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (fds && got < WIRE_MAX_FDS)
				fds[got++] = fd;
			else {
				(void)close(fd);
				bad = 1;
			}
		}
	}
	*nfds = got;
	if (bad || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || n < (ssize_t)sizeof(*h) ||
	    h->len != (size_t)n - sizeof(*h) || h->len > cap) {
		while (got > 0)
			(void)close(fds[--got]);
		*nfds = 0;
		return (mh.msg_flags & MSG_TRUNC) ? -EMSGSIZE : -EPROTO;
	}
	buf[h->len] = '\0';
	return 0;
}

bool launch_session_name_valid(const char *name)
{
	size_t i, n = name ? strlen(name) : 0;

	if (n == 0 || n > LAUNCH_SESSION_NAME_MAX || !strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	for (i = 0; i < n; i++) {
		char ch = name[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-'))
			return false;
	}
	return true;
}

bool launch_session_is_client(const struct fence_run_config *c)
{
	return c->in || c->list || c->stop || c->stop_all || c->pause || c->resume;
}

static int check_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int check_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int check_name(const char *opt, const char *name, char *err, size_t errlen)
{
	if (launch_session_name_valid(name))
		return 0;
	return check_fail(err, errlen, "%s '%s': a name is 1-64 of A-Z a-z 0-9 _ . -", opt, name);
}

/* Options that shape a sandbox: they belong to --detach (or a one-shot
 * run), never to a client of a sandbox that already exists. */
static const char *sandbox_option(const struct fence_run_config *c)
{
	if (strcmp(c->codebase, "."))
		return "--codebase";
	if (c->policy_file)
		return "--policy";
	if (c->nrules)
		return "--rule";
	if (c->delta)
		return "--delta";
	if (c->apply)
		return "--apply";
	if (c->net_host)
		return "--net";
	if (c->memory)
		return "--memory";
	if (c->cpus > 0)
		return "--cpus";
	if (c->max_delta)
		return "--max-delta";
	if (c->nbinds)
		return "--bind-ro";
	if (c->user)
		return "--user";
	if (c->audit)
		return "--audit";
	if (c->unsafe_no_cgroup)
		return "--unsafe-no-cgroup";
	return NULL;
}

int launch_session_check(const struct fence_run_config *c, char *err, size_t errlen)
{
	int modes = !!c->detach + !!c->in + !!c->list + !!(c->stop || c->stop_all) + !!c->pause +
		    !!c->resume;
	const char *opt;

	if (modes > 1)
		return check_fail(err, errlen,
				  "--detach, --in, --list, --stop, --pause and "
				  "--resume do not combine");
	if (c->name && !c->detach)
		return check_fail(err, errlen, "--name needs --detach");
	if (c->json && !c->list)
		return check_fail(err, errlen, "--json needs --list");
	if ((c->ttl > 0 || c->idle_timeout > 0) && !c->detach)
		return check_fail(err, errlen, "--ttl and --idle-timeout need --detach");
	if (c->tty && !c->in)
		return check_fail(err, errlen, "--tty needs --in");
	if (c->stop_all && c->stop)
		return check_fail(err, errlen, "--stop takes a NAME or --all, not both");
	if (c->detach) {
		if (!c->name)
			return check_fail(err, errlen, "--detach needs --name NAME");
		if (check_name("--name", c->name, err, errlen) < 0)
			return -EINVAL;
		if (c->timeout > 0)
			return check_fail(err, errlen,
					  "--timeout is per command: give it to --in "
					  "(--ttl bounds the sandbox)");
		if (c->result)
			return check_fail(err, errlen, "--result is per command: give it to --in");
		if (c->apply)
			return check_fail(err, errlen,
					  "--apply does not apply to --detach: run "
					  "'fencefs commit' after --stop");
		/* The command, if any, is optional: a main process. */
		if (c->command && !*c->command[0])
			return check_fail(err, errlen, "empty command name");
		return 1;
	}
	if (!launch_session_is_client(c))
		return 0;
	if ((opt = sandbox_option(c)) ||
	    (opt = c->preset && strcmp(c->preset, LAUNCH_DEFAULT_PRESET) ? "--preset" : NULL))
		return check_fail(err, errlen,
				  "%s belongs to --detach, not to a client of a "
				  "running sandbox",
				  opt);
	if (c->in) {
		if (check_name("--in", c->in, err, errlen) < 0)
			return -EINVAL;
		if (!c->command)
			return check_fail(err, errlen, "no command given");
		if (!*c->command[0])
			return check_fail(err, errlen, "empty command name");
		return 1;
	}
	if (c->command)
		return check_fail(err, errlen, "unexpected argument '%s'", c->command[0]);
	if (c->workdir || c->nenv || c->nenv_pass || c->timeout > 0 || c->result)
		return check_fail(err, errlen,
				  "--workdir, --env, --env-pass, --timeout and "
				  "--result belong to --in");
	if (c->stop && check_name("--stop", c->stop, err, errlen) < 0)
		return -EINVAL;
	if (c->pause && check_name("--pause", c->pause, err, errlen) < 0)
		return -EINVAL;
	if (c->resume && check_name("--resume", c->resume, err, errlen) < 0)
		return -EINVAL;
	return 1;
}

int launch_session_base(char *out, size_t outlen, bool root, const char *(*get)(const char *key),
			char *err, size_t errlen)
{
	const char *v = get("FENCE_RUN_STATE_DIR");
	int n;

	if (v && *v)
		n = snprintf(out, outlen, "%s", v);
	else if (root)
		n = snprintf(out, outlen, "/run/fence-run");
	else if ((v = get("XDG_RUNTIME_DIR")) && *v)
		n = snprintf(out, outlen, "%s/fence-run", v);
	else {
		snprintf(err, errlen,
			 "XDG_RUNTIME_DIR is not set: long-lived sandboxes keep their "
			 "state there (or in $FENCE_RUN_STATE_DIR)");
		return -ENOENT;
	}
	if (n < 0 || (size_t)n >= outlen || out[0] != '/') {
		snprintf(err, errlen,
			 "the state directory must be an absolute path of less "
			 "than %zu bytes",
			 outlen);
		return -EINVAL;
	}
	return 0;
}

void launch_exec_encode(struct buf *b, const char *workdir, char *const *argv, size_t argc,
			char *const *env, size_t envc)
{
	size_t i;

	buf_add(b, workdir, strlen(workdir) + 1);
	for (i = 0; i < argc; i++)
		buf_add(b, argv[i], strlen(argv[i]) + 1);
	for (i = 0; i < envc; i++)
		buf_add(b, env[i], strlen(env[i]) + 1);
}

int launch_exec_decode(char *buf, size_t len, uint32_t argc, uint32_t envc, const char **workdir,
		       char ***argv, char ***env)
{
	char **a, **e, *p = buf, *end = buf + len;
	uint32_t i;

	*argv = *env = NULL;
	if (argc < 1 || argc > LAUNCH_WIRE_MAX_ARGS || envc > LAUNCH_WIRE_MAX_ARGS || len == 0 ||
	    buf[len - 1] != '\0')
		return -EPROTO;
	a = calloc((size_t)argc + 1, sizeof(*a));
	e = calloc((size_t)envc + 1, sizeof(*e));
	if (!a || !e) {
		free(a);
		free(e);
		return -ENOMEM;
	}
	*workdir = p;
	p += strlen(p) + 1;
	for (i = 0; i < argc + envc; i++) {
		if (p >= end)
			goto out_bad;
		if (i < argc)
			a[i] = p;
		else
			e[i - argc] = p;
		p += strlen(p) + 1;
	}
	if (p != end || !*a[0])
		goto out_bad;
	for (i = 0; i < envc; i++) {
		const char *eq = strchr(e[i], '=');

		if (!eq || eq == e[i])
			goto out_bad;
	}
	*argv = a;
	*env = e;
	return 0;
out_bad:
	free(a);
	free(e);
	return -EPROTO;
}
