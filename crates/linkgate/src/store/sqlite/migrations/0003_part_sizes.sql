-- The sizes of a multipart object's parts (a JSON array), so GET ?partNumber=N
-- can answer one part after completion; NULL for single-part objects and for
-- objects completed before this column existed.
ALTER TABLE objects ADD COLUMN part_sizes TEXT;
