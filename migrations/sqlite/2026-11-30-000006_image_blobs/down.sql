CREATE TABLE generation_images_v1 (
    generation_id TEXT NOT NULL REFERENCES generations (id),
    idx           INTEGER NOT NULL,
    content_type  TEXT NOT NULL,
    width         INTEGER NOT NULL,
    height        INTEGER NOT NULL,
    data          BLOB NOT NULL,
    PRIMARY KEY (generation_id, idx)
);

INSERT INTO generation_images_v1 (generation_id, idx, content_type, width, height, data)
SELECT i.generation_id, i.idx, i.content_type, i.width, i.height, b.data
FROM generation_images i JOIN image_blobs b ON b.id = i.blob_id;

DROP TABLE generation_images;
ALTER TABLE generation_images_v1 RENAME TO generation_images;
DROP TABLE image_blobs;
