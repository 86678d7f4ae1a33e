//! GCP Secret Manager through `gcloud secrets` (raw bytes on stdin via `--data-file=-`).
//!
//! Instead of describe-then-write (two gcloud processes per secret, each mostly start-up
//! time), vsync lists the project's secrets once and writes each key with one call; a wrong guess
//! (list failed, or someone created/deleted a secret meanwhile) is repaired by switching
//! between `versions add` and `create` on NOT_FOUND / ALREADY_EXISTS.
//!
//! Ownership: `create` labels what vsync creates (`managed-by=vsync`, `vsync-repo`,
//! `vsync-env`); the list call returns every secret's labels, so a write to an existing
//! secret without this run's labels adds them with one `secrets update --update-labels`.
//! `--prune` deletes only secrets carrying this repo's and env's labels.
//!
//! Secrets are created with automatic replication (the location `global`), or with
//! `--gcp-locations` user-managed replication in exactly those locations, which an
//! organisation's location policy (`constraints/gcp.resourceLocations`) may require.

use super::{
    Backend, Deletes, Failure, Location, Op, PerKey, ReadBack, ReadCall, ReadFailure, Reads, Scope,
    Setting, Target, ValueRules, VendorCmd, Writes, looks_transient, marks,
};
use serde::Deserialize;
use std::collections::HashMap;

pub const BACKEND: Backend = Backend {
    name: "gcp",
    title: "GCP Secret Manager",
    example: "--gcp-project=acme-dev",
    bin: "gcloud",
    settings: &[PROJECT, LOCATIONS],
    values: &VALUES,
    case_insensitive_names: false,
    open: |settings, open| {
        Box::new(Gcp {
            project: settings.required(&PROJECT),
            locations: settings.get(&LOCATIONS).map(str::to_string),
            repo: open.repo_mark(),
            env: open.env_mark(),
            owner_known: open.owner.is_some(),
        })
    },
};

const PROJECT: Setting = Setting {
    config_key: "project",
    flag: "gcp-project",
    prompt: "GCP project ID for sync",
    required: true,
    value: "PROJECT",
    help: &[],
};

const LOCATIONS: Setting = Setting {
    config_key: "locations",
    flag: "gcp-locations",
    prompt: "GCP locations for user-managed replication (e.g. europe-west1,europe-west4)",
    required: false,
    value: "LOC[,LOC...]",
    help: &[("LOC[,LOC...]", "create secrets in these locations only")],
};

/// `--data-file=-` carries raw bytes; a payload holds at most 64 KiB. An empty value cannot
/// be stored: the API refuses an empty payload (`Field [payload] is required`), and
/// `gcloud secrets create` with empty data creates the secret without any version, which
/// readers of `latest` find NOT_FOUND. Pre-flight refuses it, naming the key.
const VALUES: ValueRules = ValueRules {
    max_bytes: 64 * 1024,
    empty_ok: false,
    utf8: false,
    altered: None,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gcp {
    pub project: String,
    /// `--gcp-locations` as given (comma-separated): user-managed replication there.
    pub locations: Option<String>,
    /// Owner label values (already spelt as labels): set on every secret vsync creates, and
    /// the only secrets `--prune` may delete.
    pub repo: String,
    pub env: String,
    /// Whether `repo` tells this repository apart from others (else `--prune` is refused).
    pub owner_known: bool,
}

/// One secret of the list call's JSON: `{"name": "projects/P/secrets/ID", "labels": {…}}`
/// (no `labels` when it has none).
#[derive(Deserialize)]
struct Listed<'a> {
    #[serde(borrow)]
    name: &'a str,
    #[serde(default, borrow)]
    labels: HashMap<&'a str, &'a str>,
}

/// The list call's output (ids and label values hold nothing JSON escapes, so they are
/// borrowed). Unreadable output lists nothing.
fn parse_listing(stdout: &str) -> Vec<Listed<'_>> {
    if stdout.trim().is_empty() {
        return Vec::new();
    }
    serde_json::from_str(stdout).unwrap_or_default()
}

