//! Values checked once, where they enter (an HTTP handler or the command line), and typed from
//! there on: whoever holds an [`Email`] holds a valid, normalized address, whoever holds a
//! [`Prompt`] a prompt of the allowed length. The checks and their error codes live here only.

mod account;
mod entry_type;
mod event_type;
mod generation;
pub mod limit_reset;
pub mod pricing;

pub use account::{Email, Password, MAX_PASSWORD_LEN, MIN_PASSWORD_LEN};
pub use entry_type::EntryType;
pub use event_type::EventType;
pub use generation::{ImageCount, Prompt, ResponseFormat, MAX_IMAGES_PER_REQUEST, MAX_PROMPT_CHARS};
pub use pricing::Quality;
