//! Self-test of `fixtures/fake_vendor.rs`: each fake driven directly (no vsync), pinning down
//! the behaviour of the real CLIs that the fakes emulate and the knobs the other tests use.
//! If one of these fails, every end-to-end test built on the fakes is suspect.

use crate::support::{Test, gh_scope};
use std::process::Stdio;
use std::thread;
use std::time::{Duration, Instant};

const GH: [&str; 7] = ["secret", "set", "", "--env", "dev", "--repo", "acme/api"];

fn gh_set(name: &str) -> Vec<String> {
    GH.iter()
        .map(|a| if a.is_empty() { name } else { a })
        .map(str::to_string)
        .collect()
}

fn gcloud(verb: &[&str], name: &str) -> Vec<String> {
    let mut args = vec!["secrets".to_string()];
    args.extend(verb.iter().map(|s| s.to_string()));
    args.push(name.into());
    match verb {
        ["create"] => args.extend([
            "--replication-policy=automatic".into(),
            "--data-file=-".into(),
        ]),
        ["versions", "add"] => args.push("--data-file=-".into()),
        _ => {}
    }
    args.push("--project=proj".into());
    args
}

fn aws(op: &str, name: &str) -> Vec<String> {
    let id = if op == "create-secret" {
        "--name"
    } else {
        "--secret-id"
    };
    let mut args: Vec<String> = ["secretsmanager", op, id, name].map(String::from).to_vec();
    if op == "create-secret" || op == "put-secret-value" {
        args.extend(["--secret-string".into(), "file:///dev/stdin".into()]);
    }
    args.extend(["--region".into(), "eu-west-1".into()]);
    args
}

fn az(name: &str, quiet: bool) -> Vec<String> {
    let mut args: Vec<String> = [
        "keyvault",
        "secret",
        "set",
        "--vault-name",
        "kv1",
        "--name",
        name,
        "--file",
        "/dev/stdin",
    ]
    .map(String::from)
    .to_vec();
    if quiet {
        args.extend(["-o".into(), "none".into()]);
    }
    args
}

fn vault_put(data: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = ["kv", "put", "-mount=secret", "app/dev"]
        .map(String::from)
        .to_vec();
    args.extend(data.iter().map(|s| s.to_string()));
    args
}

fn with_vault_addr() -> Test {
    Test::new().env("VAULT_ADDR", "http://127.0.0.1:8200")
}

// ----- gh --------------------------------------------------------------------------------------

#[test]
fn gh_strips_trailing_newlines_and_stores_the_name_upper_cased() {
    let t = Test::new();
    t.vendor("gh", gh_set("db_url"), "line1\r\nline2\r\n\n")
        .success()
        .stdout_is("");
    assert_eq!(
        t.stored("gh", &gh_scope("acme/api", "dev"), "DB_URL")
            .as_deref(),
        Some(&b"line1\r\nline2"[..])
    );
}

#[test]
fn gh_accepts_short_flags_and_writes_a_new_version_each_time() {
    let t = Test::new();
    let short = ["secret", "set", "TOKEN", "-e", "prod", "-R", "acme/api"];
    t.vendor("gh", short, "one").success();
    t.vendor("gh", short, "two\n").success();
    assert_eq!(
        t.versions("gh", "acme__api__prod", "TOKEN"),
        vec![b"one".to_vec(), b"two".to_vec()]
    );
}

#[test]
fn gh_rejects_the_names_github_rejects() {
    let t = Test::new();
    for name in ["1ABC", "GITHUB_TOKEN", "github_x", "A-B", "HAS SPACE"] {
        let out = t.vendor("gh", gh_set(name), "v");
        out.failure(1).stderr_has("HTTP 422: Secret names");
        assert!(
            t.stored("gh", "acme__api__dev", &name.to_uppercase())
                .is_none()
        );
    }
    t.vendor("gh", gh_set("_OK_1"), "v").success();
}

