-- Sessions that can be revoked, the audit trail, and balances kept in range.

PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;

-- A session token names its row here; logging out (or being removed from the account) sets
-- revoked_at, and the token stops working at once.
CREATE TABLE sessions (
    id         TEXT PRIMARY KEY NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id),
    account_id TEXT NOT NULL REFERENCES accounts (id),
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);
CREATE INDEX sessions_user_account ON sessions (user_id, account_id);

-- Who did what to an account, and when, from which key or session.
CREATE TABLE audit_events (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    id               TEXT NOT NULL UNIQUE,
    account_id       TEXT NOT NULL REFERENCES accounts (id),
    action           TEXT NOT NULL,
    actor_user_id    TEXT,
    actor_api_key_id TEXT,
    actor_session_id TEXT,
    target_id        TEXT,
    details          TEXT NOT NULL,
    created_at       TIMESTAMP NOT NULL
);
CREATE INDEX audit_account_seq ON audit_events (account_id, seq);

-- accounts becomes STRICT (an INTEGER column refuses a REAL, which SQLite's arithmetic makes
-- of an overflowing sum), its balance at most 10^12 credits: SQLite's own recipe for changing
-- a table (https://sqlite.org/lang_altertable.html#otheralter), with foreign keys off, so this
-- migration manages its own transaction (metadata.toml).
CREATE TABLE accounts_strict (
    id                    TEXT PRIMARY KEY NOT NULL,
    account_type          TEXT NOT NULL DEFAULT 'personal'
                          CHECK (account_type IN ('personal', 'family', 'business')),
    name                  TEXT NOT NULL,
    balance               INTEGER NOT NULL DEFAULT 0 CHECK (balance BETWEEN 0 AND 10000000000000000),
    held                  INTEGER NOT NULL DEFAULT 0 CHECK (held >= 0 AND held <= balance),
    low_balance_threshold INTEGER CHECK (low_balance_threshold BETWEEN 0 AND 10000000000000000),
    created_at            TEXT NOT NULL,
    updated_at            TEXT NOT NULL,
    auto_topup_threshold  INTEGER CHECK (auto_topup_threshold BETWEEN 0 AND 10000000000000000),
    webhook_secret        TEXT
) STRICT;
INSERT INTO accounts_strict
    SELECT id, account_type, name, balance, held, low_balance_threshold, created_at, updated_at,
           auto_topup_threshold, webhook_secret
    FROM accounts;
DROP TABLE accounts;
ALTER TABLE accounts_strict RENAME TO accounts;
-- The other tables that hold credits or money become STRICT too (same recipe; each keeps its
-- columns, constraints and indexes, with SQLite's own type names).
CREATE TABLE memberships_strict (
    account_id          TEXT NOT NULL REFERENCES accounts (id),
    user_id             TEXT NOT NULL REFERENCES users (id),
    role                TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    monthly_spend_limit INTEGER,
    created_at          TEXT NOT NULL,
    PRIMARY KEY (account_id, user_id)
) STRICT;
INSERT INTO memberships_strict SELECT * FROM memberships;
DROP TABLE memberships;
ALTER TABLE memberships_strict RENAME TO memberships;
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE api_keys_strict (
    id           TEXT PRIMARY KEY NOT NULL,
    account_id   TEXT NOT NULL REFERENCES accounts (id),
    user_id      TEXT NOT NULL REFERENCES users (id),
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    key_hash     TEXT NOT NULL UNIQUE,
    scopes       TEXT NOT NULL,
    spend_limit  INTEGER CHECK (spend_limit >= 0),
    spent        INTEGER NOT NULL DEFAULT 0,
    expires_at   TEXT,
    last_used_at TEXT,
    revoked_at   TEXT,
    created_at   TEXT NOT NULL
) STRICT;
INSERT INTO api_keys_strict SELECT * FROM api_keys;
DROP TABLE api_keys;
ALTER TABLE api_keys_strict RENAME TO api_keys;
CREATE INDEX api_keys_account ON api_keys (account_id, created_at);

CREATE TABLE ledger_entries_strict (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT NOT NULL UNIQUE,
    account_id    TEXT NOT NULL REFERENCES accounts (id),
    entry_type    TEXT NOT NULL
                  CHECK (entry_type IN ('purchase', 'generation', 'refund', 'adjustment', 'auto_topup')),
    credits       INTEGER NOT NULL,
    balance_after INTEGER NOT NULL CHECK (balance_after >= 0),
    reference_id  TEXT,
    description   TEXT NOT NULL,
    user_id       TEXT,
    api_key_id    TEXT,
    created_at    TEXT NOT NULL
) STRICT;
INSERT INTO ledger_entries_strict SELECT * FROM ledger_entries;
DROP TABLE ledger_entries;
ALTER TABLE ledger_entries_strict RENAME TO ledger_entries;
CREATE INDEX ledger_account_seq ON ledger_entries (account_id, seq);
CREATE INDEX ledger_account_type_seq ON ledger_entries (account_id, entry_type, seq);

CREATE TABLE packages_strict (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    credits     INTEGER NOT NULL CHECK (credits > 0),
    price_minor INTEGER NOT NULL CHECK (price_minor > 0),
    currency    TEXT NOT NULL,
    popular     INTEGER NOT NULL DEFAULT FALSE,
    active      INTEGER NOT NULL DEFAULT TRUE,
    created_at  TEXT NOT NULL
) STRICT;
INSERT INTO packages_strict SELECT * FROM packages;
DROP TABLE packages;
ALTER TABLE packages_strict RENAME TO packages;

CREATE TABLE models_strict (
    id                TEXT PRIMARY KEY NOT NULL,
    name              TEXT NOT NULL,
    tier              TEXT NOT NULL CHECK (tier IN ('basic', 'standard', 'premium')),
    credits_per_image INTEGER NOT NULL CHECK (credits_per_image > 0),
    sizes             TEXT NOT NULL,
    active            INTEGER NOT NULL DEFAULT TRUE,
    created_at        TEXT NOT NULL
) STRICT;
INSERT INTO models_strict SELECT * FROM models;
DROP TABLE models;
ALTER TABLE models_strict RENAME TO models;

CREATE TABLE purchases_strict (
    id                TEXT PRIMARY KEY NOT NULL,
    account_id        TEXT NOT NULL REFERENCES accounts (id),
    package_id        TEXT NOT NULL REFERENCES packages (id),
    credits           INTEGER NOT NULL CHECK (credits > 0),
    amount_minor      INTEGER NOT NULL CHECK (amount_minor > 0),
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
    credits_remaining INTEGER NOT NULL DEFAULT 0 CHECK (credits_remaining >= 0 AND credits_remaining <= credits),
    refunded_credits  INTEGER NOT NULL DEFAULT 0 CHECK (refunded_credits >= 0 AND refunded_credits <= credits),
    failure_code      TEXT,
    failure_message   TEXT,
    auto_topup        INTEGER NOT NULL DEFAULT FALSE,
    user_id           TEXT,
    api_key_id        TEXT,
    created_at        TEXT NOT NULL,
    succeeded_at      TEXT
) STRICT;
INSERT INTO purchases_strict SELECT * FROM purchases;
DROP TABLE purchases;
ALTER TABLE purchases_strict RENAME TO purchases;
CREATE INDEX purchases_account ON purchases (account_id, created_at, id);
CREATE INDEX purchases_lots ON purchases (account_id, succeeded_at, id) WHERE credits_remaining > 0;

CREATE TABLE refunds_strict (
    id              TEXT PRIMARY KEY NOT NULL,
    account_id      TEXT NOT NULL REFERENCES accounts (id),
    purchase_id     TEXT NOT NULL REFERENCES purchases (id),
    credits         INTEGER NOT NULL CHECK (credits > 0),
    amount_minor    INTEGER NOT NULL CHECK (amount_minor >= 0),
    currency        TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('processing', 'succeeded')),
    provider_refund TEXT,
    expected_by     TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    completed_at    TEXT
) STRICT;
INSERT INTO refunds_strict SELECT * FROM refunds;
DROP TABLE refunds;
ALTER TABLE refunds_strict RENAME TO refunds;
CREATE INDEX refunds_account ON refunds (account_id, created_at, id);

CREATE TABLE holds_strict (
    id           TEXT PRIMARY KEY NOT NULL,
    account_id   TEXT NOT NULL REFERENCES accounts (id),
    amount       INTEGER NOT NULL CHECK (amount > 0),
    api_key_id   TEXT,
    user_id      TEXT,
    reference_id TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('active', 'captured', 'released')),
    expires_at   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    resolved_at  TEXT
) STRICT;
INSERT INTO holds_strict SELECT * FROM holds;
DROP TABLE holds;
ALTER TABLE holds_strict RENAME TO holds;
CREATE INDEX holds_active_expiry ON holds (expires_at) WHERE status = 'active';

