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
        auto_topup_threshold -> Nullable<BigInt>,
        webhook_secret -> Nullable<Text>,
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
        spend_limit_reset -> Nullable<Text>,
        spent_window -> Text,
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

diesel::table! {
    payment_methods (id) {
        id -> Text,
        account_id -> Text,
        provider -> Text,
        token -> Text,
        brand -> Text,
        last4 -> Text,
        exp_month -> Integer,
        exp_year -> Integer,
        created_at -> Timestamp,
        deleted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    purchases (id) {
        id -> Text,
        account_id -> Text,
        package_id -> Text,
        credits -> BigInt,
        amount_minor -> BigInt,
        currency -> Text,
        status -> Text,
        method_type -> Text,
        card_brand -> Nullable<Text>,
        card_last4 -> Nullable<Text>,
        payment_method_id -> Nullable<Text>,
        provider -> Text,
        provider_charge -> Nullable<Text>,
        next_action_type -> Nullable<Text>,
        next_action_url -> Nullable<Text>,
        bank_reference -> Nullable<Text>,
        bank_beneficiary -> Nullable<Text>,
        bank_name -> Nullable<Text>,
        bank_account -> Nullable<Text>,
        credits_remaining -> BigInt,
        refunded_credits -> BigInt,
        failure_code -> Nullable<Text>,
        failure_message -> Nullable<Text>,
        auto_topup -> Bool,
        user_id -> Nullable<Text>,
        api_key_id -> Nullable<Text>,
        created_at -> Timestamp,
        succeeded_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    refunds (id) {
        id -> Text,
        account_id -> Text,
        purchase_id -> Text,
        credits -> BigInt,
        amount_minor -> BigInt,
        currency -> Text,
        status -> Text,
        provider_refund -> Nullable<Text>,
        expected_by -> Timestamp,
        created_at -> Timestamp,
        completed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    webhook_events (provider, event_id) {
        provider -> Text,
        event_id -> Text,
        received_at -> Timestamp,
        body_sha256 -> Nullable<Text>,
    }
}

diesel::table! {
    holds (id) {
        id -> Text,
        account_id -> Text,
        amount -> BigInt,
        api_key_id -> Nullable<Text>,
        user_id -> Nullable<Text>,
        reference_id -> Text,
        status -> Text,
        expires_at -> Timestamp,
        created_at -> Timestamp,
        resolved_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    generations (id) {
        id -> Text,
        account_id -> Text,
        api_key_id -> Nullable<Text>,
        user_id -> Nullable<Text>,
        model -> Text,
        prompt -> Text,
        size -> Text,
        width -> Integer,
        height -> Integer,
        quality -> Text,
        n -> Integer,
        response_format -> Text,
        status -> Text,
        credits_cost -> BigInt,
        credits_charged -> BigInt,
        hold_id -> Text,
        error_code -> Nullable<Text>,
        error_message -> Nullable<Text>,
        created_at -> Timestamp,
        completed_at -> Nullable<Timestamp>,
        credits_per_image -> BigInt,
        mode -> Text,
        started_at -> Nullable<Timestamp>,
        worker -> Nullable<Text>,
        lease_expires_at -> Nullable<Timestamp>,
        attempts -> Integer,
    }
}

diesel::table! {
    generation_images (generation_id, idx) {
        generation_id -> Text,
        idx -> Integer,
        content_type -> Text,
        width -> Integer,
        height -> Integer,
        blob_id -> Text,
    }
}

diesel::table! {
    image_blobs (id) {
        id -> Text,
        data -> Binary,
        touched_at -> BigInt,
    }
}

diesel::table! {
    member_spend (account_id, user_id, month) {
        account_id -> Text,
        user_id -> Text,
        month -> Text,
        spent -> BigInt,
    }
}

diesel::table! {
    usage_daily (account_id, day, model, api_key_id, user_id) {
        account_id -> Text,
        day -> Text,
        model -> Text,
        api_key_id -> Text,
        user_id -> Text,
        credits -> BigInt,
        generations -> BigInt,
        images -> BigInt,
    }
}

diesel::table! {
    alert_settings (account_id) {
        account_id -> Text,
        enabled -> Bool,
        threshold -> BigInt,
        webhook_url -> Nullable<Text>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    auto_topup_settings (account_id) {
        account_id -> Text,
        enabled -> Bool,
        threshold -> BigInt,
        package_id -> Text,
        payment_method_id -> Text,
        max_topups_per_day -> Integer,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    auto_topup_requests (id) {
        id -> Text,
        account_id -> Text,
        status -> Text,
        purchase_id -> Nullable<Text>,
        detail -> Nullable<Text>,
        created_at -> Timestamp,
        started_at -> Nullable<Timestamp>,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    notifications (id) {
        id -> Text,
        account_id -> Text,
        kind -> Text,
        message -> Text,
        data -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Text,
        account_id -> Text,
        url -> Text,
        payload -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        lease_until -> Nullable<Timestamp>,
        created_at -> Timestamp,
        delivered_at -> Nullable<Timestamp>,
        endpoint_id -> Nullable<Text>,
        event_id -> Nullable<Text>,
        event_type -> Nullable<Text>,
    }
}

diesel::table! {
    webhook_attempts (delivery_id, attempt) {
        delivery_id -> Text,
        attempt -> Integer,
        status_code -> Nullable<Integer>,
        error -> Nullable<Text>,
        at -> Timestamp,
        duration_ms -> Nullable<Integer>,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> Text,
        account_id -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    audit_events (seq) {
        seq -> BigInt,
        id -> Text,
        account_id -> Text,
        action -> Text,
        actor_user_id -> Nullable<Text>,
        actor_api_key_id -> Nullable<Text>,
        actor_session_id -> Nullable<Text>,
        target_id -> Nullable<Text>,
        details -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(generation_images -> image_blobs (blob_id));
diesel::joinable!(generation_images -> generations (generation_id));

diesel::table! {
    events (id) {
        id -> Text,
        account_id -> Text,
        #[sql_name = "type"]
        event_type -> Text,
        data -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    webhook_endpoints (id) {
        id -> Text,
        account_id -> Text,
        url -> Text,
        description -> Text,
        enabled_events -> Text,
        status -> Text,
        disabled_reason -> Nullable<Text>,
        secret -> Text,
        previous_secret -> Nullable<Text>,
        previous_secret_expires_at -> Nullable<Timestamp>,
        failing_since -> Nullable<Timestamp>,
        managed_by -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    users,
    accounts,
    memberships,
    api_keys,
    ledger_entries,
    packages,
    models,
    idempotency_keys,
    payment_methods,
    purchases,
    refunds,
    webhook_events,
    holds,
    generations,
    generation_images,
    image_blobs,
    member_spend,
    usage_daily,
    alert_settings,
    auto_topup_settings,
    auto_topup_requests,
    notifications,
    webhook_deliveries,
    webhook_attempts,
    sessions,
    audit_events,
    events,
    webhook_endpoints,
);
