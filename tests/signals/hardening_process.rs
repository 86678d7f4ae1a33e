//! Process, signal and lifecycle promises under hostile use, through the real binary and
//! the fakes: a closed output pipe, core dumps, signals before the first push, helpers a
//! vendor CLI leaves behind, a second interrupt after a call already ended, `--workers` as a
//! bound on every vendor process, and the messages of the smaller failure cases.

use crate::support::{Call, Test, gh_scope};
use std::fs::File;
use std::os::fd::FromRawFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use wait_timeout::ChildExt;

const WAIT: Duration = Duration::from_secs(15);
const INTERRUPTED: &str = "vsync: interrupted — letting calls in flight finish, starting no new ones (interrupt again to kill them)";

fn gh(t: Test) -> Test {
    t.args(["sync", "dev", "gh", "--gh-repo=acme/api"])
}

pub(crate) fn kill(pid: u32, sig: i32) {
    // SAFETY: kill(2) on a child of this test that has not been reaped.
    let rc = unsafe { libc::kill(pid as i32, sig) };
    assert_eq!(rc, 0, "kill({pid}, {sig})");
}

/// Waits for the child to exit, killing it and failing after `limit`.
#[track_caller]
pub(crate) fn wait_within(child: &mut Child, limit: Duration, what: &str) -> ExitStatus {
    match child.wait_timeout(limit).expect("waiting for vsync") {
        Some(status) => status,
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: vsync did not exit within {limit:?}");
        }
    }
}

#[track_caller]
pub(crate) fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let until = Instant::now() + WAIT;
    while !done() {
        assert!(Instant::now() < until, "waited {WAIT:?} for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Fake vendor processes (and what they left behind) running beside vsync.
fn fakes_beside(t: &Test, vsync: u32) -> usize {
    t.live_fakes()
        .iter()
        .filter(|(pid, _)| *pid != vsync)
        .count()
}

#[track_caller]
fn assert_nothing_left(t: &Test) {
    let live = t.live_fakes_after(Duration::from_secs(2));
    assert!(live.is_empty(), "processes left running: {live:?}");
}

/// A pipe whose reader has already gone: every write to it fails with EPIPE.
fn broken_pipe() -> File {
    let mut fds = [0; 2];
    // SAFETY: pipe(2) fills the two-element array; both ends are owned from here on.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: fresh descriptors, each wrapped once.
    let (reader, writer) = unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) };
    drop(reader);
    writer
}

/// vsync with stdout and stderr on a broken pipe (`vsync … 2>&1 | head -1` once head is
/// gone), leading its own process group.
fn spawn_into_broken_pipe(t: &mut Test) -> Child {
    let out = broken_pipe();
    let err = out.try_clone().unwrap();
    t.vsync_command()
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .expect("spawning vsync")
}

// ----- a closed output pipe ---------------------------------------------------------------------

#[test]
fn a_ctrl_c_with_its_output_pipe_closed_lets_the_calls_in_flight_finish_and_exits_130() {
    let _serial = crate::support::serial();
    let mut t = gh(Test::new()
        .env_file(
            "dev",
            "ALPHA=a-value-1\nBRAVO=b-value-2\nCHARLIE=c-value-3\n",
        )
        .env("FAKE_DELAY_MS", "1500"))
    .arg("--workers=2");
    let mut vsync = spawn_into_broken_pipe(&mut t);
    wait_until("two calls in flight", || fakes_beside(&t, vsync.id()) == 2);
    kill(vsync.id(), libc::SIGINT);
    let status = wait_within(&mut vsync, WAIT, "one SIGINT");
    assert_eq!(
        status.code(),
        Some(130),
        "{status:?} (signal {:?})",
        status.signal()
    );
    let mut ended: Vec<(String, Option<i32>)> = t
        .calls()
        .iter()
        .map(|c| (c.secret().unwrap_or_default().to_string(), c.exit))
        .collect();
    ended.sort();
    assert_eq!(
        ended,
        [("ALPHA".into(), Some(0)), ("BRAVO".into(), Some(0))],
        "both calls in flight ran to their end, nothing new started"
    );
    assert_nothing_left(&t);
}

#[test]
fn a_second_ctrl_c_with_its_output_pipe_closed_still_kills_the_calls_in_flight() {
    let _serial = crate::support::serial();
    // A handler that dies on its first write would leave the second interrupt unheard.
    let mut t = gh(Test::new()
        .env_file("dev", "ALPHA=a-value-1\nBRAVO=b-value-2\n")
        .env("FAKE_HANG_KEYS", "*"))
    .arg("--workers=2");
    let mut vsync = spawn_into_broken_pipe(&mut t);
    wait_until("two hung calls", || t.calls().len() == 2);
    kill(vsync.id(), libc::SIGINT);
    std::thread::sleep(Duration::from_millis(300));
    kill(vsync.id(), libc::SIGINT);
    let status = wait_within(&mut vsync, WAIT, "two SIGINTs");
    assert_eq!(
        status.code(),
        Some(130),
        "{status:?} (signal {:?})",
        status.signal()
    );
    assert_nothing_left(&t);
}

