ALTER TABLE generation_images ADD COLUMN data BYTEA;
UPDATE generation_images i SET data = b.data FROM image_blobs b WHERE b.id = i.blob_id;
ALTER TABLE generation_images ALTER COLUMN data SET NOT NULL;
ALTER TABLE generation_images DROP COLUMN blob_id;
DROP TABLE image_blobs;
