#!/bin/bash
# run_session.sh - long-lived sandboxes (issue 17): --name/--detach, --in with
# the one-shot exit contract and the caller's fds, --list [--json], --stop
# [--all], --pause/--resume, --ttl, --idle-timeout, the state directory and
# socket modes, SO_PEERCRED, stale state, SIGKILL of the supervisor, and
# nothing left behind (no process, no mount, no cgroup, no state).
. "$(dirname "$0")/lib.sh"
need_root
need_fuse
[ -x "$FENCERUN" ] || skip_all "fence-run is not built ($FENCERUN)"

# Every name this run uses starts with $pfx; cleanup stops only those.
pfx=ts$$r$RANDOM
mark=98$$$RANDOM # a unique sleep duration: finds our background processes on the host
P=$T/proj
mkdir -p "$P/src" "$P/output"
echo 'SECRET_TOKEN=hunter2' >"$P/.env"
echo 'hello' >"$P/src/a.txt"
sum() { (cd "$P" && find . -printf '%p %y %m %s %T@\n' | sort && find . -type f -exec cat {} +) | sha256sum; }
before=$(sum)
BASE=/run/fence-run
STATE2=$T/state2
mkdir -m 0700 "$STATE2"
_ours=()
at_exit 'for n in "${_ours[@]}"; do "$FENCERUN" --stop "$n"; done; FENCE_RUN_STATE_DIR=$STATE2 "$FENCERUN" --stop --all; kill -9 $(pids_matching "sleep $mark") 2>/dev/null'

fr() { "$FENCERUN" "$@"; }
start() { # start NAME [OPTIONS...]: --detach on the test codebase
	local n=$1; shift
	_ours+=("$n")
	fr --codebase "$P" --name "$n" --detach "$@"
}
json_field() { # json_field NAME FIELD: from --list --json
	fr --list --json 2>/dev/null | python3 -c '
import json, sys
for o in json.load(sys.stdin):
    if o["name"] == sys.argv[1]:
        print(o[sys.argv[2]])' "$1" "$2"
}
# wait_for SECONDS CMD...: until CMD succeeds, at most SECONDS.
wait_for() { local end=$((SECONDS + $1)); while :; do "${@:2}" && return 0; [ $SECONDS -ge $end ] && return 1; sleep 0.05; done; }
gone() { ! kill -0 "$1" 2>/dev/null; }
all_gone() { local p; for p in "$@"; do gone "$p" || return 1; done; }
# The sandbox's host-side processes: the supervisor, its init and daemon.
host_pids() { echo "$(json_field "$1" pid) $(json_field "$1" init_pid) $(json_field "$1" daemon_pid)"; }
no_bg() { [ -z "$(pids_matching "sleep $mark")" ]; }
has_sleep() { [ -n "$(pids_matching "sleep $1")" ]; }
no_fencefs_for() { [ -z "$(pids_matching "fencefs .*$1")" ]; }

# --- start: exit 0 once ready; modes of the state -------------------------------
S=${pfx}a
out=$(timeout 20 "$FENCERUN" --codebase "$P" --name "$S" --detach --env FROM_DETACH=yes --delta "$T/delta" --bind-ro "$PROBES:/probes")
rc=$?
_ours+=("$S")
check_eq "--detach exits 0 once ready, and its output pipe closes (no fd held)" "0:" "$rc:$out"
check_eq "the state base directory is 0700 root" "700 root" "$(stat -c '%a %U' "$BASE")"
check_eq "the sandbox's state directory is 0700 root" "700 root" "$(stat -c '%a %U' "$BASE/$S")"
check_eq "the control socket is a socket, 0600 root" "socket 600 root" "$(stat -c '%F %a %U' "$BASE/$S/control")"
check "state.json names the sandbox" grep -q "\"name\":\"$S\"" "$BASE/$S/state.json"
fr --codebase "$P" --name "$S" --detach 2>"$T/e"; rc=$?
check_eq "a taken name gives 125" 125 "$rc"
check "a taken name says so in one line" grep -q "^fence-run: a sandbox named '$S' already exists$" "$T/e"
fr --name 'bad/name' --detach 2>"$T/e"; rc=$?
check_eq "an invalid name gives 125" 125 "$rc"
check "an invalid name says what a name is" grep -q "a name is 1-64 of" "$T/e"
fr --name "$(printf 'x%.0s' {1..65})" --detach 2>/dev/null; check_eq "a 65-character name gives 125" 125 $?
fr --in "${pfx}none" -- true 2>"$T/e"; rc=$?
check_eq "--in an unknown sandbox gives 125" 125 "$rc"
check "--in an unknown sandbox says so" grep -q "no running sandbox named '${pfx}none'" "$T/e"
fr --in "$S" --memory 1G -- true 2>"$T/e"; rc=$?
check_eq "a sandbox option given to --in gives 125" 125 "$rc"
fr --codebase "$P" --name "${pfx}bad" --detach --policy /nonexistent.ini 2>"$T/e"; rc=$?
check_eq "a setup failure under --detach gives 125" 125 "$rc"
check "a setup failure names the policy file" grep -q "nonexistent.ini" "$T/e"
check "a failed --detach leaves no state" test ! -e "$BASE/${pfx}bad"
fr --codebase "$P" --name "${pfx}bad" --detach --delta "$T/delta" 2>"$T/e"; rc=$?
check_eq "--detach on a delta a live sandbox holds gives 125" 125 "$rc"
check "... with the daemon's own reason (not 'see above' of a log that is gone)" grep -q "delta '$T/delta' is in use" "$T/e"
fr --codebase "$P" --name "${pfx}bad" --detach --timeout 5 2>/dev/null; check_eq "--timeout with --detach gives 125 (it is per command)" 125 $?

