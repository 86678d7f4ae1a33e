//! AWS Secrets Manager through `aws secretsmanager` (value on stdin via `file:///dev/stdin`).
//!
//! `file://`, not `fileb://`: the real CLI rejects bytes for SecretString (and
//! quotes the value in its error). As for gcp, one list call per run, then one write per
//! key, switching between `put-secret-value` and `create-secret` on a wrong guess.

use super::{
    Backend, CRLF_TRANSLATED, Deletes, Failure, Location, Op, PerKey, ReadBack, ReadCall,
    ReadFailure, Reads, Scope, Setting, Target, ValueRules, VendorCmd, Writes, looks_transient,
    universal_newlines,
};
use std::borrow::Cow;

pub const BACKEND: Backend = Backend {
    name: "aws",
    title: "AWS Secrets Manager",
    example: "--aws-region=eu-west-1 --aws-secret-prefix=api/dev/",
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
    value: "REGION",
    help: &[],
};

const PREFIX: Setting = Setting {
    config_key: "secretPrefix",
    flag: "aws-secret-prefix",
    prompt: "AWS secret name prefix",
    required: false,
    value: "PREFIX",
    help: &[("PREFIX", "prepended to every secret name")],
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
    fn backend(&self) -> &'static Backend {
        &BACKEND
    }

    fn location(&self) -> Location {
        Location::regional("AWS Secrets Manager", &self.region, self.prefix.as_deref())
    }

    fn secret_name<'k>(&self, key: &'k str) -> Cow<'k, str> {
        super::prefixed(self.prefix.as_deref(), key)
    }

    fn name_problem(&self, name: &str) -> Option<String> {
        name_problem(name)
    }

    fn writes(&self) -> Writes<'_> {
        Writes::PerKey(self)
    }

    fn reads(&self) -> Option<&dyn Reads> {
        Some(self)
    }

    /// Only names under a prefix: without one, every secret in the region would be in scope.
    fn scope(&self) -> Scope<'_> {
        match self.prefix.as_deref() {
            Some(p) if !p.is_empty() => Scope::Listed(self),
            _ => Scope::Unknown(
                "aws: --prune needs --aws-secret-prefix: without one every secret in the region \
                 would be vsync's to delete"
                    .into(),
            ),
        }
    }
}

/// The most secret ids one `batch-get-secret-value` call takes.
const BATCH: usize = 20;

impl Reads for Aws {
    /// One `batch-get-secret-value` per 20 names, the ids as a JSON list joined to the flag
    /// (aws-cli reads a list parameter starting with `[` as JSON, so no id is a word of its own).
    fn read_calls(&self, names: &[&str]) -> Vec<ReadCall> {
        names
            .chunks(BATCH)
            .map(|chunk| {
                let list = serde_json::to_string(chunk).unwrap_or_default();
                ReadCall {
                    cmd: VendorCmd::new(
                        "aws",
                        &[
                            "secretsmanager",
                            "batch-get-secret-value",
                            &format!("--secret-id-list={list}"),
                            &self.region_flag(),
                            "--output=json",
                        ],
                    ),
                    names: chunk.iter().map(|n| n.to_string()).collect(),
                }
            })
            .collect()
    }

    /// `SecretValues[]` hold what was read, `Errors[]` what was not (a missing secret is a
    /// `ResourceNotFoundException` there). A binary secret cannot be compared with text:
    /// it counts as different.
    fn parse_read(&self, _call: &ReadCall, stdout: &[u8]) -> Result<ReadBack, String> {
        let doc: serde_json::Value = serde_json::from_slice(stdout)
            .map_err(|e| format!("unreadable batch-get-secret-value output: {e}"))?;
        let mut back = ReadBack::default();
        for v in doc["SecretValues"].as_array().into_iter().flatten() {
            let Some(name) = v["Name"].as_str() else {
                continue;
            };
            match v["SecretString"].as_str() {
                Some(text) => back
                    .values
                    .push((name.to_string(), text.as_bytes().to_vec())),
                None => back.unreadable.push(name.to_string()),
            }
        }
        for e in doc["Errors"].as_array().into_iter().flatten() {
            let Some(id) = e["SecretId"].as_str() else {
                continue;
            };
            match e["ErrorCode"].as_str().unwrap_or_default() {
                "ResourceNotFoundException" => {}
                "AccessDeniedException" => back.denied.push(id.to_string()),
                _ => back.unreadable.push(id.to_string()),
            }
        }
        Ok(back)
    }

