//! Running one vendor CLI call: value on stdin, output drained, a timeout, its own process
//! group. The only place that spawns processes.
//!
//! The worker that makes the call serves the child's pipes itself, in one `poll(2)` loop:
//! stdout and stderr are read as they fill, so a chatty child can never block on a full pipe,
//! and a value larger than one pipe page is written as the child takes it, so a child that
//! never reads cannot block us either. No thread is started per call (three threads a call
//! would cost about half of vsync's own CPU; see BENCHMARKS.md). Once the pipes are done,
//! the exit is awaited, bounded by what is left of the call's time.
//!
//! When a call ends, however it ends, its whole process group is killed before the child is
//! reaped, so helpers the CLI left in its group die with it (see `finish`). Helpers that
//! left the group are collected by `adopt_orphans` / `end_orphans` at the end of the run.

use crate::outcome::{Exit, Outcome, STDERR_CAP};
use crate::signals::{self, ChildGuard};
use crate::targets::VendorCmd;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Children vsync had before it started any: jobs of a shell that ran `job & exec vsync`.
/// vsync did not start them, so `end_orphans` leaves them alone.
static INHERITED: OnceLock<Vec<i32>> = OnceLock::new();

/// Makes vsync the reaper of its orphaned descendants: a helper a vendor CLI started in a
/// session or group of its own (out of reach of the group kill) becomes vsync's child when
/// its parent exits, so `end_orphans` can find it. Best effort: without it (a kernel before
/// 3.4) such helpers go to init and outlive the run. Called before the first vendor call,
/// it also notes the children vsync was born with.
pub fn adopt_orphans() {
    let _ = INHERITED.set(if has_children() {
        children()
    } else {
        Vec::new()
    });
    // SAFETY: prctl(2) with integer arguments only.
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    }
}

/// Once no call is running: kills and reaps every child vsync still has but was not born
/// with — the orphans `adopt_orphans` collected. Each is killed while unreaped (its pid
/// cannot be reused), and killing one may hand its own children to vsync, hence the rounds.
pub fn end_orphans() {
    let inherited = INHERITED.get().map_or(&[][..], Vec::as_slice);
    for _ in 0..100 {
        // Almost every run ends with no child at all; one waitid(2) says so, where reading
        // `/proc` costs a file per process on the machine.
        if !has_children() {
            return;
        }
        let mut orphans = children();
        orphans.retain(|pid| !inherited.contains(pid));
        if orphans.is_empty() {
            return;
        }
        for pid in orphans {
            // SAFETY: kill(2) and waitpid(2) on our own unreaped child; no memory passed.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
        }
    }
}

/// Whether vsync has a child, running or exited but unreaped; reaps nothing (`WNOWAIT`).
fn has_children() -> bool {
    // SAFETY: waitid(2) fills the zeroed siginfo_t we own; no other memory is passed.
    let status = unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        libc::waitid(
            libc::P_ALL,
            0,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    !(status == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD))
}

/// vsync's children: an orphan is handed to one of vsync's threads, and each thread's
/// `/proc/self/task/<tid>/children` lists its own. Kernels built without that file get a
/// scan of every process's parent instead.
fn children() -> Vec<i32> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return children_of(std::process::id());
    };
    let mut pids = Vec::new();
    for task in tasks.flatten() {
        let Ok(list) = std::fs::read_to_string(task.path().join("children")) else {
            return children_of(std::process::id());
        };
        pids.extend(
            list.split_whitespace()
                .filter_map(|pid| pid.parse::<i32>().ok()),
        );
    }
    pids
}

/// The pids whose parent is `parent`, from `/proc/<pid>/stat` (field 4, after the command
/// name in parentheses, which may itself hold spaces and parentheses).
fn children_of(parent: u32) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|entry| {
            let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            let ppid: u32 = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            (ppid == parent).then_some(pid)
        })
        .collect()
}

/// Most of a child's stdout vsync keeps; the rest is read and dropped (stderr: `STDERR_CAP`).
const STDOUT_CAP: usize = 16 << 20;
/// A write this small always fits an empty pipe (at least one page), so it cannot block.
const INLINE_STDIN: usize = 4096;
/// How long to wait for output pipes after the child exited (a helper that left the call's
/// process group may hold them).
const PIPE_GRACE: Duration = Duration::from_secs(2);
/// How often a call that is still running is checked for an exit whose pipes stay open (a
/// grandchild holds them) and for an abort.
const TICK: Duration = Duration::from_millis(50);

pub fn run(cmd: &VendorCmd, stdin: &[u8], timeout: Duration) -> Outcome {
    run_until(cmd, stdin, timeout, None)
}

