// SPDX-License-Identifier: Apache-2.0
/*
 * parse.c - policy files (docs/SPEC.md 5) through inih.
 *
 * Debian's inih is built without INI_HANDLER_LINENO, so the handler is not
 * told the line.  We feed ini_parse_stream() through our own reader over
 * the text buffer: inih processes each line right after reading it, so the
 * reader's line count is the current line inside the handler.
 *
 * The reader also does what inih cannot be told without changing its
 * process-wide settings:
 * - it drops leading blanks, so an indented line is never taken as a
 *   Python-style continuation of the previous value (which would turn
 *   "  write = x" into a second pattern "write = x" of the previous key);
 * - it checks section names, because inih only reports sections through
 *   keys, and an empty unknown section must be an error too;
 * - it refuses lines longer than inih's line buffer (which would be split
 *   into two lines silently) and NUL bytes (which would cut a line);
 * - it stops the parse at the first error by reporting end of input.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <ini.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "policy_internal.h"

/* "preset =" may name a preset that names a preset...: this many levels. */
#define PRESET_MAX_DEPTH 4

struct parse {
	struct policy *p;
	const char *text;
	size_t len;
	size_t pos;
	int line;                 /* lines handed to inih so far */
	const char *origin;
	policy_preset_fn preset_fn;
	void *ctx;
	int depth;                /* 0 for the outermost text */
	bool had_rule;            /* a [rules] key was seen in this text */
	bool had_preset;
	char *description;        /* this text's [policy] description */
	struct policy_error *err;
	int ret;                  /* first error: -EINVAL (err filled) or -ENOMEM */
};

static int load_text(struct policy *p, const char *text, size_t len, const char *origin,
		     policy_preset_fn preset_fn, void *ctx, int depth, struct policy_error *err);

