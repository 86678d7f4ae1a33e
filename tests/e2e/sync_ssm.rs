//! `vsync sync <env> ssm` end to end, against the fake `aws` (`fixtures/fake_vendor.rs`):
//! `aws ssm put-parameter --name=PREFIX+KEY --type=SecureString --value=file:///dev/stdin
//! --overwrite --region=R`, one call per key, the value on stdin read as text.
//!
//! What every target does is tested in `sync_targets.rs`; here is what only ssm does.

use crate::support::{RICH_POLICY, Test};

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
fn each_key_is_one_put_parameter_call_as_a_secure_string_that_overwrites() {
    let mut t = sync(Test::new().rich("_"))
        .args(RICH_POLICY)
        .arg("--workers=1");
    t.run().success();
    let calls = t.calls();
    assert_eq!(calls.len(), 7, "one call per key, no list call");
    for call in calls {
        assert_eq!(call.argv[..2], ["ssm", "put-parameter"], "{}", call.line());
        assert!(call.argv.contains(&"--type=SecureString".to_string()));
        assert!(call.argv.contains(&"--overwrite".to_string()));
    }
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