/// Like `run`, but the call is also killed as soon as `abort` becomes true (checked every
/// `TICK`): for a call whose answer stops mattering, like the list call that only tells the
/// first write of each key whether to update or create, once every key is pushed.
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
        .envs(
            cmd.defaults_to_set(|k| std::env::var_os(k).is_some())
                .iter()
                .copied(),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Own process group: a terminal Ctrl-C reaches vsync only, which decides whether to
        // let the call finish (first signal) or kill it (second).
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
    let mut guard = Some(signals::register_child(child.id()));
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
    let mut interrupted = false;
    while call.busy() {
        let now = Instant::now();
        if now >= limit {
            if status.is_some() || killed {
                // Past the grace: something outside the group holds the pipes; keep what
                // was read.
                break;
            }
            interrupted = finish(&mut child, &mut guard).1;
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
                } else if has_exited(&child) {
                    let (s, by_interrupt) = finish(&mut child, &mut guard);
                    (status, interrupted) = (s, by_interrupt);
                    killed = status.is_none();
                    // An exited child reads no more; its pipes get the grace period (only
                    // a process that left the group can still hold them).
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
        (status, interrupted) = reap(&mut child, &mut guard, limit, aborted);
    }
    let exit = match status {
        // The second interrupt killed it; a call that ended by itself just before the
        // kill is reported as it ended.
        Some(s) if interrupted && s.signal() == Some(libc::SIGKILL) => Exit::Interrupted,
        None if interrupted => Exit::Interrupted,
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

/// Ends a call: kills whatever is left in its process group (helpers the CLI started, or
/// the child itself when it is still running), forgets the group, then reaps the child.
/// In that order because until the child is reaped its pid — the group's id — cannot be
/// given to another process, so neither this kill nor the interrupt handler's can hit an
/// unrelated group. Returns the child's status (`None` if it could not be read) and
/// whether the second interrupt killed it.
fn finish(child: &mut Child, guard: &mut Option<ChildGuard>) -> (Option<ExitStatus>, bool) {
    signals::kill_group(child.id());
    let interrupted = guard.take().is_some_and(ChildGuard::release);
    (child.wait().ok(), interrupted)
}

/// Whether the child has exited, without reaping it (`WNOWAIT`): the group is killed and
/// forgotten before the reap.
fn has_exited(child: &Child) -> bool {
    // SAFETY: waitid(2) writes only into `info`, a zeroed siginfo_t we own.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let rc = libc::waitid(
            libc::P_PID,
            child.id() as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        );
        // -1 (ECHILD) cannot happen for our own unreaped child; counted as exited, so the
        // call ends instead of spinning.
        rc != 0 || info.si_pid() != 0
    }
}

/// Waits for a child whose pipes are done (normally it has already exited, or is about to:
/// its pipes close just before its exit is visible), killing it at `limit` or on an abort.
/// Returns its status (`None` when it was killed) and whether the second interrupt did it.
fn reap(
    child: &mut Child,
    guard: &mut Option<ChildGuard>,
    limit: Instant,
    aborted: impl Fn() -> bool,
) -> (Option<ExitStatus>, bool) {
    let mut nap = Duration::from_micros(100);
    loop {
        if has_exited(child) {
            return finish(child, guard);
        }
        let now = Instant::now();
        if now >= limit || aborted() {
            let (_, interrupted) = finish(child, guard);
            return (None, interrupted);
        }
        std::thread::sleep(nap.min(limit - now));
        nap = (nap * 2).min(TICK);
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
    /// Setting `O_NONBLOCK` failed: each write is then kept to what poll's `POLLOUT`
    /// promises room for.
    blocking: bool,
}

impl<'v> Feed<'v> {
    fn new(pipe: Option<ChildStdin>, value: &'v [u8]) -> Self {
        let mut feed = Feed {
            pipe,
            left: value,
            blocking: false,
        };
        if value.len() <= INLINE_STDIN {
            // Fits the empty pipe: written at once. A child that exits without reading gives
            // EPIPE here: its exit status tells the story.
            if let Some(pipe) = feed.pipe.as_mut() {
                let _ = pipe.write_all(value);
            }
            feed.close();
        } else if let Some(pipe) = &feed.pipe {
            // Larger values go as the child reads them, never blocking the loop.
            feed.blocking = !set_nonblocking(pipe.as_raw_fd());
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
        let chunk = if self.blocking {
            &self.left[..self.left.len().min(INLINE_STDIN)]
        } else {
            self.left
        };
        match pipe.write(chunk) {
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

/// Whether the descriptor is now non-blocking. A write to a blocking pipe that is full
/// would stall the whole loop, timeout included (the clock is only looked at between
/// writes), so when this fails the writes are kept to `INLINE_STDIN` bytes: `POLLOUT` on a
/// pipe means at least one free page, which such a write always fits.
fn set_nonblocking(fd: RawFd) -> bool {
    // SAFETY: fcntl(2) on a descriptor we own; no memory is passed.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        flags >= 0 && libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) == 0
    }
}
