//! `vsync sync <env> azure` end to end, against the fake `az` (`fixtures/fake_vendor.rs`):
//! `az keyvault secret set --vault-name=V --name=KEY --file /dev/stdin -o none`, the value on
//! stdin read as text (never in argv); `-o none` because `az` otherwise prints the value.

mod support;

use support::{RICH_POLICY, Test, one_by_one, rich_secrets, rich_stdout};

fn abc() -> Test {
    Test::new().env_file("dev", "A=s3cr3t-a\nB=s3cr3t-b\nC=s3cr3t-c\n")
}

fn sync(t: Test) -> Test {
    t.args(["sync", "dev", "azure", "--azure-vault=acme-kv"])
}

#[test]
fn pushes_every_value_exactly_and_prints_the_0_8_lines() {
    let mut t = sync(Test::new().rich("-"))
        .args(RICH_POLICY)
        .arg("--workers=1");
    let out = t.run();
    let keys: Vec<String> = rich_secrets("-").into_iter().map(|(k, _)| k).collect();
    out.success().stdout_is(&rich_stdout(
        "Syncing 7 secrets to Azure Key Vault: vault=acme-kv",
        &one_by_one(&keys),
        "✅ 7 secrets synced to azure in #.#s.",
    ));
    for (key, value) in rich_secrets("-") {
        assert_eq!(
            t.stored("azure", "acme-kv", &key).as_deref(),
            Some(value.as_bytes()),
            "{key}"
        );
    }
}

#[test]
fn az_is_told_to_print_nothing_so_no_value_leaks() {
    let mut t = sync(Test::new().rich("-")).args(RICH_POLICY);
    t.run()
        .success()
        .stdout_lacks("s3cr3t")
        .stderr_lacks("s3cr3t");
    t.assert_no_value_in_argv();
    for call in t.calls() {
        let quiet = call
            .argv
            .windows(2)
            .any(|w| (w[0] == "-o" || w[0] == "--output") && w[1] == "none")
            || call.argv.iter().any(|a| a == "--output=none");
        assert!(quiet, "{}", call.line());
        assert!(
            call.argv
                .windows(2)
                .any(|w| w[0] == "--file" && w[1] == "/dev/stdin"),
            "{}",
            call.line()
        );
    }
}

#[test]
fn names_with_underscores_are_refused_before_anything_runs() {
    let mut t = sync(Test::new().env_file("dev", "GOOD-ONE=s3cr3t-a\nBAD_ONE=s3cr3t-b\n"));
    t.run()
        .failure(1)
        .stderr_has("BAD_ONE")
        .stderr_has("--exclude-property=BAD_ONE")
        .stderr_lacks("GOOD-ONE");
    assert!(t.calls().is_empty(), "all or none");
}

#[test]
fn crlf_in_a_value_is_translated_by_the_cli_and_vsync_warns() {
    let mut t = sync(
        Test::new()
            .env_file("dev", "CERT_PATH=cert.pem\n")
            .file("infra/vault/dev/cert.pem", "s3cr3t-1\r\ns3cr3t-2\r\n"),
    )
    .arg("--inline-file-suffix=_PATH");
    t.run().success().stderr_has("CERT");
    assert_eq!(
        t.stored("azure", "acme-kv", "CERT").as_deref(),
        Some(&b"s3cr3t-1\ns3cr3t-2\n"[..])
    );
}

#[test]
fn routing_is_saved_and_reused_on_the_next_run() {
    let mut t = sync(abc());
    t.run().success();
    t.run_again(["sync", "dev", "azure"])
        .success()
        .stdout_has("Syncing 3 secrets to Azure Key Vault: vault=acme-kv\n");
    assert_eq!(t.versions("azure", "acme-kv", "C").len(), 2);
}

#[test]
fn a_failing_key_does_not_stop_the_others() {
    let mut t = sync(abc()).env("FAKE_FAIL_KEYS", "B");
    let out = t.run();
    out.failure(1)
        .stderr_has("WARNING: skipping B: az keyvault secret set: ");
    assert_eq!(
        out.stdout_lines().last().unwrap(),
        "azure: 2 ok, 1 failed (B) in #.#s"
    );
    assert!(t.stored("azure", "acme-kv", "A").is_some());
    assert!(t.stored("azure", "acme-kv", "C").is_some());
    assert!(t.stored("azure", "acme-kv", "B").is_none());
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
    assert_eq!(t.calls().len(), 5);
}

#[test]
fn a_missing_az_is_reported_and_nothing_runs() {
    let mut t = sync(abc()).without_fake("az");
    t.run()
        .failure(1)
        .stderr_has("az not found on PATH — install it before running vsync sync.");
    assert!(t.calls().is_empty());
}

#[test]
fn a_missing_file_reference_pushes_nothing() {
    let mut t = sync(Test::new().env_file("dev", "A=s3cr3t-a\nSSH-KEY_PATH=keys/missing\n"))
        .arg("--inline-file-suffix=_PATH");
    let missing = t.root().join("infra/vault/dev/keys/missing");
    t.run().failure(1).stderr_has(&format!(
        "  - SSH-KEY_PATH: file not found at {}\n",
        missing.display()
    ));
    assert!(t.calls().is_empty());
}
