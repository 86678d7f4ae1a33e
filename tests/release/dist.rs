//! The release, as a user gets it: `scripts/dist` runs (only with `VSYNC_TEST_DIST=1`: it
//! builds two LTO release binaries, x86_64 and aarch64 musl), then the tests unpack what it
//! made and check the file lists, the checksums, that each binary is static, stripped and of
//! its architecture, that it runs `--version` and `--help` under `env -i` (the aarch64 one
//! under `qemu-aarch64-static`), that a fresh build of a copy of the sources elsewhere gives
//! the same bytes, that the whole demo passes with aarch64 builds of vsync and of the fake
//! vendor CLIs under qemu, and that the README's install steps (```` ```sh install ````) work.
//! Without qemu-aarch64-static (Debian's qemu-user-static) the aarch64 runs print `SKIP:` —
//! unless `CI` is set, where they must run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Fixed, so the tarball and the man page date are known (2026-01-01).
const EPOCH: &str = "1767225600";
const TARGETS: [&str; 2] = ["x86_64-unknown-linux-musl", "aarch64-unknown-linux-musl"];
const AARCH64: &str = "aarch64-unknown-linux-musl";

fn enabled() -> bool {
    if std::env::var("VSYNC_TEST_DIST").as_deref() == Ok("1") {
        return true;
    }
    println!("SKIP: set VSYNC_TEST_DIST=1 to build and check the release tarballs (scripts/dist)");
    false
}

fn name(target: &str) -> String {
    format!("vsync-{VERSION}-{target}")
}

/// The release target this machine runs natively.
fn host_target() -> &'static str {
    TARGETS
        .into_iter()
        .find(|t| t.starts_with(&format!("{}-", std::env::consts::ARCH)))
        .expect("scripts/dist runs on x86_64 or aarch64 only")
}

/// The commit `--version` names: what scripts/dist uses, VSYNC_COMMIT or git's HEAD.
fn commit() -> String {
    if let Some(c) = std::env::var("VSYNC_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
    {
        return c.trim().to_string();
    }
    let out = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(crate::readme::root())
        .output();
    match out {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().into(),
        _ => "unknown".into(),
    }
}

/// `qemu-aarch64-static`, or None (a SKIP) when it is missing and `CI` is unset.
fn qemu() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("qemu-aarch64-static"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        let why = "qemu-aarch64-static is not installed (apt-get install qemu-user-static)";
        if std::env::var_os("CI").is_some() {
            panic!("CI is set, so the aarch64 build must be run, but {why}");
        }
        println!("SKIP: {why}");
    }
    found
}

/// What `scripts/dist` made: `dist/<name>.tar.gz` per target and `dist/SHA256SUMS`.
struct Dist {
    dir: PathBuf,
}

impl Dist {
    fn tarball(&self, target: &str) -> PathBuf {
        self.dir.join(format!("{}.tar.gz", name(target)))
    }
}

