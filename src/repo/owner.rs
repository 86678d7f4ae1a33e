//! The ownership identity: which repository a secret's `vsync-repo` mark names, so that
//! `--prune` never deletes another repository's secrets. It must tell two repositories apart
//! even when both are checked out as the same folder (`/workspace`, `…/src`), so a folder
//! name never counts. In order: `--repo` or `SECRETS_SYNC_REPO` (spelt as the config
//! namespace spells it, so marks written by earlier versions still match), the git remote
//! `origin` (normalised: the https and ssh forms of one repository are one identity), the
//! `package.json` name (only for a repository without an `origin`), else none.
//!
//! The config namespace (`Layout::repo_name`) is not decided here and does not change.
//! The git config is read as a file; git itself is not needed.

use super::{package_name_from_json, sanitize};
use crate::targets::{hashed_label, owner_label};
use std::path::{Path, PathBuf};

/// Where the identity came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `--repo` or `SECRETS_SYNC_REPO`.
    Given,
    /// The git remote `origin`.
    Remote,
    /// The `name` of `package.json` at the root.
    Package,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// As given (sanitised), or the normalised remote (`github.com/acme/api`).
    pub name: String,
    pub source: Source,
}

impl Identity {
    /// The `vsync-repo` mark value. A given or package name is spelt as earlier versions
    /// spelt it; a remote always ends in a hash of itself, because label characters lose
    /// `.` and `/` (`a.b/c` and `a_b/c` would be one owner).
    pub fn mark(&self) -> String {
        match self.source {
            Source::Given | Source::Package => owner_label(&self.name),
            Source::Remote => hashed_label(&self.name.replace(['.', '/'], "-"), &self.name),
        }
    }
}

/// The ownership identity of the repository at `root`; `None` when nothing but a folder
/// name identifies it.
pub fn identity(
    root: &Path,
    repo_flag: Option<&str>,
    vars: &dyn Fn(&str) -> Option<String>,
) -> Option<Identity> {
    let given = [repo_flag.map(str::to_owned), vars("SECRETS_SYNC_REPO")]
        .into_iter()
        .flatten()
        .find_map(|c| sanitize(&c));
    if let Some(name) = given {
        return Some(Identity {
            name,
            source: Source::Given,
        });
    }
    if let Some(name) = origin_url(root).as_deref().and_then(normalise_remote) {
        return Some(Identity {
            name,
            source: Source::Remote,
        });
    }
    let text = std::fs::read_to_string(root.join("package.json")).ok()?;
    let name = sanitize(&package_name_from_json(&text)?)?;
    Some(Identity {
        name,
        source: Source::Package,
    })
}

/// The URL of the remote `origin`, from the git config of the checkout at `root`.
fn origin_url(root: &Path) -> Option<String> {
    let config = std::fs::read_to_string(git_common_dir(root)?.join("config")).ok()?;
    remote_url(&config, "origin")
}

/// The directory holding the repository's shared config: `.git` itself, or for a worktree
/// or submodule (a `.git` file `gitdir: …`) the directory it points at, and from a
/// worktree's, the one its `commondir` names.
pub fn git_common_dir(root: &Path) -> Option<PathBuf> {
    let dot_git = root.join(".git");
    let git_dir = if dot_git.is_dir() {
        dot_git
    } else {
        let text = std::fs::read_to_string(&dot_git).ok()?;
        let target = text.lines().find_map(|l| l.strip_prefix("gitdir:"))?.trim();
        root.join(target)
    };
    match std::fs::read_to_string(git_dir.join("commondir")) {
        Ok(common) => Some(git_dir.join(common.trim())),
        Err(_) => Some(git_dir),
    }
}

