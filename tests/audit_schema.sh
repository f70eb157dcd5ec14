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

# --- fencefs audit: the summary ---------------------------------------------
sum=$("$FENCEFS" audit "$LOG" 2>&1)
echo "$sum" | sed 's/^/# /'
check "fencefs audit counts the refusals of .env, suppressed ones included (30)" \
	grep -qE '^ +30  /\.env  lookup none ENOENT$' <<<"$sum"
check "fencefs audit lists the program run" grep -qE '^ +1  /src/tool\.sh' <<<"$sum"
check "fencefs audit lists what was written" grep -qE '/out/new\.txt +create' <<<"$sum"
json=$("$FENCEFS" audit --json "$LOG")
check_eq "--json: denied counts every refusal" 30 \
	"$(python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["denied"])' <<<"$json")"
check_eq "--json: the top refused path" "/.env" \
	"$(python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["denied_paths"][0]["path"])' <<<"$json")"
check_eq "--json: the cut log says truncated" true \
	"$("$FENCEFS" audit --json "$CLOG" | python3 -c 'import json,sys; print(str(json.load(sys.stdin)["truncated"]).lower())')"
# A name that would steer the reviewer's terminal is quoted; --json keeps it exact.
printf '{"ts":"2026-01-01T00:00:00.000000Z","event":"deny","op":"open","path":"/a\u202eb","level":"none","errno":"ENOENT","pid":1,"comm":"c"}\n' >"$T/bidi.log"
check "a bidi override in a name is octal-quoted" grep -qF '"/a\342\200\256b"' <<<"$("$FENCEFS" audit "$T/bidi.log")"
check_eq "--json keeps the exact name" "$(printf '/a\342\200\256b')" \
	"$("$FENCEFS" audit --json "$T/bidi.log" | python3 -c 'import json,sys; sys.stdout.write(json.load(sys.stdin)["denied_paths"][0]["path"])')"
printf '{"ts":"x","event":"deny"}\nnot json\n' >"$T/broken.log"
err=$("$FENCEFS" audit "$T/broken.log" 2>&1)
rc=$?
check_eq "a line that is not an event: exit 2" 2 "$rc"
check "... naming FILE:LINE" grep -qF "$T/broken.log:2:" <<<"$err"
"$FENCEFS" audit --top 0 "$LOG" >/dev/null 2>&1
check_eq "--top 0 is refused (exit 2)" 2 $?
exit 0
