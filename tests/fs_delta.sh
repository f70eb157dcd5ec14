#!/bin/bash
# The copy-on-write delta (docs/SPEC.md 6, common/delta_format.h): a session of
# creates, writes at offsets, renames, deletes, chmods, hard links and
# symlinks through a write policy leaves the source byte-for-byte and
# mode-for-mode as it was; the mount shows what the same session does to a
# plain copy; the delta is in overlayfs's format (0:0 whiteouts, opaque
# xattr, origin xattr) so that `mount -t overlay` over source+delta shows
# the same tree; --max-delta answers ENOSPC; a private delta goes at unmount.
. "$(dirname "$0")/lib.sh"
need_root
need_fuse
. "$(dirname "$0")/fs_helpers.bash"

S=$T/src M=$T/mnt D=$T/delta R=$T/ref
mkdir -p "$S" "$M"

# A source tree with a bit of everything.
mkdir -p "$S/dir/sub" "$S/gone_dir/deep" "$S/reborn" "$S/moving/inner" "$S/modes"
printf 'hello\n' >"$S/hello.txt"
head -c 300000 /dev/urandom >"$S/big.bin"
seq 1 1000 >"$S/dir/numbers.txt"
printf 'delete me\n' >"$S/del.txt"
printf 'gone\n' >"$S/gone_dir/deep/f"
printf 'old\n' >"$S/reborn/old.txt"
printf 'm\n' >"$S/moving/inner/m.txt"
printf 'a\n' >"$S/dir/a.txt"
printf 'victim\n' >"$S/dir/victim.txt"
printf 'linked\n' >"$S/dir/sub/hl.txt"
ln "$S/dir/sub/hl.txt" "$S/dir/sub/hl2.txt"
ln -s hello.txt "$S/sym"
ln -s dir/numbers.txt "$S/sym_gone"
printf 'x\n' >"$S/modes/exec.sh"
chmod 0755 "$S/modes/exec.sh"
printf 'p\n' >"$S/modes/private"
chmod 0600 "$S/modes/private"
: >"$S/empty"
printf 'tiny\n' >"$S/truncme.txt"
printf 'shrink me please\n' >"$S/shrink.txt"
printf 'times\n' >"$S/times.txt"
printf 'link me\n' >"$S/linkme.txt"
printf 'resurrect?\n' >"$S/resurrect.txt"
mkdir -p "$S/rmtree/sub"
printf 'r\n' >"$S/rmtree/sub/r.txt"
printf 'old name\n' >"$S/oldname.txt"
# A directory large enough that listing it takes several getdents calls.
mkdir -p "$S/big"
for i in $(seq 1 1500); do : >"$S/big/source_file_with_a_long_name_$i"; done
setfattr -n user.note -v source "$S/hello.txt"
touch -d '2020-01-02 03:04:05.123456789' "$S/hello.txt" "$S/dir/numbers.txt"
manifest "$S" >"$T/before"
cp -a "$S" "$R"
cp -a "$S" "$T/ref-pristine"

