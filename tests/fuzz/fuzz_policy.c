// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_policy.c - libFuzzer target for the policy parser, the glob
 * compiler and the resolver (`make fuzz`, see the Makefile).
 *
 * 1. The input as a policy file, with "preset = base" and "preset = self"
 *    served from memory (self re-enters the input: nesting limit).
 * 2. Each input line as a --rule argument and as a raw pattern.
 * 3. If rules loaded: a fixed set of paths plus each input line as a path,
 *    resolved both ways; policy_resolve() and policy_resolve_child() must
 *    agree, and the deciding rule must be the last one for which
 *    policy_rule_matches() says yes (abort() otherwise, which libFuzzer
 *    reports as a crash).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct input {
	const uint8_t *data;
	size_t size;
};

static int fuzz_preset(void *ctx, const char *name, char **text, char **origin)
{
	const struct input *in = ctx;

	if (!strcmp(name, "base"))
		*text = strdup("[policy]\ndescription = base\n[rules]\nread = **\nnone = secrets/\n");
	else if (!strcmp(name, "self"))
		*text = strndup((const char *)in->data, in->size);
	else
		return -ENOENT;
	*origin = strdup(name);
	if (!*text || !*origin) {
		free(*text);
		free(*origin);
		return -ENOMEM;
	}
	return 0;
}

static void same(const struct policy_decision *a, const struct policy_decision *b)
{
	if (a->level != b->level || a->own != b->own || a->rule != b->rule ||
	    a->passthrough != b->passthrough || a->hidden != b->hidden ||
	    a->hidden_by != b->hidden_by || a->reincluded_by != b->reincluded_by ||
	    a->match_error != b->match_error)
		abort();
}

/* Resolves PATH directly and component by component; both must agree. */
static void resolve_both(const struct policy *p, const char *path, int is_dir)
{
	struct policy_decision full, step;
	char buf[512];
	size_t len = strlen(path), i;

	if (len >= sizeof(buf) || policy_resolve(p, path, is_dir, &full) != 0)
		return;
	if (full.level > POLICY_WRITE || (full.rule >= (int)policy_rule_count(p)))
		abort();
	/* Unless hidden by an ancestor, the rule is the last one that matches on its own. */
	if (!full.hidden) {
		int last = -1, r;

		for (i = 0; i < policy_rule_count(p); i++) {
			r = policy_rule_matches(p, i, path, is_dir || !path[strspn(path, "/")]);
			if (r < 0)
				return;
			if (r)
				last = (int)i;
		}
		if (last != full.rule)
			abort();
	}
	memcpy(buf, path, len + 1);
	policy_resolve_root(p, &step);
	if (buf[0] == '/')
		memmove(buf, buf + 1, len--);
	if (!len) {
		same(&full, &step);
		return;
	}
	for (i = 0; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		int r = policy_resolve_child(p, &step, buf, i == len ? is_dir : 1, &step);

		/* The whole path was valid, so every prefix is: only limits may fail. */
		if (r == -EINVAL)
			abort();
		if (r)
			return;
		if (i != len)
			buf[i] = '/';
	}
	same(&full, &step);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const paths[] = {
		"",	     "a",	  "a/b/c",	 ".env",	 "secrets/x",
		"src/main.c", "x/y/z/w.key", "output/a/b", "a/secrets/b", ".git/config",
	};
	struct input in = { data, size };
	struct policy *p = policy_new();
	struct policy_error err;
	char line[256], msg[1024];
	size_t i, start;

	if (!p)
		return 0;
	if (policy_load_text(p, (const char *)data, size, "fuzz.ini", fuzz_preset, &in, &err) <
	    0)
		policy_error_format(&err, msg, sizeof(msg));
	/* Every line as a --rule argument and as a raw pattern. */
	for (start = 0; start < size;) {
		const uint8_t *nl = memchr(data + start, '\n', size - start);
		size_t n = nl ? (size_t)(nl - (data + start)) : size - start;

		if (n < sizeof(line) && !memchr(data + start, '\0', n)) {
			memcpy(line, data + start, n);
			line[n] = '\0';
			(void)policy_add_rule_arg(p, line, &err);
			(void)policy_add_rule(p, POLICY_NONE, line, "fuzz", 1, &err);
		}
		start += n + 1;
	}
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		resolve_both(p, paths[i], 0);
		resolve_both(p, paths[i], 1);
	}
	for (start = 0; start < size;) {
		const uint8_t *nl = memchr(data + start, '\n', size - start);
		size_t n = nl ? (size_t)(nl - (data + start)) : size - start;

		if (n < sizeof(line) && !memchr(data + start, '\0', n)) {
			memcpy(line, data + start, n);
			line[n] = '\0';
			resolve_both(p, line, 0);
			resolve_both(p, line, 1);
		}
		start += n + 1;
	}
	(void)policy_canonical_text(p);
	{
		char digest[65];

		policy_digest(p, digest);
	}
	policy_free(p);
	return 0;
}
