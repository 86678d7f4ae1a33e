//! AWS Systems Manager Parameter Store through `aws ssm put-parameter`, one SecureString
//! parameter per key, named prefix + key (`/myapp/dev/DB_URL`).
//!
//! The value goes on stdin as `--value=file:///dev/stdin`: the aws CLI loads `file://`
//! parameters as text (newline translation included). `--overwrite` makes every write the
//! same call whether the parameter exists or not, so no list call is needed.
//!
//! Ownership is the path: parameters cannot be tagged in the write (`--tags` is refused with
//! `--overwrite`), so marks would cost a call per parameter. `--prune` therefore needs a
//! prefix that is a path (`/app/dev/`), and its scope is the parameters directly under it
//! whose rest is a key: `/app/dev/staging/X` is another prefix's, never this one's. Reads
//! cover no more than that level either.

use super::{
    CRLF_TRANSLATED, Deletes, Failure, Kind, Op, PerKey, ReadBack, ReadCall, ReadFailure, Reads,
    Scope, Setting, Target, ValueRules, VendorCmd, Writes, could_be_key, looks_transient,
    universal_newlines,
};
use std::borrow::Cow;

pub const KIND: Kind = Kind {
    name: "ssm",
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
};

const PREFIX: Setting = Setting {
    config_key: "prefix",
    flag: "ssm-prefix",
    prompt: "SSM parameter name prefix (e.g. /myapp/dev/)",
    required: false,
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
    fn kind(&self) -> &'static Kind {
        &KIND
    }

    fn banner(&self, n: usize) -> String {
        match &self.prefix {
            Some(p) => format!(
                "Syncing {n} secrets to AWS SSM Parameter Store: region={}, prefix={p}",
                self.region
            ),
            None => format!(
                "Syncing {n} secrets to AWS SSM Parameter Store: region={}",
                self.region
            ),
        }
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

    /// Only the level directly under a `/…/` prefix, listed as a path.
    fn scope(&self) -> Scope<'_> {
        match self.prefix.as_deref() {
            Some(_) if self.path().is_some() => Scope::Listed(self),
            Some(p) if p.starts_with('/') && p.len() > 1 => Scope::Unknown(format!(
                "ssm: --prune needs an --ssm-prefix that ends with / (such as {p}/): \
                 --ssm-prefix={p} is a string prefix, and it also covers parameters of other \
                 paths ({p}2/…, {p}X…)"
            )),
            _ => Scope::Unknown(
                "ssm: --prune needs an --ssm-prefix that starts and ends with / (such as \
                 /app/dev/): without one every parameter in the region would be vsync's to delete"
                    .into(),
            ),
        }
    }
}

impl Ssm {
    fn region_flag(&self) -> String {
        format!("--region={}", self.region)
    }

    /// The path a `/…/` prefix names (`/app/dev/` gives `/app/dev`); `None` for a prefix that
    /// is not a path (`/app/dev-`): listing its path would cover other names too.
    fn path(&self) -> Option<String> {
        let prefix = self.prefix.as_deref()?;
        let path = prefix.strip_suffix('/')?;
        (prefix.starts_with('/') && !path.is_empty()).then(|| path.to_string())
    }

