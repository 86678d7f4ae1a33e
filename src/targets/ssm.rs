//! AWS Systems Manager Parameter Store through `aws ssm put-parameter`, one SecureString
//! parameter per key, named prefix + key (`/myapp/dev/DB_URL`).
//!
//! The value goes on stdin as `--value=file:///dev/stdin`: the aws CLI loads `file://`
//! parameters as text (newline translation included). `--overwrite` makes every write the
//! same call whether the parameter exists or not, so no list call is needed.

use super::{
    Backend, CRLF_TRANSLATED, Deletes, Failure, Location, Op, PerKey, ReadBack, ReadCall,
    ReadFailure, Reads, Scope, Setting, Target, ValueRules, VendorCmd, Writes, looks_transient,
    universal_newlines,
};
use std::borrow::Cow;

pub const BACKEND: Backend = Backend {
    name: "ssm",
    title: "AWS SSM Parameter Store, SecureString",
    example: "--ssm-region=eu-west-1 --ssm-prefix=/api/dev/",
    bin: "aws",
    settings: &[REGION, PREFIX],
    values: &VALUES,
    case_insensitive_names: false,
    open: |settings, _env| {
        Box::new(Ssm {
            region: settings.required(&REGION),
            prefix: settings.get(&PREFIX).map(str::to_string),
        })
    },
};

const REGION: Setting = Setting {
    config_key: "region",
    flag: "ssm-region",
    prompt: "AWS region for SSM Parameter Store",
    required: true,
    value: "REGION",
    help: &[],
};

const PREFIX: Setting = Setting {
    config_key: "prefix",
    flag: "ssm-prefix",
    prompt: "SSM parameter name prefix (e.g. /myapp/dev/)",
    required: false,
    value: "/PATH/",
    help: &[("/PATH/", "prepended to every parameter name")],
};

/// Standard-tier parameters hold 1 to 4096 characters; vsync counts bytes, which is never
/// fewer, so a value that passes here fits.
const VALUES: ValueRules = ValueRules {
    max_bytes: 4096,
    empty_ok: false,
    utf8: true,
    altered: Some(CRLF_TRANSLATED),
};

/// The longest parameter name SSM accepts, and the deepest hierarchy.
const MAX_NAME: usize = 1011;
const MAX_LEVELS: usize = 15;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ssm {
    pub region: String,
    pub prefix: Option<String>,
}

impl Target for Ssm {
    fn backend(&self) -> &'static Backend {
        &BACKEND
    }

    fn location(&self) -> Location {
        Location::regional(
            "AWS SSM Parameter Store",
            &self.region,
            self.prefix.as_deref(),
        )
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

    /// Only names under a `/…` prefix, listed as a path.
    fn scope(&self) -> Scope<'_> {
        match self.prefix.as_deref() {
            Some(p) if p.starts_with('/') && p.len() > 1 => Scope::Listed(self),
            _ => Scope::Unknown(
                "ssm: --prune needs an --ssm-prefix that starts with / (such as /app/dev/): \
                 without one every parameter in the region would be vsync's to delete"
                    .into(),
            ),
        }
    }
}

impl Ssm {
    fn region_flag(&self) -> String {
        format!("--region={}", self.region)
    }

    /// The deepest path holding every name under the prefix: `/app/dev/` and `/app/dev-`
    /// give `/app/dev` and `/app`.
    fn path(&self) -> Option<String> {
        let prefix = self.prefix.as_deref().filter(|p| p.starts_with('/'))?;
        let end = prefix.rfind('/').unwrap_or(0);
        Some(if end == 0 {
            "/".to_string()
        } else {
            prefix[..end].to_string()
        })
    }

    fn by_path(&self, path: &str, decrypt: bool) -> VendorCmd {
        let path_flag = format!("--path={path}");
        let mut args = vec!["ssm", "get-parameters-by-path", &path_flag, "--recursive"];
        if decrypt {
            args.push("--with-decryption");
        }
        let region = self.region_flag();
        args.extend([region.as_str(), "--output=json"]);
        VendorCmd::new("aws", &args)
    }
}

/// The most names `get-parameters` and `delete-parameters` take in one call.
const BATCH: usize = 10;

impl Reads for Ssm {
    /// Under a `/…` prefix: one `get-parameters-by-path` (aws-cli follows its pages itself).
    /// Names that are not a path: `get-parameters`, 10 names a call.
    fn read_calls(&self, names: &[&str]) -> Vec<ReadCall> {
        let all = || names.iter().map(|n| n.to_string()).collect();
        if let Some(path) = self.path() {
            return vec![ReadCall {
                cmd: self.by_path(&path, true),
                names: all(),
            }];
        }
        names
            .chunks(BATCH)
            .map(|chunk| ReadCall {
                cmd: VendorCmd::new(
                    "aws",
                    &[
                        "ssm",
                        "get-parameters",
                        &format!(
                            "--names={}",
                            serde_json::to_string(chunk).unwrap_or_default()
                        ),
                        "--with-decryption",
                        &self.region_flag(),
                        "--output=json",
                    ],
                ),
                names: chunk.iter().map(|n| n.to_string()).collect(),
            })
            .collect()
    }

