-- Usage rollups, low-balance alerts with an outbox of signed webhooks, and automatic top-up.

-- Thresholds live on the account row so a debit learns of a crossing from its own UPDATE.
ALTER TABLE accounts ADD COLUMN auto_topup_threshold BIGINT;
ALTER TABLE accounts ADD COLUMN webhook_secret TEXT;

-- Spend per account, UTC day, model, key and user: written in the capture transaction.
CREATE TABLE usage_daily (
    account_id  TEXT NOT NULL REFERENCES accounts (id),
    day         TEXT NOT NULL,
    model       TEXT NOT NULL,
    api_key_id  TEXT NOT NULL DEFAULT '',
    user_id     TEXT NOT NULL DEFAULT '',
    credits     BIGINT NOT NULL DEFAULT 0,
    generations BIGINT NOT NULL DEFAULT 0,
    images      BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, day, model, api_key_id, user_id)
);

CREATE TABLE alert_settings (
    account_id  TEXT PRIMARY KEY NOT NULL REFERENCES accounts (id),
    enabled     BOOLEAN NOT NULL,
    threshold   BIGINT NOT NULL CHECK (threshold >= 0),
    webhook_url TEXT,
    updated_at  TIMESTAMP NOT NULL
);

CREATE TABLE auto_topup_settings (
    account_id         TEXT PRIMARY KEY NOT NULL REFERENCES accounts (id),
    enabled            BOOLEAN NOT NULL,
    threshold          BIGINT NOT NULL CHECK (threshold >= 0),
    package_id         TEXT NOT NULL,
    payment_method_id  TEXT NOT NULL,
    max_topups_per_day INTEGER NOT NULL CHECK (max_topups_per_day >= 1),
    updated_at         TIMESTAMP NOT NULL
);

-- One row per downward crossing of the top-up threshold; the worker runs them one at a time
-- per account.
CREATE TABLE auto_topup_requests (
    id          TEXT PRIMARY KEY NOT NULL,
    account_id  TEXT NOT NULL REFERENCES accounts (id),
    status      TEXT NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'skipped')),
    purchase_id TEXT,
    detail      TEXT,
    created_at  TIMESTAMP NOT NULL,
    started_at  TIMESTAMP,
    finished_at TIMESTAMP
);
CREATE INDEX auto_topup_requests_status ON auto_topup_requests (status, created_at);
CREATE INDEX auto_topup_requests_account ON auto_topup_requests (account_id, created_at);

CREATE TABLE notifications (
    id         TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    kind       TEXT NOT NULL,
    message    TEXT NOT NULL,
    data       TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX notifications_account ON notifications (account_id, created_at, id);

-- Outbox of webhook events; every attempt is recorded in webhook_attempts.
CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY NOT NULL,
    account_id      TEXT NOT NULL REFERENCES accounts (id),
    url             TEXT NOT NULL,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    lease_until     TIMESTAMP,
    created_at      TIMESTAMP NOT NULL,
    delivered_at    TIMESTAMP
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);

CREATE TABLE webhook_attempts (
    delivery_id TEXT NOT NULL REFERENCES webhook_deliveries (id),
    attempt     INTEGER NOT NULL,
    status_code INTEGER,
    error       TEXT,
    at          TIMESTAMP NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);