impl Gcp {
    fn project_flag(&self) -> String {
        format!("--project={}", self.project)
    }

    fn labels(&self) -> String {
        marks(&self.repo, &self.env)
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The replication of a new secret: automatic, or user-managed in the given locations.
    fn replication_flags(&self) -> Vec<String> {
        match &self.locations {
            None => vec!["--replication-policy=automatic".into()],
            Some(locations) => vec![
                "--replication-policy=user-managed".into(),
                format!("--locations={locations}"),
            ],
        }
    }

    fn labels_flag(&self) -> String {
        format!("--labels={}", self.labels())
    }

    fn is_marked(&self, secret: &Listed<'_>) -> bool {
        marks(&self.repo, &self.env)
            .iter()
            .all(|(k, v)| secret.labels.get(k) == Some(&v.as_str()))
    }
}

/// gcloud's failures of the whole project: no active or valid account, the Secret Manager API
/// disabled, or an organization policy refusing the secrets' locations. A PERMISSION_DENIED
/// alone is about the one secret.
fn store_failure(stderr: &str, project: &str, locations: Option<&str>) -> Option<Failure> {
    Failure::store_if(
        stderr,
        &[
            "do not currently have an active account",
            "gcloud auth login",
            "Reauthentication required",
            "problem refreshing your current auth tokens",
            "invalid_grant",
        ],
        || "run `gcloud auth login` (or `gcloud config set account ACCOUNT`)".into(),
    )
    .or_else(|| {
        Failure::store_if(
            stderr,
            &["SERVICE_DISABLED", "has not been used in project", "API has not been used"],
            || format!("enable the API: `gcloud services enable secretmanager.googleapis.com --project={project}`"),
        )
    })
    .or_else(|| {
        Failure::store_if(stderr, &["constraints/gcp.resourceLocations"], || {
            location_policy_next_step(locations)
        })
    })
}

/// What to do when the location policy refuses a create: every create would be refused
/// alike, so the target stops with this.
fn location_policy_next_step(locations: Option<&str>) -> String {
    match locations {
        None => "the organisation's location policy (constraints/gcp.resourceLocations) \
                 forbids automatic replication, which stores the secret in `global`: pass \
                 --gcp-locations=LOC[,LOC…] with locations the policy allows"
            .to_string(),
        Some(l) => format!(
            "the organisation's location policy (constraints/gcp.resourceLocations) \
             forbids a location of --gcp-locations={l}: pass only locations the policy allows"
        ),
    }
}

impl Target for Gcp {
    fn backend(&self) -> &'static Backend {
        &BACKEND
    }

    fn location(&self) -> Location {
        Location {
            service: "GCP Secret Manager",
            fields: vec![("project", self.project.clone())],
        }
        .with(&[("locations", self.locations.as_deref())])
    }

    fn setting_problem(&self) -> Option<String> {
        locations_problem(self.locations.as_deref()?)
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

    fn scope(&self) -> Scope<'_> {
        if self.owner_known {
            Scope::Listed(self)
        } else {
            Scope::Unknown(super::unknown_owner("gcp"))
        }
    }
}

impl Reads for Gcp {
    /// One `versions access latest` per secret; the id joined to `--secret=`. As JSON: as text,
    /// gcloud turns bytes that are not UTF-8 into U+FFFD, and a payload may hold any bytes.
    fn read_calls(&self, names: &[&str]) -> Vec<ReadCall> {
        names
            .iter()
            .map(|name| ReadCall {
                cmd: VendorCmd::new(
                    "gcloud",
                    &[
                        "secrets",
                        "versions",
                        "access",
                        "latest",
                        &format!("--secret={name}"),
                        &self.project_flag(),
                        "--format=json",
                    ],
                ),
                names: vec![name.to_string()],
            })
            .collect()
    }