    fn parse_read(&self, _call: &ReadCall, stdout: &[u8]) -> Result<ReadBack, String> {
        let doc: serde_json::Value = serde_json::from_slice(stdout)
            .map_err(|e| format!("unreadable aws ssm output: {e}"))?;
        let mut back = ReadBack::default();
        for p in doc["Parameters"].as_array().into_iter().flatten() {
            if let (Some(name), Some(value)) = (p["Name"].as_str(), p["Value"].as_str()) {
                back.values
                    .push((name.to_string(), value.as_bytes().to_vec()));
            }
        }
        Ok(back)
    }

    fn read_failure(&self, stderr: &str) -> ReadFailure {
        match self.classify(stderr, None) {
            Failure::Transient => ReadFailure::Transient,
            _ if stderr.contains("AccessDenied") || stderr.contains("not authorized") => {
                ReadFailure::Denied
            }
            _ => ReadFailure::Other,
        }
    }

    fn read_permission(&self) -> &'static str {
        "ssm:GetParametersByPath or ssm:GetParameters (and kms:Decrypt)"
    }

    fn as_stored<'v>(&self, value: &'v [u8]) -> Cow<'v, [u8]> {
        universal_newlines(value)
    }
}

impl Deletes for Ssm {
    fn scope_cmd(&self) -> VendorCmd {
        self.by_path(&self.path().unwrap_or_else(|| "/".into()), false)
    }

    /// Names under the prefix (the path may hold more: `/app` for `/app/dev-`).
    fn parse_scope(&self, stdout: &str) -> Vec<String> {
        let prefix = self.prefix.as_deref().unwrap_or_default();
        let doc: serde_json::Value = serde_json::from_str(stdout).unwrap_or_default();
        doc["Parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["Name"].as_str())
            .filter(|n| !prefix.is_empty() && n.starts_with(prefix))
            .map(str::to_string)
            .collect()
    }

    fn delete_cmds(&self, names: &[&str]) -> Vec<VendorCmd> {
        names
            .chunks(BATCH)
            .map(|chunk| {
                VendorCmd::new(
                    "aws",
                    &[
                        "ssm",
                        "delete-parameters",
                        &format!(
                            "--names={}",
                            serde_json::to_string(chunk).unwrap_or_default()
                        ),
                        &self.region_flag(),
                    ],
                )
            })
            .collect()
    }

    fn delete_batch(&self) -> usize {
        BATCH
    }

    fn delete_means(&self) -> &'static str {
        "Parameter Store deletes the parameter at once; it cannot be recovered"
    }

    fn key_of<'n>(&self, name: &'n str) -> &'n str {
        name.strip_prefix(self.prefix.as_deref().unwrap_or_default())
            .unwrap_or(name)
    }
}

impl PerKey for Ssm {
    fn push_cmd(&self, key: &str, _op: Op) -> VendorCmd {
        VendorCmd::new(
            "aws",
            &[
                "ssm",
                "put-parameter",
                &format!("--name={}", self.secret_name(key)),
                "--type=SecureString",
                "--value=file:///dev/stdin",
                "--overwrite",
                &self.region_flag(),
            ],
        )
    }

