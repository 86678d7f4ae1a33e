//! How many vendor calls a sync costs, counted on the fakes' call log, and the
//! `--workers` bound that sets how many run at once.
//!
//! gcp and aws cannot write a secret without knowing whether it exists (create and update are
//! different calls), so vsync lists the names once, beside the first writes, and repairs a
//! wrong guess from the vendor's NOT_FOUND / ALREADY_EXISTS. These tests pin the bill: one call
//! per secret plus at most one per run when re-syncing, and a correct end when nothing exists
//! yet, when someone else creates or deletes a secret between the list and the write, and when
//! the list call fails. Values are checked in the fake's store, not only exit statuses.
//!
//! Where the order of events matters, a wrapper in front of the fake makes it deterministic:
//! its list calls answer at once (the writes keep `FAKE_DELAY_MS`), and then it runs
//! `$AFTER_LIST` — "someone else" acting after vsync's list and before its writes.

use crate::support::{Call, Test, escape, gh_scope};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

/// More keys than vsync's six default workers, so several rounds run.
const N: usize = 20;

/// A per-key target with a create/update split.
#[derive(Clone, Copy)]
struct Backend {
    target: &'static str,
    bin: &'static str,
    service: &'static str,
    scope: &'static str,
    /// aws runs with a name prefix, so the list call's filter and name matching are covered.
    prefix: &'static str,
    routing: &'static [&'static str],
}

const GCP: Backend = Backend {
    target: "gcp",
    bin: "gcloud",
    service: "gcp",
    scope: "acme-dev",
    prefix: "",
    routing: &["--gcp-project=acme-dev"],
};

const AWS: Backend = Backend {
    target: "aws",
    bin: "aws",
    service: "aws",
    scope: "eu-west-1",
    prefix: "app/dev/",
    routing: &["--aws-region=eu-west-1", "--aws-secret-prefix=app/dev/"],
};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    List,
    Create(String),
    Update(String),
    Other,
}

impl Backend {
    fn args(&self, extra: &[&str]) -> Vec<String> {
        ["sync", "dev", self.target]
            .iter()
            .chain(self.routing)
            .chain(extra)
            .map(|s| s.to_string())
            .collect()
    }

    /// What a logged call was; writes carry the key (prefix removed).
    fn kind(&self, call: &Call) -> Kind {
        let argv: Vec<&str> = call.argv.iter().map(String::as_str).collect();
        let key = |name: &str| name.strip_prefix(self.prefix).unwrap_or(name).to_string();
        let name = call.secret().map(key);
        match (&argv[..], name) {
            (["secrets", "list", ..] | ["secretsmanager", "list-secrets", ..], None) => Kind::List,
            (["secrets", "create", ..] | ["secretsmanager", "create-secret", ..], Some(name)) => {
                Kind::Create(name)
            }
            (
                ["secrets", "versions", "add", ..] | ["secretsmanager", "put-secret-value", ..],
                Some(name),
            ) => Kind::Update(name),
            _ => Kind::Other,
        }
    }

    fn versions(&self, t: &Test, key: &str) -> Vec<Vec<u8>> {
        t.versions(self.service, self.scope, &format!("{}{key}", self.prefix))
    }

    /// The fake's store directory of one secret (its layout is the fake's documented contract).
    fn secret_dir(&self, t: &Test, key: &str) -> PathBuf {
        t.fake_dir()
            .join("store")
            .join(self.service)
            .join(self.scope)
            .join(escape(&format!("{}{key}", self.prefix)))
    }

    /// Creates a secret as someone else would, through the fake CLI.
    fn seed(&self, t: &Test, key: &str, value: &str) {
        let name = format!("{}{key}", self.prefix);
        let args: Vec<&str> = match self.target {
            "gcp" => vec![
                "secrets",
                "create",
                &name,
                "--replication-policy=automatic",
                "--data-file=-",
                "--project=acme-dev",
            ],
            _ => vec![
                "secretsmanager",
                "create-secret",
                "--name",
                &name,
                "--secret-string",
                "file:///dev/stdin",
                "--region",
                "eu-west-1",
            ],
        };
        t.vendor(self.bin, args, value).success();
    }
}

