//! The integration-test harness: a small owned builder in the style of `just`'s tests.
//!
//! `Test::new()` lays out, in a fresh temp dir:
//! * `repo/` — the fake repository (a `.git` directory) and the working directory of every run;
//! * `home/` — `HOME`, with `XDG_CONFIG_HOME=home/.config` (so the config lands there);
//! * `bin/` — symlinks `gh gcloud aws az vault` → the `fake_vendor` example binary
//!   (`fixtures/fake_vendor.rs`, which documents its contract: store layout, call log, knobs);
//! * `fake/` — `VSYNC_FAKE_DIR`, the fakes' state.
//!
//! Files are added with `.env_file(env, text)` / `.file(path, bytes)`, the command line with
//! `.args([...])`, extra variables (the fakes' `FAKE_*` knobs) with `.env(k, v)`. `.run()` runs
//! the real `vsync` binary with a **cleared** environment plus `PATH=<tmp>/bin:/usr/bin:/bin`,
//! `HOME`, `XDG_CONFIG_HOME`, `VSYNC_FAKE_DIR` and `LANG=C.UTF-8`, stdin a pipe (never a TTY),
//! and returns an [`Output`] to assert on. `run` consumes the arguments and stdin, not the
//! files, variables or fake state, so a test can run vsync again in the same place.
//!
//! The fakes' state is read back with [`Test::calls`], [`Test::stored`], [`Test::versions`]
//! and [`Test::vault_doc`]; [`Test::vendor`] runs one fake directly (to seed state, or to test
//! the fakes themselves).
//!
//! The fake binary is found beside the test executable (`target/debug/deps/<test>` →
//! `target/debug/examples/fake_vendor`); `cargo test` builds it, `cargo test --test e2e` does
//! not — then run `cargo build --example fake_vendor` first.

#![allow(dead_code)] // every test crate uses a different part of the harness

use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::Duration;
use tempfile::TempDir;
use wait_timeout::ChildExt;

/// The vendor CLIs the fake answers to.
pub const VENDORS: [&str; 5] = ["gh", "gcloud", "aws", "az", "vault"];

/// A run that takes longer than this is killed and the test fails (instead of hanging CI).
const RUN_LIMIT: Duration = Duration::from_secs(120);

pub struct Test {
    tmp: TempDir,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    stdin: Vec<u8>,
    cwd: PathBuf,
    path: String,
}

/// Every process a test starts inherits the test's RLIMIT_CORE, so setting it to 0 once
/// means nothing a test signals (vsync, a fake, a shell, a `sleep` a wrapper left behind)
/// can write a core file, in the tree or in a temp dir: a core of vsync or a fake holds
/// values. The tests of vsync's own protection raise the limit for vsync alone.
pub fn forbid_core_files() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: getrlimit(2)/setrlimit(2) on a struct we own. Only the soft limit is
        // lowered, so a test may still raise it for a child.
        unsafe {
            let mut limit: libc::rlimit = std::mem::zeroed();
            if libc::getrlimit(libc::RLIMIT_CORE, &mut limit) == 0 {
                limit.rlim_cur = 0;
                libc::setrlimit(libc::RLIMIT_CORE, &limit);
            }
        }
    });
}

impl Test {
    pub fn new() -> Test {
        forbid_core_files();
        let tmp = tempfile::Builder::new()
            .prefix("vsync-test-")
            .tempdir()
            .expect("creating the temp dir");
        let base = tmp.path().to_path_buf();
        for dir in ["repo/.git", "home/.config", "bin", "fake"] {
            fs::create_dir_all(base.join(dir)).expect("creating the test layout");
        }
        // A repository with a remote: what tells it apart as the owner of what it syncs.
        fs::write(
            base.join("repo/.git/config"),
            "[remote \"origin\"]\n\turl = https://github.com/acme/api.git\n",
        )
        .expect("writing the test repository's git config");
        let fake = fake_vendor_path();
        for name in VENDORS {
            std::os::unix::fs::symlink(&fake, base.join("bin").join(name))
                .expect("linking a fake vendor CLI");
        }
        Test {
            cwd: base.join("repo"),
            path: format!("{}:/usr/bin:/bin", base.join("bin").display()),
            tmp,
            args: Vec::new(),
            env: Vec::new(),
            stdin: Vec::new(),
        }
    }

    // ----- building -------------------------------------------------------------------------

    /// Writes `infra/vault/<env lowercased>/.env.<env>` under the repo root.
    pub fn env_file(self, env: &str, text: &str) -> Test {
        let rel = format!("infra/vault/{}/.env.{env}", env.to_lowercase());
        self.file(&rel, text)
    }