# session DIR: the same changes, applied to the mount and to a plain copy.
session() (
	set -e
	cd "$1"
	printf 'new file\n' >new.txt
	mkdir -p newdir/nested
	printf 'nested\n' >newdir/nested/n.txt
	printf 'XYZ' | dd of=big.bin bs=1 seek=4096 conv=notrunc status=none
	printf 'tail' | dd of=big.bin bs=1 seek=400000 conv=notrunc status=none
	printf 'MID' | dd of=dir/numbers.txt bs=1 seek=10 conv=notrunc status=none
	printf 'appended\n' >>hello.txt
	truncate -s 2 shrink.txt
	truncate -s 10000 truncme.txt
	mv dir/a.txt dir/a_renamed.txt
	mv dir/a_renamed.txt a_moved.txt
	mv new.txt newdir/new_moved.txt
	mv -f a_moved.txt dir/victim.txt
	rm del.txt
	rm -r gone_dir
	rm -r reborn
	mkdir reborn
	printf 'new\n' >reborn/fresh.txt
	mv moving moved
	chmod 0600 hello.txt
	chmod 0700 dir/sub
	chmod 0644 modes/exec.sh
	# dir/sub/hl.txt has a second source link (hl2.txt), which copy-up
	# breaks as overlayfs does; so write only through a single-link file.
	ln dir/sub/hl.txt dir/sub/hl_new
	ln linkme.txt hardlink_of_source
	ln newdir/nested/n.txt newdir/n_link
	printf 'via link\n' >>hardlink_of_source
	ln -s ../hello.txt dir/sym_new
	rm sym_gone
	ln -sfn big.bin sym
	touch -d '2001-02-03 04:05:06.987654321' times.txt
	printf 'grown\n' >>empty
	# Deleting what was copied up must leave a whiteout, not uncover the
	# source again.
	printf 'written\n' >>resurrect.txt
	rm resurrect.txt
	printf 'x\n' >>rmtree/sub/r.txt
	rm -r rmtree
	# A new file where a source file was renamed away.
	mv oldname.txt newname.txt
	printf 'new at the old name\n' >oldname.txt
	# Names that mean something to other layered filesystems or to the
	# daemon are plain names here (aufs whiteout prefix, overlayfs
	# xattr-like, the daemon's staging prefix).
	printf 'not a whiteout\n' >.wh.hello.txt
	printf 'plain\n' >.wh..wh..opq
	printf 'user file\n' >'#fencefs-1-1'
	# Big directory: delete some, add more.
	for i in $(seq 1 100); do rm big/source_file_with_a_long_name_$i; done
	for i in $(seq 1 300); do : >big/new_file_with_a_long_name_$i; done
)

fs_mount "$S" "$M" --rule 'write=**' --delta "$D" || { notok "mount"; exit 1; }
ok "mount"
if session "$M" 2>"$T/session.err"; then ok "session through the mount"; else
	notok "session through the mount"; sed 's/^/#   /' "$T/session.err"; fi
session "$R" || { notok "session on the plain copy"; exit 1; }

tree_manifest "$M" >"$T/fuse_view"
tree_manifest "$R" >"$T/ref_view"
check_same "mount shows what the session does to a plain copy" "$T/ref_view" "$T/fuse_view"
check_eq "a .wh. name does not hide its namesake" "hello
appended" "$(cat "$M/hello.txt" 2>&1)"
check_eq "big dir: listing count" 1700 "$(ls -f "$M/big" | grep -c _file_)"
check_eq "no duplicate names in any listing" "" \
	"$(cd "$M" && find . -type d | while read -r d; do ls -fA "$d" | sort | uniq -d | sed "s|^|$d/|"; done | flat)"
check_eq "readdir order is stable" "$(ls -f "$M/big" | md5sum)" "$(ls -f "$M/big" | md5sum)"
check_eq "copy-up by chmod keeps the mtime" "$(stat -c %.9Y "$S/modes/exec.sh")" \
	"$(stat -c %.9Y "$M/modes/exec.sh" 2>&1)"
check_eq "utimensat kept nanoseconds" "981173106.987654321" "$(stat -c %.9Y "$M/times.txt")"
check_eq "hard link to a source file shares the write" "$(cat "$R/linkme.txt")" \
	"$(cat "$M/linkme.txt" 2>&1)"
check_eq "hard link count" 2 "$(stat -c %h "$M/newdir/n_link" 2>&1)"
check_eq "copy-up keeps user xattrs" source \
	"$(getfattr --absolute-names --only-values -n user.note "$M/hello.txt" 2>&1)"
check_eq "source unchanged while mounted" "" "$(manifest "$S" | diff "$T/before" - | head -5)"

fs_umount "$M" && ok "umount" || notok "umount"
check_eq "source unchanged after unmount" "" "$(manifest "$S" | diff "$T/before" - | head -5)"

# The delta directory (common/delta_format.h).
U=$D/upper
check_eq "delta dir is 0700" 700 "$(stat -c %a "$D" 2>&1)"
check "delta has upper/ and work/" test -d "$U" -a -d "$D/work"
if python3 - "$D/fencefs-delta.json" "$(realpath "$S")" <<'EOF'; then
import json, sys
m = json.load(open(sys.argv[1]))
assert m["fencefs_delta"] == 1, m
assert m["source"] == sys.argv[2], (m["source"], sys.argv[2])
assert m["xattr_ns"] == "trusted", m["xattr_ns"]
assert ["write", "**"] in m["rules"], m["rules"]
assert len(m["policy_digest"]) == 64, m["policy_digest"]
EOF
	ok "metadata: fencefs-delta.json"