#[test]
fn gh_rejects_an_unknown_flag() {
    Test::new()
        .vendor("gh", ["secret", "set", "A", "--bogus", "--repo", "a/b"], "")
        .failure(1)
        .stderr_has("unknown flag: --bogus");
}

// ----- gcloud ----------------------------------------------------------------------------------

#[test]
fn gcloud_describe_exits_1_with_not_found_until_the_secret_exists() {
    let t = Test::new();
    t.vendor("gcloud", gcloud(&["describe"], "API_KEY"), "")
        .failure(1)
        .stderr_is("ERROR: (gcloud.secrets.describe) NOT_FOUND: Secret [projects/proj/secrets/API_KEY] not found or has no versions.\n");
    t.vendor("gcloud", gcloud(&["create"], "API_KEY"), "v")
        .success();
    t.vendor("gcloud", gcloud(&["describe"], "API_KEY"), "")
        .success();
}

#[test]
fn gcloud_create_of_an_existing_secret_conflicts() {
    let t = Test::new();
    t.vendor("gcloud", gcloud(&["create"], "A"), "first")
        .success();
    t.vendor("gcloud", gcloud(&["create"], "A"), "second")
        .failure(1)
        .stderr_is("ERROR: (gcloud.secrets.create) Resource in projects [proj] is the subject of a conflict: Secret [projects/proj/secrets/A] already exists.\n");
    assert_eq!(t.versions("gcp", "proj", "A"), vec![b"first".to_vec()]);
}

#[test]
fn gcloud_versions_add_needs_an_existing_secret() {
    let t = Test::new();
    t.vendor("gcloud", gcloud(&["versions", "add"], "A"), "v")
        .failure(1)
        .stderr_is("ERROR: (gcloud.secrets.versions.add) NOT_FOUND: Secret [projects/proj/secrets/A] not found or has no versions.\n");
    assert!(!t.exists("gcp", "proj", "A"));
    t.vendor("gcloud", gcloud(&["create"], "A"), "v1").success();
    t.vendor("gcloud", gcloud(&["versions", "add"], "A"), "v2")
        .success()
        .stderr_is("Created version [2] of the secret [A].\n");
    assert_eq!(
        t.versions("gcp", "proj", "A"),
        vec![b"v1".to_vec(), b"v2".to_vec()]
    );
}

#[test]
fn gcloud_stores_raw_bytes() {
    let t = Test::new();
    let raw = b"\xff\x00bin\r\n\r\n".to_vec();
    t.vendor("gcloud", gcloud(&["create"], "BLOB"), &raw)
        .success();
    assert_eq!(t.stored("gcp", "proj", "BLOB"), Some(raw));
}

#[test]
fn gcloud_list_prints_short_names_one_per_line() {
    let t = Test::new();
    for name in ["B", "a-1", "C_2"] {
        t.vendor("gcloud", gcloud(&["create"], name), "v").success();
    }
    t.vendor(
        "gcloud",
        [
            "secrets",
            "list",
            "--project",
            "proj",
            "--format=value(name)",
        ],
        "",
    )
    .success()
    .stdout_is("B\nC_2\na-1\n");
    t.vendor(
        "gcloud",
        ["secrets", "list", "--project=other", "--format=value(name)"],
        "",
    )
    .success()
    .stdout_is("");
}

#[test]
fn gcloud_enforces_the_id_rule_and_the_payload_limit() {
    let t = Test::new();
    t.vendor("gcloud", gcloud(&["create"], "has.dot"), "v")
        .failure(1)
        .stderr_has("INVALID_ARGUMENT");
    t.vendor("gcloud", gcloud(&["create"], "BIG"), vec![b'x'; 65537])
        .failure(1)
        .stderr_has("larger than the maximum size of 65536 bytes");
    assert!(!t.exists("gcp", "proj", "BIG"));
    t.vendor("gcloud", gcloud(&["create"], "MAX"), vec![b'x'; 65536])
        .success();
}

