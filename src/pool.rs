//! The push engine: a crossbeam job queue drained by worker threads for targets that write
//! per key, or one bulk write for those that write everything at once. Retries, switches
//! between create and update, the per-call timeout and the run deadline are decided here, in
//! one retry loop (`settle`) that every call passes through the target's gate (`pace`: the
//! pause and concurrency after a throttle, the stop after a store-level failure); spawning is
//! `exec`'s. `run_calls` drains independent calls (reads, lists, deletes) the same way,
//! under the same bounds.

use crate::exec;
use crate::outcome::{Exit, Outcome};
use crate::pace::{Gate, Refused, next_random};
use crate::scrub::Scrubber;
use crate::signals;
use crate::targets::{Bulk, Deleted, Failure, Op, PerKey, Recovers, Target, VendorCmd, Writes};
use crate::task::SecretTask;
use crate::term::{Lines, shown_key};
use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub struct RunOpts {
    pub workers: usize,
    /// One vendor call at most.
    pub timeout: Duration,
    /// The whole run ends here: nothing starts after it, and calls are cut short at it.
    pub deadline: Instant,
    /// First retry waits about this long, doubling each time (with jitter).
    pub retry_base: Duration,
    /// When the run started (the deadline is counted from it).
    pub started: Instant,
    /// The target's pace: every call passes it (throttles, store-level stops).
    pub gate: Gate,
}

/// How long a run whose keys are all pushed still waits for a list call that shows which
/// secrets lack the ownership marks, before it gives up marking them this run.
const MARK_LIST_GRACE: Duration = Duration::from_secs(3);

/// Three attempts in all for a transient failure (a throttle is retried until the deadline).
const MAX_ATTEMPTS: u32 = 3;
/// Create ↔ update switches per key; two cover "list was stale" plus "created meanwhile".
const MAX_SWITCHES: u32 = 2;

/// Where a key's write ended up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteStatus {
    Stored,
    Failed,
    /// Never started: interrupted, or past the run deadline.
    NotAttempted,
}

/// One key's write: where it ended up, and how many vendor calls it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyWrite {
    pub status: WriteStatus,
    pub attempts: u32,
    /// The last call's error, scrubbed, when the key failed.
    pub error: Option<String>,
    /// Calls of this key the store throttled.
    pub throttles: u32,
    /// A deleted secret of vsync's held the name and was recovered first: written, it holds
    /// the new value; failed, it holds its old one again.
    pub recovered: bool,
}

/// Writes every task to the target; results in task order. `exists` (in task order, `None`
/// where unknown) is what a read already learnt about each secret: given, no list call is
/// made to tell creates from updates. Progress lines go to `lines` as keys land.
pub fn write(
    target: &dyn Target,
    tasks: &[SecretTask],
    exists: Option<&[Option<bool>]>,
    opts: &RunOpts,
    scrubber: &Scrubber<'_>,
    lines: &dyn Lines,
) -> Vec<KeyWrite> {
    match target.writes() {
        Writes::PerKey(per_key) => {
            run_per_key(target, per_key, tasks, exists, opts, scrubber, lines)
        }
        Writes::Bulk(bulk) => run_bulk(bulk, tasks, opts, scrubber, lines),
    }
}

