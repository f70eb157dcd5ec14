#!/bin/bash
# run_basic.sh - fence-run's contract (docs/SPEC.md 7, issue 4): exit statuses,
# option parsing, --result, the environment, what the sandbox contains,
# and the issue's "done when" example.
. "$(dirname "$0")/lib.sh"
need_root
need_fuse
[ -x "$FENCERUN" ] || skip_all "fence-run is not built ($FENCERUN)"

P=$T/proj
mkdir -p "$P/src" "$P/output" "$P/secrets"
echo 'SECRET_TOKEN=hunter2' >"$P/.env"
echo 'int main(void) { return 0; }' >"$P/src/main.c"
echo 'key' >"$P/secrets/api.key"
echo 'readme' >"$P/README"
listing() { (cd "$1" && find . -printf '%p %y %m %s %T@\n' | sort && find . -type f -exec cat {} +); }
sum() { listing "$1" | sha256sum; }
listing "$P" >"$T/before.list"
before=$(sum "$P")
# unchanged NAME: the codebase is exactly as it was.
unchanged() {
	check_eq "$1" "$before" "$(sum "$P")"
	[ "$before" = "$(sum "$P")" ] || diff "$T/before.list" <(listing "$P") | head -5 | sed 's/^/#   /'
}
fr() { "$FENCERUN" --codebase "$P" "$@"; }

# --- exit statuses -----------------------------------------------------------
fr -- true; check_eq "exit 0" 0 $?
fr -- sh -c 'exit 3'; check_eq "exit 3 is passed through" 3 $?
fr -- sh -c 'kill -9 $$'; check_eq "a command killed by SIGKILL gives 128+9" 137 $?
fr -- sh -c 'kill -TERM $$'; check_eq "a command killed by SIGTERM gives 128+15" 143 $?
fr --timeout 0.5 -- sleep 30 2>/dev/null; check_eq "timeout gives 124" 124 $?
fr -- /nonexistent/cmd 2>"$T/e127"; check_eq "missing command gives 127" 127 $?
check "127 says why" grep -q "^fence-run: cannot execute '/nonexistent/cmd': No such file" "$T/e127"
fr -- nosuchcommand-xyz 2>/dev/null; check_eq "command not on PATH gives 127" 127 $?
fr -- /etc/passwd 2>"$T/e126"; check_eq "non-executable command gives 126" 126 $?
fr -- -- 2>/dev/null; check_eq "a command named '--' is a command (127)" 127 $?
fr -- --help 2>/dev/null; check_eq "'--' stops option parsing: '-- --help' runs a command named --help" 127 $?
out=$(fr -- echo --version -x); check_eq "arguments after the command are not options" "--version -x" "$out"

# --- bad options: 125 with a message ---------------------------------------
bad() {
	local name=$1 msg=$2; shift 2
	"$FENCERUN" "$@" >"$T/bad.out" 2>"$T/bad.err"
	local rc=$?
	if [ "$rc" = 125 ] && grep -qF -- "$msg" "$T/bad.err"; then ok "$name"; else
		notok "$name"; echo "#   rc=$rc stderr: $(head -2 "$T/bad.err")"; fi
}
bad "--memory 12Q is refused" "fence-run: --memory '12Q': invalid size" --memory 12Q -- true
bad "--timeout 5x is refused" "--timeout '5x': invalid duration" --timeout 5x -- true
bad "--pids 0 is refused" "--pids '0'" --pids 0 -- true
bad "--cpus abc is refused" "--cpus 'abc'" --cpus abc -- true
bad "--net bogus is refused" "--net 'bogus'" --net bogus -- true
bad "unknown option is refused" "unknown option '--frobnicate'" --frobnicate -- true
bad "option without its value" "option '--memory' needs a value" --memory
bad "no command" "no command given" --codebase "$P"
bad "--workdir escaping /workspace" "--workdir '../..'" --codebase "$P" --workdir ../.. -- true
bad "--bind-ro onto /proc" "--bind-ro" --bind-ro /usr:/proc/x -- true
bad "--env without =" "--env 'FOO'" --env FOO -- true
bad "missing codebase" "--codebase '$T/none'" --codebase "$T/none" -- true
bad "codebase that is a file" "not a directory" --codebase "$P/README" -- true
bad "unknown preset" "agent-unsafe" --codebase "$P" --preset agent-unsafe -- true
printf '[rules]\nwirte = x\n' >"$T/bad.ini"
bad "bad policy file names file and line" "bad.ini:2" --codebase "$P" --policy "$T/bad.ini" -- true
bad "unknown --user" "no such user" --codebase "$P" --user no-such-user-xyz -- true
bad "--user root is refused" "never runs as root" --codebase "$P" --user root -- true
bad "result file in a missing directory" "cannot open result file" --codebase "$P" --result "$T/no/dir/r.json" -- true
"$FENCERUN" --help >"$T/help" 2>&1; check_eq "--help exits 0" 0 $?
check "--help prints the usage" grep -q '^usage: fence-run \[OPTIONS\] \[--\] COMMAND' "$T/help"
v=$("$FENCERUN" --version); check "--version" test -n "$(echo "$v" | grep -E '^fence-run [0-9]+\.[0-9]+')"

