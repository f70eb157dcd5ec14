#!/bin/bash
# fencefs commit (issue 7 items 2, 5 and 7): applies a delta without ever
# following a symlink, atomically per file, only where the recorded policy
# allowed writes, refusing files whose source changed since copy-up.
# Deltas are made by kernel overlayfs in the fencefs delta format.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/delta_helpers.bash"
need_root
need_overlay
[ -x "$FENCEFS" ] || skip_all "no $FENCEFS (build it first)"

n=0
# fresh_source: a new source tree in $S (and a delta path in $D).
fresh_source() {
	n=$((n + 1))
	S=$T/s$n D=$T/d$n
	mkdir -p "$S/src" "$S/docs" "$S/old" "$S/secrets" "$S/out"
	printf 'int a;\n' >"$S/src/a.c"
	printf 'foo\n' >"$S/src/b.c"
	printf 'c\n' >"$S/src/c.c"
	printf 'move me\n' >"$S/src/mv.c"
	printf '#!/bin/sh\n' >"$S/src/run.sh"
	ln -s a.c "$S/src/link"
	printf 'readme\n' >"$S/README"
	printf 'TOKEN=1\n' >"$S/.env"
	printf 'k\n' >"$S/secrets/key"
	printf 'o1\n' >"$S/old/one"
	printf 'o2\n' >"$S/old/two"
	printf 'keep\n' >"$S/out/keep"
}

# merged SRC D: tree_state of the overlay view of SRC + D (what commit should produce).
merged() {
	local m=$T/merged
	mkdir -p "$m"
	mount -t overlay overlay -o "ro,lowerdir=$1,upperdir=$2/upper,workdir=$2/work" "$m" || return 1
	tree_state "$m"
	umount "$m"
}

# 1. Everything a sandbox does, applied; the tree equals the merged view.
fresh_source
delta_new "$S" "$D" 'write=**'
ovl_run "$S" "$D" 'echo more >>src/a.c && sed -i s/foo/bar/ src/b.c && rm src/c.c &&
	echo new >src/new.c && mv src/mv.c src/moved.c && chmod 755 src/run.sh &&
	ln -sfn b.c src/link && mkdir -p gen/sub && echo g >gen/sub/g.txt && rm -r old &&
	setfattr -n user.note -v x src/new.c' src/moved.c=src/mv.c || notok "overlayfs session"
want=$(merged "$S" "$D")
"$FENCEFS" commit "$D" >"$T/out1" 2>"$T/err1"
check_eq "commit: exit 0 when everything applies" 0 $?
check_eq "commit: SOURCE equals the merged view" "$want" "$(tree_state "$S")"
check "commit: reports applied paths" grep -qx 'applied   R src/mv.c -> src/moved.c' "$T/out1"
check "commit: summary on stderr" grep -Eqx 'fencefs commit: [0-9]+ applied, 0 unchanged, 0 conflicts, 0 skipped, 0 errors' "$T/err1"
check "commit: no overlay or fencefs xattr copied into SOURCE" no_delta_xattrs "$S"
check "commit: the sandbox's user xattr is copied" \
	bash -c "getfattr -h -n user.note '$S/src/new.c' 2>/dev/null | grep -q 'user.note=\"x\"'"
check "commit: no whiteout (char device) in SOURCE" bash -c "[ -z \"\$(find '$S' -type c)\" ]"
check "commit: no temporary file left" bash -c "[ -z \"\$(find '$S' -name '.fencefs-commit-*')\" ]"
check "commit: symlink created as a symlink, text as is" [ "$(readlink "$S/src/link")" = b.c ]
"$FENCEFS" commit "$D" >"$T/out1b" 2>&1
check_eq "commit twice: nothing left to do, exit 0" 0 $?

# 2. --dry-run changes nothing, and says what it would do.
fresh_source
delta_new "$S" "$D" 'write=**'
ovl_run "$S" "$D" 'echo more >>src/a.c && rm src/c.c && echo n >src/n.c && rm -r old' ||
	notok "overlayfs session"