# --- --in: the exit contract and the caller's fds ------------------------------------
inS() { fr --in "$S" "$@"; }
inS -- true; check_eq "--in: exit 0" 0 $?
inS -- sh -c 'exit 3'; check_eq "--in: exit 3 is passed through" 3 $?
inS -- sh -c 'kill -9 $$'; check_eq "--in: SIGKILL gives 137" 137 $?
inS -- sh -c 'kill -TERM $$'; check_eq "--in: SIGTERM gives 143" 143 $?
inS -- nosuchcommand-xyz 2>"$T/e"; check_eq "--in: a command not found gives 127" 127 $?
check "--in: 127 says why" grep -q "cannot execute 'nosuchcommand-xyz': No such file" "$T/e"
inS -- /etc/passwd 2>/dev/null; check_eq "--in: a non-executable gives 126" 126 $?
t0=$(date +%s%N)
inS --timeout 0.5 -- sh -c "sleep $mark" 2>"$T/e"; rc=$?
t1=$(date +%s%N)
check_eq "--in --timeout gives 124" 124 "$rc"
check "--in --timeout kills within 3 s" test $(((t1 - t0) / 1000000)) -lt 3000
check "--in --timeout says so" grep -q "timed out after 0.5 s" "$T/e"
wait_for 3 no_bg
check "--in --timeout killed the command's processes" no_bg
inS -- true; check_eq "the sandbox lives on after a command's timeout" 0 $?
out=$(echo piped-in | inS -- cat); check_eq "--in: stdin is the caller's" piped-in "$out"
inS -- sh -c 'echo to-out; echo to-err >&2' >"$T/o" 2>"$T/e2"
check_eq "--in: stdout is the caller's" to-out "$(cat "$T/o")"
check_eq "--in: stderr is the caller's" to-err "$(cat "$T/e2")"
check_eq "--in: uid nobody, in /workspace" "65534 /workspace" "$(inS -- sh -c 'echo $(id -u) $PWD')"
check_eq "--in --workdir" /workspace/src "$(inS --workdir src -- pwd)"
inS --workdir ../.. -- true 2>/dev/null; check_eq "--in --workdir escaping /workspace gives 125" 125 $?
check_eq "--in --env adds to the sandbox's environment (--detach --env kept)" "bar yes" \
	"$(inS --env FOO=bar -- sh -c 'echo $FOO $FROM_DETACH')"
export HOST_ONLY_VAR=leak
check_eq "--in: the caller's environment does not leak in" "" "$(inS -- sh -c 'echo ${HOST_ONLY_VAR:-}')"
check_eq "--in --env-pass passes one variable" leak "$(inS --env-pass HOST_ONLY_VAR -- sh -c 'echo $HOST_ONLY_VAR')"
unset HOST_ONLY_VAR
inS -- cat .env >/dev/null 2>&1; check "--in: secrets stay hidden" test $? -ne 0
check_eq "--in: the codebase is readable" hello "$(inS -- cat src/a.txt)"
/usr/bin/python3 -c 'import os, sys; fd = os.open("/", os.O_RDONLY); os.dup2(fd, 0); os.execv(sys.argv[1], sys.argv[1:])' \
	"$FENCERUN" --in "$S" -- true 2>"$T/e"; rc=$?
