"""Identities end to end: users, access keys, policies, roles and STS sessions, judged
at access time, driven by boto3's IAM/STS/S3 clients, the AWS CLI and plain `requests`.

A presigned URL is only as good as its credentials *when it is used*: these tests
issue URLs, then change the identity behind them (deactivate the key, let the
session expire, revoke role sessions, narrow the policy) and check that linkgate
answers as S3 does.
"""

import hashlib
import json
import os
import time
import uuid

import boto3
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import AK, SK, s3_error, send, server_env

# The `server` fixture's extra environment: sessions as short as 1 s, so the tests
# can watch one expire.
LINKGATE_SERVER_ENV = {"LINKGATE_STS__MIN_DURATION_SECONDS": "1"}

REGION = "us-east-1"


# --- clients and helpers ----------------------------------------------------


def client(service, endpoint, ak=AK, sk=SK, token=None):
    """A boto3 client for `service` against linkgate.

    Parameter validation is off so that `DurationSeconds=2` reaches the server
    (botocore enforces AWS's 900 s minimum client-side)."""
    return boto3.client(
        service,
        aws_access_key_id=ak,
        aws_secret_access_key=sk,
        aws_session_token=token,
        region_name=REGION,
        endpoint_url=endpoint,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, parameter_validation=False),
    )


def uid(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def policy(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action, resource, **extra):
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action, resource, **extra):
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def objects(bucket, prefix=""):
    return f"arn:aws:s3:::{bucket}/{prefix}*"


def get(url):
    return send("GET", url)


def ok(resp, body):
    assert resp.status_code == 200, (resp.status_code, resp.text)
    assert resp.content == body


def client_error(excinfo, status, code):
    err = excinfo.value.response
    assert err["Error"]["Code"] == code, err
    assert err["ResponseMetadata"]["HTTPStatusCode"] == status, err
    return err["Error"].get("Message", "")


@pytest.fixture(scope="module")
def s3(server):
    return client("s3", server.url)


@pytest.fixture(scope="module")
def iam(server):
    return client("iam", server.url)


@pytest.fixture(scope="module")
def sts(server):
    return client("sts", server.url)


@pytest.fixture()
def bucket(s3):
    """A fresh bucket holding `public/a.txt` and `secret/b.txt`."""
    name = uid("idb")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="public/a.txt", Body=b"public bytes")
    s3.put_object(Bucket=name, Key="secret/b.txt", Body=b"secret bytes")
    return name


@pytest.fixture()
def make_user(iam):
    """make_user(*statements) -> (name, access key id, secret): a user with one inline
    policy `main` (if statements are given) and one active key."""

    def _make(*statements):
        name = uid("user")
        iam.create_user(UserName=name)
        if statements:
            iam.put_user_policy(UserName=name, PolicyName="main", PolicyDocument=policy(*statements))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        assert key["AccessKeyId"].startswith("AKIA"), key
        assert key["Status"] == "Active", key
        return name, key["AccessKeyId"], key["SecretAccessKey"]

    return _make


@pytest.fixture()
def make_role(iam):
    """make_role(trusted_user_arns, *statements, max_secs=None) -> role ARN."""

    def _make(trusted, *statements, max_secs=None):
        name = uid("role")
        trust = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": trusted}, "Action": "sts:AssumeRole"}],
        }
        kwargs = {"MaxSessionDuration": max_secs} if max_secs else {}
        role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust), **kwargs)["Role"]
        if statements:
            iam.put_role_policy(RoleName=name, PolicyName="main", PolicyDocument=policy(*statements))
        return role["Arn"]

    return _make


@pytest.fixture(scope="module")
def account(sts):
    return sts.get_caller_identity()["Account"]


def user_arn(account, name):
    return f"arn:aws:iam::{account}:user/{name}"


def presign_get(endpoint, bucket, key, ak, sk, token=None, expires=3600):
    return client("s3", endpoint, ak, sk, token).generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires
    )


