-- What each member of a shared account spent per calendar month (UTC), counted in the same
-- transaction as the spend's hold so that concurrent spends cannot pass the monthly limit.
CREATE TABLE member_spend (
    account_id TEXT NOT NULL REFERENCES accounts (id),
    user_id    TEXT NOT NULL REFERENCES users (id),
    month      TEXT NOT NULL,
    spent      BIGINT NOT NULL DEFAULT 0 CHECK (spent >= 0),
    PRIMARY KEY (account_id, user_id, month)
);
