#!/usr/bin/env python3
"""CPU instructions per request, counted by valgrind's callgrind: old build vs new.

Wall-clock benchmarks on this 2-core VM move by ±10 % from run to run (see
docs/benchmarks.md); an instruction count does not. For each build and each
request kind, this starts `linkgate serve` under callgrind with instrumentation
off, sets up a bucket, a 4 KiB object and a link, warms up with 200 requests,
then counts the instructions of every thread (workers, the SQLite committer,
housekeeping) over `--requests` sequential keep-alive requests and divides.

    .venv/bin/python bench/instructions_per_request.py --old target/compare-builds/<commit>/linkgate --new target/release/linkgate
    .venv/bin/python bench/instructions_per_request.py --new target/release/linkgate --kinds get

Kinds: `get` (presigned S3 GET of the object), `link` (GET /l/{token} of a link
without use limit), `max_uses` (a link with max_uses: a durable use and audit
row per request). Needs valgrind (Debian's `valgrind`). SHA-256 runs in
software under valgrind (no SHA extensions), so signing weighs more than on the
real CPU; compare builds with each other, not with wall-clock figures. The
callgrind files stay in the temp dir printed at the end, for
`callgrind_annotate`.
"""

import argparse
import http.client
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from get_bench import AK, SK, free_port, wait_port  # noqa: E402
from links_bench import create_link  # noqa: E402

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402

KINDS = ("get", "link", "max_uses")


def count(binary, kind, requests, out_dir, label):
    """Instructions per request of `kind` on `binary`."""
    work = tempfile.mkdtemp(prefix="linkgate-callgrind-", dir=out_dir)
    port = free_port()
    env = dict(os.environ, LINKGATE_ROOT_ACCESS_KEY=AK, LINKGATE_ROOT_SECRET_KEY=SK, LINKGATE_LOG="warn",
               LINKGATE_LIMITS__LINK_REQUESTS_PER_SECOND="0", LINKGATE_LIMITS__LINK_BURST="0")
    out = os.path.join(out_dir, f"callgrind.{label}.{kind}.out")
    proc = subprocess.Popen(["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
                             binary, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", os.path.join(work, "data")],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, 120)
        endpoint = f"http://127.0.0.1:{port}"
        s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=AK, aws_secret_access_key=SK, region_name="us-east-1",
                          config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
        s3.create_bucket(Bucket="bench")
        s3.put_object(Bucket="bench", Key="object-4KiB.bin", Body=os.urandom(4096))
        spec = {"bucket": "bench", "key": "object-4KiB.bin", "expires_in": 86400}
        if kind == "get":
            url = s3.generate_presigned_url("get_object", Params={"Bucket": "bench", "Key": "object-4KiB.bin"}, ExpiresIn=3600)
        else:
            if kind == "max_uses":
                spec["max_uses"] = 10_000_000
            url = create_link(endpoint, spec)["url"]
        parts = urllib.parse.urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

        def go(n):
            for _ in range(n):
                conn.request("GET", path)
                r = conn.getresponse()
                r.read()
                if r.status != 200:
                    raise RuntimeError(f"{kind}: status {r.status}")

        go(200)
        subprocess.run(["callgrind_control", "-i", "on", str(proc.pid)], check=True, capture_output=True)
        go(requests)
        # Let write-behind flush what these requests buffered (every 200 ms).
        time.sleep(0.5)
        subprocess.run(["callgrind_control", "-i", "off", str(proc.pid)], check=True, capture_output=True)
    finally:
        proc.terminate()
        proc.wait(120)
    with open(out) as f:
        total = next(int(line.split()[1]) for line in f if line.startswith("totals:"))
    return total / requests


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", help="the old build's binary (optional)")
    ap.add_argument("--new", default="target/release/linkgate")
    ap.add_argument("--kinds", default=",".join(KINDS), help=f"comma-separated, of {', '.join(KINDS)}")
    ap.add_argument("--requests", type=int, default=2000)
    a = ap.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (apt-get install valgrind)")
    kinds = [k for k in a.kinds.split(",") if k]
    out_dir = tempfile.mkdtemp(prefix="linkgate-instructions-")
    builds = [("old", a.old)] if a.old else []
    builds.append(("new", a.new))
    figures = {}
    for kind in kinds:
        for label, binary in builds:
            figures[(label, kind)] = count(binary, kind, a.requests, out_dir, label)
            print(f"  {label} {kind}: {figures[(label, kind)]:,.0f} instructions/request", file=sys.stderr)
    print(f"\n## Instructions per request (callgrind, {a.requests:,} sequential keep-alive requests each)\n")
    if a.old:
        print(f"- old: {a.old}\n- new: {a.new}\n")
        print("| request | old | new | new/old |")
        print("|---|---|---|---|")
        for kind in kinds:
            old, new = figures[("old", kind)], figures[("new", kind)]
            print(f"| {kind} | {old:,.0f} | {new:,.0f} | **{new / old:.3f}** |")
    else:
        print(f"- build: {a.new}\n")
        print("| request | instructions |")
        print("|---|---|")
        for kind in kinds:
            print(f"| {kind} | {figures[('new', kind)]:,.0f} |")
    print(f"\ncallgrind files: {out_dir}", file=sys.stderr)


if __name__ == "__main__":
    main()
