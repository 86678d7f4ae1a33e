//! Pre-flight checks (D2): every input error knowable before the first vendor call.
//!
//! Pure. A run with any problem pushes nothing; the error lists every offending key with the
//! rule it broke and what to do. Warnings name values the vendor CLI will alter on the way.

use crate::report;
use crate::targets::{Routing, aws, azure, gcp, gh, vault};
use crate::task::SecretTask;
use std::borrow::Cow;

/// Per-target value rules: (max bytes, empty allowed, must be UTF-8).
fn value_rules(routing: &Routing) -> (Option<usize>, bool, bool) {
    match routing {
        Routing::Gh(_) => (Some(48 * 1024), true, true),
        Routing::Gcp(_) => (Some(64 * 1024), true, false),
        Routing::Aws(_) => (Some(65_536), false, true),
        Routing::Azure(_) => (Some(25 * 1024), false, true),
        Routing::Vault(_) => (None, true, true),
    }
}

fn name_problem(routing: &Routing, key: &str) -> Option<String> {
    match routing {
        Routing::Gh(_) => gh::name_problem(key),
        Routing::Gcp(_) => gcp::name_problem(key),
        Routing::Aws(r) => aws::name_problem(&r.secret_name(key)),
        Routing::Azure(_) => azure::name_problem(key),
        Routing::Vault(_) => vault::name_problem(key),
    }
}

/// Everything wrong with one task for this target (empty when it can be pushed).
fn problems(routing: &Routing, task: &SecretTask) -> Vec<String> {
    let (max, empty_ok, utf8) = value_rules(routing);
    let mut out: Vec<String> = name_problem(routing, &task.key).into_iter().collect();
    if task.value.is_empty() && !empty_ok {
        out.push("the value is empty, which this target rejects".into());
    }
    if let Some(max) = max.filter(|&m| task.value.len() > m) {
        out.push(format!(
            "the value is {} bytes; the limit is {max} bytes",
            task.value.len()
        ));
    }
    if utf8 && std::str::from_utf8(&task.value).is_err() {
        out.push("the value is not UTF-8 text, which this target's CLI cannot carry".into());
    }
    out
}

/// `Ok(warnings)` when every task can be pushed, else the whole aggregated error text.
pub fn check(target: &str, routing: &Routing, tasks: &[SecretTask]) -> Result<Vec<String>, String> {
    let mut lines = Vec::new();
    for task in tasks {
        let found = problems(routing, task);
        if found.is_empty() {
            continue;
        }
        let todo = match report::exclude_hint(task.written_as()) {
            Some(hint) => format!("fix or rename it in the env file, or pass {hint}"),
            // A key that cannot be shown whole cannot be typed back either.
            None => "rename it in the env file".to_string(),
        };
        lines.push(format!(
            "  - {} (line {}): {} — {todo}",
            display_key(&task.key),
            task.line,
            found.join("; ")
        ));
    }
    if !lines.is_empty() {
        return Err(format!(
            "{} secret(s) cannot be pushed to {target}; nothing was pushed:\n{}",
            lines.len(),
            lines.join("\n")
        ));
    }
    Ok(warnings(routing, tasks))
}

fn display_key(key: &str) -> Cow<'_, str> {
    if key.is_empty() {
        "<empty key>".into()
    } else {
        report::shown_key(key)
    }
}

