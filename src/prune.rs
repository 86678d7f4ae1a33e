//! `--prune`: deleting the secrets in vsync's scope that the env file no longer defines,
//! once every write has succeeded, and `--keep` globs that protect names from it.

use crate::outcome::Outcome;
use crate::pool::{self, RunOpts};
use crate::scrub::Scrubber;
use crate::targets::{Deletes, Failure, Scope, Target};
use crate::term::{Lines, shown_key};

/// Whether `name` matches a `--keep` glob: `*` any run of characters, `?` one character.
/// `ignore_case`: compared as a target that ignores case compares names (upper-cased).
pub fn glob_match(glob: &str, name: &str, ignore_case: bool) -> bool {
    let fold = |s: &str| -> Vec<char> {
        if ignore_case {
            s.chars().flat_map(char::to_uppercase).collect()
        } else {
            s.chars().collect()
        }
    };
    let (g, n) = (fold(glob), fold(name));
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

/// Whether a `--keep` glob protects `name`, compared as the target compares names (without
/// case on gh and azure): against the stored name, against the key it stands for (the name
/// without a prefix), and against the stored name with the glob spelled as the target
/// stores a key (azure's `--azure-names=dashes` stores `LEGACY_*`'s keys as `LEGACY-…`).
/// `*` and `?` survive that spelling: only the key's own characters are mapped.
pub fn kept(target: &dyn Target, keep: &[String], name: &str, key: &str) -> bool {
    let fold = target.backend().case_insensitive_names;
    keep.iter().any(|g| {
        glob_match(g, name, fold)
            || glob_match(g, key, fold)
            || glob_match(&target.secret_name(g), name, fold)
    })
}

/// The warning for `--keep` given where it protects nothing: only `--prune` deletes and
/// only `--diff` lists what it would delete, except on a target whose every write replaces
/// a whole document (vault), where kept keys are carried into each write.
pub fn keep_unused(
    target: &dyn Target,
    keep: &[String],
    prune: bool,
    diff: bool,
) -> Option<String> {
    let replaces_all = matches!(target.scope(), Scope::Document);
    (!keep.is_empty() && !prune && !diff && !replaces_all).then(|| {
        "--keep has no effect without --prune or --diff: nothing else deletes or lists \
         secrets the env file does not define"
            .to_string()
    })
}

/// One delete's result: the names it covered, whether it worked, its scrubbed error.
pub struct Deleted {
    pub names: Vec<String>,
    pub ok: bool,
    pub attempts: u32,
    pub error: Option<String>,
}

/// The stderr lines naming the deletes that never started, so that a user who stopped a
/// prune knows what is still there.
pub fn not_attempted_lines(names: &[String]) -> Vec<String> {
    if names.is_empty() {
        return Vec::new();
    }
    let mut lines: Vec<String> = names
        .iter()
        .map(|n| format!("WARNING: not deleted {}: not attempted", shown_key(n)))
        .collect();
    lines.push(format!(
        "--prune stopped early (interrupted or past the run deadline): {} of its deletes not \
         attempted; run it again to delete them",
        names.len()
    ));
    lines
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
        assert!(glob_match("LEGACY_*", "LEGACY_DB", false));
        assert!(glob_match("*", "", false));
        assert!(glob_match("A?C", "ABC", false));
        assert!(!glob_match("A?C", "AC", false));
        assert!(glob_match("*_KEY*", "X_KEY_Y", false));
        assert!(glob_match("a*b*c", "aXXbYYc", false));
        assert!(!glob_match("a*b*c", "aXXbYY", false));
        assert!(!glob_match("LEGACY", "LEGACY_DB", false));
        assert!(!glob_match("legacy_*", "LEGACY_DB", false));
        assert!(glob_match("legacy_*", "LEGACY_DB", true));
    }

    fn open(kind: &'static crate::targets::Backend, flags: &[(&str, &str)]) -> Box<dyn Target> {
        let mut settings = crate::targets::Settings::default();
        for setting in kind.settings {
            let given = flags.iter().find(|(f, _)| *f == setting.flag);
            settings.set(setting, given.map_or("x", |(_, v)| v).to_string());
        }
        let open = crate::targets::Open {
            env: "dev",
            repo: "r",
            owner: Some("r"),
        };
        (kind.open)(&settings, &open)
    }

    #[test]
    fn deletes_that_never_ran_are_named_and_counted() {
        assert!(not_attempted_lines(&[]).is_empty());
        let lines = not_attempted_lines(&["A".into(), "B\n".into()]);
        assert_eq!(lines[0], "WARNING: not deleted A: not attempted");
        assert_eq!(
            lines[1],
            format!("WARNING: not deleted {}: not attempted", shown_key("B\n"))
        );
        assert!(
            lines[2].contains("2 of its deletes not attempted"),
            "{}",
            lines[2]
        );
    }

    #[test]
    fn keep_warns_only_where_nothing_deletes() {
        let gcp = open(&crate::targets::gcp::BACKEND, &[]);
        let vault = open(&crate::targets::vault::BACKEND, &[]);
        let keep = ["OLD_*".to_string()];
        assert!(keep_unused(&*gcp, &keep, false, false).is_some());
        assert!(keep_unused(&*gcp, &keep, true, false).is_none());
        assert!(keep_unused(&*gcp, &keep, false, true).is_none());
        assert!(keep_unused(&*gcp, &[], false, false).is_none());
        assert!(keep_unused(&*vault, &keep, false, false).is_none());
    }

    #[test]
    fn keep_compares_names_as_the_target_does() {
        let keep = |globs: &[&str]| globs.iter().map(|g| g.to_string()).collect::<Vec<_>>();
        let ssm = open(
            &crate::targets::ssm::BACKEND,
            &[("ssm-prefix", "/app/dev/")],
        );
        assert!(kept(&*ssm, &keep(&["OLD_*"]), "/app/dev/OLD_X", "OLD_X"));
        assert!(!kept(&*ssm, &keep(&["old_*"]), "/app/dev/OLD_X", "OLD_X"));
        assert!(!kept(&*ssm, &[], "A", "A"));
        // GitHub upper-cases names: `legacy_*` spares LEGACY_X.
        let gh = open(&crate::targets::gh::BACKEND, &[]);
        assert!(kept(&*gh, &keep(&["legacy_*"]), "LEGACY_X", "LEGACY_X"));
        assert!(!kept(&*gh, &keep(&["legacy_*"]), "LEGACYX", "LEGACYX"));
        // Azure with dashes: the glob is written as the env file's key.
        let az = open(
            &crate::targets::azure::BACKEND,
            &[("azure-names", "dashes")],
        );
        assert!(kept(&*az, &keep(&["LEGACY_*"]), "LEGACY-DB", "LEGACY-DB"));
        assert!(kept(&*az, &keep(&["legacy_*"]), "Legacy-Db", "Legacy-Db"));
        assert!(kept(&*az, &keep(&["LEGACY-*"]), "LEGACY-DB", "LEGACY-DB"));
        assert!(!kept(&*az, &keep(&["LEGACY_*"]), "OTHER-DB", "OTHER-DB"));
        let exact = open(&crate::targets::azure::BACKEND, &[("azure-names", "exact")]);
        assert!(!kept(
            &*exact,
            &keep(&["LEGACY_*"]),
            "LEGACY-DB",
            "LEGACY-DB"
        ));
    }

    #[test]
    fn batched_deletes_cover_their_names_in_order() {
        let r = Ssm {
            region: "r".into(),
            prefix: Some("/p/".into()),
            kms_key: None,
            tier: None,
        };
        let names: Vec<String> = (0..12).map(|i| format!("/p/K{i:02}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        assert_eq!(r.delete_cmds(&refs).len(), 2);
        assert_eq!(refs.chunks(r.delete_batch()).count(), 2);
    }
}
