//! `--prune` deletes only what vsync can prove it owns, through the real CLIs: aws-cli 1.45
//! against moto (Secrets Manager tags, `tag-resource`, one SSM level) and gcloud 528 against
//! the Secret Manager double (two repositories checked out as `src` in one project).

use crate::common::{Server, double_port, manifest_dir, moto_env, moto_port, prerequisites, show};
use serde_json::Value;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

const RUN_TIMEOUT: Duration = Duration::from_secs(90);

/// Checkouts named `<name>/src` under one temp dir, each with its own `origin`.
struct Place {
    dir: tempfile::TempDir,
    env: Vec<(&'static str, OsString)>,
}

impl Place {
    fn new() -> Place {
        let dir = tempfile::Builder::new()
            .prefix("vsync-real-owner")
            .tempdir()
            .unwrap();
        for sub in ["home", "xdg", "tmp"] {
            fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        Place {
            dir,
            env: Vec::new(),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// `<name>/src` with `origin` and `.env.<env>` holding `text`.
    fn checkout(&self, name: &str, origin: &str, env: &str, text: &str) -> PathBuf {
        let root = self.path(&format!("{name}/src"));
        fs::create_dir_all(root.join(".git")).unwrap();
        fs::write(
            root.join(".git/config"),
            format!("[remote \"origin\"]\n\turl = {origin}\n"),
        )
        .unwrap();
        let file = root.join(format!("infra/vault/{env}/.env.{env}"));
        fs::create_dir_all(file.parent().unwrap()).unwrap();
        fs::write(file, text).unwrap();
        root
    }

    fn vsync(&self, root: &Path, args: &[&str]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vsync"));
        cmd.args(args)
            .current_dir(root)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.path("home"))
            .env("XDG_CONFIG_HOME", self.path("xdg"))
            .env("TMPDIR", self.path("tmp"))
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        crate::support::run_bounded(cmd, b"", RUN_TIMEOUT)
    }

    /// A vendor CLI with the same environment; `stdin` on its stdin. Must succeed.
    fn cli(&self, bin: &str, args: &[&str], stdin: &[u8]) -> Output {
        let mut cmd = Command::new(bin);
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        let out = crate::support::run_bounded(cmd, stdin, RUN_TIMEOUT);
        assert!(out.status.success(), "{bin} {args:?}\n{}", show(&out));
        out
    }

    fn moto(&mut self, python: &Path) -> Server {
        let mut cmd = Command::new(python);
        cmd.args(["-m", "moto.server", "-H", "127.0.0.1", "-p", "0"]);
        let moto = Server::start(cmd, moto_port);
        self.env = moto_env(
            moto.port,
            &self.path("home"),
            &["AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL_SSM"],
        );
        moto
    }

    fn aws_json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["--region=us-east-1", "--output=json"]);
        serde_json::from_slice(&self.cli("aws", &all, b"").stdout).unwrap()
    }

