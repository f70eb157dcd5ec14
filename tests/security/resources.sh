#!/bin/bash
# resources.sh - resource attacks (issue 6, item 1, "resources"): a fork
# bomb under --pids, a memory hog under --memory, disk fillers in /tmp
# (--tmp-size) and in the delta (--max-delta, by data and by metadata),
# a race of every namespace operation from many threads, and a
# double-forking daemonizer that tries to outlive the command and the
# timeout.  Each must be contained, reported with the right exit status,
# and leave nothing running on the host.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib.sh"
sec_need_fencerun

CODE=$T/code
sec_canary_tree "$CODE"
before=$(sec_tree_sum "$CODE")

# run NAME FENCE-RUN-OPTIONS... -- COMMAND...: stdout in $T/NAME.out, exit
# status in $rc, result JSON in $T/NAME.result.
run() {
	local name=$1
	shift
	timeout -k 5 90 "$FENCERUN" --codebase "$CODE" --preset agent-safe \
		--result "$T/$name.result" --bind-ro "$SECPROBES:/probes" "$@" \
		>"$T/$name.out" 2>"$T/$name.err"
	rc=$?
}

# json FILE KEY: the value of KEY in a one-object JSON file.
json() {
	python3 -c 'import json,sys; v=json.load(open(sys.argv[1])).get(sys.argv[2]); print(json.dumps(v))' \
		"$1" "$2" 2>/dev/null
}

# field FILE VECTOR KEY: "VECTOR RESULT KEY=N" -> N
field() { sed -n "s/^$2 [A-Z0-9]* .*$3=\([0-9]*\).*/\1/p" "$1" | tail -1; }
result() { sed -n "s/^$2 \([A-Z0-9]*\).*/\1/p" "$1" | tail -1; }

# --- fork bomb ----------------------------------------------------------------
run forkbomb --pids 64 --timeout 60s -- /probes/hostile forkbomb 4096
check_eq "forkbomb: fence-run exit status" 0 "$rc"
check_eq "forkbomb: fork fails with EAGAIN" EAGAIN "$(result "$T/forkbomb.out" forkbomb)"
n=$(field "$T/forkbomb.out" forkbomb children)
if [ -n "$n" ] && [ "$n" -lt 64 ]; then ok "forkbomb: fewer than --pids 64 children ($n)"; else
	notok "forkbomb: fewer than --pids 64 children"; echo "#   children: ${n:-none}"; fi

# --- memory hog ---------------------------------------------------------------
run memhog --memory 64M --timeout 60s -- /probes/hostile memhog 1024
check_eq "memhog: killed by SIGKILL (128+9)" 137 "$rc"
check_eq "memhog: result says oom_killed" true "$(json "$T/memhog.result" oom_killed)"
m=$(field "$T/memhog.out" 'memhog:progress' mib)
if [ -n "$m" ] && [ "$m" -le 64 ]; then ok "memhog: stopped near --memory 64M (last ${m} MiB)"; else
	notok "memhog: stopped near --memory 64M"; echo "#   last progress: ${m:-none} MiB"; fi

# --- disk fillers -------------------------------------------------------------
run tmpfill --tmp-size 4M --timeout 60s -- /probes/hostile fill /tmp/fill 256
check_eq "tmpfill: fence-run exit status" 0 "$rc"
check_eq "tmpfill: /tmp full with ENOSPC" ENOSPC "$(result "$T/tmpfill.out" fill)"
b=$(field "$T/tmpfill.out" fill bytes)
if [ -n "$b" ] && [ "$b" -le $((4 * 1048576)) ]; then ok "tmpfill: at most --tmp-size 4M written ($b)"; else
	notok "tmpfill: at most --tmp-size 4M written"; echo "#   bytes: ${b:-none}"; fi

# Empty files cost no bytes but an inode each (about 1 KiB of kernel memory):
# a 4 MiB /tmp must not hold 300,000 of them (300 MB).
run tmpinodes --tmp-size 4M --timeout 60s -- /probes/hostile inodes /tmp 300000
check_eq "tmpinodes: fence-run exit status" 0 "$rc"
check_eq "tmpinodes: a 4M /tmp runs out of inodes (ENOSPC)" ENOSPC "$(result "$T/tmpinodes.out" inodes)"
n=$(field "$T/tmpinodes.out" inodes files)
if [ -n "$n" ] && [ "$n" -lt 300000 ]; then ok "tmpinodes: fewer than 300000 files fit ($n)"; else
	notok "tmpinodes: fewer than 300000 files fit"; echo "#   files: ${n:-none}"; fi
run shminodes --tmp-size 4M --timeout 60s -- /probes/hostile inodes /dev/shm 300000
check_eq "shminodes: a 4M /dev/shm runs out of inodes (ENOSPC)" ENOSPC \
	"$(result "$T/shminodes.out" inodes)"