check_eq "--in with a directory as stdin gives 125" 125 "$rc"
check "--in with a directory as stdin says why" grep -q "directory or O_PATH" "$T/e"
inS --result "$T/r.json" -- sh -c 'exit 5'
check_eq "--in --result: one JSON object with the status" "5 False" \
	"$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["exit_code"], r["timed_out"])' "$T/r.json")"

# --- every command gets the one-shot command's confinement ------------------------------
if [ -x "$PROBES/sysprobe" ]; then
	inS -- /probes/sysprobe status fds mount unshare:newuser clone:newuser x32:getpid ptrace >"$T/sp" 2>&1
	for l in "status:NoNewPrivs 1" "status:CapEff 0000000000000000" "status:CapPrm 0000000000000000" \
		"status:CapBnd 0000000000000000" "status:CapAmb 0000000000000000" "fds 0 1 2" "mount EPERM" \
		"unshare:newuser EPERM" "clone:newuser EPERM" "x32:getpid SIGSYS"; do
		check "--in sysprobe: $l" grep -qx "$l" "$T/sp"
	done
else
	notok "--in sysprobe: the probe is built (make probes)"
fi
read -r cpid csid cpgid <<<"$(inS -- sh -c 'echo $$ $(ps -o sid= -o pgid= -p $$)')"
check "--in: the command leads its own session and process group ($cpid $csid $cpgid)" test -n "$cpid" -a "$cpid" = "$csid" -a "$cpid" = "$cpgid"

# --- --tty: a pty for the command, its window size, SIGWINCH, ^C ---------------------------
cat >"$T/ttyh.py" <<'PY'
import os, pty, sys, time, struct, fcntl, termios, select, signal
# ttyh.py KEYS ARGV...: runs ARGV on a new pty (30x100); once it printed
# READY, types KEYS ("-" for none), resizes to 40x120 and sends SIGWINCH.
master, slave = pty.openpty()
fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
pid = os.fork()
if pid == 0:
    os.setsid()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for i in range(3):
        os.dup2(slave, i)
    os.execv(sys.argv[2], sys.argv[2:])
os.close(slave)
out, sent, t0 = b"", False, time.time()
while time.time() - t0 < 10:
    r, _, _ = select.select([master], [], [], 0.1)
    if r:
        try:
            d = os.read(master, 4096)
        except OSError:
            break
        if not d:
            break
        out += d
    if b"READY" in out and not sent:
        sent = True
        if sys.argv[1] != "-":
            os.write(master, sys.argv[1].encode().decode("unicode_escape").encode())
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        os.kill(pid, signal.SIGWINCH)
_, st = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace").replace("\r", ""))
print("STATUS", os.waitstatus_to_exitcode(st))
PY
python3 "$T/ttyh.py" - "$FENCERUN" --in "$S" --tty -- sh -c 'test -t 0 && test -t 1 && echo is-a-tty; stty size; trap "stty size; exit 7" WINCH; echo READY; while :; do sleep 0.05; done' >"$T/tty1" 2>&1
check "--tty: the command's stdin and stdout are a terminal" grep -qx is-a-tty "$T/tty1"
check "--tty: the caller's window size (30 100)" grep -qx "30 100" "$T/tty1"
check "--tty: SIGWINCH carries the new size (40 120)" grep -qx "40 120" "$T/tty1"
check "--tty: the command's status passes through" grep -qx "STATUS 7" "$T/tty1"
python3 "$T/ttyh.py" '\x03' "$FENCERUN" --in "$S" --tty -- sh -c 'echo READY; exec sleep 100' >"$T/tty2" 2>&1
check "--tty: ^C typed at the caller's terminal interrupts the command (130)" grep -q "STATUS 130$" "$T/tty2"
grep -q "STATUS 130$" "$T/tty2" || sed 's/^/#   /' "$T/tty2"
# Ten times: a command that closes its fds before it exits (cat) must not
# die of the hang-up of a master closed too early (it did, one run in three).
good=0
for i in 1 2 3 4 5 6 7 8 9 10; do
	[ "$(echo hi | timeout 10 "$FENCERUN" --in "$S" --tty -- cat | tr -d '\r' | tr '\n' ' '; echo ${PIPESTATUS[1]})" = "hi hi 0" ] && good=$((good + 1))
