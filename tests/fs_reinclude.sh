#!/bin/bash
# Re-inclusion through a mount (docs/SPEC.md 3, issue 16 item 1): a
# directory whose own level is none is a pass-through view directory when
# a later rule of level view or more could match some path beneath it; it
# lists only reachable entries, and its mode bits are view's (r-x), with
# w kept only where a write rule could match beneath.  A none rule after
# the re-including one hides again.  And the same decisions, with the
# deciding and re-including rules, in `fencefs explain`.
. "$(dirname "$0")/lib.sh"
need_root
need_fuse
. "$(dirname "$0")/fs_helpers.bash"

S=$T/src M=$T/mnt S2=$T/src2 M2=$T/mnt2
mkdir -p "$S" "$S2"
for f in src/main.c src/main.h src/x/y/z.c src/x/y/z.h src/gen/g.c src/.env \
	docs/x/README.md docs/x/main.c lib/a/b/NOTES.md lib/a/b/m.py top.c README.md \
	out/old.log out/old.txt bin/tool; do
	mkdir -p "$S/$(dirname "$f")"
	echo "content $f" >"$S/$f"
done
chmod 0755 "$S"/src "$S"/src/x "$S"/src/x/y "$S"/docs "$S"/out
chmod 0644 "$S"/src/x/y/z.c

# ls -A of a directory in the mount, one line.
lsa() { ls -A "$1" 2>&1 | flat; }

RULES=(--rule 'none=**' --rule 'read=src/**/*.c' --rule 'none=src/gen/'
	--rule 'read={docs,lib}/**/*.md' --rule 'write=out/**/*.log')
fs_mount "$S" "$M" "${RULES[@]}" || { notok "mount"; exit 1; }
ok "mount with none=** and re-including rules"

# Listings: only reachable entries, at every depth.
check_eq "root lists the pass-through directories only" "docs lib out src" "$(lsa "$M")"
check_eq "src/ lists its .c and the directories that may hold one" "main.c x" "$(lsa "$M/src")"
check_eq "src/x/y/ lists z.c only" "z.c" "$(lsa "$M/src/x/y")"
check_eq "docs/x/ lists README.md only" "README.md" "$(lsa "$M/docs/x")"
check_eq "lib/a/b/ (from {docs,lib}) lists NOTES.md only" "NOTES.md" "$(lsa "$M/lib/a/b")"
check_eq "out/ lists its .log only" "old.log" "$(lsa "$M/out")"

# Deep files are reachable, the rest hidden.
check_eq "src/x/y/z.c reads" "content src/x/y/z.c" "$(cat "$M/src/x/y/z.c" 2>&1)"
check_eq "lib/a/b/NOTES.md reads" "content lib/a/b/NOTES.md" "$(cat "$M/lib/a/b/NOTES.md" 2>&1)"
expect "src/x/y/z.h is hidden" ENOENT stat "$M/src/x/y/z.h"
expect "top.c (no rule beneath the root for it) is hidden" ENOENT stat "$M/top.c"
expect "bin/ (no rule could match beneath) is hidden" ENOENT stat "$M/bin"
expect "a later none hides src/gen/ again" ENOENT stat "$M/src/gen"
expect "and what is beneath it" ENOENT stat "$M/src/gen/g.c"
expect "src/.env is hidden" ENOENT stat "$M/src/.env"

# Mode bits: a pass-through directory is view (r-x), its files their own level.
check_eq "pass-through src/ is dr-xr-xr-x" "dr-xr-xr-x" "$(stat -c %A "$M/src")"
check_eq "pass-through src/x/y/ is dr-xr-xr-x" "dr-xr-xr-x" "$(stat -c %A "$M/src/x/y")"
check_eq "read file src/x/y/z.c is -r--r--r--" "-r--r--r--" "$(stat -c %A "$M/src/x/y/z.c")"
check_eq "pass-through out/ keeps w (a write rule matches beneath)" "drwxr-xr-x" \
	"$(stat -c %A "$M/out")"
expect "pass-through dir: no file creation by its own level" EACCES creat "$M/src/new.c"
expect "pass-through dir: no mkdir" EACCES mkdir "$M/src/newdir"
expect "pass-through dir: no rmdir" EACCES rmdir "$M/src/x"
expect "out/new.log is write" OK creat "$M/out/new.log"
expect "out/new.txt is not" EACCES creat "$M/out/new.txt"
check_eq "out/ lists the new .log" "new.log old.log" "$(lsa "$M/out" | tr ' ' '\n' | sort | flat)"
fs_umount "$M" && ok "umount" || notok "umount"

# Under a dir-only secret rule: docs/SPEC.md 3's own example shape.
mkdir -p "$S2/secrets/sub" "$S2/a/secrets" "$S2/src"
for f in secrets/id.pub secrets/id secrets/sub/k.pub secrets/sub/k a/secrets/k.pub src/m.c; do
	echo "content $f" >"$S2/$f"
done
chmod 0755 "$S2/secrets"
R2=(--rule 'read=**' --rule 'none=secrets/' --rule 'read=secrets/**/*.pub')
fs_mount "$S2" "$M2" "${R2[@]}" || { notok "mount 2"; exit 1; }
check_eq "secrets/ passes through, lists the .pub and sub/" "id.pub sub" "$(lsa "$M2/secrets")"
check_eq "secrets/sub/ lists k.pub only" "k.pub" "$(lsa "$M2/secrets/sub")"
check_eq "secrets/sub/k.pub reads" "content secrets/sub/k.pub" "$(cat "$M2/secrets/sub/k.pub" 2>&1)"
expect "secrets/id stays hidden" ENOENT open "$M2/secrets/id" rdonly
expect "secrets/sub/k stays hidden" ENOENT stat "$M2/secrets/sub/k"
check_eq "secrets/ is dr-xr-xr-x" "dr-xr-xr-x" "$(stat -c %A "$M2/secrets")"
expect "a/secrets/ (the anchored rule does not reach it) stays hidden" ENOENT stat "$M2/a/secrets"
check_eq "a/ lists nothing hidden" "" "$(lsa "$M2/a")"
fs_umount "$M2" && ok "umount 2" || notok "umount 2"

# explain: the deciding rule, then "pass-through (re-included by #N)".
out=$("$FENCEFS" explain --source "$S" "${RULES[@]}" /src/x/y /src/gen /src/x/y/z.c 2>&1)
line() { echo "$out" | grep -F " $1 " | sed 's/  */ /g'; }
check_eq "explain: src/x/y/ is pass-through, re-included by #2" \
	"view /src/x/y/ #1 none = ** (--rule) pass-through (re-included by #2)" "$(line /src/x/y/)"
check_eq "explain: src/gen/ is none by #3" "none /src/gen/ #3 none = src/gen/ (--rule)" \
	"$(line /src/gen/)"
check_eq "explain: z.c is read by #2" "read /src/x/y/z.c #2 read = src/**/*.c (--rule)" \
	"$(line /src/x/y/z.c)"
json=$("$FENCEFS" explain --json --source "$S2" "${R2[@]}" /secrets 2>&1)
check "explain --json: secrets is re-included by rule 3" \
	grep -q '"passthrough":true,"reincluded_by":3,' <<<"$json"
# Repeating the none rule last seals the directory whatever comes before.
out=$("$FENCEFS" explain --source "$S2" "${R2[@]}" --rule 'none=secrets/' /secrets 2>&1)
check_eq "explain: none=secrets/ repeated last seals secrets/" \
	"none /secrets/ #4 none = secrets/ (--rule)" "$(line /secrets/)"
