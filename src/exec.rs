//! Running one vendor CLI call: value on stdin, output drained, a timeout, its own process
//! group. The only place that spawns processes.
//!
//! The worker that makes the call serves the child's pipes itself, in one `poll(2)` loop:
//! stdout and stderr are read as they fill, so a chatty child can never block on a full pipe,
//! and a value larger than one pipe page is written as the child takes it, so a child that
//! never reads cannot block us either. No thread is started per call (three per call cost
//! about half of vsync's own CPU; see BENCHMARKS.md). Once the pipes are done, the exit is
//! reaped with `wait-timeout`, bounded by what is left of the call's time.

use crate::signals;
use crate::targets::VendorCmd;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
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

/// Who is speaking in `Outcome::describe`.
#[derive(Debug, PartialEq, Eq)]
pub enum Said<'a> {
    /// vsync's own words: never scrubbed.
    Vsync(String),
    /// The vendor's stderr: must be scrubbed before it is shown.
    Vendor(std::borrow::Cow<'a, str>),
}

impl Outcome {
    pub fn success(&self) -> bool {
        self.exit == Exit::Success
    }

    /// What went wrong: how the call ended in vsync's own words, or the vendor's stderr as
    /// it is (unscrubbed, newlines kept). Kept apart so only the vendor's text is scrubbed.
    pub fn describe(&self) -> Said<'_> {
        let stderr = String::from_utf8_lossy(&self.stderr);
        Said::Vsync(match &self.exit {
            Exit::TimedOut(d) => format!("timed out after {}s", d.as_secs_f64().ceil() as u64),
            Exit::Interrupted => "killed by a second interrupt".into(),
            Exit::SpawnFailed(e) => format!("could not start: {e}"),
            _ if !stderr.trim().is_empty() => return Said::Vendor(stderr),
            Exit::Code(c) => format!("exit {c}"),
            Exit::Signal(s) => format!("killed by signal {s}"),
            Exit::Success => "ok".into(),
        })
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
pub const STDERR_CAP: usize = 256 << 10;
/// A write this small always fits an empty pipe (at least one page), so it cannot block.
const INLINE_STDIN: usize = 4096;
/// How long to wait for output pipes after the child exited (a grandchild may hold them).
const PIPE_GRACE: Duration = Duration::from_secs(2);
/// How often a call that is still running is checked for an exit whose pipes stay open (a
/// grandchild holds them) and for an abort.
const TICK: Duration = Duration::from_millis(50);

pub fn run(cmd: &VendorCmd, stdin: &[u8], timeout: Duration) -> Outcome {
    run_until(cmd, stdin, timeout, None)
}

/// Like `run`, but the call is also killed as soon as `abort` becomes true (checked every
/// `TICK`): for a call whose answer stops mattering, like D8's list call once every key is
/// pushed.
pub fn run_abortable(
    cmd: &VendorCmd,
    stdin: &[u8],
    timeout: Duration,
    abort: &AtomicBool,
) -> Outcome {
    run_until(cmd, stdin, timeout, Some(abort))
}

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
    let guard = signals::register_child(child.id());
    let mut call = Call {
        stdout: Drain::new(child.stdout.take(), STDOUT_CAP),
        stderr: Drain::new(child.stderr.take(), STDERR_CAP),
        stdin: Feed::new(child.stdin.take(), stdin),
    };
    let aborted = || abort.is_some_and(|a| a.load(Ordering::SeqCst));

    // Until the child is reaped: the call's deadline; after: the grace for its pipes.
    let mut limit = Instant::now() + timeout;
    let mut next_check = Instant::now() + TICK;
    let mut status: Option<ExitStatus> = None;
    let mut killed = false;
    while call.busy() {
        let now = Instant::now();
        if now >= limit {
            if status.is_some() || killed {
                // Past the grace: a grandchild holds the pipes; keep what was read.
                break;
            }
            kill(&mut child);
            killed = true;
            limit = Instant::now() + PIPE_GRACE;
            continue;
        }
        if now >= next_check {
            next_check = now + TICK;
            if status.is_none() && !killed {
                if aborted() {
                    // Ended as at the deadline, by the branch above.
                    limit = now;
                } else if let Ok(Some(s)) = child.try_wait() {
                    status = Some(s);
                    // An exited child reads no more; its pipes get the grace period.
                    call.stdin.close();
                    limit = Instant::now() + PIPE_GRACE;
                }
            }
            continue;
        }
        call.poll(limit.min(next_check) - now);
    }
    call.stdin.close();
    if status.is_none() && !killed {
        status = reap(&mut child, limit, aborted);
    }
    let interrupted = guard.was_killed();
    drop(guard);
    let exit = match status {
        _ if interrupted => Exit::Interrupted,
        None => Exit::TimedOut(timeout),
        Some(s) if s.success() => Exit::Success,
        Some(s) => match s.code() {
            Some(c) => Exit::Code(c),
            None => Exit::Signal(s.signal().unwrap_or(0)),
        },
    };
    // Output still open when the loop gave up counts as cut.
    let stderr_cut = call.stderr.cut || call.stderr.pipe.is_some();
    Outcome {
        exit,
        stdout: call.stdout.kept,
        stderr: call.stderr.kept,
        stderr_cut,
    }
}

