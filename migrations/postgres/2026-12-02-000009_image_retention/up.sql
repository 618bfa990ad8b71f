-- Image retention (see core/src/store/images.rs). Each blob records when a process last relied
-- on it being stored (unix seconds; 0 for blobs stored before this migration), so that blobs no
-- image references can be collected once no process can still be about to reference them. The
-- index on generation_images(blob_id) answers "does any image still use this blob?".
ALTER TABLE image_blobs ADD COLUMN touched_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX image_blobs_touched ON image_blobs (touched_at);
CREATE INDEX generation_images_blob ON generation_images (blob_id);