fn run_dist(root: &Path, env: &[(&str, &str)]) -> (bool, String) {
    let out = Command::new("bash")
        .arg("scripts/dist")
        .current_dir(root)
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .envs(env.iter().copied())
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
        let (ok, stdout) = run_dist(&crate::readme::root(), &[]);
        if !ok {
            return Err(format!("scripts/dist failed:\n{stdout}"));
        }
        for target in TARGETS {
            let said = format!("dist: made dist/{}.tar.gz (", name(target));
            if !stdout.lines().any(|l| l.starts_with(&said)) {
                return Err(format!(
                    "scripts/dist did not say it made {target}:\n{stdout}"
                ));
            }
        }
        if !stdout.contains("dist: made dist/SHA256SUMS") {
            return Err(format!("scripts/dist did not make SHA256SUMS:\n{stdout}"));
        }
        Ok(Dist {
            dir: crate::readme::root().join("dist"),
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
        "{program} {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn unpack(dist: &Dist, target: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let tarball = dist.tarball(target);
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
    let top = tmp.path().join(name(target));
    (tmp, top)
}

/// Runs `./vsync ARGS` in `top` under `env -i`: natively, or for aarch64 under `qemu`.
fn run_unpacked(top: &Path, target: &str, qemu: Option<&Path>, args: &[&str]) -> String {
    let mut argv: Vec<&str> = vec!["-i"];
    if target != host_target() {
        argv.push(qemu.expect("qemu for a foreign target").to_str().unwrap());
    }
    argv.push("./vsync");
    argv.extend_from_slice(args);
    sh("env", &argv, top)
}

#[test]
fn both_tarballs_are_made_and_sha256sums_lists_exactly_them() {
    if !enabled() {
        return;
    }
    let dist = dist();
    let sums = std::fs::read_to_string(dist.dir.join("SHA256SUMS")).unwrap();
    let mut expected = Vec::new();
    for target in TARGETS {
        let file = format!("{}.tar.gz", name(target));
        expected.push(sh("sha256sum", &[&file], &dist.dir).trim_end().to_string());
    }
    assert_eq!(sums.lines().collect::<Vec<_>>(), expected, "{sums}");
    sh(
        "sha256sum",
        &["--check", "--strict", "SHA256SUMS"],
        &dist.dir,
    );
}

#[test]
fn each_tarball_holds_one_folder_with_the_binary_man_page_completions_and_docs() {
    if !enabled() {
        return;
    }
    let dist = dist();
    let man = sh(
        "python3",
        &["scripts/man", "-"],
        &crate::readme::root(), // SOURCE_DATE_EPOCH unset here: compare all but the .TH date
    );
    let without_th = |t: &str| -> String {
        t.lines()
            .filter(|l| !l.starts_with(".TH "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    for target in TARGETS {
        let listed = sh(
            "tar",
            &["-tzf", dist.tarball(target).to_str().unwrap()],
            &dist.dir,
        );
        let mut entries: Vec<&str> = listed.lines().collect();
        entries.sort_unstable();
        let n = name(target);
        // The README links into docs/: every page ships, so the links work offline too.
        let pages = doc_pages();
        let mut expected: Vec<String> = [
            "",
            "CHANGELOG.md",
            "LICENSE",
            "README.md",
            "completions/",
            "completions/_vsync",
            "completions/vsync.bash",
            "completions/vsync.fish",
            "docs/",
            "vsync",
            "vsync.1",
        ]
        .iter()
        .map(|f| format!("{n}/{f}"))
        .chain(pages.iter().map(|p| format!("{n}/{p}")))
        .collect();
        expected.sort_unstable();
        assert_eq!(entries, expected);
        let (_tmp, top) = unpack(dist, target);
        let shipped = ["README.md", "LICENSE", "CHANGELOG.md"].map(String::from);
        for doc in shipped.iter().chain(&pages) {
            assert_eq!(
                std::fs::read(top.join(doc)).unwrap(),
                std::fs::read(crate::readme::root().join(doc)).unwrap(),
                "{doc} in the {target} tarball differs from the repo's"
            );
        }
        let changelog = std::fs::read_to_string(top.join("CHANGELOG.md")).unwrap();
        assert!(
            changelog.contains(&format!("## [{VERSION}]")),
            "CHANGELOG.md has no entry for {VERSION}"
        );
        let page = std::fs::read_to_string(top.join("vsync.1")).unwrap();
        assert_eq!(
            without_th(&page),
            without_th(&man),
            "vsync.1 is not scripts/man's output"
        );
        assert!(page.contains(&format!(".TH VSYNC 1 2026-01-01 \"vsync {VERSION}\"")));
        // The shipped completions are what `vsync completions <shell>` prints.
        for (shell, file) in [
            ("bash", "vsync.bash"),
            ("zsh", "_vsync"),
            ("fish", "vsync.fish"),
        ] {
            let printed = sh(
                env!("CARGO_BIN_EXE_vsync"),
                &["completions", shell],
                &dist.dir,
            );
            let shipped = std::fs::read_to_string(top.join("completions").join(file)).unwrap();
            assert_eq!(shipped, printed, "{target}: completions/{file}");
        }
    }
}

#[test]
fn each_binary_is_static_stripped_of_its_arch_and_runs_under_env_i() {
    if !enabled() {
        return;
    }
    let dist = dist();
    let qemu = qemu();
    for target in TARGETS {
        let (_tmp, top) = unpack(dist, target);
        let what = sh("file", &["-b", "vsync"], &top);
        assert!(
            what.contains("statically linked") || what.contains("static-pie linked"),
            "{target} not static: {what}"
        );
        assert!(what.contains(", stripped"), "{target} not stripped: {what}");
        let arch = if target == AARCH64 {
            "ARM aarch64"
        } else {
            "x86-64"
        };
        assert!(what.contains(arch), "{target} is not {arch}: {what}");

        if target != host_target() && qemu.is_none() {
            continue; // SKIP printed by qemu()
        }
        let version = run_unpacked(&top, target, qemu.as_deref(), &["--version"]);
        assert_eq!(
            version,
            format!("vsync {VERSION} ({target}, commit {})\n", commit())
        );
        let help = run_unpacked(&top, target, qemu.as_deref(), &["--help"]);
        // The same sources' help text, as the test build prints it.
        let built = std::process::Command::new(env!("CARGO_BIN_EXE_vsync"))
            .arg("--help")
            .output()
            .unwrap();
        assert_eq!(help, String::from_utf8(built.stdout).unwrap());
        let bash = run_unpacked(&top, target, qemu.as_deref(), &["completions", "bash"]);
        assert_eq!(
            bash,
            std::fs::read_to_string(top.join("completions/vsync.bash")).unwrap()
        );
    }
}

/// A copy of the sources as they are now (tracked and new files, not target/ or dist/).
fn copy_sources(to: &Path) {
    let root = crate::readme::root();
    let listed = sh(
        "git",
        &[
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ],
        &root,
    );
    for file in listed.split('\0').filter(|f| !f.is_empty()) {
        let from = root.join(file);
        if !from.is_file() {
            continue; // deleted in the work tree
        }
        let dest = to.join(file);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(&from, &dest).unwrap();
    }
}

#[test]
fn a_fresh_build_elsewhere_makes_the_same_bytes() {
    if !enabled() {
        return;
    }
    let dist = dist();
    let first = std::fs::read_to_string(dist.dir.join("SHA256SUMS")).unwrap();
    // Another checkout path and an empty target dir: every crate is compiled again.
    let elsewhere = tempfile::tempdir().unwrap();
    let src = elsewhere.path().join("src-copy");
    copy_sources(&src);
    let target_dir = elsewhere.path().join("target");
    let commit = commit();
    let (ok, out) = run_dist(
        &src,
        &[
            ("CARGO_TARGET_DIR", target_dir.to_str().unwrap()),
            ("VSYNC_COMMIT", &commit),
        ],
    );
    assert!(ok, "scripts/dist in a copy of the sources failed:\n{out}");
    let second = std::fs::read_to_string(src.join("dist/SHA256SUMS")).unwrap();
    assert_eq!(first, second, "scripts/dist is not reproducible:\n{out}");
}

/// The aarch64 fake vendor CLIs, cross-built like the release (rust-lld, .cargo/config.toml).
fn aarch64_fake_vendor() -> PathBuf {
    let root = crate::readme::root();
    sh(
        "cargo",
        &[
            "build",
            "--quiet",
            "--locked",
            "--example",
            "fake_vendor",
            "--target",
            AARCH64,
        ],
        &root,
    );
    let meta = sh(
        "cargo",
        &["metadata", "--format-version", "1", "--no-deps"],
        &root,
    );
    let key = "\"target_directory\":\"";
    let start = meta.find(key).expect("target_directory") + key.len();
    let end = start + meta[start..].find('"').unwrap();
    PathBuf::from(&meta[start..end]).join(format!("{AARCH64}/debug/examples/fake_vendor"))
}

fn write_wrapper(path: &Path, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn the_demo_passes_with_aarch64_vsync_and_fakes_under_qemu() {
    if !enabled() {
        return;
    }
    let dist = dist();
    let Some(qemu) = qemu() else { return };
    let (_tmp, top) = unpack(dist, AARCH64);
    let fake = aarch64_fake_vendor();
    for bin in [top.join("vsync"), fake.clone()] {
        let what = sh("file", &["-b", bin.to_str().unwrap()], &top);
        assert!(what.contains("ARM aarch64"), "{bin:?}: {what}");
    }
    // binfmt_misc may not be registered: the emulator is named in wrapper scripts. The fake
    // picks its vendor from argv[0], which `-0` passes through (the demo links gh, aws, …
    // to the wrapper).
    let wrappers = tempfile::tempdir().unwrap();
    let q = qemu.display();
    let vsync = wrappers.path().join("vsync");
    write_wrapper(
        &vsync,
        &format!("exec '{q}' '{}' \"$@\"", top.join("vsync").display()),
    );
    let fake_wrapper = wrappers.path().join("fake_vendor");
    write_wrapper(
        &fake_wrapper,
        &format!("exec '{q}' -0 \"$0\" '{}' \"$@\"", fake.display()),
    );
    let out = Command::new("bash")
        .arg("fixtures/demo/run.sh")
        .current_dir(crate::readme::root())
        .env("VSYNC_DEMO_VSYNC", &vsync)
        .env("VSYNC_DEMO_FAKE", &fake_wrapper)
        .env("NO_COLOR", "1")
        .output()
        .expect("running the demo");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the demo failed under qemu:\n{text}");
    assert!(
        !text.contains("== Building"),
        "the demo built host binaries:\n{text}"
    );
    for needle in [
        "$ vsync sync dev gh --gh-repo=acme/demo",
        "$ vsync sync dev azure --azure-vault=acme-demo-kv --azure-names=dashes",
        "$ vsync sync dev vault",
        "vendor calls logged:",
        "secrets stored, no value in any argv.",
    ] {
        assert!(
            text.contains(needle),
            "{needle:?} not in the demo's output:\n{text}"
        );
    }
}

#[test]
fn the_readme_install_steps_work_on_the_tarball() {
    if !enabled() {
        return;
    }
    let Some(blocks) = crate::readme::tagged_blocks_or_skip("install") else {
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
        // The download a user picks by `uname -m`: this machine's.
        for file in [
            format!("{}.tar.gz", name(host_target())),
            "SHA256SUMS".to_string(),
        ] {
            std::fs::copy(dist.dir.join(&file), downloads.path().join(&file)).unwrap();
        }
        let prefix = downloads.path().join("prefix");
        let ran = crate::readme::run_script(
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
        assert_eq!(
            version,
            format!("vsync {VERSION} ({}, commit {})\n", host_target(), commit())
        );
    }
}

/// `docs/NAME.md` for every page of the repo's docs/, sorted.
fn doc_pages() -> Vec<String> {
    let mut pages: Vec<String> = std::fs::read_dir(crate::readme::root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|f| f.ends_with(".md"))
        .map(|f| format!("docs/{f}"))
        .collect();
    pages.sort_unstable();
    assert!(!pages.is_empty(), "docs/ holds no pages");
    pages
}
