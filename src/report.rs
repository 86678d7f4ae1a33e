//! What a run prints: the 0.8 lines (stdout, parsed by scripts — keep them byte for byte),
//! warnings on stderr, and the scrubbing of vendor output before vsync repeats any of it.

use crate::task::SecretTask;
use std::io::Write;
use std::sync::OnceLock;
use std::time::Duration;

/// One whole line on stdout. Lines are never torn (the lock is held for the write), and a
/// closed stdout (`vsync … | head`) is not an error: the sync goes on and its exit status
/// still tells the truth.
pub fn out(line: &str) {
    if HUMAN_OFF.load(std::sync::atomic::Ordering::Relaxed) {
        return;
    }
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}

/// Set by `--json`: the human lines of `out` are dropped, the run's one JSON document goes
/// through `out_always`.
static HUMAN_OFF: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub fn human_lines_off() {
    HUMAN_OFF.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// A line on stdout even under `--json`.
pub fn out_always(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{text}");
    let _ = stdout.flush();
}

/// One whole line on stderr.
pub fn err(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// Replaces every secret value of the run with `***` in text that came from a vendor CLI.
///
/// The search strings are built on first use: a clean run never scrubs, and at 10,000 keys
/// they would be a second copy of every value held for nothing.
pub struct Scrubber<'a> {
    tasks: &'a [SecretTask],
    /// Values read back from the target: secrets too.
    read_back: Vec<Vec<u8>>,
    /// Longest first, so a value containing another is replaced whole.
    needles: OnceLock<Vec<String>>,
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

    fn needles(&self) -> &[String] {
        self.needles.get_or_init(|| {
            let mut needles = Vec::new();
            let values = self.tasks.iter().map(|t| &t.value).chain(&self.read_back);
            for value in values {
                let value = String::from_utf8_lossy(value);
                if value.trim().is_empty() {
                    continue;
                }
                needles.push(value.to_string());
                needles.push(value.trim().to_string());
                // Vendors often echo a value escaped (JSON, Python repr) or one line of it.
                let escaped = serde_json::to_string(value.as_ref()).unwrap_or_default();
                needles.push(escaped.trim_matches('"').to_string());
                if value.contains('\n') {
                    needles.extend(
                        value
                            .lines()
                            .map(str::trim)
                            .filter(|l| l.len() >= 4)
                            .map(str::to_string),
                    );
                }
            }
            needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
            needles.dedup();
            needles
        })
    }

    /// Vendor output made fit for one WARNING line: values replaced, then newlines folded
    /// (in that order, so a multi-line value is matched whole), at most `SHOWN` bytes.
    /// When the output was `cut` by vsync's capture limit, its last bytes may be the start of
    /// a value that no longer matches whole, so as much as the longest value is dropped.
    pub fn vendor_text(&self, text: &str, cut: bool) -> String {
        const SHOWN: usize = 4096;
        let mut text = self.scrub(text);
        if cut {
            let longest = self.needles().first().map_or(0, String::len);
            let mut end = text.len().saturating_sub(longest);
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
        let mut text = text.to_string();
        for needle in self.needles() {
            if text.contains(needle.as_str()) {
                text = text.replace(needle.as_str(), "***");
            }
        }
        text
    }
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
/// part D6 adds. Keys are listed in env-file order.
pub fn summary_line(target: &str, results: &[(&str, Status)], elapsed: Duration) -> String {
    let secs = format!("{:.1}s", elapsed.as_secs_f64());
    let keys = |s: Status| -> Vec<&str> {
        results
            .iter()
            .filter(|(_, st)| *st == s)
            .map(|(k, _)| *k)
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
        assert_eq!(s.vendor_text("error ... ABCD", true), "error […]");
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
}
