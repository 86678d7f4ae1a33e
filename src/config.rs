//! The per-`(repo, env)` config file: `${XDG_CONFIG_HOME:-$HOME/.config}/vsync/<repo>/env_<env>`
//! (format and guarantees: the README, "Config file").
//!
//! This module owns reading (gzip or plain JSON), validating, editing the `sync.*` routing
//! fields, and writing the file back atomically with private permissions — under a lock, re-read
//! once locked, so concurrent runs never drop each other's changes. It does not decide
//! *where* the file is (`repo.rs`), nor which routing a run uses (flags, prompts: the caller).
//!
//! The file is shared with the TypeScript tool, which keeps much more in it (`s3` credentials,
//! `encryption`, `audit`, …). So the [`Document`] types only what this tool reads and
//! writes (`version`, `files.vaultFolder`, `sync`) and keeps every other field as JSON in
//! flattened maps: fields this tool does not know survive a load/save round trip, and nothing
//! here ever prints a value from the document (it holds credentials).

use crate::targets;
use anyhow::{Context, anyhow};
use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};
use std::fs::{self, DirBuilder, File, OpenOptions, Permissions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use tempfile::NamedTempFile;

/// The first two bytes of every gzip stream; how a compressed file is told from plain JSON.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";
const FILE_MODE: u32 = 0o600;
const DIR_MODE: u32 = 0o700;

/// A loaded (or new) config file. Only [`ConfigFile::load`] makes one from disk, and it
/// refuses corrupt or invalid files, so a file vsync cannot read is never written back.
pub struct ConfigFile {
    pub path: PathBuf,
    /// Validated by `load`; `save` validates it again before writing.
    pub doc: Document,
}

/// The config document. Deserialised only from JSON that [`validate`] accepted, so the typed
/// fields hold what validation checked; `other` keeps every top-level field this tool does
/// not know (`s3`, `encryption`, …) as it was.
#[derive(Serialize, Deserialize)]
pub struct Document {
    /// 1, kept as the number it was written as (`1` or `1.0`).
    pub version: Number,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<Files>,
    /// `sync.<target>.<field>`, addressed by target name and config key. A map of JSON values
    /// rather than typed blocks: which blocks and fields exist is the target registry's
    /// business (see [`validate`]), and a block of another tool may be any JSON value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync: Option<Map<String, Value>>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// The `files` block: `vaultFolder` typed, the rest kept as it was.
#[derive(Serialize, Deserialize)]
pub struct Files {
    #[serde(
        rename = "vaultFolder",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub vault_folder: Option<String>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl Document {
    /// What a missing file stands for: `{"version":1}`.
    fn new() -> Document {
        Document {
            version: Number::from(1),
            files: None,
            sync: None,
            other: Map::new(),
        }
    }

    /// The top-level field names, in the order they are written.
    fn field_names(&self) -> Vec<&str> {
        let typed = [
            Some("version"),
            self.files.as_ref().map(|_| "files"),
            self.sync.as_ref().map(|_| "sync"),
        ];
        typed
            .into_iter()
            .flatten()
            .chain(self.other.keys().map(String::as_str))
            .collect()
    }
}

/// Shows the path and the top-level field names only: the document holds credentials of
/// the TypeScript tool (`s3.secretAccessKey`), which must never reach a log through `{:?}`.
impl std::fmt::Debug for ConfigFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigFile")
            .field("path", &self.path)
            .field("fields", &self.doc.field_names())
            .finish_non_exhaustive()
    }
}

impl ConfigFile {
    /// Reads and validates the file. A missing file is not an error: routing then comes
    /// from flags or a prompt, and the first save creates the file with `{"version":1}` plus
    /// what was set.
    pub fn load(path: &Path) -> anyhow::Result<ConfigFile> {
        let bytes = match fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(ConfigFile::empty(path)),
            Err(e) => {
                return Err(e).with_context(|| {
                    format!(
                        "reading config file {}; check that it is a readable file",
                        path.display()
                    )
                });
            }
        };
        let doc = decode_and_validate(&bytes).map_err(|problem| invalid_file(path, &problem))?;
        Ok(ConfigFile {
            path: path.to_path_buf(),
            doc,
        })
    }

    /// The config a missing file stands for.
    pub fn empty(path: &Path) -> ConfigFile {
        ConfigFile {
            path: path.to_path_buf(),
            doc: Document::new(),
        }
    }

    /// `files.vaultFolder` when it is a non-empty string.
    pub fn vault_folder(&self) -> Option<&str> {
        let folder = self.doc.files.as_ref()?.vault_folder.as_deref()?;
        Some(folder).filter(|s| !s.is_empty())
    }

    /// `sync.<target>.<field>` when it is a non-empty string.
    pub fn sync_field(&self, target: &str, field: &str) -> Option<&str> {
        non_empty_str(self.doc.sync.as_ref()?.get(target)?.get(field)?)
    }

    /// Sets `sync.<target>.<field>`, creating the `sync` and `<target>` objects as needed;
    /// `None` removes the field. Nothing else in the document changes.
    ///
    /// Removing the last field of a block removes the now-empty block too: an empty
    /// `sync.gh` would fail validation ("sync.gh.repo must be a non-empty string") and make
    /// the file unsaveable. Removing a field from an absent block is a no-op.
    pub fn set_sync_field(&mut self, target: &str, field: &str, value: Option<&str>) {
        match value {
            Some(value) => {
                let sync = self.doc.sync.get_or_insert_with(Map::new);
                let block = object_entry(sync, target);
                block.insert(field.to_owned(), Value::String(value.to_owned()));
            }
            None => {
                let Some(sync) = self.doc.sync.as_mut() else {
                    return;
                };
                let Some(block) = sync.get_mut(target).and_then(Value::as_object_mut) else {
                    return;
                };
                if block.remove(field).is_some() && block.is_empty() {
                    sync.remove(target);
                }
            }
        }
    }

    /// Changes the file on disk under an exclusive lock: loads it afresh once the lock is
    /// held, lets `change` edit that copy, and saves it.
    ///
    /// Two runs that route different targets of one repo at once would otherwise both load,
    /// change their own target and save, and the later rename would drop the other's change.
    /// The lock is `flock` on `<file>.lock` beside the file (0600, left in place: removing it
    /// would let a third run lock a fresh file while the second still holds the old one).
    pub fn update(path: &Path, change: impl FnOnce(&mut ConfigFile)) -> anyhow::Result<()> {
        ensure_private_dir(parent_dir(path))?;
        let _lock = lock_beside(path)?;
        let mut fresh = ConfigFile::load(path)?;
        change(&mut fresh);
        fresh.save()
        // The lock is released when `_lock` closes, after the rename.
    }

    /// Writes the document as gzip JSON, atomically, file 0600 and directory 0700 whatever
    /// the umask: the file holds credentials of the TypeScript tool.
    ///
    /// Atomic: the bytes go to a fresh temp file in the same directory, are fsynced, then
    /// renamed over the target, so a reader (or a crash, or a second vsync saving at the same
    /// moment) sees either the old file or a complete new one, never a torn one. The last
    /// rename wins. The document is validated first, and an existing file that does not load
    /// is left alone, so this never writes a file vsync itself would refuse to read nor
    /// replaces one the user has to repair by hand.
    pub fn save(&self) -> anyhow::Result<()> {
        let path = &self.path;
        let doc = serde_json::to_value(&self.doc)
            .map_err(|e| anyhow!("not saving config file {}: {e}", path.display()))?;
        validate(&doc).map_err(|problem| {
            anyhow!(
                "not saving config file {}: {problem}; pass a non-empty value for that setting",
                path.display()
            )
        })?;
        let file_name = path
            .file_name()
            .ok_or_else(|| anyhow!("config file path {} has no file name", path.display()))?;
        let dir = parent_dir(path);

        ensure_private_dir(dir)?;
        refuse_to_replace_unreadable(path)?;

        let bytes = encode(&doc);
        let temp = temp_beside(dir, &file_name.to_string_lossy()).with_context(|| {
            format!(
                "creating a temporary file in {} to save the config; check that the \
                 directory is writable",
                dir.display()
            )
        })?;
        let temp_path = temp.path().to_path_buf();
        write_and_sync(temp.as_file(), &bytes).with_context(|| {
            format!(
                "writing config file {} (via {}); check free disk space",
                path.display(),
                temp_path.display()
            )
        })?;
        // On failure the temp file comes back inside the error and is removed with it.
        temp.persist(path).map_err(|e| e.error).with_context(|| {
            format!(
                "replacing config file {} with {}; check that the directory is writable",
                path.display(),
                temp_path.display()
            )
        })?;
        // Makes the rename itself durable. Best effort: some filesystems refuse to fsync a
        // directory, and the file is already complete and in place either way.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

/// Bytes of a config file → JSON document. Gzip is recognised by its magic bytes (what the
/// TypeScript tool writes); anything else is read as plain JSON, so a hand-written config
/// works too. A UTF-8 byte-order mark before plain JSON is ignored.
pub fn decode(bytes: &[u8]) -> Result<Value, String> {
    let inflated;
    let json: &[u8] = if bytes.starts_with(&GZIP_MAGIC) {
        let mut out = Vec::new();
        // Multi-member, like Node's gunzip: concatenated gzip streams are one document.
        MultiGzDecoder::new(bytes)
            .read_to_end(&mut out)
            .map_err(|e| format!("not valid gzip data ({e})"))?;
        inflated = out;
        &inflated
    } else {
        bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes)
    };
    // serde_json's messages give line and column, never the offending text.
    serde_json::from_slice(json).map_err(|e| format!("not valid JSON ({e})"))
}

/// JSON document → gzip bytes, the on-disk format both tools read.
pub fn encode(doc: &Value) -> Vec<u8> {
    let json = serde_json::to_vec(doc).expect("a serde_json::Value always serialises");
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(&json)
        .expect("compressing into a Vec cannot fail");
    gz.finish().expect("compressing into a Vec cannot fail")
}

/// The shape checks of the TypeScript tool's `validateConfigFile` that concern this tool:
/// `version` is 1, `files.vaultFolder` is a string, and each known `sync.*` block that is
/// present is an object with its required strings non-empty. Unknown blocks and fields are
/// allowed (and kept). The TypeScript-only blocks (`s3`, `encryption`) are not required: a
/// file this tool creates from scratch holds routing only.
///
/// Problems name the field but never quote its value (the document holds credentials).
pub fn validate(doc: &Value) -> Result<(), String> {
    let root = doc
        .as_object()
        .ok_or("the top level must be a JSON object")?;
    match root.get("version") {
        Some(v) if v.as_f64() == Some(1.0) => {}
        Some(v) if v.is_number() => return Err(format!("unsupported version {v} (expected 1)")),
        Some(_) => return Err("version must be the number 1".into()),
        None => return Err("version is missing (expected 1)".into()),
    }
    if let Some(files) = root.get("files") {
        let files = files.as_object().ok_or("files must be an object")?;
        if files.get("vaultFolder").is_some_and(|v| !v.is_string()) {
            return Err("files.vaultFolder must be a string".into());
        }
    }
    let Some(sync) = root.get("sync") else {
        return Ok(());
    };
    let sync = sync.as_object().ok_or("sync must be an object")?;
    // Each known target's block: required settings are non-empty strings, optional ones
    // strings (possibly empty). Unknown blocks and fields belong to other tools.
    for backend in targets::REGISTRY {
        let target = backend.name;
        let Some(block) = sync.get(target) else {
            continue;
        };
        let block = block
            .as_object()
            .ok_or_else(|| format!("sync.{target} must be an object"))?;
        for setting in backend.settings {
            let field = setting.config_key;
            let value = block.get(field);
            if setting.required && value.and_then(non_empty_str).is_none() {
                return Err(format!("sync.{target}.{field} must be a non-empty string"));
            }
            if value.is_some_and(|v| !v.is_string()) {
                return Err(format!("sync.{target}.{field} must be a string"));
            }
        }
    }
    Ok(())
}

fn decode_and_validate(bytes: &[u8]) -> Result<Document, String> {
    let doc = decode(bytes)?;
    validate(&doc)?;
    typed(doc)
}

/// A validated JSON document → [`Document`]. Validation checked every typed field, so this
/// only fails if the two disagree; the message then quotes no value.
fn typed(doc: Value) -> Result<Document, String> {
    serde_json::from_value(doc)
        .map_err(|_| "its fields do not have the types vsync expects".to_owned())
}

fn invalid_file(path: &Path, problem: &str) -> anyhow::Error {
    anyhow!(
        "config file {} is invalid: {problem} (fix or delete it; vsync does not overwrite a \
         config file it cannot read)",
        path.display()
    )
}

fn non_empty_str(v: &Value) -> Option<&str> {
    v.as_str().filter(|s| !s.is_empty())
}

/// `map[key]` as an object, inserted when absent. A non-object there (only possible for an
/// unknown `sync.*` block, which validation lets through) is replaced: the caller is about to
/// store a field in it.
fn object_entry<'a>(map: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let slot = map
        .entry(key.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut().expect("just made an object")
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Opens (creating it 0600) `<path>.lock` and takes an exclusive `flock` on it, waiting for
/// any other holder. Closing the returned file releases the lock.
fn lock_beside(path: &Path) -> anyhow::Result<File> {
    use std::os::fd::AsRawFd;
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    let lock_path = path.with_file_name(name);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(FILE_MODE)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&lock_path)
        .and_then(|f| {
            f.set_permissions(Permissions::from_mode(FILE_MODE))?;
            Ok(f)
        })
        .with_context(|| {
            format!(
                "opening lock file {}; check that the directory is writable",
                lock_path.display()
            )
        })?;
    loop {
        // SAFETY: flock on a descriptor this function owns.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
            return Ok(file);
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != ErrorKind::Interrupted {
            return Err(e)
                .with_context(|| format!("locking {} before saving", lock_path.display()));
        }
    }
}

/// Creates `dir` (and missing parents) and makes `dir` itself 0700.
///
/// Each directory this creates is chmod-ed to 0700 right after `mkdir`, because `mkdir`'s
/// mode is masked by the umask: under a strict umask (say 0377) a parent would come out
/// without search permission and its child could not be created. Pre-existing parents are
/// left as they are; only the config's own directory is tightened.
fn ensure_private_dir(dir: &Path) -> anyhow::Result<()> {
    let missing: Vec<&Path> = dir
        .ancestors()
        .filter(|d| !d.as_os_str().is_empty())
        .take_while(|d| fs::symlink_metadata(d).is_err())
        .collect();
    for d in missing.iter().rev() {
        match DirBuilder::new().mode(DIR_MODE).create(d) {
            Ok(()) => {}
            // Another vsync created it between the check and here: fine.
            Err(e) if e.kind() == ErrorKind::AlreadyExists && d.is_dir() => continue,
            Err(e) => {
                return Err(e).with_context(|| {
                    format!(
                        "creating config directory {}; check that its parent is writable",
                        d.display()
                    )
                });
            }
        }
        fs::set_permissions(d, Permissions::from_mode(DIR_MODE))
            .with_context(|| format!("making directory {} private (0700)", d.display()))?;
    }
    let meta = fs::metadata(dir).with_context(|| format!("reading {}", dir.display()))?;
    if !meta.is_dir() {
        anyhow::bail!(
            "config directory {} exists but is not a directory; move it away",
            dir.display()
        );
    }
    let mode = meta.permissions().mode() & 0o7777;
    match private_mode(mode) {
        Ok(None) => Ok(()),
        Ok(Some(tight)) => {
            fs::set_permissions(dir, Permissions::from_mode(tight)).with_context(|| {
                format!(
                    "making config directory {} private ({tight:04o}); check that you own it",
                    dir.display()
                )
            })
        }
        Err(()) => anyhow::bail!(
            "config directory {} is read-only for you (mode {mode:04o}), so the routing cannot \
             be saved and nothing was pushed; vsync does not undo a permission you removed: \
             make it writable again (chmod 700 {}) or set XDG_CONFIG_HOME to another directory",
            dir.display(),
            dir.display()
        ),
    }
}

/// The mode an existing config directory should get: `None` when it is fine as it is, the
/// mode with the group and other bits cleared when those are set, and `Err` when its owner
/// lacks write or search permission. Only loose bits are ever removed; an owner permission
/// the user took away is theirs to give back.
fn private_mode(mode: u32) -> Result<Option<u32>, ()> {
    if mode & 0o300 != 0o300 {
        return Err(());
    }
    Ok((mode & 0o077 != 0).then_some(mode & 0o700))
}

/// Refuses to replace a file that does not load. `load` already refuses such a file, so this
/// only matters if the file was damaged after it was loaded, or a `ConfigFile` was built by
/// hand: either way the user's file stays byte-for-byte as it is.
fn refuse_to_replace_unreadable(path: &Path) -> anyhow::Result<()> {
    match fs::read(path) {
        Ok(bytes) => decode_and_validate(&bytes)
            .map(drop)
            .map_err(|problem| invalid_file(path, &problem)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| {
            format!(
                "reading config file {} before replacing it; check that it is a readable file",
                path.display()
            )
        }),
    }
}

fn write_and_sync(mut file: &File, bytes: &[u8]) -> std::io::Result<()> {
    file.write_all(bytes)?;
    file.sync_all()
}

/// A fresh `.<name>.XXXXXX.tmp` in `dir`, exactly 0600 before anything is written to it
/// (the mode it is created with is masked by the umask). It is opened with `O_EXCL`, so a
/// name still taken or a symlink planted at the name is never followed, and it is removed
/// when dropped unless it was persisted: every early return of `save` cleans up after itself.
fn temp_beside(dir: &Path, name: &str) -> std::io::Result<NamedTempFile> {
    let temp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)?;
    temp.as_file()
        .set_permissions(Permissions::from_mode(FILE_MODE))?;
    Ok(temp)
}

#[cfg(test)]
mod tests;
