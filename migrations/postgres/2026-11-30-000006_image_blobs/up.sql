-- Image bytes are stored once per distinct content (`sha256:<hex>`), however many generations
-- produced them; generation_images points at them. Images stored before this migration keep
-- their bytes under a per-image id (the same scheme as on SQLite, which cannot hash in SQL).
CREATE TABLE image_blobs (
    id   TEXT PRIMARY KEY,
    data BYTEA NOT NULL
);

INSERT INTO image_blobs (id, data)
SELECT 'legacy:' || generation_id || ':' || idx, data FROM generation_images;

ALTER TABLE generation_images ADD COLUMN blob_id TEXT REFERENCES image_blobs (id);
UPDATE generation_images SET blob_id = 'legacy:' || generation_id || ':' || idx;
ALTER TABLE generation_images ALTER COLUMN blob_id SET NOT NULL;
ALTER TABLE generation_images DROP COLUMN data;
