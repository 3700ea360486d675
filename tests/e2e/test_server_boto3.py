"""`linkgate serve` against boto3 (header-signed calls, presigned URLs, POST policies) and `requests`."""

import base64
import configparser
import datetime
import hashlib
import hmac
import json
import os
import stat
import time
import uuid
from unittest import mock
import xml.etree.ElementTree as ET

import boto3
import pytest
import requests
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import AK, SK, s3_error, send, server_env

MiB = 1024 * 1024
S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def client(endpoint, ak=AK, sk=SK, region="us-east-1"):
    return boto3.client(
        "s3",
        aws_access_key_id=ak,
        aws_secret_access_key=sk,
        region_name=region,
        endpoint_url=endpoint,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )


@pytest.fixture(scope="module")
def s3(server):
    return client(server.url)


@pytest.fixture()
def bucket(s3):
    """A fresh, empty bucket for one test."""
    name = f"b-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def xml_fields(content):
    """Child elements of an XML document's root, namespace dropped."""
    root = ET.fromstring(content)
    return root.tag.replace(S3_NS, ""), {c.tag.replace(S3_NS, ""): c.text or "" for c in root}


def set_query(url, name, value):
    base, query = url.split("?", 1)
    parts = [p if not p.startswith(name + "=") else f"{name}={value}" for p in query.split("&")]
    assert parts != query.split("&"), f"{name} not in {url}"
    return base + "?" + "&".join(parts)


def md5_hex(data):
    return hashlib.md5(data).hexdigest()


def multipart_etag(parts):
    return '"%s-%d"' % (hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest(), len(parts))


# --- presigned URLs -------------------------------------------------------


def test_presigned_put_get_head_delete(s3, bucket):
    body = os.urandom(3000)
    params = {"Bucket": bucket, "Key": "docs/report.bin"}
    put = send("PUT", s3.generate_presigned_url("put_object", Params=params, ExpiresIn=300), data=body)
    assert put.status_code == 200, put.text
    assert put.headers["ETag"] == f'"{md5_hex(body)}"'
    assert s3.get_object(**params)["Body"].read() == body

    get = send("GET", s3.generate_presigned_url("get_object", Params=params, ExpiresIn=300))
    assert get.status_code == 200, get.text
    assert get.content == body
    assert get.headers["ETag"] == put.headers["ETag"]

    head = send("HEAD", s3.generate_presigned_url("head_object", Params=params, ExpiresIn=300))
    assert head.status_code == 200
    assert head.headers["Content-Length"] == str(len(body))
    assert head.headers["ETag"] == put.headers["ETag"]
    assert head.content == b""

    delete = send("DELETE", s3.generate_presigned_url("delete_object", Params=params, ExpiresIn=300))
    assert delete.status_code == 204, delete.text
    with pytest.raises(ClientError) as e:
        s3.head_object(**params)
    assert e.value.response["Error"]["Code"] == "404"


def test_presigned_put_with_signed_content_type(s3, bucket):
    url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "in.pdf", "ContentType": "application/pdf"}, ExpiresIn=300
    )
    assert "content-type%3Bhost" in url
    ok = send("PUT", url, data=b"%PDF-1.7", headers={"Content-Type": "application/pdf"})
    assert ok.status_code == 200, ok.text
    assert s3.head_object(Bucket=bucket, Key="in.pdf")["ContentType"] == "application/pdf"

    wrong = send("PUT", url, data=b"<html>", headers={"Content-Type": "text/html"})
    err = s3_error(wrong, 403, "SignatureDoesNotMatch")
    assert err["Message"] == (
        "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method."
    )
    assert s3.get_object(Bucket=bucket, Key="in.pdf")["Body"].read() == b"%PDF-1.7"