# --- --result ------------------------------------------------------------------
fr --result "$T/r.json" -- sh -c 'echo x > output/new; cat .env; exit 7' 2>/dev/null
check_eq "--result run exits 7" 7 $?
python3 - "$T/r.json" >"$T/r.check" 2>&1 <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
want = ["exit_code", "signal", "timed_out", "oom_killed", "wall_seconds", "user_seconds",
        "sys_seconds", "peak_memory_bytes", "denied", "written", "delta", "apply", "error"]
assert sorted(r) == sorted(want), sorted(r)
assert r["exit_code"] == 7 and r["signal"] is None and r["timed_out"] is False, r
assert r["oom_killed"] is False and r["error"] is None and r["delta"] is None, r
assert r["written"] >= 1 and r["denied"] >= 1, r
assert 0 < r["wall_seconds"] < 30 and r["peak_memory_bytes"] > 0, r
print("good")
EOF
check_eq "--result has every key with the right values" good "$(tail -1 "$T/r.check")"
fr --timeout 0.3 --result "$T/t.json" -- sleep 10 2>/dev/null
check_eq "--result after a timeout" "124 9 True" "$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["exit_code"], r["signal"], r["timed_out"])' "$T/t.json")"
fr --result "$T/n.json" -- nosuchcommand-xyz 2>/dev/null
check "--result names an exec failure" python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["exit_code"]==127 and "nosuchcommand-xyz" in r["error"]' "$T/n.json"

"$FENCERUN" --codebase "$P" --policy "$T/bad.ini" --result "$T/bp.json" -- true 2>/dev/null
check "--result records an early failure (bad policy)" python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert r["exit_code"] == 125 and "bad.ini:2" in r["error"], r' "$T/bp.json"
check_eq "closed stdin: the command's fd 0 is /dev/null, not an internal fd" "/dev/null" \
	"$(fr -- readlink /proc/self/fd/0 <&-)"

# --- the issue's example -----------------------------------------------------
cd "$T" || exit 1  # $P is $T/proj
"$FENCERUN" --preset agent-safe --codebase ./proj --delta "$T/d1" -- \
	sh -c 'ls -a; cat .env; echo hi > output/x; echo no > src/y' >"$T/ex.out" 2>"$T/ex.err"
rc=$?
check_eq "example: exits with the status of the last command (sh: 2)" 2 "$rc"
check "example: ls lists the visible files" grep -qx 'README' "$T/ex.out"
check "example: ls lists no secret" bash -c "! grep -E '^(\\.env|secrets)$' '$T/ex.out'"
check "example: cannot read .env" grep -q "cat: .env: No such file or directory" "$T/ex.err"
check "example: no secret in any output" bash -c "! grep -rq hunter2 '$T/ex.out' '$T/ex.err' '$T/d1'"
check_eq "example: output/x is in the delta" hi "$(cat "$T/d1/upper/output/x" 2>/dev/null)"
check "example: Permission denied for src/y" grep -q "src/y: Permission denied" "$T/ex.err"
unchanged "example: ./proj unchanged"
cd - >/dev/null

# --- inside the sandbox --------------------------------------------------------
env_keys=$(fr -- env | cut -d= -f1 | sort | tr '\n' ' ')
check_eq "environment is exactly PATH HOME LANG (+TERM)" "HOME LANG PATH " "$(echo "$env_keys" | sed 's/TERM //')"
env_keys=$(FOO=1 BAR=2 TERM=vt100 fr --env-pass FOO --env-pass MISSING_VAR --env X=y=z -- env | sort | tr '\n' ' ')
check_eq "--env and --env-pass add exactly their keys" \
	"FOO=1 HOME=/tmp LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin TERM=vt100 X=y=z " "$env_keys"
