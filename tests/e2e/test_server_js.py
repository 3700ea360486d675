"""The AWS SDK for JavaScript v3 (installed by the test command into
tests/e2e/js with `npm ci` when Node.js is present): CopyObjectCommand and a
lib-storage multipart Upload, with composite and FULL_OBJECT CRC32 checksums."""

import os
import shutil
import subprocess
import uuid

import boto3
import pytest
from botocore.config import Config

from conftest import AK, SK

JS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "js")


def test_js_sdk_copy_object_and_lib_storage_upload(server):
    node = shutil.which("node")
    if not node or not os.path.isdir(os.path.join(JS_DIR, "node_modules", "@aws-sdk", "client-s3")):
        pytest.skip("Node.js or tests/e2e/js/node_modules missing (scripts/test runs `npm ci` there when npm is present)")
    s3 = boto3.client("s3", endpoint_url=server.url, aws_access_key_id=AK, aws_secret_access_key=SK,
                      region_name="us-east-1", config=Config(s3={"addressing_style": "path"}))
    bucket = f"js-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(LINKGATE_URL=server.url, BUCKET=bucket, AK=AK, SK=SK)
    proc = subprocess.run([node, "copy_and_upload.mjs"], cwd=JS_DIR, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}"
    assert "js ok" in proc.stdout
    assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]) == ["big.bin", "dst.txt", "full.bin", "src.txt"]
    # botocore agrees: the FULL_OBJECT CRC32 is the whole object's, validated on GET.
    head = s3.head_object(Bucket=bucket, Key="full.bin", ChecksumMode="ENABLED")
    assert head["ChecksumType"] == "FULL_OBJECT" and head["ChecksumCRC32"], head
    got = s3.get_object(Bucket=bucket, Key="full.bin", ChecksumMode="ENABLED")
    assert len(got["Body"].read()) == 12 * 1024 * 1024
