//! A pruned key added back: on aws and azure, whose deletes are recoverable, the name stays
//! taken by the deleted secret. vsync recovers it when its marks prove it this repo's and
//! env's, then writes; a deleted secret without them is left alone and the key fails with the
//! commands that free the name. The common path makes no extra call.
//!
//! moto accepts writes to a secret scheduled for deletion, which the real Secrets Manager
//! refuses, so the aws proof rests on the fake, which refuses as the service does.

use crate::know_target::{AWS, AZURE, T};
use crate::support::{Output, Test};
use serde_json::Value;

impl T {
    /// Where the fake keeps a deleted secret.
    fn deleted_dir(&self, test: &Test, key: &str) -> std::path::PathBuf {
        test.fake_dir()
            .join("deleted")
            .join(self.service)
            .join(self.scope)
            .join(crate::support::escape(&self.name(key)))
    }

    fn is_deleted(&self, test: &Test, key: &str) -> bool {
        self.deleted_dir(test, key).is_dir()
    }

    fn stored(&self, test: &Test, key: &str) -> Option<String> {
        test.stored(self.service, self.scope, &self.name(key))
            .map(|v| String::from_utf8(v).unwrap())
    }

    /// Creates `key` as someone else would (no vsync marks), then deletes it recoverably.
    fn seed_foreign_deleted(&self, test: &Test, key: &str) {
        let name = self.name(key);
        if self.target == "aws" {
            test.vendor(
                "aws",
                [
                    "secretsmanager",
                    "create-secret",
                    &format!("--name={name}"),
                    "--secret-string=theirs",
                    "--region=eu-west-1",
                ],
                "",
            )
            .success();
            test.vendor(
                "aws",
                [
                    "secretsmanager",
                    "delete-secret",
                    &format!("--secret-id={name}"),
                    "--recovery-window-in-days=7",
                    "--region=eu-west-1",
                ],
                "",
            )
            .success();
        } else {
            test.vendor(
                "az",
                [
                    "keyvault",
                    "secret",
                    "set",
                    "--vault-name=acme-kv",
                    &format!("--name={name}"),
                    "--value=theirs",
                    "-o",
                    "none",
                ],
                "",
            )
            .success();
            test.vendor(
                "az",
                [
                    "keyvault",
                    "secret",
                    "delete",
                    "--vault-name=acme-kv",
                    &format!("--name={name}"),
                ],
                "",
            )
            .success();
        }
        assert!(self.is_deleted(test, key));
    }
}

/// The `--json` entry of `key`.
fn entry(doc: &Value, key: &str) -> Value {
    doc["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key"] == key)
        .cloned()
        .unwrap_or_else(|| panic!("no entry for {key} in {doc}"))
}

fn write_env(test: &Test, pairs: &[(&str, &str)]) {
    let text: String = pairs.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    std::fs::write(test.root().join("infra/vault/dev/.env.dev"), text).unwrap();
}

/// A, B synced by vsync, then B pruned: B is a deleted secret of vsync's.
fn pruned(t: T) -> Test {
    let mut test = Test::new()
        .env_file("dev", "A=a-1\nB=b-old\n")
        .env("VSYNC_RETRY_BASE_MS", "1")
        .args(t.args(&[]));
    test.run().success();
    write_env(&test, &[("A", "a-1")]);
    test.run_again(t.args(&["--prune"]))
        .success()
        .stdout_has(&format!("✓ deleted {}\n", t.name("B")));
    assert!(t.is_deleted(&test, "B"), "{t:?}");
    assert_eq!(t.stored(&test, "B"), None);
    test
}

fn argv_of(test: &Test, t: T, skip: usize) -> Vec<String> {
    test.calls_of(t.bin)
        .into_iter()
        .skip(skip)
        .map(|c| c.argv[..3].join(" "))
        .collect()
}