/// Each key with its own calls, from a pool of workers.
fn run_per_key(
    target: &dyn Target,
    per_key: &dyn PerKey,
    tasks: &[SecretTask],
    known: Option<&[Option<bool>]>,
    opts: &RunOpts,
    scrubber: &Scrubber<'_>,
    lines: &dyn Lines,
) -> Vec<KeyWrite> {
    let (tx, rx) = crossbeam_channel::unbounded();
    for i in 0..tasks.len() {
        tx.send(i).expect("receiver alive");
    }
    drop(tx);
    // Names known to exist, filled by one list call that the first worker makes while the
    // others push; until (or unless) it answers, workers assume the steady state: the
    // secret exists.
    // They are kept as sorted slices of the call's output (`listed`, which outlives the
    // workers so they can borrow from it), not as a set of copies: at 10,000 secrets that is
    // the output plus 16 bytes a name.
    let listed: OnceLock<String> = OnceLock::new();
    let existing: OnceLock<Vec<&str>> = OnceLock::new();
    // Once every key is pushed, a list call still running is killed, not awaited.
    let pushed_all = AtomicBool::new(false);
    // What each task came to, recorded by whichever worker pushed it: its call count (0:
    // never started) and, for the few that failed, the error. A byte a task, where a
    // `KeyWrite` a task would be the largest allocation of a 10,000-key run.
    let calls: Vec<AtomicU8> = (0..tasks.len()).map(|_| AtomicU8::new(0)).collect();
    let throttles: Mutex<Vec<(usize, u32)>> = Mutex::new(Vec::new());
    let failures: Mutex<Vec<(usize, String)>> = Mutex::new(Vec::new());
    // The few tasks whose deleted secret was recovered before the write.
    let recoveries: Mutex<Vec<usize>> = Mutex::new(Vec::new());

    // A target that marks what it owns needs the listing for which secrets lack the marks,
    // even when a read already told which exist, and gives it a short grace to answer.
    let marks = per_key.marks();
    let unmarked: OnceLock<Vec<&str>> = OnceLock::new();
    // With a read's answer, the list is made only when an existing secret is written.
    let writes_existing = known.is_none_or(|k| k.iter().any(|e| *e != Some(false)));
    let mut list = per_key
        .list_cmd()
        .filter(|_| known.is_none() || (marks && writes_existing));
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..opts.workers.max(1))
            .map(|_| {
                let rx = rx.clone();
                let (listed, existing, unmarked) = (&listed, &existing, &unmarked);
                let pushed_all = &pushed_all;
                let (calls, failures, throttles) = (&calls, &failures, &throttles);
                let recoveries = &recoveries;
                // The first worker makes the list call, so that `--workers` bounds every
                // vendor process at once; the others push meanwhile.
                let list = list.take();
                scope.spawn(move || {
                    if let Some(list) = list.filter(|_| !signals::stop_requested()) {
                        let out = exec::run_abortable(&list, b"", call_timeout(opts), pushed_all);
                        if out.success() {
                            let text = listed.get_or_init(|| into_text(out.stdout));
                            let mut names = per_key.parse_list(text);
                            names.sort_unstable();
                            names.shrink_to_fit();
                            let _ = existing.set(names);
                            if marks {
                                let mut names = per_key.parse_unmarked(text);
                                names.sort_unstable();
                                let _ = unmarked.set(names);
                            }
                        }
                    }
                    for i in rx.iter() {
                        if signals::stop_requested()
                            || Instant::now() >= opts.deadline
                            || opts.gate.stopped().is_some()
                        {
                            continue;
                        }
                        let task = &tasks[i];
                        lines.out(&format!("Setting secret: {}", shown_key(&task.key)));
                        let exists = match known {
                            Some(known) => known.get(i).copied().flatten(),
                            None => existing.get().map(|names| {
                                let name = target.secret_name(&task.key);
                                names.binary_search(&name.as_ref()).is_ok()
                            }),
                        };
                        let (pushed, settled) =
                            push_key(per_key, target, task, exists, opts, scrubber);
                        if settled.calls == 0 {
                            // The gate refused the first call (interrupt, deadline, a stop
                            // while this key waited out a pause): not attempted, no line.
                            continue;
                        }
                        calls[i].store(settled.calls.min(u8::MAX.into()) as u8, Ordering::Relaxed);
                        if settled.throttles > 0 {
                            let mut throttles = throttles.lock().expect("no worker panics");
                            throttles.push((i, settled.throttles));
                        }
                        if settled.recovered {
                            recoveries.lock().expect("no worker panics").push(i);
                        }
                        match pushed {
                            Ok(()) if settled.recovered => {
                                lines.out(&format!(
                                    "✓ {} (recovered, then written)",
                                    shown_key(&task.key)
                                ));
                            }
                            Ok(()) => {
                                lines.out(&format!("✓ {}", shown_key(&task.key)));
                            }
                            Err(failed) => {
                                let mut error = failed.words(per_key, &task.key, scrubber);
                                if settled.recovered {
                                    error.push_str(&format!(
                                        "; {} was recovered from its deletion and holds its old, \
                                         pre-prune value again, not the env file's",
                                        target.secret_name(&task.key)
                                    ));
                                }
                                // A store-level failure is said once, by the gate.
                                if !matches!(
                                    settled.failure,
                                    Some(Failure::Store(_) | Failure::Unreachable(_))
                                ) {
                                    lines.err(&format!(
                                        "WARNING: skipping {}: {error}",
                                        shown_key(&task.key)
                                    ));
                                }
                                failures.lock().expect("no worker panics").push((i, error));
                            }
                        }
                    }
                })
            })
            .collect();
        // The other workers first: once they are done and the queue is empty, every key
        // is pushed or being pushed, and a list call still running is not worth waiting
        // for. (A lone worker empties the queue only after its list call.)
        let mut handles = handles.into_iter();
        let first = handles.next();
        let join = |h: std::thread::ScopedJoinHandle<'_, ()>| h.join().expect("worker panicked");
        handles.for_each(join);
        if rx.is_empty() {
            if let Some(first) = first.as_ref().filter(|_| marks) {
                let until = Instant::now() + MARK_LIST_GRACE;
                while !first.is_finished() && Instant::now() < until && !signals::stop_requested() {
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
            pushed_all.store(true, Ordering::SeqCst);
        }
        first.into_iter().for_each(join);
    });
    let mut failures = failures.into_inner().expect("no worker panics");
    // Sorted by task, last first: looked up by binary search, then taken from the end.
    failures.sort_unstable_by_key(|(i, _)| std::cmp::Reverse(*i));
    // KeyWrite, and listed as lacking the marks: add them.
    if let Some(unmarked) = unmarked.get() {
        let to_mark: Vec<&SecretTask> = tasks
            .iter()
            .enumerate()
            .filter(|(i, t)| {
                calls[*i].load(Ordering::Relaxed) > 0
                    && failures
                        .binary_search_by_key(&std::cmp::Reverse(*i), |(f, _)| {
                            std::cmp::Reverse(*f)
                        })
                        .is_err()
                    && unmarked
                        .binary_search(&target.secret_name(&t.key).as_ref())
                        .is_ok()
            })
            .map(|(_, t)| t)
            .collect();
        add_marks(per_key, &to_mark, opts, scrubber, lines);
    }
    // Joined: no worker holds a lock, and the list output is no longer needed.
    drop(unmarked);
    drop(existing);
    drop(listed);
    let mut recoveries = recoveries.into_inner().expect("no worker panics");
    recoveries.sort_unstable();
    let mut throttles = throttles.into_inner().expect("no worker panics");
    throttles.sort_unstable_by_key(|(i, _)| std::cmp::Reverse(*i));
    let not_written = not_written_note(opts);
    calls
        .into_iter()
        .enumerate()
        .map(|(i, calls)| {
            let attempts = u32::from(calls.into_inner());
            let error = match failures.last() {
                Some((failed, _)) if *failed == i => failures.pop().map(|(_, e)| e),
                _ => None,
            };
            let status = match (attempts, &error) {
                (0, _) => WriteStatus::NotAttempted,
                (_, Some(_)) => WriteStatus::Failed,
                (_, None) => WriteStatus::Stored,
            };
            let error = match status {
                WriteStatus::NotAttempted => not_written.clone(),
                _ => error,
            };
            let throttles = match throttles.last() {
                Some((t, _)) if *t == i => throttles.pop().map_or(0, |(_, n)| n),
                _ => 0,
            };
            KeyWrite {
                status,
                attempts,
                error,
                throttles,
                recovered: recoveries.binary_search(&i).is_ok(),
            }
        })
        .collect()
}

