"""`linkgate serve` against the AWS CLI (v1): s3 high-level commands, s3api, presign."""

import hashlib
import json
import os
import time
import uuid
import xml.etree.ElementTree as ET

import pytest
import requests

from conftest import AK

MiB = 1024 * 1024


@pytest.fixture()
def bucket(aws):
    name = f"cli-{uuid.uuid4().hex[:12]}"
    out = aws("s3", "mb", f"s3://{name}").stdout
    assert out.strip() == f"make_bucket: {name}"
    return name


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(MiB), b""):
            h.update(block)
    return h.hexdigest()


def error_code(resp):
    root = ET.fromstring(resp.content)
    return {c.tag: c.text or "" for c in root}


def test_cp_large_file_up_and_down(aws, bucket, tmp_path):
    src = tmp_path / "big.bin"
    with open(src, "wb") as f:
        for _ in range(50):
            f.write(os.urandom(MiB))
    aws("s3", "cp", str(src), f"s3://{bucket}/data/big file.bin", "--only-show-errors")

    listing = aws("s3", "ls", "--recursive", f"s3://{bucket}").stdout
    lines = listing.strip().splitlines()
    assert len(lines) == 1, listing
    assert lines[0].split(None, 3)[2:] == [str(50 * MiB), "data/big file.bin"], listing

    head = json.loads(aws("s3api", "head-object", "--bucket", bucket, "--key", "data/big file.bin").stdout)
    assert head["ContentLength"] == 50 * MiB
    assert head["ETag"].endswith('-7"'), head  # the CLI's 8 MiB parts

    dst = tmp_path / "back.bin"
    aws("s3", "cp", f"s3://{bucket}/data/big file.bin", str(dst), "--only-show-errors")
    assert sha256_file(dst) == sha256_file(src)

    aws("s3", "rm", f"s3://{bucket}/data/big file.bin", "--only-show-errors")
    gone = aws("s3api", "head-object", "--bucket", bucket, "--key", "data/big file.bin", check=False)
    assert gone.returncode != 0
    assert "404" in gone.stderr and "Not Found" in gone.stderr, gone.stderr
    assert aws("s3", "ls", "--recursive", f"s3://{bucket}").stdout == ""


def test_head_object_metadata(aws, bucket, tmp_path):
    src = tmp_path / "page.html"
    src.write_bytes(b"<h1>hi</h1>")
    aws("s3", "cp", str(src), f"s3://{bucket}/site/page.html", "--only-show-errors",
        "--content-type", "text/html", "--metadata", "owner=e2e")
    head = json.loads(aws("s3api", "head-object", "--bucket", bucket, "--key", "site/page.html").stdout)
    assert head["ContentLength"] == 11
    assert head["ContentType"] == "text/html"
    assert head["Metadata"] == {"owner": "e2e"}
    assert head["ETag"] == '"%s"' % hashlib.md5(b"<h1>hi</h1>").hexdigest()
    listed = json.loads(aws("s3api", "list-objects-v2", "--bucket", bucket).stdout)
    assert [(o["Key"], o["Size"]) for o in listed["Contents"]] == [("site/page.html", 11)]


def test_presign_legacy_sigv2(aws, bucket, tmp_path):
    src = tmp_path / "note.txt"
    src.write_bytes(b"presigned by the AWS CLI")
    aws("s3", "cp", str(src), f"s3://{bucket}/notes/my note+1.txt", "--only-show-errors")
    url = aws("s3", "presign", f"s3://{bucket}/notes/my note+1.txt", "--expires-in", "300").stdout.strip()
    # AWS CLI v1 presigns with SigV2 on custom endpoints.
    assert "AWSAccessKeyId=" + AK in url and "Signature=" in url and "X-Amz-" not in url, url
    resp = requests.get(url, timeout=60)
    assert resp.status_code == 200, resp.text
    assert resp.content == b"presigned by the AWS CLI"

    tampered = url.replace("Expires=", "Expires=1")
    resp = requests.get(tampered, timeout=60)
    assert resp.status_code == 403, resp.text
    assert error_code(resp)["Code"] == "SignatureDoesNotMatch"

    short = aws("s3", "presign", f"s3://{bucket}/notes/my note+1.txt", "--expires-in", "1").stdout.strip()
    time.sleep(2.1)
    resp = requests.get(short, timeout=60)
    assert resp.status_code == 403, resp.text
    err = error_code(resp)
    assert (err["Code"], err["Message"]) == ("AccessDenied", "Request has expired")
    assert "Expires" in err and "ServerTime" in err


