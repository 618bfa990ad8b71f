//! The ledger engine: the one module that moves credits.
//!
//! Every statement of the workspace that changes an account's `balance` or `held`, or a credit
//! lot's `credits_remaining`, is in this module (`core/tests/one_money_engine.rs` greps for
//! any other). Its operations:
//!
//! - **reserve** ([`holds::reserve_set`]): a hold lowers `available` (`held` rises) for work
//!   about to run, checked against every limit at once: the account's available credits, the
//!   API key's spend limit and the member's monthly limit ([`limits`]);
//! - **capture** ([`holds::claim_set`], [`holds::settle_captured_set`]): the work was
//!   delivered; `balance` and `held` fall together, lots are consumed oldest first;
//! - **release** ([`holds::release_set`]): the work failed or was abandoned; `held` falls and the
//!   limits get the amount back;
//! - **credit** and **debit** ([`append_entries`]; [`append_entry`] is a set of one): a
//!   purchase, an automatic top-up, a refund or an admin adjustment;
//! - **lots** ([`open_lot`], [`consume_lots_set`], [`take_from_lot`]): a credited purchase's
//!   credits open a lot, spending takes lots oldest first, a refund takes back one lot's rest.
//!
//! Each appends its ledger entries with the balance after each one, and reports what it moved
//! ([`report`]: counted for `/metrics` once the transaction commits). Crossing an account's
//! low-balance or top-up threshold is noticed where `available` falls, in the same transaction
//! (`store::alerts::on_available_drop`).
//!
//! # Invariants
//!
//! For every account, at every commit:
//!
//! - `balance == sum(ledger_entries.credits)`: no balance changes without its entry;
//! - `0 <= held <= balance`, so `available = balance - held >= 0`: nothing is spent twice and
//!   nothing overdraws;
//! - `held == sum(amount of its active holds)`: a hold is captured or released exactly once;
//! - `sum(lots' credits_remaining) <= balance`: a refund never returns credits already spent;
//! - an API key's `spent` and a member's month never pass their limits.
//!
//! The schema backs the first two with CHECK constraints (`balance >= 0`, `held >= 0`,
//! `held <= balance`, and a maximum balance), so even a bug here cannot commit a violation.
//!
//! # Concurrency
//!
//! Every operation runs inside the caller's write transaction and starts by locking its
//! accounts' rows ([`crate::store::locks`]): one row with `UPDATE ... SET updated_at` or the conditional
//! `UPDATE` itself, several with `SELECT ... FOR UPDATE` in id order, so that two transactions
//! on the same accounts never deadlock. Each change of a balance is one conditional statement
//! (`UPDATE accounts SET held = held + x WHERE balance - held >= x`), which the database
//! re-checks under the row lock: no interleaving of threads or processes can pass it.
//!
//! - **PostgreSQL** (READ COMMITTED): concurrent transactions on one account queue on its row
//!   lock and re-read the row when they get it; the checks are made on what they read then.
//! - **SQLite**: a write transaction takes the database's write lock up front (`BEGIN
//!   IMMEDIATE`, see [`crate::db::write_transaction`]), so writers run one at a time, across
//!   processes too; the row locks only fix the order.
//!
//! Set operations (several requests' work in one transaction, as the group commit runs them)
//! decide each item in order, exactly as running them one after another would: `core/tests/
//! set_equivalence.rs` checks that on both databases.

mod entries;
pub mod holds;
mod limits;
mod lots;

/// What the engine moved, counted when its transaction commits (kept with the transactions).
pub use crate::db::moved as report;
pub use crate::store::entries::{AfterDebit, EntryType, LedgerEntry, AFTER_DEBIT};
pub use crate::store::locks::{lock_account, lock_account_row, lock_accounts};
pub use entries::{append_entries, append_entry, insert_entries, insert_entry, NewEntry};
pub use lots::{consume_lots, consume_lots_set, open_lot, take_from_lot};