/// Why keys never started, when the target was closed or the deadline came (else `None`: an
/// interrupt, which the report says itself).
fn not_written_note(opts: &RunOpts) -> Option<String> {
    if opts.gate.stopped().is_some() {
        Some("not written: the target stopped at a store-level failure".into())
    } else if Instant::now() >= opts.deadline && !signals::stop_requested() {
        Some("not attempted: the run deadline (--deadline) came first".into())
    } else {
        None
    }
}

/// Sets the target's marks on existing secrets that lacked them, and says how many. A key
/// whose marks could not be set is still synced (its value landed); it only stays out of
/// `--prune`'s scope, and a warning says so.
fn add_marks(
    per_key: &dyn PerKey,
    tasks: &[&SecretTask],
    opts: &RunOpts,
    scrubber: &Scrubber<'_>,
    lines: &dyn Lines,
) {
    let (keys, cmds): (Vec<&str>, Vec<VendorCmd>) = tasks
        .iter()
        .filter_map(|t| Some((t.key.as_str(), per_key.mark_cmd(&t.key)?)))
        .unzip();
    if cmds.is_empty() {
        return;
    }
    let classify = |stderr: &str| per_key.classify(stderr, None);
    let finish = |i: usize, out: Outcome, _attempts: u32| {
        if !out.success() {
            lines.err(&format!(
                "WARNING: could not mark {} as vsync's ({}: {}): its value is synced, but \
                 --prune leaves it alone until a later run marks it",
                shown_key(keys[i]),
                cmds[i].label(2),
                scrubber.failure(&out)
            ));
        }
        out.success()
    };
    let marked = run_calls(&cmds, opts, &classify, &finish)
        .into_iter()
        .filter(|ok| *ok == Some(true))
        .count();
    lines.out(&format!(
        "Marked {marked} existing secrets as this repository's and env's (they lacked vsync's \
         ownership marks)."
    ));
}