# A command that succeeds leaves a big /tmp behind: tearing it down takes
# a while, and the exit status must still be the command's.
run bigtmp --tmp-size 1G --timeout 60s -- /probes/hostile inodes /tmp 300000
check_eq "bigtmp: fence-run exits with the command's status after a slow teardown" 0 "$rc"
[ "$rc" = 0 ] || sed 's/^/#   /' "$T/bigtmp.err" | head -2

run deltafill --max-delta 1M --delta "$T/delta-fill" --timeout 60s -- \
	/probes/hostile fill output/fill 256
check_eq "deltafill: fence-run exit status" 0 "$rc"
check_eq "deltafill: delta full with ENOSPC" ENOSPC "$(result "$T/deltafill.out" fill)"
b=$(field "$T/deltafill.out" fill bytes)
if [ -n "$b" ] && [ "$b" -le 1048576 ]; then ok "deltafill: at most --max-delta 1M written ($b)"; else
	notok "deltafill: at most --max-delta 1M written"; echo "#   bytes: ${b:-none}"; fi
du=$(du -sb "$T/delta-fill" 2>/dev/null | cut -f1)
if [ -n "$du" ] && [ "$du" -le $((1048576 + 262144)) ]; then ok "deltafill: delta on disk within budget ($du)"; else
	notok "deltafill: delta on disk within budget"; echo "#   du -sb: ${du:-none}"; fi

# Metadata costs disk too: directories, empty files with xattrs, symlinks
# with long targets.  --max-delta bounds what the delta may grow by, so
# these must hit ENOSPC near the budget as well.
run metafill --max-delta 1M --delta "$T/delta-meta" --timeout 60s -- \
	/probes/hostile metafill output 1500
check_eq "metafill: fence-run exit status" 0 "$rc"
check_eq "metafill: the delta fills up with ENOSPC" ENOSPC "$(result "$T/metafill.out" metafill)"
du=$(du -sb "$T/delta-meta" 2>/dev/null | cut -f1)
if [ -n "$du" ] && [ "$du" -le $((1048576 + 262144)) ]; then ok "metafill: delta on disk within budget ($du)"; else
	notok "metafill: delta on disk within budget"
	echo "#   du -sb: ${du:-none} after $(field "$T/metafill.out" metafill entries) entries"; fi

# Sixteen threads racing every namespace operation over a dozen names for
# three seconds: the daemon must come out alive (under make check it runs
# with ASan and UBSan, which turn a memory error into a dead mount).
run churn --delta "$T/delta-churn" --timeout 60s -- /probes/hostile churn output/churn 3 16
check_eq "churn: fence-run exit status" 0 "$rc"
check_eq "churn: the daemon survived (the mount still answers)" OK "$(result "$T/churn.out" churn)"
o=$(field "$T/churn.out" churn ops)
if [ -n "$o" ] && [ "$o" -gt 1000 ]; then ok "churn: the race ran ($o operations)"; else
	notok "churn: the race ran"; echo "#   operations: ${o:-none}"; fi

# --- daemonizers --------------------------------------------------------------
# alive MARKER: host pids whose argv holds MARKER (unique to this run).
alive() { sec_pgrep "$1" | tr '\n' ' '; }
kill_marked() { local p; for p in $(sec_pgrep "$1"); do kill -9 "$p"; done; }

mark=fence-daemonize-exit-$$-$RANDOM
at_exit "kill_marked $mark"
run daemon-exit --timeout 20s -- /probes/hostile daemonize "$mark" exit
check_eq "daemonize (command exits): fence-run exit status" 0 "$rc"
check "daemonize (command exits): the daemonizer ran" grep -q '^daemonize OK' "$T/daemon-exit.out"
sleep 1
check_eq "daemonize (command exits): no process of it on the host 1 s later" "" "$(alive "$mark")"

mark=fence-daemonize-stay-$$-$RANDOM
at_exit "kill_marked $mark"
run daemon-stay --timeout 2s -- /probes/hostile daemonize "$mark" stay
check_eq "daemonize (timeout): fence-run exits 124" 124 "$rc"
check_eq "daemonize (timeout): result says timed_out" true "$(json "$T/daemon-stay.result" timed_out)"
check "daemonize (timeout): the daemonizer ran" grep -q '^daemonize OK' "$T/daemon-stay.out"
sleep 1
check_eq "daemonize (timeout): no process of it on the host 1 s later" "" "$(alive "$mark")"

sec_scan "resources: no canary in any output or delta" "$T"/*.out "$T"/*.err "$T"/*.result \
	"$T/delta-fill" "$T/delta-meta" "$T/delta-churn"
check_eq "resources: source tree unchanged" "$before" "$(sec_tree_sum "$CODE")"
