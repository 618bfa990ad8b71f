PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
CREATE TABLE generations_v1 (
    id              TEXT PRIMARY KEY NOT NULL,
    account_id      TEXT NOT NULL REFERENCES accounts (id),
    api_key_id      TEXT,
    user_id         TEXT,
    model           TEXT NOT NULL,
    prompt          TEXT NOT NULL,
    size            TEXT NOT NULL,
    width           INTEGER NOT NULL,
    height          INTEGER NOT NULL,
    quality         TEXT NOT NULL,
    n               INTEGER NOT NULL CHECK (n BETWEEN 1 AND 10),
    response_format TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('processing', 'succeeded', 'failed')),
    credits_cost    INTEGER NOT NULL,
    credits_charged INTEGER NOT NULL DEFAULT 0,
    hold_id         TEXT NOT NULL,
    error_code      TEXT,
    error_message   TEXT,
    created_at      TEXT NOT NULL,
    completed_at    TEXT
) STRICT;
INSERT INTO generations_v1
SELECT id, account_id, api_key_id, user_id, model, prompt, size, width, height, quality, n,
       response_format, CASE WHEN status IN ('queued', 'canceled') THEN 'failed' ELSE status END,
       credits_cost, credits_charged, hold_id, error_code, error_message, created_at, completed_at
FROM generations;
DROP TABLE generations;
ALTER TABLE generations_v1 RENAME TO generations;
CREATE INDEX generations_account ON generations (account_id, created_at, id);
CREATE INDEX generations_account_model ON generations (account_id, model, created_at, id);
PRAGMA foreign_key_check;
COMMIT;
PRAGMA foreign_keys = ON;