fn keys(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("K{i:02}")).collect()
}

fn value(key: &str, round: u32) -> String {
    format!("s3cr3t-{key}-v{round}")
}

fn env_text(keys: &[String], round: u32) -> String {
    keys.iter()
        .map(|k| format!("{k}={}\n", value(k, round)))
        .collect()
}

/// The calls logged after the first `skip`, classified.
fn kinds(b: Backend, t: &Test, skip: usize) -> Vec<(Kind, Option<i32>)> {
    t.calls()
        .iter()
        .skip(skip)
        .map(|c| (b.kind(c), c.exit))
        .collect()
}

fn count(calls: &[(Kind, Option<i32>)], pred: impl Fn(&Kind) -> bool) -> usize {
    calls.iter().filter(|(k, _)| pred(k)).count()
}

/// The writes of one key, in log order, with their exit codes.
fn writes_of(calls: &[(Kind, Option<i32>)], key: &str) -> Vec<(Kind, Option<i32>)> {
    calls
        .iter()
        .filter(|(k, _)| matches!(k, Kind::Create(x) | Kind::Update(x) if x == key))
        .cloned()
        .collect()
}

/// Puts a wrapper in front of the fake `bin`: list calls answer at once, then run
/// `$AFTER_LIST`; every other call goes straight to the fake.
fn instant_list_then_after_list(t: &Test, bin: &str) {
    let dir = t.fake_dir().parent().unwrap().join("bin");
    fs::create_dir_all(dir.join("real")).unwrap();
    std::os::unix::fs::symlink(
        crate::support::fake_vendor_path(),
        dir.join("real").join(bin),
    )
    .unwrap();
    fs::remove_file(dir.join(bin)).unwrap();
    fs::write(
        dir.join(bin),
        r#"#!/bin/sh
real="$(dirname "$0")/real/$(basename "$0")"
case "$1 $2" in
"secrets list"|"secretsmanager list-secrets")
    FAKE_DELAY_MS=0 "$real" "$@"
    status=$?
    if [ -n "$AFTER_LIST" ]; then sh -c "$AFTER_LIST" || exit 99; fi
    exit $status ;;
esac
exec "$real" "$@"
"#,
    )
    .unwrap();
    fs::set_permissions(dir.join(bin), fs::Permissions::from_mode(0o755)).unwrap();
}

// ----- re-sync: one call per secret plus at most one -----------------------------------------

fn re_sync_costs_one_call_per_secret_plus_at_most_one(b: Backend) {
    let keys = keys(N);
    let mut t = Test::new().env_file("dev", &env_text(&keys, 1));
    t.run_again(b.args(&[])).success();
    let before = t.calls().len();

    let mut t = t.env_file("dev", &env_text(&keys, 2));
    t.run_again(b.args(&[]))
        .success()
        .stdout_has(&format!("✅ {N} secrets synced to {}", b.target));
    let calls = kinds(b, &t, before);
    assert_eq!(
        count(&calls, |k| matches!(k, Kind::Update(_))),
        N,
        "one update per secret: {calls:?}"
    );
    assert_eq!(
        count(&calls, |k| matches!(k, Kind::Create(_))),
        0,
        "{calls:?}"
    );
    assert!(
        calls.len() <= N + 1,
        "{} calls for {N} existing secrets: {calls:?}",
        calls.len()
    );
    assert!(count(&calls, |k| *k == Kind::List) <= 1, "{calls:?}");
    assert_eq!(count(&calls, |k| *k == Kind::Other), 0, "{calls:?}");
    for key in &keys {
        assert_eq!(
            b.versions(&t, key),
            [value(key, 1).into_bytes(), value(key, 2).into_bytes()],
            "{key}"
        );
    }
}

#[test]
fn gcp_re_sync_costs_one_call_per_secret_plus_at_most_one() {
    re_sync_costs_one_call_per_secret_plus_at_most_one(GCP);
}

