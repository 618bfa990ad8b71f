ALTER TABLE webhook_events DROP COLUMN body_sha256;
