//! `--azure-names` end to end, against the fake `az`: with `dashes` a conventional env file
//! (`DATABASE_URL`) goes to Key Vault as `DATABASE-URL`, said in the banner and the dry run,
//! while every line vsync prints keeps the key as written; the setting is saved like any
//! routing flag; keys that map to one name, an unknown value, and (under `exact`) an
//! underscore are refused before any vendor call.

use crate::support::{Output, Test, one_by_one, policy_header};

const ENV: &str = "DATABASE_URL=s3cr3t-db\nAPI-KEY=s3cr3t-api\nDEPLOY_KEY_PATH=keys/deploy\n";

fn sandbox() -> Test {
    Test::new()
        .env_file("dev", ENV)
        .file("infra/vault/dev/keys/deploy", "s3cr3t-file")
}

fn azure(t: Test, flags: &[&str]) -> Test {
    t.args(["sync", "dev", "azure", "--inline-file-suffix=_PATH"])
        .args(flags)
        .arg("--workers=1")
}

/// What a successful run prints: the keys as written, the banner with or without the mapping.
fn synced(banner: &str) -> String {
    let keys: Vec<String> = ["DATABASE_URL", "API-KEY", "DEPLOY_KEY"]
        .map(String::from)
        .to_vec();
    let mut text = policy_header(&["_PATH"], &[]);
    text.push_str(&format!("\n{banner}\n"));
    for line in one_by_one(&keys) {
        text.push_str(&line);
        text.push('\n');
    }
    text.push_str("\n✅ 3 secrets synced to azure in #.#s.\n");
    text
}

#[track_caller]
fn refused_before_any_call(t: &Test, out: &Output) {
    out.failure(1).stdout_lacks("Syncing");
    assert!(t.calls().is_empty(), "a vendor CLI was called");
    assert!(!t.fake_dir().join("store").exists(), "something was stored");
}

#[test]
fn dashes_store_each_key_under_its_mapped_name_and_print_the_key_as_written() {
    let mut t = azure(
        sandbox(),
        &["--azure-vault=acme-kv", "--azure-names=dashes"],
    );
    let out = t.run();
    out.success().stderr_is("").stdout_is(&synced(
        "Syncing 3 secrets to Azure Key Vault: vault=acme-kv, names=dashes",
    ));
    assert_eq!(
        t.secret_names("azure", "acme-kv"),
        ["API-KEY", "DATABASE-URL", "DEPLOY-KEY"]
    );
    assert_eq!(
        t.stored("azure", "acme-kv", "DATABASE-URL").as_deref(),
        Some(&b"s3cr3t-db"[..])
    );
    assert_eq!(
        t.stored("azure", "acme-kv", "DEPLOY-KEY").as_deref(),
        Some(&b"s3cr3t-file"[..])
    );
    for call in t.calls() {
        assert!(
            !call.argv.iter().any(|a| a.contains('_')),
            "an unmapped name reached az: {}",
            call.line()
        );
    }
    t.assert_no_value_in_argv();
}

#[test]
fn the_dry_run_shows_each_key_beside_the_name_it_is_stored_under() {
    let mut t = azure(
        sandbox(),
        &["--azure-vault=acme-kv", "--azure-names=dashes", "--dry-run"],
    );
    let out = t.run();
    let cmd = |name: &str| {
        format!(
            "    az keyvault secret set --vault-name=acme-kv --name={name} --file /dev/stdin \
             --tags managed-by=vsync vsync-repo=github-com-acme-api-b40f733f34db vsync-env=dev -o none\n"
        )
    };
    out.success().stderr_is("").stdout_is(&format!(
        "{}\nSyncing 3 secrets to Azure Key Vault: vault=acme-kv, names=dashes\n\n\
         Dry run: no vendor CLI was run and nothing was saved. \
         Planned calls (each value goes on stdin):\n\
         \x20 DATABASE_URL → DATABASE-URL  literal  9 bytes\n{}\
         \x20 API-KEY  literal  10 bytes\n{}\
         \x20 DEPLOY_KEY → DEPLOY-KEY  file {}  11 bytes\n{}",
        policy_header(&["_PATH"], &[]),
        cmd("DATABASE-URL"),
        cmd("API-KEY"),
        t.root().join("infra/vault/dev/keys/deploy").display(),
        cmd("DEPLOY-KEY"),
    ));
    assert!(t.calls().is_empty());
    assert!(
        !t.config_path("dev").exists(),
        "a dry run saved the setting"
    );
}

