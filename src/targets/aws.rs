//! AWS Secrets Manager through `aws secretsmanager` (value on stdin via `file:///dev/stdin`).
//!
//! `file://`, not `fileb://`: the real CLI rejects bytes for SecretString (and
//! quotes the value in its error). As for gcp, one list call per run, then one write per
//! key, switching between `put-secret-value` and `create-secret` on a wrong guess.
//!
//! Ownership: `create-secret` tags what vsync creates (`managed-by=vsync`, `vsync-repo`,
//! `vsync-env`); the list call returns every secret's tags, so a write to an existing secret
//! without them adds them with one `tag-resource`. `--prune` deletes only secrets under the
//! prefix, one level deep, that carry this repo's and env's tags: a name prefix alone proves
//! nothing (`api/dev` also covers `api/dev2/…`).
//!
//! `--aws-kms-key` names the customer-managed KMS key `create-secret` encrypts a new secret
//! with; an existing secret keeps its key (vsync never re-keys), and `--diff` says where
//! the two differ.

use super::{
    Backend, CRLF_TRANSLATED, Deleted, Deletes, Drift, Failure, Location, Op, PerKey, ReadBack,
    ReadCall, ReadFailure, Reads, Recovers, Scope, Setting, Target, ValueRules, VendorCmd, Writes,
    could_be_key, looks_transient, marked_as_ours, marks, typed_flag, universal_newlines,
};
use serde::Deserialize;
use std::borrow::Cow;

