//! The man page is generated from the `--help` text (`scripts/man` turns what `vsync --help`
//! prints into roff). These tests run the generator into a temp dir and check that the page is well-formed
//! roff (`groff -ww` silent, `man -l` renders it within 80 columns, when those tools exist)
//! and that it carries everything the help text says: every flag, every target, every example
//! command and every exit status.
//!
//! They do not judge the wording: that is the help text's, tested with the CLI.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const VSYNC: &str = env!("CARGO_BIN_EXE_vsync");
/// A fixed date, so two runs of the generator must give the same bytes.
const EPOCH: &str = "1767225600"; // 2026-01-01

/// What `vsync --help` prints: the source of the page.
fn help() -> String {
    let out = Command::new(VSYNC).arg("--help").output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `true` when the test can run; otherwise prints why, and fails under `CI`.
fn python_or_skip() -> bool {
    if have("python3") {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "python3 is needed to run scripts/man (CI is set, so this is a failure)"
    );
    println!("SKIP: python3 not found; scripts/man needs it");
    false
}

fn generate(dest: &Path) -> Output {
    Command::new(root().join("scripts/man"))
        .arg(dest)
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .env("VSYNC", VSYNC)
        .current_dir(root())
        .output()
        .expect("running scripts/man")
}

fn man_page() -> (tempfile::TempDir, PathBuf, String) {
    let tmp = tempfile::tempdir().unwrap();
    let page = tmp.path().join("vsync.1");
    let out = generate(&page);
    assert!(
        out.status.success(),
        "scripts/man failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&page).expect("scripts/man wrote the page");
    (tmp, page, text)
}

/// `--name` tokens of the help text, in order, without repeats.
fn long_flags(text: &str) -> Vec<String> {
    let mut flags: Vec<String> = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(at) = text[i..].find("--") {
        let start = i + at;
        let mut end = start + 2;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'-') {
            end += 1;
        }
        let flag = &text[start..end];
        if flag.len() > 2 && !flags.iter().any(|f| f == flag) {
            flags.push(flag.to_string());
        }
        i = end;
    }
    flags
}

/// The indented `vsync sync …` example lines of the help text.
fn example_commands(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| l.starts_with("vsync sync ") && !l.ends_with('\\'))
        .map(str::to_string)
        .collect()
}

/// roff source to the words a reader sees, for tools-less checks.
fn unroff(text: &str) -> String {
    let text: Vec<&str> = text
        .lines()
        .map(|l| l.strip_prefix(".B ").unwrap_or(l))
        .collect();
    text.join("\n")
        .replace("\\-", "-")
        .replace("\\fB", "")
        .replace("\\fI", "")
        .replace("\\fR", "")
        .replace("\\(em", "—")
        .replace("\\&", "")
        .replace("\\e", "\\")
}

