//! What a run prints: the 0.8 lines (stdout, parsed by scripts — keep them byte for byte),
//! warnings on stderr, keys made safe to show, and the scrubbing of vendor output before
//! vsync repeats any of it.

use crate::exec::{Outcome, Said};
use crate::task::SecretTask;
use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);
static STDERR_CLOSED: AtomicBool = AtomicBool::new(false);
/// One line at a time from this process, on either stream: under `2>&1` both are one pipe,
/// and a line longer than the pipe's atomic size takes more than one write(2).
static WRITING: Mutex<()> = Mutex::new(());

/// One whole line on stdout. A closed stdout (`vsync … | head`) is not an error: the sync
/// goes on without it and its exit status still tells the truth.
pub fn out(line: &str) {
    if HUMAN_OFF.load(Ordering::Relaxed) {
        return;
    }
    write_line(libc::STDOUT_FILENO, &STDOUT_CLOSED, line);
}

/// Set by `--json`: the human lines of `out` are dropped, the run's one JSON document goes
/// through `out_always`.
static HUMAN_OFF: AtomicBool = AtomicBool::new(false);

pub fn human_lines_off() {
    HUMAN_OFF.store(true, Ordering::Relaxed);
}

/// Text on stdout even under `--json`, as whole lines.
pub fn out_always(text: &str) {
    write_line(libc::STDOUT_FILENO, &STDOUT_CLOSED, text);
}

/// One whole line on stderr.
pub fn err(line: &str) {
    write_line(libc::STDERR_FILENO, &STDERR_CLOSED, line);
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

/// Replaces every secret value of the run with `***` in text that came from a vendor CLI:
/// the value as it is, trimmed, line by line, and in the encodings vendors echo values in
/// (JSON string escapes, Python bytes repr, percent-encoding, base64). One pass over the
/// text, leftmost-longest, so a value containing another is replaced whole.
///
/// The automaton is built on first use: a clean run never scrubs, and at 10,000 keys it would
/// be a second copy of every value held for nothing.
pub struct Scrubber<'a> {
    tasks: &'a [SecretTask],
    /// Values read back from the target: secrets too.
    read_back: Vec<Vec<u8>>,
    needles: OnceLock<Needles>,
}

struct Needles {
    automaton: Automaton,
    longest: usize,
}

enum Automaton {
    /// No value is worth hiding (all empty or blank).
    Nothing,
    Built(AhoCorasick),
    /// Too large to build (beyond aho-corasick's state limits): vendor text is hidden whole.
    Failed,
}

