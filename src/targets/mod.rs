//! The registry of targets: one enum variant and one module per vendor.
//!
//! Everything here is pure: which flags and config fields a target needs, how its vendor
//! commands look, how its errors are classified. Running those commands is `exec`/`pool`'s job.
//! Adding a target is one new module plus one line in each `match` below.

pub mod aws;
pub mod azure;
pub mod gcp;
pub mod gh;
pub mod vault;

use crate::routing::Values;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    Gh,
    Gcp,
    Aws,
    Azure,
    Vault,
}

impl Target {
    pub const ALL: [Target; 5] = [
        Target::Gh,
        Target::Gcp,
        Target::Aws,
        Target::Azure,
        Target::Vault,
    ];

    /// The target named on the command line (also the `sync.<name>` config key).
    pub fn parse(name: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Target::Gh => "gh",
            Target::Gcp => "gcp",
            Target::Aws => "aws",
            Target::Azure => "azure",
            Target::Vault => "vault",
        }
    }

    /// The vendor CLI that must be on PATH.
    pub fn bin(self) -> &'static str {
        match self {
            Target::Gh => "gh",
            Target::Gcp => "gcloud",
            Target::Aws => "aws",
            Target::Azure => "az",
            Target::Vault => "vault",
        }
    }

    /// The routing settings, in the order they are resolved and prompted for.
    pub fn fields(self) -> &'static [Field] {
        match self {
            Target::Gh => gh::FIELDS,
            Target::Gcp => gcp::FIELDS,
            Target::Aws => aws::FIELDS,
            Target::Azure => azure::FIELDS,
            Target::Vault => vault::FIELDS,
        }
    }

    /// The target a routing flag (without `--`) belongs to.
    pub fn owning_flag(flag: &str) -> Option<Target> {
        Target::ALL
            .into_iter()
            .find(|t| t.fields().iter().any(|f| f.flag == flag))
    }
}

/// One routing setting: where it is persisted, which flag sets it, how to ask for it.
#[derive(Debug, PartialEq, Eq)]
pub struct Field {
    /// Key inside `sync.<target>` of the config file.
    pub cfg_key: &'static str,
    /// Flag name without the leading `--`.
    pub flag: &'static str,
    /// TTY prompt text (0.8 wording).
    pub prompt: &'static str,
    pub required: bool,
}

/// Resolved routing of the chosen target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routing {
    Gh(gh::Routing),
    Gcp(gcp::Routing),
    Aws(aws::Routing),
    Azure(azure::Routing),
    Vault(vault::Routing),
}

impl Routing {
    /// Builds the typed routing from resolved values; required fields are present by then.
    pub fn from_values(target: Target, values: &Values) -> Routing {
        match target {
            Target::Gh => Routing::Gh(gh::Routing::from_values(values)),
            Target::Gcp => Routing::Gcp(gcp::Routing::from_values(values)),
            Target::Aws => Routing::Aws(aws::Routing::from_values(values)),
            Target::Azure => Routing::Azure(azure::Routing::from_values(values)),
            Target::Vault => Routing::Vault(vault::Routing::from_values(values)),
        }
    }

    /// The `Syncing N secrets to …` line of 0.8, byte for byte.
    pub fn banner(&self, env: &str, n: usize) -> String {
        match self {
            Routing::Gh(r) => format!(
                "Syncing {n} secrets to GitHub: repo={}, environment={env}",
                r.repo
            ),
            Routing::Gcp(r) => format!(
                "Syncing {n} secrets to GCP Secret Manager: project={}",
                r.project
            ),
            Routing::Aws(r) => match &r.prefix {
                Some(p) => format!(
                    "Syncing {n} secrets to AWS Secrets Manager: region={}, prefix={p}",
                    r.region
                ),
                None => format!(
                    "Syncing {n} secrets to AWS Secrets Manager: region={}",
                    r.region
                ),
            },
            Routing::Azure(r) => format!(
                "Syncing {n} secrets to Azure Key Vault: vault={}",
                r.vault_name
            ),
            Routing::Vault(r) => format!(
                "Syncing {n} secrets to HashiCorp Vault: addr={}, mount={}, path={}",
                r.addr, r.mount, r.path
            ),
        }
    }

    /// The per-key write strategy; `None` for vault, which writes all keys at once.
    pub fn per_key(&self) -> Option<&dyn PerKey> {
        match self {
            Routing::Gh(r) => Some(r),
            Routing::Gcp(r) => Some(r),
            Routing::Aws(r) => Some(r),
            Routing::Azure(r) => Some(r),
            Routing::Vault(_) => None,
        }
    }
}

/// A vendor CLI invocation. Values never appear here: they go on the child's stdin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorCmd {
    pub program: &'static str,
    pub args: Vec<String>,
    /// Extra environment for the child (vault's `VAULT_ADDR`).
    pub env: Vec<(&'static str, String)>,
}

impl VendorCmd {
    pub fn new(program: &'static str, args: &[&str]) -> VendorCmd {
        VendorCmd {
            program,
            args: args.iter().map(|a| a.to_string()).collect(),
            env: Vec::new(),
        }
    }

