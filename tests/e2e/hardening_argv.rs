//! Names and routing values that a vendor CLI could read as options (`-h`, `--help`, `-x`):
//! each is stored under exactly that name, or the run fails cleanly — never `✓` with nothing
//! stored. The fakes parse as the real CLIs do (a word starting with `-` before `--`, or a
//! separate flag value starting with `-`, is an option), so an argv with the name in an
//! option position — `gcloud secrets versions add -h …`, `aws … --secret-id -h`,
//! `vault kv put -mount=M -h -` — fails these tests.

use crate::support::Test;
use std::fs;

/// A per-key target that accepts a key starting with `-` (gh refuses it in pre-flight):
/// (target, routing flag, store service, store scope).
const TARGETS: [(&str, &str, &str, &str); 3] = [
    ("gcp", "--gcp-project=proj", "gcp", "proj"),
    ("aws", "--aws-region=eu-west-1", "aws", "eu-west-1"),
    ("azure", "--azure-vault=kv1", "azure", "kv1"),
];

#[test]
fn keys_that_look_like_options_are_stored_under_exactly_that_name_on_every_target() {
    for (target, routing, service, scope) in TARGETS {
        for key in ["-h", "--help", "-x"] {
            let args = ["sync", "dev", target, routing];
            let mut t = Test::new()
                .env_file("dev", &format!("{key}=first-{key}\n"))
                .args(args);
            let out = t.run();
            out.success().stdout_has(&format!("✓ {key}\n"));
            assert_eq!(
                t.stored(service, scope, key).as_deref(),
                Some(format!("first-{key}").as_bytes()),
                "{target}: {key}\n{out:?}"
            );
            assert_eq!(t.secret_names(service, scope), [key], "{target}: {key}");

            // Again: gcp and aws now take the update path (a new version of the secret).
            fs::write(
                t.root().join("infra/vault/dev/.env.dev"),
                format!("{key}=second-{key}\n"),
            )
            .unwrap();
            let out = t.run_again(args);
            out.success().stdout_has(&format!("✓ {key}\n"));
            let versions = t.versions(service, scope, key);
            assert_eq!(versions.len(), 2, "{target}: {key}\n{out:?}");
            assert_eq!(
                versions[1],
                format!("second-{key}").as_bytes(),
                "{target}: {key}"
            );
            assert_eq!(t.secret_names(service, scope), [key], "{target}: {key}");
        }
    }
}

/// Never "✓ KEY" for a key the store does not hold afterwards.
fn assert_no_false_tick(
    t: &Test,
    out: &crate::support::Output,
    service: &str,
    scope: &str,
    key: &str,
) {
    if out.stdout_lines().iter().any(|l| l == &format!("✓ {key}")) {
        assert!(
            t.exists(service, scope, key),
            "✓ {key} printed but nothing stored\n{out:?}"
        );
    }
}

#[test]
fn routing_values_that_look_like_options_are_used_as_values_or_fail_cleanly() {
    let cases: [(&str, &[&str], &str, &str); 6] = [
        ("gcp", &["--gcp-project=-h"], "gcp", "-h"),
        ("gcp", &["--gcp-project=--help"], "gcp", "--help"),
        ("aws", &["--aws-region=-h"], "aws", "-h"),
        ("azure", &["--azure-vault=-h"], "azure", "-h"),
        ("gh", &["--gh-repo=-h/--help"], "gh", "-h__--help__dev"),
        ("azure", &["--azure-vault=--help"], "azure", "--help"),
    ];
    for (target, routing, service, scope) in cases {
        let mut t = Test::new()
            .env_file("dev", "KEY=s3cr3t-k\n")
            .args(["sync", "dev", target])
            .args(routing);
        let out = t.run();
        // Every one of these is a valid value for the fakes: it must be used as the value.
        out.success().stdout_has("✓ KEY\n");
        assert_eq!(
            t.stored(service, scope, "KEY").as_deref(),
            Some(&b"s3cr3t-k"[..]),
            "{target} {routing:?}: stored under the routing value as given\n{out:?}"
        );
        assert_no_false_tick(&t, &out, service, scope, "KEY");
    }
}