#[test]
fn concurrent_creates_of_one_secret_have_exactly_one_winner() {
    let t = Test::new();
    let children: Vec<_> = (0..16)
        .map(|i| {
            let mut cmd = t.vendor_command("gcloud");
            cmd.args(gcloud(&["create"], "RACE"))
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            let mut child = cmd.spawn().unwrap();
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(format!("{i}").as_bytes())
                .unwrap();
            child
        })
        .collect();
    let ok = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap().status.success())
        .filter(|s| *s)
        .count();
    assert_eq!(ok, 1);
    assert_eq!(t.versions("gcp", "proj", "RACE").len(), 1);
}

#[test]
fn concurrent_version_adds_get_distinct_numbers() {
    let t = Test::new();
    t.vendor("gcloud", gcloud(&["create"], "A"), "0").success();
    let handles: Vec<_> = (1..=16)
        .map(|i| {
            let mut cmd = t.vendor_command("gcloud");
            cmd.args(gcloud(&["versions", "add"], "A"))
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            let mut child = cmd.spawn().unwrap();
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(format!("{i}").as_bytes())
                .unwrap();
            child
        })
        .collect();
    for h in handles {
        assert!(h.wait_with_output().unwrap().status.success());
    }
    let mut values: Vec<u32> = t
        .versions("gcp", "proj", "A")
        .iter()
        .map(|v| String::from_utf8_lossy(v).parse().unwrap())
        .collect();
    values.sort_unstable();
    assert_eq!(values, (0..=16).collect::<Vec<u32>>());
    assert_eq!(t.calls().len(), 17, "one log line per call, none torn");
}

// ----- aws -------------------------------------------------------------------------------------

#[test]
fn aws_reads_file_urls_as_text_with_newline_translation() {
    let t = Test::new();
    t.vendor("aws", aws("create-secret", "app/dev/PEM"), "a\r\nb\rc\n")
        .success();
    assert_eq!(
        t.stored("aws", "eu-west-1", "app/dev/PEM").as_deref(),
        Some(&b"a\nb\nc\n"[..])
    );
    assert!(
        t.fake_dir()
            .join("store/aws/eu-west-1/app%2Fdev%2FPEM/v1")
            .is_file(),
        "a / in an aws name is escaped as %2F in the store"
    );
}

#[test]
fn aws_rejects_fileb_and_quotes_the_value() {
    let t = Test::new();
    let mut args = aws("create-secret", "K");
    args[5] = "fileb:///dev/stdin".into();
    t.vendor("aws", args, "s3cr3t\n")
        .failure(255)
        .stderr_is("\nParameter validation failed:\nInvalid type for parameter SecretString, value: b's3cr3t\\n', type: <class 'bytes'>, valid types: <class 'str'>\n");
    assert!(!t.exists("aws", "eu-west-1", "K"));
}

#[test]
fn aws_rejects_an_empty_or_non_utf8_value() {
    let t = Test::new();
    t.vendor("aws", aws("create-secret", "K"), "")
        .failure(255)
        .stderr_is("\nParameter validation failed:\nInvalid length for parameter SecretString, value: 0, valid min length: 1\n");
    t.vendor("aws", aws("create-secret", "K"), b"\xff\xfe")
        .failure(255)
        .stderr_has("text contents could not be decoded");
    assert!(!t.exists("aws", "eu-west-1", "K"));
}