impl<'a> Scrubber<'a> {
    pub fn new(tasks: &'a [SecretTask]) -> Scrubber<'a> {
        Scrubber {
            tasks,
            read_back: Vec::new(),
            needles: OnceLock::new(),
        }
    }

    /// Also hides `values` read back from the target.
    pub fn with_read_back(tasks: &'a [SecretTask], values: Vec<Vec<u8>>) -> Scrubber<'a> {
        Scrubber {
            read_back: values,
            ..Scrubber::new(tasks)
        }
    }

    fn needles(&self) -> &Needles {
        self.needles.get_or_init(|| {
            let mut needles = Vec::new();
            let values = self.tasks.iter().map(|t| &t.value).chain(&self.read_back);
            for value in values {
                needles.extend(value_needles(value));
            }
            needles.sort_unstable();
            needles.dedup();
            let longest = needles.iter().map(String::len).max().unwrap_or(0);
            if needles.is_empty() {
                return Needles {
                    automaton: Automaton::Nothing,
                    longest,
                };
            }
            let built = AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                // The quickest to build: a DFA over one 200 KiB value took over a minute,
                // and the text searched is small.
                .kind(Some(AhoCorasickKind::NoncontiguousNFA))
                .build(&needles);
            let automaton = built.map_or(Automaton::Failed, Automaton::Built);
            Needles { automaton, longest }
        })
    }

    /// Why a call failed, for a WARNING line: vsync's own words as they are (a value `2`
    /// must not turn "timed out after 2s" into "after ***s"), the vendor's stderr scrubbed.
    pub fn failure(&self, out: &Outcome) -> String {
        match out.describe() {
            Said::Vsync(words) => words,
            Said::Vendor(text) => self.vendor_text(&text, out.stderr_cut),
        }
    }

    /// Vendor output made fit for one WARNING line: values replaced, then newlines folded
    /// (in that order, so a multi-line value is matched whole), at most `SHOWN` bytes.
    /// When the output was `cut` by vsync's capture limit, its last bytes may be the start of
    /// a value that no longer matches whole, so as much as the longest needle is dropped.
    pub fn vendor_text(&self, text: &str, cut: bool) -> String {
        const SHOWN: usize = 4096;
        let mut text = self.scrub(text);
        if cut {
            let mut end = text.len().saturating_sub(self.needles().longest);
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
            text.push_str(" […]");
        }
        let mut line = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if line.len() > SHOWN {
            let mut end = SHOWN;
            while !line.is_char_boundary(end) {
                end -= 1;
            }
            line.truncate(end);
            line.push_str(" […]");
        }
        line
    }

    pub fn scrub(&self, text: &str) -> String {
        match &self.needles().automaton {
            Automaton::Nothing => text.to_string(),
            Automaton::Built(ac) => {
                let mut out = String::with_capacity(text.len());
                ac.replace_all_with(text, &mut out, |_, _, out| {
                    out.push_str("***");
                    true
                });
                out
            }
            Automaton::Failed => "***".to_string(),
        }
    }
}

/// Every form of one value the scrubber looks for. Blank values hide nothing (a needle of
/// spaces would mangle every message).
fn value_needles(value: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(value);
    if text.trim().is_empty() {
        return Vec::new();
    }
    let mut needles = vec![text.to_string(), text.trim().to_string()];
    for form in [text.as_ref(), text.trim()] {
        // JSON as serde/JavaScript write it, as Python writes it (ASCII only, hex in lower
        // case; Java and .NET write upper case), as Go writes it (`<>&` escaped for HTML).
        needles.push(json_escaped(form, false));
        needles.push(json_escaped(form, true));
        needles.push(upper_hex_escapes(&json_escaped(form, true)));
        needles.push(go_json_escaped(form));
    }
    // Python's repr is of the bytes, UTF-8 or not (aws quotes a value so).
    needles.extend(python_bytes_repr(value));
    needles.extend(python_bytes_repr(value.trim_ascii()));
    needles.extend(percent_encodings(value));
    needles.extend(base64_encodings(value));
    if text.contains('\n') {
        // A vendor may echo one line of a multi-line value (a PEM body line).
        needles.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| l.len() >= 4)
                .map(str::to_string),
        );
    }
    // vsync keeps no more than this of a vendor's stderr: a longer needle can never match.
    needles.retain(|n| !n.trim().is_empty() && n.len() <= crate::exec::STDERR_CAP);
    needles
}

/// A JSON string body (no quotes). `ascii_only`: every non-ASCII character as `\uXXXX`
/// (astral ones as a surrogate pair) and DEL escaped, as Python's `ensure_ascii` does.
fn json_escaped(text: &str, ascii_only: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if ascii_only && (c as u32) >= 0x7f => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// Go's `encoding/json`: `<`, `>`, `&` and the line separators escaped, the rest UTF-8.
fn go_json_escaped(text: &str) -> String {
    json_escaped(text, false)
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// `\u00e9` → `\u00E9` (Java and .NET write upper-case hex), the rest unchanged.
fn upper_hex_escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("\\u") {
        out.push_str(&rest[..at + 2]);
        rest = &rest[at + 2..];
        if let Some(hex) = rest
            .get(..4)
            .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            out.push_str(&hex.to_ascii_uppercase());
            rest = &rest[4..];
        }
    }
    out.push_str(rest);
    out
}

