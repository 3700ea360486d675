#!/usr/bin/env python3
"""Presigned GET throughput: linkgate vs nginx secure_link vs s3s-fs, same run.

Prints a markdown table (req/s, p50, p99 per server and object size, ratios) and
the 1 GiB GET figures (throughput, server peak RSS). Everything runs on loopback;
servers get their own temp dirs and free ports and are stopped at the end.

    .venv/bin/python bench/get_bench.py            # 3 runs of 10 s per cell
    .venv/bin/python bench/get_bench.py --runs 1 --duration 5 --skip-1g
    .venv/bin/python bench/get_bench.py --bin /tmp/old/linkgate --servers linkgate --json out.json

Needs: wrk and nginx (Debian: apt-get install wrk nginx-light), s3s-fs
(cargo install s3s-fs@0.14.1 --features binary --root target/bench-tools), and a
release build of linkgate (built here unless --bin names one). `--servers` picks
which of linkgate, nginx, s3s-fs run (all three by default; nginx and s3s-fs are only
needed when chosen). `--json PATH` also writes the figures as JSON (`-`: stdout,
instead of the tables), for bench/compare_builds.py.
"""

import argparse
import base64
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import boto3
from botocore.config import Config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AK, SK = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SIZES = {"4KiB": 4096, "1MiB": 1 << 20}
SECRET = "bench-secret"


def linkgate_binary(bin_arg):
    """The linkgate binary a benchmark runs: --bin if given, else a fresh release build."""
    if bin_arg:
        path = os.path.abspath(bin_arg)
        if not os.access(path, os.X_OK):
            sys.exit(f"{path}: not an executable")
        return path
    subprocess.run(["cargo", "build", "--release", "--locked", "-p", "linkgate"], cwd=ROOT, check=True)
    return os.path.join(ROOT, "target", "release", "linkgate")


def stop_server(proc, work):
    """Stops a server started in its own process group and removes its data dir."""
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=10)
    shutil.rmtree(work, ignore_errors=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"port {port} did not open")


def s3_client(port):
    return boto3.client(
        "s3", endpoint_url=f"http://127.0.0.1:{port}", aws_access_key_id=AK, aws_secret_access_key=SK,
        region_name="us-east-1", config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )


