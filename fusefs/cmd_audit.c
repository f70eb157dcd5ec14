// SPDX-License-Identifier: Apache-2.0
/*
 * cmd_audit.c - `fencefs audit FILE... [--json] [--top N]`: what an audit
 * log (fence-audit(5)) says, for a person: refusals by path and by
 * operation, the programs run, what was written, and whether anything was
 * summed up or cut.  Every count includes the events a "suppressed" event
 * stands for.  Names are quoted as `fencefs diff` quotes them (common/
 * quote.h); --json gives the same as one object with exact names.
 *
 * The reader takes each line as one JSON object and keeps the string and
 * integer members it knows; nested values (argv, limits) are skipped.  A
 * line that is not a JSON object is an error naming FILE:LINE (exit 2).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "commands.h"
#include "quote.h"
#include "util.h"

/* --- one line ----------------------------------------------------------- */

struct event {
	char event[32], of[32], op[32], level[16], errno_name[32];
	char *path, *path2, *comm;
	uint64_t count;
};

static void event_free(struct event *e)
{
	free(e->path);
	free(e->path2);
	free(e->comm);
	memset(e, 0, sizeof(*e));
}

static void skip_ws(const char **p)
{
	while (**p == ' ' || **p == '\t' || **p == '\r' || **p == '\n')
		(*p)++;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/*
 * A JSON string at *P into OUT (decoded; "\\xNN" stays as written by
 * buf_add_json_str(), the byte NN).  0 or -EINVAL.
 */
static int parse_string(const char **p, struct buf *out)
{
	const char *s = *p;

	if (*s++ != '"')
		return -EINVAL;
	while (*s && *s != '"') {
		char c = *s++;

		if (c != '\\') {
			buf_add(out, &c, 1);
			continue;
		}
		c = *s++;
		switch (c) {
		case '"': case '\\': case '/':
			buf_add(out, &c, 1);
			break;
		case 'b': buf_adds(out, "\b"); break;
		case 'f': buf_adds(out, "\f"); break;
		case 'n': buf_adds(out, "\n"); break;
		case 'r': buf_adds(out, "\r"); break;
		case 't': buf_adds(out, "\t"); break;
		case 'u': {
			unsigned v = 0;
			int k;

			for (k = 0; k < 4; k++) {
				int h = hexval(s[k]);

				if (h < 0)
					return -EINVAL;
				v = v * 16 + (unsigned)h;
			}
			s += 4;
			/* UTF-8 of the BMP code point (surrogates kept as they come). */
			if (v < 0x80) {
				char b = (char)v;

				buf_add(out, &b, 1);
			} else if (v < 0x800) {
				char b[2] = { (char)(0xc0 | (v >> 6)), (char)(0x80 | (v & 0x3f)) };

				buf_add(out, b, 2);
			} else {
				char b[3] = { (char)(0xe0 | (v >> 12)), (char)(0x80 | ((v >> 6) & 0x3f)),
					      (char)(0x80 | (v & 0x3f)) };

				buf_add(out, b, 3);
			}
			break;
		}
		default:
			return -EINVAL;
		}
	}
	if (*s != '"')
		return -EINVAL;
	*p = s + 1;
	return out->oom ? -ENOMEM : 0;
}

/* Skips one JSON value of any kind at *P.  0 or -EINVAL. */
static int skip_value(const char **p, int depth)
{
	const char *s;

	skip_ws(p);
	s = *p;
	if (depth > 16)
		return -EINVAL;
	if (*s == '"') {
		struct buf tmp = { 0 };
		int r = parse_string(p, &tmp);

		buf_free(&tmp);
		return r;
	}
	if (*s == '{' || *s == '[') {
		char close = *s == '{' ? '}' : ']';

		(*p)++;
		skip_ws(p);
		if (**p == close) {
			(*p)++;
			return 0;
		}
		for (;;) {
			if (close == '}') {
				if (skip_value(p, depth + 1) < 0)
					return -EINVAL;
				skip_ws(p);
				if (*(*p)++ != ':')
					return -EINVAL;
			}
			if (skip_value(p, depth + 1) < 0)
				return -EINVAL;
			skip_ws(p);
			if (**p == ',') {
				(*p)++;
				continue;
			}
			if (**p == close) {
				(*p)++;
				return 0;
			}
			return -EINVAL;
		}
	}
	/* number, true, false, null */
	if (!strchr("-0123456789tfn", *s) || !*s)
		return -EINVAL;
	while (*s && !strchr(",}] \t\r\n", *s))
		s++;
	*p = s;
	return 0;
}

static void set_fixed(char *dst, size_t len, const struct buf *v)
{
	snprintf(dst, len, "%.*s", (int)v->len, v->data ? v->data : "");
}

/* One audit line into E.  0 or -EINVAL. */
static int parse_event(const char *line, struct event *e)
{
	const char *p = line;
	int r = 0;

	memset(e, 0, sizeof(*e));
	e->count = 1;
	skip_ws(&p);
	if (*p++ != '{')
		return -EINVAL;
	skip_ws(&p);
	if (*p == '}')
		return -EINVAL;
	for (;;) {
		struct buf key = { 0 }, val = { 0 };

		skip_ws(&p);
		r = parse_string(&p, &key);
		skip_ws(&p);
		if (r < 0 || *p++ != ':') {
			buf_free(&key);
			return -EINVAL;
		}
		skip_ws(&p);
		buf_add(&key, "", 1);
		if (*p == '"') {
			r = parse_string(&p, &val);
			buf_add(&val, "", 1);
			if (r == 0 && !val.oom) {
				const char *k = key.data;

				if (!strcmp(k, "event"))
					set_fixed(e->event, sizeof(e->event), &val);
				else if (!strcmp(k, "of"))
					set_fixed(e->of, sizeof(e->of), &val);
				else if (!strcmp(k, "op"))
					set_fixed(e->op, sizeof(e->op), &val);
				else if (!strcmp(k, "level"))
					set_fixed(e->level, sizeof(e->level), &val);
				else if (!strcmp(k, "errno"))
					set_fixed(e->errno_name, sizeof(e->errno_name), &val);
				else if (!strcmp(k, "path") && !e->path)
					e->path = strdup(val.data);
				else if (!strcmp(k, "path2") && !e->path2)
					e->path2 = strdup(val.data);
				else if (!strcmp(k, "comm") && !e->comm)
					e->comm = strdup(val.data);
			}
		} else if (!strcmp(key.data ? key.data : "", "count")) {
			char *end;
			unsigned long long v = strtoull(p, &end, 10);

			if (end == p)
				r = -EINVAL;
			e->count = v;
			p = end;
		} else {
			r = skip_value(&p, 1);
		}
		buf_free(&key);
		buf_free(&val);
		if (r < 0)
			return -EINVAL;
		skip_ws(&p);
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p++ != '}')
			return -EINVAL;
		skip_ws(&p);
		return *p ? -EINVAL : e->event[0] ? 0 : -EINVAL;
	}
}

