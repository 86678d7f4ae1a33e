//! What is on the target now: values read back and compared with the env file (for `--diff`
//! and `--skip-unchanged`), and the secrets in vsync's scope that the file no longer defines
//! (`--diff`'s `-` lines, `--prune`'s deletes).
//!
//! Values read back are secrets: they are compared and dropped; only those that differ from
//! the file are kept, for the scrubber. None is ever printed, hashed or measured.

use crate::outcome::{Exit, Outcome};
use crate::pool::{self, RunOpts};
use crate::scrub::Scrubber;
use crate::targets::{Backend, Failure, ReadBack, ReadFailure, Reads, Scope, Target};
use crate::task::SecretTask;
use std::collections::{HashMap, HashSet};

/// What the target holds for one key, compared with the env file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// Not there: a write creates it.
    New,
    /// Stored with the file's value.
    Same,
    /// Stored with another value.
    Differs,
    /// There, or maybe there, but its value could not be read.
    Unknown,
    /// A deleted secret of vsync's holds the name: the write recovers it, then writes.
    Recoverable,
    /// A deleted secret that is not vsync's holds the name: the write will fail.
    Blocked,
}

impl Comparison {
    /// `--diff`'s marker.
    pub fn marker(self) -> char {
        match self {
            Comparison::New => '+',
            Comparison::Same => '=',
            Comparison::Differs => '~',
            Comparison::Unknown => '?',
            // Recovered, the secret is there with its old value: an update.
            Comparison::Recoverable => '~',
            Comparison::Blocked => '!',
        }
    }

    /// What `--diff` adds after the key, for the states a marker alone does not explain.
    pub fn note(self) -> Option<&'static str> {
        match self {
            Comparison::Recoverable => Some("(deleted by vsync: will be recovered, then written)"),
            Comparison::Blocked => Some(
                "(deleted, not tagged as this repo's and env's: blocked; vsync will not recover it)",
            ),
            _ => None,
        }
    }
}

/// What reading the target learnt.
pub struct Readings {
    /// Per task, in task order.
    pub comparisons: Vec<Comparison>,
    /// The first permission error, scrubbed: some values could not be read for lack of it.
    pub denied: Option<String>,
    /// The first other read error, scrubbed: those values are unknown.
    pub failed: Option<String>,
    /// Values read that differ from the file's: for the scrubber.
    pub old_values: Vec<Vec<u8>>,
    /// Names the reads returned that no task asked for (vault's document, an ssm path).
    pub unasked: Vec<String>,
}

/// Everything the read calls returned, by secret name.
#[derive(Default)]
struct Found {
    values: HashMap<String, Vec<u8>>,
    unreadable: HashSet<String>,
    denied: HashSet<String>,
    /// Asked for, but the call failed: unknown.
    failed: HashSet<String>,
}

impl Found {
    fn add(&mut self, back: ReadBack) {
        self.values.extend(back.values);
        self.unreadable.extend(back.unreadable);
        self.denied.extend(back.denied);
    }

    /// One key compared: `stored` is the file's value as the target would store it.
    fn compare(&self, name: &str, stored: &[u8]) -> Comparison {
        if self.denied.contains(name) || self.failed.contains(name) {
            Comparison::Unknown
        } else if self.unreadable.contains(name) {
            Comparison::Differs
        } else {
            match self.values.get(name) {
                Some(v) if v.as_slice() == stored => Comparison::Same,
                Some(_) => Comparison::Differs,
                None => Comparison::New,
            }
        }
    }
}

