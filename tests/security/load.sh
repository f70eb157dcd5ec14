#!/bin/bash
# load.sh - 50 concurrent sandboxes on one codebase (issue 6, item 4).
# Each reads the whole tree it can see, hashes it, writes files of its own
# and lists output/; all must agree on the tree, each delta must hold only
# its own files, no sandbox may see another's writes, and the source must
# come out unchanged.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib.sh"
sec_need_fencerun
N=${FENCE_LOAD_N:-50}

CODE=$T/code
sec_canary_tree "$CODE"
# Some bulk to read: 300 small files in 10 directories.
for d in $(seq 1 10); do
	mkdir -p "$CODE/src/mod$d"
	for f in $(seq 1 30); do
		printf 'int f_%d_%d(void) { return %d; }\n' "$d" "$f" "$((d * f))" >"$CODE/src/mod$d/f$f.c"
	done
done
before=$(sec_tree_sum "$CODE")

# shellcheck disable=SC2016
script='find . -type f | LC_ALL=C sort | xargs cat | sha256sum | cut -c1-64
echo "$ID" > output/own-$ID.txt
mkdir output/dir-$ID && seq 1 2000 > output/dir-$ID/seq
cp src/main.c output/dir-$ID/main.c
sleep 0.5
echo "seen: $(ls output | grep -E "^(own|dir)-" | LC_ALL=C sort | tr "\n" " ")"'

mkdir -p "$T/runs"
start=$(date +%s)
pids=()
for i in $(seq 1 "$N"); do
	timeout -k 5 120 "$FENCERUN" --codebase "$CODE" --preset agent-safe --delta "$T/d$i" \
		--timeout 90s --env "ID=$i" -- sh -c "$script" >"$T/runs/o$i" 2>"$T/runs/e$i" &
	pids+=($!)
done
fails=""
for i in $(seq 1 "$N"); do
	wait "${pids[$((i - 1))]}" || fails+="$i "
done
secs=$(($(date +%s) - start))
check_eq "load: all $N sandboxes exit 0 (${secs}s)" "" "$fails"
for i in $fails; do sed "s/^/#   sandbox $i: /" "$T/runs/e$i" | head -3; done

hashes=$(for i in $(seq 1 "$N"); do head -1 "$T/runs/o$i"; done | sort | uniq -c | wc -l)
check_eq "load: every sandbox read the same tree" 1 "$hashes"
# The tree seen inside: the source minus the hidden names (docs/SPEC.md 4).
want=$(cd "$CODE" && find . -type f \
	! -name '.env' ! -name '.env.*' ! -name '*.pem' ! -name 'id_rsa*' \
	! -path '*/secrets/*' ! -path './.aws/*' | LC_ALL=C sort | xargs cat | sha256sum | cut -c1-64)
check_eq "load: ...and it is the source without its secrets" "$want" "$(head -1 "$T/runs/o1")"

crosstalk="" deltas=""
for i in $(seq 1 "$N"); do
	seen=$(sed -n 's/^seen: //p' "$T/runs/o$i")
	[ "$seen" = "dir-$i own-$i.txt " ] || crosstalk+="[$i saw: $seen] "
	got=$(cd "$T/d$i/upper" 2>/dev/null && find . -mindepth 1 ! -type d -o -type d -name 'dir-*' |
		LC_ALL=C sort | tr '\n' ' ')
	wanted="./output/dir-$i ./output/dir-$i/main.c ./output/dir-$i/seq ./output/own-$i.txt "
	[ "$got" = "$wanted" ] || deltas+="[d$i: $got] "
	[ "$(cat "$T/d$i/upper/output/own-$i.txt" 2>/dev/null)" = "$i" ] || deltas+="[d$i own-$i.txt] "
done
check_eq "load: no sandbox saw another's writes" "" "$crosstalk"
check_eq "load: each delta holds exactly its own files" "" "$deltas"
sec_scan "load: no canary in any output or delta" "$T/runs" "$T"/d[0-9]*
check_eq "load: source tree unchanged" "$before" "$(sec_tree_sum "$CODE")"
