//! The runs that know what is on the target: `--diff` (read, compare, print, change
//! nothing), and a sync with `--skip-unchanged`, `--prune` or `--json`.
//!
//! `--diff` prints one line per key on stdout — `+ KEY` new, `~ KEY` another value, `= KEY`
//! same value, `? KEY` there but unreadable — then `- NAME` per secret in vsync's scope the
//! file does not define (what `--prune` would delete). Exit 0 when every key is `=` and there
//! is no `-`, 2 otherwise, 1 on errors.

use crate::cli::SyncArgs;
use crate::envfile::ParsedEnv;
use crate::jsonout::{self, Doc, Entry};
use crate::pool::{self, RunOpts, Written};
use crate::prune;
use crate::report::{self, Status};
use crate::scrub::Scrubber;
use crate::signals;
use crate::state::{self, Current, Known};
use crate::targets::{Scope, Target};
use crate::task::SecretTask;
use crate::term::shown_key;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Instant;

/// Exit status of a `--diff` that found differences.
const DIFFERS: u8 = 2;

/// Every key the file defines, excluded ones included (and, for an excluded file reference,
/// the key its stem would have been): none of them is ever "no longer defined".
fn defined<'a>(args: &'a SyncArgs, parsed: &'a ParsedEnv) -> Vec<&'a str> {
    let mut keys: Vec<&str> = parsed.tasks.iter().map(|t| t.key.as_str()).collect();
    for raw in &parsed.skipped {
        keys.push(raw);
        for suffix in &args.policy.inline_file_suffixes {
            if let Some(stem) = raw.strip_suffix(suffix.as_str()) {
                keys.push(stem);
            }
        }
    }
    keys
}

/// The names in scope that the file no longer defines, split into (to delete, kept).
fn extras(
    target: &dyn Target,
    args: &SyncArgs,
    parsed: &ParsedEnv,
    known: Option<&Known>,
    opts: &RunOpts,
    scrubber: &Scrubber<'_>,
) -> Result<(Vec<String>, Vec<String>), String> {
    let names = state::extra_names(target, &defined(args, parsed), known, opts, scrubber)?;
    Ok(names
        .into_iter()
        .partition(|n| !prune::kept(&args.keep, n, &key_of(target, n))))
}

fn key_of(target: &dyn Target, name: &str) -> String {
    match target.scope() {
        Scope::Listed(d) => d.key_of(name).to_string(),
        _ => name.to_string(),
    }
}

fn excluded_entries(target: &dyn Target, parsed: &ParsedEnv) -> Vec<Entry> {
    parsed
        .skipped
        .iter()
        .map(|k| Entry {
            key: k.clone(),
            name: target.secret_name(k).into_owned(),
            status: "excluded",
            attempts: 0,
            error: None,
        })
        .collect()
}

fn print_json(
    target: &dyn Target,
    args: &SyncArgs,
    mode: &str,
    n: usize,
    started: Instant,
    exit: u8,
    keys: Vec<Entry>,
) {
    let doc = Doc {
        schema: jsonout::SCHEMA,
        mode,
        target: target.backend().name,
        env: &args.env,
        scope: jsonout::scope_of(&target.banner(n)),
        duration_ms: jsonout::millis(started.elapsed()),
        exit,
        keys,
    };
    report::out_always(&jsonout::render(&doc));
}

/// `--dry-run --json`: every key `planned`.
pub fn dry_run_json(target: &dyn Target, args: &SyncArgs, parsed: &ParsedEnv) {
    let mut keys: Vec<Entry> = parsed
        .tasks
        .iter()
        .map(|t| Entry {
            key: t.key.clone(),
            name: target.secret_name(&t.key).into_owned(),
            status: "planned",
            attempts: 0,
            error: None,
        })
        .collect();
    keys.extend(excluded_entries(target, parsed));
    print_json(
        target,
        args,
        "dry_run",
        parsed.tasks.len(),
        Instant::now(),
        0,
        keys,
    );
}

