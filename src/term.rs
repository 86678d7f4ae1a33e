//! The terminal end of every line vsync prints: whole lines written to stdout or stderr in one
//! write(2) each, a closed stream tolerated, and keys made safe to show.
//!
//! A leaf: it imports nothing of the crate, so the interrupt handler, the process runner and
//! the renderers can all print through it without depending on each other. Which lines a
//! run prints, and in which order, is decided by the run and its steps; whether its stdout
//! lines are shown is the `Lines` it is given.

use std::borrow::Cow;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);
static STDERR_CLOSED: AtomicBool = AtomicBool::new(false);
/// One line at a time from this process, on either stream: under `2>&1` both are one pipe,
/// and a line longer than the pipe's atomic size takes more than one write(2).
static WRITING: Mutex<()> = Mutex::new(());

/// One whole line on stdout. A closed stdout (`vsync … | head`) is not an error: the sync
/// goes on without it and its exit status still tells the truth.
pub fn out(line: &str) {
    write_line(libc::STDOUT_FILENO, &STDOUT_CLOSED, line);
}

/// One whole line on stderr.
pub fn err(line: &str) {
    write_line(libc::STDERR_FILENO, &STDERR_CLOSED, line);
}

/// Where the lines of a run go as it happens. The human report shows its stdout lines as
/// they come (progress stays live); a run that ends in one JSON document keeps stdout for
/// it. Warnings and errors go to stderr either way.
pub trait Lines: Sync {
    /// A line of the human report (stdout).
    fn out(&self, line: &str);

    /// A warning, note or error (stderr), shown in every mode.
    fn err(&self, line: &str) {
        err(line);
    }
}

/// The human report: stdout lines printed as they come.
pub struct Shown;

impl Lines for Shown {
    fn out(&self, line: &str) {
        out(line);
    }
}

/// Under `--json`: stdout lines are left out; the document is printed at the end.
pub struct Withheld;

impl Lines for Withheld {
    fn out(&self, _: &str) {}
}

/// The line and its newline go out in one write(2) on the raw descriptor (no stdio buffer in
/// between), so under `2>&1` no other line can land between the text and its `\n`, and a
/// line up to the pipe's atomic size is never split at all. After EPIPE or EBADF the stream
/// is dropped for the rest of the run.
fn write_line(fd: libc::c_int, closed: &AtomicBool, line: &str) {
    if closed.load(Ordering::Relaxed) {
        return;
    }
    let mut buf = Vec::with_capacity(line.len() + 1);
    buf.extend_from_slice(line.as_bytes());
    buf.push(b'\n');
    let _one_at_a_time = WRITING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut rest = &buf[..];
    while !rest.is_empty() {
        // SAFETY: `rest` is a live buffer of `rest.len()` bytes; fd 1 or 2 may be closed,
        // which write(2) reports as EBADF.
        let n = unsafe { libc::write(fd, rest.as_ptr().cast(), rest.len()) };
        if n > 0 {
            rest = &rest[n as usize..];
            continue;
        }
        let errno = std::io::Error::last_os_error().raw_os_error();
        match errno {
            Some(libc::EINTR) => continue,
            Some(libc::EPIPE | libc::EBADF) => closed.store(true, Ordering::Relaxed),
            // Anything else (a full disk, a non-blocking descriptor) loses this line only.
            _ => {}
        }
        return;
    }
}

/// How many characters of a key are shown; the rest becomes `…`.
const KEY_SHOWN: usize = 64;

/// A key (or anything key-derived) made safe to print: control characters, bidi overrides
/// and isolates and other invisible formatting characters are escaped (`\u{1b}`, `\n`), so a
/// key cannot drive the terminal or reorder the line it is printed in; a key longer than 64
/// characters is cut there and ends in `…`. A key of printable characters comes back as is,
/// borrowed, so the stdout lines of an ordinary run stay byte for byte what they were.
pub fn shown_key(key: &str) -> Cow<'_, str> {
    let long = key.chars().nth(KEY_SHOWN).is_some();
    if !long && !key.chars().any(hidden) {
        return Cow::Borrowed(key);
    }
    let mut shown = String::new();
    for c in key.chars().take(KEY_SHOWN) {
        match c {
            '\n' => shown.push_str("\\n"),
            '\r' => shown.push_str("\\r"),
            '\t' => shown.push_str("\\t"),
            c if hidden(c) => shown.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => shown.push(c),
        }
    }
    if long {
        shown.push('…');
    }
    Cow::Owned(shown)
}

