#!/bin/bash
# dac.sh - a fencefs mount must not weaken the host's own permissions.
#
# Root mounts for everyone (allow_other), so every local user reaches the
# mount.  With the full-access preset the levels allow everything, and what
# is left to refuse is plain Unix DAC: write permission on a parent, search
# permission on every directory of a path, the sticky bit, ownership.  This
# is a differential test: each operation runs as an ordinary user (65534)
# on a native copy of the tree and on the mount, and the two answers must
# be the same.  Root looks at everything through the mount first, so the
# kernel's caches are warm: a check that only happens on a cache miss does
# not count.  (pjdfstest's chmod, chown, mkdir, open, rename, rmdir,
# truncate and unlink tests of EACCES/EPERM are the wider form of this.)
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib.sh"
sec_need_fencefs
command -v setpriv >/dev/null || skip_all "setpriv is missing (util-linux)"
[ -x "$PROBES/fsprobe" ] || { notok "fsprobe is built ($PROBES/fsprobe)"; exit 1; }

# $T is root's 0700: the user needs a world-searchable place.
W=$(mktemp -d /tmp/fence-dac.XXXXXX)
at_exit "$FENCEFS umount $W/mnt; umount -l $W/mnt; rm -rf '$W'"
chmod 0755 "$W"
cp "$PROBES/fsprobe" "$W/fsprobe"
as_user() { setpriv --reuid=65534 --regid=65534 --clear-groups "$W/fsprobe" "$@"; }

# same NAME OP ARGS...: ARGS use @ for the root of the tree.
same() {
	local name=$1 op=$2 native mounted a
	shift 2
	local -a na=() ma=()
	for a in "$@"; do na+=("${a//@/$W/native}"); ma+=("${a//@/$W/mnt}"); done
	native=$(as_user "$op" "${na[@]}" 2>&1 | cut -d' ' -f1)
	mounted=$(as_user "$op" "${ma[@]}" 2>&1 | cut -d' ' -f1)
	check_eq "dac$TAG: $name (native $native)" "$native" "$mounted"
}

# run_mode MOUNT-OPTION: the whole comparison on a fresh tree and mount.
run_mode() {
	MODE=$1
	TAG=${1:+ ($1)}
	rm -rf "$W/src" "$W/native" "$W/delta"
	S=$W/src
	mkdir -p "$S/rootdir" "$S/private/inner" "$S/sticky" "$S/userdir" "$S/ro" "$W/mnt"
	# One file per operation, so that one answer cannot depend on another.
	for f in rootfile unlink rename trunc wopen chmod chown utime xattr link; do
		echo keep >"$S/rootdir/$f"
	done
	sec_add_canary "$S/private/notes.txt"
	sec_add_canary "$S/private/inner/deep.txt"
	chmod 0644 "$S/private/notes.txt" "$S/private/inner/deep.txt"
	chmod 0700 "$S/private"
	echo root >"$S/sticky/rootfile"
	echo other >"$S/sticky/otherfile"
	echo other >"$S/sticky/otherfile2"
	chown 65533:65533 "$S/sticky/otherfile" "$S/sticky/otherfile2"
	chmod 1777 "$S/sticky"
	chown 65534:65534 "$S/userdir" "$S/ro"
	chmod 0555 "$S/ro"
	mkfifo -m 0477 "$S/userdir/fifo" "$S/userdir/fifo2"
	chown 65534:65534 "$S/userdir/fifo" "$S/userdir/fifo2"
	chmod 0755 "$S" "$S/rootdir"
	cp -a "$S" "$W/native"
	before=$(sec_tree_sum "$S")

	# shellcheck disable=SC2086
	if ! timeout 20 "$FENCEFS" mount $MODE --preset full-access --delta "$W/delta" "$S" "$W/mnt" \
		>"$W/mount.log" 2>&1; then
		notok "dac$TAG: fencefs mount"; sed 's/^/#   /' "$W/mount.log" | head -3
		return
	fi
	# Root walks and reads everything first: every dentry and attribute cached.
	find "$W/mnt" >/dev/null
	cat "$W/mnt/private/notes.txt" "$W/mnt/private/inner/deep.txt" >/dev/null

	same "read a file under a 0700 directory" read @/private/notes.txt
	same "stat under a 0700 directory" stat @/private/inner/deep.txt
	same "read two levels under a 0700 directory" read @/private/inner/deep.txt
	same "list a 0700 directory" opendir @/private
	same "access(R_OK) under a 0700 directory" access @/private/notes.txt r
	same "mkdir in root's 0755 directory" mkdir @/rootdir/x
	same "create in root's 0755 directory" creat @/rootdir/y
	same "unlink root's file in root's 0755 directory" unlink @/rootdir/unlink
	same "rename root's file away" rename @/rootdir/rename @/userdir/moved
	same "rename into root's directory" rename @/userdir/fifo2 @/rootdir/fifo
	same "rmdir a directory in root's 0755 directory" rmdir @/private
	same "truncate root's 0644 file" truncate @/rootdir/trunc 0
	same "open root's 0644 file for writing" open @/rootdir/wopen wronly
	same "chmod root's file" chmod @/rootdir/chmod 0777
	same "chown root's file to oneself" chown @/rootdir/chown 65534 65534
	same "utimes with explicit times on root's file" utimensat @/rootdir/utime 1000 0
	same "setxattr on root's file" setxattr @/rootdir/xattr user.x 1
	same "unlink another user's file in a sticky directory" unlink @/sticky/otherfile
	same "unlink root's file in a sticky directory" unlink @/sticky/rootfile
	same "rename another user's file in a sticky directory" rename @/sticky/otherfile2 @/sticky/mine
	same "mkdir in one's own 0555 directory" mkdir @/ro/x
	same "create in one's own 0555 directory" creat @/ro/y
	same "open one's own 0477 FIFO read-write" open @/userdir/fifo rdwr,nonblock
	same "hard link to root's file (protected_hardlinks)" link @/rootdir/link @/userdir/hl
	same "create in one's own directory (allowed)" creat @/userdir/mine

	sec_scan "dac$TAG: no canary in the delta" "$W/delta"
	timeout 20 "$FENCEFS" umount "$W/mnt" >/dev/null 2>&1
	check_eq "dac$TAG: source tree unchanged" "$before" "$(sec_tree_sum "$S")"
}

# Daemon mode (--exact-opens: the daemon checks at open) and kernel mode
# (the default: default_permissions).
run_mode --exact-opens
run_mode --kernel-opens