#[test]
fn a_pruned_key_added_back_is_recovered_then_written_in_one_run() {
    for t in [AWS, AZURE] {
        let mut test = pruned(t);
        let before = test.calls_of(t.bin).len();
        write_env(&test, &[("A", "a-1"), ("B", "b-new")]);
        let out = test.run_again(t.args(&[]));
        out.success()
            .stdout_has("✓ B (recovered, then written)\n")
            .stdout_has("✓ A\n");
        assert_eq!(t.stored(&test, "B").as_deref(), Some("b-new"), "{t:?}");
        assert!(!t.is_deleted(&test, "B"), "{t:?}");
        // The old version came back with the secret; the new one is on top.
        let versions = test.versions(t.service, t.scope, &t.name("B"));
        assert_eq!(versions, [b"b-old".to_vec(), b"b-new".to_vec()], "{t:?}");
        let calls = argv_of(&test, t, before);
        if t.target == "aws" {
            assert!(
                calls
                    .iter()
                    .any(|c| c == "secretsmanager restore-secret --secret-id=app/dev/B"),
                "{calls:?}"
            );
            assert!(
                calls
                    .iter()
                    .any(|c| c == "secretsmanager describe-secret --secret-id=app/dev/B"),
                "{calls:?}"
            );
        } else {
            assert!(
                calls.iter().any(|c| c == "keyvault secret recover"),
                "{calls:?}"
            );
            assert!(
                calls.iter().any(|c| c == "keyvault secret show-deleted"),
                "{calls:?}"
            );
        }
    }
}

#[test]
fn azure_retries_a_write_key_vault_refuses_while_the_recovery_completes() {
    let t = AZURE;
    let mut test = pruned(t).env("FAKE_AZ_RECOVERING_WRITES", "2");
    let before = test.calls_of("az").len();
    write_env(&test, &[("A", "a-1"), ("B", "b-new")]);
    test.run_again(t.args(&["--json"])).success();
    assert_eq!(t.stored(&test, "B").as_deref(), Some("b-new"));
    let sets = test
        .calls_of("az")
        .into_iter()
        .skip(before)
        .filter(|c| c.argv[..3] == ["keyvault", "secret", "set"])
        .filter(|c| c.argv.contains(&"--name=B".to_string()))
        .map(|c| c.exit)
        .collect::<Vec<_>>();
    // The conflict, two writes during the recovery, then the write that lands.
    assert_eq!(sets, [Some(1), Some(1), Some(1), Some(0)]);
}

#[test]
fn json_carries_the_recovery() {
    for t in [AWS, AZURE] {
        let mut test = pruned(t);
        write_env(&test, &[("A", "a-1"), ("B", "b-new")]);
        let out = test.run_again(t.args(&["--json"]));
        out.success();
        let doc: Value = serde_json::from_str(&out.stdout).unwrap();
        let b = entry(&doc, "B");
        assert_eq!(b["recovered"], true, "{t:?}: {b}");
        assert_eq!(b["status"], "updated", "{t:?}: {b}");
        let a = entry(&doc, "A");
        assert!(a.get("recovered").is_none(), "{a}");
    }
}

