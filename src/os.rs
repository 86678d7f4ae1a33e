//! The terminal and the OS around a run: asking the user a question, and finding a vendor
//! CLI on PATH as execvp(3) would.

use crate::signals;
use anyhow::bail;
use std::io::Write;
use std::path::PathBuf;

/// The vendor CLI must be on PATH before anything runs.
pub fn locate(bin: &str, path: Option<&str>) -> anyhow::Result<()> {
    match find_on_path(bin, path) {
        OnPath::Found => Ok(()),
        OnPath::NotExecutable(path) => bail!(
            "{} is not executable ({}) — fix its permissions or install it before running \
             vsync sync.",
            bin,
            path.display()
        ),
        OnPath::Missing => bail!(
            "{} not found on PATH — install it before running vsync sync.",
            bin
        ),
    }
}

/// Asks on stderr and reads one line from stdin (a terminal). The read is the raw
/// descriptor, polled: a signal during the prompt ends the wait (an error), so Ctrl-C at
/// the `--prune` confirmation stops the run instead of waiting for Enter.
pub fn prompt(question: &str) -> anyhow::Result<String> {
    {
        // Not held while reading: the interrupt handler writes to stderr too, and must not
        // wait for an answer.
        let mut stderr = std::io::stderr().lock();
        write!(stderr, "{question}: ")?;
        stderr.flush()?;
    }
    let mut line = Vec::new();
    loop {
        if signals::stop_requested() {
            bail!("interrupted at the prompt");
        }
        let mut fds = [libc::pollfd {
            fd: libc::STDIN_FILENO,
            events: libc::POLLIN,
            revents: 0,
        }];
        // SAFETY: one valid pollfd, its length passed.
        if unsafe { libc::poll(fds.as_mut_ptr(), 1, 100) } <= 0 {
            continue; // the wait ran out, or a signal (EINTR): look at the flag again
        }
        let mut byte = 0u8;
        // SAFETY: reads at most one byte into `byte`.
        match unsafe { libc::read(libc::STDIN_FILENO, (&mut byte as *mut u8).cast(), 1) } {
            1 if byte == b'\n' => break,
            1 => line.push(byte),
            0 => break,
            _ if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => {}
            _ => bail!("reading the answer: {}", std::io::Error::last_os_error()),
        }
    }
    Ok(String::from_utf8_lossy(&line).trim().to_string())
}

enum OnPath {
    Found,
    /// Only a file without execute permission has that name (the first one found).
    NotExecutable(PathBuf),
    Missing,
}

/// The vendor CLI as the OS would find it: an executable file in a PATH directory. A
/// non-executable file of that name is skipped, as execvp(3) skips it, but remembered: it
/// is most likely the CLI with broken permissions.
fn find_on_path(bin: &str, path: Option<&str>) -> OnPath {
    use std::os::unix::fs::PermissionsExt;
    let Some(path) = path else {
        return OnPath::Missing;
    };
    let mut not_executable = None;
    for candidate in std::env::split_paths(path).map(|dir| dir.join(bin)) {
        match std::fs::metadata(&candidate) {
            Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => return OnPath::Found,
            Ok(m) if m.is_file() => {
                not_executable.get_or_insert(candidate);
            }
            _ => {}
        }
    }
    not_executable.map_or(OnPath::Missing, OnPath::NotExecutable)
}
