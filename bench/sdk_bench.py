#!/usr/bin/env python3
"""The Python SDK's overhead over the fence-run command line (issue 18):

- sb.run("true") on a live sandbox vs `fence-run --in NAME -- true`
  (both started from Python with a fork and an exec, p50 over N runs);
- Sandbox.from_local(...) vs `fence-run --name NAME --detach` (p50 over M
  starts, each sandbox stopped outside the timing).

Prints a Markdown table.  FENCE_BIN_DIR: the binaries (default: the
repository's build/); SDK_BENCH_N / SDK_BENCH_M: counts (200 / 20).
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "sdk", "python", "src"))
os.environ.setdefault("FENCE_BIN_DIR", os.path.join(REPO, "build"))
os.environ.setdefault("FENCE_PRESET_DIR", os.path.join(REPO, "presets"))
STATE = tempfile.mkdtemp(prefix="sdk-bench-state-")
os.environ["FENCE_RUN_STATE_DIR"] = STATE

from fencefs import Sandbox  # noqa: E402

#: directories this run made, removed at the end
MADE = []


def mkd(prefix):
    d = tempfile.mkdtemp(prefix=prefix)
    MADE.append(d)
    return d


FR = os.path.join(os.environ["FENCE_BIN_DIR"], "fence-run")
N = int(os.environ.get("SDK_BENCH_N", "200"))
M = int(os.environ.get("SDK_BENCH_M", "20"))


def interleaved(fns, n):
    """p50 in ms of each function, called in turn N times (so that both
    sides see the same load on a shared machine)."""
    ts = [[] for _ in fns]
    for _ in range(n):
        for i, f in enumerate(fns):
            t0 = time.perf_counter()
            f()
            ts[i].append(time.perf_counter() - t0)
    return [statistics.median(t) * 1000 for t in ts]


def main():
    codebase = mkd("sdk-bench-code-")
    for i in range(50):
        with open(os.path.join(codebase, f"f{i}.txt"), "w") as f:
            f.write("x\n")
    rows = []
    res = os.path.join(mkd("sdk-bench-res-"), "r.json")
    with Sandbox.from_local(codebase) as sb:
        for _ in range(10):                       # warm up
            sb.run("true")
        cli, cli_full, sdk_str, sdk_sh = interleaved([
            lambda: subprocess.run([FR, "--in", sb.name, "--", "true"], check=True),
            lambda: subprocess.run([FR, "--in", sb.name, "--result", res, "--", "true"],
                                   check=True, capture_output=True, stdin=subprocess.DEVNULL),
            lambda: sb.run("true"),
            lambda: sb.run("true; :"),
        ], N)
    rows.append(('`sb.run("true")` (plain words: exec\'d directly)', sdk_str,
                 "`fence-run --in NAME -- true`", cli))
    rows.append(('`sb.run("true; :")` (through `sh -c`)', sdk_sh,
                 "`fence-run --in NAME -- true`", cli))
    rows.append(("(for reference) `fence-run --in NAME --result F -- true`, output captured",
                 cli_full, "`fence-run --in NAME -- true`", cli))

    def start_cli():
        name = f"bench-{time.monotonic_ns()}"
        subprocess.run([FR, "--name", name, "--detach", "--quiet", "--codebase", codebase],
                       check=True)
        return lambda: subprocess.run([FR, "--stop", name], check=True, capture_output=True)

    def start_cli_same():
        name = f"bench-{time.monotonic_ns()}"
        d = tempfile.mkdtemp(prefix="sdk-bench-d-")
        subprocess.run([FR, "--name", name, "--detach", "--quiet", "--codebase", codebase,
                        "--delta", os.path.join(d, "delta"), "--audit", os.path.join(d, "a")],
                       check=True)

        def stop():
            subprocess.run([FR, "--stop", name], check=True, capture_output=True)
            subprocess.run(["rm", "-rf", d], check=True)
        return stop

    def start_sdk():
        sb = Sandbox.from_local(codebase)
        return sb.stop

    stops = []

    def timed(start):
        def f():
            stops.append(start())
        return f

    def stop_all():
        while stops:
            stops.pop()()

    stop_all()
    times = [[], [], []]
    for _ in range(M):
        for i, start in enumerate((start_cli, start_sdk, start_cli_same)):
            t0 = time.perf_counter()
            stops.append(start())
            times[i].append(time.perf_counter() - t0)
            stop_all()
    cli_start, sdk_start, same_start = (statistics.median(t) * 1000 for t in times)
    rows.append(("`Sandbox.from_local(dir)`", sdk_start, "`fence-run --name N --detach`", cli_start))
    rows.append(("`Sandbox.from_local(dir)`", sdk_start,
                 "the same with the SDK's `--delta D --audit A`", same_start))

    print(f"| SDK call | p50 ms | CLI equivalent | p50 ms | ratio |")
    print(f"|---|---:|---|---:|---:|")
    for what, a, cli_what, b in rows:
        print(f"| {what} | {a:.2f} | {cli_what} | {b:.2f} | {a / b:.2f}x |")
    print(f"\n(N={N} commands, M={M} starts; {os.cpu_count()} CPUs; "
          f"{sys.implementation.name} {sys.version.split()[0]})")


if __name__ == "__main__":
    import shutil
    try:
        main()
    finally:
        for d in MADE + [STATE]:
            shutil.rmtree(d, ignore_errors=True)