pub const BACKEND: Backend = Backend {
    name: "aws",
    title: "AWS Secrets Manager",
    example: "--aws-region=eu-west-1 --aws-secret-prefix=api/dev/",
    bin: "aws",
    settings: &[REGION, PREFIX, KMS_KEY],
    values: &VALUES,
    case_insensitive_names: false,
    open: |settings, open| {
        Box::new(Aws {
            region: settings.required(&REGION),
            prefix: settings.get(&PREFIX).map(str::to_string),
            repo: open.repo_mark(),
            env: open.env_mark(),
            owner_known: open.owner.is_some(),
            kms_key: settings.get(&KMS_KEY).map(str::to_string),
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

const KMS_KEY: Setting = Setting {
    config_key: "kmsKeyId",
    flag: "aws-kms-key",
    prompt: "KMS key (id, ARN or alias) for new secrets",
    required: false,
    value: "KEY",
    help: &[("KEY", "KMS key id, ARN or alias/NAME for new secrets")],
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
    /// Owner tag values (spelt as `owner_label` spells them): written at create, and a
    /// deleted secret is recovered only when its tags name this repo and env.
    pub repo: String,
    pub env: String,
    /// Whether `repo` tells this repository apart from others (else `--prune` is refused).
    pub owner_known: bool,
    /// `--aws-kms-key`: the key `create-secret` uses; `None` is the AWS managed key.
    pub kms_key: Option<String>,
}

/// What the aws CLI says the same way for every AWS service: throttling, and the failures of
/// the whole account or endpoint (no credentials, expired or unknown keys, no connection). The
/// CLI has already retried a throttle and a refused connection itself when vsync hears of it.
pub(super) fn cli_failure(stderr: &str) -> Option<Failure> {
    let credentials = || {
        "configure credentials: `aws configure`, or set AWS_PROFILE (or AWS_ACCESS_KEY_ID and \
         AWS_SECRET_ACCESS_KEY); `aws sts get-caller-identity` shows whether they work"
            .to_string()
    };
    if [
        "ThrottlingException",
        "TooManyUpdates",
        "Rate exceeded",
        "TooManyRequestsException",
    ]
    .iter()
    .any(|m| stderr.contains(m))
    {
        return Some(Failure::Throttled);
    }
    Failure::store_if(
        stderr,
        &[
            "Unable to locate credentials",
            "ExpiredToken",
            "UnrecognizedClientException",
            "InvalidClientTokenId",
            "InvalidSignatureException",
            "could not be found", // The config profile (X) could not be found
            "Error when retrieving token from sso",
        ],
        credentials,
    )
    .or_else(|| {
        // Said after the CLI's own retries of the connection.
        Failure::store_if(stderr, &["Could not connect to the endpoint URL"], || {
            "check the network, the region, and AWS_ENDPOINT_URL if it is set".into()
        })
    })
}

/// Where a user has chosen none, the aws CLI in vsync's children retries once, in standard
/// mode: vsync paces the whole target on a throttle and retries until the write lands, so
/// the CLI's own four quiet retries (legacy mode) would only hide the throttle from it.
pub const RETRY_DEFAULTS: &[(&str, &str)] =
    &[("AWS_RETRY_MODE", "standard"), ("AWS_MAX_ATTEMPTS", "2")];

/// An aws CLI call, with vsync's retry defaults.
pub(super) fn aws_cmd(args: &[&str]) -> VendorCmd {
    VendorCmd {
        env_defaults: RETRY_DEFAULTS,
        ..VendorCmd::new("aws", args)
    }
}

impl Target for Aws {
    fn backend(&self) -> &'static Backend {
        &BACKEND
    }

    fn location(&self) -> Location {
        Location::regional("AWS Secrets Manager", &self.region, self.prefix.as_deref())
            .with(&[("kms-key", self.kms_key.as_deref())])
    }

    fn setting_problem(&self) -> Option<String> {
        kms_key_problem("aws-kms-key", self.kms_key.as_deref()?)
    }

    fn drift(&self) -> Option<&dyn Drift> {
        self.kms_key.is_some().then_some(self as &dyn Drift)
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
    /// And only those tagged as this repo's and env's, so the repo must be known.
    fn scope(&self) -> Scope<'_> {
        match self.prefix.as_deref() {
            Some(p) if !p.is_empty() && self.owner_known => Scope::Listed(self),
            Some(p) if !p.is_empty() => Scope::Unknown(super::unknown_owner("aws")),
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
                    cmd: aws_cmd(&[
                        "secretsmanager",
                        "batch-get-secret-value",
                        &format!("--secret-id-list={list}"),
                        &self.region_flag(),
                        "--output=json",
                    ]),
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
                // Scheduled for deletion: no live value; a write meets the deleted secret.
                "InvalidRequestException" if is_deleted_message(e["Message"].as_str()) => {}
                "AccessDeniedException" => back.denied.push(id.to_string()),
                _ => back.unreadable.push(id.to_string()),
            }
        }
        Ok(back)
    }

    fn read_failure(&self, stderr: &str) -> ReadFailure {
        match self.classify(stderr, None) {
            Failure::NotFound => ReadFailure::NotFound,
            Failure::Transient | Failure::Throttled => ReadFailure::Transient,
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
        self.list_cmd().unwrap_or_else(|| aws_cmd(&[]))
    }

    /// The name filter is the service's; the prefix is checked again here, and the rest of
    /// the name must be a key (no deeper path), and the tags this run's: nothing else can
    /// ever be deleted.
    fn parse_scope(&self, stdout: &str) -> Vec<String> {
        self.under_prefix(stdout)
            .into_iter()
            .filter(|s| self.is_marked(s))
            .map(|s| s.name.to_string())
            .collect()
    }

    fn parse_unmarked_scope(&self, stdout: &str) -> Vec<String> {
        self.under_prefix(stdout)
            .into_iter()
            .filter(|s| !self.is_marked(s))
            .map(|s| s.name.to_string())
            .collect()
    }

    fn delete_cmds(&self, names: &[&str]) -> Vec<VendorCmd> {
        names
            .iter()
            .map(|name| {
                aws_cmd(&[
                    "secretsmanager",
                    "delete-secret",
                    &format!("--secret-id={name}"),
                    "--recovery-window-in-days=7",
                    &self.region_flag(),
                ])
            })
            .collect()
    }

    fn delete_means(&self) -> &'static str {
        "Secrets Manager schedules the deletion in 7 days and the name stays taken until then; \
         a key added back to the env file is restored by the next sync, with its old value until \
         the new one is written"
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

    /// The listing's name filter, a prefix match: it keeps the listing (and its pages) small.
    fn name_filter(&self) -> Option<String> {
        self.prefix
            .as_ref()
            .map(|p| format!("--filters=Key=name,Values={p}"))
    }

    /// `list-secrets` of the names under the prefix, printing `query` as `output`.
    fn list_secrets(&self, query: &str, output: &str) -> VendorCmd {
        let region = self.region_flag();
        let mut args = vec!["secretsmanager", "list-secrets", &region];
        let filter = self.name_filter();
        if let Some(f) = &filter {
            args.push(f);
        }
        args.extend(["--query", query, "--output", output]);
        aws_cmd(&args)
    }
    /// The marks as `--tags` takes them: a JSON list joined to the flag.
    fn tags_flag(&self) -> String {
        let tags: Vec<serde_json::Value> = marks(&self.repo, &self.env)
            .iter()
            .map(|(k, v)| serde_json::json!({"Key": k, "Value": v}))
            .collect();
        format!(
            "--tags={}",
            serde_json::to_string(&tags).unwrap_or_default()
        )
    }

    /// Whether a listed secret carries every mark of this run.
    fn is_marked(&self, secret: &Listed<'_>) -> bool {
        marks(&self.repo, &self.env).iter().all(|(k, v)| {
            secret
                .tags
                .iter()
                .flatten()
                .any(|t| t.key == *k && t.value == v.as_str())
        })
    }

    /// The listed secrets directly under the prefix (their rest a key, no deeper path).
    fn under_prefix<'a>(&self, stdout: &'a str) -> Vec<Listed<'a>> {
        let prefix = self.prefix.as_deref().unwrap_or_default();
        parse_listing(stdout)
            .into_iter()
            .filter(|s| !prefix.is_empty() && s.name.strip_prefix(prefix).is_some_and(could_be_key))
            .collect()
    }
}

/// One secret of the list call's JSON: `[{"Name": …, "Tags": [{"Key", "Value"}] | null}]`.
#[derive(Deserialize)]
struct Listed<'a> {
    #[serde(rename = "Name", borrow)]
    name: &'a str,
    #[serde(rename = "Tags", default, borrow)]
    tags: Option<Vec<Tag<'a>>>,
}

