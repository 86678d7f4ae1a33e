//! Knowing what is on the target, on all six: `--diff` (read, print, change nothing),
//! `--skip-unchanged` (no new version for a value already stored, with the fewest reads each
//! CLI allows), `--prune` (delete what vsync owns and the file no longer defines, only after
//! every write succeeded), `--json`, and a write-only identity's permission errors.

use crate::support::{Output, Test, gh_scope};
use serde_json::Value;

/// One target as these tests drive it.
#[derive(Clone, Copy, Debug)]
pub(super) struct T {
    pub(super) target: &'static str,
    pub(super) bin: &'static str,
    pub(super) routing: &'static [&'static str],
    /// Store service and scope of the fake.
    pub(super) service: &'static str,
    pub(super) scope: &'static str,
    /// Prepended to a key to name the secret.
    pub(super) prefix: &'static str,
}

const GH: T = T {
    target: "gh",
    bin: "gh",
    routing: &["--gh-repo=acme/api"],
    service: "gh",
    scope: "",
    prefix: "",
};
const GCP: T = T {
    target: "gcp",
    bin: "gcloud",
    routing: &["--gcp-project=acme-dev"],
    service: "gcp",
    scope: "acme-dev",
    prefix: "",
};
pub(super) const AWS: T = T {
    target: "aws",
    bin: "aws",
    routing: &["--aws-region=eu-west-1", "--aws-secret-prefix=app/dev/"],
    service: "aws",
    scope: "eu-west-1",
    prefix: "app/dev/",
};
pub(super) const AZURE: T = T {
    target: "azure",
    bin: "az",
    routing: &["--azure-vault=acme-kv"],
    service: "azure",
    scope: "acme-kv",
    prefix: "",
};
const VAULT: T = T {
    target: "vault",
    bin: "vault",
    routing: &[
        "--vault-addr=http://127.0.0.1:8200",
        "--vault-mount=secret",
        "--vault-path=api/dev",
    ],
    service: "vault",
    scope: "secret",
    prefix: "",
};
const SSM: T = T {
    target: "ssm",
    bin: "aws",
    routing: &["--ssm-region=eu-west-1", "--ssm-prefix=/app/dev/"],
    service: "ssm",
    scope: "eu-west-1",
    prefix: "/app/dev/",
};

const ALL: [T; 6] = [GH, GCP, AWS, AZURE, VAULT, SSM];

impl T {
    pub(super) fn args(&self, extra: &[&str]) -> Vec<String> {
        ["sync", "dev", self.target]
            .iter()
            .chain(self.routing)
            .chain(extra)
            .map(|s| s.to_string())
            .collect()
    }

    pub(super) fn name(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    fn store_scope(&self) -> String {
        if self.target == "gh" {
            gh_scope("acme/api", "dev")
        } else {
            self.scope.to_string()
        }
    }

    /// How many versions the target holds for a key (vault: of its one document).
    fn versions(&self, t: &Test, key: &str) -> usize {
        if self.target == "vault" {
            return t.vault_docs("secret", "api/dev").len();
        }
        t.versions(self.service, &self.store_scope(), &self.name(key))
            .len()
    }

    /// Whether the key's secret exists on the target.
    fn has(&self, t: &Test, key: &str) -> bool {
        if self.target == "vault" {
            return t
                .vault_doc("secret", "api/dev")
                .is_some_and(|d| d.contains_key(key));
        }
        t.exists(self.service, &self.store_scope(), &self.name(key))
    }

    /// What `- NAME` names for a key.
    fn shown(&self, key: &str) -> String {
        self.name(key)
    }
}

fn env_text(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(k, v)| format!("{k}={v}\n")).collect()
}

/// A test with `pairs` already synced to `t` by a plain sync.
fn seeded(t: T, pairs: &[(&str, &str)]) -> Test {
    let mut test = Test::new()
        .env_file("dev", &env_text(pairs))
        .args(t.args(&[]));
    test.run().success();
    test
}

fn rerun(test: &mut Test, t: T, pairs: &[(&str, &str)], extra: &[&str]) -> Output {
    std::fs::write(
        test.root().join("infra/vault/dev/.env.dev"),
        env_text(pairs),
    )
    .unwrap();
    let calls_before = test.calls().len();
    let out = test.run_again(t.args(extra));
    let _ = calls_before;
    out
}

/// Calls made after the first `skip` ones.
fn calls_since(test: &Test, skip: usize) -> Vec<crate::support::Call> {
    test.calls().into_iter().skip(skip).collect()
}

fn is_write(call: &crate::support::Call) -> bool {
    let a: Vec<&str> = call.argv.iter().map(String::as_str).collect();
    matches!(
        a.as_slice(),
        ["secret", "set", ..]
            | ["secrets", "create", ..]
            | ["secrets", "versions", "add", ..]
            | ["secretsmanager", "put-secret-value", ..]
            | ["secretsmanager", "create-secret", ..]
            | ["keyvault", "secret", "set", ..]
            | ["kv", "put", ..]
            | ["ssm", "put-parameter", ..]
    )
}

