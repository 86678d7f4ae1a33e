//! The report of one run: every key with one state, the names in scope the file does not
//! define, where the secrets went, how the run ended — and from that, once, the exit status.
//! The summary line of the human report and the JSON document (`jsonout`) are both
//! renderings of it; nothing else decides what a run came to.
//!
//! Below `run`, above everything that runs vendor calls: no step of the pipeline imports it.

use crate::targets::Location;
use crate::term::shown_key;
use std::borrow::Cow;
use std::time::{Duration, Instant};

/// Which configuration of the pipeline ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Sync,
    /// `--diff`: read and compare, write nothing.
    Diff,
    /// `--dry-run`: plan only, run nothing.
    DryRun,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Sync => "sync",
            Mode::Diff => "diff",
            Mode::DryRun => "dry_run",
        }
    }
}

/// Where one key ended up (or, for a name in scope the file does not define, what became of
/// it). One enum for every mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// `--dry-run`: would be written.
    Planned,
    /// `--diff`: not on the target; a sync creates it.
    Create,
    /// `--diff`: stored with another value; a sync updates it.
    Update,
    /// The target holds the file's value: `--diff`'s `=`, or left alone by
    /// `--skip-unchanged`.
    Unchanged,
    /// `--diff`: there, or maybe there, but its value could not be read.
    Unknown,
    /// Written, and the read said it was not there.
    Created,
    /// Written over another value.
    Updated,
    /// Written; whether it existed was not read.
    Written,
    Failed,
    /// Never started: interrupted, or past the run deadline.
    NotAttempted,
    /// Skipped by `--exclude-property`.
    Excluded,
    /// In scope, not in the file, protected by `--keep`.
    Kept,
    /// `--diff`: in scope, not in the file; `--prune` would delete it.
    Delete,
    Deleted,
    DeleteFailed,
}

impl State {
    /// The name `--json` gives it.
    pub fn name(self) -> &'static str {
        match self {
            State::Planned => "planned",
            State::Create => "create",
            State::Update => "update",
            State::Unchanged => "unchanged",
            State::Unknown => "unknown",
            State::Created => "created",
            State::Updated => "updated",
            State::Written => "written",
            State::Failed => "failed",
            State::NotAttempted => "not_attempted",
            State::Excluded => "excluded",
            State::Kept => "kept",
            State::Delete => "delete",
            State::Deleted => "deleted",
            State::DeleteFailed => "delete_failed",
        }
    }

    /// A key of the file that is on the target as written.
    fn landed(self) -> bool {
        matches!(
            self,
            State::Created | State::Updated | State::Written | State::Unchanged
        )
    }
}

/// One key of the env file, or one name in scope the file does not define.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    /// The secret's name in the target.
    pub name: String,
    pub state: State,
    /// Vendor calls made for it (0: none).
    pub attempts: u32,
    /// The last call's error, scrubbed of every value.
    pub error: Option<String>,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Everything asked was tried.
    Done,
    /// A signal stopped it: calls in flight finished, nothing new started.
    Interrupted,
    /// The run deadline stopped it.
    Deadline,
    /// A step could not run (a read, a list, a prune): `RunReport::error` says why.
    Error,
}

impl Ended {
    pub fn name(self) -> &'static str {
        match self {
            Ended::Done => "done",
            Ended::Interrupted => "interrupted",
            Ended::Deadline => "deadline",
            Ended::Error => "error",
        }
    }
}

/// The documented exit statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Every secret synced, the dry run found nothing wrong, or `--diff` no difference.
    Success,
    /// Some secret or delete failed, or a step could not run.
    Failure,
    /// `--diff`: something differs.
    Differs,
    /// Interrupted: calls in flight finished, nothing new was started.
    Interrupted,
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::Differs => 2,
            ExitStatus::Interrupted => 130,
        }
    }
}

