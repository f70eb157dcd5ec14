// SPDX-License-Identifier: Apache-2.0
/*
 * delta_read.c - the metadata of a delta (fencefs-delta.json), the origin
 * xattr, and the safe-open helpers that diff, commit and discard share.
 * The walk that lists changes is in delta_walk.c.
 *
 * The metadata parser reads only the JSON our own daemon writes
 * (common/delta_format.h), so it is small, but it is strict: a delta sits in
 * a directory the sandbox could have been given, and commit trusts its
 * "rules" and "source".
 */
#include "delta_read.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cleanup.h"
#include "delta_format.h"
#include "util.h"

#define JSON_MAX_DEPTH 16
#define DELTA_MAX_RULES 100000

void delta_meta_free(struct delta_meta *m)
{
	size_t i;

	free(m->version);
	free(m->created);
	free(m->source);
	free(m->xattr_ns);
	free(m->policy_digest);
	for (i = 0; i < m->nrules; i++) {
		free(m->rules[i].level);
		free(m->rules[i].pattern);
	}
	free(m->rules);
	*m = (struct delta_meta){ 0 };
}

struct jp {
	const char *start, *s, *end;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 2, 3))) static int jp_fail(struct jp *j, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(j->err, j->errlen, "%s: byte %zu: ", DELTA_META_NAME,
		     (size_t)(j->s - j->start));
	if (n < 0 || (size_t)n >= j->errlen)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(j->err + n, j->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static void jp_ws(struct jp *j)
{
	while (j->s < j->end && (*j->s == ' ' || *j->s == '\t' || *j->s == '\n' || *j->s == '\r'))
		j->s++;
}

static bool jp_eat(struct jp *j, char c)
{
	jp_ws(j);
	if (j->s < j->end && *j->s == c) {
		j->s++;
		return true;
	}
	return false;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int jp_hex4(struct jp *j, unsigned *out)
{
	unsigned v = 0;
	int i, h;

	if (j->end - j->s < 4)
		return jp_fail(j, "truncated \\u escape");
	for (i = 0; i < 4; i++) {
		h = hexval(j->s[i]);
		if (h < 0)
			return jp_fail(j, "bad \\u escape");
		v = v << 4 | (unsigned)h;
	}
	j->s += 4;
	*out = v;
	return 0;
}

static void put_utf8(struct buf *b, unsigned cp)
{
	char u[4];

	if (cp < 0x80) {
		u[0] = (char)cp;
		buf_add(b, u, 1);
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3F));
		buf_add(b, u, 2);
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | cp >> 12);
		u[1] = (char)(0x80 | (cp >> 6 & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F));
		buf_add(b, u, 3);
	} else {
		u[0] = (char)(0xF0 | cp >> 18);
		u[1] = (char)(0x80 | (cp >> 12 & 0x3F));
		u[2] = (char)(0x80 | (cp >> 6 & 0x3F));
		u[3] = (char)(0x80 | (cp & 0x3F));
		buf_add(b, u, 4);
	}
}

/*
 * Undoes buf_add_json_mem()'s byte convention on the JSON-decoded text:
 * "\\\\" is one backslash and "\\xNN" the raw byte NN.  Any other backslash
 * is malformed (that encoder never writes one).
 */
static int fence_unescape(struct jp *j, const char *in, size_t len, char **out)
{
	struct buf b = { 0 };
	size_t i;
	int hi, lo;

	buf_add(&b, "", 0);
	for (i = 0; i < len; i++) {
		if (in[i] != '\\') {
			buf_add(&b, in + i, 1);
			continue;
		}
		if (i + 1 < len && in[i + 1] == '\\') {
			buf_add(&b, "\\", 1);
			i++;
		} else if (i + 3 < len && in[i + 1] == 'x' && (hi = hexval(in[i + 2])) >= 0 &&
			   (lo = hexval(in[i + 3])) >= 0 && (hi | lo)) {
			char c = (char)(hi << 4 | lo);

			buf_add(&b, &c, 1);
			i += 3;
		} else {
			buf_free(&b);
			return jp_fail(j, "string holds a lone backslash");
		}
	}
	if (b.oom) {
		buf_free(&b);
		return -ENOMEM;
	}
	*out = b.data;
	return 0;
}