def test_presigned_get_response_overrides(s3, bucket):
    s3.put_object(Bucket=bucket, Key="q3.pdf", Body=b"pdf", ContentType="application/octet-stream")
    disposition = 'attachment; filename="Q3 report.pdf"'
    url = s3.generate_presigned_url(
        "get_object",
        Params={"Bucket": bucket, "Key": "q3.pdf", "ResponseContentDisposition": disposition,
                "ResponseContentType": "application/pdf", "ResponseCacheControl": "no-store"},
        ExpiresIn=300,
    )
    resp = send("GET", url)
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Disposition"] == disposition
    assert resp.headers["Content-Type"] == "application/pdf"
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.content == b"pdf"


def test_presigned_range(s3, bucket):
    s3.put_object(Bucket=bucket, Key="digits", Body=b"0123456789")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "digits"}, ExpiresIn=300)
    part = send("GET", url, headers={"Range": "bytes=0-3"})
    assert part.status_code == 206, part.text
    assert part.content == b"0123"
    assert part.headers["Content-Range"] == "bytes 0-3/10"
    assert part.headers["Content-Length"] == "4"
    tail = send("GET", url, headers={"Range": "bytes=-3"})
    assert tail.status_code == 206 and tail.content == b"789"
    assert tail.headers["Content-Range"] == "bytes 7-9/10"

    beyond = send("GET", url, headers={"Range": "bytes=100-200"})
    err = s3_error(beyond, 416, "InvalidRange")
    assert err["Message"] == "The requested range is not satisfiable"


# --- errors on presigned URLs, in S3's words --------------------------------


def test_tampered_signature(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=300)
    sig = url.rsplit("X-Amz-Signature=", 1)[1]
    bad_sig = sig[:-1] + ("0" if sig[-1] != "0" else "1")
    err = s3_error(send("GET", set_query(url, "X-Amz-Signature", bad_sig)), 403, "SignatureDoesNotMatch")
    assert err["Message"].startswith("The request signature we calculated does not match")
    assert err.get("AWSAccessKeyId") == AK
    assert err.get("SignatureProvided") == bad_sig
    assert "StringToSign" in err and "CanonicalRequest" in err
    assert err["CanonicalRequest"].startswith(f"GET\n/{bucket}/k\n")

    # A signed parameter changed after signing is a mismatch too.
    other = url.replace(f"/{bucket}/k?", f"/{bucket}/K?")
    s3_error(send("GET", other), 403, "SignatureDoesNotMatch")


def test_expired_url(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=1)
    time.sleep(2.1)
    err = s3_error(send("GET", url), 403, "AccessDenied")
    assert err["Message"] == "Request has expired"
    assert err["X-Amz-Expires"] == "1"
    for name in ("Expires", "ServerTime"):
        datetime.datetime.strptime(err[name], "%Y-%m-%dT%H:%M:%SZ")
    assert err["Expires"] < err["ServerTime"]
    # S3 checks expiry before the signature.
    tampered = set_query(url, "X-Amz-Signature", "0" * 64)
    assert s3_error(send("GET", tampered), 403, "AccessDenied")["Message"] == "Request has expired"


def test_expires_over_a_week(s3, bucket):
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=3600)
    err = s3_error(send("GET", set_query(url, "X-Amz-Expires", "604801")), 400, "AuthorizationQueryParametersError")
    assert err["Message"] == (
        "X-Amz-Expires must be less than a week (in seconds); that is, "
        "the given X-Amz-Expires must be less than 604800 seconds"
    )


def test_unknown_access_key(server, bucket):
    stranger = client(server.url, ak="AKIAUNKNOWNEXAMPLE01", sk="not/the/secret")
    url = stranger.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=300)
    err = s3_error(send("GET", url), 403, "InvalidAccessKeyId")
    assert err["Message"] == "The AWS Access Key Id you provided does not exist in our records."
    assert err["AWSAccessKeyId"] == "AKIAUNKNOWNEXAMPLE01"


