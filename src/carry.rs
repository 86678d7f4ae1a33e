//! Keys a whole-document write carries over (vault). Such a write replaces the document, so
//! the keys the env file excludes and those `--keep` protects would be dropped: they are read
//! from the stored document first and written back beside the file's keys, as stored. Where
//! the store keeps versions the write is guarded by the version read (check-and-set), so a
//! change made in between fails the run instead of being lost.
//!
//! Only a run that excludes keys or gives `--keep` reads first: any other sync stays one
//! write. The values carried are secrets: they travel only in the write's stdin document and
//! are scrubbed from every output.

use crate::outcome::Outcome;
use crate::pool::{self, KeyWrite, RunOpts, WriteStatus};
use crate::scrub::Scrubber;
use crate::targets::{Bulk, Failure, Keeps, Stored, Target, Writes};
use crate::task::SecretTask;
use crate::term::{Lines, shown_key};
use serde_json::{Map, Value};

/// What a write carries over and what it leaves out.
#[derive(Debug, Default, PartialEq)]
pub struct Carry {
    /// Stored keys written back as they are (excluded or kept), with their values.
    pub keys: Map<String, Value>,
    /// Of those, the ones only `--keep` protects, sorted.
    pub kept: Vec<String>,
    /// Stored keys the write leaves out (what `--diff` shows as `-`), sorted.
    pub dropped: Vec<String>,
    /// The version the write must find; `None`: unguarded.
    pub version: Option<u64>,
    /// Whether a document was stored at all.
    pub found: bool,
}

/// The target's carry-over, when this run needs it: a whole-document write, and the file
/// excludes keys or `--keep` is given.
pub fn needed<'t>(
    target: &'t dyn Target,
    keep: &[String],
    excludes: bool,
) -> Option<&'t dyn Keeps> {
    match target.writes() {
        Writes::Bulk(bulk) if excludes || !keep.is_empty() => bulk.keeps(),
        _ => None,
    }
}

/// Whether a stored key the file does not send is written back: it is one the file
/// excludes (`excluded`: every key the file defines, excluded ones included), or `--keep`
/// protects it.
pub fn carried(target: &dyn Target, keep: &[String], excluded: &[&str], key: &str) -> bool {
    excluded.contains(&key) || crate::prune::kept(target, keep, key, key)
}

/// Splits the stored document into what the write carries and what it drops. Pure.
pub fn plan(
    stored: Stored,
    found: bool,
    tasks: &[SecretTask],
    excluded: &[&str],
    carries: &dyn Fn(&str) -> bool,
) -> Carry {
    let sent: std::collections::HashSet<&str> = tasks.iter().map(|t| t.key.as_str()).collect();
    let mut carry = Carry {
        version: stored.version,
        found,
        ..Carry::default()
    };
    for (key, value) in stored.data {
        if sent.contains(key.as_str()) {
            continue;
        }
        if carries(&key) {
            if !excluded.contains(&key.as_str()) {
                carry.kept.push(key.clone());
            }
            carry.keys.insert(key, value);
        } else {
            carry.dropped.push(key);
        }
    }
    carry
}