// ----- core dumps -------------------------------------------------------------------------------

/// vsync with core dumps allowed (RLIMIT_CORE unlimited, as after `ulimit -c unlimited`),
/// stdio on /dev/null, one call hung in flight.
fn spawn_dumpable(t: &mut Test) -> Child {
    let mut cmd = t.vsync_command();
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    // SAFETY: only setrlimit(2), async-signal-safe, between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let unlimited = libc::rlimit {
                rlim_cur: libc::RLIM_INFINITY,
                rlim_max: libc::RLIM_INFINITY,
            };
            if libc::setrlimit(libc::RLIMIT_CORE, &unlimited) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn().expect("spawning vsync");
    wait_until("the hung call", || !t.calls().is_empty());
    child
}

#[track_caller]
fn assert_no_core_file(t: &Test, pid: u32) {
    for name in ["core".to_string(), format!("core.{pid}")] {
        let path = t.root().join(&name);
        assert!(
            !path.exists(),
            "a core dump was written: {}",
            path.display()
        );
    }
}

fn hung_run() -> Test {
    gh(Test::new()
        .env_file("dev", "ALPHA=a-value-1\n")
        .env("FAKE_HANG_KEYS", "ALPHA"))
}

#[test]
fn ctrl_backslash_is_an_interrupt_like_sigterm_and_dumps_no_core() {
    let _serial = crate::support::serial();
    let mut t = hung_run();
    let mut vsync = spawn_dumpable(&mut t);
    kill(vsync.id(), libc::SIGQUIT);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        vsync.try_wait().unwrap().is_none(),
        "a first SIGQUIT lets the call in flight run"
    );
    kill(vsync.id(), libc::SIGQUIT);
    let status = wait_within(&mut vsync, WAIT, "two SIGQUITs");
    assert_eq!(
        status.code(),
        Some(130),
        "{status:?} (signal {:?})",
        status.signal()
    );
    assert_no_core_file(&t, vsync.id());
    assert_nothing_left(&t);
}

#[test]
fn an_abort_signal_dumps_no_core_even_with_core_dumps_allowed() {
    let _serial = crate::support::serial();
    let mut t = hung_run();
    let mut vsync = spawn_dumpable(&mut t);
    kill(vsync.id(), libc::SIGABRT);
    let status = wait_within(&mut vsync, WAIT, "SIGABRT");
    assert_eq!(status.signal(), Some(libc::SIGABRT));
    assert!(!status.core_dumped(), "{status:?}");
    assert_no_core_file(&t, vsync.id());
}

// ----- signals before the first push ------------------------------------------------------------

/// A pseudo-terminal: (master, slave).
pub(crate) fn pty() -> (File, File) {
    // SAFETY: posix_openpt/grantpt/unlockpt/ptsname_r on the descriptor just opened;
    // ptsname_r writes a NUL-terminated name into the buffer of the length given.
    unsafe {
        let master = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
        assert!(master >= 0, "posix_openpt");
        assert_eq!(libc::grantpt(master), 0);
        assert_eq!(libc::unlockpt(master), 0);
        let mut name = [0 as libc::c_char; 128];
        assert_eq!(libc::ptsname_r(master, name.as_mut_ptr(), name.len()), 0);
        let slave = libc::open(name.as_ptr(), libc::O_RDWR | libc::O_NOCTTY);
        assert!(slave >= 0, "opening the pty's slave");
        (File::from_raw_fd(master), File::from_raw_fd(slave))
    }
}

#[test]
fn a_ctrl_c_at_the_routing_prompt_ends_the_run_at_once_with_130() {
    let _serial = crate::support::serial();
    let mut t = Test::new()
        .env_file("dev", "ALPHA=a-value-1\n")
        .args(["sync", "dev", "gh"]);
    let (_master, slave) = pty();
    let stderr = tempfile::NamedTempFile::new().unwrap();
    let mut vsync = t
        .vsync_command()
        .stdin(slave)
        .stdout(Stdio::null())
        .stderr(stderr.reopen().unwrap())
        .process_group(0)
        .spawn()
        .expect("spawning vsync");
    wait_until("the routing prompt", || {
        std::fs::read_to_string(stderr.path()).is_ok_and(|s| s.ends_with(": "))
    });
    // SAFETY: kill(2) to the group this test just created.
    unsafe { libc::kill(-(vsync.id() as i32), libc::SIGINT) };
    let status = wait_within(&mut vsync, Duration::from_secs(5), "SIGINT at the prompt");
    assert_eq!(status.code(), Some(130), "{status:?}");
    let stderr = std::fs::read_to_string(stderr.path()).unwrap();
    assert!(
        stderr.ends_with(": vsync: interrupted before anything was pushed\n"),
        "{stderr:?}"
    );
    assert!(!t.config_path("dev").exists(), "nothing saved");
}

