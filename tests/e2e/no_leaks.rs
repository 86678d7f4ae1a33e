//! No secret value appears anywhere but on the target, through the real binary and the
//! fakes' call log: not in any vendor call's argv or environment, not in vsync's stdout or
//! stderr (dry run included), and not in vendor output that vsync repeats — a failing fake
//! that echoes its stdin must show up as `***`. Also: a 200 KiB value reaches vault whole
//! (the original put values in argv and died with `E2BIG`).

use crate::support::{Output, Test};

struct Target {
    name: &'static str,
    flags: &'static [&'static str],
}

const TARGETS: [Target; 5] = [
    Target {
        name: "gh",
        flags: &["--gh-repo=acme/api"],
    },
    Target {
        name: "gcp",
        flags: &["--gcp-project=proj"],
    },
    Target {
        name: "aws",
        flags: &["--aws-region=eu-west-1"],
    },
    Target {
        name: "azure",
        flags: &["--azure-vault=kv1"],
    },
    Target {
        name: "vault",
        flags: &[
            "--vault-addr=http://127.0.0.1:8200",
            "--vault-mount=secret",
            "--vault-path=app/dev",
        ],
    },
];

/// A multi-line file value (a key file), pushed as `MULTI` through `MULTI_PATH`.
const MULTI: &str = "-----BEGIN TEST KEY-----\nZm9vYmFyYmF6cXV4cXV1eA\nbGluZS10d28tYWJjZGVm\n-----END TEST KEY-----\n";

/// Values a careless tool would leak or mangle: spaces and quotes, a leading `@` (vault reads
/// a file), a leading `--` (looks like a flag), a `"` (escaped in JSON), non-ASCII. Keys are
/// valid on every target.
const VALUES: [(&str, &str); 6] = [
    ("ALPHA", "plain-secret-Zq81x"),
    ("BRAVO", "p@ss w0rd with spaces=and 'single' quotes"),
    ("CHARLIE", "@/etc/hostname-not-a-file-9f3"),
    ("DELTA", "--looks-like-a-flag-77"),
    ("ECHO", "say \"hi\" now-31"),
    ("FOXTROT", "ünïcödé-välue-€-42"),
];

fn values_env_file() -> String {
    let mut text: String = VALUES.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    text.push_str("MULTI_PATH=keys/multi.pem\n");
    text
}

/// Every form of a secret that must not be shown: each value, its JSON-escaped form, the
/// multi-line value flattened onto one line, and each line of it.
fn forbidden() -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (_, v) in VALUES {
        out.push(v.to_string());
        out.push(
            serde_json::to_string(v)
                .unwrap()
                .trim_matches('"')
                .to_string(),
        );
    }
    out.push(MULTI.trim_end().to_string());
    out.push(MULTI.trim_end().replace('\n', " "));
    out.push(
        serde_json::to_string(MULTI)
            .unwrap()
            .trim_matches('"')
            .to_string(),
    );
    out.extend(
        MULTI
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .map(str::to_string),
    );
    out
}

fn test_with_values(target: &Target) -> Test {
    Test::new()
        .env_file("dev", &values_env_file())
        .file("infra/vault/dev/keys/multi.pem", MULTI)
        .args(["sync", "dev", target.name, "--inline-file-suffix=_PATH"])
        .args(target.flags)
        .env("VSYNC_RETRY_BASE_MS", "10")
}

#[track_caller]
fn assert_output_shows_no_value(out: &Output, what: &str) {
    for secret in forbidden() {
        assert!(
            !out.stdout.contains(&secret) && !out.stderr.contains(&secret),
            "{what}: {secret:?} leaked\n--- stdout ---\n{}\n--- stderr ---\n{}",
            out.stdout,
            out.stderr
        );
    }
}

#[test]
fn no_value_reaches_a_vendors_argv_or_environment_or_vsyncs_output_on_any_target() {
    for target in &TARGETS {
        let mut t = test_with_values(target);
        let out = t.run();
        out.success();
        assert_output_shows_no_value(&out, target.name);
        let calls = t.calls();
        assert!(!calls.is_empty(), "{}: no vendor call", target.name);
        for call in &calls {
            for secret in forbidden() {
                assert!(
                    !call.argv.iter().any(|a| a.contains(&secret)),
                    "{}: {secret:?} in argv: {}",
                    target.name,
                    call.line()
                );
                assert!(
                    !call.env.values().any(|v| v.contains(&secret)),
                    "{}: {secret:?} in the environment of {}: {:?}",
                    target.name,
                    call.line(),
                    call.env
                );
            }
        }
        // The search above means something only if the values did travel: on stdin.
        let stdin: Vec<String> = calls
            .iter()
            .map(|c| String::from_utf8_lossy(&c.stdin).into_owned())
            .collect();
        for (key, value) in VALUES {
            let json = serde_json::to_string(value).unwrap();
            assert!(
                stdin
                    .iter()
                    .any(|s| s == value || s.contains(json.trim_matches('"'))),
                "{}: {key}'s value was not sent on any stdin",
                target.name
            );
        }
    }
}

#[test]
fn a_dry_run_shows_sizes_and_commands_but_no_value_on_any_target() {
    for target in &TARGETS {
        let mut t = test_with_values(target).arg("--dry-run");
        let out = t.run();
        out.success();
        assert_output_shows_no_value(&out, target.name);
        assert!(
            t.calls().is_empty(),
            "{}: a dry run calls nothing",
            target.name
        );
    }
}

