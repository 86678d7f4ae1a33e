//! The one table of flags: every flag of `vsync sync` is defined here once, with its name,
//! the shape of its value, its help lines and whether the config file keeps it. The routing
//! flags are not listed: they are each target's settings (`Backend::settings`), so a new
//! setting of a target is a flag everywhere without a line here.
//!
//! Everything that names flags reads this table and the registry of targets: the `lexopt`
//! loop of `cli`, the `--help` text (`help_text`, its prose in `usage.txt`), the completion
//! scripts, and through `--help` the man page (`scripts/man`).

use crate::targets::REGISTRY;

/// Which part of a run a flag changes, and the section of `--help` that lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    Policy,
    Options,
    Knowing,
}

/// What the parser does with a flag: the one place that says what each flag means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Id {
    Help,
    Version,
    InlineFileSuffix,
    ExcludeProperty,
    Repo,
    DryRun,
    Workers,
    Timeout,
    Deadline,
    Diff,
    SkipUnchanged,
    Prune,
    Keep,
    Json,
}

/// One flag that is not a target's routing setting.
#[derive(Debug)]
pub struct Flag {
    pub id: Id,
    pub long: &'static str,
    pub short: Option<char>,
    /// The value's placeholder (`SUFFIX`); `None` for a switch.
    pub value: Option<&'static str>,
    /// Its description in `--help`, one entry per line as the help text wraps it.
    pub help: &'static [&'static str],
    /// One line for the completion scripts.
    pub brief: &'static str,
    pub group: Group,
}

/// Every flag but the routing ones, in the order `--help` lists them. None of them is saved
/// in the config file: only routing settings are.
pub const FLAGS: &[Flag] = &[
    Flag {
        id: Id::InlineFileSuffix,
        long: "inline-file-suffix",
        short: None,
        value: Some("SUFFIX"),
        help: &[
            "KEY<SUFFIX>=path pushes the file's bytes as secret KEY",
            "(relative paths are relative to the env file's folder)",
        ],
        brief: "KEY<SUFFIX>=path pushes the file's bytes as secret KEY",
        group: Group::Policy,
    },
    Flag {
        id: Id::ExcludeProperty,
        long: "exclude-property",
        short: None,
        value: Some("KEY"),
        help: &["do not push KEY (as written in the file); reported as skipped"],
        brief: "do not push KEY",
        group: Group::Policy,
    },
    Flag {
        id: Id::Repo,
        long: "repo",
        short: None,
        value: Some("NAME"),
        help: &[
            "config namespace and owner in vsync's marks (default:",
            "$SECRETS_SYNC_REPO, package.json name, or the repo folder's name;",
            "the marks use the git remote origin first, never a folder's name)",
        ],
        brief: "config namespace",
        group: Group::Options,
    },
    Flag {
        id: Id::DryRun,
        long: "dry-run",
        short: None,
        value: None,
        help: &["check everything and print the plan; run no vendor CLI, save nothing"],
        brief: "check everything and print the plan; run no vendor CLI",
        group: Group::Options,
    },
    Flag {
        id: Id::Workers,
        long: "workers",
        short: None,
        value: Some("N"),
        help: &["parallel vendor calls, 1-64 (default 6; vault always writes once)"],
        brief: "parallel vendor calls, 1-64",
        group: Group::Options,
    },
    Flag {
        id: Id::Timeout,
        long: "timeout",
        short: None,
        value: Some("SECONDS"),
        help: &["limit for one vendor call, 1-3600 (default 120)"],
        brief: "limit for one vendor call in seconds, 1-3600",
        group: Group::Options,
    },
    Flag {
        id: Id::Deadline,
        long: "deadline",
        short: None,
        value: Some("SECONDS"),
        help: &[
            "the whole run starts no new call after this, 1-86400 (default",
            "600); a throttled store may need longer (not saved)",
        ],
        brief: "the whole run starts no new call after this many seconds, 1-86400",
        group: Group::Options,
    },
    Flag {
        id: Id::Diff,
        long: "diff",
        short: None,
        value: None,
        help: &[
            "read the target, change nothing; per key on stdout: + KEY (new),",
            "~ KEY (other value), = KEY (same), ? KEY (unreadable: gh), then",
            "- NAME (in vsync's scope, not in the file: what --prune deletes).",
            "Exit 0 no difference, 2 differences, 1 error. No value is shown.",
        ],
        brief: "show what a sync would change; change nothing",
        group: Group::Knowing,
    },
    Flag {
        id: Id::SkipUnchanged,
        long: "skip-unchanged",
        short: None,
        value: None,
        help: &[
            "write only new and changed values; unchanged ones print",
            "= KEY (unchanged) and get no new version (gh cannot read: writes all)",
        ],
        brief: "write only new and changed values",
        group: Group::Knowing,
    },
    Flag {
        id: Id::Prune,
        long: "prune",
        short: None,
        value: None,
        help: &[
            "after every write succeeded, delete what is in vsync's scope and no",
            "longer in the file (gh: the environment; gcp/azure: secrets marked as",
            "this repo's and env's; aws: marked and directly under the prefix; ssm:",
            "directly under a /path/ prefix; vault: the put already replaces)",
        ],
        brief: "delete vsync's secrets the env file no longer defines",
        group: Group::Knowing,
    },
    Flag {
        id: Id::Keep,
        long: "keep",
        short: None,
        value: Some("GLOB"),
        help: &["never prune a name (or key) matching GLOB (* and ?); repeatable"],
        brief: "never prune names matching GLOB",
        group: Group::Knowing,
    },
    Flag {
        id: Id::Json,
        long: "json",
        short: None,
        value: None,
        help: &["one JSON document on stdout at the end instead of the human lines"],
        brief: "print one JSON report instead of the human lines",
        group: Group::Knowing,
    },
    Flag {
        id: Id::Help,
        long: "help",
        short: Some('h'),
        value: None,
        help: &["print this help"],
        brief: "print the help",
        group: Group::Knowing,
    },
    Flag {
        id: Id::Version,
        long: "version",
        short: Some('V'),
        value: None,
        help: &["print the version"],
        brief: "print the version",
        group: Group::Knowing,
    },
];

