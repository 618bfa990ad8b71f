-- The retention task finds what it deletes by age: ended sessions and finished webhook
-- deliveries (events are found by their time-ordered primary key).
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX webhook_deliveries_created ON webhook_deliveries (created_at);