    /// Writes a file relative to the repo root (absolute paths are used as they are).
    pub fn file(self, rel: &str, bytes: impl AsRef<[u8]>) -> Test {
        let path = self.root().join(rel);
        fs::create_dir_all(path.parent().unwrap()).expect("creating a parent dir");
        fs::write(&path, bytes).expect("writing a test file");
        self
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Test {
        self.args.push(arg.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Test
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets a variable for vsync (and so for the fakes it spawns) and for [`Test::vendor`].
    pub fn env(mut self, key: &str, value: &str) -> Test {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Removes one fake from `bin/`, and from `PATH` any system directory that holds a real
    /// binary of that name, so the CLI is really missing.
    pub fn without_fake(mut self, name: &str) -> Test {
        let _ = fs::remove_file(self.tmp.path().join("bin").join(name));
        self.path = self
            .path
            .split(':')
            .filter(|dir| {
                Path::new(dir).starts_with(self.tmp.path()) || !Path::new(dir).join(name).exists()
            })
            .collect::<Vec<_>>()
            .join(":");
        self
    }

    pub fn stdin(mut self, bytes: impl AsRef<[u8]>) -> Test {
        self.stdin = bytes.as_ref().to_vec();
        self
    }

    /// Runs vsync from this directory (relative to the repo root) instead of the root.
    pub fn current_dir(mut self, rel: &str) -> Test {
        self.cwd = self.root().join(rel);
        fs::create_dir_all(&self.cwd).expect("creating the working dir");
        self
    }

    // ----- places ---------------------------------------------------------------------------

    pub fn root(&self) -> PathBuf {
        self.tmp.path().join("repo")
    }

    pub fn home(&self) -> PathBuf {
        self.tmp.path().join("home")
    }

    pub fn fake_dir(&self) -> PathBuf {
        self.tmp.path().join("fake")
    }

    /// Where vsync keeps routing for `env` (repo name = the root's basename, `repo`).
    pub fn config_path(&self, env: &str) -> PathBuf {
        self.home()
            .join(".config/vsync/repo")
            .join(format!("env_{}", env.to_lowercase()))
    }

    // ----- running --------------------------------------------------------------------------

    fn base_env(&self) -> Vec<(OsString, OsString)> {
        let mut env: Vec<(OsString, OsString)> = vec![
            ("PATH".into(), self.path.clone().into()),
            ("HOME".into(), self.home().into()),
            ("XDG_CONFIG_HOME".into(), self.home().join(".config").into()),
            ("VSYNC_FAKE_DIR".into(), self.fake_dir().into()),
            ("LANG".into(), "C.UTF-8".into()),
        ];
        env.extend(self.env.iter().cloned());
        env
    }

    /// Runs vsync with the arguments and stdin given so far, then forgets them.
    pub fn run(&mut self) -> Output {
        let args = std::mem::take(&mut self.args);
        let stdin = std::mem::take(&mut self.stdin);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vsync"));
        cmd.args(&args).current_dir(&self.cwd);
        run_command(cmd, self.base_env(), stdin, "vsync", &args)
    }

    /// Runs vsync again in the same place with these arguments (files, variables and fake
    /// state kept).
    pub fn run_again<I, S>(&mut self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args = args.into_iter().map(Into::into).collect();
        self.run()
    }

    /// Runs one fake directly (`bin` is `gh`, `gcloud`, …) with the test's variables.
    pub fn vendor<I, S>(&self, bin: &str, args: I, stdin: impl AsRef<[u8]>) -> Output
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let mut cmd = Command::new(self.tmp.path().join("bin").join(bin));
        cmd.args(&args).current_dir(&self.cwd);
        run_command(cmd, self.base_env(), stdin.as_ref().to_vec(), bin, &args)
    }

    /// A `Command` for one fake with the test's environment, for tests that need to control
    /// the child themselves (e.g. kill a hanging one).
    pub fn vendor_command(&self, bin: &str) -> Command {
        let mut cmd = Command::new(self.tmp.path().join("bin").join(bin));
        cmd.env_clear().envs(self.base_env()).current_dir(&self.cwd);
        cmd
    }

    // ----- the fakes' state -----------------------------------------------------------------

    /// Every vendor call so far, in log order.
    pub fn calls(&self) -> Vec<Call> {
        let Ok(text) = fs::read_to_string(self.fake_dir().join("calls.jsonl")) else {
            return Vec::new();
        };
        text.lines()
            .map(|line| {
                let v: Value = serde_json::from_str(line).expect("a calls.jsonl line is JSON");
                Call {
                    bin: v["bin"].as_str().unwrap_or_default().to_string(),
                    argv: v["argv"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .map(|s| s.as_str().unwrap_or_default().to_string())
                                .collect()
                        })
                        .unwrap_or_default(),
                    stdin: base64_decode(v["stdin_b64"].as_str().unwrap_or_default()),
                    stdin_read: v["stdin_read"].as_bool().unwrap_or(false),
                    env: v["env"]
                        .as_object()
                        .map(|m| {
                            m.iter()
                                .map(|(k, v)| {
                                    (k.clone(), v.as_str().unwrap_or_default().to_string())
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                    exit: v["exit"].as_i64().map(|c| c as i32),
                    start_ms: v["start_ms"].as_u64().unwrap_or(0),
                    end_ms: v["end_ms"].as_u64().unwrap_or(0),
                }
            })
            .collect()
    }

    /// The calls of one vendor binary.
    pub fn calls_of(&self, bin: &str) -> Vec<Call> {
        self.calls().into_iter().filter(|c| c.bin == bin).collect()
    }

    fn secret_dir(&self, service: &str, scope: &str, name: &str) -> PathBuf {
        self.fake_dir()
            .join("store")
            .join(service)
            .join(scope)
            .join(escape(name))
    }

    /// Every stored version of a secret, oldest first (empty if it does not exist).
    /// `service`/`scope`: `gh`/[`gh_scope`], `gcp`/project, `aws`/region, `azure`/vault;
    /// `name` as the service stores it (gh: upper-case; aws: with the prefix).
    pub fn versions(&self, service: &str, scope: &str, name: &str) -> Vec<Vec<u8>> {
        let dir = self.secret_dir(service, scope, name);
        let mut numbers: Vec<u32> = fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.strip_prefix('v')?.parse().ok())
            .collect();
        numbers.sort_unstable();
        numbers
            .into_iter()
            .map(|n| fs::read(dir.join(format!("v{n}"))).expect("reading a stored version"))
            .collect()
    }

    /// The latest stored version of a secret.
    pub fn stored(&self, service: &str, scope: &str, name: &str) -> Option<Vec<u8>> {
        self.versions(service, scope, name).pop()
    }

    /// Whether the secret exists (it may have no version).
    pub fn exists(&self, service: &str, scope: &str, name: &str) -> bool {
        self.secret_dir(service, scope, name).is_dir()
    }

    /// The names stored under one scope, sorted.
    pub fn secret_names(&self, service: &str, scope: &str) -> Vec<String> {
        self.names_in("store", service, scope)
    }

    /// The names deleted recoverably under one scope (aws scheduled deletion, Key Vault soft
    /// delete), sorted.
    pub fn deleted_names(&self, service: &str, scope: &str) -> Vec<String> {
        self.names_in("deleted", service, scope)
    }

    fn names_in(&self, place: &str, service: &str, scope: &str) -> Vec<String> {
        let dir = self.fake_dir().join(place).join(service).join(scope);
        let mut names: Vec<String> = fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str().map(unescape))
            .collect();
        names.sort();
        names
    }

    /// The latest KV map written by `vault kv put` at `mount`/`path`.
    pub fn vault_doc(&self, mount: &str, path: &str) -> Option<Map<String, Value>> {
        self.vault_docs(mount, path).pop()
    }

    /// Every version of the KV map at `mount`/`path`, oldest first.
    pub fn vault_docs(&self, mount: &str, path: &str) -> Vec<Map<String, Value>> {
        self.versions("vault", mount, path)
            .into_iter()
            .map(|bytes| match serde_json::from_slice(&bytes) {
                Ok(Value::Object(map)) => map,
                other => panic!("a vault version is not a JSON object: {other:?}"),
            })
            .collect()
    }
}

/// The gh store scope of a repo and environment: `owner/name` + `dev` → `owner__name__dev`.
pub fn gh_scope(repo: &str, env: &str) -> String {
    format!("{}__{env}", repo.replace('/', "__"))
}

/// One logged vendor call.
#[derive(Debug, Clone)]
pub struct Call {
    pub bin: String,
    pub argv: Vec<String>,
    /// What the fake read from its stdin (empty when it read nothing).
    pub stdin: Vec<u8>,
    pub stdin_read: bool,
    pub env: BTreeMap<String, String>,
    /// `None` for a call that hung (it logs before sleeping).
    pub exit: Option<i32>,
    pub start_ms: u64,
    pub end_ms: u64,
}

impl Call {
    /// The argv as one string, for readable assertions.
    pub fn line(&self) -> String {
        format!("{} {}", self.bin, self.argv.join(" "))
    }

    pub fn stdin_str(&self) -> &str {
        std::str::from_utf8(&self.stdin).expect("stdin is UTF-8")
    }
}

/// What a run printed and how it ended.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    label: String,
}

impl Output {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    fn context(&self) -> String {
        format!(
            "{} exited with {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.label,
            self.status.code(),
            self.stdout,
            self.stderr
        )
    }

    #[track_caller]
    pub fn success(&self) -> &Output {
        assert_eq!(self.code(), Some(0), "expected success\n{}", self.context());
        self
    }

    #[track_caller]
    pub fn failure(&self, code: i32) -> &Output {
        assert_eq!(
            self.code(),
            Some(code),
            "expected exit {code}\n{}",
            self.context()
        );
        self
    }

    /// Exact stdout, with the run time of the result line (` in 2.3s`) replaced by ` in #.#s`.
    #[track_caller]
    pub fn stdout_is(&self, expected: &str) -> &Output {
        assert_eq!(
            normalize_time(&self.stdout),
            expected,
            "stdout differs\n{}",
            self.context()
        );
        self
    }

    /// Exact stderr, with run times normalised as in [`Output::stdout_is`].
    #[track_caller]
    pub fn stderr_is(&self, expected: &str) -> &Output {
        assert_eq!(
            normalize_time(&self.stderr),
            expected,
            "stderr differs\n{}",
            self.context()
        );
        self
    }

    #[track_caller]
    pub fn stdout_has(&self, needle: &str) -> &Output {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}\n{}",
            self.context()
        );
        self
    }

    #[track_caller]
    pub fn stderr_has(&self, needle: &str) -> &Output {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}\n{}",
            self.context()
        );
        self
    }

    #[track_caller]
    pub fn stdout_lacks(&self, needle: &str) -> &Output {
        assert!(
            !self.stdout.contains(needle),
            "stdout has {needle:?}\n{}",
            self.context()
        );
        self
    }

    #[track_caller]
    pub fn stderr_lacks(&self, needle: &str) -> &Output {
        assert!(
            !self.stderr.contains(needle),
            "stderr has {needle:?}\n{}",
            self.context()
        );
        self
    }

    /// stdout lines, run time normalised.
    pub fn stdout_lines(&self) -> Vec<String> {
        normalize_time(&self.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }
}

