-- What happened to an account, as events (`GET /v1/events`): each written in the transaction
-- of the change it reports (see core/src/store/events.rs). `data` is the JSON object the event
-- carries.
CREATE TABLE events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL UNIQUE,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    type       TEXT NOT NULL,
    data       TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;
CREATE INDEX events_account ON events (account_id, seq);
CREATE INDEX events_account_type ON events (account_id, type, seq);
CREATE INDEX events_created ON events (created_at);
