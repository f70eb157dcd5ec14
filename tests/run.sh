#!/bin/bash
# Run every unit test binary and every integration script, and end with one
# line: "N passed, N failed, N skipped".
#
# Unit tests are cmocka binaries in $BUILD/tests/test_*; each cmocka case
# counts once.  Integration scripts are tests/*.sh and tests/*/*.sh (not
# lib.sh); each prints "ok - NAME", "not ok - NAME" or "skip - NAME" per
# case (tests/lib.sh) and exits 0 (pass), 77 (skip all) or other (fail).
# With FENCE_MUST_WORK=1 every skip counts as a failure.
# TESTS="pattern" limits the integration scripts run (grep -E on the path).
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export FENCE_BUILD=$PWD/$BUILD
export FENCE_ROOT=$PWD
pass=0 fail=0 skip=0
failed_names=()
must=${FENCE_MUST_WORK:-0}
# Logs live in the build directory, away from /tmp clean-ups.
logdir=$PWD/$BUILD/test-logs
rm -rf "$logdir" && mkdir -p "$logdir"

count_skip() {
	if [ "$must" = 1 ]; then
		fail=$((fail + 1)); failed_names+=("$1 (skipped, FENCE_MUST_WORK=1)")
	else
		skip=$((skip + 1))
	fi
}

for t in "$BUILD"/tests/test_*; do
	[ -x "$t" ] || continue
	case "$t" in *.d|*.o) continue ;; esac
	name=$(basename "$t")
	out="$logdir/$name.log"
	CMOCKA_MESSAGE_OUTPUT=stdout "$t" >"$out" 2>&1
	rc=$?
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -1)
	s=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' "$out" | tail -1)
	pass=$((pass + ${p:-0})); fail=$((fail + ${f:-0}))
	for _ in $(seq 1 "${s:-0}"); do count_skip "$name"; done
	if [ "${f:-0}" != 0 ] || { [ "$rc" != 0 ] && [ -z "$f" ]; }; then
		[ -z "$f" ] && fail=$((fail + 1))
		failed_names+=("$name")
		echo "FAIL $name (log: $out)"; grep -E '^\[  (FAILED|ERROR) |^\[  ERROR' "$out" | head -20
	else
		echo "ok   $name (${p:-0} cases)"
	fi
done

scripts=$(ls tests/*.sh tests/*/*.sh 2>/dev/null | grep -v '/lib\.sh$' | grep -v '^tests/run\.sh$' | sort)
if [ -n "${TESTS:-}" ]; then scripts=$(echo "$scripts" | grep -E "$TESTS"); fi
for s in $scripts; do
	name=${s#tests/}
	out="$logdir/${name//\//_}.log"
	start=$(date +%s)
	timeout -k 10 600 bash "$s" >"$out" 2>&1
	rc=$?
	secs=$(( $(date +%s) - start ))
	p=$(grep -c '^ok - ' "$out"); f=$(grep -c '^not ok - ' "$out"); k=$(grep -c '^skip - ' "$out")
	pass=$((pass + p)); fail=$((fail + f))
	for _ in $(seq 1 "$k"); do count_skip "$name"; done
	if [ "$rc" = 77 ] && [ "$p" = 0 ] && [ "$f" = 0 ]; then
		[ "$k" = 0 ] && count_skip "$name"
		echo "skip $name: $(grep -m1 '^SKIP' "$out" || tail -1 "$out")"
		continue
	fi
	if [ "$rc" != 0 ] && [ "$rc" != 77 ] && [ "$f" = 0 ]; then
		fail=$((fail + 1))
		grep '^ok - \|^skip - ' "$out" >/dev/null || true
		echo "FAIL $name exited $rc (log: $out)"; tail -15 "$out" | sed 's/^/     /'
		failed_names+=("$name")
	elif [ "$f" != 0 ]; then
		echo "FAIL $name: $f failed, $p passed (${secs}s, log: $out)"
		grep -A3 '^not ok - ' "$out" | head -40 | sed 's/^/     /'
		failed_names+=("$name")
	else
		echo "ok   $name ($p passed, $k skipped, ${secs}s)"
	fi
done

if [ ${#failed_names[@]} -gt 0 ]; then
	echo "failed: ${failed_names[*]}"
fi
echo "logs: $logdir"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