/// The inside of Python's `repr(bytes)`: `\\`, `\t`, `\n`, `\r`, `\xNN` for the rest
/// outside printable ASCII; `'` escaped only when the repr uses single quotes, which it
/// does unless the bytes hold a `'` and no `"`. Both spellings are returned.
fn python_bytes_repr(bytes: &[u8]) -> [String; 2] {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    [out.replace('\'', "\\'"), out]
}

/// Percent-encodings of the whole value: every byte but the unreserved ones as `%XX`
/// (upper- and lower-case hex), a space as `%20` or `+`, `/` kept or encoded (Python's
/// `quote` keeps it), and JavaScript's `encodeURIComponent`, which also keeps `!'()*`.
fn percent_encodings(value: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    for also_kept in ["", "/", "!'()*"] {
        for plus in [false, true] {
            for upper in [false, true] {
                let mut s = String::with_capacity(value.len() * 3);
                for &b in value {
                    if b.is_ascii_alphanumeric()
                        || b"-_.~".contains(&b)
                        || also_kept.as_bytes().contains(&b)
                    {
                        s.push(b as char);
                    } else if b == b' ' && plus {
                        s.push('+');
                    } else if upper {
                        s.push_str(&format!("%{b:02X}"));
                    } else {
                        s.push_str(&format!("%{b:02x}"));
                    }
                }
                out.push(s);
            }
        }
    }
    out
}

/// Base64 of the whole value: standard and URL-safe alphabets, with and without padding.
fn base64_encodings(value: &[u8]) -> [String; 4] {
    const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut padded = String::with_capacity(value.len().div_ceil(3) * 4);
    for chunk in value.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                padded.push(STANDARD[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                padded.push('=');
            }
        }
    }
    let unpadded = padded.trim_end_matches('=').to_string();
    let url_safe = |s: &str| s.replace('+', "-").replace('/', "_");
    [url_safe(&padded), url_safe(&unpadded), padded, unpadded]
}

/// Where a key ended up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Synced,
    Failed,
    /// Never started: interrupted, or past the run deadline.
    NotAttempted,
}

