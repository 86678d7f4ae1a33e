//! What vsync prints under stress and with hostile input: whole lines under `2>&1`, keys
//! made safe to show, hints that paste, name limits checked before the first push, and vendor
//! text scrubbed of values in the encodings vendors echo them in.

use crate::support::Test;

/// Many keys, many workers, half of them failing: stdout lines (`Setting secret:`, `✓`) and
/// stderr warnings race into one pipe. Each line must be one of vsync's own, whole.
#[test]
fn lines_stay_whole_when_stdout_and_stderr_share_a_pipe() {
    // A GitHub environment holds at most 100 secrets: many runs of 100 keys.
    let keys: Vec<String> = (0..100).map(|i| format!("KEY_{i:04}")).collect();
    let env: String = keys.iter().map(|k| format!("{k}=v-{k}\n")).collect();
    let failing: Vec<&str> = keys.iter().step_by(2).map(String::as_str).collect();
    for _ in 0..12 {
        let mut t = Test::new()
            .env_file("dev", &env)
            .env("FAKE_FAIL_KEYS", &failing.join(","))
            .args(["sync", "dev", "gh", "--gh-repo=o/r", "--workers=32"]);
        let out = t.run_merged();
        out.failure(1);
        let mut shapes = 0;
        for line in out.stdout.lines() {
            let whole = line.is_empty()
                || line == "Parser policy:"
                || line.starts_with("  inline-file-suffix: ")
                || line.starts_with("  exclude-property:   ")
                || line.starts_with("Syncing ")
                || line.starts_with("gh: ")
                || line
                    .strip_prefix("Setting secret: ")
                    .or_else(|| line.strip_prefix("✓ "))
                    .is_some_and(|k| keys.iter().any(|key| key == k))
                || line.strip_prefix("WARNING: skipping ").is_some_and(|rest| {
                    rest.split_once(": gh secret set: ")
                        .is_some_and(|(k, why)| {
                            keys.iter().any(|key| key == k)
                                && !why.contains("Setting secret")
                                && !why.contains('✓')
                                && !why.contains("WARNING")
                        })
                });
            assert!(whole, "a torn line: {line:?}");
            shapes += 1;
        }
        assert!(shapes > 200, "{}", out.stdout);
    }
}

fn gh(t: Test) -> Test {
    t.args(["sync", "dev", "gh", "--gh-repo=o/r"])
}

fn vault(t: Test) -> Test {
    t.args([
        "sync",
        "dev",
        "vault",
        "--vault-addr=http://127.0.0.1:8200",
        "--vault-mount=secret",
        "--vault-path=app/dev",
    ])
}

/// What must never reach a terminal raw from a key.
const RAW: [char; 3] = ['\u{1b}', '\u{7}', '\u{202e}'];

#[test]
fn control_and_bidi_characters_in_a_key_are_escaped_in_every_line() {
    // Vault accepts the key, so it appears in the push lines and the summary.
    let key = "EVIL\u{1b}[2J\u{7}\u{202e}X";
    let env = format!("{key}=v1\nOK=v2\n");
    let mut t = vault(Test::new().env_file("dev", &env));
    let out = t.run();
    out.success();
    let shown = r"EVIL\u{1b}[2J\u{7}\u{202e}X";
    out.stdout_has(&format!("✓ {shown}\n"));
    for text in [&out.stdout, &out.stderr] {
        assert!(!text.contains(RAW), "{text:?}");
    }

    // A failed run names it in a WARNING and in the summary.
    let mut t = vault(Test::new().env_file("dev", &env).env("FAKE_FAIL_KEYS", "*"));
    let out = t.run();
    out.failure(1)
        .stdout_has(&format!("vault: 0 ok, 2 failed ({shown}, OK)"))
        .stderr_has("WARNING: vault kv put failed: ");
    for text in [&out.stdout, &out.stderr] {
        assert!(!text.contains(RAW), "{text:?}");
    }

    // gh rejects it in pre-flight: escaped there too, and no hint that could not be pasted.
    let mut t = gh(Test::new().env_file("dev", &env));
    let out = t.run();
    out.failure(1)
        .stderr_has(&format!("  - {shown} (line 1): "))
        .stderr_has("rename it in the env file\n")
        .stderr_lacks("--exclude-property=EVIL");
    assert!(!out.stderr.contains(RAW), "{:?}", out.stderr);
    assert!(t.calls().is_empty());
}

#[test]
fn an_excluded_key_is_escaped_in_the_diff_header_too() {
    let key = "EVIL\u{1b}[2J\u{7}\u{202e}X";
    let mut t = vault(Test::new().env_file("dev", &format!("{key}=v1\nOK=v2\n")))
        .arg("--diff")
        .arg(format!("--exclude-property={key}"));
    let out = t.run();
    out.failure(2)
        .stderr_has(r"  skipped (excluded): EVIL\u{1b}[2J\u{7}\u{202e}X");
    for text in [&out.stdout, &out.stderr] {
        assert!(!text.contains(RAW), "{text:?}");
    }
}