/// Reads every task's value back from `reads` and compares.
pub fn read(
    target: &dyn Target,
    reads: &dyn Reads,
    tasks: &[SecretTask],
    opts: &RunOpts,
    scrubber: &Scrubber<'_>,
) -> Readings {
    let names: Vec<String> = tasks
        .iter()
        .map(|t| target.secret_name(&t.key).into_owned())
        .collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let calls = reads.read_calls(&refs);
    let cmds: Vec<_> = calls.iter().map(|c| c.cmd.clone()).collect();
    let classify = |stderr: &str| match reads.read_failure(stderr) {
        ReadFailure::Transient if crate::targets::looks_throttled(stderr) => Failure::Throttled,
        ReadFailure::Transient => Failure::Transient,
        _ => Failure::Permanent,
    };
    // Each call's answer is parsed in its worker, so its raw output is dropped at once.
    let finish =
        |i: usize, out: Outcome, _attempts: u32| -> Result<ReadBack, (ReadFailure, String)> {
            if out.success() {
                return reads
                    .parse_read(&calls[i], &out.stdout)
                    .map_err(|e| (ReadFailure::Other, e));
            }
            let stderr = String::from_utf8_lossy(&out.stderr);
            let failure = match out.exit {
                Exit::Code(_) => reads.read_failure(&stderr),
                _ => ReadFailure::Other,
            };
            let label = calls[i].cmd.label(3);
            Err((failure, format!("{label}: {}", scrubber.failure(&out))))
        };
    let results = pool::run_calls(&cmds, opts, &classify, &finish);

    let mut found = Found::default();
    let (mut denied, mut failed) = (None, None);
    for (call, result) in calls.iter().zip(results) {
        match result {
            Some(Ok(back)) => found.add(back),
            Some(Err((ReadFailure::NotFound, _))) => {}
            Some(Err((ReadFailure::Denied, text))) => {
                denied.get_or_insert(text);
                found.denied.extend(call.names.iter().cloned());
            }
            Some(Err((_, text))) => {
                failed.get_or_insert(text);
                found.failed.extend(call.names.iter().cloned());
            }
            None => {
                failed.get_or_insert_with(|| "interrupted before the read".to_string());
                found.failed.extend(call.names.iter().cloned());
            }
        }
    }
    if denied.is_none() && !found.denied.is_empty() {
        let mut some: Vec<&String> = found.denied.iter().collect();
        some.sort();
        denied = Some(format!("access denied to {}", some[0]));
    }
    let comparisons: Vec<Comparison> = tasks
        .iter()
        .zip(&names)
        .map(|(t, name)| found.compare(name, &reads.as_stored(&t.value)))
        .collect();
    let asked: HashSet<&str> = refs.iter().copied().collect();
    let mut unasked: Vec<String> = found
        .values
        .keys()
        .chain(&found.unreadable)
        .filter(|n| !asked.contains(n.as_str()))
        .cloned()
        .collect();
    unasked.sort();
    unasked.dedup();
    // What stays of the values: those that differ from the file, for the scrubber.
    let same: HashSet<&str> = names
        .iter()
        .zip(&comparisons)
        .filter(|(_, c)| **c == Comparison::Same)
        .map(|(n, _)| n.as_str())
        .collect();
    let old_values = found
        .values
        .into_iter()
        .filter(|(n, _)| !same.contains(n.as_str()))
        .map(|(_, v)| v)
        .collect();
    Readings {
        comparisons,
        denied,
        failed,
        old_values,
        unasked,
    }
}

/// Marks each `New` name that a deleted secret still holds (`deleted`: name and whether it
/// is vsync's), compared as the target compares names.
pub fn mark_deleted(
    kind: &Backend,
    names: &[&str],
    current: &mut [Comparison],
    deleted: &[(String, bool)],
) {
    let mine: Vec<&str> = deleted
        .iter()
        .filter(|d| d.1)
        .map(|d| d.0.as_str())
        .collect();
    let others: Vec<&str> = deleted
        .iter()
        .filter(|d| !d.1)
        .map(|d| d.0.as_str())
        .collect();
    let (mine, others) = (NameSet::new(kind, &mine), NameSet::new(kind, &others));
    for (name, cur) in names.iter().zip(current.iter_mut()) {
        if *cur != Comparison::New {
            continue;
        }
        if mine.contains(name) {
            *cur = Comparison::Recoverable;
        } else if others.contains(name) {
            *cur = Comparison::Blocked;
        }
    }
}

/// The deleted secrets that may hold names of the env file: one listing call.
pub fn list_deleted(
    recovers: &dyn crate::targets::Recovers,
    opts: &RunOpts,
    scrubber: &Scrubber<'_>,
) -> Result<Vec<(String, bool)>, String> {
    one_list(&recovers.list_deleted_cmd(), opts, scrubber, |out| {
        Ok(recovers.parse_list_deleted(out))
    })
}

