//! Azure Key Vault through `az keyvault secret set --file /dev/stdin -o none`.
//!
//! `-o none` matters: by default `az` prints the stored secret, value included, on stdout.
//!
//! Key Vault names allow no `_`, which nearly every env file uses. vsync never renames on its
//! own: `--azure-names=dashes` (saved as `sync.azure.names`) stores each `_` as `-`, and the
//! banner and the dry run say so; the default, `exact`, stores the key as written.

use super::{
    Backend, CRLF_TRANSLATED, Deleted, Deletes, Failure, Location, Op, PerKey, ReadBack, ReadCall,
    ReadFailure, Reads, Recovers, Scope, Setting, Target, ValueRules, VendorCmd, Writes,
    looks_transient, marked_as_ours, typed_flag, universal_newlines,
};
use std::borrow::Cow;

pub const BACKEND: Backend = Backend {
    name: "azure",
    title: "Azure Key Vault (names: 0-9 A-Z a-z - only)",
    example: "--azure-vault=acme-dev-kv --azure-names=dashes",
    bin: "az",
    settings: &[VAULT_NAME, NAMES],
    values: &VALUES,
    case_insensitive_names: true,
    open: |settings, open| {
        Box::new(Azure {
            vault_name: settings.required(&VAULT_NAME),
            names: Names::parse(settings.get(&NAMES)),
            repo: open.repo_mark(),
            env: open.env_mark(),
            owner_known: open.owner.is_some(),
        })
    },
};

const VAULT_NAME: Setting = Setting {
    config_key: "vaultName",
    flag: "azure-vault",
    prompt: "Azure Key Vault name",
    required: true,
    value: "VAULT_NAME",
    help: &[],
};

const NAMES: Setting = Setting {
    config_key: "names",
    flag: "azure-names",
    prompt: "Azure secret names (exact or dashes)",
    required: false,
    value: "exact|dashes",
    help: &[
        ("dashes", "store each _ as - (DB_URL as DB-URL)"),
        (
            "exact",
            "the default: names as written, a key with _ is refused",
        ),
    ],
};

/// `--file` is read as text with newline translation; an empty value is refused; a secret
/// holds at most 25 KB.
const VALUES: ValueRules = ValueRules {
    max_bytes: 25 * 1024,
    empty_ok: false,
    utf8: true,
    altered: Some(CRLF_TRANSLATED),
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Azure {
    /// The vault name, not its URL.
    pub vault_name: String,
    pub names: Names,
    /// Owner tag values (spelt as `owner_label` spells them): set with every write, and the
    /// only secrets `--prune` may delete.
    pub repo: String,
    pub env: String,
    /// Whether `repo` tells this repository apart from others (else `--prune` is refused).
    pub owner_known: bool,
}

/// How a key becomes a Key Vault name: `--azure-names`. A string in the config, so that more
/// mappings can be added later without changing what is saved today.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Names {
    /// The key as written (the default).
    Exact,
    /// Each `_` is stored as `-`.
    Dashes,
    /// A value vsync does not know, as given; pre-flight refuses it before anything runs.
    Unknown(String),
}

impl Names {
    fn parse(value: Option<&str>) -> Names {
        match value {
            None | Some("exact") => Names::Exact,
            Some("dashes") => Names::Dashes,
            Some(other) => Names::Unknown(other.to_string()),
        }
    }
}

impl Target for Azure {
    fn backend(&self) -> &'static Backend {
        &BACKEND
    }

    fn location(&self) -> Location {
        let mut fields = vec![("vault", self.vault_name.clone())];
        if self.names == Names::Dashes {
            fields.push(("names", "dashes".to_string()));
        }
        Location {
            service: "Azure Key Vault",
            fields,
        }
    }

    fn secret_name<'k>(&self, key: &'k str) -> Cow<'k, str> {
        match self.names {
            Names::Dashes if key.contains('_') => Cow::Owned(key.replace('_', "-")),
            _ => Cow::Borrowed(key),
        }
    }

    fn setting_problem(&self) -> Option<String> {
        match &self.names {
            Names::Unknown(value) => Some(format!(
                "unknown --azure-names value {value:?} (a flag or the saved sync.azure.names): \
                 the allowed values are exact (the default: keys as written) and dashes (each _ \
                 stored as -); nothing was pushed"
            )),
            Names::Exact | Names::Dashes => None,
        }
    }

    /// With names as written, a key that only its underscores keep out of Key Vault is told
    /// about the mapping that would let it in.
    fn name_problem(&self, name: &str) -> Option<String> {
        let problem = name_problem(name)?;
        let dashes_fix_it =
            self.names == Names::Exact && name_problem(&name.replace('_', "-")).is_none();
        Some(if dashes_fix_it {
            format!("{problem} (or pass --azure-names=dashes to store each _ as -)")
        } else {
            problem
        })
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
            Scope::Unknown(super::unknown_owner("azure"))
        }
    }
}

