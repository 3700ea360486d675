#!/usr/bin/env python3
"""Broker-link redemptions per second: GET /l/{token} streaming a 4 KiB object.

One linkgate server (embedded store), one link without a use limit (its uses are
counted write-behind; every redemption reads the link afresh and writes an audit
row), and one with max_uses large enough for the run (every redemption takes a use
atomically and durably before the first byte); wrk -t2 -c64 on each.

    .venv/bin/python bench/links_bench.py [--runs 3] [--duration 10] [--rate-limit N]
    .venv/bin/python bench/links_bench.py --bin /tmp/old/linkgate --json out.json

`--bin` runs that binary instead of building target/release/linkgate; `--json PATH`
also writes the figures as JSON (`-`: stdout, instead of the table), for
bench/compare_builds.py.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from get_bench import AK, SK, free_port, linkgate_binary, stop_server, wait_port, wrk, write_json  # noqa: E402


def create_link(endpoint, spec):
    body = json.dumps(spec)
    req = AWSRequest(method="POST", url=f"{endpoint}/-/api/v1/links", data=body,
                     headers={"content-type": "application/json"})
    req.headers["x-amz-content-sha256"] = __import__("hashlib").sha256(body.encode()).hexdigest()
    SigV4Auth(Credentials(AK, SK), "s3", "us-east-1").add_auth(req)
    r = requests.post(req.url, data=body, headers=dict(req.headers), timeout=10)
    r.raise_for_status()
    return r.json()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--rate-limit", type=int, default=0,
                    help="limits.link_requests_per_second (0: off); a huge value measures the limiter's own cost")
    ap.add_argument("--bin", help="linkgate binary to run (default: build target/release/linkgate)")
    ap.add_argument("--json", metavar="PATH", help="also write the figures as JSON to PATH (-: stdout, no table)")
    a = ap.parse_args()
    out = open(os.devnull, "w") if a.json == "-" else sys.stdout
    linkgate = linkgate_binary(a.bin)
    work = tempfile.mkdtemp(prefix="linkgate-links-bench-")
    port = free_port()
    # One wrk process is one client address: the per-address rate limit (default
    # 100/s) is off unless --rate-limit says otherwise, so the bench measures
    # redemption itself.
    env = dict(os.environ, LINKGATE_ROOT_ACCESS_KEY=AK, LINKGATE_ROOT_SECRET_KEY=SK, LINKGATE_LOG="warn",
               LINKGATE_LIMITS__LINK_REQUESTS_PER_SECOND=str(a.rate_limit),
               LINKGATE_LIMITS__LINK_BURST=str(a.rate_limit))
    proc = subprocess.Popen([linkgate, "serve", "--listen", f"127.0.0.1:{port}",
                             "--data-dir", os.path.join(work, "data")], env=env, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_port(port)
        endpoint = f"http://127.0.0.1:{port}"
        s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=AK, aws_secret_access_key=SK, region_name="us-east-1",
                          config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
        s3.create_bucket(Bucket="bench")
        s3.put_object(Bucket="bench", Key="object-4KiB.bin", Body=os.urandom(4096))
        links = {
            "no use limit": create_link(endpoint, {"bucket": "bench", "key": "object-4KiB.bin", "expires_in": 86400}),
            "max_uses 10,000,000": create_link(endpoint, {"bucket": "bench", "key": "object-4KiB.bin", "expires_in": 86400,
                                                          "max_uses": 10_000_000}),
        }
        results = {}
        for label, link in links.items():
            results[label] = [wrk(link["url"], a.duration, pid=proc.pid) for _ in range(a.runs)]
            print(f"  {label}: " + ", ".join(f"{r[0]:.0f}" for r in results[label]), file=sys.stderr)
        limiter = f"rate limit {a.rate_limit:,}/s per address" if a.rate_limit else "rate limit off"
        print(f"\n## Link redemptions, GET /l/{{token}} 4 KiB stream, wrk -t2 -c64 -d{a.duration}s, {a.runs} run(s), {limiter}\n",
              file=out)
        print("| link | redemptions/s median (min-max) | p50 ms | p99 ms |", file=out)
        print("|---|---|---|---|", file=out)
        for label, rs in results.items():
            print(f"| {label} | {statistics.median(r[0] for r in rs):,.0f} ({min(r[0] for r in rs):,.0f}-{max(r[0] for r in rs):,.0f}) | "
                  f"{statistics.median(r[1] for r in rs):.2f} | {statistics.median(r[2] for r in rs):.2f} |", file=out)
        if a.json:
            write_json(a.json, {"bench": "links", "bin": linkgate, "duration": a.duration, "runs": a.runs,
                                "rate_limit": a.rate_limit,
                                "links": [{"link": label, "runs": [{"rps": r[0], "p50_ms": r[1], "p99_ms": r[2], "cpu_us_per_req": r[3]}
                                                                     for r in rs]}
                                          for label, rs in results.items()]})
    finally:
        stop_server(proc, work)


if __name__ == "__main__":
    main()
