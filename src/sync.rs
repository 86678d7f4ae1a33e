//! One `vsync sync` run, in the order of 0.8: policy header → parse → routing (saved when
//! changed) → pre-flight → vendor CLI located → banner → push → summary.
//!
//! This is the thin shell around the pure modules: it reads the environment, the terminal
//! and the files, and decides the exit status.

use crate::cli::SyncArgs;
use crate::config::ConfigFile;
use crate::envfile::{self, Policy};
use crate::pool::{self, RunOpts};
use crate::report::{self, Scrubber, Status};
use crate::routing::{self, Resolved};
use crate::targets::{Routing, Target};
use crate::{plan, preflight, repo, signals};
use anyhow::{Context, bail};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// The 0.7 run deadline.
const RUN_DEADLINE: Duration = Duration::from_secs(600);
const RETRY_BASE: Duration = Duration::from_secs(1);

pub fn run(args: SyncArgs) -> anyhow::Result<ExitCode> {
    signals::install().context("installing the interrupt handler")?;
    for line in policy_header(&args.policy) {
        report::out(&line);
    }

    let cwd = std::env::current_dir().context("reading the current directory")?;
    let var = |name: &str| std::env::var(name).ok();
    let layout = repo::layout(&cwd, args.repo.as_deref(), &args.env, &var)?;
    let mut config = ConfigFile::load(&layout.config_path)?;
    let env_path = repo::env_file_path(&layout.root, config.vault_folder(), &args.env);
    let home = PathBuf::from(var("HOME").unwrap_or_default());
    let parsed = envfile::load_env_file(&env_path, &args.policy, &home)?;
    for warning in &parsed.warnings {
        report::err(&format!("warning: {warning}"));
    }
    if parsed.tasks.is_empty() {
        bail!("no secrets to sync from {}", env_path.display());
    }

    let target = args.target;
    for flag in &args.ignored {
        report::err(&format!(
            "warning: ignoring {flag}: it does not apply to the {} target",
            target.name()
        ));
    }
    let resolved = resolve_routing(target, &args, &config)?;
    let routing = Routing::from_values(target, &resolved.values);
    let warnings =
        preflight::check(target.name(), &routing, &parsed.tasks).map_err(anyhow::Error::msg)?;
    for warning in warnings {
        report::err(&format!("warning: {warning}"));
    }

    if args.dry_run {
        report::out("");
        report::out(&routing.banner(&args.env, parsed.tasks.len()));
        print_skipped(&parsed.skipped);
        for line in plan::render(&routing, &parsed.tasks, &args.env) {
            report::out(&line);
        }
        return Ok(ExitCode::SUCCESS);
    }

    if !resolved.updates.is_empty() {
        for (key, value) in &resolved.updates {
            config.set_sync_field(target.name(), key, value.as_deref());
        }
        config.save()?;
    }
    if find_on_path(target.bin(), var("PATH").as_deref()).is_none() {
        bail!(
            "{} not found on PATH — install it before running vsync sync.",
            target.bin()
        );
    }

    report::out("");
    report::out(&routing.banner(&args.env, parsed.tasks.len()));
    print_skipped(&parsed.skipped);

    let started = Instant::now();
    let opts = RunOpts {
        workers: args.workers,
        timeout: args.timeout,
        deadline: started + env_duration("VSYNC_RUN_DEADLINE_SECS", 1000).unwrap_or(RUN_DEADLINE),
        retry_base: env_duration("VSYNC_RETRY_BASE_MS", 1).unwrap_or(RETRY_BASE),
        env: args.env.clone(),
    };
    let scrubber = Scrubber::new(&parsed.tasks);
    let statuses = match (&routing, routing.per_key()) {
        (Routing::Vault(r), _) => pool::run_bulk(r, &parsed.tasks, &opts, &scrubber),
        (_, Some(per_key)) => pool::run_per_key(per_key, &parsed.tasks, &opts, &scrubber),
        (_, None) => unreachable!("only vault writes in bulk"),
    };
    let results: Vec<(&str, Status)> = parsed
        .tasks
        .iter()
        .map(|t| t.key.as_str())
        .zip(statuses.iter().copied())
        .collect();
    report::out("");
    report::out(&report::summary_line(
        target.name(),
        &results,
        started.elapsed(),
    ));

    Ok(if signals::stop_requested() {
        ExitCode::from(130)
    } else if statuses.iter().all(|s| *s == Status::Synced) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The `Parser policy:` block of 0.8, printed before the env file is read.
fn policy_header(policy: &Policy) -> Vec<String> {
    let mut lines = vec![String::new(), "Parser policy:".to_string()];
    if policy.inline_file_suffixes.is_empty() {
        lines.push("  inline-file-suffix: (none — file refs disabled)".into());
    }
    for s in &policy.inline_file_suffixes {
        lines.push(format!("  inline-file-suffix: {s}"));
    }
    if policy.exclude_properties.is_empty() {
        lines.push("  exclude-property:   (none — nothing skipped)".into());
    }
    for p in &policy.exclude_properties {
        lines.push(format!("  exclude-property:   {}", report::shown_key(p)));
    }
    lines
}

fn print_skipped(skipped: &[String]) {
    for key in skipped {
        report::out(&format!("  skipped (excluded): {}", report::shown_key(key)));
    }
}

/// flag → config → prompt (on a TTY) → the 0.8 error. Prompt answers count as flags, so
/// they are saved like flags.
fn resolve_routing(
    target: Target,
    args: &SyncArgs,
    config: &ConfigFile,
) -> anyhow::Result<Resolved> {
    let mut flags = args.routing.clone();
    let stored = |key: &str| config.sync_field(target.name(), key).map(str::to_string);
    loop {
        match routing::resolve(target, &flags, &stored) {
            Ok(resolved) => return Ok(resolved),
            Err(field) => {
                if !std::io::stdin().is_terminal() {
                    bail!(routing::missing_message(target, field));
                }
                let answer = prompt(field.prompt)?;
                if answer.is_empty() {
                    bail!(
                        "no value given for {}; aborted (pass --{} instead)",
                        field.prompt,
                        field.flag
                    );
                }
                flags.insert(field.flag.to_string(), answer);
            }
        }
    }
}

fn prompt(question: &str) -> anyhow::Result<String> {
    let mut stderr = std::io::stderr().lock();
    write!(stderr, "{question}: ")?;
    stderr.flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim().to_string())
}

/// The vendor CLI as the OS would find it: an executable file in a PATH directory.
fn find_on_path(bin: &str, path: Option<&str>) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(path?)
        .map(|dir| dir.join(bin))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Test hooks: `VSYNC_RUN_DEADLINE_SECS` and `VSYNC_RETRY_BASE_MS` shorten the run deadline
/// and the retry backoff, so the failure model can be tested in seconds.
fn env_duration(name: &str, unit_ms: u64) -> Option<Duration> {
    let n: u64 = std::env::var(name).ok()?.parse().ok()?;
    Some(Duration::from_millis(n.saturating_mul(unit_ms)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_header_matches_08_for_empty_and_given_lists() {
        assert_eq!(
            policy_header(&Policy::default()),
            [
                "",
                "Parser policy:",
                "  inline-file-suffix: (none — file refs disabled)",
                "  exclude-property:   (none — nothing skipped)"
            ]
        );
        let p = Policy {
            inline_file_suffixes: vec!["_PATH".into(), "_FILE".into()],
            exclude_properties: vec!["GITHUB_TOKEN".into()],
        };
        assert_eq!(
            policy_header(&p),
            [
                "",
                "Parser policy:",
                "  inline-file-suffix: _PATH",
                "  inline-file-suffix: _FILE",
                "  exclude-property:   GITHUB_TOKEN"
            ]
        );
    }
}