#[test]
fn aws_re_sync_costs_one_call_per_secret_plus_at_most_one() {
    re_sync_costs_one_call_per_secret_plus_at_most_one(AWS);
}

// ----- first sync -----------------------------------------------------------------------------

fn first_sync_creates_every_secret_with_its_value(b: Backend) {
    let keys = keys(N);
    let mut t = Test::new().env_file("dev", &env_text(&keys, 1));
    t.run_again(b.args(&[])).success();
    let calls = kinds(b, &t, 0);
    for key in &keys {
        assert_eq!(b.versions(&t, key), [value(key, 1).into_bytes()], "{key}");
        let writes = writes_of(&calls, key);
        // At most one wrong guess (an update before the list answered), then one create.
        assert!(writes.len() <= 2, "{key}: {writes:?}");
        assert_eq!(
            writes.last(),
            Some(&(Kind::Create(key.clone()), Some(0))),
            "{key}"
        );
    }
    assert!(count(&calls, |k| *k == Kind::List) <= 1, "{calls:?}");
    assert!(calls.len() <= 2 * N + 1, "{calls:?}");
}

#[test]
fn gcp_first_sync_creates_every_secret_with_its_value() {
    first_sync_creates_every_secret_with_its_value(GCP);
}

#[test]
fn aws_first_sync_creates_every_secret_with_its_value() {
    first_sync_creates_every_secret_with_its_value(AWS);
}

/// Once the list has answered, nothing is guessed: only the writes already in flight when it
/// answered (one per worker) can have guessed wrong.
fn first_sync_guesses_wrong_only_before_the_list_answers(b: Backend) {
    let keys = keys(12);
    let t = Test::new()
        .env_file("dev", &env_text(&keys, 1))
        .env("FAKE_DELAY_MS", "200");
    instant_list_then_after_list(&t, b.bin);
    let mut t = t;
    t.run_again(b.args(&["--workers=3"])).success();
    let calls = kinds(b, &t, 0);
    let wrong = calls
        .iter()
        .filter(|(k, exit)| matches!(k, Kind::Update(_)) && *exit != Some(0))
        .count();
    assert!(
        wrong <= 3,
        "{wrong} wrong guesses with 3 workers: {calls:?}"
    );
    assert_eq!(count(&calls, |k| matches!(k, Kind::Create(_))), 12);
    assert_eq!(calls.len(), 12 + wrong + 1, "{calls:?}");
    for key in &keys {
        assert_eq!(b.versions(&t, key), [value(key, 1).into_bytes()], "{key}");
    }
}

#[test]
fn gcp_first_sync_guesses_wrong_only_before_the_list_answers() {
    first_sync_guesses_wrong_only_before_the_list_answers(GCP);
}

#[test]
fn aws_first_sync_guesses_wrong_only_before_the_list_answers() {
    first_sync_guesses_wrong_only_before_the_list_answers(AWS);
}

// ----- someone else between the list and the write -----------------------------------------

/// `RACE` is absent when vsync lists, created by someone else right after: vsync's create
/// fails with ALREADY_EXISTS and it adds its value as a new version instead.
fn a_secret_created_after_the_list_still_ends_with_our_value(b: Backend) {
    let keys: Vec<String> = ["A", "RACE", "B"].map(String::from).to_vec();
    let t = Test::new()
        .env_file("dev", &env_text(&keys, 1))
        .env("FAKE_DELAY_MS", "400");
    let dir = b.secret_dir(&t, "RACE");
    let t = t.env(
        "AFTER_LIST",
        &format!("mkdir -p '{0}' && printf theirs > '{0}/v1'", dir.display()),
    );
    instant_list_then_after_list(&t, b.bin);
    // One worker: RACE's write comes after the list has answered.
    let mut t = t;
    t.run_again(b.args(&["--workers=1"])).success();
    let calls = kinds(b, &t, 0);
    let race = writes_of(&calls, "RACE");
    assert_eq!(race.len(), 2, "{calls:?}");
    assert_eq!(race[0].0, Kind::Create("RACE".into()));
    assert_ne!(race[0].1, Some(0), "the create found the secret there");
    assert_eq!(race[1], (Kind::Update("RACE".into()), Some(0)));
    assert_eq!(
        b.versions(&t, "RACE"),
        [b"theirs".to_vec(), value("RACE", 1).into_bytes()]
    );
    for key in ["A", "B"] {
        assert_eq!(b.versions(&t, key), [value(key, 1).into_bytes()], "{key}");
    }
    // The list (a lone worker makes it before any write); A's create; RACE's create and its
    // repair; B's create.
    assert_eq!(calls.len(), 1 + 1 + 2 + 1, "{calls:?}");
}

