#!/bin/bash
# run_limits.sh - fence-run's limits (issue 4 item 4): the timeout kills
# the whole tree, a memory hog is contained and reported oom_killed, a fork
# bomb is contained by the pids limit, --cpus sets a quota, the leaf cgroup
# is removed afterwards, and --unsafe-no-cgroup runs without one.
. "$(dirname "$0")/lib.sh"
need_root
need_fuse
[ -x "$FENCERUN" ] || skip_all "fence-run is not built ($FENCERUN)"
mkdir -p "$T/code"
fr() { "$FENCERUN" --codebase "$T/code" "$@"; }
mark=fence-limits-$$-$RANDOM
alive() { pids_matching "$mark" | tr '\n' ' '; }
at_exit "kill -9 \$(pids_matching '$mark') 2>/dev/null"
json() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(*[r[k] for k in sys.argv[2:]])' "$@"; }

# --- timeout ------------------------------------------------------------------
start=$(date +%s%N)
fr --timeout 1s --result "$T/t.json" -- sh -c "
	(setsid sh -c 'sleep 300; : $mark-a' &)
	(sh -c 'trap \"\" TERM HUP INT; sleep 300; : $mark-b' &)
	sleep 300; : $mark-c" 2>/dev/null
rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
check_eq "timeout: exit 124" 124 "$rc"
check "timeout: fence-run returned within 3 s (${ms} ms)" test "$ms" -lt 3000
check_eq "timeout: --result says timed_out" "124 True" "$(json "$T/t.json" exit_code timed_out)"
check_eq "timeout: the double-forked, setsid'd and TERM-ignoring processes are gone" "" "$(alive)"

# --- memory -------------------------------------------------------------------
fr --memory 64M --result "$T/m.json" -- python3 -c '
chunks = []
while True:
    chunks.append(bytearray(16 << 20))' 2>/dev/null
rc=$?
check_eq "memory: the hog is killed by the OOM killer (137)" 137 "$rc"
check_eq "memory: --result says oom_killed, signal 9" "True 9" "$(json "$T/m.json" oom_killed signal)"
peak=$(json "$T/m.json" peak_memory_bytes)
check "memory: peak memory is reported and bounded by the limit ($peak)" \
	test "$peak" -gt $((16 << 20)) -a "$peak" -le $((64 << 20))
fr --memory 64M --result "$T/m2.json" -- python3 -c 'b = bytearray(8 << 20); print(len(b))' >/dev/null
check_eq "memory: a modest program runs under the limit" "0 False" "$(json "$T/m2.json" exit_code oom_killed)"

# --- pids ---------------------------------------------------------------------
out=$(fr --pids 40 --timeout 20 -- python3 -c "
import os, time, sys
made = 0
for i in range(200):
    try:
        pid = os.fork()
    except OSError:
        continue
    if pid == 0:
        time.sleep(30)
        os._exit(0)
    made += 1
print(made, len([p for p in os.listdir('/proc') if p.isdigit()]))
sys.stdout.flush()
os._exit(0)  # the children die with the namespace: : $mark-p
" 2>/dev/null)
rc=$?
check_eq "pids: the fork loop finishes (the command's own status)" 0 "$rc"
set -- $out
check "pids: forks beyond the limit failed (made ${1:-?} of 200)" test "${1:-999}" -lt 40
check "pids: at most 40 tasks existed at once (saw ${2:-?})" test "${2:-999}" -le 40
check_eq "pids: nothing of the fork loop is left" "" "$(alive)"
start=$(date +%s)
fr --pids 64 --timeout 4 --result "$T/b.json" -- sh -c "b() { b | b & }; b; sleep 2; : $mark-bomb" 2>/dev/null
bomb=$?
check "pids: a real fork bomb is contained (exit $bomb, $(($(date +%s) - start)) s)" \
	test "$(($(date +%s) - start))" -le 8
check_eq "pids: nothing of the fork bomb is left" "" "$(pids_matching "$mark-bomb")"
check_eq "pids: the default limit is 4096" 4096 "$(fr --audit "$T/p.audit" -- true; grep -o '"pids":[0-9]*' "$T/p.audit" | head -1 | cut -d: -f2)"

# --- cpus ---------------------------------------------------------------------
"$FENCERUN" --codebase "$T/code" --cpus 0.5 -- sleep 2 &
fp=$!
quota=""
for _ in $(seq 1 40); do
	d=$(find /sys/fs/cgroup -maxdepth 5 -type d -name "fence-run.$fp" 2>/dev/null | grep -E '/cpu(,cpuacct)?/|unified|^/sys/fs/cgroup/fence' | head -1)
	if [ -n "$d" ]; then
		if [ -f "$d/cpu.cfs_quota_us" ]; then quota="$(cat "$d/cpu.cfs_quota_us") $(cat "$d/cpu.cfs_period_us")"
		elif [ -f "$d/cpu.max" ]; then quota=$(cat "$d/cpu.max"); fi
		[ -n "$quota" ] && break
	fi
	sleep 0.05
done
wait "$fp"
check_eq "cpus: --cpus 0.5 is a quota of 50000 per 100000 us" "50000 100000" "$quota"
leaves() { find /sys/fs/cgroup -maxdepth 5 -type d -name "fence-run.$1" 2>/dev/null | head -3; }
check_eq "cgroups: the --cpus run's leaves are removed afterwards" "" "$(leaves "$fp")"
"$FENCERUN" --codebase "$T/code" --memory 32M -- python3 -c 'b = bytearray(64 << 20)' 2>/dev/null &
fp=$!
wait "$fp"
check_eq "cgroups: an OOM-killed run's leaves are removed afterwards" "" "$(leaves "$fp")"

# A stale leaf named after our own pid (a SIGKILLed fence-run, pid reused).
parents=""
"$FENCERUN" --codebase "$T/code" -- sleep 1 &
fp=$!
for _ in $(seq 1 40); do
	parents=$(find /sys/fs/cgroup -maxdepth 5 -type d -name "fence-run.$fp" 2>/dev/null | xargs -r -n1 dirname)
	[ -n "$parents" ] && break
	sleep 0.05
done
wait "$fp"
check "cgroups: found where the leaves go ($(echo $parents))" test -n "$parents"
out=$(PARENTS="$parents" bash -c 'for d in $PARENTS; do mkdir "$d/fence-run.$$"; done
	exec "$0" --codebase "$1" -- echo ran' "$FENCERUN" "$T/code" 2>&1)
check_eq "cgroups: a stale leaf with our own pid (pid reuse) does not stop us" ran "$out"

# --- without cgroup -------------------------------------------------------------
check_eq "--unsafe-no-cgroup runs" "hi" "$(fr --unsafe-no-cgroup -- echo hi)"
fr --unsafe-no-cgroup --memory 64M -- true 2>"$T/nc.err"
check_eq "--unsafe-no-cgroup refuses --memory" 125 $?
