//! The store settings organisations require, end to end against the fakes
//! (`fixtures/fake_vendor.rs`): `--gcp-locations` (user-managed replication), `--aws-kms-key`
//! (the key of new secrets), `--ssm-kms-key` and `--ssm-tier` (with every put). For each: a
//! first run with the flag, a second run from the saved setting, and what landed in the store.
//! Also: pre-flight refuses a bad value naming the flag, and a run without the flags leaves
//! the saved routing byte for byte as it was.

use crate::support::{Test, escape};
use flate2::read::MultiGzDecoder;
use std::fs;
use std::io::Read;

/// A file the fake keeps beside a secret's versions (`replication.json`, `kms_key_id`,
/// `key_id`, `tier`).
fn beside(t: &Test, service: &str, scope: &str, name: &str, file: &str) -> Option<String> {
    let path = t
        .fake_dir()
        .join("store")
        .join(service)
        .join(scope)
        .join(escape(name))
        .join(file);
    fs::read_to_string(path).ok()
}

fn replication(t: &Test, name: &str) -> serde_json::Value {
    let text = beside(t, "gcp", "acme-dev", name, "replication.json").expect("a replication");
    serde_json::from_str(&text).unwrap()
}

fn user_managed(locations: &[&str]) -> serde_json::Value {
    let replicas: Vec<_> = locations
        .iter()
        .map(|l| serde_json::json!({ "location": l }))
        .collect();
    serde_json::json!({ "userManaged": { "replicas": replicas } })
}

/// The saved routing as text (the file is gzipped JSON; empty when nothing was saved).
fn config_text(t: &Test) -> String {
    let Ok(bytes) = fs::read(t.config_path("dev")) else {
        return String::new();
    };
    let mut text = String::new();
    MultiGzDecoder::new(&bytes[..])
        .read_to_string(&mut text)
        .expect("a gzipped config");
    text
}

#[test]
fn gcp_locations_replicate_new_secrets_there_first_from_the_flag_then_from_the_config() {
    let mut t = Test::new()
        .env_file("dev", "A=s3cr3t-a\n")
        .env("FAKE_GCP_ALLOWED_LOCATIONS", "europe-west1,europe-west4")
        .args([
            "sync",
            "dev",
            "gcp",
            "--gcp-project=acme-dev",
            "--gcp-locations=europe-west1,europe-west4",
        ]);
    t.run().success().stdout_has(
        "Syncing 1 secrets to GCP Secret Manager: project=acme-dev, \
         locations=europe-west1,europe-west4\n",
    );
    assert_eq!(
        replication(&t, "A"),
        user_managed(&["europe-west1", "europe-west4"])
    );
    assert!(
        config_text(&t).contains("europe-west1,europe-west4"),
        "{}",
        config_text(&t)
    );

    // From the saved setting: a new key is created there too, an existing one gets a version.
    let mut t = t.env_file("dev", "A=s3cr3t-a2\nB=s3cr3t-b\n");
    t.run_again(["sync", "dev", "gcp"])
        .success()
        .stdout_has("locations=europe-west1,europe-west4\n");
    assert_eq!(
        replication(&t, "B"),
        user_managed(&["europe-west1", "europe-west4"])
    );
    assert_eq!(t.stored("gcp", "acme-dev", "A").unwrap(), b"s3cr3t-a2");
    let creates: Vec<String> = t
        .calls()
        .iter()
        .filter(|c| c.argv[1] == "create")
        .map(|c| c.line())
        .collect();
    assert_eq!(creates.len(), 2, "{creates:#?}");
    for line in creates {
        assert!(
            line.contains(
                "--replication-policy=user-managed --locations=europe-west1,europe-west4"
            ),
            "{line}"
        );
    }
}

#[test]
fn a_location_policy_refusal_says_so_and_names_the_flag() {
    let mut t = Test::new()
        .env_file("dev", "A=s3cr3t-a\n")
        .env("FAKE_GCP_ALLOWED_LOCATIONS", "europe-west1")
        .args(["sync", "dev", "gcp", "--gcp-project=acme-dev"]);
    let out = t.run();
    out.failure(1)
        // Every create would be refused alike: the target stops at the first, saying why once.
        .stderr_has("ERROR: (gcloud.secrets.create) FAILED_PRECONDITION:")
        .stderr_has(
            "vsync starts no further call to gcp; next step: the organisation's location policy \
             (constraints/gcp.resourceLocations) forbids automatic replication, which stores the \
             secret in `global`: pass --gcp-locations=LOC[,LOC…] with locations the policy \
             allows",
        )
        .stderr_lacks("s3cr3t");
    assert!(!t.exists("gcp", "acme-dev", "A"));

    // A location the policy does not allow: the message names the setting's value.
    t.run_again([
        "sync",
        "dev",
        "gcp",
        "--gcp-locations=europe-west1,us-east1",
    ])
    .failure(1)
    .stderr_has("forbids a location of --gcp-locations=europe-west1,us-east1");

    t.run_again(["sync", "dev", "gcp", "--gcp-locations=europe-west1"])
        .success();
    assert_eq!(replication(&t, "A"), user_managed(&["europe-west1"]));
}