impl Azure {
    fn vault_flag(&self) -> String {
        format!("--vault-name={}", self.vault_name)
    }
}

impl Reads for Azure {
    /// One `secret show` per secret; the value is the JSON's `value` field.
    fn read_calls(&self, names: &[&str]) -> Vec<ReadCall> {
        names
            .iter()
            .map(|name| ReadCall {
                cmd: VendorCmd::new(
                    "az",
                    &[
                        "keyvault",
                        "secret",
                        "show",
                        &self.vault_flag(),
                        &format!("--name={name}"),
                        "-o",
                        "json",
                    ],
                ),
                names: vec![name.to_string()],
            })
            .collect()
    }

    fn parse_read(&self, call: &ReadCall, stdout: &[u8]) -> Result<ReadBack, String> {
        let doc: serde_json::Value = serde_json::from_slice(stdout)
            .map_err(|e| format!("unreadable az keyvault secret show output: {e}"))?;
        let mut back = ReadBack::default();
        for name in &call.names {
            match doc["value"].as_str() {
                Some(v) => back.values.push((name.clone(), v.as_bytes().to_vec())),
                None => back.unreadable.push(name.clone()),
            }
        }
        Ok(back)
    }

    fn read_failure(&self, stderr: &str) -> ReadFailure {
        if stderr.contains("SecretNotFound") {
            ReadFailure::NotFound
        } else if stderr.contains("Forbidden") || stderr.contains("does not have secrets get") {
            ReadFailure::Denied
        } else if looks_transient(stderr) {
            ReadFailure::Transient
        } else {
            ReadFailure::Other
        }
    }

    fn read_permission(&self) -> &'static str {
        "secrets get (Key Vault Secrets User)"
    }

    fn as_stored<'v>(&self, value: &'v [u8]) -> Cow<'v, [u8]> {
        universal_newlines(value)
    }
}

impl Deletes for Azure {
    /// Secrets tagged as this repo's and env's; tag values are `owner_label`s, so they need
    /// no escaping inside the JMESPath strings.
    fn scope_cmd(&self) -> VendorCmd {
        VendorCmd::new(
            "az",
            &[
                "keyvault",
                "secret",
                "list",
                &self.vault_flag(),
                &format!(
                    "--query=[?tags.\"managed-by\"=='vsync' && tags.\"vsync-repo\"=='{}' && tags.\"vsync-env\"=='{}'].name",
                    self.repo, self.env
                ),
                "-o",
                "tsv",
            ],
        )
    }

    fn parse_scope(&self, stdout: &str) -> Vec<String> {
        stdout
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    }

    fn delete_cmds(&self, names: &[&str]) -> Vec<VendorCmd> {
        names
            .iter()
            .map(|name| {
                VendorCmd::new(
                    "az",
                    &[
                        "keyvault",
                        "secret",
                        "delete",
                        &self.vault_flag(),
                        &format!("--name={name}"),
                        "-o",
                        "none",
                    ],
                )
            })
            .collect()
    }

    fn delete_means(&self) -> &'static str {
        "Key Vault soft-deletes the secret and the name stays taken for the vault's retention \
         period; a key added back to the env file is recovered by the next sync, with its old \
         value until the new one is written"
    }
}

impl PerKey for Azure {
    /// The vault and secret names are joined to their flags with `=`: az parses with
    /// argparse, which reads a separate word such as `-h` (a valid secret name) as an option.
    fn push_cmd(&self, key: &str, _op: Op) -> VendorCmd {
        let name = self.secret_name(key);
        VendorCmd::new(
            "az",
            &[
                "keyvault",
                "secret",
                "set",
                &self.vault_flag(),
                &format!("--name={name}"),
                "--file",
                "/dev/stdin",
                // Ownership, for `--prune`: each tag one word that starts with its name, so
                // none can be read as an option.
                "--tags",
                "managed-by=vsync",
                &format!("vsync-repo={}", self.repo),
                &format!("vsync-env={}", self.env),
                "-o",
                "none",
            ],
        )
    }