def test_no_such_key_and_no_such_bucket(s3, bucket):
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "missing"}, ExpiresIn=300)
    err = s3_error(send("GET", url), 404, "NoSuchKey")
    assert err["Message"] == "The specified key does not exist."
    assert err.get("Key") == "missing"

    url = s3.generate_presigned_url("get_object", Params={"Bucket": "no-such-bucket-e2e", "Key": "k"}, ExpiresIn=300)
    err = s3_error(send("GET", url), 404, "NoSuchBucket")
    assert err["Message"] == "The specified bucket does not exist"
    assert err.get("BucketName") == "no-such-bucket-e2e"


QUERY_ERRORS = [
    # (what to change, status, code, message), in S3's words (reference §1.2).
    (("X-Amz-Expires", "0"), 403, "AccessDenied", "Request has expired"),
    (("X-Amz-Expires", "-5"), 400, "AuthorizationQueryParametersError", "X-Amz-Expires must be non-negative"),
    (("X-Amz-Expires", "soon"), 400, "AuthorizationQueryParametersError", "X-Amz-Expires should be a number"),
    (("X-Amz-Algorithm", "AWS4-HMAC-SHA1"), 400, "AuthorizationQueryParametersError",
     'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"'),
    (("X-Amz-Date", "2026-11-22"), 400, "AuthorizationQueryParametersError",
     "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\""),
    (("drop", "X-Amz-SignedHeaders"), 400, "AuthorizationQueryParametersError",
     "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, "
     "X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."),
    (("replace", "%2Fus-east-1%2F", "%2Feu-west-1%2F"), 400, "AuthorizationQueryParametersError",
     "Error parsing the X-Amz-Credential parameter; the region 'eu-west-1' is wrong; expecting 'us-east-1'"),
    (("replace", "%2Faws4_request", ""), 400, "AuthorizationQueryParametersError",
     "Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; "
     'expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'),
]


@pytest.mark.parametrize("change,status,code,message", QUERY_ERRORS, ids=[
    "expires-0", "expires-negative", "expires-not-a-number", "algorithm", "date-format", "missing-parameter",
    "wrong-region", "credential-parts",
])
def test_malformed_query_parameters(s3, bucket, change, status, code, message):
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=3600)
    if change[0] == "drop":
        base, query = url.split("?", 1)
        bad = base + "?" + "&".join(p for p in query.split("&") if not p.startswith(change[1] + "="))
    elif change[0] == "replace":
        assert change[1] in url
        bad = url.replace(change[1], change[2])
    else:
        bad = set_query(url, *change)
    err = s3_error(send("GET", bad), status, code)
    assert err["Message"] == message
    if change == ("replace", "%2Fus-east-1%2F", "%2Feu-west-1%2F"):
        assert err["Region"] == "us-east-1"


def presign_at(s3, when, **params):
    with mock.patch("botocore.auth.get_current_datetime", return_value=when):
        return s3.generate_presigned_url("get_object", Params=params, ExpiresIn=600)


def test_not_yet_valid(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    # A little clock skew is tolerated, as on S3.
    soon = presign_at(s3, now + datetime.timedelta(minutes=4), Bucket=bucket, Key="k")
    assert send("GET", soon).status_code == 200
    later = presign_at(s3, now + datetime.timedelta(hours=1), Bucket=bucket, Key="k")
    err = s3_error(send("GET", later), 403, "AccessDenied")
    assert err["Message"] == "Request is not yet valid"
    assert int(err["X-Amz-Date"]) // 1000 == int((now + datetime.timedelta(hours=1)).replace(
        tzinfo=datetime.timezone.utc).timestamp())
    assert "ServerTime" in err


