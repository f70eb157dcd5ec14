#!/bin/bash
# run_apply.sh - the delta and --apply (issue 4 items 1 and 6): a private
# delta disappears, --delta keeps one, --apply changes the codebase only
# after exit 0, its report lands in --result and on stderr, and a conflict
# makes fence-run fail and keep the delta.
. "$(dirname "$0")/lib.sh"
need_root
need_fuse
[ -x "$FENCERUN" ] || skip_all "fence-run is not built ($FENCERUN)"
"$FENCEFS" commit --help 2>&1 | grep -q -- '--json' || skip_all "fencefs commit --json is not available yet"

P=$T/proj
mkdir -p "$P/src" "$P/output" "$T/tmpd"
echo 'int x;' >"$P/src/a.c"
echo keep >"$P/output/keep.txt"
echo 'SECRET=1' >"$P/.env"
listing() { (cd "$1" && find . -printf '%p %y %m %s\n' | sort && find . -type f -exec cat {} +); }
snap=$(listing "$P" | sha256sum)
same() { [ "$(listing "$P" | sha256sum)" = "$snap" ]; }
json() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(*[json.dumps(r[k]) for k in sys.argv[2:]])' "$@"; }
export TMPDIR=$T/tmpd
fr() { "$FENCERUN" --codebase "$P" "$@"; }

# --- private and kept deltas ---------------------------------------------------
fr --result "$T/p.json" -- sh -c 'echo hi > output/x' 
check_eq "private delta: exit 0" 0 $?
check "private delta: codebase unchanged without --apply" same
check_eq "private delta: removed afterwards" "" "$(find "$T/tmpd" -mindepth 1 -maxdepth 2 -name "*delta.*")"
check_eq "private delta: --result delta is null" null "$(json "$T/p.json" delta)"
fr --delta "$T/kept" --result "$T/k.json" -- sh -c 'echo hi > output/x'
check_eq "--delta: the write is in the kept delta" hi "$(cat "$T/kept/upper/output/x" 2>/dev/null)"
check_eq "--delta: --result names it" "\"$T/kept\"" "$(json "$T/k.json" delta)"
check "--delta: codebase unchanged" same
check "--delta: fencefs diff reads it" bash -c "'$FENCEFS' diff '$T/kept' | grep -q 'output/x'"

# --- --apply only on success -----------------------------------------------------
fr --apply --result "$T/f.json" -- sh -c 'echo new > output/n; exit 1'
check_eq "--apply after exit 1: status 1" 1 $?
check "--apply after exit 1: codebase unchanged" same
check_eq "--apply after exit 1: apply is null" null "$(json "$T/f.json" apply)"
fr --apply --timeout 0.5 -- sh -c 'echo new > output/n; sleep 10' 2>/dev/null
check_eq "--apply after a timeout: 124" 124 $?
check "--apply after a timeout: codebase unchanged" same
fr --apply --result "$T/a.json" -- sh -c 'echo new > output/n; echo changed > output/keep.txt; echo no > src/b.c' \
	2>"$T/a.err"
check_eq "--apply after exit 0 (the denied write is the shell's own error): status 2" 2 $?
check "--apply after a non-zero exit: still unchanged" same
fr --apply --result "$T/a.json" -- sh -c 'echo new > output/n; echo changed > output/keep.txt; mkdir output/d; echo f > output/d/f' \
	2>"$T/a.err"
check_eq "--apply after exit 0: status 0" 0 $?
check_eq "--apply: new file applied" new "$(cat "$P/output/n" 2>/dev/null)"
check_eq "--apply: modified file applied" changed "$(cat "$P/output/keep.txt")"
check_eq "--apply: new directory applied" f "$(cat "$P/output/d/f" 2>/dev/null)"
check_eq "--apply: secrets untouched" "SECRET=1" "$(cat "$P/.env")"
check "--apply: the report is a JSON object in --result" \
	python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert isinstance(r["apply"], dict) and r["error"] is None' "$T/a.json"
check "--apply: the report is on stderr too" grep -q 'output/n' "$T/a.err"
check_eq "--apply: the private delta is removed after applying" "" "$(find "$T/tmpd" -mindepth 1 -maxdepth 2 -name "*delta.*")"

# --- a conflict ------------------------------------------------------------------
snap=$(listing "$P" | sha256sum)
fr --apply --result "$T/c.json" -- sh -c 'echo mine >> output/keep.txt; sleep 2' 2>"$T/c.err" &
fp=$!
# Change the source only once the sandbox's copy-up exists.
for _ in $(seq 1 200); do
	compgen -G "$T/tmpd/fence-run.$(id -u)/delta.*/upper/output/keep.txt" >/dev/null && break
	sleep 0.05
done
echo theirs >"$P/output/keep.txt"
wait "$fp"
check_eq "--apply with a conflict: fence-run fails (125)" 125 $?
check_eq "--apply with a conflict: the source change survives" theirs "$(cat "$P/output/keep.txt")"
kept=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["delta"] or "")' "$T/c.json")
check "--apply with a conflict: the delta is kept and named ($kept)" test -d "$kept/upper"
check "--apply with a conflict: says so" grep -q '^fence-run: --apply: conflicts' "$T/c.err"
fr -- true
check "--apply with a conflict: a later fence-run does not reap the kept delta" test -d "$kept/upper"
rm -rf "$kept"
