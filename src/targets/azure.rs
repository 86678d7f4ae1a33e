//! Azure Key Vault through `az keyvault secret set --file /dev/stdin -o none`.
//!
//! `-o none` matters: by default `az` prints the stored secret, value included, on stdout.

use super::{
    CRLF_TRANSLATED, Failure, Kind, Op, PerKey, Setting, Target, ValueRules, VendorCmd, Writes,
    looks_transient,
};

pub const KIND: Kind = Kind {
    name: "azure",
    bin: "az",
    settings: &[VAULT_NAME],
    values: &VALUES,
    case_insensitive_names: true,
    open: |settings, _env| {
        Box::new(Azure {
            vault_name: settings.required(&VAULT_NAME),
        })
    },
};

const VAULT_NAME: Setting = Setting {
    config_key: "vaultName",
    flag: "azure-vault",
    prompt: "Azure Key Vault name",
    required: true,
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
}

impl Target for Azure {
    fn kind(&self) -> &'static Kind {
        &KIND
    }

    fn banner(&self, n: usize) -> String {
        format!(
            "Syncing {n} secrets to Azure Key Vault: vault={}",
            self.vault_name
        )
    }

    fn name_problem(&self, name: &str) -> Option<String> {
        name_problem(name)
    }

    fn writes(&self) -> Writes<'_> {
        Writes::PerKey(self)
    }
}

impl PerKey for Azure {
    /// The vault and secret names are joined to their flags with `=`: az parses with
    /// argparse, which reads a separate word such as `-h` (a valid secret name) as an option.
    fn push_cmd(&self, key: &str, _op: Op) -> VendorCmd {
        VendorCmd::new(
            "az",
            &[
                "keyvault",
                "secret",
                "set",
                &format!("--vault-name={}", self.vault_name),
                &format!("--name={key}"),
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
        let r = Azure {
            vault_name: "-v".into(),
        };
        for key in ["-h", "--help"] {
            assert_option_safe(&r.push_cmd(key, Op::Set), &[key, "-v"]);
        }
    }
}