/// Names in vsync's scope for this env that the env file does not define, sorted.
/// `defined` holds every key the file defines, excluded ones included (an excluded key is
/// still the file's). Names are compared as the target spells and compares them
/// (`secret_name`, `compare_names`), so a prefix or a name mapping cannot make a defined key
/// look undefined.
/// Beside them, the names the file does not define that would be in scope but lack this
/// run's ownership marks: left alone, and counted.
pub fn extras_and_unmarked(
    target: &dyn Target,
    defined: &[&str],
    known: Option<&Readings>,
    opts: &RunOpts,
    scrubber: &Scrubber<'_>,
) -> Result<(Vec<String>, Vec<String>), String> {
    let defined: Vec<String> = defined
        .iter()
        .map(|k| target.secret_name(k).into_owned())
        .collect();
    let defined: Vec<&str> = defined.iter().map(String::as_str).collect();
    let defined = NameSet::new(target.backend(), &defined);
    let (mut names, mut unmarked) = match target.scope() {
        Scope::Unknown(why) => return Err(why),
        Scope::Document => (
            known.into_iter().flat_map(|k| k.unasked.clone()).collect(),
            Vec::new(),
        ),
        Scope::Listed(deletes) => list_scope_and_unmarked(deletes, opts, scrubber)?,
    };
    for list in [&mut names, &mut unmarked] {
        list.retain(|n| !defined.contains(n));
        list.sort();
        list.dedup();
    }
    Ok((names, unmarked))
}

/// Notes on existing secrets whose create-only setting differs from the routing's
/// (`Target::drift`): one list call; nothing when the target has no such setting.
pub fn drift_notes(
    target: &dyn Target,
    tasks: &[SecretTask],
    opts: &RunOpts,
    scrubber: &Scrubber<'_>,
) -> Result<Vec<String>, String> {
    let Some(drift) = target.drift() else {
        return Ok(Vec::new());
    };
    let names: Vec<String> = tasks
        .iter()
        .map(|t| target.secret_name(&t.key).into_owned())
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    one_list(&drift.drift_cmd(), opts, scrubber, |stdout| {
        drift.parse_drift(stdout, &names)
    })
}

/// The names a `Deletes` target lists as its scope.
pub fn list_scope(
    deletes: &dyn crate::targets::Deletes,
    opts: &RunOpts,
    scrubber: &Scrubber<'_>,
) -> Result<Vec<String>, String> {
    list_scope_and_unmarked(deletes, opts, scrubber).map(|(names, _)| names)
}

/// The names a `Deletes` target lists as its scope, and those its listing shows in scope
/// but without this run's marks.
fn list_scope_and_unmarked(
    deletes: &dyn crate::targets::Deletes,
    opts: &RunOpts,
    scrubber: &Scrubber<'_>,
) -> Result<(Vec<String>, Vec<String>), String> {
    one_list(&deletes.scope_cmd(), opts, scrubber, |stdout| {
        Ok((
            deletes.parse_scope(stdout),
            deletes.parse_unmarked_scope(stdout),
        ))
    })
}

/// One list call, retried when transient: its stdout parsed, or why it failed.
fn one_list<T: Send + Sync>(
    cmd: &crate::targets::VendorCmd,
    opts: &RunOpts,
    scrubber: &Scrubber<'_>,
    parse: impl Fn(&str) -> Result<T, String> + Sync,
) -> Result<T, String> {
    let finish = |_: usize, out: Outcome, _: u32| {
        if out.success() {
            parse(&String::from_utf8_lossy(&out.stdout))
        } else {
            Err(format!("{}: {}", cmd.label(3), scrubber.failure(&out)))
        }
    };
    pool::run_calls(
        std::slice::from_ref(cmd),
        opts,
        &Failure::by_shared_markers,
        &finish,
    )
    .pop()
    .flatten()
    .unwrap_or_else(|| Err("interrupted before the list".into()))
}

/// Names as the target compares them (`Backend::compare_names`), sorted once so that each
/// lookup is a binary search: a scan of every name per name is quadratic, a hundred million
/// comparisons at 10,000 keys.
pub struct NameSet<'a> {
    backend: &'a Backend,
    sorted: Vec<&'a str>,
}

impl<'a> NameSet<'a> {
    pub fn new(backend: &'a Backend, names: &[&'a str]) -> NameSet<'a> {
        let mut sorted = names.to_vec();
        sorted.sort_unstable_by(|a, b| backend.compare_names(a, b));
        NameSet { backend, sorted }
    }

    pub fn contains(&self, name: &str) -> bool {
        self.sorted
            .binary_search_by(|n| self.backend.compare_names(n, name))
            .is_ok()
    }
}