fn is_delete(call: &crate::support::Call) -> bool {
    call.argv
        .iter()
        .any(|a| matches!(a.as_str(), "delete" | "delete-secret" | "delete-parameters"))
}

const SEED: &[(&str, &str)] = &[("ALPHA", "one-1"), ("BETA", "two-2"), ("OLD", "gone-9")];
const NOW: &[(&str, &str)] = &[
    ("ALPHA", "one-1"),
    ("BETA", "two-CHANGED"),
    ("GAMMA", "new-3"),
];

#[test]
fn diff_marks_every_key_lists_what_prune_would_delete_and_changes_nothing() {
    for t in ALL {
        let mut test = seeded(t, SEED);
        let before = test.calls().len();
        let config_before = std::fs::read(test.config_path("dev")).ok();
        let out = rerun(&mut test, t, NOW, &["--diff"]);
        out.failure(2);
        let unknown = if t.target == "gh" { '?' } else { '=' };
        let changed = if t.target == "gh" { '?' } else { '~' };
        let expected = format!(
            "{unknown} ALPHA\n{changed} BETA\n+ GAMMA\n- {}\n",
            t.shown("OLD")
        );
        assert_eq!(out.stdout, expected, "{t:?}\n{}", out.stderr);
        for secret in ["one-1", "two-2", "two-CHANGED", "gone-9", "new-3"] {
            assert!(
                !out.stdout.contains(secret) && !out.stderr.contains(secret),
                "{t:?}"
            );
        }
        let calls = calls_since(&test, before);
        assert!(!calls.is_empty(), "{t:?}: --diff read nothing");
        assert!(
            calls.iter().all(|c| !is_write(c) && !is_delete(c)),
            "{t:?}: --diff wrote: {:?}",
            calls.iter().map(|c| c.line()).collect::<Vec<_>>()
        );
        assert_eq!(std::fs::read(test.config_path("dev")).ok(), config_before);
        assert!(!t.has(&test, "GAMMA") && t.has(&test, "OLD"), "{t:?}");
    }
}

#[test]
fn diff_exits_0_when_everything_is_the_same_except_where_values_cannot_be_read() {
    for t in ALL {
        let mut test = seeded(t, SEED);
        let out = rerun(&mut test, t, SEED, &["--diff"]);
        if t.target == "gh" {
            out.failure(2).stdout_is("? ALPHA\n? BETA\n? OLD\n");
            out.stderr_has("gh cannot read secret values back");
        } else {
            out.success().stdout_is("= ALPHA\n= BETA\n= OLD\n");
        }
    }
}

#[test]
fn diff_compares_what_the_cli_would_store_crlf_included() {
    // aws, ssm and az read values as text: `\r\n` is stored as `\n`, so it is the same value.
    for t in [AWS, SSM, AZURE] {
        let mut test = Test::new()
            .file("infra/vault/dev/.env.dev", "ML=\"a\r\nb\"\n")
            .args(t.args(&[]));
        test.run().success();
        test.run_again(t.args(&["--diff"]))
            .success()
            .stdout_is("= ML\n");
    }
}

#[test]
fn a_gcp_value_that_is_not_utf8_reads_back_as_the_same_bytes() {
    // gcloud prints a payload as text unless asked for JSON, which would turn these bytes into
    // U+FFFD and make an unchanged binary secret look changed.
    let mut test = Test::new()
        .env_file("dev", "KEY_PATH=key.bin\n")
        .file("infra/vault/dev/key.bin", b"\x00\xff\xfe binary\n")
        .args(GCP.args(&["--inline-file-suffix=_PATH"]));
    test.run().success();
    test.run_again(GCP.args(&["--inline-file-suffix=_PATH", "--diff"]))
        .success()
        .stdout_is("= KEY\n");
}

