//! Pre-flight checks: every input error knowable before the first vendor call.
//!
//! Pure. A run with any problem pushes nothing; the error lists every offending key with the
//! rule it broke and what to do. Warnings name values the vendor CLI will alter on the way.
//! The rules themselves belong to each target (`Target::name_problem`, `value_rules`,
//! `setting_problem`); pre-flight adds one of its own: two keys written differently must not
//! become one secret through the target's name mapping.

use crate::targets::Target;
use crate::task::{SecretTask, Source};
use crate::term;
use std::borrow::Cow;

/// Everything wrong with one task for this target (empty when it can be pushed).
fn problems(target: &dyn Target, task: &SecretTask) -> Vec<String> {
    let rules = target.backend().values;
    let name = target.secret_name(&task.key);
    let mut out: Vec<String> = target.name_problem(&name).into_iter().collect();
    if task.value.is_empty() && !rules.empty_ok {
        out.push("the value is empty, which this target rejects".into());
    }
    if let Some(max) = Some(target.value_limit()).filter(|&m| task.value.len() > m) {
        // A referenced file is read only up to one byte past the kind's largest limit.
        let mut problem = match task.source {
            Source::File(_) => {
                format!("the file holds more than {max} bytes; the limit is {max} bytes")
            }
            Source::Literal => format!(
                "the value is {} bytes; the limit is {max} bytes",
                task.value.len()
            ),
        };
        if let Some(hint) = target.value_limit_hint() {
            problem.push_str(&format!(" ({hint})"));
        }
        out.push(problem);
    }
    if rules.utf8 && std::str::from_utf8(&task.value).is_err() {
        out.push("the value is not UTF-8 text, which this target's CLI cannot carry".into());
    }
    out
}

/// `Ok(warnings)` when every task can be pushed, else the whole aggregated error text.
pub fn check(target: &dyn Target, tasks: &[SecretTask]) -> Result<Vec<String>, String> {
    if let Some(problem) = target.setting_problem() {
        return Err(problem);
    }
    if let Some(problem) = target.count_problem(tasks.len()) {
        return Err(problem);
    }
    // (first task, error line), put in env-file order below.
    let mut lines = Vec::new();
    let mut refused = vec![false; tasks.len()];
    for (i, task) in tasks.iter().enumerate() {
        let found = problems(target, task);
        if found.is_empty() {
            continue;
        }
        refused[i] = true;
        let todo = match term::exclude_hint(task.written_as()) {
            Some(hint) => format!("fix or rename it in the env file, or pass {hint}"),
            // A key that cannot be shown whole cannot be typed back either.
            None => "rename it in the env file".to_string(),
        };
        lines.push((
            i,
            format!(
                "  - {} (line {}): {} — {todo}",
                display_key(&task.key),
                task.line,
                found.join("; ")
            ),
        ));
    }
    for group in collisions(target, tasks) {
        for &i in &group {
            refused[i] = true;
        }
        lines.push((group[0], collision_line(target, tasks, &group)));
    }
    if !lines.is_empty() {
        lines.sort_by_key(|(first, _)| *first);
        let lines: Vec<String> = lines.into_iter().map(|(_, line)| line).collect();
        return Err(format!(
            "{} secret(s) cannot be pushed to {}; nothing was pushed:\n{}",
            refused.iter().filter(|r| **r).count(),
            target.backend().name,
            lines.join("\n")
        ));
    }
    Ok(warnings(target, tasks))
}

/// Keys written differently that the target would store as one secret, once `secret_name`
/// maps them (azure's `--azure-names=dashes`: `A_B` and `a-b`), compared as the target
/// compares names. Keys that are one secret as written were merged by the env-file parse;
/// these the user wrote as two, so neither may silently overwrite the other. Groups of task
/// indices, each in file order.
fn collisions(target: &dyn Target, tasks: &[SecretTask]) -> Vec<Vec<usize>> {
    let backend = target.backend();
    // Borrowed where the mapping does not change the key (most targets).
    let names: Vec<Cow<str>> = tasks.iter().map(|t| target.secret_name(&t.key)).collect();
    let by_name = |a: usize, b: usize| backend.compare_names(&names[a], &names[b]);
    let mut order: Vec<usize> = (0..tasks.len()).collect();
    order.sort_by(|&a, &b| by_name(a, b).then(a.cmp(&b)));
    order
        .chunk_by(|&a, &b| by_name(a, b).is_eq())
        .filter(|group| group.len() > 1)
        .map(<[usize]>::to_vec)
        .collect()
}