/// What the target holds for every task: read back, or (gh) known from its listing only.
fn current(
    target: &dyn Target,
    tasks: &[SecretTask],
    opts: &RunOpts,
    scrubber: &Scrubber<'_>,
) -> Result<(Vec<Current>, Option<Known>), String> {
    if let Some(reads) = target.reads() {
        let known = state::read(target, reads, tasks, opts, scrubber);
        return Ok((known.current.clone(), Some(known)));
    }
    let names: Vec<String> = tasks
        .iter()
        .map(|t| target.secret_name(&t.key).into_owned())
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    match target.scope() {
        Scope::Listed(d) => {
            let listed = state::list_scope(d, opts, scrubber)?;
            let listed: Vec<&str> = listed.iter().map(String::as_str).collect();
            Ok((state::from_listing(target.backend(), &names, &listed), None))
        }
        _ => Ok((vec![Current::Unknown; tasks.len()], None)),
    }
}

/// `--diff`: reads, compares and prints; writes nothing.
pub fn diff(
    target: &dyn Target,
    args: &SyncArgs,
    parsed: &ParsedEnv,
    opts: &RunOpts,
) -> anyhow::Result<ExitCode> {
    let scrubber = Scrubber::new(&parsed.tasks);
    let (current, known) = current(target, &parsed.tasks, opts, &scrubber)
        .map_err(|e| anyhow::anyhow!("cannot list {}: {e}", target.backend().name))?;
    if let Some(known) = &known {
        if let Some(denied) = &known.denied {
            let permission = target.reads().map_or("", |r| r.read_permission());
            anyhow::bail!(
                "--diff cannot read values from {}: the identity lacks {permission} ({denied})",
                target.backend().name
            );
        }
        if let Some(failed) = &known.failed {
            anyhow::bail!(
                "--diff cannot read values from {}: {failed}",
                target.backend().name
            );
        }
    }
    if signals::stop_requested() {
        return Ok(ExitCode::from(130));
    }
    if target.reads().is_none() {
        report::err(&format!(
            "note: {} cannot read secret values back: existing secrets are shown as `?`",
            target.backend().name
        ));
    }
    let scrubber = match &known {
        Some(k) => Scrubber::with_read_back(&parsed.tasks, k.old_values.clone()),
        None => Scrubber::new(&parsed.tasks),
    };
    let (extra, kept) = match extras(target, args, parsed, known.as_ref(), opts, &scrubber) {
        Ok(x) => x,
        Err(why) if matches!(target.scope(), Scope::Unknown(_)) => {
            report::err(&format!("note: no `-` lines: {why}"));
            (Vec::new(), Vec::new())
        }
        Err(e) => anyhow::bail!("cannot list {}: {e}", target.backend().name),
    };
    let mut entries = Vec::new();
    for (task, cur) in parsed.tasks.iter().zip(&current) {
        report::out(&format!("{} {}", cur.marker(), shown_key(&task.key)));
        entries.push(Entry {
            key: task.key.clone(),
            name: target.secret_name(&task.key).into_owned(),
            status: cur.plan_status(),
            attempts: 0,
            error: None,
        });
    }
    for name in &extra {
        report::out(&format!("- {}", shown_key(name)));
    }
    entries.extend(extra.iter().map(|n| Entry {
        key: key_of(target, n),
        name: n.clone(),
        status: "delete",
        attempts: 0,
        error: None,
    }));
    entries.extend(kept.iter().map(|n| Entry {
        key: key_of(target, n),
        name: n.clone(),
        status: "kept",
        attempts: 0,
        error: None,
    }));
    entries.extend(excluded_entries(target, parsed));
    let same = current.iter().all(|c| *c == Current::Same) && extra.is_empty();
    let code = if same { 0 } else { DIFFERS };
    if args.json {
        print_json(
            target,
            args,
            "diff",
            parsed.tasks.len(),
            opts.started,
            code,
            entries,
        );
    }
    Ok(ExitCode::from(code))
}

/// A key's outcome in a sync that knows what was there.
#[derive(Clone)]
enum KeyOutcome {
    Unchanged,
    Written(Written),
}

