#!/bin/bash
# fencefs diff: the status list, --json and --patch (issue 7 items 1 and 7),
# on deltas made by kernel overlayfs in the fencefs delta format.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/delta_helpers.bash"
need_root
need_overlay
[ -x "$FENCEFS" ] || skip_all "no $FENCEFS (build it first)"

# A small codebase with one of everything.
make_source() {
	local s=$1
	mkdir -p "$s/src" "$s/gone/sub" "$s/docs" "$s/keep"
	for i in $(seq 1 40); do echo "line $i"; done >"$s/src/a.c"
	echo b >"$s/src/b.c"
	echo old >"$s/src/old.c"
	printf '#!/bin/sh\necho hi\n' >"$s/run.sh"
	chmod 644 "$s/run.sh"
	ln -s target1 "$s/link"
	printf 'bin\0ary' >"$s/bin.dat"
	echo f1 >"$s/gone/f1"
	echo f2 >"$s/gone/sub/f2"
	printf 'no newline' >"$s/docs/nonl.txt"
	echo same >"$s/keep/same.txt"
	echo x >"$s/docs/with space.txt"
}

EDITS='sed -i "s/^line 20\$/foo 20/" src/a.c &&
	printf "appended\n" >>"docs/with space.txt" &&
	rm src/b.c && echo new >src/c.c && mv src/old.c src/new.c &&
	chmod 755 run.sh && ln -sfn target2 link && rm -r gone &&
	: >empty.txt && printf "still no newline!" >docs/nonl.txt && touch keep/same.txt'

S=$T/src D=$T/d
make_source "$S"
delta_new "$S" "$D" 'write=**'
ovl_run "$S" "$D" "$EDITS && printf 'x\0y' >bin.dat && mkdir newdir" src/new.c=src/old.c ||
	{ notok "overlayfs session"; exit 1; }

expected='M bin.dat
M docs/nonl.txt
M docs/with space.txt
A empty.txt
D gone/f1
D gone/sub/f2
M link
A newdir/
M run.sh
M src/a.c
D src/b.c
A src/c.c
R src/old.c -> src/new.c'
out=$("$FENCEFS" diff "$D")
check_eq "diff lists every status letter, sorted, nothing unchanged" "$expected" "$out"
check_eq "diff with SOURCE given is the same" "$expected" "$("$FENCEFS" diff "$D" "$S")"

# --json: one object per line, valid JSON, same changes as the list.
"$FENCEFS" diff --json "$D" >"$T/json" || notok "diff --json exits 0"
json_list=$(python3 - "$T/json" <<'EOF'
import json, sys
for line in open(sys.argv[1], encoding='utf-8'):
    o = json.loads(line)
    p = o["path"] + ("/" if o["type"] == "dir" else "")
    print(o["status"], (o["old_path"] + " -> " if "old_path" in o else "") + p)
EOF
)
check_eq "diff --json: one valid object per change" "$expected" "$json_list"
check "diff --json: mode change carries old and new mode" \
	grep -q '"path":"run.sh".*"old_mode":"100644","new_mode":"100755".*"mode_changed":true' "$T/json"
check "diff --json: symlink change is typed" grep -q '"path":"link","type":"symlink"' "$T/json"

# --patch: git's format; binary named, not dumped.
"$FENCEFS" diff --patch "$D" >"$T/patch" || notok "diff --patch exits 0"
check "patch names binary files" grep -qx 'Binary files a/bin.dat and b/bin.dat differ' "$T/patch"
check "patch holds no NUL byte" bash -c "! grep -qaP '\\x00' '$T/patch'"
# after_header HEADER LINE: LINE follows HEADER in the patch.
after_header() { grep -A1 -x -- "$1" "$T/patch" | tail -1 | grep -qx -- "$2"; }
check "patch: mode change as git extended headers" \
	after_header 'diff --git a/run.sh b/run.sh' 'old mode 100644'
check "patch: rename headers" grep -qx 'rename from src/old.c' "$T/patch"
check "patch: deleted file" \
	after_header 'diff --git a/gone/sub/f2 b/gone/sub/f2' 'deleted file mode 100644'
check "patch: added file against /dev/null" grep -qx -- '--- /dev/null' "$T/patch"
check "patch: missing newline marked" grep -qx '\\ No newline at end of file' "$T/patch"
check "patch: one hunk for the one-line edit" \
	bash -c "grep -c '^@@ -17,7 +17,7 @@\$' '$T/patch' | grep -qx 1"