#[test]
fn gcp_a_secret_created_after_the_list_still_ends_with_our_value() {
    a_secret_created_after_the_list_still_ends_with_our_value(GCP);
}

#[test]
fn aws_a_secret_created_after_the_list_still_ends_with_our_value() {
    a_secret_created_after_the_list_still_ends_with_our_value(AWS);
}

/// `GONE` exists when vsync lists and is deleted right after: the update finds nothing and
/// vsync creates the secret.
fn a_secret_deleted_after_the_list_is_created_again(b: Backend) {
    let keys: Vec<String> = ["A", "GONE", "B"].map(String::from).to_vec();
    let t = Test::new()
        .env_file("dev", &env_text(&keys, 2))
        .env("FAKE_DELAY_MS", "400");
    for key in &keys {
        b.seed(&t, key, &value(key, 1));
    }
    let seeded = t.calls().len();
    let dir = b.secret_dir(&t, "GONE");
    let t = t.env("AFTER_LIST", &format!("rm -r '{}'", dir.display()));
    instant_list_then_after_list(&t, b.bin);
    let mut t = t;
    t.run_again(b.args(&["--workers=1"])).success();
    let calls = kinds(b, &t, seeded);
    let gone = writes_of(&calls, "GONE");
    assert_eq!(gone.len(), 2, "{calls:?}");
    assert_eq!(gone[0].0, Kind::Update("GONE".into()));
    assert_ne!(gone[0].1, Some(0), "the update found nothing");
    assert_eq!(gone[1], (Kind::Create("GONE".into()), Some(0)));
    assert_eq!(b.versions(&t, "GONE"), [value("GONE", 2).into_bytes()]);
    for key in ["A", "B"] {
        assert_eq!(
            b.versions(&t, key),
            [value(key, 1).into_bytes(), value(key, 2).into_bytes()],
            "{key}"
        );
    }
}

#[test]
fn gcp_a_secret_deleted_after_the_list_is_created_again() {
    a_secret_deleted_after_the_list_is_created_again(GCP);
}

#[test]
fn aws_a_secret_deleted_after_the_list_is_created_again() {
    a_secret_deleted_after_the_list_is_created_again(AWS);
}

// ----- the list call fails --------------------------------------------------------------------

/// Without a list every key is guessed to exist: a re-sync still costs one write per secret,
/// a first sync two (the failed update, then the create), and both end with every value.
fn a_failing_list_call_still_ends_correctly(b: Backend) {
    let keys = keys(N);
    let mut t = Test::new()
        .env_file("dev", &env_text(&keys, 1))
        .env("FAKE_FAIL_LIST", "1");
    t.run_again(b.args(&[])).success();
    let first = kinds(b, &t, 0);
    assert_eq!(count(&first, |k| *k == Kind::List), 1, "{first:?}");
    assert_eq!(count(&first, |k| matches!(k, Kind::Update(_))), N);
    assert_eq!(count(&first, |k| matches!(k, Kind::Create(_))), N);
    assert_eq!(first.len(), 2 * N + 1);
    for key in &keys {
        assert_eq!(b.versions(&t, key), [value(key, 1).into_bytes()], "{key}");
    }

    let mut t = t.env_file("dev", &env_text(&keys, 2));
    t.run_again(b.args(&[])).success();
    let second = kinds(b, &t, first.len());
    assert_eq!(count(&second, |k| *k == Kind::List), 1, "{second:?}");
    assert_eq!(count(&second, |k| matches!(k, Kind::Update(_))), N);
    assert_eq!(second.len(), N + 1, "{second:?}");
    for key in &keys {
        assert_eq!(
            b.versions(&t, key),
            [value(key, 1).into_bytes(), value(key, 2).into_bytes()],
            "{key}"
        );
    }
}