    fn read_failure(&self, stderr: &str) -> ReadFailure {
        match self.classify(stderr, None) {
            Failure::NotFound => ReadFailure::NotFound,
            Failure::Transient => ReadFailure::Transient,
            _ if stderr.contains("AccessDenied") || stderr.contains("not authorized") => {
                ReadFailure::Denied
            }
            _ => ReadFailure::Other,
        }
    }

    fn read_permission(&self) -> &'static str {
        "secretsmanager:BatchGetSecretValue (and secretsmanager:GetSecretValue on each secret)"
    }

    fn as_stored<'v>(&self, value: &'v [u8]) -> Cow<'v, [u8]> {
        universal_newlines(value)
    }
}

impl Deletes for Aws {
    fn scope_cmd(&self) -> VendorCmd {
        self.list_cmd()
            .unwrap_or_else(|| VendorCmd::new("aws", &[]))
    }

    /// The name filter is the service's; the prefix is checked again here, so nothing
    /// outside it can ever be deleted.
    fn parse_scope(&self, stdout: &str) -> Vec<String> {
        let prefix = self.prefix.as_deref().unwrap_or_default();
        self.parse_list(stdout)
            .into_iter()
            .filter(|n| !prefix.is_empty() && n.starts_with(prefix))
            .map(str::to_string)
            .collect()
    }

    fn delete_cmds(&self, names: &[&str]) -> Vec<VendorCmd> {
        names
            .iter()
            .map(|name| {
                VendorCmd::new(
                    "aws",
                    &[
                        "secretsmanager",
                        "delete-secret",
                        &format!("--secret-id={name}"),
                        "--recovery-window-in-days=7",
                        &self.region_flag(),
                    ],
                )
            })
            .collect()
    }

    fn delete_means(&self) -> &'static str {
        "Secrets Manager schedules the deletion in 7 days; until then `aws secretsmanager \
         restore-secret` brings the secret back"
    }

    fn key_of<'n>(&self, name: &'n str) -> &'n str {
        name.strip_prefix(self.prefix.as_deref().unwrap_or_default())
            .unwrap_or(name)
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
        assert_option_safe(&r.delete_cmds(&["-xA"])[0], &["-xA", "-r"]);
        let read = &r.read_calls(&["-h"])[0].cmd;
        assert!(
            read.args
                .contains(&r#"--secret-id-list=["-h"]"#.to_string())
        );
        assert_option_safe(read, &["-r"]);
    }

    #[test]
    fn reads_go_twenty_names_a_call_and_errors_say_which_are_missing_or_denied() {
        let r = routing(Some("p/"));
        let names: Vec<String> = (0..41).map(|i| format!("p/K{i}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let calls = r.read_calls(&refs);
        assert_eq!(calls.len(), 3);
        assert_eq!(calls[0].names.len(), 20);
        assert_eq!(calls[2].names, ["p/K40"]);
        let out = br#"{"SecretValues":[{"Name":"p/A","SecretString":"x"},{"Name":"p/B","SecretBinary":"AA=="}],
            "Errors":[{"SecretId":"p/C","ErrorCode":"ResourceNotFoundException"},
                      {"SecretId":"p/D","ErrorCode":"AccessDeniedException"}]}"#;
        let back = r.parse_read(&calls[0], out).unwrap();
        assert_eq!(back.values, [("p/A".to_string(), b"x".to_vec())]);
        assert_eq!(back.unreadable, ["p/B"]);
        assert_eq!(back.denied, ["p/D"]);
        assert_eq!(
            r.read_failure("An error occurred (AccessDeniedException) when calling the BatchGetSecretValue operation"),
            ReadFailure::Denied
        );
        assert_eq!(&*r.as_stored(b"a\r\nb"), b"a\nb");
    }

    #[test]
    fn the_scope_is_the_prefix_and_nothing_without_one() {
        assert!(matches!(routing(None).scope(), Scope::Unknown(_)));
        assert!(matches!(routing(Some("")).scope(), Scope::Unknown(_)));
        let r = routing(Some("app/"));
        assert_eq!(r.parse_scope("app/A\tother/B\tapp/C\n"), ["app/A", "app/C"]);
        assert_eq!(r.key_of("app/A"), "A");
        assert_eq!(
            r.delete_cmds(&["app/A"])[0].args,
            [
                "secretsmanager",
                "delete-secret",
                "--secret-id=app/A",
                "--recovery-window-in-days=7",
                "--region=eu-west-1"
            ]
        );
    }
}
