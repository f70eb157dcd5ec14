#!/bin/bash
# fencefs explain and fencefs presets, from the command line (issue 2).
# Needs no root and no FUSE: explain only reads the policy (and --source).
. "$(dirname "$0")/lib.sh"

unset FENCE_PRESET_DIR
[ -x "$FENCEFS" ] || { echo "not ok - fencefs not built ($FENCEFS)"; exit 1; }
# The binary finds the presets of its own source tree (policy_load.h).
PRESET=$(realpath "$FENCE_ROOT/presets/agent-safe.ini")

# issue 2, done-when: levels read none none none write none read, each with its rule.
out=$("$FENCEFS" explain --preset agent-safe /src/main.c /.env /a/b/.env.local \
	/config/secrets/db.txt /output/x /keys/server.pem /.git/config 2>&1)
rc=$?
check_eq "explain agent-safe exits 0" 0 "$rc"
check_eq "explain agent-safe levels" "read none none none write none read" \
	"$(echo "$out" | awk '{print $1}' | tr '\n' ' ' | sed 's/ $//')"
line() { echo "$out" | grep -F " $1 " | sed 's/  */ /g'; }
check_eq "explain /src/main.c rule" "read /src/main.c #1 read = ** ($PRESET:8)" "$(line /src/main.c)"
check_eq "explain /.env rule" "none /.env #4 none = .env ($PRESET:13)" "$(line /.env)"
check_eq "explain /a/b/.env.local rule" "none /a/b/.env.local #5 none = .env.* ($PRESET:14)" \
	"$(line /a/b/.env.local)"
check_eq "explain /config/secrets/db.txt rule and hiding ancestor" \
	"none /config/secrets/db.txt #19 none = secrets/ ($PRESET:28) (hidden: ancestor /config/secrets is none)" \
	"$(line /config/secrets/db.txt)"
check_eq "explain /output/x rule" "write /output/x #2 write = /output/ ($PRESET:9)" "$(line /output/x)"
check_eq "explain /keys/server.pem rule" "none /keys/server.pem #8 none = *.pem ($PRESET:17)" \
	"$(line /keys/server.pem)"
check_eq "explain /.git/config rule" "read /.git/config #1 read = ** ($PRESET:8)" "$(line /.git/config)"

# A bad policy file: one line on stderr with file and line, exit 2, nothing on stdout.
printf '[policy]\ndescription = typo\n[rules]\nread = **\nwirte = build/\n' >"$T/bad.ini"
"$FENCEFS" explain --policy "$T/bad.ini" /x >"$T/out" 2>"$T/err"
check_eq "bad policy exits 2" 2 "$?"
check_eq "bad policy error line" \
	"fencefs explain: $T/bad.ini:5: unknown level 'wirte' (expected none, view, read or write)" \
	"$(cat "$T/err")"
check_eq "bad policy prints nothing on stdout" "" "$(cat "$T/out")"

printf '[rules]\nread = src/*.[ch\n' >"$T/bad2.ini"
err=$("$FENCEFS" explain --policy "$T/bad2.ini" /x 2>&1 >/dev/null)
check_eq "bad pattern names pattern, file and line" \
	"fencefs explain: $T/bad2.ini:2: pattern 'src/*.[ch': unterminated character class" "$err"

err=$("$FENCEFS" explain --policy "$T/missing.ini" /x 2>&1 >/dev/null)
check_eq "missing policy file" "fencefs explain: $T/missing.ini: cannot read: No such file or directory" "$err"

err=$("$FENCEFS" explain --rule 'wirte=x' /x 2>&1 >/dev/null)
check_eq "bad --rule" "fencefs explain: --rule 'wirte=x': unknown level 'wirte'" "$err"

err=$("$FENCEFS" explain --preset no-such /x 2>&1 >/dev/null)
rc=$?
check "unknown preset exits 2 and says so" \
	test "$rc" = 2 -a -n "$(echo "$err" | grep -F "unknown preset 'no-such'")"

err=$("$FENCEFS" explain /x 2>&1 >/dev/null)
rc=$?
check_eq "no policy option exits 2" 2 "$rc"
check_eq "no policy option message" \
	"fencefs explain: no policy: give --preset, --policy or --rule (see 'fencefs presets')" "$err"

"$FENCEFS" explain --rule 'read=**' 2>/dev/null
check_eq "no PATH exits 2" 2 "$?"

"$FENCEFS" explain --rule 'read=**' /a/../../etc >/dev/null 2>"$T/err"
check "'..' path refused" test "$?" = 2 -a -n "$(grep -F "invalid path '/a/../../etc'" "$T/err")"

"$FENCEFS" explain --help >"$T/out"
check "explain --help" grep -q '^usage: fencefs explain \[--preset NAME\]' "$T/out"