/* Records the first error at the current line; returns 0 for inih ("stop"). */
static int parse_fail(struct parse *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int parse_fail(struct parse *ps, const char *fmt, ...)
{
	va_list ap;

	if (ps->err) {
		(void)snprintf(ps->err->file, sizeof(ps->err->file), "%s", ps->origin);
		ps->err->line = ps->line;
		va_start(ap, fmt);
		(void)vsnprintf(ps->err->msg, sizeof(ps->err->msg), fmt, ap);
		va_end(ap);
	}
	ps->ret = -EINVAL;
	return 0;
}

/* "[name]" lines: only [policy] and [rules] exist.  Returns false on error. */
static bool check_section(struct parse *ps, const char *line, size_t n)
{
	const char *end = memchr(line, ']', n);
	char name[128];
	size_t len;

	if (!end)
		return true; /* inih reports the syntax error with its line */
	len = (size_t)(end - line - 1);
	if ((len == 6 && !memcmp(line + 1, "policy", 6)) ||
	    (len == 5 && !memcmp(line + 1, "rules", 5)))
		return true;
	if (len >= sizeof(name))
		len = sizeof(name) - 1;
	memcpy(name, line + 1, len);
	name[len] = '\0';
	parse_fail(ps, "unknown section [%s] (expected [policy] or [rules])", name);
	return false;
}

/* An fgets() over the text buffer; see the top of the file. */
static char *reader(char *str, int num, void *stream)
{
	struct parse *ps = stream;
	const char *line, *nl;
	size_t n, avail;

	if (ps->ret || ps->pos >= ps->len)
		return NULL;
	line = ps->text + ps->pos;
	avail = ps->len - ps->pos;
	nl = memchr(line, '\n', avail);
	n = nl ? (size_t)(nl - line) + 1 : avail;
	ps->pos += n;
	ps->line++;
	if (memchr(line, '\0', n)) {
		parse_fail(ps, "line contains a NUL byte");
		return NULL;
	}
	/* A UTF-8 byte order mark would hide a "[section]" from the check below. */
	if (ps->line == 1 && n >= 3 && !memcmp(line, "\xef\xbb\xbf", 3)) {
		line += 3;
		n -= 3;
	}
	while (n && (*line == ' ' || *line == '\t')) {
		line++;
		n--;
	}
	/* inih needs room for '\r', '\n' and '\0' (ini.h, INI_MAX_LINE). */
	if (num < 4 || n + 3 > (size_t)num) {
		parse_fail(ps, "line too long (at most %d bytes)", num > 3 ? num - 3 : 0);
		return NULL;
	}
	if (n && *line == '[' && !check_section(ps, line, n))
		return NULL;
	memcpy(str, line, n);
	str[n] = '\0';
	return str;
}

static int handle_policy_key(struct parse *ps, const char *name, const char *value)
{
	char *text = NULL, *origin = NULL;
	int r;

	if (!strcmp(name, "description")) {
		char *d = strdup(value);

		if (!d) {
			ps->ret = -ENOMEM;
			return 0;
		}
		free(ps->description);
		ps->description = d;
		return 1;
	}
	if (strcmp(name, "preset"))
		return parse_fail(ps, "unknown key '%s' in [policy] (expected description or preset)",
				  name);
	if (ps->had_preset)
		return parse_fail(ps, "a second 'preset =' (only one base preset)");
	if (ps->had_rule)
		return parse_fail(ps, "'preset =' must come before the rules");
	if (!ps->preset_fn)
		return parse_fail(ps, "'preset =' is not allowed here");
	if (ps->depth + 1 >= PRESET_MAX_DEPTH)
		return parse_fail(ps, "preset '%s': presets nest too deep", value);
	ps->had_preset = true;
	r = ps->preset_fn(ps->ctx, value, &text, &origin);
	if (r == -ENOMEM) {
		ps->ret = -ENOMEM;
		return 0;
	}
	if (r < 0)
		return parse_fail(ps, "unknown preset '%s'", value);
	r = load_text(ps->p, text, strlen(text), origin, ps->preset_fn, ps->ctx, ps->depth + 1,
		      ps->err);
	free(text);
	free(origin);
	if (r < 0) {
		ps->ret = r; /* err names the preset's file and line */
		return 0;
	}
	return 1;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse *ps = user;
	enum policy_level level;
	int r;

	if (ps->ret)
		return 0;
	if (!strcmp(section, "policy"))
		return handle_policy_key(ps, name, value);
	if (!section[0])
		return parse_fail(ps, "key '%s' before any section (expected [policy] or [rules])",
				  name);
	if (strcmp(section, "rules"))
		return parse_fail(ps, "unknown section [%s] (expected [policy] or [rules])", section);
	if (policy_level_parse(name, &level) < 0)
		return parse_fail(ps, "unknown level '%s' (expected none, view, read or write)",
				  name);
	ps->had_rule = true;
	r = policy_add_rule(ps->p, level, value, ps->origin, ps->line, ps->err);
	if (r < 0) {
		ps->ret = r;
		return 0;
	}
	return 1;
}

static int load_text(struct policy *p, const char *text, size_t len, const char *origin,
		     policy_preset_fn preset_fn, void *ctx, int depth, struct policy_error *err)
{
	struct parse ps = {
		.p = p,
		.text = text,
		.len = len,
		.origin = origin,
		.preset_fn = preset_fn,
		.ctx = ctx,
		.depth = depth,
		.err = err,
	};
	int rc;

	rc = ini_parse_stream(reader, &ps, handler, &ps);
	/* inih keeps going after a syntax error, so it may be the earlier one. */
	if (rc > 0 && (!ps.ret || rc < ps.line))
		ps.ret = policy_error_set(err, origin, rc,
					  "expected '[section]' or 'key = value'");
	else if (rc == -2 && !ps.ret)
		ps.ret = -ENOMEM;
	/* Last text wins; a preset loaded from this text finished before. */
	if (!ps.ret && ps.description && policy_set_description(p, ps.description) < 0)
		ps.ret = -ENOMEM;
	free(ps.description);
	return ps.ret;
}

int policy_load_text(struct policy *p, const char *text, size_t len, const char *origin,
		     policy_preset_fn preset_fn, void *ctx, struct policy_error *err)
{
	return load_text(p, text, len, origin, preset_fn, ctx, 0, err);
}
