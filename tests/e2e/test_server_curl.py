"""curl's own SigV4 signer (`--aws-sigv4`) against the S3 API, as docs/api.md
describes it: it works with `x-amz-content-sha256`, and without that header the
answer is S3's 400 InvalidRequest naming it."""

import shutil
import subprocess
import uuid

import pytest

from conftest import AK, SK


def curl(server, path, *args):
    """(status, body) of one curl --aws-sigv4 request."""
    cmd = ["curl", "-sS", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user", f"{AK}:{SK}",
           "-o", "-", "-w", "\n%{http_code}", *args, f"{server.url}{path}"]
    out = subprocess.run(cmd, capture_output=True, timeout=60, check=True).stdout
    body, _, status = out.rpartition(b"\n")
    return int(status), body


def test_curl_aws_sigv4_needs_x_amz_content_sha256_on_s3_paths(server, tmp_path):
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    unsigned = ["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"]
    bucket = f"curl-{uuid.uuid4().hex[:12]}"
    assert curl(server, f"/{bucket}", "-X", "PUT", *unsigned)[0] == 200
    src = tmp_path / "hello.txt"
    src.write_bytes(b"hello from curl\n")
    assert curl(server, f"/{bucket}/hello.txt", "-T", str(src), *unsigned)[0] == 200
    assert curl(server, f"/{bucket}/hello.txt", *unsigned) == (200, b"hello from curl\n")

    status, body = curl(server, f"/{bucket}/hello.txt")
    assert status == 400, body
    assert b"<Code>InvalidRequest</Code>" in body
    assert b"<Message>Missing required header for this request: x-amz-content-sha256</Message>" in body
