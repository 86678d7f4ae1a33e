//! One secret to push: the unit of work every target consumes.
//!
//! Values are bytes: a file reference may hold anything, and only the targets decide
//! (in `preflight`) whether they can carry non-UTF-8 data.

use std::path::PathBuf;

/// Where a value came from, for the dry-run plan and error messages (never the value itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Written in the env file.
    Literal,
    /// Read through an `--inline-file-suffix` reference. Boxed because most values are
    /// literals and every task is held for the whole run: the rare file reference should not
    /// make every task larger.
    File(Box<FileRef>),
}

/// A file reference: the value was read from `path`; `written_as` is the key as the env file
/// spells it (`SSH_KEY_PATH`), which `--exclude-property` matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRef {
    pub path: PathBuf,
    pub written_as: String,
}

impl Source {
    pub fn file(path: PathBuf, written_as: impl Into<String>) -> Source {
        Source::File(Box::new(FileRef {
            path,
            written_as: written_as.into(),
        }))
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct SecretTask {
    /// The secret name as pushed (the stem, for a file reference).
    pub key: String,
    pub value: Vec<u8>,
    pub source: Source,
    /// 1-based line of the env file that defined it.
    pub line: usize,
}

impl SecretTask {
    /// The key as the env file spells it: what the user must write in `--exclude-property`.
    pub fn written_as(&self) -> &str {
        match &self.source {
            Source::Literal => &self.key,
            Source::File(file) => &file.written_as,
        }
    }
}

/// Deliberately prints no value, so a task can never leak through `{:?}`.
impl std::fmt::Debug for SecretTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretTask")
            .field("key", &self.key)
            .field("value", &format_args!("<{} bytes>", self.value.len()))
            .field("source", &self.source)
            .field("line", &self.line)
            .finish()
    }
}
