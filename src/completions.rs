//! Shell completion scripts: `vsync completions bash|zsh|fish` prints one to stdout.
//!
//! Every word they offer comes from `Words::new`, the one place that reads the command line's
//! shape: the commands, the targets of `targets::REGISTRY` with each one's routing flags, and the
//! other flags of the help text (`OTHER_FLAGS`; a test checks them against `usage.txt`). The
//! three generators only lay those words out in each shell's language:
//!
//! - after `vsync`: `sync`, `completions`; after `vsync completions`: the shells;
//! - after `vsync sync <env>`: the targets (the env is free text: nothing is offered);
//! - a word starting with `-`: once the target is typed, its routing flags and the other
//!   flags; before that, every flag (flags may come first).
//!
//! Flags taking a value are offered as `--name=` with no trailing space. A word after a
//! value flag written `--name value` is that value, not a positional.

use crate::targets::REGISTRY;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

impl Shell {
    pub const ALL: [Shell; 3] = [Shell::Bash, Shell::Zsh, Shell::Fish];

    pub fn parse(name: &str) -> Option<Shell> {
        Shell::ALL.into_iter().find(|s| s.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Shell::Bash => "bash",
            Shell::Zsh => "zsh",
            Shell::Fish => "fish",
        }
    }
}

/// A flag of the help text that is not a target's routing flag.
struct Flag {
    long: &'static str,
    short: Option<char>,
    takes_value: bool,
    help: &'static str,
}

const OTHER_FLAGS: &[Flag] = &[
    Flag {
        long: "diff",
        short: None,
        takes_value: false,
        help: "show what a sync would change; change nothing",
    },
    Flag {
        long: "skip-unchanged",
        short: None,
        takes_value: false,
        help: "write only new and changed values",
    },
    Flag {
        long: "prune",
        short: None,
        takes_value: false,
        help: "delete vsync's secrets the env file no longer defines",
    },
    Flag {
        long: "keep",
        short: None,
        takes_value: true,
        help: "never prune names matching GLOB",
    },
    Flag {
        long: "json",
        short: None,
        takes_value: false,
        help: "print one JSON report instead of the human lines",
    },
    Flag {
        long: "inline-file-suffix",
        short: None,
        takes_value: true,
        help: "KEY<SUFFIX>=path pushes the file's bytes as secret KEY",
    },
    Flag {
        long: "exclude-property",
        short: None,
        takes_value: true,
        help: "do not push KEY",
    },
    Flag {
        long: "repo",
        short: None,
        takes_value: true,
        help: "config namespace",
    },
    Flag {
        long: "dry-run",
        short: None,
        takes_value: false,
        help: "check everything and print the plan; run no vendor CLI",
    },
    Flag {
        long: "workers",
        short: None,
        takes_value: true,
        help: "parallel vendor calls, 1-64",
    },
    Flag {
        long: "timeout",
        short: None,
        takes_value: true,
        help: "limit for one vendor call in seconds, 1-3600",
    },
    Flag {
        long: "deadline",
        short: None,
        takes_value: true,
        help: "the whole run starts no new call after this many seconds, 1-86400",
    },
    Flag {
        long: "help",
        short: Some('h'),
        takes_value: false,
        help: "print the help",
    },
    Flag {
        long: "version",
        short: Some('V'),
        takes_value: false,
        help: "print the version",
    },
];

const COMMANDS: [&str; 2] = ["sync", "completions"];

/// What the scripts offer, gathered once from the target registry and `OTHER_FLAGS`.
struct Words {
    /// Each target's name and its routing flags (without `--`; all take a value).
    targets: Vec<(&'static str, Vec<&'static str>)>,
}

impl Words {
    fn new() -> Words {
        let targets = REGISTRY
            .iter()
            .map(|k| (k.name, k.settings.iter().map(|s| s.flag).collect()))
            .collect();
        Words { targets }
    }

    fn target_names(&self) -> Vec<&'static str> {
        self.targets.iter().map(|(name, _)| *name).collect()
    }

    fn routing_flags(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.targets
            .iter()
            .flat_map(|(_, flags)| flags.iter().copied())
    }

    /// Every flag written `--name value` whose next word is its value.
    fn value_flags(&self) -> Vec<String> {
        OTHER_FLAGS
            .iter()
            .filter(|f| f.takes_value)
            .map(|f| f.long)
            .chain(self.routing_flags())
            .map(|f| format!("--{f}"))
            .collect()
    }
}

/// `--name=` for a flag taking a value, else `--name`.
fn offered(long: &str, takes_value: bool) -> String {
    if takes_value {
        format!("--{long}=")
    } else {
        format!("--{long}")
    }
}

fn other_offered() -> Vec<String> {
    OTHER_FLAGS
        .iter()
        .map(|f| offered(f.long, f.takes_value))
        .collect()
}

