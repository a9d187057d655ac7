//! Container ids: the name a container is known by in `--root`.
//!
//! An id becomes a directory name under the state root, so it must never be
//! able to name anything outside it. We accept what runc accepts:
//! `[A-Za-z0-9_+.-]+`, except `.` and `..`, at most 1024 bytes.

use std::fmt;

/// A validated container id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContainerId(String);

/// Why a string is not a usable container id.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdError {
    #[error("container id must not be empty")]
    Empty,
    #[error("invalid container id {0:?}: only letters, digits, '_', '+', '-' and '.' are allowed")]
    Forbidden(String),
    #[error("invalid container id {0:?}: it names a directory of its own")]
    Dots(String),
    #[error("invalid container id: longer than 1024 bytes")]
    TooLong,
}

impl ContainerId {
    /// Validates `s` as a container id.
    pub fn new(s: &str) -> Result<Self, IdError> {
        if s.is_empty() {
            return Err(IdError::Empty);
        }
        if s.len() > 1024 {
            return Err(IdError::TooLong);
        }
        if s == "." || s == ".." {
            return Err(IdError::Dots(s.to_owned()));
        }
        let ok =
            s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'-' | b'.'));
        if !ok {
            return Err(IdError::Forbidden(s.to_owned()));
        }
        Ok(Self(s.to_owned()))
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ContainerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_runc_ids() {
        for ok in ["a", "c1", "my_container-1.2+x", "0123456789abcdef"] {
            assert_eq!(ContainerId::new(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn rejects_bad_ids() {
        assert_eq!(ContainerId::new(""), Err(IdError::Empty));
        assert_eq!(ContainerId::new(".."), Err(IdError::Dots("..".into())));
        assert_eq!(ContainerId::new("."), Err(IdError::Dots(".".into())));
        for bad in ["a/b", "../x", "a b", "a\0b", "é", "a:b"] {
            assert!(matches!(ContainerId::new(bad), Err(IdError::Forbidden(_))), "{bad}");
        }
        assert_eq!(ContainerId::new(&"x".repeat(1025)), Err(IdError::TooLong));
    }
}
