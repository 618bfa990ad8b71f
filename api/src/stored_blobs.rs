//! Image blobs this process knows are stored, so that storing a repeated image costs no
//! database work.

use apinfer_core::store::images as image_store;

/// Blob ids this process has touched (see `apinfer_core::store::images`), each with when, in
/// unix seconds of the app's clock: for [`image_store::TRUST_SECONDS`] after that, a repeated image
/// (a popular prompt, a retry) needs no database work at all to be known stored. Bounded: when
/// full, it is cleared.
#[derive(Default)]
pub struct StoredBlobs(std::sync::RwLock<std::collections::HashMap<String, i64>>);

/// Ids kept (about 100 bytes each).
const STORED_BLOBS_CAPACITY: usize = 20_000;

impl StoredBlobs {
    /// The ids not touched within [`image_store::TRUST_SECONDS`] of `now`.
    pub fn unknown(&self, ids: &[String], now: i64) -> Vec<String> {
        let known = self.0.read().unwrap_or_else(|e| e.into_inner());
        ids.iter()
            .filter(|id| known.get(*id).is_none_or(|touched| *touched <= now - image_store::TRUST_SECONDS))
            .cloned()
            .collect()
    }

    /// Notes that these ids were touched at `touched` (call only once they are).
    pub fn remember(&self, ids: &[String], touched: i64) {
        let mut known = self.0.write().unwrap_or_else(|e| e.into_inner());
        if known.len() + ids.len() > STORED_BLOBS_CAPACITY {
            known.clear();
        }
        for id in ids {
            known.insert(id.clone(), touched);
        }
    }
}