check_eq "--env overrides a default" "/work" "$(fr --env HOME=/work -- sh -c 'echo $HOME')"
check_eq "id inside is nobody, no groups" "65534 65534 65534" "$(fr -- sh -c 'echo $(id -u) $(id -g) $(id -G)')"
check_eq "working directory is /workspace" /workspace "$(fr -- pwd)"
check_eq "--workdir" /workspace/src "$(fr --workdir src -- pwd)"
check_eq "--workdir /workspace/output" /workspace/output "$(fr --workdir /workspace/output -- pwd)"
fr --workdir nonexistent -- true 2>"$T/wd.err"; check_eq "a missing --workdir is fence-run's failure" 125 $?
check_eq "hostname" fence-run "$(fr -- hostname)"
check_eq "network: only lo" "lo" "$(fr -- cat /proc/net/dev | awk -F: 'NR > 2 { gsub(/ /, "", $1); print $1 }' | tr '\n' ' ' | sed 's/ $//')"
check "network: loopback accepts connections" fr -- python3 -c '
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
c = socket.create_connection(s.getsockname()); c.close()'
check "network: no route out" fr -- python3 -c '
import socket, sys
try:
    socket.create_connection(("1.1.1.1", 53), timeout=2)
except OSError:
    sys.exit(0)
sys.exit(1)'
check_eq "--net host sees the host's interfaces" "$(awk 'NR > 2' /proc/net/dev | wc -l)" "$(fr --net host -- sh -c 'cat /proc/net/dev' | awk 'NR > 2' | wc -l)"
check_eq "/ is a read-only tmpfs" "tmpfs ro" "$(fr -- awk '$2 == "/" { split($4, o, ","); print $3, o[1] }' /proc/self/mounts)"
check_eq "/tmp is a private writable tmpfs" "ok" "$(fr -- sh -c 'echo x > /tmp/f && cat /tmp/f >/dev/null && echo ok')"
check_eq "--tmp-size limits /tmp" "ENOSPC" "$(fr --tmp-size 1M -- sh -c 'dd if=/dev/zero of=/tmp/big bs=1k count=4096 2>/dev/null && echo fits || echo ENOSPC')"
check_eq "--tmp-size limits /dev/shm too" "ENOSPC" "$(fr --tmp-size 1M -- sh -c 'dd if=/dev/zero of=/dev/shm/big bs=1k count=4096 2>/dev/null && echo fits || echo ENOSPC')"
check_eq "/proc shows only the sandbox's processes" "1" "$(fr -- sh -c 'ls /proc | grep -c "^1$"')"
check "/proc: the command is not pid 1 and sees few processes" test "$(fr -- sh -c 'ls -d /proc/[0-9]* | wc -l')" -le 4
check_eq "/dev holds the minimal set" "fd full null ptmx pts random shm stderr stdin stdout tty urandom zero" \
	"$(fr -- ls /dev | tr '\n' ' ' | sed 's/ $//')"
check_eq "/dev/null works" "" "$(fr -- sh -c 'echo x > /dev/null; cat /dev/null')"
check_eq "/etc has passwd and group for the sandbox" "nobody" "$(fr -- sh -c 'id -un')"
for p in /root /home /work /var /run /srv /opt /mnt /media /sys /boot "$T" /etc/shadow /etc/ssh; do
	check "host path $p is invisible" fr -- sh -c "! test -e '$p'"
