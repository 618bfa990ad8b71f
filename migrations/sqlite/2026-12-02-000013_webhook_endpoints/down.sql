ALTER TABLE webhook_attempts DROP COLUMN duration_ms;
DROP INDEX webhook_deliveries_endpoint;
ALTER TABLE webhook_deliveries DROP COLUMN event_type;
ALTER TABLE webhook_deliveries DROP COLUMN event_id;
ALTER TABLE webhook_deliveries DROP COLUMN endpoint_id;
DROP TABLE webhook_endpoints;