#[test]
fn aws_put_and_describe_need_an_existing_secret_and_create_needs_a_new_one() {
    let t = Test::new();
    t.vendor("aws", aws("put-secret-value", "K"), "v")
        .failure(255)
        .stderr_is("\nAn error occurred (ResourceNotFoundException) when calling the PutSecretValue operation: Secrets Manager can't find the specified secret.\n");
    t.vendor("aws", aws("describe-secret", "K"), "")
        .failure(255)
        .stderr_has("(ResourceNotFoundException) when calling the DescribeSecret operation");
    t.vendor("aws", aws("create-secret", "K"), "v1").success();
    t.vendor("aws", aws("create-secret", "K"), "again")
        .failure(255)
        .stderr_is("\nAn error occurred (ResourceExistsException) when calling the CreateSecret operation: The operation failed because the secret K already exists.\n");
    t.vendor("aws", aws("describe-secret", "K"), "").success();
    t.vendor("aws", aws("put-secret-value", "K"), "v2")
        .success();
    assert_eq!(
        t.versions("aws", "eu-west-1", "K"),
        vec![b"v1".to_vec(), b"v2".to_vec()]
    );
    t.vendor(
        "aws",
        [
            "secretsmanager",
            "get-secret-value",
            "--secret-id",
            "K",
            "--region",
            "eu-west-1",
            "--query",
            "SecretString",
            "--output",
            "text",
        ],
        "",
    )
    .success()
    .stdout_is("v2\n");
}

#[test]
fn aws_list_prints_names_tab_separated_on_one_line() {
    let t = Test::new();
    let list = |extra: &[&str]| {
        let mut args = vec!["secretsmanager", "list-secrets", "--region", "eu-west-1"];
        args.extend_from_slice(extra);
        args.extend(["--query", "SecretList[].Name", "--output", "text"]);
        t.vendor("aws", args, "")
    };
    list(&[]).success().stdout_is("");
    for name in ["app/B", "app/A", "other", "App/x"] {
        t.vendor("aws", aws("create-secret", name), "v").success();
    }
    list(&[])
        .success()
        .stdout_is("App/x\tapp/A\tapp/B\tother\n");
    list(&["--filters", "Key=name,Values=app/"])
        .success()
        .stdout_is("app/A\tapp/B\n");
}

#[test]
fn aws_enforces_the_name_rule_the_size_limit_and_a_region() {
    let t = Test::new();
    t.vendor("aws", aws("create-secret", "bad name"), "v")
        .failure(255)
        .stderr_has("ValidationException");
    t.vendor("aws", aws("create-secret", "BIG"), vec![b'x'; 65537])
        .failure(255)
        .stderr_has("65536");
    t.vendor(
        "aws",
        ["secretsmanager", "describe-secret", "--secret-id", "X"],
        "",
    )
    .failure(255)
    .stderr_has("You must specify a region");
}

// ----- az --------------------------------------------------------------------------------------

#[test]
fn az_reads_text_translating_newlines_without_stripping() {
    let t = Test::new();
    t.vendor("az", az("my-key", true), "a\r\nb\r\n\n")
        .success()
        .stdout_is("");
    assert_eq!(
        t.stored("azure", "kv1", "my-key").as_deref(),
        Some(&b"a\nb\n\n"[..])
    );
}

#[test]
fn az_prints_the_value_unless_output_is_none() {
    let t = Test::new();
    let out = t.vendor("az", az("my-key", false), "hunter2");
    out.success().stdout_has("\"value\": \"hunter2\"");
    let mut long = az("my-key", false);
    long.extend(["--output".into(), "none".into()]);
    t.vendor("az", long, "hunter3").success().stdout_is("");
}

#[test]
fn az_rejects_underscores_empty_values_and_oversized_values() {
    let t = Test::new();
    t.vendor("az", az("MY_KEY", true), "v")
        .failure(1)
        .stderr_has("(BadParameter) The request URI contains an invalid name: MY_KEY");
    t.vendor("az", az("empty", true), "").failure(1);
    t.vendor("az", az("big", true), vec![b'x'; 25601])
        .failure(1);
    t.vendor("az", az("max", true), vec![b'x'; 25600]).success();
    assert_eq!(t.secret_names("azure", "kv1"), ["max"]);
}

