//! `vsync sync <env> gcp` end to end, against the fake `gcloud` (`fixtures/fake_vendor.rs`):
//! `gcloud secrets versions add --data-file=- --project=P -- KEY` or `gcloud secrets create
//! --replication-policy=automatic --data-file=- --project=P -- KEY`, raw bytes on stdin (never in argv), and at
//! most one extra call per run (the list call).

mod support;

use support::{RICH_POLICY, Test, one_by_one, rich_secrets, rich_stdout};

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
fn pushes_every_value_exactly_and_prints_the_0_8_lines() {
    let mut t = sync(Test::new().rich("_"))
        .args(RICH_POLICY)
        .arg("--workers=1");
    let out = t.run();
    let keys: Vec<String> = rich_secrets("_").into_iter().map(|(k, _)| k).collect();
    out.success().stdout_is(&rich_stdout(
        "Syncing 7 secrets to GCP Secret Manager: project=acme-dev",
        &one_by_one(&keys),
        "✅ 7 secrets synced to gcp in #.#s.",
    ));
    for (key, value) in rich_secrets("_") {
        assert_eq!(
            t.stored("gcp", "acme-dev", &key).as_deref(),
            Some(value.as_bytes()),
            "{key}"
        );
    }
    assert!(!t.exists("gcp", "acme-dev", "GITHUB_TOKEN"), "excluded");
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
fn no_secret_value_ever_appears_in_argv() {
    let mut t = sync(Test::new().rich("_")).args(RICH_POLICY);
    t.run()
        .success()
        .stdout_lacks("s3cr3t")
        .stderr_lacks("s3cr3t");
    t.assert_no_value_in_argv();
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
fn routing_is_saved_and_reused_on_the_next_run() {
    let mut t = sync(abc());
    t.run().success();
    t.run_again(["sync", "dev", "gcp"])
        .success()
        .stdout_has("Syncing 3 secrets to GCP Secret Manager: project=acme-dev\n");
    assert!(t.config_path("dev").is_file());
}

#[test]
fn a_failing_key_does_not_stop_the_others() {
    let mut t = sync(abc()).env("FAKE_FAIL_KEYS", "B");
    let out = t.run();
    out.failure(1)
        .stderr_has("WARNING: skipping B: gcloud secrets ");
    assert_eq!(
        out.stdout_lines().last().unwrap(),
        "gcp: 2 ok, 1 failed (B) in #.#s"
    );
    assert!(t.stored("gcp", "acme-dev", "A").is_some());
    assert!(t.stored("gcp", "acme-dev", "C").is_some());
    assert!(!t.exists("gcp", "acme-dev", "B"));
}

#[test]
fn a_failing_list_call_only_costs_calls() {
    let mut t = sync(abc()).env("FAKE_FAIL_LIST", "1");
    t.run().success();
    for key in ["A", "B", "C"] {
        assert!(t.stored("gcp", "acme-dev", key).is_some(), "{key}");
    }
}

#[test]
fn vendor_output_is_scrubbed_of_secret_values() {
    let mut t = sync(abc())
        .env("FAKE_FAIL_KEYS", "B")
        .env("FAKE_ECHO_STDIN_ON_FAIL", "1");
    t.run()
        .failure(1)
        .stderr_lacks("s3cr3t-b")
        .stderr_has("***");
}

#[test]
fn transient_failures_are_retried() {
    let mut t = sync(abc()).env("FAKE_TRANSIENT", "A:2");
    t.run().success();
    assert_eq!(
        t.stored("gcp", "acme-dev", "A").as_deref(),
        Some(&b"s3cr3t-a"[..])
    );
}

#[test]
fn a_missing_gcloud_is_reported_and_nothing_runs() {
    let mut t = sync(abc()).without_fake("gcloud");
    t.run()
        .failure(1)
        .stderr_has("gcloud not found on PATH — install it before running vsync sync.");
    assert!(t.calls().is_empty());
}

#[test]
fn a_missing_file_reference_pushes_nothing() {
    let mut t = sync(Test::new().env_file("dev", "A=s3cr3t-a\nSSH_KEY_PATH=keys/missing\n"))
        .arg("--inline-file-suffix=_PATH");
    let missing = t.root().join("infra/vault/dev/keys/missing");
    t.run().failure(1).stderr_has(&format!(
        "parseEnvFile: aborting sync — 1 file reference(s) could not be resolved:\n  \
         - SSH_KEY_PATH: file not found at {}\n",
        missing.display()
    ));
    assert!(t.calls().is_empty());
}