/// `remote.<name>.url` from a git config text: `[remote "origin"]` (or the old
/// `[remote.origin]`), its `url = …` (keys are case-insensitive, values may be quoted, `#`
/// and `;` start comments). The last one wins, as in git.
pub fn remote_url(config: &str, name: &str) -> Option<String> {
    let mut in_section = false;
    let mut url = None;
    for line in config.lines() {
        let line = line.trim();
        if let Some(header) = line.strip_prefix('[') {
            let header = header.split(']').next().unwrap_or_default().trim();
            in_section = match header.split_once(char::is_whitespace) {
                Some((section, sub)) => {
                    section.eq_ignore_ascii_case("remote") && sub.trim().trim_matches('"') == name
                }
                None => header.eq_ignore_ascii_case(&format!("remote.{name}")),
            };
            continue;
        }
        if !in_section {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.trim().eq_ignore_ascii_case("url") {
            url = Some(config_value(value.trim()));
        }
    }
    url.filter(|u| !u.is_empty())
}

/// A git config value: quotes removed, a comment outside them dropped, `\"` and `\\` undone.
fn config_value(raw: &str) -> String {
    let mut out = String::new();
    let (mut quoted, mut chars) = (false, raw.chars());
    while let Some(c) = chars.next() {
        match c {
            '"' => quoted = !quoted,
            '\\' => out.extend(chars.next()),
            '#' | ';' if !quoted => break,
            _ => out.push(c),
        }
    }
    out.trim().to_string()
}

/// `host/path` of a remote URL, lowercased, without user, port, scheme or `.git`:
/// `https://github.com/Acme/API.git`, `git@github.com:acme/api` and
/// `ssh://git@github.com:22/acme/api.git/` are all `github.com/acme/api`. A local path is
/// no identity (it names a directory on one machine, not a repository).
pub fn normalise_remote(url: &str) -> Option<String> {
    let url = url.trim();
    let (host_part, path) = if let Some((scheme, rest)) = url.split_once("://") {
        if scheme.eq_ignore_ascii_case("file") {
            return None;
        }
        rest.split_once('/')?
    } else {
        // scp-like `[user@]host:path`; a `/` before the `:` makes it a local path.
        let (host, path) = url.split_once(':')?;
        if host.contains('/') || host.is_empty() {
            return None;
        }
        (host, path)
    };
    let host = host_part.rsplit('@').next().unwrap_or(host_part);
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    };
    let path = path.trim_matches('/');
    let path = path
        .strip_suffix(".git")
        .unwrap_or(path)
        .trim_end_matches('/');
    let path = path.trim_start_matches('~');
    if host.is_empty() || path.is_empty() {
        return None;
    }
    Some(format!("{host}/{path}").to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn https_and_ssh_forms_of_one_repository_are_one_identity() {
        for url in [
            "https://github.com/Acme/API.git",
            "https://github.com/acme/api",
            "https://user:token@github.com/acme/api.git/",
            "http://github.com/acme/api/",
            "git@github.com:acme/api.git",
            "github.com:acme/api",
            "ssh://git@github.com/acme/api.git",
            "ssh://git@github.com:22/acme/api",
            "git+ssh://git@github.com/acme/api",
            "git://github.com/acme/api.git",
        ] {
            assert_eq!(
                normalise_remote(url).as_deref(),
                Some("github.com/acme/api"),
                "{url}"
            );
        }
        assert_eq!(
            normalise_remote("https://gitlab.com/group/sub/proj.git").as_deref(),
            Some("gitlab.com/group/sub/proj")
        );
        assert_ne!(
            normalise_remote("git@github.com:acme/api.git"),
            normalise_remote("git@github.com:acme/web.git")
        );
        for local in [
            "/srv/git/api.git",
            "../api",
            "file:///srv/api.git",
            "",
            "x:",
        ] {
            assert_eq!(normalise_remote(local), None, "{local}");
        }
    }

    #[test]
    fn the_origin_url_is_read_from_a_git_config_text() {
        let config = "[core]\n\tbare = false\n[remote \"upstream\"]\n\turl = git@x:u/v\n\
                      [remote \"origin\"]\n\tURL = \"git@github.com:acme/api.git\" ; a comment\n\
                      \tfetch = +refs/heads/*:refs/remotes/origin/*\n[branch \"main\"]\n\tremote = origin\n";
        assert_eq!(
            remote_url(config, "origin").as_deref(),
            Some("git@github.com:acme/api.git")
        );
        assert_eq!(remote_url(config, "upstream").as_deref(), Some("git@x:u/v"));
        assert_eq!(
            remote_url("[remote.origin]\nurl = https://h/a/b\n", "origin").as_deref(),
            Some("https://h/a/b")
        );
        assert_eq!(remote_url("[core]\nurl = x\n", "origin"), None);
    }

    fn repo_with(config: &str) -> (tempfile::TempDir, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("src");
        fs::create_dir_all(root.join(".git")).unwrap();
        fs::write(root.join(".git/config"), config).unwrap();
        (tmp, root)
    }

    fn none(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn two_checkouts_named_alike_with_different_origins_are_two_owners() {
        let (_a, a) = repo_with("[remote \"origin\"]\n\turl = https://github.com/acme/api.git\n");
        let (_b, b) = repo_with("[remote \"origin\"]\n\turl = git@github.com:acme/web.git\n");
        let (ia, ib) = (
            identity(&a, None, &none).unwrap(),
            identity(&b, None, &none).unwrap(),
        );
        assert_eq!(a.file_name(), b.file_name());
        assert_eq!(ia.source, Source::Remote);
        assert_eq!(ia.name, "github.com/acme/api");
        assert_ne!(ia.mark(), ib.mark());
        assert!(
            ia.mark().starts_with("github-com-acme-api-"),
            "{}",
            ia.mark()
        );
    }

    #[test]
    fn the_flag_then_the_variable_then_origin_then_package_json_then_nothing() {
        let (_t, root) = repo_with("[remote \"origin\"]\n\turl = https://github.com/acme/api\n");
        fs::write(root.join("package.json"), r#"{"name":"@acme/pkg"}"#).unwrap();
        let var = |k: &str| (k == "SECRETS_SYNC_REPO").then(|| "from-env".to_string());
        let flag = identity(&root, Some("my repo"), &var).unwrap();
        assert_eq!((flag.name.as_str(), flag.source), ("myrepo", Source::Given));
        assert_eq!(flag.mark(), "myrepo", "spelt as earlier versions spelt it");
        assert_eq!(identity(&root, Some(""), &var).unwrap().name, "from-env");
        assert_eq!(identity(&root, None, &none).unwrap().source, Source::Remote);
        fs::write(root.join(".git/config"), "[core]\n").unwrap();
        let pkg = identity(&root, None, &none).unwrap();
        assert_eq!((pkg.name.as_str(), pkg.source), ("pkg", Source::Package));
        fs::remove_file(root.join("package.json")).unwrap();
        assert_eq!(
            identity(&root, None, &none),
            None,
            "a folder name is no identity"
        );
    }

    #[test]
    fn worktrees_and_submodules_find_the_config_through_their_git_file() {
        let (_t, main) = repo_with("[remote \"origin\"]\n\turl = https://github.com/acme/api\n");
        let wt_git = main.join(".git/worktrees/wt");
        fs::create_dir_all(&wt_git).unwrap();
        fs::write(wt_git.join("commondir"), "../..\n").unwrap();
        let wt = main.parent().unwrap().join("wt");
        fs::create_dir_all(&wt).unwrap();
        fs::write(wt.join(".git"), format!("gitdir: {}\n", wt_git.display())).unwrap();
        assert_eq!(
            identity(&wt, None, &none).map(|i| i.name).as_deref(),
            Some("github.com/acme/api")
        );
        // A submodule: a relative gitdir, no commondir.
        let sub_git = main.join(".git/modules/lib");
        fs::create_dir_all(&sub_git).unwrap();
        fs::write(
            sub_git.join("config"),
            "[remote \"origin\"]\n\turl = git@github.com:acme/lib.git\n",
        )
        .unwrap();
        let sub = main.join("lib");
        fs::create_dir_all(&sub).unwrap();
        fs::write(sub.join(".git"), "gitdir: ../.git/modules/lib\n").unwrap();
        assert_eq!(
            identity(&sub, None, &none).map(|i| i.name).as_deref(),
            Some("github.com/acme/lib")
        );
    }
}
