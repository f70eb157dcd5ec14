/* SPDX-License-Identifier: Apache-2.0 */
/*
 * delta_format.h - the on-disk format of a fencefs delta (docs/SPEC.md 6), shared by
 * the daemon that writes it (fusefs/delta.c) and the tools that read it
 * (fencefs diff/commit/discard, fence-run --apply).
 *
 * DELTA/                      created 0700 by the daemon
 *   fencefs-delta.json        metadata, written once when the delta is made
 *   upper/                    an overlayfs upperdir: new and changed files
 *   work/                     an overlayfs workdir (same filesystem as upper);
 *                             fencefs also stages copy-ups here before the
 *                             atomic rename into upper/
 *
 * So `mount -t overlay -o lowerdir=SRC,upperdir=DELTA/upper,workdir=DELTA/work`
 * shows the same tree as the fencefs mount (for paths the policy shows).
 *
 * upper/ follows overlayfs's format:
 *  - a deleted source entry is a whiteout: a character device 0:0 with the
 *    deleted name;
 *  - a directory that replaces a source directory of the same name (rmdir
 *    then mkdir) is opaque: xattr XATTR_NS "overlay.opaque" = "y";
 *  - every file or directory copied up from the source carries xattr
 *    XATTR_NS "fencefs.origin" = "dev=%llu ino=%llu size=%lld mtime=%lld.%09ld"
 *    (the source's st_dev, st_ino, st_size, st_mtim at copy-up time), so a
 *    commit can tell that the source changed meanwhile and diff can tell a
 *    copy from a new file.
 * XATTR_NS is "trusted." when the daemon had CAP_SYS_ADMIN when it made the
 * delta (as overlayfs does as root), "user." otherwise; the metadata says
 * which.  The sandbox can set neither namespace through the mount.
 *
 * fencefs-delta.json is one JSON object:
 *   {"fencefs_delta":1,"version":"0.1.0","created":"2026-11-23T10:00:00.000000Z",
 *    "source":"/abs/path/of/source","xattr_ns":"trusted",
 *    "policy_digest":"<sha256 hex>",
 *    "rules":[["read","**"],["write","/output/"],...]}
 * rules is the ordered rule list of the mount's policy (level, pattern), so
 * commit can rebuild the policy with policy_add_rule() and re-check that
 * every changed path was writable.
 */
#ifndef FENCE_DELTA_FORMAT_H
#define FENCE_DELTA_FORMAT_H

#define DELTA_META_NAME "fencefs-delta.json"
#define DELTA_UPPER_NAME "upper"
#define DELTA_WORK_NAME "work"
#define DELTA_FORMAT_VERSION 1

#define DELTA_XATTR_OPAQUE "overlay.opaque"   /* after "trusted." or "user." */
#define DELTA_XATTR_ORIGIN "fencefs.origin"   /* after "trusted." or "user." */

#endif
