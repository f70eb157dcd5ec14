// SPDX-License-Identifier: Apache-2.0
/*
 * fs_opts.c - the `fencefs mount` command line.  A hand-written loop rather
 * than getopt_long(): getopt keeps global state (optind) and permutes argv,
 * and this parser must be callable again and again from unit tests.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs_opts.h"
#include "util.h"

const char fs_mount_usage[] =
	"usage: fencefs mount [--preset P] [--policy FILE] [--rule LEVEL=PATTERN]...\n"
	"                     [--delta DIR] [--audit FILE] [--audit-all] [--audit-max BYTES]\n"
	"                     [--max-delta BYTES]\n"
	"                     [--exact-opens|--kernel-opens] [--no-passthrough] [-f|--foreground]\n"
	"                     [--fd-cache N] [--stats-file FILE] [-v] [-d] [-o FUSEOPT]\n"
	"                     SOURCE MOUNTPOINT\n"
	"       fencefs mount -f --owner UID:GID --ready-fd N [--stats-fd M] [--audit-fd A]\n"
	"                     [policy options] [--delta DIR] [--max-delta B] SOURCE /dev/fd/K\n"
	"       fencefs umount MOUNTPOINT\n";

static int add_str(const char ***arr, size_t *n, const char *s)
{
	const char **a = realloc(*arr, (*n + 1) * sizeof(*a));

	if (!a)
		return -ENOMEM;
	a[(*n)++] = s;
	*arr = a;
	return 0;
}

static int parse_fd(const char *opt, const char *v, int *out, char *err, size_t errlen)
{
	uint64_t n;

	if (fence_parse_uint(v, 1 << 20, &n) < 0) {
		snprintf(err, errlen, "%s: not a file descriptor: '%s'", opt, v);
		return -EINVAL;
	}
	*out = (int)n;
	return 0;
}

static int parse_owner(const char *v, struct fs_opts *o, char *err, size_t errlen)
{
	const char *colon = strchr(v, ':');
	char uid[32];
	uint64_t u, g;

	if (!colon || (size_t)(colon - v) >= sizeof(uid))
		goto bad;
	memcpy(uid, v, (size_t)(colon - v));
	uid[colon - v] = '\0';
	if (fence_parse_uint(uid, 0xfffffffeU, &u) < 0 ||
	    fence_parse_uint(colon + 1, 0xfffffffeU, &g) < 0)
		goto bad;
	o->has_owner = true;
	o->owner_uid = (uid_t)u;
	o->owner_gid = (gid_t)g;
	return 0;
bad:
	snprintf(err, errlen, "--owner: expected UID:GID, got '%s'", v);
	return -EINVAL;
}

/* Options that take a value; "--opt=value" is accepted too. */
static const char *const with_value[] = {
	"--preset", "--policy", "--rule", "--delta", "--audit", "--audit-fd", "--max-delta",
	"--owner", "--ready-fd", "--stats-fd", "--fd-cache", "--stats-file", "--audit-max", "-o",
};

static bool takes_value(const char *name)
{
	size_t k;

	for (k = 0; k < sizeof(with_value) / sizeof(with_value[0]); k++)
		if (!strcmp(name, with_value[k]))
			return true;
	return false;
}

static int set_option(struct fs_opts *o, const char *name, const char *v, char *err,
		      size_t errlen)
{
	int r;

	if (!strcmp(name, "--preset")) {
		o->policy.preset = v;
	} else if (!strcmp(name, "--policy")) {
		o->policy.policy_file = v;
	} else if (!strcmp(name, "--rule")) {
		return add_str(&o->policy.rules, &o->policy.nrules, v);
	} else if (!strcmp(name, "--delta")) {
		o->delta = v;
	} else if (!strcmp(name, "--audit")) {
		o->audit = v;
	} else if (!strcmp(name, "--audit-fd")) {
		return parse_fd(name, v, &o->audit_fd, err, errlen);
	} else if (!strcmp(name, "--max-delta")) {
		r = fence_parse_size(v, &o->max_delta);
		if (r < 0 || o->max_delta == 0) {
			snprintf(err, errlen, "--max-delta: not a size: '%s'", v);
			return -EINVAL;
		}
	} else if (!strcmp(name, "--audit-max")) {
		r = fence_parse_size(v, &o->audit_max);
		if (r < 0 || o->audit_max < 4096) {
			snprintf(err, errlen, "--audit-max: expected a size of at least 4K, got '%s'",
				 v);
			return -EINVAL;
		}
		o->audit_max_set = true;
	} else if (!strcmp(name, "--owner")) {
		return parse_owner(v, o, err, errlen);
	} else if (!strcmp(name, "--ready-fd")) {
		return parse_fd(name, v, &o->ready_fd, err, errlen);
	} else if (!strcmp(name, "--stats-fd")) {
		return parse_fd(name, v, &o->stats_fd, err, errlen);
	} else if (!strcmp(name, "--fd-cache")) {
		char *end;
		unsigned long long n;

		errno = 0;
		n = strtoull(v, &end, 10);
		if (!*v || *end || errno || v[0] == '-' || n < FS_FD_CACHE_MIN ||
		    n > FS_FD_CACHE_MAX) {
			snprintf(err, errlen, "--fd-cache: expected a number of fds from %d to %d, "
				 "got '%s'", FS_FD_CACHE_MIN, FS_FD_CACHE_MAX, v);
			return -EINVAL;
		}
		o->fd_cache = (int64_t)n;
	} else if (!strcmp(name, "--stats-file")) {
		if (!*v) {
			snprintf(err, errlen, "--stats-file: empty file name");
			return -EINVAL;
		}
		o->stats_file = v;
	} else if (!strcmp(name, "-o")) {
		return add_str(&o->fuse_opts, &o->nfuse_opts, v);
	}
	return 0;
}