done
check_eq "--tty with a piped stdin: echo and output, then end of file, exit 0 (10 runs)" 10 "$good"
check_eq "--tty: the caller's terminal is not the command's" "" "$(inS -- sh -c 'test -t 0 && echo tty' </dev/null)"

# --- state between commands ---------------------------------------------------------
inS -- sh -c 'echo kept > output/x; echo t > /tmp/t'
check_eq "writes to /workspace persist between --in calls" kept "$(inS -- cat output/x)"
check_eq "/tmp persists between --in calls" t "$(inS -- cat /tmp/t)"
inS -- sh -c "sleep $mark >/dev/null 2>&1 & echo \$! > /tmp/bg.pid"
check_eq "--in returns while its background job runs" 0 $?
check "a background process survives between --in calls" inS -- sh -c 'kill -0 $(cat /tmp/bg.pid)'
check "the background process is visible on the host" test -n "$(pids_matching "sleep $mark")"
check_eq "pid 1 inside is fence-init" fence-init "$(inS -- cat /proc/1/comm)"
O=${pfx}o
start "$O"
check "two sandboxes: the other does not see this one's background process" fr --in "$O" -- sh -c "! ps ax | grep -q '[s]leep $mark'"
check "two sandboxes: the other does not see this one's /tmp" fr --in "$O" -- test ! -e /tmp/t
check "two sandboxes: the other does not see this one's delta" fr --in "$O" -- test ! -e output/x
check "two sandboxes: this one still sees its own" inS -- sh -c "test -e output/x -a -e /tmp/t && ps ax | grep -q '[s]leep $mark'"
fr --stop "$O" >/dev/null

# --- the control socket and state are invisible inside ----------------------------
inS -- sh -c 'ls /run/fence-run' >/dev/null 2>&1; check "/run/fence-run does not exist inside" test $? -ne 0
inS -- sh -c "test -e $BASE/$S/control"; check "the control socket's path does not exist inside" test $? -ne 0
inS -- grep -q fence-run /proc/self/mountinfo; check "no mount inside names the state directory" test $? -ne 0
inS -- /usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
try:
    s.connect(sys.argv[1]); sys.exit(0)
except OSError:
    sys.exit(1)' "$BASE/$S/control"
check "a command inside cannot connect to its own control socket" test $? -ne 0
# Even with the socket reachable, a peer inside a sandbox is refused: a
# one-shot sandbox given the state directory read-only tries.
fr --codebase "$P" --bind-ro "$BASE:/srv/state" -- /usr/bin/python3 -c '
import socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print("connect-failed", e.errno); sys.exit(0)
try:
    s.send(struct.pack("=IIiIIIq", ord("I"), 0, 0, 0, 0, 0, 0))
except OSError:
    pass
r = s.recv(70000)
print("E" if r[:1] == b"E" else "answered", r[32:].decode(errors="replace"))' "/srv/state/$S/control" >"$T/inside" 2>&1
check "a process inside another sandbox is refused by the supervisor" grep -qE "^(E permission denied|connect-failed)" "$T/inside"
head -1 "$T/inside" | sed 's/^/#   /'

# --- --list ----------------------------------------------------------------------------
fr --list >"$T/list"
check "--list shows the sandbox as running" grep -qE "^$S +running" "$T/list"
fr --list --json >"$T/list.json"
python3 - "$T/list.json" "$S" "$P" "$T/delta" >"$T/lj" 2>&1 <<'EOF'
import json, sys
objs = {o["name"]: o for o in json.load(open(sys.argv[1]))}
o = objs[sys.argv[2]]
for k in ["name", "state", "codebase", "delta", "created", "uptime_seconds", "processes", "memory_bytes", "pid"]:
    assert k in o, k
assert o["state"] == "running" and o["codebase"] == sys.argv[3] and o["delta"] == sys.argv[4], o
assert o["processes"] >= 2, o  # the init and the background sleep
print("ok")
EOF
check "--list --json: name, state, codebase, delta, created, uptime, processes, memory, pid" grep -q '^ok$' "$T/lj"