// ----- leftover processes -----------------------------------------------------------------------

#[test]
fn helpers_a_vendor_cli_leaves_in_its_group_are_killed_when_the_call_ends() {
    let _serial = crate::support::serial();
    let mut t = gh(Test::new()
        .env_file(
            "dev",
            "ALPHA=a-value-1\nBRAVO=b-value-2\nCHARLIE=c-value-3\n",
        )
        .env("FAKE_LEAVE_BEHIND", "group"))
    .arg("--workers=1");
    let started = Instant::now();
    let out = t.run();
    let took = started.elapsed();
    out.success();
    // Each helper holds its call's pipes: waiting for them would cost 2 s a call.
    assert!(
        took < Duration::from_secs(3),
        "the run waited for the helpers: {took:?}"
    );
    assert_eq!(
        t.secret_names("gh", &gh_scope("acme/api", "dev")),
        ["ALPHA", "BRAVO", "CHARLIE"]
    );
    assert_nothing_left(&t);
}

// ----- a second interrupt after a call ended ----------------------------------------------------

#[test]
fn a_call_that_ended_before_the_second_ctrl_c_is_reported_as_it_ended() {
    let _serial = crate::support::serial();
    // ALPHA's CLI exits 0 but leaves a helper holding its pipes; BRAVO's hangs. Both
    // interrupts come while ALPHA's helper is still around.
    let mut t = gh(Test::new()
        .env_file("dev", "ALPHA=a-value-1\nBRAVO=b-value-2\n")
        .env("FAKE_HANG_KEYS", "BRAVO")
        .env("FAKE_LEAVE_BEHIND", "group"))
    .arg("--workers=2");
    let run = t.spawn();
    let done = |calls: &[Call], key: &str, exit: Option<i32>| {
        calls
            .iter()
            .any(|c| c.secret() == Some(key) && c.exit == exit)
    };
    wait_until("ALPHA done and BRAVO hung", || {
        let calls = t.calls();
        done(&calls, "ALPHA", Some(0)) && done(&calls, "BRAVO", None)
    });
    run.signal_group("INT");
    std::thread::sleep(Duration::from_millis(100));
    run.signal_group("INT");
    let out = run.wait();
    out.failure(130).stdout_has("\n✓ ALPHA\n");
    assert_eq!(
        out.stdout_lines().last().map(String::as_str),
        Some("gh: 1 ok, 1 failed (BRAVO) in #.#s")
    );
    let mut stderr: Vec<&str> = out.stderr.lines().collect();
    stderr.sort();
    assert_eq!(
        stderr,
        [
            "WARNING: skipping BRAVO: gh secret set: killed by a second interrupt",
            INTERRUPTED
        ]
    );
    assert_eq!(
        t.secret_names("gh", &gh_scope("acme/api", "dev")),
        ["ALPHA"]
    );
    assert_nothing_left(&t);
}

// ----- --workers bounds every vendor process ----------------------------------------------------

/// The most calls whose logged lifetimes overlap at one moment.
fn max_overlap(calls: &[Call]) -> usize {
    let mut edges: Vec<(u64, i32)> = calls
        .iter()
        .flat_map(|c| [(c.start_ms, 1), (c.end_ms, -1)])
        .collect();
    // At equal times an end comes before a start: touching is not overlapping.
    edges.sort();
    let (mut now, mut most) = (0i32, 0i32);
    for (_, step) in edges {
        now += step;
        most = most.max(now);
    }
    most as usize
}

#[test]
fn workers_bound_every_vendor_process_the_list_call_included() {
    let _serial = crate::support::serial();
    for workers in [1, 2] {
        let mut t = Test::new()
            .env_file(
                "dev",
                "A=a-value-1\nB=b-value-2\nC=c-value-3\nD=d-value-4\n",
            )
            .env("FAKE_DELAY_MS", "300")
            .args(["sync", "dev", "aws", "--aws-region=eu-west-1"])
            .arg(format!("--workers={workers}"));
        t.run().success();
        let calls = t.calls();
        assert!(
            calls
                .iter()
                .any(|c| c.argv.iter().any(|a| a == "list-secrets")),
            "{calls:#?}"
        );
        assert!(calls.len() >= 5, "{calls:#?}");
        assert_eq!(
            max_overlap(&calls),
            workers,
            "--workers={workers}: {:#?}",
            calls
                .iter()
                .map(|c| (c.line(), c.start_ms, c.end_ms))
                .collect::<Vec<_>>()
        );
    }
}

