/* SPDX-License-Identifier: Apache-2.0 */
/*
 * launch_delta.h - fence-run's private delta: made when the user gave no
 * --delta, handed to the daemon like any other, read by --apply after the
 * daemon exits, then removed.
 */
#ifndef FENCE_LAUNCH_DELTA_H
#define FENCE_LAUNCH_DELTA_H

/* Creates $TMPDIR/fence-run.<uid>/delta.<pid>.XXXXXX (0700), after
 * removing the deltas of fence-runs that died without cleaning up.
 * 0 with *path malloc'd, or -errno. */
int launch_delta_make_private(char **path);

/* Moves a private delta out of reach of the stale-delta reaping (a
 * refused --apply keeps it for the user), updating *PATH.  0 or -errno. */
int launch_delta_keep(char **path);

/* Removes DIR and everything below it, never following a symlink nor
 * crossing a mount; directories the sandbox made unwritable are made
 * writable first.  Errors are ignored: nothing more can be done. */
void launch_delta_remove(const char *dir);

#endif