# --- SO_PEERCRED: another uid is refused -------------------------------------------------
# Through the file modes first (0700 directory): then with the modes opened,
# by the supervisor's own check.
setpriv --reuid 65534 --regid 65534 --clear-groups env FENCE_RUN_STATE_DIR=$BASE "$FENCERUN" --in "$S" -- true 2>"$T/e"; rc=$?
check_eq "another uid's --in is refused (125)" 125 "$rc"
peer_try() {
	setpriv --reuid 65534 --regid 65534 --clear-groups /usr/bin/python3 -c '
import socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
try:
    s.send(struct.pack("=IIiIIIq", ord(sys.argv[2]), 0, 0, 0, 0, 0, 0))
except OSError:
    pass  # refused at accept: the answer is already there
r = s.recv(70000)
print(chr(r[0]), r[32:].decode(errors="replace"))' "$BASE/$S/control" "$1"
}
chmod 0711 "$BASE" "$BASE/$S"; chmod 0666 "$BASE/$S/control"
peer_try I >"$T/peer" 2>&1
check "SO_PEERCRED: another uid is refused at connect, with a reason" grep -q "^E permission denied: sandbox '$S' belongs to uid 0" "$T/peer"
peer_try T >"$T/peer2" 2>&1
chmod 0700 "$BASE" "$BASE/$S"; chmod 0600 "$BASE/$S/control"
check "SO_PEERCRED: another uid cannot stop it" grep -q "^E permission denied" "$T/peer2"
check_eq "the sandbox is still running after the refused stop" 0 "$(inS -- true; echo $?)"

# --- pause / resume -----------------------------------------------------------------------
inS -- sh -c 'i=0; while :; do i=$((i+1)); echo $i > /tmp/count; sleep 0.02; done >/dev/null 2>&1 &'
sleep 0.3
fr --pause "$S"; check_eq "--pause exits 0" 0 $?
check_eq "--list shows it paused" paused "$(json_field "$S" state)"
c1=$(cat /proc/$(json_field "$S" init_pid)/root/tmp/count 2>/dev/null)
fr --in "$S" -- true 2>"$T/e"; rc=$?
check_eq "--in a paused sandbox is refused (125)" 125 "$rc"
check "--in a paused sandbox says so" grep -q "is paused; --resume it first" "$T/e"
sleep 0.4
c2=$(cat /proc/$(json_field "$S" init_pid)/root/tmp/count 2>/dev/null)
check "nothing runs while paused (counter $c1 -> $c2)" test -n "$c1" -a "$c1" = "$c2"
fr --resume "$S"; check_eq "--resume exits 0" 0 $?
sleep 0.3
c3=$(inS -- cat /tmp/count)
check "it runs again after --resume (counter $c2 -> $c3)" test "${c3:-0}" -gt "${c2:-0}"

# --- 20 concurrent --in into one sandbox -----------------------------------------------------
pids=()
for i in $(seq 1 20); do
	fr --in "$S" -- sh -c "sleep 0.2; echo c$i" >"$T/c.$i" 2>&1 &
	pids+=($!)
done
okc=0
for i in $(seq 1 20); do
	wait "${pids[$((i - 1))]}" && [ "$(cat "$T/c.$i")" = "c$i" ] && okc=$((okc + 1))
done
check_eq "20 concurrent --in into one sandbox all succeed with their own output" 20 "$okc"

# --- at most 128 commands at once: the rest are refused, not queued or lost --------------------
pids=()
for i in $(seq 1 132); do
	"$FENCERUN" --in "$S" -- sleep 5 2>"$T/m.$i" &
	pids+=($!)
done
n0=0 n125=0
for i in $(seq 1 132); do
	wait "${pids[$((i - 1))]}"; rc=$?
	[ $rc = 0 ] && n0=$((n0 + 1))
	[ $rc = 125 ] && grep -q "too many commands running" "$T/m.$i" && n125=$((n125 + 1))
done
check_eq "132 commands at once: 128 run, 4 are refused with 125 and a reason" "128 4" "$n0 $n125"
check "the sandbox answers after the flood" inS -- true

# --- a vanished caller: its command goes, the sandbox stays ------------------------------------
"$FENCERUN" --in "$S" -- sh -c "sleep ${mark}1" &
cp=$!
wait_for 5 has_sleep "${mark}1"
kill -9 "$cp"; wait "$cp" 2>/dev/null
wait_for 5 eval '! has_sleep "${mark}1"'
check "a SIGKILLed --in caller's command is killed" eval '! has_sleep "${mark}1"'
check "the sandbox lives on after its caller vanished" fr --in "$S" -- true

