//! Interruption: the first SIGINT/SIGTERM/SIGHUP/SIGQUIT stops dispatching new work; the
//! second kills every child still running. Children live in their own process groups, so
//! only vsync sees a terminal's Ctrl-C and the whole group of a vendor CLI (wrappers
//! included) is killed.
//!
//! Before the first vendor call is dispatched (parsing, pre-flight, the routing prompt, a
//! file reference that blocks) there is nothing in flight to let finish: a signal then ends
//! the run at once with exit 130.
//!
//! The handler runs on ctrlc's own thread, not in signal context, so it may lock and write;
//! its writes go through `term::err`, which ignores a closed stderr (a panic there would
//! abort the whole run under `panic = "abort"`).

use crate::term;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};

static SIGNALS: AtomicUsize = AtomicUsize::new(0);
static KILLED: AtomicBool = AtomicBool::new(false);
/// Process-group ids (= pids) of children not yet reaped, each with whether the second
/// interrupt killed it. Only unreaped children are here: a pid, and so the group id, cannot
/// be reused while its process exists, even as a zombie.
static CHILDREN: Mutex<Option<HashMap<u32, bool>>> = Mutex::new(None);

/// Where the run is: nothing pushed yet, pushing, or ended by a signal before pushing.
static PHASE: AtomicU8 = AtomicU8::new(PREPARING);
const PREPARING: u8 = 0;
const PUSHING: u8 = 1;
const EXITING: u8 = 2;

/// Installs the handler for SIGINT, SIGTERM, SIGHUP and SIGQUIT.
pub fn install() -> anyhow::Result<()> {
    ctrlc::set_handler(on_signal)?;
    forward_sigquit_as_sigterm()?;
    Ok(())
}

fn on_signal() {
    let first = SIGNALS.fetch_add(1, Ordering::SeqCst) == 0;
    // Claimed with a compare-and-swap so that `start_pushing` and this exit never both win.
    if PHASE
        .compare_exchange(PREPARING, EXITING, Ordering::SeqCst, Ordering::SeqCst)
        .is_ok()
    {
        term::err("vsync: interrupted before anything was pushed");
        // SAFETY: _exit(2) ends the process at once. Nothing needs flushing (term::out
        // writes each line at once), and no vendor process exists yet to be left behind.
        unsafe { libc::_exit(130) };
    }
    if first {
        term::err(
            "vsync: interrupted — letting calls in flight finish, starting no new ones \
             (interrupt again to kill them)",
        );
    } else {
        KILLED.store(true, Ordering::SeqCst);
        let mut children = CHILDREN.lock().unwrap_or_else(|e| e.into_inner());
        for (&pid, killed) in children.iter_mut().flatten() {
            kill_group(pid);
            *killed = true;
        }
    }
}

/// SIGQUIT (Ctrl-\) would otherwise end vsync at once and dump core — a file holding every
/// value. ctrlc handles INT/TERM/HUP only, so SIGQUIT gets a plain handler that sends the
/// process a SIGTERM: kill(2) and getpid(2) are async-signal-safe, and ctrlc's own handler
/// then treats it exactly as a SIGTERM.
fn forward_sigquit_as_sigterm() -> anyhow::Result<()> {
    extern "C" fn on_sigquit(_: libc::c_int) {
        // SAFETY: only async-signal-safe calls.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGTERM);
        }
    }
    // SAFETY: the sigaction struct is zeroed then filled in; the handler only makes
    // async-signal-safe calls.
    let rc = unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigquit as extern "C" fn(libc::c_int) as usize;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGQUIT, &action, std::ptr::null_mut())
    };
    if rc != 0 {
        anyhow::bail!("sigaction(SIGQUIT): {}", std::io::Error::last_os_error());
    }
    Ok(())
}

/// Called just before the first vendor call is dispatched: from now on a signal stops
/// dispatch instead of ending the run. If a signal got there first, the handler is ending
/// the process, and this never returns.
pub fn start_pushing() {
    if PHASE
        .compare_exchange(PREPARING, PUSHING, Ordering::SeqCst, Ordering::SeqCst)
        .is_err()
    {
        loop {
            std::thread::park();
        }
    }
}

/// True once the first interrupt arrived: start nothing new.
pub fn stop_requested() -> bool {
    SIGNALS.load(Ordering::SeqCst) > 0
}

/// Kills a child's whole process group. Pass only the id of a child that has not been
/// reaped: once it is, its id may be given to an unrelated process, whose group this would
/// kill.
pub fn kill_group(pid: u32) {
    if let Ok(pid) = i32::try_from(pid) {
        // SAFETY: kill(2) has no memory-safety preconditions.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

/// Keeps a child known to the handler until it is reaped.
pub struct ChildGuard(u32);

pub fn register_child(pid: u32) -> ChildGuard {
    let mut children = CHILDREN.lock().unwrap_or_else(|e| e.into_inner());
    // A child spawned just after the second interrupt was handled must not survive it.
    let killed = KILLED.load(Ordering::SeqCst);
    if killed {
        kill_group(pid);
    }
    children
        .get_or_insert_with(HashMap::new)
        .insert(pid, killed);
    ChildGuard(pid)
}

impl ChildGuard {
    /// Forgets the child; call it before reaping it. Returns whether the second interrupt
    /// killed it.
    pub fn release(self) -> bool {
        let pid = self.0;
        std::mem::forget(self);
        forget_child(pid)
    }
}

fn forget_child(pid: u32) -> bool {
    CHILDREN
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_mut()
        .and_then(|set| set.remove(&pid))
        .unwrap_or(false)
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        forget_child(self.0);
    }
}
