//! Pre-flight checks: every input error knowable before the first vendor call.
//!
//! Pure. A run with any problem pushes nothing; the error lists every offending key with the
//! rule it broke and what to do. Warnings name values the vendor CLI will alter on the way.
//! The rules themselves belong to each target (`Target::name_problem`, `value_rules`).

use crate::targets::Target;
use crate::task::{SecretTask, Source};

/// Everything wrong with one task for this target (empty when it can be pushed).
fn problems(target: &dyn Target, task: &SecretTask) -> Vec<String> {
    let rules = target.kind().values;
    let name = target.secret_name(&task.key);
    let mut out: Vec<String> = target.name_problem(&name).into_iter().collect();
    if task.value.is_empty() && !rules.empty_ok {
        out.push("the value is empty, which this target rejects".into());
    }
    if let Some(max) = Some(rules.max_bytes).filter(|&m| task.value.len() > m) {
        // A referenced file is read only up to one byte past the limit.
        out.push(match task.source {
            Source::File(_) => {
                format!("the file holds more than {max} bytes; the limit is {max} bytes")
            }
            Source::Literal => format!(
                "the value is {} bytes; the limit is {max} bytes",
                task.value.len()
            ),
        });
    }
    if rules.utf8 && std::str::from_utf8(&task.value).is_err() {
        out.push("the value is not UTF-8 text, which this target's CLI cannot carry".into());
    }
    out
}

/// `Ok(warnings)` when every task can be pushed, else the whole aggregated error text.
pub fn check(target: &dyn Target, tasks: &[SecretTask]) -> Result<Vec<String>, String> {
    let mut lines = Vec::new();
    for task in tasks {
        let found = problems(target, task);
        if found.is_empty() {
            continue;
        }
        let exclude = format!("--exclude-property={}", task.written_as());
        lines.push(format!(
            "  - {} (line {}): {} — fix or rename it in the env file, or pass {exclude}",
            display_key(&task.key),
            task.line,
            found.join("; ")
        ));
    }
    if !lines.is_empty() {
        return Err(format!(
            "{} secret(s) cannot be pushed to {}; nothing was pushed:\n{}",
            lines.len(),
            target.kind().name,
            lines.join("\n")
        ));
    }
    Ok(warnings(target, tasks))
}

fn display_key(key: &str) -> String {
    if key.is_empty() {
        "<empty key>".into()
    } else {
        format!("{key:?}").trim_matches('"').to_string()
    }
}

/// Values the vendor CLI will store differently from the env file.
fn warnings(target: &dyn Target, tasks: &[SecretTask]) -> Vec<String> {
    let Some(altered) = &target.kind().values.altered else {
        return Vec::new();
    };
    let keys: Vec<&str> = tasks
        .iter()
        .filter(|t| (altered.applies)(&t.value))
        .map(|t| t.key.as_str())
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
        let kind = crate::targets::find(name).unwrap();
        let mut settings = Settings::default();
        for (flag, value) in flags {
            let setting = kind.settings.iter().find(|s| s.flag == *flag).unwrap();
            settings.set(setting, value.to_string());
        }
        let open = crate::targets::Open {
            env: "dev",
            repo: "r",
        };
        (kind.open)(&settings, &open)
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
    fn empty_values_are_rejected_only_where_the_service_rejects_them() {
        let empty = [task("A", b"")];
        assert!(check(&*aws(None), &empty).is_err());
        assert!(check(&*azure(), &empty).is_err());
        assert!(check(&*gh(), &empty).is_ok());
        assert!(check(&*gcp(), &empty).is_ok());
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
}
