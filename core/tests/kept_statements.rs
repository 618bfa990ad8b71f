//! The lane's statements are kept prepared on SQLite: multi-row INSERTs run as arrays of 64, 32,
//! …, 1 rows (`insert_kept_sqlite!`), and `IN` lists are padded to a power of two
//! (`db::padded`, `db::Kept`). Those change how a statement is sent, never what it does:
//! these tests give them row counts that cross the chunk sizes and lists of every length up to
//! past 64, several times on one connection (so kept statements are run again with new values),
//! and check every row written or read.

use apinfer_core::db::{write_transaction, DbConn, Pool};
use apinfer_core::ids::AccountId;
use apinfer_core::ledger::{self, EntryType, NewEntry};
use apinfer_core::store::accounts::{self, NewUser};
use apinfer_core::store::entries::{self, EntryFilter};
use apinfer_core::Credits;
use chrono::Utc;

fn sqlite() -> (Pool, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("apinfer-kept-{}", apinfer_core::ids::random_base62(12)));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let pool = Pool::connect(&format!("sqlite://{}", dir.join("kept.db").display()), 1).expect("pool");
    pool.migrate().expect("migrations");
    (pool, dir)
}

fn account(conn: &mut DbConn, i: usize) -> AccountId {
    let email = apinfer_core::domain::Email::parse(&format!("kept{i}@example.com")).unwrap();
    let new = NewUser { email: &email, password_hash: "x", name: None, is_admin: false };
    accounts::create_user_with_account(conn, new, Utc::now()).expect("user").1.id
}

#[test]
fn ledger_entries_of_any_count_are_appended_in_order() {
    let (pool, dir) = sqlite();
    let mut conn = pool.get().expect("connection");
    let owner = account(&mut conn, 0);
    let mut written = 0_i64;
    // 100 = 64 + 32 + 4, then 37 = 32 + 4 + 1, 64, 1 and 100 again: every chunk size, and each
    // kept statement run again with other rows.
    for count in [100, 37, 64, 1, 100, 3] {
        let descriptions: Vec<String> = (0..count).map(|i| format!("entry {} of a set of {count}", i)).collect();
        let entries: Vec<(NewEntry<'_>, Credits)> = descriptions
            .iter()
            .enumerate()
            .map(|(i, description)| {
                let after = written + i as i64 + 1;
                (
                    NewEntry {
                        account_id: &owner,
                        entry_type: EntryType::Adjustment,
                        credits: Credits::from_units(1),
                        reference_id: Some(description),
                        description,
                        user_id: None,
                        api_key_id: None,
                    },
                    Credits::from_units(after),
                )
            })
            .collect();
        let now = Utc::now();
        let inserted =
            write_transaction(&mut conn, |conn| ledger::insert_entries(conn, &entries, now)).expect("insert");
        assert_eq!(inserted.len(), count);
        written += count as i64;
    }
    let page = entries::list_entries(&mut conn, &owner, &EntryFilter::default(), None, 1_000).expect("list");
    assert_eq!(page.items.len() as i64, written, "every row written once");
    // Newest first: the balances after each entry run down from the total, one per entry, and
    // each entry's reference is its own description.
    for (i, entry) in page.items.iter().enumerate() {
        assert_eq!(entry.balance_after, Credits::from_units(written - i as i64), "entry {i}");
        assert_eq!(entry.reference_id.as_deref(), Some(entry.description.as_str()));
    }
    drop(conn);
    drop(pool);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn in_lists_of_every_length_find_exactly_their_rows() {
    let (pool, dir) = sqlite();
    let mut conn = pool.get().expect("connection");
    let owners: Vec<AccountId> = (0..70).map(|i| account(&mut conn, i)).collect();
    for length in 1..=owners.len() {
        // A list with a repeat, as callers may pass, then the rows it names.
        let mut ids: Vec<&str> = owners[..length].iter().map(AccountId::as_str).collect();
        ids.push(ids[0]);
        let locked = write_transaction(&mut conn, |conn| ledger::lock_accounts(conn, &ids)).expect("lock");
        let mut found: Vec<&str> = locked.keys().map(String::as_str).collect();
        found.sort_unstable();
        let mut wanted: Vec<&str> = owners[..length].iter().map(AccountId::as_str).collect();
        wanted.sort_unstable();
        assert_eq!(found, wanted, "a list of {length} distinct ids");
    }
    drop(conn);
    drop(pool);
    let _ = std::fs::remove_dir_all(&dir);
}
