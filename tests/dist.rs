//! The release tarball, as a user gets it: `scripts/dist` runs (only with
//! `VSYNC_TEST_DIST=1`: it builds an LTO release binary, about half a minute), then the test
//! unpacks what it made and checks the file list, the checksums, static linking, that the
//! binary runs `--version` under `env -i`, that a second run gives the same bytes, and that
//! the README's install steps (```` ```sh install ````) work on it.

mod readme;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Fixed, so the tarball and the man page date are known (2026-01-01).
const EPOCH: &str = "1767225600";

fn enabled() -> bool {
    if std::env::var("VSYNC_TEST_DIST").as_deref() == Ok("1") {
        return true;
    }
    println!("SKIP: set VSYNC_TEST_DIST=1 to build and check the release tarball (scripts/dist)");
    false
}

/// What `scripts/dist` made: `dist/<name>.tar.gz` and `dist/SHA256SUMS`.
struct Dist {
    dir: PathBuf,
    name: String,
    stdout: String,
}

impl Dist {
    fn tarball(&self) -> PathBuf {
        self.dir.join(format!("{}.tar.gz", self.name))
    }
}

fn run_dist() -> (bool, String) {
    let out = Command::new("bash")
        .arg("scripts/dist")
        .current_dir(readme::root())
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .output()
        .expect("running scripts/dist");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Runs `scripts/dist` once for all tests of this file.
fn dist() -> &'static Dist {
    static DIST: OnceLock<Result<Dist, String>> = OnceLock::new();
    let made = DIST.get_or_init(|| {
        let (ok, stdout) = run_dist();
        if !ok {
            return Err(format!("scripts/dist failed:\n{stdout}"));
        }
        let prefix = format!("dist: made dist/vsync-{VERSION}-");
        let name = stdout
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|rest| rest.split(".tar.gz").next())
            .map(|target| format!("vsync-{VERSION}-{target}"))
            .ok_or_else(|| format!("scripts/dist did not say which tarball it made:\n{stdout}"))?;
        Ok(Dist {
            dir: readme::root().join("dist"),
            name,
            stdout,
        })
    });
    match made {
        Ok(dist) => dist,
        Err(why) => panic!("{why}"),
    }
}