/// Characters that must not reach a terminal as they are: C0/C1 controls, bidi embeddings,
/// overrides, marks and isolates, zero-width and other invisible format characters, line
/// and paragraph separators, and the byte-order mark and noncharacters.
fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{ad}'
                | '\u{61c}'
                | '\u{180e}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{206f}'
                | '\u{feff}'
                | '\u{fff9}'..='\u{fffb}'
                | '\u{fffe}'
                | '\u{ffff}'
                | '\u{e0000}'..='\u{e007f}'
        )
}

/// The `--exclude-property=KEY` a user can paste into a POSIX shell to skip this key, the
/// key single-quoted when it holds anything a shell could read differently. `None` when the
/// key cannot be shown whole (escaped or cut), since a hint built from it would name some
/// other key.
pub fn exclude_hint(key: &str) -> Option<String> {
    if shown_key(key) != key {
        return None;
    }
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.,/:@%+=-".contains(c));
    Some(if plain {
        format!("--exclude-property={key}")
    } else {
        format!("--exclude-property='{}'", key.replace('\'', r"'\''"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_keys_are_shown_as_they_are() {
        for key in [
            "API_KEY",
            "db-url",
            "app/dev/X+y=z.w@v",
            "clé",
            "a\\b",
            "say \"hi\"",
        ] {
            assert!(
                matches!(shown_key(key), Cow::Borrowed(k) if k == key),
                "{key}"
            );
        }
    }

    #[test]
    fn control_and_bidi_characters_in_keys_are_escaped() {
        assert_eq!(shown_key("A\u{1b}[31mB\u{7}"), "A\\u{1b}[31mB\\u{7}");
        assert_eq!(shown_key("X\u{202e}Y\u{2066}Z"), "X\\u{202e}Y\\u{2066}Z");
        assert_eq!(shown_key("A\nB\rC\tD"), "A\\nB\\rC\\tD");
        assert_eq!(
            shown_key("zero\u{200b}width\u{feff}"),
            "zero\\u{200b}width\\u{feff}"
        );
        assert_eq!(shown_key("c1\u{9b}"), "c1\\u{9b}");
    }

    proptest::proptest! {
        #[test]
        fn any_key_is_shown_without_hidden_characters(key in proptest::prelude::any::<String>()) {
            let shown = shown_key(&key);
            proptest::prop_assert!(!shown.chars().any(hidden), "{shown:?}");
            let long = key.chars().count() > KEY_SHOWN;
            if long {
                proptest::prop_assert!(shown.ends_with('…'));
            } else if !key.chars().any(hidden) {
                proptest::prop_assert_eq!(shown.as_ref(), key.as_str());
            }
            // A hint is offered only for a key shown as it is.
            if exclude_hint(&key).is_some() {
                proptest::prop_assert_eq!(shown.as_ref(), key.as_str());
            }
        }
    }

    #[test]
    fn long_keys_are_cut_to_64_characters() {
        let key = "é".repeat(100);
        assert_eq!(shown_key(&key), format!("{}…", "é".repeat(64)));
        assert_eq!(shown_key(&"A".repeat(64)), "A".repeat(64));
        let huge = "A".repeat(21 << 20);
        assert_eq!(shown_key(&huge).len(), 64 + '…'.len_utf8());
    }

    #[test]
    fn exclude_hints_are_quoted_for_the_shell_or_withheld() {
        assert_eq!(exclude_hint("DB_URL").unwrap(), "--exclude-property=DB_URL");
        assert_eq!(
            exclude_hint("a/b:c@d%e+f=g,h.i-j").unwrap(),
            "--exclude-property=a/b:c@d%e+f=g,h.i-j"
        );
        assert_eq!(exclude_hint("A B").unwrap(), "--exclude-property='A B'");
        assert_eq!(
            exclude_hint("it's").unwrap(),
            r"--exclude-property='it'\''s'"
        );
        assert_eq!(
            exclude_hint("$(x)`y`").unwrap(),
            "--exclude-property='$(x)`y`'"
        );
        assert_eq!(exclude_hint("").unwrap(), "--exclude-property=''");
        assert_eq!(exclude_hint("A\u{1b}B"), None);
        assert_eq!(exclude_hint(&"A".repeat(65)), None);
    }
}
