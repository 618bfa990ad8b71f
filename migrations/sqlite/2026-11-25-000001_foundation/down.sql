DROP TABLE idempotency_keys; DROP TABLE models; DROP TABLE packages; DROP TABLE ledger_entries; DROP TABLE api_keys; DROP TABLE memberships; DROP TABLE accounts; DROP TABLE users;
