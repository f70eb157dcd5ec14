#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# bench/scale.sh - the scale table of issue 11 item 5: find and grep -r over
# generated trees of 10,000, 100,000 and 1,000,000 files, warm and cold,
# natively, through kernel overlayfs and through fencefs, with the time per
# file (so that linearity shows: the cost per file should stay flat as the
# tree grows, as native's does) and the daemon's fds and memory per inode it
# remembers.  Prints Markdown on stdout; progress on stderr.  `make bench`
# runs it from bench/run.sh; alone: `bench/scale.sh` (as root).
#
# The trees are made by tests/probes/scale_tree.c (`gen`: 100 files per
# directory, 0 to 700 bytes each, all different) on a private ext4 (a
# sparse image on a loop device with direct I/O, as bench/run.sh does, so
# "cold" reaches the disk), with one inode per 4 KiB so that a million
# files fit.  Setups:
#   native        the tree itself
#   overlayfs     mount -t overlay, lowerdir = the tree, upper and work on
#                 the same ext4
#   fencefs       fencefs mount --rule read=** (the default zero-message
#                 opens, as fence-run's sandbox gets them), its default fd
#                 budget (from RLIMIT_NOFILE)
#   fencefs-1024  the same with the daemon under ulimit -n 1024 (soft =
#                 hard); not in the default list
# Warm: the median of SCALE_RUNS runs after one warm-up, the setups taking
# turns run by run.  Cold: a fresh mount (a new daemon, no inode table) and
# syncfs + drop_caches before each of SCALE_COLD_RUNS runs.  The daemon's
# figures come from its --stats-file (SIGUSR1 after the warm runs) and
# /proc/PID/status; its fds are also sampled from /proc/PID/fd during the
# runs.
#
# Knobs (environment):
#   SCALE_SIZES      file counts, each a multiple of 100 ("10000 100000 1000000")
#   SCALE_SETUPS     "native overlayfs fencefs"
#   SCALE_RUNS       warm runs per cell (5)
#   SCALE_COLD_RUNS  cold runs per cell (1)
#   SCALE_COLD_GREP_MAX  the largest tree that grep -r runs on cold (100000):
#                    cold, every file is a 4 KiB read from the disk image
#                    (300 us each here natively), so a million files take
#                    5 minutes per setup
#   BUILD            build directory with fencefs (build); the generator is
#                    compiled into $BUILD/bench/scale_tree
#   BENCH_FS         loop (default) or host: measure on BENCH_TMPDIR itself
#   BENCH_TMPDIR     where the work directory goes (/var/tmp; a disk)
#   BENCH_KEEP       1 keeps the work directory
set -u
set -o pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in
/*) BDIR=$BUILD ;;
*) BDIR=$ROOT/$BUILD ;;
esac
FENCEFS=${FENCEFS:-$BDIR/fencefs}
SIZES=${SCALE_SIZES:-10000 100000 1000000}
SETUPS=${SCALE_SETUPS:-native overlayfs fencefs}
RUNS=${SCALE_RUNS:-5}
COLD_RUNS=${SCALE_COLD_RUNS:-1}
COLD_GREP_MAX=${SCALE_COLD_GREP_MAX:-100000}
NEEDLE=fencebench-no-such-string-in-the-scale-tree

die() {
	echo "scale: $*" >&2
	exit 1
}
log() { printf '[%s] scale: %s\n' "$(date -u +%T)" "$*" >&2; }

W="" LOOPDEV="" SAMPLER=""
cleanup() {
	local m
	[ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null
	[ -n "$W" ] || return 0
	grep -o " $W/[^ ]*" /proc/self/mounts 2>/dev/null | sort -r | while read -r m; do
		"$FENCEFS" umount "$m" 2>/dev/null || umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	done
	[ -n "$LOOPDEV" ] && losetup -d "$LOOPDEV" 2>/dev/null
	if [ "${BENCH_KEEP:-0}" = 1 ]; then log "work directory kept: $W"; else rm -rf "$W"; fi
}

# --- the private filesystem ------------------------------------------------
make_fs() {
	local total=0 n mb
	for n in $SIZES; do total=$((total + n)); done
	# A 4 KiB block per file, an inode per 4 KiB, plus room for the
	# directories, overlayfs's upper and the journal.
	mb=$((total * 5 / 1024 + 1024))
	D=$W
	FSINFO="the host filesystem ($(df -T "$W" | awk 'NR == 2 { print $2 }'), BENCH_FS=${BENCH_FS:-loop})"
	[ "${BENCH_FS:-loop}" = loop ] || return 0
	command -v mkfs.ext4 >/dev/null && [ -e /dev/loop-control ] || return 0
	truncate -s "${mb}M" "$W/fs.img" &&
		mkfs.ext4 -q -F -i 4096 -E lazy_itable_init=0,lazy_journal_init=0 "$W/fs.img" >"$W/mkfs.log" 2>&1 &&
		LOOPDEV=$(losetup --find --show --direct-io=on "$W/fs.img") &&
		mkdir -p "$W/d" && mount "$LOOPDEV" "$W/d" ||
		die "cannot make the private ext4 (BENCH_FS=host skips it): $(head -1 "$W/mkfs.log")"
	D=$W/d
	FSINFO="a private ${mb} MiB ext4 (mkfs defaults but -i 4096) on $LOOPDEV with direct I/O to a sparse file on $(df -T "$W" | awk 'NR == 2 { print $2 }')"
}

drop_caches() { sync -f "$D" && echo 3 >/proc/sys/vm/drop_caches; }

# --- setups -------------------------------------------------------------------
view() { if [ "$1" = native ]; then echo "$SRC"; else echo "$W/mnt/$1"; fi; }
daemon_pid() {
	local f
	for f in /run/fencefs/*.pid; do
		[ "$(sed -n 2p "$f" 2>/dev/null)" = "$1" ] && { head -1 "$f"; return 0; }
	done
	return 1
}
NMOUNT=0
mount_setup() {
	local s=$1 m=$W/mnt/$1
	mkdir -p "$m"
	case $s in
	native) return 0 ;;
	overlayfs)
		rm -rf "$D/upper" "$D/work" && mkdir -p "$D/upper" "$D/work" &&
			mount -t overlay overlay -o "lowerdir=$SRC,upperdir=$D/upper,workdir=$D/work" "$m" ;;
	fencefs | fencefs-1024)
		NMOUNT=$((NMOUNT + 1))
		STATS[$s]=$W/stats-$s-$NMOUNT.json
		if [ "$s" = fencefs-1024 ]; then
			(ulimit -n 1024 && exec "$FENCEFS" mount --rule 'read=**' --stats-file "${STATS[$s]}" "$SRC" "$m")
		else
			"$FENCEFS" mount --rule 'read=**' --stats-file "${STATS[$s]}" "$SRC" "$m"
		fi 2>"$W/mount.err" || { echo "scale: fencefs mount: $(head -c 300 "$W/mount.err")" >&2; return 1; }
		PID[$s]=$(daemon_pid "$m") || { echo "scale: no pid file names $m" >&2; return 1; } ;;
	*) die "unknown setup '$s'" ;;
	esac
}
umount_setup() {
	local s=$1 m=$W/mnt/$1
	case $s in
	native) return 0 ;;
	overlayfs) umount "$m" ;;
	fencefs*)
		"$FENCEFS" umount "$m" || return 1
		# The unmount's stats: this daemon's fd peak.
		peak_of "$s" "$(stats_json "${STATS[$s]}" fds_peak)" ;;
	esac
}

# stats_json FILE KEY: KEY's value in the daemon's stats object.
stats_json() {
	python3 -c 'import json, sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], "?"))' "$1" "$2" 2>/dev/null
}
# stats_now SETUP: SIGUSR1 to its daemon; waits until the file is rewritten.
stats_now() {
	python3 - "${PID[$1]}" "${STATS[$1]}" <<-'EOF'
		import json, os, signal, sys, time
		pid, path = int(sys.argv[1]), sys.argv[2]
		def stamp():
		    try:
		        st = os.stat(path)
		        return (st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_size)
		    except OSError:
		        return None
		before = stamp()
		os.kill(pid, signal.SIGUSR1)
		end = time.time() + 10
		while time.time() < end:
		    if stamp() not in (None, before):
		        try:
		            json.load(open(path))
		            sys.exit(0)
		        except ValueError:
		            pass
		    time.sleep(0.05)
		sys.exit(1)
	EOF
}
peak_of() { # SETUP VALUE: keep the largest value seen for SETUP at this size
	[[ $2 =~ ^[0-9]+$ ]] || return 0
	if [ -z "${PEAK[$1]:-}" ] || [ "$2" -gt "${PEAK[$1]}" ]; then PEAK[$1]=$2; fi
}

# The sampler: every 0.1 s, the fd count of each running daemon; the
# largest per setup goes to $W/fds-SETUP.
start_sampler() {
	local s pids=()
	for s in "${!PID[@]}"; do pids+=("$s:${PID[$s]}"); done
	(
		declare -A max
		trap 'for k in "${!max[@]}"; do echo "${max[$k]}" >"$W/fds-$k"; done; exit 0' TERM
		while :; do
			for e in "${pids[@]}"; do
				n=$(ls -U "/proc/${e#*:}/fd" 2>/dev/null | wc -l)
				[ "$n" -gt "${max[${e%%:*}]:-0}" ] && max[${e%%:*}]=$n
			done
			sleep 0.1
		done
	) &
	SAMPLER=$!
}
stop_sampler() {
	[ -n "$SAMPLER" ] || return 0
	kill "$SAMPLER" 2>/dev/null
	wait "$SAMPLER" 2>/dev/null
	SAMPLER=""
}

# --- workloads ------------------------------------------------------------------
wl_find() { find "$1" -type f -size +1k >/dev/null; }
wl_grep() {
	grep -r -F "$NEEDLE" "$1" >/dev/null
	[ $? -eq 1 ]
}
# time_us CMD...: prints CMD's wall time in microseconds, or fails.
time_us() {
	local t0 t1
	t0=${EPOCHREALTIME/./}
	"$@" 2>>"$W/errors" || return 1
	t1=${EPOCHREALTIME/./}
	echo $((t1 - t0))
}
median() {
	sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) exit 1
		if (NR % 2) print v[(NR + 1) / 2]; else printf "%d\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# warm N WL: one warm-up round and RUNS timed rounds, setups taking turns;
# RES[N|WL-warm|SETUP] = the median in microseconds.
warm() {
	local n=$1 wl=$2 r s t
	declare -A all
	for ((r = 0; r <= RUNS; r++)); do
		for s in $SETUPS; do
			t=$(time_us "wl_$wl" "$(view "$s")") || { NOTE["$n|$wl-warm|$s"]="failed: $(tail -1 "$W/errors" | cut -c1-60)"; continue; }
			[ $r = 0 ] || all[$s]+="$t "
		done
	done
	for s in $SETUPS; do
		[ -n "${all[$s]:-}" ] && RES["$n|$wl-warm|$s"]=$(echo "${all[$s]}" | tr ' ' '\n' | grep . | median)
	done
}
# cold N WL: for each setup, COLD_RUNS runs each after a fresh mount and
# dropped caches.
cold() {
	local n=$1 wl=$2 r s t ts
	for s in $SETUPS; do
		ts=""
		for ((r = 0; r < COLD_RUNS; r++)); do
			umount_setup "$s" && mount_setup "$s" && drop_caches ||
				{ NOTE["$n|$wl-cold|$s"]="remount failed"; break; }
			t=$(time_us "wl_$wl" "$(view "$s")") || { NOTE["$n|$wl-cold|$s"]="failed: $(tail -1 "$W/errors" | cut -c1-60)"; break; }
			ts+="$t "
		done
		[ -n "$ts" ] && RES["$n|$wl-cold|$s"]=$(echo "$ts" | tr ' ' '\n' | grep . | median)
	done
}

rss_kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null; }

# daemon_figures N: after the warm runs: the daemon's stats and memory.
daemon_figures() {
	local n=$1 s f
	for s in $SETUPS; do
		[[ $s == fencefs* ]] || continue
		if ! stats_now "$s"; then
			DAEMON["$n|$s"]="no stats"
			continue
		fi
		f=${STATS[$s]}
		DAEMON["$n|$s"]="$(stats_json "$f" fd_cache) $(stats_json "$f" fds_peak) $(stats_json "$f" inodes) $(stats_json "$f" heap_bytes) $(rss_kib "${PID[$s]}" VmRSS) $(rss_kib "${PID[$s]}" VmHWM) $(stats_json "$f" evictions) $(stats_json "$f" reopens) ${IDLE[$s]:-0 0 0}"
		peak_of "$s" "$(stats_json "$f" fds_peak)"
	done
}

# one_size N: make the tree, mount, measure, unmount, remove the tree.
one_size() {
	local n=$1 s t0 made
	SRC=$D/tree-$n
	log "$n files: generating"
	t0=${EPOCHREALTIME/./}
	made=$("$GEN" gen "$SRC" $((n / 100)) 100) || die "cannot generate $n files"
	sync -f "$D"
	GEN_S["$n"]=$(((${EPOCHREALTIME/./} - t0) / 1000000))
	[ "$made" = "$n" ] || die "generated $made files, not $n"
	unset PID STATS PEAK
	declare -gA PID STATS PEAK
	for s in $SETUPS; do
		mount_setup "$s" || die "cannot mount $s"
		[[ $s == fencefs* ]] && stats_now "$s" &&
			IDLE[$s]="$(stats_json "${STATS[$s]}" inodes) $(stats_json "${STATS[$s]}" heap_bytes) $(rss_kib "${PID[$s]}" VmRSS)"
	done
	start_sampler
	log "$n files: find warm"
	warm "$n" find
	log "$n files: grep -r warm"
	warm "$n" grep
	stop_sampler
	daemon_figures "$n"
	log "$n files: cold runs"
	cold "$n" find
	if [ "$n" -le "$COLD_GREP_MAX" ]; then
		cold "$n" grep
	else
		for s in $SETUPS; do NOTE["$n|grep-cold|$s"]="not run (SCALE_COLD_GREP_MAX=$COLD_GREP_MAX)"; done
	fi
	for s in $SETUPS; do
		umount_setup "$s"
		[[ $s == fencefs* ]] || continue
		SAMPLED["$n|$s"]=$(cat "$W/fds-$s" 2>/dev/null)
		PEAKS["$n|$s"]=${PEAK[$s]:-}
		rm -f "$W/fds-$s"
	done
	log "$n files: removing the tree"
	rm -rf "$SRC" "$D/upper" "$D/work"
}

# --- report -----------------------------------------------------------------------
fmt_time() { awk -v us="$1" 'BEGIN { if (us >= 1e6) printf "%.2f s", us / 1e6; else printf "%.1f ms", us / 1e3 }'; }
cell() { # N WL SETUP
	local v=${RES["$1|$2|$3"]:-} nat=${RES["$1|$2|native"]:-} ovl=${RES["$1|$2|overlayfs"]:-}
	if [ -z "$v" ]; then echo "${NOTE["$1|$2|$3"]:-–}"; return; fi
	printf '%s, %s µs/file' "$(fmt_time "$v")" "$(awk -v v="$v" -v n="$1" 'BEGIN { printf "%.2f", v / n }')"
	[ "$3" != native ] && [ -n "$nat" ] && awk -v v="$v" -v b="$nat" 'BEGIN { printf ", %.2fx native", v / b }'
	[[ $3 == fencefs* ]] && [ -n "$ovl" ] && awk -v v="$v" -v b="$ovl" 'BEGIN { printf ", %.2fx overlayfs", v / b }'
	echo
}
setup_name() {
	case $1 in
	native) echo "native (ext4)" ;;
	overlayfs) echo "overlayfs (kernel)" ;;
	fencefs) echo "fencefs read-only" ;;
	fencefs-1024) echo "fencefs read-only, daemon under ulimit -n 1024" ;;
	esac
}
report() {
	local n s
	echo "### Scale: find and grep -r over generated trees"
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M') UTC; kernel: $(uname -r); $(nproc) cores; RAM: $(awk '/^MemTotal/ { printf "%d GiB", $2 / 1048576 + 0.5 }' /proc/meminfo)"
	echo "- data: trees of $SIZES files (100 files of 0-700 bytes per directory), made by tests/probes/scale_tree.c on $FSINFO; generated in $(for n in $SIZES; do printf '%s s ' "${GEN_S[$n]}"; done| sed 's/ $//') (including syncfs)"
	echo "- warm: median of $RUNS runs after 1 warm-up (setups taking turns); cold: $COLD_RUNS run(s) each after a fresh mount + syncfs + drop_caches"
	echo "- find = \`find -type f -size +1k\`; grep -r = \`grep -r -F\` of a string in no file (every byte read)"
	echo "- fencefs: $FENCEFS (built $(date -u -r "$FENCEFS" '+%H:%M' 2>/dev/null) UTC; the checkout's HEAD was $HEAD0 when the run began), \`--rule read=**\`, default opens, default --fd-cache; the host's RLIMIT_NOFILE $(ulimit -Sn)/$(ulimit -Hn)"
	echo "- load average at the start: $LOAD0; at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
	echo "| files | setup | find warm | find cold | grep -r warm | grep -r cold |"
	echo "|---|---|---|---|---|---|"
	for n in $SIZES; do
		for s in $SETUPS; do
			echo "| $n | $(setup_name "$s") | $(cell "$n" find-warm "$s") | $(cell "$n" find-cold "$s") | $(cell "$n" grep-warm "$s") | $(cell "$n" grep-cold "$s") |"
		done
	done
	echo
	echo "Daemon after the warm runs (stats from --stats-file; \"per inode\" = growth since the idle mount / inodes it remembers then):"
	echo
	echo "| files | setup | fd budget | cached fds, peak | process fds, max sampled | inodes remembered | heap per inode | VmRSS | RSS per inode | evictions | reopens |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|"
	for n in $SIZES; do
		for s in $SETUPS; do
			[[ $s == fencefs* ]] || continue
			# fd_cache fds_peak inodes heap rss hwm evictions reopens idle_inodes idle_heap idle_rss
			# shellcheck disable=SC2086
			set -- ${DAEMON["$n|$s"]:-}
			if [ $# -lt 11 ]; then
				echo "| $n | $(setup_name "$s") | ${DAEMON["$n|$s"]:-not measured} | | | | | | | | |"
				continue
			fi
			echo "| $n | $(setup_name "$s") | $1 | ${PEAKS["$n|$s"]:-$2} | ${SAMPLED["$n|$s"]:-–} | $3 | $(awk -v h="$4" -v h0="${10}" -v i="$3" -v i0="$9" 'BEGIN { if (i > i0) printf "%.0f B", (h - h0) / (i - i0); else print "–" }') | $(awk -v r="$5" 'BEGIN { printf "%.1f MiB", r / 1024 }') | $(awk -v r="$5" -v r0="${11}" -v i="$3" -v i0="$9" 'BEGIN { if (i > i0) printf "%.0f B", (r - r0) * 1024 / (i - i0); else print "–" }') | $7 | $8 |"
		done
	done
}

main() {
	[ "$(id -u)" = 0 ] || die "needs root (mount, overlayfs, drop_caches)"
	[ -x "$FENCEFS" ] || die "$FENCEFS not built"
	for n in $SIZES; do [ $((n % 100)) = 0 ] && [ "$n" -gt 0 ] || die "SCALE_SIZES: '$n' is not a positive multiple of 100"; done
	W=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/fence-scale.XXXXXX") || die "cannot create a work directory"
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	GEN=$BDIR/bench/scale_tree
	mkdir -p "$BDIR/bench"
	cc -std=gnu11 -O2 -D_GNU_SOURCE -Wall -Wextra -o "$GEN" "$ROOT/tests/probes/scale_tree.c" ||
		die "cannot build tests/probes/scale_tree.c"
	LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
	HEAD0=$(git -C "$ROOT" log -1 --format='%h %ad' --date=format:%H:%M 2>/dev/null)
	declare -gA RES NOTE DAEMON IDLE SAMPLED PEAKS GEN_S PID STATS PEAK
	make_fs
	log "work directory $W; data on $FSINFO"
	for n in $SIZES; do one_size "$n"; done
	report
}

main "$@"; exit
