-- Sessions that can be revoked, the audit trail, and balances kept in range.

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
    seq              BIGSERIAL PRIMARY KEY,
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

-- A balance is at most 10^12 credits (10^16 units), far inside BIGINT.
ALTER TABLE accounts ADD CONSTRAINT accounts_balance_range CHECK (balance <= 10000000000000000);
ALTER TABLE accounts ADD CONSTRAINT accounts_thresholds_range CHECK (
    low_balance_threshold BETWEEN 0 AND 10000000000000000
    AND auto_topup_threshold BETWEEN 0 AND 10000000000000000
);
