DROP INDEX generation_images_blob;
DROP INDEX image_blobs_touched;
ALTER TABLE image_blobs DROP COLUMN touched_at;