#[test]
fn the_saved_mapping_is_reused_without_the_flag_and_exact_switches_back_and_is_saved() {
    let mut t = azure(
        sandbox(),
        &["--azure-vault=acme-kv", "--azure-names=dashes"],
    );
    t.run().success();

    // No routing flag at all: the vault and the mapping come from the config.
    let out = t.run_again([
        "sync",
        "dev",
        "azure",
        "--inline-file-suffix=_PATH",
        "--workers=1",
    ]);
    out.success().stderr_is("").stdout_is(&synced(
        "Syncing 3 secrets to Azure Key Vault: vault=acme-kv, names=dashes",
    ));
    assert_eq!(t.versions("azure", "acme-kv", "DATABASE-URL").len(), 2);

    // Back to names as written: the same env file is refused again, nothing is pushed…
    let out = t.run_again([
        "sync",
        "dev",
        "azure",
        "--inline-file-suffix=_PATH",
        "--azure-names=exact",
    ]);
    out.failure(1)
        .stderr_has("  - DATABASE_URL (line 1): Azure");
    // …so the switch is saved with an env file Key Vault takes as written.
    std::fs::write(
        t.root().join("infra/vault/dev/.env.dev"),
        "API-KEY=s3cr3t-api2\n",
    )
    .unwrap();
    let args = ["sync", "dev", "azure", "--azure-names=exact"];
    t.run_again(args)
        .success()
        .stdout_has("\nSyncing 1 secrets to Azure Key Vault: vault=acme-kv\n");
    std::fs::write(
        t.root().join("infra/vault/dev/.env.dev"),
        "NEW_KEY=s3cr3t-new\n",
    )
    .unwrap();
    let calls = t.calls().len();
    t.run_again(["sync", "dev", "azure"])
        .failure(1)
        .stderr_has("  - NEW_KEY (line 1): Azure Key Vault names allow only");
    assert_eq!(t.calls().len(), calls, "exact was not saved");
}

#[test]
fn keys_that_map_to_one_name_are_refused_naming_both_lines() {
    let mut t = azure(
        Test::new().env_file(
            "dev",
            "A_B=s3cr3t-1\nOTHER=s3cr3t-2\na-b=s3cr3t-3\nC_D=s3cr3t-4\nC-D=s3cr3t-5\n",
        ),
        &["--azure-vault=kv1", "--azure-names=dashes"],
    );
    let out = t.run();
    refused_before_any_call(&t, &out);
    out.stderr_is(
        "vsync: error: 4 secret(s) cannot be pushed to azure; nothing was pushed:\n  \
         - A_B (line 1) and a-b (line 3) name one secret, A-B (azure ignores case in names) \
         — rename all but one in the env file, or pass --exclude-property=a-b\n  \
         - C_D (line 4) and C-D (line 5) name one secret, C-D — rename all but one in the \
         env file, or pass --exclude-property=C-D\n",
    );
    assert!(
        !t.config_path("dev").exists(),
        "a refused run saved routing"
    );
}

#[test]
fn an_excluded_key_resolves_a_collision_by_the_key_as_written() {
    let mut t = azure(
        Test::new().env_file("dev", "A_B=s3cr3t-1\nA-B=s3cr3t-2\n"),
        &[
            "--azure-vault=kv1",
            "--azure-names=dashes",
            "--exclude-property=A-B",
        ],
    );
    t.run().success();
    assert_eq!(t.secret_names("azure", "kv1"), ["A-B"]);
    assert_eq!(
        t.stored("azure", "kv1", "A-B").as_deref(),
        Some(&b"s3cr3t-1"[..])
    );
}

#[test]
fn keys_differing_only_in_case_are_still_one_secret_with_the_last_value() {
    let mut t = azure(
        Test::new().env_file("dev", "DB_PASS=s3cr3t-1\ndb_pass=s3cr3t-2\n"),
        &["--azure-vault=kv1", "--azure-names=dashes"],
    );
    t.run()
        .success()
        .stderr_has("DB_PASS is defined more than once")
        .stdout_has("✅ 1 secrets synced to azure in");
    assert_eq!(t.secret_names("azure", "kv1"), ["db-pass"]);
}

#[test]
fn an_unknown_value_is_refused_naming_the_flag_and_the_allowed_values() {
    for value in ["underscores", "DASHES", "lower"] {
        let mut t = azure(
            sandbox(),
            &["--azure-vault=kv1", &format!("--azure-names={value}")],
        );
        let out = t.run();
        refused_before_any_call(&t, &out);
        out.stderr_is(&format!(
            "vsync: error: unknown --azure-names value \"{value}\" (a flag or the saved \
             sync.azure.names): the allowed values are exact (the default: keys as written) \
             and dashes (each _ stored as -); nothing was pushed\n"
        ));
        assert!(!t.config_path("dev").exists(), "the bad value was saved");
    }
}

#[test]
fn the_flag_on_another_target_is_warned_about_and_ignored() {
    let mut t = Test::new()
        .env_file("dev", "DATABASE_URL=s3cr3t-db\n")
        .args([
            "sync",
            "dev",
            "gcp",
            "--gcp-project=acme",
            "--azure-names=dashes",
        ]);
    t.run()
        .success()
        .stderr_is("warning: ignoring --azure-names: it does not apply to the gcp target\n");
    assert_eq!(t.secret_names("gcp", "acme"), ["DATABASE_URL"]);
}

#[test]
fn under_exact_names_an_underscore_refusal_points_to_dashes() {
    let mut t = azure(
        Test::new().env_file("dev", "DB_URL=s3cr3t-1\nX.Y_Z=s3cr3t-2\n"),
        &["--azure-vault=kv1"],
    );
    let out = t.run();
    refused_before_any_call(&t, &out);
    let rule =
        "Azure Key Vault names allow only 0-9, A-Z, a-z and - (no underscore), 1-127 characters";
    out.stderr_is(&format!(
        "vsync: error: 2 secret(s) cannot be pushed to azure; nothing was pushed:\n  \
         - DB_URL (line 1): {rule} (or pass --azure-names=dashes to store each _ as -) — fix \
         or rename it in the env file, or pass --exclude-property=DB_URL\n  \
         - X.Y_Z (line 2): {rule} — fix or rename it in the env file, or pass \
         --exclude-property=X.Y_Z\n"
    ));
}
