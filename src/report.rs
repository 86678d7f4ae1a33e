//! The report of one run: every key with one state, the names in scope the file does not
//! define, where the secrets went, how the run ended — and from that, once, the exit status.
//! The summary line of the human report and the JSON document (`jsonout`) are both
//! renderings of it; nothing else decides what a run came to.
//!
//! Below `run`, above everything that runs vendor calls: no step of the pipeline imports it.

use crate::targets::{Location, Target};
use crate::task::SecretTask;
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
    /// `--diff`: a deleted secret of vsync's holds the name; a sync recovers it, then writes.
    Recover,
    /// `--diff`: a deleted secret that is not this repo's and env's holds the name.
    Blocked,
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
            State::Recover => "recover",
            State::Blocked => "blocked",
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

/// A name in scope the file does not define, or a key the file excludes: what the steps
/// after the plan add, in the order they find them.
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

/// One entry of the report as the renderers see it: a key of the file or another name.
pub struct View<'r> {
    pub key: &'r str,
    pub name: Cow<'r, str>,
    pub state: State,
    pub attempts: u32,
    pub error: Option<&'r str>,
    /// Calls for it that the store throttled.
    pub throttles: u32,
    /// A deleted secret of vsync's held the name and was recovered before the write: the
    /// state says whether the new value then landed (if not, it holds its old value again).
    pub recovered: bool,
}

/// How one key of the file ended, beyond its state: only the few keys that have more to say
/// than a state and a call count carry one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub attempts: u32,
    /// The last call's error, scrubbed of every value.
    pub error: Option<String>,
    pub throttles: u32,
    pub recovered: bool,
}

/// What a few keys have to say beyond a state and a call count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct More {
    error: Option<String>,
    throttles: u32,
    recovered: bool,
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

/// The file's keys are held as columns — a state and a call count each, borrowed keys,
/// the few errors apart — and their names are spelt only when the JSON document is
/// rendered: at 10,000 keys an entry with its own strings per key would be the largest
/// allocation of the run.
pub struct RunReport<'a> {
    pub mode: Mode,
    pub target: &'a dyn Target,
    pub env: &'a str,
    pub location: Location,
    pub started: Instant,
    /// The env file's keys, in file order; `states` and `attempts` hold one value each.
    tasks: &'a [SecretTask],
    states: Vec<State>,
    attempts: Vec<u8>,
    /// The errors, throttles and recoveries of the few keys that have them, by task index.
    more: Vec<(usize, More)>,
    /// After the file's keys: what the later steps added (excluded keys, names in scope).
    others: Vec<Entry>,
    /// Why a step could not run, when one could not.
    pub error: Option<String>,
    /// The error the run ends on, printed as `vsync: error: …`; unset when the step that
    /// failed has said so itself.
    pub fatal: Option<String>,
    pub interrupted: bool,
    pub deadline_reached: bool,
    /// Vendor calls the store throttled in this run (each one paced the whole target).
    pub throttles: u64,
}

