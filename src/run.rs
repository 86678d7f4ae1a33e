//! One `vsync sync` run, whatever its flags: load → route → check → plan → read → write →
//! prune → report. `--dry-run` stops after the plan and `--diff` after the read;
//! `--skip-unchanged` lets the read shape the write, and `--prune` adds the deletes. No mode
//! has a path of its own: each step takes what the one before produced and adds to one
//! `RunReport`. The lines of the human report go out as the steps make them (`Lines`); the
//! exit status, the summary and the JSON document come from the report at the end, on every
//! path that reached the target — a failed read or list, an interrupt, the run deadline.
//!
//! The thin shell around the pure modules: it reads the environment, the terminal and the
//! files, and starts the vendor calls through the pool.

use crate::cli::SyncArgs;
use crate::config::ConfigFile;
use crate::envfile::{self, ParsedEnv, Policy};
use crate::pace::{self, Gate};
use crate::pool::{self, KeyWrite, RunOpts, WriteStatus};
use crate::report::{Entry, Mode, Outcome, RunReport, State};
use crate::routing::{self, Resolved};
use crate::scrub::Scrubber;
use crate::state::{self, Comparison, Readings};
use crate::targets::{Backend, Deletes, Scope, Target, Writes};
use crate::task::SecretTask;
use crate::term::{Lines, Shown, Withheld, shown_key};
use crate::{carry, exec, jsonout, os, plan, preflight, prune, repo, signals, term};
use anyhow::{Context, bail};
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

const RETRY_BASE: Duration = Duration::from_secs(1);

/// What a run is asked to do, from the flags: the configuration of the one pipeline.
struct Asked<'a> {
    skip_unchanged: bool,
    prune: bool,
    keep: &'a [String],
    /// The parser policy: which excluded keys still count as defined (a file reference's stem).
    policy: &'a Policy,
}

