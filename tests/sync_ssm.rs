//! `vsync sync <env> ssm` end to end, against the fake `aws` (`fixtures/fake_vendor.rs`):
//! `aws ssm put-parameter --name=PREFIX+KEY --type=SecureString --value=file:///dev/stdin
//! --overwrite --region=R`, one call per key, the value on stdin read as text.

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
        "ssm",
        "--ssm-region=eu-west-1",
        "--ssm-prefix=/app/dev/",
    ])
}

#[test]
fn pushes_every_value_exactly_as_secure_strings_and_prints_the_usual_lines() {
    let mut t = sync(Test::new().rich("_"))
        .args(RICH_POLICY)
        .arg("--workers=1");
    let out = t.run();
    let keys: Vec<String> = rich_secrets("_").into_iter().map(|(k, _)| k).collect();
    out.success().stdout_is(&rich_stdout(
        "Syncing 7 secrets to AWS SSM Parameter Store: region=eu-west-1, prefix=/app/dev/",
        &one_by_one(&keys),
        "✅ 7 secrets synced to ssm in #.#s.",
    ));
    for (key, value) in rich_secrets("_") {
        assert_eq!(
            t.stored("ssm", REGION, &format!("/app/dev/{key}"))
                .as_deref(),
            Some(value.as_bytes()),
            "{key}"
        );
    }
    t.assert_no_value_in_argv();
    let calls = t.calls();
    assert_eq!(calls.len(), 7, "one call per key, no list call");
    for call in calls {
        assert_eq!(call.argv[..2], ["ssm", "put-parameter"], "{}", call.line());
        assert!(call.argv.contains(&"--type=SecureString".to_string()));
        assert!(call.argv.contains(&"--overwrite".to_string()));
    }
}

#[test]
fn a_re_sync_overwrites_and_routing_is_saved() {
    let mut t = sync(abc());
    t.run().success();
    t.run_again(["sync", "dev", "ssm"]).success().stdout_has(
        "Syncing 3 secrets to AWS SSM Parameter Store: region=eu-west-1, prefix=/app/dev/\n",
    );
    assert_eq!(
        t.versions("ssm", REGION, "/app/dev/B"),
        [b"s3cr3t-b".to_vec(), b"s3cr3t-b".to_vec()]
    );
}

#[test]
fn without_a_prefix_the_key_is_the_name_and_the_banner_says_no_prefix() {
    let mut t = abc().args(["sync", "dev", "ssm", "--ssm-region=eu-west-1"]);
    t.run()
        .success()
        .stdout_has("Syncing 3 secrets to AWS SSM Parameter Store: region=eu-west-1\n");
    assert_eq!(t.secret_names("ssm", REGION), ["A", "B", "C"]);
}

#[test]
fn names_and_values_ssm_refuses_stop_the_run_before_any_call() {
    let big = "x".repeat(4097);
    let mut t = Test::new()
        .env_file(
            "dev",
            &format!("OK=s3cr3t\nEMPTY=\nBIG={big}\nA:B=s3cr3t\n"),
        )
        .args([
            "sync",
            "dev",
            "ssm",
            "--ssm-region=eu-west-1",
            "--ssm-prefix=/app/",
        ]);
    let out = t.run();
    out.failure(1)
        .stderr_has("3 secret(s) cannot be pushed to ssm; nothing was pushed:")
        .stderr_has("EMPTY (line 2): the value is empty")
        .stderr_has("BIG (line 3): the value is 4097 bytes; the limit is 4096 bytes")
        .stderr_has("A:B (line 4): SSM parameter names")
        .stderr_lacks("OK");
    assert!(t.calls().is_empty());

    let mut reserved = abc().args([
        "sync",
        "dev",
        "ssm",
        "--ssm-region=eu-west-1",
        "--ssm-prefix=/AWS/",
    ]);
    reserved
        .run()
        .failure(1)
        .stderr_has("must not begin with aws or ssm");
    assert!(reserved.calls().is_empty());

    let mut relative = abc().args([
        "sync",
        "dev",
        "ssm",
        "--ssm-region=eu-west-1",
        "--ssm-prefix=app/",
    ]);
    relative.run().failure(1).stderr_has("must start with /");
    assert!(relative.calls().is_empty());
}

#[test]
fn crlf_in_a_value_is_translated_by_the_cli_and_vsync_warns() {
    let mut t = sync(
        Test::new()
            .env_file("dev", "CERT_PATH=cert.pem\n")
            .file("infra/vault/dev/cert.pem", "s3cr3t-1\r\ns3cr3t-2\r\n"),
    )
    .arg("--inline-file-suffix=_PATH");
    t.run()
        .success()
        .stderr_has("turns \\r\\n into \\n in: CERT");
    assert_eq!(
        t.stored("ssm", REGION, "/app/dev/CERT").as_deref(),
        Some(&b"s3cr3t-1\ns3cr3t-2\n"[..])
    );
}

#[test]
fn a_failing_key_does_not_stop_the_others_and_throttling_is_retried() {
    let mut t = sync(abc())
        .env("FAKE_FAIL_KEYS", "/app/dev/B")
        .env("FAKE_TRANSIENT", "/app/dev/A:2")
        .env("FAKE_ECHO_STDIN_ON_FAIL", "1")
        .env("VSYNC_RETRY_BASE_MS", "1");
    let out = t.run();
    out.failure(1)
        .stderr_has("WARNING: skipping B: aws ssm ")
        .stderr_lacks("s3cr3t-b");
    assert_eq!(
        out.stdout_lines().last().unwrap(),
        "ssm: 2 ok, 1 failed (B) in #.#s"
    );
    assert!(t.stored("ssm", REGION, "/app/dev/A").is_some());
    assert!(!t.exists("ssm", REGION, "/app/dev/B"));
}

#[test]
fn ssm_routing_flags_are_ignored_with_a_warning_on_other_targets() {
    let mut t = abc().args([
        "sync",
        "dev",
        "aws",
        "--aws-region=eu-west-1",
        "--ssm-region=us-east-1",
    ]);
    t.run()
        .success()
        .stderr_has("warning: ignoring --ssm-region: it does not apply to the aws target");
}

#[test]
fn a_missing_region_names_the_setting_and_the_flag() {
    let mut t = abc().args(["sync", "dev", "ssm"]);
    t.run().failure(1).stderr_has(
        "sync.ssm.region not configured for this (repo, env) and no --ssm-region flag passed.",
    );
}
