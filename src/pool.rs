//! The push engine: a crossbeam job queue drained by worker threads for targets that write
//! per key, or one bulk write for those that write everything at once. Retries, switches
//! between create and update, the per-call timeout and the run deadline are decided here;
//! spawning is `exec`'s. `run_calls` drains independent calls (reads, lists, deletes) the
//! same way, under the same bounds.

use crate::exec;
use crate::outcome::{Exit, Outcome};
use crate::scrub::Scrubber;
use crate::signals;
use crate::targets::{Bulk, Failure, Op, PerKey, Target, VendorCmd, Writes};
use crate::task::SecretTask;
use crate::term::{Lines, shown_key};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
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
}

/// Three attempts in all for a transient failure.
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
    let failures: Mutex<Vec<(usize, String)>> = Mutex::new(Vec::new());

    let mut list = per_key.list_cmd().filter(|_| known.is_none());
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..opts.workers.max(1))
            .map(|_| {
                let rx = rx.clone();
                let (listed, existing, pushed_all) = (&listed, &existing, &pushed_all);
                let (calls, failures) = (&calls, &failures);
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
                        }
                    }
                    for i in rx.iter() {
                        if signals::stop_requested() || Instant::now() >= opts.deadline {
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
                        let mut attempts = 0;
                        let pushed = push_key(per_key, task, exists, opts, &mut attempts);
                        calls[i].store(attempts.min(u8::MAX.into()) as u8, Ordering::Relaxed);
                        match pushed {
                            Ok(()) => {
                                lines.out(&format!("✓ {}", shown_key(&task.key)));
                            }
                            Err((label, out)) => {
                                let error = format!("{label}: {}", scrubber.failure(&out));
                                lines.err(&format!(
                                    "WARNING: skipping {}: {error}",
                                    shown_key(&task.key)
                                ));
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
            pushed_all.store(true, Ordering::SeqCst);
        }
        first.into_iter().for_each(join);
    });
    // Joined: no worker holds a lock, and the list output is no longer needed.
    drop(existing);
    drop(listed);
    let mut failures = failures.into_inner().expect("no worker panics");
    failures.sort_unstable_by_key(|(i, _)| std::cmp::Reverse(*i));
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
            KeyWrite {
                status,
                attempts,
                error,
            }
        })
        .collect()
}

/// Captured output as text, reusing its buffer when it is UTF-8 (it always is, from the
/// vendor CLIs); a stray invalid byte is replaced.
fn into_text(mut bytes: Vec<u8>) -> String {
    bytes.shrink_to_fit();
    String::from_utf8(bytes)
        .unwrap_or_else(|invalid| String::from_utf8_lossy(invalid.as_bytes()).into_owned())
}

/// One key: the first write, then retries and create/update switches as the errors say.
/// `Err` carries `<vendor> <subcommand>` and the last call's outcome (unscrubbed).
fn push_key(
    target: &dyn PerKey,
    task: &SecretTask,
    exists: Option<bool>,
    opts: &RunOpts,
    calls: &mut u32,
) -> Result<(), (String, Outcome)> {
    let mut op = target.first_op(exists);
    let mut attempt = 1;
    let mut switches = 0;
    loop {
        let cmd = target.push_cmd(&task.key, op);
        *calls += 1;
        let out = run_call(&cmd, &task.value, opts);
        if out.success() {
            return Ok(());
        }
        let failure = classify(&out, |stderr, code| target.classify(stderr, code));
        let switch = matches!(
            (failure, op),
            (Failure::NotFound, Op::Update) | (Failure::AlreadyExists, Op::Create)
        );
        if switch && switches < MAX_SWITCHES && signals::stop_requested() {
            // The switch would be a new vendor call, and nothing new starts after an
            // interrupt: the key fails with what this call said.
            let next = if op == Op::Create { "update" } else { "create" };
            let label = cmd.label(target.label_words(op));
            return Err((format!("{label} (no {next} attempted: interrupted)"), out));
        }
        let give_up = match (failure, op) {
            (Failure::NotFound, Op::Update) if switches < MAX_SWITCHES => {
                op = Op::Create;
                switches += 1;
                false
            }
            (Failure::AlreadyExists, Op::Create) if switches < MAX_SWITCHES => {
                op = Op::Update;
                switches += 1;
                false
            }
            (Failure::Transient, _) if attempt < MAX_ATTEMPTS && backoff(attempt, opts) => {
                attempt += 1;
                false
            }
            _ => true,
        };
        if give_up {
            return Err((cmd.label(target.label_words(op)), out));
        }
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
    let all = |status, attempts, error| {
        vec![
            KeyWrite {
                status,
                attempts,
                error
            };
            tasks.len()
        ]
    };
    if signals::stop_requested() || Instant::now() >= opts.deadline {
        return all(WriteStatus::NotAttempted, 0, None);
    }
    lines.out(&bulk.announce(tasks.len()));
    let cmd = bulk.write_cmd();
    let document = bulk.document(tasks);
    let mut attempt = 1;
    let result = loop {
        let out: Outcome = run_call(&cmd, &document, opts);
        if out.success() {
            break Ok(());
        }
        let failure = classify(&out, |stderr, code| bulk.classify(stderr, code));
        if failure == Failure::Transient && attempt < MAX_ATTEMPTS && backoff(attempt, opts) {
            attempt += 1;
            continue;
        }
        break Err(out);
    };
    match result {
        Ok(()) => {
            for task in tasks {
                lines.out(&format!("✓ {}", shown_key(&task.key)));
            }
            all(WriteStatus::Stored, attempt, None)
        }
        Err(out) => {
            let error = format!("{} failed: {}", bulk.label(), scrubber.failure(&out));
            lines.err(&format!("WARNING: {error}"));
            all(WriteStatus::Failed, attempt, Some(error))
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
                    let mut attempt = 1;
                    let out = loop {
                        let out = run_call(&cmds[i], b"", opts);
                        if out.success() {
                            break out;
                        }
                        let failure = classify_call(&out, classify);
                        if failure == Failure::Transient
                            && attempt < MAX_ATTEMPTS
                            && backoff(attempt, opts)
                        {
                            attempt += 1;
                            continue;
                        }
                        break out;
                    };
                    let _ = slots[i].set(finish(i, out, attempt));
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

/// A small xorshift generator seeded from the clock and pid: jitter needs no crate.
fn next_random() -> u64 {
    static STATE: AtomicU64 = AtomicU64::new(0);
    let mut x = STATE.load(Ordering::Relaxed);
    if x == 0 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        x = nanos ^ (u64::from(std::process::id()) << 32) | 1;
    }
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    STATE.store(x, Ordering::Relaxed);
    x
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
