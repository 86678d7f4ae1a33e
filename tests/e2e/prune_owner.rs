//! `--prune` deletes only what vsync can prove it owns: on aws and gcp the marks of this
//! repository and env (and on aws a name directly under the prefix), on ssm a name directly
//! under a path prefix; the owner is the repository's `origin`, never its folder's name. A
//! write to an existing secret without the marks adds them.

use crate::support::{Output, Test};

/// The `vsync-repo` mark of the test repository (`origin` https://github.com/acme/api.git).
const OWNER: &str = "github-com-acme-api-b40f733f34db";

fn tags(repo: &str, env: &str) -> String {
    format!(
        r#"--tags=[{{"Key":"managed-by","Value":"vsync"}},{{"Key":"vsync-repo","Value":"{repo}"}},{{"Key":"vsync-env","Value":"{env}"}}]"#
    )
}

fn aws_create(t: &Test, name: &str, tags: Option<&str>) {
    let name = format!("--name={name}");
    let mut args = vec![
        "secretsmanager",
        "create-secret",
        &name,
        "--secret-string",
        "file:///dev/stdin",
        "--region=eu-west-1",
    ];
    args.extend(tags);
    t.vendor("aws", args, "theirs").success();
}

fn gcp_create(t: &Test, name: &str, labels: Option<&str>) {
    let mut args = vec!["secrets", "create", "--data-file=-", "--project=acme-dev"];
    args.extend(labels);
    args.extend(["--", name]);
    t.vendor("gcloud", args, "theirs").success();
}

fn write_env(t: &Test, text: &str) {
    std::fs::write(t.root().join("infra/vault/dev/.env.dev"), text).unwrap();
}

fn count(t: &Test, word: &str) -> usize {
    t.calls()
        .iter()
        .filter(|c| c.argv.iter().any(|a| a == word))
        .count()
}

const AWS: [&str; 3] = [
    "aws",
    "--aws-region=eu-west-1",
    "--aws-secret-prefix=api/dev",
];

fn aws_args(extra: &[&str]) -> Vec<String> {
    ["sync", "dev"]
        .iter()
        .chain(&AWS)
        .chain(extra)
        .map(|s| s.to_string())
        .collect()
}

#[test]
fn an_aws_prefix_is_no_boundary_the_tags_and_one_level_are() {
    let mut t = Test::new()
        .env_file("dev", "A=1\nOLD=2\n")
        .args(aws_args(&[]));
    t.run().success();
    let ours = tags(OWNER, "dev");
    // Marked as this repo's and env's, but deeper than one level under `api/dev`: other
    // prefixes' secrets, never this one's.
    aws_create(&t, "api/dev2/OTHER", Some(&ours));
    aws_create(&t, "api/development/Z", Some(&ours));
    // Directly under the prefix, but without vsync's tags; and another env's.
    aws_create(&t, "api/devX", None);
    aws_create(&t, "api/devPROD", Some(&tags(OWNER, "prod")));
    write_env(&t, "A=1\n");
    t.run_again(aws_args(&["--diff"]))
        .failure(2)
        .stdout_is("= A\n- api/devOLD\n");
    let out = t.run_again(aws_args(&["--prune"]));
    out.success()
        .stdout_has("✓ deleted api/devOLD\n")
        .stdout_has("  left alone: 2 secrets in scope without this repository's and env's ownership marks\n");
    for name in [
        "api/dev2/OTHER",
        "api/development/Z",
        "api/devX",
        "api/devPROD",
    ] {
        assert!(t.exists("aws", "eu-west-1", name), "{name} was deleted");
    }
    assert!(!t.exists("aws", "eu-west-1", "api/devOLD"));
    assert_eq!(count(&t, "delete-secret"), 1);
}

