#!/bin/bash
# escape.sh - the escape suite (issue 6, item 1): hostile probes inside
# `fence-run --preset agent-safe` on a codebase full of canaries.
#
# escape_fs attacks through paths, names, metadata and writes; escape_proc
# through the process interface (signals, ptrace, namespaces, mounts,
# blocked syscalls, /proc, ioctls, setuid).  Every vector must give the
# result in escape_fs.expect / escape_proc.expect, and afterwards no canary
# (nor half of one) may appear in stdout, stderr, the audit log, the result
# JSON or the delta; the source must be unchanged; the delta must hold no
# forged overlay marker, which `mount -t overlay` over source+delta checks.
#
# The runs, in order: escape_fs (all groups) with a kept delta, then the
# host tools (diff, commit) over that hostile delta; the same probe with
# --apply on a copy (only output/ and tmp/ may change); escape_fs levels
# under a view/pass-through policy (escape_levels.expect); escape_fs swap
# while the host swaps source directories for symlinks (escape_swap.expect);
# escape_proc with the host pids of fence-run and its daemon.
# escape_fdcache.sh runs all of it again with --fd-cache 16 (lib.sh).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
sec_need_fencerun

CODE=$T/code
sec_canary_tree "$CODE"
# Secret names that are not valid UTF-8 (a pattern matcher in UTF mode may
# fail on them and fall through to the readable default).
for f in $'keys/\xff\xfe.pem' $'.env.\xff' $'id_rsa\xff' $'deep/\xff/.env' $'x\xff/secrets/f'; do
	sec_add_canary "$CODE/$f"
done
# Special files in the source: a host service's unix socket and a device
# node (the host's /dev/zero, 1:5).
mkdir -p "$CODE/run"
mknod "$CODE/run/zero-node" c 1 5
python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(8); time.sleep(300)' \
	"$CODE/run/host.sock" &
at_exit "kill $!"
for _ in $(seq 1 30); do [ -S "$CODE/run/host.sock" ] && break; sleep 0.1; done
before=$(sec_tree_sum "$CODE")

# A host file that symlinks made in the delta will point at (as root, the
# daemon could change it if it followed them).
echo victim >"$T/victim.txt"
chmod 0600 "$T/victim.txt"
setfattr -n user.keep -v 1 "$T/victim.txt"
touch -d '2001-02-03 04:05:06' "$T/victim.txt"
victim() { stat -c '%a %u %g %s %Y %X' "$T/victim.txt"; getfattr -d --absolute-names "$T/victim.txt"; }
victim_before=$(victim)

# --- filesystem vectors ------------------------------------------------------
timeout -k 5 120 "$FENCERUN" --codebase "$CODE" --preset agent-safe --delta "$T/delta-fs" \
	--audit "$T/fs.audit" --result "$T/fs.result" --timeout 60s \
	--bind-ro "$SECPROBES:/probes" -- \
	/probes/escape_fs --host-root "$T" --host-src "$CODE" --host-delta "$T/delta-fs" \
	--host-file "$T/outside/secret.txt" --host-victim "$T/victim.txt" all \
	>"$T/fs.out" 2>"$T/fs.err"
check_eq "escape_fs: fence-run exits with the probe's status" 0 "$?"
sec_expect escape_fs "$HERE/escape_fs.expect" "$T/fs.out"
sec_scan "escape_fs: no canary in stdout or stderr" "$T/fs.out" "$T/fs.err"
sec_scan "escape_fs: no canary in the audit log or the result" "$T/fs.audit" "$T/fs.result"
sec_scan "escape_fs: no canary in the delta (contents, names, xattrs)" "$T/delta-fs"
sec_audit_valid "escape_fs: audit log stays valid JSON Lines under hostile names" "$T/fs.audit"

# The refusals were logged, hostile names included (docs/SPEC.md 8: every refused op).
python3 - "$T/fs.audit" >"$T/fs.audit.check" 2>&1 <<'EOF'
import json, sys
evs = []
for raw in open(sys.argv[1], 'rb'):
    try: evs.append(json.loads(raw))
    except Exception: pass
deny = [e for e in evs if e.get('event') == 'deny']
paths = [str(e.get('path', '')) for e in deny]
print('deny-env', any(p.endswith('.env') for p in paths))
print('deny-newline', any('nl\n' in p for p in paths))
print('deny-injection', any('"event":"fake"' in p for p in paths))
print('write-output', any(e.get('event') == 'write' and 'output/' in str(e.get('path', ''))
                          for e in evs))