    /// Key Vault answers a write to a soft-deleted name with 409 `Conflict`, told apart by
    /// the inner error code: `ObjectIsDeletedButRecoverable` until it is recovered or purged,
    /// `ObjectIsBeingRecovered` while a recovery completes.
    fn classify(&self, stderr: &str, _exit: Option<i32>) -> Failure {
        if stderr.contains("ObjectIsDeletedButRecoverable") {
            return Failure::Deleted;
        }
        if stderr.contains("ObjectIsBeingRecovered") {
            return Failure::Recovering;
        }
        let login = || "run `az login` (or `az account set --subscription=…`)".to_string();
        let vault = || {
            format!(
                "check the vault name ({}) and the network: the vault did not answer",
                self.vault_name
            )
        };
        Failure::store_if(
            stderr,
            &["az login", "AADSTS", "No subscription found"],
            login,
        )
        .or_else(|| {
            [
                "Failed to resolve",
                "Name or service not known",
                "getaddrinfo failed",
                "VaultNotFound",
            ]
            .iter()
            .any(|m| stderr.contains(m))
            // Said after the SDK's own retries of the connection.
            .then(|| Failure::Store(vault()))
        })
        .unwrap_or_else(|| Failure::by_shared_markers(stderr))
    }

    fn label_words(&self, _op: Op) -> usize {
        3
    }

    fn failure_hint(&self, key: &str, stderr: &str) -> Option<String> {
        stderr
            .contains("ObjectIsDeletedButRecoverable")
            .then(|| soft_deleted_hint(&self.vault_name, &self.secret_name(key)))
    }

    fn recovery(&self) -> Option<&dyn Recovers> {
        Some(self)
    }
}

/// Key Vault refuses to set a name that is soft-deleted (a pruned key written again, say)
/// until it is recovered or purged; both are the user's choice, never vsync's.
fn soft_deleted_hint(vault: &str, name: &str) -> String {
    format!(
        "the name is soft-deleted in the vault: bring it back with `az keyvault secret recover \
         --vault-name={vault} --name={name}` (vsync then writes a new version) or delete it for \
         good with `az keyvault secret purge --vault-name={vault} --name={name}`, then run vsync \
         again"
    )
}

/// Whether an az `tags` object carries vsync's marks for `repo` and `env`.
fn tags_mark(tags: &serde_json::Value, repo: &str, env: &str) -> bool {
    marked_as_ours(|key| tags[key].as_str(), repo, env)
}

impl Recovers for Azure {
    fn show_deleted_cmd(&self, name: &str) -> VendorCmd {
        VendorCmd::new(
            "az",
            &[
                "keyvault",
                "secret",
                "show-deleted",
                &self.vault_flag(),
                &format!("--name={name}"),
                "-o",
                "json",
            ],
        )
    }

    fn parse_deleted(&self, stdout: &str) -> Deleted {
        let doc: serde_json::Value = serde_json::from_str(stdout).unwrap_or_default();
        if doc["deletedDate"].is_null() && doc["recoveryId"].is_null() {
            Deleted::Live
        } else if self.owner_known && tags_mark(&doc["tags"], &self.repo, &self.env) {
            Deleted::Mine
        } else {
            Deleted::NotMine
        }
    }

    /// az starts the recovery and returns before it completes: the write that follows is
    /// retried while Key Vault answers `ObjectIsBeingRecovered`.
    fn recover_cmd(&self, name: &str) -> VendorCmd {
        VendorCmd::new(
            "az",
            &[
                "keyvault",
                "secret",
                "recover",
                &self.vault_flag(),
                &format!("--name={name}"),
                "-o",
                "none",
            ],
        )
    }

    fn left_alone(&self, name: &str) -> String {
        let vault = typed_flag("--vault-name", &self.vault_name);
        let n = typed_flag("--name", name);
        format!(
            "{name} is a soft-deleted secret that is not tagged as this repo's and env's \
             (managed-by=vsync, vsync-repo={}, vsync-env={}), so vsync left it alone; to free \
             the name, recover it (`az keyvault secret recover {vault} {n}`; the next sync then \
             writes it) or purge it for good (`az keyvault secret purge {vault} {n}`)",
            self.repo, self.env
        ) + super::unknown_owner_note(self.owner_known)
    }