else
	notok "metadata: fencefs-delta.json"
fi

# Whiteouts are 0:0 character devices; deleted directories too.
for w in del.txt gone_dir sym_gone dir/a.txt moving resurrect.txt rmtree big/source_file_with_a_long_name_1; do
	check_eq "whiteout for $w" "character special file 0:0" \
		"$(stat -c '%F %t:%T' "$U/$w" 2>&1)"
done
# A directory removed and made again is opaque; a kept one is not.
check_eq "opaque: reborn" y "$(getfattr --absolute-names --only-values -n trusted.overlay.opaque "$U/reborn" 2>&1)"
check_eq "opaque: reborn holds only the new file" fresh.txt "$(ls -A "$U/reborn" 2>&1)"
check "not opaque: dir (only changed inside)" \
	sh -c "! getfattr --absolute-names -n trusted.overlay.opaque '$U/dir' >/dev/null 2>&1"

# Each copied-up file records its origin: dev, ino, size and mtime of the
# source at copy-up time.
origin_of() {
	stat -c 'dev=%d ino=%i size=%s mtime=%.9Y' "$1"
}
for f in hello.txt big.bin dir/numbers.txt shrink.txt truncme.txt modes/exec.sh empty times.txt; do
	check_eq "origin of $f" "$(origin_of "$S/$f")" \
		"$(getfattr --absolute-names --only-values -n trusted.fencefs.origin "$U/$f" 2>&1)"
done
check "no origin on a new file" \
	sh -c "! getfattr --absolute-names -n trusted.fencefs.origin '$U/newdir/nested/n.txt' >/dev/null 2>&1"
check "unchanged source file not copied up" test ! -e "$U/dir/sub/hl2.txt"
check_eq "a copied-up file has the new content" "$(sha256sum <"$R/big.bin")" \
	"$(sha256sum <"$U/big.bin" 2>&1)"
# No staging leftovers after a clean unmount (the session made no name
# containing "fencefs" or ending in .tmp).
check_eq "no temporary leftovers in upper/" "" \
	"$(find "$U" \( -name '*fencefs*' -o -name '*.tmp' \) ! -path "$U/#fencefs-1-1" | flat)"
check_eq "no leftovers in work/" "" "$(find "$D/work" -mindepth 1 | flat)"

# A delta reused by a second mount shows the first session's changes.
M2=$T/mnt2
fs_mount "$S" "$M2" --rule 'write=**' --delta "$D" || notok "remount on the same delta"
tree_manifest "$M2" >"$T/fuse_view2"
check_same "remount on the same delta shows the same tree" "$T/fuse_view" "$T/fuse_view2"
fs_umount "$M2"

# overlayfs over source + delta shows the same tree as the fencefs mount did.
O=$T/ovl
mkdir -p "$O"
if mount -t overlay overlay -o "lowerdir=$S,upperdir=$U,workdir=$D/work" "$O" 2>"$T/ovl.err"; then
	at_exit "umount -l '$O'"
	ok "overlayfs mounts source+delta"
	tree_manifest "$O" >"$T/ovl_view"
	check_same "overlayfs shows the same tree as fencefs" "$T/fuse_view" "$T/ovl_view"
	umount "$O"
else
	notok "overlayfs mounts source+delta"; sed 's/^/#   /' "$T/ovl.err"
fi
check_eq "source unchanged after overlayfs" "" "$(manifest "$S" | diff "$T/before" - | head -5)"