#[test]
fn a_200_kib_value_syncs_on_vault_through_stdin_and_is_stored_exactly() {
    // 200 KiB of varied text: far past ARG_MAX's per-argument limit (128 KiB) and past a pipe.
    let big: String = (0..200 * 1024)
        .map(|i: usize| {
            char::from(
                b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                    [(i * 31 + i / 62) % 62],
            )
        })
        .collect();
    let mut t = Test::new()
        .env_file("dev", &format!("BIG={big}\nSMALL=small-value-5\n"))
        .args(["sync", "dev", "vault"])
        .args(TARGETS[4].flags);
    let out = t.run();
    out.success().stderr_is("");
    out.stdout_has("Writing 2 keys to secret/app/dev\n")
        .stdout_has("\n✅ 2 secrets synced to vault in ")
        .stdout_lacks(&big[..64]);
    let calls = t.calls();
    assert_eq!(calls.len(), 1, "one bulk write");
    assert_eq!(
        calls[0].argv,
        ["kv", "put", "-mount=secret", "--", "app/dev", "-"]
    );
    assert_eq!(calls[0].env["VAULT_ADDR"], "http://127.0.0.1:8200");
    assert_eq!(calls[0].env.len(), 1, "{:?}", calls[0].env);
    let doc = t
        .vault_doc("secret", "app/dev")
        .expect("the KV map was written");
    assert_eq!(doc.len(), 2);
    assert_eq!(doc["BIG"].as_str().map(str::len), Some(200 * 1024));
    assert!(
        doc["BIG"].as_str() == Some(big.as_str()),
        "BIG stored exactly"
    );
    assert_eq!(doc["SMALL"].as_str(), Some("small-value-5"));
}

// ----- scrubbing of vendor output ---------------------------------------------------------------

#[test]
fn a_failing_vendor_that_echoes_its_stdin_shows_stars_instead_of_values_on_every_target() {
    for target in &TARGETS {
        let mut t = test_with_values(target)
            .env("FAKE_FAIL_KEYS", "*")
            .env("FAKE_ECHO_STDIN_ON_FAIL", "1");
        let out = t.run();
        out.failure(1);
        assert_output_shows_no_value(&out, target.name);
        // (gh also warns that it strips MULTI's trailing newline: not a vendor error.)
        let warnings: Vec<&str> = out
            .stderr
            .lines()
            .filter(|l| !l.starts_with("warning: gh strips trailing newlines"))
            .collect();
        if target.name == "vault" {
            // One write of the JSON map: every value in it is starred.
            assert_eq!(warnings.len(), 1, "{}", out.stderr);
            assert!(warnings[0].starts_with("WARNING: vault kv put failed: "));
            let starred: String = VALUES
                .iter()
                .map(|(k, _)| format!("\"{k}\":\"***\","))
                .collect();
            assert!(
                warnings[0].contains(&format!("request body: {{{starred}\"MULTI\":\"***\"}}")),
                "{}",
                out.stderr
            );
        } else {
            assert_eq!(warnings.len(), VALUES.len() + 1, "{}", out.stderr);
            for line in &warnings {
                assert!(line.starts_with("WARNING: skipping "), "{line}");
                assert!(line.contains("request body: ***"), "{line}");
            }
        }
    }
}

#[test]
fn a_multi_line_value_with_short_lines_is_not_shown_when_a_vendor_echoes_it() {
    // Recovery codes, one per line: each line is short, the value is the secret. vsync prints
    // vendor stderr on one line (newlines as spaces), so the value must be hidden in that
    // form too, not only line by line.
    let codes = "k9x\n3f2\n8ab\nq7z\n";
    let mut t = Test::new()
        .env_file("dev", "CODES_PATH=codes.txt\n")
        .file("infra/vault/dev/codes.txt", codes)
        .args([
            "sync",
            "dev",
            "gcp",
            "--gcp-project=proj",
            "--inline-file-suffix=_PATH",
        ])
        .env("FAKE_FAIL_KEYS", "CODES")
        .env("FAKE_ECHO_STDIN_ON_FAIL", "1");
    let out = t.run();
    out.failure(1)
        .stderr_has("WARNING: skipping CODES: ")
        .stderr_lacks("k9x 3f2 8ab q7z")
        .stderr_lacks("k9x\n3f2\n8ab\nq7z");
}

#[test]
fn a_value_cut_off_by_vsyncs_limit_on_vendor_stderr_is_not_shown_in_part() {
    // vsync keeps the first 256 KiB of a vendor's stderr. A fake that first writes almost
    // that much, then echoes a 2,000-byte value, has the value cut in the middle: the part
    // that is kept is still the secret (its first ~800 bytes) and must not be printed.
    let value: String = (0..2000)
        .map(|i: usize| char::from(b"QWERTYUIOPASDFGHJKLZXCVBNM0123456789"[(i * 13 + i / 36) % 36]))
        .collect();
    let mut t = Test::new()
        .env_file("dev", &format!("ALPHA={value}\n"))
        .args(["sync", "dev", "gh", "--gh-repo=acme/api"])
        .env("FAKE_FAIL_KEYS", "ALPHA")
        .env("FAKE_ECHO_STDIN_ON_FAIL", "1")
        .env("FAKE_CHATTY_BYTES", &(256 * 1024 - 1000).to_string());
    let out = t.run();
    out.failure(1)
        .stderr_has("WARNING: skipping ALPHA: gh secret set: ");
    let tail = &out.stderr[out.stderr.len().saturating_sub(1200)..];
    assert!(
        !out.stderr.contains(&value[..32]),
        "the first bytes of the value are shown; end of stderr:\n{tail}"
    );
}