/* Parses a JSON string; with out == NULL it is only checked and skipped. */
static int jp_string(struct jp *j, char **out)
{
	struct buf b = { 0 };
	unsigned cp, lo;
	int r;

	if (!jp_eat(j, '"'))
		return jp_fail(j, "expected a string");
	buf_add(&b, "", 0);
	for (;;) {
		unsigned char c;

		if (j->s >= j->end) {
			r = jp_fail(j, "unterminated string");
			goto out_free;
		}
		c = (unsigned char)*j->s++;
		if (c == '"')
			break;
		if (c < 0x20) {
			r = jp_fail(j, "control character in string");
			goto out_free;
		}
		if (c != '\\') {
			buf_add(&b, &c, 1);
			continue;
		}
		if (j->s >= j->end) {
			r = jp_fail(j, "unterminated escape");
			goto out_free;
		}
		c = (unsigned char)*j->s++;
		switch (c) {
		case '"': case '\\': case '/':
			buf_add(&b, &c, 1);
			break;
		case 'b': buf_adds(&b, "\b"); break;
		case 'f': buf_adds(&b, "\f"); break;
		case 'n': buf_adds(&b, "\n"); break;
		case 'r': buf_adds(&b, "\r"); break;
		case 't': buf_adds(&b, "\t"); break;
		case 'u':
			r = jp_hex4(j, &cp);
			if (r)
				goto out_free;
			if (cp >= 0xD800 && cp <= 0xDBFF) {
				if (j->end - j->s < 2 || j->s[0] != '\\' || j->s[1] != 'u') {
					r = jp_fail(j, "lone surrogate");
					goto out_free;
				}
				j->s += 2;
				r = jp_hex4(j, &lo);
				if (r)
					goto out_free;
				if (lo < 0xDC00 || lo > 0xDFFF) {
					r = jp_fail(j, "bad surrogate pair");
					goto out_free;
				}
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
			} else if (cp >= 0xDC00 && cp <= 0xDFFF) {
				r = jp_fail(j, "lone surrogate");
				goto out_free;
			}
			if (cp == 0) {
				/* Names and paths cannot hold NUL. */
				r = jp_fail(j, "NUL in string");
				goto out_free;
			}
			put_utf8(&b, cp);
			break;
		default:
			r = jp_fail(j, "bad escape '\\%c'", isprint(c) ? c : '?');
			goto out_free;
		}
	}
	if (b.oom) {
		r = -ENOMEM;
		goto out_free;
	}
	r = out ? fence_unescape(j, b.data, b.len, out) : 0;
out_free:
	buf_free(&b);
	return r;
}

/* A JSON number (RFC 8259 grammar); its integer value when it has no fraction. */
static int jp_number(struct jp *j, long long *out, bool *integral)
{
	const char *p;
	char tmp[32];
	size_t n;

	jp_ws(j);
	p = j->s;
	if (p < j->end && *p == '-')
		p++;
	if (p >= j->end || !isdigit((unsigned char)*p))
		return jp_fail(j, "expected a value");
	if (*p == '0')
		p++;
	else
		while (p < j->end && isdigit((unsigned char)*p))
			p++;
	*integral = true;
	if (p < j->end && *p == '.') {
		*integral = false;
		if (++p >= j->end || !isdigit((unsigned char)*p))
			return jp_fail(j, "bad number");
		while (p < j->end && isdigit((unsigned char)*p))
			p++;
	}
	if (p < j->end && (*p == 'e' || *p == 'E')) {
		*integral = false;
		p++;
		if (p < j->end && (*p == '+' || *p == '-'))
			p++;
		if (p >= j->end || !isdigit((unsigned char)*p))
			return jp_fail(j, "bad number");
		while (p < j->end && isdigit((unsigned char)*p))
			p++;
	}
	n = (size_t)(p - j->s);
	*out = 0;
	if (*integral) {
		if (n >= sizeof(tmp))
			return jp_fail(j, "number too long");
		memcpy(tmp, j->s, n);
		tmp[n] = '\0';
		errno = 0;
		*out = strtoll(tmp, NULL, 10);
		if (errno)
			return jp_fail(j, "number out of range");
	}
	j->s = p;
	return 0;
}

