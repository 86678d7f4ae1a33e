//! What the real-CLI tests share: skipping (or failing under CI) when a tool is missing,
//! finding the test Python, and a server child on a free loopback port, killed on drop.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub(crate) const READY_TIMEOUT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------------
// Prerequisites: skip with a reason on a developer machine, fail on CI.

/// Ends a test whose prerequisites are missing: a printed SKIP, or a panic when `CI` is set.
pub(crate) fn skip(reason: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("CI is set, so this real-CLI test must run, but: {reason}");
    }
    eprintln!("SKIP: {reason}");
}

pub(crate) fn find_on_path(bin: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(bin))
        .find(|p| p.is_file())
}

pub(crate) fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Python that runs the doubles, if it can import `modules`.
pub(crate) fn test_python(modules: &[&str]) -> Result<PathBuf, String> {
    let python = match std::env::var_os("VSYNC_TEST_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => {
            let venv = manifest_dir().join("target/test-venv/bin/python");
            if venv.is_file() {
                venv
            } else if modules.is_empty() {
                find_on_path("python3").ok_or("python3 not on PATH")?
            } else {
                return Err(format!(
                    "VSYNC_TEST_PYTHON unset and {} missing; run .ci/install-test-deps",
                    venv.display()
                ));
            }
        }
    };
    let code = if modules.is_empty() {
        "pass".to_string()
    } else {
        format!("import {}", modules.join(", "))
    };
    let out = Command::new(&python)
        .args(["-c", &code])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} cannot import {}: {}",
            python.display(),
            modules.join(", "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(python)
}

pub(crate) fn prerequisites(cli: &str, modules: &[&str]) -> Option<PathBuf> {
    if find_on_path(cli).is_none() {
        let hint = if cli == "gh" {
            "run .ci/install-test-deps (Debian package gh)"
        } else {
            "the CI machine image ships it"
        };
        skip(&format!("`{cli}` not on PATH ({hint})"));
        return None;
    }
    match test_python(modules) {
        Ok(python) => Some(python),
        Err(reason) => {
            skip(&reason);
            None
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A server child: started on a free port, waited for, killed on drop.

pub(crate) struct Server {
    child: Child,
    pub(crate) port: u16,
}

impl Server {
    /// Spawns `cmd` and waits until a line of its stdout or stderr yields a port.
    pub(crate) fn start(mut cmd: Command, port_of: fn(&str) -> Option<u16>) -> Server {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
        let (tx, rx) = mpsc::channel::<String>();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            // Keeps draining after readiness so the server never blocks on a full pipe.
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
        }
        drop(tx);
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut seen = Vec::new();
        let port = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => match port_of(&line) {
                    Some(port) => break port,
                    None => seen.push(line),
                },
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "{cmd:?} did not report a port within {READY_TIMEOUT:?} ({e:?}); \
                         output:\n{}",
                        seen.join("\n")
                    );
                }
            }
        };
        Server { child, port }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The doubles print `PORT <n>`.
pub(crate) fn double_port(line: &str) -> Option<u16> {
    line.strip_prefix("PORT ")?.trim().parse().ok()
}

/// A finished process's status and output, for assertion messages.
pub(crate) fn show(out: &std::process::Output) -> String {
    format!(
        "status: {}\n--- stdout\n{}--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The environment that points the aws CLI's `endpoint_vars` services at moto on `port`,
/// with dummy credentials and config files under `home` (never the developer's `~/.aws`).
pub(crate) fn moto_env(
    port: u16,
    home: &std::path::Path,
    endpoint_vars: &[&'static str],
) -> Vec<(&'static str, std::ffi::OsString)> {
    let mut env: Vec<(&'static str, std::ffi::OsString)> = endpoint_vars
        .iter()
        .map(|var| (*var, format!("http://127.0.0.1:{port}").into()))
        .collect();
    env.extend([
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("AWS_DEFAULT_REGION", "us-east-1".into()),
        ("AWS_CONFIG_FILE", home.join("aws-config").into()),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            home.join("aws-credentials").into(),
        ),
    ]);
    env
}

/// moto (werkzeug) prints ` * Running on http://127.0.0.1:<n>`.
pub(crate) fn moto_port(line: &str) -> Option<u16> {
    let rest = &line[line.find("Running on http://127.0.0.1:")? + 28..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The requests a double recorded in its state's `requests`, as `METHOD path` (query
/// included), those `keep` accepts.
pub(crate) fn requests_where(
    state: &serde_json::Value,
    keep: impl Fn(&serde_json::Value) -> bool,
) -> Vec<String> {
    state["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| keep(r))
        .map(|r| {
            format!(
                "{} {}",
                r["method"].as_str().unwrap(),
                r["path"].as_str().unwrap()
            )
        })
        .collect()
}

/// Every request a double recorded, as `METHOD path`.
pub(crate) fn requests(state: &serde_json::Value) -> Vec<String> {
    requests_where(state, |_| true)
}
