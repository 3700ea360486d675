"""linkgate presign / explain against boto3 and the AWS CLI, the real clients."""

import json
import subprocess
import sys
import urllib.parse

import boto3
from botocore.config import Config

from conftest import AK, SK


def amz_date(url):
    return urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["X-Amz-Date"][0]


def boto3_client(endpoint=None, style="path", region="us-east-1"):
    return boto3.client(
        "s3",
        aws_access_key_id=AK,
        aws_secret_access_key=SK,
        region_name=region,
        endpoint_url=endpoint,
        config=Config(signature_version="s3v4", s3={"addressing_style": style}),
    )


def test_matches_boto3_generate_presigned_url(run):
    key = "dir/a b+c~d/ünï😀.txt"
    s3 = boto3_client("http://127.0.0.1:8420")
    expected = s3.generate_presigned_url(
        "get_object",
        Params={"Bucket": "bkt", "Key": key, "ResponseContentDisposition": 'attachment; filename="x.txt"'},
        ExpiresIn=900,
    )
    out = run(
        "presign", f"s3://bkt/{key}", "--endpoint-url", "http://127.0.0.1:8420", "--expires-in", "900",
        "--response-content-disposition", 'attachment; filename="x.txt"', "--signing-time", amz_date(expected),
    )
    assert out.stdout.strip() == expected


def test_matches_boto3_put_with_signed_content_type(run):
    s3 = boto3_client("http://localhost:9000")
    expected = s3.generate_presigned_url(
        "put_object", Params={"Bucket": "up", "Key": "f.pdf", "ContentType": "application/pdf"}, ExpiresIn=60
    )
    out = run(
        "presign", "s3://up/f.pdf", "--method", "PUT", "--endpoint-url", "http://localhost:9000", "--expires-in", "60",
        "--header", "Content-Type: application/pdf", "--signing-time", amz_date(expected),
    )
    assert out.stdout.strip() == expected


def test_matches_aws_cli_presign_and_explain_verifies_it(run, aws_env):
    # AWS CLI v1 presigns with SigV2 on custom endpoints unless told otherwise.
    with open(aws_env["AWS_CONFIG_FILE"], "w") as f:
        f.write("[default]\ns3 =\n    signature_version = s3v4\n")
    url = subprocess.run(
        [sys.executable, "-m", "awscli", "s3", "presign", "s3://bkt/some key.bin", "--expires-in", "604800",
         "--endpoint-url", "http://127.0.0.1:8420"],
        env=aws_env, capture_output=True, text=True, check=True, timeout=60,
    ).stdout.strip()
    ours = run("presign", "s3://bkt/some key.bin", "--expires-in", "604800", "--endpoint-url", "http://127.0.0.1:8420",
               "--signing-time", amz_date(url)).stdout.strip()
    assert ours == url
    explained = json.loads(run("explain", url, "--json").stdout)
    assert explained["service"] == "s3"
    assert explained["access_key"] == AK
    assert explained["credential_type"] == "long-term"
    assert explained["status"] == "valid"
    assert explained["expires_in"] == 604800
    assert explained["signature"]["result"] == "verified", explained


def test_explain_recognises_legacy_sigv2_urls(run, aws_env):
    url = subprocess.run(
        [sys.executable, "-m", "awscli", "s3", "presign", "s3://bkt/k", "--expires-in", "600",
         "--endpoint-url", "http://127.0.0.1:8420"],
        env=aws_env, capture_output=True, text=True, check=True, timeout=60,
    ).stdout.strip()
    assert "AWSAccessKeyId=" in url
    out = json.loads(run("explain", url, "--json").stdout)
    assert out["signature_version"] == "2"
    assert out["access_key"] == AK
    assert out["status"] == "valid"
    assert 500 < out["seconds_left"] <= 600


