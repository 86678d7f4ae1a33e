//! STUB — being written by a helper. Interface only.
use std::path::{Path, PathBuf};

pub struct ConfigFile {
    pub path: PathBuf,
    pub doc: serde_json::Value,
}

impl ConfigFile {
    pub fn load(_path: &Path) -> anyhow::Result<ConfigFile> {
        unimplemented!()
    }
    pub fn vault_folder(&self) -> Option<&str> {
        unimplemented!()
    }
    pub fn sync_field(&self, _target: &str, _field: &str) -> Option<&str> {
        unimplemented!()
    }
    pub fn set_sync_field(&mut self, _target: &str, _field: &str, _value: Option<&str>) {
        unimplemented!()
    }
    pub fn save(&self) -> anyhow::Result<()> {
        unimplemented!()
    }
}