pub struct RunReport {
    pub mode: Mode,
    pub target: &'static str,
    pub env: String,
    pub location: Location,
    pub started: Instant,
    /// The file's keys in file order, then what the steps after the write added (the names
    /// in scope, the excluded keys) in the order they found them.
    pub entries: Vec<Entry>,
    /// Why a step could not run, when one could not.
    pub error: Option<String>,
    /// The error the run ends on, printed as `vsync: error: …`; unset when the step that
    /// failed has said so itself.
    pub fatal: Option<String>,
    pub interrupted: bool,
    pub deadline_reached: bool,
}

impl RunReport {
    pub fn new(mode: Mode, target: &'static str, env: &str, location: Location) -> RunReport {
        RunReport {
            mode,
            target,
            env: env.to_string(),
            location,
            started: Instant::now(),
            entries: Vec::new(),
            error: None,
            fatal: None,
            interrupted: false,
            deadline_reached: false,
        }
    }

    pub fn push(&mut self, entry: Entry) {
        self.entries.push(entry);
    }

    /// A step could not run; the run ends with this error.
    pub fn fail(&mut self, error: String) {
        self.fatal = Some(error.clone());
        self.error.get_or_insert(error);
    }

    /// A step could not run, and has said so on stderr.
    pub fn fail_said(&mut self, error: impl Into<String>) {
        self.error.get_or_insert(error.into());
    }

    /// Whether every key of the file that was to be written landed.
    pub fn all_stored(&self) -> bool {
        !self
            .entries
            .iter()
            .any(|e| matches!(e.state, State::Failed | State::NotAttempted))
    }

    pub fn ended(&self) -> Ended {
        if self.interrupted {
            Ended::Interrupted
        } else if self.error.is_some() {
            Ended::Error
        } else if self.deadline_reached && !self.all_stored() {
            Ended::Deadline
        } else {
            Ended::Done
        }
    }

    /// The exit status, decided here and nowhere else.
    pub fn exit(&self) -> ExitStatus {
        let failed = self.error.is_some()
            || self.entries.iter().any(|e| {
                matches!(
                    e.state,
                    State::Failed | State::NotAttempted | State::DeleteFailed
                )
            });
        let differs = self.entries.iter().any(|e| {
            matches!(
                e.state,
                State::Create | State::Update | State::Unknown | State::Delete
            )
        });
        if self.interrupted {
            ExitStatus::Interrupted
        } else if failed {
            ExitStatus::Failure
        } else if self.mode == Mode::Diff && differs {
            ExitStatus::Differs
        } else {
            ExitStatus::Success
        }
    }

    /// The human report's last line: the 0.8 summary of the file's keys, and how many were
    /// left alone when a read found them unchanged.
    pub fn summary_line(&self, elapsed: Duration) -> String {
        let results: Vec<(&str, State)> = self
            .entries
            .iter()
            .filter(|e| e.state.landed() || matches!(e.state, State::Failed | State::NotAttempted))
            .map(|e| (e.key.as_str(), e.state))
            .collect();
        let mut line = summary_line(self.target, &results, elapsed);
        let unchanged = results
            .iter()
            .filter(|(_, s)| *s == State::Unchanged)
            .count();
        if unchanged > 0 {
            line.push_str(&format!(" {unchanged} unchanged (no new version written)."));
        }
        line
    }
}