CREATE TABLE generations_strict (
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
INSERT INTO generations_strict SELECT * FROM generations;
DROP TABLE generations;
ALTER TABLE generations_strict RENAME TO generations;
CREATE INDEX generations_account ON generations (account_id, created_at, id);
CREATE INDEX generations_account_model ON generations (account_id, model, created_at, id);

CREATE TABLE member_spend_strict (
    account_id TEXT NOT NULL REFERENCES accounts (id),
    user_id    TEXT NOT NULL REFERENCES users (id),
    month      TEXT NOT NULL,
    spent      INTEGER NOT NULL DEFAULT 0 CHECK (spent >= 0),
    PRIMARY KEY (account_id, user_id, month)
) STRICT;
INSERT INTO member_spend_strict SELECT * FROM member_spend;
DROP TABLE member_spend;
ALTER TABLE member_spend_strict RENAME TO member_spend;

CREATE TABLE usage_daily_strict (
    account_id  TEXT NOT NULL REFERENCES accounts (id),
    day         TEXT NOT NULL,
    model       TEXT NOT NULL,
    api_key_id  TEXT NOT NULL DEFAULT '',
    user_id     TEXT NOT NULL DEFAULT '',
    credits     INTEGER NOT NULL DEFAULT 0,
    generations INTEGER NOT NULL DEFAULT 0,
    images      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, day, model, api_key_id, user_id)
) STRICT;
INSERT INTO usage_daily_strict SELECT * FROM usage_daily;
DROP TABLE usage_daily;
ALTER TABLE usage_daily_strict RENAME TO usage_daily;

