//! vsync: push the secrets of a dotenv file to GitHub, GCP, AWS, Azure or HashiCorp Vault
//! through each vendor's own CLI, each value on the CLI's stdin.
//!
//! Exit statuses (decided here and in `sync::run` only): 0 all synced, 1 usage/input/config
//! error or any key failed, 130 interrupted.

mod cli;
mod completions;
mod config;
mod envfile;
mod exec;
mod plan;
mod pool;
mod preflight;
mod repo;
mod report;
mod routing;
mod signals;
mod sync;
mod targets;
mod task;

use std::process::ExitCode;

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(err) => {
            if let Some(usage) = err.downcast_ref::<cli::UsageError>() {
                report::err(&format!(
                    "vsync: error: {usage}\n\n{}",
                    cli::USAGE.trim_end()
                ));
            } else {
                report::err(&format!("vsync: error: {err:#}"));
            }
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    match cli::parse(std::env::args_os().skip(1))? {
        cli::Command::Help => report::out(cli::USAGE.trim_end()),
        cli::Command::Version => report::out(concat!(
            "vsync ",
            env!("CARGO_PKG_VERSION"),
            " (",
            env!("VSYNC_TARGET"),
            ", commit ",
            env!("VSYNC_COMMIT"),
            ")"
        )),
        cli::Command::Completions(shell) => report::out(completions::script(shell).trim_end()),
        cli::Command::Sync(args) => return sync::run(args),
    }
    Ok(ExitCode::SUCCESS)
}