#[test]
fn skip_unchanged_writes_nothing_again_and_reads_with_the_fewest_calls() {
    const N: usize = 25;
    let keys: Vec<String> = (0..N).map(|i| format!("K{i:02}")).collect();
    let pairs: Vec<(&str, &str)> = keys.iter().map(|k| (k.as_str(), "same-value")).collect();
    for t in ALL {
        let mut test = seeded(t, &pairs);
        let before = test.calls().len();
        let out = rerun(&mut test, t, &pairs, &["--skip-unchanged"]);
        out.success();
        let calls = calls_since(&test, before);
        let writes = calls.iter().filter(|c| is_write(c)).count();
        let expected_reads = match t.target {
            "ssm" | "vault" => 1,
            "aws" => N.div_ceil(20),
            "gcp" | "azure" => N,
            _ => 0,
        };
        if t.target == "gh" {
            assert_eq!(writes, N, "gh writes every value");
            out.stderr_has(
                "gh cannot read secret values back: --skip-unchanged writes every value",
            );
            continue;
        }
        assert_eq!(writes, 0, "{t:?}");
        assert_eq!(
            calls.len(),
            expected_reads,
            "{t:?}: {:?}",
            calls.iter().map(|c| c.line()).collect::<Vec<_>>()
        );
        assert!(calls.iter().all(|c| c.bin == t.bin));
        out.stdout_has("= K00 (unchanged)\n")
            .stdout_lacks("Setting secret")
            .stdout_has(&format!("✅ {N} secrets synced to {} in ", t.target))
            .stdout_has(&format!("s. {N} unchanged (no new version written).\n"));
        assert_eq!(t.versions(&test, "K00"), 1, "{t:?}");
    }
}

#[test]
fn skip_unchanged_writes_only_new_and_changed_values() {
    for t in ALL {
        let mut test = seeded(t, SEED);
        let before = test.calls().len();
        let out = rerun(&mut test, t, NOW, &["--skip-unchanged"]);
        out.success();
        if t.target == "gh" {
            continue;
        }
        // The read said what exists: each write right the first time, and no list call but
        // where the list shows which written secrets lack vsync's ownership marks (gcp, aws).
        let calls = calls_since(&test, before);
        let lists = calls
            .iter()
            .filter(|c| c.argv.iter().any(|a| a == "list" || a == "list-secrets"))
            .count();
        let marks = matches!(t.target, "gcp" | "aws");
        assert_eq!(lists, usize::from(marks), "{t:?}");
        let writes: Vec<_> = calls.iter().filter(|c| is_write(c)).collect();
        let expected = if t.target == "vault" { 1 } else { 2 };
        assert_eq!(writes.len(), expected, "{t:?}");
        assert!(writes.iter().all(|c| c.exit == Some(0)), "{t:?}");
        if t.target == "vault" {
            // One document: any change writes all of it.
            out.stdout_lacks("(unchanged)");
            assert_eq!(t.versions(&test, "ALPHA"), 2);
            let doc = test.vault_doc("secret", "api/dev").unwrap();
            assert_eq!(doc["BETA"], "two-CHANGED");
            continue;
        }
        out.stdout_has("= ALPHA (unchanged)\n")
            .stdout_lacks("Setting secret: ALPHA")
            .stdout_has("Setting secret: BETA")
            .stdout_has("Setting secret: GAMMA");
        assert_eq!(t.versions(&test, "ALPHA"), 1, "{t:?}");
        assert_eq!(t.versions(&test, "BETA"), 2, "{t:?}");
        assert_eq!(t.versions(&test, "GAMMA"), 1, "{t:?}");
    }
}

#[test]
fn a_plain_sync_prints_what_it_always_printed() {
    for t in [GCP, VAULT] {
        let mut test = seeded(t, SEED);
        let out = rerun(&mut test, t, SEED, &[]);
        out.success()
            .stdout_lacks("unchanged")
            .stdout_has("✓ ALPHA\n");
    }
}

#[test]
fn prune_deletes_what_vsync_owns_and_the_file_no_longer_defines() {
    for t in ALL {
        let mut test = seeded(t, &[("ALPHA", "1-a"), ("OLD", "9-z"), ("KEEPME", "8-y")]);
        let before = test.calls().len();
        let out = rerun(
            &mut test,
            t,
            &[("ALPHA", "1-a")],
            &["--prune", "--keep=KEEP*"],
        );
        out.success();
        assert!(t.has(&test, "ALPHA"), "{t:?}");
        if t.target == "vault" {
            out.stdout_has("--prune: vault writes the whole document at once");
            assert!(!t.has(&test, "OLD"));
            continue;
        }
        assert!(
            !t.has(&test, "OLD"),
            "{t:?}: {}\n{}",
            out.stdout,
            out.stderr
        );
        assert!(t.has(&test, "KEEPME"), "{t:?}");
        out.stdout_has(&format!("✓ deleted {}\n", t.name("OLD")))
            .stdout_has(&format!("  kept (--keep): {}\n", t.name("KEEPME")));
        let deletes = calls_since(&test, before)
            .into_iter()
            .filter(is_delete)
            .count();
        assert_eq!(deletes, 1, "{t:?}");
    }
}

