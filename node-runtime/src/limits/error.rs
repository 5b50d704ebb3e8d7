//! Why limits could not be applied or read. A leaf: it names no other part of the node, so the
//! runtime's error type can carry it without an import circle.

use std::fmt;
use std::io as stdio;
use std::path::PathBuf;

/// Why limits could not be applied or read.
#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    /// A value is out of range or does not fit the container now; nothing was changed.
    #[error("invalid {field} {value}: {expected}")]
    Invalid {
        /// Spec field (`memory`, `cpu.units`, ...).
        field: &'static str,
        /// The value given.
        value: String,
        /// What would be valid.
        expected: String,
    },
    /// The host cannot enforce this limit; nothing was changed.
    #[error("{field} is not supported on this host: {reason}")]
    Unsupported {
        /// Spec field.
        field: &'static str,
        /// What is missing.
        reason: String,
    },
    /// The kernel refused a write.
    #[error("failed to write {value:?} to {path}: {source}")]
    Write {
        /// What was written.
        value: String,
        /// Control file.
        path: PathBuf,
        /// The kernel's answer.
        source: stdio::Error,
    },
    /// A control file could not be read.
    #[error("failed to read {path}: {source}")]
    Read {
        /// Control file.
        path: PathBuf,
        /// Cause.
        source: stdio::Error,
    },
    /// A control file held something unexpected.
    #[error("unexpected content {content:?} in {path}: expected {expected}")]
    Parse {
        /// Control file.
        path: PathBuf,
        /// What it held.
        content: String,
        /// What was expected.
        expected: String,
    },
}

impl LimitError {
    pub(crate) fn invalid(
        field: &'static str,
        value: impl fmt::Display,
        expected: impl Into<String>,
    ) -> LimitError {
        LimitError::Invalid {
            field,
            value: value.to_string(),
            expected: expected.into(),
        }
    }

    pub(crate) fn unsupported(field: &'static str, reason: impl Into<String>) -> LimitError {
        LimitError::Unsupported {
            field,
            reason: reason.into(),
        }
    }
}
