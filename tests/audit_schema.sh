#!/bin/bash
# Every audit event type (fence-audit(5)) checked against the JSON Schema
# in docs/audit.schema.json, on real events: start and exit from
# fence-run; deny, write, exec, read and lookup from a fencefs mount
# (--audit-all); suppressed from repeats; audit_truncated from a small
# --audit-max.  Also checks that the validator rejects what it should.
. "$(dirname "$0")/lib.sh"
need_root
need_fuse
[ -x "$FENCEFS" ] || skip_all "fencefs not built ($FENCEFS)"
[ -x "$FENCERUN" ] || skip_all "fence-run not built ($FENCERUN)"
command -v python3 >/dev/null || skip_all "needs python3"
SCHEMA=$FENCE_ROOT/docs/audit.schema.json
VALIDATE="python3 $FENCE_ROOT/tests/tools/audit_validate.py $SCHEMA"

S=$T/src M=$T/mnt LOG=$T/audit.log
mkdir -p "$S/src" "$S/out" "$M"
echo secret >"$S/.env"
printf '#!/bin/sh\nexit 0\n' >"$S/src/tool.sh"
chmod 0755 "$S/src/tool.sh"
echo code >"$S/src/a.c"
mkdir -p "$S/hidden"
for k in $(seq 400); do : >"$S/hidden/h-$k-with-a-long-name-to-fill-the-log.secret"; done

at_exit "timeout 10 '$FENCEFS' umount '$M' 2>/dev/null"
if TMPDIR=$T timeout 20 "$FENCEFS" mount --rule 'read=**' --rule 'write=out/**' --rule 'none=.env' \
	--rule 'none=*.secret' --audit "$LOG" --audit-all "$S" "$M" 2>"$T/err"; then
	cat "$M/src/a.c" >/dev/null                      # read, lookup
	"$M/src/tool.sh"                                 # exec
	echo x >"$M/out/new.txt"                         # write (create, write)
	mv "$M/out/new.txt" "$M/out/moved.txt"           # write with path2
	for _ in $(seq 30); do cat "$M/.env" 2>/dev/null; done   # deny, suppressed
	ls "$M/src" >/dev/null
	timeout 10 "$FENCEFS" umount "$M"
else
	notok "mount with --audit"; cat "$T/err"
fi
# audit_truncated: distinct refusals past a small cap
CLOG=$T/cap.log
if TMPDIR=$T timeout 20 "$FENCEFS" mount --rule 'read=**' --rule 'none=*.secret' \
	--audit "$CLOG" --audit-max 16K "$S" "$M" 2>"$T/err"; then
	for k in $(seq 400); do
		stat "$M/hidden/h-$k-with-a-long-name-to-fill-the-log.secret" >/dev/null 2>&1
	done
	timeout 10 "$FENCEFS" umount "$M"
else
	notok "mount with --audit-max"; cat "$T/err"
fi
RLOG=$T/run.log
"$FENCERUN" --codebase "$S" --preset agent-safe --audit "$RLOG" -- sh -c 'cat .env; exit 3' \
	>/dev/null 2>&1
out=$($VALIDATE "$LOG" "$CLOG" "$RLOG" 2>&1)
rc=$?
echo "$out" | sed 's/^/# /'
check_eq "every event is valid against docs/audit.schema.json" 0 "$rc"
for ev in start exit deny write exec read lookup suppressed audit_truncated; do
	check "a real '$ev' event was checked" grep -q "^$ev: [1-9]" <<<"$out"
done

# The validator itself: a wrong event, a missing field, an extra field.
printf '%s\n' '{"ts":"2026-01-01T00:00:00.000000Z","event":"deny","op":"open","path":"/x","level":"secret","errno":"EACCES","pid":1,"comm":"c"}' >"$T/bad1"
printf '%s\n' '{"ts":"2026-01-01T00:00:00.000000Z","event":"write","op":"create","pid":1,"comm":"c"}' >"$T/bad2"
printf '%s\n' '{"ts":"2026-01-01T00:00:00.000000Z","event":"exec","op":"open","path":"/x","pid":1,"comm":"c","extra":1}' >"$T/bad3"
printf '%s\n' '{"ts":"yesterday","event":"lookup","op":"lookup","path":"/x","pid":1,"comm":"c"}' >"$T/bad4"
for k in 1 2 3 4; do
	$VALIDATE "$T/bad$k" >/dev/null 2>&1
	check_eq "the validator rejects bad event $k" 1 $?
done
exit 0