# --- the delta of a live sandbox: diff any time; commit and discard after --stop ----------
"$FENCEFS" diff "$T/delta" >"$T/diff" 2>&1
check "fencefs diff of a live sandbox's delta works" grep -q "output/x" "$T/diff"
"$FENCEFS" commit "$T/delta" >/dev/null 2>"$T/e"; rc=$?
check "fencefs commit of a live sandbox's delta is refused" test "$rc" -ne 0 -a "$rc" -ne 1
check "... because it is in use" grep -q "in use" "$T/e"
"$FENCEFS" discard "$T/delta" >/dev/null 2>"$T/e"; rc=$?
check "fencefs discard of a live sandbox's delta is refused" test "$rc" -ne 0
fr --pause "$S"
"$FENCEFS" commit "$T/delta" >/dev/null 2>&1; rc=$?
check "fencefs commit of a paused sandbox's delta is refused too" test "$rc" -ne 0 -a "$rc" -ne 1
fr --resume "$S"

# --- --stop -----------------------------------------------------------------------------------
hp=$(host_pids "$S")
fr --in "$S" -- sh -c "sleep ${mark}2" &
wp=$!
wait_for 5 has_sleep "${mark}2"
out=$(fr --stop "$S"); rc=$?
check_eq "--stop exits 0 and prints the kept delta" "0 $T/delta" "$rc $out"
wait "$wp"; rc=$?
check_eq "an --in waiting when --stop came returns 137" 137 "$rc"
check "after --stop: the supervisor, init and daemon are gone ($hp)" wait_for 3 all_gone $hp
check "after --stop: the background processes are gone" wait_for 3 no_bg
check "after --stop: no fencefs daemon for the codebase" no_fencefs_for "$P"
check "after --stop: the state directory is gone" test ! -e "$BASE/$S"
check "after --stop: no cgroup or freezer leaf of it" test -z "$(find /sys/fs/cgroup -maxdepth 4 -name "fence-run*.$(echo $hp | cut -d' ' -f1)" 2>/dev/null)"
check_eq "the kept delta holds the sandbox's write" kept "$(cat "$T/delta/upper/output/x" 2>/dev/null)"
"$FENCEFS" commit --dry-run "$T/delta" >"$T/dry" 2>&1
check_eq "after --stop, fencefs commit --dry-run of the delta runs" 0 $?
fr --stop "$S" 2>/dev/null; check_eq "--stop of a stopped sandbox gives 125" 125 $?

# --- SIGKILL of the supervisor ------------------------------------------------------------------
K=${pfx}k
start "$K"
fr --in "$K" -- sh -c "sleep $mark >/dev/null 2>&1 &"
hp=$(host_pids "$K")
mntns=$(readlink /proc/$(json_field "$K" init_pid)/ns/mnt)
kill -9 $(json_field "$K" pid)
check "SIGKILL of the supervisor: init, daemon and background processes die ($hp)" wait_for 3 all_gone $hp
check "SIGKILL of the supervisor: no background process left" wait_for 3 no_bg
left=0; for p in /proc/[0-9]*; do [ "$(readlink "$p/ns/mnt" 2>/dev/null)" = "$mntns" ] && left=$((left + 1)); done
check_eq "SIGKILL of the supervisor: nothing left in the sandbox's mount namespace" 0 "$left"
check "SIGKILL of the supervisor: its state is left behind (stale)" test -d "$BASE/$K"
fr --list >/dev/null 2>"$T/e"
check "--list cleans the stale state" test ! -e "$BASE/$K"
check "--list says it removed the stale state" grep -q "removed the stale state of '$K'" "$T/e"
start "$K"; check_eq "a stale name can be reused" 0 $?
kill -9 $(json_field "$K" pid); sleep 0.3
start "$K"; check_eq "a new --detach cleans a stale name itself" 0 $?
fr --stop "$K" >/dev/null