def test_unsigned_amz_header_and_double_auth(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=300)
    err = s3_error(send("GET", url, headers={"x-amz-meta-a": "1"}), 403, "AccessDenied")
    assert err["Message"] == "There were headers present in the request which were not signed"
    assert err["HeadersNotSigned"] == "x-amz-meta-a"
    err = s3_error(send("GET", url, headers={"Authorization": "AWS4-HMAC-SHA256 Credential=x"}), 400, "InvalidArgument")
    assert err["ArgumentName"] == "Authorization"
    # Headers S3 does not require to be signed are fine.
    assert send("GET", url, headers={"Range": "bytes=0-0", "Cache-Control": "no-cache"}).status_code == 206


def test_conditional_get(s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"x")["ETag"]
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=300)
    assert send("GET", url, headers={"If-None-Match": etag}).status_code == 304
    assert send("GET", url, headers={"If-Match": etag}).status_code == 200
    err = s3_error(send("GET", url, headers={"If-Match": '"0000"'}), 412, "PreconditionFailed")
    assert err["Condition"] == "If-Match"


# --- keys that break naive gateways ----------------------------------------

ODD_KEYS = [
    "with space.txt",
    "plus+sign+",
    "100%%25 done%",
    "tilde~key",
    "ünïcödé/日本語/😀.txt",
    "double//slash",
    "/leading-slash",
    "a/../b",
    "./dot",
    "sub/./dir",
    "q?uery&x=y#frag",
    "semi;colon:eq=",
]


@pytest.mark.parametrize("key", ODD_KEYS)
def test_odd_keys_round_trip(s3, bucket, key):
    body = f"body of {key}".encode()
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert [o["Key"] for o in listed] == [key]
    assert listed[0]["Size"] == len(body)
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300)
    resp = send("GET", url)
    assert resp.status_code == 200, (url, resp.text)
    assert resp.content == body
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300)
    assert send("PUT", put_url, data=b"second").status_code == 200
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"second"


def test_dot_segments_are_not_resolved(s3, bucket):
    s3.put_object(Bucket=bucket, Key="a/../b", Body=b"dotted")
    s3.put_object(Bucket=bucket, Key="b", Body=b"plain")
    s3.put_object(Bucket=bucket, Key="a//b", Body=b"double")
    s3.put_object(Bucket=bucket, Key="a/b", Body=b"single")
    got = {k: s3.get_object(Bucket=bucket, Key=k)["Body"].read() for k in ("a/../b", "b", "a//b", "a/b")}
    assert got == {"a/../b": b"dotted", "b": b"plain", "a//b": b"double", "a/b": b"single"}
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == sorted(["a/../b", "b", "a//b", "a/b"])


# --- listing and bulk delete ------------------------------------------------


def test_list_objects_v2_paginator(s3, bucket):
    keys = [f"page/key-{i:02d}" for i in range(25)]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    s3.put_object(Bucket=bucket, Key="other", Body=b"not in prefix")
    pages = list(s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix="page/", PaginationConfig={"PageSize": 10}
    ))
    assert [p["KeyCount"] for p in pages] == [10, 10, 5]
    assert [p["IsTruncated"] for p in pages] == [True, True, False]
    assert [o["Key"] for p in pages for o in p["Contents"]] == keys
    assert all(o["Size"] == len(o["Key"]) for p in pages for o in p["Contents"])

    # Delimiter: one common prefix, one top-level key.
    top = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["page/"]
    assert [o["Key"] for o in top["Contents"]] == ["other"]


def test_list_multipart_uploads_paginator(s3, bucket):
    """boto3's paginator over ListMultipartUploads (501 before): pending uploads
    only, by key, across pages joined by NextKeyMarker / NextUploadIdMarker."""
    started = sorted(
        (k, s3.create_multipart_upload(Bucket=bucket, Key=k)["UploadId"])
        for k in ["mp/a", "mp/a", "mp/b", "mp/c", "mp/d"]
    )
    aborted = s3.create_multipart_upload(Bucket=bucket, Key="mp/aborted")["UploadId"]
    s3.abort_multipart_upload(Bucket=bucket, Key="mp/aborted", UploadId=aborted)
    pages = list(s3.get_paginator("list_multipart_uploads").paginate(
        Bucket=bucket, Prefix="mp/", PaginationConfig={"PageSize": 2}
    ))
    assert [len(p.get("Uploads", [])) for p in pages] == [2, 2, 1]
    assert [(u["Key"], u["UploadId"]) for p in pages for u in p.get("Uploads", [])] == started
    for key, upload_id in started:
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket)


