#!/bin/bash
# run_rootless.sh - fence-run as an ordinary user (issue 4 item 3): user
# namespaces and rootless FUSE, with /dev/fuse made usable for the length
# of this script (most distributions ship it 0666) and --unsafe-no-cgroup
# (an ordinary user cannot create cgroups here); also the 125 messages
# that say what is missing and how to fix it.
. "$(dirname "$0")/lib.sh"
need_root
need_fuse
[ -x "$FENCERUN" ] || skip_all "fence-run is not built ($FENCERUN)"
command -v setpriv >/dev/null || skip_all "setpriv is missing (util-linux)"

mode=$(stat -c %a /dev/fuse)
at_exit "chmod $mode /dev/fuse"
chmod 0666 /dev/fuse
RL=$(mktemp -d /tmp/fence-rl.XXXXXX)
at_exit "rm -rf '$RL'"
chmod 0755 "$RL"
mkdir -p "$RL/proj/src" "$RL/proj/output" "$RL/out" "$RL/tmp"
echo 'SECRET=1' >"$RL/proj/.env"
echo 'int x;' >"$RL/proj/src/a.c"
chown -R 65534:65534 "$RL/out" "$RL/tmp"
before=$(cd "$RL/proj" && find . -printf '%p %m %s\n' | sort | sha256sum)
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups env TMPDIR="$RL/tmp" "$@"; }
fr() { as_nobody "$FENCERUN" --unsafe-no-cgroup --codebase "$RL/proj" "$@"; }

check_eq "rootless: runs, as the calling user" "65534 65534" "$(fr -- sh -c 'echo $(id -u) $(id -g)')"
fr -- sh -c 'exit 3'; check_eq "rootless: exit status passes through" 3 $?
fr --timeout 0.5 -- sleep 10 2>/dev/null; check_eq "rootless: timeout gives 124" 124 $?
fr -- nosuchcmd 2>/dev/null; check_eq "rootless: 127" 127 $?
fr --delta "$RL/out/d" -- sh -c 'ls -a; cat .env; echo hi > output/x; echo no > src/y' >"$RL/out/ex" 2>"$RL/out/ex.err"
check_eq "rootless example: exits with the last command's status" 2 $?
check "rootless example: no secret listed" bash -c "! grep -qx .env '$RL/out/ex'"
check "rootless example: cannot read .env" grep -q 'cat: .env: No such file' "$RL/out/ex.err"
check_eq "rootless example: output/x in the delta" hi "$(cat "$RL/out/d/upper/output/x" 2>/dev/null)"
check "rootless example: Permission denied for src/y" grep -q 'src/y: Permission denied' "$RL/out/ex.err"
check_eq "rootless example: codebase unchanged" "$before" "$(cd "$RL/proj" && find . -printf '%p %m %s\n' | sort | sha256sum)"
if [ -x "$PROBES/sysprobe" ]; then
	fr --bind-ro "$PROBES:/probes" -- /probes/sysprobe status fds mount unshare:newuser clone:newuser x32:getpid >"$RL/out/sp"
	for l in "status:NoNewPrivs 1" "status:CapEff 0000000000000000" "status:CapPrm 0000000000000000" \
		"status:CapBnd 0000000000000000" "status:CapAmb 0000000000000000" "fds 0 1 2" "mount EPERM" \
		"unshare:newuser EPERM" "clone:newuser EPERM" "x32:getpid SIGSYS"; do
		check "rootless sysprobe: $l" grep -qx "$l" "$RL/out/sp"
	done
else
	notok "rootless sysprobe: the probe is built (make probes)"
fi
check "rootless: host paths stay invisible" fr -- sh -c '! test -e /root && ! test -e /work && ! test -e /home'
check_eq "rootless: the environment is clean" "HOME LANG PATH" "$(fr -- env | cut -d= -f1 | grep -v '^TERM$' | sort | tr '\n' ' ' | sed 's/ $//')"
check_eq "rootless: --result is written" 0 "$(fr --result "$RL/out/r.json" -- true; python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["exit_code"])' "$RL/out/r.json")"
check_eq "rootless: the private delta is removed" "" "$(find "$RL/tmp" -mindepth 1 -maxdepth 2 -name "*delta.*")"

made=$(fr --pids 20 -- python3 -c '
import os, sys, time
made = 0
for i in range(100):
    try:
        pid = os.fork()
    except OSError:
        continue
    if pid == 0:
        time.sleep(5)
        os._exit(0)
    made += 1
print(made)
sys.stdout.flush()
os._exit(0)')
check "rootless --unsafe-no-cgroup: --pids still holds through RLIMIT_NPROC (forked ${made:-?} of 100)" \
	test "${made:-100}" -lt 20

# --- what is missing, and how to fix it ------------------------------------------------
as_nobody "$FENCERUN" --codebase "$RL/proj" -- true 2>"$RL/out/cg.err"
check_eq "rootless without a cgroup: 125" 125 $?
check "... says what is missing and how to fix it" grep -q 'cannot set up a cgroup: .*--unsafe-no-cgroup' "$RL/out/cg.err"
as_nobody "$FENCERUN" --user nobody --codebase "$RL/proj" -- true 2>"$RL/out/u.err"
check_eq "rootless --user: 125" 125 $?
check "... says --user needs root" grep -q -- '--user needs root' "$RL/out/u.err"
chmod 0600 /dev/fuse
fr -- true 2>"$RL/out/fuse.err"
check_eq "rootless with /dev/fuse 0600: 125" 125 $?
check "... says how to make /dev/fuse usable" grep -q 'cannot open /dev/fuse: Permission denied; make it usable (chmod 0666 /dev/fuse' "$RL/out/fuse.err"
chmod 0666 /dev/fuse
