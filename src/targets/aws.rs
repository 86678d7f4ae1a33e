//! AWS Secrets Manager through `aws secretsmanager` (value on stdin via `file:///dev/stdin`).
//!
//! `file://`, not `fileb://`: the real CLI rejects bytes for SecretString (and
//! quotes the value in its error). As for gcp, one list call per run, then one write per
//! key, switching between `put-secret-value` and `create-secret` on a wrong guess.

use super::{
    CRLF_TRANSLATED, Failure, Kind, Op, PerKey, Setting, Target, ValueRules, VendorCmd, Writes,
    looks_transient,
};
use std::borrow::Cow;

pub const KIND: Kind = Kind {
    name: "aws",
    bin: "aws",
    settings: &[REGION, PREFIX],
    values: &VALUES,
    case_insensitive_names: false,
    open: |settings, _env| {
        Box::new(Aws {
            region: settings.required(&REGION),
            prefix: settings.get(&PREFIX).map(str::to_string),
        })
    },
};

const REGION: Setting = Setting {
    config_key: "region",
    flag: "aws-region",
    prompt: "AWS region for sync",
    required: true,
};

const PREFIX: Setting = Setting {
    config_key: "secretPrefix",
    flag: "aws-secret-prefix",
    prompt: "AWS secret name prefix",
    required: false,
};

/// A SecretString holds 1 to 65,536 bytes of text, read with newline translation.
const VALUES: ValueRules = ValueRules {
    max_bytes: 65_536,
    empty_ok: false,
    utf8: true,
    altered: Some(CRLF_TRANSLATED),
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aws {
    pub region: String,
    pub prefix: Option<String>,
}

impl Target for Aws {
    fn kind(&self) -> &'static Kind {
        &KIND
    }

    fn banner(&self, n: usize) -> String {
        match &self.prefix {
            Some(p) => format!(
                "Syncing {n} secrets to AWS Secrets Manager: region={}, prefix={p}",
                self.region
            ),
            None => format!(
                "Syncing {n} secrets to AWS Secrets Manager: region={}",
                self.region
            ),
        }
    }

    fn secret_name<'k>(&self, key: &'k str) -> Cow<'k, str> {
        match &self.prefix {
            Some(p) => Cow::Owned(format!("{p}{key}")),
            None => Cow::Borrowed(key),
        }
    }

    fn name_problem(&self, name: &str) -> Option<String> {
        name_problem(name)
    }

    fn writes(&self) -> Writes<'_> {
        Writes::PerKey(self)
    }
}

impl Aws {
    fn region_flag(&self) -> String {
        format!("--region={}", self.region)
    }
}

const STDIN_TEXT: &str = "file:///dev/stdin";

impl PerKey for Aws {
    fn update_op(&self) -> Op {
        Op::Update
    }

    /// Every value that comes from the user is joined to its flag with `=`: aws-cli parses
    /// with argparse, which reads a separate word such as `-h` as an option (`--secret-id -h`
    /// fails with "expected one argument"), while `--secret-id=-h` is the name `-h`.
    fn push_cmd(&self, key: &str, op: Op) -> VendorCmd {
        let name = self.secret_name(key);
        let name_flag = match op {
            Op::Create => format!("--name={name}"),
            Op::Update | Op::Set => format!("--secret-id={name}"),
        };
        let verb = match op {
            Op::Create => "create-secret",
            Op::Update | Op::Set => "put-secret-value",
        };
        VendorCmd::new(
            "aws",
            &[
                "secretsmanager",
                verb,
                &name_flag,
                "--secret-string",
                STDIN_TEXT,
                &self.region_flag(),
            ],
        )
    }

    fn list_cmd(&self) -> Option<VendorCmd> {
        let region = self.region_flag();
        let mut args = vec!["secretsmanager", "list-secrets", &region];
        // The name filter is a prefix match: it keeps the listing (and its pages) small.
        let filter = self
            .prefix
            .as_ref()
            .map(|p| format!("--filters=Key=name,Values={p}"));
        if let Some(f) = &filter {
            args.push(f);
        }
        args.extend(["--query", "SecretList[].Name", "--output", "text"]);
        Some(VendorCmd::new("aws", &args))
    }