pub fn run(args: SyncArgs) -> anyhow::Result<ExitCode> {
    signals::install().context("installing the interrupt handler")?;
    let lines: &dyn Lines = if args.json { &Withheld } else { &Shown };
    let mode = if args.dry_run {
        Mode::DryRun
    } else if args.diff {
        Mode::Diff
    } else {
        Mode::Sync
    };
    // `--diff`'s stdout is its marker lines alone; what a run says first goes to stderr.
    let say = |line: &str| match mode {
        Mode::Diff => lines.err(line),
        _ => lines.out(line),
    };

    // 1. load
    for line in policy_header(&args.policy) {
        say(&line);
    }
    let cwd = std::env::current_dir().context("reading the current directory")?;
    // An unset or empty HOME falls back to the account's home directory, for the config
    // location and for `~/` / `${HOME}` in the env file alike.
    let home = repo::home_dir(std::env::var_os("HOME"), repo::account_home);
    let var = |name: &str| match name {
        "HOME" => home.as_ref().and_then(|h| h.to_str()).map(str::to_owned),
        _ => std::env::var(name).ok(),
    };
    let layout = repo::layout(&cwd, args.repo.as_deref(), &args.env, &var)?;
    let config = ConfigFile::load(&layout.config_path)?;
    let env_path =
        repo::env_file_path(&layout.root, config.vault_folder(), &args.env).map_err(|problem| {
            anyhow::anyhow!(
                "config file {}: files.vaultFolder {problem}; change that setting to a folder \
                 inside the repository",
                layout.config_path.display()
            )
        })?;
    let parsed = envfile::load_env_file(&env_path, &args.policy, home.as_deref(), args.target)?;
    for warning in &parsed.warnings {
        lines.err(&format!("warning: {warning}"));
    }
    if parsed.tasks.is_empty() {
        bail!("no secrets to sync from {}", env_path.display());
    }

    // 2. route
    let backend = args.target;
    for flag in &args.ignored {
        lines.err(&format!(
            "warning: ignoring {flag}: it does not apply to the {} target",
            backend.name
        ));
    }
    let resolved = resolve_routing(backend, &args.routing, &config)?;
    // The owner in labels and tags; the config namespace above stays as it was.
    let owner = repo::owner::identity(&layout.root, args.repo.as_deref(), &var).map(|i| i.mark());
    let open = crate::targets::Open {
        env: &args.env,
        repo: &layout.repo_name,
        owner: owner.as_deref(),
    };
    let target = (backend.open)(&resolved.settings, &open);

    // 3. check
    let mut warnings = preflight::check(&*target, &parsed.tasks).map_err(anyhow::Error::msg)?;
    warnings.extend(prune::keep_unused(
        &*target, &args.keep, args.prune, args.diff,
    ));
    for warning in warnings {
        lines.err(&format!("warning: {warning}"));
    }
    let asked = Asked {
        skip_unchanged: args.skip_unchanged,
        prune: args.prune,
        keep: &args.keep,
        policy: &args.policy,
    };

    // 4. plan
    let mut report = RunReport::new(mode, &*target, &args.env, &parsed.tasks);
    if mode == Mode::DryRun {
        lines.out("");
        lines.out(&target.banner(parsed.tasks.len()));
        skipped_lines(&parsed.skipped, &say);
        for line in plan::render(&*target, &parsed.tasks) {
            lines.out(&line);
        }
        for i in 0..parsed.tasks.len() {
            report.set(i, State::Planned);
        }
        excluded(&mut report, &*target, &parsed);
        return Ok(finish(&report, args.json));
    }
    // Refused before anything is written: a prune that could not run would leave the user
    // believing it did.
    if asked.prune {
        if let Scope::Unknown(why) = target.scope() {
            bail!("{why}");
        }
    }
    let started = Instant::now();
    report.started = started;
    let deadline = env_duration("VSYNC_RUN_DEADLINE_SECS", 1000).unwrap_or(args.deadline);
    let opts = RunOpts {
        workers: args.workers,
        timeout: args.timeout,
        deadline: started + deadline,
        retry_base: env_duration("VSYNC_RETRY_BASE_MS", 1).unwrap_or(RETRY_BASE),
        started,
        gate: Gate::new(backend.name, target.pacing(), args.workers, RETRY_BASE)
            .with(time_scale(), deadline.as_secs()),
    };
    // A diff saves nothing; a sync saves the routing it was given before its first write.
    if mode == Mode::Sync && !resolved.updates.is_empty() {
        // Applied to the file as it is once locked, so a concurrent run's routing survives.
        ConfigFile::update(&layout.config_path, |fresh| {
            for (setting, value) in &resolved.updates {
                fresh.set_sync_field(backend.name, setting.config_key, value.as_deref());
            }
        })?;
    }
    os::locate(backend.bin, var("PATH").as_deref())?;
    say("");
    say(&target.banner(parsed.tasks.len()));
    skipped_lines(&parsed.skipped, &say);

    // 5–7: the target is reached from here, and the report is finished whatever happens.
    // From here a signal stops dispatch; before, it ended the run at once.
    signals::start_pushing();
    exec::adopt_orphans();
    let run = Run {
        target: &*target,
        parsed: &parsed,
        asked: &asked,
        opts: &opts,
        lines,
    };
    match mode {
        Mode::Diff => run.diff(&mut report),
        _ => run.sync(&mut report),
    }
    exec::end_orphans();
    report.interrupted = signals::stop_requested();
    report.deadline_reached = Instant::now() >= opts.deadline;
    report.throttles = pace::run_throttles();
    Ok(finish(&report, args.json))
}

/// 8. report: the error that stopped the run, the JSON document, the exit status.
fn finish(report: &RunReport, json: bool) -> ExitCode {
    if let Some(error) = &report.fatal {
        term::err(&format!("vsync: error: {error}"));
    }
    if json {
        term::out(&jsonout::render(report));
    }
    ExitCode::from(report.exit().code())
}

