//! `vsync completions <shell>`, run in the shells themselves: bash completion is driven
//! through `COMP_WORDS`/`COMP_CWORD` as bash sets them, fish through `complete -C`, and zsh
//! (whose completion system needs a terminal) is syntax-checked and loaded. A missing bash,
//! zsh or fish prints `SKIP:` — unless `CI` is set, where they must run.

use std::process::Command;

const VSYNC: &str = env!("CARGO_BIN_EXE_vsync");
const TARGETS: [&str; 6] = ["gh", "gcp", "aws", "azure", "vault", "ssm"];

fn script(shell: &str) -> String {
    let out = Command::new(VSYNC)
        .args(["completions", shell])
        .output()
        .expect("running vsync");
    assert!(out.status.success(), "{out:?}");
    assert!(out.stderr.is_empty(), "{out:?}");
    String::from_utf8(out.stdout).expect("utf-8")
}

/// The shell, or None (a SKIP) when it is not installed and `CI` is unset.
fn shell(name: &str) -> Option<&str> {
    if Command::new(name).arg("-c").arg("exit 0").output().is_ok() {
        return Some(name);
    }
    if std::env::var_os("CI").is_some() {
        panic!("CI is set, so this test must run, but {name} is not installed");
    }
    println!("SKIP: {name} is not installed");
    None
}

fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What bash completion offers for `words`, the cursor on the last one (as bash splits the
/// line: `--flag=value` is three words).
fn bash_offers(file: &std::path::Path, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words
        .iter()
        .map(|w| format!("'{}'", w.replace('\'', r"'\''")))
        .collect();
    let program = format!(
        "source '{}' || exit 1\n\
         COMP_WORDS=({}); COMP_CWORD={}; COMP_LINE=\"${{COMP_WORDS[*]}}\"\n\
         _vsync vsync 2>/dev/null\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        file.display(),
        quoted.join(" "),
        words.len() - 1
    );
    let mut got: Vec<String> = run("bash", &["--norc", "--noprofile", "-c", &program])
        .lines()
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    got.sort();
    got
}

fn sorted(words: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = words.iter().map(|w| w.to_string()).collect();
    v.sort();
    v
}

#[test]
fn bash_completes_commands_targets_and_each_targets_routing_flags() {
    let Some(_) = shell("bash") else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("vsync.bash");
    std::fs::write(&file, script("bash")).unwrap();
    run("bash", &["-n", file.to_str().unwrap()]);

    assert_eq!(
        bash_offers(&file, &["vsync", ""]),
        sorted(&["completions", "sync"])
    );
    assert_eq!(
        bash_offers(&file, &["vsync", "completions", ""]),
        sorted(&["bash", "fish", "zsh"])
    );
    assert_eq!(
        bash_offers(&file, &["vsync", "sync", "dev", ""]),
        sorted(&TARGETS)
    );
    assert_eq!(
        bash_offers(&file, &["vsync", "sync", "dev", "g"]),
        sorted(&["gcp", "gh"])
    );
    assert_eq!(
        bash_offers(&file, &["vsync", "sync", ""]),
        Vec::<String>::new()
    );
    // Flags and flag values between the positionals are not positionals.
    for words in [
        &["vsync", "sync", "--dry-run", "dev", ""][..],
        &["vsync", "--repo", "acme", "sync", "dev", ""],
        &["vsync", "sync", "--repo", "=", "acme", "dev", ""],
    ] {
        assert_eq!(bash_offers(&file, words), sorted(&TARGETS), "{words:?}");
    }
    assert_eq!(
        bash_offers(&file, &["vsync", "sync", "dev", "gh", "--gh"]),
        ["--gh-repo="]
    );
    let aws = bash_offers(&file, &["vsync", "sync", "dev", "aws", "--"]);
    for flag in [
        "--aws-region=",
        "--aws-secret-prefix=",
        "--inline-file-suffix=",
        "--exclude-property=",
        "--repo=",
        "--dry-run",
        "--workers=",
        "--timeout=",
        "--deadline=",
        "--help",
        "--version",
    ] {
        assert!(aws.contains(&flag.to_string()), "{flag} not in {aws:?}");
    }
    assert!(!aws.contains(&"--gh-repo=".to_string()), "{aws:?}");
    // Before the target is typed, every routing flag.
    let early = bash_offers(&file, &["vsync", "sync", "dev", "--"]);
    for flag in ["--gh-repo=", "--vault-path=", "--azure-vault="] {
        assert!(early.contains(&flag.to_string()), "{flag} not in {early:?}");
    }
    // On a flag's value: nothing.
    assert!(bash_offers(&file, &["vsync", "sync", "dev", "gh", "--gh-repo", ""]).is_empty());
    assert!(bash_offers(&file, &["vsync", "sync", "dev", "gh", "--gh-repo", "=", ""]).is_empty());
    assert_eq!(
        bash_offers(
            &file,
            &["vsync", "sync", "dev", "gh", "--gh-repo", "=", "a/b", "--d"]
        ),
        ["--deadline=", "--diff", "--dry-run"]
    );
}

#[test]
fn fish_completes_targets_and_each_targets_routing_flags() {
    let Some(fish) = shell("fish") else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("vsync.fish");
    std::fs::write(&file, script("fish")).unwrap();
    run(fish, &["--no-execute", file.to_str().unwrap()]);
    let offers = |line: &str| -> Vec<String> {
        let program = format!("source '{}'; complete -C '{line}'", file.display());
        let mut got: Vec<String> = run(fish, &["--no-config", "-c", &program])
            .lines()
            .map(|l| l.split('\t').next().unwrap_or("").to_string())
            .collect();
        got.sort();
        got
    };
    assert_eq!(offers("vsync "), sorted(&["completions", "sync"]));
    assert_eq!(offers("vsync sync dev "), sorted(&TARGETS));
    assert_eq!(offers("vsync sync --repo acme dev "), sorted(&TARGETS));
    assert_eq!(offers("vsync sync dev gh --gh"), ["--gh-repo"]);
    let aws = offers("vsync sync dev aws --");
    assert!(aws.contains(&"--aws-secret-prefix".to_string()), "{aws:?}");
    assert!(aws.contains(&"--dry-run".to_string()), "{aws:?}");
    assert!(!aws.contains(&"--gh-repo".to_string()), "{aws:?}");
}

#[test]
fn zsh_script_parses_and_registers_its_function() {
    let Some(zsh) = shell("zsh") else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("_vsync");
    let text = script("zsh");
    assert!(text.starts_with("#compdef vsync\n"), "{text}");
    std::fs::write(&file, &text).unwrap();
    run(zsh, &["-n", file.to_str().unwrap()]);
    // Sourced outside the completion system, it registers itself with compdef.
    let program = format!(
        "compdef() {{ print -r -- \"compdef $*\"; }}; source '{}'; whence -w _vsync",
        file.display()
    );
    let out = run(zsh, &["-f", "-c", &program]);
    assert_eq!(out, "compdef _vsync vsync\n_vsync: function\n");
    for target in TARGETS {
        assert!(text.contains(&format!("sync:{target})")), "{target}");
    }
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    let out = Command::new(VSYNC)
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("vsync: error: unknown shell 'tcsh' (expected bash, zsh or fish)\n"),
        "{err}"
    );
}
