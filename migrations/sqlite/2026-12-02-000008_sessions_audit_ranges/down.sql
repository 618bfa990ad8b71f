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
DROP TABLE audit_events;
DROP TABLE sessions;
PRAGMA foreign_key_check;
COMMIT;
PRAGMA foreign_keys = ON;
