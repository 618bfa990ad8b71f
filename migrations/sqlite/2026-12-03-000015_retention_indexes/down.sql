DROP INDEX webhook_deliveries_created;
DROP INDEX sessions_expires;
