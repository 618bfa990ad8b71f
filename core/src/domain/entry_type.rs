//! Why credits moved: the type of a ledger entry.

use serde::{Deserialize, Serialize};

text_enum! {
    /// Why credits moved.
    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum EntryType {
        Purchase = "purchase",
        Generation = "generation",
        Refund = "refund",
        Adjustment = "adjustment",
        AutoTopup = "auto_topup",
    }
}