#[test]
fn prune_leaves_secrets_vsync_did_not_create_on_gcp_and_azure() {
    let mut gcp = seeded(GCP, &[("ALPHA", "1")]);
    gcp.vendor(
        "gcloud",
        [
            "secrets",
            "create",
            "--data-file=-",
            "--project=acme-dev",
            "--",
            "FOREIGN",
        ],
        "x",
    )
    .success();
    rerun(&mut gcp, GCP, &[("ALPHA", "1")], &["--prune"])
        .success()
        .stdout_has("Nothing to prune.");
    assert!(gcp.exists("gcp", "acme-dev", "FOREIGN"));

    let mut az = seeded(AZURE, &[("ALPHA", "1")]);
    az.vendor(
        "az",
        [
            "keyvault",
            "secret",
            "set",
            "--vault-name=acme-kv",
            "--name=FOREIGN",
            "--value=x",
            "-o",
            "none",
        ],
        "",
    )
    .success();
    rerun(&mut az, AZURE, &[("ALPHA", "1")], &["--prune"])
        .success()
        .stdout_has("Nothing to prune.");
    assert!(az.exists("azure", "acme-kv", "FOREIGN"));
}

#[test]
fn prune_is_refused_without_a_prefix_before_anything_is_written() {
    for (t, routing) in [
        (AWS, &["--aws-region=eu-west-1"][..]),
        (SSM, &["--ssm-region=eu-west-1"][..]),
    ] {
        let mut args: Vec<String> = ["sync", "dev", t.target]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.extend(routing.iter().map(|s| s.to_string()));
        args.push("--prune".into());
        let mut test = Test::new().env_file("dev", "ALPHA=1\n").args(args);
        test.run().failure(1).stderr_has("--prune needs");
        assert!(test.calls().is_empty(), "{t:?}");
    }
}

#[test]
fn prune_never_runs_after_a_failed_write() {
    for t in [GH, AWS, SSM, GCP, AZURE] {
        let test = seeded(t, &[("ALPHA", "1"), ("OLD", "9")]);
        std::fs::write(test.root().join("infra/vault/dev/.env.dev"), "ALPHA=2\n").unwrap();
        let name = t.name("ALPHA");
        let mut test = test
            .env("FAKE_FAIL_KEYS", &name)
            .env("VSYNC_RETRY_BASE_MS", "1");
        let out = test.run_again(t.args(&["--prune"]));
        out.failure(1)
            .stderr_has("not pruning: not every secret was synced");
        assert!(t.has(&test, "OLD"), "{t:?}");
    }
}

#[test]
fn json_is_one_document_with_a_status_per_key() {
    for t in ALL {
        let mut test = seeded(t, SEED);
        let out = rerun(&mut test, t, NOW, &["--skip-unchanged", "--json"]);
        out.success();
        let doc: Value = serde_json::from_str(&out.stdout).expect("stdout is one JSON document");
        assert_eq!(doc["schema"], 1);
        assert_eq!(doc["mode"], "sync");
        assert_eq!(doc["target"], t.target);
        assert_eq!(doc["env"], "dev");
        assert_eq!(doc["exit"], 0);
        assert!(doc["scope"].as_str().unwrap().contains('='));
        assert!(doc["duration_ms"].is_u64());
        let keys = doc["keys"].as_array().unwrap();
        let status = |k: &str| {
            keys.iter()
                .find(|e| e["key"] == k)
                .map(|e| e["status"].as_str().unwrap().to_string())
                .unwrap()
        };
        let entry = keys.iter().find(|e| e["key"] == "BETA").unwrap();
        assert_eq!(entry["name"], t.name("BETA"));
        assert!(entry["error"].is_null());
        match t.target {
            "gh" => {
                assert_eq!(status("ALPHA"), "written");
                assert_eq!(status("GAMMA"), "written");
            }
            "vault" => {
                assert_eq!(status("ALPHA"), "updated");
                assert_eq!(status("GAMMA"), "created");
            }
            _ => {
                assert_eq!(status("ALPHA"), "unchanged");
                assert_eq!(status("BETA"), "updated");
                assert_eq!(status("GAMMA"), "created");
                assert_eq!(entry["attempts"], 1);
            }
        }
        assert!(!out.stdout.contains("two-CHANGED"));
    }
}

#[test]
fn json_works_with_diff_and_dry_run_and_reports_failures_scrubbed() {
    let mut test = seeded(AWS, SEED);
    let out = rerun(&mut test, AWS, NOW, &["--diff", "--json"]);
    out.failure(2);
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["mode"], "diff");
    assert_eq!(doc["exit"], 2);
    let statuses: Vec<(String, String)> = doc["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_string(),
                e["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("app/dev/ALPHA".to_string(), "unchanged".to_string()),
            ("app/dev/BETA".into(), "update".into()),
            ("app/dev/GAMMA".into(), "create".into()),
            ("app/dev/OLD".into(), "delete".into()),
        ]
    );

    let out = rerun(&mut test, AWS, NOW, &["--dry-run", "--json"]);
    let doc: Value = serde_json::from_str(&out.success().stdout).unwrap();
    assert_eq!(doc["mode"], "dry_run");
    assert_eq!(doc["keys"][0]["status"], "planned");

    std::fs::write(
        test.root().join("infra/vault/dev/.env.dev"),
        "BETA=hunter22-secret\n",
    )
    .unwrap();
    let mut test = test
        .env("FAKE_FAIL_KEYS", "app/dev/BETA")
        .env("FAKE_ECHO_STDIN_ON_FAIL", "1");
    let out = test.run_again(AWS.args(&["--json"]));
    out.failure(1);
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["keys"][0]["status"], "failed");
    assert_eq!(doc["exit"], 1);
    let error = doc["keys"][0]["error"].as_str().unwrap();
    assert!(
        error.contains("AccessDeniedException") && !error.contains("hunter22"),
        "{error}"
    );
}