    fn list_deleted_cmd(&self) -> VendorCmd {
        VendorCmd::new(
            "az",
            &[
                "keyvault",
                "secret",
                "list-deleted",
                &self.vault_flag(),
                "-o",
                "json",
            ],
        )
    }

    fn parse_list_deleted(&self, stdout: &str) -> Vec<(String, bool)> {
        let doc: serde_json::Value = serde_json::from_str(stdout).unwrap_or_default();
        doc.as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| {
                let name = s["name"].as_str()?.to_string();
                let mine = self.owner_known && tags_mark(&s["tags"], &self.repo, &self.env);
                Some((name, mine))
            })
            .collect()
    }
}

/// Key Vault's name rule `^[0-9A-Za-z-]{1,127}$`; `None` when fine.
pub fn name_problem(name: &str) -> Option<String> {
    let ok = (1..=127).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    (!ok).then(|| {
        "Azure Key Vault names allow only 0-9, A-Z, a-z and - (no underscore), 1-127 characters"
            .into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::assert_option_safe;

    #[test]
    fn az_not_logged_in_stops_the_target_a_throttle_paces_it_and_forbidden_is_per_key() {
        let r = Azure {
            vault_name: "kv1".into(),
            ..azure(Names::Exact)
        };
        let login = r.classify("ERROR: Please run 'az login' to setup account.", Some(1));
        assert!(matches!(login, Failure::Store(next) if next.contains("az login")));
        assert_eq!(
            r.classify(
                "ERROR: (Throttled) Too Many Requests\nCode: Throttled",
                Some(1)
            ),
            Failure::Throttled
        );
        assert_eq!(
            r.classify(
                "ERROR: (Forbidden) The user does not have secrets set permission",
                Some(1)
            ),
            Failure::Permanent
        );
    }

    #[test]
    fn the_push_reads_the_value_from_stdin_and_prints_nothing() {
        let r = Azure {
            vault_name: "my-vault".into(),
            names: Names::Exact,
            repo: "api".into(),
            env: "dev".into(),
            owner_known: true,
        };
        let cmd = r.push_cmd("db-url", Op::Set);
        assert_eq!(cmd.program, "az");
        assert_eq!(
            cmd.args,
            [
                "keyvault",
                "secret",
                "set",
                "--vault-name=my-vault",
                "--name=db-url",
                "--file",
                "/dev/stdin",
                "--tags",
                "managed-by=vsync",
                "vsync-repo=api",
                "vsync-env=dev",
                "-o",
                "none"
            ]
        );
        assert_eq!(cmd.label(3), "az keyvault secret set");
    }

    #[test]
    fn a_soft_deleted_name_is_told_how_to_recover_or_purge_it_under_its_stored_name() {
        let conflict = "ERROR: (Conflict) Secret DB-URL is currently in a deleted but \
                        recoverable state, and its name cannot be reused; in this state, the \
                        secret can only be recovered or purged.\nCode: Conflict\nMessage: …\n\
                        Inner error: {\n    \"code\": \"ObjectIsDeletedButRecoverable\"\n}\n";
        let hint = azure(Names::Dashes)
            .failure_hint("DB_URL", conflict)
            .unwrap_or_default();
        assert!(
            hint.contains("`az keyvault secret recover --vault-name=kv --name=DB-URL`")
                && hint.contains("`az keyvault secret purge --vault-name=kv --name=DB-URL`"),
            "{hint}"
        );
        assert_eq!(
            azure(Names::Exact).failure_hint("K", "ERROR: (Forbidden) no"),
            None
        );
        assert_eq!(
            azure(Names::Exact).classify(conflict, Some(1)),
            Failure::Deleted
        );
    }

    #[test]
    fn underscores_are_rejected_not_translated() {
        assert_eq!(name_problem("DB-URL-2"), None);
        assert!(name_problem("DB_URL").is_some());
        assert!(name_problem("").is_some());
        assert!(name_problem(&"a".repeat(128)).is_some());
    }

    #[test]
    fn names_and_vaults_that_look_like_options_are_joined_to_their_flags() {
        let mut r = Azure {
            vault_name: "-v".into(),
            names: Names::Exact,
            repo: "-r".into(),
            env: "-e".into(),
            owner_known: true,
        };
        for key in ["-h", "--help"] {
            assert_option_safe(&r.push_cmd(key, Op::Set), &[key, "-v"]);
            assert_option_safe(&r.read_calls(&[key])[0].cmd, &[key, "-v"]);
            assert_option_safe(&r.delete_cmds(&[key])[0], &[key, "-v"]);
        }
        assert_option_safe(&r.scope_cmd(), &["-v"]);
        let set = r.push_cmd("k", Op::Set);
        assert!(
            set.args
                .iter()
                .all(|a| !a.starts_with("-r") && !a.starts_with("-e"))
        );
        r.names = Names::Dashes;
        assert_option_safe(&r.push_cmd("-_h", Op::Set), &["--h", "-v"]);
    }

    fn azure(names: Names) -> Azure {
        Azure {
            vault_name: "kv".into(),
            names,
            repo: "api".into(),
            env: "dev".into(),
            owner_known: true,
        }
    }

    #[test]
    fn the_setting_reads_exact_dashes_or_keeps_an_unknown_value_for_pre_flight() {
        assert_eq!(Names::parse(None), Names::Exact);
        assert_eq!(Names::parse(Some("exact")), Names::Exact);
        assert_eq!(Names::parse(Some("dashes")), Names::Dashes);
        assert_eq!(
            Names::parse(Some("Dashes")),
            Names::Unknown("Dashes".into())
        );
        assert_eq!(azure(Names::Exact).setting_problem(), None);
        assert_eq!(azure(Names::Dashes).setting_problem(), None);
        let err = azure(Names::Unknown("lower".into()))
            .setting_problem()
            .unwrap_or_default();
        assert!(err.contains("--azure-names"), "{err}");
        assert!(err.contains("\"lower\""), "{err}");
        assert!(err.contains("exact") && err.contains("dashes"), "{err}");
    }

    #[test]
    fn dashes_store_each_underscore_as_a_dash_and_exact_stores_the_key() {
        let dashes = azure(Names::Dashes);
        assert_eq!(dashes.secret_name("DATABASE_URL"), "DATABASE-URL");
        assert_eq!(dashes.secret_name("__A__"), "--A--");
        assert!(matches!(dashes.secret_name("API-KEY"), Cow::Borrowed(_)));
        assert_eq!(
            azure(Names::Exact).secret_name("DATABASE_URL"),
            "DATABASE_URL"
        );
        let cmd = dashes.push_cmd("DB_URL", Op::Set);
        assert!(cmd.args.contains(&"--name=DB-URL".to_string()), "{cmd:?}");
    }

    #[test]
    fn the_banner_names_the_mapping_and_keeps_the_0_8_text_without_one() {
        assert_eq!(
            azure(Names::Exact).banner(2),
            "Syncing 2 secrets to Azure Key Vault: vault=kv"
        );
        assert_eq!(
            azure(Names::Dashes).banner(2),
            "Syncing 2 secrets to Azure Key Vault: vault=kv, names=dashes"
        );
    }

    #[test]
    fn an_underscore_refused_under_exact_names_points_to_dashes_when_that_would_fix_it() {
        let exact = azure(Names::Exact);
        let hinted = exact.name_problem("DB_URL").unwrap_or_default();
        assert!(
            hinted.ends_with("(or pass --azure-names=dashes to store each _ as -)"),
            "{hinted}"
        );
        // Dashes would not fix a dot, so no hint.
        let plain = exact.name_problem("DB_URL.x").unwrap_or_default();
        assert!(!plain.contains("--azure-names"), "{plain}");
        assert!(
            !azure(Names::Dashes)
                .name_problem("DB.URL")
                .unwrap_or_default()
                .contains("--azure-names")
        );
        assert_eq!(exact.name_problem("DB-URL"), None);
    }

    #[test]
    fn reads_show_one_secret_and_the_scope_is_the_owner_tags() {
        let r = Azure {
            vault_name: "kv".into(),
            names: Names::Exact,
            repo: "api".into(),
            env: "dev".into(),
            owner_known: true,
        };
        let call = &r.read_calls(&["db-url"])[0];
        assert_eq!(
            call.cmd.args,
            [
                "keyvault",
                "secret",
                "show",
                "--vault-name=kv",
                "--name=db-url",
                "-o",
                "json"
            ]
        );
        let back = r
            .parse_read(call, br#"{"name":"db-url","value":"s\r\n"}"#)
            .unwrap();
        assert_eq!(back.values, [("db-url".to_string(), b"s\r\n".to_vec())]);
        assert_eq!(
            r.read_failure(
                "ERROR: (SecretNotFound) A secret with (name/id) x was not found in this key vault."
            ),
            ReadFailure::NotFound
        );
        assert_eq!(r.read_failure("ERROR: (Forbidden) no"), ReadFailure::Denied);
        assert!(r.scope_cmd().args[4].contains(r#"tags."vsync-repo"=='api'"#));
        assert_eq!(r.parse_scope("a\nb\n"), ["a", "b"]);
    }

    #[test]
    fn key_vaults_conflicts_are_told_apart_by_their_inner_error() {
        let r = azure(Names::Exact);
        let conflict = |message: &str, inner: &str| {
            format!(
                "ERROR: (Conflict) {message}\nCode: Conflict\nMessage: {message}\nInner error: \
                 {{\n    \"code\": \"{inner}\"\n}}"
            )
        };
        assert_eq!(
            r.classify(
                &conflict(
                    "Secret B is currently in a deleted but recoverable state, and its name cannot \
                     be reused; in this state, the secret can only be recovered or purged.",
                    "ObjectIsDeletedButRecoverable"
                ),
                Some(1)
            ),
            Failure::Deleted
        );
        assert_eq!(
            r.classify(
                &conflict(
                    "Secret B is currently being recovered and cannot be re-created; retry later.",
                    "ObjectIsBeingRecovered"
                ),
                Some(1)
            ),
            Failure::Recovering
        );
        assert_eq!(
            r.classify("ERROR: (Forbidden) no", Some(1)),
            Failure::Permanent
        );
    }

    #[test]
    fn a_soft_deleted_secret_is_vsyncs_only_with_this_repos_and_envs_tags() {
        let r = azure(Names::Exact);
        let ours = r#"{"managed-by":"vsync","vsync-repo":"api","vsync-env":"dev"}"#;
        let shown = |tags: &str| {
            r.parse_deleted(&format!(
                r#"{{"name":"B","tags":{tags},"deletedDate":"2024-01-01","recoveryId":"https://kv.vault.azure.net/deletedsecrets/B","value":null}}"#
            ))
        };
        assert_eq!(shown(ours), Deleted::Mine);
        assert_eq!(shown(&ours.replace("api", "web")), Deleted::NotMine);
        assert_eq!(shown("null"), Deleted::NotMine);
        assert_eq!(
            r.parse_deleted(r#"{"name":"B","tags":null}"#),
            Deleted::Live
        );
        let listed = r.parse_list_deleted(&format!(
            r#"[{{"name":"B","tags":{ours}}},{{"name":"C","tags":{{"managed-by":"vsync"}}}}]"#
        ));
        assert_eq!(listed, [("B".to_string(), true), ("C".into(), false)]);
    }

    #[test]
    fn recovery_commands_name_the_vault_and_secret_and_print_no_value() {
        let r = azure(Names::Exact);
        assert_eq!(
            r.show_deleted_cmd("B").args,
            [
                "keyvault",
                "secret",
                "show-deleted",
                "--vault-name=kv",
                "--name=B",
                "-o",
                "json"
            ]
        );
        assert_eq!(
            r.recover_cmd("B").args,
            [
                "keyvault",
                "secret",
                "recover",
                "--vault-name=kv",
                "--name=B",
                "-o",
                "none"
            ]
        );
        assert_eq!(
            r.list_deleted_cmd().args,
            [
                "keyvault",
                "secret",
                "list-deleted",
                "--vault-name=kv",
                "-o",
                "json"
            ]
        );
        let odd = Azure {
            vault_name: "-v".into(),
            ..azure(Names::Exact)
        };
        assert_option_safe(&odd.show_deleted_cmd("-h"), &["-h", "-v"]);
        assert_option_safe(&odd.recover_cmd("-h"), &["-h", "-v"]);
        assert_option_safe(&odd.list_deleted_cmd(), &["-v"]);
        let why = r.left_alone("B");
        assert!(why.starts_with("B is a soft-deleted secret"), "{why}");
        assert!(
            why.contains("`az keyvault secret recover --vault-name kv --name B`"),
            "{why}"
        );
        assert!(
            why.contains("`az keyvault secret purge --vault-name kv --name B`"),
            "{why}"
        );
    }
}
