//! Naming rules: how spec names become identifiers in each SDK.
//!
//! Resources are tags (`api_keys` → Python `client.api_keys`, TypeScript `client.apiKeys`, Rust
//! `client.api_keys()`); methods come from `operationId` with the resource's own name taken off
//! (`create_adjustment` under `admin` stays, `list_transactions` under `transactions` becomes
//! `list`), and an id that is nothing but the resource name falls back to the HTTP verb
//! (`balance` under `balance`, a GET, becomes `retrieve`).

use anyhow::{bail, Result};

/// Splits an identifier (`snake_case`, `camelCase`, `PascalCase`, `kebab-case`, `a.b`) into lower-case words.
pub fn words(s: &str) -> Vec<String> {
    // The wildcard of a subscription list (`enabled_events: ["*"]`).
    if s == "*" {
        return vec!["all".to_owned()];
    }
    let mut out = Vec::new();
    let mut cur = String::new();
    let chars: Vec<char> = s.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        let prev = if i > 0 { chars[i - 1] } else { ' ' };
        let next = chars.get(i + 1).copied().unwrap_or(' ');
        // A capital starts a word after a lower-case letter or digit, or ends an acronym ("HTTPServer").
        let boundary = c.is_ascii_uppercase()
            && (prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next.is_ascii_lowercase()));
        if boundary && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        cur.push(c.to_ascii_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// `snake_case`.
pub fn snake(s: &str) -> String {
    words(s).join("_")
}

/// `PascalCase`.
pub fn pascal(s: &str) -> String {
    words(s).iter().map(|w| capitalize(w)).collect()
}

/// `camelCase`.
pub fn camel(s: &str) -> String {
    let p = pascal(s);
    let mut chars = p.chars();
    match chars.next() {
        Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
        None => p,
    }
}

/// `SCREAMING_SNAKE_CASE`.
pub fn screaming(s: &str) -> String {
    snake(s).to_ascii_uppercase()
}

fn capitalize(w: &str) -> String {
    let mut chars = w.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// The singular of a snake_case resource name (`api_keys` → `api_key`, `balance` → `balance`).
pub fn singular(s: &str) -> String {
    if let Some(stem) = s.strip_suffix("ies") {
        format!("{stem}y")
    } else if s.ends_with("ss") || s.ends_with("us") {
        s.to_owned()
    } else if let Some(stem) = s.strip_suffix('s') {
        stem.to_owned()
    } else {
        s.to_owned()
    }
}

/// The SDK method name (snake_case) of operation `operation_id` under tag `tag`.
pub fn method_name(operation_id: &str, tag: &str, http_method: &str, paginated: bool) -> String {
    let op = snake(operation_id);
    let tag = snake(tag);
    let mut forms = vec![tag.clone(), singular(&tag)];
    forms.dedup();
    let mut name = op.clone();
    for form in &forms {
        if name == *form {
            name.clear();
            break;
        }
        if let Some(rest) = name.strip_prefix(&format!("{form}_")) {
            name = rest.to_owned();
            break;
        }
        if let Some(rest) = name.strip_suffix(&format!("_{form}")) {
            name = rest.to_owned();
            break;
        }
    }
    match name.as_str() {
        "" => match http_method.to_ascii_lowercase().as_str() {
            "get" if paginated => "list".to_owned(),
            "get" => "retrieve".to_owned(),
            "post" => "create".to_owned(),
            "put" | "patch" => "update".to_owned(),
            "delete" => "delete".to_owned(),
            _ => op,
        },
        "get" => "retrieve".to_owned(),
        _ => name,
    }
}

/// The words of `path` that are neither the version prefix, the resource's own name nor
/// parameters (`/v1/images/generations` under `generations` → `images`).
pub fn path_qualifier(path: &str, tag: &str) -> String {
    let tag = snake(tag);
    let forms = [tag.clone(), singular(&tag)];
    path.split('/')
        .filter(|s| !s.is_empty() && !s.starts_with('{'))
        .map(snake)
        .filter(|s| !forms.contains(s) && !is_version(s))
        .collect::<Vec<_>>()
        .join("_")
}

/// `v1`, `v2`...
fn is_version(segment: &str) -> bool {
    segment.len() > 1 && segment.starts_with('v') && segment[1..].chars().all(|c| c.is_ascii_digit())
}

/// Rejects a schema name that is not a plain PascalCase identifier.
pub fn check_type_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_uppercase()) && chars.all(|c| c.is_ascii_alphanumeric());
    if !ok {
        bail!("type name {name:?} must be PascalCase letters and digits");
    }
    Ok(())
}