/// The final line of 0.8 (`✅ …` or `target: N ok, M failed (…) in Xs`), plus the not-attempted
/// part of an interrupted run or one that hit its deadline. Keys are listed in env-file order.
pub fn summary_line(target: &str, results: &[(&str, Status)], elapsed: Duration) -> String {
    let secs = format!("{:.1}s", elapsed.as_secs_f64());
    let keys = |s: Status| -> Vec<Cow<'_, str>> {
        results
            .iter()
            .filter(|(_, st)| *st == s)
            .map(|(k, _)| shown_key(k))
            .collect()
    };
    // Synced keys are only counted: at 10,000 keys a list of them was a transient 160 KB
    // at the very end of the run, when the resident set is largest.
    let ok = results
        .iter()
        .filter(|(_, st)| *st == Status::Synced)
        .count();
    let (failed, skipped) = (keys(Status::Failed), keys(Status::NotAttempted));
    if failed.is_empty() && skipped.is_empty() {
        return format!("✅ {ok} secrets synced to {target} in {secs}.");
    }
    let mut line = format!("{target}: {ok} ok, {} failed", failed.len());
    if !failed.is_empty() {
        line.push_str(&format!(" ({})", failed.join(", ")));
    }
    if !skipped.is_empty() {
        line.push_str(&format!(
            ", {} not attempted ({})",
            skipped.len(),
            skipped.join(", ")
        ));
    }
    line.push_str(&format!(" in {secs}"));
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::Source;

    fn task(value: &str) -> SecretTask {
        SecretTask {
            key: "K".into(),
            value: value.as_bytes().to_vec(),
            source: Source::Literal,
            line: 1,
        }
    }

    #[test]
    fn the_success_line_matches_08() {
        let r = [("A", Status::Synced), ("B", Status::Synced)];
        assert_eq!(
            summary_line("gh", &r, Duration::from_millis(2340)),
            "✅ 2 secrets synced to gh in 2.3s."
        );
    }

    #[test]
    fn the_failure_line_names_failed_keys_in_file_order() {
        let r = [
            ("A", Status::Failed),
            ("B", Status::Synced),
            ("C", Status::Failed),
        ];
        assert_eq!(
            summary_line("gcp", &r, Duration::from_millis(2000)),
            "gcp: 1 ok, 2 failed (A, C) in 2.0s"
        );
    }

    #[test]
    fn keys_never_started_are_reported_as_not_attempted() {
        let r = [
            ("A", Status::Synced),
            ("B", Status::Failed),
            ("C", Status::NotAttempted),
        ];
        assert_eq!(
            summary_line("aws", &r, Duration::from_millis(50)),
            "aws: 1 ok, 1 failed (B), 1 not attempted (C) in 0.1s"
        );
        let r = [("A", Status::Synced), ("C", Status::NotAttempted)];
        assert_eq!(
            summary_line("aws", &r, Duration::ZERO),
            "aws: 1 ok, 0 failed, 1 not attempted (C) in 0.0s"
        );
    }

    #[test]
    fn scrubbing_hides_values_raw_escaped_and_line_by_line() {
        let tasks = [task("hunter22"), task("line-one\nline-two"), task(" ")];
        let s = Scrubber::new(&tasks);
        assert_eq!(s.scrub("bad value hunter22!"), "bad value ***!");
        assert_eq!(s.scrub("got 'line-one\\nline-two'"), "got '***'");
        assert_eq!(s.scrub("partial line-two only"), "partial *** only");
        assert_eq!(s.scrub("nothing here"), "nothing here");
    }

    #[test]
    fn values_read_back_from_the_target_are_hidden_too() {
        let tasks = [task("new-value")];
        let s = Scrubber::with_read_back(&tasks, vec![b"old-value-9".to_vec()]);
        assert_eq!(s.scrub("was old-value-9 now new-value"), "was *** now ***");
    }

    #[test]
    fn a_multi_line_value_is_hidden_before_newlines_are_folded() {
        let tasks = [task("k9x\n3f2\n8ab\n")];
        let s = Scrubber::new(&tasks);
        assert_eq!(s.vendor_text("echo: k9x\n3f2\n8ab\n!", false), "echo: ***!");
        assert_eq!(s.vendor_text("trimmed k9x\n3f2\n8ab", false), "trimmed ***");
    }

    #[test]
    fn cut_output_loses_the_tail_where_a_partial_value_may_hide() {
        let tasks = [task("ABCDEFGH")];
        let s = Scrubber::new(&tasks);
        // The longest needle is the value's base64, 12 bytes: that much goes.
        assert_eq!(s.vendor_text("error         ABCD", true), "error […]");
        assert_eq!(
            s.vendor_text("error ABCDEFGH and more text", false),
            "error *** and more text"
        );
    }

    #[test]
    fn a_longer_value_is_replaced_whole_before_a_shorter_one_inside_it() {
        let tasks = [task("abc"), task("xxabcxx")];
        let s = Scrubber::new(&tasks);
        assert_eq!(s.scrub("v=xxabcxx"), "v=***");
    }

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

    #[test]
    fn vsync_s_own_words_are_never_scrubbed() {
        use crate::exec::Exit;
        let tasks = [task("2"), task("403")];
        let s = Scrubber::new(&tasks);
        let outcome = |exit, stderr: &str| Outcome {
            exit,
            stdout: Vec::new(),
            stderr: stderr.as_bytes().to_vec(),
            stderr_cut: false,
        };
        let timed_out = outcome(Exit::TimedOut(Duration::from_secs(2)), "");
        assert_eq!(s.failure(&timed_out), "timed out after 2s");
        assert_eq!(s.failure(&outcome(Exit::Code(2), "")), "exit 2");
        // The vendor's text is scrubbed, short values included.
        assert_eq!(s.failure(&outcome(Exit::Code(1), "HTTP 403\n")), "HTTP ***");
    }

    #[test]
    fn json_escapes_as_python_and_go_write_them_are_hidden() {
        let tasks = [task("pä<ss>&w\"o\\rd😀\n")];
        let s = Scrubber::new(&tasks);
        // json.dumps (ensure_ascii): non-ASCII as \uXXXX, astral as a surrogate pair.
        let python = r#"{"v": "p\u00e4<ss>&w\"o\\rd\ud83d\ude00\n"}"#;
        assert_eq!(s.scrub(python), r#"{"v": "***"}"#);
        assert_eq!(
            s.scrub(
                &python
                    .replace("00e4", "00E4")
                    .replace("d83d\\ude00", "D83D\\uDE00")
            ),
            r#"{"v": "***"}"#
        );
        // Go: UTF-8 kept, <>& escaped.
        let go = r#"{"v":"pä\u003css\u003e\u0026w\"o\\rd😀\n"}"#;
        assert_eq!(s.scrub(go), r#"{"v":"***"}"#);
        // serde / JavaScript.
        assert_eq!(s.scrub(r#"["pä<ss>&w\"o\\rd😀\n"]"#), r#"["***"]"#);
    }

    #[test]
    fn python_bytes_reprs_are_hidden() {
        let tasks = [task("it's\ta\\b\u{7f}é\n"), task("plain'quote")];
        let s = Scrubber::new(&tasks);
        assert_eq!(s.scrub(r"got b'it\'s\ta\\b\x7f\xc3\xa9\n'"), "got b'***'");
        assert_eq!(
            s.scrub(r#"got b"it's\ta\\b\x7f\xc3\xa9\n""#),
            "got b\"***\""
        );
        assert_eq!(s.scrub(r#"b"plain'quote""#), "b\"***\"");
        let mut raw = task("");
        raw.value = b"\xff\x00bin".to_vec();
        let tasks = [raw];
        let s = Scrubber::new(&tasks);
        assert_eq!(s.scrub(r"b'\xff\x00bin'"), "b'***'");
    }

    #[test]
    fn percent_encodings_are_hidden() {
        let tasks = [task("a b/c?d=é&(x)")];
        let s = Scrubber::new(&tasks);
        for encoded in [
            "a%20b%2Fc%3Fd%3D%C3%A9%26%28x%29",
            "a+b%2Fc%3Fd%3D%C3%A9%26%28x%29",
            "a%20b%2fc%3fd%3d%c3%a9%26%28x%29",
            "a+b/c%3Fd%3D%C3%A9%26%28x%29",
            "a%20b%2Fc%3Fd%3D%C3%A9%26(x)",
        ] {
            assert_eq!(
                s.scrub(&format!("url ?q={encoded} end")),
                "url ?q=*** end",
                "{encoded}"
            );
        }
    }

    #[test]
    fn base64_of_the_whole_value_is_hidden() {
        let tasks = [task("s3cr3t>?~")];
        let s = Scrubber::new(&tasks);
        // base64("s3cr3t>?~") = "czNjcjN0Pj9+" — the last group holds + (URL-safe: -).
        for encoded in ["czNjcjN0Pj9+", "czNjcjN0Pj9-"] {
            assert_eq!(s.scrub(&format!("data={encoded};")), "data=***;");
        }
        let tasks = [task("hunter2")];
        let s = Scrubber::new(&tasks);
        for encoded in ["aHVudGVyMg==", "aHVudGVyMg"] {
            assert_eq!(s.scrub(&format!("data={encoded};")), "data=***;");
        }
        assert_eq!(base64_encodings(b"\xfb\xff")[2], "+/8=");
        assert_eq!(base64_encodings(b"\xfb\xff")[0], "-_8=");
        assert_eq!(base64_encodings(b"")[2], "");
    }

    #[test]
    fn a_clean_run_builds_no_automaton() {
        let tasks = [task("hunter22")];
        let s = Scrubber::new(&tasks);
        assert!(s.needles.get().is_none());
        assert_eq!(s.scrub("x"), "x");
        assert!(s.needles.get().is_some());
        let blank = [task("  "), task("")];
        assert_eq!(Scrubber::new(&blank).vendor_text("a  b", true), "a b […]");
    }
}
