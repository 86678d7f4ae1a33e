//! Azure Key Vault through `az keyvault secret set --file /dev/stdin -o none`.
//!
//! `-o none` matters: by default `az` prints the stored secret, value included, on stdout.
//!
//! Key Vault names allow no `_`, which nearly every env file uses. vsync never renames on its
//! own: `--azure-names=dashes` (saved as `sync.azure.names`) stores each `_` as `-`, and the
//! banner and the dry run say so; the default, `exact`, stores the key as written.

use super::{
    CRLF_TRANSLATED, Failure, Kind, Op, PerKey, Setting, Target, ValueRules, VendorCmd, Writes,
    looks_transient,
};
use std::borrow::Cow;

pub const KIND: Kind = Kind {
    name: "azure",
    bin: "az",
    settings: &[VAULT_NAME, NAMES],
    values: &VALUES,
    case_insensitive_names: true,
    open: |settings, _env| {
        Box::new(Azure {
            vault_name: settings.required(&VAULT_NAME),
            names: Names::parse(settings.get(&NAMES)),
        })
    },
};

const VAULT_NAME: Setting = Setting {
    config_key: "vaultName",
    flag: "azure-vault",
    prompt: "Azure Key Vault name",
    required: true,
};

const NAMES: Setting = Setting {
    config_key: "names",
    flag: "azure-names",
    prompt: "Azure secret names (exact or dashes)",
    required: false,
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
    fn kind(&self) -> &'static Kind {
        &KIND
    }

    fn banner(&self, n: usize) -> String {
        let mapped = match self.names {
            Names::Dashes => ", names=dashes",
            Names::Exact | Names::Unknown(_) => "",
        };
        format!(
            "Syncing {n} secrets to Azure Key Vault: vault={}{mapped}",
            self.vault_name
        )
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
                &format!("--vault-name={}", self.vault_name),
                &format!("--name={name}"),
                "--file",
                "/dev/stdin",
                "-o",
                "none",
            ],
        )
    }

    fn classify(&self, stderr: &str, _exit: Option<i32>) -> Failure {
        if looks_transient(stderr) {
            Failure::Transient
        } else {
            Failure::Permanent
        }
    }

    fn label_words(&self, _op: Op) -> usize {
        3
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
    fn the_push_reads_the_value_from_stdin_and_prints_nothing() {
        let r = Azure {
            vault_name: "my-vault".into(),
            names: Names::Exact,
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
                "-o",
                "none"
            ]
        );
        assert_eq!(cmd.label(3), "az keyvault secret set");
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
        };
        for key in ["-h", "--help"] {
            assert_option_safe(&r.push_cmd(key, Op::Set), &[key, "-v"]);
        }
        r.names = Names::Dashes;
        assert_option_safe(&r.push_cmd("-_h", Op::Set), &["--h", "-v"]);
    }

    fn azure(names: Names) -> Azure {
        Azure {
            vault_name: "kv".into(),
            names,
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
}
