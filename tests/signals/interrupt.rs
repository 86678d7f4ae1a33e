//! Interrupts through the real binary and the fakes. The first SIGINT or SIGTERM stops
//! dispatch and lets the calls in flight finish; the summary lists every key as synced,
//! failed or not attempted; exit 130. A second one kills the calls in flight; exit 130. No
//! fake vendor process outlives vsync.
//!
//! vsync runs as the leader of its own process group, as a shell job does: a signal sent to
//! that group is what a terminal's Ctrl-C does, and it must reach vsync only — the vendor
//! CLIs run in their own groups, so vsync alone decides what happens to them.

use crate::support::{Output, Running, Test, gh_scope, policy_header};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(15);
const INTERRUPTED: &str = "vsync: interrupted — letting calls in flight finish, starting no new ones (interrupt again to kill them)";

/// How a test delivers a signal: to the process group (Ctrl-C) or to vsync's pid (`kill`).
#[derive(Clone, Copy, Debug)]
enum Via {
    Group,
    Pid,
}

fn send(run: &Running, sig: &str, via: Via) {
    match via {
        Via::Group => run.signal_group(sig),
        Via::Pid => run.signal(sig),
    }
}

/// Waits until the fake log holds `n` calls (a hung fake logs before it sleeps).
fn wait_for_calls(t: &Test, n: usize) {
    let until = Instant::now() + WAIT;
    while t.calls().len() < n {
        assert!(
            Instant::now() < until,
            "only {:?} calls after {WAIT:?}",
            t.calls()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Fake vendor processes running now (vsync itself carries the marker too, so it is left out).
fn running_fakes(t: &Test, vsync: u32) -> Vec<(u32, String)> {
    t.live_fakes()
        .into_iter()
        .filter(|(pid, _)| *pid != vsync)
        .collect()
}

/// Waits until `n` vendor processes run beside vsync.
fn wait_for_fakes(t: &Test, vsync: u32, n: usize) {
    let until = Instant::now() + WAIT;
    while running_fakes(t, vsync).len() < n {
        assert!(Instant::now() < until, "fewer than {n} fakes running");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[track_caller]
fn assert_no_fake_left(t: &Test) {
    let live = t.live_fakes_after(Duration::from_secs(2));
    assert!(live.is_empty(), "processes left running: {live:?}");
}

#[track_caller]
fn assert_stdout_lines(out: &Output, expected: &[&str]) {
    let mut want: Vec<String> = policy_header(&[], &[])
        .lines()
        .map(str::to_string)
        .collect();
    want.extend(expected.iter().map(|s| s.to_string()));
    let mut got = out.stdout_lines();
    got.sort();
    want.sort();
    assert_eq!(
        got, want,
        "stdout lines differ\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.stdout, out.stderr
    );
}

/// Four keys, two workers, every call slow (1.5 s); BRAVO's call fails. The signal arrives
/// while ALPHA and BRAVO are in flight.
fn first_signal(sig: &str, via: Via) {
    let mut t = Test::new()
        .env_file(
            "dev",
            "ALPHA=a-value-1\nBRAVO=b-value-2\nCHARLIE=c-value-3\nDELTA=d-value-4\n",
        )
        .env("FAKE_DELAY_MS", "1500")
        .env("FAKE_FAIL_KEYS", "BRAVO")
        .args(["sync", "dev", "gh", "--gh-repo=acme/api", "--workers=2"]);
    let mut run = t.spawn();
    run.wait_for_line("Setting secret: ALPHA", WAIT);
    run.wait_for_line("Setting secret: BRAVO", WAIT);
    wait_for_fakes(&t, run.pid(), 2);
    send(&run, sig, via);
    let out = run.wait();

    out.failure(130);
    assert_stdout_lines(
        &out,
        &[
            "",
            "Syncing 4 secrets to GitHub: repo=acme/api, environment=dev",
            "Setting secret: ALPHA",
            "Setting secret: BRAVO",
            "✓ ALPHA",
            "",
            "gh: 1 ok, 1 failed (BRAVO), 2 not attempted (CHARLIE, DELTA) in #.#s",
        ],
    );
    assert_eq!(
        out.stdout_lines().last().unwrap(),
        "gh: 1 ok, 1 failed (BRAVO), 2 not attempted (CHARLIE, DELTA) in #.#s"
    );
    let stderr: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(stderr.len(), 2, "{sig} via {via:?}: {}", out.stderr);
    assert_eq!(stderr[0], INTERRUPTED);
    assert!(
        stderr[1].starts_with("WARNING: skipping BRAVO: gh secret set: ")
            && stderr[1].contains("HTTP 403"),
        "BRAVO failed as the vendor said, not killed: {}",
        stderr[1]
    );

    // Both calls in flight ran to their end; nothing else started.
    let calls = t.calls();
    let mut ended: Vec<(String, Option<i32>)> = calls
        .iter()
        .map(|c| (c.secret().unwrap().to_string(), c.exit))
        .collect();
    ended.sort();
    assert_eq!(
        ended,
        [
            ("ALPHA".to_string(), Some(0)),
            ("BRAVO".to_string(), Some(1))
        ]
    );
    let scope = gh_scope("acme/api", "dev");
    assert_eq!(t.secret_names("gh", &scope), ["ALPHA"]);
    assert_no_fake_left(&t);
}

#[test]
fn a_first_ctrl_c_lets_the_calls_in_flight_finish_starts_nothing_new_and_exits_130() {
    let _serial = crate::support::serial();
    first_signal("INT", Via::Group);
}

#[test]
fn a_first_sigint_sent_to_vsync_alone_does_the_same() {
    let _serial = crate::support::serial();
    first_signal("INT", Via::Pid);
}

#[test]
fn a_first_sigterm_behaves_like_sigint() {
    let _serial = crate::support::serial();
    first_signal("TERM", Via::Pid);
}

/// Three keys, two workers, ALPHA's and BRAVO's calls hang. The first signal must leave them
/// running; the second must kill them.
fn second_signal(sig: &str, via: Via) {
    let mut t = Test::new()
        .env_file(
            "dev",
            "ALPHA=a-value-1\nBRAVO=b-value-2\nCHARLIE=c-value-3\n",
        )
        .env("FAKE_HANG_KEYS", "ALPHA,BRAVO")
        .args(["sync", "dev", "gh", "--gh-repo=acme/api", "--workers=2"]);
    let run = t.spawn();
    wait_for_calls(&t, 2);
    send(&run, sig, via);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        running_fakes(&t, run.pid()).len(),
        2,
        "{sig} via {via:?}: the first signal must not touch the calls in flight"
    );
    send(&run, sig, via);
    let out = run.wait();

    out.failure(130);
    assert_stdout_lines(
        &out,
        &[
            "",
            "Syncing 3 secrets to GitHub: repo=acme/api, environment=dev",
            "Setting secret: ALPHA",
            "Setting secret: BRAVO",
            "",
            "gh: 0 ok, 2 failed (ALPHA, BRAVO), 1 not attempted (CHARLIE) in #.#s",
        ],
    );
    let mut stderr: Vec<&str> = out.stderr.lines().collect();
    stderr.sort();
    assert_eq!(
        stderr,
        [
            "WARNING: skipping ALPHA: gh secret set: killed by a second interrupt",
            "WARNING: skipping BRAVO: gh secret set: killed by a second interrupt",
            INTERRUPTED,
        ],
        "{sig} via {via:?}"
    );
    assert_eq!(t.calls().len(), 2, "no retry after the kill, nothing new");
    assert!(
        t.secret_names("gh", &gh_scope("acme/api", "dev"))
            .is_empty()
    );
    assert_no_fake_left(&t);
}

#[test]
fn a_second_ctrl_c_kills_the_calls_in_flight_and_leaves_no_vendor_process_behind() {
    let _serial = crate::support::serial();
    second_signal("INT", Via::Group);
}

#[test]
fn a_second_sigterm_behaves_like_a_second_sigint() {
    let _serial = crate::support::serial();
    second_signal("TERM", Via::Pid);
}

#[test]
fn a_second_signal_kills_vaults_bulk_write_and_every_key_fails() {
    let _serial = crate::support::serial();
    let mut t = Test::new()
        .env_file("dev", "ALPHA=a-value-1\nBRAVO=b-value-2\n")
        .env("FAKE_HANG_KEYS", "ALPHA")
        .args([
            "sync",
            "dev",
            "vault",
            "--vault-addr=http://127.0.0.1:8200",
            "--vault-mount=secret",
            "--vault-path=app/dev",
        ]);
    let run = t.spawn();
    wait_for_calls(&t, 1);
    run.signal_group("INT");
    std::thread::sleep(Duration::from_millis(300));
    run.signal_group("INT");
    let out = run.wait();
    out.failure(130)
        .stderr_is(&format!(
            "{INTERRUPTED}\nWARNING: vault kv put failed: killed by a second interrupt\n"
        ))
        .stdout_is(&format!(
            "{}\nSyncing 2 secrets to HashiCorp Vault: addr=http://127.0.0.1:8200, \
             mount=secret, path=app/dev\nWriting 2 keys to secret/app/dev\n\n\
             vault: 0 ok, 2 failed (ALPHA, BRAVO) in #.#s\n",
            policy_header(&[], &[])
        ));
    assert_eq!(t.calls().len(), 1);
    assert!(t.vault_doc("secret", "app/dev").is_none());
    assert_no_fake_left(&t);
}

#[test]
fn a_first_signal_during_vaults_bulk_write_lets_the_write_land_and_still_exits_130() {
    let _serial = crate::support::serial();
    let mut t = Test::new()
        .env_file("dev", "ALPHA=a-value-1\nBRAVO=b-value-2\n")
        .env("FAKE_DELAY_MS", "1000")
        .args([
            "sync",
            "dev",
            "vault",
            "--vault-addr=http://127.0.0.1:8200",
            "--vault-mount=secret",
            "--vault-path=app/dev",
        ]);
    let mut run = t.spawn();
    run.wait_for_line("Writing 2 keys to secret/app/dev", WAIT);
    wait_for_fakes(&t, run.pid(), 1);
    run.signal_group("INT");
    let out = run.wait();
    out.failure(130)
        .stderr_is(&format!("{INTERRUPTED}\n"))
        .stdout_is(&format!(
            "{}\nSyncing 2 secrets to HashiCorp Vault: addr=http://127.0.0.1:8200, \
             mount=secret, path=app/dev\nWriting 2 keys to secret/app/dev\n✓ ALPHA\n✓ BRAVO\n\n\
             ✅ 2 secrets synced to vault in #.#s.\n",
            policy_header(&[], &[])
        ));
    let doc = t.vault_doc("secret", "app/dev").expect("the write landed");
    assert_eq!(doc["ALPHA"].as_str(), Some("a-value-1"));
    assert_no_fake_left(&t);
}

/// ALPHA and three old secrets synced; the env file then holds ALPHA only, and the delete
/// of OLD1 hangs. Ctrl-C twice during the prune: OLD1's delete is killed, OLD2 and OLD3 are
/// never attempted. The run names them (stderr, `--json`) and exits 130.
fn interrupted_prune(json: bool) -> Output {
    let mut t = Test::new()
        .env_file("dev", "ALPHA=a-value-1\nOLD1=o-1\nOLD2=o-2\nOLD3=o-3\n")
        .args(["sync", "dev", "gcp", "--gcp-project=acme-dev"]);
    t.run().success();
    std::fs::write(
        t.root().join("infra/vault/dev/.env.dev"),
        "ALPHA=a-value-1\n",
    )
    .unwrap();
    let mut args = vec!["sync", "dev", "gcp", "--prune", "--workers=1"];
    if json {
        args.push("--json");
    }
    let mut t = t.env("FAKE_HANG_KEYS", "OLD1").args(args);
    let mut run = t.spawn();
    if !json {
        run.wait_for_line("Pruning 3 secrets (Secret Manager deletes the secret and all its versions at once; it cannot be recovered):", WAIT);
    }
    let until = Instant::now() + WAIT;
    while !t
        .calls()
        .iter()
        .any(|c| c.argv.iter().any(|a| a == "delete"))
    {
        assert!(Instant::now() < until, "no delete started: {:?}", t.calls());
        std::thread::sleep(Duration::from_millis(20));
    }
    wait_for_fakes(&t, run.pid(), 1);
    send(&run, "INT", Via::Group);
    std::thread::sleep(Duration::from_millis(300));
    send(&run, "INT", Via::Group);
    let out = run.wait();
    out.failure(130);
    out.stderr_has("WARNING: not deleted OLD2: not attempted\n")
        .stderr_has("WARNING: not deleted OLD3: not attempted\n")
        .stderr_has("2 of its deletes not attempted")
        .stderr_lacks("not deleted OLD1");
    assert_eq!(
        t.secret_names("gcp", "acme-dev"),
        ["ALPHA", "OLD1", "OLD2", "OLD3"]
    );
    assert_no_fake_left(&t);
    out
}

#[test]
fn an_interrupted_prune_names_the_deletes_it_never_attempted_and_exits_130() {
    let _serial = crate::support::serial();
    interrupted_prune(false);
    let out = interrupted_prune(true);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["exit"], 130);
    let status = |name: &str| {
        doc["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["name"] == name)
            .map(|k| k["status"].as_str().unwrap().to_string())
    };
    assert_eq!(status("OLD1").as_deref(), Some("delete_failed"));
    assert_eq!(status("OLD2").as_deref(), Some("not_attempted"));
    assert_eq!(status("OLD3").as_deref(), Some("not_attempted"));
}

/// A throttled store makes gh wait a minute; Ctrl-C during that wait stops the run at once
/// with the usual report: the throttled key failed, the others not attempted, exit 130.
#[test]
fn an_interrupt_during_a_throttle_wait_stops_at_once_with_the_exact_report() {
    let _serial = crate::support::serial();
    let mut t = Test::new()
        .env_file(
            "dev",
            "ALPHA=a-value-1\nBRAVO=b-value-2\nCHARLIE=c-value-3\n",
        )
        .env("FAKE_THROTTLE", "0/1")
        .args(["sync", "dev", "gh", "--gh-repo=acme/api", "--workers=1"]);
    let mut run = t.spawn();
    run.wait_for_line("Setting secret: ALPHA", WAIT);
    wait_for_calls(&t, 1);
    while t.calls().iter().all(|c| c.exit.is_none()) {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    let sent = Instant::now();
    send(&run, "INT", Via::Group);
    let out = run.wait();
    // The shipped wait is 60 s: the run did not sit it out.
    assert!(
        sent.elapsed() < Duration::from_secs(30),
        "{:?}",
        sent.elapsed()
    );
    out.failure(130)
        .stderr_has("vsync: gh is throttling; waiting 60.0s before the next call");
    assert_eq!(
        out.stdout_lines().last().unwrap(),
        "gh: 0 ok, 1 failed (ALPHA), 2 not attempted (BRAVO, CHARLIE) in #.#s"
    );
    assert_eq!(t.calls().len(), 1);
    assert_no_fake_left(&t);
}
