"""End-to-end: broker links made with the `linkgate` CLI against a real `linkgate
serve`, fetched with plain HTTP clients (requests, curl) as their recipients would."""

import hashlib
import json
import shutil
import subprocess
import uuid

import boto3
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from conftest import AK, SK, server_env

# Three wrong passwords ban a client from a link; one redemption a second per
# address (burst 40) so the rate-limit test is quick.
LINKGATE_SERVER_ENV = {
    "LINKGATE_LIMITS__PASSWORD_ATTEMPTS": "3",
    "LINKGATE_LIMITS__LINK_REQUESTS_PER_SECOND": "1",
    "LINKGATE_LIMITS__LINK_BURST": "40",
}


@pytest.fixture(scope="module")
def s3(server):
    return boto3.client("s3", endpoint_url=server.url, aws_access_key_id=AK, aws_secret_access_key=SK,
                        region_name="us-east-1", config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))


@pytest.fixture()
def obj(s3):
    bucket = f"links-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="docs/report.pdf", Body=b"%PDF-1.7 quarterly numbers")
    return bucket, "docs/report.pdf"


def cli(linkgate_bin, aws_env, server, *args, stdin=None):
    proc = subprocess.run([linkgate_bin, "links", *args, "--endpoint-url", server.url, "--json"], env=aws_env,
                          input=stdin, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_one_time_link_from_the_cli_fetched_with_requests(linkgate_bin, aws_env, server, obj):
    bucket, key = obj
    link = cli(linkgate_bin, aws_env, server, "create", f"s3://{bucket}/{key}", "--max-uses", "1", "--filename", "Q3.pdf")
    url = link["url"]
    assert url.startswith(server.url + "/l/")
    assert requests.head(url, timeout=10).status_code == 200, "HEAD takes no use"
    first = requests.get(url, timeout=10)
    assert first.status_code == 200
    assert first.content == b"%PDF-1.7 quarterly numbers"
    assert first.headers["content-disposition"].startswith('attachment; filename="Q3.pdf"')
    second = requests.get(url, timeout=10)
    assert second.status_code == 410
    assert "used up" in second.text
    page = requests.get(url, headers={"accept": "text/html"}, timeout=10)
    assert page.status_code == 410 and "<html" in page.text

    shown = cli(linkgate_bin, aws_env, server, "show", link["id"])
    assert shown["state"] == "exhausted" and shown["uses"] == 1
    assert [a["outcome"] for a in shown["audit"]] == ["head", "granted", "exhausted", "exhausted"]
    assert shown["audit"][1]["bytes"] == len(b"%PDF-1.7 quarterly numbers")
    assert shown["audit"][1]["user_agent"].startswith("python-requests/")


def test_password_link_with_curl_and_requests(linkgate_bin, aws_env, server, obj):
    bucket, key = obj
    body = json.dumps({"bucket": bucket, "key": key, "max_uses": 2, "password": "open sesame"})
    link = admin_post(server, "/-/api/v1/links", body)
    assert link["password"] is True
    url = link["url"]

    r = requests.get(url, timeout=10)
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic")
    assert requests.get(url, headers={"x-linkgate-password": "wrong"}, timeout=10).status_code == 401
    assert requests.get(url, auth=("", "open sesame"), timeout=10).content == b"%PDF-1.7 quarterly numbers"
    if shutil.which("curl"):
        out = subprocess.run(["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", "-u", ":open sesame", url],
                             capture_output=True, timeout=30)
        assert out.stdout.endswith(b"\n200"), out
    else:
        assert requests.get(url, headers={"x-linkgate-password": "open sesame"}, timeout=10).status_code == 200
    assert requests.get(url, auth=("", "open sesame"), timeout=10).status_code == 410

    shown = cli(linkgate_bin, aws_env, server, "show", link["id"])
    assert shown["uses"] == 2, "the wrong password and the refusals took no use"
    assert [a["outcome"] for a in shown["audit"]] == ["password-required", "wrong-password", "granted", "granted", "exhausted"]

    # Three wrong passwords ban this client from this link, even with the right one.
    banned = admin_post(server, "/-/api/v1/links", json.dumps({"bucket": bucket, "key": key, "password": "pw"}))
    for _ in range(3):
        assert requests.get(banned["url"], auth=("", "guess"), timeout=10).status_code == 401
    r = requests.get(banned["url"], auth=("", "pw"), timeout=10)
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0


def test_revocation_from_the_cli_in_bulk(linkgate_bin, aws_env, server, obj):
    bucket, key = obj
    links = [cli(linkgate_bin, aws_env, server, "create", f"s3://{bucket}/{key}", "--group", f"g-{bucket}") for _ in range(3)]
    assert all(requests.get(link["url"], timeout=10).status_code == 200 for link in links)
    revoked = cli(linkgate_bin, aws_env, server, "revoke", "--group", f"g-{bucket}")
    assert revoked["revoked"] == 3
    for link in links:
        r = requests.get(link["url"], timeout=10)
        assert r.status_code == 410 and "revoked" in r.text


def test_rate_limit_answers_429_with_retry_after(server, obj):
    bucket, key = obj
    link = admin_post(server, "/-/api/v1/links", json.dumps({"bucket": bucket, "key": key}))
    statuses = [requests.get(link["url"], timeout=10).status_code for _ in range(60)]
    assert statuses.count(429) > 0, statuses
    assert set(statuses) <= {200, 429}
    refused = requests.get(link["url"], timeout=10)
    if refused.status_code == 429:
        assert int(refused.headers["retry-after"]) >= 1


def admin_post(server, path, body):
    """POST to the admin API, signed with SigV4 (service s3) as any SDK signer does."""
    req = AWSRequest(method="POST", url=server.url + path, data=body, headers={"content-type": "application/json"})
    req.headers["x-amz-content-sha256"] = hashlib.sha256(body.encode()).hexdigest()
    SigV4Auth(Credentials(AK, SK), "s3", "us-east-1").add_auth(req)
    r = requests.post(req.url, data=body, headers=dict(req.headers), timeout=10)
    assert r.status_code == 201, r.text
    return r.json()


def test_access_log_names_the_route_never_the_token(start_server):
    srv = start_server(env=server_env(LINKGATE_ROOT_ACCESS_KEY=AK, LINKGATE_ROOT_SECRET_KEY=SK, LINKGATE_LOG__ACCESS_LOG="true"))
    s3 = boto3.client("s3", endpoint_url=srv.url, aws_access_key_id=AK, aws_secret_access_key=SK, region_name="us-east-1",
                      config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    s3.create_bucket(Bucket="logged")
    s3.put_object(Bucket="logged", Key="k", Body=b"x")
    link = admin_post(srv, "/-/api/v1/links", json.dumps({"bucket": "logged", "key": "k", "password": "correct-horse-battery"}))
    assert requests.get(link["url"], headers={"x-linkgate-password": "correct-horse-battery"}, timeout=10).status_code == 200
    assert requests.get(link["url"], timeout=10).status_code == 401
    srv.stop()
    with open(srv.log_path) as f:
        log = f.read()
    assert log.count("/l/<token>") == 2, log
    assert link["token"] not in log
    assert "correct-horse-battery" not in log
