/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dirnames.h - the sorted names of a directory, for walks that must visit
 * entries in a stable order (preset listing, delta walks).
 */
#ifndef FENCE_DIRNAMES_H
#define FENCE_DIRNAMES_H

#include <dirent.h>
#include <stddef.h>

/*
 * Reads the names in directory DIRFD but "." and "..", sorted with
 * strcmp.  DIRFD is reopened, so it stays usable and owned by the caller.
 * Returns 0 with *out (free with fence_names_free()) and *count, or
 * -errno.
 */
int fence_dir_names(int dirfd, char ***out, size_t *count);

/*
 * NAME in DIRFD (".": DIRFD itself, reopened so that DIRFD stays the
 * caller's) as a directory stream: O_RDONLY | O_DIRECTORY | O_CLOEXEC plus
 * FLAGS (O_NOFOLLOW).  NULL with errno set, nothing left open.
 */
DIR *fence_opendirat(int dirfd, const char *name, int flags);

/* Frees N names and the array.  NULL is fine. */
void fence_names_free(char **names, size_t n);

/* strcmp on two char * array elements, for qsort() and bsearch(). */
int fence_name_cmp(const void *a, const void *b);

#endif