def test_managed_copy_of_20_mib_is_a_multipart_copy(s3, bucket):
    """boto3's managed `copy` splits a 20 MiB object into UploadPartCopy calls
    (8 MiB parts by default); `copy_object` copies a small one in one call."""
    data = os.urandom(20 * 1024 * 1024)
    s3.put_object(Bucket=bucket, Key="big.bin", Body=data)
    s3.copy({"Bucket": bucket, "Key": "big.bin"}, bucket, "big-copy.bin")
    head = s3.head_object(Bucket=bucket, Key="big-copy.bin")
    assert head["ContentLength"] == len(data)
    assert head["ETag"].endswith('-3"'), head["ETag"]
    assert s3.get_object(Bucket=bucket, Key="big-copy.bin")["Body"].read() == data

    s3.put_object(Bucket=bucket, Key="small.txt", Body=b"small", Metadata={"k": "v"})
    out = s3.copy_object(Bucket=bucket, Key="small-copy.txt", CopySource={"Bucket": bucket, "Key": "small.txt"})
    assert out["CopyObjectResult"]["ETag"] == s3.head_object(Bucket=bucket, Key="small.txt")["ETag"]
    assert s3.head_object(Bucket=bucket, Key="small-copy.txt")["Metadata"] == {"k": "v"}


def test_delete_objects(s3, bucket):
    keys = [f"del/{i}" for i in range(5)]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    s3.put_object(Bucket=bucket, Key="keep", Body=b"x")
    resp = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys]})
    assert sorted(d["Key"] for d in resp["Deleted"]) == keys
    assert not resp.get("Errors")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["keep"]


def test_list_object_versions(s3, bucket):
    s3.put_object(Bucket=bucket, Key="v/a", Body=b"aa")
    s3.put_object(Bucket=bucket, Key="v/b", Body=b"bbb")
    s3.put_object(Bucket=bucket, Key="v/b", Body=b"bbbb")
    resp = s3.list_object_versions(Bucket=bucket, Prefix="v/")
    versions = resp["Versions"]
    assert [(v["Key"], v["VersionId"], v["IsLatest"], v["Size"]) for v in versions] == [
        ("v/a", "null", True, 2),
        ("v/b", "null", True, 4),
    ]
    assert versions[1]["ETag"] == f'"{md5_hex(b"bbbb")}"'
    assert not resp.get("DeleteMarkers")


# --- multipart --------------------------------------------------------------


def test_empty_file_upload_then_more_on_one_connection(server, bucket, tmp_path):
    """botocore sends `Expect: 100-continue` for file bodies, even empty ones, and
    mishandles a final answer without `100 Continue` when the connection is reused:
    the next upload used to wait for the server's idle timeout (60 s)."""
    one_conn = boto3.client(
        "s3", aws_access_key_id=AK, aws_secret_access_key=SK, region_name="us-east-1", endpoint_url=server.url,
        config=Config(max_pool_connections=1, read_timeout=15, retries={"total_max_attempts": 1}),
    )
    for i in range(3):
        src = tmp_path / f"f{i}"
        src.write_bytes(b"x" * i)
        with open(src, "rb") as f:
            put = one_conn.put_object(Bucket=bucket, Key=f"f{i}", Body=f)
        assert put.get("ETag") == '"%s"' % hashlib.md5(b"x" * i).hexdigest(), put
    sizes = {o["Key"]: o["Size"] for o in one_conn.list_objects_v2(Bucket=bucket)["Contents"]}
    assert sizes == {"f0": 0, "f1": 1, "f2": 2}


