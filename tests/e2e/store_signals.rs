//! What the store says about itself: a throttle paces the whole target until every secret
//! lands, and a store-level failure stops the target after one message. The fakes throttle
//! with a shared rate window (`FAKE_THROTTLE`) and fail as a whole (`FAKE_STORE`);
//! `VSYNC_TIME_SCALE` shortens the shipped waits so the tests run in seconds.

use crate::support::{AWS, AZURE, GCP, GH, SSM, TARGETS, Target, Test};

fn keys(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("KEY_{i:02}")).collect()
}

fn env_file(keys: &[String]) -> String {
    keys.iter().map(|k| format!("{k}=value-of-{k}\n")).collect()
}

fn sync(target: &Target, n: usize) -> (Test, Vec<String>) {
    let keys: Vec<String> = keys(n).iter().map(|k| target.key(k)).collect();
    let t = Test::new()
        .env_file("dev", &env_file(&keys))
        .args(["sync", "dev", target.name])
        .args(target.flags)
        .env("VSYNC_RETRY_BASE_MS", "10");
    (t, keys)
}

/// Under a store that takes 4 calls per 0.2 s (GitHub: plus a penalty after a throttle),
/// every secret lands, exit 0, and each pause is said on stderr with the shipped wait.
#[test]
fn every_secret_lands_on_gh_ssm_and_aws_under_throttling_and_the_waits_are_said() {
    for (target, said) in [
        (
            &GH,
            "vsync: gh is throttling; waiting 60.0s before the next call, then one call at a time, 1s apart",
        ),
        (&SSM, "vsync: ssm is throttling; waiting "),
        (&AWS, "vsync: aws is throttling; waiting "),
    ] {
        let (t, keys) = sync(target, 30);
        let mut t = t
            .env("FAKE_THROTTLE", "4/0.2")
            .env("VSYNC_TIME_SCALE", "0.005")
            .arg("--workers=6");
        if target.name == "gh" {
            t = t.env("FAKE_THROTTLE_PENALTY_MS", "200");
        }
        let out = t.run();
        assert_eq!(out.code(), Some(0), "{}: {out:?}", target.name);
        out.stderr_has(said).stderr_lacks("WARNING");
        for key in &keys {
            let name = match target.name {
                "gh" => key.to_uppercase(),
                _ => key.clone(),
            };
            assert!(
                t.exists(target.service, target.scope, &name),
                "{}: {name} not stored",
                target.name
            );
        }
        let throttled = t
            .calls()
            .iter()
            .filter(|c| c.exit.is_some_and(|e| e != 0))
            .count();
        assert!(throttled > 0, "{}: the fake never throttled", target.name);
    }
}

/// `--json` counts the throttles per key and per run, and they agree with the fake's log.
#[test]
fn json_counts_throttles_per_key_and_per_run() {
    let (t, _) = sync(&SSM, 20);
    let mut t = t
        .env("FAKE_THROTTLE", "3/0.2")
        .env("VSYNC_TIME_SCALE", "0.005")
        .arg("--json");
    let out = t.run();
    assert_eq!(out.code(), Some(0), "{out:?}");
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).expect("one JSON document");
    let run = doc["throttles"].as_u64().expect("a run count");
    let per_key: u64 = doc["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["throttles"].as_u64().expect("a key count"))
        .sum();
    let failed_writes = t
        .calls()
        .iter()
        .filter(|c| c.argv.contains(&"put-parameter".to_string()) && c.exit != Some(0))
        .count() as u64;
    assert!(run > 0, "{}", out.stdout);
    assert_eq!(per_key, run);
    assert_eq!(run, failed_writes);
}

/// A throttle is retried past the three attempts of other transient errors.
#[test]
fn a_throttle_is_not_bound_by_the_fixed_attempts() {
    let (t, _) = sync(&AWS, 1);
    let mut t = t
        .env("FAKE_TRANSIENT", "KEY_00:5")
        .env("VSYNC_TIME_SCALE", "0.001");
    let out = t.run();
    assert_eq!(out.code(), Some(0), "{out:?}");
    // Five throttled calls, then the write that lands (after a create/update switch when
    // the list call had not answered).
    let calls = t.calls();
    let writes: Vec<_> = calls
        .iter()
        .filter(|c| c.secret() == Some("KEY_00"))
        .collect();
    assert!(writes.len() >= 6, "{writes:#?}");
    assert_eq!(writes.last().and_then(|c| c.exit), Some(0));
    assert!(t.exists("aws", AWS.scope, "KEY_00"));
}

