#!/bin/bash
# fencefs discard (issue 7 item 3): removes a delta, refuses anything that
# is not one, and never follows a symlink or crosses a mount while removing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/delta_helpers.bash"
need_root
need_overlay
[ -x "$FENCEFS" ] || skip_all "no $FENCEFS (build it first)"

S=$T/src
mkdir -p "$S/src" "$S/dir"
echo a >"$S/src/a.c"
echo b >"$S/dir/b"
victim=$T/victim
mkdir -p "$victim/sub"
echo keep >"$victim/file"
echo keep >"$victim/sub/file"
vstate=$(tree_state "$victim")

# A real delta with whiteouts, an opaque dir, overlayfs's mode-000 work/work,
# and symlinks to the victim inside it.
D=$T/d
delta_new "$S" "$D" 'write=**'
ovl_run "$S" "$D" "echo more >>src/a.c && rm -r dir && mkdir dir && echo n >dir/n &&
	ln -s '$victim' src/tovictim && ln -s '$victim/file' src/tofile" ||
	notok "overlayfs session"
"$FENCEFS" discard "$D" 2>"$T/err"
check_eq "discard: exit 0" 0 $?
check "discard: the delta is gone" [ ! -e "$D" ]
check_eq "discard: symlinks inside were removed, not followed" "$vstate" "$(tree_state "$victim")"
check "discard: the source is untouched" every '[ "$(cat "$S/src/a.c")" = a ]' '[ -f "$S/dir/b" ]'

# Not a delta: no metadata, bad metadata, a file, a symlink to a delta.
mkdir -p "$T/plain/upper"
echo precious >"$T/plain/upper/f"
"$FENCEFS" discard "$T/plain" 2>"$T/err1"
check_eq "no metadata: exit 2" 2 $?
check "no metadata: refused with a reason" grep -q 'is not a fencefs delta' "$T/err1"
check "no metadata: nothing removed" [ -f "$T/plain/upper/f" ]

echo '{"fencefs_delta":2,"source":"/x","xattr_ns":"trusted","rules":[]}' >"$T/plain/fencefs-delta.json"
"$FENCEFS" discard "$T/plain" 2>/dev/null
check_eq "unknown format version: refused" 2 $?
echo 'not json' >"$T/plain/fencefs-delta.json"
"$FENCEFS" discard "$T/plain" 2>/dev/null
check_eq "malformed metadata: refused" 2 $?
check "malformed metadata: nothing removed" [ -f "$T/plain/upper/f" ]

D2=$T/d2
delta_new "$S" "$D2" 'write=**'
echo x >"$D2/upper/x"
ln -s "$D2" "$T/link-to-delta"
"$FENCEFS" discard "$T/link-to-delta" 2>"$T/err3"
check_eq "symlink to a delta: refused" 2 $?
check "symlink to a delta: the delta is intact" every '[ -f "$D2/upper/x" ]' '[ -L "$T/link-to-delta" ]'

# The metadata as a symlink to a valid one elsewhere does not make a delta.
mkdir -p "$T/fake"
ln -s "$D2/fencefs-delta.json" "$T/fake/fencefs-delta.json"
echo precious >"$T/fake/f"
"$FENCEFS" discard "$T/fake" 2>/dev/null
check_eq "metadata symlink: refused" 2 $?
check "metadata symlink: nothing removed" [ -f "$T/fake/f" ]

# A filesystem mounted inside a delta is not descended into.
mkdir -p "$D2/upper/mnt"
mount --bind "$victim" "$D2/upper/mnt"
at_exit "umount '$D2/upper/mnt'"
"$FENCEFS" discard "$D2" 2>"$T/err4"
check_eq "mount inside: refused" 2 $?
check_eq "mount inside: the mounted tree is untouched" "$vstate" "$(tree_state "$victim")"
umount "$D2/upper/mnt"
"$FENCEFS" discard "$D2/" 2>/dev/null
check_eq "after unmounting, discard (with a trailing slash) works" 0 $?
check "  ... and the delta is gone" [ ! -e "$D2" ]

# A delta still in use (a process holds something in it open, as a live
# fencefs daemon does) is not removed.
D3=$T/d3
delta_new "$S" "$D3" 'write=**'
echo x >"$D3/upper/x"
sleep 60 <"$D3/upper/x" &
holder=$!
at_exit "kill $holder"
"$FENCEFS" discard "$D3" 2>"$T/err5"
check_eq "in use: refused" 2 $?
check "in use: names the process" grep -q "in use by process $holder" "$T/err5"
check "in use: nothing removed" [ -f "$D3/upper/x" ]
kill "$holder"
wait "$holder" 2>/dev/null
"$FENCEFS" discard "$D3" 2>/dev/null
check_eq "no longer in use: removed" 0 $?

"$FENCEFS" discard 2>/dev/null
check_eq "no argument: usage error" 2 $?
exit 0
