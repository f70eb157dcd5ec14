#!/bin/bash
# Issue 15, items 2-5, as classes: the delta budget follows what the delta
# really holds on disk (fallocate's blocks, files deleted while still
# open), and no answer tells whether something hidden is there (creating
# or renaming onto a name a directory-only rule hides; directory sizes).
. "$(dirname "$0")/../lib.sh"
need_root
need_fuse
[ -x "$FENCEFS" ] || skip_all "fencefs not built ($FENCEFS)"
command -v fallocate >/dev/null || skip_all "needs fallocate (util-linux)"

MiB=$((1024 * 1024))
# du of the delta in bytes (allocated, as the disk sees it)
disk_used() { du -s -B1 "$1" | cut -f1; }

# mount SRC MNT ARGS...: a fencefs mount, unmounted at exit
mount_fs() {
	local src=$1 mnt=$2
	shift 2
	mkdir -p "$mnt"
	at_exit "timeout 10 '$FENCEFS' umount '$mnt' 2>/dev/null"
	TMPDIR=$T timeout 20 "$FENCEFS" mount "$@" "$src" "$mnt" 2>>"$T/mount.err"
}

# --- 2. allocation is charged -----------------------------------------------
src=$T/src2 mnt=$T/mnt2 delta=$T/delta2
mkdir -p "$src"
if mount_fs "$src" "$mnt" --rule 'write=**' --delta "$delta" --max-delta 8M; then
	for mode in "-n" "-n -z" "-z" ""; do
		f="$mnt/alloc$RANDOM"
		: >"$f"
		# shellcheck disable=SC2086 # the mode is one or two flags
		err=$(fallocate $mode -o 0 -l 64M "$f" 2>&1)
		check "fallocate ${mode:-(plain)} 64M under an 8M budget: ENOSPC" \
			grep -q "No space left on device" <<<"$err"
		rm -f "$f"
	done
	# Many small KEEP_SIZE allocations, each under the budget alone.
	n=0
	for k in $(seq 1 16); do
		: 2>/dev/null >"$mnt/small$k"
		fallocate -n -o 0 -l 1M "$mnt/small$k" 2>/dev/null && n=$((n + 1))
	done
	check "16 KEEP_SIZE allocations of 1M stop at the budget (got $n)" test "$n" -le 8
	used=$(disk_used "$delta")
	check "the delta's disk use stays near the budget ($used bytes)" \
		test "$used" -le $((9 * MiB))
	rm -f "$mnt"/small*
	# Freed again: allocations fit once more.
	: >"$mnt/again"
	check "after removing them, 4M can be allocated again" fallocate -n -l 4M "$mnt/again"
	rm -f "$mnt/again"
	# A plain write still works up to the budget, and an overwrite in place too.
	check "a 6M file can be written" dd if=/dev/zero of="$mnt/six" bs=1M count=6 status=none
	check "it can be rewritten in place" \
		dd if=/dev/zero of="$mnt/six" bs=1M count=6 conv=notrunc status=none
	err=$(dd if=/dev/zero of="$mnt/more" bs=1M count=4 status=none 2>&1)
	check "4M more do not fit: ENOSPC" grep -q "No space left on device" <<<"$err"
	rm -f "$mnt/six" "$mnt/more"
else
	notok "mount with --max-delta 8M"
fi

