//! The engine's counters for the process's one metrics registry (the API's `/metrics`
//! registers them there): `apinfer_credits_moved_total` and `apinfer_credits_spent_total`, what
//! the ledger engine reports it moved ([`crate::ledger::report`]), taken on the thread that ran
//! the transactions, right after they ran, wherever they ran (a request's database call, a
//! group committer's batch). The committers' own counters are [`crate::group_commit::Stats`].

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use crate::ledger::{report, EntryType};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CreditLabels {
    r#type: &'static str,
}

/// The two counters; clones share their values.
#[derive(Clone, Debug, Default)]
pub struct CreditsMoved {
    moved: Family<CreditLabels, Counter<f64, AtomicU64>>,
    spent: Counter<f64, AtomicU64>,
}

impl CreditsMoved {
    /// Registers the counters in `registry`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "apinfer_credits_moved",
            "Credits moved through the ledger by this process, by entry type",
            self.moved.clone(),
        );
        registry.register(
            "apinfer_credits_spent",
            "Credits spent on generations through this process",
            self.spent.clone(),
        );
    }

    /// Counts what the ledger engine committed on this thread since it was last asked. Call on
    /// the thread that ran the transactions, after they ended.
    pub fn take_from_this_thread(&self) {
        for (entry_type, credits) in report::take() {
            // Display only: the ledger's own integers are the money; Prometheus values are floats.
            let amount = credits.units().unsigned_abs() as f64 / crate::credits::UNITS_PER_CREDIT as f64;
            self.moved.get_or_create(&CreditLabels { r#type: entry_type.as_str() }).inc_by(amount);
            if entry_type == EntryType::Generation {
                self.spent.inc_by(amount);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::Credits;

    use super::*;

    #[test]
    fn shows_what_the_engine_committed_on_this_thread() {
        let counters = CreditsMoved::default();
        let mut registry = Registry::default();
        counters.register(&mut registry);
        report::note_committed(EntryType::Generation, Credits::from_units(17_500));
        counters.take_from_this_thread();
        counters.take_from_this_thread(); // taken once only
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert!(text.contains("apinfer_credits_moved_total{type=\"generation\"} 1.75\n"), "{text}");
        assert!(text.contains("apinfer_credits_spent_total 1.75\n"), "{text}");
    }
}
