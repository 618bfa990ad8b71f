-- Two-phase spending (holds) and image generations with their stored images.

CREATE TABLE holds (
    id           TEXT PRIMARY KEY NOT NULL,
    account_id   TEXT NOT NULL REFERENCES accounts (id),
    amount       BIGINT NOT NULL CHECK (amount > 0),
    api_key_id   TEXT,
    user_id      TEXT,
    reference_id TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('active', 'captured', 'released')),
    expires_at   TIMESTAMP NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    resolved_at  TIMESTAMP
);
CREATE INDEX holds_active_expiry ON holds (expires_at) WHERE status = 'active';

CREATE TABLE generations (
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
    credits_cost    BIGINT NOT NULL,
    credits_charged BIGINT NOT NULL DEFAULT 0,
    hold_id         TEXT NOT NULL,
    error_code      TEXT,
    error_message   TEXT,
    created_at      TIMESTAMP NOT NULL,
    completed_at    TIMESTAMP
);
CREATE INDEX generations_account ON generations (account_id, created_at, id);
CREATE INDEX generations_account_model ON generations (account_id, model, created_at, id);

CREATE TABLE generation_images (
    generation_id TEXT NOT NULL REFERENCES generations (id),
    idx           INTEGER NOT NULL,
    content_type  TEXT NOT NULL,
    width         INTEGER NOT NULL,
    height        INTEGER NOT NULL,
    data          BYTEA NOT NULL,
    PRIMARY KEY (generation_id, idx)
);