#[test]
fn an_aws_write_to_a_secret_without_tags_tags_it_once_and_brings_it_under_prune() {
    let mut t = Test::new().env_file("dev", "LEGACY=new\n");
    // Written by an earlier version: no tags.
    aws_create(&t, "api/devLEGACY", None);
    aws_create(&t, "api/devGONE", None);
    let out = t.run_again(aws_args(&[]));
    out.success()
        .stdout_has("Marked 1 existing secrets as this repository's and env's");
    assert_eq!(count(&t, "tag-resource"), 1);
    let tag = t
        .calls()
        .into_iter()
        .find(|c| c.argv.iter().any(|a| a == "tag-resource"))
        .unwrap();
    assert!(
        tag.argv.contains(&"--secret-id=api/devLEGACY".to_string()),
        "{:?}",
        tag.argv
    );
    t.run_again(aws_args(&[])).success().stdout_lacks("Marked ");
    assert_eq!(count(&t, "tag-resource"), 1, "marked once");
    write_env(&t, "OTHER=1\n");
    t.run_again(aws_args(&["--prune"]))
        .success()
        .stdout_has("✓ deleted api/devLEGACY\n")
        .stdout_has("  left alone: 1 secrets in scope");
    assert!(t.exists("aws", "eu-west-1", "api/devGONE"));
}

#[test]
fn a_gcp_write_to_a_secret_without_labels_labels_it_and_brings_it_under_prune() {
    let gcp = |extra: &[&str]| -> Vec<String> {
        ["sync", "dev", "gcp", "--gcp-project=acme-dev"]
            .iter()
            .chain(extra)
            .map(|s| s.to_string())
            .collect()
    };
    let mut t = Test::new().env_file("dev", "LEGACY=new\nA=1\n");
    gcp_create(&t, "LEGACY", None);
    // Labelled by the old rule (the folder's name as the owner): written by this env file
    // again, it takes this repository's labels.
    gcp_create(
        &t,
        "A",
        Some("--labels=managed-by=vsync,vsync-repo=repo,vsync-env=dev"),
    );
    t.run_again(gcp(&[]))
        .success()
        .stdout_has("Marked 2 existing secrets as this repository's and env's");
    assert_eq!(count(&t, "update"), 2);
    t.run_again(gcp(&["--skip-unchanged"]))
        .success()
        .stdout_lacks("Marked ");
    assert_eq!(count(&t, "update"), 2);
    write_env(&t, "A=1\n");
    t.run_again(gcp(&["--prune"]))
        .success()
        .stdout_has("✓ deleted LEGACY\n");
}

/// A repository `<dir>/src` with `origin` and an env file, inside the test's tree.
fn checkout(t: Test, dir: &str, origin: &str, env: &str) -> Test {
    t.file(
        &format!("{dir}/src/.git/config"),
        format!("[remote \"origin\"]\n\turl = {origin}\n"),
    )
    .file(&format!("{dir}/src/infra/vault/dev/.env.dev"), env)
}

fn in_checkout(t: Test, dir: &str, extra: &[&str]) -> (Test, Output) {
    let mut t = t
        .current_dir(&format!("{dir}/src"))
        .args(["sync", "dev", "gcp", "--gcp-project=acme-dev"])
        .args(extra);
    let out = t.run();
    (t, out)
}

#[test]
fn two_repositories_checked_out_as_src_in_one_project_never_prune_each_other() {
    let t = Test::new();
    let t = checkout(
        t,
        "one",
        "git@github.com:acme/one.git",
        "ONE_A=1\nONE_OLD=2\n",
    );
    let t = checkout(t, "two", "https://github.com/acme/two", "TWO_A=1\n");
    let (t, out) = in_checkout(t, "one", &[]);
    out.success();
    let (t, out) = in_checkout(t, "two", &["--prune"]);
    out.success().stdout_has("Nothing to prune.");
    // Labelled by the old rule, where both repositories were `src`: neither may prune it.
    gcp_create(
        &t,
        "SHARED_OLD",
        Some("--labels=managed-by=vsync,vsync-repo=src,vsync-env=dev"),
    );
    std::fs::write(
        t.root().join("one/src/infra/vault/dev/.env.dev"),
        "ONE_A=1\n",
    )
    .unwrap();
    let (t, out) = in_checkout(t, "one", &["--prune"]);
    out.success().stdout_has("✓ deleted ONE_OLD\n");
    let (t, out) = in_checkout(t, "two", &["--prune"]);
    out.success().stdout_has("Nothing to prune.");
    assert_eq!(
        t.secret_names("gcp", "acme-dev"),
        ["ONE_A", "SHARED_OLD", "TWO_A"]
    );
}

