#!/bin/bash
# Kernel caching across repeated walks (issue 3, "grep -r run twice"):
# counts the requests the daemon's -d trace shows on each pass of
# `grep -r` over a tree, in both open modes.  After the first pass read
# every file the kernel marks each atime stale; without fs_notify.c the
# second pass asked for one GETATTR per file.  Now the listings that
# were read from are dropped, and the daemon's helper lists them again
# through the mount at once (READDIRPLUS carries the attributes of every
# entry), so the second pass, like the third, is served from the kernel's
# caches alone.
. "$(dirname "$0")/lib.sh"
need_root
need_fuse
[ -x "$FENCEFS" ] || skip_all "fencefs not built ($FENCEFS)"

NDIRS=12 NFILES=30
src=$T/proj mnt=$T/mnt
mkdir -p "$mnt"
for d in $(seq 1 $NDIRS); do
	mkdir -p "$src/src/d$d/sub"
	for f in $(seq 1 $NFILES); do
		printf 'line %s of file %s\n' "$d" "$f" >"$src/src/d$d/f$f.c"
	done
	echo "deep $d" >"$src/src/d$d/sub/deep.h"
done
ln "$src/src/d1/f1.c" "$src/src/d2/hardlink.c"
nfiles=$((NDIRS * (NFILES + 1) + 1))

# count LOG FROM OPCODE: requests in trace lines FROM..end of LOG, the
# relisting helper's ($hp) left out: what the walk itself asked
count() { tail -n +"$2" "$1" | grep "opcode: $3 " | grep -vc "pid: ${hp:-none}\$" || true; }

# start MODE-FLAGS...: mounts in the foreground with -d, trace in $T/trace
start() {
	: >"$T/trace"
	"$FENCEFS" mount -f -d --preset agent-safe "$@" "$src" "$mnt" 2>"$T/trace" &
	daemon=$!
	for _ in $(seq 100); do
		awk -v d="$mnt" '$5 == d { f = 1 } END { exit !f }' /proc/self/mountinfo && return 0
		sleep 0.05
	done
	return 1
}

walk() { grep -r -c line "$mnt/src" | awk -F: '{ n += $2 } END { print n + 0 }'; }

for mode in kernel daemon; do
	flags=()
	[ $mode = kernel ] && flags=(--kernel-opens)
	[ $mode = daemon ] && flags=(--exact-opens)
	at_exit "timeout 10 '$FENCEFS' umount '$mnt' 2>/dev/null"
	if ! start "${flags[@]}"; then
		notok "$mode: mount"; cat "$T/trace"; continue
	fi
	ok "$mode: mount with -d"
	check_eq "$mode: pass 1 reads every line" $((NDIRS * NFILES + 1)) "$(walk)"
	# This mount's helper only: a child of this daemon (other mounts may run).
	hp=$(pgrep -P "$daemon" -x fencefs-relist | head -1)
	check "$mode: a relisting helper runs" test -n "$hp"
	sleep 1 # the notifier waits for 30 ms without reads, then the helper lists
	if [ -n "$hp" ]; then
		# Between lists it holds only its pipe (a lazy umount can finish).
		check_eq "$mode: the helper holds no /dev/fuse and nothing of the mount" "" \
			"$(ls -l /proc/$hp/fd 2>/dev/null | grep -E 'fuse|'"$mnt" | tr '\n' ' ')"
	fi
	helper_rdp=$(grep -c "opcode: READDIRPLUS .*pid: ${hp:-none}\$" "$T/trace" || true)
	check "$mode: the helper listed the directories read from ($helper_rdp READDIRPLUS)" \
		test "$helper_rdp" -ge $((2 * NDIRS))
	mark=$(($(wc -l <"$T/trace") + 1))
	check_eq "$mode: pass 2 reads every line" $((NDIRS * NFILES + 1)) "$(walk)"
	sleep 0.3
	g2=$(count "$T/trace" $mark GETATTR)
	r2=$(count "$T/trace" $mark READDIRPLUS)
	rd2=$(count "$T/trace" $mark READ)
	# Without the notifications: one GETATTR per file ($nfiles); without
	# the helper, one READDIRPLUS and one end-of-listing per directory.
	# A few pages may have been reclaimed in between (DAMON, memory
	# pressure): their READs requeue a directory or two, hence the slack.
	check "$mode: pass 2 asks no GETATTR per file ($g2 GETATTR for $nfiles files)" \
		test "$g2" -le $((nfiles / 20))
	check "$mode: pass 2 finds the listings cached ($r2 READDIRPLUS, $NDIRS directories)" \
		test "$r2" -le $((NDIRS / 2))
	check "$mode: pass 2 reads (almost) no data from the daemon ($rd2 READs)" \
		test "$rd2" -le $((nfiles / 20))
	mark=$(($(wc -l <"$T/trace") + 1))
	check_eq "$mode: pass 3 reads every line" $((NDIRS * NFILES + 1)) "$(walk)"
	sleep 0.3
	g3=$(count "$T/trace" $mark GETATTR)
	r3=$(count "$T/trace" $mark READDIRPLUS)
	# Nothing should be asked; a late relisting (a loaded machine) may
	# still be under way, so this only catches a relisting of everything
	# or a GETATTR per file.
	check "$mode: pass 3 asks almost nothing ($g3 GETATTR)" test "$g3" -le $((nfiles / 20))
	check "$mode: pass 3 relists at most a few directories ($r3)" test "$r3" -le $((NDIRS / 2))

	# What the relisting told the kernel is right: sizes, modes, links.
	check_eq "$mode: size after relisting" "$(stat -c %s "$src/src/d3/f7.c")" \
		"$(stat -c %s "$mnt/src/d3/f7.c")"
	check_eq "$mode: read level shows no w bits" "444" "$(stat -c %a "$mnt/src/d3/f7.c")"
	check_eq "$mode: hard link seen under both names" "$(cat "$src/src/d1/f1.c")" \
		"$(cat "$mnt/src/d2/hardlink.c")"
	check_eq "$mode: link count through the mount" 2 "$(stat -c %h "$mnt/src/d2/hardlink.c")"
	if [ $mode = kernel ]; then
		# Root in the default mode (CAP_DAC_OVERRIDE passes the mode
		# bits, fencefs(1) CAVEATS): refused at the first write, not at
		# open; O_TRUNC still at open; the source never changes.
		f=$mnt/src/d3/f7.c
		before=$(sha256sum <"$src/src/d3/f7.c")
		check "root, kernel opens: read-write open of a read file succeeds" \
			bash -c "exec 3<>'$f'"
		err=$(bash -c "exec 3<>'$f'; echo x >&3" 2>&1)
		check "root, kernel opens: its first write is refused (EACCES)" \
			grep -q "Permission denied" <<<"$err"
		err=$( (echo x >"$f") 2>&1)
		check "root, kernel opens: O_TRUNC is refused at open (EACCES)" \
			grep -q "Permission denied" <<<"$err"
		check_eq "root, kernel opens: the source is unchanged" "$before" \
			"$(sha256sum <"$src/src/d3/f7.c")"
	fi
	timeout 10 "$FENCEFS" umount "$mnt"
	wait
	check_eq "$mode: no helper left after umount" "" \
		"$( [ -n "$hp" ] && kill -0 "$hp" 2>/dev/null && echo "$hp")"
done