# Round trip (issue 7 item 7): the patch applied by git apply and by
# patch -p1 to copies gives the tree that commit makes.  Text changes only
# (a binary patch without full index cannot be applied by either tool).
S2=$T/src2 D2=$T/d2
make_source "$S2"
delta_new "$S2" "$D2" 'write=**'
ovl_run "$S2" "$D2" "$EDITS" src/new.c=src/old.c || notok "overlayfs session 2"
"$FENCEFS" diff --patch "$D2" >"$T/patch2"
cp -a "$S2" "$T/c-git"
cp -a "$S2" "$T/c-patch"
check "git apply accepts the patch" git -C "$T/c-git" apply --whitespace=nowarn "$T/patch2"
(cd "$T/c-patch" && patch -p1 -s -f <"$T/patch2" >"$T/patch.out" 2>&1)
check "patch -p1 accepts the patch" [ $? = 0 ]
"$FENCEFS" commit "$D2" >"$T/commit.out" 2>&1
check "commit of the same delta exits 0" [ $? = 0 ]
check_eq "git apply result == commit result" "$(tree_state "$S2")" "$(tree_state "$T/c-git")"
check_eq "patch -p1 result == commit result" "$(tree_state "$S2")" "$(tree_state "$T/c-patch")"

# The line diff on random edits: every patch must reproduce the new text
# exactly (patch -p1 --dry-run would hide fuzz, so apply for real, no fuzz).
S3=$T/src3 D3=$T/d3
mkdir -p "$S3"
python3 - "$S3" <<'EOF'
import os, random, sys
random.seed(7)
for n in range(40):
    k = random.choice([0, 1, 3, 30, 200])
    lines = ["l%d %d\n" % (i, random.randint(0, 3)) for i in range(k)]
    open(os.path.join(sys.argv[1], "f%02d" % n), "w").write("".join(lines))
big = "".join("big %d\n" % i for i in range(6000))
open(os.path.join(sys.argv[1], "big"), "w").write(big)
EOF
delta_new "$S3" "$D3" 'write=**'
ovl_run "$S3" "$D3" "python3 - <<'EOF'
import random
random.seed(11)
for n in range(40):
    p = 'f%02d' % n
    lines = open(p).readlines()
    for _ in range(random.randint(0, 12)):
        op = random.random()
        i = random.randint(0, len(lines))
        if op < 0.4 and lines:
            del lines[min(i, len(lines) - 1)]
        elif op < 0.8:
            lines.insert(i, 'new %d\n' % random.randint(0, 5))
        elif lines:
            lines[min(i, len(lines) - 1)] = 'chg\n'
    text = ''.join(lines)
    if random.random() < 0.2:
        text = text.rstrip('\n')
    open(p, 'w').write(text)
open('big', 'w').write(''.join('other %d\n' % i for i in range(6000)))
EOF" || notok "overlayfs session 3"
"$FENCEFS" diff --patch "$D3" >"$T/patch3"
cp -a "$S3" "$T/c3"
(cd "$T/c3" && patch -p1 -s -F0 <"$T/patch3" >"$T/patch3.out" 2>&1)
check "random edits: patch -p1 -F0 applies cleanly" [ $? = 0 ]
mnt3=$T/m3
mkdir -p "$mnt3"
mount -t overlay overlay -o "lowerdir=$S3,upperdir=$D3/upper,workdir=$D3/work" "$mnt3"
check "random edits: patched copy equals the merged view" diff -r "$mnt3" "$T/c3"
umount "$mnt3"
check "random edits: git apply agrees" bash -c "cp -a '$S3' '$T/c3g' && git -C '$T/c3g' apply '$T/patch3' && diff -r '$T/c3' '$T/c3g'"
# Minimal: as many changed lines as GNU diff --minimal finds (the 'big'
# file included: 6000 lines replaced by 6000 others).
mnt3b=$T/m3b
mkdir -p "$mnt3b"
mount -t overlay overlay -o "ro,lowerdir=$S3,upperdir=$D3/upper,workdir=$D3/work" "$mnt3b"
gnu=$(cd "$S3" && for f in *; do diff -d -U3 "$f" "$mnt3b/$f"; done | grep -c '^[-+]\([^-+]\|$\)')
umount "$mnt3b"
ours=$(grep -c '^[-+]\([^-+]\|$\)' "$T/patch3")
check "random edits: the patch changes lines" [ "$ours" -gt 12000 ]
check_eq "random edits: as few changed lines as diff --minimal" "$gnu" "$ours"

