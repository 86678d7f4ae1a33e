//! The command line: a `lexopt` loop over the arguments exactly as typed, then a validated
//! `SyncArgs` the rest of the program uses (nothing past here re-checks a flag). Which flags
//! exist and whether they take a value is `flags`' table; what each one sets is here.

use crate::completions::Shell;
use crate::envfile::Policy;
use crate::flags::{self, Flag, Id};
use crate::targets::{self, Backend, Setting};
use anyhow::{Context, bail};
use std::collections::BTreeMap;
use std::time::Duration;

/// A flag as the parser finds it: one of the table's, or a target's routing setting.
enum Found {
    Flag(&'static Flag),
    Routing(&'static Setting),
}

#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Help,
    Version,
    /// Boxed: the arguments are much larger than the other variants.
    Sync(Box<SyncArgs>),
    /// `vsync completions <shell>`: print that shell's completion script.
    Completions(Shell),
}

#[derive(Debug, PartialEq, Eq)]
pub struct SyncArgs {
    /// As typed: it names `.env.<env>` and gh's environment.
    pub env: String,
    pub target: &'static Backend,
    pub policy: Policy,
    pub repo: Option<String>,
    /// Routing flags of the chosen target, by flag name without `--`.
    pub routing: BTreeMap<String, String>,
    /// Routing flags of other targets (warned about, then ignored).
    pub ignored: Vec<String>,
    pub dry_run: bool,
    /// Read the target and print what a sync would change; change nothing.
    pub diff: bool,
    /// Write only new and changed values.
    pub skip_unchanged: bool,
    /// Delete what is in scope and no longer in the file, after every write succeeded.
    pub prune: bool,
    /// Globs (`*`, `?`) of names `--prune` never deletes.
    pub keep: Vec<String>,
    /// One JSON document on stdout instead of the human lines.
    pub json: bool,
    pub workers: usize,
    pub timeout: Duration,
    /// The whole run starts no new call after this.
    pub deadline: Duration,
}

/// A usage error: printed with the usage text (exit 1).
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for UsageError {}

pub const DEFAULT_WORKERS: usize = 6;
pub const DEFAULT_TIMEOUT_SECS: u64 = 120;
/// The whole run's deadline: ten minutes.
pub const DEFAULT_DEADLINE_SECS: u64 = 600;

pub fn parse<I>(args: I) -> anyhow::Result<Command>
where
    I: IntoIterator,
    I::Item: Into<std::ffi::OsString>,
{
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_args(args);
    let mut positional: Vec<String> = Vec::new();
    let mut policy = Policy::default();
    let mut repo = None;
    let mut routing_all: BTreeMap<String, String> = BTreeMap::new();
    let mut dry_run = false;
    let (mut diff, mut skip_unchanged, mut prune, mut json) = (false, false, false, false);
    let mut keep = Vec::new();
    let mut workers = DEFAULT_WORKERS;
    let mut timeout = DEFAULT_TIMEOUT_SECS;
    let mut deadline = DEFAULT_DEADLINE_SECS;

    while let Some(arg) = parser.next()? {
        let found = match arg {
            Short(c) => flags::by_short(c).map(Found::Flag),
            Long(name) => flags::by_long(name)
                .map(Found::Flag)
                .or_else(|| targets::routing_flag(name).map(|(_, s)| Found::Routing(s))),
            Value(v) => {
                positional.push(string(v, "argument")?);
                continue;
            }
        };
        let Some(found) = found else {
            return Err(arg.unexpected().into());
        };
        let flag = match found {
            Found::Routing(setting) => {
                let v = string(parser.value()?, &format!("--{}", setting.flag))?;
                routing_all.insert(setting.flag.to_string(), v);
                continue;
            }
            Found::Flag(flag) => flag,
        };
        let value = match flag.value {
            Some(_) => string(parser.value()?, &format!("--{}", flag.long))?,
            None => String::new(),
        };
        match flag.id {
            Id::Help => return Ok(Command::Help),
            Id::Version => return Ok(Command::Version),
            Id::InlineFileSuffix => {
                if value.is_empty() {
                    bail!(
                        "--inline-file-suffix needs a non-empty suffix, e.g. --inline-file-suffix=_PATH"
                    );
                }
                policy.inline_file_suffixes.push(value);
            }
            Id::ExcludeProperty => policy.exclude_properties.push(value),
            Id::Repo => repo = Some(value),
            Id::DryRun => dry_run = true,
            Id::Diff => diff = true,
            Id::SkipUnchanged => skip_unchanged = true,
            Id::Prune => prune = true,
            Id::Json => json = true,
            Id::Keep => {
                if value.is_empty() {
                    bail!("--keep needs a glob, e.g. --keep='LEGACY_*'");
                }
                keep.push(value);
            }
            Id::Workers => workers = number(&value, "--workers", 1, 64)? as usize,
            Id::Timeout => timeout = number(&value, "--timeout", 1, 3600)?,
            Id::Deadline => deadline = number(&value, "--deadline", 1, 86_400)?,
        }
    }

    let mut words = positional.into_iter();
    match words.next().as_deref() {
        Some("sync") => {}
        Some("completions") => {
            let name = words
                .next()
                .ok_or_else(|| UsageError("missing <shell> (bash, zsh or fish)".into()))?;
            let shell = Shell::parse(&name).ok_or_else(|| {
                UsageError(format!(
                    "unknown shell '{name}' (expected bash, zsh or fish)"
                ))
            })?;
            if let Some(extra) = words.next() {
                return Err(UsageError(format!("unexpected argument '{extra}'")).into());
            }
            return Ok(Command::Completions(shell));
        }
        Some(other) => return Err(UsageError(format!("unknown command '{other}'")).into()),
        None => return Err(UsageError("missing command".into()).into()),
    }
    let env = words
        .next()
        .ok_or_else(|| UsageError("missing <env> and <target>".into()))?;
    let target_name = words.next().ok_or_else(|| {
        UsageError(format!(
            "missing <target> ({})",
            targets::names_for_humans()
        ))
    })?;
    let target = targets::find(&target_name).ok_or_else(|| {
        UsageError(format!(
            "unknown target '{target_name}' (expected {})",
            targets::names_for_humans()
        ))
    })?;
    if let Some(extra) = words.next() {
        return Err(UsageError(format!("unexpected argument '{extra}'")).into());
    }

    if diff && dry_run {
        return Err(UsageError(
            "--diff and --dry-run: choose one (--diff reads the target, --dry-run runs nothing)"
                .into(),
        )
        .into());
    }
    if diff && skip_unchanged {
        return Err(
            UsageError("--diff changes nothing: --skip-unchanged is for a sync".into()).into(),
        );
    }

    let (routing, others): (BTreeMap<_, _>, BTreeMap<_, _>) = routing_all
        .into_iter()
        .partition(|(flag, _)| targets::owning_flag(flag) == Some(target));
    for field in target.settings.iter().filter(|f| f.required) {
        if routing.get(field.flag).is_some_and(|v| v.is_empty()) {
            bail!("--{} needs a value", field.flag);
        }
    }
    Ok(Command::Sync(Box::new(SyncArgs {
        env,
        target,
        policy,
        repo,
        routing,
        ignored: others.into_keys().map(|f| format!("--{f}")).collect(),
        dry_run,
        diff,
        skip_unchanged,
        prune,
        keep,
        json,
        workers,
        timeout: Duration::from_secs(timeout),
        deadline: Duration::from_secs(deadline),
    })))
}

fn string(value: std::ffi::OsString, what: &str) -> anyhow::Result<String> {
    value
        .into_string()
        .map_err(|_| anyhow::anyhow!("{what} is not valid UTF-8"))
}

fn number(text: &str, flag: &str, min: u64, max: u64) -> anyhow::Result<u64> {
    let n: u64 = text
        .parse()
        .with_context(|| format!("{flag}={text} is not a whole number ({min}-{max})"))?;
    if !(min..=max).contains(&n) {
        bail!("{flag}={n} is out of range: use {min}-{max}");
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sync(args: &[&str]) -> SyncArgs {
        match parse(args.iter().copied()).unwrap() {
            Command::Sync(s) => *s,
            other => panic!("expected sync, got {other:?}"),
        }
    }

    fn error(args: &[&str]) -> String {
        format!("{:#}", parse(args.iter().copied()).unwrap_err())
    }

    #[test]
    fn the_typical_invocation_parses_with_both_flag_spellings() {
        let s = sync(&[
            "sync",
            "dev",
            "gh",
            "--inline-file-suffix=_PATH",
            "--inline-file-suffix",
            "_FILE",
            "--exclude-property=GITHUB_TOKEN",
            "--gh-repo",
            "o/r",
        ]);
        assert_eq!(s.env, "dev");
        assert_eq!(s.target.name, "gh");
        assert_eq!(s.policy.inline_file_suffixes, ["_PATH", "_FILE"]);
        assert_eq!(s.policy.exclude_properties, ["GITHUB_TOKEN"]);
        assert_eq!(s.routing["gh-repo"], "o/r");
        assert_eq!(s.workers, 6);
        assert_eq!(s.timeout, Duration::from_secs(120));
        assert_eq!(s.deadline, Duration::from_secs(600));
        assert!(!s.dry_run);
    }

    #[test]
    fn flags_may_come_before_the_positionals() {
        let s = sync(&[
            "--dry-run",
            "--workers=2",
            "sync",
            "--timeout=5",
            "--deadline=900",
            "prod",
            "vault",
        ]);
        assert_eq!((s.env.as_str(), s.target.name), ("prod", "vault"));
        assert!(s.dry_run);
        assert_eq!(s.workers, 2);
        assert_eq!(s.timeout, Duration::from_secs(5));
        assert_eq!(s.deadline, Duration::from_secs(900));
    }

    #[test]
    fn help_and_version_short_circuit() {
        assert_eq!(parse(["--help"]).unwrap(), Command::Help);
        assert_eq!(parse(["sync", "--help"]).unwrap(), Command::Help);
        assert_eq!(parse(["sync", "dev", "nope", "-h"]).unwrap(), Command::Help);
        assert_eq!(parse(["-V"]).unwrap(), Command::Version);
        assert_eq!(parse(["--version"]).unwrap(), Command::Version);
    }

    #[test]
    fn unknown_or_missing_targets_are_usage_errors() {
        for args in [
            &["sync", "dev", "all"][..],
            &["sync", "dev"],
            &["sync"],
            &[],
            &["push", "dev", "gh"],
        ] {
            let err = parse(args.iter().copied()).unwrap_err();
            assert!(
                err.downcast_ref::<UsageError>().is_some(),
                "{args:?}: {err}"
            );
        }
        assert_eq!(
            error(&["sync", "dev", "all"]),
            "unknown target 'all' (expected gh, gcp, aws, azure, vault or ssm)"
        );
    }

    #[test]
    fn completions_takes_exactly_one_known_shell() {
        assert_eq!(
            parse(["completions", "zsh"]).unwrap(),
            Command::Completions(Shell::Zsh)
        );
        assert_eq!(
            error(&["completions", "tcsh"]),
            "unknown shell 'tcsh' (expected bash, zsh or fish)"
        );
        assert!(error(&["completions"]).contains("missing <shell>"));
        assert!(error(&["completions", "bash", "fish"]).contains("unexpected argument 'fish'"));
    }

    #[test]
    fn an_unknown_flag_is_named() {
        assert!(
            error(&["sync", "dev", "gh", "--exclude-properties=X"])
                .contains("--exclude-properties")
        );
    }

    #[test]
    fn routing_flags_of_other_targets_are_set_aside() {
        let s = sync(&[
            "sync",
            "dev",
            "gh",
            "--gh-repo=o/r",
            "--aws-region=eu-west-1",
        ]);
        assert_eq!(s.routing.len(), 1);
        assert_eq!(s.ignored, ["--aws-region"]);
    }

    #[test]
    fn workers_and_timeout_bounds_are_enforced() {
        assert!(
            error(&["sync", "dev", "gh", "--workers=0"])
                .contains("--workers=0 is out of range: use 1-64")
        );
        assert!(error(&["sync", "dev", "gh", "--workers=65"]).contains("out of range"));
        assert!(
            error(&["sync", "dev", "gh", "--workers=x"])
                .contains("--workers=x is not a whole number")
        );
        assert!(
            error(&["sync", "dev", "gh", "--deadline=0"]).contains("--deadline=0 is out of range")
        );
        assert!(
            error(&["sync", "dev", "gh", "--timeout=0"]).contains("--timeout=0 is out of range")
        );
    }

    #[test]
    fn the_knowing_flags_parse_and_contradictions_are_usage_errors() {
        let s = sync(&[
            "sync",
            "dev",
            "aws",
            "--skip-unchanged",
            "--prune",
            "--keep=OLD_*",
            "--keep",
            "X?",
            "--json",
        ]);
        assert!(s.skip_unchanged && s.prune && s.json && !s.diff);
        assert_eq!(s.keep, ["OLD_*", "X?"]);
        assert!(sync(&["sync", "dev", "gh", "--diff"]).diff);
        for bad in [
            &["sync", "dev", "gh", "--diff", "--dry-run"][..],
            &["sync", "dev", "gh", "--diff", "--skip-unchanged"],
        ] {
            let err = parse(bad.iter().copied()).unwrap_err();
            assert!(err.downcast_ref::<UsageError>().is_some(), "{bad:?}");
        }
        assert!(error(&["sync", "dev", "gh", "--keep="]).contains("--keep needs a glob"));
    }

    #[test]
    fn empty_values_are_refused_where_they_mean_nothing() {
        assert!(error(&["sync", "dev", "gh", "--gh-repo="]).contains("--gh-repo needs a value"));
        assert!(
            error(&["sync", "dev", "gh", "--inline-file-suffix="]).contains("non-empty suffix")
        );
        // An empty prefix is meaningful: it clears a saved one.
        assert_eq!(
            sync(&["sync", "dev", "aws", "--aws-secret-prefix="]).routing["aws-secret-prefix"],
            ""
        );
    }
}
