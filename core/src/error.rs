//! The domain's error type. Business outcomes (not found, insufficient credits, conflicts) are
//! variants of their own; infrastructure failures carry their cause for the log and are shown
//! to clients only as an opaque internal error by the API layer.

use crate::Credits;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The named thing does not exist, or belongs to another account.
    #[error("no such {0}")]
    NotFound(&'static str),
    /// The thing existed but its content is deleted for good (an image past its retention).
    #[error("{message}")]
    Gone { message: String },
    /// The request is well-formed JSON but breaks a rule; `param` names the field.
    #[error("{message}")]
    Invalid { code: &'static str, message: String, param: Option<String> },
    /// The request is valid but the rules forbid it now (422): a refund past its window, a
    /// price outside its tier.
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String, param: Option<String> },
    /// Not enough available credits.
    #[error("insufficient credits: {required} needed, {available} available")]
    InsufficientCredits { required: Credits, available: Credits },
    /// A key's or member's spending cap would be passed.
    #[error("{message}")]
    SpendLimitExceeded { message: String },
    /// The request conflicts with the current state (duplicate email, personal account members).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// The database is unreachable, the pool is exhausted, or a connection broke mid-statement.
    #[error("database unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// Anything else that went wrong underneath.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl Error {
    pub fn invalid(code: &'static str, message: impl Into<String>, param: impl Into<Option<&'static str>>) -> Self {
        Error::Invalid { code, message: message.into(), param: param.into().map(str::to_string) }
    }

    pub fn unprocessable(
        code: &'static str,
        message: impl Into<String>,
        param: impl Into<Option<&'static str>>,
    ) -> Self {
        Error::Unprocessable { code, message: message.into(), param: param.into().map(str::to_string) }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Error::Conflict { code, message: message.into() }
    }
}

impl From<diesel::result::Error> for Error {
    /// Not found stays not found; a lost or unusable connection is [`Error::Unavailable`]
    /// (503, retry), and so is a serialization failure; text PostgreSQL cannot store (a NUL
    /// character) is the client's error; anything else is internal.
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error as D};
        match &e {
            D::NotFound => Error::NotFound("record"),
            D::BrokenTransactionManager => Error::Unavailable(e.into()),
            D::DatabaseError(kind, info) => {
                let message = info.message().to_ascii_lowercase();
                match kind {
                    DatabaseErrorKind::ClosedConnection
                    | DatabaseErrorKind::UnableToSendCommand
                    | DatabaseErrorKind::SerializationFailure => Error::Unavailable(e.into()),
                    _ if message.contains("0x00") => {
                        Error::invalid("invalid_character", "text must not contain NUL (\\u0000) characters", None)
                    }
                    _ if is_connection_failure(&message) => Error::Unavailable(e.into()),
                    _ => Error::Internal(anyhow::Error::new(e)),
                }
            }
            _ => Error::Internal(anyhow::Error::new(e)),
        }
    }
}

/// Messages libpq and SQLite give when the database went away mid-statement.
fn is_connection_failure(message: &str) -> bool {
    [
        "server closed the connection",
        "terminating connection",
        "connection to server",
        "no connection to the server",
        "could not receive data",
        "could not send data",
        "connection reset",
        "broken pipe",
        "lost synchronization",
        "database is locked",
        "the database system is",
    ]
    .iter()
    .any(|pattern| message.contains(pattern))
}

impl From<r2d2::Error> for Error {
    fn from(e: r2d2::Error) -> Self {
        Error::Unavailable(e.into())
    }
}
