-- Image bytes are stored once per distinct content (`sha256:<hex>`), however many generations
-- produced them; generation_images points at them. Images stored before this migration keep
-- their bytes under a per-image id (SQLite cannot hash in SQL).
CREATE TABLE image_blobs (
    id   TEXT PRIMARY KEY NOT NULL,
    data BLOB NOT NULL
);

INSERT INTO image_blobs (id, data)
SELECT 'legacy:' || generation_id || ':' || idx, data FROM generation_images;

CREATE TABLE generation_images_v2 (
    generation_id TEXT NOT NULL REFERENCES generations (id),
    idx           INTEGER NOT NULL,
    content_type  TEXT NOT NULL,
    width         INTEGER NOT NULL,
    height        INTEGER NOT NULL,
    blob_id       TEXT NOT NULL REFERENCES image_blobs (id),
    PRIMARY KEY (generation_id, idx)
);

INSERT INTO generation_images_v2 (generation_id, idx, content_type, width, height, blob_id)
SELECT generation_id, idx, content_type, width, height, 'legacy:' || generation_id || ':' || idx
FROM generation_images;

DROP TABLE generation_images;
ALTER TABLE generation_images_v2 RENAME TO generation_images;