done
check "the host's /tmp is invisible" fr -- sh -c "! test -e '$T'"
check "/usr is read-only" fr -- sh -c '! touch /usr/fence-x 2>/dev/null'
check "/etc is read-only" fr -- sh -c '! touch /etc/fence-x 2>/dev/null'
check "/ is read-only" fr -- sh -c '! mkdir /newdir 2>/dev/null'
check_eq "/proc/self/cgroup is the namespace's root" "/" "$(fr -- awk -F: '{ print $3 }' /proc/self/cgroup | sort -u)"
mkdir -p "$T/tools/bin" && printf '#!/bin/sh\necho tool-ran\n' >"$T/tools/bin/mytool" && chmod 755 "$T/tools/bin/mytool"
check_eq "--bind-ro HOST:PATH" tool-ran "$(fr --bind-ro "$T/tools:/opt/tools" -- /opt/tools/bin/mytool)"
check "--bind-ro is read-only" fr --bind-ro "$T/tools:/opt/tools" -- sh -c '! touch /opt/tools/x 2>/dev/null'
# A host path outside /tmp (the sandbox's /tmp is its own).
VT=$(mktemp -d /var/tmp/fence-bind.XXXXXX)
at_exit "rm -rf '$VT'"
cp -a "$T/tools" "$VT/"
check_eq "--bind-ro HOST (same path)" tool-ran "$(fr --bind-ro "$VT/tools" -- "$VT/tools/bin/mytool")"
echo 'single file' >"$T/onefile"
check_eq "--bind-ro of a single file" "single file" "$(fr --bind-ro "$T/onefile:/etc/onefile" -- cat /etc/onefile)"
# A source only root can reach (its parent is 0700): opened before the
# sandbox drops to its user.
SD=$(mktemp -d /var/tmp/fence-secretdir.XXXXXX)
at_exit "rm -rf '$SD'"
chmod 0700 "$SD"
mkdir -p "$SD/tool" && printf 'hidden-parent\n' >"$SD/tool/f" && chmod 0755 "$SD/tool"
check_eq "--bind-ro of a directory below a 0700 directory" hidden-parent "$(fr --bind-ro "$SD/tool:/opt/tool" -- cat /opt/tool/f)"
check_eq "--user UID (as root)" "4321 4321" "$(fr --user 4321 -- sh -c 'echo $(id -u) $(id -g)')"
check_eq "--user NAME (as root)" "1 daemon" "$(fr --user daemon -- sh -c 'echo $(id -u) $(id -un)')"
check_eq "--user: no supplementary groups" "1" "$(fr --user daemon -- id -G)"
bad "--bind-ro of a missing path" "--bind-ro '$T/missing'" --codebase "$P" --bind-ro "$T/missing:/x" -- true

# --- audit log ---------------------------------------------------------------
fr --audit "$T/a.jsonl" -- sh -c 'cat .env; echo a > output/a' 2>/dev/null
python3 - "$T/a.jsonl" >"$T/a.check" 2>&1 <<'EOF'
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
kinds = [e["event"] for e in evs]
assert kinds[0] == "start" and kinds[-1] == "exit", kinds
s = evs[0]
assert len(s["policy_digest"]) == 64 and s["argv"][-2:] == ["-c", "cat .env; echo a > output/a"], s
assert "limits" in s and s["limits"]["pids"] == 4096, s
assert "deny" in kinds and "write" in kinds, kinds
assert evs[-1]["status"] == 0 and evs[-1]["timed_out"] is False, evs[-1]
print("good")
EOF
check_eq "audit: start, deny, write and exit events in one file" good "$(tail -1 "$T/a.check")"
[ "$(tail -1 "$T/a.check")" = good ] || sed 's/^/#   /' "$T/a.check" | tail -3
fr --audit "$T/a.jsonl" -- true
check_eq "audit: appends" 2 "$(grep -c '"event":"start"' "$T/a.jsonl")"
ln -s "$T/a.jsonl" "$T/alink"
bad "audit: refuses a symlink" "cannot open audit log" --codebase "$P" --audit "$T/alink" -- true

fr --audit "$T/all.jsonl" --audit-all -- cat src/main.c >/dev/null
check "--audit-all adds read events" grep -q '"event":"read"' "$T/all.jsonl"
check "without --audit-all there are none" bash -c "! grep -q '\"event\":\"read\"' '$T/a.jsonl'"

# --- --max-delta and --quiet -----------------------------------------------------
got=$(fr --max-delta 64K -- sh -c 'dd if=/dev/zero of=output/big bs=1k count=200 2>/dev/null; wc -c < output/big')
check "--max-delta stops the delta from growing past it (wrote ${got:-?} bytes)" test "${got:-999999}" -le 65536
fr --quiet --timeout 0.2 -- sleep 5 2>"$T/q.err"
check_eq "--quiet: a timeout still gives 124" 124 $?
check_eq "--quiet: ... without a message" "" "$(cat "$T/q.err")"

unchanged "the codebase is unchanged after all of this"
"$FENCERUN" --codebase "$P" -- true &
fp=$!
wait "$fp"
check_eq "no cgroup of this run is left" "" "$(find /sys/fs/cgroup -maxdepth 5 -name "fence-run.$fp" 2>/dev/null | head -3)"