/// Replaces every ` in <digits>.<digit>s` with ` in #.#s`.
pub fn normalize_time(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(" in ") {
        out.push_str(&rest[..at + 4]);
        rest = &rest[at + 4..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let tail = &rest.as_bytes()[digits..];
        if digits > 0
            && tail.len() >= 3
            && tail[0] == b'.'
            && tail[1].is_ascii_digit()
            && tail[2] == b's'
        {
            out.push_str("#.#s");
            rest = &rest[digits + 3..];
        }
    }
    out.push_str(rest);
    out
}

fn run_command(
    mut cmd: Command,
    env: Vec<(OsString, OsString)>,
    stdin: Vec<u8>,
    what: &str,
    args: &[OsString],
) -> Output {
    let label = format!(
        "{what} {}",
        args.iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    );
    cmd.env_clear().envs(env);
    let out = run_bounded(cmd, &stdin, RUN_LIMIT);
    Output {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        label,
    }
}

/// `target/<profile>/deps/<test>` → `target/<profile>/examples/fake_vendor`.
pub fn fake_vendor_path() -> PathBuf {
    let exe = std::env::current_exe().expect("locating the test binary");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps");
    let fake = profile_dir.join("examples").join("fake_vendor");
    assert!(
        fake.is_file(),
        "the fake vendor CLI is not built at {}: run `cargo test` (it builds examples) or \
         `cargo build --example fake_vendor` first",
        fake.display()
    );
    fake
}

/// The fake's escaping of a name into one directory name (see `fixtures/fake_vendor.rs`).
pub fn escape(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for (i, c) in name.chars().enumerate() {
        match c {
            '%' => out.push_str("%25"),
            '/' => out.push_str("%2F"),
            '.' if i == 0 => out.push_str("%2E"),
            c => out.push(c),
        }
    }
    out
}

fn unescape(name: &str) -> String {
    name.replace("%2F", "/")
        .replace("%2E", ".")
        .replace("%25", "%")
}

/// Decodes base64, standard or URL-safe alphabet, padded or not; panics on anything else.
pub fn base64_decode(text: &str) -> Vec<u8> {
    fn value(c: u8) -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => panic!("not base64: {c:?}"),
        }
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    for chunk in text.as_bytes().chunks(4) {
        let data: Vec<u8> = chunk.iter().copied().filter(|&c| c != b'=').collect();
        let mut n = 0u32;
        for (i, &c) in data.iter().enumerate() {
            n |= value(c) << (18 - 6 * i);
        }
        for i in 0..data.len().saturating_sub(1) {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}

// ----- shared end-to-end material ---------------------------------------------------------------

/// Every secret value the end-to-end tests push contains this marker, so a test can check
/// that it never shows up in a vendor's argv or in vsync's output.
pub const MARKER: &str = "s3cr3t";

/// A multi-line file pushed through `--inline-file-suffix=_PATH` (ends with a newline).
pub const KEY_FILE: &str = "-----BEGIN OPENSSH PRIVATE KEY-----\ns3cr3t-line-1\ns3cr3t-line-2\n-----END OPENSSH PRIVATE KEY-----\n";

/// The parser policy that goes with [`Test::rich`].
pub const RICH_POLICY: [&str; 2] = [
    "--inline-file-suffix=_PATH",
    "--exclude-property=GITHUB_TOKEN",
];

/// The secrets of [`Test::rich`] as the target must receive them, in file order. `sep` joins
/// the words of a key: `_`, or `-` for Azure (whose names allow no underscore).
pub fn rich_secrets(sep: &str) -> Vec<(String, String)> {
    [
        ("PLAIN", "s3cr3t-plain"),
        ("WITH_EQUALS", "s3cr3t=with=equals"),
        ("DOUBLE_QUOTED", "s3cr3t 'inner' double"),
        ("SINGLE_QUOTED", "s3cr3t \"inner\" single"),
        ("AT_SIGN", "@s3cr3t-at"),
        ("UNICODE", "s3cr3t-ünïcødé-✓"),
        ("SSH_KEY", KEY_FILE),
    ]
    .iter()
    .map(|(k, v)| (k.replace('_', sep), v.to_string()))
    .collect()
}

impl Test {
    /// An env file `dev` with a comment, a blank line, `=` and quotes in values, a value
    /// starting with `@`, unicode, a `_PATH` file reference to a multi-line file, and an
    /// excluded `GITHUB_TOKEN` — to be run with [`RICH_POLICY`].
    pub fn rich(self, sep: &str) -> Test {
        let k = |key: &str| key.replace('_', sep);
        let text = format!(
            "# written by the tests\n\n{}=s3cr3t-plain\n{}=s3cr3t=with=equals\n\
             {}=\"s3cr3t 'inner' double\"\n{}='s3cr3t \"inner\" single'\n{}=@s3cr3t-at\n\
             {}=s3cr3t-ünïcødé-✓\n{}_PATH=keys/id_test\nGITHUB_TOKEN=s3cr3t-excluded\n",
            k("PLAIN"),
            k("WITH_EQUALS"),
            k("DOUBLE_QUOTED"),
            k("SINGLE_QUOTED"),
            k("AT_SIGN"),
            k("UNICODE"),
            k("SSH_KEY"),
        );
        self.env_file("dev", &text)
            .file("infra/vault/dev/keys/id_test", KEY_FILE)
    }

    /// Asserts that no vendor call so far got a secret value (the [`MARKER`]) in its argv.
    #[track_caller]
    pub fn assert_no_value_in_argv(&self) {
        let calls = self.calls();
        assert!(!calls.is_empty(), "no vendor call was made");
        for call in calls {
            assert!(
                !call.argv.iter().any(|a| a.contains(MARKER)),
                "a secret value is in argv: {}",
                call.line()
            );
        }
    }
}

/// The `Parser policy:` header vsync prints on stdout (it starts with an empty line).
pub fn policy_header(suffixes: &[&str], excludes: &[&str]) -> String {
    let mut text = String::from("\nParser policy:\n");
    if suffixes.is_empty() {
        text.push_str("  inline-file-suffix: (none — file refs disabled)\n");
    }
    for s in suffixes {
        text.push_str(&format!("  inline-file-suffix: {s}\n"));
    }
    if excludes.is_empty() {
        text.push_str("  exclude-property:   (none — nothing skipped)\n");
    }
    for e in excludes {
        text.push_str(&format!("  exclude-property:   {e}\n"));
    }
    text
}

/// The whole stdout of a run of [`Test::rich`] with `--workers=1` (so lines come in file
/// order): header, banner, skipped line, `body`, result line (time as `#.#s`).
pub fn rich_stdout(banner: &str, body: &[String], result: &str) -> String {
    let mut text = policy_header(&["_PATH"], &["GITHUB_TOKEN"]);
    text.push('\n');
    text.push_str(banner);
    text.push_str("\n  skipped (excluded): GITHUB_TOKEN\n");
    for line in body {
        text.push_str(line);
        text.push('\n');
    }
    text.push('\n');
    text.push_str(result);
    text.push('\n');
    text
}

/// `Setting secret: K` / `✓ K` for each key, one after the other (one worker).
pub fn one_by_one(keys: &[String]) -> Vec<String> {
    keys.iter()
        .flat_map(|k| [format!("Setting secret: {k}"), format!("✓ {k}")])
        .collect()
}

// ----- runs in the background, under a umask, and what they leave running -------------------

impl Test {
    /// Runs vsync like [`Test::run`], but through `sh -c 'umask MASK; exec vsync …'`, so the
    /// files it creates get the permissions that umask would give them.
    pub fn run_with_umask(&mut self, mask: u32) -> Output {
        let args = std::mem::take(&mut self.args);
        let stdin = std::mem::take(&mut self.stdin);
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(format!("umask {mask:03o} && exec \"$0\" \"$@\""))
            .arg(env!("CARGO_BIN_EXE_vsync"))
            .args(&args)
            .current_dir(&self.cwd);
        let label = format!("umask {mask:03o}; vsync");
        run_command(cmd, self.base_env(), stdin, &label, &args)
    }

    /// Starts vsync like [`Test::run`] and returns at once, for tests that act while it runs
    /// (signals, concurrent runs). vsync leads its own process group, as a shell job does, so
    /// [`Running::signal_group`] reaches it the way a terminal's Ctrl-C would.
    pub fn spawn(&mut self) -> Running {
        use std::os::unix::process::CommandExt;
        let args = std::mem::take(&mut self.args);
        let stdin = std::mem::take(&mut self.stdin);
        let label = format!(
            "vsync {}",
            args.iter()
                .map(|a| a.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" ")
        );
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vsync"));
        cmd.args(&args)
            .current_dir(&self.cwd)
            .env_clear()
            .envs(self.base_env())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {label}: {e}"));
        let mut child_stdin = child.stdin.take().unwrap();
        let writer = thread::spawn(move || {
            let _ = child_stdin.write_all(&stdin);
        });
        // stdout goes through a channel line by line, so a test can wait for a line.
        let (tx, lines) = std::sync::mpsc::channel();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        thread::spawn(move || {
            use std::io::BufRead;
            loop {
                let mut line = Vec::new();
                match out.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if tx.send(line).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        let mut err = child.stderr.take().unwrap();
        let err_reader = thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = err.read_to_end(&mut buf);
            buf
        });
        Running {
            child,
            label,
            lines,
            stdout: Vec::new(),
            err_reader,
            writer,
        }
    }

    /// Processes still alive whose environment has this test's `VSYNC_FAKE_DIR`: fake vendor
    /// CLIs (or a vsync) left running. Each as `(pid, command line)`. Found by scanning
    /// `/proc/*/environ`, because a fake's command line (`gcloud secrets …`) names no
    /// temp dir.
    pub fn live_fakes(&self) -> Vec<(u32, String)> {
        let mut marker = b"VSYNC_FAKE_DIR=".to_vec();
        marker.extend(self.fake_dir().as_os_str().as_encoded_bytes());
        let mut found = Vec::new();
        for entry in fs::read_dir("/proc").expect("reading /proc").flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            // A process that exited meanwhile, or a zombie (empty environ), does not count.
            let Ok(environ) = fs::read(entry.path().join("environ")) else {
                continue;
            };
            if environ
                .split(|&b| b == 0)
                .any(|var| var == marker.as_slice())
            {
                let cmdline = fs::read(entry.path().join("cmdline")).unwrap_or_default();
                let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                found.push((pid, cmdline.trim_end().to_string()));
            }
        }
        found
    }

    /// Waits (up to `limit`) until no process of this test is left, then returns what is
    /// still alive (empty when all are gone). Killed children may take a moment to be reaped.
    pub fn live_fakes_after(&self, limit: Duration) -> Vec<(u32, String)> {
        let until = std::time::Instant::now() + limit;
        loop {
            let live = self.live_fakes();
            if live.is_empty() || std::time::Instant::now() >= until {
                return live;
            }
            thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A vsync run started by [`Test::spawn`].
pub struct Running {
    child: std::process::Child,
    label: String,
    lines: std::sync::mpsc::Receiver<Vec<u8>>,
    stdout: Vec<u8>,
    err_reader: thread::JoinHandle<Vec<u8>>,
    writer: thread::JoinHandle<()>,
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until vsync has printed `line` (a whole stdout line, without its newline);
    /// panics after `limit`, or when stdout closes first.
    #[track_caller]
    pub fn wait_for_line(&mut self, line: &str, limit: Duration) {
        let until = std::time::Instant::now() + limit;
        let seen = |out: &[u8]| String::from_utf8_lossy(out).lines().any(|l| l == line);
        while !seen(&self.stdout) {
            let left = until.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(chunk) => self.stdout.extend(chunk),
                Err(e) => panic!(
                    "{}: no stdout line {line:?} ({e:?}); stdout so far:\n{}",
                    self.label,
                    String::from_utf8_lossy(&self.stdout)
                ),
            }
        }
    }

    /// Sends a signal (`INT`, `TERM`, …) to vsync alone, as `kill -s SIG PID` does.
    pub fn signal(&self, sig: &str) {
        self.kill(sig, &self.pid().to_string());
    }

    /// Sends a signal to vsync's whole process group, as a terminal's Ctrl-C does.
    pub fn signal_group(&self, sig: &str) {
        self.kill(sig, &format!("-{}", self.pid()));
    }

    fn kill(&self, sig: &str, target: &str) {
        let status = Command::new("kill")
            .args(["-s", sig, "--", target])
            .status()
            .expect("running kill");
        assert!(status.success(), "kill -s {sig} -- {target} failed");
    }

    /// Waits for vsync to exit (killing it after the harness's run limit) and collects what
    /// it printed.
    pub fn wait(mut self) -> Output {
        let status = match self
            .child
            .wait_timeout(RUN_LIMIT)
            .expect("waiting for the child")
        {
            Some(status) => status,
            None => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("{} did not finish within {RUN_LIMIT:?}", self.label);
            }
        };
        // The reader thread ends at EOF, which closes the channel.
        while let Ok(chunk) = self.lines.recv() {
            self.stdout.extend(chunk);
        }
        let _ = self.writer.join();
        let stderr = self.err_reader.join().unwrap();
        Output {
            status,
            stdout: String::from_utf8_lossy(&self.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            label: self.label,
        }
    }
}

// ----- vsync under a hand-built command ---------------------------------------------------------

impl Test {
    /// A `Command` for vsync with the arguments given so far (then forgotten), the test's
    /// environment and working directory, and nothing else set: for tests that choose its
    /// stdio, resource limits or process group themselves.
    pub fn vsync_command(&mut self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vsync"));
        cmd.args(std::mem::take(&mut self.args))
            .current_dir(&self.cwd)
            .env_clear()
            .envs(self.base_env());
        cmd
    }
}

// ----- runs without a variable, or under a memory limit -------------------------------------

impl Test {
    /// Runs vsync like [`Test::run`], with `name` removed from its environment (e.g. `HOME`).
    pub fn run_without_var(&mut self, name: &str) -> Output {
        let args = std::mem::take(&mut self.args);
        let stdin = std::mem::take(&mut self.stdin);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vsync"));
        cmd.args(&args).current_dir(&self.cwd);
        let env = self
            .base_env()
            .into_iter()
            .filter(|(k, _)| k != name)
            .collect();
        run_command(cmd, env, stdin, &format!("vsync (no {name})"), &args)
    }

    /// Runs vsync like [`Test::run`] under `ulimit -v KIB`, so a run that tries to hold more
    /// memory fails instead of pressing the whole machine.
    pub fn run_with_memory_limit(&mut self, kib: u64) -> Output {
        let args = std::mem::take(&mut self.args);
        let stdin = std::mem::take(&mut self.stdin);
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(format!("ulimit -v {kib} && exec \"$0\" \"$@\""))
            .arg(env!("CARGO_BIN_EXE_vsync"))
            .args(&args)
            .current_dir(&self.cwd);
        let label = format!("ulimit -v {kib}; vsync");
        run_command(cmd, self.base_env(), stdin, &label, &args)
    }
}

// ----- the secret a logged call names ----------------------------------------------------------------

impl Call {
    /// The secret a per-key call names, as vsync writes it: the word after `--` (gh, gcloud)
    /// or the value of `--secret-id=`/`--name=` (aws, az). `None` for list and vault calls.
    pub fn secret(&self) -> Option<&str> {
        if let Some(i) = self.argv.iter().position(|a| a == "--") {
            if self.bin != "vault" {
                return self.argv.get(i + 1).map(String::as_str);
            }
        }
        self.argv.iter().find_map(|a| {
            a.strip_prefix("--secret-id=")
                .or_else(|| a.strip_prefix("--name="))
        })
    }
}

// ----- vsync under 2>&1 ---------------------------------------------------------------

impl Test {
    /// Runs vsync like [`Test::run`], but through `sh -c 'exec vsync … 2>&1'`: stdout and
    /// stderr share one pipe, as in a user's `vsync … 2>&1 | tee log`. All of it is in
    /// `stdout`.
    pub fn run_merged(&mut self) -> Output {
        let args = std::mem::take(&mut self.args);
        let stdin = std::mem::take(&mut self.stdin);
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c")
            .arg("exec \"$0\" \"$@\" 2>&1")
            .arg(env!("CARGO_BIN_EXE_vsync"))
            .args(&args)
            .current_dir(&self.cwd);
        run_command(cmd, self.base_env(), stdin, "vsync … 2>&1", &args)
    }
}

// ----- the targets, one row each ----------------------------------------------------------------

/// How a target writes its keys, as the fakes log it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Writes {
    /// One call per key, nothing else (gh, azure, ssm).
    OneCallPerKey,
    /// One call per key, plus a list call and perhaps a create-or-update fallback (gcp, aws).
    PerKeyAfterAList,
    /// One call that writes every key at once: the KV map at `path` under the mount (vault).
    OneBulkCall { path: &'static str },
}

/// One target: how to route it, where the fake stores its secrets, what it prints.
pub struct Target {
    pub name: &'static str,
    /// The vendor CLI it runs.
    pub bin: &'static str,
    /// Its routing flags, without a name prefix.
    pub flags: &'static [&'static str],
    /// The flag that sets a name prefix, and that prefix (`""` for targets without one).
    pub prefix_flag: &'static str,
    pub prefix: &'static str,
    /// The fake's store: service and scope (for vault, the mount of the KV map).
    pub service: &'static str,
    pub scope: &'static str,
    /// The banner after `Syncing N secrets to `, without the prefix.
    pub banner: &'static str,
    /// What joins the words of a key: `_`, or `-` for Azure (whose names allow no underscore).
    pub sep: &'static str,
    pub writes: Writes,
    /// An argument every call of a run has: the routing reaches the CLI.
    pub every_call_has: &'static str,
    /// How a per-key warning names the failed command (`WARNING: skipping K: <this>…`).
    pub command_words: &'static str,
    /// The CLI drops trailing newlines from a value (gh).
    pub strips_trailing_newlines: bool,
    /// The CLI reads values as text and turns `\r\n` into `\n` (aws, azure, ssm).
    pub translates_crlf: bool,
    /// Words of the vendor's throttling and permission-denied errors, as the fake prints them.
    pub throttled: &'static str,
    pub denied: &'static str,
}

pub const GH: Target = Target {
    name: "gh",
    bin: "gh",
    flags: &["--gh-repo=acme/api"],
    prefix_flag: "",
    prefix: "",
    service: "gh",
    scope: "acme__api__dev",
    banner: "GitHub: repo=acme/api, environment=dev",
    sep: "_",
    writes: Writes::OneCallPerKey,
    every_call_has: "--repo=acme/api",
    command_words: "gh secret set: ",
    strips_trailing_newlines: true,
    translates_crlf: false,
    throttled: "HTTP 429",
    denied: "HTTP 403",
};
pub const GCP: Target = Target {
    name: "gcp",
    bin: "gcloud",
    flags: &["--gcp-project=proj"],
    prefix_flag: "",
    prefix: "",
    service: "gcp",
    scope: "proj",
    banner: "GCP Secret Manager: project=proj",
    sep: "_",
    writes: Writes::PerKeyAfterAList,
    every_call_has: "--project=proj",
    command_words: "gcloud secrets ",
    strips_trailing_newlines: false,
    translates_crlf: false,
    throttled: "RESOURCE_EXHAUSTED",
    denied: "PERMISSION_DENIED",
};
pub const AWS: Target = Target {
    name: "aws",
    bin: "aws",
    flags: &["--aws-region=eu-west-1"],
    prefix_flag: "--aws-secret-prefix=app/dev/",
    prefix: "app/dev/",
    service: "aws",
    scope: "eu-west-1",
    banner: "AWS Secrets Manager: region=eu-west-1",
    sep: "_",
    writes: Writes::PerKeyAfterAList,
    every_call_has: "--region=eu-west-1",
    command_words: "aws secretsmanager ",
    strips_trailing_newlines: false,
    translates_crlf: true,
    throttled: "ThrottlingException",
    denied: "AccessDeniedException",
};
pub const AZURE: Target = Target {
    name: "azure",
    bin: "az",
    flags: &["--azure-vault=kv1"],
    prefix_flag: "",
    prefix: "",
    service: "azure",
    scope: "kv1",
    banner: "Azure Key Vault: vault=kv1",
    sep: "-",
    writes: Writes::OneCallPerKey,
    every_call_has: "--vault-name=kv1",
    command_words: "az keyvault secret set: ",
    strips_trailing_newlines: false,
    translates_crlf: true,
    throttled: "Too Many Requests",
    denied: "Forbidden",
};
pub const VAULT: Target = Target {
    name: "vault",
    bin: "vault",
    flags: &[
        "--vault-addr=http://127.0.0.1:8200",
        "--vault-mount=secret",
        "--vault-path=app/dev",
    ],
    prefix_flag: "",
    prefix: "",
    service: "vault",
    scope: "secret",
    banner: "HashiCorp Vault: addr=http://127.0.0.1:8200, mount=secret, path=app/dev",
    sep: "_",
    writes: Writes::OneBulkCall { path: "app/dev" },
    every_call_has: "-mount=secret",
    command_words: "vault kv put",
    strips_trailing_newlines: false,
    translates_crlf: false,
    throttled: "Vault is sealed",
    denied: "permission denied",
};
pub const SSM: Target = Target {
    name: "ssm",
    bin: "aws",
    flags: &["--ssm-region=eu-west-1"],
    prefix_flag: "--ssm-prefix=/app/dev/",
    prefix: "/app/dev/",
    service: "ssm",
    scope: "eu-west-1",
    banner: "AWS SSM Parameter Store: region=eu-west-1",
    sep: "_",
    writes: Writes::OneCallPerKey,
    every_call_has: "--region=eu-west-1",
    command_words: "aws ssm ",
    strips_trailing_newlines: false,
    translates_crlf: true,
    throttled: "ThrottlingException",
    denied: "AccessDeniedException",
};
pub const TARGETS: [Target; 6] = [GH, GCP, AWS, AZURE, VAULT, SSM];

impl Target {
    /// A key of words joined as this target allows (`SSH_KEY` → `SSH-KEY` on Azure).
    pub fn key(&self, key: &str) -> String {
        key.replace('_', self.sep)
    }

    /// The name the target stores `key` under when the run sets the prefix flag.
    pub fn prefixed(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

// ----- one child, run with a bound on its time ---------------------------------------------------

/// Runs `cmd` with `stdin` on a pipe, collecting stdout and stderr while it runs (so neither
/// pipe can fill and block it); kills it and fails the test after `limit`.
pub fn run_bounded(mut cmd: Command, stdin: &[u8], limit: Duration) -> std::process::Output {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    let writer = thread::spawn(move || {
        let _ = input.write_all(&stdin); // a child may exit without reading
    });
    let drain = |mut r: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let status = match child.wait_timeout(limit).expect("waiting for the child") {
        Some(status) => status,
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} still running after {limit:?}; killed");
        }
    };
    let _ = writer.join();
    std::process::Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

// ----- tests that must not overlap ----------------------------------------------------------------

/// Held for the whole of a test that signals processes: such tests run one at a time.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