def test_explain_shows_mismatch_with_canonical_request(run):
    url = boto3_client("http://127.0.0.1:8420").generate_presigned_url(
        "get_object", Params={"Bucket": "bkt", "Key": "k"}, ExpiresIn=300
    )
    tampered = url.replace("/bkt/k?", "/bkt/K?")
    out = json.loads(run("explain", tampered, "--json").stdout)
    assert out["signature"]["result"] == "mismatch"
    assert out["signature"]["canonical_request"].startswith("GET\n/bkt/K\n")
    text = run("explain", tampered).stdout
    assert "Canonical request:" in text and "String to sign:" in text


def test_explain_reports_expiry_and_malformed(run):
    url = boto3_client("http://127.0.0.1:8420").generate_presigned_url(
        "get_object", Params={"Bucket": "bkt", "Key": "k"}, ExpiresIn=60
    )
    late = run("explain", url, "--json", "--now", "2099-01-01T00:00:00Z", "--no-verify")
    assert json.loads(late.stdout)["status"] == "expired"
    broken = url.replace("X-Amz-Expires=60", "X-Amz-Expires=soon")
    out = json.loads(run("explain", broken, "--json", "--no-verify").stdout)
    assert out["status"] == "malformed"
    assert any("X-Amz-Expires should be a number" in p for p in out["problems"])


def test_refuses_expires_out_of_range(run):
    for bad in ("0", "604801", "-5"):
        proc = run("presign", "s3://b/k", "--expires-in", bad, check=False)
        assert proc.returncode == 2
        assert "between 1 and 604800" in proc.stderr


def test_warns_and_strict_fails_when_session_expires_first(run, aws_env):
    env = dict(aws_env, AWS_ACCESS_KEY_ID="ASIAIOSFODNN7EXAMPLE", AWS_SESSION_TOKEN="tok",
               AWS_CREDENTIAL_EXPIRATION="2030-01-01T01:00:00Z")
    args = ["presign", "s3://b/k", "--expires-in", "7200", "--signing-time", "2030-01-01T00:30:00Z"]
    proc = run(*args, env=env)
    assert "X-Amz-Security-Token=tok" in proc.stdout
    assert "expire at 2030-01-01T01:00:00Z" in proc.stderr
    assert "in 30 min" in proc.stderr
    out = json.loads(run(*args, "--json", env=env).stdout)
    assert out["effective_expires_at"] == "2030-01-01T01:00:00Z"
    assert out["expires_at"] == "2030-01-01T02:30:00Z"
    strict = run(*args, "--strict", env=env, check=False)
    assert strict.returncode == 1 and "--strict" in strict.stderr
    assert run("presign", "s3://b/k", "--expires-in", "600", "--signing-time", "2030-01-01T00:30:00Z",
               "--strict", env=env).returncode == 0


def test_execute_api_url_and_window_note(run):
    proc = run("presign", "--url", "https://abc123.execute-api.eu-west-1.amazonaws.com/prod/items?id=7",
               "--expires-in", "300")
    url = proc.stdout.strip()
    assert "eu-west-1%2Fexecute-api%2Faws4_request" in url
    assert "does not honour X-Amz-Expires" in proc.stderr
    explained = json.loads(run("explain", url, "--json").stdout)
    assert explained["expires_honoured"] is False
    assert explained["signature"]["result"] == "verified"


def test_profile_credentials_are_used(run, aws_env):
    env = {k: v for k, v in aws_env.items() if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    with open(env["AWS_SHARED_CREDENTIALS_FILE"], "w") as f:
        f.write("[work]\naws_access_key_id = AKIAWORKEXAMPLE00001\naws_secret_access_key = secret/work+key\n")
    out = run("presign", "s3://b/k", "--profile", "work", env=env).stdout
    assert "AKIAWORKEXAMPLE00001%2F" in out
    missing = run("presign", "s3://b/k", "--profile", "nope", env=env, check=False)
    assert missing.returncode != 0 and "nope" in missing.stderr
