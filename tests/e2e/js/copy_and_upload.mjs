// The AWS SDK for JavaScript v3 against a linkgate server: CopyObjectCommand
// (metadata REPLACE, and a copy onto itself), and lib-storage's Upload of a
// multipart object with CRC32 checksums, composite and FULL_OBJECT (the latter
// checked against node:zlib's CRC32 and validated by the SDK on a GetObject with
// checksum mode). Exits non-zero on the first failure.
//
//   LINKGATE_URL=http://127.0.0.1:PORT BUCKET=name node copy_and_upload.mjs
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { crc32 } from "node:zlib";
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
// FULL_OBJECT: the object's checksum is the CRC32 of all its bytes.
const fullObject = new Upload({
  client: s3, partSize: 5 * 1024 * 1024, queueSize: 2,
  params: { Bucket, Key: "full.bin", Body: big, ChecksumAlgorithm: "CRC32", ChecksumType: "FULL_OBJECT" },
});
const full = await fullObject.done();
const want = Buffer.alloc(4);
want.writeUInt32BE(crc32(big));
assert.equal(full.ChecksumType, "FULL_OBJECT", JSON.stringify(full));
assert.equal(full.ChecksumCRC32, want.toString("base64"), "Complete returns the CRC32 of the whole object");
const got = await s3.send(new GetObjectCommand({ Bucket, Key: "full.bin", ChecksumMode: "ENABLED" }));
assert.equal(got.ChecksumType, "FULL_OBJECT");
assert.ok(big.equals(Buffer.from(await got.Body.transformToByteArray())), "read back, the SDK validating the CRC32");
console.log("js ok");
