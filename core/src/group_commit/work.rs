//! What group commit runs: a closed set of kinds of work, each knowing how one unit runs, and
//! for the kinds that have a set form (holds and captures), how several run as one set.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::db::DbConn;
use crate::generating::{self, Cancel, Capture, Captured, Release, Reservation};
use crate::ids::{AccountId, ApiKeyId};
use crate::ledger::holds::Hold;
use crate::store::generations::Generation;
use crate::store::{api_keys, images};
use crate::Result;

/// One kind of work.
pub(super) trait Kind: Send + Sized + 'static {
    type Output: Send + 'static;
    /// The account whose row the work locks (a batch locks all its accounts first).
    fn account(&self) -> &AccountId;
    /// Runs one unit, inside the transaction (or savepoint) the committer gives it.
    fn run_one(&self, conn: &mut DbConn) -> Result<Self::Output>;
}

/// A kind of work that runs as a set, in fewer statements than one by one.
pub(super) trait SetKind: Kind {
    /// Runs several as one set inside the batch's transaction: one outcome per item, in order,
    /// each the one it would have had alone. `Err` means the set failed as a whole: it is rolled
    /// back, and the items run one by one.
    fn run_set(items: &[&Self], conn: &mut DbConn) -> Result<Vec<Result<Self::Output>>>;
}

impl Kind for Reservation {
    type Output = (Generation, Hold);

    fn account(&self) -> &AccountId {
        &self.request.account_id
    }

    fn run_one(&self, conn: &mut DbConn) -> Result<Self::Output> {
        generating::reserve(conn, self)
    }
}

impl SetKind for Reservation {
    fn run_set(items: &[&Self], conn: &mut DbConn) -> Result<Vec<Result<Self::Output>>> {
        generating::reserve_set(conn, items)
    }
}

impl Kind for Capture {
    type Output = Captured;

    fn account(&self) -> &AccountId {
        &self.generation.account_id
    }

    fn run_one(&self, conn: &mut DbConn) -> Result<Captured> {
        generating::capture(conn, self)
    }
}

impl SetKind for Capture {
    fn run_set(items: &[&Self], conn: &mut DbConn) -> Result<Vec<Result<Captured>>> {
        Ok(generating::capture_set(conn, items)?.into_iter().map(Ok).collect())
    }
}

impl Kind for Release {
    type Output = Generation;

    fn account(&self) -> &AccountId {
        &self.generation.account_id
    }

    fn run_one(&self, conn: &mut DbConn) -> Result<Generation> {
        generating::release(conn, self)
    }
}

impl Kind for Cancel {
    type Output = (Generation, bool);

    fn account(&self) -> &AccountId {
        &self.account_id
    }

    fn run_one(&self, conn: &mut DbConn) -> Result<(Generation, bool)> {
        generating::cancel(conn, self)
    }
}

/// Notes that an API key was used (at most once per [`api_keys::needs_touch`] period). Not a
/// money movement, but on SQLite a write, so it queues with the money writes instead of polling
/// for the write lock.
pub struct KeyTouch {
    pub account: AccountId,
    pub key: ApiKeyId,
    pub now: DateTime<Utc>,
}

impl Kind for KeyTouch {
    type Output = ();

    fn account(&self) -> &AccountId {
        &self.account
    }

    fn run_one(&self, conn: &mut DbConn) -> Result<()> {
        api_keys::touch(conn, &self.key, self.now)
    }
}

/// Stores generated images' bytes (see [`images::store`]) for `account`'s generation: on SQLite
/// a write, which queues with the money writes rather than polling for the write lock while
/// batches hold it back to back (polling writers could wait seconds for a gap).
pub struct BlobStore {
    pub account: AccountId,
    /// Each blob's id and bytes.
    pub blobs: Vec<(String, Arc<[u8]>)>,
    pub now: DateTime<Utc>,
}

impl Kind for BlobStore {
    type Output = ();

    fn account(&self) -> &AccountId {
        &self.account
    }

    fn run_one(&self, conn: &mut DbConn) -> Result<()> {
        let blobs: Vec<(&str, &[u8])> = self.blobs.iter().map(|(id, bytes)| (id.as_str(), &bytes[..])).collect();
        images::store(conn, &blobs, self.now)
    }
}

/// Touches stored blobs whose touch is old (see [`images::touch`]); answers the ids no longer
/// stored. Queued with the money writes for the reason [`BlobStore`] is.
pub struct BlobTouch {
    pub account: AccountId,
    pub ids: Vec<String>,
    pub now: DateTime<Utc>,
}

impl Kind for BlobTouch {
    type Output = Vec<String>;

    fn account(&self) -> &AccountId {
        &self.account
    }

    fn run_one(&self, conn: &mut DbConn) -> Result<Vec<String>> {
        images::touch(conn, &self.ids, self.now)
    }
}
