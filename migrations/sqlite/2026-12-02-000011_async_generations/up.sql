-- Asynchronous generations (see api/src/queue.rs): a generation may wait `queued` for a worker
-- and be `canceled`; a worker claims it (`worker`, renewing `lease_expires_at` while it runs),
-- and work whose worker died is queued again once its lease ends (`attempts` counts the
-- starts). Each generation also keeps the price it was charged at, for its cost breakdown.
-- SQLite cannot change a CHECK constraint, so the table is rebuilt.

PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;

CREATE TABLE generations_v2 (
    id                TEXT PRIMARY KEY NOT NULL,
    account_id        TEXT NOT NULL REFERENCES accounts (id),
    api_key_id        TEXT,
    user_id           TEXT,
    model             TEXT NOT NULL,
    prompt            TEXT NOT NULL,
    size              TEXT NOT NULL,
    width             INTEGER NOT NULL,
    height            INTEGER NOT NULL,
    quality           TEXT NOT NULL,
    n                 INTEGER NOT NULL CHECK (n BETWEEN 1 AND 10),
    response_format   TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('queued', 'processing', 'succeeded', 'failed', 'canceled')),
    credits_cost      INTEGER NOT NULL,
    credits_charged   INTEGER NOT NULL DEFAULT 0,
    hold_id           TEXT NOT NULL,
    error_code        TEXT,
    error_message     TEXT,
    created_at        TEXT NOT NULL,
    completed_at      TEXT,
    credits_per_image INTEGER NOT NULL DEFAULT 0,
    mode              TEXT NOT NULL DEFAULT 'sync' CHECK (mode IN ('sync', 'async')),
    started_at        TEXT,
    worker            TEXT,
    lease_expires_at  TEXT,
    attempts          INTEGER NOT NULL DEFAULT 0
) STRICT;
INSERT INTO generations_v2 (
    id, account_id, api_key_id, user_id, model, prompt, size, width, height, quality, n,
    response_format, status, credits_cost, credits_charged, hold_id, error_code, error_message,
    created_at, completed_at, credits_per_image, started_at
)
SELECT g.id, g.account_id, g.api_key_id, g.user_id, g.model, g.prompt, g.size, g.width, g.height,
       g.quality, g.n, g.response_format, g.status, g.credits_cost, g.credits_charged, g.hold_id,
       g.error_code, g.error_message, g.created_at, g.completed_at,
       COALESCE((SELECT m.credits_per_image FROM models m WHERE m.id = g.model), 0), g.created_at
FROM generations g;
DROP TABLE generations;
ALTER TABLE generations_v2 RENAME TO generations;
CREATE INDEX generations_account ON generations (account_id, created_at, id);
CREATE INDEX generations_account_model ON generations (account_id, model, created_at, id);
CREATE INDEX generations_queued ON generations (created_at, id) WHERE status = 'queued';
CREATE INDEX generations_running ON generations (account_id) WHERE status = 'processing' AND mode = 'async';

PRAGMA foreign_key_check;
COMMIT;
PRAGMA foreign_keys = ON;