/// For a target that cannot read values (gh): a name the listing does not show is new; the
/// others are unknown.
pub fn from_listing(backend: &Backend, names: &[&str], listed: &[&str]) -> Vec<Comparison> {
    let listed = NameSet::new(backend, listed);
    names
        .iter()
        .map(|n| {
            if listed.contains(n) {
                Comparison::Unknown
            } else {
                Comparison::New
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::{aws, gh};

    #[test]
    fn a_key_is_same_differs_new_or_unknown() {
        let mut found = Found::default();
        found.add(ReadBack {
            values: vec![("A".into(), b"1".to_vec()), ("B".into(), b"x".to_vec())],
            denied: vec!["D".into()],
            unreadable: vec!["U".into()],
        });
        found.failed.insert("F".into());
        assert_eq!(found.compare("A", b"1"), Comparison::Same);
        assert_eq!(found.compare("B", b"2"), Comparison::Differs);
        assert_eq!(found.compare("C", b"3"), Comparison::New);
        assert_eq!(found.compare("D", b"4"), Comparison::Unknown);
        assert_eq!(found.compare("F", b"4"), Comparison::Unknown);
        assert_eq!(found.compare("U", b"5"), Comparison::Differs);
    }

    #[test]
    fn new_names_a_deleted_secret_holds_are_recoverable_when_vsyncs_and_blocked_otherwise() {
        let names = ["A", "b", "C", "D"];
        let mut current = [
            Comparison::New,
            Comparison::New,
            Comparison::Differs,
            Comparison::New,
        ];
        let deleted = [
            ("a".to_string(), true),
            ("B".into(), false),
            ("C".into(), true),
        ];
        // Azure compares names ignoring case.
        let kind = crate::targets::find("azure").unwrap();
        mark_deleted(kind, &names, &mut current, &deleted);
        assert_eq!(
            current,
            [
                Comparison::Recoverable,
                Comparison::Blocked,
                Comparison::Differs,
                Comparison::New
            ]
        );
        let mut exact = [Comparison::New];
        mark_deleted(&aws::BACKEND, &["a"], &mut exact, &[("A".into(), true)]);
        assert_eq!(exact, [Comparison::New]);
        assert_eq!(Comparison::Recoverable.marker(), '~');
        assert_eq!(Comparison::Blocked.marker(), '!');
        assert!(
            Comparison::Recoverable
                .note()
                .unwrap()
                .contains("recovered")
        );
        assert_eq!(Comparison::New.note(), None);
    }

    #[test]
    fn the_vault_documents_extra_keys_are_those_the_file_does_not_define() {
        let vault = crate::targets::vault::Vault {
            addr: "http://v:1".into(),
            mount: "m".into(),
            path: "p".into(),
        };
        let known = Readings {
            comparisons: Vec::new(),
            denied: None,
            failed: None,
            old_values: Vec::new(),
            unasked: vec!["OLD".into(), "SKIPPED".into()],
        };
        let opts = RunOpts {
            workers: 1,
            timeout: std::time::Duration::from_secs(1),
            deadline: std::time::Instant::now(),
            retry_base: std::time::Duration::ZERO,
            started: std::time::Instant::now(),
            gate: crate::pace::Gate::new(
                "vault",
                crate::targets::BACKOFF_PACING,
                1,
                std::time::Duration::ZERO,
            ),
        };
        let tasks = [];
        let scrubber = Scrubber::new(&tasks);
        let extra = extras_and_unmarked(&vault, &["A", "SKIPPED"], Some(&known), &opts, &scrubber);
        assert_eq!(extra.unwrap().0, ["OLD"]);
    }

    #[test]
    fn defined_names_follow_the_targets_case_rule() {
        assert!(NameSet::new(&gh::BACKEND, &["API_KEY"]).contains("api_key"));
        assert!(!NameSet::new(&aws::BACKEND, &["API_KEY"]).contains("api_key"));
        assert_eq!(
            from_listing(&gh::BACKEND, &["a", "B"], &["A"]),
            [Comparison::Unknown, Comparison::New]
        );
    }
}