#[test]
fn gcp_a_failing_list_call_still_ends_correctly() {
    a_failing_list_call_still_ends_correctly(GCP);
}

#[test]
fn aws_a_failing_list_call_still_ends_correctly() {
    a_failing_list_call_still_ends_correctly(AWS);
}

// ----- targets without a create/update split -------------------------------------------------

#[test]
fn gh_costs_exactly_one_call_per_secret_on_every_run() {
    let keys = keys(N);
    let mut t = Test::new().env_file("dev", &env_text(&keys, 1));
    let args = ["sync", "dev", "gh", "--gh-repo=acme/api"];
    t.run_again(args).success();
    assert_eq!(t.calls().len(), N);
    t.run_again(args).success();
    assert_eq!(t.calls().len(), 2 * N);
    for key in &keys {
        assert_eq!(
            t.stored("gh", &gh_scope("acme/api", "dev"), key),
            Some(value(key, 1).into_bytes())
        );
    }
}

#[test]
fn vault_costs_one_call_per_run_whatever_the_number_of_secrets() {
    let keys = keys(N);
    let mut t = Test::new().env_file("dev", &env_text(&keys, 1));
    let args = [
        "sync",
        "dev",
        "vault",
        "--vault-addr=http://127.0.0.1:8200",
        "--vault-mount=secret",
        "--vault-path=app/dev",
    ];
    t.run_again(args).success();
    t.run_again(args).success();
    assert_eq!(t.calls().len(), 2);
    let doc = t.vault_doc("secret", "app/dev").expect("written");
    assert_eq!(doc.len(), N);
    for key in &keys {
        assert_eq!(doc[key.as_str()], value(key, 1).as_str(), "{key}");
    }
}

// ----- --workers ------------------------------------------------------------------------------

#[test]
fn workers_outside_1_to_64_is_an_error_that_names_the_flag() {
    for bad in ["--workers=0", "--workers=65"] {
        let mut t = Test::new().env_file("dev", "A=s3cr3t-a\n");
        t.run_again(["sync", "dev", "gh", "--gh-repo=acme/api", bad])
            .failure(1)
            .stderr_has("--workers")
            .stderr_has("1-64");
        assert!(t.calls().is_empty(), "{bad}: nothing may run");
    }
}

/// Longest run of calls in flight at once, from the fakes' start/end times.
fn most_at_once(calls: &[Call]) -> usize {
    calls
        .iter()
        .map(|c| {
            calls
                .iter()
                .filter(|o| o.start_ms <= c.start_ms && c.start_ms < o.end_ms)
                .count()
        })
        .max()
        .unwrap_or(0)
}

#[test]
fn one_worker_runs_the_calls_one_after_the_other() {
    let keys = keys(6);
    let mut t = Test::new()
        .env_file("dev", &env_text(&keys, 1))
        .env("FAKE_DELAY_MS", "30");
    t.run_again(["sync", "dev", "gh", "--gh-repo=acme/api", "--workers=1"])
        .success();
    let calls = t.calls();
    assert_eq!(calls.len(), 6);
    assert_eq!(most_at_once(&calls), 1, "{calls:#?}");
    for key in &keys {
        assert_eq!(
            t.stored("gh", &gh_scope("acme/api", "dev"), key),
            Some(value(key, 1).into_bytes())
        );
    }
}

#[test]
fn the_default_is_six_calls_at_once_and_never_more() {
    let keys = keys(18);
    let mut t = Test::new()
        .env_file("dev", &env_text(&keys, 1))
        .env("FAKE_DELAY_MS", "300");
    t.run_again(["sync", "dev", "gh", "--gh-repo=acme/api"])
        .success();
    let calls = t.calls();
    assert_eq!(calls.len(), 18);
    assert_eq!(most_at_once(&calls), 6, "{calls:#?}");
}