static int jp_skip(struct jp *j, int depth)
{
	long long v;
	bool integral;
	int r;

	if (depth > JSON_MAX_DEPTH)
		return jp_fail(j, "nested too deeply");
	jp_ws(j);
	if (j->s >= j->end)
		return jp_fail(j, "expected a value");
	switch (*j->s) {
	case '"':
		return jp_string(j, NULL);
	case '{':
		j->s++;
		if (jp_eat(j, '}'))
			return 0;
		do {
			r = jp_string(j, NULL);
			if (r)
				return r;
			if (!jp_eat(j, ':'))
				return jp_fail(j, "expected ':'");
			r = jp_skip(j, depth + 1);
			if (r)
				return r;
		} while (jp_eat(j, ','));
		return jp_eat(j, '}') ? 0 : jp_fail(j, "expected ',' or '}'");
	case '[':
		j->s++;
		if (jp_eat(j, ']'))
			return 0;
		do {
			r = jp_skip(j, depth + 1);
			if (r)
				return r;
		} while (jp_eat(j, ','));
		return jp_eat(j, ']') ? 0 : jp_fail(j, "expected ',' or ']'");
	}
	if (j->end - j->s >= 4 && !memcmp(j->s, "true", 4)) {
		j->s += 4;
		return 0;
	}
	if (j->end - j->s >= 5 && !memcmp(j->s, "false", 5)) {
		j->s += 5;
		return 0;
	}
	if (j->end - j->s >= 4 && !memcmp(j->s, "null", 4)) {
		j->s += 4;
		return 0;
	}
	return jp_number(j, &v, &integral);
}

static int jp_rules(struct jp *j, struct delta_meta *m)
{
	size_t cap = 0;
	int r;

	if (!jp_eat(j, '['))
		return jp_fail(j, "\"rules\" must be a list");
	if (jp_eat(j, ']'))
		return 0;
	do {
		struct delta_rule *rule;

		if (m->nrules >= DELTA_MAX_RULES)
			return jp_fail(j, "too many rules");
		if (m->nrules == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct delta_rule *n = realloc(m->rules, ncap * sizeof(*n));

			if (!n)
				return -ENOMEM;
			m->rules = n;
			cap = ncap;
		}
		rule = &m->rules[m->nrules];
		*rule = (struct delta_rule){ 0 };
		if (!jp_eat(j, '['))
			return jp_fail(j, "a rule must be a [level, pattern] list");
		m->nrules++; /* so that delta_meta_free() frees what is parsed */
		r = jp_string(j, &rule->level);
		if (r)
			return r;
		if (!jp_eat(j, ','))
			return jp_fail(j, "a rule must be a [level, pattern] list");
		r = jp_string(j, &rule->pattern);
		if (r)
			return r;
		if (!jp_eat(j, ']'))
			return jp_fail(j, "a rule must be a [level, pattern] list");
		if (strcmp(rule->level, "none") && strcmp(rule->level, "view") &&
		    strcmp(rule->level, "read") && strcmp(rule->level, "write"))
			return jp_fail(j, "unknown level '%s'", rule->level);
	} while (jp_eat(j, ','));
	return jp_eat(j, ']') ? 0 : jp_fail(j, "expected ',' or ']'");
}

/* "2026-11-23T10:00:00.000000Z" -> timespec (UTC).  0 or -EINVAL. */
static int parse_utc(const char *s, struct timespec *ts)
{
	struct tm tm = { 0 };
	const char *p;
	long ns = 0;
	int digits = 0;
	time_t t;

	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return -EINVAL;
	if (*p == '.') {
		for (p++; isdigit((unsigned char)*p); p++) {
			if (digits++ < 9)
				ns = ns * 10 + (*p - '0');
		}
		if (!digits)
			return -EINVAL;
		for (; digits < 9; digits++)
			ns *= 10;
	}
	if (strcmp(p, "Z"))
		return -EINVAL;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	ts->tv_sec = t;
	ts->tv_nsec = ns;
	return 0;
}

static int jp_key_string(struct jp *j, char **field, const char *key)
{
	if (*field)
		return jp_fail(j, "duplicate key \"%s\"", key);
	return jp_string(j, field);
}