def test_upload_file_multipart(s3, bucket, tmp_path):
    data = os.urandom(12 * MiB)
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    cfg = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
    s3.upload_file(str(src), bucket, "big/file.bin", Config=cfg)
    head = s3.head_object(Bucket=bucket, Key="big/file.bin")
    assert head["ContentLength"] == len(data)
    assert head["ETag"].endswith('-3"')
    assert head["ETag"] == multipart_etag([data[:5 * MiB], data[5 * MiB:10 * MiB], data[10 * MiB:]])
    dst = tmp_path / "back.bin"
    s3.download_file(bucket, "big/file.bin", str(dst), Config=cfg)
    assert hashlib.sha256(dst.read_bytes()).hexdigest() == hashlib.sha256(data).hexdigest()


def test_presigned_upload_part(s3, bucket):
    key = "parts/up load.bin"
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType="application/x-test")["UploadId"]
    chunks = [os.urandom(5 * MiB), os.urandom(1234)]
    parts = []
    for number, chunk in enumerate(chunks, start=1):
        url = s3.generate_presigned_url(
            "upload_part",
            Params={"Bucket": bucket, "Key": key, "UploadId": upload_id, "PartNumber": number},
            ExpiresIn=300,
        )
        resp = send("PUT", url, data=chunk)
        assert resp.status_code == 200, resp.text
        assert resp.headers["ETag"] == f'"{md5_hex(chunk)}"'
        parts.append({"PartNumber": number, "ETag": resp.headers["ETag"]})
    listed = s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in listed] == [(1, 5 * MiB), (2, 1234)]
    done = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts})
    assert done["ETag"] == multipart_etag(chunks)
    obj = s3.get_object(Bucket=bucket, Key=key)
    assert obj["ContentType"] == "application/x-test"
    assert obj["Body"].read() == b"".join(chunks)


# --- browser POST uploads ---------------------------------------------------


def post_form(url, fields, filename, content, content_type="text/plain"):
    return requests.post(url, data=fields, files={"file": (filename, content, content_type)}, timeout=60)


def presigned_post(s3, bucket, extra_fields=None, extra_conditions=None, expires=300):
    fields = {"Content-Type": "text/plain", **(extra_fields or {})}
    conditions = [
        ["eq", "$Content-Type", "text/plain"],
        ["starts-with", "$key", "uploads/"],
        ["content-length-range", 1, 1024],
        *(extra_conditions or []),
    ]
    return s3.generate_presigned_post(
        bucket, "uploads/${filename}", Fields=fields, Conditions=conditions, ExpiresIn=expires
    )


def test_post_policy_success(server, s3, bucket):
    post = presigned_post(s3, bucket)
    resp = post_form(post["url"], post["fields"], "hello.txt", b"hello, world")
    assert resp.status_code == 204, resp.text
    assert resp.headers["ETag"] == f'"{md5_hex(b"hello, world")}"'
    # S3 percent-encodes the whole key in Location, `/` included.
    assert resp.headers["Location"] == f"{server.url}/{bucket}/uploads%2Fhello.txt"
    obj = s3.get_object(Bucket=bucket, Key="uploads/hello.txt")
    assert obj["Body"].read() == b"hello, world"
    assert obj["ContentType"] == "text/plain"


def test_post_policy_success_action_status_201(server, s3, bucket):
    post = presigned_post(s3, bucket, {"success_action_status": "201"}, [{"success_action_status": "201"}])
    resp = post_form(post["url"], post["fields"], "report.txt", b"report")
    assert resp.status_code == 201, resp.text
    tag, fields = xml_fields(resp.content)
    assert tag == "PostResponse"
    assert fields["Bucket"] == bucket
    assert fields["Key"] == "uploads/report.txt"
    assert fields["ETag"] == f'"{md5_hex(b"report")}"'
    assert fields["Location"] == f"{server.url}/{bucket}/uploads%2Freport.txt"


