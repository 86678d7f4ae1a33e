//! `vsync sync <env> gh` end to end, against the fake `gh` (`fixtures/fake_vendor.rs`):
//! `gh secret set --env=ENV --repo=OWNER/NAME -- KEY`, the value on stdin (never in argv).
//!
//! What every target does is tested in `sync_targets.rs`; here is what only gh does.

use crate::support::{RICH_POLICY, Test, gh_scope};

#[test]
fn each_key_is_one_gh_secret_set_call_naming_env_and_repo() {
    let mut t = Test::new()
        .rich("_")
        .args(["sync", "dev", "gh", "--gh-repo=acme/api", "--workers=1"])
        .args(RICH_POLICY);
    t.run().success();
    assert_eq!(t.calls().len(), 7, "one gh call per secret");
    for call in t.calls() {
        assert_eq!(call.argv.len(), 6);
        assert_eq!(
            call.argv[..5],
            ["secret", "set", "--env=dev", "--repo=acme/api", "--"]
        );
    }
}

#[test]
fn warns_that_gh_strips_trailing_newlines() {
    let mut t = Test::new()
        .rich("_")
        .args(["sync", "dev", "gh", "--gh-repo=acme/api"])
        .args(RICH_POLICY);
    let out = t.run();
    out.success();
    let warning = out
        .stderr
        .lines()
        .find(|l| l.contains("newline"))
        .unwrap_or_else(|| panic!("no newline warning in stderr: {}", out.stderr));
    assert!(warning.contains("SSH_KEY"), "{warning}");
}

#[test]
fn the_environment_is_passed_as_typed() {
    let mut t = Test::new().env_file("Staging", "A=s3cr3t-a\n").args([
        "sync",
        "Staging",
        "gh",
        "--gh-repo=acme/api",
    ]);
    t.run().success();
    assert_eq!(
        t.stored("gh", &gh_scope("acme/api", "Staging"), "A")
            .as_deref(),
        Some(&b"s3cr3t-a"[..])
    );
}