    /// `{"payload": {"data": BASE64, …}, …}`: the payload exactly as stored.
    fn parse_read(&self, call: &ReadCall, stdout: &[u8]) -> Result<ReadBack, String> {
        let doc: serde_json::Value = serde_json::from_slice(stdout)
            .map_err(|e| format!("gcloud printed no JSON version: {e}"))?;
        let data = doc["payload"]["data"]
            .as_str()
            .ok_or("gcloud printed a version without payload.data")?;
        let value = base64_decode(data).ok_or("gcloud printed a payload that is not base64")?;
        Ok(ReadBack {
            values: call
                .names
                .iter()
                .map(|n| (n.clone(), value.clone()))
                .collect(),
            ..ReadBack::default()
        })
    }

    fn read_failure(&self, stderr: &str) -> ReadFailure {
        match self.classify(stderr, None) {
            Failure::NotFound => ReadFailure::NotFound,
            Failure::Transient | Failure::Throttled => ReadFailure::Transient,
            _ if stderr.contains("PERMISSION_DENIED") => ReadFailure::Denied,
            _ => ReadFailure::Other,
        }
    }

    fn read_permission(&self) -> &'static str {
        "secretmanager.versions.access"
    }
}

impl Deletes for Gcp {
    /// Only secrets labelled as this repo's and env's: vsync labels what it creates.
    fn scope_cmd(&self) -> VendorCmd {
        VendorCmd::new(
            "gcloud",
            &[
                "secrets",
                "list",
                &self.project_flag(),
                &format!(
                    "--filter=labels.managed-by=vsync AND labels.vsync-repo={} AND labels.vsync-env={}",
                    self.repo, self.env
                ),
                "--format=value(name)",
            ],
        )
    }

    /// One id per line (`value(name)` prints the short id).
    fn parse_scope(&self, stdout: &str) -> Vec<String> {
        stdout
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| l.rsplit('/').next().unwrap_or(l).to_string())
            .collect()
    }

    fn delete_cmds(&self, names: &[&str]) -> Vec<VendorCmd> {
        names
            .iter()
            .map(|name| {
                VendorCmd::new(
                    "gcloud",
                    &[
                        "secrets",
                        "delete",
                        "--quiet",
                        &self.project_flag(),
                        "--",
                        name,
                    ],
                )
            })
            .collect()
    }

    fn delete_means(&self) -> &'static str {
        "Secret Manager deletes the secret and all its versions at once; it cannot be recovered"
    }
}

impl PerKey for Gcp {
    fn update_op(&self) -> Op {
        Op::Update
    }

    /// The id comes last, after `--`: gcloud reads an id such as `-h` as its help flag
    /// otherwise, prints usage and exits 0 having stored nothing.
    fn push_cmd(&self, key: &str, op: Op) -> VendorCmd {
        let project = self.project_flag();
        match op {
            Op::Create => {
                let replication = self.replication_flags();
                let mut args = vec!["secrets", "create"];
                args.extend(replication.iter().map(String::as_str));
                let labels = self.labels_flag();
                args.extend(["--data-file=-", &labels, &project, "--", key]);
                VendorCmd::new("gcloud", &args)
            }
            Op::Update | Op::Set => VendorCmd::new(
                "gcloud",
                &[
                    "secrets",
                    "versions",
                    "add",
                    "--data-file=-",
                    &project,
                    "--",
                    key,
                ],
            ),
        }
    }

    /// Names and labels: which secrets exist, and which lack this run's labels.
    fn list_cmd(&self) -> Option<VendorCmd> {
        Some(VendorCmd::new(
            "gcloud",
            &[
                "secrets",
                "list",
                &self.project_flag(),
                "--format=json(name,labels)",
            ],
        ))
    }