# A rootless-style delta (user.overlay.* xattrs, xattr_ns "user") and file
# names that need quoting: a newline, a double quote, a byte that is not UTF-8.
S4=$T/src4 D4=$T/d4 M4=$T/m4
mkdir -p "$S4/dir" "$D4/upper" "$D4/work" "$M4"
echo 1 >"$S4/dir/one"
echo x >"$S4/plain"
python3 - "$S4" "$D4" <<'EOF'
import json, sys
json.dump({"fencefs_delta": 1, "created": "2026-01-01T00:00:00Z", "source": sys.argv[1],
           "xattr_ns": "user", "rules": [["write", "**"]]}, open(sys.argv[2] + "/fencefs-delta.json", "w"))
EOF
NL=$(printf 'a\nb') BAD=$(printf 'x\377y')
if mount -t overlay overlay -o "userxattr,lowerdir=$S4,upperdir=$D4/upper,workdir=$D4/work" "$M4"; then
	(cd "$M4" && rm -r dir && mkdir dir && echo 2 >dir/two && echo nl >"$NL" &&
		echo hi >"$BAD" && echo q >'q"uote' && echo y >>plain)
	umount "$M4"
	check_eq "user.overlay.opaque and quoted names" \
		"$(printf 'A "a\\nb"\nD dir/one\nA dir/two\nM plain\nA "q\\"uote"\nA "x\\377y"')" \
		"$("$FENCEFS" diff "$D4")"
	"$FENCEFS" diff --json "$D4" >"$T/json4"
	check "names in --json: valid JSON, a stray byte as \\xNN" python3 - "$T/json4" <<'EOF'
import json, sys
paths = [json.loads(l)['path'] for l in open(sys.argv[1], encoding='utf-8')]
assert paths == ['a\nb', 'dir/one', 'dir/two', 'plain', 'q"uote', 'x\\xffy'], paths
EOF
	"$FENCEFS" diff --patch "$D4" >"$T/patch4"
	cp -a "$S4" "$T/c4g"
	cp -a "$S4" "$T/c4p"
	git -C "$T/c4g" apply "$T/patch4"
	check "quoted names: git apply takes the patch" [ $? = 0 ]
	(cd "$T/c4p" && patch -p1 -s <"$T/patch4")
	check "quoted names: patch -p1 takes the patch" [ $? = 0 ]
	check_eq "quoted names: both give the same tree" "$(tree_state "$T/c4g")" "$(tree_state "$T/c4p")"
	check "quoted names: the new files are there" every '[ -f "$T/c4g/$NL" ]' '[ -f "$T/c4g/$BAD" ]'
else
	notok "overlayfs with userxattr"
fi

# Names that would steer the reviewer's terminal (issue 15 item 7): a bidi
# override (U+202E), isolates (U+2066, U+2069), a C1 CSI (U+009B) and NEL
# (U+0085), an ESC.  The text outputs quote them as git does (octal
# escapes), plain UTF-8 (cafe with an accent) stays as it is, --json keeps
# the exact names, and git apply and patch -p1 still take the patch.
# (File contents are shown as they are, as git shows them: names only.)
S5=$T/src5 D5=$T/d5 M5=$T/m5
mkdir -p "$S5" "$D5/upper" "$D5/work" "$M5"
RLO=$(printf 'evil\342\200\256hs.txt') CSI=$(printf 'csi\302\233''31m')
ESC=$(printf 'esc\033[2J') ISO=$(printf '\342\201\246iso\342\201\251') CAFE=$(printf 'caf\303\251')
MOD=$(printf 'mod\342\200\256c.x') GONE=$(printf 'gone\302\205')
echo old >"$S5/$MOD"
echo bye >"$S5/$GONE"
python3 - "$S5" "$D5" <<'EOF'
import json, sys
json.dump({"fencefs_delta": 1, "created": "2026-01-01T00:00:00Z", "source": sys.argv[1],
           "xattr_ns": "user", "rules": [["write", "**"]]}, open(sys.argv[2] + "/fencefs-delta.json", "w"))
