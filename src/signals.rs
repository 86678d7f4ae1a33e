//! Interruption (D6): the first SIGINT/SIGTERM stops dispatching new work; the second kills
//! every child still running. Children live in their own process groups, so only vsync sees
//! a terminal's Ctrl-C and the whole group of a vendor CLI (wrappers included) is killed.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

static SIGNALS: AtomicUsize = AtomicUsize::new(0);
static KILLED: AtomicBool = AtomicBool::new(false);
/// Process-group ids (= pids) of children that are running.
static CHILDREN: Mutex<Option<HashSet<u32>>> = Mutex::new(None);

/// Installs the SIGINT/SIGTERM/SIGHUP handler.
pub fn install() -> anyhow::Result<()> {
    ctrlc::set_handler(|| {
        if SIGNALS.fetch_add(1, Ordering::SeqCst) == 0 {
            eprintln!(
                "vsync: interrupted — letting calls in flight finish, starting no new ones \
                 (interrupt again to kill them)"
            );
        } else {
            KILLED.store(true, Ordering::SeqCst);
            let children = CHILDREN.lock().unwrap_or_else(|e| e.into_inner());
            for &pid in children.iter().flatten() {
                kill_group(pid);
            }
        }
    })?;
    Ok(())
}

/// True once the first interrupt arrived: start nothing new.
pub fn stop_requested() -> bool {
    SIGNALS.load(Ordering::SeqCst) > 0
}

/// Kills a child's whole process group.
pub fn kill_group(pid: u32) {
    if let Ok(pid) = i32::try_from(pid) {
        // SAFETY: kill(2) has no memory-safety preconditions; a stale id only yields ESRCH.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

/// Keeps a running child known to the handler until dropped.
pub struct ChildGuard(u32);

pub fn register_child(pid: u32) -> ChildGuard {
    CHILDREN
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_or_insert_with(HashSet::new)
        .insert(pid);
    // A child spawned just after the second interrupt was handled must not survive it.
    if KILLED.load(Ordering::SeqCst) {
        kill_group(pid);
    }
    ChildGuard(pid)
}

impl ChildGuard {
    /// Whether the second interrupt killed this child.
    pub fn was_killed(&self) -> bool {
        KILLED.load(Ordering::SeqCst)
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(set) = CHILDREN.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            set.remove(&self.0);
        }
    }
}