    /// `program` plus the leading words that name the operation, for WARNING lines
    /// (`gcloud secrets versions add`); stops at the first secret name or flag.
    pub fn label(&self, words: usize) -> String {
        std::iter::once(self.program)
            .chain(self.args.iter().take(words).map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The command line as a shell user would type it (dry run, docs). Args are plain
    /// words here; anything unusual is single-quoted.
    pub fn display(&self) -> String {
        let mut out: Vec<String> = self
            .env
            .iter()
            .map(|(k, v)| format!("{k}={}", quote(v)))
            .collect();
        out.push(self.program.to_string());
        out.extend(self.args.iter().map(|a| quote(a)));
        out.join(" ")
    }
}

fn quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_=./:@%+,".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Which write a per-key push performs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// gh and azure: one idempotent command.
    Set,
    /// gcp/aws: add a version to an existing secret.
    Update,
    /// gcp/aws: create the secret with its first value.
    Create,
}

/// What a failed vendor call means for the next step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The secret does not exist: switch from Update to Create.
    NotFound,
    /// The secret exists already: switch from Create to Update.
    AlreadyExists,
    /// Throttling, 429/5xx, network trouble: worth another attempt.
    Transient,
    /// Anything else: the key fails.
    Permanent,
}

/// The per-key half of a target (all but vault).
pub trait PerKey: Sync {
    /// The first write for a key, knowing (if a list call succeeded) whether it exists.
    fn first_op(&self, exists: Option<bool>) -> Op {
        match exists {
            None | Some(true) => self.update_op(),
            Some(false) => Op::Create,
        }
    }
    /// The op used when the secret is (believed to be) present.
    fn update_op(&self) -> Op {
        Op::Set
    }
    fn push_cmd(&self, key: &str, op: Op, env: &str) -> VendorCmd;
    /// One call per run that lists existing names (D8), if the target needs create-vs-update.
    fn list_cmd(&self) -> Option<VendorCmd> {
        None
    }
    /// The name a key is stored under on the target (aws adds its prefix).
    fn secret_name(&self, key: &str) -> String {
        key.to_string()
    }

    /// Names from the list call's stdout, as `secret_name` spells them: slices of it, so that
    /// at 10,000 secrets the names are not held twice.
    fn parse_list<'a>(&self, _stdout: &'a str) -> Vec<&'a str> {
        Vec::new()
    }
    fn classify(&self, stderr: &str, exit: Option<i32>) -> Failure;
    /// Words of the command that name the operation in WARNING lines.
    fn label_words(&self, op: Op) -> usize;
}

/// Transient-error markers shared by every vendor (HTTP status texts, network trouble).
pub fn looks_transient(stderr: &str) -> bool {
    const MARKERS: &[&str] = &[
        "429",
        "too many requests",
        "rate limit",
        "rate exceeded",
        "throttl",
        "500 internal",
        "internal server error",
        "502",
        "bad gateway",
        "503",
        "service unavailable",
        "504",
        "gateway timeout",
        "timed out",
        "connection reset",
        "connection refused",
        "temporarily unavailable",
    ];
    let lower = stderr.to_ascii_lowercase();
    MARKERS.iter().any(|m| lower.contains(m))
}

/// Checks that none of `user` (names and routing values from the env file, config or flags)
/// stands alone before `--` in `cmd`, where a vendor CLI could read it as an option, and that
/// each still reaches the command, joined to a flag with `=` or after `--`.
#[cfg(test)]
pub fn assert_option_safe(cmd: &VendorCmd, user: &[&str]) {
    let end = cmd
        .args
        .iter()
        .position(|a| a == "--")
        .unwrap_or(cmd.args.len());
    for value in user {
        assert!(
            !cmd.args[..end].iter().any(|a| a == value),
            "{value:?} stands alone before `--` in {:?}",
            cmd.args
        );
        let joined = cmd.args[..end].iter().any(|a| {
            a.starts_with('-') && a.split_once('=').is_some_and(|(_, v)| v.contains(value))
        });
        let after = cmd.args[end..].iter().skip(1).any(|a| a == value);
        assert!(joined || after, "{value:?} missing from {:?}", cmd.args);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_is_found_by_its_name_and_unknown_names_are_not() {
        for t in Target::ALL {
            assert_eq!(Target::parse(t.name()), Some(t));
        }
        assert_eq!(Target::parse("all"), None);
        assert_eq!(Target::parse("GH"), None);
        assert_eq!(Target::parse(""), None);
    }

    #[test]
    fn every_routing_flag_belongs_to_exactly_one_target() {
        let mut flags: Vec<&str> = Target::ALL
            .iter()
            .flat_map(|t| t.fields().iter().map(|f| f.flag))
            .collect();
        let n = flags.len();
        flags.sort();
        flags.dedup();
        assert_eq!(flags.len(), n);
        assert_eq!(Target::owning_flag("aws-region"), Some(Target::Aws));
        assert_eq!(Target::owning_flag("vault-path"), Some(Target::Vault));
        assert_eq!(Target::owning_flag("workers"), None);
    }

    #[test]
    fn labels_name_the_program_and_operation() {
        let cmd = VendorCmd::new("gcloud", &["secrets", "versions", "add", "K"]);
        assert_eq!(cmd.label(3), "gcloud secrets versions add");
    }

    #[test]
    fn display_quotes_only_unusual_words() {
        let mut cmd = VendorCmd::new("aws", &["--query", "SecretList[].Name", "plain-1"]);
        cmd.env.push(("VAULT_ADDR", "http://x:1".into()));
        assert_eq!(
            cmd.display(),
            "VAULT_ADDR=http://x:1 aws --query 'SecretList[].Name' plain-1"
        );
    }

    #[test]
    fn throttling_and_server_errors_are_transient_but_not_found_is_not() {
        assert!(looks_transient(
            "HTTP 429: You have exceeded a secondary rate limit"
        ));
        assert!(looks_transient(
            "An error occurred (ThrottlingException) when calling the PutSecretValue operation: Rate exceeded"
        ));
        assert!(looks_transient("Code: 503. Errors: * Vault is sealed"));
        assert!(!looks_transient(
            "NOT_FOUND: Secret [projects/p/secrets/A] not found"
        ));
    }
}
