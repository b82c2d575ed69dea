//! The two ways a command fails, mapped to exit codes.

use core::fmt;

use tessera::{Error, Rejected};

/// Why a command did not succeed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The ticket did not open (exit 1). The reason is for the operator.
    Rejected(Rejected),
    /// Bad arguments, unreadable or invalid files, anything that is not a verdict on a ticket
    /// (exit 2).
    Usage(String),
}

impl Failure {
    /// The process exit code.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            Self::Rejected(_) => 1,
            Self::Usage(_) => 2,
        }
    }

    /// A usage/file error with a message.
    pub(crate) fn usage(msg: impl Into<String>) -> Self {
        Self::Usage(msg.into())
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rejected(r) => write!(f, "{r}"),
            Self::Usage(msg) => write!(f, "error: {msg}"),
        }
    }
}

impl From<Rejected> for Failure {
    fn from(r: Rejected) -> Self {
        Self::Rejected(r)
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Self::Usage(e.to_string())
    }
}
