-- An API key's spend limit may reset at the start of each UTC day, week (Monday) or month.
-- `spent` counts the spend of the window `spent_window` names (the date its period starts, or
-- '' for a limit that never resets); a spend in a later window starts it again from zero (see
-- core/src/ledger/limits.rs).
ALTER TABLE api_keys ADD COLUMN spend_limit_reset TEXT CHECK (spend_limit_reset IN ('daily', 'weekly', 'monthly'));
ALTER TABLE api_keys ADD COLUMN spent_window TEXT NOT NULL DEFAULT '';
