#!/bin/bash
# Start-up cost of fence-run against bubblewrap, measured side by side
# (issue 4 "Done when"): runs `fence-run -- true` and
# `bwrap --unshare-all --ro-bind / / --dev /dev --proc /proc true`
# alternately N times each and prints both medians and their ratio.
#   bench/fence-run-startup.sh [N]        (BUILD=build by default)
# Exit status 0 when the median ratio is below 2, 1 otherwise, 77 when
# bwrap is missing.
set -u
cd "$(dirname "$0")/.."
N=${1:-40}
BUILD=${BUILD:-build}
FR=$PWD/$BUILD/fence-run
command -v bwrap >/dev/null || { echo "SKIP: bwrap is not installed (scripts/deps.sh bench)"; exit 77; }
[ -x "$FR" ] || { echo "no $FR; run make BUILD=$BUILD all"; exit 2; }
proj=$(mktemp -d /tmp/fence-bench.XXXXXX)
trap 'rm -rf "$proj"' EXIT
mkdir -p "$proj/src" && echo 'int main(void) { return 0; }' >"$proj/src/main.c"

now_us() { local t; t=$(date +%s%N); echo $((t / 1000)); }
fr=() bw=()
for ((i = 0; i < N + 3; i++)); do
	s=$(now_us); "$FR" --codebase "$proj" -- true >/dev/null 2>&1 || { echo "fence-run failed"; exit 2; }
	e=$(now_us); ((i >= 3)) && fr+=($((e - s)))
	s=$(now_us); bwrap --unshare-all --ro-bind / / --dev /dev --proc /proc true >/dev/null 2>&1
	e=$(now_us); ((i >= 3)) && bw+=($((e - s)))
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }
mf=$(median "${fr[@]}"); mb=$(median "${bw[@]}")
ratio=$(awk -v a="$mf" -v b="$mb" 'BEGIN {printf "%.2f", a / b}')
echo "fence-run -- true:  median ${mf} us over $N runs"
echo "bwrap ... true:     median ${mb} us over $N runs"
echo "ratio: $ratio (target < 2)"
awk -v r="$ratio" 'BEGIN {exit !(r < 2)}'