#[derive(Deserialize)]
struct Tag<'a> {
    #[serde(rename = "Key", borrow)]
    key: Cow<'a, str>,
    #[serde(rename = "Value", borrow)]
    value: Cow<'a, str>,
}

/// The list call's output; names are borrowed from it (Secrets Manager names hold nothing
/// JSON escapes). Unreadable output lists nothing: nothing is then in scope.
fn parse_listing(stdout: &str) -> Vec<Listed<'_>> {
    if stdout.trim().is_empty() {
        return Vec::new();
    }
    serde_json::from_str(stdout).unwrap_or_default()
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
        let region = self.region_flag();
        let mut args = vec![
            "secretsmanager",
            verb,
            &name_flag,
            "--secret-string",
            STDIN_TEXT,
            &region,
        ];
        // Only at create: a new version keeps the secret's key and its tags.
        let key = self.kms_key.as_ref().map(|k| format!("--kms-key-id={k}"));
        let tags = self.tags_flag();
        if op == Op::Create {
            args.extend(key.as_deref());
            args.push(&tags);
        }
        aws_cmd(&args)
    }

    fn list_cmd(&self) -> Option<VendorCmd> {
        // JSON: aws-cli merges the pages into one list before it applies the query.
        Some(self.list_secrets("SecretList[].{Name:Name,Tags:Tags}", "json"))
    }

    fn parse_list<'a>(&self, stdout: &'a str) -> Vec<&'a str> {
        parse_listing(stdout).into_iter().map(|s| s.name).collect()
    }

    /// Only a run that knows its repository marks what it writes: marks spelt from a
    /// folder name would take another repository's secrets out of its `--prune`.
    fn marks(&self) -> bool {
        self.owner_known
    }

    fn parse_unmarked<'a>(&self, stdout: &'a str) -> Vec<&'a str> {
        parse_listing(stdout)
            .into_iter()
            .filter(|s| !self.is_marked(s))
            .map(|s| s.name)
            .collect()
    }

    /// `tag-resource` adds (or overwrites) these tags and leaves the secret's others.
    fn mark_cmd(&self, key: &str) -> Option<VendorCmd> {
        Some(aws_cmd(&[
            "secretsmanager",
            "tag-resource",
            &format!("--secret-id={}", self.secret_name(key)),
            &self.tags_flag(),
            &self.region_flag(),
        ]))
    }

    fn classify(&self, stderr: &str, _exit: Option<i32>) -> Failure {
        if let Some(failure) = cli_failure(stderr) {
            failure
        } else if stderr.contains("ResourceNotFoundException") {
            Failure::NotFound
        } else if stderr.contains("ResourceExistsException") {
            Failure::AlreadyExists
        } else if stderr.contains("InvalidRequestException") && is_deleted_message(Some(stderr)) {
            Failure::Deleted
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

    /// Versions younger than 24 h are kept, and a secret may hold only so many: a secret
    /// written on every run reaches the limit, and an unchanged one need not be written.
    fn failure_hint(&self, _key: &str, stderr: &str) -> Option<String> {
        (stderr.contains("LimitExceededException")
            && stderr.to_ascii_lowercase().contains("version"))
        .then(|| {
            "the secret has too many recent versions (AWS advises at most one update per \
                 10 minutes); sync with --skip-unchanged so unchanged secrets are not written"
                .into()
        })
    }

    fn label_words(&self, _op: Op) -> usize {
        2
    }

    fn recovery(&self) -> Option<&dyn Recovers> {
        Some(self)
    }
}

/// Secrets Manager's words for a name held by a secret scheduled for deletion:
/// `put-secret-value` says "marked for deletion", `create-secret` "already scheduled for
/// deletion"; moto's reads say "currently marked deleted".
fn is_deleted_message(message: Option<&str>) -> bool {
    message.is_some_and(|m| {
        [
            "marked for deletion",
            "scheduled for deletion",
            "marked deleted",
        ]
        .iter()
        .any(|words| m.contains(words))
    })
}

/// Whether a `Tags` list (`[{"Key","Value"}]`) carries vsync's marks for `repo` and `env`.
fn tags_mark(tags: &serde_json::Value, repo: &str, env: &str) -> bool {
    let tag = |key: &str| {
        tags.as_array()?
            .iter()
            .find(|t| t["Key"].as_str() == Some(key))?["Value"]
            .as_str()
    };
    marked_as_ours(tag, repo, env)
}

impl Recovers for Aws {
    /// `describe-secret` shows a secret scheduled for deletion, with `DeletedDate` and `Tags`.
    fn show_deleted_cmd(&self, name: &str) -> VendorCmd {
        aws_cmd(&[
            "secretsmanager",
            "describe-secret",
            &format!("--secret-id={name}"),
            &self.region_flag(),
            "--output=json",
        ])
    }

    fn parse_deleted(&self, stdout: &str) -> Deleted {
        let doc: serde_json::Value = serde_json::from_str(stdout).unwrap_or_default();
        if doc["DeletedDate"].is_null() {
            Deleted::Live
        } else if self.owner_known && tags_mark(&doc["Tags"], &self.repo, &self.env) {
            Deleted::Mine
        } else {
            Deleted::NotMine
        }
    }

    fn recover_cmd(&self, name: &str) -> VendorCmd {
        aws_cmd(&[
            "secretsmanager",
            "restore-secret",
            &format!("--secret-id={name}"),
            &self.region_flag(),
        ])
    }

    fn left_alone(&self, name: &str) -> String {
        let id = typed_flag("--secret-id", name);
        let region = typed_flag("--region", &self.region);
        format!(
            "{name} is a secret scheduled for deletion that is not tagged as this repo's and \
             env's (managed-by=vsync, vsync-repo={}, vsync-env={}), so vsync left it alone; to \
             free the name, restore it (`aws secretsmanager restore-secret {id} {region}`; the \
             next sync then writes it) or delete it for good (`aws secretsmanager delete-secret \
             {id} --force-delete-without-recovery {region}`)",
            self.repo, self.env
        ) + super::unknown_owner_note(self.owner_known)
    }

    /// Every secret under the prefix, those scheduled for deletion included, with its tags.
    fn list_deleted_cmd(&self) -> VendorCmd {
        let region = self.region_flag();
        let mut args = vec![
            "secretsmanager",
            "list-secrets",
            "--include-planned-deletion",
            &region,
        ];
        let filter = self.name_filter();
        if let Some(f) = &filter {
            args.push(f);
        }
        args.push("--output=json");
        aws_cmd(&args)
    }

    fn parse_list_deleted(&self, stdout: &str) -> Vec<(String, bool)> {
        let doc: serde_json::Value = serde_json::from_str(stdout).unwrap_or_default();
        doc["SecretList"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| !s["DeletedDate"].is_null())
            .filter_map(|s| {
                let name = s["Name"].as_str()?.to_string();
                let mine = self.owner_known && tags_mark(&s["Tags"], &self.repo, &self.env);
                Some((name, mine))
            })
            .collect()
    }
}

impl Drift for Aws {
    /// The names under the prefix (all of the region without one) with their keys: one call,
    /// the listing a push makes, with the key beside each name.
    fn drift_cmd(&self) -> VendorCmd {
        self.list_secrets("SecretList[].[Name,KmsKeyId]", "json")
    }

    /// `[[name, key or null], …]`: a secret without `KmsKeyId` uses the AWS managed key.
    fn parse_drift(&self, stdout: &str, names: &[&str]) -> Result<Vec<String>, String> {
        let Some(want) = &self.kms_key else {
            return Ok(Vec::new());
        };
        let rows: Vec<(String, Option<String>)> = serde_json::from_str(stdout)
            .map_err(|e| format!("unreadable list-secrets output: {e}"))?;
        let mut notes = Vec::new();
        for name in names {
            let Some((_, has)) = rows.iter().find(|(n, _)| n == name) else {
                continue;
            };
            if has.as_deref().is_some_and(|has| same_kms_key(has, want)) {
                continue;
            }
            let has = has
                .as_deref()
                .unwrap_or("the AWS managed key aws/secretsmanager");
            notes.push(format!(
                "{name} is encrypted with {has}, not --aws-kms-key={want}; vsync keeps an \
                 existing secret's key (to change it: aws secretsmanager update-secret \
                 --secret-id={name} --kms-key-id={want} --region={})",
                self.region
            ));
        }
        Ok(notes)
    }
}

/// Whether two spellings of a KMS key are the same key as far as their text tells: equal,
/// or an ARN whose `key/ID` or `alias/NAME` is the other (a key id is `key/ID` of its ARN).
/// An alias and a key id cannot be matched without asking KMS: they count as different.
pub fn same_kms_key(a: &str, b: &str) -> bool {
    fn tail(k: &str) -> String {
        let resource = match k.strip_prefix("arn:") {
            Some(arn) => arn.splitn(5, ':').nth(4).unwrap_or(k),
            None => k,
        };
        if resource.starts_with("alias/") || resource.starts_with("key/") {
            resource.to_string()
        } else {
            format!("key/{resource}")
        }
    }
    a == b || tail(a) == tail(b)
}

/// Why a KMS key setting (`flag` without `--`) cannot be used; `None` when fine. A key id
/// (`1234abcd-12ab-34cd-56ef-1234567890ab`, or `mrk-` and 32 hex digits), a key or alias
/// ARN (`arn:aws:kms:REGION:ACCOUNT:key/ID` or `…:alias/NAME`), or `alias/NAME`.
pub fn kms_key_problem(flag: &str, key: &str) -> Option<String> {
    let ok = key_id_ok(key) || alias_ok(key) || kms_arn_ok(key);
    (!ok).then(|| {
        format!(
            "--{flag}: \"{}\" is not a KMS key id, key ARN or alias; give one of \
             1234abcd-12ab-34cd-56ef-1234567890ab, \
             arn:aws:kms:REGION:ACCOUNT:key/ID, arn:aws:kms:REGION:ACCOUNT:alias/NAME or alias/NAME",
            crate::term::shown_key(key)
        )
    })
}

fn hex(s: &str) -> bool {
    s.chars().all(|c| c.is_ascii_hexdigit())
}

fn key_id_ok(id: &str) -> bool {
    if let Some(mrk) = id.strip_prefix("mrk-") {
        return mrk.len() == 32 && hex(mrk);
    }
    let parts: Vec<&str> = id.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && hex(p))
}

