#!/bin/bash
# rootless.sh - the filesystem escape vectors again, with fence-run run by
# an ordinary user (issue 4 item 3): the daemon is then unprivileged and
# the delta's markers live in the user.overlay.* namespace (docs/SPEC.md 6), the
# very namespace the sandbox can name in setxattr, so forging them is the
# attack that matters here.  Same probe, same expectations, same canary,
# delta and source checks as escape.sh.
#
# /dev/fuse is made 0666 for the length of the script (as most
# distributions ship it) and --unsafe-no-cgroup is given (an ordinary user
# cannot create cgroups on this machine).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
sec_need_fencerun
command -v setpriv >/dev/null || skip_all "setpriv is missing (util-linux)"

mode=$(stat -c %a /dev/fuse)
at_exit "chmod $mode /dev/fuse"
chmod 0666 /dev/fuse
# $T is 0700 and root's: the user gets a world-searchable directory of its own.
RL=$(mktemp -d /tmp/fence-srl.XXXXXX)
at_exit "rm -rf '$RL'"
chmod 0755 "$RL"
CODE=$RL/code
sec_canary_tree "$CODE"
# The daemon runs as the user: it must be able to read the source.
chmod -R a+rX "$CODE"
mkdir -p "$RL/out" "$RL/tmp"
# The probe, where the user can read it and outside what mountinfo is
# searched for (a --bind-ro shows its host path, by design).
PR=$(mktemp -d /tmp/fence-srp.XXXXXX)
at_exit "rm -rf '$PR'"
chmod 0755 "$PR"
cp "$SECPROBES/escape_fs" "$PR/"
chown -R 65534:65534 "$RL/out" "$RL/tmp"
before=$(sec_tree_sum "$CODE")
timeout -k 5 120 setpriv --reuid=65534 --regid=65534 --clear-groups env TMPDIR="$RL/tmp" \
	"$FENCERUN" --unsafe-no-cgroup --codebase "$CODE" --preset agent-safe \
	--delta "$RL/out/delta" --audit "$RL/out/audit" --result "$RL/out/result" --timeout 60s \
	--bind-ro "$PR:/probes" -- \
	/probes/escape_fs --host-root "$RL" --host-src "$CODE" --host-delta "$RL/out/delta" \
	--host-file "$T/outside/secret.txt" all >"$RL/out/fs.out" 2>"$RL/out/fs.err"
rc=$?
check_eq "rootless escape_fs: fence-run exits with the probe's status" 0 "$rc"
[ "$rc" = 0 ] || sed 's/^/#   /' "$RL/out/fs.err" | head -5
sec_expect rootless "$HERE/escape_fs.expect" "$RL/out/fs.out"
sec_scan "rootless escape_fs: no canary anywhere" "$RL/out"
sec_audit_valid "rootless escape_fs: audit log is valid JSON Lines" "$RL/out/audit"

check_eq "rootless: the delta uses the user.* namespace" '"xattr_ns":"user"' \
	"$(grep -o '"xattr_ns":"[a-z]*"' "$RL/out/delta/fencefs-delta.json" 2>/dev/null)"
if [ -d "$RL/out/delta/upper" ]; then
	wh=$(cd "$RL/out/delta/upper" && find . -type c | sort | tr '\n' ' ')
	check_eq "rootless: delta whiteouts are only the real deletions" \
		"./output/keep.txt ./output/sub/visible.txt " "$wh"
	ov=$(getfattr -R -h -m '^(trusted|user)\.overlay\.' --absolute-names "$RL/out/delta/upper" \
		2>/dev/null | grep -c '^# file:' || true)
	check_eq "rootless: no overlay xattr in the delta" 0 "$ov"
	mkdir -p "$RL/ov"
	if mount -t overlay overlay -o "ro,userxattr,lowerdir=$CODE,upperdir=$RL/out/delta/upper,workdir=$RL/out/delta/work" \
		"$RL/ov" 2>"$RL/ov.err"; then
		at_exit "umount -l $RL/ov"
		lost=""
		for f in .env a/b/.env.local config/secrets/db.txt keys/server.pem deep/x/y/z/id_rsa \
			.aws/credentials output/.env output/sub/.env output/only/id_rsa src/main.c; do
			cmp -s "$CODE/$f" "$RL/ov/$f" || lost+="$f "
		done
		check_eq "rootless: overlay view of source+delta keeps every secret and src/main.c" "" "$lost"
		umount "$RL/ov"
	else
		notok "rootless: overlay view of source+delta keeps every secret and src/main.c"
		echo "#   mount -t overlay failed: $(cat "$RL/ov.err")"
	fi
else
	notok "rootless: the delta has an upper/ directory"
fi
check_eq "rootless: source tree unchanged" "$before" "$(sec_tree_sum "$CODE")"