/// Reads the stored document, then writes the tasks with the carried keys. Every task gets
/// the write's outcome; a read that fails writes nothing (the write would drop the keys).
/// `old` holds values read earlier, for the scrubber.
#[allow(clippy::too_many_arguments)]
pub fn write(
    target: &dyn Target,
    bulk: &dyn Bulk,
    keeps: &dyn Keeps,
    tasks: &[SecretTask],
    excluded: &[&str],
    keep: &[String],
    old: Vec<Vec<u8>>,
    opts: &RunOpts,
    lines: &dyn Lines,
) -> (Vec<KeyWrite>, Option<Carry>) {
    let scrubber = Scrubber::with_read_back(tasks, old.clone());
    let fail_all = |status: WriteStatus, error: Option<String>| {
        let attempts = u32::from(status == WriteStatus::Failed);
        let written = KeyWrite {
            status,
            attempts,
            error,
            throttles: 0,
            recovered: false,
        };
        vec![written; tasks.len()]
    };
    let cmd = keeps.stored_cmd();
    let finish = |_: usize, out: Outcome, _: u32| -> Result<(Stored, bool), String> {
        if out.success() {
            return keeps.parse_stored(&out.stdout).map(|s| (s, true));
        }
        if keeps.absent(&String::from_utf8_lossy(&out.stderr)) {
            return Ok((Stored::default(), false));
        }
        Err(format!("{}: {}", cmd.label(3), scrubber.failure(&out)))
    };
    let read = pool::run_calls(
        std::slice::from_ref(&cmd),
        opts,
        &Failure::by_shared_markers,
        &finish,
    )
    .pop()
    .flatten();
    let (stored, found) = match read {
        None => return (fail_all(WriteStatus::NotAttempted, None), None),
        Some(Err(e)) => {
            let error = format!(
                "not written: cannot read {} to carry over the keys the env file excludes or \
                 --keep protects: {e}",
                keeps.location()
            );
            lines.err(&format!("WARNING: {error}"));
            return (fail_all(WriteStatus::Failed, Some(error)), None);
        }
        Some(Ok(read)) => read,
    };
    let carries = |key: &str| carried(target, keep, excluded, key);
    let carry = plan(stored, found, tasks, excluded, &carries);
    for key in &carry.kept {
        lines.out(&format!("  kept (--keep): {}", shown_key(key)));
    }
    if carry.found && carry.version.is_none() && !carry.keys.is_empty() {
        lines.err(&format!(
            "note: {} is on a KV v1 mount, which has no check-and-set: a change made to it \
             between vsync's read and its write would be lost",
            keeps.location()
        ));
    }
    let mut secrets = old;
    secrets.extend(carry.keys.values().map(|v| match v {
        Value::String(s) => s.as_bytes().to_vec(),
        other => other.to_string().into_bytes(),
    }));
    let scrubber = Scrubber::with_read_back(tasks, secrets);
    let document = keeps.document_keeping(tasks, &carry.keys);
    let guard = carry.version.filter(|_| carry.found);
    let written = pool::run_bulk_write(
        bulk,
        tasks,
        &keeps.write_cmd_at(guard),
        &document,
        &|stderr| keeps.advice(stderr),
        opts,
        &scrubber,
        lines,
    );
    (written, Some(carry))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::Source;

    fn task(key: &str) -> SecretTask {
        SecretTask {
            key: key.into(),
            value: b"v".to_vec(),
            source: Source::Literal,
            line: 1,
        }
    }

    #[test]
    fn excluded_and_kept_keys_are_carried_and_the_rest_dropped() {
        let stored = Stored {
            data: serde_json::from_str(
                r#"{"A":"old","B":"excluded","LEGACY_T":"kept","OLD":"gone","N":3}"#,
            )
            .unwrap(),
            version: Some(7),
        };
        let carries = |k: &str| k == "B" || k.starts_with("LEGACY_");
        let carry = plan(stored, true, &[task("A")], &["A", "B"], &carries);
        assert_eq!(
            carry.keys,
            serde_json::from_str::<Map<String, Value>>(r#"{"B":"excluded","LEGACY_T":"kept"}"#)
                .unwrap()
        );
        assert_eq!(carry.kept, ["LEGACY_T"]);
        assert_eq!(carry.dropped, ["N", "OLD"]);
        assert_eq!(carry.version, Some(7));
        assert!(carry.found);
        assert_eq!(
            plan(Stored::default(), false, &[task("A")], &[], &carries),
            Carry::default()
        );
    }

    #[test]
    fn only_a_whole_document_target_with_exclusions_or_keep_reads_first() {
        let vault = crate::targets::vault::Vault {
            addr: "http://v:1".into(),
            mount: "m".into(),
            path: "p".into(),
        };
        let keep = ["L_*".to_string()];
        assert!(needed(&vault, &keep, false).is_some());
        assert!(needed(&vault, &[], true).is_some());
        assert!(needed(&vault, &[], false).is_none());
        let ssm = crate::targets::ssm::Ssm {
            region: "r".into(),
            prefix: None,
            kms_key: None,
            tier: None,
        };
        assert!(needed(&ssm, &keep, true).is_none());
        assert!(carried(&vault, &keep, &["B"], "B"));
        assert!(carried(&vault, &keep, &["B"], "L_X"));
        assert!(!carried(&vault, &keep, &["B"], "l_x"));
    }
}
