//! GitHub Actions environment secrets through `gh secret set` (value on stdin).

use super::{
    Backend, Deletes, Failure, Location, Op, Pacing, PerKey, Scope, Setting, Target, ValueRules,
    VendorCmd, Writes, looks_throttled, looks_transient,
};
use std::time::Duration;

pub const BACKEND: Backend = Backend {
    name: "gh",
    title: "GitHub Actions environment secrets",
    example: "--gh-repo=acme/api",
    bin: "gh",
    settings: &[REPO],
    values: &VALUES,
    case_insensitive_names: true,
    open: |settings, open| {
        Box::new(Gh {
            repo: settings.required(&REPO),
            env: open.env.to_string(),
        })
    },
};

const REPO: Setting = Setting {
    config_key: "repo",
    flag: "gh-repo",
    prompt: "GitHub repo for sync (owner/name)",
    required: true,
    value: "OWNER/NAME",
    help: &[],
};

/// gh reads stdin as text and strips trailing newlines; a secret holds at most 48 KB.
const VALUES: ValueRules = ValueRules {
    max_bytes: 48 * 1024,
    empty_ok: true,
    utf8: true,
    altered: Some(super::Alteration {
        applies: |v| v.ends_with(b"\n") || v.ends_with(b"\r"),
        how: "gh strips trailing newlines from",
    }),
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gh {
    /// `owner/name`.
    pub repo: String,
    /// The GitHub environment: the env name as typed.
    pub env: String,
}

impl Target for Gh {
    fn backend(&self) -> &'static Backend {
        &BACKEND
    }

    fn location(&self) -> Location {
        Location {
            service: "GitHub",
            fields: vec![
                ("repo", self.repo.clone()),
                ("environment", self.env.clone()),
            ],
        }
    }

    fn name_problem(&self, name: &str) -> Option<String> {
        name_problem(name)
    }

    fn writes(&self) -> Writes<'_> {
        Writes::PerKey(self)
    }

    fn count_problem(&self, n: usize) -> Option<String> {
        (n > MAX_SECRETS).then(|| {
            format!(
                "the env file defines {n} secrets, but a GitHub environment holds at most \
                 {MAX_SECRETS}; split them over more environments (env files) or move some \
                 to repository or organization secrets"
            )
        })
    }

    /// GitHub's REST guidance: after a secondary rate limit, wait at least a minute, then
    /// make writes one at a time, at least a second apart.
    fn pacing(&self) -> Pacing {
        Pacing {
            least_wait: Duration::from_secs(60),
            serial_gap: Duration::from_secs(1),
            cap: Duration::from_secs(300),
        }
    }

    /// GitHub never returns a secret's value: no reads. Everything in the environment is
    /// vsync's: the environment is named after the env file.
    fn scope(&self) -> Scope<'_> {
        Scope::Listed(self)
    }
}

impl Deletes for Gh {
    fn scope_cmd(&self) -> VendorCmd {
        VendorCmd::new(
            "gh",
            &[
                "secret",
                "list",
                &format!("--env={}", self.env),
                &format!("--repo={}", self.repo),
            ],
        )
    }

    /// Without a terminal gh prints `NAME<TAB>UPDATED` per secret.
    fn parse_scope(&self, stdout: &str) -> Vec<String> {
        stdout
            .lines()
            .filter_map(|l| l.split('\t').next())
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .collect()
    }

    fn delete_cmds(&self, names: &[&str]) -> Vec<VendorCmd> {
        names
            .iter()
            .map(|name| {
                VendorCmd::new(
                    "gh",
                    &[
                        "secret",
                        "delete",
                        &format!("--env={}", self.env),
                        &format!("--repo={}", self.repo),
                        "--",
                        name,
                    ],
                )
            })
            .collect()
    }

    fn delete_means(&self) -> &'static str {
        "GitHub deletes the environment secret at once; it cannot be recovered"
    }
}

impl PerKey for Gh {
    /// Flag values joined with `=` and the name after `--`, so that no word from the user
    /// can be read as one of gh's options (`-h` would print help and exit 0).
    fn push_cmd(&self, key: &str, _op: Op) -> VendorCmd {
        VendorCmd::new(
            "gh",
            &[
                "secret",
                "set",
                &format!("--env={}", self.env),
                &format!("--repo={}", self.repo),
                "--",
                key,
            ],
        )
    }

    fn classify(&self, stderr: &str, _exit: Option<i32>) -> Failure {
        classify(stderr, &self.repo, &self.env)
    }

    fn label_words(&self, _op: Op) -> usize {
        2
    }
}

/// Secrets one GitHub environment holds at most.
pub const MAX_SECRETS: usize = 100;

/// How gh's errors read: throttles and store-level failures first, then the rest. gh reports
/// GitHub's secondary rate limit (and the primary one) as HTTP 403: a throttle, not a denial;
/// any other 403 is about the one secret.
fn classify(stderr: &str, repo: &str, env: &str) -> Failure {
    if looks_throttled(stderr) {
        return Failure::Throttled;
    }
    let login = || "run `gh auth login`, or set GH_TOKEN to a valid token".to_string();
    let missing = || {
        format!(
            "check that the repository {repo} exists and that the token can see it, and create \
             the environment {env}: `gh api --method PUT repos/{repo}/environments/{env}`, or \
             the repository's Settings → Environments"
        )
    };
    let store = Failure::store_if(
        stderr,
        &["gh auth login", "HTTP 401", "Bad credentials"],
        login,
    )
    .or_else(|| {
        // The public key is the first request of every `gh secret set`; a 404 there is
        // the environment (or repository), not the secret.
        stderr
            .contains("public key: HTTP 404")
            .then(|| Failure::Store(missing()))
    })
    .or_else(|| Failure::store_if(stderr, &["Could not resolve to a Repository"], missing));
    if let Some(store) = store {
        store
    } else if looks_transient(stderr) {
        if ["dial tcp", "no such host", "connection refused"]
            .iter()
            .any(|m| stderr.contains(m))
        {
            Failure::Unreachable("check the network, and GH_HOST if it is set".into())
        } else {
            Failure::Transient
        }
    } else {
        Failure::Permanent
    }
}

