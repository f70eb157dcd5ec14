#!/bin/bash
# The delta workflow end to end with the real writers (issue 7 "Done when"
# and items 5 and 6): fencefs mount --delta and fence-run --delta make the
# deltas, fencefs diff / commit read and apply them.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/delta_helpers.bash"
need_root
need_fuse
[ -x "$FENCEFS" ] && [ -x "$FENCERUN" ] || skip_all "build fencefs and fence-run first"

# new_codebase DIR: src/a.c holds foo, src/b.c exists; readable by the sandbox user.
new_codebase() {
	mkdir -p "$1/src" "$1/docs"
	printf 'foo\nkeep\n' >"$1/src/a.c"
	echo b >"$1/src/b.c"
	echo readme >"$1/docs/README"
	chmod -R a+rX "$1"
}

# --- The issue's done-when, verbatim ---------------------------------------
CB=$T/cb D=$T/d
new_codebase "$CB"
(cd "$CB" && "$FENCERUN" --quiet --delta "$D" --rule 'write=src/' -- \
	sh -c 'sed -i s/foo/bar/ src/a.c; rm src/b.c; echo new > src/c.c') >"$T/run.out" 2>&1
check_eq "fence-run --delta: the command's exit status" 0 $?
out=$("$FENCEFS" diff "$D" 2>&1)
check_eq "done-when: diff lists exactly M src/a.c, D src/b.c, A src/c.c" \
	"$(printf 'M src/a.c\nD src/b.c\nA src/c.c')" "$out"
"$FENCEFS" diff --patch "$D" >"$T/patch"
cp -a "$CB" "$T/copy"
check "round trip: git apply takes the patch on a copy" git -C "$T/copy" apply "$T/patch"
"$FENCEFS" commit "$D" >"$T/commit.out" 2>&1
check_eq "done-when: commit exits 0" 0 $?
check "done-when: the codebase matches" \
	bash -c "[ \"\$(cat '$CB/src/a.c')\" = \"\$(printf 'bar\nkeep')\" ] && [ ! -e '$CB/src/b.c' ] && [ \"\$(cat '$CB/src/c.c')\" = new ]"
check_eq "round trip: git apply result == commit result" "$(tree_state "$CB")" "$(tree_state "$T/copy")"
check "done-when: nothing of the delta's format in the codebase" no_delta_xattrs "$CB"

# --- A planted symlink cannot redirect a write outside the codebase --------
victim=$T/victim
mkdir -p "$victim"
echo victim >"$victim/a.c"
vstate=$(tree_state "$victim")
D2=$T/d2
(cd "$CB" && "$FENCERUN" --quiet --delta "$D2" --rule 'write=src/' -- \
	sh -c 'echo more >>src/a.c; echo e >src/e.c') >/dev/null 2>&1
mv "$CB/src" "$CB/src.real"
ln -s "$victim" "$CB/src"
"$FENCEFS" commit "$D2" >"$T/commit2.out" 2>&1
check_eq "planted symlink: commit refuses (exit 1)" 1 $?
"$FENCEFS" commit --force "$D2" >/dev/null 2>&1
check_eq "planted symlink: victim untouched, even with --force" "$vstate" "$(tree_state "$victim")"
rm "$CB/src"
mv "$CB/src.real" "$CB/src"

# --- Many sandboxes, one codebase, started concurrently --------------------
CB2=$T/cb2
new_codebase "$CB2"
for i in 1 2 3; do
	(cd "$CB2" && "$FENCERUN" --quiet --delta "$T/m$i" --rule 'write=src/' -- \
		sh -c "echo run$i >>src/a.c; echo $i >src/own$i.c") >"$T/m$i.out" 2>&1 &
done
wait
check "concurrent sandboxes: each delta has its own file only" bash -c "
	for i in 1 2 3; do
		[ \"\$('$FENCEFS' diff '$T/m'\$i)\" = \"\$(printf 'M src/a.c\nA src/own%s.c' \$i)\" ] || exit 1
	done"
"$FENCEFS" commit "$T/m1" >/dev/null 2>&1
check_eq "concurrent sandboxes: the first commit applies" 0 $?
"$FENCEFS" commit --json "$T/m2" >"$T/m2.json" 2>/dev/null
check_eq "concurrent sandboxes: the second reports a conflict" 1 $?
check "concurrent sandboxes: conflict on src/a.c, src/own2.c applied" python3 -c "
import json
o = json.load(open('$T/m2.json'))
r = {p['path']: p['result'] for p in o['paths']}
assert r == {'src/a.c': 'conflict', 'src/own2.c': 'applied'}, r
"
check_eq "concurrent sandboxes: a.c has the first run's line" run1 "$(tail -1 "$CB2/src/a.c")"

# --- fence-run --apply commits on a zero exit, report in --result -------
CB4=$T/cb4
new_codebase "$CB4"
(cd "$CB4" && "$FENCERUN" --quiet --apply --delta "$T/d4" --result "$T/r4.json" --rule 'write=src/' -- \
	sh -c 'echo applied >src/x.c; rm src/b.c') >"$T/r4.out" 2>&1
check "fence-run --apply: the codebase has the change" \
	bash -c "[ \"\$(cat '$CB4/src/x.c' 2>/dev/null)\" = applied ] && [ ! -e '$CB4/src/b.c' ]"
check "fence-run --apply: --result holds the commit report" python3 -c "
import json
o = json.load(open('$T/r4.json'))['apply']
assert o['exit'] == 0 and o['applied'] == 2, o
"

# --- fencefs mount --delta, then diff and commit ---------------------------
CB3=$T/cb3 D3=$T/d3 M3=$T/mnt3
new_codebase "$CB3"
echo old >"$CB3/src/old.c"
mkdir -p "$M3"
if "$FENCEFS" mount --rule 'read=**' --rule 'write=src/' --delta "$D3" "$CB3" "$M3" 2>"$T/mount.err"; then
	at_exit "'$FENCEFS' umount '$M3'"
	(cd "$M3" && echo more >>src/a.c && mv src/old.c src/new.c && chmod 755 src/b.c &&
		ln -s a.c src/link && mkdir src/sub && echo s >src/sub/s.c)
	echo x 2>/dev/null >"$M3/docs/README"
	"$FENCEFS" umount "$M3"
	check_eq "fencefs mount delta: diff" \
		"$(printf 'M src/a.c\nM src/b.c\nA src/link\nR src/old.c -> src/new.c\nA src/sub/s.c')" \
		"$("$FENCEFS" diff "$D3")"
	"$FENCEFS" diff --patch "$D3" >"$T/patch3"
	cp -a "$CB3" "$T/copy3"
	(cd "$T/copy3" && patch -p1 -s <"$T/patch3")
	check "fencefs mount delta: patch -p1 takes the patch" [ $? = 0 ]
	"$FENCEFS" commit "$D3" >/dev/null 2>&1
	check_eq "fencefs mount delta: commit exits 0" 0 $?
	check_eq "fencefs mount delta: patch result == commit result" \
		"$(tree_state "$CB3")" "$(tree_state "$T/copy3")"
	"$FENCEFS" discard "$D3"
	check "fencefs mount delta: discard removes it" [ ! -e "$D3" ]
else
	notok "fencefs mount --delta: $(head -1 "$T/mount.err")"
fi
exit 0
