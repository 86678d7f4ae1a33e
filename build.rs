//! Stamps the binary with what `vsync --version` names besides the version: the target
//! triple (`VSYNC_TARGET`) and the commit it was built from (`VSYNC_COMMIT`).
//!
//! The commit is `$VSYNC_COMMIT` if set (a build from a source tarball has no `.git`), else
//! `git rev-parse --short=12 HEAD`, else `unknown`. Nothing else is read — no clock, no host
//! name, no path — so the same sources at the same commit build the same bytes.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=VSYNC_COMMIT");
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".into());
    let commit = match std::env::var("VSYNC_COMMIT") {
        Ok(c) if !c.trim().is_empty() => c.trim().to_string(),
        _ => git_commit().unwrap_or_else(|| "unknown".into()),
    };
    println!("cargo:rustc-env=VSYNC_TARGET={target}");
    println!("cargo:rustc-env=VSYNC_COMMIT={commit}");
}

/// HEAD's short hash; asks cargo to run this again when HEAD moves.
fn git_commit() -> Option<String> {
    let out = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()?;
    let hash = String::from_utf8(out.stdout).ok()?.trim().to_string();
    if !out.status.success() || hash.is_empty() || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    watch_head();
    Some(hash)
}

/// A commit changes HEAD (detached) or the branch's ref (loose, or packed by `git gc`).
/// Only files that exist are watched: a missing one would make cargo rerun this every build.
fn watch_head() {
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git").args(args).output().ok()?;
        let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
        (out.status.success() && !s.is_empty()).then_some(s)
    };
    let mut files = Vec::new();
    if let Some(head) = git(&["rev-parse", "--git-path", "HEAD"]) {
        files.push(head);
    }
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        if let Some(loose) = git(&["rev-parse", "--git-path", &branch]) {
            files.push(loose);
        }
    }
    if let Some(packed) = git(&["rev-parse", "--git-path", "packed-refs"]) {
        files.push(packed);
    }
    for file in files {
        if Path::new(&file).exists() {
            println!("cargo:rerun-if-changed={file}");
        }
    }
}