/// `alias/NAME`: letters, digits and `/_-`, at most 256 characters in all.
fn alias_ok(alias: &str) -> bool {
    alias.len() <= 256
        && alias.strip_prefix("alias/").is_some_and(|name| {
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "/_-".contains(c))
        })
}

/// `arn:PARTITION:kms:REGION:ACCOUNT:key/ID` or `…:alias/NAME`.
fn kms_arn_ok(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let word = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    match parts.as_slice() {
        ["arn", partition, "kms", region, account, resource] => {
            partition.starts_with("aws")
                && word(partition)
                && word(region)
                && account.len() == 12
                && account.chars().all(|c| c.is_ascii_digit())
                && (resource.strip_prefix("key/").is_some_and(key_id_ok) || alias_ok(resource))
        }
        _ => false,
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
            repo: "api".into(),
            env: "dev".into(),
            owner_known: true,
            kms_key: None,
        }
    }

    const TAGS: &str = r#"--tags=[{"Key":"managed-by","Value":"vsync"},{"Key":"vsync-repo","Value":"api"},{"Key":"vsync-env","Value":"dev"}]"#;

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
    fn create_names_the_secret_with_name_and_tags_it_as_this_repos_and_envs() {
        let cmd = routing(None).push_cmd("DB_URL", Op::Create);
        assert_eq!(
            cmd.args,
            [
                "secretsmanager",
                "create-secret",
                "--name=DB_URL",
                "--secret-string",
                "file:///dev/stdin",
                "--region=eu-west-1",
                TAGS
            ]
        );
    }

    fn keyed(key: &str) -> Aws {
        Aws {
            kms_key: Some(key.into()),
            ..routing(Some("app/"))
        }
    }

    #[test]
    fn a_kms_key_goes_with_create_only_and_shows_in_the_banner() {
        let r = keyed("alias/app");
        assert_eq!(
            r.push_cmd("K", Op::Create).args,
            [
                "secretsmanager",
                "create-secret",
                "--name=app/K",
                "--secret-string",
                "file:///dev/stdin",
                "--region=eu-west-1",
                "--kms-key-id=alias/app",
                TAGS
            ]
        );
        assert_eq!(
            r.push_cmd("K", Op::Update),
            routing(Some("app/")).push_cmd("K", Op::Update)
        );
        assert_eq!(
            r.banner(1),
            "Syncing 1 secrets to AWS Secrets Manager: region=eu-west-1, prefix=app/, kms-key=alias/app"
        );
        assert_eq!(
            routing(None).banner(1),
            "Syncing 1 secrets to AWS Secrets Manager: region=eu-west-1"
        );
        assert_option_safe(&keyed("-k").push_cmd("K", Op::Create), &["-k"]);
        assert!(routing(None).drift().is_none());
        let odd = Aws {
            region: "-r".into(),
            prefix: Some("-x".into()),
            kms_key: Some("-k".into()),
            ..routing(None)
        };
        assert_option_safe(&odd.drift_cmd(), &["-r", "-x"]);
    }

    #[test]
    fn kms_keys_are_ids_arns_or_aliases() {
        for good in [
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            "mrk-1234abcd12ab34cd56ef1234567890ab",
            "alias/app/prod_key-1",
            "alias/aws/secretsmanager",
            "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws-us-gov:kms:us-gov-west-1:111122223333:alias/app",
        ] {
            assert_eq!(kms_key_problem("aws-kms-key", good), None, "{good}");
        }
        for bad in [
            "",
            "app",
            "alias/",
            "alias/a b",
            "1234abcd-12ab-34cd-56ef",
            "arn:aws:kms:eu-west-1:1111:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:s3:::bucket",
            "-h",
        ] {
            let why = kms_key_problem("aws-kms-key", bad).expect(bad);
            assert!(why.starts_with("--aws-kms-key: "), "{why}");
        }
        assert!(keyed("nope").setting_problem().is_some());
        assert_eq!(keyed("alias/x").setting_problem(), None);
    }

    #[test]
    fn diff_notes_name_existing_secrets_whose_key_differs() {
        let id = "1234abcd-12ab-34cd-56ef-1234567890ab";
        let arn = format!("arn:aws:kms:eu-west-1:111122223333:key/{id}");
        assert!(same_kms_key(id, &arn) && same_kms_key(&arn, id));
        assert!(same_kms_key(
            "alias/app",
            "arn:aws:kms:eu-west-1:111122223333:alias/app"
        ));
        assert!(!same_kms_key("alias/app", id));
        let r = keyed(id);
        assert_eq!(
            r.drift_cmd().args,
            [
                "secretsmanager",
                "list-secrets",
                "--region=eu-west-1",
                "--filters=Key=name,Values=app/",
                "--query",
                "SecretList[].[Name,KmsKeyId]",
                "--output",
                "json"
            ]
        );
        let out = format!(
            r#"[["app/SAME","{arn}"],["app/OTHER","alias/old"],["app/DEFAULT",null],["app/NOT_ASKED","alias/x"]]"#
        );
        let notes = r
            .parse_drift(&out, &["app/SAME", "app/OTHER", "app/DEFAULT", "app/NEW"])
            .unwrap();
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes[0].starts_with("app/OTHER is encrypted with alias/old, not --aws-kms-key="));
        assert!(notes[0].contains(&format!(
            "aws secretsmanager update-secret --secret-id=app/OTHER --kms-key-id={id}"
        )));
        assert!(notes[1].contains("app/DEFAULT is encrypted with the AWS managed key"));
        assert!(r.parse_drift("not json", &[]).is_err());
    }

    #[test]
    fn the_list_call_filters_by_prefix_only_when_there_is_one_and_returns_tags() {
        assert_eq!(
            routing(None).list_cmd().unwrap().args,
            [
                "secretsmanager",
                "list-secrets",
                "--region=eu-west-1",
                "--query",
                "SecretList[].{Name:Name,Tags:Tags}",
                "--output",
                "json"
            ]
        );
        let with = routing(Some("app/")).list_cmd().unwrap().args;
        assert_eq!(with[3], "--filters=Key=name,Values=app/");
        let out = r#"[{"Name":"a/B","Tags":null},{"Name":"c/D","Tags":[{"Key":"managed-by","Value":"vsync"},{"Key":"vsync-repo","Value":"api"},{"Key":"vsync-env","Value":"dev"}]},{"Name":"e","Tags":[{"Key":"managed-by","Value":"vsync"},{"Key":"vsync-repo","Value":"other"},{"Key":"vsync-env","Value":"dev"}]}]"#;
        let r = routing(None);
        assert_eq!(r.parse_list(out), ["a/B", "c/D", "e"]);
        assert_eq!(r.parse_unmarked(out), ["a/B", "e"]);
        assert!(r.parse_list("").is_empty());
        assert_eq!(
            r.mark_cmd("a/B").unwrap().args,
            [
                "secretsmanager",
                "tag-resource",
                "--secret-id=a/B",
                TAGS,
                "--region=eu-west-1"
            ]
        );
    }

    #[test]
    fn missing_credentials_and_no_endpoint_stop_the_target() {
        let r = routing(None);
        let Failure::Store(next) = r.classify(
            "\nUnable to locate credentials. You can configure credentials by running \"aws configure\".",
            Some(255),
        ) else {
            panic!("not store-level");
        };
        assert!(next.contains("aws configure") && next.contains("AWS_PROFILE"));
        assert!(matches!(
            r.classify(
                "\nCould not connect to the endpoint URL: \"http://127.0.0.1:9/\"",
                Some(255)
            ),
            Failure::Store(_)
        ));
        assert_eq!(
            r.classify("An error occurred (AccessDeniedException) when calling the PutSecretValue operation: not authorized", Some(255)),
            Failure::Permanent
        );
    }

    #[test]
    fn too_many_versions_points_to_skip_unchanged() {
        let r = routing(None);
        let stderr = "An error occurred (LimitExceededException) when calling the PutSecretValue operation: You have exceeded the maximum number of versions of the secret";
        assert_eq!(r.classify(stderr, Some(255)), Failure::Permanent);
        assert!(
            r.failure_hint("K", stderr)
                .unwrap()
                .contains("--skip-unchanged")
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
            Failure::Throttled
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
            ..routing(None)
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
    fn the_scope_is_the_prefix_one_level_deep_and_the_tags_and_nothing_without_either() {
        assert!(matches!(routing(None).scope(), Scope::Unknown(_)));
        assert!(matches!(routing(Some("")).scope(), Scope::Unknown(_)));
        let unknown = Aws {
            owner_known: false,
            ..routing(Some("app/"))
        };
        assert!(matches!(unknown.scope(), Scope::Unknown(why) if why.contains("--repo")));
        assert!(!unknown.marks() && routing(Some("app/")).marks());
        let mine = r#"[{"Key":"managed-by","Value":"vsync"},{"Key":"vsync-repo","Value":"api"},{"Key":"vsync-env","Value":"dev"}]"#;
        let theirs = r#"[{"Key":"managed-by","Value":"vsync"},{"Key":"vsync-repo","Value":"web"},{"Key":"vsync-env","Value":"dev"}]"#;
        let listing = format!(
            r#"[{{"Name":"app/A","Tags":{mine}}},{{"Name":"other/B","Tags":{mine}}},{{"Name":"app/C","Tags":{mine}}},
               {{"Name":"app/sub/D","Tags":{mine}}},{{"Name":"app/U","Tags":null}},{{"Name":"app/W","Tags":{theirs}}}]"#
        );
        let r = routing(Some("app/"));
        assert_eq!(r.parse_scope(&listing), ["app/A", "app/C"]);
        assert_eq!(r.parse_unmarked_scope(&listing), ["app/U", "app/W"]);
        // A prefix that is not a path: `api/dev` must not reach `api/dev2/…`.
        let r2 = routing(Some("api/dev"));
        let listing = format!(
            r#"[{{"Name":"api/dev2/OTHER","Tags":{mine}}},{{"Name":"api/development/Z","Tags":{mine}}},{{"Name":"api/devX","Tags":{mine}}}]"#
        );
        assert_eq!(r2.parse_scope(&listing), ["api/devX"]);
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

    #[test]
    fn a_write_to_a_name_scheduled_for_deletion_is_told_apart_from_other_invalid_requests() {
        let r = routing(Some("app/"));
        assert_eq!(
            r.classify(
                "\nAn error occurred (InvalidRequestException) when calling the PutSecretValue \
                 operation: You can't perform this operation on the secret because it was marked \
                 for deletion.\n",
                Some(255)
            ),
            Failure::Deleted
        );
        assert_eq!(
            r.classify(
                "\nAn error occurred (InvalidRequestException) when calling the CreateSecret \
                 operation: You can't create this secret because a secret with this name is \
                 already scheduled for deletion.\n",
                Some(255)
            ),
            Failure::Deleted
        );
        assert_eq!(
            r.classify(
                "An error occurred (InvalidRequestException) when calling the PutSecretValue \
                 operation: You must provide either SecretString or SecretBinary.",
                Some(255)
            ),
            Failure::Permanent
        );
    }

    #[test]
    fn a_deleted_secret_is_vsyncs_only_with_all_three_marks_of_this_repo_and_env() {
        let r = routing(Some("app/"));
        let shown = |tags: &str, deleted: bool| {
            let date = if deleted {
                r#","DeletedDate":"2024-01-01T00:00:00+00:00""#
            } else {
                ""
            };
            r.parse_deleted(&format!(r#"{{"Name":"app/B","Tags":{tags}{date}}}"#))
        };
        let ours = r#"[{"Key":"managed-by","Value":"vsync"},{"Key":"vsync-repo","Value":"api"},{"Key":"vsync-env","Value":"dev"}]"#;
        assert_eq!(shown(ours, true), Deleted::Mine);
        assert_eq!(shown(ours, false), Deleted::Live);
        let other_env = ours.replace(r#""dev""#, r#""prod""#);
        assert_eq!(shown(&other_env, true), Deleted::NotMine);
        let unmanaged = ours.replace("managed-by", "owner");
        assert_eq!(shown(&unmanaged, true), Deleted::NotMine);
        assert_eq!(shown("[]", true), Deleted::NotMine);
        assert_eq!(
            r.parse_deleted(r#"{"Name":"app/B","DeletedDate":1.5}"#),
            Deleted::NotMine
        );
        // Marks spelt from a folder name prove nothing: nothing is recovered.
        let folder_only = Aws {
            owner_known: false,
            ..routing(Some("app/"))
        };
        let deleted = format!(r#"{{"Name":"app/B","Tags":{ours},"DeletedDate":"x"}}"#);
        assert_eq!(folder_only.parse_deleted(&deleted), Deleted::NotMine);
        assert!(folder_only.left_alone("app/B").contains("pass --repo=NAME"));
        assert!(!r.left_alone("app/B").contains("--repo"));
    }

    #[test]
    fn recovery_shows_restores_and_lists_deleted_secrets_with_their_tags() {
        let r = routing(Some("app/"));
        assert_eq!(
            r.show_deleted_cmd("app/B").args,
            [
                "secretsmanager",
                "describe-secret",
                "--secret-id=app/B",
                "--region=eu-west-1",
                "--output=json"
            ]
        );
        assert_eq!(
            r.recover_cmd("app/B").args,
            [
                "secretsmanager",
                "restore-secret",
                "--secret-id=app/B",
                "--region=eu-west-1"
            ]
        );
        assert_eq!(
            r.list_deleted_cmd().args,
            [
                "secretsmanager",
                "list-secrets",
                "--include-planned-deletion",
                "--region=eu-west-1",
                "--filters=Key=name,Values=app/",
                "--output=json"
            ]
        );
        let listed = r.parse_list_deleted(
            r#"{"SecretList":[{"Name":"app/LIVE"},
                {"Name":"app/B","DeletedDate":"x","Tags":[{"Key":"managed-by","Value":"vsync"},{"Key":"vsync-repo","Value":"api"},{"Key":"vsync-env","Value":"dev"}]},
                {"Name":"app/C","DeletedDate":"x"}]}"#,
        );
        assert_eq!(
            listed,
            [("app/B".to_string(), true), ("app/C".into(), false)]
        );
        let odd = Aws {
            region: "-r".into(),
            prefix: Some("-x".into()),
            ..routing(None)
        };
        assert_option_safe(&odd.show_deleted_cmd("-xB"), &["-xB", "-r"]);
        assert_option_safe(&odd.recover_cmd("-xB"), &["-xB", "-r"]);
        assert_option_safe(&odd.list_deleted_cmd(), &["-r", "-x"]);
    }

    #[test]
    fn a_deleted_secret_left_alone_is_named_with_the_commands_that_free_it() {
        let why = routing(Some("app/")).left_alone("app/B");
        assert!(
            why.starts_with("app/B is a secret scheduled for deletion"),
            "{why}"
        );
        assert!(why.contains("vsync-repo=api, vsync-env=dev"), "{why}");
        assert!(
            why.contains(
                "`aws secretsmanager restore-secret --secret-id app/B --region eu-west-1`"
            ),
            "{why}"
        );
        assert!(
            why.contains(
                "`aws secretsmanager delete-secret --secret-id app/B \
                 --force-delete-without-recovery --region eu-west-1`"
            ),
            "{why}"
        );
        let dashed = routing(None).left_alone("-h");
        assert!(dashed.contains("--secret-id=-h "), "{dashed}");
    }

    #[test]
    fn a_read_of_a_secret_scheduled_for_deletion_finds_no_value() {
        let r = routing(Some("p/"));
        let call = &r.read_calls(&["p/A"])[0];
        let out = br#"{"SecretValues":[],"Errors":[{"SecretId":"p/A","ErrorCode":"InvalidRequestException",
            "Message":"You can't perform this operation on the secret because it was marked for deletion."},
            {"SecretId":"p/B","ErrorCode":"InvalidRequestException","Message":"other"}]}"#;
        let back = r.parse_read(call, out).unwrap();
        assert!(back.values.is_empty());
        assert_eq!(back.unreadable, ["p/B"]);
    }
}
