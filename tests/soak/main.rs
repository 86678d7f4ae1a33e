//! A bounded soak (a few seconds): 5,000 keys pushed to gcp through the fast fake, with random
//! server errors (retried by vsync) and random hangs (killed by `--timeout=1`) injected. The
//! report must account for every key exactly once, and must be the truth: the set reported
//! synced is exactly the set the fake backend holds, each with its value, pushed once.

#[path = "../support/mod.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use support::Test;

const KEYS: usize = 5000;

fn key(i: usize) -> String {
    format!("KEY_{i:04}")
}

fn value(i: usize) -> String {
    format!(
        "value-{i:04}-{:08x}",
        (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32
    )
}

#[test]
fn five_thousand_keys_with_random_failures_and_hangs_are_each_reported_once_and_match_the_backend()
{
    let env_file: String = (0..KEYS)
        .map(|i| format!("{}={}\n", key(i), value(i)))
        .collect();
    let mut t = Test::new()
        .env_file("dev", &env_file)
        // A server error on 20 % of calls: three attempts save most keys, ~1 % fail for good.
        // (A throttle would be retried until it lands: see tests/e2e/store_signals.rs.)
        .env("FAKE_RANDOM_FAIL_PCT", "20")
        .env("FAKE_RANDOM_FAIL_KIND", "unavailable")
        // A hang on 1 % of calls, each killed after 1 s; many workers keep the run short.
        .env("FAKE_RANDOM_HANG_PCT", "1")
        .env("FAKE_SEED", "soak-1")
        .env("VSYNC_RETRY_BASE_MS", "10")
        .args([
            "sync",
            "dev",
            "gcp",
            "--gcp-project=proj",
            "--timeout=1",
            "--workers=32",
        ]);
    let out = t.run();

    // Every key started once and ended once: `✓ KEY` on stdout or a WARNING on stderr.
    let mut started: BTreeMap<String, usize> = BTreeMap::new();
    let mut synced: BTreeMap<String, usize> = BTreeMap::new();
    for line in out.stdout.lines() {
        if let Some(k) = line.strip_prefix("Setting secret: ") {
            *started.entry(k.to_string()).or_default() += 1;
        } else if let Some(k) = line.strip_prefix("✓ ") {
            *synced.entry(k.to_string()).or_default() += 1;
        }
    }
    let mut failed: BTreeMap<String, usize> = BTreeMap::new();
    for line in out.stderr.lines() {
        let rest = line
            .strip_prefix("WARNING: skipping ")
            .unwrap_or_else(|| panic!("unexpected stderr line: {line}"));
        let (k, why) = rest.split_once(": ").expect("WARNING: skipping KEY: why");
        assert!(
            why.contains("UNAVAILABLE") || why.ends_with("timed out after 1s"),
            "{k} failed for a reason the soak did not inject: {why}"
        );
        *failed.entry(k.to_string()).or_default() += 1;
    }
    let all: BTreeSet<String> = (0..KEYS).map(key).collect();
    assert_eq!(started.keys().cloned().collect::<BTreeSet<_>>(), all);
    assert!(started.values().all(|&n| n == 1), "a key started twice");
    assert!(
        synced.values().all(|&n| n == 1),
        "a key reported synced twice"
    );
    assert!(
        failed.values().all(|&n| n == 1),
        "a key reported failed twice"
    );
    let synced: BTreeSet<String> = synced.into_keys().collect();
    let failed: BTreeSet<String> = failed.into_keys().collect();
    assert!(
        synced.is_disjoint(&failed),
        "{:?}",
        synced.intersection(&failed)
    );
    assert_eq!(
        synced.union(&failed).cloned().collect::<BTreeSet<_>>(),
        all,
        "every key is reported"
    );

    // The injected faults did happen, so the report above was tested under them.
    let calls = t.calls();
    let hung = calls.iter().filter(|c| c.exit.is_none()).count();
    assert!(hung > 0, "no call hung");
    assert!(
        !failed.is_empty(),
        "no key failed: the soak tested only the easy path"
    );

    // The result line agrees, failed keys in file order, none left out.
    let failed_in_order: Vec<String> = (0..KEYS).map(key).filter(|k| failed.contains(k)).collect();
    out.failure(1);
    assert_eq!(
        out.stdout_lines().last().unwrap(),
        &format!(
            "gcp: {} ok, {} failed ({}) in #.#s",
            synced.len(),
            failed.len(),
            failed_in_order.join(", ")
        )
    );

    // The backend holds exactly what was reported synced, each value once, nothing else.
    let stored: BTreeSet<String> = t.secret_names("gcp", "proj").into_iter().collect();
    let extra: Vec<_> = stored.difference(&synced).collect();
    let missing: Vec<_> = synced.difference(&stored).collect();
    assert!(
        extra.is_empty() && missing.is_empty(),
        "stored but not reported synced: {extra:?}; reported synced but not stored: {missing:?}"
    );
    for i in 0..KEYS {
        let k = key(i);
        if synced.contains(&k) {
            assert_eq!(
                t.versions("gcp", "proj", &k),
                [value(i).into_bytes()],
                "{k}: one version, the right value"
            );
        }
    }
    let live = t.live_fakes_after(std::time::Duration::from_secs(2));
    assert!(live.is_empty(), "processes left running: {live:?}");
}