/// The steps that reach the target, with what they share.
struct Run<'a> {
    target: &'a dyn Target,
    parsed: &'a ParsedEnv,
    asked: &'a Asked<'a>,
    opts: &'a RunOpts,
    lines: &'a dyn Lines,
}

impl Run<'_> {
    /// Step 5 for `--diff`: read and compare, print a marker for each key and a `-` line
    /// for each name the file no longer defines; write nothing.
    fn diff(&self, report: &mut RunReport) {
        let (target, tasks) = (self.target, &self.parsed.tasks);
        let name = target.backend().name;
        let scrubber = Scrubber::new(tasks);
        let read = self.compare(&scrubber);
        let interrupted = signals::stop_requested();
        let (mut comparisons, readings) = match read {
            Ok(read) => read,
            // An interrupt ends the read early: that is the interrupt, not a failed list.
            Err(_) if interrupted => (vec![Comparison::Unknown; tasks.len()], None),
            Err(e) => {
                report.fail(format!("cannot list {name}: {e}"));
                return self.diff_cut_short(report, &vec![Comparison::Unknown; tasks.len()]);
            }
        };
        if interrupted {
            return self.diff_cut_short(report, &comparisons);
        }
        self.mark_deleted(&mut comparisons, &scrubber);
        if let Some(readings) = &readings {
            let failed = match (&readings.denied, &readings.failed) {
                (Some(denied), _) => {
                    let permission = target.reads().map_or("", |r| r.read_permission());
                    Some(format!(
                        "--diff cannot read values from {name}: the identity lacks {permission} \
                         ({denied})"
                    ))
                }
                (None, Some(failed)) => {
                    Some(format!("--diff cannot read values from {name}: {failed}"))
                }
                (None, None) => None,
            };
            if let Some(failed) = failed {
                report.fail(failed);
                return self.diff_cut_short(report, &comparisons);
            }
        }
        if target.reads().is_none() {
            self.lines.err(&format!(
                "note: {name} cannot read secret values back: existing secrets are shown as `?`"
            ));
        }
        // A setting applied only at create (aws's KMS key) is no value: a note, not a `~`.
        match state::drift_notes(target, tasks, self.opts, &scrubber) {
            Ok(notes) => notes
                .iter()
                .for_each(|n| self.lines.err(&format!("note: {n}"))),
            Err(e) => self.lines.err(&format!(
                "note: cannot compare the existing secrets' settings: {e}"
            )),
        }
        let scrubber = with_read_back(tasks, readings.as_ref());
        let (extra, kept, _) = match self.extras(readings.as_ref(), &scrubber) {
            Ok(x) => x,
            Err(why) if matches!(target.scope(), Scope::Unknown(_)) => {
                self.lines.err(&format!("note: no `-` lines: {why}"));
                (Vec::new(), Vec::new(), 0)
            }
            Err(_) if signals::stop_requested() => {
                return self.diff_cut_short(report, &comparisons);
            }
            Err(e) => {
                report.fail(format!("cannot list {name}: {e}"));
                return self.diff_cut_short(report, &comparisons);
            }
        };
        for (task, comparison) in tasks.iter().zip(&comparisons) {
            let key = shown_key(&task.key);
            match comparison.note() {
                Some(note) => self
                    .lines
                    .out(&format!("{} {key} {note}", comparison.marker())),
                None => self.lines.out(&format!("{} {key}", comparison.marker())),
            }
        }
        for name in &extra {
            self.lines.out(&format!("- {}", shown_key(name)));
        }
        self.keys_read(report, &comparisons);
        for name in &extra {
            report.push(self.named(name, State::Delete));
        }
        for name in &kept {
            report.push(self.named(name, State::Kept));
        }
        excluded(report, target, self.parsed);
    }

    /// On a target that deletes recoverably, a `+` key may be a name a deleted secret still
    /// holds: one listing of deleted secrets, only when some key is new, tells which.
    fn mark_deleted(&self, comparisons: &mut [Comparison], scrubber: &Scrubber<'_>) {
        let target = self.target;
        let recovers = match target.writes() {
            Writes::PerKey(p) => p.recovery(),
            Writes::Bulk(_) => None,
        };
        let Some(recovers) = recovers.filter(|_| comparisons.contains(&Comparison::New)) else {
            return;
        };
        match state::list_deleted(recovers, self.opts, scrubber) {
            Ok(deleted) => {
                let names: Vec<String> = self
                    .parsed
                    .tasks
                    .iter()
                    .map(|t| target.secret_name(&t.key).into_owned())
                    .collect();
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                state::mark_deleted(target.backend(), &names, comparisons, &deleted);
            }
            Err(e) => self.lines.err(&format!(
                "note: cannot list deleted secrets ({e}): a `+` key may be a name a deleted \
                 secret still holds"
            )),
        }
    }

    /// Each key as `--diff` found it.
    fn keys_read(&self, report: &mut RunReport, comparisons: &[Comparison]) {
        for (i, comparison) in comparisons.iter().enumerate() {
            report.set(i, planned(*comparison));
        }
    }

    /// A `--diff` that could not finish: each key as far as it got, the excluded ones.
    fn diff_cut_short(&self, report: &mut RunReport, comparisons: &[Comparison]) {
        self.keys_read(report, comparisons);
        excluded(report, self.target, self.parsed);
    }

    /// What the target holds for every task: read back, or (gh) known from its listing
    /// only. `Err`: the listing failed.
    fn compare(
        &self,
        scrubber: &Scrubber<'_>,
    ) -> Result<(Vec<Comparison>, Option<Readings>), String> {
        let (target, tasks) = (self.target, &self.parsed.tasks);
        if let Some(reads) = target.reads() {
            let readings = state::read(target, reads, tasks, self.opts, scrubber);
            return Ok((readings.comparisons.clone(), Some(readings)));
        }
        let names: Vec<String> = tasks
            .iter()
            .map(|t| target.secret_name(&t.key).into_owned())
            .collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        match target.scope() {
            Scope::Listed(d) => {
                let listed = state::list_scope(d, self.opts, scrubber)?;
                let listed: Vec<&str> = listed.iter().map(String::as_str).collect();
                Ok((state::from_listing(target.backend(), &names, &listed), None))
            }
            _ => Ok((vec![Comparison::Unknown; tasks.len()], None)),
        }
    }

    /// 5–7 for a sync: read (`--skip-unchanged`), write what needs it, summarise, prune.
    fn sync(&self, report: &mut RunReport) {
        let (target, tasks, lines) = (self.target, &self.parsed.tasks, self.lines);
        let name = target.backend().name;
        let readings = if self.asked.skip_unchanged {
            self.read_for_skip()
        } else {
            None
        };
        let comparisons: Vec<Option<Comparison>> = match &readings {
            Some(r) => r.comparisons.iter().copied().map(Some).collect(),
            None => vec![None; tasks.len()],
        };
        // A whole-document write carries the stored keys the file excludes or --keep protects.
        let keeps = carry::needed(target, self.asked.keep, !self.parsed.skipped.is_empty());
        let defined = defined(self.parsed, self.asked.policy);
        let carried =
            |n: &String| keeps.is_some() && carry::carried(target, self.asked.keep, &defined, n);
        let write = to_write(target, &comparisons, readings.as_ref(), &carried);
        let scrubber = with_read_back(tasks, readings.as_ref());
        for (task, w) in tasks.iter().zip(&write) {
            if !w {
                lines.out(&format!("= {} (unchanged)", shown_key(&task.key)));
            }
        }
        // What the read learnt about existence spares the write phase its list call.
        let exists: Vec<Option<bool>> = comparisons
            .iter()
            .zip(&write)
            .filter(|(_, w)| **w)
            .map(|(c, _)| match c {
                Some(Comparison::New) => Some(false),
                Some(Comparison::Differs | Comparison::Same) => Some(true),
                Some(Comparison::Unknown | Comparison::Recoverable | Comparison::Blocked)
                | None => None,
            })
            .collect();
        let exists = readings.as_ref().map(|_| exists.as_slice());
        let mut carry = None;
        let written: Vec<KeyWrite> = if let (Some(keeps), Writes::Bulk(bulk), true) =
            (keeps, target.writes(), write.iter().all(|w| *w))
        {
            let old = readings
                .as_ref()
                .map(|r| r.old_values.clone())
                .unwrap_or_default();
            let (written, carried) = carry::write(
                target,
                bulk,
                keeps,
                tasks,
                &defined,
                self.asked.keep,
                old,
                self.opts,
                lines,
            );
            carry = carried;
            written
        } else if write.iter().all(|w| *w) {
            pool::write(target, tasks, exists, self.opts, &scrubber, lines)
        } else if write.iter().any(|w| *w) {
            let subset: Vec<SecretTask> = tasks
                .iter()
                .zip(&write)
                .filter(|(_, w)| **w)
                .map(|(t, _)| t.clone())
                .collect();
            pool::write(target, &subset, exists, self.opts, &scrubber, lines)
        } else {
            Vec::new()
        };
        let mut written = written.into_iter();
        for (i, (w, comparison)) in write.iter().zip(&comparisons).enumerate() {
            if !w {
                report.set(i, State::Unchanged);
                continue;
            }
            let result = written.next().unwrap_or(KeyWrite {
                status: WriteStatus::NotAttempted,
                attempts: 0,
                error: None,
                throttles: 0,
                recovered: false,
            });
            // A recovered secret got a new version: an update, not a create.
            let state = match result.status {
                WriteStatus::Stored if result.recovered => State::Updated,
                status => written_state(status, *comparison),
            };
            let outcome = Outcome {
                attempts: result.attempts,
                error: result.error,
                throttles: result.throttles,
                recovered: result.recovered,
            };
            report.record(i, state, outcome);
        }
        lines.out("");
        lines.out(&report.summary_line(report.started.elapsed()));
        excluded(report, target, self.parsed);
        // What the whole-document write did to stored keys the file does not send: kept
        // (carried by --keep; excluded keys have their entries) and, once it landed, deleted.
        if let Some(carry) = &carry {
            let landed = report.all_stored();
            for key in &carry.kept {
                report.push(self.named(key, State::Kept));
            }
            for key in carry.dropped.iter().filter(|_| landed) {
                report.push(self.named(key, State::Deleted));
            }
        }

        // 7. prune, only after every write landed.
        if self.asked.prune {
            if signals::stop_requested() || !report.all_stored() {
                lines.err("not pruning: not every secret was synced");
                report.fail_said("not pruning: not every secret was synced");
            } else {
                self.prune(report, readings.as_ref(), &scrubber, name);
            }
        }
    }

    /// `--skip-unchanged`'s read; `None` where the target cannot read values back.
    fn read_for_skip(&self) -> Option<Readings> {
        let (target, tasks) = (self.target, &self.parsed.tasks);
        let Some(reads) = target.reads() else {
            self.lines.err(&format!(
                "warning: {} cannot read secret values back: --skip-unchanged writes every value",
                target.backend().name
            ));
            return None;
        };
        let readings = state::read(target, reads, tasks, self.opts, &Scrubber::new(tasks));
        if let Some(denied) = &readings.denied {
            self.lines.err(&format!(
                "warning: --skip-unchanged could not read values ({denied}); the identity \
                 lacks {}: writing those values",
                reads.read_permission()
            ));
        }
        if let Some(failed) = &readings.failed {
            self.lines.err(&format!(
                "warning: --skip-unchanged could not read values ({failed}): writing those \
                 values"
            ));
        }
        Some(readings)
    }

    /// Deletes what is in scope and no longer defined.
    fn prune(
        &self,
        report: &mut RunReport,
        readings: Option<&Readings>,
        scrubber: &Scrubber<'_>,
        name: &str,
    ) {
        let lines = self.lines;
        let deletes: &dyn Deletes = match self.target.scope() {
            Scope::Listed(d) => d,
            Scope::Document => {
                lines.out(&format!(
                    "--prune: {name} writes the whole document at once; keys the env file no \
                     longer defines are not in its new version, and nothing else is deleted"
                ));
                return;
            }
            Scope::Unknown(why) => {
                let said = format!("not pruning: {why}");
                lines.err(&said);
                report.fail_said(said);
                return;
            }
        };
        let (extra, kept, unmarked) = match self.extras(readings, scrubber) {
            Ok(x) => x,
            Err(e) => {
                let said = format!("not pruning: cannot list {name}: {e}");
                lines.err(&said);
                report.fail_said(said);
                return;
            }
        };
        if unmarked > 0 {
            lines.out(&format!(
                "  left alone: {unmarked} secrets in scope without this repository's and env's \
                 ownership marks"
            ));
        }
        for n in &kept {
            lines.out(&format!("  kept (--keep): {}", shown_key(n)));
            report.push(self.named(n, State::Kept));
        }
        if extra.is_empty() {
            lines.out("Nothing to prune.");
            return;
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
            let answer = os::prompt(&question).unwrap_or_default();
            if !matches!(answer.as_str(), "y" | "Y" | "yes") {
                lines.err("not pruning: not confirmed");
                return;
            }
        }
        lines.out(&format!(
            "Pruning {} secrets ({}):",
            extra.len(),
            deletes.delete_means()
        ));
        let mut skipped = Vec::new();
        for d in prune::delete(deletes, &extra, self.opts, scrubber, lines) {
            let state = deleted_state(&d);
            for n in d.names {
                if d.attempts == 0 {
                    skipped.push(n.clone());
                }
                let mut e = self.named(&n, state);
                e.attempts = d.attempts;
                e.error = d.error.clone();
                report.push(e);
            }
        }
        for line in prune::not_attempted_lines(&skipped) {
            lines.err(&line);
        }
    }

    /// The names in scope that the file no longer defines, split into (to delete, kept), and
    /// how many more lack this run's ownership marks (left alone).
    fn extras(
        &self,
        readings: Option<&Readings>,
        scrubber: &Scrubber<'_>,
    ) -> Result<(Vec<String>, Vec<String>, usize), String> {
        let target = self.target;
        let defined = defined(self.parsed, self.asked.policy);
        let (names, unmarked) =
            state::extras_and_unmarked(target, &defined, readings, self.opts, scrubber)?;
        let (delete, kept) = names
            .into_iter()
            .partition(|n| !prune::kept(target, self.asked.keep, n, &key_of(target, n)));
        Ok((delete, kept, unmarked.len()))
    }

    /// The entry of a name in scope that the file does not define.
    fn named(&self, name: &str, state: State) -> Entry {
        Entry {
            key: key_of(self.target, name),
            name: name.to_string(),
            state,
            attempts: 0,
            error: None,
        }
    }
}

