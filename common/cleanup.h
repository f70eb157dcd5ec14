/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cleanup.h - scope-bound destructors (bubblewrap's cleanup_free/cleanup_fd,
 * systemd's TAKE_FD).  Every destructor accepts "nothing to do" (NULL, -1).
 */
#ifndef FENCE_CLEANUP_H
#define FENCE_CLEANUP_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void cleanup_freep(void *p)
{
	free(*(void **)p);
}

static inline void cleanup_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		(void)close(*fd);
		errno = saved;
	}
}

static inline void cleanup_fclosep(FILE **f)
{
	if (*f)
		(void)fclose(*f);
}

static inline void cleanup_closedirp(DIR **d)
{
	if (*d)
		(void)closedir(*d);
}

#define _cleanup_free_ __attribute__((cleanup(cleanup_freep)))
#define _cleanup_close_ __attribute__((cleanup(cleanup_closep)))
#define _cleanup_fclose_ __attribute__((cleanup(cleanup_fclosep)))
#define _cleanup_closedir_ __attribute__((cleanup(cleanup_closedirp)))

/* Hand an fd or pointer out of a cleanup scope. */
#define TAKE_FD(fd)                                                                                \
	({                                                                                         \
		int _take_fd = (fd);                                                               \
		(fd) = -1;                                                                         \
		_take_fd;                                                                          \
	})
#define TAKE_PTR(ptr)                                                                              \
	({                                                                                         \
		__typeof__(ptr) _take_ptr = (ptr);                                                 \
		(ptr) = NULL;                                                                      \
		_take_ptr;                                                                         \
	})

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