def test_post_policy_condition_failed(s3, bucket):
    post = presigned_post(s3, bucket)
    fields = dict(post["fields"], **{"Content-Type": "text/html"})
    err = s3_error(post_form(post["url"], fields, "x.html", b"<b>"), 403, "AccessDenied")
    assert err["Message"] == (
        'Invalid according to Policy: Policy Condition failed: ["eq", "$Content-Type", "text/plain"]'
    )

    fields = dict(post["fields"], key="elsewhere/x.txt")
    err = s3_error(post_form(post["url"], fields, "x.txt", b"x"), 403, "AccessDenied")
    assert err["Message"] == 'Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "uploads/"]'
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="elsewhere/x.txt")


def test_post_policy_too_large(s3, bucket):
    post = presigned_post(s3, bucket)
    err = s3_error(post_form(post["url"], post["fields"], "big.txt", b"x" * 2048), 400, "EntityTooLarge")
    assert err["Message"] == "Your proposed upload exceeds the maximum allowed size"
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_post_policy_expired(s3, bucket):
    post = presigned_post(s3, bucket, expires=-10)
    err = s3_error(post_form(post["url"], post["fields"], "late.txt", b"late"), 403, "AccessDenied")
    assert err["Message"] == "Invalid according to Policy: Policy expired."


def test_post_policy_bad_signature(s3, bucket):
    post = presigned_post(s3, bucket)
    fields = dict(post["fields"], **{"x-amz-signature": "0" * 64})
    s3_error(post_form(post["url"], fields, "a.txt", b"a"), 403, "SignatureDoesNotMatch")


def sigv2_post_fields(bucket, key, access_key=AK, secret=SK, expires_in=300):
    expiration = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=expires_in)
    policy = {
        "expiration": expiration.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "conditions": [{"bucket": bucket}, ["starts-with", "$key", "legacy/"], {"Content-Type": "text/plain"}],
    }
    policy_b64 = base64.b64encode(json.dumps(policy).encode()).decode()
    signature = base64.b64encode(hmac.new(secret.encode(), policy_b64.encode(), hashlib.sha1).digest()).decode()
    return {"key": key, "AWSAccessKeyId": access_key, "policy": policy_b64, "signature": signature,
            "Content-Type": "text/plain"}


def test_post_legacy_sigv2_form(server, s3, bucket):
    url = f"{server.url}/{bucket}"
    resp = post_form(url, sigv2_post_fields(bucket, "legacy/v2.txt"), "v2.txt", b"signed with sha1")
    assert resp.status_code == 204, resp.text
    assert s3.get_object(Bucket=bucket, Key="legacy/v2.txt")["Body"].read() == b"signed with sha1"

    wrong = sigv2_post_fields(bucket, "legacy/bad.txt", secret="wrong-secret")
    s3_error(post_form(url, wrong, "bad.txt", b"x"), 403, "SignatureDoesNotMatch")
    unknown = sigv2_post_fields(bucket, "legacy/bad.txt", access_key="AKIAUNKNOWNEXAMPLE01")
    s3_error(post_form(url, unknown, "bad.txt", b"x"), 403, "InvalidAccessKeyId")


# --- CORS -------------------------------------------------------------------

ORIGIN = "https://app.example.com"


