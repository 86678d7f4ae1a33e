//! The store's own pace: one gate per run that every vendor call of the target passes. A
//! throttle is news about the store, not about one key: it pauses the whole target, lowers
//! its concurrency (down to one call at a time) and lets it recover after a run of successes.
//! Once throttled, a store that gives no serial guidance also gets its call starts spaced by
//! a rate learnt from the throttles (additive increase, multiplicative decrease), so the
//! target runs just under what the store accepts instead of bursting into it and pausing.
//! A store-level failure (no credentials, a missing container) closes the gate: no new call
//! starts. `Pace` is the pure state; `Gate` adds the lock, the waits and the one line a pause
//! or a stop prints.

use crate::signals;
use crate::targets::Pacing;
use crate::term;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Pauses at least this long are always said.
const SAID_FROM: Duration = Duration::from_secs(1);
/// How often a waiting worker looks at the interrupt flag.
const POLL: Duration = Duration::from_millis(50);
/// After a throttle that follows a success, the start rate drops to this share of the rate
/// the store had accepted (or of the rate the target was held to).
const DECREASE: f64 = 0.85;
/// The start rate grows by one call per second for every second of successes.
const INCREASE: f64 = 1.0;
/// The start rate never drops below one call per second (the backoff still spaces calls
/// further while the store keeps throttling).
const LEAST_RATE: f64 = 1.0;
/// Landed calls remembered to measure the accepted rate (a bound, not a window).
const LANDINGS_KEPT: usize = 4096;

/// The gate's state: how many calls may run, how many do, and until when everyone waits.
#[derive(Debug, Clone, PartialEq)]
pub struct Pace {
    pacing: Pacing,
    max: usize,
    limit: usize,
    in_flight: usize,
    resume_at: Option<Instant>,
    /// Throttled once with a `serial_gap`: one call at a time, that far apart, to the end.
    serial: bool,
    last_start: Option<Instant>,
    /// Throttles since the last success: the backoff's exponent.
    streak: u32,
    successes: u32,
    /// Once throttled (unless serial): calls may start at most this many times per second,
    /// learnt from the throttles. `None` until the first throttle: no spacing at all.
    rate: Option<f64>,
    /// The length of a second for the rate (shorter under the test time scale).
    second: Duration,
    /// Start instants of the calls that landed in about the last second, oldest first.
    landings: VecDeque<Instant>,
}

impl Pace {
    pub fn new(pacing: Pacing, max: usize) -> Pace {
        Pace {
            pacing,
            max: max.max(1),
            limit: max.max(1),
            in_flight: 0,
            resume_at: None,
            serial: false,
            last_start: None,
            streak: 0,
            successes: 0,
            rate: None,
            second: Duration::from_secs(1),
            landings: VecDeque::new(),
        }
    }

    /// When a call may start: `Ok` now, or the earliest instant worth looking again (`None`:
    /// when a running call ends).
    pub fn may_start(&self, now: Instant) -> Result<(), Option<Instant>> {
        if let Some(at) = self.resume_at.filter(|at| *at > now) {
            return Err(Some(at));
        }
        if self.in_flight >= self.limit {
            return Err(None);
        }
        let gap = if self.serial {
            self.pacing.serial_gap
        } else if let Some(rate) = self.rate {
            self.second.div_f64(rate)
        } else {
            return Ok(());
        };
        match self.last_start.map(|t| t + gap) {
            Some(at) if at > now => Err(Some(at)),
            _ => Ok(()),
        }
    }

    pub fn start(&mut self, now: Instant) {
        self.in_flight += 1;
        self.last_start = Some(now);
    }

    pub fn end(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
    }

    /// A call that started at `started` landed: after a run of as many as may run at once (a
    /// round), one more may run; a learnt start rate grows by `INCREASE` per second of
    /// successes at that rate.
    pub fn landed(&mut self, started: Instant) {
        self.streak = 0;
        self.successes += 1;
        if !self.serial && self.limit < self.max && self.successes >= self.limit as u32 {
            self.limit += 1;
            self.successes = 0;
        }
        if let Some(rate) = self.rate.as_mut() {
            *rate += INCREASE / *rate;
        }
        if self.landings.len() >= LANDINGS_KEPT {
            self.landings.pop_front();
        }
        self.landings.push_back(started);
        self.forget_landings_before(started);
    }

    /// How many of the calls that landed started within the last second before `now`.
    fn accepted_per_second(&mut self, now: Instant) -> f64 {
        self.forget_landings_before(now);
        self.landings.len() as f64
    }

