// SPDX-License-Identifier: Apache-2.0
/*
 * policy_bench.c - nanoseconds per policy decision (issue 2 item 4: the
 * engine must cost microseconds with 100 rules).  `make bench-policy`.
 *
 * Two policies: the agent-safe preset (read from FENCE_PRESET_DIR, else
 * the build tree's presets/) and 100 synthetic rules of every pattern
 * shape.  Each resolves a fixed list of realistic paths, both with
 * policy_resolve() (a walk over every ancestor) and with
 * policy_resolve_child() from a cached parent decision (what the FUSE
 * daemon does at lookup).  Prints one line per policy and call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy.h"
#include "policy_load.h"

static const char *const paths[] = {
	"src/main.c",
	"src/fs/inode.c",
	"src/fs/inode.h",
	"include/linux/fs.h",
	"README.md",
	"Makefile",
	".env",
	"config/.env.production",
	"config/secrets/db.txt",
	"keys/server.pem",
	".git/config",
	".git/objects/ab/cdef0123456789abcdef0123456789abcdef",
	"node_modules/lodash/lodash.js",
	"node_modules/@types/node/fs.d.ts",
	"output/report.json",
	"tmp/cache/x",
	"docs/manual/chapter1/section2/figure3.png",
	"tests/unit/test_policy.c",
	"vendor/github.com/pkg/errors/errors.go",
	"home/user/.ssh/id_ed25519",
	"a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p.txt",
	"build/obj/x86_64/release/module.o",
	".docker/config.json",
	"services/api/.aws/credentials",
};

static double now_ns(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Parent decisions for resolve_child, computed once as a daemon caches them. */
static void parent_of(const struct policy *p, const char *path, struct policy_decision *d)
{
	char buf[256];
	char *slash;

	(void)snprintf(buf, sizeof(buf), "%s", path);
	slash = strrchr(buf, '/');
	if (!slash) {
		policy_resolve_root(p, d);
		return;
	}
	*slash = '\0';
	if (policy_resolve(p, buf, true, d) != 0)
		abort();
}

static void bench(const char *name, const struct policy *p, long rounds)
{
	size_t n = sizeof(paths) / sizeof(paths[0]), i;
	struct policy_decision parents[sizeof(paths) / sizeof(paths[0])], d;
	unsigned long sink = 0;
	double t0, full, child;
	long r;

	for (i = 0; i < n; i++)
		parent_of(p, paths[i], &parents[i]);
	t0 = now_ns();
	for (r = 0; r < rounds; r++)
		for (i = 0; i < n; i++) {
			if (policy_resolve(p, paths[i], false, &d) != 0)
				abort();
			sink += d.level;
		}
	full = (now_ns() - t0) / (double)(rounds * (long)n);
	t0 = now_ns();
	for (r = 0; r < rounds; r++)
		for (i = 0; i < n; i++) {
			if (policy_resolve_child(p, &parents[i], paths[i], false, &d) != 0)
				abort();
			sink += d.level;
		}
	child = (now_ns() - t0) / (double)(rounds * (long)n);
	/* The sum of levels keeps the calls from being optimised away. */
	printf("%-20s %4zu rules  policy_resolve %6.0f ns  policy_resolve_child %6.0f ns"
	       "  (%zu paths, level sum %lu)\n",
	       name, policy_rule_count(p), full, child, n, sink / (unsigned long)(2 * rounds));
}

/* 100 rules of every shape: basenames, anchored paths, globstars, classes, braces. */
static struct policy *synthetic(void)
{
	/* Each shape has one %d, filled with the rule's number. */
	static const char *const shapes[] = {
		"*.tmp%d",		"/src/mod%d/",		"**/cache%d/**",	"build%d/",
		"/docs/**/*.v%d.md",	"file[0-9]%d.txt",	"{a,b,c}%d/*.log",	"/vendor/pkg%d/*/x",
		"id_rsa%d*",		"/a/b/c/d%d/**",
	};
	static const enum policy_level levels[] = { POLICY_NONE, POLICY_READ, POLICY_VIEW,
						    POLICY_WRITE };
	struct policy *p = policy_new();
	struct policy_error err;
	char pat[64];
	int i;

	if (!p || policy_add_rule(p, POLICY_READ, "**", "bench", 0, &err) != 0)
		abort();
	for (i = 1; i < 100; i++) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		(void)snprintf(pat, sizeof(pat), shapes[i % 10], i);
#pragma GCC diagnostic pop
		if (policy_add_rule(p, levels[i % 4], pat, "bench", i, &err) != 0) {
			fprintf(stderr, "policy_bench: %s\n", err.msg);
			exit(1);
		}
	}
	return p;
}

int main(int argc, char **argv)
{
	struct fence_policy_opts o = { .preset = "agent-safe" };
	struct policy_error err;
	struct policy *p;
	long rounds = argc > 1 ? atol(argv[1]) : 20000;
	char msg[1024];

	if (rounds <= 0)
		rounds = 1;
	if (fence_policy_build(&o, &p, &err) != 0) {
		policy_error_format(&err, msg, sizeof(msg));
		fprintf(stderr, "policy_bench: %s\n", msg);
		return 1;
	}
	bench("agent-safe preset", p, rounds);
	policy_free(p);
	p = synthetic();
	bench("100 synthetic rules", p, rounds / 4 ? rounds / 4 : 1);
	policy_free(p);
	return 0;
}