pub fn script(shell: Shell) -> String {
    let words = Words::new();
    match shell {
        Shell::Bash => bash(&words),
        Shell::Zsh => zsh(&words),
        Shell::Fish => fish(&words),
    }
}

fn shell_names() -> String {
    Shell::ALL.map(Shell::name).join(" ")
}

fn bash(w: &Words) -> String {
    let mut per_target = String::new();
    for (name, flags) in &w.targets {
        let flags: Vec<String> = flags.iter().map(|f| offered(f, true)).collect();
        per_target.push_str(&format!(
            "            sync:{name}) flags+=({}) ;;\n",
            flags.join(" ")
        ));
    }
    let all_routing: Vec<String> = w.routing_flags().map(|f| offered(f, true)).collect();
    format!(
        r#"# bash completion for vsync (generated by `vsync completions bash`)
_vsync() {{
    local cur=${{COMP_WORDS[COMP_CWORD]}} word skip= i
    local -a pos=() flags=() offer=()
    # The words before the cursor that are not flags or flag values. Bash splits
    # --name=value at '=' (COMP_WORDBREAKS), so '=' means: a value follows.
    for ((i = 1; i < COMP_CWORD; i++)); do
        word=${{COMP_WORDS[i]}}
        if [[ $word == = ]]; then skip=1; continue; fi
        if [[ -n $skip ]]; then skip=; continue; fi
        case $word in
            {value_flags}) skip=1 ;;
            -*) ;;
            *) pos+=("$word") ;;
        esac
    done
    # The cursor is on a flag's value: nothing to offer.
    if [[ -n $skip || $cur == = ]]; then COMPREPLY=(); return 0; fi
    if [[ $cur == -* ]]; then
        flags=({other})
        case ${{pos[0]}}:${{pos[2]}} in
{per_target}            sync:|:) flags+=({all_routing}) ;;
        esac
        mapfile -t COMPREPLY < <(compgen -W "${{flags[*]}}" -- "$cur")
        # A lone --name= waits for its value: no space after it.
        if [[ ${{#COMPREPLY[@]}} -eq 1 && ${{COMPREPLY[0]}} == *= ]]; then
            compopt -o nospace 2>/dev/null
        fi
        return 0
    fi
    case ${{#pos[@]}}:${{pos[0]}} in
        0:*) offer=({commands}) ;;
        1:completions) offer=({shells}) ;;
        2:sync) offer=({targets}) ;;
    esac
    mapfile -t COMPREPLY < <(compgen -W "${{offer[*]}}" -- "$cur")
    return 0
}}
complete -F _vsync vsync
"#,
        value_flags = w.value_flags().join("|"),
        other = other_offered().join(" "),
        all_routing = all_routing.join(" "),
        commands = COMMANDS.join(" "),
        shells = shell_names(),
        targets = w.target_names().join(" "),
    )
}

fn zsh(w: &Words) -> String {
    let mut per_target = String::new();
    for (name, flags) in &w.targets {
        let flags: Vec<String> = flags.iter().map(|f| offered(f, true)).collect();
        per_target.push_str(&format!(
            "            sync:{name}) valued+=({}) ;;\n",
            flags.join(" ")
        ));
    }
    let all_routing: Vec<String> = w.routing_flags().map(|f| offered(f, true)).collect();
    let split = |takes_value: bool| -> String {
        OTHER_FLAGS
            .iter()
            .filter(|f| f.takes_value == takes_value)
            .map(|f| offered(f.long, f.takes_value))
            .collect::<Vec<_>>()
            .join(" ")
    };
    format!(
        r#"#compdef vsync
# zsh completion for vsync (generated by `vsync completions zsh`)
_vsync() {{
    local word cur=${{words[CURRENT]}} skip= i
    local -a pos valued plain
    # The words before the cursor that are not flags or flag values.
    for ((i = 2; i < CURRENT; i++)); do
        word=${{words[i]}}
        if [[ -n $skip ]]; then skip=; continue; fi
        case $word in
            {value_flags}) skip=1 ;;
            -*) ;;
            *) pos+=("$word") ;;
        esac
    done
    # The cursor is on a flag's value: nothing to offer.
    [[ -n $skip ]] && return 1
    if [[ $cur == -* ]]; then
        valued=({valued})
        plain=({plain})
        case ${{pos[1]}}:${{pos[3]}} in
{per_target}            sync:|:) valued+=({all_routing}) ;;
        esac
        compadd -S '' -- $valued
        compadd -- $plain
        return 0
    fi
    case ${{#pos}}:${{pos[1]}} in
        0:*) compadd -- {commands} ;;
        1:completions) compadd -- {shells} ;;
        2:sync) compadd -- {targets} ;;
        *) return 1 ;;
    esac
}}
if [[ ${{funcstack[1]}} == _vsync ]]; then
    _vsync "$@"
