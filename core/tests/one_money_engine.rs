//! Only the ledger engine (`core/src/ledger/`) moves credits: no other source file of the
//! product (`core/src`, `api/src`) writes an account's `balance` or `held`, or a lot's
//! `credits_remaining`, whether through diesel or in SQL text.
//!
//! Tests and benchmarks are not scanned: some write those columns on purpose (an attacker's raw
//! `UPDATE` that the schema must refuse, a benchmark seeding balances).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// How a statement writes one of the columns: diesel's `column.eq(` inside a `.set(` or
/// `.values(`, or SQL text.
const WRITES: [&str; 9] = [
    "accounts::balance.eq(",
    "accounts::held.eq(",
    "credits_remaining.eq(",
    "SET balance",
    "SET held",
    "balance = balance",
    "held = held",
    "credits_remaining = ",
    "credits_remaining=",
];

fn sources(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn only_the_ledger_engine_writes_balances_holds_and_lots() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let engine = root.join("core/src/ledger");
    let mut files = Vec::new();
    sources(&root.join("core/src"), &mut files);
    sources(&root.join("api/src"), &mut files);
    assert!(files.len() > 50, "the scan found the sources ({} files)", files.len());
    let mut engine_writes = 0;
    let mut offenders = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            if WRITES.iter().any(|write| code.contains(write)) {
                if file.starts_with(&engine) {
                    engine_writes += 1;
                } else if !file.ends_with("db/schema.rs") {
                    offenders.push(format!("{}:{}: {}", file.display(), number + 1, line.trim()));
                }
            }
        }
    }
    assert!(offenders.is_empty(), "credits move outside core/src/ledger:\n{}", offenders.join("\n"));
    // The patterns do find the engine's own statements (so they would find any other).
    assert!(engine_writes >= 8, "the engine's writes were not recognised ({engine_writes})");
}

/// Handlers parse, call a use case and map its result: no transaction is opened in the API's
/// routes (the use cases in core open them, with the audit records and ledger entries they
/// carry, or their batching front, `core::group_commit`, runs many requests' in one).
#[test]
fn handlers_open_no_transactions() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut files = Vec::new();
    sources(&root.join("api/src"), &mut files);
    let offenders: Vec<String> = files
        .iter()
        .flat_map(|file| {
            let text = std::fs::read_to_string(file).unwrap();
            text.lines()
                .enumerate()
                .filter(|(_, line)| line.split("//").next().unwrap_or_default().contains("transaction("))
                .map(|(number, line)| format!("{}:{}: {}", file.display(), number + 1, line.trim()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(offenders.is_empty(), "transactions opened in the API crate:\n{}", offenders.join("\n"));
}

/// The layers of core and of the API depend downwards only: no module (a file or folder under
/// `core/src` or `api/src`) reaches itself through `crate::` paths. In core: domain and db at
/// the bottom, then the store, the ledger engine, the use cases and their batching front. In
/// the API: errors, configuration and the pieces the state holds, then the state, then what
/// uses it (authentication, generation, idempotency), the routes, the OpenAPI document built
/// from them, and start-up.
#[test]
fn core_and_api_modules_form_no_cycle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    for (crate_dir, expected) in [("core/src", ["ledger", "store"]), ("api/src", ["routes", "state"])] {
        let uses = module_uses(&root.join(crate_dir));
        assert!(expected.iter().all(|m| uses.contains_key(*m)), "the scan found {crate_dir}'s modules: {uses:?}");
        for start in uses.keys() {
            let (mut seen, mut next) = (BTreeSet::new(), vec![start.clone()]);
            while let Some(module) = next.pop() {
                for used in uses.get(&module).into_iter().flatten() {
                    assert!(used != start, "{crate_dir}: {start} reaches itself through {module} -> {used}: {uses:?}");
                    if seen.insert(used.clone()) {
                        next.push(used.clone());
                    }
                }
            }
        }
    }
}

/// Which of the crate's top-level modules each one names through `crate::` paths (`crate::a`
/// or `crate::{a, b::c}`), outside comments and tests.
fn module_uses(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    sources(src, &mut files);
    let module = |file: &Path| {
        let first = file.strip_prefix(src).unwrap().components().next().unwrap();
        first.as_os_str().to_string_lossy().trim_end_matches(".rs").to_string()
    };
    let modules: BTreeSet<String> = files.iter().map(|f| module(f)).collect();
    let mut uses: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let from = module(file);
        let text = std::fs::read_to_string(file).unwrap();
        let code: String = text
            .split("#[cfg(test)]")
            .next()
            .unwrap_or_default()
            .lines()
            .map(|line| line.split("//").next().unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n");
        for (i, _) in code.match_indices("crate::") {
            for name in path_heads(&code[i + 7..]) {
                if name != from && modules.contains(&name) {
                    uses.entry(from.clone()).or_default().insert(name);
                }
            }
        }
    }
    uses
}

/// The first segments of the paths at the start of `rest`: one for `a::...`, each of a group's
/// for `{a, b::c, ...}`.
fn path_heads(rest: &str) -> Vec<String> {
    let ident = |s: &str| s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>();
    let Some(group) = rest.strip_prefix('{') else { return vec![ident(rest)] };
    let (mut heads, mut depth, mut at_start) = (Vec::new(), 0, true);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => at_start = true,
            c if at_start && !c.is_whitespace() => {
                heads.push(ident(&group[i..]));
                at_start = false;
            }
            _ => {}
        }
    }
    heads
}
