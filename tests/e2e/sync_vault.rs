//! `vsync sync <env> vault` end to end, against the fake `vault` (`fixtures/fake_vendor.rs`):
//! one `vault kv put -mount=M -- PATH -` with a JSON object of every key on stdin and
//! `VAULT_ADDR` in the child's environment (no value in argv); one atomic write, all keys or none.
//!
//! What every target does is tested in `sync_targets.rs`; here is what only vault does.

use crate::support::{RICH_POLICY, Test};
use serde_json::{Map, Value};

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
fn every_key_goes_in_one_kv_put_with_vault_addr_in_the_environment() {
    let mut t = sync(Test::new().rich("_"))
        .args(RICH_POLICY)
        .arg("--workers=1");
    t.run().success();
    let calls = t.calls();
    // GITHUB_TOKEN is excluded: the stored document is read first, to carry it over (there
    // is none yet), then one bulk write.
    assert_eq!(calls.len(), 2, "one read, one bulk write");
    assert_eq!(
        calls[0].argv,
        [
            "kv",
            "get",
            "-format=json",
            "-mount=secret",
            "--",
            "app/dev"
        ]
    );
    assert_eq!(
        calls[1].argv,
        ["kv", "put", "-mount=secret", "--", "app/dev", "-"]
    );
    for call in &calls {
        assert_eq!(call.env.get("VAULT_ADDR").map(String::as_str), Some(ADDR));
    }
}

#[test]
fn values_travel_as_one_json_object_on_stdin_never_in_argv() {
    let mut t = sync(Test::new().rich("_")).args(RICH_POLICY);
    t.run().success();
    t.assert_no_value_in_argv();
    let sent: Value =
        serde_json::from_slice(&t.calls().last().unwrap().stdin).expect("stdin is JSON");
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

/// The vault CLI's errors carry the server's URL; a port such as 45029 holds `502` but is no
/// status code, and a refused write must still be tried once.
#[test]
fn a_refusal_from_a_server_whose_port_holds_a_status_code_is_not_retried() {
    for port in ["45029", "42950", "15030"] {
        let mut t = abc()
            .args([
                "sync",
                "dev",
                "vault",
                &format!("--vault-addr=http://127.0.0.1:{port}"),
                "--vault-mount=secret",
                "--vault-path=app/dev",
            ])
            .env("FAKE_FAIL_KEYS", "A")
            .env("VSYNC_RETRY_BASE_MS", "1");
        t.run()
            .failure(1)
            .stderr_has(&format!("127.0.0.1:{port}"))
            .stderr_has("Code: 403");
        assert_eq!(t.calls().len(), 1, "port {port}: a 403 is not retried");
    }
}
