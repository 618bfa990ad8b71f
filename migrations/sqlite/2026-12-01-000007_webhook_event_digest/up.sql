-- A payment provider's event id names one event: its body's SHA-256 is kept so that the id
-- reused with another body is refused, not acknowledged as a duplicate (NULL: before this).
ALTER TABLE webhook_events ADD COLUMN body_sha256 TEXT;