# docs/SPEC.md 8: every refused operation, also those the kernel could refuse from
# the level-derived mode bits (a create in read-level src/).
print('deny-create-in-read-level', any(p.endswith('src/new.c') for p in paths))
# The probe is the only process in the sandbox: every event is its own.
ops = [e for e in evs if e.get('event') in ('deny', 'write')]
print('comm-is-the-probe', bool(ops) and all(e.get('comm') == 'escape_fs' for e in ops))
EOF
for k in deny-env deny-newline deny-injection write-output deny-create-in-read-level \
	comm-is-the-probe; do
	check_eq "escape_fs: audit log: $k" "$k True" "$(grep "^$k " "$T/fs.audit.check")"
done

# No forged whiteout or opaque marker: the only whiteouts are the two files
# the probe really deleted, and no overlay xattr was set from inside.
if [ -d "$T/delta-fs/upper" ]; then
	wh=$(cd "$T/delta-fs/upper" && find . -type c | sort | tr '\n' ' ')
	check_eq "escape_fs: delta whiteouts are only the real deletions" \
		"./output/keep.txt ./output/sub/visible.txt " "$wh"
	ov=$(getfattr -R -h -m '^(trusted|user)\.overlay\.' --absolute-names "$T/delta-fs/upper" \
		2>/dev/null | grep -c '^# file:' || true)
	check_eq "escape_fs: no overlay xattr in the delta" 0 "$ov"
	# What overlayfs makes of source+delta: every secret is still there.
	mkdir -p "$T/ov" "$T/ovwork"
	if mount -t overlay overlay -o "ro,lowerdir=$CODE,upperdir=$T/delta-fs/upper,workdir=$T/delta-fs/work" \
		"$T/ov" 2>"$T/ov.err"; then
		lost=""
		for f in .env a/b/.env.local config/secrets/db.txt keys/server.pem deep/x/y/z/id_rsa \
			.aws/credentials output/.env output/sub/.env output/only/id_rsa src/main.c; do
			cmp -s "$CODE/$f" "$T/ov/$f" || lost+="$f "
		done
		check_eq "escape_fs: overlay view of source+delta keeps every secret and src/main.c" "" "$lost"
		umount "$T/ov"
	else
		notok "escape_fs: overlay view of source+delta keeps every secret and src/main.c"
		echo "#   mount -t overlay failed: $(cat "$T/ov.err")"
	fi
else
	notok "escape_fs: the delta has an upper/ directory (delta_format.h)"
fi
check_eq "escape_fs: source tree unchanged" "$before" "$(sec_tree_sum "$CODE")"
check_eq "escape_fs: the host file behind the delta's symlinks is untouched" "$victim_before" \
	"$(victim)"

# The host-side tools read what the sandbox wrote: they must not hang on its
# FIFO, follow its symlinks to the host, or print a canary.
for args in "diff" "diff --json" "diff --patch" "commit --dry-run"; do
	timeout 20 "$FENCEFS" $args "$T/delta-fs" >"$T/tool.out" 2>&1
	rc=$?
	if [ "$rc" = 124 ]; then notok "fencefs $args on the hostile delta returns"; else
		ok "fencefs $args on the hostile delta returns (exit $rc)"; fi
	sec_scan "fencefs $args on the hostile delta prints no canary" "$T/tool.out"
done
cp -a "$CODE" "$T/commit-copy"
timeout 30 "$FENCEFS" commit --force "$T/delta-fs" "$T/commit-copy" >"$T/commit.out" 2>&1
check "fencefs commit of the hostile delta returns" test "$?" != 124
lost=""
for f in .env a/b/.env.local config/secrets/db.txt keys/server.pem deep/x/y/z/id_rsa \
	.aws/credentials output/.env output/sub/.env output/only/id_rsa src/main.c; do
	cmp -s "$CODE/$f" "$T/commit-copy/$f" || lost+="$f "
done
check_eq "fencefs commit of the hostile delta keeps every secret and src/main.c" "" "$lost"
check_eq "fencefs commit of the hostile delta leaves the host file alone" "$victim_before" "$(victim)"
sec_scan "fencefs commit of the hostile delta prints no canary" "$T/commit.out"
check_eq "fencefs commit of the hostile delta: source tree unchanged" "$before" \
	"$(sec_tree_sum "$CODE")"

# --- the same attacks with --apply: what lands in the codebase ------------------
# fence-run commits the delta itself after exit 0; only output/ and tmp/
# (the writable paths) may change, and no secret may move or go.
rest_sum() {
	(cd "$1" && find . -mindepth 1 \( -path ./output -o -path ./tmp \) -prune -o \
		-printf '%p %y %m %s %T@ %l\n' | sort &&
		find . \( -path ./output -o -path ./tmp \) -prune -o -type f -print0 | sort -z |
		xargs -0r sha256sum) | sha256sum | cut -d' ' -f1
}
cp -a "$CODE" "$T/applied"
rest_before=$(rest_sum "$T/applied")
timeout -k 5 120 "$FENCERUN" --codebase "$T/applied" --preset agent-safe --apply --timeout 60s \
	--bind-ro "$SECPROBES:/probes" -- \
	/probes/escape_fs --host-root "$T" --host-src "$T/applied" --host-file "$T/outside/secret.txt" \
	--host-victim "$T/victim.txt" all >"$T/apply.out" 2>"$T/apply.err"
