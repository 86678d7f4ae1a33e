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
use crate::pace::Gate;
use crate::pool::{self, RunOpts};
use crate::report::{self, Scrubber, Status};
use crate::routing::{self, Resolved};
use crate::targets::Kind;
use crate::{exec, know, plan, preflight, repo, signals};
use anyhow::{Context, bail};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

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

    let kind = args.target;
    for flag in &args.ignored {
        report::err(&format!(
            "warning: ignoring {flag}: it does not apply to the {} target",
            kind.name
        ));
    }
    let resolved = resolve_routing(kind, &args, &config)?;
    // The owner in labels and tags; the config namespace above stays as it was.
    let owner = repo::owner::identity(&layout.root, args.repo.as_deref(), &var).map(|i| i.mark());
    let open = crate::targets::Open {
        env: &args.env,
        repo: &layout.repo_name,
        owner: owner.as_deref(),
    };
    let target = (kind.open)(&resolved.settings, &open);
    let mut warnings = preflight::check(&*target, &parsed.tasks).map_err(anyhow::Error::msg)?;
    warnings.extend(crate::prune::keep_unused(
        &*target, &args.keep, args.prune, args.diff,
    ));
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
    let deadline = env_duration("VSYNC_RUN_DEADLINE_SECS", 1000).unwrap_or(args.deadline);
    let retry_base = env_duration("VSYNC_RETRY_BASE_MS", 1).unwrap_or(RETRY_BASE);
    let opts = RunOpts {
        workers: args.workers,
        timeout: args.timeout,
        deadline: started + deadline,
        retry_base,
        started,
        gate: Gate::new(kind.name, target.pacing(), args.workers, RETRY_BASE)
            .with(time_scale(), deadline.as_secs()),
    };
    if args.diff {
        // Reads only: no write, no config save.
        locate(kind, var("PATH").as_deref())?;
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
                fresh.set_sync_field(kind.name, setting.config_key, value.as_deref());
            }
        })?;
    }
    locate(kind, var("PATH").as_deref())?;

    report::out("");
    report::out(&target.banner(parsed.tasks.len()));
    print_skipped(&parsed.skipped);

    // A write that must carry stored keys over reads first: the run that knows the target.
    let carries = crate::carry::needed(&*target, &args.keep, !parsed.skipped.is_empty());
    if args.skip_unchanged || args.prune || args.json || carries.is_some() {
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
        kind.name,
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

/// The vendor CLI must be on PATH before anything runs.
fn locate(kind: &Kind, path: Option<&str>) -> anyhow::Result<()> {
    match find_on_path(kind.bin, path) {
        OnPath::Found => Ok(()),
        OnPath::NotExecutable(path) => bail!(
            "{} is not executable ({}) — fix its permissions or install it before running \
             vsync sync.",
            kind.bin,
            path.display()
        ),
        OnPath::Missing => bail!(
            "{} not found on PATH — install it before running vsync sync.",
            kind.bin
        ),
    }
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
        lines.push(format!("  exclude-property:   {}", report::shown_key(p)));
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
        .map(|key| format!("  skipped (excluded): {}", report::shown_key(key)))
}

/// flag → config → prompt (on a TTY) → an error naming the setting and its flag. Prompt answers count as flags, so
/// they are saved like flags.
fn resolve_routing(
    kind: &'static Kind,
    args: &SyncArgs,
    config: &ConfigFile,
) -> anyhow::Result<Resolved> {
    let mut flags = args.routing.clone();
    let stored = |key: &str| config.sync_field(kind.name, key).map(str::to_string);
    loop {
        match routing::resolve(kind, &flags, &stored) {
            Ok(resolved) => return Ok(resolved),
            Err(field) => {
                if !std::io::stdin().is_terminal() {
                    bail!(routing::missing_message(kind, field));
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

/// Asks on stderr and reads one line from stdin (a terminal). The read is the raw
/// descriptor, polled: a signal during the prompt ends the wait (an error), so Ctrl-C at
/// the `--prune` confirmation stops the run instead of waiting for Enter.
pub(crate) fn prompt(question: &str) -> anyhow::Result<String> {
    {
        // Not held while reading: the interrupt handler writes to stderr too, and must not
        // wait for an answer.
        let mut stderr = std::io::stderr().lock();
        write!(stderr, "{question}: ")?;
        stderr.flush()?;
    }
    let mut line = Vec::new();
    loop {
        if signals::stop_requested() {
            bail!("interrupted at the prompt");
        }
        let mut fds = [libc::pollfd {
            fd: libc::STDIN_FILENO,
            events: libc::POLLIN,
            revents: 0,
        }];
        // SAFETY: one valid pollfd, its length passed.
        if unsafe { libc::poll(fds.as_mut_ptr(), 1, 100) } <= 0 {
            continue; // the wait ran out, or a signal (EINTR): look at the flag again
        }
        let mut byte = 0u8;
        // SAFETY: reads at most one byte into `byte`.
        match unsafe { libc::read(libc::STDIN_FILENO, (&mut byte as *mut u8).cast(), 1) } {
            1 if byte == b'\n' => break,
            1 => line.push(byte),
            0 => break,
            _ if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => {}
            _ => bail!("reading the answer: {}", std::io::Error::last_os_error()),
        }
    }
    Ok(String::from_utf8_lossy(&line).trim().to_string())
}

enum OnPath {
    Found,
    /// Only a file without execute permission has that name (the first one found).
    NotExecutable(PathBuf),
    Missing,
}

/// The vendor CLI as the OS would find it: an executable file in a PATH directory. A
/// non-executable file of that name is skipped, as execvp(3) skips it, but remembered: it
/// is most likely the CLI with broken permissions.
fn find_on_path(bin: &str, path: Option<&str>) -> OnPath {
    use std::os::unix::fs::PermissionsExt;
    let Some(path) = path else {
        return OnPath::Missing;
    };
    let mut not_executable = None;
    for candidate in std::env::split_paths(path).map(|dir| dir.join(bin)) {
        match std::fs::metadata(&candidate) {
            Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => return OnPath::Found,
            Ok(m) if m.is_file() => {
                not_executable.get_or_insert(candidate);
            }
            _ => {}
        }
    }
    not_executable.map_or(OnPath::Missing, OnPath::NotExecutable)
}

/// Test hooks: `VSYNC_RUN_DEADLINE_SECS` and `VSYNC_RETRY_BASE_MS` shorten the run deadline
/// and the retry backoff, so the failure model can be tested in seconds.
fn env_duration(name: &str, unit_ms: u64) -> Option<Duration> {
    let n: u64 = std::env::var(name).ok()?.parse().ok()?;
    Some(Duration::from_millis(n.saturating_mul(unit_ms)))
}

/// Test hook: `VSYNC_TIME_SCALE` (a factor, e.g. `0.01`) shortens every wait a throttling
/// store asks for, so the waits of the shipped pacing can be tested in seconds; the messages
/// still name the shipped waits.
fn time_scale() -> f64 {
    std::env::var("VSYNC_TIME_SCALE")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|f| f.is_finite() && *f >= 0.0)
        .unwrap_or(1.0)
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