impl<'a> RunReport<'a> {
    /// Every key of `tasks` starts as not attempted: a step that reaches it says more.
    pub fn new(
        mode: Mode,
        target: &'a dyn Target,
        env: &'a str,
        tasks: &'a [SecretTask],
    ) -> RunReport<'a> {
        RunReport {
            mode,
            target,
            env,
            location: target.location(),
            started: Instant::now(),
            tasks,
            states: vec![State::NotAttempted; tasks.len()],
            attempts: vec![0; tasks.len()],
            more: Vec::new(),
            others: Vec::new(),
            error: None,
            fatal: None,
            interrupted: false,
            deadline_reached: false,
            throttles: 0,
        }
    }

    /// The target's name (`aws`).
    pub fn target_name(&self) -> &'static str {
        self.target.backend().name
    }

    /// Where the `i`th key of the file ended up.
    pub fn set(&mut self, i: usize, state: State) {
        self.states[i] = state;
    }

    /// Where the `i`th key ended up after its vendor calls.
    pub fn record(&mut self, i: usize, state: State, outcome: Outcome) {
        self.states[i] = state;
        self.attempts[i] = outcome.attempts.min(u8::MAX.into()) as u8;
        let more = More {
            error: outcome.error,
            throttles: outcome.throttles,
            recovered: outcome.recovered,
        };
        if more != More::default() {
            self.more.push((i, more));
        }
    }

    /// A name after the file's keys.
    pub fn push(&mut self, entry: Entry) {
        self.others.push(entry);
    }

    /// Every entry in order: the file's keys, then the others.
    pub fn entries(&self) -> impl Iterator<Item = View<'_>> + '_ {
        // `more` is in the order keys landed; one pass in task order needs it sorted.
        let mut more: Vec<&(usize, More)> = self.more.iter().collect();
        more.sort_unstable_by_key(|(i, _)| *i);
        let mut more = more.into_iter().peekable();
        let tasks = self.tasks.iter().enumerate().map(move |(i, task)| {
            let extra = more.next_if(|(at, _)| *at == i).map(|(_, m)| m);
            View {
                key: &task.key,
                name: self.target.secret_name(&task.key),
                state: self.states[i],
                attempts: u32::from(self.attempts[i]),
                error: extra.and_then(|m| m.error.as_deref()),
                throttles: extra.map_or(0, |m| m.throttles),
                recovered: extra.is_some_and(|m| m.recovered),
            }
        });
        let others = self.others.iter().map(|e| View {
            key: &e.key,
            name: Cow::Borrowed(&e.name),
            state: e.state,
            attempts: e.attempts,
            error: e.error.as_deref(),
            throttles: 0,
            recovered: false,
        });
        tasks.chain(others)
    }

    fn states(&self) -> impl Iterator<Item = State> + '_ {
        self.states
            .iter()
            .copied()
            .chain(self.others.iter().map(|e| e.state))
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
            .states()
            .any(|s| matches!(s, State::Failed | State::NotAttempted))
    }

    pub fn ended(&self) -> Ended {
        if self.interrupted {
            Ended::Interrupted
        } else if self.deadline_reached && !self.all_stored() {
            // Before `error`: the deadline is why a later step (the prune) could not run.
            Ended::Deadline
        } else if self.error.is_some() {
            Ended::Error
        } else {
            Ended::Done
        }
    }

    /// The exit status, decided here and nowhere else.
    pub fn exit(&self) -> ExitStatus {
        let failed = self.error.is_some()
            || self
                .states()
                .any(|s| matches!(s, State::Failed | State::NotAttempted | State::DeleteFailed));
        let differs = self.states().any(|s| {
            matches!(
                s,
                State::Create
                    | State::Update
                    | State::Unknown
                    | State::Recover
                    | State::Blocked
                    | State::Delete
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
            .tasks
            .iter()
            .zip(&self.states)
            .map(|(t, s)| (t.key.as_str(), *s))
            .collect();
        let mut line = summary_line(self.target_name(), &results, elapsed);
        let unchanged = self
            .states
            .iter()
            .filter(|s| **s == State::Unchanged)
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

    fn tasks(n: usize) -> Vec<SecretTask> {
        (0..n)
            .map(|i| SecretTask {
                key: format!("K{i}"),
                value: b"v".to_vec(),
                source: crate::task::Source::Literal,
                line: i + 1,
            })
            .collect()
    }

    /// The file's keys with `states`, then `others` as names in scope.
    fn report<'a>(
        mode: Mode,
        target: &'a dyn Target,
        tasks: &'a [SecretTask],
        states: &[State],
        others: &[State],
    ) -> RunReport<'a> {
        let mut r = RunReport::new(mode, target, "dev", tasks);
        for (i, state) in states.iter().enumerate() {
            r.set(i, *state);
        }
        for (i, state) in others.iter().enumerate() {
            r.push(Entry {
                key: format!("X{i}"),
                name: format!("X{i}"),
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
        let aws = crate::targets::opened("aws", &[]);
        let t = tasks(2);
        let exit = |mode, states: &[State], others: &[State]| {
            report(mode, &*aws, &t, states, others).exit().code()
        };
        assert_eq!(
            exit(Mode::Sync, &[Created, Unchanged], &[Excluded, Deleted]),
            0
        );
        assert_eq!(exit(Mode::Sync, &[Created, Failed], &[]), 1);
        assert_eq!(exit(Mode::Sync, &[Created, NotAttempted], &[]), 1);
        assert_eq!(exit(Mode::Sync, &[Created, Written], &[DeleteFailed]), 1);
        assert_eq!(
            exit(Mode::Diff, &[Unchanged, Unchanged], &[Kept, Excluded]),
            0
        );
        for differs in [Create, Update, Unknown] {
            assert_eq!(
                exit(Mode::Diff, &[Unchanged, differs], &[]),
                2,
                "{differs:?}"
            );
        }
        assert_eq!(exit(Mode::Diff, &[Unchanged, Unchanged], &[Delete]), 2);
        assert_eq!(exit(Mode::DryRun, &[Planned, Planned], &[]), 0);
        let mut failed = report(Mode::Diff, &*aws, &t, &[Create, Create], &[]);
        failed.fail("cannot list aws: denied".into());
        assert_eq!(failed.exit(), ExitStatus::Failure);
        assert_eq!(failed.ended(), Ended::Error);
        let mut stopped = report(Mode::Diff, &*aws, &t, &[Unknown, Unknown], &[]);
        stopped.interrupted = true;
        assert_eq!(stopped.exit(), ExitStatus::Interrupted);
        assert_eq!(stopped.ended(), Ended::Interrupted);
        let mut late = report(Mode::Sync, &*aws, &t, &[Created, NotAttempted], &[]);
        late.deadline_reached = true;
        assert_eq!(late.ended(), Ended::Deadline);
        // The prune that the deadline kept from running says why it did not: still the
        // deadline, which is what ended the run.
        late.fail("not pruning: not every secret was synced".into());
        assert_eq!(late.ended(), Ended::Deadline);
    }

    #[test]
    fn the_summary_counts_the_files_keys_and_says_how_many_were_left_alone() {
        use State::*;
        let aws = crate::targets::opened("aws", &[]);
        let t = tasks(3);
        let r = report(
            Mode::Sync,
            &*aws,
            &t,
            &[Created, Unchanged, Unchanged],
            &[Excluded, Kept],
        );
        assert_eq!(
            r.summary_line(Duration::ZERO),
            "✅ 3 secrets synced to aws in 0.0s. 2 unchanged (no new version written)."
        );
    }

    #[test]
    fn entries_are_the_files_keys_then_the_others_with_their_errors() {
        let aws = crate::targets::opened("aws", &[]);
        let t = tasks(2);
        let mut r = report(Mode::Sync, &*aws, &t, &[], &[State::Excluded]);
        r.record(0, State::Written, Outcome::default());
        let failed = Outcome {
            attempts: 3,
            error: Some("aws x: denied".into()),
            ..Outcome::default()
        };
        r.record(1, State::Failed, failed);
        let seen: Vec<(String, State, u32, Option<String>)> = r
            .entries()
            .map(|e| {
                (
                    e.key.to_string(),
                    e.state,
                    e.attempts,
                    e.error.map(String::from),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("K0".to_string(), State::Written, 0, None),
                (
                    "K1".to_string(),
                    State::Failed,
                    3,
                    Some("aws x: denied".to_string())
                ),
                ("X0".to_string(), State::Excluded, 0, None)
            ]
        );
    }
}
