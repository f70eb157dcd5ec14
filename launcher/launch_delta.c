// SPDX-License-Identifier: Apache-2.0
/*
 * launch_delta.c - the private delta (see the header).
 */
#include "launch_delta.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

int launch_delta_make_private(char **path)
{
	const char *tmp = getenv("TMPDIR");
	char *p;

	if (asprintf(&p, "%s/fence-run-delta.XXXXXX", tmp && *tmp ? tmp : "/tmp") < 0)
		return -ENOMEM;
	if (!mkdtemp(p)) {
		int e = errno;

		free(p);
		return -e;
	}
	*path = p;
	return 0;
}

static int make_writable(const char *path, const struct stat *st, int type, struct FTW *f)
{
	if (type == FTW_D)
		(void)chmod(path, 0700);
	return 0;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *f)
{
	(void)remove(path);
	return 0;
}

void launch_delta_remove(const char *dir)
{
	(void)nftw(dir, make_writable, 16, FTW_PHYS | FTW_MOUNT);
	(void)nftw(dir, remove_entry, 16, FTW_PHYS | FTW_MOUNT | FTW_DEPTH);
}