/// Joins shell continuations (` \` + newline + indent) and collapses runs of blanks.
fn flatten(text: &str) -> String {
    let mut joined = text.replace("\\\n", " ");
    for dash in ['\u{2010}', '\u{2011}', '\u{2212}'] {
        joined = joined.replace(dash, "-");
    }
    joined.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn assert_carries_the_help_text(what: &str, text: &str) {
    let flat = flatten(text);
    for flag in long_flags(&help()) {
        assert!(flat.contains(&flag), "{what} lacks the flag {flag}");
    }
    for short in ["-h, --help", "-V, --version"] {
        assert!(flat.contains(short), "{what} lacks {short}");
    }
    for cmd in example_commands(&help()) {
        assert!(flat.contains(&cmd), "{what} lacks the example `{cmd}`");
    }
    for target in ["gh", "gcp", "aws", "azure", "vault"] {
        assert!(
            text.lines()
                .any(|l| l.split_whitespace().next() == Some(target)),
            "{what} has no paragraph for the target {target}"
        );
    }
    for cli in ["gh", "gcloud", "aws", "az", "vault"] {
        assert!(
            flat.contains(&format!("Runs {cli}, which must be on PATH")),
            "{what} does not name the CLI {cli}"
        );
    }
    for status in ["0 Every secret synced", "1 Usage, input", "130 Interrupted"] {
        assert!(
            flat.contains(status),
            "{what} lacks the exit status `{status}`"
        );
    }
}

#[test]
fn the_help_text_is_the_prose_of_usage_txt_with_its_sections_filled_in() {
    // `vsync --help` is usage.txt with each `{section}` line replaced by what the flag table
    // and the targets generate; the man page is generated from that text.
    let help = help();
    let prose = std::fs::read_to_string(root().join("src/usage.txt")).unwrap();
    let mut rest = help.as_str();
    for line in prose.lines() {
        if line.starts_with('{') {
            continue;
        }
        let at = rest
            .find(&format!("{line}\n"))
            .unwrap_or_else(|| panic!("--help lacks, in order, the line {line:?}"));
        rest = &rest[at + line.len() + 1..];
    }
    assert!(
        !help.contains("\n{"),
        "a section was not filled in:\n{help}"
    );
}

#[test]
fn the_page_has_a_title_line_and_the_sections_in_order() {
    if !python_or_skip() {
        return;
    }
    let (_tmp, _page, text) = man_page();
    assert!(
        text.is_ascii(),
        "the page must be ASCII roff (non-ASCII is escaped)"
    );
    let first_request = text
        .lines()
        .find(|l| !l.starts_with(".\\\""))
        .unwrap_or_default();
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        first_request,
        format!(".TH VSYNC 1 2026-01-01 \"vsync {version}\" \"User Commands\"")
    );
    let sections: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix(".SH "))
        .collect();
    // The standard sections, in this order; a new help-text section adds one of its own.
    let standard = [
        "NAME",
        "SYNOPSIS",
        "DESCRIPTION",
        "TARGETS",
        "OPTIONS",
        "EXAMPLES",
        "EXIT STATUS",
    ];
    let found: Vec<&str> = sections
        .iter()
        .copied()
        .filter(|s| standard.contains(s))
        .collect();
    assert_eq!(found, standard, "sections: {sections:?}");
    let mut unique = sections.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(
        unique.len(),
        sections.len(),
        "a section repeats: {sections:?}"
    );
    let name_line = text
        .lines()
        .skip_while(|l| *l != ".SH NAME")
        .nth(1)
        .unwrap();
    assert!(
        name_line.starts_with("vsync \\- push the secrets"),
        "{name_line}"
    );
    // Every .EX has its .EE, and nothing nests.
    let mut open = false;
    for l in text.lines() {
        match l {
            ".EX" => {
                assert!(!open, "nested .EX");
                open = true;
            }
            ".EE" => {
                assert!(open, ".EE without .EX");
                open = false;
            }
            _ => {}
        }
    }
    assert!(!open, "an .EX is never closed");
}

#[test]
fn the_page_source_carries_every_flag_target_example_and_exit_status() {
    if !python_or_skip() {
        return;
    }
    let (_tmp, _page, text) = man_page();
    assert_carries_the_help_text("the roff source", &unroff(&text));
}

#[test]
fn groff_formats_the_page_without_a_warning() {
    if !python_or_skip() {
        return;
    }
    if !have("groff") {
        println!("SKIP: groff not found; the structural checks still ran");
        return;
    }
    let (_tmp, page, _text) = man_page();
    let out = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-z"])
        .arg(&page)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stderr), "", "groff warnings");
}

#[test]
fn man_renders_every_flag_within_80_columns() {
    if !python_or_skip() {
        return;
    }
    if !have("man") {
        println!("SKIP: man not found; the structural checks still ran");
        return;
    }
    let (_tmp, page, _text) = man_page();
    let out = Command::new("man")
        .arg("-l")
        .arg(&page)
        .env("MANWIDTH", "80")
        .env("LANG", "C.UTF-8")
        .env_remove("MAN_KEEP_FORMATTING")
        .env_remove("MANPAGER")
        .env_remove("PAGER")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "man -l failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Strip any overstrike a man without col(1) leaves (`x\bx`, `_\bx`).
    let raw = String::from_utf8_lossy(&out.stdout);
    let mut rendered = String::new();
    for c in raw.chars() {
        if c == '\u{8}' {
            rendered.pop();
        } else {
            rendered.push(c);
        }
    }
    assert!(rendered.contains("VSYNC(1)"), "{rendered}");
    for l in rendered.lines() {
        assert!(l.chars().count() <= 80, "wider than 80 columns: {l:?}");
    }
    assert_carries_the_help_text("the rendered page", &rendered);
}

#[test]
fn the_generator_is_deterministic_and_can_write_to_stdout() {
    if !python_or_skip() {
        return;
    }
    let (_tmp, _page, first) = man_page();
    let (_tmp2, _page2, second) = man_page();
    assert_eq!(first, second);
    let out = Command::new(root().join("scripts/man"))
        .arg("-")
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .env("VSYNC", VSYNC)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), first);
}
