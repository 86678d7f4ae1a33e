//! One `vsync sync` run: policy header → parse → routing (saved when changed) → pre-flight
//! → vendor CLI located → banner → (read back with `--skip-unchanged`) → push → summary →
//! (`--prune`). `--diff` stops after pre-flight and hands over to `know::diff`, saving nothing;
//! `--json` turns the human stdout lines into one document at the end.
//!
//! This is the thin shell around the pure modules: it reads the environment, the terminal
//! and the files, and decides the exit status.

use crate::cli::SyncArgs;
use crate::config::ConfigFile;
use crate::envfile::{self, Policy};
use crate::pool::{self, RunOpts};
use crate::report::{self, Status};
use crate::routing::{self, Resolved};
use crate::scrub::Scrubber;
use crate::targets::Backend;
use crate::term::shown_key;
use crate::{exec, know, os, plan, preflight, repo, signals};
use anyhow::{Context, bail};
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// The whole run's deadline.
const RUN_DEADLINE: Duration = Duration::from_secs(600);
const RETRY_BASE: Duration = Duration::from_secs(1);

pub fn run(args: SyncArgs) -> anyhow::Result<ExitCode> {
    signals::install().context("installing the interrupt handler")?;
    if args.json {
        report::human_lines_off();
    }
    // `--diff`'s stdout is its marker lines alone; what a run says first goes to stderr.
    let say = |line: &str| {
        if args.diff {
            report::err(line)
        } else {
            report::out(line)
        }
    };
    for line in policy_header(&args.policy) {
        say(&line);
    }

    let cwd = std::env::current_dir().context("reading the current directory")?;
    // An unset or empty HOME falls back to the account's home directory, for the config
    // location and for `~/` / `${HOME}` in the env file alike.
    let home = repo::home_dir(std::env::var_os("HOME"), repo::account_home);
    let var = |name: &str| match name {
        "HOME" => home.as_ref().and_then(|h| h.to_str()).map(str::to_owned),
        _ => std::env::var(name).ok(),
    };
    let layout = repo::layout(&cwd, args.repo.as_deref(), &args.env, &var)?;
    let config = ConfigFile::load(&layout.config_path)?;
    let env_path =
        repo::env_file_path(&layout.root, config.vault_folder(), &args.env).map_err(|problem| {
            anyhow::anyhow!(
                "config file {}: files.vaultFolder {problem}; change that setting to a folder \
                 inside the repository",
                layout.config_path.display()
            )
        })?;
    let parsed = envfile::load_env_file(&env_path, &args.policy, home.as_deref(), args.target)?;
    for warning in &parsed.warnings {
        report::err(&format!("warning: {warning}"));
    }
    if parsed.tasks.is_empty() {
        bail!("no secrets to sync from {}", env_path.display());
    }

    let backend = args.target;
    for flag in &args.ignored {
        report::err(&format!(
            "warning: ignoring {flag}: it does not apply to the {} target",
            backend.name
        ));
    }
    let resolved = resolve_routing(backend, &args, &config)?;
    let open = crate::targets::Open {
        env: &args.env,
        repo: &layout.repo_name,
    };
    let target = (backend.open)(&resolved.settings, &open);
    let warnings = preflight::check(&*target, &parsed.tasks).map_err(anyhow::Error::msg)?;
    for warning in warnings {
        report::err(&format!("warning: {warning}"));
    }

    if args.dry_run {
        report::out("");
        report::out(&target.banner(parsed.tasks.len()));
        print_skipped(&parsed.skipped);
        for line in plan::render(&*target, &parsed.tasks) {
            report::out(&line);
        }
        if args.json {
            know::dry_run_json(&*target, &args, &parsed);
        }
        return Ok(ExitCode::SUCCESS);
    }
    // Refused before anything is written: a prune that could not run would leave the user
    // believing it did.
    if args.prune {
        if let crate::targets::Scope::Unknown(why) = target.scope() {
            bail!("{why}");
        }
    }
    let started = Instant::now();
    let opts = RunOpts {
        workers: args.workers,
        timeout: args.timeout,
        deadline: started + env_duration("VSYNC_RUN_DEADLINE_SECS", 1000).unwrap_or(RUN_DEADLINE),
        retry_base: env_duration("VSYNC_RETRY_BASE_MS", 1).unwrap_or(RETRY_BASE),
        started,
    };
    if args.diff {
        // Reads only: no write, no config save.
        os::locate(backend.bin, var("PATH").as_deref())?;
        say("");
        say(&target.banner(parsed.tasks.len()));
        for line in skipped_lines(&parsed.skipped) {
            say(&line);
        }
        signals::start_pushing();
        exec::adopt_orphans();
        let code = know::diff(&*target, &args, &parsed, &opts);
        exec::end_orphans();
        return code;
    }

    if !resolved.updates.is_empty() {
        // Applied to the file as it is once locked, so a concurrent run's routing survives.
        ConfigFile::update(&layout.config_path, |fresh| {
            for (setting, value) in &resolved.updates {
                fresh.set_sync_field(backend.name, setting.config_key, value.as_deref());
            }
        })?;
    }
    os::locate(backend.bin, var("PATH").as_deref())?;

    report::out("");
    report::out(&target.banner(parsed.tasks.len()));
    print_skipped(&parsed.skipped);

    if args.skip_unchanged || args.prune || args.json {
        signals::start_pushing();
        exec::adopt_orphans();
        let code = know::sync(&*target, &args, &parsed, &opts);
        exec::end_orphans();
        return Ok(code);
    }

    let scrubber = Scrubber::new(&parsed.tasks);
    // From here a signal stops dispatch; before, it ended the run at once.
    signals::start_pushing();
    exec::adopt_orphans();
    let statuses: Vec<Status> = pool::run(&*target, &parsed.tasks, &opts, &scrubber)
        .into_iter()
        .map(|w| w.status)
        .collect();
    exec::end_orphans();
    let results: Vec<(&str, Status)> = parsed
        .tasks
        .iter()
        .map(|t| t.key.as_str())
        .zip(statuses.iter().copied())
        .collect();
    report::out("");
    report::out(&report::summary_line(
        backend.name,
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

/// The `Parser policy:` block, printed before the env file is read.
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
        lines.push(format!("  exclude-property:   {}", shown_key(p)));
    }
    lines
}

fn print_skipped(skipped: &[String]) {
    for line in skipped_lines(skipped) {
        report::out(&line);
    }
}

fn skipped_lines(skipped: &[String]) -> impl Iterator<Item = String> + '_ {
    skipped
        .iter()
        .map(|key| format!("  skipped (excluded): {}", shown_key(key)))
}

/// flag → config → prompt (on a TTY) → an error naming the setting and its flag. Prompt answers count as flags, so
/// they are saved like flags.
fn resolve_routing(
    backend: &'static Backend,
    args: &SyncArgs,
    config: &ConfigFile,
) -> anyhow::Result<Resolved> {
    let mut flags = args.routing.clone();
    let stored = |key: &str| config.sync_field(backend.name, key).map(str::to_string);
    loop {
        match routing::resolve(backend, &flags, &stored) {
            Ok(resolved) => return Ok(resolved),
            Err(field) => {
                if !std::io::stdin().is_terminal() {
                    bail!(routing::missing_message(backend, field));
                }
                let answer = os::prompt(field.prompt)?;
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
    fn the_policy_header_lists_empty_and_given_policies() {
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