/// A sync with `--skip-unchanged`, `--prune` or `--json`.
pub fn sync(target: &dyn Target, args: &SyncArgs, parsed: &ParsedEnv, opts: &RunOpts) -> ExitCode {
    let backend = target.backend();
    let tasks = &parsed.tasks;
    let mut known: Option<Known> = None;
    if args.skip_unchanged {
        match target.reads() {
            None => report::err(&format!(
                "warning: {} cannot read secret values back: --skip-unchanged writes every value",
                backend.name
            )),
            Some(reads) => {
                let k = state::read(target, reads, tasks, opts, &Scrubber::new(tasks));
                if let Some(denied) = &k.denied {
                    report::err(&format!(
                        "warning: --skip-unchanged could not read values ({denied}); the identity \
                         lacks {}: writing those values",
                        reads.read_permission()
                    ));
                }
                if let Some(failed) = &k.failed {
                    report::err(&format!(
                        "warning: --skip-unchanged could not read values ({failed}): writing those \
                         values"
                    ));
                }
                known = Some(k);
            }
        }
    }
    let current: Vec<Option<Current>> = match &known {
        Some(k) => k.current.iter().copied().map(Some).collect(),
        None => vec![None; tasks.len()],
    };
    // Which tasks are written. A bulk write (vault) replaces the document: it is all or
    // nothing, and a document holding keys the file lacks is a change too.
    let bulk = matches!(target.writes(), crate::targets::Writes::Bulk(_));
    let unchanged = |c: &Option<Current>| *c == Some(Current::Same);
    let write: Vec<bool> = if bulk {
        let nothing =
            current.iter().all(unchanged) && known.as_ref().is_some_and(|k| k.unasked.is_empty());
        vec![!nothing; tasks.len()]
    } else {
        current.iter().map(|c| !unchanged(c)).collect()
    };
    let scrubber = match &known {
        Some(k) => Scrubber::with_read_back(tasks, k.old_values.clone()),
        None => Scrubber::new(tasks),
    };
    for (task, w) in tasks.iter().zip(&write) {
        if !w {
            report::out(&format!("= {} (unchanged)", shown_key(&task.key)));
        }
    }
    // What the read learnt about existence spares the write phase its list call.
    let exists: Vec<Option<bool>> = current
        .iter()
        .zip(&write)
        .filter(|(_, w)| **w)
        .map(|(c, _)| match c {
            Some(Current::New) => Some(false),
            Some(Current::Differs | Current::Same) => Some(true),
            Some(Current::Unknown) | None => None,
        })
        .collect();
    let exists = known.as_ref().map(|_| exists.as_slice());
    let written: Vec<Written> = if write.iter().all(|w| *w) {
        pool::run_knowing(target, tasks, exists, opts, &scrubber)
    } else if write.iter().any(|w| *w) {
        let subset: Vec<SecretTask> = tasks
            .iter()
            .zip(&write)
            .filter(|(_, w)| **w)
            .map(|(t, _)| t.clone())
            .collect();
        pool::run_knowing(target, &subset, exists, opts, &scrubber)
    } else {
        Vec::new()
    };
    let mut written = written.into_iter();
    let outcomes: Vec<KeyOutcome> = write
        .iter()
        .map(|w| match w {
            true => KeyOutcome::Written(written.next().unwrap_or(Written {
                status: Status::NotAttempted,
                attempts: 0,
                error: None,
            })),
            false => KeyOutcome::Unchanged,
        })
        .collect();

    let results: Vec<(&str, Status)> = tasks
        .iter()
        .zip(&outcomes)
        .map(|(t, o)| {
            let status = match o {
                KeyOutcome::Unchanged => Status::Synced,
                KeyOutcome::Written(w) => w.status,
            };
            (t.key.as_str(), status)
        })
        .collect();
    let n_unchanged = outcomes
        .iter()
        .filter(|o| matches!(o, KeyOutcome::Unchanged))
        .count();
    let all_ok = results.iter().all(|(_, s)| *s == Status::Synced);
    let mut line = report::summary_line(backend.name, &results, opts.started.elapsed());
    if n_unchanged > 0 {
        line.push_str(&format!(
            " {n_unchanged} unchanged (no new version written)."
        ));
    }
    report::out("");
    report::out(&line);

    let mut entries: Vec<Entry> = tasks
        .iter()
        .zip(&outcomes)
        .zip(&current)
        .map(|((t, o), c)| {
            let name = target.secret_name(&t.key).into_owned();
            match o {
                KeyOutcome::Unchanged => Entry {
                    key: t.key.clone(),
                    name,
                    status: "unchanged",
                    attempts: 0,
                    error: None,
                },
                KeyOutcome::Written(w) => Entry {
                    key: t.key.clone(),
                    name,
                    status: match (w.status, c) {
                        (Status::Synced, Some(Current::New)) => "created",
                        (Status::Synced, Some(Current::Differs | Current::Same)) => "updated",
                        (Status::Synced, _) => "written",
                        (Status::Failed, _) => "failed",
                        (Status::NotAttempted, _) => "not_attempted",
                    },
                    attempts: w.attempts,
                    error: w.error.clone(),
                },
            }
        })
        .collect();
    entries.extend(excluded_entries(target, parsed));

    let mut ok = all_ok;
    if args.prune {
        if signals::stop_requested() || !all_ok {
            report::err("not pruning: not every secret was synced");
        } else {
            ok &= run_prune(
                target,
                args,
                parsed,
                known.as_ref(),
                opts,
                &scrubber,
                &mut entries,
            );
        }
    }
    let code: u8 = if signals::stop_requested() {
        130
    } else if ok {
        0
    } else {
        1
    };
    if args.json {
        print_json(
            target,
            args,
            "sync",
            tasks.len(),
            opts.started,
            code,
            entries,
        );
    }
    ExitCode::from(code)
}

