//! Where things live: the repo root, the repo name that namespaces the config, the config
//! file path and the env file path (the README, "Config file").
//!
//! This module owns only the *rules* that turn a working directory, flags and environment
//! variables into paths. It does not read or write the config file (`config.rs`), does not
//! parse the env file (`envfile.rs`), and does not look at `std::env` itself: the caller passes
//! a `vars` lookup so every rule is testable without touching the process environment.
//! The one outside source it reads is the password database, for the account's home
//! directory when `HOME` is unset.
//!
//! The rules match the TypeScript tool byte for byte where it matters, because both tools
//! share the config directory: a different repo name would silently split one repo's routing
//! into two files.

use anyhow::bail;
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

/// Resolved locations for one `(repo, env)` pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Git top-level of the working directory, or the working directory itself.
    pub root: PathBuf,
    /// Sanitised config namespace (`[A-Za-z0-9._-]+`, never `.`/`..`).
    pub repo_name: String,
    /// `${XDG_CONFIG_HOME:-$HOME/.config}/vsync/<repo>/env_<env lowercased>`.
    pub config_path: PathBuf,
}

/// The name used when every other candidate is empty after sanitising.
pub const DEFAULT_REPO_NAME: &str = "default";

/// Resolves root, repo name and config path. The only filesystem access is the `.git` walk
/// and reading `<root>/package.json`; everything else is delegated to pure functions.
pub fn layout(
    cwd: &Path,
    repo_flag: Option<&str>,
    env: &str,
    vars: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<Layout> {
    check_env_name(env).map_err(anyhow::Error::msg)?;
    let root = find_root(cwd);
    let repo_name = pick_repo_name(&[
        repo_flag.map(str::to_owned),
        vars("SECRETS_SYNC_REPO"),
        read_package_name(&root),
        basename(&root),
        basename(cwd),
    ]);
    let config_path = config_path(&repo_name, env, vars)?;
    Ok(Layout {
        root,
        repo_name,
        config_path,
    })
}

/// `<root>/<vault_folder or "infra/vault/<env lowercased>">/.env.<env as typed>`.
///
/// The folder is always taken relative to the root, like the TypeScript tool's
/// `path.join(root, vaultFolder, …)`: a leading `/` in `files.vaultFolder` does not escape the
/// repo. `env` is expected to have passed [`check_env_name`] (done by [`layout`]).
///
/// A folder that leaves the repository — through `..`, or through a symlink that resolves
/// outside it — is refused: the error (the quoted setting and where it leads) completes
/// "files.vaultFolder …". Whatever the config file says, vsync only pushes files of this repo.
pub fn env_file_path(
    root: &Path,
    vault_folder: Option<&str>,
    env: &str,
) -> Result<PathBuf, String> {
    let folder = match vault_folder.filter(|f| !f.is_empty()) {
        Some(f) => f.trim_start_matches('/').to_owned(),
        None => format!("infra/vault/{}", env.to_lowercase()),
    };
    let mut path = root.to_path_buf();
    if !folder.is_empty() {
        if climbs_out(Path::new(&folder)) {
            return Err(format!(
                "{folder:?} points outside the repository {}",
                root.display()
            ));
        }
        path.push(&folder);
        // Only an existing folder can hold a symlink; a missing one fails later as a missing
        // env file, naming its path.
        if let (Ok(real), Ok(real_root)) = (path.canonicalize(), root.canonicalize()) {
            if !real.starts_with(&real_root) {
                return Err(format!(
                    "{folder:?} leads outside the repository {} (to {})",
                    root.display(),
                    real.display()
                ));
            }
        }
    }
    path.push(format!(".env.{env}"));
    Ok(path)
}

/// Whether a relative path's `..` components take it above its starting point, read
/// lexically (symlinks are checked separately, on the real path).
fn climbs_out(relative: &Path) -> bool {
    let mut depth = 0usize;
    for component in relative.components() {
        match component {
            Component::ParentDir => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return true,
            },
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return true,
        }
    }
    false
}

/// The home directory: `$HOME` when set and non-empty, else the account's (`account`,
/// normally [`account_home`]). `None` when neither is known — never an empty path, which
/// would turn `~/x` into `/x`.
pub fn home_dir(
    env_home: Option<OsString>,
    account: impl FnOnce() -> Option<PathBuf>,
) -> Option<PathBuf> {
    match env_home.filter(|h| !h.is_empty()) {
        Some(home) => Some(PathBuf::from(home)),
        None => account().filter(|h| !h.as_os_str().is_empty()),
    }
}

/// The home directory of the account running vsync, from the password database
/// (`getpwuid_r`), as a login shell would set `HOME`.
pub fn account_home() -> Option<PathBuf> {
    use std::ffi::CStr;
    use std::os::unix::ffi::OsStrExt;
    let mut buf = vec![0 as libc::c_char; 4096];
    loop {
        // SAFETY: `pwd` and `buf` outlive the call; on success `pw_dir` points into `buf`.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        let rc = unsafe {
            libc::getpwuid_r(
                libc::getuid(),
                &mut pwd,
                buf.as_mut_ptr(),
                buf.len(),
                &mut found,
            )
        };
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if rc != 0 || found.is_null() || pwd.pw_dir.is_null() {
            return None;
        }
        // SAFETY: a successful lookup leaves a NUL-terminated string in `buf`.
        let dir = unsafe { CStr::from_ptr(pwd.pw_dir) };
        return Some(PathBuf::from(std::ffi::OsStr::from_bytes(dir.to_bytes())));
    }
}

