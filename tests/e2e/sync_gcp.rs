//! `vsync sync <env> gcp` end to end, against the fake `gcloud` (`fixtures/fake_vendor.rs`):
//! `gcloud secrets versions add --data-file=- --project=P -- KEY` or `gcloud secrets create
//! --replication-policy=automatic --data-file=- --project=P -- KEY`, raw bytes on stdin (never in argv), and at
//! most one extra call per run (the list call).
//!
//! What every target does is tested in `sync_targets.rs`; here is what only gcp does.

use crate::support::{RICH_POLICY, Test};

fn abc() -> Test {
    Test::new().env_file("dev", "A=s3cr3t-a\nB=s3cr3t-b\nC=s3cr3t-c\n")
}

fn sync(t: Test) -> Test {
    t.args(["sync", "dev", "gcp", "--gcp-project=acme-dev"])
}

/// The calls that wrote a secret (create or versions add), as (verb, key).
fn writes(t: &Test) -> Vec<(String, String)> {
    t.calls()
        .into_iter()
        .filter_map(|c| {
            let key = c.secret()?.to_string();
            match c.argv[..3].iter().map(String::as_str).collect::<Vec<_>>()[..] {
                ["secrets", "create", _] => Some(("create".into(), key)),
                ["secrets", "versions", "add"] => Some(("add".into(), key)),
                _ => None,
            }
        })
        .collect()
}

#[test]
fn raw_bytes_arrive_unchanged() {
    let blob = b"\x00\xff\xfe binary\r\n\r\n".to_vec();
    let mut t = sync(
        Test::new()
            .env_file("dev", "BLOB_PATH=blob.bin\n")
            .file("infra/vault/dev/blob.bin", &blob),
    )
    .arg("--inline-file-suffix=_PATH");
    t.run().success();
    assert_eq!(t.stored("gcp", "acme-dev", "BLOB"), Some(blob));
}

#[test]
fn every_call_names_the_project_and_data_file_dash_reads_the_value_from_stdin() {
    let mut t = sync(Test::new().rich("_")).args(RICH_POLICY);
    t.run().success();
    for call in t.calls() {
        assert!(
            call.argv.contains(&"--project=acme-dev".to_string()),
            "{}",
            call.line()
        );
        if call.argv.contains(&"--data-file=-".to_string()) {
            assert!(call.stdin_read && !call.stdin.is_empty(), "{}", call.line());
        }
    }
}

#[test]
fn creates_new_secrets_and_adds_versions_to_existing_ones() {
    let mut t = sync(abc());
    t.vendor(
        "gcloud",
        [
            "secrets",
            "create",
            "B",
            "--replication-policy=automatic",
            "--data-file=-",
            "--project=acme-dev",
        ],
        "old",
    )
    .success();
    t.run().success();
    assert_eq!(
        t.versions("gcp", "acme-dev", "A"),
        vec![b"s3cr3t-a".to_vec()]
    );
    assert_eq!(
        t.versions("gcp", "acme-dev", "B"),
        vec![b"old".to_vec(), b"s3cr3t-b".to_vec()]
    );
}

#[test]
fn re_syncing_existing_secrets_costs_one_call_per_key_plus_at_most_one() {
    let mut t = sync(abc());
    t.run().success();
    let first = t.calls().len();
    t.run_again(["sync", "dev", "gcp"]).success();
    let second: Vec<_> = t.calls().into_iter().skip(first).collect();
    assert!(
        second.len() <= 4,
        "3 keys, {} calls: {second:#?}",
        second.len()
    );
    assert!(
        second.iter().all(|c| c.argv[1] != "describe"),
        "no describe-then-write"
    );
    for key in ["A", "B", "C"] {
        assert_eq!(t.versions("gcp", "acme-dev", key).len(), 2, "{key}");
    }
    let adds = writes(&t)
        .into_iter()
        .skip(first)
        .filter(|(v, _)| v == "add")
        .count();
    assert!(adds <= 3);
}

#[test]
fn a_failing_list_call_only_costs_calls() {
    let mut t = sync(abc()).env("FAKE_FAIL_LIST", "1");
    t.run().success();
    for key in ["A", "B", "C"] {
        assert!(t.stored("gcp", "acme-dev", key).is_some(), "{key}");
    }
}