/// The final line of 0.8 (`✅ …` or `target: N ok, M failed (…) in Xs`), plus the not-attempted
/// part of an interrupted run or one that hit its deadline. Keys are listed in env-file order.
pub fn summary_line(target: &str, results: &[(&str, State)], elapsed: Duration) -> String {
    let secs = format!("{:.1}s", elapsed.as_secs_f64());
    let keys = |s: State| -> Vec<Cow<'_, str>> {
        results
            .iter()
            .filter(|(_, st)| *st == s)
            .map(|(k, _)| shown_key(k))
            .collect()
    };
    // Keys that landed are only counted: at 10,000 keys a list of them would be a transient
    // 160 KB at the very end of the run, when the resident set is largest.
    let ok = results.iter().filter(|(_, st)| st.landed()).count();
    let (failed, skipped) = (keys(State::Failed), keys(State::NotAttempted));
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
        let r = [("A", State::Written), ("B", State::Unchanged)];
        assert_eq!(
            summary_line("gh", &r, Duration::from_millis(2340)),
            "✅ 2 secrets synced to gh in 2.3s."
        );
    }

    #[test]
    fn the_failure_line_names_failed_keys_in_file_order() {
        let r = [
            ("A", State::Failed),
            ("B", State::Created),
            ("C", State::Failed),
        ];
        assert_eq!(
            summary_line("gcp", &r, Duration::from_millis(2000)),
            "gcp: 1 ok, 2 failed (A, C) in 2.0s"
        );
    }

    #[test]
    fn keys_never_started_are_reported_as_not_attempted() {
        let r = [
            ("A", State::Updated),
            ("B", State::Failed),
            ("C", State::NotAttempted),
        ];
        assert_eq!(
            summary_line("aws", &r, Duration::from_millis(50)),
            "aws: 1 ok, 1 failed (B), 1 not attempted (C) in 0.1s"
        );
        let r = [("A", State::Written), ("C", State::NotAttempted)];
        assert_eq!(
            summary_line("aws", &r, Duration::ZERO),
            "aws: 1 ok, 0 failed, 1 not attempted (C) in 0.0s"
        );
    }

    fn report(mode: Mode, states: &[State]) -> RunReport {
        let location = Location {
            service: "AWS Secrets Manager",
            fields: vec![("region", "r".into())],
        };
        let mut r = RunReport::new(mode, "aws", "dev", location);
        for (i, state) in states.iter().enumerate() {
            r.push(Entry {
                key: format!("K{i}"),
                name: format!("K{i}"),
                state: *state,
                attempts: 0,
                error: None,
            });
        }
        r
    }

    #[test]
    fn the_exit_status_is_decided_by_the_report_alone() {
        use State::*;
        let exit = |mode, states: &[State]| report(mode, states).exit().code();
        assert_eq!(
            exit(Mode::Sync, &[Created, Unchanged, Excluded, Deleted]),
            0
        );
        assert_eq!(exit(Mode::Sync, &[Created, Failed]), 1);
        assert_eq!(exit(Mode::Sync, &[Created, NotAttempted]), 1);
        assert_eq!(exit(Mode::Sync, &[Created, DeleteFailed]), 1);
        assert_eq!(exit(Mode::Diff, &[Unchanged, Kept, Excluded]), 0);
        for differs in [Create, Update, Unknown, Delete] {
            assert_eq!(exit(Mode::Diff, &[Unchanged, differs]), 2, "{differs:?}");
        }
        assert_eq!(exit(Mode::DryRun, &[Planned]), 0);
        let mut failed = report(Mode::Diff, &[Create]);
        failed.fail("cannot list aws: denied".into());
        assert_eq!(failed.exit(), ExitStatus::Failure);
        assert_eq!(failed.ended(), Ended::Error);
        let mut stopped = report(Mode::Diff, &[Unknown]);
        stopped.interrupted = true;
        assert_eq!(stopped.exit(), ExitStatus::Interrupted);
        assert_eq!(stopped.ended(), Ended::Interrupted);
        let mut late = report(Mode::Sync, &[Created, NotAttempted]);
        late.deadline_reached = true;
        assert_eq!(late.ended(), Ended::Deadline);
    }

    #[test]
    fn the_summary_counts_the_files_keys_and_says_how_many_were_left_alone() {
        use State::*;
        let r = report(Mode::Sync, &[Created, Unchanged, Unchanged, Excluded, Kept]);
        assert_eq!(
            r.summary_line(Duration::ZERO),
            "✅ 3 secrets synced to aws in 0.0s. 2 unchanged (no new version written)."
        );
    }
}
