ALTER TABLE accounts DROP CONSTRAINT accounts_thresholds_range;
ALTER TABLE accounts DROP CONSTRAINT accounts_balance_range;
DROP TABLE audit_events;
DROP TABLE sessions;