#[test]
fn a_write_only_identity_falls_back_to_writing_and_diff_names_the_permission() {
    let permission = [
        (GCP, "secretmanager.versions.access"),
        (AWS, "secretsmanager:BatchGetSecretValue"),
        (AZURE, "secrets get"),
        (VAULT, "the read capability"),
        (SSM, "ssm:GetParametersByPath"),
    ];
    for (t, needed) in permission {
        let mut test = seeded(t, SEED).env("FAKE_DENY_READ", "1");
        let out = test.run_again(t.args(&["--skip-unchanged"]));
        out.success();
        assert_eq!(
            out.stderr
                .matches("--skip-unchanged could not read values")
                .count(),
            1,
            "{t:?}: {}",
            out.stderr
        );
        out.stderr_has(needed);
        assert_eq!(t.versions(&test, "ALPHA"), 2, "{t:?}: written again");

        let out = test.run_again(t.args(&["--diff"]));
        out.failure(1)
            .stderr_has("--diff cannot read values")
            .stderr_has(needed);
        assert_eq!(out.stdout, "", "{t:?}");
    }
}

#[test]
fn excluded_keys_are_still_the_files_and_are_never_pruned() {
    for t in [GH, AWS, SSM, GCP, AZURE] {
        let mut test = seeded(t, &[("ALPHA", "1"), ("SKIPPED", "2"), ("OLD", "3")]);
        let out = rerun(
            &mut test,
            t,
            &[("ALPHA", "1"), ("SKIPPED", "2")],
            &["--exclude-property=SKIPPED", "--prune", "--json"],
        );
        out.success();
        let doc: Value = serde_json::from_str(&out.stdout).unwrap();
        let statuses: Vec<(String, String)> = doc["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["key"].as_str().unwrap().to_string(),
                    e["status"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        // Without --skip-unchanged nothing was read: created or updated is unknown.
        let written = "written";
        assert_eq!(
            statuses,
            [
                ("ALPHA".to_string(), written.to_string()),
                ("SKIPPED".into(), "excluded".into()),
                ("OLD".into(), "deleted".into()),
            ],
            "{t:?}"
        );
        assert!(t.has(&test, "SKIPPED") && !t.has(&test, "OLD"), "{t:?}");
    }
}

#[test]
fn ssm_names_that_are_not_a_path_are_read_ten_a_call() {
    let t = T {
        routing: &["--ssm-region=eu-west-1"],
        prefix: "",
        ..SSM
    };
    let keys: Vec<String> = (0..11).map(|i| format!("K{i:02}")).collect();
    let pairs: Vec<(&str, &str)> = keys.iter().map(|k| (k.as_str(), "v")).collect();
    let mut test = seeded(t, &pairs);
    let before = test.calls().len();
    rerun(&mut test, t, &pairs, &["--skip-unchanged"]).success();
    let calls = calls_since(&test, before);
    assert_eq!(calls.len(), 2);
    assert!(calls.iter().all(|c| c.argv[1] == "get-parameters"));
    test.run_again(t.args(&["--diff"]))
        .success()
        .stderr_has("no `-` lines: ssm: --prune needs an --ssm-prefix");
}

#[test]
fn diff_leaves_out_names_kept_by_keep() {
    let mut test = seeded(AWS, SEED);
    rerun(&mut test, AWS, NOW, &["--diff", "--keep=OL?"])
        .failure(2)
        .stdout_is("= ALPHA\n~ BETA\n+ GAMMA\n");
}

// ----- the real aws-cli against moto -------------------------------------------------------

/// The real `aws` program (a pyenv shim resolved to what it runs), or why not.
pub(super) fn real_aws() -> Result<std::path::PathBuf, String> {
    let found = std::process::Command::new("sh")
        .args(["-c", "command -v aws"])
        .output()
        .map_err(|e| e.to_string())?;
    let path = String::from_utf8_lossy(&found.stdout).trim().to_string();
    if path.is_empty() {
        return Err("aws not on PATH".into());
    }
    if !path.contains("/shims/") {
        return Ok(path.into());
    }
    let which = std::process::Command::new("pyenv")
        .args(["which", "aws"])
        .output()
        .map_err(|e| format!("resolving the pyenv shim {path}: {e}"))?;
    Ok(String::from_utf8_lossy(&which.stdout).trim().into())
}

/// moto's server on a free port, killed on drop.
pub(super) struct Moto {
    child: std::process::Child,
    pub(super) port: u16,
}

impl Moto {
    pub(super) fn start() -> Result<Moto, String> {
        use std::io::BufRead;
        // As the tests in tests/real find it: the variable, else the venv that
        // .ci/install-test-deps makes.
        let python = std::env::var_os("VSYNC_TEST_PYTHON")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-venv/bin/python")
            });
        let mut child = std::process::Command::new(python)
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", "0"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?;
        let stderr = child.stderr.take().ok_or("no stderr")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                let port = line
                    .split("Running on http://127.0.0.1:")
                    .nth(1)
                    .and_then(|p| p.trim().parse::<u16>().ok());
                if let Some(port) = port {
                    let _ = tx.send(port);
                }
            }
        });
        match rx.recv_timeout(std::time::Duration::from_secs(30)) {
            Ok(port) => Ok(Moto { child, port }),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                Err("moto reported no port (is moto[server] installed?)".into())
            }
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `test` with the real `aws` in place of the fake, pointed at moto's `endpoint` for Secrets
/// Manager and SSM with dummy credentials (never the developer's `~/.aws`).
pub(super) fn with_real_aws(test: Test, aws: &std::path::Path, endpoint: &str) -> Test {
    let test = test
        .without_fake("aws")
        .env("AWS_ENDPOINT_URL_SECRETS_MANAGER", endpoint)
        .env("AWS_ENDPOINT_URL_SSM", endpoint)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_CONFIG_FILE", "/nonexistent/aws-config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/aws-credentials",
        );
    let bin = test.root().parent().unwrap().join("bin/aws");
    std::os::unix::fs::symlink(aws, &bin).unwrap();
    test
}

