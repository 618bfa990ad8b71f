//! Diesel table definitions shared by both backends (only column types both support).

diesel::table! {
    users (id) {
        id -> Text,
        email -> Text,
        password_hash -> Text,
        name -> Nullable<Text>,
        is_admin -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    accounts (id) {
        id -> Text,
        account_type -> Text,
        name -> Text,
        balance -> BigInt,
        held -> BigInt,
        low_balance_threshold -> Nullable<BigInt>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    memberships (account_id, user_id) {
        account_id -> Text,
        user_id -> Text,
        role -> Text,
        monthly_spend_limit -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Text,
        account_id -> Text,
        user_id -> Text,
        name -> Text,
        prefix -> Text,
        key_hash -> Text,
        scopes -> Text,
        spend_limit -> Nullable<BigInt>,
        spent -> BigInt,
        expires_at -> Nullable<Timestamp>,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    ledger_entries (seq) {
        seq -> BigInt,
        id -> Text,
        account_id -> Text,
        entry_type -> Text,
        credits -> BigInt,
        balance_after -> BigInt,
        reference_id -> Nullable<Text>,
        description -> Text,
        user_id -> Nullable<Text>,
        api_key_id -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    packages (id) {
        id -> Text,
        name -> Text,
        credits -> BigInt,
        price_minor -> BigInt,
        currency -> Text,
        popular -> Bool,
        active -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    models (id) {
        id -> Text,
        name -> Text,
        tier -> Text,
        credits_per_image -> BigInt,
        sizes -> Text,
        active -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    idempotency_keys (account_id, idem_key) {
        account_id -> Text,
        idem_key -> Text,
        request_hash -> Text,
        response_status -> Nullable<Integer>,
        response_body -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::joinable!(memberships -> accounts (account_id));
diesel::joinable!(memberships -> users (user_id));
diesel::joinable!(api_keys -> accounts (account_id));
diesel::joinable!(ledger_entries -> accounts (account_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    accounts,
    memberships,
    api_keys,
    ledger_entries,
    packages,
    models,
    idempotency_keys,
);