    /// The ids: the short id of each full `projects/P/secrets/ID`.
    fn parse_list<'a>(&self, stdout: &'a str) -> Vec<&'a str> {
        parse_listing(stdout)
            .into_iter()
            .map(|s| s.name.rsplit('/').next().unwrap_or(s.name))
            .collect()
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
            .map(|s| s.name.rsplit('/').next().unwrap_or(s.name))
            .collect()
    }

    /// `--update-labels` sets these labels and keeps the secret's others.
    fn mark_cmd(&self, key: &str) -> Option<VendorCmd> {
        Some(VendorCmd::new(
            "gcloud",
            &[
                "secrets",
                "update",
                &format!("--update-labels={}", self.labels()),
                &self.project_flag(),
                "--",
                key,
            ],
        ))
    }

    fn classify(&self, stderr: &str, _exit: Option<i32>) -> Failure {
        if let Some(store) = store_failure(stderr, &self.project, self.locations.as_deref()) {
            store
        } else if stderr.contains("RESOURCE_EXHAUSTED") || super::looks_throttled(stderr) {
            Failure::Throttled
        } else if stderr.contains("NOT_FOUND") {
            Failure::NotFound
        } else if ["already exists", "ALREADY_EXISTS", "subject of a conflict"]
            .iter()
            .any(|m| stderr.contains(m))
        {
            Failure::AlreadyExists
        } else if looks_transient(stderr)
            || ["UNAVAILABLE", "DEADLINE_EXCEEDED", "INTERNAL"]
                .iter()
                .any(|m| stderr.contains(m))
        {
            Failure::Transient
        } else {
            Failure::Permanent
        }
    }

    /// A location policy refuses every create alike: say so, and name the flag.
    fn explain(&self, stderr: &str) -> Option<String> {
        if !location_policy_refusal(stderr) {
            return None;
        }
        Some(location_policy_next_step(self.locations.as_deref()))
    }

    fn label_words(&self, op: Op) -> usize {
        match op {
            Op::Create => 2,
            _ => 3,
        }
    }
}

/// Whether gcloud's error is the organisation's location policy refusing a create
/// (`FAILED_PRECONDITION: Constraint constraints/gcp.resourceLocations violated for […]
/// attempting to create a secret in [global]`). Every create of the run fails the same way:
/// a store-level failure, not the key's.
pub fn location_policy_refusal(stderr: &str) -> bool {
    stderr.contains("constraints/gcp.resourceLocations")
}

/// The longest location name vsync accepts (GCP's are far shorter: `europe-west1`).
const MAX_LOCATION: usize = 63;

/// Why `--gcp-locations` cannot be used; `None` when fine: a comma-separated list of
/// location names (lowercase letters, digits and `-`, starting with a letter), each once.
pub fn locations_problem(locations: &str) -> Option<String> {
    let mut seen: Vec<&str> = Vec::new();
    for loc in locations.split(',') {
        let shape = (1..=MAX_LOCATION).contains(&loc.len())
            && loc.starts_with(|c: char| c.is_ascii_lowercase())
            && !loc.ends_with('-')
            && loc
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        let shown = crate::term::shown_key(loc);
        if !shape {
            return Some(format!(
                "--gcp-locations: \"{shown}\" is not a GCP location name (such as europe-west1); \
                 give locations separated by commas, without spaces: \
                 --gcp-locations=europe-west1,europe-west4"
            ));
        }
        if loc == "global" {
            return Some(
                "--gcp-locations: `global` is automatic replication, not a location; leave \
                 --gcp-locations out for it (--gcp-locations= clears a saved one)"
                    .into(),
            );
        }
        if seen.contains(&loc) {
            return Some(format!(
                "--gcp-locations: {loc} is listed twice; give each location once"
            ));
        }
        seen.push(loc);
    }
    None
}

/// Standard or URL-safe base64, padded or not (Secret Manager's JSON uses either); `None` on
/// anything else.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    use base64::alphabet::{STANDARD, URL_SAFE};
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    let config =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    [STANDARD, URL_SAFE]
        .iter()
        .find_map(|alphabet| GeneralPurpose::new(alphabet, config).decode(text).ok())
}