/// Skips with a reason on a developer machine; fails under CI.
pub(super) fn skip(reason: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("CI is set, so this real-CLI test must run, but: {reason}");
    }
    eprintln!("SKIP: {reason}");
}

/// Real aws-cli 1.x against moto, for aws and ssm: `batch-get-secret-value`,
/// `get-parameters-by-path`, `delete-secret` and `delete-parameters` as vsync runs them, and
/// the output shapes the fakes copy.
#[test]
fn real_aws_cli_and_moto_diff_skip_and_prune_as_the_fakes_do() {
    let (aws, moto) = match (real_aws(), Moto::start()) {
        (Ok(aws), Ok(moto)) => (aws, moto),
        (Err(e), _) | (_, Err(e)) => return skip(&e),
    };
    let endpoint = format!("http://127.0.0.1:{}", moto.port);
    for t in [AWS, SSM] {
        let t = T {
            routing: if t.target == "aws" {
                &["--aws-region=us-east-1", "--aws-secret-prefix=app/dev/"]
            } else {
                &["--ssm-region=us-east-1", "--ssm-prefix=/app/dev/"]
            },
            ..t
        };
        let mut test = with_real_aws(Test::new(), &aws, &endpoint)
            .env_file("dev", &env_text(SEED))
            .args(t.args(&[]));
        test.run().success();
        rerun(&mut test, t, NOW, &["--diff"])
            .failure(2)
            .stdout_is(&format!("= ALPHA\n~ BETA\n+ GAMMA\n- {}\n", t.name("OLD")));
        rerun(&mut test, t, NOW, &["--skip-unchanged", "--prune"])
            .success()
            .stdout_has("= ALPHA (unchanged)\n")
            .stdout_lacks("Setting secret: ALPHA")
            .stdout_has(&format!("✓ deleted {}\n", t.name("OLD")));
        rerun(&mut test, t, NOW, &["--diff"])
            .success()
            .stdout_is("= ALPHA\n= BETA\n= GAMMA\n");
    }
}

#[test]
fn values_read_back_are_scrubbed_from_vendor_errors_too() {
    let test = seeded(AWS, &[("ALPHA", "old-s3cr3t-value")]);
    std::fs::write(
        test.root().join("infra/vault/dev/.env.dev"),
        "ALPHA=new-s3cr3t-value\n",
    )
    .unwrap();
    let mut test = test
        .env("FAKE_FAIL_KEYS", "app/dev/ALPHA")
        .env("FAKE_ECHO_STORED_ON_FAIL", "1")
        .env("FAKE_ECHO_STDIN_ON_FAIL", "1");
    let out = test.run_again(AWS.args(&["--skip-unchanged", "--json"]));
    out.failure(1)
        .stderr_has("current value: ***")
        .stderr_lacks("old-s3cr3t")
        .stderr_lacks("new-s3cr3t");
    assert!(!out.stdout.contains("s3cr3t"), "{}", out.stdout);
}