/* --- tallies ------------------------------------------------------------ */

struct tally_item {
	char *key;       /* "what\037path" etc.: the grouping */
	uint64_t count;
};

struct tally {
	struct tally_item *items;
	size_t n, cap;   /* open addressing, cap a power of two */
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

static int tally_grow(struct tally *t)
{
	size_t cap = t->cap ? t->cap * 2 : 64, k;
	struct tally_item *items = calloc(cap, sizeof(*items));

	if (!items)
		return -ENOMEM;
	for (k = 0; k < t->cap; k++) {
		size_t j;

		if (!t->items[k].key)
			continue;
		for (j = hash_str(t->items[k].key) & (cap - 1); items[j].key; j = (j + 1) & (cap - 1))
			;
		items[j] = t->items[k];
	}
	free(t->items);
	t->items = items;
	t->cap = cap;
	return 0;
}

/* Adds N to the count of KEY (the parts joined by '\037').  0 or -ENOMEM. */
static int tally_add(struct tally *t, const char *a, const char *b, uint64_t n)
{
	_cleanup_free_ char *key = NULL;
	size_t j;

	if (asprintf(&key, "%s\037%s", a ? a : "", b ? b : "") < 0)
		return -ENOMEM;
	if ((t->n + 1) * 2 > t->cap && tally_grow(t) < 0)
		return -ENOMEM;
	for (j = hash_str(key) & (t->cap - 1); t->items[j].key; j = (j + 1) & (t->cap - 1))
		if (!strcmp(t->items[j].key, key)) {
			t->items[j].count += n;
			return 0;
		}
	t->items[j].key = TAKE_PTR(key);
	t->items[j].count = n;
	t->n++;
	return 0;
}

static int cmp_items(const void *x, const void *y)
{
	const struct tally_item *a = x, *b = y;

	if (!a->key || !b->key)
		return !a->key - !b->key;
	if (a->count != b->count)
		return a->count < b->count ? 1 : -1;
	return strcmp(a->key, b->key);
}

/* Sorts by count, highest first (the empty slots last). */
static void tally_sort(struct tally *t)
{
	if (t->items)
		qsort(t->items, t->cap, sizeof(*t->items), cmp_items);
}

static void tally_free(struct tally *t)
{
	size_t k;

	for (k = 0; k < t->cap; k++)
		free(t->items[k].key);
	free(t->items);
	memset(t, 0, sizeof(*t));
}

struct summary {
	uint64_t lines, by_event_total;
	struct tally events;      /* event */
	struct tally denied_path; /* path, "op level errno" */
	struct tally denied_op;   /* op, errno */
	struct tally programs;    /* exec path, comm */
	struct tally callers;     /* comm of refused callers */
	struct tally written;     /* path, op */
	uint64_t denied, suppressed_events, suppressed, truncated;
};

static int add_event(struct summary *s, const struct event *e)
{
	const char *kind = !strcmp(e->event, "suppressed") ? e->of : e->event;
	uint64_t n = !strcmp(e->event, "suppressed") ? e->count : 1;
	char how[96];
	int r;

	s->lines++;
	r = tally_add(&s->events, e->event, NULL, 1);
	if (!strcmp(e->event, "suppressed")) {
		s->suppressed_events++;
		s->suppressed += e->count;
	}
	if (!strcmp(e->event, "audit_truncated"))
		s->truncated++;
	if (r == 0 && !strcmp(kind, "deny")) {
		s->denied += n;
		snprintf(how, sizeof(how), "%s %s %s", e->op, e->level, e->errno_name);
		r = tally_add(&s->denied_path, e->path, how, n);
		if (r == 0)
			r = tally_add(&s->denied_op, e->op, e->errno_name, n);
		if (r == 0 && e->comm)
			r = tally_add(&s->callers, e->comm, NULL, n);
	} else if (r == 0 && !strcmp(kind, "exec")) {
		r = tally_add(&s->programs, e->path, e->comm, n);
	} else if (r == 0 && !strcmp(kind, "write")) {
		r = tally_add(&s->written, e->path, e->op, n);
	}
	return r;
}

/* --- output ------------------------------------------------------------- */

/* The part of an item's key before or after the separator, in a static buffer. */
static const char *part(const char *key, int which, char *buf, size_t len)
{
	const char *sep = strchr(key, '\037');

	if (which == 0)
		snprintf(buf, len, "%.*s", sep ? (int)(sep - key) : (int)strlen(key), key);
	else
		snprintf(buf, len, "%s", sep ? sep + 1 : "");
	return buf;
}

static void print_section(const char *title, struct tally *t, size_t top, bool quote_first)
{
	char a[4096], b[256];
	size_t k;

	printf("%s (%zu distinct)\n", title, t->n);
	tally_sort(t);
	for (k = 0; k < t->n && k < top; k++) {
		const struct tally_item *i = &t->items[k];

		printf("  %8llu  ", (unsigned long long)i->count);
		if (quote_first)
			quote_path_fputs(stdout, "", part(i->key, 0, a, sizeof(a)), "");
		else
			quote_message_fputs(stdout, part(i->key, 0, a, sizeof(a)));
		part(i->key, 1, b, sizeof(b));
		if (*b) {
			fputs("  ", stdout);
			quote_message_fputs(stdout, b);
		}
		fputc('\n', stdout);
	}
	if (t->n > top)
		printf("  ... %zu more\n", t->n - top);
}

static void json_section(struct buf *o, const char *name, struct tally *t, size_t top,
			 const char *k1, const char *k2)
{
	char a[4096], b[256];
	size_t k;

	tally_sort(t);
	buf_addf(o, ",\"%s\":[", name);
	for (k = 0; k < t->n && k < top; k++) {
		const struct tally_item *i = &t->items[k];

		buf_addf(o, "%s{\"count\":%llu,\"%s\":", k ? "," : "", (unsigned long long)i->count,
			 k1);
		buf_add_json_str(o, part(i->key, 0, a, sizeof(a)));
		if (k2) {
			buf_addf(o, ",\"%s\":", k2);
			buf_add_json_str(o, part(i->key, 1, b, sizeof(b)));
		}
		buf_adds(o, "}");
	}
	buf_adds(o, "]");
}

static const char audit_usage[] =
	"usage: fencefs audit [--json] [--top N] FILE...\n"
	"  a summary of audit logs (fence-audit(5)): refusals by path and\n"
	"  operation, programs run, what was written\n";

int cmd_audit(int argc, char **argv)
{
	struct summary s = { 0 };
	size_t top = 10;
	bool json = false;
	int k, nfiles = 0, status = 0;

	for (k = 1; k < argc; k++) {
		if (!strcmp(argv[k], "--json")) {
			json = true;
		} else if (!strcmp(argv[k], "--top") && k + 1 < argc) {
			char *end;
			unsigned long v = strtoul(argv[++k], &end, 10);

			if (*end || !*argv[k] || v == 0 || v > 100000) {
				fprintf(stderr, "fencefs audit: --top: expected a number from 1 to "
						"100000, got '%s'\n", argv[k]);
				return 2;
			}
			top = v;
		} else if (!strcmp(argv[k], "-h") || !strcmp(argv[k], "--help")) {
			fputs(audit_usage, stdout);
			return 0;
		} else if (argv[k][0] == '-' && argv[k][1]) {
			fprintf(stderr, "fencefs audit: unknown option '%s'\n%s", argv[k], audit_usage);
			return 2;
		} else {
			nfiles++;
		}
	}
	if (!nfiles) {
		fprintf(stderr, "fencefs audit: no FILE given\n%s", audit_usage);
		return 2;
	}
	for (k = 1; k < argc && status == 0; k++) {
		_cleanup_fclose_ FILE *f = NULL;
		_cleanup_free_ char *line = NULL;
		size_t cap = 0, lineno = 0;

		if (argv[k][0] == '-' && argv[k][1]) {
			if (!strcmp(argv[k], "--top"))
				k++;
			continue;
		}
		f = strcmp(argv[k], "-") ? fopen(argv[k], "re") : NULL;
		if (!f && strcmp(argv[k], "-")) {
			fprintf(stderr, "fencefs audit: cannot open '%s': %s\n", argv[k],
				strerror(errno));
			status = 1;
			break;
		}
		while (getline(&line, &cap, f ? f : stdin) > 0) {
			struct event e;

			lineno++;
			if (line[strspn(line, " \t\r\n")] == '\0')
				continue;
			if (parse_event(line, &e) < 0) {
				fprintf(stderr, "fencefs audit: %s:%zu: not an audit event (one JSON "
						"object with \"event\")\n",
					argv[k], lineno);
				event_free(&e);
				status = 2;
				break;
			}
			if (add_event(&s, &e) < 0) {
				fprintf(stderr, "fencefs audit: out of memory\n");
				status = 1;
			}
			event_free(&e);
			if (status)
				break;
		}
	}
	if (status == 0 && json) {
		struct buf o = { 0 };

		buf_addf(&o, "{\"lines\":%llu,\"denied\":%llu,\"suppressed_events\":%llu,"
			     "\"suppressed\":%llu,\"truncated\":%s",
			 (unsigned long long)s.lines, (unsigned long long)s.denied,
			 (unsigned long long)s.suppressed_events, (unsigned long long)s.suppressed,
			 s.truncated ? "true" : "false");
		json_section(&o, "events", &s.events, SIZE_MAX, "event", NULL);
		json_section(&o, "denied_paths", &s.denied_path, top, "path", "how");
		json_section(&o, "denied_ops", &s.denied_op, top, "op", "errno");
		json_section(&o, "denied_callers", &s.callers, top, "comm", NULL);
		json_section(&o, "programs", &s.programs, top, "path", "comm");
		json_section(&o, "written", &s.written, top, "path", "op");
		buf_adds(&o, "}\n");
		if (o.oom)
			status = 1;
		else
			fwrite(o.data, 1, o.len, stdout);
		buf_free(&o);
	} else if (status == 0) {
		printf("%llu events, %llu refusals", (unsigned long long)s.lines,
		       (unsigned long long)s.denied);
		if (s.suppressed)
			printf(" (%llu of them summed up in %llu suppressed events)",
			       (unsigned long long)s.suppressed, (unsigned long long)s.suppressed_events);
		printf("\n");
		if (s.truncated)
			printf("the log reached its cap (--audit-max): later events were not written\n");
		print_section("\nrefused paths", &s.denied_path, top, true);
		print_section("\nrefused operations", &s.denied_op, top, false);
		print_section("\nrefused callers", &s.callers, top, false);
		print_section("\nprograms run", &s.programs, top, true);
		print_section("\nwritten", &s.written, top, true);
	}
	tally_free(&s.events);
	tally_free(&s.denied_path);
	tally_free(&s.denied_op);
	tally_free(&s.programs);
	tally_free(&s.callers);
	tally_free(&s.written);
	return status;
}
