-- pgbench: the generation path's spend transaction without HTTP or diesel (the same conditional
-- UPDATE and ledger INSERT as core's store::ledger::append_entry). :naccounts is 1000 (spread)
-- or 1 (one hot row); accounts are acct_b0 .. acct_b999 as seeded by bench/run.
\set aid random(0, :naccounts - 1)
BEGIN;
UPDATE accounts SET balance = balance - 17500, updated_at = now() WHERE id = 'acct_b' || :aid AND balance - held >= 17500 RETURNING balance AS balance_after \gset
INSERT INTO ledger_entries (id, account_id, entry_type, credits, balance_after, reference_id, description, created_at) VALUES ('txn_' || md5(random()::text || clock_timestamp()::text), 'acct_b' || :aid, 'generation', -17500, :balance_after, 'gen_bench', 'bench', now());
END;
