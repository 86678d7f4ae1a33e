//! End-to-end runs of `vsync sync <env> azure` through the REAL `az` CLI (azure-cli from
//! PyPI), offline, against `fixtures/doubles/keyvault.py`: a Key Vault double that is also the
//! HTTPS proxy az goes through and the managed-identity endpoint it takes its token from.
//!
//! How az is pointed at it, with no root, no DNS and no Azure AD (docs/azure.md says why each
//! piece is needed):
//!   * a throwaway `AZURE_CONFIG_DIR` holding a custom cloud (`clouds.config`) whose Key Vault
//!     suffix is `.vault.azure.test`, selected in `config`, and an `azureProfile.json` with one
//!     managed-identity subscription, so that no `az login` runs;
//!   * `IDENTITY_ENDPOINT`/`IDENTITY_HEADER`: the token comes from the double;
//!   * `HTTPS_PROXY` at the double, which terminates the tunnel to `kv.vault.azure.test` with
//!     its own certificate, trusted through `REQUESTS_CA_BUNDLE`.
//!
//! Verified with azure-cli 2.91.0 (azure-keyvault-secrets 4.7.0, msal 1.39.0), Python 3.11,
//! Debian bookworm, 2026-12.
//!
//! Needs: `.ci/install-test-deps` (azure-cli and cryptography in the test venv) and
//! `VSYNC_TEST_PYTHON` naming that venv's python; `az` is taken from beside it, else from
//! PATH. Without them a test prints `SKIP: …` and passes, unless `CI` is set.

use crate::common::{
    Server, double_port, find_on_path, manifest_dir, requests_where, show, skip, test_python,
};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

const RUN_TIMEOUT: Duration = Duration::from_secs(120);
const VAULT: &str = "kv";

fn stdout_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The real az: the test venv's (where `.ci/install-test-deps` puts it), else the one on
/// PATH. Debian's az 2.45 cannot run keyvault commands, so the venv's comes first.
fn find_az(python: &Path) -> Option<PathBuf> {
    let beside = python.with_file_name("az");
    if beside.is_file() {
        return Some(beside);
    }
    find_on_path("az")
}