/// The flag named `--long`.
pub fn by_long(long: &str) -> Option<&'static Flag> {
    FLAGS.iter().find(|f| f.long == long)
}

/// The flag named `-c`.
pub fn by_short(c: char) -> Option<&'static Flag> {
    FLAGS.iter().find(|f| f.short == Some(c))
}

/// The help text's prose, with a `{name}` line where each generated section goes.
const PROSE: &str = include_str!("usage.txt");

/// `vsync --help`: the prose of `usage.txt` with the targets and the flags filled in.
pub fn help_text() -> String {
    let mut text = String::with_capacity(PROSE.len() + 4096);
    for line in PROSE.lines() {
        match line {
            "{targets}" => targets_section(&mut text),
            "{policy}" => group_section(&mut text, Group::Policy, 30),
            "{options}" => group_section(&mut text, Group::Options, 20),
            "{knowing}" => group_section(&mut text, Group::Knowing, 20),
            _ => {
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    text
}

/// How a flag is written in the help text: `--name=VALUE`, `-h, --help`.
fn spec(flag: &Flag) -> String {
    let short = flag.short.map(|c| format!("-{c}, ")).unwrap_or_default();
    match flag.value {
        Some(value) => format!("{short}--{}={value}", flag.long),
        None => format!("{short}--{}", flag.long),
    }
}

/// One section of flags: each flag's spec, its help from column `column` (counted after
/// the four-space indent), continuation lines aligned under it.
fn group_section(text: &mut String, group: Group, column: usize) {
    for flag in FLAGS.iter().filter(|f| f.group == group) {
        let mut lead = spec(flag);
        for line in flag.help {
            text.push_str(&format!("    {lead:<column$}{line}\n"));
            lead.clear();
        }
    }
}

/// Widths of the targets section: the target's name, its title, the required flags.
const NAME_CELL: usize = 8;
const FLAGS_CELL: usize = 32;
/// Required flags share a line up to this width; then the line breaks.
const FLAGS_LINE: usize = 40;

/// One paragraph per target: its name, title, required flags and CLI; its optional
/// settings; an example.
fn targets_section(text: &mut String) {
    let title_cell = REGISTRY.iter().map(|b| b.title.len()).max().unwrap_or(0) + 2;
    for backend in REGISTRY {
        let mut lines: Vec<String> = Vec::new();
        for setting in backend.settings.iter().filter(|s| s.required) {
            let flag = format!("--{}={}", setting.flag, setting.value);
            match lines.last_mut() {
                Some(line) if line.len() + 1 + flag.len() <= FLAGS_LINE => {
                    line.push(' ');
                    line.push_str(&flag);
                }
                _ => lines.push(flag),
            }
        }
        let last = lines.len().saturating_sub(1);
        for (i, flags) in lines.iter().enumerate() {
            let (name, title) = if i == 0 {
                (backend.name, backend.title)
            } else {
                ("", "")
            };
            let row = if i == last {
                format!("{flags:<FLAGS_CELL$}({})", backend.bin)
            } else {
                flags.clone()
            };
            text.push_str(&format!(
                "    {name:<NAME_CELL$}{title:<title_cell$}{row}\n"
            ));
        }
        let indent = " ".repeat(4 + NAME_CELL);
        for setting in backend.settings.iter().filter(|s| !s.required) {
            let shown: Vec<String> = setting
                .help
                .iter()
                .map(|(value, _)| format!("[--{}={value}]", setting.flag))
                .collect();
            let width = shown.iter().map(String::len).max().unwrap_or(0) + 2;
            for (flag, (_, what)) in shown.iter().zip(setting.help) {
                text.push_str(&format!("{indent}{flag:<width$}{what}\n"));
            }
        }
        text.push_str(&format!(
            "{indent}vsync sync dev {} {}\n",
            backend.name, backend.example
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flag_is_named_once_across_the_table_and_the_targets() {
        let mut names: Vec<&str> = FLAGS.iter().map(|f| f.long).collect();
        names.extend(
            REGISTRY
                .iter()
                .flat_map(|b| b.settings.iter().map(|s| s.flag)),
        );
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count, "a flag name is used twice");
    }

    #[test]
    fn every_optional_setting_says_what_it_does() {
        for backend in REGISTRY {
            for setting in backend.settings.iter().filter(|s| !s.required) {
                assert!(!setting.help.is_empty(), "--{}", setting.flag);
            }
        }
    }

    #[test]
    fn the_help_text_names_every_flag_and_fills_every_section() {
        let text = help_text();
        assert!(!text.lines().any(|l| l.starts_with('{')), "{text}");
        for flag in FLAGS {
            assert!(text.contains(&spec(flag)), "{}", flag.long);
        }
        for backend in REGISTRY {
            for setting in backend.settings {
                assert!(
                    text.contains(&format!("--{}=", setting.flag)),
                    "{}",
                    setting.flag
                );
            }
        }
    }

    #[test]
    fn the_target_lines_keep_their_columns() {
        let text = help_text();
        assert!(text.contains(
            "    gh      GitHub Actions environment secrets           --gh-repo=OWNER/NAME            (gh)\n"
        ));
        assert!(text.contains(
            "    vault   HashiCorp Vault KV v2, one atomic write      --vault-addr=URL --vault-mount=MOUNT\n\
             \x20                                                        --vault-path=PATH               (vault)\n"
        ));
        assert!(text.contains(
            "            [--azure-names=dashes]  store each _ as - (DB_URL as DB-URL)\n\
             \x20           [--azure-names=exact]   the default: names as written, a key with _ is refused\n"
        ));
    }
}