/// Captured output as text, reusing its buffer when it is UTF-8 (it always is, from the
/// vendor CLIs); a stray invalid byte is replaced.
fn into_text(mut bytes: Vec<u8>) -> String {
    bytes.shrink_to_fit();
    String::from_utf8(bytes)
        .unwrap_or_else(|invalid| String::from_utf8_lossy(invalid.as_bytes()).into_owned())
}

/// Why a key failed: a vendor call's outcome (unscrubbed) under `<vendor> <subcommand>`,
/// or vsync's own words.
enum Fail {
    Call(String, Outcome),
    Said(String),
}

impl Fail {
    /// The key's error: the target's plain words for what the vendor said (before it), the
    /// vendor's scrubbed text, and what to do next (after it).
    fn words(self, per_key: &dyn PerKey, key: &str, scrubber: &Scrubber<'_>) -> String {
        let (label, out) = match self {
            Fail::Said(words) => return words,
            Fail::Call(label, out) => (label, out),
        };
        let stderr = String::from_utf8_lossy(&out.stderr);
        let mut error = match per_key.explain(&stderr) {
            Some(why) => format!("{label}: {why}; {}", scrubber.failure(&out)),
            None => format!("{label}: {}", scrubber.failure(&out)),
        };
        if let Some(hint) = per_key.failure_hint(key, &stderr) {
            error.push_str(" — ");
            error.push_str(&hint);
        }
        error
    }
}