/// GitHub's secret-name rule; `None` when the name is fine.
/// GitHub documents no length limit for secret names. 255 bytes is the common bound of the
/// services around it (GCP's secret ids, most file systems' names) and far above any real
/// name; without a bound a huge key would pass pre-flight and only fail at spawn (argv too
/// long), after other keys were already pushed.
const MAX_NAME: usize = 255;

pub fn name_problem(name: &str) -> Option<String> {
    if name.len() > MAX_NAME {
        return Some(format!(
            "the name is {} bytes; vsync allows GitHub secret names of at most {MAX_NAME} bytes",
            name.len()
        ));
    }
    let valid_chars = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let first_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !valid_chars || !first_ok {
        Some(
            "GitHub secret names allow only A-Z, a-z, 0-9 and _, and must not start with a digit"
                .into(),
        )
    } else if name.to_ascii_uppercase().starts_with("GITHUB_") {
        Some("GitHub secret names must not start with GITHUB_".into())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::assert_option_safe;

    fn routing() -> Gh {
        Gh {
            repo: "owner/name".into(),
            env: "dev".into(),
        }
    }

    #[test]
    fn the_push_is_gh_secret_set_with_env_and_repo_and_no_value() {
        let cmd = routing().push_cmd("API_KEY", Op::Set);
        assert_eq!(cmd.program, "gh");
        assert_eq!(
            cmd.args,
            [
                "secret",
                "set",
                "--env=dev",
                "--repo=owner/name",
                "--",
                "API_KEY"
            ]
        );
        assert!(cmd.env.is_empty());
        assert_eq!(cmd.label(2), "gh secret set");
    }

    #[test]
    fn the_banner_names_repo_and_environment() {
        assert_eq!(
            routing().banner(11),
            "Syncing 11 secrets to GitHub: repo=owner/name, environment=dev"
        );
    }

    #[test]
    fn names_follow_githubs_rules() {
        assert_eq!(name_problem("API_KEY"), None);
        assert_eq!(name_problem("_x1"), None);
        assert!(name_problem("1ABC").is_some());
        assert!(name_problem("A-B").is_some());
        assert!(name_problem("export FOO").is_some());
        assert!(name_problem("").is_some());
        assert!(name_problem("GITHUB_TOKEN").is_some());
        assert!(name_problem("github_x").is_some());
        assert_eq!(name_problem(&"A".repeat(255)), None);
        assert!(name_problem(&"A".repeat(256)).is_some());
    }

    #[test]
    fn the_scope_is_the_environments_secrets_and_deletes_name_them_after_dashes() {
        let r = Gh {
            repo: "-o/r".into(),
            env: "-e".into(),
        };
        let list = r.scope_cmd();
        assert_eq!(list.args, ["secret", "list", "--env=-e", "--repo=-o/r"]);
        assert_option_safe(&list, &["-e", "-o/r"]);
        assert_eq!(
            r.parse_scope("A\t2024-01-01T00:00:00Z\nB_2\t2024\n\n"),
            ["A", "B_2"]
        );
        let del = r.delete_cmds(&["-h"]);
        assert_option_safe(&del[0], &["-h", "-e", "-o/r"]);
        assert_eq!(del[0].args[..2], ["secret", "delete"]);
        assert!(r.reads().is_none());
    }

    #[test]
    fn gh_store_level_failures_name_the_next_step() {
        let r = routing();
        let Failure::Store(next) = r.classify(
            "To get started with GitHub CLI, please run:  gh auth login\n\
             Alternatively, populate the GH_TOKEN environment variable with a GitHub API \
             authentication token.",
            Some(4),
        ) else {
            panic!("not store-level");
        };
        assert!(next.contains("gh auth login"));
        let Failure::Store(next) = r.classify(
            "failed to fetch public key: HTTP 404: Not Found \
             (https://api.github.com/repos/owner/name/environments/dev/secrets/public-key)",
            Some(1),
        ) else {
            panic!("not store-level");
        };
        assert!(
            next.contains("gh api --method PUT repos/owner/name/environments/dev"),
            "{next}"
        );
        assert!(next.contains("Settings → Environments"));
        // One secret's denial or bad name is that secret's.
        for per_key in [
            "failed to set secret \"K\": HTTP 403: Resource not accessible by integration",
            "HTTP 422: Secret names can only contain alphanumeric characters",
        ] {
            assert_eq!(
                r.classify(per_key, Some(1)),
                Failure::Permanent,
                "{per_key}"
            );
        }
    }

    #[test]
    fn secondary_rate_limits_are_retried() {
        let r = routing();
        assert_eq!(
            r.classify(
                "HTTP 403: You have exceeded a secondary rate limit",
                Some(1)
            ),
            Failure::Throttled
        );
        assert_eq!(
            r.classify("HTTP 404: Not Found", Some(1)),
            Failure::Permanent
        );
    }

    #[test]
    fn names_repos_and_envs_that_look_like_options_are_never_read_as_options() {
        let r = Gh {
            repo: "-o/r".into(),
            env: "-e".into(),
        };
        let cmd = r.push_cmd("-h", Op::Set);
        assert_option_safe(&cmd, &["-h", "-o/r", "-e"]);
        assert_eq!(cmd.args[cmd.args.len() - 2..], ["--", "-h"]);
    }
}