int delta_meta_parse(const char *text, size_t len, struct delta_meta *m, char *err, size_t errlen)
{
	struct jp j = { .start = text, .s = text, .end = text + len, .err = err, .errlen = errlen };
	bool have_format = false, have_rules = false;
	int r;

	*m = (struct delta_meta){ 0 };
	if (!jp_eat(&j, '{')) {
		r = jp_fail(&j, "expected a JSON object");
		goto out_free;
	}
	if (jp_eat(&j, '}'))
		goto check;
	do {
		_cleanup_free_ char *key = NULL;

		r = jp_string(&j, &key);
		if (r)
			goto out_free;
		if (!jp_eat(&j, ':')) {
			r = jp_fail(&j, "expected ':'");
			goto out_free;
		}
		if (!strcmp(key, "fencefs_delta")) {
			long long v;
			bool integral;

			if (have_format) {
				r = jp_fail(&j, "duplicate key \"%s\"", key);
				goto out_free;
			}
			r = jp_number(&j, &v, &integral);
			if (r)
				goto out_free;
			if (!integral || v != DELTA_FORMAT_VERSION) {
				r = jp_fail(&j, "unsupported delta format (want %d)",
					    DELTA_FORMAT_VERSION);
				goto out_free;
			}
			m->format = (int)v;
			have_format = true;
		} else if (!strcmp(key, "version")) {
			r = jp_key_string(&j, &m->version, key);
		} else if (!strcmp(key, "created")) {
			r = jp_key_string(&j, &m->created, key);
		} else if (!strcmp(key, "source")) {
			r = jp_key_string(&j, &m->source, key);
		} else if (!strcmp(key, "xattr_ns")) {
			r = jp_key_string(&j, &m->xattr_ns, key);
		} else if (!strcmp(key, "policy_digest")) {
			r = jp_key_string(&j, &m->policy_digest, key);
		} else if (!strcmp(key, "rules")) {
			if (have_rules) {
				r = jp_fail(&j, "duplicate key \"%s\"", key);
				goto out_free;
			}
			have_rules = true;
			r = jp_rules(&j, m);
		} else {
			r = jp_skip(&j, 1);
		}
		if (r)
			goto out_free;
	} while (jp_eat(&j, ','));
	if (!jp_eat(&j, '}')) {
		r = jp_fail(&j, "expected ',' or '}'");
		goto out_free;
	}
check:
	jp_ws(&j);
	if (j.s != j.end) {
		r = jp_fail(&j, "trailing text after the object");
		goto out_free;
	}
	r = -EINVAL;
	if (!have_format) {
		snprintf(err, errlen, "%s: no \"fencefs_delta\" key", DELTA_META_NAME);
		goto out_free;
	}
	if (!m->source || m->source[0] != '/') {
		snprintf(err, errlen, "%s: \"source\" must be an absolute path", DELTA_META_NAME);
		goto out_free;
	}
	if (!m->xattr_ns || (strcmp(m->xattr_ns, "trusted") && strcmp(m->xattr_ns, "user"))) {
		snprintf(err, errlen, "%s: \"xattr_ns\" must be \"trusted\" or \"user\"",
			 DELTA_META_NAME);
		goto out_free;
	}
	if (!have_rules) {
		snprintf(err, errlen, "%s: no \"rules\" list", DELTA_META_NAME);
		goto out_free;
	}
	if (m->created && parse_utc(m->created, &m->created_ts)) {
		snprintf(err, errlen, "%s: \"created\" is not a UTC timestamp", DELTA_META_NAME);
		goto out_free;
	}
	return 0;
out_free:
	delta_meta_free(m);
	return r;
}

int delta_meta_read(int deltafd, struct delta_meta *m, char *err, size_t errlen)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *text = NULL;
	struct stat st;
	size_t got = 0;

	fd = openat(deltafd, DELTA_META_NAME, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", DELTA_META_NAME, strerror(errno));
		return -errno;
	}
	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "cannot stat %s: %s", DELTA_META_NAME, strerror(errno));
		return -errno;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > DELTA_META_MAX) {
		snprintf(err, errlen, "%s is not a regular file of at most %u bytes",
			 DELTA_META_NAME, DELTA_META_MAX);
		return -EINVAL;
	}
	text = malloc((size_t)st.st_size + 1);
	if (!text)
		return -ENOMEM;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, text + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "cannot read %s: %s", DELTA_META_NAME,
				 strerror(errno));
			return -errno;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return delta_meta_parse(text, got, m, err, errlen);
}

