//! How one vendor call ended, and what it printed: the result `exec` returns and everything
//! above it (the pool, the scrubber, the readers) reads. A leaf, so that those modules share
//! it without depending on the module that spawns processes.

use std::time::Duration;

/// Most of a child's stderr vsync keeps; the rest is read and dropped.
pub const STDERR_CAP: usize = 256 << 10;

/// How a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    Success,
    Code(i32),
    Signal(i32),
    /// Killed by vsync after this long.
    TimedOut(Duration),
    /// Killed by vsync because the run's deadline came, this long after the run started.
    DeadlineReached(Duration),
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

/// Whose words explain a failed call, in `Outcome::describe`.
#[derive(Debug, PartialEq, Eq)]
pub enum Reason<'a> {
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
    pub fn describe(&self) -> Reason<'_> {
        let stderr = String::from_utf8_lossy(&self.stderr);
        Reason::Vsync(match &self.exit {
            Exit::TimedOut(d) => format!("timed out after {}s", d.as_secs_f64().ceil() as u64),
            Exit::DeadlineReached(d) => format!(
                "run deadline reached after {}s",
                d.as_secs_f64().round() as u64
            ),
            Exit::Interrupted => "killed by a second interrupt".into(),
            Exit::SpawnFailed(e) => format!("could not start: {e}"),
            _ if !stderr.trim().is_empty() => return Reason::Vendor(stderr),
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
