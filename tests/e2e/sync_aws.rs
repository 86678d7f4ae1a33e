//! `vsync sync <env> aws` end to end, against the fake `aws` (`fixtures/fake_vendor.rs`):
//! `aws secretsmanager put-secret-value --secret-id=NAME --secret-string file:///dev/stdin
//! --region=R` / `create-secret --name=NAME …`, the value on stdin read as text (`file://`:
//! the real CLI rejects `fileb://` for a string), at most one extra call per run (the list
//! call).
//!
//! What every target does is tested in `sync_targets.rs`; here is what only aws does.

use crate::support::{RICH_POLICY, Test};

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
fn values_go_through_stdin_as_text_never_as_fileb() {
    let mut t = sync(Test::new().rich("_")).args(RICH_POLICY);
    t.run().success();
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
fn an_empty_value_is_refused_before_anything_runs() {
    let mut t = sync(Test::new().env_file("dev", "A=s3cr3t-a\nEMPTY=\n"));
    t.run().failure(1).stderr_has("EMPTY");
    assert!(t.calls().is_empty(), "all or none");
}