/// Values the vendor CLI will store differently from the env file.
fn warnings(routing: &Routing, tasks: &[SecretTask]) -> Vec<String> {
    let keys = |pred: &dyn Fn(&[u8]) -> bool| -> Vec<Cow<'_, str>> {
        tasks
            .iter()
            .filter(|t| pred(&t.value))
            .map(|t| report::shown_key(&t.key))
            .collect()
    };
    let (altered, how) = match routing {
        Routing::Gh(_) => (
            keys(&|v| v.ends_with(b"\n") || v.ends_with(b"\r")),
            "gh strips trailing newlines from",
        ),
        Routing::Aws(_) | Routing::Azure(_) => (
            keys(&|v| v.contains(&b'\r')),
            "the vendor CLI reads values as text and turns \\r\\n into \\n in",
        ),
        _ => (Vec::new(), ""),
    };
    if altered.is_empty() {
        Vec::new()
    } else {
        vec![format!("{how}: {}", altered.join(", "))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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

    fn gh() -> Routing {
        Routing::Gh(gh::Routing { repo: "o/r".into() })
    }
    fn gcp() -> Routing {
        Routing::Gcp(gcp::Routing {
            project: "p".into(),
        })
    }
    fn aws(prefix: Option<&str>) -> Routing {
        Routing::Aws(aws::Routing {
            region: "r".into(),
            prefix: prefix.map(str::to_string),
        })
    }
    fn azure() -> Routing {
        Routing::Azure(azure::Routing {
            vault_name: "v".into(),
        })
    }
    fn vault() -> Routing {
        Routing::Vault(vault::Routing {
            addr: "a".into(),
            mount: "m".into(),
            path: "p".into(),
        })
    }

    #[test]
    fn clean_tasks_pass_on_every_target() {
        let tasks = [task("API-KEY", b"x")];
        for r in [gcp(), aws(None), azure(), vault()] {
            assert_eq!(check("t", &r, &tasks), Ok(vec![]));
        }
        assert_eq!(check("gh", &gh(), &[task("API_KEY", b"x")]), Ok(vec![]));
    }

    #[test]
    fn every_offending_key_is_listed_with_its_rule_and_a_hint() {
        let tasks = [task("DB_URL", b"x"), task("OK", b"y"), task("EMPTY", b"")];
        let err = check("azure", &azure(), &tasks).unwrap_err();
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
        let err = check("gh", &gh(), &[t]).unwrap_err();
        assert!(err.contains("not UTF-8"), "{err}");
        assert!(err.contains("--exclude-property=SSH_KEY_PATH"), "{err}");
    }

    #[test]
    fn size_limits_are_per_target() {
        let big = vec![b'a'; 64 * 1024 + 1];
        assert!(check("gcp", &gcp(), &[task("A", &big)]).is_err());
        assert!(check("gcp", &gcp(), &[task("A", &big[..65_536])]).is_ok());
        assert!(check("aws", &aws(None), &[task("A", &big[..65_536])]).is_ok());
        assert!(check("aws", &aws(None), &[task("A", &big)]).is_err());
        assert!(check("gh", &gh(), &[task("A", &big[..48 * 1024 + 1])]).is_err());
        assert!(check("azure", &azure(), &[task("A", &big[..25 * 1024 + 1])]).is_err());
        let huge = vec![b'a'; 200 * 1024];
        assert!(check("vault", &vault(), &[task("A", &huge)]).is_ok());
    }

    #[test]
    fn only_gcp_takes_raw_bytes() {
        let bin = [task("A", &[0, 159, 146, 150])];
        assert!(check("gcp", &gcp(), &bin).is_ok());
        for r in [gh(), aws(None), azure(), vault()] {
            assert!(check("t", &r, &bin).is_err());
        }
    }

    #[test]
    fn empty_values_are_rejected_only_where_the_service_rejects_them() {
        let empty = [task("A", b"")];
        assert!(check("aws", &aws(None), &empty).is_err());
        assert!(check("azure", &azure(), &empty).is_err());
        assert!(check("gh", &gh(), &empty).is_ok());
        assert!(check("gcp", &gcp(), &empty).is_ok());
        assert!(check("vault", &vault(), &empty).is_ok());
    }

    #[test]
    fn the_aws_prefix_counts_toward_the_name_rule() {
        assert!(check("aws", &aws(Some("my app/")), &[task("A", b"x")]).is_err());
        assert!(check("aws", &aws(Some("app/dev/")), &[task("A", b"x")]).is_ok());
    }

    #[test]
    fn keys_with_whitespace_and_empty_keys_fail_everywhere() {
        for r in [gh(), gcp(), aws(None), azure(), vault()] {
            assert!(check("t", &r, &[task("export FOO", b"1")]).is_err());
            let err = check("t", &r, &[task("", b"1")]).unwrap_err();
            assert!(err.contains("<empty key>"), "{err}");
        }
    }

    #[test]
    fn values_the_cli_alters_are_named_in_a_warning() {
        let tasks = [task("A", b"x\r\ny"), task("B", b"x\n"), task("C", b"x")];
        assert_eq!(
            check("aws", &aws(None), &tasks).unwrap(),
            ["the vendor CLI reads values as text and turns \\r\\n into \\n in: A"]
        );
        assert_eq!(
            check("gh", &gh(), &tasks).unwrap(),
            ["gh strips trailing newlines from: B"]
        );
        assert!(check("gcp", &gcp(), &tasks).unwrap().is_empty());
    }
}
