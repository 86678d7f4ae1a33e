//! What a run prints: the 0.8 lines (stdout, parsed by scripts — keep them byte for byte)
//! and the summary line.

use crate::term::{self, shown_key};
use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// One whole line on stdout, unless `--json` turned the human lines off.
pub fn out(line: &str) {
    if HUMAN_OFF.load(Ordering::Relaxed) {
        return;
    }
    term::out(line);
}

/// Set by `--json`: the human lines of `out` are dropped, the run's one JSON document goes
/// through `out_always`.
static HUMAN_OFF: AtomicBool = AtomicBool::new(false);

pub fn human_lines_off() {
    HUMAN_OFF.store(true, Ordering::Relaxed);
}

/// Text on stdout even under `--json`, as whole lines.
pub fn out_always(text: &str) {
    term::out(text);
}

/// One whole line on stderr.
pub fn err(line: &str) {
    term::err(line);
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
}