/// A store that never stops throttling: `--deadline` ends the run, the message names the
/// flag, and the report names every key not attempted.
#[test]
fn the_deadline_ends_a_throttled_run_and_names_the_flag_and_every_key_left() {
    let (t, keys) = sync(&SSM, 8);
    let mut t = t
        .env("FAKE_THROTTLE", "0/1")
        .env("VSYNC_TIME_SCALE", "0.01")
        .args(["--deadline=2", "--workers=2"]);
    let out = t.run();
    out.failure(1).stderr_has("--deadline=2");
    let last = out.stdout.lines().last().unwrap_or_default().to_string();
    assert!(last.starts_with("ssm: 0 ok, "), "{last}");
    for key in &keys {
        assert!(last.contains(key.as_str()), "{key} missing from {last}");
    }
}

/// Not logged in / a missing container: the target stops after the first answer, says so
/// once with the next step, and reports every key not written; at most one call per worker
/// plus the list call ever ran.
#[test]
fn a_store_level_failure_stops_each_target_with_one_message() {
    let cases: [(&Target, &str, &str); 8] = [
        (&GH, "nologin", "gh auth login"),
        (
            &GH,
            "missing",
            "gh api --method PUT repos/acme/api/environments/dev",
        ),
        (&AWS, "nologin", "aws configure"),
        (&SSM, "nologin", "AWS_PROFILE"),
        (&AWS, "missing", "AWS_ENDPOINT_URL"),
        (&GCP, "nologin", "gcloud auth login"),
        (&GCP, "missing", "gcloud services enable"),
        (&AZURE, "nologin", "az login"),
    ];
    for (target, how, next) in cases {
        let (t, keys) = sync(target, 30);
        let workers = 3;
        let mut t = t.env("FAKE_STORE", how).arg(format!("--workers={workers}"));
        let out = t.run();
        let label = format!("{} {how}", target.name);
        assert_eq!(out.code(), Some(1), "{label}: {out:?}");
        let said = out.stderr.matches("vsync starts no further call").count();
        assert_eq!(said, 1, "{label}: {}", out.stderr);
        out.stderr_has(next).stderr_lacks("WARNING: skipping");
        let calls = t.calls().len();
        assert!(calls <= workers + 1, "{label}: {calls} vendor calls");
        let last = out.stdout.lines().last().unwrap_or_default().to_string();
        assert!(
            last.starts_with(&format!("{}: 0 ok, ", target.name)),
            "{label}: {last}"
        );
        for key in &keys {
            assert!(
                last.contains(key.as_str()),
                "{label}: {key} missing from {last}"
            );
        }
    }
}

/// `--json` after a store-level stop: every key failed or not attempted, each with an error.
#[test]
fn json_reports_every_key_not_written_after_a_store_level_stop() {
    let (t, _) = sync(&GH, 12);
    let mut t = t.env("FAKE_STORE", "missing").arg("--json");
    let out = t.run();
    out.failure(1);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).expect("one JSON document");
    assert_eq!(doc["exit"], 1);
    for key in doc["keys"].as_array().unwrap() {
        let status = key["status"].as_str().unwrap();
        assert!(matches!(status, "failed" | "not_attempted"), "{key}");
        assert!(key["error"].is_string(), "{key}");
    }
}

/// One secret denied is that secret's: the others land.
#[test]
fn a_denied_key_does_not_stop_the_others() {
    for target in TARGETS.iter().filter(|t| t.name != "vault") {
        let (t, keys) = sync(target, 6);
        let mut t = t.env("FAKE_FAIL_KEYS", &keys[0]);
        let out = t.run();
        assert_eq!(out.code(), Some(1), "{}: {out:?}", target.name);
        out.stderr_lacks("vsync starts no further call");
        let last = out.stdout.lines().last().unwrap_or_default().to_string();
        assert!(last.contains("5 ok, 1 failed"), "{}: {last}", target.name);
    }
}

/// The aws CLI retries once in standard mode, unless the user chose its retries.
#[test]
fn the_aws_cli_gets_vsyncs_retry_settings_only_where_the_user_set_none() {
    let (t, _) = sync(&SSM, 1);
    let mut t = t;
    t.run().success();
    let env = &t.calls()[0].env;
    assert_eq!(
        env.get("AWS_RETRY_MODE").map(String::as_str),
        Some("standard")
    );
    assert_eq!(env.get("AWS_MAX_ATTEMPTS").map(String::as_str), Some("2"));

    let (t, _) = sync(&SSM, 1);
    let mut t = t.env("AWS_MAX_ATTEMPTS", "7");
    t.run().success();
    let env = &t.calls()[0].env;
    assert_eq!(env.get("AWS_RETRY_MODE"), None);
    assert_eq!(env.get("AWS_MAX_ATTEMPTS").map(String::as_str), Some("7"));
}

/// A GitHub environment holds at most 100 secrets: more are refused before any call.
#[test]
fn more_than_100_gh_secrets_are_refused_before_any_write() {
    let (t, _) = sync(&GH, 101);
    let mut t = t;
    let out = t.run();
    out.failure(1).stderr_has("at most 100");
    assert!(t.calls().is_empty());
}