#[test]
fn aws_kms_key_goes_with_create_only_and_diff_names_secrets_with_another_key() {
    let mut t = Test::new().env_file("dev", "A=s3cr3t-a\n").args([
        "sync",
        "dev",
        "aws",
        "--aws-region=eu-west-1",
        "--aws-secret-prefix=app/",
        "--aws-kms-key=alias/app",
    ]);
    t.run().success().stdout_has(
        "Syncing 1 secrets to AWS Secrets Manager: region=eu-west-1, prefix=app/, \
         kms-key=alias/app\n",
    );
    assert_eq!(
        beside(&t, "aws", "eu-west-1", "app/A", "kms_key_id").as_deref(),
        Some("alias/app")
    );

    // From the saved setting: the new key is created with it; A only gets a version.
    let mut t = t.env_file("dev", "A=s3cr3t-a2\nB=s3cr3t-b\n");
    t.run_again(["sync", "dev", "aws"])
        .success()
        .stdout_has("kms-key=alias/app\n");
    assert_eq!(
        beside(&t, "aws", "eu-west-1", "app/B", "kms_key_id").as_deref(),
        Some("alias/app")
    );
    for call in t.calls().iter().skip(2) {
        let line = call.line();
        let create = call.argv[1] == "create-secret";
        assert_eq!(line.contains("--kms-key-id=alias/app"), create, "{line}");
    }

    // A secret made before the setting has the AWS managed key.
    t.vendor(
        "aws",
        [
            "secretsmanager",
            "create-secret",
            "--name=app/OLD",
            "--secret-string=x",
            "--region=eu-west-1",
        ],
        "",
    );
    let mut t = t.env_file("dev", "A=s3cr3t-a2\nB=s3cr3t-b\nOLD=x\n");
    let out = t.run_again(["sync", "dev", "aws", "--diff", "--aws-kms-key=alias/new"]);
    out.success()
        .stdout_is("= A\n= B\n= OLD\n")
        .stderr_has(
            "note: app/A is encrypted with alias/app, not --aws-kms-key=alias/new; vsync keeps \
             an existing secret's key (to change it: aws secretsmanager update-secret \
             --secret-id=app/A --kms-key-id=alias/new --region=eu-west-1)",
        )
        .stderr_has("note: app/B is encrypted with alias/app")
        .stderr_has("note: app/OLD is encrypted with the AWS managed key aws/secretsmanager");
    assert!(
        config_text(&t).contains("\"alias/app\""),
        "--diff saved nothing"
    );
    t.run_again(["sync", "dev", "aws", "--diff"])
        .success()
        .stderr_lacks("note: app/A")
        .stderr_has("note: app/OLD is encrypted with the AWS managed key");
}

#[test]
fn ssm_kms_key_and_tier_go_with_every_put_and_the_tier_sets_the_size_limit() {
    let cert = "c".repeat(5000);
    let text = format!("CERT={cert}\nSMALL=s3cr3t\n");
    let mut t = Test::new().env_file("dev", &text).args([
        "sync",
        "dev",
        "ssm",
        "--ssm-region=eu-west-1",
        "--ssm-prefix=/app/",
        "--ssm-kms-key=alias/params",
        "--ssm-tier=advanced",
    ]);
    t.run().success().stdout_has(
        "Syncing 2 secrets to AWS SSM Parameter Store: region=eu-west-1, prefix=/app/, \
         kms-key=alias/params, tier=Advanced\n",
    );
    assert_eq!(
        t.stored("ssm", "eu-west-1", "/app/CERT").unwrap(),
        cert.as_bytes()
    );
    for name in ["/app/CERT", "/app/SMALL"] {
        assert_eq!(
            beside(&t, "ssm", "eu-west-1", name, "key_id").as_deref(),
            Some("alias/params")
        );
        assert_eq!(
            beside(&t, "ssm", "eu-west-1", name, "tier").as_deref(),
            Some("Advanced")
        );
    }

    // From the saved settings: every put carries both again (a put without --key-id would
    // go back to the default key).
    t.run_again(["sync", "dev", "ssm"])
        .success()
        .stdout_has("kms-key=alias/params, tier=Advanced\n");
    let calls = t.calls();
    assert_eq!(calls.len(), 4);
    for call in &calls[2..] {
        assert!(
            call.line()
                .ends_with("--key-id=alias/params --tier=Advanced"),
            "{}",
            call.line()
        );
    }
    assert_eq!(t.versions("ssm", "eu-west-1", "/app/CERT").len(), 2);
}