def test_bucket_cors_and_preflight(server, s3, bucket):
    rules = [{
        "AllowedOrigins": [ORIGIN],
        "AllowedMethods": ["GET", "PUT"],
        "AllowedHeaders": ["content-type"],
        "ExposeHeaders": ["ETag"],
        "MaxAgeSeconds": 600,
    }]
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})
    got = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
    assert got[0]["AllowedOrigins"] == [ORIGIN]
    assert sorted(got[0]["AllowedMethods"]) == ["GET", "PUT"]

    preflight_headers = {
        "Origin": ORIGIN,
        "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "content-type",
    }
    # No signature at all: a browser sends none on a preflight.
    ok = requests.options(f"{server.url}/{bucket}/upload.txt", headers=preflight_headers, timeout=30)
    assert ok.status_code == 200, ok.text
    assert ok.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "PUT" in ok.headers["Access-Control-Allow-Methods"]
    assert "content-type" in ok.headers["Access-Control-Allow-Headers"].lower()
    assert ok.headers.get("Access-Control-Max-Age") == "600"

    denied = requests.options(f"{server.url}/{bucket}/upload.txt", timeout=30,
                              headers=dict(preflight_headers, Origin="https://evil.example.com"))
    assert denied.status_code == 403, denied.text
    assert "Access-Control-Allow-Origin" not in denied.headers

    bad_method = requests.options(f"{server.url}/{bucket}/upload.txt", timeout=30,
                                  headers=dict(preflight_headers, **{"Access-Control-Request-Method": "DELETE"}))
    assert bad_method.status_code == 403

    # The actual request: a presigned PUT from the browser gets the CORS headers.
    put_url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "upload.txt", "ContentType": "text/plain"}, ExpiresIn=300
    )
    put = send("PUT", put_url, data=b"from the browser", headers={"Origin": ORIGIN, "Content-Type": "text/plain"})
    assert put.status_code == 200, put.text
    assert put.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "etag" in put.headers.get("Access-Control-Expose-Headers", "").lower()

    # An error still carries the CORS headers, so the browser can read it.
    missing = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "nope"}, ExpiresIn=300)
    resp = send("GET", missing, headers={"Origin": ORIGIN})
    s3_error(resp, 404, "NoSuchKey")
    assert resp.headers["Access-Control-Allow-Origin"] == ORIGIN

    # So does an authentication failure: the signed Content-Type was not sent.
    wrong = send("PUT", put_url, data=b"x", headers={"Origin": ORIGIN, "Content-Type": "text/html"})
    s3_error(wrong, 403, "SignatureDoesNotMatch")
    assert wrong.headers["Access-Control-Allow-Origin"] == ORIGIN

    s3.delete_bucket_cors(Bucket=bucket)
    gone = requests.options(f"{server.url}/{bucket}/upload.txt", headers=preflight_headers, timeout=30)
    assert gone.status_code == 403


# --- generated root credentials ---------------------------------------------


def test_generated_root_credentials(start_server, monkeypatch, tmp_path):
    first = start_server(env=server_env())
    path = os.path.join(first.data_dir, "root-credentials")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    parser = configparser.ConfigParser()
    parser.read(path)
    ak = parser["linkgate"]["aws_access_key_id"]
    sk = parser["linkgate"]["aws_secret_access_key"]
    assert ak.startswith("AKIA") and len(sk) >= 40
    printed = "\n".join(first.banner)
    assert ak in printed and sk in printed, printed

    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", path)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))

    def profile_client(url):
        session = boto3.Session(profile_name="linkgate", region_name="us-east-1")
        return session.client("s3", endpoint_url=url,
                              config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))

    s3 = profile_client(first.url)
    s3.create_bucket(Bucket="rootcreds")
    s3.put_object(Bucket="rootcreds", Key="k", Body=b"v")
    # The fixed test key is not valid on this server.
    with pytest.raises(ClientError) as e:
        client(first.url).list_buckets()
    assert e.value.response["Error"]["Code"] == "InvalidAccessKeyId"
    first.stop()

    with open(path) as f:
        before = f.read()
    second = start_server(data_dir=first.data_dir, env=server_env())
    with open(path) as f:
        assert f.read() == before
    assert sk not in "\n".join(second.banner), "the secret is printed only at first start"
    s3 = profile_client(second.url)
    assert s3.get_object(Bucket="rootcreds", Key="k")["Body"].read() == b"v"
