# Shared helpers for integration scripts; source it first thing:
#   . "$(dirname "$0")/lib.sh"            (or ../lib.sh from a subdirectory)
# Gives: $FENCEFS, $FENCERUN, $PROBES, $T (a private mktemp -d workspace),
# ok/notok/skip/check/skip_all, and cleanup through at_exit.
set -u
FENCE_ROOT=${FENCE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
FENCE_BUILD=${FENCE_BUILD:-$FENCE_ROOT/build}
FENCEFS=$FENCE_BUILD/fencefs
FENCERUN=$FENCE_BUILD/fence-run
PROBES=$FENCE_BUILD/tests/probes
T=$(mktemp -d /tmp/fence-t.XXXXXX)
_cleanups=()

# at_exit CMD: run CMD (eval'd) at exit, last registered first.
at_exit() { _cleanups+=("$1"); }
_run_cleanups() {
	local i
	for ((i = ${#_cleanups[@]} - 1; i >= 0; i--)); do eval "${_cleanups[$i]}" >/dev/null 2>&1 || true; done
	# Anything still mounted under $T goes, deepest first.
	grep -o " $T[^ ]*" /proc/self/mounts 2>/dev/null | sort -r | while read -r m; do
		umount -l "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null || true
	done
	rm -rf "$T"
}
trap _run_cleanups EXIT

ok() { echo "ok - $*"; }
notok() { echo "not ok - $*"; }
skip() { echo "skip - $*"; }
# skip_all REASON: the whole script cannot run here.
skip_all() { echo "SKIP: $*"; exit 77; }

# check NAME CMD...: run CMD, ok when it exits 0.
check() {
	local name=$1; shift
	if "$@"; then ok "$name"; else notok "$name"; fi
}
# check_eq NAME EXPECTED ACTUAL
check_eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else notok "$1"; echo "#   expected: $2"; echo "#   actual:   $3"; fi
}

# pids_matching ERE: host pids whose command line matches (like pgrep -f,
# without needing procps).
pids_matching() {
	python3 -c '
import os, re, sys
pat = re.compile(sys.argv[1])
for p in os.listdir("/proc"):
    if not p.isdigit() or int(p) == os.getpid():
        continue
    try:
        cmd = open("/proc/%s/cmdline" % p, "rb").read().replace(b"\0", b" ").strip()
    except OSError:
        continue
    if pat.search(cmd.decode("utf-8", "replace")):
        print(p)' "$1"
}

need_root() { [ "$(id -u)" = 0 ] || skip_all "needs root"; }
need_fuse() { [ -c /dev/fuse ] && [ -r /dev/fuse ] || skip_all "needs /dev/fuse"; }