def creds_of(response):
    c = response["Credentials"]
    assert c["AccessKeyId"].startswith("ASIA"), c
    return c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]


def admin_post(server, path, body=b""):
    """An admin-API POST, SigV4 header-signed (service s3) with the root credentials."""
    url = server.url + path
    headers = {"x-amz-content-sha256": hashlib.sha256(body).hexdigest()}
    if body:
        headers["Content-Type"] = "application/json"
    request = AWSRequest(method="POST", url=url, data=body, headers=headers)
    SigV4Auth(Credentials(AK, SK), "s3", REGION).add_auth(request)
    return requests.post(url, data=body, headers=dict(request.headers.items()), timeout=60)


# --- 1. deactivated keys ------------------------------------------------------


def test_presigned_url_dies_with_its_key_and_revives_with_it(server, bucket, make_user, aws):
    name, ak, sk = make_user(allow("s3:GetObject", objects(bucket)))
    url = presign_get(server.url, bucket, "public/a.txt", ak, sk)
    ok(get(url), b"public bytes")

    aws("iam", "update-access-key", "--user-name", name, "--access-key-id", ak, "--status", "Inactive")
    listed = json.loads(aws("iam", "list-access-keys", "--user-name", name).stdout)["AccessKeyMetadata"]
    assert [(k["AccessKeyId"], k["Status"]) for k in listed] == [(ak, "Inactive")], listed
    fields = s3_error(get(url), 403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
    assert fields.get("AWSAccessKeyId") == ak, fields
    # Header-signed calls with the key die too.
    with pytest.raises(ClientError) as e:
        client("s3", server.url, ak, sk).get_object(Bucket=bucket, Key="public/a.txt")
    client_error(e, 403, "InvalidAccessKeyId")

    aws("iam", "update-access-key", "--user-name", name, "--access-key-id", ak, "--status", "Active")
    ok(get(url), b"public bytes")


def test_deleted_key_and_deleted_user_deny(server, iam, bucket, make_user):
    name, ak, sk = make_user(allow("s3:GetObject", objects(bucket)))
    second = iam.create_access_key(UserName=name)["AccessKey"]
    url1 = presign_get(server.url, bucket, "public/a.txt", ak, sk)
    url2 = presign_get(server.url, bucket, "public/a.txt", second["AccessKeyId"], second["SecretAccessKey"])
    ok(get(url1), b"public bytes")
    ok(get(url2), b"public bytes")

    # Rotation: delete the old key, the new one keeps working.
    iam.delete_access_key(UserName=name, AccessKeyId=ak)
    s3_error(get(url1), 403, "InvalidAccessKeyId")
    ok(get(url2), b"public bytes")

    iam.delete_access_key(UserName=name, AccessKeyId=second["AccessKeyId"])
    iam.delete_user_policy(UserName=name, PolicyName="main")
    iam.delete_user(UserName=name)
    s3_error(get(url2), 403, "InvalidAccessKeyId")


# --- 2. expiring sessions -----------------------------------------------------


def test_get_session_token_url_expires_with_the_session(server, bucket, make_user):
    name, ak, sk = make_user(allow("s3:GetObject", objects(bucket)))
    session = client("sts", server.url, ak, sk).get_session_token(DurationSeconds=2)
    tak, tsk, token = creds_of(session)
    url = presign_get(server.url, bucket, "public/a.txt", tak, tsk, token, expires=3600)
    assert "X-Amz-Expires=3600" in url and "X-Amz-Security-Token=" in url, url
    ok(get(url), b"public bytes")

    time.sleep(3.1)
    s3_error(get(url), 400, "ExpiredToken", "The provided token has expired.")
    with pytest.raises(ClientError) as e:
        client("s3", server.url, tak, tsk, token).get_object(Bucket=bucket, Key="public/a.txt")
    client_error(e, 400, "ExpiredToken")
    # The user's own key is unaffected.
    ok(get(presign_get(server.url, bucket, "public/a.txt", ak, sk)), b"public bytes")


def test_assume_role_url_expires_with_the_session(server, account, bucket, make_user, make_role):
    name, ak, sk = make_user()
    role = make_role(user_arn(account, name), allow("s3:GetObject", objects(bucket)))
    assumed = client("sts", server.url, ak, sk).assume_role(RoleArn=role, RoleSessionName="short", DurationSeconds=2)
    tak, tsk, token = creds_of(assumed)
    url = presign_get(server.url, bucket, "public/a.txt", tak, tsk, token, expires=3600)
    ok(get(url), b"public bytes")

    time.sleep(3.1)
    s3_error(get(url), 400, "ExpiredToken", "The provided token has expired.")


def test_session_token_wrong_or_missing_is_invalid_token(server, bucket, make_user):
    name, ak, sk = make_user(allow("s3:GetObject", objects(bucket)))
    tak, tsk, token = creds_of(client("sts", server.url, ak, sk).get_session_token(DurationSeconds=900))
    assert client("s3", server.url, tak, tsk, token).get_object(Bucket=bucket, Key="public/a.txt")["Body"].read() == b"public bytes"
    for bad in (None, token[:-4] + "AAAA"):
        with pytest.raises(ClientError) as e:
            client("s3", server.url, tak, tsk, bad).get_object(Bucket=bucket, Key="public/a.txt")
        client_error(e, 400, "InvalidToken")


# --- 3. revoked role sessions ---------------------------------------------------


def test_revoke_sessions_kills_existing_role_session_urls(server, account, bucket, make_user, make_role):
    name, ak, sk = make_user()
    role = make_role(user_arn(account, name), allow("s3:GetObject", objects(bucket)))
    role_name = role.rsplit("/", 1)[1]
    user_sts = client("sts", server.url, ak, sk)
    before = [creds_of(user_sts.assume_role(RoleArn=role, RoleSessionName=f"before{i}")) for i in range(2)]
    urls = [presign_get(server.url, bucket, "public/a.txt", *c) for c in before]
    other_role = make_role(user_arn(account, name), allow("s3:GetObject", objects(bucket)))
    other_url = presign_get(server.url, bucket, "public/a.txt", *creds_of(user_sts.assume_role(RoleArn=other_role, RoleSessionName="other")))
    for url in urls + [other_url]:
        ok(get(url), b"public bytes")

    # No pause: sessions issued just before the revocation die, one issued just
    # after it lives, even within the same second.
    resp = admin_post(server, f"/-/api/v1/roles/{role_name}/revoke-sessions")
    assert resp.status_code in (200, 204), (resp.status_code, resp.headers, resp.text)

    for url in urls:
        s3_error(get(url), 403, "AccessDenied")
    with pytest.raises(ClientError) as e:
        client("s3", server.url, *before[0]).get_object(Bucket=bucket, Key="public/a.txt")
    client_error(e, 403, "AccessDenied")
    ok(get(other_url), b"public bytes")  # another role's sessions are untouched

    # A session assumed right after the revocation works.
    after = creds_of(user_sts.assume_role(RoleArn=role, RoleSessionName="after"))
    ok(get(presign_get(server.url, bucket, "public/a.txt", *after)), b"public bytes")
    # ... and the revoked ones stay dead.
    s3_error(get(urls[0]), 403, "AccessDenied")


# --- 4. policies judged at access time -------------------------------------------


def test_narrowed_or_deleted_policy_denies_issued_urls(server, iam, bucket, make_user):
    wide = policy(allow("s3:GetObject", objects(bucket)))
    name, ak, sk = make_user(allow("s3:GetObject", objects(bucket)))
    tak, tsk, token = creds_of(client("sts", server.url, ak, sk).get_session_token(DurationSeconds=900))
    key_url = presign_get(server.url, bucket, "secret/b.txt", ak, sk)
    session_url = presign_get(server.url, bucket, "secret/b.txt", tak, tsk, token)
    public_url = presign_get(server.url, bucket, "public/a.txt", ak, sk)
    for url in (key_url, session_url):
        ok(get(url), b"secret bytes")

    # Narrower: only public/.
    iam.put_user_policy(UserName=name, PolicyName="main", PolicyDocument=policy(allow("s3:GetObject", objects(bucket, "public/"))))
    for url in (key_url, session_url):
        s3_error(get(url), 403, "AccessDenied", "Access Denied")
    ok(get(public_url), b"public bytes")

    # Re-added: allowed again.
    iam.put_user_policy(UserName=name, PolicyName="main", PolicyDocument=wide)
    for url in (key_url, session_url):
        ok(get(url), b"secret bytes")

    # Deleted: nothing is allowed.
    iam.delete_user_policy(UserName=name, PolicyName="main")
    for url in (key_url, session_url, public_url):
        s3_error(get(url), 403, "AccessDenied")

    iam.put_user_policy(UserName=name, PolicyName="again", PolicyDocument=wide)
    for url in (key_url, session_url):
        ok(get(url), b"secret bytes")


def test_role_policy_change_applies_to_existing_sessions(server, iam, account, bucket, make_user, make_role):
    name, ak, sk = make_user()
    role = make_role(user_arn(account, name), allow("s3:GetObject", objects(bucket)))
    role_name = role.rsplit("/", 1)[1]
    creds = creds_of(client("sts", server.url, ak, sk).assume_role(RoleArn=role, RoleSessionName="pol"))
    url = presign_get(server.url, bucket, "secret/b.txt", *creds)
    ok(get(url), b"secret bytes")
    iam.put_role_policy(RoleName=role_name, PolicyName="main", PolicyDocument=policy(allow("s3:GetObject", objects(bucket, "public/"))))
    s3_error(get(url), 403, "AccessDenied")
    iam.put_role_policy(RoleName=role_name, PolicyName="main", PolicyDocument=policy(allow("s3:GetObject", objects(bucket))))
    ok(get(url), b"secret bytes")


# --- 5. explicit Deny wins ---------------------------------------------------------


def test_deny_beats_allow(server, iam, bucket, make_user):
    name, ak, sk = make_user(allow("s3:*", "*"), deny("s3:*", objects(bucket, "secret/")))
    ok(get(presign_get(server.url, bucket, "public/a.txt", ak, sk)), b"public bytes")
    s3_error(get(presign_get(server.url, bucket, "secret/b.txt", ak, sk)), 403, "AccessDenied")

    user_s3 = client("s3", server.url, ak, sk)
    user_s3.put_object(Bucket=bucket, Key="public/new.txt", Body=b"n")
    with pytest.raises(ClientError) as e:
        user_s3.put_object(Bucket=bucket, Key="secret/new.txt", Body=b"n")
    client_error(e, 403, "AccessDenied")

    # A Deny in another policy document wins just the same.
    iam.put_user_policy(UserName=name, PolicyName="main", PolicyDocument=policy(allow("s3:*", "*")))
    ok(get(presign_get(server.url, bucket, "secret/b.txt", ak, sk)), b"secret bytes")
    iam.put_user_policy(UserName=name, PolicyName="guard", PolicyDocument=policy(deny("s3:GetObject", objects(bucket, "secret/"))))
    s3_error(get(presign_get(server.url, bucket, "secret/b.txt", ak, sk)), 403, "AccessDenied")
    ok(get(presign_get(server.url, bucket, "public/a.txt", ak, sk)), b"public bytes")


# --- 6. aws:SourceIp ---------------------------------------------------------------


def source_ip(operator, cidr):
    return {"Condition": {operator: {"aws:SourceIp": cidr}}}


@pytest.mark.parametrize(
    "statements, status",
    [
        ([allow("s3:GetObject", "*", **source_ip("IpAddress", "127.0.0.1/32"))], 200),
        ([allow("s3:GetObject", "*", **source_ip("IpAddress", ["10.0.0.0/8", "127.0.0.0/8"]))], 200),
        ([allow("s3:GetObject", "*", **source_ip("NotIpAddress", "127.0.0.0/8"))], 403),
        ([allow("s3:GetObject", "*", **source_ip("IpAddress", "10.0.0.0/8"))], 403),
        ([allow("s3:GetObject", "*", **source_ip("NotIpAddress", "10.0.0.0/8"))], 200),
        # The office guard: deny everything from outside a range.
        ([allow("s3:GetObject", "*"), deny("*", "*", **source_ip("NotIpAddress", "10.0.0.0/8"))], 403),
        ([allow("s3:GetObject", "*"), deny("*", "*", **source_ip("NotIpAddress", "127.0.0.0/8"))], 200),
    ],
    ids=["ip-127.0.0.1/32", "ip-list", "notip-127/8", "ip-10/8", "notip-10/8", "deny-outside-10/8", "deny-outside-127/8"],
)
def test_source_ip_conditions(server, bucket, make_user, statements, status):
    name, ak, sk = make_user(*statements)
    resp = get(presign_get(server.url, bucket, "public/a.txt", ak, sk))
    if status == 200:
        ok(resp, b"public bytes")
    else:
        s3_error(resp, 403, "AccessDenied")


# --- 7. no plaintext secrets at rest -----------------------------------------------


def files_under(root):
    for dirpath, _, names in os.walk(root):
        for n in names:
            yield os.path.join(dirpath, n)


def find_secrets(paths, secrets):
    """[(path, label)] for each secret found in the raw bytes of each file."""
    found = []
    for path in paths:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            continue
        for label, secret in secrets.items():
            if secret.encode() in data:
                found.append((os.path.basename(path), label))
    return found


def test_data_dir_holds_no_plaintext_secrets_or_tokens(start_server):
    root_sk = "rootSecret/" + uuid.uuid4().hex + "+Zz"
    srv = start_server(env=server_env(
        LINKGATE_ROOT_ACCESS_KEY="AKIAROOTSECRETSCAN01", LINKGATE_ROOT_SECRET_KEY=root_sk,
        LINKGATE_STS__MIN_DURATION_SECONDS="1",
    ))
    root_iam = client("iam", srv.url, "AKIAROOTSECRETSCAN01", root_sk)
    root_s3 = client("s3", srv.url, "AKIAROOTSECRETSCAN01", root_sk)
    account = client("sts", srv.url, "AKIAROOTSECRETSCAN01", root_sk).get_caller_identity()["Account"]
    root_s3.create_bucket(Bucket="scan")
    root_s3.put_object(Bucket="scan", Key="o.txt", Body=b"object bytes")

    secrets = {"root secret": root_sk}
    keys = {}
    for u in ("alice", "bob"):
        root_iam.create_user(UserName=u)
        root_iam.put_user_policy(UserName=u, PolicyName="p", PolicyDocument=policy(allow("s3:*", "*")))
        for i in range(2):
            key = root_iam.create_access_key(UserName=u)["AccessKey"]
            secrets[f"{u} key {i} secret"] = key["SecretAccessKey"]
            keys.setdefault(u, (key["AccessKeyId"], key["SecretAccessKey"]))
    root_iam.create_role(RoleName="reader", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}],
    }))
    root_iam.put_role_policy(RoleName="reader", PolicyName="p", PolicyDocument=policy(allow("s3:GetObject", "*")))
    alice_sts = client("sts", srv.url, *keys["alice"])
    sessions = [
        creds_of(alice_sts.get_session_token(DurationSeconds=900)),
        creds_of(alice_sts.get_session_token(DurationSeconds=1)),
        creds_of(alice_sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/reader", RoleSessionName="scan1")),
        creds_of(alice_sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/reader", RoleSessionName="scan2", DurationSeconds=1)),
    ]
    for i, (tak, tsk, token) in enumerate(sessions):
        secrets[f"session {i} secret"] = tsk
        secrets[f"session {i} token"] = token
        # Use each session once, so whatever is cached or logged on use is on disk too.
        resp = get(presign_get(srv.url, "scan", "o.txt", tak, tsk, token))
        assert resp.status_code in (200, 400), resp.text

    files = sorted(files_under(srv.data_dir))
    names = [os.path.basename(p) for p in files]
    assert any(n.endswith(("-wal", ".db", ".sqlite", ".sqlite3")) for n in names), names
    assert find_secrets(files, secrets) == [], names

    # And after a clean shutdown (the WAL checkpointed into the database).
    srv.stop()
    files = sorted(files_under(srv.data_dir))
    assert find_secrets(files, secrets) == [], [os.path.basename(p) for p in files]
    # The server's stderr log carries no secret or token either.
    assert find_secrets([srv.log_path], secrets) == []


# --- 8. the AWS CLI ------------------------------------------------------------------


def test_aws_cli_iam_sts_and_s3_with_assumed_role(server, account, bucket, aws, tmp_path):
    name = uid("cliuser")
    user = json.loads(aws("iam", "create-user", "--user-name", name).stdout)["User"]
    assert user["UserName"] == name and user["Arn"] == user_arn(account, name), user
    key = json.loads(aws("iam", "create-access-key", "--user-name", name).stdout)["AccessKey"]
    assert key["AccessKeyId"].startswith("AKIA") and key["Status"] == "Active", key
    user_creds = (key["AccessKeyId"], key["SecretAccessKey"])
    doc = tmp_path / "policy.json"
    doc.write_text(policy(allow("s3:GetObject", objects(bucket, "public/"))))
    aws("iam", "put-user-policy", "--user-name", name, "--policy-name", "read-public", "--policy-document", f"file://{doc}")

    me = json.loads(aws("sts", "get-caller-identity", creds=user_creds).stdout)
    assert me["Arn"] == user_arn(account, name) and me["Account"] == account, me

    role_name = uid("clirole")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": user_arn(account, name)}, "Action": "sts:AssumeRole"}]})
    role = json.loads(aws("iam", "create-role", "--role-name", role_name, "--assume-role-policy-document", trust).stdout)["Role"]
    assert role["Arn"] == f"arn:aws:iam::{account}:role/{role_name}", role
    aws("iam", "put-role-policy", "--role-name", role_name, "--policy-name", "read",
        "--policy-document", policy(allow("s3:GetObject", objects(bucket))))

    # `--role-session-name s` is refused client-side by the CLI (RoleSessionName has
    # a minimum length of 2 in AWS's model), so a two-character name.
    assumed = json.loads(aws("sts", "assume-role", "--role-arn", role["Arn"], "--role-session-name", "s1", creds=user_creds).stdout)
    c = assumed["Credentials"]
    assert c["AccessKeyId"].startswith("ASIA"), c
    assert assumed["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{account}:assumed-role/{role_name}/s1", assumed
    role_creds = (c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])

    who = json.loads(aws("sts", "get-caller-identity", creds=role_creds).stdout)
    assert who["Arn"] == f"arn:aws:sts::{account}:assumed-role/{role_name}/s1", who
    assert who["Account"] == account, who

    dst = tmp_path / "b.txt"
    aws("s3", "cp", f"s3://{bucket}/secret/b.txt", str(dst), "--only-show-errors", creds=role_creds)
    assert dst.read_bytes() == b"secret bytes"
    # The user alone may read only public/.
    denied = aws("s3", "cp", f"s3://{bucket}/secret/b.txt", str(tmp_path / "no.txt"), creds=user_creds, check=False)
    assert denied.returncode != 0 and "403" in denied.stderr, denied.stderr
    aws("s3", "cp", f"s3://{bucket}/public/a.txt", str(tmp_path / "a.txt"), "--only-show-errors", creds=user_creds)
    assert (tmp_path / "a.txt").read_bytes() == b"public bytes"


# --- 9. STS and IAM errors -------------------------------------------------------------


def test_assume_role_errors(server, account, make_user, make_role):
    trusted, tak, tsk = make_user()
    _, uak, usk = make_user(allow("sts:AssumeRole", "*"))
    role = make_role(user_arn(account, trusted), max_secs=3600)
    role_7200 = make_role(user_arn(account, trusted), max_secs=7200)

    with pytest.raises(ClientError) as e:
        client("sts", server.url, uak, usk).assume_role(RoleArn=role, RoleSessionName="nope")
    client_error(e, 403, "AccessDenied")

    trusted_sts = client("sts", server.url, tak, tsk)
    creds_of(trusted_sts.assume_role(RoleArn=role, RoleSessionName="fine", DurationSeconds=3600))
    for arn, too_long in ((role, 3601), (role, 7200), (role_7200, 7201)):
        with pytest.raises(ClientError) as e:
            trusted_sts.assume_role(RoleArn=arn, RoleSessionName="long", DurationSeconds=too_long)
        client_error(e, 400, "ValidationError")
    creds_of(trusted_sts.assume_role(RoleArn=role_7200, RoleSessionName="fine", DurationSeconds=7200))

    with pytest.raises(ClientError) as e:
        trusted_sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/{uid('nosuchrole')}", RoleSessionName="x1")
    client_error(e, 403, "AccessDenied")


def test_iam_errors(iam, make_user):
    name, _, _ = make_user()
    with pytest.raises(ClientError) as e:
        iam.create_user(UserName=name)
    client_error(e, 409, "EntityAlreadyExists")

    iam.create_access_key(UserName=name)  # the second
    with pytest.raises(ClientError) as e:
        iam.create_access_key(UserName=name)
    client_error(e, 409, "LimitExceeded")
    assert len(iam.list_access_keys(UserName=name)["AccessKeyMetadata"]) == 2

    for bad in (
        "{not json",
        json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Alow", "Action": "s3:*", "Resource": "*"}]}),
        json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
                                                            "Condition": {"StringEquals": {"aws:username": "x"}}}]}),
    ):
        with pytest.raises(ClientError) as e:
            iam.put_user_policy(UserName=name, PolicyName="bad", PolicyDocument=bad)
        client_error(e, 400, "MalformedPolicyDocument")
    with pytest.raises(ClientError) as e:
        iam.create_role(RoleName=uid("badtrust"), AssumeRolePolicyDocument="{not json")
    client_error(e, 400, "MalformedPolicyDocument")