# docs/SPEC.md 3's worked example from the command line, with a pass-through directory.
out=$("$FENCEFS" explain --rule 'read=**' --rule 'none=secrets/' --rule 'read=/secrets/public.key' \
	/secrets/ /secrets/public.key /secrets/other /x/secrets/public.key | sed 's/  */ /g')
check_eq "docs/SPEC.md 3 example" \
	"view /secrets/ #2 none = secrets/ (--rule) pass-through (re-included by #3)
read /secrets/public.key #3 read = /secrets/public.key (--rule)
none /secrets/other #2 none = secrets/ (--rule)
none /x/secrets/public.key #2 none = secrets/ (--rule) (hidden: ancestor /x/secrets is none)" "$out"

# Policy file with a base preset: the preset's rules first, then the file's, then --rule.
printf '[policy]\npreset = read-only\n[rules]\nwrite = build/\nnone  = *.sqlite\n' >"$T/p.ini"
out=$("$FENCEFS" explain --policy "$T/p.ini" --rule 'write=/db/' build/x a.sqlite db/a.sqlite src \
	| sed 's/  */ /g')
check_eq "policy file on top of a preset, --rule last" \
	"write /build/x #2 write = build/ ($T/p.ini:4)
none /a.sqlite #3 none = *.sqlite ($T/p.ini:5)
write /db/a.sqlite #4 write = /db/ (--rule)
read /src #1 read = ** ($(realpath "$FENCE_ROOT/presets/read-only.ini"):6)" "$out"

# --source decides which paths are directories; --dir makes all of them directories.
mkdir -p "$T/src/secrets" "$T/src/build"
: >"$T/src/secrets/public.key"
: >"$T/src/build2"
out=$("$FENCEFS" explain --source "$T/src" --rule 'read=**' --rule 'none=/build/' \
	--rule 'none=secrets/' --rule 'read=/secrets/public.key' build build2 secrets nothere | sed 's/  */ /g')
check_eq "--source looks up directories" \
	"none /build/ #2 none = /build/ (--rule)
read /build2 #1 read = ** (--rule)
view /secrets/ #3 none = secrets/ (--rule) pass-through (re-included by #4)
read /nothere #1 read = ** (--rule) (not in the source; taken as a file)" "$out"
out=$("$FENCEFS" explain --dir --rule 'read=**' --rule 'none=/build/' build | awk '{print $1}')
check_eq "--dir" "none" "$out"

# --tree: the whole source tree as the sandbox would see it; hidden directories not entered.
mkdir -p "$T/tree/src" "$T/tree/config/secrets" "$T/tree/node/.ssh"
: >"$T/tree/src/main.c"; : >"$T/tree/.env"; : >"$T/tree/config/secrets/db.txt"
: >"$T/tree/config/secrets/id.pub"; : >"$T/tree/node/.ssh/id_rsa"
ln -s /etc/passwd "$T/tree/link"
out=$("$FENCEFS" explain --source "$T/tree" --tree --rule 'read=**' --rule 'none=secrets/' \
	--rule 'none=.ssh/' --rule 'none=.env' --rule 'read=/config/secrets/*.pub' | awk '{print $1, $2}')
check_eq "--tree lists what the sandbox sees" \
	"read /
none /.env
read /config/
view /config/secrets/
none /config/secrets/db.txt
read /config/secrets/id.pub
read /link
read /node/
none /node/.ssh/
read /src/
read /src/main.c" "$out"
"$FENCEFS" explain --tree --rule 'read=**' >/dev/null 2>"$T/err"
check "--tree without --source" test "$?" = 2 -a "$(cat "$T/err")" = "fencefs explain: --tree needs --source DIR"

# --all: every matching rule, in order, the deciding (last) one included.
out=$("$FENCEFS" explain --all --rule 'read=**' --rule 'none=id_rsa*' --rule 'none=.ssh/' \
	--rule 'write=/tmp/' /home/.ssh/id_rsa.pub /b | sed 's/  */ /g')
check_eq "--all lists the matching rules" \
	"none /home/.ssh/id_rsa.pub #3 none = .ssh/ (--rule) (hidden: ancestor /home/.ssh is none)
 matches #1 read = ** (--rule)
 #2 none = id_rsa* (--rule)
 #3 none = .ssh/ (--rule)
read /b #1 read = ** (--rule)
 matches #1 read = ** (--rule)" "$out"

# --json: one valid object per path.
"$FENCEFS" explain --json --preset agent-safe /src/main.c /config/secrets/db.txt 'a"b' >"$T/json"
"$FENCEFS" explain --json --all --preset agent-safe /home/.ssh/id_rsa >>"$T/json"
check "--json is valid JSON with the decision" python3 - "$T/json" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["level"] for r in rows] == ["read", "none", "read", "none"], rows
assert rows[3]["matching"][0] == 1 and rows[3]["matching"][-1] == rows[3]["rule"]["number"]
assert len(rows[3]["matching"]) == 3 and "matching" not in rows[0]
assert rows[0]["rule"]["pattern"] == "**" and rows[0]["rule"]["number"] == 1
assert rows[1]["hidden_by"] == "/config/secrets" and rows[1]["rule"]["pattern"] == "secrets/"
assert rows[2]["path"] == '/a"b' and rows[2]["hidden_by"] is None
EOF

