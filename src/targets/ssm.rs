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
//!
//! Every put carries the routing's store settings, since a put replaces the parameter's:
//! `--ssm-kms-key` (the KMS key of the SecureString) and `--ssm-tier` (which also sets the
//! largest value: 4,096 standard, 8,192 advanced and intelligent-tiering).

use super::aws::aws_cmd;
use super::{
    Backend, CRLF_TRANSLATED, Deletes, Failure, Location, Op, PerKey, ReadBack, ReadCall,
    ReadFailure, Reads, Scope, Setting, Target, ValueRules, VendorCmd, Writes, could_be_key,
    looks_transient, universal_newlines,
};
use std::borrow::Cow;

pub const BACKEND: Backend = Backend {
    name: "ssm",
    title: "AWS SSM Parameter Store, SecureString",
    example: "--ssm-region=eu-west-1 --ssm-prefix=/api/dev/",
    bin: "aws",
    settings: &[REGION, PREFIX, KMS_KEY, TIER],
    values: &VALUES,
    case_insensitive_names: false,
    open: |settings, _env| {
        Box::new(Ssm {
            region: settings.required(&REGION),
            prefix: settings.get(&PREFIX).map(str::to_string),
            kms_key: settings.get(&KMS_KEY).map(str::to_string),
            tier: settings.get(&TIER).map(str::to_string),
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

const KMS_KEY: Setting = Setting {
    config_key: "kmsKeyId",
    flag: "ssm-kms-key",
    prompt: "KMS key (id, ARN or alias) for the SecureString parameters",
    required: false,
    value: "KEY",
    help: &[("KEY", "KMS key id, ARN or alias/NAME of every parameter")],
};

const TIER: Setting = Setting {
    config_key: "tier",
    flag: "ssm-tier",
    prompt: "SSM parameter tier (standard, advanced or intelligent-tiering)",
    required: false,
    value: "TIER",
    help: &[(
        "TIER",
        "standard (up to 4096 bytes), advanced or intelligent-tiering (8192)",
    )],
};

/// Standard-tier parameters hold 1 to 4096 characters, advanced (and intelligent-tiering,
/// which turns advanced for a value that needs it) 8192; vsync counts bytes, which are never
/// fewer, so a value that passes here fits.
const STANDARD_MAX: usize = 4096;
const ADVANCED_MAX: usize = 8192;

const VALUES: ValueRules = ValueRules {
    max_bytes: ADVANCED_MAX,
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
    /// `--ssm-kms-key`: the KMS key of every SecureString put; `None` is `alias/aws/ssm`.
    pub kms_key: Option<String>,
    /// `--ssm-tier` as given; `None` leaves the tier to SSM (its default, standard).
    pub tier: Option<String>,
}

/// A parameter tier, as the flag spells it (any case) and as the API does (case-sensitive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    Standard,
    Advanced,
    IntelligentTiering,
}

impl Tier {
    pub fn parse(word: &str) -> Option<Tier> {
        match word.to_ascii_lowercase().as_str() {
            "standard" => Some(Tier::Standard),
            "advanced" => Some(Tier::Advanced),
            "intelligent-tiering" => Some(Tier::IntelligentTiering),
            _ => None,
        }
    }

    /// The API's spelling.
    pub fn api_name(self) -> &'static str {
        match self {
            Tier::Standard => "Standard",
            Tier::Advanced => "Advanced",
            Tier::IntelligentTiering => "Intelligent-Tiering",
        }
    }

    pub fn max_bytes(self) -> usize {
        match self {
            Tier::Standard => STANDARD_MAX,
            Tier::Advanced | Tier::IntelligentTiering => ADVANCED_MAX,
        }
    }
}

impl Ssm {
    /// The tier, when the setting is one (pre-flight refuses any other word).
    fn tier(&self) -> Option<Tier> {
        self.tier.as_deref().and_then(Tier::parse)
    }
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
        .with(&[
            ("kms-key", self.kms_key.as_deref()),
            ("tier", self.tier().map(Tier::api_name)),
        ])
    }

    fn setting_problem(&self) -> Option<String> {
        if let Some(word) = self.tier.as_deref().filter(|w| Tier::parse(w).is_none()) {
            return Some(format!(
                "--ssm-tier: \"{}\" is not a tier; use standard, advanced or intelligent-tiering",
                crate::term::shown_key(word)
            ));
        }
        super::aws::kms_key_problem("ssm-kms-key", self.kms_key.as_deref()?)
    }

    fn value_limit(&self) -> usize {
        self.tier().map_or(STANDARD_MAX, Tier::max_bytes)
    }

    fn value_limit_hint(&self) -> Option<String> {
        (self.value_limit() < ADVANCED_MAX).then(|| {
            format!(
                "--ssm-tier=advanced or --ssm-tier=intelligent-tiering stores up to \
                 {ADVANCED_MAX} bytes"
            )
        })
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
        aws_cmd(&args)
    }
}

/// The type every value is written as: encrypted at rest.
const SECURE: &str = "SecureString";

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
            cmd: aws_cmd(&[
                "ssm",
                "get-parameters",
                &format!(
                    "--names={}",
                    serde_json::to_string(chunk).unwrap_or_default()
                ),
                "--with-decryption",
                &self.region_flag(),
                "--output=json",
            ]),
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
                // A `String` or `StringList` parameter is stored in plain text: whatever its
                // value, a write changes it (into a SecureString).
                if p["Type"].as_str().is_some_and(|t| t != SECURE) {
                    back.unreadable.push(name.to_string());
                }
            }
        }
        Ok(back)
    }

    fn read_failure(&self, stderr: &str) -> ReadFailure {
        match self.classify(stderr, None) {
            Failure::Transient | Failure::Throttled => ReadFailure::Transient,
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
                aws_cmd(&[
                    "ssm",
                    "delete-parameters",
                    &format!(
                        "--names={}",
                        serde_json::to_string(chunk).unwrap_or_default()
                    ),
                    &self.region_flag(),
                ])
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
        let name = format!("--name={}", self.secret_name(key));
        let region = self.region_flag();
        let secure = format!("--type={SECURE}");
        let mut args = vec![
            "ssm",
            "put-parameter",
            &name,
            &secure,
            "--value=file:///dev/stdin",
            "--overwrite",
            &region,
        ];
        let key_id = self.kms_key.as_ref().map(|k| format!("--key-id={k}"));
        let tier = self.tier().map(|t| format!("--tier={}", t.api_name()));
        args.extend(key_id.iter().chain(&tier).map(String::as_str));
        aws_cmd(&args)
    }

    fn classify(&self, stderr: &str, _exit: Option<i32>) -> Failure {
        if let Some(failure) = super::aws::cli_failure(stderr) {
            failure
        } else if looks_transient(stderr)
            || ["InternalServerError", "ServiceUnavailable"]
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

    fn failure_hint(&self, _key: &str, stderr: &str) -> Option<String> {
        // AWS documents this refusal for a String parameter overwritten as SecureString.
        stderr.contains("HierarchyTypeMismatch").then(|| {
            "the parameter exists with another type (String), which Parameter Store does not \
             change in place: delete it (aws ssm delete-parameter) or rename the key, then sync \
             again"
                .to_string()
        })
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
            kms_key: None,
            tier: None,
        }
    }

    #[test]
    fn a_type_change_in_place_is_reported_with_what_to_do() {
        let r = ssm(None);
        let stderr = "An error occurred (HierarchyTypeMismatchException) when calling the PutParameter operation: Parameter Type can't be changed";
        assert_eq!(r.classify(stderr, Some(255)), Failure::Permanent);
        assert!(
            r.failure_hint("K", stderr)
                .unwrap()
                .contains("delete-parameter")
        );
        assert_eq!(
            r.failure_hint("K", "An error occurred (AccessDeniedException)"),
            None
        );
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
                &format!("--type={SECURE}"),
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

    fn set(kms_key: Option<&str>, tier: Option<&str>) -> Ssm {
        Ssm {
            kms_key: kms_key.map(str::to_string),
            tier: tier.map(str::to_string),
            ..ssm(Some("/app/"))
        }
    }

    #[test]
    fn every_put_carries_the_kms_key_and_the_tier_as_aws_spells_it() {
        let cmd = set(Some("alias/app"), Some("intelligent-tiering")).push_cmd("K", Op::Set);
        assert_eq!(
            cmd.args[5..],
            [
                "--overwrite",
                "--region=eu-west-1",
                "--key-id=alias/app",
                "--tier=Intelligent-Tiering"
            ]
        );
        for (word, api) in [
            ("standard", "Standard"),
            ("advanced", "Advanced"),
            ("Advanced", "Advanced"),
            ("INTELLIGENT-TIERING", "Intelligent-Tiering"),
        ] {
            let cmd = set(None, Some(word)).push_cmd("K", Op::Set);
            assert_eq!(cmd.args.last().unwrap(), &format!("--tier={api}"));
        }
        assert_eq!(
            set(None, None).push_cmd("K", Op::Set),
            ssm(Some("/app/")).push_cmd("K", Op::Set)
        );
        super::super::assert_option_safe(&set(Some("-k"), None).push_cmd("K", Op::Set), &["-k"]);
    }

    #[test]
    fn the_value_limit_follows_the_tier() {
        assert_eq!(set(None, None).value_limit(), 4096);
        assert_eq!(set(None, Some("standard")).value_limit(), 4096);
        assert_eq!(set(None, Some("advanced")).value_limit(), 8192);
        assert_eq!(set(None, Some("intelligent-tiering")).value_limit(), 8192);
        assert!(
            set(None, None)
                .value_limit_hint()
                .unwrap()
                .contains("--ssm-tier=advanced")
        );
        assert_eq!(set(None, Some("advanced")).value_limit_hint(), None);
        assert_eq!(
            BACKEND.value_limit(),
            8192,
            "a referenced file is read up to the largest"
        );
    }

    #[test]
    fn tiers_and_keys_are_checked_before_anything_runs() {
        assert_eq!(
            set(Some("alias/a"), Some("advanced")).setting_problem(),
            None
        );
        let why = set(None, Some("premium")).setting_problem().unwrap();
        assert!(
            why.starts_with("--ssm-tier: \"premium\" is not a tier"),
            "{why}"
        );
        let why = set(Some("key"), None).setting_problem().unwrap();
        assert!(why.starts_with("--ssm-kms-key: "), "{why}");
    }

    #[test]
    fn the_banner_adds_the_key_and_tier_only_when_set() {
        assert_eq!(
            set(Some("alias/a"), Some("advanced")).banner(1),
            "Syncing 1 secrets to AWS SSM Parameter Store: region=eu-west-1, prefix=/app/, \
             kms-key=alias/a, tier=Advanced"
        );
    }

    #[test]
    fn names_regions_and_prefixes_that_look_like_options_are_joined_to_their_flags() {
        let r = Ssm {
            region: "-r".into(),
            prefix: Some("-x".into()),
            kms_key: None,
            tier: None,
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
    fn a_parameter_of_another_type_differs_and_a_refused_type_change_says_what_to_do() {
        let r = ssm(Some("/app/dev/"));
        let calls = r.read_calls(&["/app/dev/A", "/app/dev/B"]);
        let out = br#"{"Parameters":[
            {"Name":"/app/dev/A","Value":"v","Type":"String"},
            {"Name":"/app/dev/B","Value":"w","Type":"SecureString"}]}"#;
        let back = r.parse_read(&calls[0], out).unwrap();
        assert_eq!(back.values.len(), 2);
        assert_eq!(back.unreadable, ["/app/dev/A"]);
        let refused = "An error occurred (HierarchyTypeMismatchException) when calling the \
                       PutParameter operation: The parameter type can't be changed";
        assert_eq!(r.classify(refused, Some(255)), Failure::Permanent);
        assert!(r.failure_hint("K", refused).unwrap().contains("delete it"));
        assert_eq!(r.failure_hint("K", "ThrottlingException"), None);
    }

    #[test]
    fn throttling_is_retried_and_access_denied_is_not() {
        let r = ssm(None);
        assert_eq!(
            r.classify(
                "An error occurred (ThrottlingException) when calling the PutParameter operation: Rate exceeded",
                Some(255)
            ),
            Failure::Throttled
        );
        assert_eq!(
            r.classify(
                "An error occurred (TooManyUpdates) when calling the PutParameter operation",
                Some(255)
            ),
            Failure::Throttled
        );
        assert_eq!(
            r.classify("An error occurred (AccessDeniedException)", Some(255)),
            Failure::Permanent
        );
    }
}