before=$(tree_state "$S"; stat -c '%n %i %Y' "$S"/src/*)
"$FENCEFS" commit --dry-run "$D" >"$T/out2" 2>&1
check_eq "dry run: exit status as a real run's" 0 $?
check_eq "dry run: SOURCE unchanged" "$before" "$(tree_state "$S"; stat -c '%n %i %Y' "$S"/src/*)"
check "dry run: says what would be applied" grep -qx 'would     D src/c.c' "$T/out2"

# 3. The recorded policy decides: hidden and read-only paths are refused.
fresh_source
delta_new "$S" "$D" 'read=**' 'write=src/' 'none=.env' 'none=secrets/'
ovl_run "$S" "$D" 'rm .env && rm -r secrets && echo x >README && echo ok >>src/a.c &&
	echo n >src/n.c' || notok "overlayfs session"
"$FENCEFS" commit "$D" >"$T/out3" 2>&1
check_eq "policy: exit 1 when paths are refused" 1 $?
check "policy: deletion of a hidden file refused" [ -f "$S/.env" ]
check "policy: deletion of a hidden directory refused" [ -f "$S/secrets/key" ]
check "policy: read-only file not modified" [ "$(cat "$S/README")" = readme ]
check "policy: refusal reported with the level" grep -qx 'skipped   D .env: not writable under the delta.s policy (none)' "$T/out3"
check "policy: writable paths applied" every '[ "$(tail -1 "$S/src/a.c")" = ok ]' '[ -f "$S/src/n.c" ]'

# 4. Many sandboxes, one codebase: the second commit conflicts on the shared file only.
fresh_source
D1=$T/many1 D2=$T/many2 D3=$T/many3
delta_new "$S" "$D1" 'write=**'
delta_new "$S" "$D2" 'write=**'
delta_new "$S" "$D3" 'write=**'
ovl_run "$S" "$D1" 'echo one >>src/a.c && echo d1 >src/d1.c && echo same >src/both.c' ||
	notok "overlayfs session d1"
ovl_run "$S" "$D2" 'echo two >>src/a.c && echo d2 >src/d2.c && sed -i s/foo/baz/ src/b.c &&
	echo same >src/both.c' || notok "overlayfs session d2"
ovl_run "$S" "$D3" 'echo other >src/both.c' || notok "overlayfs session d3"
"$FENCEFS" commit "$D1" >/dev/null 2>&1
check_eq "two deltas: the first commits" 0 $?
"$FENCEFS" commit "$D2" >"$T/out4" 2>&1
check_eq "two deltas: the second exits 1" 1 $?
check "two deltas: the shared file is reported as a conflict" grep -q '^conflict  M src/a.c: SOURCE changed' "$T/out4"
check "two deltas: the shared file keeps the first delta's text" [ "$(tail -1 "$S/src/a.c")" = one ]
check "two deltas: the rest of the second applies" \
	every '[ "$(cat "$S/src/d2.c")" = d2 ]' '[ "$(cat "$S/src/b.c")" = baz ]'
check "two deltas: an identical addition is no conflict" bash -c "! grep -q both.c '$T/out4'"
"$FENCEFS" commit "$D3" >"$T/out4c" 2>&1
check_eq "two deltas adding one file differently: conflict" 1 $?
check "  ... and SOURCE keeps the first" [ "$(cat "$S/src/both.c")" = same ]
"$FENCEFS" commit --json "$D2" >"$T/out4j" 2>/dev/null
check "commit --json: one valid object with counts and per-path results" python3 -c "
import json, sys
o = json.loads(open('$T/out4j').read())
assert o['exit'] == 1 and o['conflict'] == 1 and o['error'] == 0, o
r = {p['path']: p['result'] for p in o['paths']}
assert r['src/a.c'] == 'conflict' and 'reason' in [k for p in o['paths'] for k in p], r
"
"$FENCEFS" commit --force "$D2" >"$T/out4f" 2>&1
check_eq "--force: overrides the conflict" 0 $?
check "--force: the second delta's text is in" [ "$(tail -1 "$S/src/a.c")" = two ]

# 5. A file replaced without an origin (sed -i) whose source changes later: conflict by ctime.
fresh_source
delta_new "$S" "$D" 'write=**'
ovl_run "$S" "$D" 'sed -i s/foo/bar/ src/b.c' || notok "overlayfs session"
sleep 0.05
echo edited-by-user >"$S/src/b.c"
"$FENCEFS" commit "$D" >"$T/out5" 2>&1
check_eq "no origin, source edited after the delta was made: conflict" 1 $?
check "  ... and the user's edit survives" [ "$(cat "$S/src/b.c")" = edited-by-user ]

# 6. Symlink attacks: nothing is ever written outside SOURCE.
victim=$T/victim
mkdir -p "$victim"
echo victim >"$victim/a.c"
echo victim-b >"$victim/b.c"
echo secret >"$victim/x"
vstate=$(tree_state "$victim")

# 6a. The delta holds a symlink in place of a source directory (out/ -> victim).
fresh_source
delta_new "$S" "$D" 'write=**'
rm -rf "$D/upper/out"
ln -s "$victim" "$D/upper/out"
"$FENCEFS" commit "$D" >"$T/out6a" 2>&1
check_eq "delta symlink in place of a dir: victim untouched" "$vstate" "$(tree_state "$victim")"
check "delta symlink in place of a dir: committed as a symlink, not followed" \
	bash -c "[ -L '$S/out' ] && [ \"\$(readlink '$S/out')\" = '$victim' ]"
check "delta symlink: nothing read through it into SOURCE" bash -c "! find '$S' -name x | grep -q ."

# 6b. A symlink planted in SOURCE between copy-up and commit, in place of a directory.
fresh_source
delta_new "$S" "$D" 'write=**'
ovl_run "$S" "$D" 'echo more >>src/a.c && echo n >src/new.c && rm src/b.c' || notok "overlayfs session"
mv "$S/src" "$S/src.real"
ln -s "$victim" "$S/src"
"$FENCEFS" commit "$D" >"$T/out6b" 2>&1
check_eq "planted dir symlink: exit 1 (refused)" 1 $?
check_eq "planted dir symlink: victim untouched" "$vstate" "$(tree_state "$victim")"
check "planted dir symlink: reported" grep -q '^conflict  A src/: SOURCE has a symlink here' "$T/out6b"
"$FENCEFS" commit --force "$D" >"$T/out6b2" 2>&1
check_eq "planted dir symlink: --force does not follow it either" "$vstate" "$(tree_state "$victim")"

# 6c. A symlink planted in SOURCE in place of the file itself.
fresh_source
delta_new "$S" "$D" 'write=**'
ovl_run "$S" "$D" 'echo more >>src/a.c' || notok "overlayfs session"
rm "$S/src/a.c"
ln -s "$victim/a.c" "$S/src/a.c"
"$FENCEFS" commit "$D" >"$T/out6c" 2>&1
check_eq "planted file symlink: conflict" 1 $?
"$FENCEFS" commit --force "$D" >"$T/out6c2" 2>&1
check_eq "planted file symlink: --force replaces the link itself" "regular file" "$(stat -c %F "$S/src/a.c")"
check_eq "planted file symlink: victim untouched" "$vstate" "$(tree_state "$victim")"

# 6d. A file the sandbox replaced by a symlink to a file outside: the link
# is committed, the outside file's bytes are never read into SOURCE.
fresh_source
delta_new "$S" "$D" 'write=**'
mkdir "$D/upper/src"
ln -s "$victim/x" "$D/upper/src/c.c"
"$FENCEFS" commit "$D" >"$T/out6d" 2>&1
check "delta symlink over a file: committed as a symlink (T)" \
	bash -c "[ -L '$S/src/c.c' ] && grep -qx 'applied   T src/c.c' '$T/out6d'"
check_eq "delta symlink over a file: victim untouched" "$vstate" "$(tree_state "$victim")"

# 7. Opaque directory (rm -r then mkdir): old entries go, new ones come.
fresh_source
delta_new "$S" "$D" 'write=**'
ovl_run "$S" "$D" 'rm -r old && mkdir old && echo fresh >old/three' || notok "overlayfs session"
check "opaque dir: overlayfs made it opaque" bash -c "getfattr -n trusted.overlay.opaque '$D/upper/old' 2>/dev/null | grep -q y"
"$FENCEFS" commit "$D" >"$T/out7" 2>&1
check_eq "opaque dir: exit 0" 0 $?
check_eq "opaque dir: only the new entry remains" "three" "$(ls "$S/old")"

# 8. Set-id bits are never committed; modes are.
fresh_source
delta_new "$S" "$D" 'write=**'
ovl_run "$S" "$D" 'echo x >src/suid && chmod 4755 src/suid && chmod 700 src/c.c' || notok "overlayfs session"
"$FENCEFS" commit "$D" >/dev/null 2>&1
check_eq "set-uid bit dropped" 755 "$(stat -c %a "$S/src/suid")"
check_eq "mode copied" 700 "$(stat -c %a "$S/src/c.c")"

# 9. A failure part way: every file is old or new, the report says which.
fresh_source
delta_new "$S" "$D" 'write=**'
ovl_run "$S" "$D" 'echo more >>src/a.c && echo more >>src/c.c && echo n >src/n.c' ||
	notok "overlayfs session"
if chattr +i "$S/src/c.c" 2>/dev/null; then
	at_exit "chattr -i '$S/src/c.c'"
	"$FENCEFS" commit "$D" >"$T/out9" 2>&1
	check_eq "partial failure: exit 2" 2 $?
	check "partial failure: the failed file is the old one" [ "$(cat "$S/src/c.c")" = c ]
	check "partial failure: the others are the new ones" \
		every '[ "$(tail -1 "$S/src/a.c")" = more ]' '[ -f "$S/src/n.c" ]'
	check "partial failure: reported as an error" grep -q '^error     M src/c.c: cannot write' "$T/out9"
	check "partial failure: no temporary file left" bash -c "[ -z \"\$(find '$S' -name '.fencefs-commit-*')\" ]"
	chattr -i "$S/src/c.c"
else
	skip "partial failure (chattr +i unsupported on this filesystem)"
fi

# 11. Type changes: symlink -> directory, directory -> file, file -> symlink;
# the dry run predicts the real run (deletions first, then creations).
fresh_source
ln -s src "$S/lnk"
delta_new "$S" "$D" 'write=**'
ovl_run "$S" "$D" 'rm lnk && mkdir lnk && echo f >lnk/f && rm -r out && echo file >out &&
	rm src/c.c && ln -s a.c src/c.c' || notok "overlayfs session"
want=$(merged "$S" "$D")
"$FENCEFS" commit --dry-run "$D" >"$T/out11d" 2>&1
check_eq "type changes: dry run exits 0" 0 $?
check "type changes: dry run has no conflict" bash -c "! grep -q '^conflict' '$T/out11d'"
"$FENCEFS" commit "$D" >"$T/out11" 2>&1
check_eq "type changes: commit exits 0" 0 $?
check_eq "type changes: SOURCE equals the merged view" "$want" "$(tree_state "$S")"
check "type changes: listed as T for file -> symlink" grep -qx 'applied   T src/c.c' "$T/out11"

# 12. Hard links are kept, as the sandbox made them -- but never from a
# writable name to a file that was not writable.
fresh_source
delta_new "$S" "$D" 'read=**' 'write=src/' 'write=out/'
ovl_run "$S" "$D" 'ln src/a.c src/a-link.c && echo n >src/new1 && ln src/new1 out/new2 &&
	ln -s a.c src/sl && ln src/sl src/sl2 && ln README src/readme-link' ||
	notok "overlayfs session"
"$FENCEFS" commit "$D" >"$T/out12" 2>&1
check_eq "hard links: commit exits 0" 0 $?
check "hard links: a link to an unchanged source file" \
	every '[ "$(stat -c %i "$S/src/a.c")" = "$(stat -c %i "$S/src/a-link.c")" ]'
check "hard links: two new names of one new file" \
	every '[ "$(stat -c %i "$S/src/new1")" = "$(stat -c %i "$S/out/new2")" ]' '[ "$(stat -c %h "$S/src/new1")" = 2 ]'
check "hard links: two names of one symlink" \
	every '[ -L "$S/src/sl2" ]' '[ "$(stat -c %i "$S/src/sl")" = "$(stat -c %i "$S/src/sl2")" ]'
check "hard links: a link to a read-only file becomes a copy" \
	every '[ "$(cat "$S/src/readme-link")" = readme ]' '[ "$(stat -c %h "$S/README")" = 1 ]'

# 13. A delta still in use (a live daemon holds it open) is not committed;
# a dry run is fine.
fresh_source
delta_new "$S" "$D" 'write=**'
ovl_run "$S" "$D" 'echo more >>src/a.c' || notok "overlayfs session"
sleep 60 <"$D/upper/src/a.c" &
holder=$!
at_exit "kill $holder"
"$FENCEFS" commit "$D" >/dev/null 2>"$T/err13"
check_eq "in use: commit refused" 2 $?
check "in use: nothing applied" [ "$(cat "$S/src/a.c")" = 'int a;' ]
"$FENCEFS" commit --dry-run "$D" >/dev/null 2>&1
check_eq "in use: a dry run still works" 0 $?
kill "$holder"
wait "$holder" 2>/dev/null
"$FENCEFS" commit "$D" >/dev/null 2>&1
check_eq "no longer in use: committed" 0 $?

# 14. Hostile deltas: odd file types where files are expected; nothing hangs.
fresh_source
delta_new "$S" "$D" 'write=**'
mkdir -p "$D/upper/src"
mkfifo "$D/upper/src/fifo"
mknod "$D/upper/src/dev" c 1 3
echo ok >"$D/upper/src/fine.c"
timeout 20 "$FENCEFS" commit "$D" >"$T/out14" 2>&1
check_eq "special files in the delta: exit 1 (skipped), no hang" 1 $?
check "special files: skipped, not created" \
	every '[ ! -e "$S/src/fifo" ]' '[ ! -e "$S/src/dev" ]' '[ -f "$S/src/fine.c" ]' \
	"grep -qx 'skipped   A src/dev: a special file is not committed' '$T/out14'"
timeout 20 "$FENCEFS" diff --patch "$D" >/dev/null 2>"$T/err14"
check "special files: diff --patch says it cannot show them" grep -q "special file cannot be shown" "$T/err14"
D14=$T/fifo-meta
delta_new "$S" "$D14" 'write=**'
rm -f "$D14/fencefs-delta.json"
mkfifo "$D14/fencefs-delta.json"
timeout 20 "$FENCEFS" diff "$D14" >/dev/null 2>&1
check_eq "metadata that is a FIFO: refused, no hang" 2 $?
D15=$T/symlink-upper
delta_new "$S" "$D15" 'write=**'
rmdir "$D15/upper"
ln -s "$S" "$D15/upper"
timeout 20 "$FENCEFS" commit "$D15" >/dev/null 2>&1
check_eq "upper that is a symlink: refused" 2 $?

# 15. Extended attributes: user.* is the sandbox's data and is committed,
# also when it is the only change; trusted.* and the delta format's never.
fresh_source
delta_new "$S" "$D" 'write=**'
ovl_run "$S" "$D" 'setfattr -n user.tag -v v1 src/b.c && setfattr -n user.dir -v d src &&
	setfattr -n trusted.evil -v 1 src/c.c && echo more >>src/c.c &&
	setfattr -n user.fencefs.fake -v 1 src/a.c && echo more >>src/a.c' || notok "overlayfs session"
check_eq "xattrs: an xattr-only change is listed" "$(printf 'M src/\nM src/a.c\nM src/b.c\nM src/c.c')" \
	"$("$FENCEFS" diff "$D")"
check "xattrs: --json says which" bash -c "'$FENCEFS' diff --json '$D' | grep '\"path\":\"src/b.c\"' | grep -q '\"content_changed\":false,\"mode_changed\":false,\"xattrs_changed\":true'"
"$FENCEFS" commit "$D" >"$T/out15" 2>&1
check_eq "xattrs: commit exits 0" 0 $?
check "xattrs: user.* on a file and a directory committed" \
	every "getfattr -h -n user.tag '$S/src/b.c' 2>/dev/null | grep -q v1" \
	"getfattr -h -n user.dir '$S/src' 2>/dev/null | grep -q d"
check "xattrs: trusted.* and user.fencefs.* never committed" \
	bash -c "! getfattr -R -h -d -m - '$S' 2>/dev/null | grep -Eq 'trusted|fencefs'"

# 10. A delta whose metadata was tampered with is refused.
fresh_source
delta_new "$S" "$D" 'write=**'
ovl_run "$S" "$D" 'echo more >>src/a.c' || notok "overlayfs session"
python3 - "$D/fencefs-delta.json" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
m["policy_digest"] = "0" * 64
json.dump(m, open(sys.argv[1], "w"))
EOF
before=$(tree_state "$S")
"$FENCEFS" commit "$D" >/dev/null 2>"$T/err10"
check_eq "digest mismatch: exit 2" 2 $?
check "digest mismatch: said so" grep -q 'do not match policy_digest' "$T/err10"
check_eq "digest mismatch: nothing changed" "$before" "$(tree_state "$S")"
echo '{"fencefs_delta":1,"source":"/x","xattr_ns":"trusted","rules":[["write","**"]],}' >"$D/fencefs-delta.json"
"$FENCEFS" commit "$D" >/dev/null 2>"$T/err10b"
check_eq "malformed metadata: exit 2" 2 $?
"$FENCEFS" commit --json "$T" >"$T/out10j" 2>/dev/null
check_eq "not a delta: exit 2" 2 $?
check "not a delta, --json: still one report object, with the error" python3 -c "
import json
o = json.load(open('$T/out10j'))
assert o['exit'] == 2 and 'not a fencefs delta' in o['error'], o
"
exit 0