/// Kills the child's process group and reaps it.
fn kill(child: &mut Child) {
    signals::kill_group(child.id());
    let _ = child.wait();
}

/// Waits for a child whose pipes are done (normally it has already exited), killing it at
/// `limit` or on an abort; `None` when it was killed.
fn reap(child: &mut Child, limit: Instant, aborted: impl Fn() -> bool) -> Option<ExitStatus> {
    if let Ok(Some(s)) = child.try_wait() {
        return Some(s);
    }
    loop {
        let left = limit.saturating_duration_since(Instant::now());
        let slice = left.min(TICK);
        match child.wait_timeout(slice) {
            Ok(Some(s)) => return Some(s),
            Ok(None) if slice < left && !aborted() => {}
            Ok(None) | Err(_) => {
                kill(child);
                return None;
            }
        }
    }
}

/// The three pipes of one call.
struct Call<'v> {
    stdout: Drain<ChildStdout>,
    stderr: Drain<ChildStderr>,
    stdin: Feed<'v>,
}

impl Call<'_> {
    /// Whether any pipe is still open.
    fn busy(&self) -> bool {
        self.stdout.pipe.is_some() || self.stderr.pipe.is_some() || self.stdin.pipe.is_some()
    }

    /// Waits up to `wait` for any pipe to be ready and serves those that are.
    fn poll(&mut self, wait: Duration) {
        let mut fds = [
            pollfd(self.stdout.fd(), libc::POLLIN),
            pollfd(self.stderr.fd(), libc::POLLIN),
            pollfd(self.stdin.fd(), libc::POLLOUT),
        ];
        // Rounded up: a zero timeout would spin through the last millisecond.
        let ms = wait.as_micros().div_ceil(1000).clamp(1, i32::MAX as u128) as i32;
        // SAFETY: `fds` is a valid array of `pollfd` of the length passed.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
        if ready <= 0 {
            // 0: the wait ran out; -1: EINTR (a signal). The caller looks at the clock.
            return;
        }
        if fds[0].revents != 0 {
            self.stdout.read();
        }
        if fds[1].revents != 0 {
            self.stderr.read();
        }
        if fds[2].revents != 0 {
            self.stdin.write();
        }
    }
}

fn pollfd(fd: RawFd, events: i16) -> libc::pollfd {
    // A negative descriptor is skipped by poll(2): how a closed pipe drops out.
    libc::pollfd {
        fd,
        events,
        revents: 0,
    }
}

/// One output pipe, read into `kept` up to `cap` bytes; the rest is read and dropped.
struct Drain<P> {
    pipe: Option<P>,
    kept: Vec<u8>,
    cap: usize,
    /// More was written than `cap`.
    cut: bool,
}

impl<P: Read + AsRawFd> Drain<P> {
    fn new(pipe: Option<P>, cap: usize) -> Self {
        Drain {
            pipe,
            kept: Vec::new(),
            cap,
            cut: false,
        }
    }

    fn fd(&self) -> RawFd {
        self.pipe.as_ref().map_or(-1, AsRawFd::as_raw_fd)
    }

    /// One read: poll said it would not block. End of file or an error closes the pipe.
    fn read(&mut self) {
        let Some(pipe) = self.pipe.as_mut() else {
            return;
        };
        let mut buf = [0u8; 8192];
        match pipe.read(&mut buf) {
            Ok(0) => self.pipe = None,
            Ok(n) => {
                let room = self.cap.saturating_sub(self.kept.len());
                self.cut |= n > room;
                self.kept.extend_from_slice(&buf[..n.min(room)]);
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => self.pipe = None,
        }
    }
}

/// The child's stdin and the part of the value not yet written to it.
struct Feed<'v> {
    pipe: Option<ChildStdin>,
    left: &'v [u8],
}

impl<'v> Feed<'v> {
    fn new(pipe: Option<ChildStdin>, value: &'v [u8]) -> Self {
        let mut feed = Feed { pipe, left: value };
        if value.len() <= INLINE_STDIN {
            // Fits the empty pipe: written at once. A child that exits without reading gives
            // EPIPE here: its exit status tells the story.
            if let Some(pipe) = feed.pipe.as_mut() {
                let _ = pipe.write_all(value);
            }
            feed.close();
        } else if let Some(pipe) = &feed.pipe {
            // Larger values go as the child reads them, never blocking the loop.
            set_nonblocking(pipe.as_raw_fd());
        }
        feed
    }

    fn fd(&self) -> RawFd {
        self.pipe.as_ref().map_or(-1, AsRawFd::as_raw_fd)
    }

    fn write(&mut self) {
        let Some(pipe) = self.pipe.as_mut() else {
            return;
        };
        match pipe.write(self.left) {
            Ok(n) => {
                self.left = &self.left[n..];
                if self.left.is_empty() {
                    self.close();
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {}
            // EPIPE: the child closed its stdin or exited; its exit status tells the story.
            Err(_) => self.close(),
        }
    }

    /// Closing stdin is the child's end of file.
    fn close(&mut self) {
        self.pipe = None;
    }
}

fn set_nonblocking(fd: RawFd) {
    // SAFETY: fcntl(2) on a descriptor we own; no memory is passed. It cannot fail for an
    // open pipe, and if it did the writes would block, which the child's timeout still ends.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags >= 0 {
            libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
        }
    }
}