CREATE TABLE alert_settings_strict (
    account_id  TEXT PRIMARY KEY NOT NULL REFERENCES accounts (id),
    enabled     INTEGER NOT NULL,
    threshold   INTEGER NOT NULL CHECK (threshold >= 0),
    webhook_url TEXT,
    updated_at  TEXT NOT NULL
) STRICT;
INSERT INTO alert_settings_strict SELECT * FROM alert_settings;
DROP TABLE alert_settings;
ALTER TABLE alert_settings_strict RENAME TO alert_settings;

CREATE TABLE auto_topup_settings_strict (
    account_id         TEXT PRIMARY KEY NOT NULL REFERENCES accounts (id),
    enabled            INTEGER NOT NULL,
    threshold          INTEGER NOT NULL CHECK (threshold >= 0),
    package_id         TEXT NOT NULL,
    payment_method_id  TEXT NOT NULL,
    max_topups_per_day INTEGER NOT NULL CHECK (max_topups_per_day >= 1),
    updated_at         TEXT NOT NULL
) STRICT;
INSERT INTO auto_topup_settings_strict SELECT * FROM auto_topup_settings;
DROP TABLE auto_topup_settings;
ALTER TABLE auto_topup_settings_strict RENAME TO auto_topup_settings;

PRAGMA foreign_key_check;
COMMIT;
PRAGMA foreign_keys = ON;
