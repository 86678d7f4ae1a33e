//! `--prune`: deleting the secrets in vsync's scope that the env file no longer defines,
//! once every write has succeeded, and `--keep` globs that protect names from it.

use crate::outcome::Outcome;
use crate::pool::{self, RunOpts};
use crate::scrub::Scrubber;
use crate::targets::{Deletes, Failure};
use crate::term::{Lines, shown_key};

/// Whether `name` matches a `--keep` glob: `*` any run of characters, `?` one character.
pub fn glob_match(glob: &str, name: &str) -> bool {
    let (g, n): (Vec<char>, Vec<char>) = (glob.chars().collect(), name.chars().collect());
    // Iterative matching with one backtrack point for the last `*`.
    let (mut gi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if gi < g.len() && (g[gi] == '?' || g[gi] == n[ni]) {
            gi += 1;
            ni += 1;
        } else if gi < g.len() && g[gi] == '*' {
            star = Some((gi, ni));
            gi += 1;
        } else if let Some((sg, sn)) = star {
            gi = sg + 1;
            ni = sn + 1;
            star = Some((sg, sn + 1));
        } else {
            return false;
        }
    }
    g[gi..].iter().all(|c| *c == '*')
}

/// Whether a `--keep` glob protects `name`: matched against the name in the target and
/// against the key it stands for (the name without a prefix).
pub fn kept(keep: &[String], name: &str, key: &str) -> bool {
    keep.iter()
        .any(|g| glob_match(g, name) || glob_match(g, key))
}

/// One delete's result: the names it covered, whether it worked, its scrubbed error.
pub struct Deleted {
    pub names: Vec<String>,
    pub ok: bool,
    pub attempts: u32,
    pub error: Option<String>,
}

/// Deletes `names` with the target's delete calls, from the pool.
pub fn delete(
    deletes: &dyn Deletes,
    names: &[String],
    opts: &RunOpts,
    scrubber: &Scrubber<'_>,
    lines: &dyn Lines,
) -> Vec<Deleted> {
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let cmds = deletes.delete_cmds(&refs);
    // Which names each call covers: `delete_batch` of them, in order.
    let covered: Vec<Vec<String>> = refs
        .chunks(deletes.delete_batch().max(1))
        .map(|c| c.iter().map(|s| s.to_string()).collect())
        .collect();
    let finish = |i: usize, out: Outcome, attempts: u32| {
        let error =
            (!out.success()).then(|| format!("{}: {}", cmds[i].label(3), scrubber.failure(&out)));
        for name in &covered[i] {
            match &error {
                None => lines.out(&format!("✓ deleted {}", shown_key(name))),
                Some(e) => lines.err(&format!(
                    "WARNING: could not delete {}: {e}",
                    shown_key(name)
                )),
            }
        }
        (out.success(), attempts, error)
    };
    pool::run_calls(&cmds, opts, &Failure::by_shared_markers, &finish)
        .into_iter()
        .zip(covered)
        .map(|(result, names)| match result {
            Some((ok, attempts, error)) => Deleted {
                names,
                ok,
                attempts,
                error,
            },
            None => Deleted {
                names,
                ok: false,
                attempts: 0,
                error: Some("not attempted: interrupted or past the run deadline".into()),
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::ssm::Ssm;

    #[test]
    fn globs_match_stars_and_question_marks_whole() {
        assert!(glob_match("LEGACY_*", "LEGACY_DB"));
        assert!(glob_match("*", ""));
        assert!(glob_match("A?C", "ABC"));
        assert!(!glob_match("A?C", "AC"));
        assert!(glob_match("*_KEY*", "X_KEY_Y"));
        assert!(glob_match("a*b*c", "aXXbYYc"));
        assert!(!glob_match("a*b*c", "aXXbYY"));
        assert!(!glob_match("LEGACY", "LEGACY_DB"));
        assert!(kept(&["OLD_*".into()], "/app/dev/OLD_X", "OLD_X"));
        assert!(!kept(&[], "A", "A"));
    }

    #[test]
    fn batched_deletes_cover_their_names_in_order() {
        let r = Ssm {
            region: "r".into(),
            prefix: Some("/p/".into()),
        };
        let names: Vec<String> = (0..12).map(|i| format!("/p/K{i:02}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        assert_eq!(r.delete_cmds(&refs).len(), 2);
        assert_eq!(refs.chunks(r.delete_batch()).count(), 2);
    }
}
