// SPDX-License-Identifier: Apache-2.0
/*
 * policy_load.c - finds presets and reads policy files, then hands their
 * text to the pure engine in policy/ (see policy_load.h).
 */
#include "policy_load.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "dirnames.h"

/* A policy is a few KiB; this only stops a mistaken --policy /dev/zero. */
#define POLICY_FILE_MAX (1024 * 1024)
/* Longest preset name; names are also file names. */
#define PRESET_NAME_MAX 64

static char preset_dir[PATH_MAX];
static pthread_once_t preset_dir_once = PTHREAD_ONCE_INIT;

/* Does DIR hold the presets (agent-safe.ini, the one every install has)? */
static bool holds_presets(const char *dir)
{
	char probe[PATH_MAX + 32];

	(void)snprintf(probe, sizeof(probe), "%s/agent-safe.ini", dir);
	return access(probe, R_OK) == 0;
}

/* Canonical DIR/REL into out when it holds the presets. */
static bool presets_at(const char *dir, const char *rel, char *out, size_t len)
{
	char path[PATH_MAX + 64], real[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s%s", dir, rel) >= (int)sizeof(path))
		return false;
	if (!realpath(path, real) || !holds_presets(real) || strlen(real) >= len)
		return false;
	memcpy(out, real, strlen(real) + 1);
	return true;
}

/*
 * Where the presets are, from where the running binary is (so a build or
 * an install works wherever it lies; issue 16 item 3), in order:
 *
 * 1. the binary runs from the directory it was built in (the Makefile
 *    records FENCE_BUILDDIR and FENCE_SRCDIR): the source tree's
 *    presets/, wherever BUILD= put the build;
 * 2. an install: <exe dir>/../share/fencefs/presets, so that
 *    `make install PREFIX=P` works after a build made for another prefix,
 *    and an installed tree can be moved;
 * 3. a build directory inside a source tree, moved with it:
 *    <exe dir>/../presets (not when the binary sits in the configured
 *    BINDIR, which must not pick up a stray $(PREFIX)/presets).
 *
 * False when none holds agent-safe.ini; the caller then names the
 * configured FENCE_PRESETDIR in its error.
 */
static bool exe_relative_presets(char *out, size_t len)
{
	char exe[PATH_MAX], dir[PATH_MAX], real[PATH_MAX];
	ssize_t n;
	char *slash;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return false;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return false;
	*slash = '\0';
	if (!realpath(exe[0] ? exe : "/", dir))
		return false;
	if (realpath(FENCE_BUILDDIR, real) && !strcmp(real, dir) &&
	    presets_at(FENCE_SRCDIR, "/presets", out, len))
		return true;
	if (presets_at(dir, "/../share/fencefs/presets", out, len))
		return true;
	if (realpath(FENCE_BINDIR, real) && !strcmp(real, dir))
		return false;
	return presets_at(dir, "/../presets", out, len);
}

static void preset_dir_init(void)
{
	const char *env = getenv("FENCE_PRESET_DIR");

	if (env && *env)
		(void)snprintf(preset_dir, sizeof(preset_dir), "%s", env);
	else if (!exe_relative_presets(preset_dir, sizeof(preset_dir)))
		(void)snprintf(preset_dir, sizeof(preset_dir), "%s", FENCE_PRESETDIR);
}

const char *fence_preset_dir(void)
{
	(void)pthread_once(&preset_dir_once, preset_dir_init);
	return preset_dir;
}

static bool preset_name_valid(const char *name)
{
	size_t i;

	if (!name[0] || strlen(name) > PRESET_NAME_MAX)
		return false;
	for (i = 0; name[i]; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
		      name[i] == '-'))
			return false;
	return true;
}

/*
 * Reads all of PATH (at most POLICY_FILE_MAX bytes) into a NUL-terminated
 * malloc'd buffer.  Pipes work too (--policy <(...)).  0 or -errno.
 */
static int read_file(const char *path, char **text, size_t *len)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	size_t used = 0, cap = 4096;
	struct stat st;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (used + 1 == cap) {
			char *b;

			if (cap > POLICY_FILE_MAX)
				return -EFBIG;
			b = realloc(buf, cap * 2);
			if (!b)
				return -ENOMEM;
			buf = b;
			cap *= 2;
		}
		n = read(fd, buf + used, cap - 1 - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		used += (size_t)n;
		if (used > POLICY_FILE_MAX)
			return -EFBIG;
	}
	buf[used] = '\0';
	*len = used;
	*text = TAKE_PTR(buf);
	return 0;
}

