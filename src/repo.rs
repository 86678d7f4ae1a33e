//! STUB — being written by a helper. Interface only.
use std::path::{Path, PathBuf};

pub struct Layout {
    pub root: PathBuf,
    pub repo_name: String,
    pub config_path: PathBuf,
}

pub fn layout(_cwd: &Path, _repo_flag: Option<&str>, _env: &str, _vars: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<Layout> {
    unimplemented!()
}

pub fn env_file_path(_root: &Path, _vault_folder: Option<&str>, _env: &str) -> PathBuf {
    unimplemented!()
}