/// `--keep` compares as the target compares names: GitHub upper-cases them, and Azure with
/// `--azure-names=dashes` stores the env file's `LEGACY_DB` as `LEGACY-DB`.
#[test]
fn keep_spares_names_as_the_target_spells_and_compares_them() {
    let mut test = seeded(GH, &[("ALPHA", "1-a"), ("LEGACY_X", "8-y"), ("OLD", "9")]);
    rerun(
        &mut test,
        GH,
        &[("ALPHA", "1-a")],
        &["--prune", "--keep=legacy_*"],
    )
    .success()
    .stdout_has("  kept (--keep): LEGACY_X\n")
    .stdout_has("✓ deleted OLD\n");
    assert!(GH.has(&test, "LEGACY_X"));
    assert!(!GH.has(&test, "OLD"));

    const DASHES: T = T {
        routing: &["--azure-vault=acme-kv", "--azure-names=dashes"],
        ..AZURE
    };
    let mut test = seeded(
        DASHES,
        &[("ALPHA", "1-a"), ("LEGACY_DB", "8-y"), ("OLD_X", "9")],
    );
    rerun(
        &mut test,
        DASHES,
        &[("ALPHA", "1-a")],
        &["--prune", "--keep=LEGACY_*"],
    )
    .success()
    .stdout_has("  kept (--keep): LEGACY-DB\n")
    .stdout_has("✓ deleted OLD-X\n");
    assert!(test.exists("azure", "acme-kv", "LEGACY-DB"));
    assert!(!test.exists("azure", "acme-kv", "OLD-X"));
}

/// `--keep` only protects from deletion: without `--prune` or `--diff` a run that deletes
/// nothing says it has no effect.
#[test]
fn keep_without_prune_or_diff_warns_that_it_does_nothing() {
    let mut test = seeded(GCP, &[("ALPHA", "1-a")]);
    rerun(&mut test, GCP, &[("ALPHA", "1-a")], &["--keep=OLD_*"])
        .success()
        .stderr_has("warning: --keep has no effect without --prune or --diff");
    rerun(
        &mut test,
        GCP,
        &[("ALPHA", "1-a")],
        &["--keep=OLD_*", "--prune"],
    )
    .success()
    .stderr_lacks("--keep has no effect");
    rerun(
        &mut test,
        GCP,
        &[("ALPHA", "1-a")],
        &["--keep=OLD_*", "--diff"],
    )
    .stderr_lacks("--keep has no effect");
}

/// A `String` parameter holding the file's value is still plain text: `--diff` shows `~`,
/// `--skip-unchanged` rewrites it as a SecureString, and where the store refuses the type
/// change in place (as AWS documents) the key fails saying what to do.
#[test]
fn an_ssm_string_parameter_differs_and_is_rewritten_as_a_secure_string() {
    let mut test = seeded(SSM, &[("ALPHA", "1-a")]);
    let plain = |test: &Test, key: &str, value: &str| {
        test.vendor(
            "aws",
            [
                "ssm",
                "put-parameter",
                &format!("--name=/app/dev/{key}"),
                "--type=String",
                &format!("--value={value}"),
                "--region=eu-west-1",
            ],
            "",
        )
        .success();
    };
    let type_of = |test: &Test, key: &str| {
        let dir = test
            .fake_dir()
            .join("store/ssm/eu-west-1")
            .join(crate::support::escape(&format!("/app/dev/{key}")));
        std::fs::read_to_string(dir.join("type")).unwrap()
    };
    plain(&test, "BETA", "2-b");
    let now = [("ALPHA", "1-a"), ("BETA", "2-b")];
    let out = rerun(&mut test, SSM, &now, &["--diff"]);
    out.failure(2);
    assert_eq!(out.stdout, "= ALPHA\n~ BETA\n", "{}", out.stderr);
    rerun(&mut test, SSM, &now, &["--skip-unchanged"])
        .success()
        .stdout_has("= ALPHA (unchanged)\n")
        .stdout_has("✓ BETA\n");
    assert_eq!(type_of(&test, "BETA"), "SecureString");
    assert_eq!(SSM.versions(&test, "BETA"), 2);
    rerun(&mut test, SSM, &now, &["--diff"]).success();

    plain(&test, "GAMMA", "3-c");
    let mut test = test.env("FAKE_SSM_REFUSE_TYPE_CHANGE", "1");
    let out = rerun(&mut test, SSM, &[("GAMMA", "3-c")], &["--skip-unchanged"]);
    out.failure(1).stderr_has(
        "HierarchyTypeMismatchException) when calling the PutParameter operation: The \
         parameter type can't be changed from String to SecureString. — the parameter exists \
         with another type (String), which Parameter Store does not change in place: delete it \
         (aws ssm delete-parameter) or rename the key, then sync again",
    );
    assert_eq!(type_of(&test, "GAMMA"), "String");
}