#[test]
fn prune_by_marks_is_refused_when_only_a_folder_name_identifies_the_repository() {
    for routing in [
        &["gcp", "--gcp-project=acme-dev"][..],
        &AWS[..],
        &["azure", "--azure-vault=acme-kv"][..],
    ] {
        let mut t = Test::new().env_file("dev", "A=1\n");
        std::fs::remove_file(t.root().join(".git/config")).unwrap();
        let mut args = vec!["sync", "dev"];
        args.extend(routing);
        args.push("--prune");
        let out = t.run_again(&args);
        out.failure(1).stderr_has("pass --repo=NAME");
        assert!(t.calls().is_empty(), "{routing:?}: nothing runs");
        // Named explicitly, the repository may prune.
        args.push("--repo=acme-api");
        t.run_again(&args).success();
    }
}

#[test]
fn ssm_prunes_one_level_under_a_path_and_refuses_a_prefix_that_is_not_one() {
    let ssm = |env: &str, prefix: &str, extra: &[&str]| -> Vec<String> {
        ["sync", env, "ssm", "--ssm-region=eu-west-1"]
            .iter()
            .map(|s| s.to_string())
            .chain([format!("--ssm-prefix={prefix}")])
            .chain(extra.iter().map(|s| s.to_string()))
            .collect()
    };
    let mut t = Test::new()
        .env_file("prod", "DB_URL=prod-db\nOLD=1\n")
        .env_file("staging", "DB_URL=staging-db\n");
    t.run_again(ssm("staging", "/shop/staging/", &[])).success();
    t.run_again(ssm("prod", "/shop/", &[])).success();
    std::fs::write(
        t.root().join("infra/vault/prod/.env.prod"),
        "DB_URL=prod-db\n",
    )
    .unwrap();
    t.run_again(ssm("prod", "/shop/", &["--diff"]))
        .failure(2)
        .stdout_is("= DB_URL\n- /shop/OLD\n");
    t.run_again(ssm("prod", "/shop/", &["--prune"]))
        .success()
        .stdout_has("✓ deleted /shop/OLD\n");
    assert!(t.exists("ssm", "eu-west-1", "/shop/staging/DB_URL"));
    assert!(t.exists("ssm", "eu-west-1", "/shop/DB_URL"));
    // A string prefix is refused for --prune before anything is written.
    let before = t.calls().len();
    t.run_again(ssm("prod", "/shop", &["--prune"]))
        .failure(1)
        .stderr_has("--prune needs an --ssm-prefix that ends with /");
    assert_eq!(t.calls().len(), before);
}

#[test]
fn an_ssm_read_never_covers_more_than_its_names() {
    let mut t = Test::new().env_file("dev", "A=1\n").args([
        "sync",
        "dev",
        "ssm",
        "--ssm-region=eu-west-1",
        "--ssm-prefix=/x-",
        "--skip-unchanged",
    ]);
    t.run().success();
    let reads: Vec<_> = t
        .calls()
        .into_iter()
        .filter(|c| c.argv.iter().any(|a| a.starts_with("get-parameters")))
        .collect();
    assert_eq!(reads.len(), 1);
    assert_eq!(reads[0].argv[1], "get-parameters", "{:?}", reads[0].argv);
    assert!(
        !reads[0].argv.iter().any(|a| a == "--recursive"),
        "{:?}",
        reads[0].argv
    );
}
