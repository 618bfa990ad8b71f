//! Only the ledger engine (`core/src/ledger/`) moves credits: no other source file of the
//! product (`core/src`, `api/src`) writes an account's `balance` or `held`, or a lot's
//! `credits_remaining`, whether through diesel or in SQL text.
//!
//! Tests and benchmarks are not scanned: some write those columns on purpose (an attacker's raw
//! `UPDATE` that the schema must refuse, a benchmark seeding balances).

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
/// carry). The group commit, which batches many requests' use cases into one transaction, is
/// the API crate's one transaction runner.
#[test]
fn handlers_open_no_transactions() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut files = Vec::new();
    sources(&root.join("api/src"), &mut files);
    let offenders: Vec<String> = files
        .iter()
        .filter(|file| !file.ends_with("group_commit.rs"))
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

/// The layers of core depend downwards only: no module (a file or folder under `core/src`)
/// reaches itself through `crate::` paths (domain and db at the bottom, then the store, the
/// ledger engine, the use cases).
#[test]
fn core_modules_form_no_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let module = |file: &Path| {
        let first = file.strip_prefix(&src).unwrap().components().next().unwrap();
        first.as_os_str().to_string_lossy().trim_end_matches(".rs").to_string()
    };
    let modules: std::collections::BTreeSet<String> = files.iter().map(|f| module(f)).collect();
    let mut uses: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> = Default::default();
    for file in &files {
        let from = module(file);
        let text = std::fs::read_to_string(file).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for line in code.lines().map(|l| l.split("//").next().unwrap_or_default()) {
            for (i, _) in line.match_indices("crate::") {
                let name: String = line[i + 7..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if name != from && modules.contains(&name) {
                    uses.entry(from.clone()).or_default().insert(name);
                }
            }
        }
    }
    assert!(uses.contains_key("ledger") && uses.contains_key("store"), "the scan found the modules: {uses:?}");
    for start in uses.keys() {
        let (mut seen, mut next) = (std::collections::BTreeSet::new(), vec![start.clone()]);
        while let Some(module) = next.pop() {
            for used in uses.get(&module).into_iter().flatten() {
                assert!(used != start, "{start} reaches itself through {module} -> {used}: {uses:?}");
                if seen.insert(used.clone()) {
                    next.push(used.clone());
                }
            }
        }
    }
}
