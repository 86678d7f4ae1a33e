//! STUB — being written by a helper. Interface only.
use crate::task::SecretTask;
use std::path::Path;

/// The parser policy of one invocation (v0.7): no defaults, both lists as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    pub inline_file_suffixes: Vec<String>,
    pub exclude_properties: Vec<String>,
}

#[derive(Debug, Default)]
pub struct ParsedEnv {
    /// In file order, duplicates already resolved (last definition wins).
    pub tasks: Vec<SecretTask>,
    /// Raw keys skipped by `--exclude-property`, file order, each once.
    pub skipped: Vec<String>,
    /// Human-readable warnings for stderr (duplicate keys, …), without values.
    pub warnings: Vec<String>,
}

pub fn load_env_file(_path: &Path, _policy: &Policy, _home: &Path) -> anyhow::Result<ParsedEnv> {
    unimplemented!()
}
