//! Routing resolution, shared by every target: flag → config → (TTY prompt) → error.
//!
//! Pure: the caller supplies the flags and a view of the config, and gets back the settings
//! plus the config updates to persist. Prompting lives in `sync`, which feeds answers back in
//! as flags, so an answer is persisted exactly like a flag.

use crate::targets::{Backend, Setting, Settings};
use std::collections::BTreeMap;

#[derive(Debug, PartialEq, Eq)]
pub struct Resolved {
    pub settings: Settings,
    /// Every setting whose flag differs from the config, with its new value; `None` clears
    /// an optional setting (`--aws-secret-prefix=`).
    pub updates: Vec<(&'static Setting, Option<String>)>,
}

/// Resolves every setting of `backend`; the first required setting with neither flag nor config
/// value is returned as the error.
///
/// `flags` maps flag names (without `--`) to values; `config` reads `sync.<target>.<key>`.
pub fn resolve(
    backend: &'static Backend,
    flags: &BTreeMap<String, String>,
    config: &dyn Fn(&str) -> Option<String>,
) -> Result<Resolved, &'static Setting> {
    let mut settings = Settings::default();
    let mut updates = Vec::new();
    for setting in backend.settings {
        let stored = config(setting.config_key).filter(|v| !v.is_empty());
        let value = match flags.get(setting.flag) {
            Some(flag) => {
                let new = Some(flag.clone()).filter(|v| !v.is_empty());
                if new != stored {
                    updates.push((setting, new.clone()));
                }
                new
            }
            None => stored,
        };
        match value {
            Some(v) => settings.set(setting, v),
            None if setting.required => return Err(setting),
            None => {}
        }
    }
    Ok(Resolved { settings, updates })
}

/// The error for a missing setting when there is no TTY to ask on.
pub fn missing_message(backend: &Backend, setting: &Setting) -> String {
    format!(
        "sync.{}.{} not configured for this (repo, env) and no --{} flag passed.",
        backend.name, setting.config_key, setting.flag
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::{REGISTRY, find};

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

    /// Every required setting of a target: one flag value for each.
    fn all_flags(backend: &Backend) -> Vec<(&'static str, &'static str)> {
        backend
            .settings
            .iter()
            .filter(|f| f.required)
            .map(|f| (f.flag, "from-flag"))
            .collect()
    }

    #[test]
    fn a_flag_wins_over_the_config_and_marks_it_for_saving_for_every_field() {
        for &target in REGISTRY {
            for field in target.settings {
                let mut given = all_flags(target);
                given.retain(|(f, _)| *f != field.flag);
                given.push((field.flag, "new"));
                let cfg = |_: &str| Some("old".to_string());
                let r = resolve(target, &flags(&given), &cfg).unwrap();
                assert_eq!(r.settings.get(field), Some("new"), "{}", field.flag);
                assert!(
                    r.updates.contains(&(field, Some("new".to_string()))),
                    "{}",
                    field.flag
                );
            }
        }
    }

    #[test]
    fn the_config_is_used_unchanged_when_no_flag_is_given() {
        for &target in REGISTRY {
            let cfg = |_: &str| Some("stored".to_string());
            let r = resolve(target, &flags(&[]), &cfg).unwrap();
            assert!(r.updates.is_empty());
            for field in target.settings {
                assert_eq!(r.settings.get(field), Some("stored"));
            }
        }
    }

    #[test]
    fn a_flag_equal_to_the_config_needs_no_save() {
        let r = resolve(
            find("gh").unwrap(),
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
                find("gh").unwrap(),
                "sync.gh.repo not configured for this (repo, env) and no --gh-repo flag passed.",
            ),
            (
                find("gcp").unwrap(),
                "sync.gcp.project not configured for this (repo, env) and no --gcp-project flag passed.",
            ),
            (
                find("aws").unwrap(),
                "sync.aws.region not configured for this (repo, env) and no --aws-region flag passed.",
            ),
            (
                find("azure").unwrap(),
                "sync.azure.vaultName not configured for this (repo, env) and no --azure-vault flag passed.",
            ),
            (
                find("vault").unwrap(),
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
            let given: Vec<_> = all_flags(find("vault").unwrap())
                .into_iter()
                .filter(|(f, _)| *f != missing)
                .collect();
            let field = resolve(find("vault").unwrap(), &flags(&given), &|_| None).unwrap_err();
            assert_eq!(missing_message(find("vault").unwrap(), field), text);
        }
    }

    #[test]
    fn the_optional_aws_prefix_may_be_absent_set_or_cleared() {
        let none = resolve(
            find("aws").unwrap(),
            &flags(&[("aws-region", "eu-west-1")]),
            &|_| None,
        )
        .unwrap();
        let prefix = &find("aws").unwrap().settings[1];
        assert_eq!(none.settings.get(prefix), None);

        let stored = resolve(
            find("aws").unwrap(),
            &flags(&[]),
            &config(&[("region", "eu-west-1"), ("secretPrefix", "app/")]),
        )
        .unwrap();
        assert_eq!(stored.settings.get(prefix), Some("app/"));

        let cleared = resolve(
            find("aws").unwrap(),
            &flags(&[("aws-secret-prefix", "")]),
            &config(&[("region", "eu-west-1"), ("secretPrefix", "app/")]),
        )
        .unwrap();
        assert_eq!(cleared.settings.get(prefix), None);
        assert_eq!(cleared.updates, vec![(prefix, None)]);
    }
}