/// One key: the first write, then retries and create/update switches as the errors say, and
/// (once) the recovery of a deleted secret of vsync's that holds the name.
fn push_key(
    target: &dyn PerKey,
    named: &dyn Target,
    task: &SecretTask,
    exists: Option<bool>,
    opts: &RunOpts,
    scrubber: &Scrubber<'_>,
) -> (Result<(), Fail>, Settled) {
    let op = Cell::new(target.first_op(exists));
    let mut switches = 0;
    // Calls the recovery made, when the recovery finished (Key Vault may refuse writes for
    // a moment after it), and why it failed the key.
    let recovery_calls = Cell::new(0);
    let recovered_at: Cell<Option<Instant>> = Cell::new(None);
    let recovery_failed: RefCell<Option<Fail>> = RefCell::new(None);
    let mut waits = 0;
    // The op of the last call that ran (a switch changes `op` before the next call).
    let last_op = Cell::new(op.get());
    let mut settled = settle(
        opts,
        scrubber,
        || {
            last_op.set(op.get());
            let out = run_call(&target.push_cmd(&task.key, op.get()), &task.value, opts);
            let failure = (!out.success())
                .then(|| classify(&out, |stderr, code| target.classify(stderr, code)));
            (out, failure)
        },
        |failure| {
            if *failure == Failure::Recovering {
                // Only after our own recovery, for as long as one call may take.
                let fresh = recovered_at
                    .get()
                    .is_some_and(|at| at.elapsed() < opts.timeout);
                waits += 1;
                return fresh && backoff(waits.min(4), opts);
            }
            let next = match (failure, op.get()) {
                (Failure::NotFound, Op::Update) => Op::Create,
                (Failure::AlreadyExists, Op::Create) => Op::Update,
                (Failure::Deleted, _) if recovered_at.get().is_none() => target.update_op(),
                _ => return false,
            };
            if switches >= MAX_SWITCHES {
                return false;
            }
            if *failure == Failure::Deleted {
                // The recovery is new vendor calls, and nothing new starts after an interrupt.
                if signals::stop_requested() {
                    return false;
                }
                let Some(recovers) = target.recovery() else {
                    return false;
                };
                let name = named.secret_name(&task.key);
                let mut calls = 0;
                let recovery = recover(
                    recovers,
                    &name,
                    target.label_words(op.get()),
                    opts,
                    &mut calls,
                );
                recovery_calls.set(recovery_calls.get() + calls);
                match recovery {
                    Ok(Recovery::Done) => recovered_at.set(Some(Instant::now())),
                    Ok(Recovery::NotNeeded) => {}
                    Err(fail) => {
                        *recovery_failed.borrow_mut() = Some(fail);
                        return false;
                    }
                }
            }
            switches += 1;
            op.set(next);
            true
        },
    );
    settled.calls += recovery_calls.get();
    settled.recovered = recovered_at.get().is_some();
    if let Some(fail) = recovery_failed.into_inner() {
        return (Err(fail), settled);
    }
    let Some(out) = settled.out.take().filter(|_| settled.failure.is_some()) else {
        return (Ok(()), settled);
    };
    let ran = last_op.get();
    let mut label = target
        .push_cmd(&task.key, ran)
        .label(target.label_words(ran));
    let interrupted = settled.refused == Some(Refused::Interrupted);
    if interrupted && ran != op.get() {
        // The switch would be a new vendor call, and nothing new starts after an interrupt:
        // the key fails with what the last call said.
        let next = match op.get() {
            Op::Create => "create",
            _ => "update",
        };
        label = format!("{label} (no {next} attempted: interrupted)");
    } else if settled.failure == Some(Failure::Deleted) && signals::stop_requested() {
        label = format!("{label} (no recovery attempted: interrupted)");
    } else if interrupted && settled.recovered {
        label = format!("{label} (not written again after the recovery: interrupted)");
    }
    (Err(Fail::Call(label, out)), settled)
}

/// How one call ended after its retries.
pub struct Settled {
    /// The last call's outcome; `None` when none started.
    pub out: Option<Outcome>,
    /// What the last call's failure meant; `None` when it landed.
    pub failure: Option<Failure>,
    pub calls: u32,
    pub throttles: u32,
    /// Why the gate refused a further call, when it did.
    pub refused: Option<Refused>,
    /// The last failure asked for a switch that never ran.
    pub switching: bool,
    /// A deleted secret of vsync's was recovered on the way.
    pub recovered: bool,
}

