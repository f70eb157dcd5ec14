// SPDX-License-Identifier: Apache-2.0
/*
 * launch_config.c - fence-run's option parser (minijail0_cli.c's role: a
 * parser unit tests can call).  getopt_long with a leading '+' stops at
 * the first word that is not an option, so "fence-run ls -l" and
 * "fence-run -- ls -l" both run "ls -l", and nothing after "--" is ever
 * taken as an option.
 */
#include "launch_config.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "launch_session.h"
#include "util.h"

enum {
	OPT_CODEBASE = 256,
	OPT_PRESET,
	OPT_POLICY,
	OPT_RULE,
	OPT_DELTA,
	OPT_APPLY,
	OPT_WORKDIR,
	OPT_ENV,
	OPT_ENV_PASS,
	OPT_NET,
	OPT_TIMEOUT,
	OPT_MEMORY,
	OPT_PIDS,
	OPT_CPUS,
	OPT_MAX_DELTA,
	OPT_TMP_SIZE,
	OPT_FD_CACHE,
	OPT_BIND_RO,
	OPT_USER,
	OPT_AUDIT,
	OPT_AUDIT_ALL,
	OPT_AUDIT_MAX,
	OPT_RESULT,
	OPT_QUIET,
	OPT_UNSAFE_NO_CGROUP,
	OPT_VERSION,
	OPT_NAME,
	OPT_DETACH,
	OPT_IN,
	OPT_LIST,
	OPT_JSON,
	OPT_STOP,
	OPT_ALL,
	OPT_PAUSE,
	OPT_RESUME,
	OPT_TTL,
	OPT_IDLE_TIMEOUT,
	OPT_TTY,
};

static const struct option long_options[] = {
	{ "codebase", required_argument, NULL, OPT_CODEBASE },
	{ "preset", required_argument, NULL, OPT_PRESET },
	{ "policy", required_argument, NULL, OPT_POLICY },
	{ "rule", required_argument, NULL, OPT_RULE },
	{ "delta", required_argument, NULL, OPT_DELTA },
	{ "apply", no_argument, NULL, OPT_APPLY },
	{ "workdir", required_argument, NULL, OPT_WORKDIR },
	{ "env", required_argument, NULL, OPT_ENV },
	{ "env-pass", required_argument, NULL, OPT_ENV_PASS },
	{ "net", required_argument, NULL, OPT_NET },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "memory", required_argument, NULL, OPT_MEMORY },
	{ "pids", required_argument, NULL, OPT_PIDS },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "max-delta", required_argument, NULL, OPT_MAX_DELTA },
	{ "tmp-size", required_argument, NULL, OPT_TMP_SIZE },
	{ "fd-cache", required_argument, NULL, OPT_FD_CACHE },
	{ "bind-ro", required_argument, NULL, OPT_BIND_RO },
	{ "user", required_argument, NULL, OPT_USER },
	{ "audit", required_argument, NULL, OPT_AUDIT },
	{ "audit-all", no_argument, NULL, OPT_AUDIT_ALL },
	{ "audit-max", required_argument, NULL, OPT_AUDIT_MAX },
	{ "result", required_argument, NULL, OPT_RESULT },
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ "unsafe-no-cgroup", no_argument, NULL, OPT_UNSAFE_NO_CGROUP },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "name", required_argument, NULL, OPT_NAME },
	{ "detach", no_argument, NULL, OPT_DETACH },
	{ "in", required_argument, NULL, OPT_IN },
	{ "list", no_argument, NULL, OPT_LIST },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "stop", required_argument, NULL, OPT_STOP },
	{ "all", no_argument, NULL, OPT_ALL },
	{ "pause", required_argument, NULL, OPT_PAUSE },
	{ "resume", required_argument, NULL, OPT_RESUME },
	{ "ttl", required_argument, NULL, OPT_TTL },
	{ "idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT },
	{ "tty", no_argument, NULL, OPT_TTY },
	{ NULL, 0, NULL, 0 },
};

