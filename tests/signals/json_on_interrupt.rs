//! An interrupt after the target was reached ends the run with exit 130 in every phase —
//! the reads of `--diff` included — and under `--json` with its one document on stdout.

use crate::support::{Output, Running, Test};
use serde_json::Value;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(15);

/// Waits until `n` fake vendor processes run beside vsync.
fn wait_for_fakes(t: &Test, run: &Running, n: usize) {
    let until = Instant::now() + WAIT;
    while t
        .live_fakes()
        .into_iter()
        .filter(|(pid, _)| *pid != run.pid())
        .count()
        < n
    {
        assert!(Instant::now() < until, "fewer than {n} fakes running");
        std::thread::sleep(Duration::from_millis(10));
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

#[track_caller]
fn document(out: &Output) -> Value {
    out.failure(130);
    let doc: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}", out.stdout));
    assert_eq!(doc["exit"], 130);
    assert_eq!(doc["ended"], "interrupted");
    doc
}

/// Three keys, two workers: ALPHA's and BRAVO's calls hang (they log before they sleep), so
/// the first interrupt finds them in flight and CHARLIE not started; the second kills them.
#[test]
fn an_interrupted_sync_under_json_prints_one_document_with_exit_130() {
    let _serial = crate::support::serial();
    let mut t = Test::new()
        .env_file(
            "dev",
            "ALPHA=a-value-1\nBRAVO=b-value-2\nCHARLIE=c-value-3\n",
        )
        .env("FAKE_HANG_KEYS", "ALPHA,BRAVO")
        .args([
            "sync",
            "dev",
            "gh",
            "--gh-repo=acme/api",
            "--workers=2",
            "--json",
        ]);
    let run = t.spawn();
    wait_for_calls(&t, 2);
    run.signal_group("INT");
    std::thread::sleep(Duration::from_millis(200));
    run.signal_group("INT");
    let doc = document(&run.wait());
    let statuses: Vec<&str> = doc["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["failed", "failed", "not_attempted"]);
    assert_eq!(t.calls().len(), 2, "nothing new after the interrupt");
}

/// gcp reads one value a call: ALPHA's read hangs until the second Ctrl-C kills it.
fn interrupted_diff(extra: &[&str]) -> Output {
    let mut args = vec![
        "sync",
        "dev",
        "gcp",
        "--gcp-project=acme-dev",
        "--workers=1",
    ];
    args.extend(extra);
    let mut t = Test::new()
        .env_file("dev", "ALPHA=a-value-1\nBRAVO=b-value-2\n")
        .args(args.clone());
    t.run().success();
    args.push("--diff");
    let mut t = t.env("FAKE_HANG_KEYS", "ALPHA").args(args);
    let run = t.spawn();
    wait_for_fakes(&t, &run, 1);
    run.signal_group("INT");
    std::thread::sleep(Duration::from_millis(200));
    run.signal_group("INT");
    run.wait()
}

#[test]
fn ctrl_c_during_the_reads_of_diff_exits_130() {
    let _serial = crate::support::serial();
    let out = interrupted_diff(&[]);
    out.failure(130);
    assert!(
        !out.stderr.contains("cannot read values"),
        "an interrupt is not a failed read: {}",
        out.stderr
    );
    assert_eq!(out.stdout, "", "no marker of a read that did not finish");
}

#[test]
fn ctrl_c_during_the_reads_of_diff_json_prints_one_document() {
    let _serial = crate::support::serial();
    let doc = document(&interrupted_diff(&["--json"]));
    assert_eq!(doc["mode"], "diff");
    assert_eq!(doc["keys"][0]["key"], "ALPHA");
    assert_eq!(doc["keys"][0]["status"], "unknown");
}
