//! Scrubbing: every secret value of the run replaced with `***` in text that came from a
//! vendor CLI, before vsync repeats any of it (a warning, the JSON document's `error`).
//!
//! A leaf apart from the tasks it scrubs for and the call outcomes it explains.

use crate::outcome::{Outcome, Reason, STDERR_CAP};
use crate::task::SecretTask;
use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_encode};
use std::sync::OnceLock;

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
                // The quickest to build: a DFA over one 200 KiB value takes over a minute,
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
            Reason::Vsync(words) => words,
            Reason::Vendor(text) => self.vendor_text(&text, out.stderr_cut),
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
    needles.retain(|n| !n.trim().is_empty() && n.len() <= STDERR_CAP);
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

/// What percent-encoding keeps as it is: RFC 3986's unreserved characters.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
/// Python's `quote`: `/` kept too.
const UNRESERVED_AND_SLASH: &AsciiSet = &UNRESERVED.remove(b'/');
/// JavaScript's `encodeURIComponent`: `!'()*` kept too.
const URI_COMPONENT: &AsciiSet = &UNRESERVED
    .remove(b'!')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*');

/// Percent-encodings of the whole value: every byte but the unreserved ones as `%XX`
/// (upper- and lower-case hex), a space as `%20` or `+`, `/` kept or encoded (Python's
/// `quote` keeps it), and JavaScript's `encodeURIComponent`, which also keeps `!'()*`.
fn percent_encodings(value: &[u8]) -> Vec<String> {
    let sets = [UNRESERVED, UNRESERVED_AND_SLASH, URI_COMPONENT];
    let mut out = Vec::new();
    for set in sets {
        let upper = percent_encode(value, set).to_string();
        // Every `%` of the output starts an escape (a `%` of the value is `%25`), so `%20`
        // is always a space.
        let plus = upper.replace("%20", "+");
        for s in [upper, plus] {
            out.push(lower_hex_escapes(&s));
            out.push(s);
        }
    }
    out
}

/// `%C3%A9` → `%c3%a9`; the characters between escapes unchanged.
fn lower_hex_escapes(encoded: &str) -> String {
    let mut out = String::with_capacity(encoded.len());
    let mut rest = encoded;
    while let Some(at) = rest.find('%') {
        let (before, escape) = rest.split_at(at);
        out.push_str(before);
        let end = escape.len().min(3);
        out.push_str(&escape[..end].to_ascii_lowercase());
        rest = &escape[end..];
    }
    out.push_str(rest);
    out
}

/// Base64 of the whole value: standard and URL-safe alphabets, with and without padding.
fn base64_encodings(value: &[u8]) -> [String; 4] {
    [URL_SAFE, URL_SAFE_NO_PAD, STANDARD, STANDARD_NO_PAD].map(|engine| engine.encode(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::Source;
    use std::time::Duration;

    fn task(value: &str) -> SecretTask {
        SecretTask {
            key: "K".into(),
            value: value.as_bytes().to_vec(),
            source: Source::Literal,
            line: 1,
        }
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
    fn vsync_s_own_words_are_never_scrubbed() {
        use crate::outcome::Exit;
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