rc=$?
# The probe leaves a FIFO in output/, which commit refuses (a special file):
# 125 with the report and the delta kept is the honest answer, 0 if not.
kept=$(sed -n "s/.*the delta is kept in '\(.*\)'$/\1/p" "$T/apply.err")
[ -n "$kept" ] && at_exit "$FENCEFS discard '$kept'"
check "apply: fence-run exits 0, or 125 naming what --apply refused (exit $rc)" \
	bash -c "[ $rc = 0 ] || { [ $rc = 125 ] && grep -q 'fence-run: --apply' '$T/apply.err'; }"
check_eq "apply: nothing outside output/ and tmp/ changed" "$rest_before" "$(rest_sum "$T/applied")"
lost=""
for f in output/.env output/sub/.env output/only/id_rsa; do
	cmp -s "$CODE/$f" "$T/applied/$f" || lost+="$f "
done
check_eq "apply: the secrets inside output/ are still there, unchanged" "" "$lost"
check_eq "apply: the host file behind the delta's symlinks is untouched" "$victim_before" "$(victim)"
check "apply: the writable place got the probe's files" test -f "$T/applied/output/victim"
sec_scan "apply: no canary in the output" "$T/apply.out" "$T/apply.err"

# --- view level and pass-through directory ------------------------------------
# The contents of a view file are as secret as a hidden file's.
sec_add_canary "$CODE/docs/manual.txt"
printf '#!/bin/sh\necho ran\n' >"$CODE/docs/run.sh"
chmod 0755 "$CODE/docs/run.sh"
sec_add_canary "$CODE/vault/private.key"
sec_add_canary "$CODE/vault/sub/deep.txt"
echo 'public key' >"$CODE/vault/public.key"
before=$(sec_tree_sum "$CODE")
printf '[policy]\ndescription = escape suite: view and pass-through\n[rules]\nread = **\nview = docs/\nnone = vault/\nread = /vault/public.key\nwrite = /output/\n' \
	>"$T/levels.ini"
timeout -k 5 120 "$FENCERUN" --codebase "$CODE" --policy "$T/levels.ini" --delta "$T/delta-levels" \
	--audit "$T/levels.audit" --result "$T/levels.result" --timeout 60s \
	--bind-ro "$SECPROBES:/probes" -- /probes/escape_fs levels >"$T/levels.out" 2>"$T/levels.err"
check_eq "escape_levels: fence-run exits with the probe's status" 0 "$?"
sec_expect escape_levels "$HERE/escape_levels.expect" "$T/levels.out"
sec_scan "escape_levels: no canary anywhere" "$T/levels.out" "$T/levels.err" "$T/levels.audit" \
	"$T/levels.result" "$T/delta-levels"
sec_audit_valid "escape_levels: audit log is valid JSON Lines" "$T/levels.audit"
check_eq "escape_levels: source tree unchanged" "$before" "$(sec_tree_sum "$CODE")"

# --- source directories swapped for symlinks while the sandbox runs --------------
mkdir -p "$CODE/early" "$CODE/late" "$T/swapctl"
echo early >"$CODE/early/file.txt"
echo late >"$CODE/late/file.txt"
"$FENCERUN" --codebase "$CODE" --preset agent-safe --timeout 60s \
	--bind-ro "$SECPROBES:/probes" --bind-ro "$T/swapctl:/ctl" -- /probes/escape_fs swap \
	>"$T/swap.out" 2>"$T/swap.err" &
fr=$!
at_exit "kill -9 $fr"
for _ in $(seq 1 100); do grep -q '^swap:ready' "$T/swap.out" && break; sleep 0.1; done
mv "$CODE/early" "$T/early.old" && ln -s "$T/outside" "$CODE/early"
mv "$CODE/late" "$T/late.old" && ln -s "$T/outside" "$CODE/late"
touch "$T/swapctl/swapped"
wait "$fr"
check_eq "escape_swap: fence-run exits with the probe's status" 0 "$?"
sec_expect escape_swap "$HERE/escape_swap.expect" "$T/swap.out"
sec_scan "escape_swap: no canary anywhere" "$T/swap.out" "$T/swap.err"
rm "$CODE/early" "$CODE/late"
mv "$T/early.old" "$CODE/early" && mv "$T/late.old" "$CODE/late"
rm -rf "$CODE/early" "$CODE/late"
check_eq "escape_swap: source tree unchanged" "$before" "$(sec_tree_sum "$CODE")"