fn collision_line(target: &dyn Target, tasks: &[SecretTask], group: &[usize]) -> String {
    let mut keys: Vec<String> = group
        .iter()
        .map(|&i| format!("{} (line {})", display_key(&tasks[i].key), tasks[i].line))
        .collect();
    let last = keys.pop().unwrap_or_default();
    let names: Vec<_> = group
        .iter()
        .map(|&i| target.secret_name(&tasks[i].key))
        .collect();
    let case = if names.iter().any(|n| *n != names[0]) {
        format!(" ({} ignores case in names)", target.backend().name)
    } else {
        String::new()
    };
    let later = group.last().map_or("", |&i| tasks[i].written_as());
    let todo = match term::exclude_hint(later) {
        Some(hint) => format!("rename all but one in the env file, or pass {hint}"),
        None => "rename all but one in the env file".to_string(),
    };
    format!(
        "  - {} and {last} name one secret, {}{case} — {todo}",
        keys.join(", "),
        display_key(&names[0]),
    )
}

fn display_key(key: &str) -> Cow<'_, str> {
    if key.is_empty() {
        "<empty key>".into()
    } else {
        term::shown_key(key)
    }
}

/// Values the vendor CLI will store differently from the env file.
fn warnings(target: &dyn Target, tasks: &[SecretTask]) -> Vec<String> {
    let Some(altered) = &target.backend().values.altered else {
        return Vec::new();
    };
    let keys: Vec<Cow<'_, str>> = tasks
        .iter()
        .filter(|t| (altered.applies)(&t.value))
        .map(|t| term::shown_key(&t.key))
        .collect();
    if keys.is_empty() {
        Vec::new()
    } else {
        vec![format!("{}: {}", altered.how, keys.join(", "))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::Settings;
    use crate::task::Source;
    use std::path::PathBuf;

    fn task(key: &str, value: &[u8]) -> SecretTask {
        SecretTask {
            key: key.into(),
            value: value.to_vec(),
            source: Source::Literal,
            line: 3,
        }
    }

    fn open(name: &str, flags: &[(&str, &str)]) -> Box<dyn Target> {
        let backend = crate::targets::find(name).unwrap();
        let mut settings = Settings::default();
        for (flag, value) in flags {
            let setting = backend.settings.iter().find(|s| s.flag == *flag).unwrap();
            settings.set(setting, value.to_string());
        }
        let open = crate::targets::Open {
            env: "dev",
            repo: "r",
            owner: Some("r"),
        };
        (backend.open)(&settings, &open)
    }
    fn gh() -> Box<dyn Target> {
        open("gh", &[("gh-repo", "o/r")])
    }
    fn gcp() -> Box<dyn Target> {
        open("gcp", &[("gcp-project", "p")])
    }
    fn aws(prefix: Option<&str>) -> Box<dyn Target> {
        match prefix {
            Some(p) => open("aws", &[("aws-region", "r"), ("aws-secret-prefix", p)]),
            None => open("aws", &[("aws-region", "r")]),
        }
    }
    fn azure() -> Box<dyn Target> {
        open("azure", &[("azure-vault", "v")])
    }
    fn azure_names(names: &str) -> Box<dyn Target> {
        open("azure", &[("azure-vault", "v"), ("azure-names", names)])
    }
    fn task_at(key: &str, line: usize) -> SecretTask {
        SecretTask {
            line,
            ..task(key, b"x")
        }
    }
    fn vault() -> Box<dyn Target> {
        open(
            "vault",
            &[
                ("vault-addr", "a"),
                ("vault-mount", "m"),
                ("vault-path", "p"),
            ],
        )
    }

    #[test]
    fn clean_tasks_pass_on_every_target() {
        let tasks = [task("API-KEY", b"x")];
        for r in [gcp(), aws(None), azure(), vault()] {
            assert_eq!(check(&*r, &tasks), Ok(vec![]));
        }
        assert_eq!(check(&*gh(), &[task("API_KEY", b"x")]), Ok(vec![]));
    }

    #[test]
    fn every_offending_key_is_listed_with_its_rule_and_a_hint() {
        let tasks = [task("DB_URL", b"x"), task("OK", b"y"), task("EMPTY", b"")];
        let err = check(&*azure(), &tasks).unwrap_err();
        assert!(
            err.starts_with("2 secret(s) cannot be pushed to azure; nothing was pushed:\n"),
            "{err}"
        );
        assert!(
            err.contains("  - DB_URL (line 3): Azure Key Vault names allow only"),
            "{err}"
        );
        assert!(err.contains("--exclude-property=DB_URL"), "{err}");
        assert!(
            err.contains("  - EMPTY (line 3): the value is empty"),
            "{err}"
        );
        assert!(!err.contains("OK"), "{err}");
    }

    #[test]
    fn a_file_reference_hint_names_the_key_as_written_not_the_stem() {
        let mut t = task("SSH_KEY", &[0xff, 0xfe]);
        t.source = Source::file(PathBuf::from("/k"), "SSH_KEY_PATH");
        let err = check(&*gh(), &[t]).unwrap_err();
        assert!(err.contains("not UTF-8"), "{err}");
        assert!(err.contains("--exclude-property=SSH_KEY_PATH"), "{err}");
    }

    #[test]
    fn size_limits_are_per_target() {
        let big = vec![b'a'; 64 * 1024 + 1];
        assert!(check(&*gcp(), &[task("A", &big)]).is_err());
        assert!(check(&*gcp(), &[task("A", &big[..65_536])]).is_ok());
        assert!(check(&*aws(None), &[task("A", &big[..65_536])]).is_ok());
        assert!(check(&*aws(None), &[task("A", &big)]).is_err());
        assert!(check(&*gh(), &[task("A", &big[..48 * 1024 + 1])]).is_err());
        assert!(check(&*azure(), &[task("A", &big[..25 * 1024 + 1])]).is_err());
        let huge = vec![b'a'; 200 * 1024];
        assert!(check(&*vault(), &[task("A", &huge)]).is_ok());
    }

    #[test]
    fn only_gcp_takes_raw_bytes() {
        let bin = [task("A", &[0, 159, 146, 150])];
        assert!(check(&*gcp(), &bin).is_ok());
        for r in [gh(), aws(None), azure(), vault()] {
            assert!(check(&*r, &bin).is_err());
        }
    }

    #[test]
    fn empty_values_are_rejected_only_where_the_service_cannot_store_them() {
        let empty = [task("A", b"")];
        assert!(check(&*aws(None), &empty).is_err());
        assert!(check(&*azure(), &empty).is_err());
        // Secret Manager: no empty payload; `create` would leave a secret without a version.
        assert!(check(&*gcp(), &empty).is_err());
        assert!(check(&*gh(), &empty).is_ok());
        assert!(check(&*vault(), &empty).is_ok());
    }

    #[test]
    fn the_aws_prefix_counts_toward_the_name_rule() {
        assert!(check(&*aws(Some("my app/")), &[task("A", b"x")]).is_err());
        assert!(check(&*aws(Some("app/dev/")), &[task("A", b"x")]).is_ok());
    }

    #[test]
    fn keys_with_whitespace_and_empty_keys_fail_everywhere() {
        for r in [gh(), gcp(), aws(None), azure(), vault()] {
            assert!(check(&*r, &[task("export FOO", b"1")]).is_err());
            let err = check(&*r, &[task("", b"1")]).unwrap_err();
            assert!(err.contains("<empty key>"), "{err}");
        }
    }

    #[test]
    fn values_the_cli_alters_are_named_in_a_warning() {
        let tasks = [task("A", b"x\r\ny"), task("B", b"x\n"), task("C", b"x")];
        assert_eq!(
            check(&*aws(None), &tasks).unwrap(),
            ["the vendor CLI reads values as text and turns \\r\\n into \\n in: A"]
        );
        assert_eq!(
            check(&*gh(), &tasks).unwrap(),
            ["gh strips trailing newlines from: B"]
        );
        assert!(check(&*gcp(), &tasks).unwrap().is_empty());
    }

    #[test]
    fn mapped_names_pass_where_the_keys_would_not() {
        let tasks = [task("DATABASE_URL", b"x"), task("API-KEY", b"y")];
        assert!(check(&*azure(), &tasks).is_err());
        assert_eq!(check(&*azure_names("dashes"), &tasks), Ok(vec![]));
        assert_eq!(
            check(&*azure_names("exact"), &[task("A-B", b"x")]),
            Ok(vec![])
        );
    }

    #[test]
    fn keys_that_map_to_one_name_ignoring_case_are_refused_naming_every_line() {
        let tasks = [
            task_at("A_B", 2),
            task_at("OK", 3),
            task_at("a-b", 4),
            task_at("C_D", 5),
            task_at("C-D", 6),
            task_at("c_D", 7),
        ];
        let err = check(&*azure_names("dashes"), &tasks).unwrap_err();
        assert_eq!(
            err,
            "5 secret(s) cannot be pushed to azure; nothing was pushed:\n  \
             - A_B (line 2) and a-b (line 4) name one secret, A-B (azure ignores case in \
             names) — rename all but one in the env file, or pass --exclude-property=a-b\n  \
             - C_D (line 5), C-D (line 6) and c_D (line 7) name one secret, C-D (azure ignores \
             case in names) — rename all but one in the env file, or pass \
             --exclude-property=c_D"
        );
        let same = check(
            &*azure_names("dashes"),
            &[task_at("A_B", 1), task_at("A-B", 2)],
        );
        assert!(
            same.unwrap_err()
                .contains("A_B (line 1) and A-B (line 2) name one secret, A-B — rename"),
        );
    }

    #[test]
    fn collisions_and_other_problems_are_listed_together_in_file_order() {
        let tasks = [task_at("X.Y", 1), task_at("A_B", 2), task_at("A-B", 3)];
        let err = check(&*azure_names("dashes"), &tasks).unwrap_err();
        let lines: Vec<&str> = err.lines().collect();
        assert!(lines[0].starts_with("3 secret(s)"), "{err}");
        assert!(lines[1].starts_with("  - X.Y (line 1): Azure"), "{err}");
        assert!(
            lines[2].starts_with("  - A_B (line 2) and A-B (line 3)"),
            "{err}"
        );
    }

    #[test]
    fn targets_without_a_mapping_never_report_a_collision() {
        // The env-file parse has already merged keys that are one secret as written.
        let tasks = [task("A_B", b"x"), task("A-B", b"y"), task("a_b2", b"z")];
        assert!(check(&*gcp(), &tasks).is_ok());
        assert!(check(&*aws(Some("p/")), &tasks).is_ok());
    }

    #[test]
    fn an_unknown_setting_value_is_the_whole_error() {
        let err = check(&*azure_names("snake"), &[task("A_B", b"x")]).unwrap_err();
        assert!(
            err.starts_with("unknown --azure-names value \"snake\""),
            "{err}"
        );
        assert!(!err.contains("A_B"), "{err}");
    }

    #[test]
    fn a_value_over_the_standard_tier_fits_only_with_a_larger_ssm_tier() {
        let big = [task("CERT", "x".repeat(5000).as_bytes())];
        let err = check(&*open("ssm", &[("ssm-region", "r")]), &big).unwrap_err();
        assert!(
            err.contains("the value is 5000 bytes; the limit is 4096 bytes (--ssm-tier=advanced"),
            "{err}"
        );
        for tier in ["advanced", "intelligent-tiering"] {
            let target = open("ssm", &[("ssm-region", "r"), ("ssm-tier", tier)]);
            assert!(check(&*target, &big).is_ok(), "{tier}");
        }
        let huge = [task("CERT", "x".repeat(8193).as_bytes())];
        let target = open("ssm", &[("ssm-region", "r"), ("ssm-tier", "advanced")]);
        let err = check(&*target, &huge).unwrap_err();
        assert!(err.contains("the limit is 8192 bytes —"), "{err}");
    }

    #[test]
    fn a_bad_store_setting_is_refused_first_naming_its_flag() {
        for (target, flags, flag) in [
            (
                "gcp",
                &[("gcp-project", "p"), ("gcp-locations", "EU")][..],
                "--gcp-locations",
            ),
            (
                "aws",
                &[("aws-region", "r"), ("aws-kms-key", "k")],
                "--aws-kms-key",
            ),
            (
                "ssm",
                &[("ssm-region", "r"), ("ssm-kms-key", "k")],
                "--ssm-kms-key",
            ),
            (
                "ssm",
                &[("ssm-region", "r"), ("ssm-tier", "gold")],
                "--ssm-tier",
            ),
        ] {
            let err = check(&*open(target, flags), &[task("A", b"v")]).unwrap_err();
            assert!(err.starts_with(&format!("{flag}: ")), "{err}");
        }
    }
}
