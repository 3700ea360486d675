#!/usr/bin/env python3
"""Old build vs new build of linkgate, interleaved in one run: get_bench + links_bench.

Runs bench/get_bench.py (linkgate only: presigned GET of 4 KiB and 1 MiB, wrk -t2 -c64)
and bench/links_bench.py (GET /l/{token} of a link without use limit and of a
max_uses link) against two binaries, alternately, for `--rounds` rounds. Within a
round each benchmark runs on one build and then at once on the other, and the build
that goes first alternates from round to round (old/new, new/old, …), so both see the
same machine noise and neither always runs on a warmer or cooler machine.

    .venv/bin/python bench/compare_builds.py --old /path/to/old/linkgate --new target/release/linkgate
    .venv/bin/python bench/compare_builds.py --build-old main          # builds `main` in a temp worktree
    .venv/bin/python bench/compare_builds.py --build-old HEAD~1 --rounds 5 --duration 10 --with-1g --json cmp.json

`--new` defaults to target/release/linkgate of this checkout (build it first);
`--build-old REV` / `--build-new REV` check REV out into a temporary git worktree,
run `cargo build --release --locked -p linkgate` there (target dir
target/compare-builds/cargo-target, shared between revisions so only the workspace's
own crates recompile) and keep the binary as target/compare-builds/<commit>/linkgate,
reused by later runs. Defaults per round: `--duration 5 --runs 1` for each benchmark
(one wrk run of 5 s per cell), 3 rounds: about 2¼ minutes in all. `--with-1g` adds
get_bench's 1 GiB GET (time and the server's peak RSS; +25 s per build per round).
`--rate-limit N` is passed to links_bench (0, the default: the per-address limiter off).

Output: one table per benchmark. Each row is a metric; "old" and "new" are the
medians over the rounds of that build's figure (a figure is itself the median of the
`--runs` wrk runs of that round); "new/old" is new median / old median (above 1:
more req/s, but also more latency, seconds or memory — the arrow says which way is
better); the per-round columns give every round's figure, in round order, and the
per-round ratio. With old = new (the same binary twice) the ratios show the noise
of the machine: expect 1.00 ± a few per cent for req/s, more for p99. The
"server CPU µs/req" rows (user + system time of the server process over the wrk
run, divided by the requests served) do not depend on how much of the machine wrk
and other work took, so they are the steadier measure of per-request cost.
`--json PATH` writes every figure.
"""

import argparse
import datetime
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.dirname(os.path.abspath(__file__))


def sh(*args, **kw):
    return subprocess.run(args, check=True, text=True, capture_output=True, **kw).stdout.strip()


def build_rev(rev):
    """Builds REV in a temporary worktree; returns (binary path, commit)."""
    commit = sh("git", "-C", ROOT, "rev-parse", "--verify", f"{rev}^{{commit}}")
    cache = os.path.join(ROOT, "target", "compare-builds", commit)
    binary = os.path.join(cache, "linkgate")
    if os.access(binary, os.X_OK):
        print(f"build {rev} ({commit[:12]}): reusing {binary}", file=sys.stderr)
        return binary, commit
    target = os.path.join(ROOT, "target", "compare-builds", "cargo-target")
    tmp = tempfile.mkdtemp(prefix="linkgate-build-")
    src = os.path.join(tmp, "src")
    print(f"build {rev} ({commit[:12]}): git worktree in {src}, cargo build --release (target {target})", file=sys.stderr)
    try:
        sh("git", "-C", ROOT, "worktree", "add", "--detach", src, commit)
        subprocess.run(["cargo", "build", "--release", "--locked", "-p", "linkgate"], cwd=src, check=True,
                       env=dict(os.environ, CARGO_TARGET_DIR=target))
        os.makedirs(cache, exist_ok=True)
        shutil.copy2(os.path.join(target, "release", "linkgate"), binary + ".tmp")
        os.replace(binary + ".tmp", binary)
    finally:
        subprocess.run(["git", "-C", ROOT, "worktree", "remove", "--force", src], capture_output=True)
        subprocess.run(["git", "-C", ROOT, "worktree", "prune"], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    return binary, commit


def describe(path, commit=None):
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:12]
    mtime = datetime.datetime.fromtimestamp(os.path.getmtime(path)).strftime("%Y-%m-%d %H:%M")
    return f"{path} (sha256 {digest}, built {mtime}" + (f", commit {commit[:12]})" if commit else ")")


def run_bench(name, binary, a):
    """One run of one benchmark on one binary; returns {metric: value}."""
    fd, out = tempfile.mkstemp(prefix=f"compare-{name}-", suffix=".json")
    os.close(fd)
    try:
        if name == "get":
            cmd = [sys.executable, os.path.join(BENCH, "get_bench.py"), "--servers", "linkgate"]
            if not a.with_1g:
                cmd.append("--skip-1g")
        else:
            cmd = [sys.executable, os.path.join(BENCH, "links_bench.py"), "--rate-limit", str(a.rate_limit)]
        cmd += ["--bin", binary, "--runs", str(a.runs), "--duration", str(a.duration), "--json", out]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
        with open(out) as f:
            report = json.load(f)
    finally:
        os.unlink(out)
    metrics = {}
    med = statistics.median
    if name == "get":
        for cell in report["cells"]:
            add_run_metrics(metrics, f"GET {cell['object']}", "req/s", cell["runs"])
        for big in report["big"]:
            metrics["GET 1GiB seconds ↓"] = med(big["seconds"])
            metrics["GET 1GiB peak RSS MiB ↓"] = max(big["peak_rss_mib"])
    else:
        for link in report["links"]:
            add_run_metrics(metrics, f"{link['link']}:", "redemptions/s", link["runs"])
    return metrics