    /// Text output separates names by tabs (and pages by newlines); names have no spaces.
    fn parse_list<'a>(&self, stdout: &'a str) -> Vec<&'a str> {
        stdout.split_whitespace().collect()
    }

    fn classify(&self, stderr: &str, _exit: Option<i32>) -> Failure {
        if stderr.contains("ResourceNotFoundException") {
            Failure::NotFound
        } else if stderr.contains("ResourceExistsException") {
            Failure::AlreadyExists
        } else if looks_transient(stderr)
            || [
                "InternalServiceError",
                "ServiceUnavailable",
                "RequestTimeout",
            ]
            .iter()
            .any(|m| stderr.contains(m))
        {
            Failure::Transient
        } else {
            Failure::Permanent
        }
    }

    fn label_words(&self, _op: Op) -> usize {
        2
    }
}

/// Secrets Manager's name rule for prefix + key: `[A-Za-z0-9/_+=.@-]{1,512}`.
pub fn name_problem(name: &str) -> Option<String> {
    let ok = (1..=512).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c));
    (!ok).then(|| {
        "AWS secret names (prefix + key) allow only A-Z, a-z, 0-9 and /_+=.@-, 1-512 characters"
            .into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::assert_option_safe;

    fn routing(prefix: Option<&str>) -> Aws {
        Aws {
            region: "eu-west-1".into(),
            prefix: prefix.map(str::to_string),
        }
    }

    #[test]
    fn update_puts_a_value_read_as_text_from_stdin_under_the_prefixed_name() {
        let cmd = routing(Some("app/dev/")).push_cmd("DB_URL", Op::Update);
        assert_eq!(cmd.program, "aws");
        assert_eq!(
            cmd.args,
            [
                "secretsmanager",
                "put-secret-value",
                "--secret-id=app/dev/DB_URL",
                "--secret-string",
                "file:///dev/stdin",
                "--region=eu-west-1"
            ]
        );
        assert_eq!(cmd.label(2), "aws secretsmanager put-secret-value");
    }

    #[test]
    fn create_names_the_secret_with_name() {
        let cmd = routing(None).push_cmd("DB_URL", Op::Create);
        assert_eq!(
            cmd.args,
            [
                "secretsmanager",
                "create-secret",
                "--name=DB_URL",
                "--secret-string",
                "file:///dev/stdin",
                "--region=eu-west-1"
            ]
        );
    }

    #[test]
    fn the_list_call_filters_by_prefix_only_when_there_is_one() {
        assert_eq!(
            routing(None).list_cmd().unwrap().args,
            [
                "secretsmanager",
                "list-secrets",
                "--region=eu-west-1",
                "--query",
                "SecretList[].Name",
                "--output",
                "text"
            ]
        );
        let with = routing(Some("app/")).list_cmd().unwrap().args;
        assert_eq!(with[3], "--filters=Key=name,Values=app/");
        assert_eq!(
            routing(None).parse_list("a/B\tc/D\ne\n"),
            vec!["a/B".to_string(), "c/D".into(), "e".into()]
        );
    }

    #[test]
    fn aws_errors_are_classified() {
        let r = routing(None);
        assert_eq!(
            r.classify("An error occurred (ResourceNotFoundException) when calling the PutSecretValue operation: Secrets Manager can't find the specified secret.", Some(255)),
            Failure::NotFound
        );
        assert_eq!(
            r.classify("An error occurred (ResourceExistsException) when calling the CreateSecret operation", Some(255)),
            Failure::AlreadyExists
        );
        assert_eq!(
            r.classify("An error occurred (ThrottlingException) when calling the PutSecretValue operation: Rate exceeded", Some(255)),
            Failure::Transient
        );
        assert_eq!(
            r.classify("An error occurred (AccessDeniedException)", Some(255)),
            Failure::Permanent
        );
    }

    #[test]
    fn names_follow_secrets_managers_rule_including_the_prefix() {
        assert_eq!(name_problem("app/dev/DB_URL+x=y.z@w-1"), None);
        assert!(name_problem("app dev/X").is_some());
        assert!(name_problem("").is_some());
        assert!(name_problem(&"a".repeat(513)).is_some());
    }

    #[test]
    fn names_regions_and_prefixes_that_look_like_options_are_joined_to_their_flags() {
        let r = Aws {
            region: "-r".into(),
            prefix: Some("-x".into()),
        };
        for op in [Op::Update, Op::Create] {
            assert_option_safe(&r.push_cmd("-h", op), &["-x-h", "-r"]);
        }
        assert_option_safe(&r.list_cmd().unwrap(), &["-r", "-x"]);
    }
}