fn sh(program: &str, args: &[&str], cwd: &Path) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap_or_else(|e| panic!("running {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn unpack(dist: &Dist) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let tarball = dist.tarball();
    sh(
        "tar",
        &[
            "-xzf",
            tarball.to_str().unwrap(),
            "-C",
            tmp.path().to_str().unwrap(),
        ],
        tmp.path(),
    );
    let top = tmp.path().join(&dist.name);
    (tmp, top)
}

#[test]
fn the_tarball_is_named_for_the_version_and_a_static_linux_target() {
    if !enabled() {
        return;
    }
    let dist = dist();
    let target = dist
        .name
        .strip_prefix(&format!("vsync-{VERSION}-"))
        .unwrap();
    assert!(
        target.ends_with("-linux-musl") || target.ends_with("-linux-gnu"),
        "{}",
        dist.name
    );
}

#[test]
fn the_tarball_holds_one_folder_with_the_binary_man_page_and_docs() {
    if !enabled() {
        return;
    }
    let dist = dist();
    let listed = sh(
        "tar",
        &["-tzf", dist.tarball().to_str().unwrap()],
        &dist.dir,
    );
    let mut entries: Vec<&str> = listed.lines().collect();
    entries.sort_unstable();
    let n = &dist.name;
    assert_eq!(
        entries,
        [
            format!("{n}/"),
            format!("{n}/CHANGELOG.md"),
            format!("{n}/LICENSE"),
            format!("{n}/README.md"),
            format!("{n}/vsync"),
            format!("{n}/vsync.1"),
        ]
    );
    let (_tmp, top) = unpack(dist);
    for doc in ["README.md", "LICENSE", "CHANGELOG.md"] {
        assert_eq!(
            std::fs::read(top.join(doc)).unwrap(),
            std::fs::read(readme::root().join(doc)).unwrap(),
            "{doc} in the tarball differs from the repo's"
        );
    }
    let changelog = std::fs::read_to_string(top.join("CHANGELOG.md")).unwrap();
    assert!(
        changelog.contains(&format!("## [{VERSION}]")),
        "CHANGELOG.md has no entry for {VERSION}"
    );
    let man = sh(
        "python3",
        &["scripts/man", "-"],
        &readme::root(), // SOURCE_DATE_EPOCH unset here: compare all but the .TH date
    );
    let page = std::fs::read_to_string(top.join("vsync.1")).unwrap();
    let without_th = |t: &str| -> String {
        t.lines()
            .filter(|l| !l.starts_with(".TH "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        without_th(&page),
        without_th(&man),
        "vsync.1 is not scripts/man's output"
    );
    assert!(page.contains(&format!(".TH VSYNC 1 2026-01-01 \"vsync {VERSION}\"")));
}

#[test]
fn sha256sums_verifies_and_names_the_tarball() {
    if !enabled() {
        return;
    }
    let dist = dist();
    let sums = std::fs::read_to_string(dist.dir.join("SHA256SUMS")).unwrap();
    let file = format!("{}.tar.gz", dist.name);
    let digest = sh("sha256sum", &[&file], &dist.dir);
    assert!(
        sums.lines().any(|l| l == digest.trim_end()),
        "{sums}\n{digest}"
    );
    sh(
        "sha256sum",
        &["--check", "--strict", "SHA256SUMS"],
        &dist.dir,
    );
}

#[test]
fn the_unpacked_binary_is_static_stripped_and_runs_under_env_i() {
    if !enabled() {
        return;
    }
    let dist = dist();
    let (_tmp, top) = unpack(dist);
    let bin = top.join("vsync");
    let file = Command::new("file").arg("-b").arg(&bin).output();
    match file {
        Ok(out) if out.status.success() => {
            let what = String::from_utf8_lossy(&out.stdout);
            assert!(
                what.contains("statically linked") || what.contains("static-pie linked"),
                "not static: {what}"
            );
            assert!(what.contains(", stripped"), "not stripped: {what}");
        }
        _ => {
            let out = Command::new("ldd").arg(&bin).output().expect("file or ldd");
            let what = String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr);
            assert!(
                what.contains("not a dynamic executable") || what.contains("statically linked"),
                "ldd: {what}"
            );
        }
    }
    let version = sh("env", &["-i", "./vsync", "--version"], &top);
    assert_eq!(version, format!("vsync {VERSION}\n"));
    let help = sh("env", &["-i", "./vsync", "--help"], &top);
    assert_eq!(
        help,
        include_str!("../src/usage.txt").trim_end().to_string() + "\n"
    );
}

#[test]
fn a_second_run_makes_the_same_bytes() {
    if !enabled() {
        return;
    }
    let dist = dist();
    let first = std::fs::read_to_string(dist.dir.join("SHA256SUMS")).unwrap();
    let (ok, out) = run_dist();
    assert!(ok, "the second scripts/dist failed:\n{out}");
    let second = std::fs::read_to_string(dist.dir.join("SHA256SUMS")).unwrap();
    assert_eq!(first, second, "scripts/dist is not reproducible");
    assert!(dist.stdout.contains("dist: made dist/SHA256SUMS"));
}

#[test]
fn the_readme_install_steps_work_on_the_tarball() {
    if !enabled() {
        return;
    }
    let Some(blocks) = readme::tagged_blocks_or_skip("install") else {
        return;
    };
    let dist = dist();
    for block in blocks {
        // Never let a test install into the real /usr/local.
        assert!(
            block.script.contains("PREFIX"),
            "README.md line {}: the install block must install under ${{PREFIX:-/usr/local}} \
             so this test can point it at a temp dir:\n{}",
            block.line,
            block.script
        );
        let downloads = tempfile::tempdir().unwrap();
        for file in [format!("{}.tar.gz", dist.name), "SHA256SUMS".to_string()] {
            std::fs::copy(dist.dir.join(&file), downloads.path().join(&file)).unwrap();
        }
        let prefix = downloads.path().join("prefix");
        let ran = readme::run_script(
            &block.script,
            downloads.path(),
            &[("PREFIX", prefix.to_str().unwrap())],
            Duration::from_secs(120),
        );
        assert!(
            ran.status.success(),
            "README.md line {}: the install block failed:\n{}\n{}",
            block.line,
            block.script,
            ran.describe()
        );
        let installed = prefix.join("bin/vsync");
        assert!(
            installed.is_file(),
            "the install block did not install {installed:?}"
        );
        let version = sh(
            installed.to_str().unwrap(),
            &["--version"],
            downloads.path(),
        );
        assert_eq!(version, format!("vsync {VERSION}\n"));
    }
}