EOF
# steering FILE...: the terminal-steering sequences found in FILEs ("" when none).
steering() {
	python3 - "$@" <<'EOF'
import re, sys
bad = []
for f in sys.argv[1:]:
    data = open(f, 'rb').read()
    bad += re.findall(rb'\xe2\x80[\xaa-\xae\x8e\x8f]|\xe2\x81[\xa6-\xa9]|\xc2[\x80-\x9f]|\x1b', data)
print(' '.join(b.hex() for b in bad))
EOF
}
if mount -t overlay overlay -o "userxattr,lowerdir=$S5,upperdir=$D5/upper,workdir=$D5/work" "$M5"; then
	(cd "$M5" && for n in "$RLO" "$CSI" "$ESC" "$ISO" "$CAFE"; do echo new file >"$n"; done &&
		echo new >>"$MOD" && rm "$GONE")
	umount "$M5"
	"$FENCEFS" diff "$D5" >"$T/list5" 2>&1
	check_eq "steering names: diff quotes them as git does, plain UTF-8 stays" \
		"$(printf '%s\n' 'A "\342\201\246iso\342\201\251"' "A $CAFE" 'A "csi\302\23331m"' \
			'A "esc\033[2J"' 'A "evil\342\200\256hs.txt"' 'D "gone\302\205"' \
			'M "mod\342\200\256c.x"' | LC_ALL=C sort)" "$(LC_ALL=C sort "$T/list5")"
	check_eq "steering names: nothing in diff steers the terminal" "" "$(steering "$T/list5")"
	"$FENCEFS" diff --patch "$D5" >"$T/patch5" 2>"$T/patch5.err"
	check_eq "steering names: diff --patch exits 0" 0 $?
	check "steering names: --patch headers are quoted (diff --git, ---, +++)" every \
		"grep -q -F 'diff --git \"a/evil\\342\\200\\256hs.txt\" \"b/evil\\342\\200\\256hs.txt\"' '$T/patch5'" \
		"grep -q -F '+++ \"b/csi\\302\\23331m\"' '$T/patch5'" \
		"grep -q -F -- '--- \"a/mod\\342\\200\\256c.x\"' '$T/patch5'" \
		"grep -q -F -- '--- \"a/gone\\302\\205\"' '$T/patch5'"
	check_eq "steering names: nothing in the patch or its messages steers the terminal" "" \
		"$(steering "$T/patch5" "$T/patch5.err")"
	cp -a "$S5" "$T/c5g"
	cp -a "$S5" "$T/c5p"
	git -C "$T/c5g" apply "$T/patch5"
	check "steering names: git apply takes the quoted patch" [ $? = 0 ]
	(cd "$T/c5p" && patch -p1 -s <"$T/patch5")
	check "steering names: patch -p1 takes the quoted patch" [ $? = 0 ]
	check_eq "steering names: git apply and patch give the same tree" "$(tree_state "$T/c5g")" \
		"$(tree_state "$T/c5p")"
	check "steering names: git apply made the exact names" every \
		'[ -f "$T/c5g/$RLO" ]' '[ -f "$T/c5g/$CSI" ]' '[ -f "$T/c5g/$ESC" ]' \
		'[ -f "$T/c5g/$ISO" ]' '[ -f "$T/c5g/$CAFE" ]' '[ ! -e "$T/c5g/$GONE" ]' '[ "$(tail -1 "$T/c5g/$MOD")" = new ]'
	"$FENCEFS" diff --json "$D5" >"$T/json5"
	check "steering names: --json keeps the exact names" python3 - "$T/json5" "$RLO" "$CSI" \
		"$ESC" "$ISO" "$CAFE" "$MOD" "$GONE" <<'EOF'
import json, sys
paths = sorted(json.loads(l)['path'] for l in open(sys.argv[1], encoding='utf-8'))
want = sorted(sys.argv[2:])
assert paths == want, (paths, want)
EOF
	"$FENCEFS" commit --dry-run "$D5" >"$T/commit5" 2>&1
	check "steering names: commit --dry-run quotes them" every \
		"grep -q -F 'A \"evil\\342\\200\\256hs.txt\"' '$T/commit5'" \
		"grep -q -F 'D \"gone\\302\\205\"' '$T/commit5'" \
		"grep -q -F 'A $CAFE' '$T/commit5'"
	check_eq "steering names: nothing in commit --dry-run steers the terminal" "" \
		"$(steering "$T/commit5")"
	cp -a "$S5" "$T/c5c"
	"$FENCEFS" commit --force "$D5" "$T/c5c" >"$T/commit5b" 2>&1
	check_eq "steering names: commit applies the exact names" "$(tree_state "$T/c5g")" \
		"$(tree_state "$T/c5c")"
	check_eq "steering names: nothing in commit's report steers the terminal" "" \
		"$(steering "$T/commit5b")"
else
	notok "overlayfs with userxattr (steering names)"
fi

# Errors: not a delta, bad usage.
mkdir -p "$T/notdelta"
"$FENCEFS" diff "$T/notdelta" >/dev/null 2>"$T/err"
check_eq "diff of a non-delta exits 2" 2 $?
check "diff of a non-delta says so" grep -q 'not a fencefs delta' "$T/err"
"$FENCEFS" diff --json --patch "$D" >/dev/null 2>&1
check_eq "--json with --patch is a usage error" 2 $?
exit 0
