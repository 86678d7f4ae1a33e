//! The failure model (README, "Security and failure model"), through the real binary and the fake vendor CLIs: the per-call
//! timeout (vault's bulk write included), the run deadline and its `not attempted` keys,
//! children that flood their pipes or exit without reading stdin, and retries (transient
//! failures up to 3 attempts, permanent ones once) on every target.
//!
//! Interrupts are `interrupt.rs`'s; scrubbing of vendor output is `no_leaks.rs`'s.

use crate::support::{Call, GCP, GH, Output, TARGETS, Target, Test, VAULT, policy_header};

/// Two keys valid on every target (no `_` for Azure, no `-` for GitHub).
const TWO_KEYS: &str = "ALPHA=alpha-new-value-1\nBRAVO=bravo-new-value-2\n";

fn sync(t: Test, target: &Target) -> Test {
    t.args(["sync", "dev", target.name])
        .args(target.flags)
        .env("VSYNC_RETRY_BASE_MS", "10")
}

/// Makes `ALPHA` exist on gcp and aws before the run, so its first write is always the
/// update (the list call may or may not have answered) and its calls can be counted exactly.
fn seed_alpha(t: &Test, target: &Target) {
    let args: &[&str] = match target.name {
        "gcp" => &[
            "secrets",
            "create",
            "ALPHA",
            "--replication-policy=automatic",
            "--data-file=-",
            "--project=proj",
        ],
        "aws" => &[
            "secretsmanager",
            "create-secret",
            "--name",
            "ALPHA",
            "--secret-string",
            "file:///dev/stdin",
            "--region",
            "eu-west-1",
        ],
        _ => return,
    };
    t.vendor(target.bin, args, "alpha-old-value").success();
}

/// The vendor calls that wrote `key` (vault: every `kv put`, each writes all keys), after the
/// first `skip` calls of the log (the seeding ones).
fn writes_of(t: &Test, target: &Target, key: &str, skip: usize) -> Vec<Call> {
    t.calls()
        .into_iter()
        .skip(skip)
        .filter(|c| target.name == "vault" || c.secret() == Some(key))
        // Marking a seeded secret as vsync's is not a write of its value.
        .filter(|c| !c.argv.iter().any(|a| a == "update" || a == "tag-resource"))
        .collect()
}

/// The last line of stdout, the result line (time normalised).
fn result_line(out: &Output) -> String {
    out.stdout_lines().last().cloned().unwrap_or_default()
}

/// stdout as a sorted list of lines: workers finish in any order, the lines must all be there.
#[track_caller]
fn assert_stdout_lines(out: &Output, expected: &[&str]) {
    let mut got = out.stdout_lines();
    let mut want: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    got.sort();
    want.sort();
    assert_eq!(
        got, want,
        "stdout lines differ\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.stdout, out.stderr
    );
}

fn header_lines() -> Vec<String> {
    policy_header(&[], &[])
        .lines()
        .map(str::to_string)
        .collect()
}