# The same session by an unprivileged owner of the source: copy-up keeps
# owners, new files belong to their creator, and overlayfs agrees.
if command -v setpriv >/dev/null; then
	chmod 0755 "$T"
	Su=$T/src-user Mu=$T/mnt-user Du=$T/delta-user Ru=$T/ref-user
	rm -rf "$Su" && cp -a "$T/ref-pristine" "$Su" && chown -R -h 65534:65534 "$Su"
	cp -a "$Su" "$Ru"
	manifest "$Su" >"$T/before-user"
	mkdir -p "$Mu"
	FS_CALLER=65534
	fs_mount "$Su" "$Mu" --rule 'write=**' --delta "$Du" || notok "user: mount"
	if as_caller bash -c "$(declare -f session); session \"\$1\"" _ "$Mu" 2>"$T/session-user.err"
	then ok "user: session through the mount"; else
		notok "user: session through the mount"; head -5 "$T/session-user.err" | sed 's/^/#   /'; fi
	as_caller bash -c "$(declare -f session); session \"\$1\"" _ "$Ru" ||
		notok "user: session on the plain copy"
	tree_manifest "$Mu" >"$T/fuse_view_user"
	tree_manifest "$Ru" >"$T/ref_view_user"
	check_same "user: mount shows what the session does to a plain copy" \
		"$T/ref_view_user" "$T/fuse_view_user"
	FS_CALLER=
	fs_umount "$Mu" || notok "user: umount"
	check_eq "user: source unchanged" "" "$(manifest "$Su" | diff "$T/before-user" - | head -5 | flat)"
	mkdir -p "$T/ovl-user"
	if mount -t overlay overlay -o "lowerdir=$Su,upperdir=$Du/upper,workdir=$Du/work" \
		"$T/ovl-user" 2>"$T/ovl.err"; then
		at_exit "umount -l '$T/ovl-user'"
		tree_manifest "$T/ovl-user" >"$T/ovl_view_user"
		check_same "user: overlayfs shows the same tree as fencefs" \
			"$T/fuse_view_user" "$T/ovl_view_user"
		umount "$T/ovl-user"
	else
		notok "user: overlayfs mounts source+delta"; sed 's/^/#   /' "$T/ovl.err"
	fi
else
	skip "user: session (no setpriv)"
fi

# --max-delta: ENOSPC once the delta would grow past the budget.
M3=$T/mnt3 D3=$T/delta3
fs_mount "$S" "$M3" --rule 'write=**' --delta "$D3" --max-delta 1048576 || notok "mount --max-delta"
expect "max-delta: 100 KiB fits" OK fill "$M3/small" 102400
expect "max-delta: copy-up that fits" OK pwrite "$M3/big.bin" 0 abc
expect "max-delta: 4 MiB does not" ENOSPC fill "$M3/large" 4194304
d3=$(du -sb "$D3/upper" 2>/dev/null | cut -f1)
if [ -n "$d3" ] && [ "$d3" -le $((1048576 + 65536)) ]; then ok "max-delta: delta within budget ($d3)"; else
	notok "max-delta: delta within budget"; echo "#   du -sb upper: $d3"; fi
fs_umount "$M3"
check_eq "source unchanged after max-delta" "" "$(manifest "$S" | diff "$T/before" - | head -5)"

# Without --delta the private delta exists while mounted and is removed at
# unmount.  Find it through the daemon's open descriptors (it holds the
# upper directory) and the usual temporary directories.
M4=$T/mnt4
fs_mount "$S" "$M4" --rule 'write=**' || notok "mount without --delta"
marker=fencefs-private-marker-$$-$RANDOM
printf '%s\n' "$marker" >"$M4/$marker"
dirs=$(for p in $(fs_daemon_pids "$M4"); do
	for fd in /proc/"$p"/fd/*; do readlink "$fd"; done
done 2>/dev/null | grep '^/' | grep -v "^$S" | grep -v '^/dev/' | sort -u)
found=$(timeout 30 find $dirs /tmp /var/tmp /run /dev/shm ${TMPDIR:-} -xdev -name "$marker" \
	-not -path "$M4/*" -not -path "$S/*" 2>/dev/null | head -1)
if [ -n "$found" ]; then
	ok "private delta holds the write while mounted"
	private=$(dirname "$(dirname "$found")")
	fs_umount "$M4"
	fs_wait_daemon_gone "$M4" 5
	check "private delta removed at unmount ($private)" test ! -e "$found" -a ! -e "$private/upper"
else
	notok "private delta holds the write while mounted (not found)"
	fs_umount "$M4"
fi
check_eq "source unchanged at the end" "" "$(manifest "$S" | diff "$T/before" - | head -5)"