    fn forget_landings_before(&mut self, now: Instant) {
        while let Some(first) = self.landings.front() {
            if *first + self.second > now {
                break;
            }
            self.landings.pop_front();
        }
    }

    /// A call was throttled. Unless a pause is already running (the calls in flight with it
    /// are the same news), a new one starts and concurrency halves (one at a time for a
    /// serial store): the pause's length is returned. `random` draws the jitter.
    ///
    /// A store without serial guidance also gets a start rate: the first throttle sets it
    /// to `DECREASE` of the calls that landed in the last second, a throttle after a success
    /// lowers it by that factor. Such a first throttle in a row pauses one start interval at
    /// the new rate, or until the oldest call that landed in the last second is a second
    /// old, whichever is longer (the starts are spaced from then on); throttles in a row (no
    /// success between) leave the rate alone and back off exponentially with full jitter,
    /// the n-th in a row drawing from [0, min(cap, base · 2^(n-2))).
    pub fn throttled(&mut self, now: Instant, base: Duration, random: u64) -> Option<Duration> {
        self.successes = 0;
        if self.resume_at.is_some_and(|at| at > now) {
            return None;
        }
        self.streak += 1;
        self.limit = (self.limit / 2).max(1);
        if !self.pacing.serial_gap.is_zero() {
            self.serial = true;
            self.limit = 1;
        }
        let wait = if self.serial {
            full_jitter(base, self.streak, self.pacing.cap, random)
        } else if self.streak == 1 {
            let accepted = self.accepted_per_second(now);
            let rate = self.rate.unwrap_or(accepted) * DECREASE;
            let rate = rate.max(LEAST_RATE);
            self.rate = Some(rate);
            // Quotas are per second: the last second's calls filled it, and the first
            // place frees when the oldest of them is a second old.
            let frees = self.landings.front().map_or(Duration::ZERO, |oldest| {
                let left = (*oldest + self.second).saturating_duration_since(now);
                Duration::from_secs_f64(left.as_secs_f64() / self.second.as_secs_f64())
            });
            Duration::from_secs(1).div_f64(rate).max(frees)
        } else {
            full_jitter(base, self.streak - 1, self.pacing.cap, random)
        };
        let wait = wait.max(self.pacing.least_wait);
        self.resume_at = Some(now + wait);
        Some(wait)
    }

    #[cfg(test)]
    pub fn limit(&self) -> usize {
        self.limit
    }

    #[cfg(test)]
    pub fn rate(&self) -> Option<f64> {
        self.rate
    }
}

/// Exponential backoff with full jitter: a uniform draw from [0, min(cap, base · 2^(n-1))).
pub fn full_jitter(base: Duration, n: u32, cap: Duration, random: u64) -> Duration {
    let ceiling = base
        .saturating_mul(1 << n.saturating_sub(1).min(20))
        .min(cap);
    ceiling.mul_f64((random % 10_000) as f64 / 10_000.0)
}

/// Throttled calls in this process's run, for `--json`.
static RUN_THROTTLES: AtomicU64 = AtomicU64::new(0);

pub fn run_throttles() -> u64 {
    RUN_THROTTLES.load(Ordering::Relaxed)
}

/// Why the gate refused a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Interrupted,
    /// `--deadline` came.
    Deadline,
    /// A store-level failure closed the target.
    Stopped,
}

/// The gate every call of one target passes, shared by all workers of a run.
pub struct Gate {
    store: &'static str,
    /// The store's guidance at its shipped waits (for messages).
    pacing: Pacing,
    /// Waits are multiplied by this (1 when shipped; a test hook makes it small).
    scale: f64,
    /// The first throttle backoff's ceiling.
    base: Duration,
    deadline_secs: u64,
    pace: Mutex<Pace>,
    changed: Condvar,
    stopped: OnceLock<String>,
    deadline_said: AtomicBool,
    said_a_pause: AtomicBool,
}

impl Gate {
    pub fn new(store: &'static str, pacing: Pacing, workers: usize, base: Duration) -> Gate {
        Gate {
            store,
            pacing,
            scale: 1.0,
            base,
            deadline_secs: 0,
            pace: Mutex::new(Pace::new(pacing, workers)),
            changed: Condvar::new(),
            stopped: OnceLock::new(),
            deadline_said: AtomicBool::new(false),
            said_a_pause: AtomicBool::new(false),
        }
    }

    /// Waits scaled by `scale` (a test hook), and the `--deadline` value its message names.
    pub fn with(mut self, scale: f64, deadline_secs: u64) -> Gate {
        self.scale = scale;
        let pace = self.pace.get_mut().expect("not shared yet");
        pace.pacing.serial_gap = self.pacing.serial_gap.mul_f64(scale);
        pace.second = Duration::from_secs(1).mul_f64(scale);
        self.deadline_secs = deadline_secs;
        self
    }