int fence_read_preset(void *ctx, const char *name, char **text, char **origin)
{
	_cleanup_free_ char *path = NULL, *buf = NULL;
	size_t len;
	int r;

	(void)ctx;
	if (!preset_name_valid(name))
		return -EINVAL;
	if (asprintf(&path, "%s/%s.ini", fence_preset_dir(), name) < 0) {
		path = NULL;
		return -ENOMEM;
	}
	r = read_file(path, &buf, &len);
	if (r < 0)
		return r;
	/* The engine takes the text up to its NUL; a NUL inside would cut rules off. */
	if (memchr(buf, '\0', len))
		return -EINVAL;
	*text = TAKE_PTR(buf);
	*origin = TAKE_PTR(path);
	return 0;
}

static int preset_error(int r, const char *name, struct policy_error *err)
{
	(void)snprintf(err->file, sizeof(err->file), "--preset");
	err->line = 0;
	if (r == -EINVAL && !preset_name_valid(name))
		(void)snprintf(err->msg, sizeof(err->msg),
			       "invalid preset name '%s' (letters a-z, digits and '-' only)", name);
	else if (r == -ENOENT)
		(void)snprintf(err->msg, sizeof(err->msg),
			       "unknown preset '%s' (not in %.300s; see 'fencefs presets')", name,
			       fence_preset_dir());
	else
		(void)snprintf(err->msg, sizeof(err->msg), "cannot read preset '%s': %s", name,
			       strerror(-r));
	return r == -ENOMEM ? r : -EINVAL;
}

static int build_into(struct policy *p, const struct fence_policy_opts *o,
		      struct policy_error *err)
{
	size_t i;
	int r;

	if (o->preset) {
		_cleanup_free_ char *text = NULL, *origin = NULL;

		r = fence_read_preset(NULL, o->preset, &text, &origin);
		if (r < 0)
			return preset_error(r, o->preset, err);
		r = policy_load_text(p, text, strlen(text), origin, fence_read_preset, NULL, err);
		if (r < 0)
			return r;
	}
	if (o->policy_file) {
		_cleanup_free_ char *text = NULL;
		size_t len;

		r = read_file(o->policy_file, &text, &len);
		if (r < 0) {
			(void)snprintf(err->file, sizeof(err->file), "%s", o->policy_file);
			err->line = 0;
			(void)snprintf(err->msg, sizeof(err->msg), "cannot read: %s",
				       strerror(-r));
			return r;
		}
		r = policy_load_text(p, text, len, o->policy_file, fence_read_preset, NULL, err);
		if (r < 0)
			return r;
	}
	for (i = 0; i < o->nrules; i++) {
		r = policy_add_rule_arg(p, o->rules[i], err);
		if (r < 0)
			return r;
	}
	return 0;
}

int fence_policy_build(const struct fence_policy_opts *o, struct policy **out,
		       struct policy_error *err)
{
	struct policy *p = policy_new();
	int r;

	if (!p)
		return -ENOMEM;
	r = build_into(p, o, err);
	if (r < 0) {
		policy_free(p);
		return r;
	}
	*out = p;
	return 0;
}

/* Collects the preset names (FILE.ini with a valid name) of DIR, sorted. */
static int preset_names(const char *dir, char ***out, size_t *count)
{
	_cleanup_close_ int fd = -1;
	char **names = NULL;
	size_t n = 0, i, kept = 0;
	int r;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = fence_dir_names(fd, &names, &n);
	if (r < 0)
		return r;
	/* Keep NAME for each valid NAME.ini, in place; the order stays sorted
	 * since ".ini" sorts the same after every name. */
	for (i = 0; i < n; i++) {
		size_t len = strlen(names[i]);

		if (len > 4 && !strcmp(names[i] + len - 4, ".ini")) {
			names[i][len - 4] = '\0';
			if (preset_name_valid(names[i])) {
				names[kept++] = names[i];
				continue;
			}
		}
		free(names[i]);
	}
	*out = names;
	*count = kept;
	return 0;
}

int fence_list_presets(void (*fn)(void *ctx, const char *name, const char *description),
		       void *ctx)
{
	char **names = NULL;
	size_t n = 0, i;
	int r;

	r = preset_names(fence_preset_dir(), &names, &n);
	if (r < 0)
		return r;
	for (i = 0; i < n; i++) {
		struct fence_policy_opts o = { .preset = names[i] };
		struct policy_error err = { 0 };
		struct policy *p = NULL;
		char msg[1024];

		r = fence_policy_build(&o, &p, &err);
		if (r == -ENOMEM)
			break;
		if (r < 0) {
			/* Say so rather than hide a broken preset from the list. */
			policy_error_format(&err, msg, sizeof(msg));
			fn(ctx, names[i], msg);
		} else {
			fn(ctx, names[i], policy_description(p) ? policy_description(p) : "");
		}
		policy_free(p);
		r = 0;
	}
	fence_names_free(names, n);
	return r;
}
