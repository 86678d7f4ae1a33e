//! `vsync sync <env> gh` end to end, against the fake `gh` (`fixtures/fake_vendor.rs`):
//! `gh secret set --env=ENV --repo=OWNER/NAME -- KEY`, the value on stdin (never in argv).

mod support;

use support::{KEY_FILE, RICH_POLICY, Test, gh_scope, one_by_one, rich_secrets, rich_stdout};

const SCOPE: &str = "acme__api__dev";

fn abc() -> Test {
    Test::new().env_file("dev", "A=s3cr3t-a\nB=s3cr3t-b\nC=s3cr3t-c\n")
}

#[test]
fn pushes_every_value_exactly_and_prints_the_0_8_lines() {
    let mut t = Test::new()
        .rich("_")
        .args(["sync", "dev", "gh", "--gh-repo=acme/api", "--workers=1"])
        .args(RICH_POLICY);
    let out = t.run();
    let keys: Vec<String> = rich_secrets("_").into_iter().map(|(k, _)| k).collect();
    out.success().stdout_is(&rich_stdout(
        "Syncing 7 secrets to GitHub: repo=acme/api, environment=dev",
        &one_by_one(&keys),
        "✅ 7 secrets synced to gh in #.#s.",
    ));
    for (key, value) in rich_secrets("_") {
        // gh itself strips trailing newlines from stdin (cli/cli set.go).
        let expected = if key == "SSH_KEY" {
            KEY_FILE.trim_end_matches('\n')
        } else {
            &value
        };
        assert_eq!(
            t.stored("gh", SCOPE, &key).as_deref(),
            Some(expected.as_bytes()),
            "{key}"
        );
    }
    assert!(t.stored("gh", SCOPE, "GITHUB_TOKEN").is_none(), "excluded");
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
fn runs_in_parallel_and_prints_each_key_once() {
    let mut t = Test::new()
        .rich("_")
        .args(["sync", "dev", "gh", "--gh-repo=acme/api"])
        .args(RICH_POLICY);
    let out = t.run();
    out.success();
    let lines = out.stdout_lines();
    for (key, _) in rich_secrets("_") {
        assert_eq!(
            lines
                .iter()
                .filter(|l| **l == format!("Setting secret: {key}"))
                .count(),
            1
        );
        assert_eq!(
            lines.iter().filter(|l| **l == format!("✓ {key}")).count(),
            1
        );
    }
    assert_eq!(lines.last().unwrap(), "✅ 7 secrets synced to gh in #.#s.");
}

#[test]
fn no_secret_value_ever_appears_in_argv() {
    let mut t = Test::new()
        .rich("_")
        .args(["sync", "dev", "gh", "--gh-repo=acme/api"])
        .args(RICH_POLICY);
    t.run()
        .success()
        .stdout_lacks("s3cr3t")
        .stderr_lacks("s3cr3t");
    t.assert_no_value_in_argv();
    let plain = t
        .calls()
        .into_iter()
        .find(|c| c.secret() == Some("PLAIN"))
        .unwrap();
    assert_eq!(
        plain.stdin_str(),
        "s3cr3t-plain",
        "the value travels on stdin"
    );
}

#[test]
fn routing_is_saved_and_reused_on_the_next_run() {
    let mut t = abc().args(["sync", "dev", "gh", "--gh-repo=acme/api"]);
    t.run().success();
    assert!(t.config_path("dev").is_file(), "config saved");
    let out = t.run_again(["sync", "dev", "gh"]);
    out.success()
        .stdout_has("Syncing 3 secrets to GitHub: repo=acme/api, environment=dev\n");
    assert_eq!(t.calls().len(), 6);
    assert!(
        t.calls()
            .iter()
            .all(|c| c.argv.contains(&"--repo=acme/api".into()))
    );
    assert_eq!(t.versions("gh", SCOPE, "B").len(), 2);
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

#[test]
fn a_failing_key_does_not_stop_the_others() {
    let mut t = abc()
        .env("FAKE_FAIL_KEYS", "B")
        .args(["sync", "dev", "gh", "--gh-repo=acme/api"]);
    let out = t.run();
    out.failure(1)
        .stderr_has("WARNING: skipping B: gh secret set: ");
    assert_eq!(
        out.stdout_lines().last().unwrap(),
        "gh: 2 ok, 1 failed (B) in #.#s"
    );
    assert!(t.stored("gh", SCOPE, "A").is_some());
    assert!(t.stored("gh", SCOPE, "C").is_some());
    assert!(t.stored("gh", SCOPE, "B").is_none());
}

#[test]
fn vendor_output_is_scrubbed_of_secret_values() {
    let mut t = abc()
        .env("FAKE_FAIL_KEYS", "B")
        .env("FAKE_ECHO_STDIN_ON_FAIL", "1")
        .args(["sync", "dev", "gh", "--gh-repo=acme/api"]);
    let out = t.run();
    out.failure(1).stderr_lacks("s3cr3t-b").stderr_has("***");
}

#[test]
fn transient_failures_are_retried() {
    let mut t =
        abc()
            .env("FAKE_TRANSIENT", "A:2")
            .args(["sync", "dev", "gh", "--gh-repo=acme/api"]);
    t.run().success();
    assert_eq!(
        t.calls().iter().filter(|c| c.secret() == Some("A")).count(),
        3
    );
    assert!(t.stored("gh", SCOPE, "A").is_some());
}

#[test]
fn a_missing_gh_is_reported_and_nothing_runs() {
    let mut t = abc()
        .without_fake("gh")
        .args(["sync", "dev", "gh", "--gh-repo=acme/api"]);
    t.run()
        .failure(1)
        .stderr_has("gh not found on PATH — install it before running vsync sync.");
    assert!(t.calls().is_empty());
}

#[test]
fn a_missing_file_reference_pushes_nothing() {
    let mut t = Test::new()
        .env_file(
            "dev",
            "A=s3cr3t-a\nSSH_KEY_PATH=keys/missing\nDEPLOY_KEY_FILE=deploy.key\n",
        )
        .args(["sync", "dev", "gh", "--gh-repo=acme/api"])
        .args(["--inline-file-suffix=_PATH", "--inline-file-suffix=_FILE"]);
    let dir = t.root().join("infra/vault/dev");
    t.run().failure(1).stderr_has(&format!(
        "parseEnvFile: aborting sync — 2 file reference(s) could not be resolved:\n  \
         - SSH_KEY_PATH: file not found at {}\n  \
         - DEPLOY_KEY_FILE: file not found at {}\n",
        dir.join("keys/missing").display(),
        dir.join("deploy.key").display()
    ));
    assert!(t.calls().is_empty());
}
