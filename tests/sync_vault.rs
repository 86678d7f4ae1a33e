//! `vsync sync <env> vault` end to end, against the fake `vault` (`fixtures/fake_vendor.rs`):
//! one `vault kv put -mount=M -- PATH -` with a JSON object of every key on stdin and
//! `VAULT_ADDR` in the child's environment (no value in argv); one atomic write, all keys or none.

mod support;

use serde_json::{Map, Value};
use support::{RICH_POLICY, Test, rich_secrets, rich_stdout};

const ADDR: &str = "http://127.0.0.1:8200";

fn abc() -> Test {
    Test::new().env_file("dev", "A=s3cr3t-a\nB=s3cr3t-b\nC=s3cr3t-c\n")
}

fn sync(t: Test) -> Test {
    t.args([
        "sync",
        "dev",
        "vault",
        "--vault-addr=http://127.0.0.1:8200",
        "--vault-mount=secret",
        "--vault-path=app/dev",
    ])
}

fn as_map(pairs: &[(&str, &str)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
        .collect()
}

#[test]
fn writes_every_value_exactly_in_one_call_and_prints_the_0_8_lines() {
    let mut t = sync(Test::new().rich("_"))
        .args(RICH_POLICY)
        .arg("--workers=1");
    let out = t.run();
    let secrets = rich_secrets("_");
    let mut body = vec!["Writing 7 keys to secret/app/dev".to_string()];
    body.extend(secrets.iter().map(|(k, _)| format!("✓ {k}")));
    out.success().stdout_is(&rich_stdout(
        "Syncing 7 secrets to HashiCorp Vault: addr=http://127.0.0.1:8200, mount=secret, path=app/dev",
        &body,
        "✅ 7 secrets synced to vault in #.#s.",
    ));
    let expected: Map<String, Value> = secrets
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    assert_eq!(t.vault_doc("secret", "app/dev"), Some(expected));
    let calls = t.calls();
    assert_eq!(calls.len(), 1, "one bulk write");
    assert_eq!(
        calls[0].argv,
        ["kv", "put", "-mount=secret", "--", "app/dev", "-"]
    );
    assert_eq!(
        calls[0].env.get("VAULT_ADDR").map(String::as_str),
        Some(ADDR)
    );
}

#[test]
fn values_travel_as_one_json_object_on_stdin_never_in_argv() {
    let mut t = sync(Test::new().rich("_")).args(RICH_POLICY);
    t.run()
        .success()
        .stdout_lacks("s3cr3t")
        .stderr_lacks("s3cr3t");
    t.assert_no_value_in_argv();
    let sent: Value = serde_json::from_slice(&t.calls()[0].stdin).expect("stdin is JSON");
    assert_eq!(
        sent["AT_SIGN"], "@s3cr3t-at",
        "an @ value is not read as a file path"
    );
}

#[test]
fn a_value_that_is_a_dash_or_starts_with_at_arrives_literally() {
    let mut t = sync(Test::new().env_file("dev", "DASH=-\nAT=@/etc/passwd\nESC=\\@x\n"));
    t.run().success();
    assert_eq!(
        t.vault_doc("secret", "app/dev"),
        Some(as_map(&[
            ("DASH", "-"),
            ("AT", "@/etc/passwd"),
            ("ESC", "\\@x")
        ]))
    );
}

#[test]
fn routing_is_saved_and_reused_on_the_next_run() {
    let mut t = sync(abc());
    t.run().success();
    t.run_again(["sync", "dev", "vault"]).success().stdout_has(
        "Syncing 3 secrets to HashiCorp Vault: addr=http://127.0.0.1:8200, mount=secret, path=app/dev\n",
    );
    assert_eq!(t.vault_docs("secret", "app/dev").len(), 2);
    assert!(t.calls().iter().all(|c| c.env["VAULT_ADDR"] == ADDR));
}

#[test]
fn a_failed_write_fails_every_key() {
    let mut t = sync(abc()).env("FAKE_FAIL_KEYS", "B");
    let out = t.run();
    out.failure(1).stderr_has("WARNING: vault kv put failed: ");
    assert_eq!(
        out.stdout_lines().last().unwrap(),
        "vault: 0 ok, 3 failed (A, B, C) in #.#s"
    );
    assert!(t.vault_doc("secret", "app/dev").is_none());
}

#[test]
fn vendor_output_is_scrubbed_of_secret_values() {
    let mut t = sync(abc())
        .env("FAKE_FAIL_KEYS", "B")
        .env("FAKE_ECHO_STDIN_ON_FAIL", "1");
    t.run().failure(1).stderr_lacks("s3cr3t").stderr_has("***");
}

#[test]
fn a_sealed_vault_is_retried() {
    let mut t = sync(abc()).env("FAKE_TRANSIENT", "A:1");
    t.run().success();
    assert_eq!(t.calls().len(), 2);
    assert_eq!(
        t.vault_doc("secret", "app/dev"),
        Some(as_map(&[
            ("A", "s3cr3t-a"),
            ("B", "s3cr3t-b"),
            ("C", "s3cr3t-c")
        ]))
    );
}

#[test]
fn a_missing_vault_is_reported_and_nothing_runs() {
    let mut t = sync(abc()).without_fake("vault");
    t.run()
        .failure(1)
        .stderr_has("vault not found on PATH — install it before running vsync sync.");
    assert!(t.calls().is_empty());
}

#[test]
fn a_missing_file_reference_pushes_nothing() {
    let mut t = sync(Test::new().env_file("dev", "A=s3cr3t-a\nSSH_KEY_PATH=keys/missing\n"))
        .arg("--inline-file-suffix=_PATH");
    let missing = t.root().join("infra/vault/dev/keys/missing");
    t.run().failure(1).stderr_has(&format!(
        "  - SSH_KEY_PATH: file not found at {}\n",
        missing.display()
    ));
    assert!(t.calls().is_empty());
}