static int set_flag(struct fs_opts *o, const char *a, char *err, size_t errlen)
{
	if (!strcmp(a, "-f") || !strcmp(a, "--foreground"))
		o->foreground = true;
	else if (!strcmp(a, "-v") || !strcmp(a, "--verbose"))
		o->verbose = true;
	else if (!strcmp(a, "-d") || !strcmp(a, "--debug"))
		o->debug = o->foreground = true;
	else if (!strcmp(a, "--kernel-opens"))
		o->kernel_opens = true;
	else if (!strcmp(a, "--exact-opens"))
		o->exact_opens = true;
	else if (!strcmp(a, "--no-passthrough"))
		o->no_passthrough = true;
	else if (!strcmp(a, "--audit-all"))
		o->audit_all = true;
	else if (!strcmp(a, "-h") || !strcmp(a, "--help"))
		o->help = true;
	else {
		snprintf(err, errlen, "unknown option '%s'", a);
		return -EINVAL;
	}
	return 0;
}

static int check(struct fs_opts *o, size_t npos, char *err, size_t errlen)
{
	if (npos != 2) {
		snprintf(err, errlen, npos < 2 ? "expected SOURCE and MOUNTPOINT" :
						 "too many arguments");
		return -EINVAL;
	}
	/* No silent default: an empty policy would hide everything, a broad one leak. */
	if (!o->policy.preset && !o->policy.policy_file && !o->policy.nrules) {
		snprintf(err, errlen, "no policy: give --preset, --policy or --rule");
		return -EINVAL;
	}
	if (o->audit && o->audit_fd >= 0) {
		snprintf(err, errlen, "--audit and --audit-fd are exclusive");
		return -EINVAL;
	}
	if (o->audit_max_set && !o->audit && o->audit_fd < 0) {
		snprintf(err, errlen, "--audit-max needs --audit or --audit-fd");
		return -EINVAL;
	}
	if (o->audit_all && !o->audit && o->audit_fd < 0) {
		snprintf(err, errlen, "--audit-all needs --audit or --audit-fd");
		return -EINVAL;
	}
	if (o->kernel_opens && o->exact_opens) {
		snprintf(err, errlen, "--kernel-opens and --exact-opens are exclusive");
		return -EINVAL;
	}
	if (o->ready_fd >= 0 && !o->foreground) {
		snprintf(err, errlen, "--ready-fd needs -f (the caller waits on the daemon)");
		return -EINVAL;
	}
	return 0;
}

int fs_opts_parse(int argc, char **argv, struct fs_opts *o, char *err, size_t errlen)
{
	const char *pos[3];
	size_t npos = 0;
	bool dashdash = false;
	int k, r;

	memset(o, 0, sizeof(*o));
	o->audit_fd = o->ready_fd = o->stats_fd = -1;
	err[0] = '\0';
	for (k = 1; k < argc; k++) {
		const char *a = argv[k];
		char name[32];
		const char *eq;

		if (dashdash || a[0] != '-' || !a[1]) {
			if (npos < 3)
				pos[npos] = a;
			npos++;
			continue;
		}
		if (!strcmp(a, "--")) {
			dashdash = true;
			continue;
		}
		eq = strncmp(a, "--", 2) ? NULL : strchr(a, '=');
		if (eq && (size_t)(eq - a) < sizeof(name)) {
			memcpy(name, a, (size_t)(eq - a));
			name[eq - a] = '\0';
			if (!takes_value(name)) {
				snprintf(err, errlen, "option '%s' takes no value", name);
				return -EINVAL;
			}
			r = set_option(o, name, eq + 1, err, errlen);
		} else if (!strncmp(a, "-o", 2) && a[2]) {
			r = set_option(o, "-o", a + 2, err, errlen);
		} else if (takes_value(a)) {
			if (k + 1 >= argc) {
				snprintf(err, errlen, "option '%s' needs a value", a);
				return -EINVAL;
			}
			r = set_option(o, a, argv[++k], err, errlen);
		} else {
			r = set_flag(o, a, err, errlen);
		}
		if (r == -ENOMEM)
			snprintf(err, errlen, "out of memory");
		if (r < 0)
			return r;
	}
	if (o->help)
		return 0;
	r = check(o, npos, err, errlen);
	if (r < 0)
		return r;
	o->source = pos[0];
	o->mountpoint = pos[1];
	return 0;
}

void fs_opts_free(struct fs_opts *o)
{
	free(o->policy.rules);
	free(o->fuse_opts);
	o->policy.rules = NULL;
	o->fuse_opts = NULL;
}