# --- ends other than --stop: SIGTERM, a dead daemon, paused sandboxes ----------------------------
E=${pfx}e
start "$E"
fr --in "$E" -- sh -c "sleep $mark >/dev/null 2>&1 &"
hp=$(host_pids "$E")
kill -TERM $(json_field "$E" pid)
check "SIGTERM to the supervisor stops the sandbox: its processes go ($hp)" wait_for 3 all_gone $hp
check "SIGTERM to the supervisor: its state goes" wait_for 3 test ! -e "$BASE/$E"
check "SIGTERM to the supervisor: no background process left" wait_for 3 no_bg
start "$E"
"$FENCERUN" --in "$E" -- sh -c "sleep ${mark}3" 2>"$T/e" &
wp=$!
wait_for 5 has_sleep "${mark}3"
hp=$(host_pids "$E")
kill -9 $(json_field "$E" daemon_pid)
wait "$wp"; rc=$?
check_eq "the daemon killed under a sandbox: the waiting --in returns 125" 125 "$rc"
check "... and says the daemon ended" grep -q "the fencefs daemon ended" "$T/e"
check "the daemon killed: the sandbox is gone ($hp)" wait_for 3 all_gone $hp
check "the daemon killed: its state is gone" wait_for 3 test ! -e "$BASE/$E"
start "$E"
fr --in "$E" -- sh -c "sleep $mark >/dev/null 2>&1 &"
hp=$(host_pids "$E")
fr --pause "$E" && fr --stop "$E" >/dev/null
check "--stop of a paused sandbox kills everything ($hp)" wait_for 3 all_gone $hp
check "--stop of a paused sandbox: no background process left" wait_for 3 no_bg
start "$E"
fr --in "$E" -- sh -c "sleep $mark >/dev/null 2>&1 &"
hp=$(host_pids "$E")
sp=$(json_field "$E" pid)
fr --pause "$E" && kill -9 "$sp"
wait_for 3 gone "$sp"
fr --list >/dev/null 2>&1
check "SIGKILL of a paused sandbox's supervisor: --list thaws it and everything dies ($hp)" wait_for 3 all_gone $hp
check "... no background process left" wait_for 3 no_bg
check "... and no freezer leaf of it" test -z "$(find /sys/fs/cgroup -maxdepth 3 -name "fence-run.session.$sp" 2>/dev/null)"

# --- --detach -- COMMAND, --ttl, --idle-timeout, audit ----------------------------------------------
M=${pfx}m
start "$M" --audit "$T/audit.jsonl" -- sh -c 'echo main > /tmp/main; exec sleep 1000'
wait_for 3 test "$(fr --in "$M" -- cat /tmp/main 2>/dev/null)" = main
check_eq "--detach -- COMMAND runs a main process" main "$(fr --in "$M" -- cat /tmp/main)"
fr --in "$M" -- sh -c 'exit 4'
fr --in "$M" -- cat .env 2>/dev/null
# The daemon's events are all written once it has ended.
fr --stop "$M" >/dev/null
python3 - "$T/audit.jsonl" >"$T/au" 2>&1 <<'EOF'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
cmd = [e for e in ev if e["event"] == "command" and e["argv"] == ["sh", "-c", "exit 4"]]
assert len(cmd) == 1, ev
cat = [e for e in ev if e["event"] == "command" and e["argv"] == ["cat", ".env"]]
assert len(cat) == 1, ev
ex = [e for e in ev if e["event"] == "command_exit" and e["cmd"] == cmd[0]["cmd"]]
assert len(ex) == 1 and ex[0]["status"] == 4, ex
# The cat's pid is the one the daemon's deny event names.
cx = [e for e in ev if e["event"] == "command_exit" and e["cmd"] == cat[0]["cmd"]]
deny = [e for e in ev if e["event"] == "deny" and e["path"] == "/.env"]
assert len(deny) == 1 and len(cx) == 1 and deny[0]["pid"] == cx[0]["pid"], (deny, cx)
ids = [e["cmd"] for e in ev if e["event"] == "command"]
assert len(set(ids)) == len(ids), ids
print("ok")
EOF
check "audit: command and command_exit events name the command (its id, argv, status, pid)" grep -q '^ok$' "$T/au"
grep -q "^ok$" "$T/au" || sed "s/^/#   /" "$T/au" | tail -3
python3 "$FENCE_ROOT/tests/tools/audit_validate.py" "$FENCE_ROOT/docs/audit.schema.json" "$T/audit.jsonl" >"$T/auv" 2>&1
check "audit: a sandbox's log is valid against docs/audit.schema.json" test $? = 0
check "audit: its command and command_exit events were validated" grep -q "^command_exit: [1-9]" "$T/auv"
L=${pfx}t
start "$L" --ttl 1
check "--ttl: alive before it" fr --in "$L" -- true
check "--ttl 1: stopped on time (within 3 s)" wait_for 3 test ! -e "$BASE/$L"
I=${pfx}i
start "$I" --idle-timeout 1
fr --in "$I" -- sleep 1.5; check_eq "--idle-timeout: a running command keeps it alive past the timeout" 0 $?
check "--idle-timeout 1: stopped once idle" wait_for 3 test ! -e "$BASE/$I"