void launch_usage(FILE *f)
{
	fprintf(f,
		"usage: fence-run [OPTIONS] [--] COMMAND [ARG...]\n"
		"       fence-run --name NAME --detach [OPTIONS] [--ttl D] [--idle-timeout D]\n"
		"                 [-- COMMAND [ARG...]]\n"
		"       fence-run --in NAME [--tty] [--workdir P] [--env K=V]... [--timeout D]\n"
		"                 [--result F] -- COMMAND [ARG...]\n"
		"       fence-run --list [--json] | --stop NAME | --stop --all | --pause NAME |\n"
		"                 --resume NAME\n"
		"Run COMMAND in a sandbox whose /workspace is the codebase seen through a\n"
		"fencefs policy; writes go to a copy-on-write delta.\n"
		"\n"
		"  --codebase DIR         codebase to mount at /workspace (default: .)\n"
		"  --preset NAME          base policy (default: agent-safe unless --policy)\n"
		"  --policy FILE          policy file (fence-policy(5))\n"
		"  --rule LEVEL=PATTERN   add a rule (repeatable; last match wins)\n"
		"  --delta DIR            keep the delta in DIR (default: private, removed)\n"
		"  --apply                commit the delta into the codebase after exit 0\n"
		"  --workdir PATH         working directory inside /workspace\n"
		"  --env KEY=VALUE        set a variable (repeatable)\n"
		"  --env-pass KEY         pass a variable from the caller (repeatable)\n"
		"  --net none|host        network: loopback only (default) or the host's\n"
		"  --timeout DURATION     kill everything after DURATION (s, m, h); exit 124\n"
		"  --memory BYTES         memory limit (K, M, G suffixes)\n"
		"  --pids N               task limit (default: %d)\n"
		"  --cpus N               CPU quota, fractions allowed\n"
		"  --max-delta BYTES      how much the delta may grow\n"
		"  --tmp-size BYTES       size of the private /tmp (default: 256M)\n"
		"  --fd-cache N           fds the fencefs daemon may keep cached (min %u)\n"
		"  --bind-ro HOST[:PATH]  bind HOST read-only at PATH (repeatable)\n"
		"  --user NAME|UID        user to run as when invoked as root (default: nobody)\n"
		"  --audit FILE           append JSON Lines audit events to FILE\n"
		"  --audit-all            also log read and lookup events\n"
		"  --audit-max BYTES      cap the audit log (default: 64M)\n"
		"  --result FILE          write a JSON result object to FILE\n"
		"  --quiet                no messages but errors\n"
		"  --unsafe-no-cgroup     run without a cgroup (no memory/pids/cpu limits)\n"
		"  --help, --version\n"
		"Long-lived sandboxes (fence-run(1) LONG-LIVED SANDBOXES):\n"
		"  --name NAME --detach   start sandbox NAME ([A-Za-z0-9_.-]{1,64}) and return\n"
		"  --ttl DURATION         stop it DURATION after it started\n"
		"  --idle-timeout DURATION  stop it after DURATION without a command running\n"
		"  --in NAME              run COMMAND in the live sandbox NAME\n"
		"  --tty                  with --in: give COMMAND a pty (window size, SIGWINCH)\n"
		"  --list [--json]        list live sandboxes (stale state is cleaned)\n"
		"  --stop NAME|--all      stop sandbox NAME, or all of them\n"
		"  --pause NAME, --resume NAME  freeze / thaw every process of NAME\n"
		"\n"
		"Exit status: the command's; 128+N if it died of signal N; 124 timeout;\n"
		"125 fence-run failed; 126 cannot execute; 127 not found.  See fence-run(1).\n",
		LAUNCH_DEFAULT_PIDS, LAUNCH_FD_CACHE_MIN);
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int push(const char ***arr, size_t *n, const char *v)
{
	const char **a = realloc(*arr, (*n + 1) * sizeof(**arr));

	if (!a)
		return -ENOMEM;
	a[(*n)++] = v;
	*arr = a;
	return 0;
}

/* A path is "clean" when it has no "." or ".." component. */
static bool has_dot_component(const char *p)
{
	const char *s = p;

	while (*s) {
		size_t n;

		while (*s == '/')
			s++;
		n = strcspn(s, "/");
		if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			return true;
		s += n;
	}
	return false;
}

int launch_workdir_normalise(const char *in, char *out, size_t outlen)
{
	const char *s = in;
	size_t o = 0;

	if (!*in)
		return -EINVAL;
	if (s[0] == '/') {
		/* Absolute only when it names /workspace or something below. */
		if (strncmp(s, "/workspace", 10) || (s[10] != '\0' && s[10] != '/'))
			return -EINVAL;
		s += 10;
	}
	/* Walk components: drop "." and empty ones, refuse "..". */
	while (*s) {
		size_t n;

		while (*s == '/')
			s++;
		n = strcspn(s, "/");
		if (n == 0)
			break;
		if (n == 2 && s[0] == '.' && s[1] == '.')
			return -EINVAL;
		if (!(n == 1 && s[0] == '.')) {
			if (o + n + 2 > outlen)
				return -EINVAL;
			if (o)
				out[o++] = '/';
			memcpy(out + o, s, n);
			o += n;
		}
		s += n;
	}
	if (o >= outlen)
		return -EINVAL;
	out[o] = '\0';
	return 0;
}

/* Sandbox paths that fence-run builds itself and a bind may not cover. */
static bool bind_target_reserved(const char *path)
{
	static const char *const reserved[] = { "/proc", "/dev", "/workspace", "/tmp" };
	size_t i;

	if (!strcmp(path, "/"))
		return true;
	for (i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
		size_t n = strlen(reserved[i]);

		if (!strncmp(path, reserved[i], n) && (path[n] == '\0' || path[n] == '/'))
			return true;
	}
	return false;
}

static int parse_bind(struct fence_run_config *c, char *arg, char *err, size_t errlen)
{
	struct launch_bind *b;
	char *colon = strchr(arg, ':');
	const char *host = arg, *path = arg;

	if (colon) {
		*colon = '\0';
		path = colon + 1;
	}
	if (!*host || !*path) {
		if (colon)
			*colon = ':';
		return fail(err, errlen, "--bind-ro '%s': expected HOST[:PATH]", arg);
	}
	if (path[0] != '/' || has_dot_component(path) || bind_target_reserved(path)) {
		int r = fail(err, errlen,
			     "--bind-ro '%s': PATH must be absolute, without '.' or '..', and "
			     "outside /, /proc, /dev, /tmp and /workspace",
			     path);
		if (colon)
			*colon = ':';
		return r;
	}
	b = realloc(c->binds, (c->nbinds + 1) * sizeof(*b));
	if (!b)
		return -ENOMEM;
	c->binds = b;
	c->binds[c->nbinds].host = host;
	c->binds[c->nbinds].path = path;
	c->nbinds++;
	return 0;
}

static int parse_size_opt(const char *name, const char *v, uint64_t *out, char *err,
			  size_t errlen)
{
	if (fence_parse_size(v, out) < 0)
		return fail(err, errlen, "%s '%s': invalid size", name, v);
	return 0;
}

static bool env_key_valid(const char *k, size_t n)
{
	size_t i;

	if (n == 0)
		return false;
	for (i = 0; i < n; i++)
		if (k[i] == '=' || k[i] == '\0')
			return false;
	return true;
}

static int parse_one(struct fence_run_config *c, int opt, char *arg, char *err, size_t errlen)
{
	uint64_t u;
	char *end;

	switch (opt) {
	case OPT_CODEBASE:
		if (!*arg)
			return fail(err, errlen, "--codebase '': empty path");
		c->codebase = arg;
		return 0;
	case OPT_PRESET:
		c->preset = arg;
		return 0;
	case OPT_POLICY:
		c->policy_file = arg;
		return 0;
	case OPT_RULE:
		if (!strchr(arg, '='))
			return fail(err, errlen, "--rule '%s': expected LEVEL=PATTERN", arg);
		return push(&c->rules, &c->nrules, arg);
	case OPT_DELTA:
		if (!*arg)
			return fail(err, errlen, "--delta '': empty path");
		c->delta = arg;
		return 0;
	case OPT_APPLY:
		c->apply = true;
		return 0;
	case OPT_WORKDIR: {
		char tmp[4096];

		if (launch_workdir_normalise(arg, tmp, sizeof(tmp)) < 0)
			return fail(err, errlen, "--workdir '%s': must stay inside /workspace",
				    arg);
		c->workdir = arg;
		return 0;
	}
	case OPT_ENV: {
		const char *eq = strchr(arg, '=');

		if (!eq || !env_key_valid(arg, (size_t)(eq - arg)))
			return fail(err, errlen, "--env '%s': expected KEY=VALUE", arg);
		return push(&c->env, &c->nenv, arg);
	}
	case OPT_ENV_PASS:
		if (!env_key_valid(arg, strlen(arg)))
			return fail(err, errlen, "--env-pass '%s': expected a variable name", arg);
		return push(&c->env_pass, &c->nenv_pass, arg);
	case OPT_NET:
		if (!strcmp(arg, "none"))
			c->net_host = false;
		else if (!strcmp(arg, "host"))
			c->net_host = true;
		else
			return fail(err, errlen, "--net '%s': expected none or host", arg);
		return 0;
	case OPT_TIMEOUT:
		if (fence_parse_duration(arg, &c->timeout) < 0)
			return fail(err, errlen, "--timeout '%s': invalid duration", arg);
		return 0;
	case OPT_MEMORY:
		if (parse_size_opt("--memory", arg, &c->memory, err, errlen) < 0)
			return -EINVAL;
		/* Below a few MiB nothing starts; say so instead of an odd OOM. */
		if (c->memory < (4ULL << 20))
			return fail(err, errlen, "--memory '%s': at least 4M", arg);
		return 0;
	case OPT_PIDS:
		if (fence_parse_uint(arg, 1U << 22, &u) < 0 || u == 0)
			return fail(err, errlen, "--pids '%s': invalid number", arg);
		c->pids = u;
		return 0;
	case OPT_CPUS:
		errno = 0;
		c->cpus = strtod(arg, &end);
		if (errno || end == arg || *end || !isfinite(c->cpus) || c->cpus < 0.01 ||
		    c->cpus > 4096)
			return fail(err, errlen, "--cpus '%s': invalid number", arg);
		return 0;
	case OPT_MAX_DELTA:
		return parse_size_opt("--max-delta", arg, &c->max_delta, err, errlen);
	case OPT_TMP_SIZE:
		if (parse_size_opt("--tmp-size", arg, &c->tmp_size, err, errlen) < 0)
			return -EINVAL;
		if (c->tmp_size == 0)
			return fail(err, errlen, "--tmp-size '%s': invalid size", arg);
		return 0;
	case OPT_FD_CACHE:
		if (fence_parse_uint(arg, LAUNCH_FD_CACHE_MAX, &u) < 0)
			return fail(err, errlen, "--fd-cache '%s': invalid number", arg);
		if (u < LAUNCH_FD_CACHE_MIN)
			return fail(err, errlen, "--fd-cache '%s': at least %u", arg,
				    LAUNCH_FD_CACHE_MIN);
		c->fd_cache = u;
		return 0;
	case OPT_BIND_RO:
		return parse_bind(c, arg, err, errlen);
	case OPT_USER:
		if (!*arg)
			return fail(err, errlen, "--user '': empty name");
		c->user = arg;
		return 0;
	case OPT_AUDIT:
		c->audit = arg;
		return 0;
	case OPT_AUDIT_ALL:
		c->audit_all = true;
		return 0;
	case OPT_AUDIT_MAX:
		if (parse_size_opt("--audit-max", arg, &c->audit_max, err, errlen) < 0)
			return -EINVAL;
		if (c->audit_max < 4096)
			return fail(err, errlen, "--audit-max '%s': at least 4K", arg);
		return 0;
	case OPT_RESULT:
		c->result = arg;
		return 0;
	case OPT_QUIET:
		c->quiet = true;
		return 0;
	case OPT_UNSAFE_NO_CGROUP:
		c->unsafe_no_cgroup = true;
		return 0;
	case 'h':
		c->help = true;
		return 0;
	case OPT_VERSION:
		c->version = true;
		return 0;
	case OPT_NAME:
		c->name = arg;
		return 0;
	case OPT_DETACH:
		c->detach = true;
		return 0;
	case OPT_IN:
		c->in = arg;
		return 0;
	case OPT_LIST:
		c->list = true;
		return 0;
	case OPT_JSON:
		c->json = true;
		return 0;
	case OPT_STOP:
		/* "--stop --all": getopt hands "--all" over as the value. */
		if (!strcmp(arg, "--all"))
			c->stop_all = true;
		else
			c->stop = arg;
		return 0;
	case OPT_ALL:
		c->stop_all = true;
		return 0;
	case OPT_PAUSE:
		c->pause = arg;
		return 0;
	case OPT_RESUME:
		c->resume = arg;
		return 0;
	case OPT_TTL:
		if (fence_parse_duration(arg, &c->ttl) < 0 || c->ttl <= 0)
			return fail(err, errlen, "--ttl '%s': invalid duration", arg);
		return 0;
	case OPT_IDLE_TIMEOUT:
		if (fence_parse_duration(arg, &c->idle_timeout) < 0 || c->idle_timeout <= 0)
			return fail(err, errlen, "--idle-timeout '%s': invalid duration", arg);
		return 0;
	case OPT_TTY:
		c->tty = true;
		return 0;
	}
	return -EINVAL;
}

int launch_config_parse(struct fence_run_config *c, int argc, char **argv, char *err,
			size_t errlen)
{
	int opt, r;

	*c = (struct fence_run_config){
		.codebase = ".",
		.pids = LAUNCH_DEFAULT_PIDS,
		.tmp_size = LAUNCH_DEFAULT_TMP_SIZE,
	};
	err[0] = '\0';
	/* optind = 0 makes glibc reinitialise, so tests can parse repeatedly. */
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+h", long_options, NULL)) != -1) {
		if (opt == '?' || opt == ':') {
			const char *bad = argv[optind - 1];

			if (optopt && optopt < 256 && bad[0] == '-' && bad[1] != '-')
				return fail(err, errlen, "unknown option '-%c'", optopt);
			/* A known long option without its value, or an unknown one. */
			for (const struct option *o = long_options; o->name; o++)
				if (o->val == optopt && optopt)
					return fail(err, errlen, "option '--%s' needs a value",
						    o->name);
			return fail(err, errlen, "unknown option '%s'", bad);
		}
		r = parse_one(c, opt, optarg, err, errlen);
		if (r < 0) {
			if (r == -ENOMEM)
				snprintf(err, errlen, "out of memory");
			return r;
		}
	}
	if (!c->preset && !c->policy_file)
		c->preset = LAUNCH_DEFAULT_PRESET;
	if (c->help || c->version)
		return 0;
	if (optind < argc) {
		c->command = argv + optind;
		c->ncommand = argc - optind;
	}
	/* The session modes say for themselves whether a command belongs. */
	r = launch_session_check(c, err, errlen);
	if (r < 0)
		return r;
	if (r > 0)
		return 0;
	if (optind >= argc)
		return fail(err, errlen, "no command given");
	if (!*c->command[0])
		return fail(err, errlen, "empty command name");
	return 0;
}

void launch_config_free(struct fence_run_config *c)
{
	free(c->rules);
	free(c->env);
	free(c->env_pass);
	free(c->binds);
	c->rules = NULL;
	c->env = NULL;
	c->env_pass = NULL;
	c->binds = NULL;
	c->nrules = c->nenv = c->nenv_pass = c->nbinds = 0;
}
