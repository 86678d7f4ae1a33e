//! `vsync sync <env> azure` end to end, against the fake `az` (`fixtures/fake_vendor.rs`):
//! `az keyvault secret set --vault-name=V --name=KEY --file /dev/stdin -o none`, the value on
//! stdin read as text (never in argv); `-o none` because `az` otherwise prints the value.
//!
//! What every target does is tested in `sync_targets.rs`; here is what only azure does.

use crate::support::{RICH_POLICY, Test};

fn sync(t: Test) -> Test {
    t.args(["sync", "dev", "azure", "--azure-vault=acme-kv"])
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
fn a_pruned_key_written_again_is_recovered_from_soft_delete_then_written() {
    let mut t = sync(Test::new().env_file("dev", "KEEP=k\nOLD-KEY=s3cr3t-1\n"));
    t.run().success();
    t = t.file("infra/vault/dev/.env.dev", "KEEP=k\n");
    t.run_again(["sync", "dev", "azure", "--prune"]).success();
    assert_eq!(t.deleted_names("azure", "acme-kv"), ["OLD-KEY"]);

    // Key Vault keeps the name taken; the deleted secret carries this repo's and env's tags,
    // so vsync recovers it and writes the new value in the same run.
    t = t.file("infra/vault/dev/.env.dev", "KEEP=k\nOLD-KEY=s3cr3t-2\n");
    t.run_again(["sync", "dev", "azure"])
        .success()
        .stdout_has("✓ OLD-KEY (recovered, then written)")
        .stderr_lacks("s3cr3t");
    assert!(t.deleted_names("azure", "acme-kv").is_empty());
    assert_eq!(
        t.versions("azure", "acme-kv", "OLD-KEY"),
        [b"s3cr3t-1".to_vec(), b"s3cr3t-2".to_vec()]
    );
}
