ALTER TABLE api_keys DROP COLUMN spent_window;
ALTER TABLE api_keys DROP COLUMN spend_limit_reset;
