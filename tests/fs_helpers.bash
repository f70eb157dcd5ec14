# Helpers shared by the fencefs integration scripts (tests/fs_*.sh).
# Source it after lib.sh:
#   . "$(dirname "$0")/lib.sh"; . "$(dirname "$0")/fs_helpers.bash"
# It is not named *.sh so that tests/run.sh does not run it as a test.
#
# Gives:
#   fs_mount SRC MNT ARGS...   fencefs mount ARGS SRC MNT, bounded by a timeout;
#                              registers the unmount and the daemon's kill at exit
#   fs_umount MNT              fencefs umount MNT, bounded; 0 when it went
#   fs_daemon_pids MNT         pids of fencefs processes serving MNT
#   pid_alive PID              PID runs (zombies count as gone)
#   is_mounted DIR             DIR is a mount point (from /proc/self/mountinfo)
#   as_caller CMD...           CMD as root, or as uid/gid $FS_CALLER when set
#   probe OP ARGS...           fsprobe as the caller, bounded by a timeout
#   expect NAME WANT OP ARGS   one case: the probe's output must be WANT
#   manifest DIR               names, types, modes, sizes, mtimes, link targets,
#                              user xattrs and sha256 of every file under DIR
#   tree_manifest DIR          the same without times (to compare two views)
#   check_same NAME F1 F2      ok when files F1 and F2 are identical, else the diff
#   flat                       joins stdin's lines with spaces

FSPROBE=$PROBES/fsprobe
[ -x "$FSPROBE" ] || skip_all "fsprobe not built ($FSPROBE); run make BUILD=... probes"
[ -x "$FENCEFS" ] || skip_all "fencefs not built ($FENCEFS)"

# Every call into the mount is bounded: a daemon that hangs must fail the
# test, not the suite.
FS_TIMEOUT=${FS_TIMEOUT:-20}

is_mounted() {
	local d
	d=$(realpath -m "$1")
	awk -v d="$d" '$5 == d { found = 1 } END { exit !found }' /proc/self/mountinfo
}

# fs_daemon_pids MNT: the daemon is the fencefs process whose command line
# ends with MNT (MNT lives under this script's private $T, so this matches
# only what this script started; a zombie has no command line).
fs_daemon_pids() {
	local re
	re=$(realpath -m "$1" | sed 's/[].[\\*^$]/\\&/g')
	pgrep -f -- "fencefs.* mount .*[ ]$re\$"
}

# pid_alive PID: running (a zombie counts as gone: where pid 1 does not
# reap, an exited daemon stays a zombie).
pid_alive() {
	local st
	st=$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null)
	[ -n "$st" ] && [ "$st" != Z ]
}

_fs_force_cleanup() {
	local mnt=$1 pid
	if is_mounted "$mnt"; then
		timeout 10 "$FENCEFS" umount "$mnt" >/dev/null 2>&1 ||
			umount -l "$mnt" 2>/dev/null || fusermount3 -uz "$mnt" 2>/dev/null
	fi
	for pid in $(fs_daemon_pids "$mnt"); do kill -KILL "$pid" 2>/dev/null; done
}

# fs_mount SRC MNT ARGS...: prints fencefs's stderr on failure, returns its status.
fs_mount() {
	local src=$1 mnt=$2 rc
	shift 2
	mkdir -p "$mnt"
	at_exit "_fs_force_cleanup '$mnt'"
	timeout -k 5 "$FS_TIMEOUT" "$FENCEFS" mount "$@" "$src" "$mnt" 2>"$T/mount.err"
	rc=$?
	if [ $rc != 0 ]; then
		echo "# fencefs mount $* $src $mnt: exit $rc: $(head -c 500 "$T/mount.err")"
	fi
	return $rc
}

fs_umount() {
	timeout -k 5 "$FS_TIMEOUT" "$FENCEFS" umount "$1"
}

# Waits up to $2 seconds (default 5) for the daemon serving $1 to exit.
fs_wait_daemon_gone() {
	local i n=$((${2:-5} * 10))
	for ((i = 0; i < n; i++)); do
		[ -z "$(fs_daemon_pids "$1")" ] && return 0
		sleep 0.1
	done
	return 1
}

# as_caller CMD...: runs CMD as root, or as uid and gid FS_CALLER when set
# (no supplementary groups, no capabilities).
FS_CALLER=
as_caller() {
	if [ -n "$FS_CALLER" ]; then
		setpriv --reuid="$FS_CALLER" --regid="$FS_CALLER" --clear-groups -- "$@"
	else
		"$@"
	fi
}

# probe OP ARGS...: fsprobe as the caller (see as_caller).
probe() {
	as_caller timeout -k 2 "$FS_TIMEOUT" "$FSPROBE" "$@" 2>&1 || echo "TIMEOUT/exit $?"
}

# expect NAME WANT OP ARGS...: the probe's whole output must equal WANT.
expect() {
	local name=$1 want=$2
	shift 2
	check_eq "$name" "$want" "$(probe "$@")"
}

# manifest DIR: everything that must not change in a source tree.
manifest() {
	(
		cd "$1" || exit 1
		find . -printf '%p %y %m %U:%G %s %T@ %l\n' | LC_ALL=C sort
		getfattr -R -h -d -m '^user\.' . 2>/dev/null
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum
	)
}

# tree_manifest DIR: names, types, modes, sizes of files, link targets,
# owners (but the root's) and contents; not times, and not directory sizes (which differ between
# filesystems for the same entries).
tree_manifest() {
	(
		cd "$1" || exit 1
		find . -printf '%p %y %m %l\n' | LC_ALL=C sort
		find . -type f -printf '%p %s\n' | LC_ALL=C sort
		find . -mindepth 1 -printf '%p %U:%G\n' | LC_ALL=C sort
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum
	)
}

# flat: joins lines with spaces, so that a listing fits one "#   actual:" line.
flat() {
	tr '\n' ' ' | sed 's/ $//'
}

# check_same NAME FILE1 FILE2: ok when the two files are identical, else
# the first lines of the diff.
check_same() {
	if cmp -s "$2" "$3"; then
		ok "$1"
	else
		notok "$1"
		diff "$2" "$3" | head -20 | sed 's/^/#   /'
	fi
}
