#!/bin/bash
# The audit log stays bounded and every refusal is accounted for (issue 14
# items 1 and 3): a repeated refusal of a hidden name reaches the daemon
# each time (no negative entry hides it), identical events past the rate
# limit are summed up in "suppressed" events, and past --audit-max events
# are dropped with one final "audit_truncated" while the counts stay exact.
. "$(dirname "$0")/lib.sh"
need_root
need_fuse
[ -x "$FENCEFS" ] || skip_all "fencefs not built ($FENCEFS)"
[ -x "$FENCERUN" ] || skip_all "fence-run not built ($FENCERUN)"
[ -x "$PROBES/fsprobe" ] || skip_all "fsprobe not built ($PROBES/fsprobe)"
command -v python3 >/dev/null || skip_all "needs python3"

S=$T/src M=$T/mnt
mkdir -p "$S/src" "$M"
echo secret >"$S/.env"
echo code >"$S/src/a.c"

# count LOG PYTHON-EXPR: events for which EXPR holds (e is the event); exit 3
# when a line is not a JSON object.
count() {
	python3 - "$1" "$2" <<'EOF'
import json, sys
n = 0
for line in open(sys.argv[1], encoding="utf-8", errors="strict"):
    e = json.loads(line)
    if not isinstance(e, dict):
        sys.exit(3)
    if eval(sys.argv[2]):
        n += e.get("count", 1) if e.get("event") == "suppressed" else 1
print(n)
EOF
}

# --- repeats and the rate limit, through fencefs mount --------------------
LOG=$T/repeat.log
at_exit "timeout 10 '$FENCEFS' umount '$M' 2>/dev/null"
if TMPDIR=$T timeout 20 "$FENCEFS" mount --preset agent-safe --audit "$LOG" "$S" "$M" 2>"$T/err"; then
	N=200
	for _ in $(seq $N); do cat "$M/.env" 2>/dev/null; done
	timeout 10 "$FENCEFS" umount "$M"
	deny=$(count "$LOG" 'e["event"] == "deny" and e["path"] == "/.env"')
	supp=$(count "$LOG" 'e["event"] == "suppressed" and e.get("of") == "deny" and e["path"] == "/.env"')
	check_eq "$N reads of a hidden file: $N refusals accounted for (events + suppressed counts)" \
		$N $((deny + supp))
	check "the rate limit summed most of them up ($supp in suppressed events)" test "$supp" -gt 0
	check "suppressed events give first and last times" \
		test "$(count "$LOG" 'e["event"] == "suppressed" and e["first"] <= e["last"]')" -gt 0
	lines=$(count "$LOG" 'e["event"] == "deny"')
	check "far fewer lines than refusals ($lines written)" test "$lines" -lt $((N / 2))
else
	notok "mount with --audit"; cat "$T/err"
fi

