//! One error type for the whole bench: a message a person can act on.

use std::fmt;

/// What went wrong, already phrased for the user.
#[derive(Debug)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// The bench's result.
pub type Result<T> = std::result::Result<T, Error>;

/// Returns early with a formatted [`Error`].
macro_rules! fail {
    ($($arg:tt)*) => { return Err($crate::error::Error(format!($($arg)*))) };
}
pub(crate) use fail;

/// Adds what was being done to an error.
pub trait Context<T> {
    /// `what: cause`.
    fn context(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: fmt::Display> Context<T> for std::result::Result<T, E> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error(format!("{}: {e}", what())))
    }
}
