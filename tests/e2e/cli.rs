//! The command line itself: usage errors, help, version, unknown flags, and the errors that
//! stop a run before any vendor CLI is called (missing routing without a TTY, missing env
//! file), all against the real binary with the fakes on PATH.

use crate::support::Test;

const TARGETS: [&str; 6] = ["gh", "gcp", "aws", "azure", "vault", "ssm"];

fn dev() -> Test {
    Test::new().env_file("dev", "A=s3cr3t-a\n")
}

#[track_caller]
fn assert_usage_on_stderr(out: &crate::support::Output) {
    out.failure(1).stdout_is("");
    for target in TARGETS {
        out.stderr_has(target);
    }
    for flag in [
        "--inline-file-suffix",
        "--exclude-property",
        "--gh-repo",
        "--gcp-project",
        "--aws-region",
        "--aws-secret-prefix",
        "--azure-vault",
        "--vault-addr",
        "--vault-mount",
        "--vault-path",
        "--ssm-region",
        "--ssm-prefix",
    ] {
        out.stderr_has(flag);
    }
}

#[test]
fn a_missing_target_prints_usage_and_exits_1() {
    let mut t = dev().args(["sync", "dev"]);
    assert_usage_on_stderr(&t.run());
    assert!(t.calls().is_empty());
}

#[test]
fn an_unknown_target_prints_usage_and_exits_1() {
    let mut t = dev().args(["sync", "dev", "sqs"]);
    let out = t.run();
    assert_usage_on_stderr(&out);
    out.stderr_has("unknown target 'sqs'");
    assert!(t.calls().is_empty());
}

#[test]
fn no_arguments_print_usage_and_exit_1() {
    assert_usage_on_stderr(&Test::new().run());
}

#[test]
fn help_prints_usage_on_stdout() {
    for args in [&["--help"][..], &["-h"], &["sync", "--help"]] {
        let out = Test::new().args(args.iter().copied()).run();
        out.success().stderr_is("").stdout_has("USAGE");
        for target in TARGETS {
            out.stdout_has(target);
        }
    }
}

#[test]
fn version_prints_the_crate_version_target_and_commit() {
    // The commit vsync was built from: VSYNC_COMMIT if the build had it, else git's HEAD.
    let set = std::env::var("VSYNC_COMMIT").ok();
    let commit = set
        .filter(|c| !c.trim().is_empty())
        .map(|c| c.trim().to_string())
        .or_else(|| {
            let out = std::process::Command::new("git")
                .args(["rev-parse", "--short=12", "HEAD"])
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .output()
                .ok()?;
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        });
    for flag in ["--version", "-V"] {
        let out = Test::new().arg(flag).run();
        out.success().stderr_is("");
        let line = out.stdout.strip_suffix('\n').unwrap_or(&out.stdout);
        let inner = line
            .strip_prefix(&format!("vsync {} (", env!("CARGO_PKG_VERSION")))
            .and_then(|rest| rest.strip_suffix(')'))
            .unwrap_or_else(|| panic!("{line:?}"));
        let (target, built_from) = inner
            .split_once(", commit ")
            .unwrap_or_else(|| panic!("{line:?}"));
        assert!(target.contains("-linux-"), "{line:?}");
        match &commit {
            Some(c) => assert_eq!(built_from, c, "{line:?}"),
            None => assert_eq!(built_from, "unknown", "{line:?}"),
        }
    }
}

#[test]
fn an_unknown_flag_is_named_and_nothing_runs() {
    let mut t = dev().args(["sync", "dev", "gh", "--gh-repo=a/b", "--exclude-propety=X"]);
    t.run().failure(1).stderr_has("--exclude-propety");
    assert!(t.calls().is_empty());
    assert!(!t.config_path("dev").exists(), "nothing saved");
}

#[test]
fn missing_routing_without_a_tty_names_the_setting_and_the_flag() {
    let cases: [(&[&str], &str); 7] = [
        (
            &["gh"],
            "sync.gh.repo not configured for this (repo, env) and no --gh-repo flag passed.",
        ),
        (
            &["gcp"],
            "sync.gcp.project not configured for this (repo, env) and no --gcp-project flag passed.",
        ),
        (
            &["aws"],
            "sync.aws.region not configured for this (repo, env) and no --aws-region flag passed.",
        ),
        (
            &["azure"],
            "sync.azure.vaultName not configured for this (repo, env) and no --azure-vault flag passed.",
        ),
        (
            &["vault", "--vault-mount=secret", "--vault-path=app/dev"],
            "sync.vault.addr not configured for this (repo, env) and no --vault-addr flag passed.",
        ),
        (
            &[
                "vault",
                "--vault-addr=http://v:8200",
                "--vault-path=app/dev",
            ],
            "sync.vault.mount not configured for this (repo, env) and no --vault-mount flag passed.",
        ),
        (
            &[
                "vault",
                "--vault-addr=http://v:8200",
                "--vault-mount=secret",
            ],
            "sync.vault.secretPath not configured for this (repo, env) and no --vault-path flag passed.",
        ),
    ];
    for (args, message) in cases {
        let mut t = dev().args(["sync", "dev"]).args(args.iter().copied());
        let out = t.run();
        out.failure(1).stderr_has(message);
        assert!(t.calls().is_empty(), "{args:?}");
        assert!(!t.config_path("dev").exists(), "{args:?}: nothing saved");
    }
}

#[test]
fn a_missing_env_file_is_named() {
    let mut t = Test::new().args(["sync", "prod", "gh", "--gh-repo=a/b"]);
    let path = t.root().join("infra/vault/prod/.env.prod");
    t.run()
        .failure(1)
        .stderr_has(&format!(".env file not found: {}", path.display()));
    assert!(t.calls().is_empty());
}

#[test]
fn an_env_file_without_secrets_is_an_error() {
    let mut t = Test::new().env_file("dev", "# only a comment\n\n").args([
        "sync",
        "dev",
        "gh",
        "--gh-repo=a/b",
    ]);
    let path = t.root().join("infra/vault/dev/.env.dev");
    t.run()
        .failure(1)
        .stderr_has(&format!("no secrets to sync from {}", path.display()));
    assert!(t.calls().is_empty());
}

#[test]
fn the_policy_header_comes_first_on_stdout() {
    let mut t = dev().args(["sync", "dev", "gh", "--gh-repo=a/b"]);
    let out = t.run();
    out.success();
    assert!(
        out.stdout
            .starts_with(&crate::support::policy_header(&[], &[])),
        "{}",
        out.stdout
    );
}

#[test]
fn a_dry_run_calls_no_vendor_cli_and_saves_nothing() {
    let mut t = dev()
        .without_fake("gh")
        .args(["sync", "dev", "gh", "--gh-repo=a/b", "--dry-run"]);
    t.run().success().stdout_lacks("s3cr3t");
    assert!(t.calls().is_empty());
    assert!(!t.config_path("dev").exists());
}

#[test]
fn works_from_a_subdirectory_of_the_repo() {
    let mut t = dev()
        .current_dir("src/deep")
        .args(["sync", "dev", "gh", "--gh-repo=a/b"]);
    t.run().success();
    assert!(t.stored("gh", "a__b__dev", "A").is_some());
}