#[test]
fn a_deleted_secret_without_vsyncs_marks_is_left_alone_and_only_its_key_fails() {
    for t in [AWS, AZURE] {
        let mut test = Test::new()
            .env_file("dev", "A=a-1\n")
            .env("VSYNC_RETRY_BASE_MS", "1")
            .args(t.args(&[]));
        test.run().success();
        t.seed_foreign_deleted(&test, "B");
        let before = test.calls_of(t.bin).len();
        write_env(&test, &[("A", "a-2"), ("B", "b-mine"), ("C", "c-1")]);
        let out = test.run_again(t.args(&[]));
        out.failure(1).stdout_has("✓ A\n").stdout_has("✓ C\n");
        let name = t.name("B");
        let free = if t.target == "aws" {
            [
                format!(
                    "`aws secretsmanager restore-secret --secret-id {name} --region eu-west-1`"
                ),
                format!(
                    "`aws secretsmanager delete-secret --secret-id {name} \
                     --force-delete-without-recovery --region eu-west-1`"
                ),
            ]
        } else {
            [
                format!("`az keyvault secret recover --vault-name acme-kv --name {name}`"),
                format!("`az keyvault secret purge --vault-name acme-kv --name {name}`"),
            ]
        };
        out.stderr_has("WARNING: skipping B: ")
            .stderr_has(&format!("{name} is a "))
            .stderr_has("not tagged as this repo's and env's")
            .stderr_has(&free[0])
            .stderr_has(&free[1]);
        assert_eq!(t.stored(&test, "A").as_deref(), Some("a-2"));
        assert_eq!(t.stored(&test, "C").as_deref(), Some("c-1"));
        // Untouched: still deleted, never recovered, purged or written.
        assert!(t.is_deleted(&test, "B"), "{t:?}");
        assert_eq!(t.stored(&test, "B"), None);
        let calls = argv_of(&test, t, before);
        let changes = [
            "secretsmanager restore-secret",
            "secretsmanager delete-secret",
            "keyvault secret recover",
            "keyvault secret purge",
            "keyvault secret delete",
        ];
        assert!(
            !calls
                .iter()
                .any(|c| changes.iter().any(|change| c.starts_with(change))),
            "{calls:?}"
        );
        let theirs = std::fs::read(t.deleted_dir(&test, "B").join("v1")).unwrap();
        assert_eq!(theirs, b"theirs");
    }
}

#[test]
fn a_write_that_fails_after_the_recovery_says_the_old_value_is_back() {
    for t in [AWS, AZURE] {
        let mut test = pruned(t).env("FAKE_FAIL_AFTER_RESTORE", &t.name("B"));
        write_env(&test, &[("A", "a-1"), ("B", "b-new")]);
        let out = test.run_again(t.args(&[]));
        out.failure(1).stderr_has(&format!(
            "{} was recovered from its deletion and holds its old, pre-prune value again, not \
             the env file's",
            t.name("B")
        ));
        assert_eq!(t.stored(&test, "B").as_deref(), Some("b-old"), "{t:?}");
        let out = test.run_again(t.args(&["--json"]));
        let doc: Value = serde_json::from_str(&out.stdout).unwrap();
        let b = entry(&doc, "B");
        // The second run finds the secret live (recovered by the first): a plain failed write.
        assert_eq!(b["status"], "failed", "{b}");
    }
}

#[test]
fn json_reports_a_recovered_key_whose_write_failed() {
    for t in [AWS, AZURE] {
        let mut test = pruned(t).env("FAKE_FAIL_AFTER_RESTORE", &t.name("B"));
        write_env(&test, &[("A", "a-1"), ("B", "b-new")]);
        let out = test.run_again(t.args(&["--json"]));
        out.failure(1);
        let doc: Value = serde_json::from_str(&out.stdout).unwrap();
        let b = entry(&doc, "B");
        assert_eq!(b["status"], "failed", "{b}");
        assert_eq!(b["recovered"], true, "{b}");
        assert!(
            b["error"]
                .as_str()
                .unwrap()
                .contains("holds its old, pre-prune value again"),
            "{b}"
        );
    }
}

fn diff(test: &mut Test, t: T, pairs: &[(&str, &str)]) -> Output {
    write_env(test, pairs);
    test.run_again(t.args(&["--diff"]))
}

