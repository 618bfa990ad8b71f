//! What the engine moved, reported when it is committed, for `apinfer_credits_moved_total`:
//! every movement, automatic top-ups included, whichever use case made it.
//!
//! An entry is noted when the engine appends it, on the thread that runs its transaction (a
//! transaction runs on one thread), and becomes reportable when that transaction commits
//! ([`super::write_transaction`] calls [`committed`]). A transaction or savepoint rolled
//! back takes its notes with it ([`mark`], [`rolled_back_to`]), so nothing is reported that did
//! not happen. Whoever ran the transactions takes the committed movements from the same thread
//! afterwards ([`take`]), which keeps several servers in one process (the tests) apart.

use std::cell::RefCell;

use crate::domain::EntryType;
use crate::Credits;

thread_local! {
    /// Movements of the transaction running on this thread, not yet committed.
    static PENDING: RefCell<Vec<(EntryType, Credits)>> = const { RefCell::new(Vec::new()) };
    /// Movements committed on this thread and not yet taken.
    static COMMITTED: RefCell<Vec<(EntryType, Credits)>> = const { RefCell::new(Vec::new()) };
}

/// Notes an entry appended in the current transaction (or, outside one, as committed).
pub(crate) fn note(entry_type: EntryType, credits: Credits, in_transaction: bool) {
    if in_transaction {
        PENDING.with(|pending| pending.borrow_mut().push((entry_type, credits)));
    } else {
        note_committed(entry_type, credits);
    }
}

/// Notes a committed movement.
pub fn note_committed(entry_type: EntryType, credits: Credits) {
    COMMITTED.with(|committed| committed.borrow_mut().push((entry_type, credits)));
}

/// Where this thread's notes stand, to roll back to.
pub(crate) fn mark() -> usize {
    PENDING.with(|pending| pending.borrow().len())
}

/// Drops the notes made since `mark` (their transaction or savepoint was rolled back).
pub(crate) fn rolled_back_to(mark: usize) {
    PENDING.with(|pending| pending.borrow_mut().truncate(mark));
}

/// This thread's notes were committed.
pub(crate) fn committed() {
    let notes: Vec<_> = PENDING.with(|pending| pending.borrow_mut().drain(..).collect());
    COMMITTED.with(|committed| committed.borrow_mut().extend(notes));
}

/// The movements committed on this thread since the last call (signed: credits in positive).
pub fn take() -> Vec<(EntryType, Credits)> {
    COMMITTED.with(|committed| std::mem::take(&mut *committed.borrow_mut()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_committed_movements_are_taken() {
        let _ = take();
        note(EntryType::Purchase, Credits::whole(5), true);
        let outer = mark();
        note(EntryType::Generation, Credits::whole(-1), true);
        rolled_back_to(outer); // a savepoint rolled back
        committed();
        note(EntryType::Refund, Credits::whole(-2), true);
        rolled_back_to(0); // a transaction rolled back
        note(EntryType::Adjustment, Credits::whole(3), false);
        assert_eq!(take(), vec![(EntryType::Purchase, Credits::whole(5)), (EntryType::Adjustment, Credits::whole(3))]);
        assert!(take().is_empty());
    }
}
