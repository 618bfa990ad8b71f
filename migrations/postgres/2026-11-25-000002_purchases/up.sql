-- Purchases (each succeeded one is a credit lot), saved cards, refunds, and the ids of
-- provider webhook events already processed.

CREATE TABLE payment_methods (
    id          TEXT PRIMARY KEY NOT NULL,
    account_id  TEXT NOT NULL REFERENCES accounts (id),
    provider    TEXT NOT NULL,
    token       TEXT NOT NULL,
    brand       TEXT NOT NULL,
    last4       TEXT NOT NULL,
    exp_month   INTEGER NOT NULL,
    exp_year    INTEGER NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    deleted_at  TIMESTAMP
);
CREATE INDEX payment_methods_account ON payment_methods (account_id, created_at);

CREATE TABLE purchases (
    id                TEXT PRIMARY KEY NOT NULL,
    account_id        TEXT NOT NULL REFERENCES accounts (id),
    package_id        TEXT NOT NULL REFERENCES packages (id),
    credits           BIGINT NOT NULL CHECK (credits > 0),
    amount_minor      BIGINT NOT NULL CHECK (amount_minor > 0),
    currency          TEXT NOT NULL,
    status            TEXT NOT NULL
                      CHECK (status IN ('processing', 'succeeded', 'requires_action', 'pending', 'failed',
                                        'refunded', 'partially_refunded')),
    method_type       TEXT NOT NULL CHECK (method_type IN ('card', 'alipay', 'wechat_pay', 'bank_transfer')),
    card_brand        TEXT,
    card_last4        TEXT,
    payment_method_id TEXT,
    provider          TEXT NOT NULL,
    provider_charge   TEXT,
    next_action_type  TEXT,
    next_action_url   TEXT,
    bank_reference    TEXT UNIQUE,
    bank_beneficiary  TEXT,
    bank_name         TEXT,
    bank_account      TEXT,
    credits_remaining BIGINT NOT NULL DEFAULT 0 CHECK (credits_remaining >= 0 AND credits_remaining <= credits),
    refunded_credits  BIGINT NOT NULL DEFAULT 0 CHECK (refunded_credits >= 0 AND refunded_credits <= credits),
    failure_code      TEXT,
    failure_message   TEXT,
    auto_topup        BOOLEAN NOT NULL DEFAULT FALSE,
    user_id           TEXT,
    api_key_id        TEXT,
    created_at        TIMESTAMP NOT NULL,
    succeeded_at      TIMESTAMP
);
CREATE INDEX purchases_account ON purchases (account_id, created_at, id);
-- Lots in consumption order (oldest first) among those with credits left.
CREATE INDEX purchases_lots ON purchases (account_id, succeeded_at, id) WHERE credits_remaining > 0;

CREATE TABLE refunds (
    id              TEXT PRIMARY KEY NOT NULL,
    account_id      TEXT NOT NULL REFERENCES accounts (id),
    purchase_id     TEXT NOT NULL REFERENCES purchases (id),
    credits         BIGINT NOT NULL CHECK (credits > 0),
    amount_minor    BIGINT NOT NULL CHECK (amount_minor >= 0),
    currency        TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('processing', 'succeeded')),
    provider_refund TEXT,
    expected_by     TIMESTAMP NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    completed_at    TIMESTAMP
);
CREATE INDEX refunds_account ON refunds (account_id, created_at, id);

CREATE TABLE webhook_events (
    provider    TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    received_at TIMESTAMP NOT NULL,
    PRIMARY KEY (provider, event_id)
);