    /// The store-level failure that closed the target, as said to the user.
    pub fn stopped(&self) -> Option<&str> {
        self.stopped.get().map(String::as_str)
    }

    /// Waits until a call may start; refused on an interrupt, at the deadline, or once the
    /// target is closed.
    pub fn acquire(&self, deadline: Instant) -> Result<Permit<'_>, Refused> {
        let mut pace = self.pace.lock().expect("no worker panics");
        loop {
            if signals::stop_requested() {
                return Err(Refused::Interrupted);
            }
            if self.stopped.get().is_some() {
                return Err(Refused::Stopped);
            }
            let now = Instant::now();
            if now >= deadline {
                self.say_deadline();
                return Err(Refused::Deadline);
            }
            match pace.may_start(now) {
                Ok(()) => {
                    pace.start(now);
                    return Ok(Permit {
                        gate: self,
                        started: now,
                    });
                }
                Err(at) => {
                    let wait = at.map_or(POLL, |at| at.saturating_duration_since(now).min(POLL));
                    pace = self
                        .changed
                        .wait_timeout(pace, wait.max(Duration::from_millis(1)))
                        .expect("no worker panics")
                        .0;
                }
            }
        }
    }

    /// Closes the target after a store-level failure, saying it once: what the store said
    /// (scrubbed) and what to do next.
    pub fn stop(&self, said: &str, next: &str) {
        let line = format!(
            "ERROR: {} refused the call as it would refuse every other: {said}\n  \
             vsync starts no further call to {}; next step: {next}",
            self.store, self.store
        );
        if self.stopped.set(line.clone()).is_ok() {
            term::err(&line);
        }
        self.changed.notify_all();
    }

    fn say_deadline(&self) {
        if !self.deadline_said.swap(true, Ordering::Relaxed) {
            term::err(&format!(
                "vsync: the run deadline (--deadline={}) has come: no further call starts; \
                 give a longer one to let a throttled store take every secret",
                self.deadline_secs
            ));
        }
    }
}

/// One running call; ends it when dropped.
pub struct Permit<'g> {
    gate: &'g Gate,
    started: Instant,
}

impl Permit<'_> {
    pub fn landed(self) {
        let started = self.started;
        self.gate
            .pace
            .lock()
            .expect("no worker panics")
            .landed(started);
    }

    /// The store throttled this call: the whole target pauses (said once per pause).
    pub fn throttled(self) {
        let gate = self.gate;
        RUN_THROTTLES.fetch_add(1, Ordering::Relaxed);
        let mut pace = gate.pace.lock().expect("no worker panics");
        let now = Instant::now();
        // Computed at the shipped length, for the message; waited at the scaled one.
        if let Some(real) = pace.throttled(now, gate.base, next_random()) {
            pace.resume_at = Some(now + real.mul_f64(gate.scale));
            // The first pause is always said; after it, pauses too short to look like a
            // hang are only counted (`--json`), so a store throttling all along does not
            // bury the output.
            if gate.said_a_pause.swap(true, Ordering::Relaxed) && real < SAID_FROM {
                return;
            }
            let then = match (pace.serial, pace.limit) {
                (true, _) => format!(
                    "then one call at a time, {}s apart",
                    gate.pacing.serial_gap.as_secs_f64()
                ),
                (false, 1) => "then one call at a time".to_string(),
                (false, n) => format!("then at most {n} calls at a time"),
            };
            let then = match pace.rate {
                Some(rate) if !pace.serial => {
                    format!("{then}, starting at most {rate:.1} calls a second")
                }
                _ => then,
            };
            term::err(&format!(
                "vsync: {} is throttling; waiting {:.1}s before the next call, {then}",
                gate.store,
                real.as_secs_f64()
            ));
        }
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.gate.pace.lock().expect("no worker panics").end();
        self.gate.changed.notify_all();
    }
}