/// Vault's write replaces the document: keys the file excludes and keys `--keep` protects
/// are read first and written back as stored, under check-and-set; the rest is dropped.
/// Without exclusions or `--keep` a sync stays one call.
#[test]
fn vault_carries_excluded_and_kept_keys_over_under_check_and_set() {
    let seed = [
        ("A", "a-1"),
        ("B", "b-stored-7"),
        ("LEGACY_TOKEN", "legacy-stored-8"),
        ("OLD", "old-9"),
    ];
    let now = [("A", "a-2"), ("B", "b-new-in-file")];
    let mut test = seeded(VAULT, &seed);
    let before = test.calls().len();
    let out = rerun(
        &mut test,
        VAULT,
        &now,
        &["--exclude-property=B", "--keep=LEGACY_*", "--json"],
    );
    out.success();
    let doc = test.vault_doc("secret", "api/dev").unwrap();
    assert_eq!(
        Value::Object(doc),
        serde_json::json!({"A": "a-2", "B": "b-stored-7", "LEGACY_TOKEN": "legacy-stored-8"})
    );
    let calls: Vec<String> = calls_since(&test, before)
        .iter()
        .map(|c| c.argv.join(" "))
        .collect();
    assert_eq!(
        calls,
        [
            "kv get -format=json -mount=secret -- api/dev",
            "kv put -cas=1 -mount=secret -- api/dev -"
        ]
    );
    let json: Value = serde_json::from_str(&out.stdout).unwrap();
    let status = |key: &str| {
        json["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["key"] == key)
            .map(|k| k["status"].as_str().unwrap().to_string())
    };
    assert_eq!(status("A").as_deref(), Some("written"));
    assert_eq!(status("B").as_deref(), Some("excluded"));
    assert_eq!(status("LEGACY_TOKEN").as_deref(), Some("kept"));
    assert_eq!(status("OLD").as_deref(), Some("deleted"));
    for secret in ["b-stored-7", "legacy-stored-8", "b-new-in-file"] {
        assert!(!out.stdout.contains(secret) && !out.stderr.contains(secret));
    }

    // --diff says what that write does: nothing left to change.
    let out = rerun(
        &mut test,
        VAULT,
        &now,
        &["--diff", "--exclude-property=B", "--keep=LEGACY_*"],
    );
    assert_eq!(out.stdout, "= A\n", "{}", out.stderr);
    out.success();

    // A plain sync with neither stays one write, and replaces the document.
    let before = test.calls().len();
    rerun(&mut test, VAULT, &[("A", "a-3")], &[]).success();
    assert_eq!(calls_since(&test, before).len(), 1);
    assert_eq!(
        Value::Object(test.vault_doc("secret", "api/dev").unwrap()),
        serde_json::json!({"A": "a-3"})
    );
}

/// A change made between the read and the write fails the run (check-and-set) and leaves
/// the document as the other writer left it; the carried values are never printed.
#[test]
fn vault_fails_rather_than_lose_a_concurrent_change() {
    let test = seeded(VAULT, &[("A", "a-1"), ("LEGACY_T", "legacy-stored-8")]);
    let mut test = test_with(
        test,
        &[
            ("FAKE_VAULT_STALE_READ", "1"),
            ("FAKE_ECHO_STDIN_ON_FAIL", "1"),
        ],
    );
    let out = rerun(&mut test, VAULT, &[("A", "a-2")], &["--keep=LEGACY_*"]);
    out.failure(1)
        .stderr_has("check-and-set parameter did not match the current version")
        .stderr_has("the document changed after vsync read it, so nothing was written");
    assert!(!out.stderr.contains("legacy-stored-8") && !out.stdout.contains("legacy-stored-8"));
    assert_eq!(test.vault_docs("secret", "api/dev").len(), 1);

    // KV v1 keeps no versions: the keys are carried without a guard, and the run says so.
    let test = seeded(VAULT, &[("A", "a-1"), ("LEGACY_T", "legacy-stored-8")]);
    let mut test = test_with(test, &[("FAKE_VAULT_KV1", "1")]);
    let before = test.calls().len();
    rerun(&mut test, VAULT, &[("A", "a-2")], &["--keep=LEGACY_*"])
        .success()
        .stderr_has("KV v1 mount, which has no check-and-set");
    assert_eq!(
        calls_since(&test, before)[1].argv.join(" "),
        "kv put -mount=secret -- api/dev -"
    );
    assert_eq!(
        Value::Object(test.vault_doc("secret", "api/dev").unwrap()),
        serde_json::json!({"A": "a-2", "LEGACY_T": "legacy-stored-8"})
    );
}

fn test_with(mut test: Test, vars: &[(&str, &str)]) -> Test {
    for (k, v) in vars {
        test = test.env(k, v);
    }
    test
}