#[test]
fn diff_says_which_new_keys_a_deleted_secret_holds_and_whether_vsync_will_recover_it() {
    for t in [AWS, AZURE] {
        let mut test = pruned(t);
        t.seed_foreign_deleted(&test, "D");
        let before = test.calls_of(t.bin).len();
        let out = diff(
            &mut test,
            t,
            &[("A", "a-1"), ("B", "b-new"), ("C", "c-1"), ("D", "d-1")],
        );
        out.failure(2)
            .stdout_has("= A\n")
            .stdout_has("~ B (deleted by vsync: will be recovered, then written)\n")
            .stdout_has("+ C\n")
            .stdout_has(
                "! D (deleted, not tagged as this repo's and env's: blocked; vsync will not \
                 recover it)\n",
            );
        let calls = argv_of(&test, t, before);
        let listings = calls
            .iter()
            .filter(|c| c.contains("list-deleted") || c.contains("list-secrets"))
            .count();
        let deleted_listings = test
            .calls_of(t.bin)
            .into_iter()
            .skip(before)
            .filter(|c| {
                c.argv.contains(&"list-deleted".to_string())
                    || c.argv.contains(&"--include-planned-deletion".to_string())
            })
            .count();
        assert_eq!(deleted_listings, 1, "{t:?}: {calls:?}");
        assert!(listings >= 1);
        // Nothing changed.
        assert!(t.is_deleted(&test, "B") && t.is_deleted(&test, "D"));
        assert!(
            !calls
                .iter()
                .any(|c| c.contains("restore") || c.contains("recover") || c.contains(" set")),
            "{calls:?}"
        );
        let json = test.run_again(t.args(&["--diff", "--json"]));
        let doc: Value = serde_json::from_str(&json.stdout).unwrap();
        let status = |key: &str| entry(&doc, key)["status"].clone();
        assert_eq!(status("B"), "recover");
        assert_eq!(status("D"), "blocked");
        assert_eq!(status("C"), "create");
    }
}

#[test]
fn skip_unchanged_never_skips_a_deleted_key() {
    for t in [AWS, AZURE] {
        let mut test = pruned(t);
        // The same value it held before the prune.
        write_env(&test, &[("A", "a-1"), ("B", "b-old")]);
        test.run_again(t.args(&["--skip-unchanged"]))
            .success()
            .stdout_has("= A (unchanged)\n")
            .stdout_has("✓ B (recovered, then written)\n");
        assert!(!t.is_deleted(&test, "B"));
        assert_eq!(t.stored(&test, "B").as_deref(), Some("b-old"));
    }
}

/// Without deleted names a sync and a `--diff` make exactly the calls they made before:
/// no describe, restore, recover or listing of deleted secrets.
#[test]
fn the_common_path_makes_no_extra_call() {
    for t in [AWS, AZURE] {
        let mut test = Test::new()
            .env_file("dev", "A=a-1\nB=b-1\n")
            .args(t.args(&[]));
        test.run().success();
        write_env(&test, &[("A", "a-2"), ("B", "b-2"), ("C", "c-1")]);
        let before = test.calls_of(t.bin).len();
        // One worker: the list call answers before the first write, so the calls are exact.
        test.run_again(t.args(&["--workers=1"])).success();
        let calls = argv_of(&test, t, before);
        let expected: Vec<&str> = if t.target == "aws" {
            vec![
                "secretsmanager list-secrets --region=eu-west-1",
                "secretsmanager put-secret-value --secret-id=app/dev/A",
                "secretsmanager put-secret-value --secret-id=app/dev/B",
                "secretsmanager create-secret --name=app/dev/C",
            ]
        } else {
            vec!["keyvault secret set"; 3]
        };
        let mut sorted = calls.clone();
        sorted.sort();
        let mut expected: Vec<String> = expected.into_iter().map(String::from).collect();
        expected.sort();
        assert_eq!(sorted, expected, "{t:?}");
        // A --diff where no key is new lists no deleted secrets.
        let before = test.calls_of(t.bin).len();
        write_env(&test, &[("A", "a-2"), ("B", "changed")]);
        test.run_again(t.args(&["--diff"])).failure(2);
        let calls = argv_of(&test, t, before);
        assert!(
            calls
                .iter()
                .all(|c| !c.contains("list-deleted") && !c.contains("describe")),
            "{calls:?}"
        );
        assert!(
            test.calls_of(t.bin)
                .into_iter()
                .skip(before)
                .all(|c| !c.argv.contains(&"--include-planned-deletion".to_string()))
        );
    }
}

