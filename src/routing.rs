//! Routing resolution, shared by every target: flag → config → (TTY prompt) → error.
//!
//! Pure: the caller supplies the flags and a view of the config, and gets back the values plus
//! the config updates to persist. Prompting lives in `main`, which feeds answers back in as
//! flags, so an answer is persisted exactly like a flag.

use crate::targets::{Field, Target};
use std::collections::BTreeMap;

/// Resolved settings of one target, keyed by their config key (`repo`, `secretPrefix`, …).
pub type Values = BTreeMap<&'static str, String>;

#[derive(Debug, PartialEq, Eq)]
pub struct Resolved {
    pub values: Values,
    /// `(config key, new value)` for every flag that differs from the config; `None` clears
    /// an optional field (`--aws-secret-prefix=`).
    pub updates: Vec<(&'static str, Option<String>)>,
}

/// Resolves every field of `target`; the first required field with neither flag nor config
/// value is returned as the error.
///
/// `flags` maps flag names (without `--`) to values; `config` reads `sync.<target>.<key>`.
pub fn resolve(
    target: Target,
    flags: &BTreeMap<String, String>,
    config: &dyn Fn(&str) -> Option<String>,
) -> Result<Resolved, &'static Field> {
    let mut values = Values::new();
    let mut updates = Vec::new();
    for field in target.fields() {
        let stored = config(field.cfg_key).filter(|v| !v.is_empty());
        match flags.get(field.flag) {
            Some(flag) => {
                let new = Some(flag.clone()).filter(|v| !v.is_empty());
                if new != stored {
                    updates.push((field.cfg_key, new.clone()));
                }
                if let Some(v) = new {
                    values.insert(field.cfg_key, v);
                }
            }
            None => {
                if let Some(v) = stored {
                    values.insert(field.cfg_key, v);
                }
            }
        }
        if field.required && !values.contains_key(field.cfg_key) {
            return Err(field);
        }
    }
    Ok(Resolved { values, updates })
}

/// The 0.8 error for a missing setting when there is no TTY to ask on.
pub fn missing_message(target: Target, field: &Field) -> String {
    format!(
        "sync.{}.{} not configured for this (repo, env) and no --{} flag passed.",
        target.name(),
        field.cfg_key,
        field.flag
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn config(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |key| {
            pairs
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.to_string())
        }
    }

    /// Every required field of every target: one flag value for each.
    fn all_flags(target: Target) -> Vec<(&'static str, &'static str)> {
        target
            .fields()
            .iter()
            .filter(|f| f.required)
            .map(|f| (f.flag, "from-flag"))
            .collect()
    }

    #[test]
    fn a_flag_wins_over_the_config_and_marks_it_for_saving_for_every_field() {
        for target in Target::ALL {
            for field in target.fields() {
                let mut given = all_flags(target);
                given.retain(|(f, _)| *f != field.flag);
                given.push((field.flag, "new"));
                let cfg = |_: &str| Some("old".to_string());
                let r = resolve(target, &flags(&given), &cfg).unwrap();
                assert_eq!(r.values[field.cfg_key], "new", "{}", field.flag);
                assert!(
                    r.updates
                        .contains(&(field.cfg_key, Some("new".to_string()))),
                    "{}",
                    field.flag
                );
            }
        }
    }

    #[test]
    fn the_config_is_used_unchanged_when_no_flag_is_given() {
        for target in Target::ALL {
            let cfg = |_: &str| Some("stored".to_string());
            let r = resolve(target, &flags(&[]), &cfg).unwrap();
            assert!(r.updates.is_empty());
            for field in target.fields() {
                assert_eq!(r.values[field.cfg_key], "stored");
            }
        }
    }

    #[test]
    fn a_flag_equal_to_the_config_needs_no_save() {
        let r = resolve(
            Target::Gh,
            &flags(&[("gh-repo", "o/r")]),
            &config(&[("repo", "o/r")]),
        )
        .unwrap();
        assert!(r.updates.is_empty());
    }

    #[test]
    fn each_missing_required_field_is_reported_with_the_exact_08_text() {
        let expected = [
            (
                Target::Gh,
                "sync.gh.repo not configured for this (repo, env) and no --gh-repo flag passed.",
            ),
            (
                Target::Gcp,
                "sync.gcp.project not configured for this (repo, env) and no --gcp-project flag passed.",
            ),
            (
                Target::Aws,
                "sync.aws.region not configured for this (repo, env) and no --aws-region flag passed.",
            ),
            (
                Target::Azure,
                "sync.azure.vaultName not configured for this (repo, env) and no --azure-vault flag passed.",
            ),
            (
                Target::Vault,
                "sync.vault.addr not configured for this (repo, env) and no --vault-addr flag passed.",
            ),
        ];
        for (target, text) in expected {
            let field = resolve(target, &flags(&[]), &|_| None).unwrap_err();
            assert_eq!(missing_message(target, field), text);
        }
    }

    #[test]
    fn every_required_vault_field_is_checked_on_its_own() {
        let cases = [
            (
                "vault-addr",
                "sync.vault.addr not configured for this (repo, env) and no --vault-addr flag passed.",
            ),
            (
                "vault-mount",
                "sync.vault.mount not configured for this (repo, env) and no --vault-mount flag passed.",
            ),
            (
                "vault-path",
                "sync.vault.secretPath not configured for this (repo, env) and no --vault-path flag passed.",
            ),
        ];
        for (missing, text) in cases {
            let given: Vec<_> = all_flags(Target::Vault)
                .into_iter()
                .filter(|(f, _)| *f != missing)
                .collect();
            let field = resolve(Target::Vault, &flags(&given), &|_| None).unwrap_err();
            assert_eq!(missing_message(Target::Vault, field), text);
        }
    }

    #[test]
    fn the_optional_aws_prefix_may_be_absent_set_or_cleared() {
        let none = resolve(Target::Aws, &flags(&[("aws-region", "eu-west-1")]), &|_| {
            None
        })
        .unwrap();
        assert!(!none.values.contains_key("secretPrefix"));

        let stored = resolve(
            Target::Aws,
            &flags(&[]),
            &config(&[("region", "eu-west-1"), ("secretPrefix", "app/")]),
        )
        .unwrap();
        assert_eq!(stored.values["secretPrefix"], "app/");

        let cleared = resolve(
            Target::Aws,
            &flags(&[("aws-secret-prefix", "")]),
            &config(&[("region", "eu-west-1"), ("secretPrefix", "app/")]),
        )
        .unwrap();
        assert!(!cleared.values.contains_key("secretPrefix"));
        assert_eq!(cleared.updates, vec![("secretPrefix", None)]);
    }
}