# --- --stop --all (in a private state directory) ---------------------------------------------------
export FENCE_RUN_STATE_DIR=$STATE2
fr --codebase "$P" --name a --detach && fr --codebase "$P" --name b --detach
check_eq "FENCE_RUN_STATE_DIR holds the state" "a b" "$(ls "$STATE2" | tr '\n' ' ' | sed 's/ $//')"
fr --stop --all; check_eq "--stop --all exits 0" 0 $?
check_eq "--stop --all stopped every sandbox" "" "$(ls "$STATE2")"
unset FENCE_RUN_STATE_DIR

check_eq "the codebase is unchanged" "$before" "$(sum)"
check "no fencefs daemon of this run is left" no_fencefs_for "$P"
check "no mount of this run is left" test -z "$(grep -F "$P" /proc/mounts)"

# --- rootless: state under $XDG_RUNTIME_DIR; a peer inside with the owner's uid is refused ----------
mode=$(stat -c %a /dev/fuse)
at_exit "chmod $mode /dev/fuse"
chmod 0666 /dev/fuse
RL=$(mktemp -d /tmp/fence-sess-rl.XXXXXX)
at_exit "rm -rf '$RL'"
chmod 0755 "$RL"
mkdir -p "$RL/proj/output" "$RL/run" "$RL/tmp"
chown 65534:65534 "$RL/run" "$RL/tmp"
chmod 0700 "$RL/run"
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups env -u FENCE_RUN_STATE_DIR XDG_RUNTIME_DIR="$RL/run" TMPDIR="$RL/tmp" "$@"; }
R=${pfx}rl
at_exit "setpriv --reuid=65534 --regid=65534 --clear-groups env XDG_RUNTIME_DIR='$RL/run' '$FENCERUN' --stop '$R'"
as_nobody "$FENCERUN" --unsafe-no-cgroup --codebase "$RL/proj" --name "$R" --detach
check_eq "rootless: --detach as an ordinary user" 0 $?
check_eq "rootless: the state is in \$XDG_RUNTIME_DIR/fence-run, 0700, socket 0600, the user's" \
	"700 nobody 600 nobody" "$(stat -c '%a %U' "$RL/run/fence-run") $(stat -c '%a %U' "$RL/run/fence-run/$R/control")"
check_eq "rootless: --in runs as the calling user" 65534 "$(as_nobody "$FENCERUN" --in "$R" -- id -u)"
# The command runs as the owner's uid: SO_PEERCRED alone would let it in.
# Given the state directory (a --bind-ro of it), it is refused anyway: its
# pid/user/mount namespaces are not the host's.
as_nobody "$FENCERUN" --unsafe-no-cgroup --codebase "$RL/proj" --bind-ro "$RL/run/fence-run:/srv/state" -- /usr/bin/python3 -c '
import socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
try:
    s.send(struct.pack("=IIiIIIq", ord("T"), 0, 0, 0, 0, 0, 0))
except OSError:
    pass
r = s.recv(70000)
print(chr(r[0]), r[32:].decode(errors="replace"))' "/srv/state/$R/control" >"$RL/inside" 2>&1
check "rootless: a sandboxed process with the owner's uid is refused (not the host's namespaces)" \
	grep -q "^E permission denied: the caller is not in the host's namespaces" "$RL/inside"
head -1 "$RL/inside" | sed 's/^/#   /'
check_eq "rootless: the sandbox survived the refused --stop" 0 "$(as_nobody "$FENCERUN" --in "$R" -- true; echo $?)"
as_nobody "$FENCERUN" --stop "$R"; check_eq "rootless: --stop" 0 $?
check "rootless: the state directory is gone" test ! -e "$RL/run/fence-run/$R"
setpriv --reuid=65534 --regid=65534 --clear-groups env -u XDG_RUNTIME_DIR -u FENCE_RUN_STATE_DIR "$FENCERUN" --list 2>"$RL/e"
check_eq "rootless without XDG_RUNTIME_DIR: 125" 125 $?
check "... says XDG_RUNTIME_DIR is not set" grep -q "XDG_RUNTIME_DIR is not set" "$RL/e"
