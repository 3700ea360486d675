#!/usr/bin/env python3
"""The cost of access-time evaluation on the presigned GET path.

Same server, same 4 KiB object, same wrk load; two presigned URLs:
- signed by root (no policy to evaluate: root may do everything),
- signed by a user whose access key, session-free, is resolved and whose IAM
  policy (3 statements: Allow s3:GetObject on the bucket, a Deny on another prefix,
  an IpAddress condition) is evaluated on every request.

    .venv/bin/python bench/policy_bench.py [--runs 3] [--duration 10]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

import boto3
from botocore.config import Config

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from get_bench import AK, SK, ROOT, free_port, stop_server, wait_port, wrk  # noqa: E402

POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bench/*",
         "Condition": {"IpAddress": {"aws:SourceIp": ["127.0.0.0/8", "::1/128"]}}},
        {"Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::bench/private/*"},
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::bench"},
    ],
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10)
    a = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--locked", "-p", "linkgate"], cwd=ROOT, check=True)
    work = tempfile.mkdtemp(prefix="linkgate-policy-bench-")
    port = free_port()
    env = dict(os.environ, LINKGATE_ROOT_ACCESS_KEY=AK, LINKGATE_ROOT_SECRET_KEY=SK, LINKGATE_LOG="warn")
    proc = subprocess.Popen([os.path.join(ROOT, "target", "release", "linkgate"), "serve", "--listen", f"127.0.0.1:{port}",
                             "--data-dir", os.path.join(work, "data")], env=env, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_port(port)
        endpoint = f"http://127.0.0.1:{port}"
        kw = dict(endpoint_url=endpoint, region_name="us-east-1")
        cfg = Config(signature_version="s3v4", s3={"addressing_style": "path"})
        root_s3 = boto3.client("s3", aws_access_key_id=AK, aws_secret_access_key=SK, config=cfg, **kw)
        iam = boto3.client("iam", aws_access_key_id=AK, aws_secret_access_key=SK, **kw)
        root_s3.create_bucket(Bucket="bench")
        root_s3.put_object(Bucket="bench", Key="object-4KiB.bin", Body=os.urandom(4096))
        iam.create_user(UserName="reader")
        iam.put_user_policy(UserName="reader", PolicyName="read", PolicyDocument=json.dumps(POLICY))
        key = iam.create_access_key(UserName="reader")["AccessKey"]
        user_s3 = boto3.client("s3", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"], config=cfg, **kw)
        params = {"Bucket": "bench", "Key": "object-4KiB.bin"}
        urls = {
            "root (no policy check)": root_s3.generate_presigned_url("get_object", Params=params, ExpiresIn=86400),
            "user (key lookup + policy)": user_s3.generate_presigned_url("get_object", Params=params, ExpiresIn=86400),
        }
        results = {}
        for label, url in urls.items():
            results[label] = [wrk(url, a.duration) for _ in range(a.runs)]
            print(f"  {label}: " + ", ".join(f"{r[0]:.0f}" for r in results[label]), file=sys.stderr)
        print(f"\n## Access-time evaluation, presigned GET 4 KiB, wrk -t2 -c64 -d{a.duration}s, {a.runs} run(s)\n")
        print("| URL signed by | req/s median (min-max) | p50 ms | p99 ms |")
        print("|---|---|---|---|")
        meds = {}
        for label, rs in results.items():
            meds[label] = statistics.median(r[0] for r in rs)
            print(f"| {label} | {meds[label]:,.0f} ({min(r[0] for r in rs):,.0f}-{max(r[0] for r in rs):,.0f}) | "
                  f"{statistics.median(r[1] for r in rs):.2f} | {statistics.median(r[2] for r in rs):.2f} |")
        a_, b_ = list(meds.values())
        print(f"\nuser / root throughput: {b_ / a_:.2f}x")
    finally:
        stop_server(proc, work)


if __name__ == "__main__":
    main()
