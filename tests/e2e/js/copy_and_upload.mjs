// The AWS SDK for JavaScript v3 against a linkgate server: CopyObjectCommand
// (metadata REPLACE, and a copy onto itself), and lib-storage's Upload of a
// multipart object with CRC32 checksums. Exits non-zero on the first failure.
//
//   LINKGATE_URL=http://127.0.0.1:PORT BUCKET=name node copy_and_upload.mjs
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import {
  S3Client, PutObjectCommand, CopyObjectCommand, GetObjectCommand, HeadObjectCommand,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";

const Bucket = process.env.BUCKET;
const s3 = new S3Client({
  endpoint: process.env.LINKGATE_URL,
  region: "us-east-1",
  forcePathStyle: true,
  credentials: { accessKeyId: process.env.AK, secretAccessKey: process.env.SK },
});

const bytes = async (Key) => Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket, Key }))).Body.transformToByteArray());

await s3.send(new PutObjectCommand({ Bucket, Key: "src.txt", Body: "from js", ContentType: "text/plain", Metadata: { a: "1" } }));
const copied = await s3.send(new CopyObjectCommand({
  Bucket, Key: "dst.txt", CopySource: `${Bucket}/src.txt`, MetadataDirective: "REPLACE", Metadata: { b: "2" }, ContentType: "text/x-js",
}));
assert.ok(copied.CopyObjectResult.ETag, "CopyObjectResult has an ETag");
assert.equal((await bytes("dst.txt")).toString(), "from js");
const head = await s3.send(new HeadObjectCommand({ Bucket, Key: "dst.txt" }));
assert.deepEqual(head.Metadata, { b: "2" });
assert.equal(head.ContentType, "text/x-js");
await s3.send(new CopyObjectCommand({ Bucket, Key: "dst.txt", CopySource: `${Bucket}/dst.txt`, MetadataDirective: "REPLACE", Metadata: { c: "3" } }));
assert.deepEqual((await s3.send(new HeadObjectCommand({ Bucket, Key: "dst.txt" }))).Metadata, { c: "3" });

const big = randomBytes(12 * 1024 * 1024);
const upload = new Upload({
  client: s3, partSize: 5 * 1024 * 1024, queueSize: 2,
  params: { Bucket, Key: "big.bin", Body: big, ChecksumAlgorithm: "CRC32" },
});
const done = await upload.done();
assert.match(done.ETag, /-3"$/, `a 3-part multipart upload: ${done.ETag}`);
assert.ok(big.equals(await bytes("big.bin")), "the uploaded bytes read back");
console.log("js ok");