def add_run_metrics(metrics, label, rate_name, runs):
    """Medians over one cell's wrk runs: rate, p50, p99 and, when every run has it,
    the server's CPU time per request."""
    med = statistics.median
    metrics[f"{label} {rate_name} ↑"] = med(r["rps"] for r in runs)
    metrics[f"{label} p50 ms ↓"] = med(r["p50_ms"] for r in runs)
    metrics[f"{label} p99 ms ↓"] = med(r["p99_ms"] for r in runs)
    if all(r.get("cpu_us_per_req") is not None for r in runs):
        metrics[f"{label} server CPU µs/req ↓"] = med(r["cpu_us_per_req"] for r in runs)


def fmt(v):
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.2f}"


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    old = ap.add_mutually_exclusive_group(required=True)
    old.add_argument("--old", help="the old linkgate binary")
    old.add_argument("--build-old", metavar="REV", help="build git revision REV and use it as the old binary")
    new = ap.add_mutually_exclusive_group()
    new.add_argument("--new", help="the new linkgate binary (default: target/release/linkgate)")
    new.add_argument("--build-new", metavar="REV", help="build git revision REV and use it as the new binary")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5, help="seconds per wrk run (default 5)")
    ap.add_argument("--runs", type=int, default=1, help="wrk runs per cell per round (default 1)")
    ap.add_argument("--benches", default="get,links", help="comma-separated: get, links (default both)")
    ap.add_argument("--with-1g", action="store_true", help="include get_bench's 1 GiB GET (time and peak RSS)")
    ap.add_argument("--rate-limit", type=int, default=0, help="links_bench --rate-limit (default 0: off)")
    ap.add_argument("--json", metavar="PATH", help="write every figure as JSON to PATH")
    a = ap.parse_args()
    benches = [b.strip() for b in a.benches.split(",") if b.strip()]
    if not benches or set(benches) - {"get", "links"}:
        sys.exit("--benches: get, links")
    for tool in ("wrk", "curl"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found: apt-get install wrk curl")

    builds = {}
    for label, path, rev in (("old", a.old, a.build_old), ("new", a.new, a.build_new)):
        commit = None
        if rev:
            path, commit = build_rev(rev)
        elif path is None:
            path = os.path.join(ROOT, "target", "release", "linkgate")
        path = os.path.abspath(path)
        if not os.access(path, os.X_OK):
            sys.exit(f"{label}: {path} is not an executable (cargo build --release -p linkgate, or --{label} PATH)")
        builds[label] = {"path": path, "commit": commit, "desc": describe(path, commit)}

    started = datetime.datetime.now(datetime.timezone.utc)
    load_start = loadavg()
    # figures[bench][build] = [ {metric: value} per round ]
    figures = {b: {"old": [], "new": []} for b in benches}
    t0 = time.time()
    for rnd in range(a.rounds):
        order = ("old", "new") if rnd % 2 == 0 else ("new", "old")
        for bench in benches:
            for label in order:
                m = run_bench(bench, builds[label]["path"], a)
                figures[bench][label].append(m)
                head = next(iter(m.items()))
                print(f"  round {rnd + 1}/{a.rounds} {bench:5} {label}: {head[0]} {fmt(head[1])}  "
                      f"(t={time.time() - t0:.0f}s, load {loadavg()})", file=sys.stderr)
    load_end = loadavg()

    print(f"\n# linkgate: old vs new, {a.rounds} interleaved rounds, {started:%Y-%m-%d %H:%M} UTC\n")
    print(f"- old: {builds['old']['desc']}")
    print(f"- new: {builds['new']['desc']}")
    print(f"- each round: every benchmark on both builds back to back, first build alternating "
          f"(round 1 old first); wrk -t2 -c64 -d{a.duration}s, {a.runs} run(s) per cell per round")
    print(f"- load average (1/5/15 min) at start {load_start}, at end {load_end}; {os.cpu_count()} CPUs")
    titles = {"get": "bench/get_bench.py --servers linkgate" + ("" if a.with_1g else " --skip-1g"),
              "links": f"bench/links_bench.py --rate-limit {a.rate_limit}"}
    for bench in benches:
        print(f"\n## {titles[bench]}\n")
        print("| metric | old median | new median | new/old | old per round | new per round | new/old per round |")
        print("|---|---|---|---|---|---|---|")
        metrics = list(figures[bench]["old"][0])
        for metric in metrics:
            o = [r[metric] for r in figures[bench]["old"]]
            n = [r[metric] for r in figures[bench]["new"]]
            om, nm = statistics.median(o), statistics.median(n)
            ratio = f"**{nm / om:.2f}**" if om else "-"
            per = " · ".join(f"{y / x:.2f}" if x else "-" for x, y in zip(o, n))
            print(f"| {metric} | {fmt(om)} | {fmt(nm)} | {ratio} | {' · '.join(fmt(v) for v in o)} | "
                  f"{' · '.join(fmt(v) for v in n)} | {per} |")
    print("\n↑: higher is better; ↓: lower is better.")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"started": started.isoformat(), "builds": builds, "rounds": a.rounds, "duration": a.duration,
                       "runs": a.runs, "load_start": load_start, "load_end": load_end, "figures": figures}, f, indent=1)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
    except subprocess.CalledProcessError as e:
        sys.exit(f"compare_builds: {e}\n{e.stderr or ''}")
    except RuntimeError as e:
        sys.exit(f"compare_builds: {e}")