/// Which tasks are written. A bulk write (vault) replaces the document: it is all or
/// nothing, and a document holding keys the file lacks is a change too — unless the write
/// carries them over (`carried`: excluded, kept).
fn to_write(
    target: &dyn Target,
    comparisons: &[Option<Comparison>],
    readings: Option<&Readings>,
    carried: &dyn Fn(&String) -> bool,
) -> Vec<bool> {
    let unchanged = |c: &Option<Comparison>| *c == Some(Comparison::Same);
    if matches!(target.writes(), Writes::Bulk(_)) {
        let nothing = comparisons.iter().all(unchanged)
            && readings.is_some_and(|r| r.unasked.iter().all(carried));
        vec![!nothing; comparisons.len()]
    } else {
        comparisons.iter().map(|c| !unchanged(c)).collect()
    }
}

/// The scrubber of the writes and deletes: the file's values and those read back.
fn with_read_back<'t>(tasks: &'t [SecretTask], readings: Option<&Readings>) -> Scrubber<'t> {
    match readings {
        Some(r) => Scrubber::with_read_back(tasks, r.old_values.clone()),
        None => Scrubber::new(tasks),
    }
}

/// A written key's state: created or updated when the read said which, else written.
fn written_state(status: WriteStatus, before: Option<Comparison>) -> State {
    match (status, before) {
        (WriteStatus::Stored, Some(Comparison::New)) => State::Created,
        (WriteStatus::Stored, Some(Comparison::Differs | Comparison::Same)) => State::Updated,
        (WriteStatus::Stored, _) => State::Written,
        (WriteStatus::Failed, _) => State::Failed,
        (WriteStatus::NotAttempted, _) => State::NotAttempted,
    }
}