/// The env name becomes part of two file names (`env_<env>`, `.env.<env>`) and, by default,
/// a directory (`infra/vault/<env>`). A `/` would create or escape directories and `.`/`..`
/// would make the default vault folder point at its parent, so those are refused up front
/// instead of producing a surprising path.
pub fn check_env_name(env: &str) -> Result<(), String> {
    if env.is_empty() {
        return Err("the environment name is empty; pass one, e.g. `vsync sync dev gh`".into());
    }
    if env.contains('/') || env.contains('\0') || env == "." || env == ".." {
        return Err(format!(
            "invalid environment name {env:?}: it becomes part of file names, so it must not \
             contain `/` or be `.` or `..`"
        ));
    }
    Ok(())
}

/// Keeps `[A-Za-z0-9._-]`, drops everything else. `None` when nothing usable is left.
///
/// A name made only of dots (`.`, `..`, `...`) is treated as empty: the name is used as a
/// path component under `vsync/`, and `.`/`..` would put the config file in (or above) the
/// shared `vsync/` directory instead of a per-repo one. The TypeScript tool has no such guard;
/// for every name it could ever have stored safely the result is identical.
pub fn sanitize(raw: &str) -> Option<String> {
    let kept: String = raw
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        .collect();
    if kept.chars().all(|c| c == '.') {
        None
    } else {
        Some(kept)
    }
}

/// First candidate that survives [`sanitize`], else [`DEFAULT_REPO_NAME`]. Candidates are in
/// precedence order: flag, `SECRETS_SYNC_REPO`, package.json name, root basename, cwd basename.
pub fn pick_repo_name(candidates: &[Option<String>]) -> String {
    candidates
        .iter()
        .flatten()
        .find_map(|c| sanitize(c))
        .unwrap_or_else(|| DEFAULT_REPO_NAME.to_owned())
}

/// Drops an npm scope: `@scope/foo` → `foo`.
///
/// Everything up to the first `/` goes, as in the TypeScript tool (an unscoped npm name cannot
/// contain `/`, so this only ever differs on names npm itself would reject).
pub fn strip_npm_scope(name: &str) -> &str {
    match name.find('/') {
        Some(i) => &name[i + 1..],
        None => name,
    }
}

/// The `name` field of a package.json text, scope removed. Anything unusable (invalid JSON,
/// no `name`, not a string) is `None` so the caller falls through to the next candidate.
pub fn package_name_from_json(text: &str) -> Option<String> {
    let doc: serde_json::Value = serde_json::from_str(text).ok()?;
    let name = doc.get("name")?.as_str()?;
    Some(strip_npm_scope(name).to_owned())
}

/// `<config home>/vsync/<repo>/env_<env lowercased>`.
pub fn config_path(
    repo_name: &str,
    env: &str,
    vars: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<PathBuf> {
    let mut path = config_home(vars)?;
    path.push("vsync");
    path.push(repo_name);
    path.push(format!("env_{}", env.to_lowercase()));
    Ok(path)
}

/// `$XDG_CONFIG_HOME` when set, non-empty and absolute (the XDG base-directory spec says a
/// relative value is invalid and must be ignored); else `$HOME/.config`.
///
/// An empty `HOME` counts as unset. A relative `HOME` is refused rather than used: it would put
/// the config file under whatever directory vsync happens to run in.
pub fn config_home(vars: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<PathBuf> {
    if let Some(xdg) = vars("XDG_CONFIG_HOME").filter(|v| Path::new(v).is_absolute()) {
        return Ok(PathBuf::from(xdg));
    }
    let Some(home) = vars("HOME").filter(|h| !h.is_empty()) else {
        bail!(
            "HOME is not set; cannot locate the vsync config directory (set HOME or XDG_CONFIG_HOME)"
        );
    };
    if !Path::new(&home).is_absolute() {
        bail!(
            "HOME is not an absolute path ({home:?}); cannot locate the vsync config directory \
             (set HOME or XDG_CONFIG_HOME to an absolute path)"
        );
    }
    Ok(Path::new(&home).join(".config"))
}

/// The nearest ancestor of `cwd` (itself included) holding a `.git` entry, else `cwd`.
///
/// A `.git` *file* counts too: worktrees and submodules use one that points at the real git
/// directory. This is the same top-level `git rev-parse --show-toplevel` reports, without
/// needing git installed.
pub fn find_root(cwd: &Path) -> PathBuf {
    cwd.ancestors()
        .find(|dir| dir.join(".git").symlink_metadata().is_ok())
        .unwrap_or(cwd)
        .to_path_buf()
}

/// `name` from `<root>/package.json`; a missing or unreadable file is just "no candidate".
fn read_package_name(root: &Path) -> Option<String> {
    let text = std::fs::read_to_string(root.join("package.json")).ok()?;
    package_name_from_json(&text)
}

fn basename(path: &Path) -> Option<String> {
    path.file_name().map(|n| n.to_string_lossy().into_owned())
}

pub mod owner;

#[cfg(test)]
mod tests;
