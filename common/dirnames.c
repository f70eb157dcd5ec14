// SPDX-License-Identifier: Apache-2.0
#include "dirnames.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"

int fence_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void fence_names_free(char **names, size_t n)
{
	size_t i;

	if (!names)
		return;
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

DIR *fence_opendirat(int dirfd, const char *name, int flags)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | flags);
	DIR *d;

	if (fd < 0)
		return NULL;
	d = fdopendir(fd);
	if (!d) {
		int e = errno;

		(void)close(fd);
		errno = e;
	}
	return d;
}

int fence_dir_names(int dirfd, char ***out, size_t *count)
{
	_cleanup_closedir_ DIR *d = NULL;
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;

	d = fence_opendirat(dirfd, ".", 0);
	if (!d)
		return -errno;
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de)
			break;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 32;
			char **nn = realloc(names, ncap * sizeof(*nn));

			if (!nn)
				goto out_nomem;
			names = nn;
			cap = ncap;
		}
		names[n] = strdup(de->d_name);
		if (!names[n])
			goto out_nomem;
		n++;
	}
	if (errno) {
		int r = -errno;

		fence_names_free(names, n);
		return r;
	}
	if (n)
		qsort(names, n, sizeof(*names), fence_name_cmp);
	*out = names;
	*count = n;
	return 0;

out_nomem:
	fence_names_free(names, n);
	return -ENOMEM;
}