/// A delete's state: not attempted when no call ran (interrupt, run deadline).
fn deleted_state(d: &prune::Deleted) -> State {
    match (d.ok, d.attempts) {
        (true, _) => State::Deleted,
        (false, 0) => State::NotAttempted,
        (false, _) => State::DeleteFailed,
    }
}

/// What a sync would do with a key, as `--diff` found it.
fn planned(comparison: Comparison) -> State {
    match comparison {
        Comparison::New => State::Create,
        Comparison::Same => State::Unchanged,
        Comparison::Differs => State::Update,
        Comparison::Unknown => State::Unknown,
        Comparison::Recoverable => State::Recover,
        Comparison::Blocked => State::Blocked,
    }
}

fn entry(target: &dyn Target, key: &str, state: State) -> Entry {
    Entry {
        key: key.to_string(),
        name: target.secret_name(key).into_owned(),
        state,
        attempts: 0,
        error: None,
    }
}

/// The keys `--exclude-property` skipped.
fn excluded(report: &mut RunReport, target: &dyn Target, parsed: &ParsedEnv) {
    for key in &parsed.skipped {
        report.push(entry(target, key, State::Excluded));
    }
}

/// Every key the file defines, excluded ones included (and, for an excluded file reference,
/// the key its stem would have been): none of them is ever "no longer defined".
fn defined<'a>(parsed: &'a ParsedEnv, policy: &'a Policy) -> Vec<&'a str> {
    let mut keys: Vec<&str> = parsed.tasks.iter().map(|t| t.key.as_str()).collect();
    for raw in &parsed.skipped {
        keys.push(raw);
        for suffix in &policy.inline_file_suffixes {
            if let Some(stem) = raw.strip_suffix(suffix.as_str()) {
                keys.push(stem);
            }
        }
    }
    keys
}