# --- process vectors ---------------------------------------------------------
mkdir -p "$T/ctl" "$T/suid"
cp "$SECPROBES/escape_proc" "$T/suid/escape_proc_suid"
chown 0:0 "$T/suid/escape_proc_suid"
chmod 4755 "$T/suid/escape_proc_suid"
# An abstract unix socket in the host's network namespace (no file to bind):
# reachable from here, not from the sandbox's own namespace.
abstract=fence-escape-$$-$RANDOM
python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind("\0" + sys.argv[1]); s.listen(8); time.sleep(300)' \
	"$abstract" &
listener=$!
at_exit "kill $listener"
sleep 0.3
check "escape_proc: the host's abstract socket answers on the host" python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect("\0" + sys.argv[1])' "$abstract"
# Issue 15 item 1: a host canary in every path and rule on fence-run's
# command line (codebase, delta, audit, result, --rule), in its environment,
# its working directory and the name it is started by; the probe looks for
# it in /proc/1/* and /proc/self/* (mount tables and cgroup paths too).  The
# --bind-ro sources stay canary-free: a bind mount's source path always
# shows in mountinfo (SECURITY.md).
hc=HOSTCNRY$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
HC=$T/$hc
mkdir -p "$HC"
printf '%s\n%s\n%s\n' "$hc" "${hc:8:10}" "${hc:12}" >"$T/ctl/canaries"
mv "$CODE" "$HC/code"
CODE=$HC/code
ln -s "$(readlink -f "$FENCERUN")" "$HC/fence-run-$hc"
(cd "$HC" && exec env "FENCE_HOST_CANARY=$hc" "HOME=$HC" "$HC/fence-run-$hc" --codebase "$CODE" \
	--preset agent-safe --rule "none=/$hc/" --rule "none=*.$hc" --delta "$HC/delta-proc" \
	--audit "$HC/proc.audit" --result "$HC/proc.result" --timeout 60s \
	--bind-ro "$SECPROBES:/probes" --bind-ro "$T/ctl:/ctl" --bind-ro "$T/suid:/suid" -- \
	/probes/escape_proc --pids /ctl/pids --suid /suid/escape_proc_suid --abstract "$abstract" \
	--host-canaries /ctl/canaries --wait 20 \
	>"$T/proc.out" 2>"$T/proc.err") &
fr=$!
at_exit "kill -9 $fr"
# The probe waits for the host pids of fence-run and its daemon.
daemon=""
for _ in $(seq 1 100); do
	daemon=$(sec_daemon_pids "$fr")
	[ -n "$daemon" ] && [ -s "$T/proc.out" ] && break
	kill -0 "$fr" 2>/dev/null || break
	sleep 0.1
done
sec_fence_pids "$fr" >"$T/ctl/pids.tmp"
mv "$T/ctl/pids.tmp" "$T/ctl/pids"
if [ -n "$daemon" ]; then ok "escape_proc: found the daemon's host pid ($daemon)"; else
	notok "escape_proc: found the daemon's host pid"; echo "#   pids: $(tr '\n' ' ' <"$T/ctl/pids")"
fi
[ -n "$daemon" ] && sec_fd_cache_check "escape_proc: the daemon runs with --fd-cache ${FENCE_SEC_FD_CACHE:-}" \
	"$(echo "$daemon" | head -1)"
wait "$fr"
check_eq "escape_proc: fence-run exits with the probe's status" 0 "$?"
sec_expect escape_proc "$HERE/escape_proc.expect" "$T/proc.out"
sec_scan "escape_proc: no canary anywhere" "$T/proc.out" "$T/proc.err" "$HC/proc.audit" \
	"$HC/proc.result" "$HC/delta-proc"
check_eq "escape_proc: no host canary in the probe's output" "" \
	"$(grep -a -o -F -f "$T/ctl/canaries" "$T/proc.out" "$T/proc.err" | head -3 | tr '\n' ' ')"
check "escape_proc: the host canary really was on fence-run's command line (audit start)" \
	grep -q -F "$hc" "$HC/proc.audit"
sec_audit_valid "escape_proc: audit log is valid JSON Lines" "$HC/proc.audit"
if [ -n "$daemon" ]; then
	check "escape_proc: the daemon survived the attacks until the end" \
		grep -q "^kill-SIGKILL:daemon ESRCH" "$T/proc.out"
fi
check_eq "escape_proc: source tree unchanged" "$before" "$(sec_tree_sum "$CODE")"