/// The fakes refuse a deleted name as the real CLIs do: the service's words, the CLI's exit
/// status.
#[test]
fn the_fakes_refuse_a_deleted_name_as_the_vendors_do() {
    let test = Test::new();
    AWS.seed_foreign_deleted(&test, "X");
    let put = test.vendor(
        "aws",
        [
            "secretsmanager",
            "put-secret-value",
            "--secret-id=app/dev/X",
            "--secret-string=v",
            "--region=eu-west-1",
        ],
        "",
    );
    put.failure(255).stderr_is(
        "\nAn error occurred (InvalidRequestException) when calling the PutSecretValue \
         operation: You can't perform this operation on the secret because it was marked for \
         deletion.\n",
    );
    test.vendor(
        "aws",
        [
            "secretsmanager",
            "create-secret",
            "--name=app/dev/X",
            "--secret-string=v",
            "--region=eu-west-1",
        ],
        "",
    )
    .failure(255)
    .stderr_is(
        "\nAn error occurred (InvalidRequestException) when calling the CreateSecret \
         operation: You can't create this secret because a secret with this name is already \
         scheduled for deletion.\n",
    );
    AZURE.seed_foreign_deleted(&test, "X");
    test.vendor(
        "az",
        [
            "keyvault",
            "secret",
            "set",
            "--vault-name=acme-kv",
            "--name=x",
            "--value=v",
            "-o",
            "none",
        ],
        "",
    )
    .failure(1)
    .stderr_is(
        "ERROR: (Conflict) Secret X is currently in a deleted but recoverable state, and its \
         name cannot be reused; in this state, the secret can only be recovered or purged.\n\
         Code: Conflict\n\
         Message: Secret X is currently in a deleted but recoverable state, and its name cannot \
         be reused; in this state, the secret can only be recovered or purged.\n\
         Inner error: {\n    \"code\": \"ObjectIsDeletedButRecoverable\"\n}\n",
    );
}

/// The real aws-cli against moto: a secret vsync created and pruned keeps the tags of its
/// create, and the listing `--diff` makes and the `describe-secret` the recovery reads show
/// it with its `DeletedDate` and `Tags`, as the fake prints them. (A sync cannot be proven here: moto accepts writes to such a
/// secret, which the real service refuses.)
#[test]
fn real_aws_cli_and_moto_show_a_deleted_secret_as_the_fake_does() {
    use crate::know_target::{Moto, real_aws, skip, with_real_aws};
    let (aws, moto) = match (real_aws(), Moto::start()) {
        (Ok(aws), Ok(moto)) => (aws, moto),
        (Err(e), _) | (_, Err(e)) => return skip(&e),
    };
    let endpoint = format!("http://127.0.0.1:{}", moto.port);
    let t = T {
        routing: &["--aws-region=us-east-1", "--aws-secret-prefix=app/dev/"],
        scope: "us-east-1",
        ..AWS
    };
    let mut test = with_real_aws(Test::new(), &aws, &endpoint)
        .env_file("dev", "A=a-1\nB=b-old\n")
        .args(t.args(&[]));
    test.run().success();
    write_env(&test, &[("A", "a-1")]);
    test.run_again(t.args(&["--prune"])).success();
    let real = |args: &[&str]| {
        let mut cmd = test.vendor_command("aws");
        cmd.args(args);
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let shown: Value = serde_json::from_str(&real(&[
        "secretsmanager",
        "describe-secret",
        "--secret-id=app/dev/B",
        "--region=us-east-1",
        "--output=json",
    ]))
    .unwrap();
    assert!(!shown["DeletedDate"].is_null(), "{shown}");
    assert!(
        shown["Tags"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!({"Key": "managed-by", "Value": "vsync"})),
        "{shown}"
    );
    write_env(&test, &[("A", "a-1"), ("B", "b-new"), ("C", "c-1")]);
    test.run_again(t.args(&["--diff"]))
        .failure(2)
        .stdout_is("= A\n~ B (deleted by vsync: will be recovered, then written)\n+ C\n");
}
