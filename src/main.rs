//! vsync: push the secrets of a dotenv file to GitHub, GCP, AWS Secrets Manager, AWS SSM
//! Parameter Store, Azure Key Vault or HashiCorp Vault through each vendor's own CLI, each
//! value on the CLI's stdin.
//!
//! Exit statuses (decided by `report::RunReport::exit` for a run that reached the target,
//! here for an error before it, and by the interrupt handler for a signal before the first
//! vendor call): 0 all synced, 1 usage/input/config error or any key failed, 2 `--diff` found
//! a difference, 130 interrupted.

mod carry;
mod cli;
mod completions;
mod config;
mod envfile;
mod exec;
mod flags;
mod jsonout;
mod os;
mod outcome;
mod pace;
mod plan;
mod pool;
mod preflight;
mod prune;
mod repo;
mod report;
mod routing;
mod run;
mod scrub;
mod signals;
mod state;
mod targets;
mod task;
mod term;

use std::process::ExitCode;

fn main() -> ExitCode {
    forbid_core_dumps();
    one_heap();
    match run() {
        Ok(code) => code,
        Err(err) => {
            if let Some(usage) = err.downcast_ref::<cli::UsageError>() {
                term::err(&format!(
                    "vsync: error: {usage}\n\n{}",
                    flags::help_text().trim_end()
                ));
            } else {
                term::err(&format!("vsync: error: {err:#}"));
            }
            ExitCode::FAILURE
        }
    }
}

/// First thing, before any value is read: this process will hold every secret in memory,
/// and a core dump (SIGQUIT from the keyboard, SIGABRT, a crash; with `ulimit -c` raised and
/// a `core_pattern` writing to the working directory) would leave them all in a file. Not
/// dumpable also keeps other processes of the same user from reading its memory through
/// `/proc` or ptrace. RLIMIT_CORE 0 is inherited by the vendor CLIs, which hold a value
/// each. The results are not checked: neither call can fail with these arguments.
fn forbid_core_dumps() {
    // SAFETY: prctl(2) and setrlimit(2) with plain integer arguments and a struct we own.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
        let none = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::setrlimit(libc::RLIMIT_CORE, &none);
    }
}

/// glibc gives each thread that allocates a heap of its own, and a worker's grows to at
/// least 128 KiB over a long run: at six workers, most of the peak memory a 10,000-key run
/// adds. Workers spend their time waiting on vendor CLIs, so sharing one heap costs no
/// measurable time. (musl, the release build, has a single heap already.)
fn one_heap() {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt(3) with integer arguments, before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

fn run() -> anyhow::Result<ExitCode> {
    match cli::parse(std::env::args_os().skip(1))? {
        cli::Command::Help => term::out(flags::help_text().trim_end()),
        cli::Command::Version => term::out(concat!(
            "vsync ",
            env!("CARGO_PKG_VERSION"),
            " (",
            env!("VSYNC_TARGET"),
            ", commit ",
            env!("VSYNC_COMMIT"),
            ")"
        )),
        cli::Command::Completions(shell) => term::out(completions::script(shell).trim_end()),
        cli::Command::Sync(args) => return run::run(*args),
    }
    Ok(ExitCode::SUCCESS)
}
