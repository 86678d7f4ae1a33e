//! `vsync sync <env> <target>` end to end on every target, against the fakes
//! (`fixtures/fake_vendor.rs`): one test per behaviour, looping over the table of targets in
//! `support` (routing, store layout, banner, how each writes). What only one target does is
//! tested in its own file (`sync_gh.rs`, `sync_gcp.rs`, …).

use crate::support::{
    MARKER, RICH_POLICY, TARGETS, Target, Test, Writes, one_by_one, rich_secrets, rich_stdout,
};
use serde_json::Value;

/// Three keys valid on every target.
fn abc() -> Test {
    Test::new().env_file("dev", "A=s3cr3t-a\nB=s3cr3t-b\nC=s3cr3t-c\n")
}

/// `vsync sync dev <target>` with its routing flags and, where it has one, its name prefix.
fn sync(t: Test, target: &Target) -> Test {
    let t = t.args(["sync", "dev", target.name]).args(target.flags);
    match target.prefix_flag {
        "" => t,
        flag => t.arg(flag),
    }
}

/// The banner line of a run of `n` secrets with the prefix set.
fn banner(target: &Target, n: usize) -> String {
    match target.prefix {
        "" => format!("Syncing {n} secrets to {}", target.banner),
        p => format!("Syncing {n} secrets to {}, prefix={p}", target.banner),
    }
}

/// The latest value of `key` (as in the env file) on the target, prefix included.
fn stored(t: &Test, target: &Target, key: &str) -> Option<Vec<u8>> {
    match target.writes {
        Writes::OneBulkCall { path } => t
            .vault_doc(target.scope, path)
            .and_then(|doc| doc.get(key).and_then(Value::as_str).map(Into::into)),
        _ => t.stored(target.service, target.scope, &target.prefixed(key)),
    }
}

/// Every stored version of `key`, oldest first.
fn versions(t: &Test, target: &Target, key: &str) -> Vec<Vec<u8>> {
    match target.writes {
        Writes::OneBulkCall { path } => t
            .vault_docs(target.scope, path)
            .into_iter()
            .filter_map(|doc| doc.get(key).and_then(Value::as_str).map(Into::into))
            .collect(),
        _ => t.versions(target.service, target.scope, &target.prefixed(key)),
    }
}

/// The keys stored on the target, sorted (prefix included).
fn names(t: &Test, target: &Target) -> Vec<String> {
    match target.writes {
        Writes::OneBulkCall { path } => {
            let mut keys: Vec<String> = t
                .vault_doc(target.scope, path)
                .map(|doc| doc.keys().cloned().collect())
                .unwrap_or_default();
            keys.sort();
            keys
        }
        _ => t.secret_names(target.service, target.scope),
    }
}

