#!/bin/bash
# Long-lived sandboxes (issue 17 "Speed and size"): p50/p99 of
# `fence-run --in NAME -- true` into one live sandbox against a fresh
# `bwrap --unshare-all --ro-bind / / --dev /dev --proc /proc true`, measured
# alternately in one run, the cold `fence-run -- true` for reference, and
# the RSS summed over an idle sandbox's host-side processes (supervisor,
# init, fencefs daemon).  With SESSION_MANY=N (default 0) also starts N
# sandboxes on one codebase, checks that each answers --in, and reports
# the RSS of all of them.  Prints Markdown tables.
#   bench/session.sh [RUNS]          (BUILD=build by default; RUNS 200)
# Exit status 0 when the p50 ratio is at most 0.5 and the idle RSS at most
# 4 MiB, 1 otherwise, 77 when bwrap is missing.
set -u
cd "$(dirname "$0")/.."
N=${1:-200}
BUILD=${BUILD:-build}
MANY=${SESSION_MANY:-0}
FR=$PWD/$BUILD/fence-run
command -v bwrap >/dev/null || { echo "SKIP: bwrap is not installed (scripts/deps.sh bench)"; exit 77; }
[ -x "$FR" ] || { echo "no $FR; run make BUILD=$BUILD all"; exit 2; }
proj=$(mktemp -d /tmp/fence-bench-sess.XXXXXX)
# A private state directory: nothing of anyone else's is listed or stopped.
export FENCE_RUN_STATE_DIR=$proj/state
mkdir -m 0700 "$FENCE_RUN_STATE_DIR"
trap '"$FR" --stop --all >/dev/null 2>&1; rm -rf "$proj"' EXIT
mkdir -p "$proj/code/src" && echo 'int main(void) { return 0; }' >"$proj/code/src/main.c"
"$FR" --codebase "$proj/code" --name bench --detach || { echo "fence-run --detach failed"; exit 2; }

python3 - "$FR" "$proj/code" "$N" "$MANY" <<'EOF'
import json, os, subprocess, sys, time

fr, code, n, many = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
DEVNULL = subprocess.DEVNULL

def timed(argv):
    t = time.perf_counter()
    rc = subprocess.call(argv, stdout=DEVNULL, stderr=DEVNULL)
    if rc != 0:
        sys.exit("%s exited %d" % (argv[:3], rc))
    return (time.perf_counter() - t) * 1000.0

def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]

runs = {"in": [], "bwrap": [], "cold": []}
bw = ["bwrap", "--unshare-all", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "true"]
for i in range(n + 5):
    a = timed([fr, "--in", "bench", "--", "true"])
    b = timed(bw)
    if i >= 5:
        runs["in"].append(a)
        runs["bwrap"].append(b)
for i in range(max(10, n // 10)):
    runs["cold"].append(timed([fr, "--codebase", code, "--", "true"]))

def children():
    kids = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            st = open("/proc/%s/stat" % p).read()
        except OSError:
            continue
        ppid = int(st[st.rindex(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(p))
    return kids

def rss_kib(pid):
    try:
        for l in open("/proc/%d/status" % pid):
            if l.startswith("VmRSS:"):
                return int(l.split()[1])
    except OSError:
        pass
    return 0

def pss_kib(pid):
    try:
        for l in open("/proc/%d/smaps_rollup" % pid):
            if l.startswith("Pss:"):
                return int(l.split()[1])
    except OSError:
        pass
    return 0

def tree(pid, kids):
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out

def sandbox_rss(names):
    info = {o["name"]: o for o in json.loads(subprocess.check_output([fr, "--list", "--json"]))}
    kids = children()
    total, pss, procs = 0, 0, 0
    for nm in names:
        ps = tree(info[nm]["pid"], kids)
        procs += len(ps)
        total += sum(rss_kib(p) for p in ps)
        pss += sum(pss_kib(p) for p in ps)
    return total, procs, pss

time.sleep(0.5)
idle_kib, idle_procs, idle_pss = sandbox_rss(["bench"])

p50_in, p99_in = pct(runs["in"], 50), pct(runs["in"], 99)
p50_bw, p99_bw = pct(runs["bwrap"], 50), pct(runs["bwrap"], 99)
p50_cold, p99_cold = pct(runs["cold"], 50), pct(runs["cold"], 99)
ratio = p50_in / p50_bw
print("### fence-run --in (%d runs each, alternating)\n" % n)
print("| command | p50 ms | p99 ms | p50 / bwrap |")
print("|---|---:|---:|---:|")
print("| `fence-run --in NAME -- true` | %.2f | %.2f | %.2f |" % (p50_in, p99_in, ratio))
print("| `bwrap --unshare-all --ro-bind / / --dev /dev --proc /proc true` | %.2f | %.2f | 1.00 |" % (p50_bw, p99_bw))
print("| `fence-run -- true` (cold, %d runs) | %.2f | %.2f | %.2f |" % (len(runs["cold"]), p50_cold, p99_cold, p50_cold / p50_bw))
print()
print("### One idle sandbox\n")
print("| host-side processes | RSS summed | PSS summed (shared pages split) |")
print("|---:|---:|---:|")
print("| %d | %.2f MiB | %.2f MiB |" % (idle_procs, idle_kib / 1024.0, idle_pss / 1024.0))
ok = ratio <= 0.5 and idle_kib <= 4096

if many > 0:
    names = ["m%d" % i for i in range(many)]
    t = time.perf_counter()
    for nm in names:
        subprocess.check_call([fr, "--codebase", code, "--name", nm, "--detach", "--pids", "64"])
    start_s = time.perf_counter() - t
    answered = sum(subprocess.call([fr, "--in", nm, "--", "true"]) == 0 for nm in names)
    kib, procs, pss = sandbox_rss(names + ["bench"])
    print()
    print("### %d live sandboxes on one codebase\n" % (many + 1))
    print("| sandboxes | answering --in | start all (s) | host processes | RSS summed | RSS per sandbox | PSS per sandbox |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    print("| %d | %d | %.1f | %d | %.1f MiB | %.2f MiB | %.2f MiB |" % (many + 1, answered + 1, start_s, procs,
          kib / 1024.0, kib / 1024.0 / (many + 1), pss / 1024.0 / (many + 1)))
    ok = ok and answered == many
print()
print("targets: p50 ratio <= 0.5 (%s), idle RSS <= 4 MiB (%s)" % (
    "met" if ratio <= 0.5 else "missed", "met" if idle_kib <= 4096 else "missed"))
sys.exit(0 if ok else 1)
EOF