# --- 3. a deleted file still open stays charged ------------------------------
src=$T/src3 mnt=$T/mnt3 delta=$T/delta3
mkdir -p "$src"
if mount_fs "$src" "$mnt" --rule 'write=**' --delta "$delta" --max-delta 8M; then
	dd if=/dev/zero of="$mnt/a" bs=1M count=6 status=none
	exec 7<"$mnt/a"
	rm "$mnt/a"
	err=$(dd if=/dev/zero of="$mnt/b" bs=1M count=6 status=none 2>&1)
	check "unlinked but held open: its 6M still count (second 6M: ENOSPC)" \
		grep -q "No space left on device" <<<"$err"
	rm -f "$mnt/b"
	check "the held file is still readable (6M)" test "$(wc -c <&7)" -eq $((6 * MiB))
	exec 7<&-
	# Closed: the kernel forgets it and the daemon gives the 6M back.
	freed=no
	for _ in $(seq 40); do
		if dd if=/dev/zero of="$mnt/c" bs=1M count=6 status=none 2>/dev/null; then
			freed=yes
			break
		fi
		rm -f "$mnt/c"
		sleep 0.1
	done
	check_eq "closed: the 6M go back to the budget" yes "$freed"
	rm -f "$mnt/c"
	# The same by rename over it.
	dd if=/dev/zero of="$mnt/d" bs=1M count=6 status=none
	echo small >"$mnt/e"
	exec 7<"$mnt/d"
	mv "$mnt/e" "$mnt/d"
	err=$(dd if=/dev/zero of="$mnt/f" bs=1M count=6 status=none 2>&1)
	check "renamed over but held open: still counted (ENOSPC)" \
		grep -q "No space left on device" <<<"$err"
	exec 7<&-
	rm -f "$mnt/f" "$mnt/d"
	used=$(disk_used "$delta")
	check "the delta's disk use stays near the budget ($used bytes)" \
		test "$used" -le $((9 * MiB))
else
	notok "mount with --max-delta 8M (unlink)"
fi

# --- 4. no EEXIST/EISDIR oracle where a directory-only rule hides ----------
src=$T/src4 mnt=$T/mnt4
mkdir -p "$src/a/secrets" "$src/b" "$src/c/.ssh"
echo s3cret >"$src/a/secrets/token"
echo k >"$src/c/.ssh/id"
echo data >"$src/file"
if mount_fs "$src" "$mnt" --rule 'write=**' --rule 'none=secrets/' --rule 'none=.ssh/'; then
	for name in secrets .ssh; do
		for d in a b c; do
			out=""
			for op in touch symlink fifo link rename mkdir; do
				e=$(cd "$mnt/$d" && case $op in
					touch) touch "$name" ;;
					symlink) ln -s target "$name" ;;
					fifo) mkfifo "$name" ;;
					link) ln ../file "$name" ;;
					rename) cp ../file tmp.$$ && mv tmp.$$ "$name"; r=$?; rm -f tmp.$$; exit $r ;;
					mkdir) mkdir "$name" ;;
					esac 2>&1 >/dev/null | sed 's/.*: //')
				out="$out $op:${e:-ok}"
			done
			eval "res_$d=\"\$out\""
		done
		# shellcheck disable=SC2154 # set by eval above
		check_eq "$name: a/ (hidden dir there) answers as b/ (nothing there)" "$res_b" "$res_a"
		# shellcheck disable=SC2154
		check_eq "$name: c/ answers as b/" "$res_b" "$res_c"
		echo "# $name answers:$res_b"
		check_eq "$name: every create is refused (EACCES)" 6 \
			"$(grep -o 'Permission denied' <<<"$res_b" | wc -l)"
	done
	check_eq "the source is unchanged" "s3cret" "$(cat "$src/a/secrets/token")"
	check "nothing named secrets was made in b/" test ! -e "$src/b/secrets"
else
	notok "mount with dir-only none rules"
fi

# --- 5. directory sizes tell nothing of hidden entries ----------------------
# On tmpfs, whose directory sizes grow with every entry.
src=$T/src5 mnt=$T/mnt5
mkdir -p "$src"
mount -t tmpfs -o size=4m tmpfs "$src" || skip_all "cannot mount a tmpfs"
at_exit "umount '$src'"
mkdir -p "$src/few" "$src/many"
echo v >"$src/few/visible.txt"
echo v >"$src/many/visible.txt"
for k in $(seq 1 60); do echo s >"$src/many/hidden-$k-with-a-long-name-to-grow-the-directory.key"; done
if mount_fs "$src" "$mnt" --rule 'read=**' --rule 'none=*.key'; then
	check_eq "1 visible + 60 hidden: the same size and blocks as 1 visible" \
		"$(stat -c '%s %b %h' "$mnt/few")" "$(stat -c '%s %b %h' "$mnt/many")"
	check_eq "the listing shows the visible one only" "visible.txt" "$(ls "$mnt/many")"
	check_eq "the root's size is the same fixed size" "$(stat -c '%s' "$mnt/few")" \
		"$(stat -c '%s' "$mnt")"
else
	notok "mount with a hiding rule"
fi
exit 0