    /// One level of `path`, without recursion: the names directly under it.
    fn by_path(&self, path: &str, decrypt: bool) -> VendorCmd {
        let path_flag = format!("--path={path}");
        let mut args = vec!["ssm", "get-parameters-by-path", &path_flag];
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
    /// Under a `/…/` prefix: one `get-parameters-by-path` of that level (aws-cli follows its
    /// pages itself) for the names directly under it. Other names: `get-parameters`, 10 names
    /// a call, so that no read covers more than the names asked for.
    fn read_calls(&self, names: &[&str]) -> Vec<ReadCall> {
        let prefix = self.prefix.as_deref().unwrap_or_default();
        let (level, others): (Vec<&str>, Vec<&str>) = match self.path() {
            Some(_) => names
                .iter()
                .partition(|n| n.strip_prefix(prefix).is_some_and(could_be_key)),
            None => (Vec::new(), names.to_vec()),
        };
        let mut calls = Vec::new();
        if let (Some(path), false) = (self.path(), level.is_empty()) {
            calls.push(ReadCall {
                cmd: self.by_path(&path, true),
                names: level.iter().map(|n| n.to_string()).collect(),
            });
        }
        calls.extend(others.chunks(BATCH).map(|chunk| ReadCall {
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
        }));
        calls
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
    /// `scope` is `Listed` only with a path: without one this lists nothing of use.
    fn scope_cmd(&self) -> VendorCmd {
        self.by_path(&self.path().unwrap_or_default(), false)
    }

    /// Names directly under the prefix whose rest is a key (checked again here, whatever
    /// the service returned).
    fn parse_scope(&self, stdout: &str) -> Vec<String> {
        let prefix = self.prefix.as_deref().unwrap_or_default();
        let doc: serde_json::Value = serde_json::from_str(stdout).unwrap_or_default();
        doc["Parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["Name"].as_str())
            .filter(|n| self.path().is_some() && n.strip_prefix(prefix).is_some_and(could_be_key))
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
    fn a_path_prefix_is_read_one_level_in_one_call_and_other_names_ten_a_call() {
        let r = ssm(Some("/app/dev/"));
        let calls = r.read_calls(&["/app/dev/A", "/app/dev/B"]);
        assert_eq!(calls.len(), 1);
        assert_eq!(
            calls[0].cmd.args,
            [
                "ssm",
                "get-parameters-by-path",
                "--path=/app/dev",
                "--with-decryption",
                "--region=eu-west-1",
                "--output=json"
            ]
        );
        assert_eq!(ssm(Some("/app/dev-")).path(), None);
        assert_eq!(ssm(Some("/x")).path(), None);
        assert_eq!(ssm(Some("/")).path(), None);
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
    fn a_prefix_that_is_not_a_path_reads_only_the_names_asked_for() {
        // `/x-` once read `/` recursively, decrypting every parameter in the region.
        let calls = ssm(Some("/x-")).read_calls(&["/x-A", "/x-B"]);
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].cmd.args[1], "get-parameters");
        assert_eq!(calls[0].cmd.args[2], r#"--names=["/x-A","/x-B"]"#);
        // Under a path, a key holding `/` is not on the level read: asked for by name.
        let calls = ssm(Some("/app/")).read_calls(&["/app/A", "/app/b/C"]);
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].names, ["/app/A"]);
        assert_eq!(calls[1].names, ["/app/b/C"]);
    }

    #[test]
    fn the_scope_is_one_level_under_a_path_prefix_and_deletes_go_ten_names_a_call() {
        assert!(matches!(ssm(None).scope(), Scope::Unknown(_)));
        assert!(matches!(ssm(Some("app-")).scope(), Scope::Unknown(_)));
        assert!(matches!(ssm(Some("/")).scope(), Scope::Unknown(_)));
        assert!(matches!(
            ssm(Some("/app/dev-")).scope(),
            Scope::Unknown(why) if why.contains("--ssm-prefix that ends with /")
        ));
        let r = ssm(Some("/shop/"));
        assert!(matches!(r.scope(), Scope::Listed(_)));
        assert_eq!(
            r.scope_cmd().args,
            [
                "ssm",
                "get-parameters-by-path",
                "--path=/shop",
                "--region=eu-west-1",
                "--output=json"
            ]
        );
        assert_eq!(
            r.parse_scope(
                r#"{"Parameters":[{"Name":"/shop/A"},{"Name":"/shop/staging/DB_URL"},{"Name":"/other/B"}]}"#
            ),
            ["/shop/A"]
        );
        assert_eq!(r.key_of("/shop/A"), "A");
        let r = ssm(Some("/app/dev/"));
        let names: Vec<String> = (0..11).map(|i| format!("/app/dev/K{i}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let dels = r.delete_cmds(&refs);
        assert_eq!(dels.len(), 2);
        assert_eq!(
            dels[1].args[..3],
            ["ssm", "delete-parameters", r#"--names=["/app/dev/K10"]"#]
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
