//! `--dry-run`, end to end through the real binary: for every target it exits 0 and
//! prints the plan — per key its source, its size and the exact vendor command line — while
//! running no vendor CLI, writing no config and printing no value; and it works the same with
//! no vendor CLI on PATH at all. It still stops at every pre-flight error, like a real run.
//!
//! Each case runs twice in the same sandbox: once with the fakes on PATH (so a vendor call
//! would be logged), once with every vendor CLI removed from PATH; both must print the same.

use crate::support::{Output, Test, VENDORS};

/// A literal, a file reference and an excluded key, in gh/gcp/aws/vault naming.
const ENV: &str =
    "API_KEY=s3cr3t-literal-value\nSSH_KEY_PATH=keys/id\nSKIPPED=nope-excluded-value\n";
/// The same for Azure, whose names allow no `_` (the suffix is stripped before the check).
const AZURE_ENV: &str =
    "api-key=s3cr3t-literal-value\nssh-key_PATH=keys/id\nskipped=nope-excluded-value\n";
const KEY_FILE: &str = "line1-secret\nline2\n";
/// Nothing of a value may appear in stdout or stderr.
const VALUE_PARTS: [&str; 4] = ["s3cr3t", "line1-secret", "line2", "nope-excluded"];

fn sandbox(env_text: &str) -> Test {
    Test::new()
        .env_file("dev", env_text)
        .file("infra/vault/dev/keys/id", KEY_FILE)
}

fn policy(excluded: &str) -> Vec<String> {
    vec![
        "--dry-run".into(),
        "--inline-file-suffix=_PATH".into(),
        format!("--exclude-property={excluded}"),
    ]
}

/// The 0.8 header and banner every successful dry run starts with.
fn header(excluded: &str, banner: &str) -> String {
    format!(
        "\nParser policy:\n  inline-file-suffix: _PATH\n  exclude-property:   {excluded}\n\n\
         {banner}\n  skipped (excluded): {excluded}\n\n\
         Dry run: no vendor CLI was run and nothing was saved. \
         Planned calls (each value goes on stdin):\n"
    )
}

#[track_caller]
fn assert_ran_nothing_and_showed_no_value(t: &Test, out: &Output) {
    assert!(
        t.calls().is_empty(),
        "a dry run called a vendor CLI: {:?}",
        t.calls().iter().map(|c| c.line()).collect::<Vec<_>>()
    );
    assert!(
        !t.home().join(".config/vsync").exists(),
        "a dry run wrote the config directory"
    );
    for part in VALUE_PARTS {
        out.stdout_lacks(part).stderr_lacks(part);
    }
}

/// Runs the dry run with the fakes on PATH, then with no vendor CLI on PATH; checks the dry
/// run's contract for both and that they print the same. Returns the sandbox (for the file paths
/// of the plan) and the first run's output.
fn dry_run(env_text: &str, excluded: &str, target_args: &[&str]) -> (Test, Output) {
    let mut t = sandbox(env_text).args(["sync", "dev"]).args(target_args);
    let t_args = policy(excluded);
    t = t.args(&t_args);
    let with_fakes = t.run();
    with_fakes.success();
    assert_ran_nothing_and_showed_no_value(&t, &with_fakes);

    let mut t = VENDORS
        .iter()
        .fold(t, |t, bin| t.without_fake(bin))
        .args(["sync", "dev"])
        .args(target_args)
        .args(&t_args);
    let without = t.run();
    without.success();
    assert_ran_nothing_and_showed_no_value(&t, &without);
    assert_eq!(
        with_fakes.stdout, without.stdout,
        "the plan depends on PATH"
    );
    assert_eq!(with_fakes.stderr, without.stderr);
    (t, with_fakes)
}

fn key_file(t: &Test) -> String {
    t.root()
        .join("infra/vault/dev/keys/id")
        .display()
        .to_string()
}