/// Rejects a property, parameter or tag name that cannot become an identifier.
pub fn check_wire_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok {
        bail!("name {name:?} must be letters, digits and underscores");
    }
    Ok(())
}

/// Rejects an enum value that gives no identifier (it needs at least one letter or digit).
pub fn check_enum_value(value: &str) -> Result<()> {
    if words(value).is_empty() {
        bail!("enum value {value:?} has no letters or digits to name it by");
    }
    Ok(())
}

/// The Rust variant name of an enum value (`1024x1024` → `V1024x1024`, `balance.low` → `BalanceLow`).
pub fn rust_variant(value: &str) -> String {
    let p = pascal(value);
    if p.starts_with(|c: char| c.is_ascii_digit()) {
        format!("V{p}")
    } else {
        p
    }
}

const PYTHON_KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del",
    "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda", "nonlocal",
    "not", "or", "pass", "raise", "return", "try", "while", "with", "yield",
];

/// A Python identifier for `name` (keywords get a trailing `_`: `from` → `from_`).
pub fn python_ident(name: &str) -> String {
    if PYTHON_KEYWORDS.contains(&name) {
        format!("{name}_")
    } else {
        name.to_owned()
    }
}

const RUST_KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "dyn", "else", "enum", "extern", "false", "fn", "for", "if",
    "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "static", "struct", "trait",
    "true", "type", "unsafe", "use", "where", "while", "abstract", "become", "box", "do", "final", "gen", "macro",
    "override", "priv", "try", "typeof", "unsized", "virtual", "yield",
];

/// A Rust identifier for `name` (`type` → `r#type`; `self`, which cannot be raw, → `self_`).
pub fn rust_ident(name: &str) -> String {
    if ["self", "Self", "super", "crate"].contains(&name) {
        format!("{name}_")
    } else if RUST_KEYWORDS.contains(&name) {
        format!("r#{name}")
    } else {
        name.to_owned()
    }
}

const TS_RESERVED: &[&str] = &[
    "break",
    "case",
    "catch",
    "class",
    "const",
    "continue",
    "debugger",
    "default",
    "delete",
    "do",
    "else",
    "enum",
    "export",
    "extends",
    "false",
    "finally",
    "for",
    "function",
    "if",
    "import",
    "in",
    "instanceof",
    "new",
    "null",
    "return",
    "super",
    "switch",
    "this",
    "throw",
    "true",
    "try",
    "typeof",
    "var",
    "void",
    "while",
    "with",
    "yield",
    "let",
    "static",
    "implements",
    "interface",
    "package",
    "private",
    "protected",
    "public",
    "await",
];

