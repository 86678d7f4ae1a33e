//! AWS Systems Manager Parameter Store through `aws ssm put-parameter`, one SecureString
//! parameter per key, named prefix + key (`/myapp/dev/DB_URL`).
//!
//! The value goes on stdin as `--value=file:///dev/stdin`: the aws CLI loads `file://`
//! parameters as text (newline translation included). `--overwrite` makes every write the
//! same call whether the parameter exists or not, so no list call is needed.

use super::{
    CRLF_TRANSLATED, Failure, Kind, Op, PerKey, Setting, Target, ValueRules, VendorCmd, Writes,
    looks_transient,
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
                &format!("--region={}", self.region),
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