#[test]
fn an_aws_prefix_that_looks_like_an_option_is_part_of_the_name() {
    for prefix in ["-x", "-h/", "--help/"] {
        for run_no in 1..=2 {
            let mut t = Test::new()
                .env_file("dev", &format!("KEY=s3cr3t-{run_no}\n"))
                .args(["sync", "dev", "aws", "--aws-region=eu-west-1"])
                .arg(format!("--aws-secret-prefix={prefix}"));
            let out = t.run();
            out.success().stdout_has("✓ KEY\n");
            let name = format!("{prefix}KEY");
            assert_eq!(
                t.stored("aws", "eu-west-1", &name).as_deref(),
                Some(format!("s3cr3t-{run_no}").as_bytes()),
                "prefix {prefix:?}\n{out:?}"
            );
            // The list call's prefix filter saw the name: no create after the first run.
            let calls = t.calls_of("aws");
            let list = calls
                .iter()
                .find(|c| c.argv[1] == "list-secrets")
                .expect("a list call");
            assert_eq!(list.exit, Some(0), "{}", list.line());
        }
    }
}

#[test]
fn a_vault_path_or_mount_that_looks_like_an_option_is_written_there() {
    let cases = [
        ("secret", "-h"),
        ("secret", "--help"),
        ("-h", "app/dev"),
        ("-m", "-x"),
    ];
    for (mount, path) in cases {
        let mut t = Test::new()
            .env_file("dev", "-h=s3cr3t-h\nKEY=s3cr3t-k\n")
            .args(["sync", "dev", "vault", "--vault-addr=http://127.0.0.1:8200"])
            .arg(format!("--vault-mount={mount}"))
            .arg(format!("--vault-path={path}"));
        let out = t.run();
        out.success();
        let doc = t
            .vault_doc(mount, path)
            .unwrap_or_else(|| panic!("nothing written at {mount} {path}\n{out:?}"));
        assert_eq!(doc["-h"], "s3cr3t-h", "{mount} {path}");
        assert_eq!(doc["KEY"], "s3cr3t-k", "{mount} {path}");
    }
}

#[test]
fn the_fakes_take_an_option_like_name_outside_the_safe_positions_as_an_option() {
    // A name in an option position: each CLI reads `-h` as help (exit 0, nothing stored) or fails.
    let t = Test::new();
    let out = t.vendor(
        "gcloud",
        [
            "secrets",
            "versions",
            "add",
            "-h",
            "--data-file=-",
            "--project=p",
        ],
        "v",
    );
    out.success();
    assert!(!t.exists("gcp", "p", "-h"));
    let out = t.vendor(
        "aws",
        [
            "secretsmanager",
            "create-secret",
            "--name",
            "-h",
            "--secret-string",
            "file:///dev/stdin",
            "--region",
            "r",
        ],
        "v",
    );
    out.failure(2)
        .stderr_has("argument --name: expected one argument");
    let out = t.vendor(
        "az",
        [
            "keyvault",
            "secret",
            "set",
            "--vault-name",
            "kv",
            "--name",
            "-h",
            "--file",
            "/dev/stdin",
            "-o",
            "none",
        ],
        "v",
    );
    out.failure(2)
        .stderr_has("argument --name: expected one argument");
    t.vendor("vault", ["kv", "put", "-mount=secret", "-h", "-"], "{}")
        .success();
    let out = t.vendor(
        "gh",
        ["secret", "set", "-x", "--env", "dev", "--repo", "o/r"],
        "v",
    );
    out.failure(1)
        .stderr_has("unknown shorthand flag: 'x' in -x");
    assert!(t.secret_names("gh", "o__r__dev").is_empty());
    assert!(t.secret_names("aws", "r").is_empty());
    assert!(t.secret_names("azure", "kv").is_empty());
    assert!(t.vault_doc("secret", "-h").is_none());
    assert!(t.vault_doc("secret", "").is_none());
}