fn key_of(target: &dyn Target, name: &str) -> String {
    match target.scope() {
        Scope::Listed(d) => d.key_of(name).to_string(),
        _ => name.to_string(),
    }
}

/// The `Parser policy:` block, printed before the env file is read.
fn policy_header(policy: &Policy) -> Vec<String> {
    let mut lines = vec![String::new(), "Parser policy:".to_string()];
    if policy.inline_file_suffixes.is_empty() {
        lines.push("  inline-file-suffix: (none — file refs disabled)".into());
    }
    for s in &policy.inline_file_suffixes {
        lines.push(format!("  inline-file-suffix: {s}"));
    }
    if policy.exclude_properties.is_empty() {
        lines.push("  exclude-property:   (none — nothing skipped)".into());
    }
    for p in &policy.exclude_properties {
        lines.push(format!("  exclude-property:   {}", shown_key(p)));
    }
    lines
}

fn skipped_lines(skipped: &[String], say: &dyn Fn(&str)) {
    for key in skipped {
        say(&format!("  skipped (excluded): {}", shown_key(key)));
    }
}

/// flag → config → prompt (on a TTY) → an error naming the setting and its flag. Prompt
/// answers count as flags, so they are saved like flags.
fn resolve_routing(
    backend: &'static Backend,
    flags: &std::collections::BTreeMap<String, String>,
    config: &ConfigFile,
) -> anyhow::Result<Resolved> {
    let mut flags = flags.clone();
    let stored = |key: &str| config.sync_field(backend.name, key).map(str::to_string);
    loop {
        match routing::resolve(backend, &flags, &stored) {
            Ok(resolved) => return Ok(resolved),
            Err(field) => {
                if !std::io::stdin().is_terminal() {
                    bail!(routing::missing_message(backend, field));
                }
                let answer = os::prompt(field.prompt)?;
                if answer.is_empty() {
                    bail!(
                        "no value given for {}; aborted (pass --{} instead)",
                        field.prompt,
                        field.flag
                    );
                }
                flags.insert(field.flag.to_string(), answer);
            }
        }
    }
}