/// A small xorshift generator seeded from the clock and pid: jitter needs no crate.
pub fn next_random() -> u64 {
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

    const AWS: Pacing = crate::targets::BACKOFF_PACING;
    const GH: Pacing = Pacing {
        least_wait: Duration::from_secs(60),
        serial_gap: Duration::from_secs(1),
        cap: Duration::from_secs(300),
    };

    #[test]
    fn unthrottled_calls_run_up_to_the_worker_count_without_waiting() {
        let now = Instant::now();
        let mut pace = Pace::new(AWS, 3);
        for _ in 0..3 {
            assert_eq!(pace.may_start(now), Ok(()));
            pace.start(now);
        }
        assert_eq!(pace.may_start(now), Err(None));
        pace.end();
        assert_eq!(pace.may_start(now), Ok(()));
    }

    #[test]
    fn a_throttle_pauses_everyone_and_halves_concurrency_down_to_one() {
        let now = Instant::now();
        let mut pace = Pace::new(AWS, 6);
        // Nothing landed yet: the least rate, one start a second, and a pause of one interval.
        let wait = pace.throttled(now, Duration::from_secs(1), 5_000).unwrap();
        assert_eq!(wait, Duration::from_secs(1));
        assert_eq!(pace.rate(), Some(LEAST_RATE));
        assert_eq!(pace.limit(), 3);
        assert_eq!(pace.may_start(now), Err(Some(now + wait)));
        // The calls in flight with it are the same news: no new pause, no further drop.
        assert_eq!(pace.throttled(now, Duration::from_secs(1), 0), None);
        assert_eq!(pace.limit(), 3);
        assert_eq!(pace.may_start(now + wait), Ok(()));
        // The next throttle after the pause halves again, down to one.
        let later = now + wait;
        assert!(pace.throttled(later, Duration::from_secs(1), 0).is_some());
        assert_eq!(pace.limit(), 1);
        let much_later = later + Duration::from_secs(60);
        assert!(
            pace.throttled(much_later, Duration::from_secs(1), 0)
                .is_some()
        );
        assert_eq!(pace.limit(), 1);
    }

    #[test]
    fn concurrency_recovers_one_step_per_round_of_successes() {
        let now = Instant::now();
        let mut pace = Pace::new(AWS, 4);
        pace.throttled(now, Duration::ZERO, 0);
        pace.resume_at = None;
        pace.throttled(now + Duration::from_millis(1), Duration::ZERO, 0);
        assert_eq!(pace.limit(), 1);
        pace.landed(now);
        assert_eq!(pace.limit(), 2);
        pace.landed(now);
        assert_eq!(pace.limit(), 2);
        pace.landed(now);
        assert_eq!(pace.limit(), 3);
        for _ in 0..100 {
            pace.landed(now);
        }
        assert_eq!(pace.limit(), 4);
    }

    #[test]
    fn github_waits_a_minute_then_writes_serially_a_second_apart_to_the_end() {
        let now = Instant::now();
        let mut pace = Pace::new(GH, 6);
        let wait = pace.throttled(now, Duration::from_secs(1), 9_999).unwrap();
        assert_eq!(wait, Duration::from_secs(60));
        let later = now + wait;
        assert_eq!(pace.may_start(later), Ok(()));
        pace.start(later);
        pace.end();
        assert_eq!(
            pace.may_start(later + Duration::from_millis(10)),
            Err(Some(later + Duration::from_secs(1)))
        );
        for _ in 0..100 {
            pace.landed(later);
        }
        assert_eq!(pace.limit(), 1);
        assert_eq!(pace.rate(), None);
        assert_eq!(pace.may_start(later + Duration::from_secs(1)), Ok(()));
    }

    /// `n` calls landed, started evenly over the second before `now`.
    fn land(pace: &mut Pace, now: Instant, n: u32) {
        for i in 0..n {
            pace.landed(now - Duration::from_secs(1) + Duration::from_secs(1) * (i + 1) / (n + 1));
        }
    }

    /// A target throttled at `now`, first in the run, after 20 landings in the last second.
    fn throttled_after_20_landings(now: Instant) -> (Pace, Duration) {
        let mut pace = Pace::new(AWS, 6);
        land(&mut pace, now, 20);
        let wait = pace.throttled(now, Duration::from_secs(1), 9_999).unwrap();
        (pace, wait)
    }

    #[test]
    fn unthrottled_landings_neither_space_starts_nor_keep_old_instants() {
        let now = Instant::now();
        let mut pace = Pace::new(AWS, 2);
        for i in 0..10_000u32 {
            pace.landed(now + Duration::from_millis(u64::from(i)));
        }
        assert_eq!(pace.rate(), None);
        assert!(pace.landings.len() <= 1_000, "{}", pace.landings.len());
        pace.start(now);
        assert_eq!(pace.may_start(now), Ok(()));
    }

    #[test]
    fn a_first_throttle_spaces_starts_by_the_rate_the_store_accepted() {
        let now = Instant::now();
        let mut pace = Pace::new(AWS, 6);
        // A landing from before the last second does not count.
        pace.landed(now - Duration::from_secs(2));
        land(&mut pace, now, 20);
        let wait = pace.throttled(now, Duration::from_secs(1), 9_999).unwrap();
        assert_eq!(pace.rate(), Some(17.0));
        // The oldest landing frees its place in 1/21 s, sooner than one start interval.
        assert_eq!(wait, Duration::from_secs(1).div_f64(17.0));
        // After the pause, starts are 1/17 s apart, whatever the concurrency allows.
        let later = now + wait;
        assert_eq!(pace.may_start(later), Ok(()));
        pace.start(later);
        pace.end();
        assert_eq!(
            pace.may_start(later),
            Err(Some(later + Duration::from_secs(1).div_f64(17.0)))
        );
        assert_eq!(
            pace.may_start(later + Duration::from_secs(1).div_f64(17.0)),
            Ok(())
        );
    }

    #[test]
    fn a_burst_that_filled_the_second_waits_until_its_oldest_call_is_a_second_old() {
        let now = Instant::now();
        // 20 landings 300 ms ago, 10 ms apart; then the same burst ten times faster under a
        // test time scale of 0.1: both wait the same real length (the gate scales it).
        for (second, ago, apart) in [(1000, 300, 10_000), (100, 30, 1_000)] {
            let mut pace = Pace::new(AWS, 6);
            pace.second = Duration::from_millis(second);
            for i in 0..20 {
                pace.landed(now - Duration::from_millis(ago) + Duration::from_micros(apart) * i);
            }
            let wait = pace.throttled(now, Duration::from_secs(1), 9_999).unwrap();
            assert_eq!(pace.rate(), Some(17.0));
            assert!(
                wait.abs_diff(Duration::from_millis(700)) < Duration::from_micros(1),
                "{wait:?}"
            );
        }
    }

    #[test]
    fn throttles_in_a_row_back_off_with_full_jitter_and_keep_the_rate() {
        let now = Instant::now();
        let base = Duration::from_secs(1);
        let (mut pace, first) = throttled_after_20_landings(now);
        let mut at = now + first;
        // The n-th throttle in a row draws from [0, base · 2^(n-2)), capped at 20 s.
        for (n, ceiling) in [(2, 1.0), (3, 2.0), (4, 4.0), (9, 20.0)] {
            while pace.streak + 1 < n {
                let wait = pace.throttled(at, base, 0).unwrap();
                at += wait;
            }
            let wait = pace.throttled(at, base, 5_000).unwrap();
            assert_eq!(wait, Duration::from_secs_f64(ceiling / 2.0), "n = {n}");
            at += wait;
            assert_eq!(pace.rate(), Some(17.0));
        }
    }

    #[test]
    fn the_rate_grows_by_one_a_second_and_drops_by_the_factor_after_a_success() {
        let now = Instant::now();
        let base = Duration::from_secs(1);
        let (mut pace, _) = throttled_after_20_landings(now);
        // About 17 landings, a second's worth at 17 a second, add about one.
        let mut t = now + Duration::from_secs(1);
        for _ in 0..17 {
            pace.landed(t);
        }
        let rate = pace.rate().unwrap();
        assert!((17.9..18.1).contains(&rate), "{rate}");
        t += Duration::from_secs(1);
        let wait = pace.throttled(t, base, 0).unwrap();
        let lowered = pace.rate().unwrap();
        assert!((lowered - rate * DECREASE).abs() < 1e-9, "{lowered}");
        assert_eq!(wait, Duration::from_secs(1).div_f64(lowered));
        // A store that throttles after every single success holds it near one start a
        // second (0.85 · (r + 1/r) = r at r ≈ 2.4), never below.
        for i in 0..100 {
            t += Duration::from_secs(30);
            pace.landed(t);
            pace.throttled(t + Duration::from_millis(i), base, 0)
                .unwrap();
        }
        let rate = pace.rate().unwrap();
        assert!((LEAST_RATE..2.5).contains(&rate), "{rate}");
    }

    #[test]
    fn full_jitter_grows_exponentially_up_to_its_cap() {
        let base = Duration::from_secs(1);
        let cap = Duration::from_secs(20);
        assert_eq!(
            full_jitter(base, 1, cap, 9_999),
            Duration::from_micros(999_900)
        );
        assert_eq!(full_jitter(base, 3, cap, 5_000), Duration::from_secs(2));
        assert_eq!(full_jitter(base, 30, cap, 5_000), Duration::from_secs(10));
        assert_eq!(full_jitter(base, 3, cap, 0), Duration::ZERO);
    }
}
