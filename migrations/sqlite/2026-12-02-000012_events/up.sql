-- What happened to an account, as events (`GET /v1/events`): each written in the transaction
-- of the change it reports (see core/src/store/events.rs). `data` is the JSON object the event
-- carries. Ids are time-ordered, so they order the events and bound them by time
-- (`EventId::sorting_after`): two indexes in all, as a capture writes a row per generation.
CREATE TABLE events (
    id         TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    type       TEXT NOT NULL,
    data       TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX events_account ON events (account_id, id);