# --- every refusal that reaches the daemon is logged, once per attempt -----
# As root, who passes the level's mode bits, so that each attempt reaches the
# daemon (an unprivileged caller is refused by the kernel from the mode bits
# alone, and that is not logged: fencefs(1) AUDIT).
S2=$T/src2 M2=$T/mnt2 LOG=$T/classes.log
mkdir -p "$S2/src" "$S2/docs" "$M2"
printf '#!/bin/sh\necho ran\n' >"$S2/src/tool.sh"
echo manual >"$S2/docs/manual.txt"
echo secret >"$S2/.env"
chmod 0755 "$S2/src/tool.sh"
at_exit "timeout 10 '$FENCEFS' umount '$M2' 2>/dev/null"
if TMPDIR=$T timeout 20 "$FENCEFS" mount --rule 'read=**' --rule 'view=docs/**' --rule 'none=.env' \
	--audit "$LOG" "$S2" "$M2" 2>"$T/err2"; then
	N=5
	AP=$PROBES/fsprobe
	for _ in $(seq $N); do
		cat "$M2/docs/manual.txt" >/dev/null 2>&1
		sh -c "echo x > '$M2/src/tool.sh'" 2>/dev/null
		sh -c "echo x >> '$M2/src/tool.sh'" 2>/dev/null
		"$AP" open "$M2/src/tool.sh" rdwr,trunc >/dev/null
		"$AP" truncate "$M2/src/tool.sh" 0 >/dev/null
		setfattr -n user.x -v 1 "$M2/src/tool.sh" 2>/dev/null
		cat "$M2/.env" >/dev/null 2>&1
	done
	timeout 10 "$FENCEFS" umount "$M2"
	n_ev() { count "$LOG" "e['event'] in ('deny', 'suppressed') and e.get('path') == '$1' and ($2)"; }
	check_eq "reading a view file: $N attempts, $N events" $N "$(n_ev /docs/manual.txt True)"
	# >, >>, O_RDWR|O_TRUNC, truncate(2), setxattr: five refusals per round
	check_eq "writing a read file (>, >>, O_RDWR|O_TRUNC, truncate, setxattr): $((5 * N)) events" \
		$((5 * N)) "$(n_ev /src/tool.sh True)"
	check_eq "truncate(2) of a read file: $N events" $N "$(n_ev /src/tool.sh "e.get('op') == 'setattr'")"
	check_eq "setxattr user.* on a read file: $N events" $N \
		"$(n_ev /src/tool.sh "e.get('op') == 'setxattr'")"
	check_eq "a hidden file read again and again: $N events" $N "$(n_ev /.env True)"
	check "every refusal says EACCES or ENOENT" test "$(count "$LOG" "e['event'] == 'deny' and e['errno'] not in ('EACCES', 'ENOENT')")" = 0
	check_eq "the source is unchanged" '#!/bin/sh
echo ran' "$(cat "$S2/src/tool.sh")"
	check_eq "a view file still shows no permission bits (docs/SPEC.md 1)" 0 \
		"$(stat -c %a "$S2/docs/manual.txt" >/dev/null; TMPDIR=$T "$FENCEFS" mount --rule 'read=**' \
			--rule 'view=docs/**' --audit "$T/l2" "$S2" "$M2" && stat -c %a "$M2/docs/manual.txt";
			timeout 10 "$FENCEFS" umount "$M2")"
else
	notok "mount with --audit (classes)"; cat "$T/err2"
fi

# --- the cap, through fence-run -------------------------------------------
LOG=$T/cap.log RES=$T/result.json
N=3000
# Distinct hidden names, each refused once: nothing to rate-limit, the cap has to hold.
S3=$T/src3
mkdir -p "$S3"
for i in $(seq 0 $((N - 1))); do : >"$S3/.env.$i-padding-to-make-the-path-long-enough"; done
"$FENCERUN" --codebase "$S3" --preset agent-safe --audit "$LOG" --audit-max 64K \
	--result "$RES" -- sh -c "i=0; while [ \$i -lt $N ]; do cat .env.\$i-padding-to-make-the-path-long-enough 2>/dev/null; i=\$((i + 1)); done; exit 7" \
	>"$T/out" 2>&1
rc=$?
check_eq "the command's exit status is its own (7) despite the cap" 7 "$rc"
size=$(stat -c %s "$LOG")
check "the log stays under the cap plus its reserve ($size bytes)" test "$size" -le $((64 * 1024 + 4096))
check "the log is nearly full (more than 48K)" test "$size" -gt $((48 * 1024))
check_eq "one audit_truncated event" 1 "$(count "$LOG" 'e["event"] == "audit_truncated"')"
check_eq "the exit event is still written" 1 "$(count "$LOG" 'e["event"] == "exit"')"
denied=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["denied"])' "$RES")
check "--result's denied stays exact: at least $N ($denied)" test "$denied" -ge $N
check "the first events were kept" \
	test "$(count "$LOG" 'e["event"] == "deny" and e["path"].startswith("/.env.0-")')" -eq 1
check "every line is a JSON object" count "$LOG" 'True'
exit 0