int delta_origin_parse(const char *s, size_t len, struct delta_origin *o)
{
	char tmp[160], frac[16], tail;
	unsigned long long dev, ino;
	long long size, sec;
	int n = 0;

	if (len == 0 || len >= sizeof(tmp) || memchr(s, '\0', len))
		return -EINVAL;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	/* %n and the tail check make it exact: nothing before, between or after. */
	if (sscanf(tmp, "dev=%llu ino=%llu size=%lld mtime=%lld.%9[0-9]%n%c", &dev, &ino, &size,
		   &sec, frac, &n, &tail) != 5 || (size_t)n != len || strlen(frac) != 9 || size < 0)
		return -EINVAL;
	o->dev = dev;
	o->ino = ino;
	o->size = size;
	o->mtime.tv_sec = sec;
	o->mtime.tv_nsec = strtol(frac, NULL, 10);
	return 0;
}

ssize_t delta_getxattr(int dirfd, const char *name, const char *ns, const char *xname, char *buf,
		       size_t len)
{
	char path[64 + 256], key[64];
	ssize_t n;

	/*
	 * There is no getxattrat() in glibc 2.36 and fgetxattr() needs an open
	 * fd, which a whiteout (a device node) must never get.  lgetxattr on
	 * /proc/self/fd/N/NAME resolves the directory through its fd and does
	 * not follow NAME when it is a symlink.
	 */
	if (strlen(name) > 255 || strchr(name, '/'))
		return -EINVAL;
	snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", dirfd, name);
	snprintf(key, sizeof(key), "%s.%s", ns, xname);
	n = lgetxattr(path, key, buf, len - 1);
	if (n < 0)
		return errno == ENOTSUP ? -ENODATA : -errno;
	buf[n] = '\0';
	return n;
}

int delta_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	long fd;

	do
		fd = syscall(SYS_openat2, dirfd, path[0] ? path : ".", &how, sizeof(how));
	while (fd < 0 && errno == EINTR);
	return fd < 0 ? -errno : (int)fd;
}

const char *delta_basename(const char *path, size_t *parent_len)
{
	const char *slash = strrchr(path, '/');

	if (!slash) {
		*parent_len = 0;
		return path;
	}
	*parent_len = (size_t)(slash - path);
	return slash + 1;
}

int delta_open(const char *path, int *deltafd, struct delta_meta *m, char *err, size_t errlen)
{
	_cleanup_close_ int fd = -1;
	int r;

	/*
	 * O_NOFOLLOW on the last component: a symlink named like a delta is
	 * refused rather than trusted (the components before it are the
	 * user's own path, as given on the command line).
	 */
	fd = open(path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "%s", errno == ENOTDIR ? "not a directory (or a symlink)"
							    : strerror(errno));
		return r;
	}
	r = delta_meta_read(fd, m, err, errlen);
	if (r)
		return r;
	*deltafd = TAKE_FD(fd);
	return 0;
}

int delta_in_use(int deltafd, pid_t *pid)
{
	_cleanup_closedir_ DIR *proc = NULL;
	char self_link[64], mine[PATH_MAX];
	struct dirent *de;
	pid_t self = getpid();
	ssize_t len;

	/*
	 * Compare the link texts of /proc/PID/fd/N with the delta's path
	 * instead of stat()ing through them: a stat would reach into every
	 * filesystem others have open, and a hung FUSE daemon would hang us.
	 */
	snprintf(self_link, sizeof(self_link), "/proc/self/fd/%d", deltafd);
	len = readlink(self_link, mine, sizeof(mine) - 1);
	if (len < 0)
		return -errno;
	mine[len] = '\0';
	proc = opendir("/proc");
	if (!proc)
		return -errno;
	while ((de = readdir(proc))) {
		_cleanup_closedir_ DIR *fds = NULL;
		struct dirent *fe;
		char path[64];
		char *end;
		long p = strtol(de->d_name, &end, 10);
		int dfd;

		if (*end || p <= 0 || p == self)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/fd", p);
		dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			continue; /* gone, or not ours to look at */
		fds = fdopendir(dfd);
		if (!fds) {
			(void)close(dfd);
			continue;
		}
		while ((fe = readdir(fds))) {
			char target[PATH_MAX];
			ssize_t n;

			if (fe->d_name[0] == '.')
				continue;
			n = readlinkat(dirfd(fds), fe->d_name, target, sizeof(target) - 1);
			if (n < len || strncmp(target, mine, (size_t)len) ||
			    (n > len && target[len] != '/'))
				continue;
			*pid = (pid_t)p;
			return 1;
		}
	}
	return 0;
}
