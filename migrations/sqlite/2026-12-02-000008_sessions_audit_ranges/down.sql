PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
CREATE TABLE accounts_loose (
    id                    TEXT PRIMARY KEY NOT NULL,
    account_type          TEXT NOT NULL DEFAULT 'personal'
                          CHECK (account_type IN ('personal', 'family', 'business')),
    name                  TEXT NOT NULL,
    balance               BIGINT NOT NULL DEFAULT 0 CHECK (balance >= 0),
    held                  BIGINT NOT NULL DEFAULT 0 CHECK (held >= 0 AND held <= balance),
    low_balance_threshold BIGINT,
    created_at            TIMESTAMP NOT NULL,
    updated_at            TIMESTAMP NOT NULL,
    auto_topup_threshold  BIGINT,
    webhook_secret        TEXT
);
INSERT INTO accounts_loose SELECT * FROM accounts;
DROP TABLE accounts;
ALTER TABLE accounts_loose RENAME TO accounts;
CREATE TABLE memberships_loose (
    account_id          TEXT NOT NULL REFERENCES accounts (id),
    user_id             TEXT NOT NULL REFERENCES users (id),
    role                TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    monthly_spend_limit BIGINT,
    created_at          TIMESTAMP NOT NULL,
    PRIMARY KEY (account_id, user_id)
);
INSERT INTO memberships_loose SELECT * FROM memberships;
DROP TABLE memberships;
ALTER TABLE memberships_loose RENAME TO memberships;
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE api_keys_loose (
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
INSERT INTO api_keys_loose SELECT * FROM api_keys;
DROP TABLE api_keys;
ALTER TABLE api_keys_loose RENAME TO api_keys;
CREATE INDEX api_keys_account ON api_keys (account_id, created_at);

CREATE TABLE ledger_entries_loose (
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
INSERT INTO ledger_entries_loose SELECT * FROM ledger_entries;
DROP TABLE ledger_entries;
ALTER TABLE ledger_entries_loose RENAME TO ledger_entries;
CREATE INDEX ledger_account_seq ON ledger_entries (account_id, seq);
CREATE INDEX ledger_account_type_seq ON ledger_entries (account_id, entry_type, seq);

CREATE TABLE packages_loose (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    credits     BIGINT NOT NULL CHECK (credits > 0),
    price_minor BIGINT NOT NULL CHECK (price_minor > 0),
    currency    TEXT NOT NULL,
    popular     BOOLEAN NOT NULL DEFAULT FALSE,
    active      BOOLEAN NOT NULL DEFAULT TRUE,
    created_at  TIMESTAMP NOT NULL
);
INSERT INTO packages_loose SELECT * FROM packages;
DROP TABLE packages;
ALTER TABLE packages_loose RENAME TO packages;

CREATE TABLE models_loose (
    id                TEXT PRIMARY KEY NOT NULL,
    name              TEXT NOT NULL,
    tier              TEXT NOT NULL CHECK (tier IN ('basic', 'standard', 'premium')),
    credits_per_image BIGINT NOT NULL CHECK (credits_per_image > 0),
    sizes             TEXT NOT NULL,
    active            BOOLEAN NOT NULL DEFAULT TRUE,
    created_at        TIMESTAMP NOT NULL
);
INSERT INTO models_loose SELECT * FROM models;
DROP TABLE models;
ALTER TABLE models_loose RENAME TO models;

CREATE TABLE purchases_loose (
    id                TEXT PRIMARY KEY NOT NULL,
    account_id        TEXT NOT NULL REFERENCES accounts (id),
    package_id        TEXT NOT NULL REFERENCES packages (id),
    credits           BIGINT NOT NULL CHECK (credits > 0),
    amount_minor      BIGINT NOT NULL CHECK (amount_minor > 0),
    currency          TEXT NOT NULL,
    status            TEXT NOT NULL
                      CHECK (status IN ('processing', 'succeeded', 'requires_action', 'pending', 'failed',
                                        'refunded', 'partially_refunded')),
    method_type       TEXT NOT NULL CHECK (method_type IN ('card', 'alipay', 'wechat_pay', 'bank_transfer')),
    card_brand        TEXT,
    card_last4        TEXT,
    payment_method_id TEXT,
    provider          TEXT NOT NULL,
    provider_charge   TEXT,
    next_action_type  TEXT,
    next_action_url   TEXT,
    bank_reference    TEXT UNIQUE,
    bank_beneficiary  TEXT,
    bank_name         TEXT,
    bank_account      TEXT,
    credits_remaining BIGINT NOT NULL DEFAULT 0 CHECK (credits_remaining >= 0 AND credits_remaining <= credits),
    refunded_credits  BIGINT NOT NULL DEFAULT 0 CHECK (refunded_credits >= 0 AND refunded_credits <= credits),
    failure_code      TEXT,
    failure_message   TEXT,
    auto_topup        BOOLEAN NOT NULL DEFAULT FALSE,
    user_id           TEXT,
    api_key_id        TEXT,
    created_at        TIMESTAMP NOT NULL,
    succeeded_at      TIMESTAMP
);
INSERT INTO purchases_loose SELECT * FROM purchases;
DROP TABLE purchases;
ALTER TABLE purchases_loose RENAME TO purchases;
CREATE INDEX purchases_account ON purchases (account_id, created_at, id);
CREATE INDEX purchases_lots ON purchases (account_id, succeeded_at, id) WHERE credits_remaining > 0;

CREATE TABLE refunds_loose (
    id              TEXT PRIMARY KEY NOT NULL,
    account_id      TEXT NOT NULL REFERENCES accounts (id),
    purchase_id     TEXT NOT NULL REFERENCES purchases (id),
    credits         BIGINT NOT NULL CHECK (credits > 0),
    amount_minor    BIGINT NOT NULL CHECK (amount_minor >= 0),
    currency        TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('processing', 'succeeded')),
    provider_refund TEXT,
    expected_by     TIMESTAMP NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    completed_at    TIMESTAMP
);
INSERT INTO refunds_loose SELECT * FROM refunds;
DROP TABLE refunds;
ALTER TABLE refunds_loose RENAME TO refunds;
CREATE INDEX refunds_account ON refunds (account_id, created_at, id);

CREATE TABLE holds_loose (
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
INSERT INTO holds_loose SELECT * FROM holds;
DROP TABLE holds;
ALTER TABLE holds_loose RENAME TO holds;
CREATE INDEX holds_active_expiry ON holds (expires_at) WHERE status = 'active';

CREATE TABLE generations_loose (
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
INSERT INTO generations_loose SELECT * FROM generations;
DROP TABLE generations;
ALTER TABLE generations_loose RENAME TO generations;
CREATE INDEX generations_account ON generations (account_id, created_at, id);
CREATE INDEX generations_account_model ON generations (account_id, model, created_at, id);

CREATE TABLE member_spend_loose (
    account_id TEXT NOT NULL REFERENCES accounts (id),
    user_id    TEXT NOT NULL REFERENCES users (id),
    month      TEXT NOT NULL,
    spent      BIGINT NOT NULL DEFAULT 0 CHECK (spent >= 0),
    PRIMARY KEY (account_id, user_id, month)
);
INSERT INTO member_spend_loose SELECT * FROM member_spend;
DROP TABLE member_spend;
ALTER TABLE member_spend_loose RENAME TO member_spend;

CREATE TABLE usage_daily_loose (
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
INSERT INTO usage_daily_loose SELECT * FROM usage_daily;
DROP TABLE usage_daily;
ALTER TABLE usage_daily_loose RENAME TO usage_daily;

CREATE TABLE alert_settings_loose (
    account_id  TEXT PRIMARY KEY NOT NULL REFERENCES accounts (id),
    enabled     BOOLEAN NOT NULL,
    threshold   BIGINT NOT NULL CHECK (threshold >= 0),
    webhook_url TEXT,
    updated_at  TIMESTAMP NOT NULL
);
INSERT INTO alert_settings_loose SELECT * FROM alert_settings;
DROP TABLE alert_settings;
ALTER TABLE alert_settings_loose RENAME TO alert_settings;

CREATE TABLE auto_topup_settings_loose (
    account_id         TEXT PRIMARY KEY NOT NULL REFERENCES accounts (id),
    enabled            BOOLEAN NOT NULL,
    threshold          BIGINT NOT NULL CHECK (threshold >= 0),
    package_id         TEXT NOT NULL,
    payment_method_id  TEXT NOT NULL,
    max_topups_per_day INTEGER NOT NULL CHECK (max_topups_per_day >= 1),
    updated_at         TIMESTAMP NOT NULL
);
INSERT INTO auto_topup_settings_loose SELECT * FROM auto_topup_settings;
DROP TABLE auto_topup_settings;
ALTER TABLE auto_topup_settings_loose RENAME TO auto_topup_settings;

DROP TABLE audit_events;
DROP TABLE sessions;
PRAGMA foreign_key_check;
COMMIT;
PRAGMA foreign_keys = ON;
