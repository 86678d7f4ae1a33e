//! `--json` prints exactly one document on stdout whenever the target was reached, however
//! the run ends: a read the identity may not make, a list that fails, a prune whose list
//! fails, the run deadline. The document says why in `error` and `ended`, and its `exit` is
//! the status vsync exits with. (Interrupts: tests/signals/json_on_interrupt.rs.)

use crate::support::{Output, Test};
use serde_json::Value;

const AWS: [&str; 5] = [
    "sync",
    "dev",
    "aws",
    "--aws-region=eu-west-1",
    "--aws-secret-prefix=app/dev/",
];

/// `ALPHA` and `BETA` already synced to aws; the file now also defines `GAMMA`.
fn synced_aws() -> Test {
    let mut t = Test::new()
        .env_file("dev", "ALPHA=one-1\nBETA=two-2\nOLD=gone-9\n")
        .args(AWS);
    t.run().success();
    std::fs::write(
        t.root().join("infra/vault/dev/.env.dev"),
        "ALPHA=one-1\nBETA=two-2\nGAMMA=new-3\n",
    )
    .unwrap();
    t
}

fn args(extra: &[&str]) -> Vec<String> {
    AWS.iter().chain(extra).map(|s| s.to_string()).collect()
}

/// The one document on stdout, whose `exit` is the exit status.
#[track_caller]
fn document(out: &Output, code: i32) -> Value {
    out.failure(code);
    let doc: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}", out.stdout));
    assert_eq!(doc["schema"], 1);
    assert_eq!(doc["exit"], code);
    doc
}

/// The document's keys and statuses are exactly `expected`, in order.
#[track_caller]
fn assert_keys(doc: &Value, expected: &[(&str, &str)]) {
    let got: Vec<(&str, &str)> = doc["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["key"].as_str().unwrap(), k["status"].as_str().unwrap()))
        .collect();
    assert_eq!(got, expected);
}

#[test]
fn a_denied_read_under_diff_json_is_still_one_document_saying_why() {
    let mut t = synced_aws().env("FAKE_DENY_READ", "1");
    let out = t.run_again(args(&["--diff", "--json"]));
    let doc = document(&out, 1);
    assert_eq!(doc["mode"], "diff");
    assert_eq!(doc["ended"], "error");
    let error = doc["error"].as_str().unwrap();
    assert!(
        error.starts_with("--diff cannot read values from aws: the identity lacks "),
        "{error}"
    );
    out.stderr_has(&format!("vsync: error: {error}"));
    assert_keys(
        &doc,
        &[
            ("ALPHA", "unknown"),
            ("BETA", "unknown"),
            ("GAMMA", "unknown"),
        ],
    );
}

#[test]
fn a_failed_list_under_diff_json_is_still_one_document_saying_why() {
    let mut t = synced_aws().env("FAKE_FAIL_LIST", "1");
    let out = t.run_again(args(&["--diff", "--json"]));
    let doc = document(&out, 1);
    assert_eq!(doc["ended"], "error");
    let error = doc["error"].as_str().unwrap();
    assert!(error.starts_with("cannot list aws: "), "{error}");
    assert!(error.contains("UnrecognizedClientException"), "{error}");
    out.stderr_has(&format!("vsync: error: {error}"));
    // The values were read before the list failed: what they showed stays in the document.
    assert_keys(
        &doc,
        &[
            ("ALPHA", "unchanged"),
            ("BETA", "unchanged"),
            ("GAMMA", "create"),
        ],
    );
}

#[test]
fn a_failed_diff_says_the_same_without_json_and_prints_no_markers() {
    let mut t = synced_aws().env("FAKE_FAIL_LIST", "1");
    let out = t.run_again(args(&["--diff"]));
    out.failure(1).stderr_has("vsync: error: cannot list aws: ");
    assert_eq!(out.stdout, "");
}

#[test]
fn a_prune_whose_list_fails_says_why_in_the_document() {
    let mut t = synced_aws().env("FAKE_FAIL_LIST", "1");
    let out = t.run_again(args(&["--prune", "--json"]));
    let doc = document(&out, 1);
    assert_eq!(doc["mode"], "sync");
    assert_eq!(doc["ended"], "error");
    let error = doc["error"].as_str().unwrap();
    assert!(
        error.starts_with("not pruning: cannot list aws: "),
        "{error}"
    );
    out.stderr_has(error);
    // Every write landed; only the prune did not run.
    assert_keys(
        &doc,
        &[
            ("ALPHA", "written"),
            ("BETA", "written"),
            ("GAMMA", "written"),
        ],
    );
    assert!(
        t.exists("aws", "eu-west-1", "app/dev/OLD"),
        "nothing deleted"
    );
}

#[test]
fn the_run_deadline_under_json_ends_in_one_document_with_what_was_not_attempted() {
    let mut t = Test::new()
        .env_file(
            "dev",
            "ALPHA=a-value-1\nBRAVO=b-value-2\nCHARLIE=c-value-3\n",
        )
        .env("FAKE_HANG_KEYS", "ALPHA")
        .env("VSYNC_RUN_DEADLINE_SECS", "2")
        .args([
            "sync",
            "dev",
            "gh",
            "--gh-repo=acme/api",
            "--workers=1",
            "--json",
        ]);
    let out = t.run();
    let doc = document(&out, 1);
    assert_eq!(doc["ended"], "deadline");
    assert_eq!(doc["error"], Value::Null);
    assert_keys(
        &doc,
        &[
            ("ALPHA", "failed"),
            ("BRAVO", "not_attempted"),
            ("CHARLIE", "not_attempted"),
        ],
    );
    let alpha = doc["keys"][0]["error"].as_str().unwrap();
    assert!(alpha.contains("run deadline reached after "), "{alpha}");
}
