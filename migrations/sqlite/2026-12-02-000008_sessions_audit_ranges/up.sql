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
PRAGMA foreign_key_check;
COMMIT;
PRAGMA foreign_keys = ON;