def test_presign_sigv4_from_config(aws, aws_env, bucket, tmp_path):
    with open(aws_env["AWS_CONFIG_FILE"], "w") as f:
        f.write("[default]\ns3 =\n    signature_version = s3v4\n")
    src = tmp_path / "v4.txt"
    src.write_bytes(b"sigv4 presign")
    aws("s3", "cp", str(src), f"s3://{bucket}/ünï/v4 file.txt", "--only-show-errors")
    url = aws("s3", "presign", f"s3://{bucket}/ünï/v4 file.txt", "--expires-in", "604800").stdout.strip()
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url and "X-Amz-Expires=604800" in url, url
    resp = requests.get(url, timeout=60)
    assert resp.status_code == 200, resp.text
    assert resp.content == b"sigv4 presign"


def test_sync_directory(aws, bucket, tmp_path):
    src = tmp_path / "site"
    files = {
        "index.html": b"<html>index</html>",
        "about.html": b"<html>about</html>",
        "css/main.css": b"body { color: red }",
        "img/logo one.svg": b"<svg/>",
        "docs/deep/ünï.txt": "ünïcödé".encode(),
    }
    for rel, data in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)

    first = aws("s3", "sync", str(src), f"s3://{bucket}/www", "--no-progress").stdout
    assert first.count("upload:") == 5, first
    listing = aws("s3", "ls", "--recursive", f"s3://{bucket}/www/").stdout.splitlines()
    seen = {line.split(None, 3)[3]: int(line.split(None, 3)[2]) for line in listing}
    assert seen == {f"www/{rel}": len(data) for rel, data in files.items()}

    again = aws("s3", "sync", str(src), f"s3://{bucket}/www", "--no-progress").stdout
    assert "upload:" not in again, again

    (src / "css/main.css").write_bytes(b"body { color: blue; margin: 0 }")
    (src / "about.html").unlink()
    changed = aws("s3", "sync", str(src), f"s3://{bucket}/www", "--no-progress", "--delete").stdout
    assert changed.count("upload:") == 1 and "css/main.css" in changed, changed
    assert changed.count("delete:") == 1 and "about.html" in changed, changed

    down = tmp_path / "down"
    aws("s3", "sync", f"s3://{bucket}/www", str(down), "--only-show-errors")
    got = {str(p.relative_to(down)): p.read_bytes() for p in down.rglob("*") if p.is_file()}
    want = {str(p.relative_to(src)): p.read_bytes() for p in src.rglob("*") if p.is_file()}
    assert got == want


def test_rb_force(aws, bucket, tmp_path):
    for i in range(3):
        (tmp_path / f"f{i}.txt").write_bytes(b"x" * i)
    aws("s3", "cp", str(tmp_path), f"s3://{bucket}/d", "--recursive", "--only-show-errors")
    assert len(aws("s3", "ls", "--recursive", f"s3://{bucket}").stdout.splitlines()) == 3

    not_empty = aws("s3", "rb", f"s3://{bucket}", check=False)
    assert not_empty.returncode != 0 and "BucketNotEmpty" in not_empty.stderr, not_empty.stderr

    out = aws("s3", "rb", f"s3://{bucket}", "--force").stdout
    assert f"remove_bucket: {bucket}" in out, out
    assert bucket not in aws("s3", "ls").stdout
    head = aws("s3api", "head-bucket", "--bucket", bucket, check=False)
    assert head.returncode != 0 and "404" in head.stderr, head.stderr


def test_rb_force_after_an_interrupted_multipart_upload(aws, bucket):
    """`aws s3 rb --force` after an upload that never completed: the bucket used
    to stay (409 BucketNotEmpty with nothing listed); S3 discards the upload."""
    started = json.loads(aws("s3api", "create-multipart-upload", "--bucket", bucket, "--key", "big.iso").stdout)
    listed = json.loads(aws("s3api", "list-multipart-uploads", "--bucket", bucket).stdout)
    assert [(u["Key"], u["UploadId"]) for u in listed["Uploads"]] == [("big.iso", started["UploadId"])]
    out = aws("s3", "rb", f"s3://{bucket}", "--force").stdout
    assert f"remove_bucket: {bucket}" in out, out
    assert bucket not in aws("s3", "ls").stdout


def test_s3_to_s3_cp_and_mv(aws, bucket, tmp_path):
    """`aws s3 cp s3://… s3://…` and `aws s3 mv` (CopyObject; 501 before)."""
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(300_000))
    aws("s3", "cp", str(src), f"s3://{bucket}/orig.bin", "--only-show-errors")
    aws("s3", "cp", f"s3://{bucket}/orig.bin", f"s3://{bucket}/copy.bin", "--only-show-errors")
    aws("s3", "mv", f"s3://{bucket}/copy.bin", f"s3://{bucket}/moved/copy.bin", "--only-show-errors")
    listed = aws("s3", "ls", "--recursive", f"s3://{bucket}").stdout
    assert "orig.bin" in listed and "moved/copy.bin" in listed and " copy.bin" not in listed, listed
    back = tmp_path / "back.bin"
    aws("s3", "cp", f"s3://{bucket}/moved/copy.bin", str(back), "--only-show-errors")
    assert back.read_bytes() == src.read_bytes()