/// The one retry loop: runs `call` through the target's gate until it lands or gives up. A
/// throttle pauses the whole target and is retried until the gate refuses (deadline,
/// interrupt); other transient failures get `MAX_ATTEMPTS` in all with backoff; `switch`
/// may turn a failure into an immediate new call (create ↔ update); a store-level failure (or
/// an unreachable store after its attempts) closes the gate, once, with `scrubber`'s text.
pub fn settle(
    opts: &RunOpts,
    scrubber: &Scrubber<'_>,
    mut call: impl FnMut() -> (Outcome, Option<Failure>),
    mut switch: impl FnMut(&Failure) -> bool,
) -> Settled {
    let mut settled = Settled {
        out: None,
        failure: None,
        calls: 0,
        throttles: 0,
        refused: None,
        switching: false,
        recovered: false,
    };
    let mut attempt = 1;
    loop {
        let permit = match opts.gate.acquire(opts.deadline) {
            Ok(permit) => permit,
            Err(refused) => {
                settled.refused = Some(refused);
                return settled;
            }
        };
        settled.calls += 1;
        let (out, failure) = call();
        settled.switching = false;
        let Some(failure) = failure else {
            permit.landed();
            settled.out = Some(out);
            settled.failure = None;
            return settled;
        };
        if failure == Failure::Throttled {
            permit.throttled();
            settled.throttles += 1;
            settled.out = Some(out);
            settled.failure = Some(failure);
            continue;
        }
        drop(permit);
        let failure = match failure {
            Failure::Unreachable(next) if attempt >= MAX_ATTEMPTS => Failure::Store(next),
            other => other,
        };
        if let Failure::Store(next) = &failure {
            opts.gate.stop(&first_line(&scrubber.failure(&out)), next);
            settled.out = Some(out);
            settled.failure = Some(failure);
            return settled;
        }
        let retry = if switch(&failure) {
            settled.switching = true;
            true
        } else {
            matches!(failure, Failure::Transient | Failure::Unreachable(_))
                && attempt < MAX_ATTEMPTS
                && backoff(attempt, opts)
                && {
                    attempt += 1;
                    true
                }
        };
        settled.out = Some(out);
        settled.failure = Some(failure);
        if !retry {
            if let Some(Failure::Unreachable(next)) = &settled.failure {
                // Out of attempts, or stopped waiting: the store never answered.
                let said = first_line(&scrubber.failure(settled.out.as_ref().expect("set")));
                opts.gate.stop(&said, next);
            }
            return settled;
        }
    }
}

/// The first non-empty line of a vendor's error, for the one store-level message.
fn first_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or(text)
        .to_string()
}

/// What the recovery step came to.
enum Recovery {
    /// The deleted secret was vsync's and is back.
    Done,
    /// Nothing is deleted under the name (any more): write again.
    NotNeeded,
}

/// Shows the deleted secret that holds `name`, and restores it when its marks say it is this
/// repo's and env's; anything else fails the key, naming the secret and what frees it.
fn recover(
    recovers: &dyn Recovers,
    name: &str,
    words: usize,
    opts: &RunOpts,
    calls: &mut u32,
) -> Result<Recovery, Fail> {
    let show = recovers.show_deleted_cmd(name);
    *calls += 1;
    let shown = run_call(&show, b"", opts);
    if !shown.success() {
        return Err(Fail::Call(
            format!(
                "{} (checking the deleted secret that holds the name)",
                show.label(words)
            ),
            shown,
        ));
    }
    match recovers.parse_deleted(&String::from_utf8_lossy(&shown.stdout)) {
        Deleted::Live => return Ok(Recovery::NotNeeded),
        Deleted::NotMine => return Err(Fail::Said(recovers.left_alone(name))),
        Deleted::Mine => {}
    }
    if signals::stop_requested() {
        return Err(Fail::Said(format!(
            "{name} is a deleted secret of vsync's; not recovered: interrupted"
        )));
    }
    let cmd = recovers.recover_cmd(name);
    let mut attempt = 1;
    loop {
        *calls += 1;
        let out = run_call(&cmd, b"", opts);
        if out.success() {
            return Ok(Recovery::Done);
        }
        let failure = classify(&out, |stderr, _| Failure::by_shared_markers(stderr));
        if failure == Failure::Transient && attempt < MAX_ATTEMPTS && backoff(attempt, opts) {
            attempt += 1;
            continue;
        }
        return Err(Fail::Call(
            format!(
                "{} (recovering the deleted secret of vsync's)",
                cmd.label(words)
            ),
            out,
        ));
    }
}