def cpu_seconds(pid):
    """User + system CPU time of process `pid` (all its threads) so far, seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(url, duration, conns=64, threads=2, pid=None):
    """(req/s, p50 ms, p99 ms, server CPU µs per request or None). The CPU figure
    (given the server's `pid`) is what the server spent, whatever else the machine
    ran: steadier than req/s on a shared machine where wrk competes for the cores."""
    before = cpu_seconds(pid) if pid else None
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{conns}", f"-d{duration}s", "--latency", url],
                         capture_output=True, text=True, check=True).stdout
    cpu = cpu_seconds(pid) - before if pid else None
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    cpu_us = cpu * 1e6 / total if cpu is not None and total else None
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if non2xx:
        raise RuntimeError(f"{non2xx.group(1)} non-2xx responses from {url}:\n{out}")

    def pct(p):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)", out, re.M)
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v

    return rps, pct(50), pct(99), cpu_us


def write_json(path, report):
    """Writes `report` to `path` (`-`: stdout)."""
    if path == "-":
        json.dump(report, sys.stdout, indent=1)
        print()
    else:
        with open(path, "w") as f:
            json.dump(report, f, indent=1)


def peak_rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak(pid):
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def curl_time(url):
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download} %{time_total}", url],
                         capture_output=True, text=True, check=True).stdout.split()
    if out[0] != "200":
        raise RuntimeError(f"curl {url}: HTTP {out[0]}")
    return int(out[1]), float(out[2])


class Servers:
    def __init__(self, work, big):
        self.work, self.procs, self.big = work, [], big
        self.data = os.path.join(work, "files")
        os.makedirs(os.path.join(self.data, "bench"))

    def start(self, args, env=None, port=None):
        log = open(os.path.join(self.work, f"server-{len(self.procs)}.log"), "w")
        p = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self.procs.append(p)
        wait_port(port)
        return p

    def stop(self):
        for p in self.procs:
            try:
                os.killpg(p.pid, signal.SIGTERM)
                p.wait(timeout=10)
            except Exception:
                p.kill()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--skip-1g", action="store_true")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--bin", help="linkgate binary to run (default: build target/release/linkgate)")
    ap.add_argument("--servers", default="linkgate,nginx,s3s-fs",
                    help="comma-separated subset of linkgate,nginx,s3s-fs (default: all three)")
    ap.add_argument("--json", metavar="PATH", help="also write the figures as JSON to PATH (-: stdout, no tables)")
    a = ap.parse_args()
    chosen = {s.strip() for s in a.servers.split(",") if s.strip()}
    if not chosen or chosen - {"linkgate", "nginx", "s3s-fs"}:
        sys.exit(f"--servers: choose among linkgate, nginx, s3s-fs (got {a.servers!r})")
    if "linkgate" not in chosen:
        sys.exit("--servers must include linkgate (the ratios are against it)")
    out = open(os.devnull, "w") if a.json == "-" else sys.stdout

    linkgate = linkgate_binary(a.bin)
    s3s_fs = shutil.which("s3s-fs") or os.path.join(ROOT, "target", "bench-tools", "bin", "s3s-fs")
    for tool in ("wrk", "curl") + (("nginx",) if "nginx" in chosen else ()):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found: apt-get install wrk nginx-light curl")
    if "s3s-fs" in chosen and not os.path.exists(s3s_fs):
        sys.exit("s3s-fs not found: cargo install s3s-fs@0.14.1 --features binary --locked --root target/bench-tools")

    work = tempfile.mkdtemp(prefix="linkgate-bench-")
    srv = Servers(work, not a.skip_1g)
    payloads = {name: os.urandom(size) for name, size in SIZES.items()}
    try:
        # linkgate
        lg_port = free_port()
        env = dict(os.environ, LINKGATE_ROOT_ACCESS_KEY=AK, LINKGATE_ROOT_SECRET_KEY=SK, LINKGATE_LOG="warn")
        lg = srv.start([linkgate, "serve", "--listen", f"127.0.0.1:{lg_port}", "--data-dir", os.path.join(work, "lg")], env, lg_port)
        s3_ports = [(lg_port, "linkgate")]
        # Servers whose CPU time per request is measured (nginx works in child processes).
        server_pids = {"linkgate": lg.pid}
        # s3s-fs
        if "s3s-fs" in chosen:
            fs_port = free_port()
            os.makedirs(os.path.join(work, "s3sfs"))
            fs = srv.start([s3s_fs, "--host", "127.0.0.1", "--port", str(fs_port), "--access-key", AK, "--secret-key", SK,
                            os.path.join(work, "s3sfs")], dict(os.environ, RUST_LOG="error"), fs_port)
            server_pids["s3s-fs"] = fs.pid
            s3_ports.append((fs_port, "s3s-fs"))
        # nginx with secure_link over the same bytes
        if "nginx" in chosen:
            ng_port = free_port()
            conf = os.path.join(work, "nginx.conf")
            with open(conf, "w") as f:
                f.write(f"""user root; worker_processes 1; pid {work}/nginx.pid; error_log {work}/nginx-error.log;
events {{ worker_connections 4096; }}
http {{ access_log off; sendfile on; tcp_nopush on; tcp_nodelay on; keepalive_requests 1000000;
  client_body_temp_path {work}/nb; proxy_temp_path {work}/np; fastcgi_temp_path {work}/nf; uwsgi_temp_path {work}/nu; scgi_temp_path {work}/ns;
  server {{ listen 127.0.0.1:{ng_port}; root {srv.data};
    location /bench/ {{ secure_link $arg_md5,$arg_expires; secure_link_md5 "$secure_link_expires$uri {SECRET}";
      if ($secure_link = "") {{ return 403; }} if ($secure_link = "0") {{ return 410; }} }} }} }}
""")
            ng = srv.start(["nginx", "-c", conf, "-g", "daemon off;"], None, ng_port)

        urls = {}
        expires = int(time.time()) + 86400
        for port, label in s3_ports:
            c = s3_client(port)
            c.create_bucket(Bucket="bench")
            for name, body in payloads.items():
                c.put_object(Bucket="bench", Key=f"object-{name}.bin", Body=body)
                urls[(label, name)] = c.generate_presigned_url("get_object", Params={"Bucket": "bench", "Key": f"object-{name}.bin"}, ExpiresIn=86400)
        for name, body in payloads.items():
            if "nginx" not in chosen:
                break
            uri = f"/bench/object-{name}.bin"
            with open(os.path.join(srv.data, uri.lstrip("/")), "wb") as f:
                f.write(body)
            md5 = base64.urlsafe_b64encode(hashlib.md5(f"{expires}{uri} {SECRET}".encode()).digest()).decode().rstrip("=")
            urls[("nginx secure_link", name)] = f"http://127.0.0.1:{ng_port}{uri}?md5={md5}&expires={expires}"

        servers = [label for key, label in (("linkgate", "linkgate"), ("nginx", "nginx secure_link"), ("s3s-fs", "s3s-fs"))
                   if key in chosen]
        results = {}
        for name in SIZES:
            for label in servers:
                pid = server_pids.get(label)
                runs = [wrk(urls[(label, name)], a.duration, a.connections, pid=pid) for _ in range(a.runs)]
                results[(label, name)] = runs
                print(f"  {label:18} {name:5} " + ", ".join(f"{r[0]:.0f} req/s" for r in runs), file=sys.stderr)

        report = {"bench": "get", "bin": linkgate, "duration": a.duration, "runs": a.runs, "connections": a.connections,
                  "cells": [{"server": label, "object": name,
                             "runs": [{"rps": r[0], "p50_ms": r[1], "p99_ms": r[2], "cpu_us_per_req": r[3]}
                                      for r in results[(label, name)]]}
                            for name in SIZES for label in servers],
                  "big": []}
        print(f"\n## Presigned GET, wrk -t2 -c{a.connections} -d{a.duration}s, {a.runs} run(s), median (min-max)\n", file=out)
        print("| server | object | req/s | p50 ms | p99 ms | linkgate / this |", file=out)
        print("|---|---|---|---|---|---|", file=out)
        for name in SIZES:
            lg_med = statistics.median(r[0] for r in results[("linkgate", name)])
            for label in servers:
                rs = results[(label, name)]
                med = statistics.median(r[0] for r in rs)
                ratio = "" if label == "linkgate" else f"{lg_med / med:.2f}x"
                print(f"| {label} | {name} | {med:,.0f} ({min(r[0] for r in rs):,.0f}-{max(r[0] for r in rs):,.0f}) | "
                      f"{statistics.median(r[1] for r in rs):.2f} | {statistics.median(r[2] for r in rs):.2f} | {ratio} |", file=out)

        if not a.skip_1g:
            gib = 1 << 30
            lgc = s3_client(lg_port)
            big_path = os.path.join(srv.data, "bench", "object-1GiB.bin")
            with open(big_path, "wb") as f:
                chunk = os.urandom(1 << 20)
                for _ in range(1024):
                    f.write(chunk)
            lgc.upload_file(big_path, "bench", "object-1GiB.bin")
            lg_url = lgc.generate_presigned_url("get_object", Params={"Bucket": "bench", "Key": "object-1GiB.bin"}, ExpiresIn=86400)
            measured = [("linkgate", lg_url, None)]
            if "nginx" in chosen:
                uri = "/bench/object-1GiB.bin"
                md5 = base64.urlsafe_b64encode(hashlib.md5(f"{expires}{uri} {SECRET}".encode()).digest()).decode().rstrip("=")
                ng_url = f"http://127.0.0.1:{ng_port}{uri}?md5={md5}&expires={expires}"
                ng_worker = int(subprocess.run(["pgrep", "-P", str(ng.pid)], capture_output=True, text=True).stdout.split()[0])
                measured.append(("nginx secure_link", ng_url, ng_worker))
            # Restart linkgate on the same data so its RSS reflects the GET, not the
            # memory the allocator kept from the load runs and the upload above.
            os.killpg(lg.pid, signal.SIGTERM)
            lg.wait(timeout=10)
            lg = srv.start([linkgate, "serve", "--listen", f"127.0.0.1:{lg_port}", "--data-dir", os.path.join(work, "lg")], env, lg_port)
            rows = []
            for label, url, pid in measured:
                pid = pid or lg.pid
                times, rss = [], []
                for _ in range(a.runs):
                    reset_peak(pid)
                    size, t = curl_time(url)
                    assert size == gib, size
                    times.append(t)
                    rss.append(peak_rss_mb(pid))
                rows.append((label, statistics.median(times), min(times), max(times), max(rss)))
                report["big"].append({"server": label, "seconds": times, "peak_rss_mib": rss})
            print(f"\n## 1 GiB presigned GET (curl to /dev/null), {a.runs} run(s)\n", file=out)
            print("| server | seconds median (min-max) | GB/s | peak RSS MiB | linkgate / this |", file=out)
            print("|---|---|---|---|---|", file=out)
            for label, med, lo, hi, rss in rows:
                ratio = "" if label == "linkgate" else f"{med and rows[0][1] and (med / rows[0][1]):.2f}x"
                print(f"| {label} | {med:.3f} ({lo:.3f}-{hi:.3f}) | {gib / med / 1e9:.2f} | {rss:.1f} | {ratio} |", file=out)
        if a.json:
            write_json(a.json, report)
    finally:
        srv.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