/// Whether anything exists for `key` (a secret with no version counts).
fn exists(t: &Test, target: &Target, key: &str) -> bool {
    match target.writes {
        Writes::OneBulkCall { .. } => stored(t, target, key).is_some(),
        _ => t.exists(target.service, target.scope, &target.prefixed(key)),
    }
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn pushes_every_value_exactly_and_prints_the_usual_lines() {
    for target in &TARGETS {
        let name = target.name;
        let mut t = sync(Test::new().rich(target.sep), target)
            .args(RICH_POLICY)
            .arg("--workers=1");
        let out = t.run();
        let secrets = rich_secrets(target.sep);
        let keys: Vec<String> = secrets.iter().map(|(k, _)| k.clone()).collect();
        let body = match target.writes {
            Writes::OneBulkCall { path } => {
                let mut body = vec![format!("Writing 7 keys to {}/{path}", target.scope)];
                body.extend(keys.iter().map(|k| format!("✓ {k}")));
                body
            }
            _ => one_by_one(&keys),
        };
        out.success().stdout_is(&rich_stdout(
            &banner(target, 7),
            &body,
            &format!("✅ 7 secrets synced to {name} in #.#s."),
        ));
        for (key, value) in &secrets {
            // gh itself strips trailing newlines from stdin (cli/cli set.go).
            let expected = if target.strips_trailing_newlines {
                value.trim_end_matches('\n')
            } else {
                value
            };
            assert_eq!(
                stored(&t, target, key).as_deref(),
                Some(expected.as_bytes()),
                "{name}: {key}"
            );
        }
        let want: Vec<String> = match target.writes {
            Writes::OneBulkCall { .. } => keys.clone(),
            _ => keys.iter().map(|k| target.prefixed(k)).collect(),
        };
        assert_eq!(
            names(&t, target),
            sorted(want),
            "{name}: only the 7 keys, prefixed, GITHUB_TOKEN excluded"
        );
        assert!(!exists(&t, target, "GITHUB_TOKEN"), "{name}: excluded");
        t.assert_no_value_in_argv();
        let calls = t.calls();
        match target.writes {
            Writes::OneCallPerKey => {
                assert_eq!(calls.len(), 7, "{name}: one call per secret, no list call")
            }
            // GITHUB_TOKEN is excluded: the document is read first, to carry it over.
            Writes::OneBulkCall { .. } => {
                assert_eq!(calls.len(), 2, "{name}: one read, one bulk write")
            }
            Writes::PerKeyAfterAList => {}
        }
        assert!(
            calls.iter().all(|c| c.bin == target.bin),
            "{name}: {calls:#?}"
        );
    }
}

#[test]
fn runs_in_parallel_and_prints_each_key_once() {
    for target in TARGETS
        .iter()
        .filter(|t| !matches!(t.writes, Writes::OneBulkCall { .. }))
    {
        let name = target.name;
        let mut t = sync(Test::new().rich(target.sep), target).args(RICH_POLICY);
        let out = t.run();
        out.success();
        let lines = out.stdout_lines();
        for (key, _) in rich_secrets(target.sep) {
            for line in [format!("Setting secret: {key}"), format!("✓ {key}")] {
                assert_eq!(
                    lines.iter().filter(|l| **l == line).count(),
                    1,
                    "{name}: {line}\n{}",
                    out.stdout
                );
            }
        }
        assert_eq!(
            lines.last().map(String::as_str),
            Some(format!("✅ 7 secrets synced to {name} in #.#s.").as_str()),
            "{name}"
        );
    }
}

#[test]
fn no_secret_value_ever_appears_in_argv() {
    for target in &TARGETS {
        let name = target.name;
        let mut t = sync(Test::new().rich(target.sep), target).args(RICH_POLICY);
        t.run().success().stdout_lacks(MARKER).stderr_lacks(MARKER);
        t.assert_no_value_in_argv();
        // The value travels on stdin instead.
        match target.writes {
            Writes::OneBulkCall { .. } => {
                let sent: Value = serde_json::from_slice(&t.calls().last().unwrap().stdin)
                    .expect("stdin is JSON");
                assert_eq!(sent["PLAIN"], "s3cr3t-plain", "{name}");
            }
            _ => {
                let plain = target.prefixed("PLAIN");
                let calls: Vec<_> = t
                    .calls()
                    .into_iter()
                    .filter(|c| c.secret() == Some(plain.as_str()))
                    .collect();
                let last = calls
                    .last()
                    .unwrap_or_else(|| panic!("{name}: no PLAIN call"));
                assert!(last.stdin_read, "{name}: {}", last.line());
                for call in calls.iter().filter(|c| c.stdin_read) {
                    assert_eq!(call.stdin_str(), "s3cr3t-plain", "{name}: {}", call.line());
                }
            }
        }
    }
}

#[test]
fn routing_is_saved_and_reused_on_the_next_run() {
    for target in &TARGETS {
        let name = target.name;
        let mut t = sync(abc(), target);
        t.run().success();
        assert!(t.config_path("dev").is_file(), "{name}: config saved");
        t.run_again(["sync", "dev", name])
            .success()
            .stdout_has(&format!("{}\n", banner(target, 3)));
        for (key, value) in [("A", "s3cr3t-a"), ("B", "s3cr3t-b"), ("C", "s3cr3t-c")] {
            assert_eq!(
                versions(&t, target, key),
                [value.as_bytes(), value.as_bytes()],
                "{name}: {key}"
            );
        }
        for call in t.calls() {
            assert!(
                call.argv.iter().any(|a| a == target.every_call_has),
                "{name}: {}",
                call.line()
            );
            if target.bin == "vault" {
                assert_eq!(
                    call.env.get("VAULT_ADDR").map(String::as_str),
                    Some("http://127.0.0.1:8200"),
                    "{name}"
                );
            }
        }
        if target.writes == Writes::OneCallPerKey {
            assert_eq!(t.calls().len(), 6, "{name}: 3 keys twice");
        }
    }
}

#[test]
fn without_a_prefix_the_key_is_the_name_and_the_banner_says_no_prefix() {
    for target in TARGETS.iter().filter(|t| !t.prefix.is_empty()) {
        let name = target.name;
        let mut t = abc().args(["sync", "dev", name]).args(target.flags);
        t.run()
            .success()
            .stdout_has(&format!("Syncing 3 secrets to {}\n", target.banner));
        assert_eq!(
            t.secret_names(target.service, target.scope),
            ["A", "B", "C"],
            "{name}"
        );
    }
}

#[test]
fn a_failing_key_does_not_stop_the_others() {
    for target in &TARGETS {
        let name = target.name;
        let mut t = sync(abc(), target).env("FAKE_FAIL_KEYS", &target.prefixed("B"));
        let out = t.run();
        out.failure(1);
        if let Writes::OneBulkCall { .. } = target.writes {
            // One write for all keys: when it fails, every key has failed.
            out.stderr_has(&format!("WARNING: {} failed: ", target.command_words));
            assert_eq!(
                out.stdout_lines().last().map(String::as_str),
                Some("vault: 0 ok, 3 failed (A, B, C) in #.#s"),
                "{name}"
            );
            assert!(names(&t, target).is_empty(), "{name}: nothing written");
            continue;
        }
        out.stderr_has(&format!("WARNING: skipping B: {}", target.command_words));
        assert_eq!(
            out.stdout_lines().last().map(String::as_str),
            Some(format!("{name}: 2 ok, 1 failed (B) in #.#s").as_str()),
            "{name}"
        );
        assert_eq!(
            stored(&t, target, "A").as_deref(),
            Some(&b"s3cr3t-a"[..]),
            "{name}"
        );
        assert_eq!(
            stored(&t, target, "C").as_deref(),
            Some(&b"s3cr3t-c"[..]),
            "{name}"
        );
        assert!(!exists(&t, target, "B"), "{name}: B exists");
    }
}

#[test]
fn vendor_output_is_scrubbed_of_secret_values() {
    for target in &TARGETS {
        let mut t = sync(abc(), target)
            .env("FAKE_FAIL_KEYS", &target.prefixed("B"))
            .env("FAKE_ECHO_STDIN_ON_FAIL", "1");
        let out = t.run();
        assert_eq!(out.code(), Some(1), "{}: {out:?}", target.name);
        out.stderr_lacks(MARKER)
            .stdout_lacks(MARKER)
            .stderr_has("***");
    }
}

#[test]
fn transient_failures_are_retried() {
    for target in &TARGETS {
        let name = target.name;
        let mut t = sync(abc(), target)
            .env("FAKE_UNAVAILABLE", &format!("{}:2", target.prefixed("A")))
            .env("VSYNC_RETRY_BASE_MS", "10");
        let out = t.run();
        assert_eq!(out.code(), Some(0), "{name}: {out:?}");
        out.stderr_lacks("WARNING");
        for (key, value) in [("A", "s3cr3t-a"), ("B", "s3cr3t-b"), ("C", "s3cr3t-c")] {
            assert_eq!(
                stored(&t, target, key).as_deref(),
                Some(value.as_bytes()),
                "{name}: {key}"
            );
        }
        let a = target.prefixed("A");
        match target.writes {
            Writes::OneCallPerKey => {
                let tries = t.calls().iter().filter(|c| c.secret() == Some(&a)).count();
                assert_eq!(tries, 3, "{name}: A tried three times");
                assert_eq!(t.calls().len(), 5, "{name}: B and C once each");
            }
            Writes::OneBulkCall { .. } => assert_eq!(t.calls().len(), 3, "{name}"),
            Writes::PerKeyAfterAList => {}
        }
    }
}

#[test]
fn a_missing_cli_is_reported_and_nothing_runs() {
    for target in &TARGETS {
        let mut t = sync(abc(), target).without_fake(target.bin);
        let out = t.run();
        assert_eq!(out.code(), Some(1), "{}: {out:?}", target.name);
        out.stderr_has(&format!(
            "{} not found on PATH — install it before running vsync sync.",
            target.bin
        ));
        assert!(t.calls().is_empty(), "{}", target.name);
    }
}

#[test]
fn a_missing_file_reference_pushes_nothing() {
    for target in &TARGETS {
        let ssh = target.key("SSH_KEY");
        let deploy = target.key("DEPLOY_KEY");
        let mut t = sync(
            Test::new().env_file(
                "dev",
                &format!("A=s3cr3t-a\n{ssh}_PATH=keys/missing\n{deploy}_FILE=deploy.key\n"),
            ),
            target,
        )
        .args(["--inline-file-suffix=_PATH", "--inline-file-suffix=_FILE"]);
        let dir = t.root().join("infra/vault/dev");
        let out = t.run();
        assert_eq!(out.code(), Some(1), "{}: {out:?}", target.name);
        out.stderr_has(&format!(
            "parseEnvFile: aborting sync — 2 file reference(s) could not be resolved:\n  \
             - {ssh}_PATH: file not found at {}\n  \
             - {deploy}_FILE: file not found at {}\n",
            dir.join("keys/missing").display(),
            dir.join("deploy.key").display()
        ));
        assert!(t.calls().is_empty(), "{}", target.name);
    }
}

#[test]
fn crlf_in_a_value_is_translated_by_the_cli_and_vsync_warns() {
    for target in TARGETS.iter().filter(|t| t.translates_crlf) {
        let mut t = sync(
            Test::new()
                .env_file("dev", "CERT_PATH=cert.pem\n")
                .file("infra/vault/dev/cert.pem", "s3cr3t-1\r\ns3cr3t-2\r\n"),
            target,
        )
        .arg("--inline-file-suffix=_PATH");
        let out = t.run();
        assert_eq!(out.code(), Some(0), "{}: {out:?}", target.name);
        out.stderr_has("turns \\r\\n into \\n in: CERT");
        assert_eq!(
            stored(&t, target, "CERT").as_deref(),
            Some(&b"s3cr3t-1\ns3cr3t-2\n"[..]),
            "{}",
            target.name
        );
    }
}