else
    compdef _vsync vsync
fi
"#,
        value_flags = w.value_flags().join("|"),
        valued = split(true),
        plain = split(false),
        all_routing = all_routing.join(" "),
        commands = COMMANDS.join(" "),
        shells = shell_names(),
        targets = w.target_names().join(" "),
    )
}

/// A fish single-quoted string.
fn fish_quote(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn fish(w: &Words) -> String {
    let mut s = format!(
        r#"# fish completion for vsync (generated by `vsync completions fish`)
# The words before the cursor that are not flags or flag values.
function __vsync_positionals
    set -l skip 0
    for word in (commandline -opc)[2..-1]
        if test $skip = 1
            set skip 0
            continue
        end
        switch $word
            case {value_flags}
                set skip 1
            case '-*'
            case '*'
                echo $word
        end
    end
end
# True if exactly $argv[1] positionals are typed and the first is $argv[2] (if given).
function __vsync_at
    set -l pos (__vsync_positionals)
    test (count $pos) -eq $argv[1]; or return 1
    test (count $argv) -lt 2; or test "$pos[1]" = $argv[2]
end
# True if the typed target is $argv[1], or no target is typed yet.
function __vsync_target
    set -l pos (__vsync_positionals)
    test (count $pos) -lt 3; or test "$pos[1]" = sync -a "$pos[3]" = $argv[1]
end
complete -c vsync -f
complete -c vsync -n '__vsync_at 0' -a '{commands}'
complete -c vsync -n '__vsync_at 1 completions' -a '{shells}'
complete -c vsync -n '__vsync_at 2 sync' -a '{targets}'
"#,
        value_flags = w.value_flags().join(" "),
        commands = COMMANDS.join(" "),
        shells = shell_names(),
        targets = w.target_names().join(" "),
    );
    for (name, flags) in &w.targets {
        for flag in flags {
            s.push_str(&format!(
                "complete -c vsync -n '__vsync_target {name}' -l {flag} -r -d {}\n",
                fish_quote(&format!("{name} routing"))
            ));
        }
    }
    for f in OTHER_FLAGS {
        let short = f.short.map(|c| format!(" -s {c}")).unwrap_or_default();
        let value = if f.takes_value { " -r" } else { "" };
        s.push_str(&format!(
            "complete -c vsync{short} -l {}{value} -d {}\n",
            f.long,
            fish_quote(f.help)
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `--flag` the help text names.
    fn usage_flags() -> std::collections::BTreeSet<String> {
        let text = crate::cli::USAGE;
        let mut flags = std::collections::BTreeSet::new();
        for (i, _) in text.match_indices("--") {
            let name: String = text[i + 2..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
                .collect();
            // `--name` is the prose's placeholder ("Flags take --name=value ..."), no flag.
            if !name.is_empty() && name != "name" {
                flags.insert(name);
            }
        }
        flags
    }

    #[test]
    fn the_flags_offered_are_exactly_the_flags_of_the_help_text() {
        let words = Words::new();
        let mut offered: std::collections::BTreeSet<String> =
            words.routing_flags().map(String::from).collect();
        offered.extend(OTHER_FLAGS.iter().map(|f| f.long.to_string()));
        assert_eq!(offered, usage_flags());
    }

    #[test]
    fn every_word_is_safe_unquoted_in_each_shell() {
        let words = Words::new();
        let all = COMMANDS
            .iter()
            .copied()
            .chain(words.target_names())
            .chain(words.routing_flags())
            .chain(OTHER_FLAGS.iter().map(|f| f.long))
            .chain(Shell::ALL.map(Shell::name));
        for word in all {
            assert!(
                !word.is_empty()
                    && word
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{word:?}"
            );
        }
    }

    #[test]
    fn each_script_names_every_target_and_its_routing_flags() {
        for shell in Shell::ALL {
            let text = script(shell);
            for target in REGISTRY {
                assert!(text.contains(target.name), "{shell:?}: {}", target.name);
                for field in target.settings {
                    assert!(text.contains(field.flag), "{shell:?}: {}", field.flag);
                }
            }
            for flag in OTHER_FLAGS {
                assert!(text.contains(flag.long), "{shell:?}: {}", flag.long);
            }
        }
    }

    #[test]
    fn shells_parse_by_name_only() {
        for shell in Shell::ALL {
            assert_eq!(Shell::parse(shell.name()), Some(shell));
        }
        assert_eq!(Shell::parse("powershell"), None);
        assert_eq!(Shell::parse("Bash"), None);
    }

    #[test]
    fn fish_strings_are_quoted() {
        assert_eq!(fish_quote(r"it's a\b"), r"'it\'s a\\b'");
    }
}