/// A repository, the double, and the environment that sends az to it.
struct Kv {
    dir: tempfile::TempDir,
    double: Server,
    env: Vec<(&'static str, OsString)>,
}

impl Kv {
    /// None (after a SKIP, or a panic under CI) when az or the test Python is missing.
    fn start() -> Option<Kv> {
        let python = match test_python(&["cryptography"]) {
            Ok(p) => p,
            Err(reason) => {
                skip(&reason);
                return None;
            }
        };
        let Some(az) = find_az(&python) else {
            skip("`az` neither beside the test Python nor on PATH (run .ci/install-test-deps)");
            return None;
        };
        let dir = tempfile::Builder::new()
            .prefix("vsync-real-azure")
            .tempdir()
            .unwrap();
        for sub in [".git", "infra/vault/dev", "home", "xdg", "tmp", "bin", "az"] {
            fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        // The remote that names the repository as the owner of what it syncs (`--prune`
        // refuses a repository that only a folder name identifies).
        fs::write(
            dir.path().join(".git/config"),
            "[remote \"origin\"]\n\turl = git@github.com:acme/api.git\n",
        )
        .unwrap();
        // vsync finds `az` on PATH: this directory, first.
        std::os::unix::fs::symlink(&az, dir.path().join("bin/az")).unwrap();
        let mut cmd = Command::new(&python);
        cmd.arg(manifest_dir().join("fixtures/doubles/keyvault.py"))
            .arg("--dir")
            .arg(dir.path())
            .arg("--state-file")
            .arg(dir.path().join("state.json"))
            .args(["--page-size", "2"]);
        let double = Server::start(cmd, double_port);
        write_az_config(&dir.path().join("az"));
        let url = format!("http://127.0.0.1:{}", double.port);
        let path = std::env::join_paths(std::iter::once(dir.path().join("bin")).chain(
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
        ))
        .unwrap();
        let env = vec![
            ("PATH", path),
            ("AZURE_CONFIG_DIR", dir.path().join("az").into()),
            ("HTTPS_PROXY", url.clone().into()),
            ("NO_PROXY", "127.0.0.1,localhost".into()),
            ("REQUESTS_CA_BUNDLE", dir.path().join("ca.pem").into()),
            ("IDENTITY_ENDPOINT", format!("{url}/msi/token").into()),
            ("IDENTITY_HEADER", "vsync-test".into()),
            ("AZURE_CORE_COLLECT_TELEMETRY", "false".into()),
        ];
        Some(Kv { dir, double, env })
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn env_file(&self, text: &str) {
        fs::write(self.path("infra/vault/dev/.env.dev"), text).unwrap();
    }

    fn vault_file(&self, rel: &str, bytes: &[u8]) {
        fs::write(self.path("infra/vault/dev").join(rel), bytes).unwrap();
    }

    fn clean(&self, mut cmd: Command) -> Command {
        cmd.env_clear()
            .env("HOME", self.path("home"))
            .env("XDG_CONFIG_HOME", self.path("xdg"))
            .env("TMPDIR", self.path("tmp"))
            .env("LANG", "C.UTF-8")
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// `vsync sync dev azure --azure-vault=kv` plus `extra`.
    fn sync(&self, extra: &[&str]) -> Output {
        let mut cmd = self.clean(Command::new(env!("CARGO_BIN_EXE_vsync")));
        cmd.args(["sync", "dev", "azure", &format!("--azure-vault={VAULT}")])
            .args(extra)
            .current_dir(self.dir.path());
        crate::support::run_bounded(cmd, b"", RUN_TIMEOUT)
    }

    /// The real az itself, with the same environment.
    fn az(&self, args: &[&str], stdin: &[u8]) -> Output {
        let mut cmd = self.clean(Command::new(self.path("bin/az")));
        cmd.args(args);
        crate::support::run_bounded(cmd, stdin, RUN_TIMEOUT)
    }

    fn state(&self) -> Value {
        let text = fs::read_to_string(self.path("state.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    /// name → (every version's value, tags) of the live secrets.
    fn secrets(&self) -> BTreeMap<String, (Vec<String>, Value)> {
        let state = self.state();
        let Some(secrets) = state["vaults"][VAULT]["secrets"].as_object() else {
            return BTreeMap::new();
        };
        secrets
            .iter()
            .map(|(name, s)| {
                let versions = s["versions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap().to_string())
                    .collect();
                (name.clone(), (versions, s["tags"].clone()))
            })
            .collect()
    }

    fn latest(&self) -> BTreeMap<String, String> {
        self.secrets()
            .into_iter()
            .map(|(name, (versions, _))| (name, versions.last().cloned().unwrap_or_default()))
            .collect()
    }

    fn deleted(&self) -> Vec<String> {
        let state = self.state();
        state["vaults"][VAULT]["deleted"]
            .as_object()
            .map(|d| d.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The Key Vault requests az made (`METHOD path`), those with a token only.
    fn requests(&self) -> Vec<String> {
        requests_where(&self.state(), |r| r["authorized"] == true)
    }

    /// POSTs JSON to the double's test interface (plain HTTP).
    fn post(&self, path: &str, body: &Value) {
        let body = body.to_string();
        let mut conn = std::net::TcpStream::connect(("127.0.0.1", self.double.port)).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        write!(
            conn,
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        conn.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "POST {path}: {answer}");
    }

    /// A secret someone else wrote (no owner tags), live or soft-deleted.
    fn seed(&self, name: &str, value: &str, deleted: bool) {
        self.post(
            "/__seed",
            &json!({"vault": VAULT, "name": name, "value": value, "deleted": deleted}),
        );
    }
}

/// A custom cloud whose Key Vault DNS suffix only the double answers for, made the active
/// one, and a profile that is already signed in with a system-assigned managed identity.
fn write_az_config(dir: &Path) {
    let tenant = "00000000-0000-0000-0000-0000000000a1";
    fs::write(
        dir.join("clouds.config"),
        "[VsyncTest]\n\
         endpoint_resource_manager = https://management.vault.azure.test/\n\
         endpoint_active_directory = https://login.vault.azure.test\n\
         endpoint_active_directory_resource_id = https://management.vault.azure.test/\n\
         suffix_keyvault_dns = .vault.azure.test\n",
    )
    .unwrap();
    fs::write(
        dir.join("config"),
        "[cloud]\nname = VsyncTest\n\n[core]\ncollect_telemetry = false\n",
    )
    .unwrap();
    let profile = json!({
        "installationId": "00000000-0000-0000-0000-0000000000c3",
        "subscriptions": [{
            "id": "00000000-0000-0000-0000-0000000000d4",
            "name": "vsync-test",
            "state": "Enabled",
            "user": {"name": "systemAssignedIdentity", "type": "servicePrincipal",
                     "assignedIdentityInfo": "MSI"},
            "isDefault": true,
            "tenantId": tenant,
            "homeTenantId": tenant,
            "environmentName": "VsyncTest",
            "managedByTenants": [],
        }],
    });
    fs::write(dir.join("azureProfile.json"), profile.to_string()).unwrap();
}

fn assert_synced(out: &Output, n: usize) {
    assert!(out.status.success(), "vsync failed\n{}", show(out));
    let want = format!("✅ {n} secrets synced to azure in ");
    assert!(
        stdout_of(out).lines().any(|l| l.starts_with(&want)),
        "no `{want}…` line\n{}",
        show(out)
    );
}

/// The tags every vsync write carries, az's own `file-encoding` included.
fn owned(tags: &Value) -> bool {
    tags["managed-by"] == "vsync" && tags["vsync-env"] == "dev" && tags["file-encoding"] == "utf-8"
}

// ---------------------------------------------------------------------------------------------

#[test]
fn azure_values_arrive_byte_for_byte_through_the_real_az() {
    let Some(kv) = Kv::start() else {
        return;
    };
    let pem = "-----BEGIN TEST KEY-----\nbGluZSBvbmU=\n-----END TEST KEY-----\n";
    kv.vault_file("key.pem", pem.as_bytes());
    // az reads `--file` in text mode: "\r\n" and a lone "\r" arrive as "\n".
    kv.vault_file("crlf.txt", b"one\r\ntwo\rthree\r\n");
    kv.env_file(
        "PLAIN=plain-1\n\
         DOLLAR=$HOME ${PATH} $(id) `id`\n\
         QUOTES=\"double\" 'single' a=b=c\n\
         UNICODE=héllo wörld ✓ 日本語 🙂\n\
         BACKSLASH=line one\\nline two\\n\n\
         DASH=--not-a-flag\n\
         KEY_PATH=key.pem\n\
         CRLF_PATH=crlf.txt\n",
    );
    let want1: BTreeMap<String, String> = [
        ("PLAIN", "plain-1"),
        ("DOLLAR", "$HOME ${PATH} $(id) `id`"),
        ("QUOTES", "\"double\" 'single' a=b=c"),
        ("UNICODE", "héllo wörld ✓ 日本語 🙂"),
        // No escapes in an env file: a backslash is a backslash.
        ("BACKSLASH", r"line one\nline two\n"),
        ("DASH", "--not-a-flag"),
        ("KEY", pem),
        ("CRLF", "one\ntwo\nthree\n"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let flags = ["--inline-file-suffix=_PATH"];
    let out = kv.sync(&flags);
    assert_synced(&out, want1.len());
    assert!(
        stderr_of(&out).contains("CRLF"),
        "a warning names CRLF, whose \\r az turns into \\n\n{}",
        show(&out)
    );
    assert_eq!(kv.latest(), want1, "run 1, read back from the double");
    for (name, (_, tags)) in kv.secrets() {
        assert!(owned(&tags), "{name}: {tags}");
    }
    // `-o none`: az prints nothing, though by default it prints the stored value.
    for value in want1.values() {
        assert!(!stdout_of(&out).contains(value.trim()), "{}", show(&out));
        assert!(!stderr_of(&out).contains(value.trim()), "{}", show(&out));
    }

    // Run 2: one value changes, one key is added; each write is a new version.
    kv.env_file(
        "PLAIN=plain-2\n\
         DOLLAR=$HOME ${PATH} $(id) `id`\n\
         QUOTES=\"double\" 'single' a=b=c\n\
         UNICODE=ünïcødé — second ✓ 🚀\n\
         BACKSLASH=line one\\nline two\\n\n\
         DASH=--not-a-flag\n\
         KEY_PATH=key.pem\n\
         CRLF_PATH=crlf.txt\n\
         ADDED=late=value\n",
    );
    let mut want2 = want1.clone();
    want2.insert("PLAIN".into(), "plain-2".into());
    want2.insert("UNICODE".into(), "ünïcødé — second ✓ 🚀".into());
    want2.insert("ADDED".into(), "late=value".into());
    assert_synced(&kv.sync(&flags), want2.len());
    assert_eq!(kv.latest(), want2, "run 2");
    let secrets = kv.secrets();
    assert_eq!(secrets["PLAIN"].0, ["plain-1", "plain-2"]);
    assert_eq!(secrets["ADDED"].0.len(), 1);

    // The wire: a set is `PUT /secrets/NAME`, its body the value and the tags.
    let puts: Vec<String> = kv
        .requests()
        .into_iter()
        .filter(|r| r.starts_with("PUT "))
        .collect();
    assert!(
        puts.contains(&"PUT /secrets/PLAIN?api-version=7.4".to_string()),
        "{puts:?}"
    );
}

#[test]
fn azure_names_dashes_diff_skip_unchanged_and_prune_through_the_real_az() {
    let Some(kv) = Kv::start() else {
        return;
    };
    // Someone else's secret, with no owner tags: out of --prune's scope.
    kv.seed("FOREIGN-ONE", "not-vsyncs", false);
    kv.env_file("DB_URL=a-1\nAPI_KEY=b-1\nOLD_ONE=old-1\n");
    // Exact names are refused before anything runs: Key Vault allows no `_`.
    let out = kv.sync(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        stderr_of(&out).contains("(or pass --azure-names=dashes to store each _ as -)"),
        "{}",
        show(&out)
    );
    assert_eq!(kv.requests(), Vec::<String>::new(), "nothing pushed");

    let out = kv.sync(&["--azure-names=dashes"]);
    assert_synced(&out, 3);
    assert!(
        stdout_of(&out).contains("Syncing 3 secrets to Azure Key Vault: vault=kv, names=dashes"),
        "{}",
        show(&out)
    );
    let names: Vec<String> = kv.secrets().into_keys().collect();
    assert_eq!(names, ["API-KEY", "DB-URL", "FOREIGN-ONE", "OLD-ONE"]);

    // The mapping is saved: later runs need no flag.
    let out = kv.sync(&["--diff"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "nothing differs\n{}",
        show(&out)
    );
    assert_eq!(
        stdout_of(&out),
        "= DB_URL\n= API_KEY\n= OLD_ONE\n",
        "{}",
        show(&out)
    );

    kv.env_file("DB_URL=a-2\nAPI_KEY=b-1\nNEW_ONE=new-1\n");
    let out = kv.sync(&["--diff"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert_eq!(
        stdout_of(&out),
        "~ DB_URL\n= API_KEY\n+ NEW_ONE\n- OLD-ONE\n",
        "{}",
        show(&out)
    );

    let out = kv.sync(&["--skip-unchanged", "--prune"]);
    assert!(out.status.success(), "{}", show(&out));
    let secrets = kv.secrets();
    assert_eq!(secrets["DB-URL"].0, ["a-1", "a-2"]);
    assert_eq!(secrets["API-KEY"].0, ["b-1"], "unchanged: no new version");
    assert_eq!(secrets["NEW-ONE"].0, ["new-1"]);
    assert!(!secrets.contains_key("OLD-ONE"), "{:?}", secrets.keys());
    assert_eq!(
        secrets["FOREIGN-ONE"].0,
        ["not-vsyncs"],
        "not vsync's: kept"
    );
    assert_eq!(kv.deleted(), ["OLD-ONE"], "pruned means soft-deleted");
    // The scope is one listing, paged (two per page here), tags filtered by az's --query.
    let lists = kv
        .requests()
        .into_iter()
        .filter(|r| r.starts_with("GET /secrets?"))
        .count();
    assert!(
        lists >= 3,
        "five secrets, two per page: {:?}",
        kv.requests()
    );
}

#[test]
fn a_soft_deleted_name_and_a_denied_read_through_the_real_az() {
    let Some(kv) = Kv::start() else {
        return;
    };
    kv.seed("GONE", "earlier", true);
    kv.env_file("GONE=again\nOK=fine\n");
    let out = kv.sync(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let err = stderr_of(&out);
    // Two az processes starting at once on a fresh config dir may race on its `az.sess`
    // and say so first ("Failed to load or parse file …"): the error is looked for on its own.
    // A soft-deleted secret without this repo's and env's tags: never recovered by vsync.
    assert!(
        err.contains("WARNING: skipping GONE: GONE is a soft-deleted secret that is not tagged")
            && err.contains("so vsync left it alone"),
        "{}",
        show(&out)
    );
    assert!(
        err.contains("az keyvault secret recover --vault-name kv --name GONE")
            && err.contains("az keyvault secret purge --vault-name kv --name GONE"),
        "the warning says how to free the name\n{}",
        show(&out)
    );
    assert_eq!(kv.latest()["OK"], "fine");
    assert!(!kv.latest().contains_key("GONE"));

    // Recovering, as the warning says, brings it back; the next run then writes it.
    let out = kv.az(
        &[
            "keyvault",
            "secret",
            "recover",
            "--vault-name=kv",
            "--name=GONE",
            "-o",
            "none",
        ],
        b"",
    );
    assert!(out.status.success(), "{}", show(&out));
    assert_synced(&kv.sync(&[]), 2);
    assert_eq!(kv.secrets()["GONE"].0, ["earlier", "again"]);

    // A read the identity may not make: --skip-unchanged writes anyway and says why;
    // --diff cannot answer and says so.
    kv.post("/__deny", &json!({"match": "^GET kv /secrets/OK/"}));
    let out = kv.sync(&["--skip-unchanged"]);
    assert_synced(&out, 2);
    let err = stderr_of(&out);
    assert!(
        err.contains("--skip-unchanged could not read values")
            && err.contains("ERROR: (Forbidden)")
            && err.contains("secrets get (Key Vault Secrets User)"),
        "{}",
        show(&out)
    );
    // Run 1 and the run after the recover wrote it, and this one too: it could not be
    // compared, so it was not skipped.
    assert_eq!(kv.secrets()["OK"].0, ["fine"; 3], "written, not skipped");
    let out = kv.sync(&["--diff"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        stderr_of(&out)
            .contains("--diff cannot read values from azure: the identity lacks secrets get"),
        "{}",
        show(&out)
    );
}

#[test]
fn keys_h_and_help_land_under_exactly_those_names_through_the_real_az() {
    let Some(kv) = Kv::start() else {
        return;
    };
    // Key Vault names may start with `-`: `-h` and `--help` pass pre-flight, and vsync
    // joins them to `--name=`, so az's argparse never sees them as options.
    kv.env_file("-h=dash-h-1\n--help=dash-help-1\n");
    assert_synced(&kv.sync(&[]), 2);
    kv.env_file("-h=dash-h-2\n--help=dash-help-1\n");
    let out = kv.sync(&["--diff"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert_eq!(stdout_of(&out), "~ -h\n= --help\n", "{}", show(&out));
    assert_synced(&kv.sync(&["--skip-unchanged"]), 2);
    let secrets = kv.secrets();
    assert_eq!(secrets["-h"].0, ["dash-h-1", "dash-h-2"]);
    assert_eq!(secrets["--help"].0, ["dash-help-1"]);

    // The separate-word form is what vsync must avoid: az reads `-h` as an option.
    let out = kv.az(
        &[
            "keyvault",
            "secret",
            "show",
            "--vault-name",
            "kv",
            "--name",
            "-h",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(
        stderr_of(&out).contains("argument --name/-n: expected one argument"),
        "{}",
        show(&out)
    );

    kv.env_file("--help=dash-help-1\n");
    let out = kv.sync(&["--prune"]);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(kv.deleted(), ["-h"]);
    assert!(
        kv.requests()
            .contains(&"DELETE /secrets/-h?api-version=7.4".to_string())
    );
}

// ---------------------------------------------------------------------------------------------
// The fake's `az` against the real one.

/// Exit code, stdout and stderr (trailing blanks aside): what the fake emulates.
fn answer(out: &Output) -> (Option<i32>, String, String) {
    (
        out.status.code(),
        stdout_of(out),
        stderr_of(out).trim_end().to_string(),
    )
}

#[test]
fn the_fake_az_answers_as_the_real_one_does() {
    let Some(kv) = Kv::start() else {
        return;
    };
    let t = crate::support::Test::new();
    let both = |args: &[&str], stdin: &[u8]| {
        let mut fake = t.vendor_command("az");
        fake.args(args);
        let fake = answer(&crate::support::run_bounded(fake, stdin, RUN_TIMEOUT));
        (answer(&kv.az(args, stdin)), fake)
    };
    let set = |name: &str| {
        vec![
            "keyvault".to_string(),
            "secret".into(),
            "set".into(),
            "--vault-name=kv".into(),
            format!("--name={name}"),
            "--file".into(),
            "/dev/stdin".into(),
            "--tags".into(),
            "managed-by=vsync".into(),
            "vsync-repo=r".into(),
            "vsync-env=dev".into(),
            "-o".into(),
            "none".into(),
        ]
    };
    let verb = |verb: &str, name: &str| {
        vec![
            "keyvault".to_string(),
            "secret".into(),
            verb.into(),
            "--vault-name=kv".into(),
            format!("--name={name}"),
            "-o".into(),
            "none".into(),
        ]
    };
    let check = |what: &str, args: &[String], stdin: &[u8]| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (real, fake) = both(&args, stdin);
        assert_eq!(fake, real, "{what}: az {args:?}");
        real
    };

    let ok = check("a set", &set("A-1"), b"one\r\ntwo");
    assert_eq!(ok, (Some(0), String::new(), String::new()));
    check("a name case-insensitively known", &set("a-1"), b"again");
    check("a set of -h", &set("-h"), b"h");
    check("not UTF-8", &set("bin"), b"\xff\xfe");
    check("an underscore", &set("A_1"), b"v");
    let mut show = verb("show", "missing");
    show.truncate(5);
    let (code, _, _) = check("show of a missing secret", &show, b"");
    assert_eq!(code, Some(3));
    let scope = [
        "keyvault",
        "secret",
        "list",
        "--vault-name=kv",
        "--query=[?tags.\"managed-by\"=='vsync' && tags.\"vsync-repo\"=='r' && tags.\"vsync-env\"=='dev'].name",
        "-o",
        "tsv",
    ]
    .map(String::from);
    let (_, listed, _) = check("the prune scope", &scope, b"");
    assert_eq!(listed, "-h\nA-1\n");
    check("a delete", &verb("delete", "a-1"), b"");
    check("a delete of a missing secret", &verb("delete", "nope"), b"");
    let (code, _, err) = check("a set of a soft-deleted name", &set("A-1"), b"v");
    assert_eq!(code, Some(1));
    assert!(err.contains("ObjectIsDeletedButRecoverable"), "{err}");
    check("a recover", &verb("recover", "A-1"), b"");
    check("a set after recover", &set("A-1"), b"back");
    check("a purge of a live secret", &verb("purge", "A-1"), b"");

    // Both stored the same text, with the same tags (az's own included).
    let real = kv.secrets();
    assert_eq!(real["A-1"].0, ["one\ntwo", "again", "back"]);
    assert_eq!(
        t.versions("azure", "kv", "A-1"),
        [b"one\ntwo".to_vec(), b"again".to_vec(), b"back".to_vec()]
    );
    let fake_tags: Value = serde_json::from_slice(
        &fs::read(t.fake_dir().join("store/azure/kv/A-1/tags.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(fake_tags, real["A-1"].1);
}

/// A key vsync pruned and the env file defines again: Key Vault keeps the name soft-deleted,
/// and the deleted secret carries this repo's and env's tags, so the real az shows it
/// (`show-deleted`), recovers it and writes the new value in one run. `--diff` says so first.
#[test]
fn a_pruned_key_added_back_is_recovered_through_the_real_az() {
    let Some(kv) = Kv::start() else {
        return;
    };
    kv.env_file("KEEP=k-1\nOLD=old-1\n");
    assert_synced(&kv.sync(&[]), 2);
    kv.env_file("KEEP=k-1\n");
    let out = kv.sync(&["--prune"]);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(kv.deleted(), ["OLD"], "pruned means soft-deleted");

    kv.env_file("KEEP=k-1\nOLD=old-2\n");
    let out = kv.sync(&["--diff"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(
        stdout_of(&out).contains("~ OLD (deleted by vsync: will be recovered, then written)"),
        "{}",
        show(&out)
    );
    let out = kv.sync(&[]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        stdout_of(&out).contains("✓ OLD (recovered, then written)"),
        "{}",
        show(&out)
    );
    assert!(kv.deleted().is_empty(), "{:?}", kv.deleted());
    assert_eq!(kv.secrets()["OLD"].0, ["old-1", "old-2"]);
    assert!(!stderr_of(&out).contains("old-"), "{}", show(&out));
}
