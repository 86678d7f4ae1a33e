//! `--prune` on a terminal asks before deleting: `y` deletes, anything else (or Enter) does
//! not, and Ctrl-C at the question ends the run with 130 and deletes nothing.

use crate::hardening_process::{kill, pty, wait_until, wait_within};
use crate::support::{Test, gh_scope};
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::Duration;

/// ALPHA and OLD synced, then OLD removed from the env file: OLD is what --prune would delete.
fn synced_then_dropped() -> Test {
    let mut t = Test::new()
        .env_file("dev", "ALPHA=a-value-1\nOLD=o-value-1\n")
        .args(["sync", "dev", "gh", "--gh-repo=acme/api"]);
    t.run().success();
    std::fs::write(
        t.root().join("infra/vault/dev/.env.dev"),
        "ALPHA=a-value-1\n",
    )
    .unwrap();
    t
}

/// Runs `--prune` with stdin a terminal, waits for the question, then `answer` does its part.
fn prune_on_a_terminal(
    t: &mut Test,
    answer: impl FnOnce(&mut std::fs::File, u32),
) -> (i32, String) {
    let (mut master, slave) = pty();
    let stderr = tempfile::NamedTempFile::new().unwrap();
    let mut vsync = t
        .vsync_command()
        .args(["sync", "dev", "gh", "--prune"])
        .stdin(slave)
        .stdout(Stdio::null())
        .stderr(stderr.reopen().unwrap())
        .process_group(0)
        .spawn()
        .expect("spawning vsync");
    wait_until("the prune question", || {
        std::fs::read_to_string(stderr.path()).is_ok_and(|s| s.ends_with("[y/N]: "))
    });
    answer(&mut master, vsync.id());
    let status = wait_within(&mut vsync, Duration::from_secs(10), "the prune question");
    let text = std::fs::read_to_string(stderr.path()).unwrap();
    (status.code().unwrap_or(-1), text)
}

#[test]
fn yes_at_the_question_deletes() {
    let _serial = crate::support::serial();
    let mut t = synced_then_dropped();
    let (code, stderr) = prune_on_a_terminal(&mut t, |tty, _| {
        tty.write_all(b"y\n").unwrap();
    });
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("Delete 1 secrets no longer in the env file"),
        "{stderr}"
    );
    assert_eq!(
        t.secret_names("gh", &gh_scope("acme/api", "dev")),
        ["ALPHA"]
    );
}

#[test]
fn enter_at_the_question_deletes_nothing() {
    let _serial = crate::support::serial();
    let mut t = synced_then_dropped();
    let (code, stderr) = prune_on_a_terminal(&mut t, |tty, _| {
        tty.write_all(b"\n").unwrap();
    });
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("not pruning: not confirmed"), "{stderr}");
    assert_eq!(
        t.secret_names("gh", &gh_scope("acme/api", "dev")),
        ["ALPHA", "OLD"]
    );
}

#[test]
fn ctrl_c_at_the_question_ends_the_run_at_once_and_deletes_nothing() {
    let _serial = crate::support::serial();
    let mut t = synced_then_dropped();
    let (code, stderr) = prune_on_a_terminal(&mut t, |_, pid| kill(pid, libc::SIGINT));
    assert_eq!(code, 130, "{stderr}");
    assert!(stderr.contains("not pruning"), "{stderr}");
    assert_eq!(
        t.secret_names("gh", &gh_scope("acme/api", "dev")),
        ["ALPHA", "OLD"]
    );
}