#[test]
fn a_value_over_4096_bytes_lands_on_ssm_only_with_a_larger_tier() {
    let cert = "c".repeat(5000);
    let text = format!("CERT={cert}\nSMALL=s3cr3t\n");
    let base = ["sync", "dev", "ssm", "--ssm-region=eu-west-1"];

    let mut refused = Test::new().env_file("dev", &text).args(base);
    refused
        .run()
        .failure(1)
        .stderr_has(
            "CERT (line 1): the value is 5000 bytes; the limit is 4096 bytes \
             (--ssm-tier=advanced or --ssm-tier=intelligent-tiering stores up to 8192 bytes)",
        )
        .stderr_lacks("ccccc");
    assert!(refused.calls().is_empty(), "refused in pre-flight");

    let mut standard = Test::new()
        .env_file("dev", &text)
        .args(base)
        .arg("--ssm-tier=standard");
    standard
        .run()
        .failure(1)
        .stderr_has("the limit is 4096 bytes");
    assert!(standard.calls().is_empty());

    let mut smart = Test::new()
        .env_file("dev", &text)
        .args(base)
        .arg("--ssm-tier=intelligent-tiering");
    smart
        .run()
        .success()
        .stdout_has("tier=Intelligent-Tiering\n");
    assert_eq!(
        smart.stored("ssm", "eu-west-1", "CERT").unwrap(),
        cert.as_bytes()
    );
    // Intelligent-Tiering: Advanced only where the value needs it.
    assert_eq!(
        beside(&smart, "ssm", "eu-west-1", "CERT", "tier").as_deref(),
        Some("Advanced")
    );
    assert_eq!(
        beside(&smart, "ssm", "eu-west-1", "SMALL", "tier").as_deref(),
        Some("Standard")
    );
    assert_eq!(
        beside(&smart, "ssm", "eu-west-1", "SMALL", "key_id").as_deref(),
        Some("alias/aws/ssm")
    );

    let over = format!("CERT={}\n", "c".repeat(8193));
    let mut too_big = Test::new()
        .env_file("dev", &over)
        .args(base)
        .arg("--ssm-tier=advanced");
    too_big
        .run()
        .failure(1)
        .stderr_has("the value is 8193 bytes; the limit is 8192 bytes —");
    assert!(too_big.calls().is_empty());
}

#[test]
fn a_referenced_file_over_the_standard_limit_lands_with_the_advanced_tier() {
    let cert = "c".repeat(6000);
    let mut t = Test::new()
        .env_file("dev", "CERT_PATH=cert.pem\n")
        .file("infra/vault/dev/cert.pem", &cert)
        .args([
            "sync",
            "dev",
            "ssm",
            "--ssm-region=eu-west-1",
            "--inline-file-suffix=_PATH",
        ]);
    t.run()
        .failure(1)
        .stderr_has("the file holds more than 4096 bytes; the limit is 4096 bytes");
    t.run_again([
        "sync",
        "dev",
        "ssm",
        "--ssm-region=eu-west-1",
        "--inline-file-suffix=_PATH",
        "--ssm-tier=advanced",
    ])
    .success();
    assert_eq!(
        t.stored("ssm", "eu-west-1", "CERT").unwrap(),
        cert.as_bytes()
    );
}

#[test]
fn a_bad_setting_value_is_refused_naming_the_flag_and_nothing_runs_or_is_saved() {
    let cases: [(&str, &[&str], &str); 6] = [
        (
            "gcp",
            &["--gcp-project=p", "--gcp-locations=europe-west1, us-east1"],
            "--gcp-locations: \" us-east1\" is not a GCP location name",
        ),
        (
            "gcp",
            &["--gcp-project=p", "--gcp-locations=global"],
            "--gcp-locations: `global` is automatic replication",
        ),
        (
            "aws",
            &["--aws-region=r", "--aws-kms-key=my-key"],
            "--aws-kms-key: \"my-key\" is not a KMS key id, key ARN or alias",
        ),
        (
            "ssm",
            &["--ssm-region=r", "--ssm-kms-key=-h"],
            "--ssm-kms-key: \"-h\" is not a KMS key id",
        ),
        (
            "ssm",
            &["--ssm-region=r", "--ssm-tier=Premium"],
            "--ssm-tier: \"Premium\" is not a tier; use standard, advanced or intelligent-tiering",
        ),
        (
            "ssm",
            &[
                "--ssm-region=r",
                "--ssm-tier=advanced",
                "--dry-run",
                "--ssm-kms-key=x",
            ],
            "--ssm-kms-key: \"x\" is not a KMS key id",
        ),
    ];
    for (target, flags, error) in cases {
        let mut t = Test::new()
            .env_file("dev", "A=s3cr3t\n")
            .args(["sync", "dev", target])
            .args(flags);
        t.run().failure(1).stderr_has(error);
        assert!(t.calls().is_empty(), "{flags:?}");
        assert!(!t.config_path("dev").exists(), "{flags:?}: nothing saved");
    }
}