fn az_verb(verb: &str, name: &str) -> Vec<String> {
    ["keyvault", "secret", verb, "--vault-name=kv1"]
        .map(String::from)
        .into_iter()
        .chain([format!("--name={name}"), "-o".into(), "none".into()])
        .collect()
}

fn tags_of(t: &Test, name: &str) -> serde_json::Value {
    let path = t
        .fake_dir()
        .join("store/azure/kv1")
        .join(name)
        .join("tags.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn az_show_of_a_missing_secret_exits_3_as_the_real_az_does() {
    let t = Test::new();
    let mut show = az_verb("show", "nope");
    show.truncate(5);
    t.vendor("az", show, "")
        .failure(3)
        .stdout_is("")
        .stderr_has("ERROR: (SecretNotFound) A secret with (name/id) nope was not found")
        .stderr_has("\nCode: SecretNotFound\nMessage: ");
    // Other commands exit 1 on the same answer.
    t.vendor("az", az_verb("delete", "nope"), "")
        .failure(1)
        .stderr_has("(SecretNotFound)");
}

#[test]
fn az_replaces_the_tags_on_each_set_and_adds_its_file_encoding_tag() {
    let t = Test::new();
    let mut tagged = az("k", true);
    tagged.extend(["--tags".into(), "managed-by=vsync".into(), "a=1".into()]);
    t.vendor("az", tagged, "v1").success();
    assert_eq!(
        tags_of(&t, "k"),
        serde_json::json!({"managed-by": "vsync", "a": "1", "file-encoding": "utf-8"})
    );
    t.vendor("az", az("k", true), "v2").success();
    assert_eq!(
        tags_of(&t, "k"),
        serde_json::json!({"file-encoding": "utf-8"}),
        "a set without --tags leaves only az's own"
    );
}

#[test]
fn az_delete_is_a_soft_delete_that_keeps_the_name_until_recover_or_purge() {
    let t = Test::new();
    t.vendor("az", az("Old-Key", true), "v1").success();
    t.vendor("az", az_verb("delete", "old-key"), "")
        .success()
        .stdout_is("")
        .stderr_has("WARNING: Warning! If you have soft-delete protection enabled");
    assert!(!t.exists("azure", "kv1", "Old-Key"));
    assert_eq!(t.deleted_names("azure", "kv1"), ["Old-Key"]);
    t.vendor("az", az("OLD-KEY", true), "v2")
        .failure(1)
        .stderr_has(
            "ERROR: (Conflict) Secret Old-Key is currently in a deleted but recoverable state",
        )
        .stderr_has("Inner error: {\n    \"code\": \"ObjectIsDeletedButRecoverable\"\n}");
    t.vendor("az", az_verb("recover", "old-key"), "").success();
    t.vendor("az", az("OLD-KEY", true), "v2").success();
    assert_eq!(
        t.versions("azure", "kv1", "Old-Key"),
        [b"v1".to_vec(), b"v2".to_vec()]
    );
    t.vendor("az", az_verb("delete", "Old-Key"), "").success();
    t.vendor("az", az_verb("purge", "Old-Key"), "").success();
    assert!(t.deleted_names("azure", "kv1").is_empty());
    t.vendor("az", az("Old-Key", true), "v3").success();
    assert_eq!(t.versions("azure", "kv1", "Old-Key"), [b"v3".to_vec()]);
    t.vendor("az", az_verb("purge", "Old-Key"), "")
        .failure(1)
        .stderr_has("Deleted Secret not found: Old-Key");
}

#[test]
fn az_refuses_a_file_that_is_not_utf8_in_its_own_words() {
    let t = Test::new();
    t.vendor("az", az("k", true), b"\xff\xfe")
        .failure(1)
        .stderr_is("ERROR: Unable to decode file '/dev/stdin' with 'utf-8' encoding.\n");
}

// ----- vault -----------------------------------------------------------------------------------

#[test]
fn vault_lone_dash_reads_a_json_object_from_stdin() {
    let t = with_vault_addr();
    t.vendor(
        "vault",
        vault_put(&["-"]),
        r#"{"A":"1","B":"@not-a-file","C":"line\nbreak"}"#,
    )
    .success()
    .stdout_has("version            1");
    let doc = t.vault_doc("secret", "app/dev").unwrap();
    assert_eq!(doc["A"], "1");
    assert_eq!(doc["B"], "@not-a-file");
    assert_eq!(doc["C"], "line\nbreak");
    let call = &t.calls()[0];
    assert_eq!(call.env["VAULT_ADDR"], "http://127.0.0.1:8200");
}

#[test]
fn vault_kv_put_replaces_the_whole_secret() {
    let t = with_vault_addr();
    t.vendor("vault", vault_put(&["-"]), r#"{"A":"1","B":"2"}"#)
        .success();
    t.vendor("vault", vault_put(&["-"]), r#"{"A":"3"}"#)
        .success();
    let docs = t.vault_docs("secret", "app/dev");
    assert_eq!(docs.len(), 2);
    assert_eq!(
        serde_json::Value::Object(docs[1].clone()),
        serde_json::json!({"A": "3"})
    );
}

#[test]
fn vault_key_value_arguments_follow_the_kv_builder() {
    let t = with_vault_addr().file("payload.txt", "from file\n");
    let at_file = format!("F=@{}", t.root().join("payload.txt").display());
    t.vendor(
        "vault",
        vault_put(&[&at_file, "L=\\@literal", "S=-", "P=a=b"]),
        "from stdin",
    )
    .success();
    let doc = t.vault_doc("secret", "app/dev").unwrap();
    assert_eq!(doc["F"], "from file\n");
    assert_eq!(doc["L"], "@literal");
    assert_eq!(doc["S"], "from stdin");
    assert_eq!(doc["P"], "a=b");
}

#[test]
fn vault_a_bad_file_reference_prints_the_whole_pair() {
    let t = with_vault_addr();
    t.vendor("vault", vault_put(&["K=@/no/such/s3cr3t"]), "")
        .failure(1)
        .stderr_is("Failed to parse K=V data: invalid key/value pair \"K=@/no/such/s3cr3t\": error reading file: open /no/such/s3cr3t: no such file or directory\n");
    assert!(t.vault_doc("secret", "app/dev").is_none());
}

#[test]
fn vault_stdin_can_be_used_once_and_must_hold_string_values() {
    let t = with_vault_addr();
    t.vendor("vault", vault_put(&["-", "K=-"]), r#"{"A":"1"}"#)
        .failure(1)
        .stderr_has("stdin already consumed");
    t.vendor("vault", vault_put(&["-"]), r#"{"A":1}"#)
        .failure(1)
        .stderr_has("not a JSON string");
    t.vendor("vault", vault_put(&["-"]), "[1]").failure(1);
    t.vendor("vault", vault_put(&["-"]), "")
        .failure(1)
        .stderr_has("EOF");
    assert!(t.vault_doc("secret", "app/dev").is_none());
}

#[test]
fn vault_needs_data_and_vault_addr() {
    let t = with_vault_addr();
    t.vendor("vault", vault_put(&[]), "")
        .failure(1)
        .stderr_is("Must supply data\n");
    Test::new()
        .vendor("vault", vault_put(&["A=1"]), "")
        .failure(1)
        .stderr_has("VAULT_ADDR");
}

// ----- the call log ----------------------------------------------------------------------------

#[test]
fn every_call_is_logged_with_argv_stdin_env_and_exit() {
    let t = Test::new()
        .env("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.1:9")
        .env("UNLISTED", "x");
    t.vendor("aws", aws("create-secret", "K"), "päss\n")
        .success();
    t.vendor("gcloud", gcloud(&["describe"], "K"), "")
        .failure(1);
    let calls = t.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].bin, "aws");
    assert_eq!(calls[0].argv, aws("create-secret", "K"));
    assert_eq!(calls[0].stdin_str(), "päss\n");
    assert!(calls[0].stdin_read);
    assert_eq!(calls[0].exit, Some(0));
    assert_eq!(
        calls[0].env.keys().collect::<Vec<_>>(),
        ["AWS_ENDPOINT_URL_SECRETS_MANAGER"],
        "only the listed variables are logged"
    );
    assert_eq!(calls[1].exit, Some(1));
    assert!(!calls[1].stdin_read, "describe does not read stdin");
}

#[test]
fn the_fake_refuses_to_run_without_its_state_dir() {
    let t = Test::new();
    let out = t
        .vendor_command("gh")
        .env_remove("VSYNC_FAKE_DIR")
        .args(gh_set("A"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("VSYNC_FAKE_DIR"));
}

#[test]
fn the_fake_starts_fast() {
    let t = Test::new();
    let start = Instant::now();
    for _ in 0..100 {
        t.vendor("gcloud", gcloud(&["describe"], "X"), "");
    }
    let per_call = start.elapsed() / 100;
    assert!(
        per_call < Duration::from_millis(50),
        "one fake call took {per_call:?}"
    );
}

// ----- knobs -----------------------------------------------------------------------------------

#[test]
fn fail_keys_fail_permanently_with_vendor_exit_codes() {
    let t = with_vault_addr().env("FAKE_FAIL_KEYS", "BAD,app/BAD");
    t.vendor("gh", gh_set("BAD"), "v")
        .failure(1)
        .stderr_has("HTTP 403");
    t.vendor("gh", gh_set("GOOD"), "v").success();
    t.vendor("gcloud", gcloud(&["create"], "BAD"), "v")
        .failure(1)
        .stderr_has("PERMISSION_DENIED");
    t.vendor("aws", aws("create-secret", "app/BAD"), "v")
        .failure(255)
        .stderr_has("AccessDeniedException");
    t.vendor("az", az("BAD", true), "v")
        .failure(1)
        .stderr_has("Forbidden");
    t.vendor("vault", vault_put(&["-"]), r#"{"OK":"1","BAD":"2"}"#)
        .failure(2)
        .stderr_has("Code: 403");
    assert!(t.stored("gh", "acme__api__dev", "BAD").is_none());
    assert!(t.vault_doc("secret", "app/dev").is_none());
}

#[test]
fn transient_keys_fail_with_throttling_the_first_n_times() {
    let t = with_vault_addr().env("FAKE_TRANSIENT", "A:2,app/A:1,V:1");
    let gh = || t.vendor("gh", gh_set("A"), "v");
    gh().failure(1)
        .stderr_has("HTTP 429: You have exceeded a secondary rate limit");
    gh().failure(1);
    gh().success();
    t.vendor("gh", gh_set("OTHER"), "v").success();
    t.vendor("aws", aws("create-secret", "app/A"), "v")
        .failure(255)
        .stderr_is("\nAn error occurred (ThrottlingException) when calling the CreateSecret operation: Rate exceeded\n");
    t.vendor("aws", aws("create-secret", "app/A"), "v")
        .success();
    t.vendor("vault", vault_put(&["-"]), r#"{"V":"1"}"#)
        .failure(2)
        .stderr_has("Code: 503. Errors:\n\n* Vault is sealed");
    t.vendor("vault", vault_put(&["-"]), r#"{"V":"1"}"#)
        .success();
}

#[test]
fn transient_messages_of_gcloud_and_az() {
    let t = Test::new().env("FAKE_TRANSIENT", "G:1,z:1");
    t.vendor("gcloud", gcloud(&["create"], "G"), "v")
        .failure(1)
        .stderr_has("ERROR: (gcloud.secrets.create) RESOURCE_EXHAUSTED: Quota exceeded");
    t.vendor("az", az("z", true), "v")
        .failure(1)
        .stderr_has("(Throttled) Too Many Requests")
        .stderr_has("429");
}

#[test]
fn hang_keys_log_then_sleep_until_killed() {
    let t = Test::new().env("FAKE_HANG_KEYS", "H");
    let mut child = t
        .vendor_command("gh")
        .args(gh_set("H"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while t.calls().is_empty() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    thread::sleep(Duration::from_millis(200));
    assert!(child.try_wait().unwrap().is_none(), "still running");
    child.kill().unwrap();
    child.wait().unwrap();
    let calls = t.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].exit, None);
}

#[test]
fn chatty_fakes_fill_both_pipes_before_reading_stdin() {
    let t = Test::new().env("FAKE_CHATTY_BYTES", "300000");
    let out = t.vendor("gh", gh_set("A"), "v");
    out.success();
    assert_eq!(out.stdout.len(), 300_000);
    assert_eq!(out.stderr.len(), 300_000);
}

#[test]
fn echo_stdin_on_fail_puts_the_value_into_stderr() {
    let t = Test::new()
        .env("FAKE_FAIL_KEYS", "A")
        .env("FAKE_ECHO_STDIN_ON_FAIL", "1");
    t.vendor("gh", gh_set("A"), "topsecret")
        .failure(1)
        .stderr_has("topsecret");
    let t = Test::new().env("FAKE_ECHO_STDIN_ON_FAIL", "1");
    t.vendor("aws", aws("put-secret-value", "missing"), "topsecret")
        .failure(255)
        .stderr_has("topsecret");
}

#[test]
fn ignore_stdin_keys_exit_without_reading() {
    let t = Test::new().env("FAKE_IGNORE_STDIN_KEYS", "A");
    t.vendor("gh", gh_set("A"), vec![b'x'; 1 << 20]).failure(1);
    let calls = t.calls();
    assert!(!calls[0].stdin_read);
    assert!(t.stored("gh", "acme__api__dev", "A").is_none());
}

#[test]
fn fail_list_breaks_list_calls_only() {
    let t = Test::new().env("FAKE_FAIL_LIST", "1");
    t.vendor(
        "gcloud",
        ["secrets", "list", "--project=proj", "--format=value(name)"],
        "",
    )
    .failure(1);
    t.vendor(
        "aws",
        [
            "secretsmanager",
            "list-secrets",
            "--region",
            "r",
            "--query",
            "SecretList[].Name",
            "--output",
            "text",
        ],
        "",
    )
    .failure(255);
    t.vendor("gcloud", gcloud(&["create"], "A"), "v").success();
}

#[test]
fn random_failures_are_all_or_nothing_at_the_extremes_and_repeatable() {
    let always = Test::new().env("FAKE_RANDOM_FAIL_PCT", "100");
    always
        .vendor("gh", gh_set("A"), "v")
        .failure(1)
        .stderr_has("rate limit");
    let never = Test::new().env("FAKE_RANDOM_FAIL_PCT", "0");
    never.vendor("gh", gh_set("A"), "v").success();

    let outcomes = || {
        let t = Test::new()
            .env("FAKE_RANDOM_FAIL_PCT", "50")
            .env("FAKE_SEED", "7");
        (0..20)
            .map(|i| t.vendor("gh", gh_set(&format!("K{}", i % 4)), "v").code())
            .collect::<Vec<_>>()
    };
    let first = outcomes();
    assert_eq!(first, outcomes(), "same seed, same outcomes");
    assert!(first.contains(&Some(0)) && first.contains(&Some(1)));
}

#[test]
fn delay_slows_every_call() {
    let t = Test::new().env("FAKE_DELAY_MS", "150");
    let start = Instant::now();
    t.vendor("gcloud", gcloud(&["describe"], "X"), "");
    assert!(start.elapsed() >= Duration::from_millis(150));
}