    /// Every secret's name and tags (as `{key: value}`), sorted by name.
    fn aws_secrets(&self) -> Vec<(String, Value)> {
        let v = self.aws_json(&["secretsmanager", "list-secrets"]);
        let mut out: Vec<(String, Value)> = v["SecretList"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let tags: serde_json::Map<String, Value> = s["Tags"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|t| (t["Key"].as_str().unwrap().into(), t["Value"].clone()))
                    .collect();
                (s["Name"].as_str().unwrap().to_string(), Value::Object(tags))
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

#[track_caller]
fn ok(out: &Output) -> String {
    assert!(out.status.success(), "{}", show(out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn aws_prunes_only_tagged_secrets_directly_under_the_prefix_through_moto() {
    let Some(python) = prerequisites("aws", &["moto.server"]) else {
        return;
    };
    let mut place = Place::new();
    let _moto = place.moto(&python);
    let root = place.checkout("api", "git@github.com:acme/api.git", "dev", "A=1\nOLD=2\n");
    let sync = |extra: &[&str]| {
        let mut args = vec![
            "sync",
            "dev",
            "aws",
            "--aws-region=us-east-1",
            "--aws-secret-prefix=api/dev",
        ];
        args.extend(extra);
        place.vsync(&root, &args)
    };
    ok(&sync(&[]));
    let secrets = place.aws_secrets();
    let mark = secrets[0].1["vsync-repo"].as_str().unwrap().to_string();
    assert!(mark.starts_with("github-com-acme-api-"), "{secrets:?}");
    assert_eq!(secrets[0].1["managed-by"], "vsync");
    assert_eq!(secrets[0].1["vsync-env"], "dev");
    // Secrets vsync does not own: deeper paths that share the string prefix (even tagged
    // as this repository's), and one directly under it without tags.
    let ours = format!(
        r#"[{{"Key":"managed-by","Value":"vsync"}},{{"Key":"vsync-repo","Value":"{mark}"}},{{"Key":"vsync-env","Value":"dev"}}]"#
    );
    for (name, tags) in [
        ("api/dev2/OTHER", Some(ours.as_str())),
        ("api/development/Z", Some(ours.as_str())),
        ("api/devX", None),
        ("api/devLEGACY", None),
    ] {
        let name = format!("--name={name}");
        let tags = tags.map(|t| format!("--tags={t}"));
        let mut args = vec![
            "secretsmanager",
            "create-secret",
            &name,
            "--secret-string=theirs",
            "--region=us-east-1",
        ];
        args.extend(tags.as_deref());
        place.cli("aws", &args, b"");
    }
    let env = root.join("infra/vault/dev/.env.dev");
    // LEGACY, written by an earlier version, is defined again: the write tags it.
    fs::write(&env, "A=1\nLEGACY=new\n").unwrap();
    let out = sync(&[]);
    assert!(
        ok(&out).contains("Marked 1 existing secrets as this repository's and env's"),
        "{}",
        show(&out)
    );
    let diff = sync(&["--diff"]);
    assert_eq!(diff.status.code(), Some(2), "{}", show(&diff));
    assert_eq!(
        String::from_utf8_lossy(&diff.stdout),
        "= A\n= LEGACY\n- api/devOLD\n"
    );
    fs::write(&env, "A=1\n").unwrap();
    let out = ok(&sync(&["--prune"]));
    assert!(out.contains("✓ deleted api/devLEGACY\n"), "{out}");
    assert!(out.contains("✓ deleted api/devOLD\n"), "{out}");
    assert!(out.contains("  left alone: 1 secrets in scope"), "{out}");
    let names: Vec<String> = place.aws_secrets().into_iter().map(|s| s.0).collect();
    assert_eq!(
        names,
        [
            "api/dev2/OTHER",
            "api/devA",
            "api/devX",
            "api/development/Z"
        ],
        "deleted secrets are scheduled, and list-secrets leaves them out"
    );
}

#[test]
fn ssm_prunes_one_level_under_its_path_and_not_another_envs_through_moto() {
    let Some(python) = prerequisites("aws", &["moto.server"]) else {
        return;
    };
    let mut place = Place::new();
    let _moto = place.moto(&python);
    let root = place.checkout(
        "shop",
        "git@github.com:acme/shop.git",
        "prod",
        "A=1\nOLD=2\n",
    );
    let staging = root.join("infra/vault/staging/.env.staging");
    fs::create_dir_all(staging.parent().unwrap()).unwrap();
    fs::write(&staging, "DB_URL=staging-db\n").unwrap();
    let ssm = |env: &str, prefix: &str, extra: &[&str]| {
        let prefix = format!("--ssm-prefix={prefix}");
        let mut args = vec!["sync", env, "ssm", "--ssm-region=us-east-1", &prefix];
        args.extend(extra);
        place.vsync(&root, &args)
    };
    ok(&ssm("staging", "/shop/staging/", &[]));
    ok(&ssm("prod", "/shop/", &[]));
    fs::write(root.join("infra/vault/prod/.env.prod"), "A=1\n").unwrap();
    let refused = ssm("prod", "/shop", &["--prune"]);
    assert_eq!(refused.status.code(), Some(1), "{}", show(&refused));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("ends with /"),
        "{}",
        show(&refused)
    );
    let out = ok(&ssm("prod", "/shop/", &["--prune"]));
    assert!(out.contains("✓ deleted /shop/OLD\n"), "{out}");
    let v = place.aws_json(&["ssm", "get-parameters-by-path", "--path=/", "--recursive"]);
    let mut names: Vec<&str> = v["Parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["Name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["/shop/A", "/shop/staging/DB_URL"]);
}

#[test]
fn two_repositories_checked_out_as_src_never_prune_each_other_through_gcloud() {
    let Some(python) = prerequisites("gcloud", &[]) else {
        return;
    };
    let mut place = Place::new();
    let state_file = place.path("tmp/gcp-state.json");
    let mut cmd = Command::new(&python);
    cmd.arg(manifest_dir().join("fixtures/doubles/gcp_secretmanager.py"))
        .arg("--state-file")
        .arg(&state_file);
    let double = Server::start(cmd, double_port);
    place.env = vec![
        (
            "CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER",
            format!("http://127.0.0.1:{}/", double.port).into(),
        ),
        ("CLOUDSDK_AUTH_DISABLE_CREDENTIALS", "true".into()),
        ("CLOUDSDK_CONFIG", place.path("home/gcloud").into()),
        ("CLOUDSDK_CORE_DISABLE_PROMPTS", "1".into()),
    ];
    let one = place.checkout(
        "one",
        "https://github.com/acme/one.git",
        "dev",
        "ONE=1\nONE_OLD=2\n",
    );
    let two = place.checkout("two", "git@github.com:acme/two", "dev", "TWO=1\n");
    let sync = |root: &Path, extra: &[&str]| {
        let mut args = vec!["sync", "dev", "gcp", "--gcp-project=vsync-test"];
        args.extend(extra);
        place.vsync(root, &args)
    };
    ok(&sync(&one, &[]));
    let out = ok(&sync(&two, &["--prune"]));
    assert!(out.contains("Nothing to prune."), "{out}");
    // Written by an earlier version in `one`: labelled with the folder's name.
    place.cli(
        "gcloud",
        &[
            "secrets",
            "create",
            "--data-file=-",
            "--project=vsync-test",
            "--labels=managed-by=vsync,vsync-repo=src,vsync-env=dev",
            "--",
            "LEGACY",
        ],
        b"old",
    );
    fs::write(one.join("infra/vault/dev/.env.dev"), "ONE=1\nLEGACY=new\n").unwrap();
    let out = ok(&sync(&one, &[]));
    assert!(out.contains("Marked 1 existing secrets"), "{out}");
    fs::write(one.join("infra/vault/dev/.env.dev"), "ONE=1\n").unwrap();
    let out = ok(&sync(&one, &["--prune"]));
    assert!(out.contains("✓ deleted LEGACY\n"), "{out}");
    assert!(out.contains("✓ deleted ONE_OLD\n"), "{out}");
    let out = ok(&sync(&two, &["--prune"]));
    assert!(out.contains("Nothing to prune."), "{out}");
    let state: Value = serde_json::from_slice(&fs::read(&state_file).unwrap()).unwrap();
    let mut names: Vec<&String> = state["secrets"]["vsync-test"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    names.sort();
    assert_eq!(names, ["ONE", "TWO"]);
    let labels = &state["secrets"]["vsync-test"]["ONE"]["labels"];
    assert!(
        labels["vsync-repo"]
            .as_str()
            .is_some_and(|l| l.starts_with("github-com-acme-one-")),
        "{labels}"
    );
}
