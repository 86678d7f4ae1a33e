//! End-to-end runs of `vsync sync` through the REAL vendor CLIs, each pointed at a server on
//! 127.0.0.1: aws → moto (`moto[server]`), gcloud → `fixtures/doubles/gcp_secretmanager.py`,
//! gh → `fixtures/doubles/gh_api.py` (HTTPS, GHES paths, libsodium sealed boxes).
//!
//! The fakes in `fixtures/` check what we believe the vendor CLIs do; these tests check the
//! invocations vsync builds (values on stdin, one list call) against the CLIs themselves: stdin handling, error texts that drive
//! the create/update fallback, list output parsing, and the exact bytes that arrive.
//!
//! Verified with (2026-11, Debian bookworm):
//!   aws-cli 1.45.11 (botocore 1.43.11, Python 3.11.7) + moto 5.2.5
//!   Google Cloud SDK 528.0.0 (gcloud)
//!   gh 2.23.0 (Debian 2.23.0+dfsg1-1)
//!
//! Needs: `.ci/install-test-deps` (a venv with moto, PyNaCl, cryptography; Debian `gh`), and
//! `VSYNC_TEST_PYTHON` naming that venv's python (default: `target/test-venv/bin/python`).
//! A test whose CLI or Python packages are missing prints `SKIP: …` and passes — unless `CI`
//! is set, where it fails: on CI these must run.
//!
//! azure and vault have their own files: `azure.rs` (the real az against a Key Vault double)
//! and `vault.rs` (OpenBao).

use crate::common::{Server, double_port, manifest_dir, moto_env, moto_port, prerequisites, show};
use crate::support::base64_decode;
use serde_json::Value;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

const RUN_TIMEOUT: Duration = Duration::from_secs(90);

// ---------------------------------------------------------------------------------------------
// A throwaway repo with `infra/vault/dev/.env.dev`, and the vsync run in it.

struct Repo {
    dir: tempfile::TempDir,
}