/// A TypeScript variable name for `name` (reserved words get a trailing `_`).
pub fn ts_ident(name: &str) -> String {
    if TS_RESERVED.contains(&name) {
        format!("{name}_")
    } else {
        name.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_conversions() {
        assert_eq!(snake("CreateAdjustment"), "create_adjustment");
        assert_eq!(snake("api_keys"), "api_keys");
        assert_eq!(snake("openapi_yaml"), "openapi_yaml");
        assert_eq!(snake("HTTPServerError"), "http_server_error");
        assert_eq!(snake("Idempotency-Key"), "idempotency_key");
        assert_eq!(pascal("api_keys"), "ApiKeys");
        assert_eq!(pascal("balance.low"), "BalanceLow");
        assert_eq!(pascal("TransactionView"), "TransactionView");
        assert_eq!(camel("api_keys"), "apiKeys");
        assert_eq!(camel("create_adjustment"), "createAdjustment");
        assert_eq!(camel("balance"), "balance");
        assert_eq!(screaming("maxRetries"), "MAX_RETRIES");
    }

    #[test]
    fn singulars() {
        assert_eq!(singular("api_keys"), "api_key");
        assert_eq!(singular("transactions"), "transaction");
        assert_eq!(singular("balance"), "balance");
        assert_eq!(singular("entries"), "entry");
        assert_eq!(singular("address"), "address");
        assert_eq!(singular("status"), "status");
    }

    #[test]
    fn method_names_drop_the_resource_name() {
        assert_eq!(method_name("list", "transactions", "get", true), "list");
        assert_eq!(method_name("list_transactions", "transactions", "get", true), "list");
        assert_eq!(method_name("create_purchase", "purchases", "post", false), "create");
        assert_eq!(method_name("purchases_create", "purchases", "post", false), "create");
        assert_eq!(method_name("get_generation", "generations", "get", false), "retrieve");
        assert_eq!(method_name("generation_image", "generations", "get", false), "image");
        assert_eq!(method_name("create_adjustment", "admin", "post", false), "create_adjustment");
        assert_eq!(method_name("revoke", "api_keys", "delete", false), "revoke");
        assert_eq!(method_name("createApiKey", "api_keys", "post", false), "create");
    }

    #[test]
    fn method_names_fall_back_to_the_verb() {
        assert_eq!(method_name("balance", "balance", "get", false), "retrieve");
        assert_eq!(method_name("account", "account", "get", false), "retrieve");
        assert_eq!(method_name("transactions", "transactions", "get", true), "list");
        assert_eq!(method_name("transactions", "transactions", "get", false), "retrieve");
        assert_eq!(method_name("purchase", "purchases", "post", false), "create");
        assert_eq!(method_name("settings", "settings", "put", false), "update");
        assert_eq!(method_name("api_key", "api_keys", "delete", false), "delete");
        assert_eq!(method_name("get", "balance", "get", false), "retrieve");
    }

    #[test]
    fn colliding_methods_are_qualified_by_their_path() {
        assert_eq!(path_qualifier("/v1/images/generations", "generations"), "images");
        assert_eq!(path_qualifier("/v1/generations", "generations"), "");
        assert_eq!(path_qualifier("/v1/generations/{id}/images/{index}", "generations"), "images");
        assert_eq!(path_qualifier("/v2/admin/accounts/{id}/adjustments", "admin"), "accounts_adjustments");
    }

    #[test]
    fn keywords_are_escaped_per_language() {
        assert_eq!(python_ident("from"), "from_");
        assert_eq!(python_ident("type"), "type");
        assert_eq!(rust_ident("type"), "r#type");
        assert_eq!(rust_ident("self"), "self_");
        assert_eq!(rust_ident("credits"), "credits");
        assert_eq!(ts_ident("delete"), "delete_");
        assert_eq!(ts_ident("model"), "model");
    }

    #[test]
    fn enum_variants_are_identifiers() {
        assert_eq!(rust_variant("1024x1024"), "V1024x1024");
        assert_eq!(rust_variant("wechat_pay"), "WechatPay");
        assert_eq!(rust_variant("balance.low"), "BalanceLow");
    }

    #[test]
    fn bad_names_are_rejected() {
        assert!(check_type_name("Page_TransactionView").is_err());
        assert!(check_type_name("lower").is_err());
        assert!(check_type_name("TransactionView").is_ok());
        assert!(check_wire_name("x-foo").is_err());
        assert!(check_wire_name("next_cursor").is_ok());
        assert!(check_enum_value("--").is_err());
    }
}