/// One blocking write of every task (atomic: all land or none).
fn run_bulk(
    bulk: &dyn Bulk,
    tasks: &[SecretTask],
    opts: &RunOpts,
    scrubber: &Scrubber<'_>,
    lines: &dyn Lines,
) -> Vec<KeyWrite> {
    run_bulk_write(
        bulk,
        tasks,
        &bulk.write_cmd(),
        &bulk.document(tasks),
        &|_| None,
        opts,
        scrubber,
        lines,
    )
}

/// One bulk write of `document` with `cmd` (a write that carries stored keys over builds
/// its own); `advice` adds what to do to a failure's error.
#[allow(clippy::too_many_arguments)]
pub fn run_bulk_write(
    bulk: &dyn Bulk,
    tasks: &[SecretTask],
    cmd: &VendorCmd,
    document: &[u8],
    advice: &dyn Fn(&str) -> Option<&'static str>,
    opts: &RunOpts,
    scrubber: &Scrubber<'_>,
    lines: &dyn Lines,
) -> Vec<KeyWrite> {
    let all = |status, attempts, error, throttles| {
        vec![
            KeyWrite {
                status,
                attempts,
                error,
                throttles,
                recovered: false,
            };
            tasks.len()
        ]
    };
    if signals::stop_requested() || Instant::now() >= opts.deadline {
        return all(WriteStatus::NotAttempted, 0, None, 0);
    }
    lines.out(&bulk.announce(tasks.len()));
    let settled = settle(
        opts,
        scrubber,
        || {
            let out = run_call(cmd, document, opts);
            let failure = (!out.success())
                .then(|| classify(&out, |stderr, code| bulk.classify(stderr, code)));
            (out, failure)
        },
        |_| false,
    );
    let (attempts, throttles) = (settled.calls, settled.throttles);
    match (&settled.out, &settled.failure) {
        (None, _) => all(WriteStatus::NotAttempted, 0, not_written_note(opts), 0),
        (Some(_), None) => {
            for task in tasks {
                lines.out(&format!("✓ {}", shown_key(&task.key)));
            }
            all(WriteStatus::Stored, attempts, None, throttles)
        }
        (Some(out), Some(_)) => {
            // The one line that reports the write of every key, as for any failure; a
            // store-level one adds the gate's line with the next step.
            let mut error = format!("{} failed: {}", bulk.label(), scrubber.failure(out));
            if let Some(advice) = advice(&String::from_utf8_lossy(&out.stderr)) {
                error.push_str(&format!(" — {advice}"));
            }
            lines.err(&format!("WARNING: {error}"));
            all(WriteStatus::Failed, attempts, Some(error), throttles)
        }
    }
}

/// Runs independent calls (reads, lists, deletes) from a pool of `opts.workers`, retrying
/// transient failures as pushes are; `finish` turns each call's last outcome into a result in
/// the worker, so large outputs are not all held at once. `None`: never started
/// (interrupt or run deadline).
pub fn run_calls<T: Send + Sync>(
    cmds: &[VendorCmd],
    opts: &RunOpts,
    classify: &(dyn Fn(&str) -> Failure + Sync),
    finish: &(dyn Fn(usize, Outcome, u32) -> T + Sync),
) -> Vec<Option<T>> {
    let (tx, rx) = crossbeam_channel::unbounded();
    for i in 0..cmds.len() {
        tx.send(i).expect("receiver alive");
    }
    drop(tx);
    let slots: Vec<OnceLock<T>> = (0..cmds.len()).map(|_| OnceLock::new()).collect();
    std::thread::scope(|scope| {
        for _ in 0..opts.workers.max(1).min(cmds.len().max(1)) {
            let (rx, slots) = (rx.clone(), &slots);
            scope.spawn(move || {
                for i in rx.iter() {
                    if signals::stop_requested() || Instant::now() >= opts.deadline {
                        continue;
                    }
                    // Reads and deletes report their own errors: a store-level one is theirs
                    // to say, so the gate is not closed from here (`Scrubber` of no values).
                    let settled = settle(
                        opts,
                        &Scrubber::new(&[]),
                        || {
                            let out = run_call(&cmds[i], b"", opts);
                            let failure =
                                (!out.success()).then(|| match classify_call(&out, classify) {
                                    Failure::Store(_) | Failure::Unreachable(_) => {
                                        Failure::Permanent
                                    }
                                    other => other,
                                });
                            (out, failure)
                        },
                        |_| false,
                    );
                    if let Some(out) = settled.out {
                        let _ = slots[i].set(finish(i, out, settled.calls));
                    }
                }
            });
        }
    });
    slots.into_iter().map(OnceLock::into_inner).collect()
}