/// Test hooks: `VSYNC_RUN_DEADLINE_SECS` and `VSYNC_RETRY_BASE_MS` shorten the run deadline
/// and the retry backoff, so the failure model can be tested in seconds.
fn env_duration(name: &str, unit_ms: u64) -> Option<Duration> {
    let n: u64 = std::env::var(name).ok()?.parse().ok()?;
    Some(Duration::from_millis(n.saturating_mul(unit_ms)))
}

/// Test hook: `VSYNC_TIME_SCALE` (a factor, e.g. `0.01`) shortens every wait a throttling
/// store asks for, so the waits of the shipped pacing can be tested in seconds; the messages
/// still name the shipped waits.
fn time_scale() -> f64 {
    std::env::var("VSYNC_TIME_SCALE")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|f| f.is_finite() && *f >= 0.0)
        .unwrap_or(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_header_lists_empty_and_given_policies() {
        assert_eq!(
            policy_header(&Policy::default()),
            [
                "",
                "Parser policy:",
                "  inline-file-suffix: (none — file refs disabled)",
                "  exclude-property:   (none — nothing skipped)"
            ]
        );
        let p = Policy {
            inline_file_suffixes: vec!["_PATH".into(), "_FILE".into()],
            exclude_properties: vec!["GITHUB_TOKEN".into()],
        };
        assert_eq!(
            policy_header(&p),
            [
                "",
                "Parser policy:",
                "  inline-file-suffix: _PATH",
                "  inline-file-suffix: _FILE",
                "  exclude-property:   GITHUB_TOKEN"
            ]
        );
    }

    #[test]
    fn diff_markers_and_json_states_follow_the_comparison() {
        let all = [
            Comparison::New,
            Comparison::Differs,
            Comparison::Same,
            Comparison::Unknown,
        ];
        let markers: String = all.iter().map(|c| c.marker()).collect();
        assert_eq!(markers, "+~=?");
        let states: Vec<&str> = all.iter().map(|c| planned(*c).name()).collect();
        assert_eq!(states, ["create", "update", "unchanged", "unknown"]);
        assert_eq!(planned(Comparison::Recoverable).name(), "recover");
        assert_eq!(planned(Comparison::Blocked).name(), "blocked");
    }

    #[test]
    fn a_delete_that_never_ran_is_not_attempted() {
        let d = |ok, attempts| prune::Deleted {
            names: vec![],
            ok,
            attempts,
            error: None,
        };
        assert_eq!(deleted_state(&d(true, 1)).name(), "deleted");
        assert_eq!(deleted_state(&d(false, 0)).name(), "not_attempted");
        assert_eq!(deleted_state(&d(false, 3)).name(), "delete_failed");
    }

    #[test]
    fn a_written_key_is_created_or_updated_only_when_the_read_said_so() {
        let stored = WriteStatus::Stored;
        assert_eq!(written_state(stored, Some(Comparison::New)), State::Created);
        assert_eq!(
            written_state(stored, Some(Comparison::Differs)),
            State::Updated
        );
        assert_eq!(
            written_state(stored, Some(Comparison::Unknown)),
            State::Written
        );
        assert_eq!(written_state(stored, None), State::Written);
        assert_eq!(written_state(WriteStatus::Failed, None), State::Failed);
    }
}