/// Secret Manager's id rule `[A-Za-z0-9_-]{1,255}`; `None` when fine.
pub fn name_problem(name: &str) -> Option<String> {
    let ok = (1..=255).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    (!ok).then(|| "GCP secret ids allow only A-Z, a-z, 0-9, _ and -, 1-255 characters".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::assert_option_safe;

    fn routing() -> Gcp {
        Gcp {
            project: "my-proj".into(),
            locations: None,
            repo: "api".into(),
            env: "dev".into(),
            owner_known: true,
        }
    }

    #[test]
    fn update_adds_a_version_from_stdin() {
        let cmd = routing().push_cmd("API_KEY", Op::Update);
        assert_eq!(cmd.program, "gcloud");
        assert_eq!(
            cmd.args,
            [
                "secrets",
                "versions",
                "add",
                "--data-file=-",
                "--project=my-proj",
                "--",
                "API_KEY"
            ]
        );
        assert_eq!(
            cmd.label(routing().label_words(Op::Update)),
            "gcloud secrets versions add"
        );
    }

    #[test]
    fn create_uses_automatic_replication_and_stdin() {
        let cmd = routing().push_cmd("API_KEY", Op::Create);
        assert_eq!(
            cmd.args,
            [
                "secrets",
                "create",
                "--replication-policy=automatic",
                "--data-file=-",
                "--labels=managed-by=vsync,vsync-repo=api,vsync-env=dev",
                "--project=my-proj",
                "--",
                "API_KEY"
            ]
        );
        assert_eq!(
            cmd.label(routing().label_words(Op::Create)),
            "gcloud secrets create"
        );
    }

    #[test]
    fn with_locations_create_replicates_user_managed_there_and_updates_are_unchanged() {
        let r = Gcp {
            locations: Some("europe-west1,europe-west4".into()),
            ..routing()
        };
        // The automatic create, its replication flag replaced by these two.
        let mut want = routing().push_cmd("API_KEY", Op::Create).args;
        want.splice(
            2..3,
            [
                "--replication-policy=user-managed".to_string(),
                "--locations=europe-west1,europe-west4".to_string(),
            ],
        );
        assert_eq!(r.push_cmd("API_KEY", Op::Create).args, want);
        assert_eq!(
            r.push_cmd("API_KEY", Op::Update),
            routing().push_cmd("API_KEY", Op::Update)
        );
        assert_eq!(
            r.banner(2),
            "Syncing 2 secrets to GCP Secret Manager: project=my-proj, locations=europe-west1,europe-west4"
        );
        assert_eq!(
            routing().banner(2),
            "Syncing 2 secrets to GCP Secret Manager: project=my-proj"
        );
        let odd = Gcp {
            locations: Some("-x".into()),
            ..routing()
        };
        assert_option_safe(&odd.push_cmd("K", Op::Create), &["-x"]);
    }

    #[test]
    fn locations_must_be_location_names_each_once() {
        assert_eq!(locations_problem("europe-west1"), None);
        assert_eq!(locations_problem("us-central1,us-east1,eu"), None);
        for bad in [
            "",
            "europe-west1,",
            "europe-west1, europe-west4",
            "Europe-West1",
            "1us",
            "us-",
            "us_east1",
            "-h",
            "a;b",
        ] {
            let why = locations_problem(bad).expect(bad);
            assert!(why.starts_with("--gcp-locations: "), "{why}");
        }
        assert!(
            locations_problem("us-east1,us-east1")
                .unwrap()
                .contains("listed twice")
        );
        assert!(
            locations_problem("global")
                .unwrap()
                .contains("leave --gcp-locations out")
        );
        let r = Gcp {
            locations: Some("x y".into()),
            ..routing()
        };
        assert!(r.setting_problem().is_some());
        assert_eq!(routing().setting_problem(), None);
    }

    #[test]
    fn a_location_policy_refusal_is_recognised_and_explained_naming_the_flag() {
        let refused = "ERROR: (gcloud.secrets.create) FAILED_PRECONDITION: Constraint \
            constraints/gcp.resourceLocations violated for [orgpolicy:projects/123] attempting \
            to create a secret in [global]. For more information, see \
            https://cloud.google.com/resource-manager/docs/organization-policy/defining-locations.";
        assert!(location_policy_refusal(refused));
        // Every create would be refused alike: the target stops, saying what to pass.
        assert!(matches!(
            routing().classify(refused, Some(1)),
            Failure::Store(next) if next.contains("--gcp-locations=LOC")
        ));
        let why = routing().explain(refused).unwrap();
        assert!(why.contains("location policy"), "{why}");
        assert!(why.contains("--gcp-locations=LOC"), "{why}");
        let with = Gcp {
            locations: Some("us-east1".into()),
            ..routing()
        };
        assert!(
            with.explain(refused)
                .unwrap()
                .contains("--gcp-locations=us-east1")
        );
        let other = "ERROR: (gcloud.secrets.create) PERMISSION_DENIED: denied";
        assert!(!location_policy_refusal(other));
        assert_eq!(routing().explain(other), None);
    }

    #[test]
    fn the_list_call_asks_for_names_and_labels_and_shows_which_lack_the_marks() {
        let r = routing();
        assert_eq!(
            r.list_cmd().unwrap().args,
            [
                "secrets",
                "list",
                "--project=my-proj",
                "--format=json(name,labels)"
            ]
        );
        let out = r#"[{"name":"projects/123/secrets/A"},
            {"labels":{"managed-by":"vsync","vsync-env":"dev","vsync-repo":"api"},"name":"projects/123/secrets/B"},
            {"labels":{"managed-by":"vsync","vsync-env":"dev","vsync-repo":"src"},"name":"projects/123/secrets/C"}]"#;
        assert_eq!(r.parse_list(out), ["A", "B", "C"]);
        assert_eq!(r.parse_unmarked(out), ["A", "C"]);
        assert!(r.parse_list("[]\n").is_empty() && r.parse_list("").is_empty());
        let mark = r.mark_cmd("-h").unwrap();
        assert_eq!(
            mark.args,
            [
                "secrets",
                "update",
                "--update-labels=managed-by=vsync,vsync-repo=api,vsync-env=dev",
                "--project=my-proj",
                "--",
                "-h"
            ]
        );
        assert!(matches!(
            Gcp { owner_known: false, ..routing() }.scope(),
            Scope::Unknown(why) if why.contains("--repo")
        )); // Nor does it re-label others' secrets with marks spelt from a folder name.
        assert!(r.marks());
        assert!(
            !Gcp {
                owner_known: false,
                ..routing()
            }
            .marks()
        );
    }

    #[test]
    fn an_unknown_existence_starts_with_an_update() {
        let r = routing();
        assert_eq!(r.first_op(None), Op::Update);
        assert_eq!(r.first_op(Some(true)), Op::Update);
        assert_eq!(r.first_op(Some(false)), Op::Create);
    }

    #[test]
    fn gcloud_store_level_failures_stop_the_target_but_a_denial_does_not() {
        let r = routing();
        let login = "ERROR: (gcloud.secrets.versions.add) You do not currently have an active account selected.\nPlease run:\n\n  $ gcloud auth login\n\nto obtain new credentials.";
        assert!(
            matches!(r.classify(login, Some(1)), Failure::Store(n) if n.contains("gcloud auth login"))
        );
        let policy = "ERROR: (gcloud.secrets.create) FAILED_PRECONDITION: Constraint constraints/gcp.resourceLocations violated for [projects/p] attempting to create a secret in [global].";
        assert!(matches!(r.classify(policy, Some(1)), Failure::Store(_)));
        let disabled = "ERROR: (gcloud.secrets.create) PERMISSION_DENIED: Secret Manager API has not been used in project p before or it is disabled. reason: SERVICE_DISABLED";
        assert!(
            matches!(r.classify(disabled, Some(1)), Failure::Store(n) if n.contains("services enable"))
        );
        let denied = "ERROR: (gcloud.secrets.versions.add) PERMISSION_DENIED: Permission 'secretmanager.versions.add' denied for resource 'projects/p/secrets/A'";
        assert_eq!(r.classify(denied, Some(1)), Failure::Permanent);
    }

    #[test]
    fn gcloud_errors_are_classified() {
        let r = routing();
        let nf = "ERROR: (gcloud.secrets.versions.add) NOT_FOUND: Secret [projects/p/secrets/A] not found or has no versions.";
        assert_eq!(r.classify(nf, Some(1)), Failure::NotFound);
        let ex = "ERROR: (gcloud.secrets.create) Resource in projects [p] is the subject of a conflict: Secret [projects/p/secrets/A] already exists.";
        assert_eq!(r.classify(ex, Some(1)), Failure::AlreadyExists);
        // Real gcloud 528 prints the server's message after this prefix; the prefix suffices.
        let bare = "ERROR: (gcloud.secrets.create) Resource in projects [p] is the subject of a conflict: x";
        assert_eq!(r.classify(bare, Some(1)), Failure::AlreadyExists);
        assert_eq!(
            r.classify(
                "ERROR: (gcloud.secrets.versions.add) RESOURCE_EXHAUSTED: Quota exceeded",
                Some(1)
            ),
            Failure::Throttled
        );
        assert_eq!(
            r.classify(
                "ERROR: (gcloud.secrets.create) PERMISSION_DENIED: denied",
                Some(1)
            ),
            Failure::Permanent
        );
    }

    #[test]
    fn ids_follow_secret_managers_rule() {
        assert_eq!(name_problem("API_KEY-2"), None);
        assert!(name_problem("A.B").is_some());
        assert!(name_problem("").is_some());
        assert!(name_problem(&"a".repeat(256)).is_some());
    }

    #[test]
    fn ids_and_projects_that_look_like_options_are_never_read_as_options() {
        let r = Gcp {
            project: "-p".into(),
            locations: None,
            repo: "r".into(),
            env: "e".into(),
            owner_known: true,
        };
        for key in ["-h", "--help", "-x"] {
            for op in [Op::Update, Op::Create] {
                let cmd = r.push_cmd(key, op);
                assert_option_safe(&cmd, &[key, "-p"]);
                assert_eq!(cmd.args[cmd.args.len() - 2..], ["--", key]);
            }
        }
        assert_option_safe(&r.list_cmd().unwrap(), &["-p"]);
        assert_option_safe(&r.read_calls(&["-h"])[0].cmd, &["-h", "-p"]);
        assert_option_safe(&r.scope_cmd(), &["-p"]);
        let del = &r.delete_cmds(&["-h"])[0];
        assert_option_safe(del, &["-h", "-p"]);
    }

    #[test]
    fn reads_access_the_latest_version_and_the_scope_is_the_owner_labels() {
        let r = routing();
        let call = &r.read_calls(&["A"])[0];
        assert_eq!(
            call.cmd.args,
            [
                "secrets",
                "versions",
                "access",
                "latest",
                "--secret=A",
                "--project=my-proj",
                "--format=json"
            ]
        );
        // "v\n\xff" in base64: bytes that are not UTF-8 come back exactly.
        let json = br#"{"name":"projects/1/secrets/A/versions/2","payload":{"data":"dgr/","dataCrc32c":"1"}}"#;
        let back = r.parse_read(call, json).unwrap();
        assert_eq!(back.values, [("A".to_string(), b"v\n\xff".to_vec())]);
        assert!(r.parse_read(call, b"v\n").is_err());
        assert_eq!(base64_decode("dgr_"), Some(b"v\n\xff".to_vec()));
        assert_eq!(base64_decode("aGk="), Some(b"hi".to_vec()));
        assert_eq!(base64_decode("a*"), None);
        assert_eq!(
            r.read_failure("ERROR: (gcloud.secrets.versions.access) NOT_FOUND: Secret [x] not found or has no versions."),
            ReadFailure::NotFound
        );
        assert_eq!(
            r.read_failure("ERROR: (gcloud.secrets.versions.access) PERMISSION_DENIED: Permission 'secretmanager.versions.access' denied"),
            ReadFailure::Denied
        );
        assert_eq!(
            r.scope_cmd().args[3],
            "--filter=labels.managed-by=vsync AND labels.vsync-repo=api AND labels.vsync-env=dev"
        );
    }
}
