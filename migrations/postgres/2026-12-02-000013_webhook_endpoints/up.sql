-- Webhook endpoints managed by API (see core/src/store/webhook_endpoints.rs): each with its own
-- signing secret (and, during a rotation's grace period, the previous one), the event types it
-- wants, and since when its deliveries have been failing (past a limit it is disabled).
-- Deliveries are made per endpoint and event; each attempt records how long it took.
CREATE TABLE webhook_endpoints (
    id                         TEXT PRIMARY KEY NOT NULL,
    account_id                 TEXT NOT NULL REFERENCES accounts (id),
    url                        TEXT NOT NULL,
    description                TEXT NOT NULL DEFAULT '',
    enabled_events             TEXT NOT NULL,
    status                     TEXT NOT NULL CHECK (status IN ('enabled', 'disabled')),
    disabled_reason            TEXT,
    secret                     TEXT NOT NULL,
    previous_secret            TEXT,
    previous_secret_expires_at TIMESTAMP,
    failing_since              TIMESTAMP,
    managed_by                 TEXT,
    created_at                 TIMESTAMP NOT NULL,
    updated_at                 TIMESTAMP NOT NULL
);
CREATE INDEX webhook_endpoints_account ON webhook_endpoints (account_id, created_at, id);

ALTER TABLE webhook_deliveries ADD COLUMN endpoint_id TEXT;
ALTER TABLE webhook_deliveries ADD COLUMN event_id TEXT;
ALTER TABLE webhook_deliveries ADD COLUMN event_type TEXT;
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at, id);
ALTER TABLE webhook_attempts ADD COLUMN duration_ms INTEGER;

-- The low-balance alert's webhook URL becomes an endpoint subscribed to `balance.low`, signed
-- with the secret the account already gave its receiver.
INSERT INTO webhook_endpoints (id, account_id, url, description, enabled_events, status, secret, managed_by, created_at, updated_at)
SELECT 'we_' || substr(md5(random()::text || s.account_id), 1, 24), s.account_id, s.webhook_url, 'Low-balance alert', 'balance.low', 'enabled',
       COALESCE(a.webhook_secret, 'whsec_' || md5(random()::text) || md5(random()::text)), 'low_balance_alert', s.updated_at, s.updated_at
FROM alert_settings s JOIN accounts a ON a.id = s.account_id
WHERE s.webhook_url IS NOT NULL;
UPDATE accounts SET webhook_secret = (SELECT e.secret FROM webhook_endpoints e WHERE e.account_id = accounts.id AND e.managed_by = 'low_balance_alert')
WHERE webhook_secret IS NULL AND id IN (SELECT account_id FROM webhook_endpoints WHERE managed_by = 'low_balance_alert');