# fencefs presets: every preset, sorted and aligned, with its description.
out=$("$FENCEFS" presets)
check_eq "presets exits 0" 0 "$?"
check_eq "presets names" "agent-safe development full-access read-only view-only" \
	"$(echo "$out" | awk '{print $1}' | tr '\n' ' ' | sed 's/ $//')"
check_eq "presets aligned" "1" "$(echo "$out" | awk '{ match($0, /^[^ ]+ +/); print RLENGTH }' | sort -u | wc -l)"
check "presets descriptions" test "$(echo "$out" | awk 'NF >= 3' | wc -l)" = 5
check_eq "agent-safe description" \
	"agent-safe   read the code, write /output/ and /tmp/, secrets hidden" \
	"$(echo "$out" | grep '^agent-safe')"
"$FENCEFS" presets --help | grep -q '^usage: fencefs presets'
check_eq "presets --help" 0 "$?"
mkdir "$T/presets"
printf '[policy]\ndescription = mine\n[rules]\nread = /docs/\n' >"$T/presets/mine.ini"
printf '[rules]\nreed = x\n' >"$T/presets/broken.ini"
out=$(FENCE_PRESET_DIR=$T/presets "$FENCEFS" presets)
check_eq "FENCE_PRESET_DIR, a broken preset is listed with its error" \
	"broken  $T/presets/broken.ini:2: unknown level 'reed' (expected none, view, read or write)
mine    mine" "$out"
out=$(FENCE_PRESET_DIR=$T/presets "$FENCEFS" explain --preset mine /docs/x | awk '{print $1}')
check_eq "explain with FENCE_PRESET_DIR" "read" "$out"

# Names that would steer the reader's terminal (issue 15 item 7): quoted as
# git does, from the command line and from --tree; --json keeps them exact.
RLO=$(printf 'x\342\200\256gpj.sh') CSI=$(printf 'c\302\233''2J') CAFE=$(printf 'caf\303\251')
out=$("$FENCEFS" explain --rule 'read=**' --rule 'none=secret*' "/$RLO" "/$CSI" "/$CAFE" \
	"/secret$RLO/f" | awk '{print $2}')
check_eq "steering names on the command line are quoted, plain UTF-8 is not" \
	"$(printf '%s\n' '"/x\342\200\256gpj.sh"' '"/c\302\2332J"' "/$CAFE" \
		'"/secretx\342\200\256gpj.sh/f"')" "$out"
out=$("$FENCEFS" explain --rule 'read=**' --rule 'none=secret*' "/secret$RLO/f")
check "a hiding ancestor with a steering name is quoted" \
	grep -q -F '(hidden: ancestor "/secretx\342\200\256gpj.sh" is none)' <<<"$out"
mkdir -p "$T/tree5/$RLO" "$T/tree5/$CAFE"
: >"$T/tree5/$RLO/$CSI"; : >"$T/tree5/$(printf 'esc\033]0;title\007')"
"$FENCEFS" explain --source "$T/tree5" --tree --rule 'read=**' >"$T/tree5.out" 2>&1
check_eq "--tree quotes steering names" \
	"$(printf '%s\n' '/' "/$CAFE/" '"/esc\033]0;title\a"' '"/x\342\200\256gpj.sh/"' \
		'"/x\342\200\256gpj.sh/c\302\2332J"')" "$(awk '{print $2}' "$T/tree5.out")"
check_eq "nothing in explain's output steers the terminal" "" "$(python3 - "$T/tree5.out" <<'EOF'
import re, sys
data = open(sys.argv[1], 'rb').read()
print(' '.join(b.hex() for b in re.findall(rb'\xe2\x80[\xaa-\xae\x8e\x8f]|\xe2\x81[\xa6-\xa9]|\xc2[\x80-\x9f]|[\x00-\x09\x0b-\x1f\x7f]', data)))
EOF
)"
"$FENCEFS" explain --json --source "$T/tree5" --tree --rule 'read=**' >"$T/tree5.json"
check "--json keeps steering names exact" python3 - "$T/tree5.json" "$RLO" "$CSI" <<'EOF'
import json, sys
paths = [json.loads(l)['path'] for l in open(sys.argv[1], encoding='utf-8')]
rlo, csi = sys.argv[2], sys.argv[3]
assert '/' + rlo in paths and '/' + rlo + '/' + csi in paths, paths
EOF