fn with_header<'a>(header: &'a [String], rest: &[&'a str]) -> Vec<&'a str> {
    header
        .iter()
        .map(String::as_str)
        .chain(rest.iter().copied())
        .collect()
}

#[track_caller]
fn assert_no_fake_left(t: &Test) {
    let live = t.live_fakes_after(std::time::Duration::from_secs(2));
    assert!(live.is_empty(), "processes left running: {live:?}");
}

// ----- per-call timeout and run deadline --------------------------------------------------------

#[test]
fn a_hung_call_is_killed_at_the_per_call_timeout_and_the_other_keys_still_land() {
    let mut t = Test::new()
        .env_file(
            "dev",
            "ALPHA=a-value-1\nBRAVO=b-value-2\nCHARLIE=c-value-3\n",
        )
        .env("FAKE_HANG_KEYS", "BRAVO")
        .args(["--timeout=1"]);
    t = sync(t, &GH);
    let out = t.run();
    out.failure(1)
        .stderr_is("WARNING: skipping BRAVO: gh secret set: timed out after 1s\n");
    let header = header_lines();
    assert_stdout_lines(
        &out,
        &with_header(
            &header,
            &[
                "",
                "Syncing 3 secrets to GitHub: repo=acme/api, environment=dev",
                "Setting secret: ALPHA",
                "Setting secret: BRAVO",
                "Setting secret: CHARLIE",
                "✓ ALPHA",
                "✓ CHARLIE",
                "",
                "gh: 2 ok, 1 failed (BRAVO) in #.#s",
            ],
        ),
    );
    assert_eq!(result_line(&out), "gh: 2 ok, 1 failed (BRAVO) in #.#s");
    // A timeout is transient: three attempts, each one hung and killed.
    let bravo = writes_of(&t, &GH, "BRAVO", 0);
    assert_eq!(bravo.len(), 3, "{bravo:#?}");
    assert!(bravo.iter().all(|c| c.exit.is_none()), "{bravo:#?}");
    assert_eq!(
        t.stored("gh", GH.scope, "ALPHA").as_deref(),
        Some(&b"a-value-1"[..])
    );
    assert_eq!(
        t.stored("gh", GH.scope, "CHARLIE").as_deref(),
        Some(&b"c-value-3"[..])
    );
    assert!(!t.exists("gh", GH.scope, "BRAVO"));
    assert_no_fake_left(&t);
}

#[test]
fn vaults_bulk_write_is_killed_at_the_per_call_timeout_too_and_every_key_fails() {
    let mut t = Test::new()
        .env_file("dev", TWO_KEYS)
        .env("FAKE_HANG_KEYS", "BRAVO")
        .args(["--timeout=1"]);
    t = sync(t, &VAULT);
    let out = t.run();
    out.failure(1)
        .stderr_is("WARNING: vault kv put failed: timed out after 1s\n");
    let mut expected = policy_header(&[], &[]);
    expected.push_str(
        "\nSyncing 2 secrets to HashiCorp Vault: addr=http://127.0.0.1:8200, mount=secret, \
         path=app/dev\nWriting 2 keys to secret/app/dev\n\nvault: 0 ok, 2 failed (ALPHA, BRAVO) in #.#s\n",
    );
    out.stdout_is(&expected);
    let puts = t.calls_of("vault");
    assert_eq!(puts.len(), 3, "three attempts: {puts:#?}");
    assert!(puts.iter().all(|c| c.exit.is_none()), "{puts:#?}");
    assert!(t.vault_doc("secret", "app/dev").is_none(), "nothing landed");
    assert_no_fake_left(&t);
}

#[test]
fn the_run_deadline_kills_the_call_in_flight_and_reports_keys_never_started_as_not_attempted() {
    let mut t = Test::new()
        .env_file(
            "dev",
            "ALPHA=a-value-1\nBRAVO=b-value-2\nCHARLIE=c-value-3\n",
        )
        .env("FAKE_HANG_KEYS", "ALPHA")
        .env("VSYNC_RUN_DEADLINE_SECS", "2")
        .args(["--workers=1"]);
    t = sync(t, &GH);
    let out = t.run();
    out.failure(1);
    // The call was cut short by the deadline, not by the (default, 120 s) call timeout.
    let warning = out.stderr.strip_suffix('\n').unwrap_or(&out.stderr);
    assert!(
        warning.starts_with("WARNING: skipping ALPHA: gh secret set: run deadline reached after ")
            && !warning.contains('\n'),
        "stderr: {}",
        out.stderr
    );
    let mut expected = policy_header(&[], &[]);
    expected.push_str(
        "\nSyncing 3 secrets to GitHub: repo=acme/api, environment=dev\n\
         Setting secret: ALPHA\n\
         \n\
         gh: 0 ok, 1 failed (ALPHA), 2 not attempted (BRAVO, CHARLIE) in #.#s\n",
    );
    out.stdout_is(&expected);
    let calls = t.calls();
    assert_eq!(
        calls.len(),
        1,
        "nothing starts after the deadline: {calls:#?}"
    );
    assert_eq!(calls[0].secret(), Some("ALPHA"));
    assert!(t.secret_names("gh", GH.scope).is_empty());
    assert_no_fake_left(&t);
}

// ----- pipes ------------------------------------------------------------------------------------

#[test]
fn a_child_writing_megabytes_on_stdout_and_stderr_cannot_deadlock_vsync() {
    let mut t = Test::new()
        .env_file(
            "dev",
            "ALPHA=a-value-1\nBRAVO=b-value-2\nCHARLIE=c-value-3\n",
        )
        .env("FAKE_CHATTY_BYTES", "5000000");
    t = sync(t, &GH);
    let out = t.run();
    out.success().stderr_is("");
    let header = header_lines();
    assert_stdout_lines(
        &out,
        &with_header(
            &header,
            &[
                "",
                "Syncing 3 secrets to GitHub: repo=acme/api, environment=dev",
                "Setting secret: ALPHA",
                "Setting secret: BRAVO",
                "Setting secret: CHARLIE",
                "✓ ALPHA",
                "✓ BRAVO",
                "✓ CHARLIE",
                "",
                "✅ 3 secrets synced to gh in #.#s.",
            ],
        ),
    );
    assert_eq!(
        t.secret_names("gh", GH.scope),
        ["ALPHA", "BRAVO", "CHARLIE"]
    );
}

#[test]
fn a_chatty_child_that_reads_a_200_kib_value_late_still_receives_all_of_it() {
    // Larger than a pipe: vsync must write stdin while it drains stdout and stderr.
    let big = big_value(200 * 1024);
    let mut t = Test::new()
        .env_file("dev", &format!("BIG={big}\nSMALL=small-value\n"))
        .env("FAKE_CHATTY_BYTES", "3000000");
    t = sync(t, &VAULT);
    let out = t.run();
    out.success().stderr_is("");
    out.stdout_has("\n✅ 2 secrets synced to vault in ");
    let doc = t
        .vault_doc("secret", "app/dev")
        .expect("the KV map was written");
    assert_eq!(doc["BIG"].as_str(), Some(big.as_str()));
    assert_eq!(doc["SMALL"].as_str(), Some("small-value"));
}

#[test]
fn a_child_that_exits_without_reading_a_200_kib_value_is_a_clean_failure() {
    // The fake's FAKE_IGNORE_STDIN_KEYS cannot fire for vault's `kv put … -` (it matches
    // `K=…` arguments only), so `vault` here is a script that lets vsync fill the pipe, then
    // exits without reading: vsync's write of the rest must end in EPIPE, not a hang or a
    // SIGPIPE death.
    let big = big_value(200 * 1024);
    let mut t = Test::new().env_file("dev", &format!("BIG={big}\nSMALL=small-value\n"));
    replace_fake(
        &t,
        "vault",
        "#!/bin/sh\nsleep 0.3\necho 'Error writing data: refusing to read stdin' >&2\nexit 2\n",
    );
    t = sync(t, &VAULT);
    let out = t.run();
    out.failure(1)
        .stderr_is("WARNING: vault kv put failed: Error writing data: refusing to read stdin\n");
    let mut expected = policy_header(&[], &[]);
    expected.push_str(
        "\nSyncing 2 secrets to HashiCorp Vault: addr=http://127.0.0.1:8200, mount=secret, \
         path=app/dev\nWriting 2 keys to secret/app/dev\n\nvault: 0 ok, 2 failed (BIG, SMALL) in #.#s\n",
    );
    out.stdout_is(&expected);
}

#[test]
fn a_child_that_closes_its_output_before_reading_a_200_kib_value_still_receives_all_of_it() {
    // Output closed is not the end of the call: a wrapper that sends its output elsewhere
    // before the real CLI reads stdin must still get the whole value, not a cut one.
    let big = big_value(200 * 1024);
    let mut t = Test::new().env_file("dev", &format!("BIG={big}\nSMALL=small-value\n"));
    let real = wrap_fake(
        &t,
        "vault",
        "exec >/dev/null 2>&1\nsleep 0.3\nexec \"$REAL\" \"$@\"\n",
    );
    t = sync(t, &VAULT);
    let out = t.run();
    out.success();
    out.stdout_has("\n✓ BIG\n✓ SMALL\n");
    let doc = t
        .vault_doc("secret", "app/dev")
        .unwrap_or_else(|| panic!("{} wrote no KV map", real.display()));
    assert_eq!(doc["BIG"].as_str(), Some(big.as_str()));
    assert_eq!(doc["SMALL"].as_str(), Some("small-value"));
}

#[test]
fn a_grandchild_holding_the_output_pipes_does_not_hold_the_call_past_a_short_grace() {
    // The CLI exits; something it started in the background keeps its stdout and stderr
    // open for 20 s. The call ends about 2 s after the CLI's own exit, not at that child's
    // exit and not at the 60 s timeout, and counts as the CLI's exit says.
    let mut t = Test::new().env_file("dev", "ALPHA=a-value-1\n");
    wrap_fake(
        &t,
        "vault",
        "\"$REAL\" \"$@\"\nstatus=$?\n(sleep 20 &)\nexit $status\n",
    );
    t = sync(t, &VAULT).arg("--timeout=60");
    let started = std::time::Instant::now();
    let out = t.run();
    let took = started.elapsed();
    out.success();
    out.stdout_has("\n✓ ALPHA\n");
    assert!(
        took < std::time::Duration::from_secs(15),
        "the call waited for the grandchild: {took:?}"
    );
}

#[test]
fn a_list_call_still_running_once_every_key_is_pushed_is_killed_not_awaited() {
    // The list call only informs the first write of each key; once all are pushed its answer
    // no longer matters, so a slow one must not hold the run (or outlive it).
    let mut t = Test::new().env_file("dev", "ALPHA=a-value-1\nBRAVO=b-value-2\n");
    wrap_fake(
        &t,
        "gcloud",
        "if [ \"$1 $2\" = 'secrets list' ]; then sleep 30; fi\nexec \"$REAL\" \"$@\"\n",
    );
    t = sync(t, &GCP).arg("--timeout=60");
    let started = std::time::Instant::now();
    let out = t.run();
    let took = started.elapsed();
    out.success().stdout_has("\n✅ 2 secrets synced to gcp in ");
    assert!(
        took < std::time::Duration::from_secs(15),
        "the run waited for the list call: {took:?}"
    );
    assert_no_fake_left(&t);
}

/// Puts a shell script in place of one fake vendor CLI; the script finds the real fake in
/// `$REAL` (named like the vendor, since the fake picks its vendor from `argv[0]`).
fn wrap_fake(t: &Test, bin: &str, body: &str) -> std::path::PathBuf {
    let dir = t.fake_dir().parent().unwrap().join("real");
    std::fs::create_dir_all(&dir).unwrap();
    let real = dir.join(bin);
    std::os::unix::fs::symlink(crate::support::fake_vendor_path(), &real).unwrap();
    replace_fake(
        t,
        bin,
        &format!("#!/bin/sh\nREAL='{}'\n{body}", real.display()),
    );
    real
}

/// Puts an executable script in place of one fake vendor CLI.
fn replace_fake(t: &Test, bin: &str, script: &str) {
    use std::os::unix::fs::PermissionsExt;
    let path = t.fake_dir().parent().unwrap().join("bin").join(bin);
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn a_child_that_exits_without_reading_a_60_kib_value_fails_only_its_key() {
    // 60 KiB is past one pipe write of vsync's inline path and within gcp's 64 KiB limit.
    let big = big_value(60 * 1024);
    let mut t = Test::new()
        .env_file("dev", &format!("BIG={big}\nSMALL=small-value\n"))
        .env("FAKE_IGNORE_STDIN_KEYS", "BIG")
        // No list answer: every key starts with `versions add`, so the warning is fixed.
        .env("FAKE_FAIL_LIST", "1");
    t = sync(t, &GCP);
    let out = t.run();
    out.failure(1).stderr_is(
        "WARNING: skipping BIG: gcloud secrets versions add: fake gcloud: exiting without \
         reading stdin (FAKE_IGNORE_STDIN_KEYS)\n",
    );
    assert_eq!(result_line(&out), "gcp: 1 ok, 1 failed (BIG) in #.#s");
    out.stdout_has("\n✓ SMALL\n");
    assert_eq!(writes_of(&t, &GCP, "BIG", 0).len(), 1);
    assert_eq!(
        t.stored("gcp", "proj", "SMALL").as_deref(),
        Some(&b"small-value"[..])
    );
    assert!(!t.exists("gcp", "proj", "BIG"));
}

fn big_value(len: usize) -> String {
    (0..len)
        .map(|i| char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[(i * 7 + i / 36) % 36]))
        .collect()
}

// ----- retries ----------------------------------------------------------------------------------

#[test]
fn a_transient_failure_twice_is_retried_and_lands_on_the_third_attempt_on_every_target() {
    for target in &TARGETS {
        let t = Test::new().env_file("dev", TWO_KEYS);
        seed_alpha(&t, target);
        let seeded = t.calls().len();
        let mut t = sync(t.env("FAKE_UNAVAILABLE", "ALPHA:2"), target);
        let out = t.run();
        out.success().stderr_is("");
        assert_eq!(
            result_line(&out),
            format!("✅ 2 secrets synced to {} in #.#s.", target.name),
            "{}",
            target.name
        );
        let writes = writes_of(&t, target, "ALPHA", seeded);
        let exits: Vec<bool> = writes.iter().map(|c| c.exit == Some(0)).collect();
        assert_eq!(exits, [false, false, true], "{}: {writes:#?}", target.name);
        let stored = match target.name {
            "vault" => t
                .vault_doc("secret", "app/dev")
                .and_then(|d| d["ALPHA"].as_str().map(|s| s.as_bytes().to_vec())),
            _ => t.stored(target.service, target.scope, "ALPHA"),
        };
        assert_eq!(
            stored.as_deref(),
            Some(&b"alpha-new-value-1"[..]),
            "{}",
            target.name
        );
    }
}

#[test]
fn a_transient_failure_three_times_fails_after_exactly_three_attempts_on_every_target() {
    for target in &TARGETS {
        let t = Test::new().env_file("dev", TWO_KEYS);
        seed_alpha(&t, target);
        let seeded = t.calls().len();
        let mut t = sync(t.env("FAKE_UNAVAILABLE", "ALPHA:3"), target);
        let out = t.run();
        out.failure(1);
        // A server error, not a throttle: a throttle is retried until it lands.
        let words = match target.name {
            "vault" => "sealed",
            "gcp" => "UNAVAILABLE",
            _ => "navailable",
        };
        assert_one_warning(&out, target, words);
        assert_eq!(
            writes_of(&t, target, "ALPHA", seeded).len(),
            3,
            "{}",
            target.name
        );
        assert_eq!(
            result_line(&out),
            failed_alpha_line(target),
            "{}",
            target.name
        );
    }
}

#[test]
fn a_permanent_failure_is_attempted_once_on_every_target() {
    for target in &TARGETS {
        let t = Test::new().env_file("dev", TWO_KEYS);
        seed_alpha(&t, target);
        let seeded = t.calls().len();
        let mut t = sync(t.env("FAKE_FAIL_KEYS", "ALPHA"), target);
        let out = t.run();
        out.failure(1);
        assert_one_warning(&out, target, target.denied);
        assert_eq!(
            writes_of(&t, target, "ALPHA", seeded).len(),
            1,
            "{}",
            target.name
        );
        assert_eq!(
            result_line(&out),
            failed_alpha_line(target),
            "{}",
            target.name
        );
        if target.name != "vault" {
            out.stdout_has("\n✓ BRAVO\n");
        }
    }
}

/// stderr is exactly one WARNING line, about ALPHA (vault: the whole write), quoting the
/// vendor's error.
#[track_caller]
fn assert_one_warning(out: &Output, target: &Target, words: &str) {
    let prefix = match target.name {
        "vault" => "WARNING: vault kv put failed: ".to_string(),
        _ => "WARNING: skipping ALPHA: ".to_string(),
    };
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert!(
        lines.len() == 1 && lines[0].starts_with(&prefix) && lines[0].contains(words),
        "{}: expected one line starting {prefix:?} with {words:?}; stderr:\n{}",
        target.name,
        out.stderr
    );
}

fn failed_alpha_line(target: &Target) -> String {
    match target.name {
        "vault" => "vault: 0 ok, 2 failed (ALPHA, BRAVO) in #.#s".to_string(),
        name => format!("{name}: 1 ok, 1 failed (ALPHA) in #.#s"),
    }
}

#[test]
fn the_scan_for_leftover_processes_finds_a_fake_that_is_still_running() {
    // Without this, "no fake left" above could pass because the scan never finds anything.
    let t = Test::new();
    let mut hung = t
        .vendor_command("gh")
        .args([
            "secret", "set", "ALPHA", "--env", "dev", "--repo", "acme/api",
        ])
        .env("FAKE_HANG_KEYS", "ALPHA")
        .stdin(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while t.calls().is_empty() && std::time::Instant::now() < until {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let live = t.live_fakes();
    hung.kill().unwrap();
    hung.wait().unwrap();
    assert_eq!(
        live.iter().map(|(pid, _)| *pid).collect::<Vec<_>>(),
        [hung.id()],
        "{live:?}"
    );
    assert_eq!(t.live_fakes(), []);
}