#[test]
fn the_exclude_hint_pastes_into_bash_as_exactly_the_key() {
    let key = "A'B$(touch pwned)`x`";
    let mut t = gh(Test::new().env_file("dev", &format!("{key}=v\nOK=v\n")));
    let out = t.run();
    out.failure(1);
    let hint = out
        .stderr
        .split(" or pass ")
        .nth(1)
        .and_then(|rest| rest.lines().next())
        .unwrap_or_else(|| panic!("no hint in {:?}", out.stderr));
    let pasted = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!("printf %s {hint}"))
        .current_dir(t.root())
        .output()
        .expect("running bash");
    assert!(pasted.status.success(), "{hint}: {pasted:?}");
    let arg = String::from_utf8(pasted.stdout).unwrap();
    assert_eq!(arg, format!("--exclude-property={key}"));
    assert!(!t.root().join("pwned").exists());
    // And it does what it says: the run goes through without the key.
    let out = t.run_again(["sync", "dev", "gh", "--gh-repo=o/r", arg.as_str()]);
    out.success()
        .stdout_has("  skipped (excluded): A'B$(touch pwned)`x`\n");
}

#[test]
fn a_21_mb_key_fails_pre_flight_shown_once_and_shortened() {
    let key = "K".repeat(21 << 20);
    let env = format!("OK=1\n{key}=x\n");
    for target in ["gh", "vault"] {
        let t = Test::new().env_file("dev", &env);
        let mut t = if target == "gh" { gh(t) } else { vault(t) };
        let out = t.run();
        out.failure(1)
            .stderr_has(&format!("  - {}… (line 2): ", "K".repeat(64)))
            .stderr_has("rename it in the env file");
        assert!(t.calls().is_empty(), "{target}: {:?}", t.calls());
        assert!(
            out.stdout.len() + out.stderr.len() < 2048,
            "{target}: {} + {} bytes of output",
            out.stdout.len(),
            out.stderr.len()
        );
        assert_eq!(out.stderr.matches(&"K".repeat(64)).count(), 1, "{target}");
    }
}

#[test]
fn vsync_s_own_words_survive_a_value_that_is_a_number() {
    // `2` is a value; "timed out after 2s" is vsync's and must stay readable.
    let mut t = gh(Test::new()
        .env_file("dev", "TWO=2\n")
        .env("FAKE_HANG_KEYS", "TWO")
        .env("VSYNC_RETRY_BASE_MS", "1")
        .args(["--timeout=2"]));
    let out = t.run();
    out.failure(1)
        .stderr_is("WARNING: skipping TWO: gh secret set: timed out after 2s\n");
}

#[test]
fn values_echoed_by_the_vendor_in_other_encodings_are_scrubbed() {
    let value = "pä ss<w>'rd😀/+x&";
    // As Python, Go and the URL and base64 encoders print it (made with Python's json,
    // repr, urllib.parse and base64 modules).
    let echoes = [
        ("json", r"p\u00e4 ss<w>'rd\ud83d\ude00/+x&"),
        ("go", r"pä ss\u003cw\u003e'rd😀/+x\u0026"),
        ("bytes", r"p\xc3\xa4 ss<w>'rd\xf0\x9f\x98\x80/+x&"),
        ("quote", "p%C3%A4%20ss%3Cw%3E%27rd%F0%9F%98%80/%2Bx%26"),
        ("quote_plus", "p%C3%A4+ss%3Cw%3E%27rd%F0%9F%98%80%2F%2Bx%26"),
        ("lower", "p%c3%a4%20ss%3cw%3e%27rd%f0%9f%98%80%2f%2bx%26"),
        ("b64", "cMOkIHNzPHc+J3Jk8J+YgC8reCY="),
        ("b64url", "cMOkIHNzPHc-J3Jk8J-YgC8reCY"),
    ];
    let stderr: Vec<String> = echoes
        .iter()
        .map(|(label, encoded)| match *label {
            "bytes" => format!("{label}: b\"{encoded}\""),
            _ => format!("{label}: {encoded}"),
        })
        .collect();
    let mut t = gh(Test::new()
        .env_file("dev", &format!("PASS=\"{value}\"\n"))
        .env("FAKE_FAIL_KEYS", "PASS")
        .env("FAKE_FAIL_STDERR", &stderr.join("\n")));
    let out = t.run();
    out.failure(1);
    let warning = out
        .stderr
        .lines()
        .find(|l| l.starts_with("WARNING: skipping PASS: "))
        .unwrap_or_else(|| panic!("no warning in {:?}", out.stderr));
    for (label, encoded) in echoes {
        let masked = match label {
            "bytes" => format!("{label}: b\"***\""),
            _ => format!("{label}: ***"),
        };
        assert!(warning.contains(&masked), "{label}: {warning}");
        assert!(!warning.contains(encoded), "{label}: {warning}");
    }
}