// ----- smaller cases ----------------------------------------------------------------------------

#[test]
fn a_vendor_cli_that_is_not_executable_is_named_as_such() {
    let _serial = crate::support::serial();
    use std::os::unix::fs::PermissionsExt;
    let t = gh(Test::new().env_file("dev", "ALPHA=a-value-1\n")).without_fake("gh");
    let path = t.root().parent().unwrap().join("bin/gh");
    std::fs::write(&path, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut t = t;
    t.run().failure(1).stderr_is(&format!(
        "vsync: error: gh is not executable ({}) — fix its permissions or install it before \
         running vsync sync.\n",
        path.display()
    ));
}

#[test]
fn after_a_ctrl_c_no_create_is_started_for_an_update_that_found_nothing() {
    let _serial = crate::support::serial();
    // The list call fails, so ALPHA's first write is an update; the secret does not exist,
    // and the update says so after the interrupt.
    let mut t = Test::new()
        .env_file("dev", "ALPHA=a-value-1\nBRAVO=b-value-2\n")
        .env("FAKE_DELAY_MS", "1500")
        .env("FAKE_FAIL_LIST", "1")
        .args([
            "sync",
            "dev",
            "aws",
            "--aws-region=eu-west-1",
            "--workers=2",
        ]);
    let mut run = t.spawn();
    run.wait_for_line("Setting secret: ALPHA", WAIT);
    wait_until("the update in flight", || fakes_beside(&t, run.pid()) == 2);
    run.signal_group("INT");
    let out = run.wait();
    assert_eq!(
        out.stdout_lines().last().map(String::as_str),
        Some("aws: 0 ok, 1 failed (ALPHA), 1 not attempted (BRAVO) in #.#s")
    );
    out.failure(130).stderr_has("WARNING: skipping ALPHA: aws secretsmanager put-secret-value (no create attempted: interrupted): ");
    let alpha: Vec<String> = t
        .calls()
        .iter()
        .filter(|c| c.argv.iter().any(|a| a.contains("ALPHA")))
        .map(Call::line)
        .collect();
    assert_eq!(alpha.len(), 1, "{alpha:#?}");
    assert!(t.secret_names("aws", "eu-west-1").is_empty());
}

#[test]
fn a_helper_that_left_the_calls_group_does_not_outlive_the_run() {
    let _serial = crate::support::serial();
    let mut t = gh(Test::new()
        .env_file("dev", "ALPHA=a-value-1\n")
        .env("FAKE_LEAVE_BEHIND", "session"));
    t.run().success();
    assert_nothing_left(&t);
}

/// A process the shell started before `exec vsync` (`job & exec vsync …`, as in a container's
/// entrypoint) is vsync's child from its first instruction, but vsync did not start it: it
/// outlives the run, where every child vsync did start is ended.
#[test]
fn a_child_inherited_across_exec_is_not_ended_with_the_run() {
    let _serial = crate::support::serial();
    let mut t = gh(Test::new().env_file("dev", "ALPHA=a-value-1\n"));
    let pid_file = t.root().join("job.pid");
    let vsync = t.vsync_command();
    let mut cmd = std::process::Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(format!(
            "sleep 30 </dev/null >/dev/null 2>&1 & echo $! > '{}'; exec \"$0\" \"$@\"",
            pid_file.display()
        ))
        .arg(vsync.get_program())
        .args(vsync.get_args())
        .env_clear()
        .envs(vsync.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .current_dir(vsync.get_current_dir().unwrap())
        .stdin(Stdio::null());
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let job: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let state = std::fs::read_to_string(format!("/proc/{job}/stat"))
        .ok()
        .and_then(|stat| {
            Some(
                stat.rsplit_once(')')?
                    .1
                    .split_whitespace()
                    .next()?
                    .to_string(),
            )
        });
    let alive = matches!(state.as_deref(), Some("S" | "R"));
    if alive {
        // SAFETY: kill(2) with integers only. The job is a `sleep 30` seen running just
        // above, so its pid has not been given to another process.
        unsafe { libc::kill(job as i32, libc::SIGKILL) };
    }
    assert!(alive, "the inherited job was ended: state {state:?}");
}

/// Whatever a test signals, no core file lands in the tree: every process the harness starts
/// (vsync, the fakes, the shells and what they leave behind) inherits a core limit of 0.
#[test]
fn no_process_a_test_starts_can_dump_core() {
    let _t = Test::new();
    let out = std::process::Command::new("/bin/sh")
        .args(["-c", "ulimit -c"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "0");
}