#[test]
fn a_run_without_the_new_flags_leaves_the_saved_routing_byte_for_byte() {
    let runs: [(&str, &[&str]); 3] = [
        ("gcp", &["--gcp-project=acme-dev"]),
        (
            "aws",
            &["--aws-region=eu-west-1", "--aws-secret-prefix=app/"],
        ),
        ("ssm", &["--ssm-region=eu-west-1", "--ssm-prefix=/app/"]),
    ];
    for (target, flags) in runs {
        let mut t = Test::new()
            .env_file("dev", "A=s3cr3t\n")
            .args(["sync", "dev", target])
            .args(flags);
        t.run().success();
        let saved = fs::read(t.config_path("dev")).unwrap();
        let text = config_text(&t);
        for key in ["locations", "kmsKeyId", "tier"] {
            assert!(!text.contains(key), "{target}: {key} saved: {text}");
        }
        for call in t.calls() {
            let line = call.line();
            for flag in ["--locations", "--kms-key-id", "--key-id", "--tier"] {
                assert!(!line.contains(flag), "{line}");
            }
        }
        t.run_again(["sync", "dev", target]).success();
        assert_eq!(fs::read(t.config_path("dev")).unwrap(), saved, "{target}");

        // A setting given once is saved; a later run without it keeps it; `=` clears it.
        let (flag, key) = match target {
            "gcp" => ("--gcp-locations=europe-west1", "locations"),
            "aws" => ("--aws-kms-key=alias/k", "kmsKeyId"),
            _ => ("--ssm-tier=advanced", "tier"),
        };
        t.run_again(["sync", "dev", target, flag]).success();
        let with = fs::read(t.config_path("dev")).unwrap();
        assert!(config_text(&t).contains(key), "{target}");
        t.run_again(["sync", "dev", target]).success();
        assert_eq!(fs::read(t.config_path("dev")).unwrap(), with, "{target}");
        let cleared = format!("{}=", flag.split_once('=').unwrap().0);
        t.run_again(["sync", "dev", target, &cleared]).success();
        assert_eq!(fs::read(t.config_path("dev")).unwrap(), saved, "{target}");
    }
}

#[test]
fn the_dry_run_plan_shows_the_settings_and_saves_nothing() {
    let mut t = Test::new().env_file("dev", "A=s3cr3t\n").args([
        "sync",
        "dev",
        "gcp",
        "--gcp-project=acme-dev",
        "--gcp-locations=europe-west1",
        "--dry-run",
    ]);
    t.run()
        .success()
        .stdout_has(
            "Syncing 1 secrets to GCP Secret Manager: project=acme-dev, locations=europe-west1\n",
        )
        .stdout_has(
            "if it does not: gcloud secrets create --replication-policy=user-managed \
             --locations=europe-west1 --data-file=-",
        );
    assert!(!t.config_path("dev").exists());

    let mut t = Test::new().env_file("dev", "A=s3cr3t\n").args([
        "sync",
        "dev",
        "ssm",
        "--ssm-region=eu-west-1",
        "--ssm-kms-key=alias/p",
        "--ssm-tier=intelligent-tiering",
        "--dry-run",
    ]);
    t.run().success().stdout_has(
        "aws ssm put-parameter --name=A --type=SecureString --value=file:///dev/stdin \
         --overwrite --region=eu-west-1 --key-id=alias/p --tier=Intelligent-Tiering\n",
    );
}

#[test]
fn a_store_setting_of_another_target_is_ignored_with_a_warning() {
    let mut t = Test::new().env_file("dev", "A=s3cr3t\n").args([
        "sync",
        "dev",
        "gh",
        "--gh-repo=o/r",
        "--ssm-tier=advanced",
        "--gcp-locations=eu",
    ]);
    t.run()
        .success()
        .stderr_has("warning: ignoring --gcp-locations: it does not apply to the gh target")
        .stderr_has("warning: ignoring --ssm-tier: it does not apply to the gh target");
    assert!(!config_text(&t).contains("tier"));
}
