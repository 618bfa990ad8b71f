-- Asynchronous generations (see api/src/queue.rs): a generation may wait `queued` for a worker
-- and be `canceled`; a worker claims it (`worker`, renewing `lease_expires_at` while it runs),
-- and work whose worker died is queued again once its lease ends (`attempts` counts the
-- starts). Each generation also keeps the price it was charged at, for its cost breakdown.
ALTER TABLE generations DROP CONSTRAINT generations_status_check;
ALTER TABLE generations ADD CONSTRAINT generations_status_check
    CHECK (status IN ('queued', 'processing', 'succeeded', 'failed', 'canceled'));
ALTER TABLE generations ADD COLUMN credits_per_image BIGINT NOT NULL DEFAULT 0;
ALTER TABLE generations ADD COLUMN mode TEXT NOT NULL DEFAULT 'sync' CHECK (mode IN ('sync', 'async'));
ALTER TABLE generations ADD COLUMN started_at TIMESTAMP;
ALTER TABLE generations ADD COLUMN worker TEXT;
ALTER TABLE generations ADD COLUMN lease_expires_at TIMESTAMP;
ALTER TABLE generations ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
UPDATE generations g SET credits_per_image = m.credits_per_image, started_at = g.created_at
FROM models m WHERE m.id = g.model;
CREATE INDEX generations_queued ON generations (created_at, id) WHERE status = 'queued';
CREATE INDEX generations_running ON generations (account_id) WHERE status = 'processing' AND mode = 'async';