impl Repo {
    fn new() -> Repo {
        let dir = tempfile::Builder::new()
            .prefix("vsync-real-cli")
            .tempdir()
            .unwrap();
        for sub in [".git", "infra/vault/dev/keys", "home", "xdg", "tmp"] {
            fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        // The remote that names the repository as the owner of what it syncs.
        fs::write(
            dir.path().join(".git/config"),
            "[remote \"origin\"]\n\turl = git@github.com:acme/api.git\n",
        )
        .unwrap();
        Repo { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn vault_file(&self, rel: &str, bytes: &[u8]) {
        fs::write(self.path("infra/vault/dev").join(rel), bytes).unwrap();
    }

    /// Runs vsync with a cleared environment: PATH (for the real CLI), HOME and
    /// XDG_CONFIG_HOME inside the temp dir, plus `env`.
    fn vsync(&self, args: &[&str], env: &[(&str, OsString)]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vsync"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.path("home"))
            .env("XDG_CONFIG_HOME", self.path("xdg"))
            .env("TMPDIR", self.path("tmp"))
            .envs(env.iter().map(|(k, v)| (k, v)));
        run_bounded(cmd)
    }
}

/// Runs `cmd` to completion (stdin empty), killing it after RUN_TIMEOUT.
fn run_bounded(cmd: Command) -> Output {
    crate::support::run_bounded(cmd, b"", RUN_TIMEOUT)
}

fn assert_synced(out: &Output, n: usize, target: &str) {
    assert!(out.status.success(), "vsync failed\n{}", show(out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let want = format!("✅ {n} secrets synced to {target} in ");
    assert!(
        stdout.lines().any(|l| l.starts_with(&want)),
        "no `{want}…` line\n{}",
        show(out)
    );
}

// ---------------------------------------------------------------------------------------------
// The secrets every test pushes: what the env file says, and the bytes each should become.

const MULTILINE_1: &[u8] =
    b"-----BEGIN TEST KEY-----\nbGluZSBvbmU=\nbGluZSB0d28=\n-----END TEST KEY-----\n";
const MULTILINE_2: &[u8] = b"-----BEGIN TEST KEY-----\nc2Vjb25kIHJ1bg==\n-----END TEST KEY-----\n";

/// Writes `.env.dev` (and the referenced file) for run 1 or 2; returns (secret, bytes).
fn write_env(repo: &Repo, run: u8, extra: &str) -> Vec<(String, Vec<u8>)> {
    let (multiline, unicode, url, eq) = if run == 1 {
        (
            MULTILINE_1,
            "héllo wörld ✓ 日本語 🙂",
            "http://example.com/a?b=c&d=e",
            r#"a=b=c "double" 'single'"#,
        )
    } else {
        (
            MULTILINE_2,
            "ünïcødé — second ✓ 🚀",
            "http://169.254.169.254/latest/meta-data/",
            r#"x==y 'it''s' "q=1""#,
        )
    };
    repo.vault_file("keys/id_test", multiline);
    let json = if run == 1 {
        r#"{"k":"v=1"}"#
    } else {
        r#"{"k":"v=2","n":[1]}"#
    };
    let body = format!(
        "# real-CLI test, run {run}\n\
         PLAIN=plain-value-{run}\n\
         UNICODE={unicode}\n\
         URL={url}\n\
         EQUALS_QUOTES={eq}\n\
         JSON='{json}'\n\
         DASH=--not-a-flag-{run}\n\
         SSH_KEY_PATH=keys/id_test\n\
         {extra}"
    );
    repo.vault_file(".env.dev", body.as_bytes());
    let mut want: Vec<(String, Vec<u8>)> = [
        ("PLAIN", format!("plain-value-{run}").into_bytes()),
        ("UNICODE", unicode.as_bytes().to_vec()),
        ("URL", url.as_bytes().to_vec()),
        ("EQUALS_QUOTES", eq.as_bytes().to_vec()),
        ("JSON", json.as_bytes().to_vec()),
        ("DASH", format!("--not-a-flag-{run}").into_bytes()),
        ("SSH_KEY", multiline.to_vec()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    want.sort();
    want
}

fn read_json(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

// ---------------------------------------------------------------------------------------------
// aws → moto

struct Aws {
    env: Vec<(&'static str, OsString)>,
}

impl Aws {
    /// A fresh moto server, and the environment that points the aws CLI's `endpoint_var`
    /// service at it with dummy credentials (never the developer's `~/.aws`).
    fn against_moto(python: &Path, repo: &Repo, endpoint_var: &'static str) -> (Server, Aws) {
        let mut cmd = Command::new(python);
        cmd.args(["-m", "moto.server", "-H", "127.0.0.1", "-p", "0"]);
        let moto = Server::start(cmd, moto_port);
        let env = moto_env(moto.port, &repo.path("home"), &[endpoint_var]);
        (moto, Aws { env })
    }

    fn cli(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new("aws");
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        let out = run_bounded(cmd);
        assert!(out.status.success(), "aws {args:?}\n{}", show(&out));
        out
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["--region", "us-east-1", "--output", "json"]);
        serde_json::from_slice(&self.cli(&all).stdout).unwrap()
    }

    /// Reads every named secret back, concurrently (one aws process costs ~0.5 s).
    fn values(&self, names: &[String]) -> BTreeMap<String, Vec<u8>> {
        std::thread::scope(|s| {
            let handles: Vec<_> = names
                .iter()
                .map(|name| {
                    s.spawn(move || {
                        let v = self.json(&[
                            "secretsmanager",
                            "get-secret-value",
                            &format!("--secret-id={name}"),
                        ]);
                        let text = v["SecretString"]
                            .as_str()
                            .expect("SecretString")
                            .to_string();
                        (name.clone(), text.into_bytes())
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    }

    fn names(&self) -> Vec<String> {
        let v = self.json(&["secretsmanager", "list-secrets"]);
        let mut names: Vec<String> = v["SecretList"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["Name"].as_str().unwrap().to_string())
            .collect();
        names.sort();
        names
    }
}

#[test]
fn aws_secrets_arrive_exactly_through_the_real_aws_cli_and_moto() {
    let Some(python) = prerequisites("aws", &["moto.server"]) else {
        return;
    };
    let repo = Repo::new();
    let (_moto, aws) = Aws::against_moto(&python, &repo, "AWS_ENDPOINT_URL_SECRETS_MANAGER");
    let args = [
        "sync",
        "dev",
        "aws",
        "--aws-region=us-east-1",
        "--aws-secret-prefix=myapp/dev/",
        "--inline-file-suffix=_PATH",
    ];
    let prefixed = |want: &[(String, Vec<u8>)]| -> BTreeMap<String, Vec<u8>> {
        want.iter()
            .map(|(k, v)| (format!("myapp/dev/{k}"), v.clone()))
            .collect()
    };

    // aws-cli v1 reads `file:///dev/stdin` as text with universal newlines: "\r\n" and a
    // lone "\r" arrive as "\n"; vsync warns about such values before pushing.
    repo.vault_file("crlf.txt", b"one\r\ntwo\rthree\r\n");

    // Run 1: a fresh account, every secret is created.
    let mut want1 = prefixed(&write_env(&repo, 1, "CRLF_PATH=crlf.txt\n"));
    want1.insert("myapp/dev/CRLF".into(), b"one\ntwo\nthree\n".to_vec());
    let out = repo.vsync(&args, &aws.env);
    assert_synced(&out, want1.len(), "aws");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("CRLF"),
        "a warning names CRLF, whose \\r the aws CLI turns into \\n\n{}",
        show(&out)
    );
    let names: Vec<String> = want1.keys().cloned().collect();
    assert_eq!(aws.names(), names, "exactly the prefixed names exist");
    assert_values(&aws.values(&names), &want1);

    // Run 2: new values for the same secrets plus one new key.
    let mut want2 = prefixed(&write_env(
        &repo,
        2,
        "CRLF_PATH=crlf.txt\nADDED_LATER=late=value\n",
    ));
    want2.insert("myapp/dev/CRLF".into(), b"one\ntwo\nthree\n".to_vec());
    want2.insert("myapp/dev/ADDED_LATER".into(), b"late=value".to_vec());
    let out = repo.vsync(&args, &aws.env);
    assert_synced(&out, want2.len(), "aws");
    let names: Vec<String> = want2.keys().cloned().collect();
    assert_eq!(aws.names(), names);
    assert_values(&aws.values(&names), &want2);
    // The update path is put-secret-value (a new version), not a delete and re-create.
    let versions = aws.json(&[
        "secretsmanager",
        "list-secret-version-ids",
        "--secret-id",
        "myapp/dev/PLAIN",
    ]);
    assert_eq!(
        versions["Versions"].as_array().unwrap().len(),
        2,
        "PLAIN has one version per run: {versions:#}"
    );

    // Run 3, no prefix: names that argparse would read as options arrive under exactly
    // those names (`--secret-id=-h`), created and then updated.
    // The saved routing holds the prefix: forget it, so the names start with `-`.
    fs::remove_dir_all(repo.path("xdg/vsync")).unwrap();
    let dash_args = ["sync", "dev", "aws", "--aws-region=us-east-1"];
    for run in 1..=2 {
        repo.vault_file(
            ".env.dev",
            format!("-h=dash-h-{run}\n--help=dash-help-{run}\n").as_bytes(),
        );
        let out = repo.vsync(&dash_args, &aws.env);
        assert_synced(&out, 2, "aws");
        let want: BTreeMap<String, Vec<u8>> = [
            ("-h".to_string(), format!("dash-h-{run}").into_bytes()),
            (
                "--help".to_string(),
                format!("dash-help-{run}").into_bytes(),
            ),
        ]
        .into();
        let names: Vec<String> = want.keys().cloned().collect();
        assert_values(&aws.values(&names), &want);
    }
}

#[test]
fn ssm_parameters_arrive_exactly_through_the_real_aws_cli_and_moto() {
    let Some(python) = prerequisites("aws", &["moto.server"]) else {
        return;
    };
    let repo = Repo::new();
    let (_moto, aws) = Aws::against_moto(&python, &repo, "AWS_ENDPOINT_URL_SSM");
    let args = [
        "sync",
        "dev",
        "ssm",
        "--ssm-region=us-east-1",
        "--ssm-prefix=/myapp/dev/",
        "--inline-file-suffix=_PATH",
    ];
    // Every value, read back in one call, decrypted, as `--skip-unchanged` would read it.
    let read_back = || -> BTreeMap<String, Vec<u8>> {
        let v = aws.json(&[
            "ssm",
            "get-parameters-by-path",
            "--path",
            "/myapp/dev",
            "--recursive",
            "--with-decryption",
        ]);
        v["Parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                assert_eq!(p["Type"], "SecureString", "{p}");
                let name = p["Name"].as_str().unwrap().to_string();
                (name, p["Value"].as_str().unwrap().as_bytes().to_vec())
            })
            .collect()
    };
    let prefixed = |want: &[(String, Vec<u8>)]| -> BTreeMap<String, Vec<u8>> {
        want.iter()
            .map(|(k, v)| (format!("/myapp/dev/{k}"), v.clone()))
            .collect()
    };
    repo.vault_file("crlf.txt", b"one\r\ntwo\r\n");

    for run in [1, 2] {
        let mut want = prefixed(&write_env(&repo, run, "CRLF_PATH=crlf.txt\n"));
        want.insert("/myapp/dev/CRLF".into(), b"one\ntwo\n".to_vec());
        let out = repo.vsync(&args, &aws.env);
        assert_synced(&out, want.len(), "ssm");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("CRLF"),
            "a warning names CRLF\n{}",
            show(&out)
        );
        assert_values(&read_back(), &want);
    }
    let history = aws.json(&["ssm", "get-parameter-history", "--name", "/myapp/dev/PLAIN"]);
    assert_eq!(
        history["Parameters"].as_array().unwrap().len(),
        2,
        "--overwrite adds a version per run: {history:#}"
    );
}

fn assert_values(got: &BTreeMap<String, Vec<u8>>, want: &BTreeMap<String, Vec<u8>>) {
    for (name, bytes) in want {
        let got = got
            .get(name)
            .unwrap_or_else(|| panic!("{name} missing; got {:?}", got.keys()));
        assert_eq!(
            lossy(got),
            lossy(bytes),
            "value of {name} (left: stored, right: env file)"
        );
        assert_eq!(got, bytes, "bytes of {name}");
    }
    assert_eq!(got.len(), want.len(), "secrets: {:?}", got.keys());
}

// ---------------------------------------------------------------------------------------------
// gcloud → Secret Manager double

/// One request the double recorded, as `METHOD path-without-query` plus the query.
fn gcp_requests(state: &Value) -> Vec<(String, String)> {
    state["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let path = r["path"].as_str().unwrap();
            let (path, query) = path.split_once('?').unwrap_or((path, ""));
            (
                format!("{} {path}", r["method"].as_str().unwrap()),
                query.to_string(),
            )
        })
        .collect()
}

/// Per secret id: (create attempts, addVersion attempts) among `requests`.
fn gcp_attempts(requests: &[(String, String)], project: &str) -> BTreeMap<String, (usize, usize)> {
    let mut out: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let create = format!("POST /v1/projects/{project}/secrets");
    let add_prefix = format!("POST /v1/projects/{project}/secrets/");
    for (line, query) in requests {
        if *line == create {
            let id = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("secretId="))
                .expect("create without secretId");
            out.entry(id.to_string()).or_default().0 += 1;
        } else if let Some(id) = line
            .strip_prefix(&add_prefix)
            .and_then(|rest| rest.strip_suffix(":addVersion"))
        {
            out.entry(id.to_string()).or_default().1 += 1;
        }
    }
    out
}

fn gcp_values(state: &Value, project: &str) -> BTreeMap<String, Vec<Vec<u8>>> {
    let Some(secrets) = state["secrets"][project].as_object() else {
        return BTreeMap::new();
    };
    secrets
        .iter()
        .map(|(id, s)| {
            let versions = s["versions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| base64_decode(v.as_str().unwrap()))
                .collect();
            (id.clone(), versions)
        })
        .collect()
}

/// The environment that points the real gcloud at the Secret Manager double on `port`, with
/// no credentials and a config of its own.
fn gcloud_env(repo: &Repo, port: u16) -> Vec<(&'static str, OsString)> {
    vec![
        (
            "CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER",
            format!("http://127.0.0.1:{port}/").into(),
        ),
        ("CLOUDSDK_AUTH_DISABLE_CREDENTIALS", "true".into()),
        ("CLOUDSDK_CONFIG", repo.path("home/gcloud").into()),
        ("CLOUDSDK_CORE_DISABLE_PROMPTS", "1".into()),
    ]
}

/// The Secret Manager double, writing its state to `state_file`, with `args`.
fn gcp_double(python: &Path, state_file: &Path, args: &[&str]) -> Server {
    let mut cmd = Command::new(python);
    cmd.arg(manifest_dir().join("fixtures/doubles/gcp_secretmanager.py"))
        .arg("--state-file")
        .arg(state_file)
        .args(args);
    Server::start(cmd, double_port)
}

/// POSTs to a test endpoint of the plain-HTTP gcp double.
fn http_post(port: u16, path: &str) {
    use std::io::Write;
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        conn,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "POST {path}: {answer}");
}

#[test]
fn gcp_payloads_arrive_exactly_and_create_or_add_version_is_chosen_right() {
    let Some(python) = prerequisites("gcloud", &[]) else {
        return;
    };
    let repo = Repo::new();
    let state_file = repo.path("tmp/gcp-state.json");
    let double = gcp_double(
        &python,
        &state_file,
        &[
            // vsync lists beside its first wave of pushes (which assume "exists"); holding
            // writes until the list was answered makes every later key know the listing.
            "--hold-writes-until-list",
            "0.5",
            // A stale listing, as if another writer acted between vsync's list and its write:
            // HIDDEN exists but is not listed (create → ALREADY_EXISTS → versions add);
            // GHOST is listed but does not exist (versions add → NOT_FOUND → create).
            "--list-hide",
            "HIDDEN",
            "--list-extra",
            "GHOST",
        ],
    );
    let project = "vsync-test";
    let env = gcloud_env(&repo, double.port);
    let args = [
        "sync",
        "dev",
        "gcp",
        "--gcp-project=vsync-test",
        "--inline-file-suffix=_PATH",
    ];
    let list_line = format!("GET /v1/projects/{project}/secrets");
    let lists = |reqs: &[(String, String)]| reqs.iter().filter(|(l, _)| *l == list_line).count();
    // gcp takes raw bytes: CR LF and bytes that are not UTF-8 arrive untouched.
    let raw: &[u8] = b"line one\r\nline two\r\n\xff\x00end\r\n";
    repo.vault_file("raw.bin", raw);

    // Run 1: nothing exists. Keys of the first wave try `versions add` (vsync assumes the
    // steady state until its listing answers), meet NOT_FOUND and create; later keys know
    // from the empty listing and create at once. Either way: created once, one version.
    // `-h` is a valid id; gcloud must not read it as its help flag.
    let mut want1 = write_env(&repo, 1, "RAW_PATH=raw.bin\nHIDDEN=hidden-1\n-h=dash-h-1\n");
    want1.push(("-h".into(), b"dash-h-1".to_vec()));
    want1.push(("RAW".into(), raw.to_vec()));
    want1.push(("HIDDEN".into(), b"hidden-1".to_vec()));
    let out = repo.vsync(&args, &env);
    assert_synced(&out, want1.len(), "gcp");
    let state = read_json(&state_file);
    let requests = gcp_requests(&state);
    assert_eq!(lists(&requests), 1, "one list call per run: {requests:?}");
    let attempts = gcp_attempts(&requests, project);
    let values = gcp_values(&state, project);
    for (key, bytes) in &want1 {
        // `gcloud secrets create --data-file=-` is two requests: create, then addVersion.
        let got = attempts.get(key);
        assert!(
            got == Some(&(1, 1)) || got == Some(&(1, 2)),
            "run 1, {key}: (create, addVersion) requests {got:?}; all: {attempts:?}"
        );
        assert_eq!(values[key].len(), 1, "run 1, {key}: one version");
        assert_eq!(
            lossy(&values[key][0]),
            lossy(bytes),
            "run 1, value of {key}"
        );
        assert_eq!(&values[key][0], bytes, "run 1, bytes of {key}");
    }
    assert_eq!(
        attempts["HIDDEN"],
        (1, 1),
        "run 1: HIDDEN (picked after the listing answered) was created directly"
    );
    assert_eq!(values.len(), want1.len(), "secrets: {:?}", values.keys());

    // Run 2, the steady state: existing keys get exactly one `versions add`, no create.
    // HIDDEN, GHOST and FRESH come after the first wave of six, so they know the listing.
    http_post(double.port, "/__rearm");
    let seen = requests.len();
    let mut want2 = write_env(
        &repo,
        2,
        "RAW_PATH=raw.bin\nHIDDEN=hidden-2\nGHOST=ghost-2\nFRESH=fresh-2\n-h=dash-h-2\n",
    );
    want2.push(("-h".into(), b"dash-h-2".to_vec()));
    want2.push(("RAW".into(), raw.to_vec()));
    want2.push(("HIDDEN".into(), b"hidden-2".to_vec()));
    want2.push(("GHOST".into(), b"ghost-2".to_vec()));
    want2.push(("FRESH".into(), b"fresh-2".to_vec()));
    let out = repo.vsync(&args, &env);
    assert_synced(&out, want2.len(), "gcp");
    let state = read_json(&state_file);
    let requests = gcp_requests(&state)[seen..].to_vec();
    assert_eq!(lists(&requests), 1, "one list call per run: {requests:?}");
    let attempts = gcp_attempts(&requests, project);
    let values = gcp_values(&state, project);
    for (key, bytes) in &want2 {
        let (expected, versions) = match key.as_str() {
            // Not listed → create, which meets ALREADY_EXISTS, then versions add.
            "HIDDEN" => ((1, 1), 2),
            // Listed but missing → versions add meets NOT_FOUND, then create (+ its add).
            "GHOST" => ((1, 2), 1),
            // New and not listed → create.
            "FRESH" => ((1, 1), 1),
            _ => ((0, 1), 2),
        };
        assert_eq!(
            attempts.get(key),
            Some(&expected),
            "run 2, {key}: (create, addVersion) requests; all: {attempts:?}"
        );
        let stored = &values[key];
        assert_eq!(stored.len(), versions, "run 2, {key}: versions");
        let latest = stored.last().unwrap();
        assert_eq!(lossy(latest), lossy(bytes), "run 2, latest value of {key}");
        assert_eq!(latest, bytes, "run 2, bytes of {key}");
    }
    assert_eq!(values.len(), want2.len(), "secrets: {:?}", values.keys());
}

// ---------------------------------------------------------------------------------------------
// gh → GitHub Enterprise secrets API double (HTTPS)

fn gh_values(state: &Value, repo: &str, env: &str) -> BTreeMap<String, (Vec<u8>, u64)> {
    let Some(secrets) = state["secrets"][repo][env].as_object() else {
        return BTreeMap::new();
    };
    secrets
        .iter()
        .map(|(name, s)| {
            let bytes = base64_decode(s["value_b64"].as_str().unwrap());
            (name.clone(), (bytes, s["puts"].as_u64().unwrap()))
        })
        .collect()
}

/// The GitHub API double over HTTPS on a free port (state in `state_file`, environment `dev`),
/// and the environment that points the real gh at it.
fn gh_double(
    python: &Path,
    repo: &Repo,
    state_file: &Path,
) -> (Server, Vec<(&'static str, OsString)>) {
    let cert_dir = repo.path("tmp");
    let mut cmd = Command::new(python);
    cmd.arg(manifest_dir().join("fixtures/doubles/gh_api.py"))
        .arg("--dir")
        .arg(&cert_dir)
        .arg("--state-file")
        .arg(state_file)
        .args(["--environments", "dev"]);
    let double = Server::start(cmd, double_port);
    let env = vec![
        // A GHES host: gh uses https://HOST/api/v3/ and sends GH_ENTERPRISE_TOKEN (never
        // GH_TOKEN, which gh 2.23 keeps for github.com).
        ("GH_HOST", format!("127.0.0.1:{}", double.port).into()),
        ("GH_ENTERPRISE_TOKEN", "test-token".into()),
        ("GH_TOKEN", "test-token".into()),
        ("SSL_CERT_FILE", cert_dir.join("cert.pem").into()),
        ("GH_CONFIG_DIR", repo.path("home/gh").into()),
        ("GH_NO_UPDATE_NOTIFIER", "1".into()),
        ("GH_PROMPT_DISABLED", "1".into()),
    ];
    (double, env)
}

/// Variables for a vendor CLI pointed at a double.
type CliEnv = Vec<(&'static str, OsString)>;

/// A repo and the gh double, when the prerequisites are there: (repo, double, its state
/// file, the environment for gh).
fn gh_repo() -> Option<(Repo, Server, PathBuf, CliEnv)> {
    let python = prerequisites("gh", &["nacl", "cryptography"])?;
    let repo = Repo::new();
    let state_file = repo.path("tmp/gh-state.json");
    let (double, env) = gh_double(&python, &repo, &state_file);
    Some((repo, double, state_file, env))
}

/// `vsync sync dev gh --gh-repo=acme/api` plus `extra`, against the double.
fn gh_sync(repo: &Repo, env: &[(&'static str, OsString)], extra: &[&str]) -> Output {
    let mut args = vec!["sync", "dev", "gh", "--gh-repo=acme/api"];
    args.extend(extra);
    repo.vsync(&args, env)
}

#[test]
fn gh_environment_secrets_arrive_exactly_through_the_real_gh_cli() {
    let Some(python) = prerequisites("gh", &["nacl", "cryptography"]) else {
        return;
    };
    let repo = Repo::new();
    let state_file = repo.path("tmp/gh-state.json");
    let (_double, env) = gh_double(&python, &repo, &state_file);
    let args = [
        "sync",
        "dev",
        "gh",
        "--gh-repo=acme/api",
        "--inline-file-suffix=_PATH",
    ];
    // gh strips trailing "\r\n" characters from stdin (bytes.TrimRight(body, "\r\n")).
    let as_stored = |want: Vec<(String, Vec<u8>)>| -> BTreeMap<String, Vec<u8>> {
        want.into_iter()
            .map(|(k, mut v)| {
                while v.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                    v.pop();
                }
                (k, v)
            })
            .collect()
    };

    for run in [1u8, 2] {
        let want = as_stored(write_env(&repo, run, ""));
        let out = repo.vsync(&args, &env);
        assert_synced(&out, want.len(), "gh");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("SSH_KEY"),
            "run {run}: a warning names SSH_KEY, whose trailing newline gh strips\n{}",
            show(&out)
        );
        let state = read_json(&state_file);
        let got = gh_values(&state, "acme/api", "dev");
        for (name, bytes) in &want {
            let (stored, puts) = got
                .get(name)
                .unwrap_or_else(|| panic!("run {run}: {name} missing; got {:?}", got.keys()));
            assert_eq!(lossy(stored), lossy(bytes), "run {run}: value of {name}");
            assert_eq!(stored, bytes, "run {run}: bytes of {name}");
            assert_eq!(
                *puts,
                u64::from(run),
                "run {run}: one PUT per run for {name}"
            );
        }
        assert_eq!(got.len(), want.len(), "run {run}: secrets {:?}", got.keys());
        let unexpected: Vec<&Value> = state["requests"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| {
                let path = r["path"].as_str().unwrap_or("");
                !path.starts_with("/api/v3/repos/acme/api/environments/dev/secrets/")
            })
            .collect();
        assert!(unexpected.is_empty(), "unexpected requests: {unexpected:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Reading back and pruning through the real gcloud and gh

fn stdout_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn gcp_diff_skip_unchanged_and_prune_through_the_real_gcloud() {
    let Some(python) = prerequisites("gcloud", &[]) else {
        return;
    };
    let repo = Repo::new();
    let state_file = repo.path("tmp/gcp-state.json");
    let double = gcp_double(&python, &state_file, &[]);
    let env = gcloud_env(&repo, double.port);
    let sync = |extra: &[&str]| {
        let mut args = vec![
            "sync",
            "dev",
            "gcp",
            "--gcp-project=vsync-test",
            "--inline-file-suffix=_PATH",
        ];
        args.extend(extra);
        repo.vsync(&args, &env)
    };
    // Bytes that are not UTF-8 must read back as themselves (gcloud's text output would not).
    repo.vault_file("raw.bin", b"\xff\x00raw\r\n");
    fs::write(
        repo.path("infra/vault/dev/.env.dev"),
        "A=a-1\nB=b-1\nRAW_PATH=raw.bin\nOLD=old-1\n",
    )
    .unwrap();
    assert_synced(&sync(&[]), 4, "gcp");
    // A secret vsync did not create (no owner labels) is out of --prune's scope.
    let mut foreign = Command::new("gcloud");
    foreign
        .args([
            "secrets",
            "create",
            "--data-file=-",
            "--project=vsync-test",
            "--",
            "FOREIGN",
        ])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (k, v)));
    let out = crate::support::run_bounded(foreign, b"not-vsyncs", RUN_TIMEOUT);
    assert!(out.status.success(), "{}", show(&out));

    let out = sync(&["--diff"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "nothing differs\n{}",
        show(&out)
    );
    assert_eq!(
        stdout_of(&out),
        "= A\n= B\n= RAW\n= OLD\n",
        "{}",
        show(&out)
    );

    fs::write(
        repo.path("infra/vault/dev/.env.dev"),
        "A=a-2\nB=b-1\nRAW_PATH=raw.bin\nNEW=new-1\n",
    )
    .unwrap();
    let out = sync(&["--diff"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert_eq!(
        stdout_of(&out),
        "~ A\n= B\n= RAW\n+ NEW\n- OLD\n",
        "{}",
        show(&out)
    );

    let out = sync(&["--skip-unchanged", "--prune"]);
    assert!(out.status.success(), "{}", show(&out));
    let values = gcp_values(&read_json(&state_file), "vsync-test");
    assert_eq!(values["A"], [b"a-1".to_vec(), b"a-2".to_vec()]);
    assert_eq!(values["B"].len(), 1, "B unchanged: no new version");
    assert_eq!(values["RAW"].len(), 1, "RAW unchanged: no new version");
    assert_eq!(values["NEW"], [b"new-1".to_vec()]);
    assert!(
        !values.contains_key("OLD"),
        "OLD pruned: {:?}",
        values.keys()
    );
    assert!(
        values.contains_key("FOREIGN"),
        "a secret without vsync's labels stays"
    );
}

#[test]
fn gh_diff_and_prune_through_the_real_gh_cli() {
    let Some(python) = prerequisites("gh", &["nacl", "cryptography"]) else {
        return;
    };
    let repo = Repo::new();
    let state_file = repo.path("tmp/gh-state.json");
    let (_double, env) = gh_double(&python, &repo, &state_file);
    let sync = |extra: &[&str]| {
        let mut args = vec!["sync", "dev", "gh", "--gh-repo=acme/api"];
        args.extend(extra);
        repo.vsync(&args, &env)
    };
    fs::write(repo.path("infra/vault/dev/.env.dev"), "A=a-1\nOLD=old-1\n").unwrap();
    assert_synced(&sync(&[]), 2, "gh");
    fs::write(repo.path("infra/vault/dev/.env.dev"), "A=a-1\nNEW=new-1\n").unwrap();

    // gh lists names but cannot read values: existing secrets are `?`, never `=`.
    let out = sync(&["--diff"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert_eq!(stdout_of(&out), "? A\n+ NEW\n- OLD\n", "{}", show(&out));

    let out = sync(&["--prune", "--keep=KEEP*"]);
    assert!(out.status.success(), "{}", show(&out));
    let got = gh_values(&read_json(&state_file), "acme/api", "dev");
    assert_eq!(
        got.keys().cloned().collect::<Vec<_>>(),
        ["A", "NEW"],
        "OLD pruned through gh secret delete"
    );
}

// ---------------------------------------------------------------------------------------------
// Store settings organisations require: what the services recorded

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn aws_kms_key_is_what_moto_records_for_new_secrets_only() {
    let Some(python) = prerequisites("aws", &["moto.server"]) else {
        return;
    };
    let repo = Repo::new();
    let (_moto, aws) = Aws::against_moto(&python, &repo, "AWS_ENDPOINT_URL_SECRETS_MANAGER");
    let key_of = |name: &str| {
        aws.json(&[
            "secretsmanager",
            "describe-secret",
            &format!("--secret-id={name}"),
        ])["KmsKeyId"]
            .clone()
    };
    // A secret made before the setting: the AWS managed key, which it keeps.
    aws.cli(&[
        "secretsmanager",
        "create-secret",
        "--name=app/OLD",
        "--secret-string=old",
        "--region=us-east-1",
    ]);
    fs::write(
        repo.path("infra/vault/dev/.env.dev"),
        "A=s3cr3t-a\nOLD=new\n",
    )
    .unwrap();
    let out = repo.vsync(
        &[
            "sync",
            "dev",
            "aws",
            "--aws-region=us-east-1",
            "--aws-secret-prefix=app/",
            "--aws-kms-key=alias/vsync-test",
        ],
        &aws.env,
    );
    assert_synced(&out, 2, "aws");
    assert_eq!(key_of("app/A"), "alias/vsync-test");
    assert_eq!(
        key_of("app/OLD"),
        Value::Null,
        "an existing secret keeps its key"
    );

    // From the saved setting: the new secret gets it too.
    fs::write(
        repo.path("infra/vault/dev/.env.dev"),
        "A=s3cr3t-a\nOLD=new\nB=s3cr3t-b\n",
    )
    .unwrap();
    let out = repo.vsync(&["sync", "dev", "aws"], &aws.env);
    assert_synced(&out, 3, "aws");
    assert_eq!(key_of("app/B"), "alias/vsync-test");

    // `--diff` reads the keys from the real CLI's listing and names the one that differs.
    let out = repo.vsync(&["sync", "dev", "aws", "--diff"], &aws.env);
    assert!(out.status.success(), "{}", show(&out));
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains(
            "note: app/OLD is encrypted with the AWS managed key aws/secretsmanager, not \
             --aws-kms-key=alias/vsync-test"
        ),
        "{}",
        show(&out)
    );
    assert!(!stderr.contains("note: app/A "), "{}", show(&out));
}

#[test]
fn ssm_key_id_and_tier_are_what_moto_records_and_a_5000_character_value_needs_the_tier() {
    let Some(python) = prerequisites("aws", &["moto.server"]) else {
        return;
    };
    let repo = Repo::new();
    let (_moto, aws) = Aws::against_moto(&python, &repo, "AWS_ENDPOINT_URL_SSM");
    let cert = "c".repeat(5000);
    fs::write(
        repo.path("infra/vault/dev/.env.dev"),
        format!("CERT={cert}\nSMALL=s3cr3t\n"),
    )
    .unwrap();
    let base = [
        "sync",
        "dev",
        "ssm",
        "--ssm-region=us-east-1",
        "--ssm-prefix=/app/",
    ];

    // Without a tier: refused in pre-flight, nothing reaches the service.
    let out = repo.vsync(&base, &aws.env);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        stderr_of(&out).contains("the value is 5000 bytes; the limit is 4096 bytes"),
        "{}",
        show(&out)
    );
    let listed = aws.json(&["ssm", "describe-parameters"]);
    assert_eq!(listed["Parameters"], serde_json::json!([]), "{listed:#}");

    let mut first = base.to_vec();
    first.extend(["--ssm-kms-key=alias/vsync-params", "--ssm-tier=advanced"]);
    assert_synced(&repo.vsync(&first, &aws.env), 2, "ssm");
    // From the saved settings: every put carries them again.
    assert_synced(&repo.vsync(&["sync", "dev", "ssm"], &aws.env), 2, "ssm");
    for name in ["/app/CERT", "/app/SMALL"] {
        let history = aws.json(&["ssm", "get-parameter-history", "--name", name]);
        let versions = history["Parameters"].as_array().unwrap();
        assert_eq!(versions.len(), 2, "{history:#}");
        for v in versions {
            assert_eq!(v["KeyId"], "alias/vsync-params", "{name}: {v:#}");
            assert_eq!(v["Tier"], "Advanced", "{name}: {v:#}");
        }
    }
    let got = aws.json(&[
        "ssm",
        "get-parameter",
        "--name",
        "/app/CERT",
        "--with-decryption",
    ]);
    assert_eq!(got["Parameter"]["Value"], cert.as_str());
}

#[test]
fn gcloud_sends_user_managed_replication_in_the_locations_and_a_policy_refusal_is_explained() {
    let Some(python) = prerequisites("gcloud", &[]) else {
        return;
    };
    let repo = Repo::new();
    let state_file = repo.path("tmp/gcp-state.json");
    let double = gcp_double(
        &python,
        &state_file,
        &["--allowed-locations", "europe-west1,europe-west4"],
    );
    let env = gcloud_env(&repo, double.port);
    let replication =
        |id: &str| read_json(&state_file)["secrets"]["vsync-test"][id]["replication"].clone();
    fs::write(repo.path("infra/vault/dev/.env.dev"), "A=s3cr3t-a\n").unwrap();

    // Automatic replication is `global`, which the location policy refuses.
    let out = repo.vsync(&["sync", "dev", "gcp", "--gcp-project=vsync-test"], &env);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains(
            "vsync starts no further call to gcp; next step: the organisation's location policy \
             (constraints/gcp.resourceLocations) forbids automatic replication"
        ) && stderr.contains("pass --gcp-locations=LOC[,LOC…]")
            && stderr.contains(
                "FAILED_PRECONDITION: Constraint constraints/gcp.resourceLocations violated"
            ),
        "{}",
        show(&out)
    );
    assert_eq!(replication("A"), Value::Null, "nothing created");

    let out = repo.vsync(
        &[
            "sync",
            "dev",
            "gcp",
            "--gcp-locations=europe-west1,europe-west4",
        ],
        &env,
    );
    assert_synced(&out, 1, "gcp");
    let wanted = serde_json::json!({"userManaged": {"replicas": [
        {"location": "europe-west1"}, {"location": "europe-west4"}
    ]}});
    assert_eq!(replication("A"), wanted);
    let bodies: Vec<Value> = read_json(&state_file)["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["method"] == "POST" && r["path"].as_str().unwrap().contains("secretId=A"))
        .map(|r| r["body"]["replication"].clone())
        .collect();
    assert_eq!(bodies.last(), Some(&wanted), "what gcloud sent: {bodies:?}");

    // From the saved setting: a new secret is created there too.
    fs::write(
        repo.path("infra/vault/dev/.env.dev"),
        "A=s3cr3t-a\nB=s3cr3t-b\n",
    )
    .unwrap();
    assert_synced(&repo.vsync(&["sync", "dev", "gcp"], &env), 2, "gcp");
    assert_eq!(replication("B"), wanted);
}

/// An empty value cannot be stored in Secret Manager: the real gcloud's `secrets create` with
/// empty data creates the secret but no version (readers of `latest` get NOT_FOUND), and
/// `versions add` with empty data is refused by the API. vsync refuses such a key before
/// any call, naming it, instead of reporting it synced.
#[test]
fn gcp_refuses_an_empty_value_which_the_real_gcloud_would_store_without_a_version() {
    let Some(python) = prerequisites("gcloud", &[]) else {
        return;
    };
    let repo = Repo::new();
    let state_file = repo.path("tmp/gcp-state.json");
    let double = gcp_double(&python, &state_file, &[]);
    let env = gcloud_env(&repo, double.port);
    let gcloud = |args: &[&str]| {
        let mut cmd = Command::new("gcloud");
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(env.iter().map(|(k, v)| (k, v)));
        crate::support::run_bounded(cmd, b"", RUN_TIMEOUT)
    };
    // What the vendor does with an empty payload.
    let create = [
        "secrets",
        "create",
        "--data-file=-",
        "--project=vsync-test",
        "--",
        "E",
    ];
    let out = gcloud(&create);
    assert!(out.status.success(), "{}", show(&out));
    let values = gcp_values(&read_json(&state_file), "vsync-test");
    assert_eq!(
        values["E"],
        Vec::<Vec<u8>>::new(),
        "created without a version"
    );
    let add = [
        "secrets",
        "versions",
        "add",
        "--data-file=-",
        "--project=vsync-test",
        "--",
        "E",
    ];
    let out = gcloud(&add);
    assert!(
        !out.status.success(),
        "an empty version was added: {}",
        show(&out)
    );
    let values = gcp_values(&read_json(&state_file), "vsync-test");
    assert_eq!(values["E"], Vec::<Vec<u8>>::new());

    fs::write(repo.path("infra/vault/dev/.env.dev"), "A=a-1\nEMPTY=\n").unwrap();
    let out = repo.vsync(&["sync", "dev", "gcp", "--gcp-project=vsync-test"], &env);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("EMPTY (line 2): the value is empty")
            && stderr.contains("--exclude-property=EMPTY"),
        "{}",
        show(&out)
    );
    let values = gcp_values(&read_json(&state_file), "vsync-test");
    assert!(
        !values.contains_key("EMPTY") && !values.contains_key("A"),
        "nothing pushed"
    );
}

/// GitHub upper-cases secret names and compares them without case: `--keep='legacy_*'`
/// spares `LEGACY_X` through the real gh.
#[test]
fn gh_keep_spares_names_without_case_through_the_real_gh_cli() {
    let Some((repo, _double, state_file, env)) = gh_repo() else {
        return;
    };
    let sync = |extra: &[&str]| gh_sync(&repo, &env, extra);
    fs::write(
        repo.path("infra/vault/dev/.env.dev"),
        "A=a-1\nlegacy_x=l-1\nOLD=old-1\n",
    )
    .unwrap();
    assert_synced(&sync(&[]), 3, "gh");
    fs::write(repo.path("infra/vault/dev/.env.dev"), "A=a-1\n").unwrap();
    let out = sync(&["--prune", "--keep=legacy_*"]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        stdout_of(&out).contains("  kept (--keep): LEGACY_X\n"),
        "{}",
        show(&out)
    );
    let got = gh_values(&read_json(&state_file), "acme/api", "dev");
    assert_eq!(
        got.keys().cloned().collect::<Vec<_>>(),
        ["A", "LEGACY_X"],
        "OLD pruned, LEGACY_X kept"
    );
}

/// A `String` parameter holding the file's value is plain text, not what a sync leaves:
/// through the real aws CLI and moto, `--diff` shows `~` and `--skip-unchanged` rewrites it
/// as a SecureString.
#[test]
fn ssm_string_parameters_differ_and_become_secure_strings_through_the_real_aws_cli() {
    let Some(python) = prerequisites("aws", &["moto.server"]) else {
        return;
    };
    let repo = Repo::new();
    let (_moto, aws) = Aws::against_moto(&python, &repo, "AWS_ENDPOINT_URL_SSM");
    let sync = |extra: &[&str]| {
        let mut args = vec![
            "sync",
            "dev",
            "ssm",
            "--ssm-region=us-east-1",
            "--ssm-prefix=/myapp/dev/",
        ];
        args.extend(extra);
        repo.vsync(&args, &aws.env)
    };
    fs::write(repo.path("infra/vault/dev/.env.dev"), "A=a-1\nB=b-1\n").unwrap();
    assert_synced(&sync(&[]), 2, "ssm");
    aws.json(&[
        "ssm",
        "put-parameter",
        "--name=/myapp/dev/B",
        "--type=String",
        "--value=b-1",
        "--overwrite",
    ]);
    let out = sync(&["--diff"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert_eq!(stdout_of(&out), "= A\n~ B\n", "{}", show(&out));
    let out = sync(&["--skip-unchanged"]);
    assert!(out.status.success(), "{}", show(&out));
    let b = aws.json(&[
        "ssm",
        "get-parameter",
        "--name=/myapp/dev/B",
        "--with-decryption",
    ]);
    assert_eq!(b["Parameter"]["Type"], "SecureString", "{b:#}");
    assert_eq!(b["Parameter"]["Value"], "b-1");
    let out = sync(&["--diff"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
}
