-- 0002: find which blobs rows point at, to reclaim orphans left by a crash.
CREATE INDEX IF NOT EXISTS objects_file ON objects (file_id);
CREATE INDEX IF NOT EXISTS parts_file ON parts (file_id);
CREATE INDEX IF NOT EXISTS uploads_bucket ON uploads (bucket, key);