#[test]
fn a_gh_dry_run_plans_one_gh_secret_set_per_key_and_runs_nothing() {
    let (t, out) = dry_run(ENV, "SKIPPED", &["gh", "--gh-repo=acme/api"]);
    out.stdout_is(&format!(
        "{}  API_KEY  literal  20 bytes\n\
         \x20   gh secret set --env=dev --repo=acme/api -- API_KEY\n\
         \x20 SSH_KEY  file {}  19 bytes\n\
         \x20   gh secret set --env=dev --repo=acme/api -- SSH_KEY\n",
        header(
            "SKIPPED",
            "Syncing 2 secrets to GitHub: repo=acme/api, environment=dev"
        ),
        key_file(&t)
    ));
    // The pre-flight warnings of a real run are part of the dry run too.
    out.stderr_is("warning: gh strips trailing newlines from: SSH_KEY\n");
}

#[test]
fn a_gcp_dry_run_plans_the_list_call_and_both_writes_per_key() {
    let (t, out) = dry_run(ENV, "SKIPPED", &["gcp", "--gcp-project=acme-dev"]);
    let writes = |key: &str| {
        format!(
            "    if it exists: gcloud secrets versions add --data-file=- --project=acme-dev -- {key}\n\
             \x20   if it does not: gcloud secrets create --replication-policy=automatic \
             --data-file=- --labels=managed-by=vsync,vsync-repo=github-com-acme-api-b40f733f34db,vsync-env=dev \
             --project=acme-dev -- {key}\n"
        )
    };
    out.stdout_is(&format!(
        "{}  once, to learn which secrets exist: gcloud secrets list --project=acme-dev \
         '--format=json(name,labels)'\n\
         \x20 after writing an existing secret without vsync's ownership marks: gcloud secrets \
         update --update-labels=managed-by=vsync,vsync-repo=github-com-acme-api-b40f733f34db,vsync-env=dev \
         --project=acme-dev -- KEY\n\
         \x20 API_KEY  literal  20 bytes\n{}\
         \x20 SSH_KEY  file {}  19 bytes\n{}",
        header(
            "SKIPPED",
            "Syncing 2 secrets to GCP Secret Manager: project=acme-dev"
        ),
        writes("API_KEY"),
        key_file(&t),
        writes("SSH_KEY"),
    ));
    out.stderr_is("");
}

/// The tags aws sets, as the dry run quotes them.
const TAGS: &str = r#"'--tags=[{"Key":"managed-by","Value":"vsync"},{"Key":"vsync-repo","Value":"github-com-acme-api-b40f733f34db"},{"Key":"vsync-env","Value":"dev"}]'"#;

#[test]
fn an_aws_dry_run_plans_prefixed_names_read_from_stdin() {
    let (t, out) = dry_run(
        ENV,
        "SKIPPED",
        &[
            "aws",
            "--aws-region=eu-west-1",
            "--aws-secret-prefix=api/dev/",
        ],
    );
    let writes = |key: &str| {
        format!(
            "    if it exists: aws secretsmanager put-secret-value --secret-id=api/dev/{key} \
             --secret-string file:///dev/stdin --region=eu-west-1\n\
             \x20   if it does not: aws secretsmanager create-secret --name=api/dev/{key} \
             --secret-string file:///dev/stdin --region=eu-west-1 {TAGS}\n"
        )
    };
    out.stdout_is(&format!(
        "{}  once, to learn which secrets exist: aws secretsmanager list-secrets \
         --region=eu-west-1 --filters=Key=name,Values=api/dev/ --query \
         'SecretList[].{{Name:Name,Tags:Tags}}' --output json\n\
         \x20 after writing an existing secret without vsync's ownership marks: aws secretsmanager \
         tag-resource --secret-id=api/dev/KEY {TAGS} --region=eu-west-1\n\
         \x20 API_KEY  literal  20 bytes\n{}\
         \x20 SSH_KEY  file {}  19 bytes\n{}",
        header(
            "SKIPPED",
            "Syncing 2 secrets to AWS Secrets Manager: region=eu-west-1, prefix=api/dev/"
        ),
        writes("API_KEY"),
        key_file(&t),
        writes("SSH_KEY"),
    ));
    out.stderr_is("");
}

