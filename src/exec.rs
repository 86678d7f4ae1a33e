//! Running one vendor CLI call: value on stdin, output drained, a timeout, its own process
//! group. The only place that spawns processes.
//!
//! stdout and stderr are read on their own threads while the child runs, so a chatty child
//! can never fill a pipe and block; stdin is written on its own thread for values larger than
//! one pipe page, so a child that never reads cannot block us either.

use crate::signals;
use crate::targets::VendorCmd;
use crossbeam_channel::{Receiver, bounded};
use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use wait_timeout::ChildExt;

/// How a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    Success,
    Code(i32),
    Signal(i32),
    /// Killed by vsync after this long.
    TimedOut(Duration),
    /// Killed by vsync because of a second interrupt.
    Interrupted,
    /// Could not be started (the OS error).
    SpawnFailed(String),
}

#[derive(Debug)]
pub struct Outcome {
    pub exit: Exit,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// The child wrote more stderr than vsync keeps: the end of `stderr` may hold the first
    /// part of something cut off, which scrubbing must account for.
    pub stderr_cut: bool,
}

impl Outcome {
    pub fn success(&self) -> bool {
        self.exit == Exit::Success
    }

    /// What went wrong: the vendor's stderr as it is (unscrubbed, newlines kept), or how
    /// the call ended.
    pub fn describe(&self) -> String {
        let stderr = String::from_utf8_lossy(&self.stderr);
        let stderr = stderr.trim();
        match &self.exit {
            Exit::TimedOut(d) => format!("timed out after {}s", d.as_secs_f64().ceil() as u64),
            Exit::Interrupted => "killed by a second interrupt".into(),
            Exit::SpawnFailed(e) => format!("could not start: {e}"),
            _ if !stderr.is_empty() => stderr.to_string(),
            Exit::Code(c) => format!("exit {c}"),
            Exit::Signal(s) => format!("killed by signal {s}"),
            Exit::Success => "ok".into(),
        }
    }

    pub fn code(&self) -> Option<i32> {
        match self.exit {
            Exit::Code(c) => Some(c),
            _ => None,
        }
    }
}

/// Most of a child's output vsync keeps; the rest is read and dropped.
const STDOUT_CAP: usize = 16 << 20;
const STDERR_CAP: usize = 256 << 10;
/// A write this small always fits an empty pipe (at least one page), so it cannot block.
const INLINE_STDIN: usize = 4096;
/// How long to wait for output pipes after the child exited (a grandchild may hold them).
const PIPE_GRACE: Duration = Duration::from_secs(2);

pub fn run(cmd: &VendorCmd, stdin: &[u8], timeout: Duration) -> Outcome {
    run_until(cmd, stdin, timeout, None)
}

/// Like `run`, but the call is also killed as soon as `abort` becomes true (checked every
/// `ABORT_POLL`): for a call whose answer stops mattering, like D8's list call once every
/// key is pushed.
pub fn run_abortable(
    cmd: &VendorCmd,
    stdin: &[u8],
    timeout: Duration,
    abort: &AtomicBool,
) -> Outcome {
    run_until(cmd, stdin, timeout, Some(abort))
}

const ABORT_POLL: Duration = Duration::from_millis(50);

fn run_until(
    cmd: &VendorCmd,
    stdin: &[u8],
    timeout: Duration,
    abort: Option<&AtomicBool>,
) -> Outcome {
    let mut command = Command::new(cmd.program);
    command
        .args(&cmd.args)
        .envs(cmd.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Own process group: a terminal Ctrl-C reaches vsync only, which decides (D6).
        .process_group(0);
    let mut child = match command.spawn() {
        Ok(c) => c,
        Err(e) => {
            return Outcome {
                exit: Exit::SpawnFailed(e.to_string()),
                stdout: Vec::new(),
                stderr: Vec::new(),
                stderr_cut: false,
            };
        }
    };
    let pid = child.id();
    let guard = signals::register_child(pid);

    let stdout = drain(child.stdout.take().expect("piped"), STDOUT_CAP);
    let stderr = drain(child.stderr.take().expect("piped"), STDERR_CAP);
    let mut pipe = child.stdin.take().expect("piped");
    let writer = if stdin.len() <= INLINE_STDIN {
        // A child that exits without reading gives EPIPE here: its exit status tells the story.
        let _ = pipe.write_all(stdin);
        drop(pipe);
        None
    } else {
        let data = stdin.to_vec();
        Some(std::thread::spawn(move || {
            let _ = pipe.write_all(&data);
        }))
    };

    let started = Instant::now();
    let status = loop {
        let left = timeout.saturating_sub(started.elapsed());
        let slice = if abort.is_some() {
            left.min(ABORT_POLL)
        } else {
            left
        };
        match child.wait_timeout(slice) {
            Ok(Some(status)) => break Some(status),
            Ok(None) if slice < left && !abort.is_some_and(|a| a.load(Ordering::SeqCst)) => {}
            Ok(None) | Err(_) => {
                signals::kill_group(pid);
                let _ = child.wait();
                break None;
            }
        }
    };
    let interrupted = guard.was_killed();
    drop(guard);
    if let Some(w) = writer {
        let _ = w.join();
    }
    let exit = match status {
        _ if interrupted => Exit::Interrupted,
        None => Exit::TimedOut(timeout),
        Some(s) if s.success() => Exit::Success,
        Some(s) => match s.code() {
            Some(c) => Exit::Code(c),
            None => Exit::Signal(s.signal().unwrap_or(0)),
        },
    };
    let (stdout, _) = collect(stdout);
    let (stderr, stderr_cut) = collect(stderr);
    Outcome {
        exit,
        stdout,
        stderr,
        stderr_cut,
    }
}

/// Reads a pipe to its end on a thread, keeping at most `cap` bytes; `true` when more
/// was dropped.
fn drain(mut pipe: impl Read + Send + 'static, cap: usize) -> Receiver<(Vec<u8>, bool)> {
    let (tx, rx) = bounded(1);
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut cut = false;
        let mut buf = [0u8; 8192];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let room = cap.saturating_sub(kept.len());
                    cut |= n > room;
                    kept.extend_from_slice(&buf[..n.min(room)]);
                }
            }
        }
        let _ = tx.send((kept, cut));
    });
    rx
}

/// A grandchild still holding the pipe past the grace period counts as cut output.
fn collect(rx: Receiver<(Vec<u8>, bool)>) -> (Vec<u8>, bool) {
    rx.recv_timeout(PIPE_GRACE).unwrap_or((Vec::new(), true))
}
