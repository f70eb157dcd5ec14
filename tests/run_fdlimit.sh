#!/bin/bash
# run_fdlimit.sh - fence-run works at whatever fd limit it inherits (issue 11
# item 3): under `ulimit -n 1024` (soft = hard, as on many CI runners and
# services) find and grep -r through /workspace see exactly what they see
# natively, a writable sandbox can untar /usr/include and remove it again,
# and --fd-cache N reaches the daemon.  Nothing may answer EMFILE.
. "$(dirname "$0")/lib.sh"
need_root
need_fuse
[ -x "$FENCERUN" ] || skip_all "fence-run is not built ($FENCERUN)"
[ -d /usr/include ] || skip_all "needs /usr/include"
export FENCE_PRESET_DIR=${FENCE_PRESET_DIR:-$FENCE_ROOT/presets}
LIMIT=${FENCE_FDLIMIT:-1024}

# The codebase: a copy of /usr/include (8,000-odd files, deep) and a
# generated tree of 30,000 small files in 300 directories, so that the
# daemon meets far more inodes than it has descriptors.
P=$T/code
mkdir -p "$P"
cp -a /usr/include "$P/inc"
python3 - "$P/gen" <<'EOF'
import os, sys
root = sys.argv[1]
for d in range(300):
    sub = os.path.join(root, "d%03d" % (d // 30), "e%03d" % d)
    os.makedirs(sub)
    for f in range(100):
        with open(os.path.join(sub, "f%03d.txt" % f), "w") as fh:
            fh.write("file %d/%d\n%s\n" % (d, f, "needle" if f % 7 == 0 else "hay"))
EOF
tar -C /usr -cf "$P/inc.tar" include

# A walk's summary: file count, names, per-file grep counts, contents.
# The same script runs natively and inside; its output must be equal.
cat >"$P/walk.sh" <<'EOF'
set -e -o pipefail
cd "$1"
echo "files $(find . -type f | wc -l)"
echo "dirs $(find . -type d | wc -l)"
echo "names $(find . | LC_ALL=C sort | sha256sum | cut -c1-16)"
echo "grep-l $(grep -rl -e include -e needle . | wc -l)"
echo "grep-c $(grep -rc define . | LC_ALL=C sort | sha256sum | cut -c1-16)"
echo "content $(find . -type f -print0 | LC_ALL=C sort -z | xargs -0 cat | sha256sum | cut -c1-16)"
EOF
# limited CMD...: run CMD with soft = hard = $LIMIT descriptors.
limited() { (ulimit -n "$LIMIT" && "$@"); }

# One line per walk, so that a mismatch reads well.
walk() { bash "$P/walk.sh" "$1" 2>&1 | tr '\n' ' '; }
native_inc=$(walk "$P/inc")
native_gen=$(walk "$P/gen")
echo "# native inc: $native_inc"
echo "# native gen: $native_gen"

# --- the launcher itself at the limit ------------------------------------------
out=$(limited "$FENCERUN" --codebase "$P" --preset read-only -- sh -c 'ulimit -Sn; ulimit -Hn' 2>&1)
check_eq "ulimit -n $LIMIT: fence-run starts, the command inherits $LIMIT (soft and hard)" \
	"$LIMIT $LIMIT" "$(echo $out)"

# --- read-only walks ----------------------------------------------------------
for tree in inc gen; do
	want=$native_inc
	[ $tree = gen ] && want=$native_gen
	got=$(limited "$FENCERUN" --codebase "$P" --preset read-only --result "$T/r-$tree.json" \
		-- bash /workspace/walk.sh "/workspace/$tree" 2>"$T/err-$tree")
	rc=$?
	got=$(echo "$got" | tr '\n' ' ')
	check_eq "ulimit -n $LIMIT: find and grep -r over $tree equal native" "$want" "$got"
	check_eq "ulimit -n $LIMIT: walk of $tree exits 0" 0 "$rc"
	check_eq "ulimit -n $LIMIT: no 'Too many open files' walking $tree" 0 \
		"$(grep -c 'Too many open files' "$T/err-$tree")"
	{ head -3 "$T/err-$tree"; grep '^fence-run:' "$T/err-$tree"; } | sed 's/^/#   /'
done

# --- writes: untar /usr/include into /workspace, read it back, rm -rf it --------
got=$(limited "$FENCERUN" --codebase "$P" --preset development -- sh -c '
	set -e
	mkdir /workspace/out
	tar -C /workspace/out -xf /workspace/inc.tar
	bash /workspace/walk.sh /workspace/out/include
	rm -rf /workspace/out
	test ! -e /workspace/out && echo removed' 2>"$T/err-tar")
rc=$?
check_eq "ulimit -n $LIMIT: untar into a writable sandbox, walk, rm -rf: equal native" \
	"${native_inc}removed" "$(echo "$got" | tr '\n' ' ' | sed 's/ $//')"
check_eq "ulimit -n $LIMIT: untar and rm -rf exit 0" 0 "$rc"
check_eq "ulimit -n $LIMIT: no 'Too many open files' while writing" 0 \
	"$(grep -c 'Too many open files' "$T/err-tar")"
{ head -3 "$T/err-tar"; grep '^fence-run:' "$T/err-tar"; } | sed 's/^/#   /'

# --- --fd-cache ------------------------------------------------------------------
"$FENCERUN" --codebase "$P" --fd-cache 15 -- true 2>"$T/e15"
check_eq "--fd-cache 15 is refused (125)" 125 $?
check "--fd-cache 15: the message names the flag and the minimum" \
	grep -q "^fence-run: --fd-cache '15': at least 16" "$T/e15"
"$FENCERUN" --codebase "$P" --fd-cache lots -- true 2>"$T/ex"
check_eq "--fd-cache lots is refused (125)" 125 $?
check "--fd-cache lots: the message names the flag" grep -q "^fence-run: --fd-cache 'lots'" "$T/ex"

if "$FENCEFS" mount --help 2>&1 | grep -q -- --fd-cache; then
	# The daemon really gets the option: its command line says so.
	limited "$FENCERUN" --codebase "$P" --preset read-only --fd-cache 16 -- sleep 3 &
	frpid=$!
	daemon=
	for _ in $(seq 1 50); do
		daemon=$(pids_matching "fencefs mount .*--fd-cache 16 .*$P")
		[ -n "$daemon" ] && break
		sleep 0.1
	done
	wait $frpid
	check "--fd-cache 16 reaches the daemon's command line" test -n "$daemon"
	got=$(limited "$FENCERUN" --codebase "$P" --preset read-only --fd-cache 16 \
		-- bash /workspace/walk.sh /workspace/gen 2>"$T/err-16" | tr '\n' ' ')
	check_eq "ulimit -n $LIMIT, --fd-cache 16: walk of gen equals native" "$native_gen" "$got"
	got=$(limited "$FENCERUN" --codebase "$P" --preset development --fd-cache 16 -- sh -c '
		set -e; mkdir /workspace/out; tar -C /workspace/out -xf /workspace/inc.tar
		bash /workspace/walk.sh /workspace/out/include; rm -rf /workspace/out; echo removed' \
		2>"$T/err-16w")
	check_eq "ulimit -n $LIMIT, --fd-cache 16: untar, walk, rm -rf equal native" \
		"${native_inc}removed" "$(echo "$got" | tr '\n' ' ' | sed 's/ $//')"
	head -3 "$T/err-16" "$T/err-16w" | sed 's/^/#   /'
	# The whole stack at a limit far below the tree: 64 descriptors.
	got=$( (ulimit -n 64 && "$FENCERUN" --codebase "$P" --preset read-only --fd-cache 16 \
		-- bash /workspace/walk.sh /workspace/inc) 2>"$T/err-64" | tr '\n' ' ')
	check_eq "ulimit -n 64, --fd-cache 16: walk of inc equals native" "$native_inc" "$got"
	head -3 "$T/err-64" | sed 's/^/#   /'
else
	skip "--fd-cache end to end: this fencefs has no 'mount --fd-cache' yet"
fi
exit 0