#[test]
fn an_azure_dry_run_plans_az_with_its_output_off() {
    let (t, out) = dry_run(AZURE_ENV, "skipped", &["azure", "--azure-vault=acme-kv"]);
    out.stdout_is(&format!(
        "{}  api-key  literal  20 bytes\n\
         \x20   az keyvault secret set --vault-name=acme-kv --name=api-key --file /dev/stdin --tags managed-by=vsync vsync-repo=github-com-acme-api-b40f733f34db vsync-env=dev -o none\n\
         \x20 ssh-key  file {}  19 bytes\n\
         \x20   az keyvault secret set --vault-name=acme-kv --name=ssh-key --file /dev/stdin --tags managed-by=vsync vsync-repo=github-com-acme-api-b40f733f34db vsync-env=dev -o none\n",
        header("skipped", "Syncing 2 secrets to Azure Key Vault: vault=acme-kv"),
        key_file(&t)
    ));
    out.stderr_is("");
}

#[test]
fn a_vault_dry_run_plans_one_kv_put_of_the_whole_document() {
    let (t, out) = dry_run(
        ENV,
        "SKIPPED",
        &[
            "vault",
            "--vault-addr=https://vault:8200",
            "--vault-mount=secret",
            "--vault-path=api/dev",
        ],
    );
    let doc = serde_json::json!({"API_KEY": "s3cr3t-literal-value", "SSH_KEY": KEY_FILE});
    let doc_len = serde_json::to_string(&doc).unwrap().len();
    out.stdout_is(&format!(
        "{}  API_KEY  literal  20 bytes\n\
         \x20 SSH_KEY  file {}  19 bytes\n\
         \x20 one write, a JSON object of 2 keys ({doc_len} bytes) on stdin:\n\
         \x20   VAULT_ADDR=https://vault:8200 vault kv put -mount=secret -- api/dev -\n",
        header(
            "SKIPPED",
            "Syncing 2 secrets to HashiCorp Vault: addr=https://vault:8200, mount=secret, \
             path=api/dev"
        ),
        key_file(&t)
    ));
    out.stderr_is("");
}

#[test]
fn a_dry_run_leaves_an_existing_config_untouched_even_when_a_flag_changes_routing() {
    let saved = "{\"version\":1,\"sync\":{\"gh\":{\"repo\":\"acme/old\"}}}\n";
    let t = sandbox(ENV);
    let config = t.config_path("dev");
    let mut t = t
        .file(config.to_str().unwrap(), saved)
        .args(["sync", "dev", "gh", "--gh-repo=acme/new"])
        .args(policy("SKIPPED"));
    let out = t.run();
    out.success()
        .stdout_has("Syncing 2 secrets to GitHub: repo=acme/new, environment=dev")
        .stdout_has("    gh secret set --env=dev --repo=acme/new -- API_KEY\n");
    // A real run would save acme/new (as gzip); the dry run leaves the plain JSON as it was.
    assert_eq!(std::fs::read_to_string(&config).unwrap(), saved);
    assert!(t.calls().is_empty());

    // Routing that comes only from the config is planned the same way.
    let mut t = t.args(["sync", "dev", "gh"]).args(policy("SKIPPED"));
    let out = t.run();
    out.success()
        .stdout_has("    gh secret set --env=dev --repo=acme/old -- SSH_KEY\n");
    assert_eq!(std::fs::read_to_string(&config).unwrap(), saved);
}

#[test]
fn a_dry_run_stops_at_pre_flight_errors_like_a_real_run() {
    // Azure names allow no `_`: the check that keeps a real run from pushing anything.
    let mut t = sandbox(ENV)
        .args(["sync", "dev", "azure", "--azure-vault=acme-kv"])
        .args(policy("SKIPPED"));
    let out = t.run();
    out.failure(1)
        .stderr_has("vsync: error: 2 secret(s) cannot be pushed to azure; nothing was pushed:")
        .stderr_has("  - API_KEY (line 1): Azure Key Vault names allow only")
        .stdout_lacks("Dry run:");
    assert!(t.calls().is_empty());
    for part in VALUE_PARTS {
        out.stdout_lacks(part).stderr_lacks(part);
    }
}

#[test]
fn a_dry_run_without_routing_fails_like_a_real_run_and_saves_nothing() {
    let mut t = sandbox(ENV)
        .args(["sync", "dev", "gh"])
        .args(policy("SKIPPED"));
    let out = t.run();
    out.failure(1)
        .stderr_has("vsync: error: sync.gh.repo not configured")
        .stderr_has("--gh-repo");
    assert!(t.calls().is_empty());
    assert!(!t.home().join(".config/vsync").exists());
}