fn classify_call(out: &Outcome, vendor: &(dyn Fn(&str) -> Failure + Sync)) -> Failure {
    classify(out, |stderr, _| vendor(stderr))
}

/// How a failed call is treated: our own kills are decided here, vendor errors by the target.
fn classify(out: &Outcome, vendor: impl Fn(&str, Option<i32>) -> Failure) -> Failure {
    match out.exit {
        Exit::TimedOut(_) => Failure::Transient,
        Exit::DeadlineReached(_) | Exit::Interrupted | Exit::SpawnFailed(_) => Failure::Permanent,
        _ => vendor(&String::from_utf8_lossy(&out.stderr), out.code()),
    }
}

/// One push call under the per-call timeout, cut short by the run deadline; a call the
/// deadline cut is reported as such, not as a per-call timeout.
fn run_call(cmd: &VendorCmd, stdin: &[u8], opts: &RunOpts) -> Outcome {
    let timeout = call_timeout(opts);
    let mut out = exec::run(cmd, stdin, timeout);
    if matches!(out.exit, Exit::TimedOut(_)) && timeout < opts.timeout {
        out.exit = Exit::DeadlineReached(opts.started.elapsed());
    }
    out
}

/// The per-call timeout, cut short by the run deadline.
fn call_timeout(opts: &RunOpts) -> Duration {
    opts.timeout
        .min(opts.deadline.saturating_duration_since(Instant::now()))
}

/// Sleeps before attempt `attempt + 1`; false when an interrupt or the deadline means
/// there should be no further attempt.
fn backoff(attempt: u32, opts: &RunOpts) -> bool {
    let delay = backoff_delay(opts.retry_base, attempt, next_random());
    let until = Instant::now() + delay;
    if until >= opts.deadline {
        return false;
    }
    while Instant::now() < until {
        if signals::stop_requested() {
            return false;
        }
        std::thread::sleep(
            until
                .saturating_duration_since(Instant::now())
                .min(Duration::from_millis(50)),
        );
    }
    !signals::stop_requested()
}

/// Exponential backoff with jitter: `base * 2^(attempt-1)`, scaled by a factor in [0.5, 1.5).
pub fn backoff_delay(base: Duration, attempt: u32, random: u64) -> Duration {
    let exp = base.saturating_mul(1 << (attempt - 1).min(16));
    let factor = 0.5 + (random % 1000) as f64 / 1000.0;
    exp.mul_f64(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_jitters_within_half_to_one_and_a_half() {
        let base = Duration::from_millis(1000);
        assert_eq!(backoff_delay(base, 1, 0), Duration::from_millis(500));
        assert_eq!(backoff_delay(base, 1, 999), Duration::from_millis(1499));
        assert_eq!(backoff_delay(base, 2, 500), Duration::from_millis(2000));
        assert_eq!(backoff_delay(base, 3, 0), Duration::from_millis(2000));
    }

    #[test]
    fn captured_output_becomes_text_with_invalid_bytes_replaced() {
        assert_eq!(into_text(b"A\nB\n".to_vec()), "A\nB\n");
        assert_eq!(into_text(b"A\xFF\nB".to_vec()), "A\u{FFFD}\nB");
        assert_eq!(into_text(Vec::new()), "");
    }

    #[test]
    fn the_random_source_moves() {
        assert_ne!(next_random(), next_random());
    }
}