/// Deletes what is in scope and no longer defined; false when something went wrong.
fn run_prune(
    target: &dyn Target,
    args: &SyncArgs,
    parsed: &ParsedEnv,
    known: Option<&Known>,
    opts: &RunOpts,
    scrubber: &Scrubber<'_>,
    entries: &mut Vec<Entry>,
) -> bool {
    let deletes = match target.scope() {
        Scope::Listed(d) => d,
        Scope::Document => {
            report::out(&format!(
                "--prune: {} writes the whole document at once; keys the env file no longer \
                 defines are not in its new version, and nothing else is deleted",
                target.backend().name
            ));
            return true;
        }
        Scope::Unknown(why) => {
            report::err(&format!("not pruning: {why}"));
            return false;
        }
    };
    let (extra, kept) = match extras(target, args, parsed, known, opts, scrubber) {
        Ok(x) => x,
        Err(e) => {
            report::err(&format!(
                "not pruning: cannot list {}: {e}",
                target.backend().name
            ));
            return false;
        }
    };
    for name in &kept {
        report::out(&format!("  kept (--keep): {}", shown_key(name)));
        entries.push(Entry {
            key: key_of(target, name),
            name: name.clone(),
            status: "kept",
            attempts: 0,
            error: None,
        });
    }
    if extra.is_empty() {
        report::out("Nothing to prune.");
        return true;
    }
    if std::io::stdin().is_terminal() {
        let question = format!(
            "Delete {} secrets no longer in the env file ({}): {}? [y/N]",
            extra.len(),
            deletes.delete_means(),
            extra
                .iter()
                .map(|n| shown_key(n))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let answer = crate::os::prompt(&question).unwrap_or_default();
        if !matches!(answer.as_str(), "y" | "Y" | "yes") {
            report::err("not pruning: not confirmed");
            return true;
        }
    }
    report::out(&format!(
        "Pruning {} secrets ({}):",
        extra.len(),
        deletes.delete_means()
    ));
    let mut ok = true;
    for d in prune::delete(deletes, &extra, opts, scrubber) {
        ok &= d.ok;
        for name in d.names {
            entries.push(Entry {
                key: key_of(target, &name),
                name,
                status: if d.ok { "deleted" } else { "delete_failed" },
                attempts: d.attempts,
                error: d.error.clone(),
            });
        }
    }
    ok
}
