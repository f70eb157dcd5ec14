#!/bin/bash
# run_lifecycle.sh - fence-run's life cycle (issue 4 item 5): SIGINT,
# SIGTERM and SIGHUP reach the command; when fence-run is SIGKILLed,
# nothing it started (sandbox processes, daemon, mount) remains after 1 s;
# when the daemon dies under the sandbox, fence-run exits 125.
. "$(dirname "$0")/lib.sh"
need_root
need_fuse
[ -x "$FENCERUN" ] || skip_all "fence-run is not built ($FENCERUN)"
mkdir -p "$T/code/output"
mark=fence-life-$$-$RANDOM
at_exit "kill -9 \$(pids_matching '$mark') 2>/dev/null"
alive() { pids_matching "$mark" | tr '\n' ' '; }
# Processes still in mount namespace $1 (a readlink of /proc/PID/ns/mnt).
in_mntns() {
	local p n=0
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/ns/mnt" 2>/dev/null)" = "$1" ] && n=$((n + 1))
	done
	echo "$n"
}
wait_for() { local i; for ((i = 0; i < $1 * 20; i++)); do "${@:2}" && return 0; sleep 0.05; done; return 1; }
started() { grep -q started "$T/$1" 2>/dev/null; }

# --- signals are forwarded -------------------------------------------------------
# Job control on: otherwise bash starts background jobs with SIGINT ignored,
# and fence-run (rightly) does not forward a signal its caller ignores.
set -m
for sig in TERM INT HUP; do
	rm -f "$T/s.out"
	"$FENCERUN" --codebase "$T/code" -- sh -c "trap 'echo got-$sig; exit 42' $sig; echo started; sleep 100 & wait" >"$T/s.out" 2>&1 &
	fp=$!
	if wait_for 10 started s.out; then
		kill -s "$sig" "$fp"
		wait "$fp"; rc=$?
		check_eq "SIG$sig is forwarded to the command (its trap's status)" 42 "$rc"
		check "SIG$sig: the command saw it" grep -q "got-$sig" "$T/s.out"
	else
		notok "SIG$sig is forwarded to the command"; kill -9 "$fp"; wait "$fp"
	fi
done
"$FENCERUN" --codebase "$T/code" -- sh -c 'echo started; sleep 100' >"$T/s2.out" 2>&1 &
fp=$!
wait_for 10 started s2.out && kill -TERM "$fp"
wait "$fp"
check_eq "an untrapped SIGTERM kills the command: 128+15" 143 $?
set +m

# --- SIGKILL of fence-run ------------------------------------------------------
"$FENCERUN" --codebase "$T/code" --delta "$T/kd" -- sh -c "
	(setsid sh -c 'sleep 300; : $mark-bg' &)
	echo started; sleep 300; : $mark-fg" >"$T/k.out" 2>&1 &
fp=$!
if wait_for 10 started k.out && wait_for 5 pids_matching "^sh -c sleep 300; : $mark-bg" >/dev/null; then
	daemon=$(pids_matching "fencefs mount .*$T/code" | tr '\n' ' ')
	check "SIGKILL: the daemon was running (${daemon:-none})" test -n "$daemon"
	# The inner sh, not fence-run (whose argv holds the same text).
	inner=$(pids_matching "^sh -c sleep 300; : $mark-bg" | head -1)
	mntns=$(readlink "/proc/$inner/ns/mnt")
	check "SIGKILL: the sandbox is in its own mount namespace" \
		test -n "$mntns" -a "$mntns" != "$(readlink /proc/self/ns/mnt)"
	check "SIGKILL: the sandbox has its FUSE mount" grep -q 'fuse.fencefs' "/proc/$inner/mountinfo"
	kill -9 "$fp"
	wait "$fp" 2>/dev/null
	sleep 1
	check_eq "SIGKILL: no sandbox process remains after 1 s" "" "$(alive)"
	check_eq "SIGKILL: no daemon remains after 1 s" "" "$(pids_matching "fencefs mount .*$T/code" | tr '\n' ' ')"
	check_eq "SIGKILL: the sandbox's mount namespace (and its FUSE mount) is gone" 0 "$(in_mntns "$mntns")"
	check_eq "SIGKILL: no mount on the host mentions the codebase" "" "$(grep -F "$T" /proc/self/mountinfo)"
else
	notok "SIGKILL: the sandbox started"; kill -9 "$fp"; wait "$fp"
fi

# --- the private delta of a SIGKILLed fence-run is reaped by the next one --------
mkdir -p "$T/tmpd"
TMPDIR=$T/tmpd "$FENCERUN" --codebase "$T/code" -- sh -c 'echo started; sleep 30' >"$T/pd.out" 2>&1 &
fp=$!
wait_for 10 started pd.out
kill -9 "$fp"; wait "$fp" 2>/dev/null
sleep 0.3
left=$(ls "$T/tmpd/fence-run.$(id -u)" 2>/dev/null | wc -l)
check_eq "SIGKILL: the private delta is left behind at first" 1 "$left"
TMPDIR=$T/tmpd "$FENCERUN" --codebase "$T/code" -- true
check_eq "... and the next fence-run removes it" 0 "$(ls "$T/tmpd/fence-run.$(id -u)" | wc -l)"

# --- the daemon dies under the sandbox -----------------------------------------
"$FENCERUN" --codebase "$T/code" -- sh -c "echo started; while :; do ls >/dev/null 2>&1 || true; sleep 0.05; done; : $mark-dd" >"$T/d.out" 2>"$T/d.err" &
fp=$!
if wait_for 10 started d.out; then
	daemon=$(pids_matching "fencefs mount .*$T/code")
	kill -9 $daemon
	if wait_for 5 bash -c "! kill -0 $fp 2>/dev/null"; then
		wait "$fp"; rc=$?
	else
		rc=still-running; kill -9 "$fp"
	fi
	check_eq "a killed daemon makes fence-run exit 125" 125 "$rc"
	check "... and say why" grep -q '^fence-run: the fencefs daemon died of signal 9' "$T/d.err"
	sleep 0.3
	check_eq "... and nothing of the sandbox remains" "" "$(alive)"
else
	notok "daemon death: the sandbox started"; kill -9 "$fp"; wait "$fp"
fi
