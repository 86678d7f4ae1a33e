//! GCP Secret Manager through `gcloud secrets` (raw bytes on stdin via `--data-file=-`).
//!
//! Instead of describe-then-write (two gcloud processes per secret, each mostly start-up
//! time), vsync lists the project's secrets once and writes each key with one call; a wrong guess
//! (list failed, or someone created/deleted a secret meanwhile) is repaired by switching
//! between `versions add` and `create` on NOT_FOUND / ALREADY_EXISTS.

use super::{
    Backend, Deletes, Failure, Location, Op, PerKey, ReadBack, ReadCall, ReadFailure, Reads, Scope,
    Setting, Target, ValueRules, VendorCmd, Writes, looks_transient, owner_label,
};

pub const BACKEND: Backend = Backend {
    name: "gcp",
    title: "GCP Secret Manager",
    example: "--gcp-project=acme-dev",
    bin: "gcloud",
    settings: &[PROJECT],
    values: &VALUES,
    case_insensitive_names: false,
    open: |settings, open| {
        Box::new(Gcp {
            project: settings.required(&PROJECT),
            repo: owner_label(open.repo),
            env: owner_label(open.env),
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

/// `--data-file=-` carries raw bytes; a payload holds at most 64 KiB.
const VALUES: ValueRules = ValueRules {
    max_bytes: 64 * 1024,
    empty_ok: true,
    utf8: false,
    altered: None,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gcp {
    pub project: String,
    /// Owner label values (already spelt as labels): set on every secret vsync creates, and
    /// the only secrets `--prune` may delete.
    pub repo: String,
    pub env: String,
}

impl Gcp {
    fn project_flag(&self) -> String {
        format!("--project={}", self.project)
    }

    fn labels_flag(&self) -> String {
        format!(
            "--labels=managed-by=vsync,vsync-repo={},vsync-env={}",
            self.repo, self.env
        )
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
        Scope::Listed(self)
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
            Failure::Transient => ReadFailure::Transient,
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

    fn parse_scope(&self, stdout: &str) -> Vec<String> {
        self.parse_list(stdout)
            .into_iter()
            .map(str::to_string)
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
            Op::Create => VendorCmd::new(
                "gcloud",
                &[
                    "secrets",
                    "create",
                    "--replication-policy=automatic",
                    "--data-file=-",
                    &self.labels_flag(),
                    &project,
                    "--",
                    key,
                ],
            ),
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

    fn list_cmd(&self) -> Option<VendorCmd> {
        Some(VendorCmd::new(
            "gcloud",
            &[
                "secrets",
                "list",
                &self.project_flag(),
                "--format=value(name)",
            ],
        ))
    }

    /// One name per line; accepts the short id or the full `projects/P/secrets/ID`.
    fn parse_list<'a>(&self, stdout: &'a str) -> Vec<&'a str> {
        stdout
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| l.rsplit('/').next().unwrap_or(l))
            .collect()
    }

    fn classify(&self, stderr: &str, _exit: Option<i32>) -> Failure {
        if stderr.contains("NOT_FOUND") {
            Failure::NotFound
        } else if ["already exists", "ALREADY_EXISTS", "subject of a conflict"]
            .iter()
            .any(|m| stderr.contains(m))
        {
            Failure::AlreadyExists
        } else if looks_transient(stderr)
            || [
                "RESOURCE_EXHAUSTED",
                "UNAVAILABLE",
                "DEADLINE_EXCEEDED",
                "INTERNAL",
            ]
            .iter()
            .any(|m| stderr.contains(m))
        {
            Failure::Transient
        } else {
            Failure::Permanent
        }
    }

    fn label_words(&self, op: Op) -> usize {
        match op {
            Op::Create => 2,
            _ => 3,
        }
    }
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
            repo: "api".into(),
            env: "dev".into(),
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
    fn the_list_call_asks_for_names_only_and_both_spellings_parse() {
        let r = routing();
        assert_eq!(
            r.list_cmd().unwrap().args,
            [
                "secrets",
                "list",
                "--project=my-proj",
                "--format=value(name)"
            ]
        );
        assert_eq!(
            r.parse_list("A\nprojects/123/secrets/B\n\n"),
            vec!["A".to_string(), "B".to_string()]
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
            Failure::Transient
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
            repo: "r".into(),
            env: "e".into(),
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
