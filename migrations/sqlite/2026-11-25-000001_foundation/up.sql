-- Foundation: users, accounts and memberships, API keys, the credit ledger, the catalog and
-- idempotency records. Credits are BIGINT counts of 1/10,000 credit; money is BIGINT fen.

CREATE TABLE users (
    id            TEXT PRIMARY KEY NOT NULL,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    name          TEXT,
    is_admin      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    TIMESTAMP NOT NULL
);

CREATE TABLE accounts (
    id                    TEXT PRIMARY KEY NOT NULL,
    account_type          TEXT NOT NULL DEFAULT 'personal'
                          CHECK (account_type IN ('personal', 'family', 'business')),
    name                  TEXT NOT NULL,
    balance               BIGINT NOT NULL DEFAULT 0 CHECK (balance >= 0),
    held                  BIGINT NOT NULL DEFAULT 0 CHECK (held >= 0 AND held <= balance),
    low_balance_threshold BIGINT,
    created_at            TIMESTAMP NOT NULL,
    updated_at            TIMESTAMP NOT NULL
);

CREATE TABLE memberships (
    account_id          TEXT NOT NULL REFERENCES accounts (id),
    user_id             TEXT NOT NULL REFERENCES users (id),
    role                TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    monthly_spend_limit BIGINT,
    created_at          TIMESTAMP NOT NULL,
    PRIMARY KEY (account_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY NOT NULL,
    account_id   TEXT NOT NULL REFERENCES accounts (id),
    user_id      TEXT NOT NULL REFERENCES users (id),
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    key_hash     TEXT NOT NULL UNIQUE,
    scopes       TEXT NOT NULL,
    spend_limit  BIGINT CHECK (spend_limit >= 0),
    spent        BIGINT NOT NULL DEFAULT 0,
    expires_at   TIMESTAMP,
    last_used_at TIMESTAMP,
    revoked_at   TIMESTAMP,
    created_at   TIMESTAMP NOT NULL
);
CREATE INDEX api_keys_account ON api_keys (account_id, created_at);

-- Append-only: every change of a balance is one row here, written in the same transaction.
CREATE TABLE ledger_entries (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT NOT NULL UNIQUE,
    account_id    TEXT NOT NULL REFERENCES accounts (id),
    entry_type    TEXT NOT NULL
                  CHECK (entry_type IN ('purchase', 'generation', 'refund', 'adjustment', 'auto_topup')),
    credits       BIGINT NOT NULL,
    balance_after BIGINT NOT NULL CHECK (balance_after >= 0),
    reference_id  TEXT,
    description   TEXT NOT NULL,
    user_id       TEXT,
    api_key_id    TEXT,
    created_at    TIMESTAMP NOT NULL
);
CREATE INDEX ledger_account_seq ON ledger_entries (account_id, seq);
CREATE INDEX ledger_account_type_seq ON ledger_entries (account_id, entry_type, seq);

CREATE TABLE packages (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    credits     BIGINT NOT NULL CHECK (credits > 0),
    price_minor BIGINT NOT NULL CHECK (price_minor > 0),
    currency    TEXT NOT NULL,
    popular     BOOLEAN NOT NULL DEFAULT FALSE,
    active      BOOLEAN NOT NULL DEFAULT TRUE,
    created_at  TIMESTAMP NOT NULL
);

CREATE TABLE models (
    id                TEXT PRIMARY KEY NOT NULL,
    name              TEXT NOT NULL,
    tier              TEXT NOT NULL CHECK (tier IN ('basic', 'standard', 'premium')),
    credits_per_image BIGINT NOT NULL CHECK (credits_per_image > 0),
    sizes             TEXT NOT NULL,
    active            BOOLEAN NOT NULL DEFAULT TRUE,
    created_at        TIMESTAMP NOT NULL
);

CREATE TABLE idempotency_keys (
    account_id      TEXT NOT NULL,
    idem_key        TEXT NOT NULL,
    request_hash    TEXT NOT NULL,
    response_status INTEGER,
    response_body   TEXT,
    created_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (account_id, idem_key)
);
CREATE INDEX idempotency_created ON idempotency_keys (created_at);

INSERT INTO packages (id, name, credits, price_minor, currency, popular, active, created_at) VALUES
    ('basic',    'Basic Package',    1000000,   1000,  'CNY', FALSE, TRUE, '2026-01-01 00:00:00'),
    ('standard', 'Standard Package', 50000000,  5000,  'CNY', TRUE,  TRUE, '2026-01-01 00:00:01'),
    ('premium',  'Premium Package',  500000000, 50000, 'CNY', FALSE, TRUE, '2026-01-01 00:00:02');

INSERT INTO models (id, name, tier, credits_per_image, sizes, active, created_at) VALUES
    ('qwen-image', 'Qwen-Image', 'standard', 17500,
     '512x512,1024x1024,1328x1328,1664x928,928x1664,1472x1140,1140x1472', TRUE, '2026-01-01 00:00:00');