# --- linkgate presign --refresh ---------------------------------------------


def test_presign_refresh_gets_a_session_long_enough_or_says_how_long(
    server, bucket, make_user, make_role, account, run, aws_env
):
    """`linkgate presign --refresh` assumes the role for as long as the URL should
    live; when the role's maximum is shorter, the URL is still made and the tool says
    exactly when it will really stop working."""
    name, ak, sk = make_user()
    role = make_role(user_arn(account, name), allow("s3:GetObject", objects(bucket)), max_secs=3600)
    env = dict(aws_env, AWS_ACCESS_KEY_ID=ak, AWS_SECRET_ACCESS_KEY=sk)
    base = ["presign", f"s3://{bucket}/public/a.txt", "--endpoint-url", server.url, "--refresh", "--role-arn", role]

    fits = run(*base, "--expires-in", "1800", "--json", env=env)
    out = json.loads(fits.stdout)
    assert out["temporary_credentials"] is True
    assert out["effective_expires_at"] == out["expires_at"], out
    ok(get(out["url"]), b"public bytes")
    assert "X-Amz-Security-Token=" in out["url"] and "ASIA" in out["url"]

    longer = run(*base, "--expires-in", "7200", env=env)
    url = longer.stdout.strip()
    ok(get(url), b"public bytes")
    assert "the URL stops working then" in longer.stderr, longer.stderr
    strict = run(*base, "--expires-in", "7200", "--strict", env=env, check=False)
    assert strict.returncode == 1 and "--strict" in strict.stderr

    denied = run(*base[:-1], role + "-nope", "--expires-in", "60", env=env, check=False)
    assert denied.returncode == 1 and "AccessDenied" in denied.stderr, denied.stderr
