//! `vsync sync <env> aws` end to end, against the fake `aws` (`fixtures/fake_vendor.rs`):
//! `aws secretsmanager put-secret-value --secret-id=NAME --secret-string file:///dev/stdin
//! --region=R` / `create-secret --name=NAME …`, the value on stdin read as text (`file://`:
//! the real CLI rejects `fileb://` for a string), at most one extra call per run (the list
//! call).

mod support;

use support::{RICH_POLICY, Test, one_by_one, rich_secrets, rich_stdout};

const REGION: &str = "eu-west-1";

fn abc() -> Test {
    Test::new().env_file("dev", "A=s3cr3t-a\nB=s3cr3t-b\nC=s3cr3t-c\n")
}

fn sync(t: Test) -> Test {
    t.args([
        "sync",
        "dev",
        "aws",
        "--aws-region=eu-west-1",
        "--aws-secret-prefix=app/dev/",
    ])
}

#[test]
fn pushes_every_value_exactly_and_prints_the_0_8_lines() {
    let mut t = sync(Test::new().rich("_"))
        .args(RICH_POLICY)
        .arg("--workers=1");
    let out = t.run();
    let keys: Vec<String> = rich_secrets("_").into_iter().map(|(k, _)| k).collect();
    out.success().stdout_is(&rich_stdout(
        "Syncing 7 secrets to AWS Secrets Manager: region=eu-west-1, prefix=app/dev/",
        &one_by_one(&keys),
        "✅ 7 secrets synced to aws in #.#s.",
    ));
    for (key, value) in rich_secrets("_") {
        assert_eq!(
            t.stored("aws", REGION, &format!("app/dev/{key}"))
                .as_deref(),
            Some(value.as_bytes()),
            "{key}"
        );
    }
    assert_eq!(
        t.secret_names("aws", REGION).len(),
        7,
        "only prefixed names, GITHUB_TOKEN excluded"
    );
}

#[test]
fn the_banner_has_no_prefix_when_none_is_set() {
    let mut t = abc().args(["sync", "dev", "aws", "--aws-region=eu-west-1"]);
    t.run()
        .success()
        .stdout_has("Syncing 3 secrets to AWS Secrets Manager: region=eu-west-1\n");
    assert_eq!(t.secret_names("aws", REGION), ["A", "B", "C"]);
}

#[test]
fn values_go_through_stdin_as_text_never_as_fileb() {
    let mut t = sync(Test::new().rich("_")).args(RICH_POLICY);
    t.run()
        .success()
        .stdout_lacks("s3cr3t")
        .stderr_lacks("s3cr3t");
    t.assert_no_value_in_argv();
    for call in t.calls() {
        assert!(
            !call.argv.iter().any(|a| a.starts_with("fileb://")),
            "{}",
            call.line()
        );
    }
}

#[test]
fn a_value_that_looks_like_a_url_arrives_literally() {
    let mut t = sync(Test::new().env_file("dev", "URL=http://example.com/s3cr3t\n"));
    t.run().success();
    assert_eq!(
        t.stored("aws", REGION, "app/dev/URL").as_deref(),
        Some(&b"http://example.com/s3cr3t"[..])
    );
}

#[test]
fn crlf_in_a_value_is_translated_by_the_cli_and_vsync_warns() {
    let mut t = sync(
        Test::new()
            .env_file("dev", "CERT_PATH=cert.pem\n")
            .file("infra/vault/dev/cert.pem", "s3cr3t-1\r\ns3cr3t-2\r\n"),
    )
    .arg("--inline-file-suffix=_PATH");
    let out = t.run();
    out.success().stderr_has("CERT");
    assert_eq!(
        t.stored("aws", REGION, "app/dev/CERT").as_deref(),
        Some(&b"s3cr3t-1\ns3cr3t-2\n"[..])
    );
}

#[test]
fn creates_new_secrets_and_updates_existing_ones() {
    let mut t = sync(abc());
    t.vendor(
        "aws",
        [
            "secretsmanager",
            "create-secret",
            "--name",
            "app/dev/B",
            "--secret-string",
            "file:///dev/stdin",
            "--region",
            REGION,
        ],
        "old",
    )
    .success();
    t.run().success();
    assert_eq!(
        t.versions("aws", REGION, "app/dev/A"),
        vec![b"s3cr3t-a".to_vec()]
    );
    assert_eq!(
        t.versions("aws", REGION, "app/dev/B"),
        vec![b"old".to_vec(), b"s3cr3t-b".to_vec()]
    );
}

#[test]
fn re_syncing_existing_secrets_costs_one_call_per_key_plus_at_most_one() {
    let mut t = sync(abc());
    t.run().success();
    let first = t.calls().len();
    t.run_again(["sync", "dev", "aws"]).success();
    let second: Vec<_> = t.calls().into_iter().skip(first).collect();
    assert!(
        second.len() <= 4,
        "3 keys, {} calls: {second:#?}",
        second.len()
    );
    assert!(second.iter().all(|c| c.argv[1] != "describe-secret"));
    for key in ["A", "B", "C"] {
        assert_eq!(
            t.versions("aws", REGION, &format!("app/dev/{key}")).len(),
            2
        );
    }
}

#[test]
fn routing_is_saved_and_reused_on_the_next_run() {
    let mut t = sync(abc());
    t.run().success();
    t.run_again(["sync", "dev", "aws"]).success().stdout_has(
        "Syncing 3 secrets to AWS Secrets Manager: region=eu-west-1, prefix=app/dev/\n",
    );
}

#[test]
fn a_failing_key_does_not_stop_the_others() {
    let mut t = sync(abc()).env("FAKE_FAIL_KEYS", "app/dev/B");
    let out = t.run();
    out.failure(1)
        .stderr_has("WARNING: skipping B: aws secretsmanager ");
    assert_eq!(
        out.stdout_lines().last().unwrap(),
        "aws: 2 ok, 1 failed (B) in #.#s"
    );
    assert!(t.stored("aws", REGION, "app/dev/A").is_some());
    assert!(t.stored("aws", REGION, "app/dev/C").is_some());
    assert!(!t.exists("aws", REGION, "app/dev/B"));
}

#[test]
fn vendor_output_is_scrubbed_of_secret_values() {
    let mut t = sync(abc())
        .env("FAKE_FAIL_KEYS", "app/dev/B")
        .env("FAKE_ECHO_STDIN_ON_FAIL", "1");
    t.run()
        .failure(1)
        .stderr_lacks("s3cr3t-b")
        .stderr_has("***");
}

#[test]
fn transient_failures_are_retried() {
    let mut t = sync(abc()).env("FAKE_TRANSIENT", "app/dev/A:2");
    t.run().success();
    assert!(t.stored("aws", REGION, "app/dev/A").is_some());
}

#[test]
fn an_empty_value_is_refused_before_anything_runs() {
    let mut t = sync(Test::new().env_file("dev", "A=s3cr3t-a\nEMPTY=\n"));
    t.run().failure(1).stderr_has("EMPTY");
    assert!(t.calls().is_empty(), "all or none");
}

#[test]
fn a_missing_aws_is_reported_and_nothing_runs() {
    let mut t = sync(abc()).without_fake("aws");
    t.run()
        .failure(1)
        .stderr_has("aws not found on PATH — install it before running vsync sync.");
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