    fn classify(&self, stderr: &str, _exit: Option<i32>) -> Failure {
        // TooManyUpdates: SSM's own throttle on one parameter written too often.
        if looks_transient(stderr)
            || [
                "TooManyUpdates",
                "InternalServerError",
                "ServiceUnavailable",
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

/// Parameter Store's name rule for prefix + key; `None` when fine.
pub fn name_problem(name: &str) -> Option<String> {
    let chars_ok = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_.-/".contains(c));
    let levels = name.split('/').filter(|s| !s.is_empty()).count();
    let first = name.trim_start_matches('/').to_ascii_lowercase();
    if name.is_empty() || name.len() > MAX_NAME || !chars_ok {
        Some(format!(
            "SSM parameter names (prefix + key) allow only a-z, A-Z, 0-9 and _.-/, 1-{MAX_NAME} characters"
        ))
    } else if name.contains('/') && !name.starts_with('/') {
        Some(
            "an SSM parameter name that contains / must start with / (set --ssm-prefix=/app/dev/)"
                .into(),
        )
    } else if levels > MAX_LEVELS {
        Some(format!(
            "SSM parameter names have at most {MAX_LEVELS} levels"
        ))
    } else if first.starts_with("aws") || first.starts_with("ssm") {
        Some("SSM parameter names must not begin with aws or ssm, in any case".into())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ssm(prefix: Option<&str>) -> Ssm {
        Ssm {
            region: "eu-west-1".into(),
            prefix: prefix.map(str::to_string),
        }
    }

    #[test]
    fn the_put_overwrites_a_secure_string_read_from_stdin_under_the_prefixed_name() {
        let cmd = ssm(Some("/app/dev/")).push_cmd("DB_URL", Op::Set);
        assert_eq!(cmd.program, "aws");
        assert_eq!(
            cmd.args,
            [
                "ssm",
                "put-parameter",
                "--name=/app/dev/DB_URL",
                "--type=SecureString",
                "--value=file:///dev/stdin",
                "--overwrite",
                "--region=eu-west-1"
            ]
        );
        assert!(cmd.env.is_empty());
        assert_eq!(cmd.label(2), "aws ssm put-parameter");
        assert_eq!(ssm(None).list_cmd(), None);
        assert_eq!(ssm(None).first_op(Some(false)), Op::Create);
        assert_eq!(ssm(None).first_op(None), Op::Set);
    }

    #[test]
    fn names_regions_and_prefixes_that_look_like_options_are_joined_to_their_flags() {
        let r = Ssm {
            region: "-r".into(),
            prefix: Some("-x".into()),
        };
        super::super::assert_option_safe(&r.push_cmd("-h", Op::Set), &["-x-h", "-r"]);
    }

    #[test]
    fn a_path_prefix_is_read_in_one_call_and_other_names_ten_a_call() {
        let r = ssm(Some("/app/dev/"));
        let calls = r.read_calls(&["/app/dev/A", "/app/dev/B"]);
        assert_eq!(calls.len(), 1);
        assert_eq!(
            calls[0].cmd.args,
            [
                "ssm",
                "get-parameters-by-path",
                "--path=/app/dev",
                "--recursive",
                "--with-decryption",
                "--region=eu-west-1",
                "--output=json"
            ]
        );
        assert_eq!(ssm(Some("/app/dev-")).path().as_deref(), Some("/app"));
        assert_eq!(ssm(Some("/x")).path().as_deref(), Some("/"));
        let names: Vec<String> = (0..11).map(|i| format!("K{i}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let calls = ssm(None).read_calls(&refs);
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[1].cmd.args[2], r#"--names=["K10"]"#);
        let back = r
            .parse_read(
                &calls[0],
                br#"{"Parameters":[{"Name":"/app/dev/A","Value":"v","Type":"SecureString"}]}"#,
            )
            .unwrap();
        assert_eq!(back.values, [("/app/dev/A".to_string(), b"v".to_vec())]);
    }

    #[test]
    fn the_scope_is_a_slash_prefix_and_deletes_go_ten_names_a_call() {
        assert!(matches!(ssm(None).scope(), Scope::Unknown(_)));
        assert!(matches!(ssm(Some("app-")).scope(), Scope::Unknown(_)));
        let r = ssm(Some("/app/dev-"));
        assert!(matches!(r.scope(), Scope::Listed(_)));
        assert_eq!(
            r.parse_scope(r#"{"Parameters":[{"Name":"/app/dev-A"},{"Name":"/app/other"}]}"#),
            ["/app/dev-A"]
        );
        assert_eq!(r.key_of("/app/dev-A"), "A");
        let names: Vec<String> = (0..11).map(|i| format!("/app/dev-K{i}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let dels = r.delete_cmds(&refs);
        assert_eq!(dels.len(), 2);
        assert_eq!(
            dels[1].args[..3],
            ["ssm", "delete-parameters", r#"--names=["/app/dev-K10"]"#]
        );
    }

    #[test]
    fn the_banner_shows_the_prefix_only_when_there_is_one() {
        assert_eq!(
            ssm(None).banner(2),
            "Syncing 2 secrets to AWS SSM Parameter Store: region=eu-west-1"
        );
        assert_eq!(
            ssm(Some("/a/")).banner(2),
            "Syncing 2 secrets to AWS SSM Parameter Store: region=eu-west-1, prefix=/a/"
        );
    }

    #[test]
    fn names_follow_parameter_stores_rules() {
        assert_eq!(name_problem("/app/dev/DB_URL.x-1"), None);
        assert_eq!(name_problem("DB_URL"), None);
        assert!(
            name_problem("app/dev/X").is_some(),
            "a / without a leading /"
        );
        assert!(name_problem("/app/dev/A B").is_some());
        assert!(name_problem("/app/dev/A:B").is_some());
        assert!(name_problem("").is_some());
        assert!(name_problem(&format!("/{}", "a".repeat(MAX_NAME))).is_some());
        assert_eq!(name_problem(&"/a".repeat(15)), None);
        assert!(name_problem(&"/a".repeat(16)).is_some());
        for reserved in ["aws_x", "AWS", "/Ssm/app/x", "ssmKey", "/awsx/y"] {
            assert!(name_problem(reserved).is_some(), "{reserved}");
        }
        assert_eq!(name_problem("/app/aws"), None);
    }

    #[test]
    fn throttling_is_retried_and_access_denied_is_not() {
        let r = ssm(None);
        assert_eq!(
            r.classify(
                "An error occurred (ThrottlingException) when calling the PutParameter operation: Rate exceeded",
                Some(255)
            ),
            Failure::Transient
        );
        assert_eq!(
            r.classify(
                "An error occurred (TooManyUpdates) when calling the PutParameter operation",
                Some(255)
            ),
            Failure::Transient
        );
        assert_eq!(
            r.classify("An error occurred (AccessDeniedException)", Some(255)),
            Failure::Permanent
        );
    }
}
