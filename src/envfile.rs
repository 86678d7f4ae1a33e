//! The `.env.<env>` parser: turns the env file plus the parser policy into the list of
//! secrets to push (v0.6/v0.7 rules of `background.md` §2, with D3 for duplicates and the BOM).
//!
//! It owns: line syntax, quotes, placeholders (`${VAULT_ROOT}`, `${HOME}`, a leading `~/`),
//! `--exclude-property`, `--inline-file-suffix` references and their all-or-none reading,
//! and resolving duplicate keys (last definition wins).
//!
//! It deliberately does not: validate key names or values (per target, in pre-flight, D2),
//! treat an empty result as an error (the caller prints `no secrets to sync from …`), or look
//! at the environment (the home directory is passed in, `None` when there is none).
//!
//! It knows the target for two things only: which keys name the same secret there (GitHub
//! and Azure ignore case), and how many bytes of a referenced file are worth reading (one
//! past the target's value limit, so pre-flight can still say the file is too long).
//!
//! The work is split in two: [`parse_tasks`] is pure (text in, tasks out, file references
//! left unread), and [`load_env_file`] is the thin shell that reads the env file and then the
//! referenced files.
//!
//! Memory: at 10,000 keys the parse used to be vsync's peak (issue 5). So the tasks are built
//! once, in a vector sized by a first pass over the lines, duplicates are dropped in place, and
//! a file reference is a task whose value is filled in later: no second per-key collection.

use crate::targets::Kind;
use crate::task::{SecretTask, Source};
use std::borrow::Cow;
use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

/// The parser policy of one invocation (v0.7): no defaults, both lists as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    pub inline_file_suffixes: Vec<String>,
    pub exclude_properties: Vec<String>,
}

#[derive(Debug, Default)]
pub struct ParsedEnv {
    /// In file order, duplicates already resolved (last definition wins).
    pub tasks: Vec<SecretTask>,
    /// Raw keys skipped by `--exclude-property`, file order, each once.
    pub skipped: Vec<String>,
    /// Human-readable warnings for stderr (duplicate keys, …), without values.
    pub warnings: Vec<String>,
}

/// Reads and parses the env file at `path` (absolute; its directory is VAULT_ROOT), then reads
/// every file reference.
///
/// All-or-none: if any referenced file cannot be read, the result is one error listing every
/// bad key, and no task at all. Only the files of definitions that win (D3) are read: an
/// overridden line is never pushed, so a stale path in it must not abort the run — the
/// duplicate warning already points at it.
///
/// `home` is `None` when there is no home directory; then a value using `~/` or `${HOME}` is
/// an error rather than a path at the filesystem root.
pub fn load_env_file(
    path: &Path,
    policy: &Policy,
    home: Option<&Path>,
    target: &Kind,
) -> anyhow::Result<ParsedEnv> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            anyhow::bail!(".env file not found: {}", path.display())
        }
        Err(e) => {
            return Err(anyhow::Error::new(e).context(format!("reading {}", path.display())));
        }
    };
    let text = match decode(&bytes) {
        Ok(text) => text,
        Err(line) => anyhow::bail!("{}:{line}: not valid UTF-8", path.display()),
    };
    let vault_root = path.parent().unwrap_or(Path::new(""));
    let mut parsed =
        parse_tasks(text, policy, vault_root, home, target).map_err(anyhow::Error::msg)?;
    // The tasks own copies of what they need; the file text is not held through the run.
    drop(bytes);

    let limit = target.value_limit();
    let mut problems = Vec::new();
    for task in &mut parsed.tasks {
        if let Source::File(file) = &task.source {
            match read_reference(&file.path, limit) {
                Ok(bytes) => task.value = bytes,
                Err(e) => problems.push(describe_read_error(&file.written_as, &file.path, &e)),
            }
        }
    }
    if !problems.is_empty() {
        anyhow::bail!(
            "parseEnvFile: aborting sync — {} file reference(s) could not be resolved:\n{}",
            problems.len(),
            problems.join("\n")
        );
    }
    Ok(parsed)
}

/// A referenced file's contents, at most `limit + 1` bytes: enough for pre-flight to see a
/// file is over the target's limit without reading (or waiting for) the rest.
///
/// Only a regular file (or a symlink to one) is read. A FIFO would block forever and a device
/// like `/dev/zero` never ends, so the file is opened without blocking (`O_NONBLOCK`, which
/// changes nothing for a regular file) and without becoming a controlling terminal, and the
/// *open* file is checked, so a path swapped after the check cannot slip through.
fn read_reference(path: &Path, limit: usize) -> io::Result<Vec<u8>> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let kind = file.metadata()?.file_type();
    if !kind.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("not a regular file (it is {})", file_kind(kind)),
        ));
    }
    read_at_most(file, limit)
}

fn read_at_most(file: File, limit: usize) -> io::Result<Vec<u8>> {
    let cap = limit.saturating_add(1);
    let len = file.metadata()?.len();
    let mut value = Vec::with_capacity(usize::try_from(len).unwrap_or(cap).min(cap));
    file.take(cap as u64).read_to_end(&mut value)?;
    Ok(value)
}

fn file_kind(kind: std::fs::FileType) -> &'static str {
    if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a named pipe"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a file"
    }
}

/// One line of the aggregated file-reference error (v0.6 wording, kept byte for byte).
fn describe_read_error(raw_key: &str, file: &Path, e: &io::Error) -> String {
    if e.kind() == io::ErrorKind::NotFound {
        format!(
            "  - {}: file not found at {}",
            shown_key(raw_key),
            file.display()
        )
    } else {
        format!(
            "  - {}: error reading {}: {e}",
            shown_key(raw_key),
            file.display()
        )
    }
}

/// Strips a leading UTF-8 BOM (D3: editors on Windows add one, and it would otherwise glue
/// itself to the first key) and checks the rest is UTF-8. The error is the 1-based line of the
/// first bad byte, so the user can find it.
fn decode(bytes: &[u8]) -> Result<&str, usize> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|e| {
        let before = &bytes[..e.valid_up_to()];
        before.iter().filter(|&&b| b == b'\n').count() + 1
    })
}

/// The pure core: every rule of §2 except reading files, plus D3's duplicate resolution.
///
/// A file reference comes out as a task with an empty value and `Source::File`, its path
/// resolved against VAULT_ROOT / home but not read. The error lists the lines that need a
/// home directory when there is none.
fn parse_tasks(
    text: &str,
    policy: &Policy,
    vault_root: &Path,
    home: Option<&Path>,
    target: &Kind,
) -> Result<ParsedEnv, String> {
    let definitions = text.split('\n').filter_map(definition);
    let mut parsed = ParsedEnv {
        tasks: Vec::with_capacity(definitions.count()),
        ..ParsedEnv::default()
    };
    let mut homeless = Vec::new();
    for (index, line) in text.split('\n').enumerate() {
        let Some((raw_key, raw_value)) = definition(line) else {
            continue;
        };
        if policy.exclude_properties.iter().any(|ex| ex == raw_key) {
            if !parsed.skipped.iter().any(|s| s == raw_key) {
                parsed.skipped.push(raw_key.to_owned());
            }
            continue;
        }
        let Some(expanded) = expand(unquote(raw_value), vault_root, home) else {
            homeless.push(format!("line {} ({})", index + 1, shown_key(raw_key)));
            continue;
        };
        let (key, value, source) = match file_reference_stem(raw_key, &policy.inline_file_suffixes)
        {
            Some(stem) => (
                stem,
                Vec::new(),
                Source::file(resolve(expanded, vault_root), raw_key),
            ),
            None => (raw_key, expanded.into_encoded_bytes(), Source::Literal),
        };
        parsed.tasks.push(SecretTask {
            key: key.to_owned(),
            value,
            source,
            line: index + 1,
        });
    }
    if !homeless.is_empty() {
        return Err(format!(
            "HOME is not set and this account has no home directory on record, but {} \
             use ~/ or ${{HOME}}; set HOME and run again",
            join_and(&homeless)
        ));
    }
    parsed.warnings = resolve_duplicates(&mut parsed.tasks, target);
    Ok(parsed)
}

/// The trimmed key and value of a `KEY=value` line; `None` for blank lines, comments and
/// lines without `=`.
fn definition(line: &str) -> Option<(&str, &str)> {
    let line = line.trim_ascii();
    if line.starts_with('#') {
        return None;
    }
    let (key, value) = line.split_once('=')?;
    Some((key.trim_ascii(), value.trim_ascii()))
}

/// Removes one pair of matching surrounding quotes; anything else (a lone `"`, `"…'`) is value.
fn unquote(value: &str) -> &str {
    let bytes = value.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(&first @ (b'"' | b'\'')), Some(&last)) if bytes.len() >= 2 && first == last => {
            &value[1..value.len() - 1]
        }
        _ => value,
    }
}

/// Expands the placeholders once, left to right. Inserted text is pushed to the output and
/// never scanned again, so a `$HOME` that itself contains `${VAULT_ROOT}` stays as it is.
///
/// The result is an `OsString` so a non-UTF-8 home or vault directory survives intact, both as
/// a path and as the bytes of a literal value. It is sized for the common case, a value
/// without placeholders, so that one is stored without slack.
///
/// `None` when the value uses the home directory and there is none: expanding to an empty
/// home would silently turn `~/x` into `/x`.
fn expand(value: &str, vault_root: &Path, home: Option<&Path>) -> Option<OsString> {
    let placeholders: [(&str, Option<&Path>); 2] =
        [("${VAULT_ROOT}", Some(vault_root)), ("${HOME}", home)];
    let mut out = OsString::with_capacity(value.len());
    let mut rest = value;
    if let Some(after) = rest.strip_prefix("~/") {
        out.push(home?);
        out.push("/");
        rest = after;
    }
    while let Some(at) = rest.find("${") {
        out.push(&rest[..at]);
        rest = &rest[at..];
        match placeholders.iter().find(|(name, _)| rest.starts_with(name)) {
            Some((name, replacement)) => {
                out.push((*replacement)?);
                rest = &rest[name.len()..];
            }
            None => {
                out.push("${");
                rest = &rest["${".len()..];
            }
        }
    }
    out.push(rest);
    Some(out)
}

/// The stem of `raw_key` under the first suffix that leaves a non-empty one.
///
/// An empty suffix never matches: it would turn every key into a file reference, which is
/// never what a `--inline-file-suffix=` typo means (the CLI should reject it outright).
fn file_reference_stem<'k>(raw_key: &'k str, suffixes: &[String]) -> Option<&'k str> {
    suffixes
        .iter()
        .filter(|suffix| !suffix.is_empty())
        .filter_map(|suffix| raw_key.strip_suffix(suffix.as_str()))
        .find(|stem| !stem.is_empty())
}

/// Absolute paths (after expansion) pass through; anything else is relative to VAULT_ROOT.
/// `.` components are dropped so `./keys/x` reports as `<root>/keys/x`; `..` is kept, since
/// folding it is only correct without symlinks.
fn resolve(expanded: OsString, vault_root: &Path) -> PathBuf {
    let path = PathBuf::from(expanded);
    if path.is_absolute() {
        return path;
    }
    let relative: PathBuf = path
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect();
    vault_root.join(relative)
}

/// D3: two definitions of one secret would race in the worker pool, so only the last one is
/// kept, at its own position. One warning per secret, ordered by its first definition, naming
/// every line (and the raw key of each line when they differ, e.g. `FOO` vs `FOO_PATH`, or
/// `api_key` vs `API_KEY` on a target that ignores case).
///
/// Repeats are found by sorting indices by the target's name identity (stable, so each
/// secret's definitions stay in file order) rather than with a hash table: a few bytes per
/// key instead of a table of them. The identity borrows the key where case matters.
fn resolve_duplicates(tasks: &mut Vec<SecretTask>, target: &Kind) -> Vec<String> {
    let ids: Vec<Cow<str>> = tasks.iter().map(|t| target.name_identity(&t.key)).collect();
    let mut order: Vec<usize> = (0..tasks.len()).collect();
    order.sort_by(|&a, &b| ids[a].cmp(&ids[b]));
    let mut overridden = vec![false; tasks.len()];
    // (first definition, warning), put in file order below.
    let mut warnings = Vec::new();
    for group in order.chunk_by(|&a, &b| ids[a] == ids[b]) {
        if group.len() < 2 {
            continue;
        }
        let lines: Vec<(usize, &str)> = group
            .iter()
            .map(|&i| (tasks[i].line, tasks[i].written_as()))
            .collect();
        if let Some(warning) = duplicate_warning(&tasks[group[0]].key, &lines) {
            warnings.push((group[0], warning));
        }
        // Every definition but the last (the winner).
        for &i in &group[..group.len() - 1] {
            overridden[i] = true;
        }
    }
    drop(ids);
    warnings.sort_unstable_by_key(|(first, _)| *first);
    // `retain` visits the tasks once each, in order.
    let mut overridden = overridden.into_iter();
    tasks.retain(|_| !overridden.next().expect("one flag a task"));
    warnings.into_iter().map(|(_, w)| w).collect()
}

fn duplicate_warning(key: &str, lines: &[(usize, &str)]) -> Option<String> {
    if lines.len() < 2 {
        return None;
    }
    let last = lines[lines.len() - 1].0;
    let same_raw_key = lines.iter().all(|(_, raw)| *raw == key);
    let list = if same_raw_key {
        let numbers: Vec<String> = lines.iter().map(|(n, _)| n.to_string()).collect();
        format!("lines {}", join_and(&numbers))
    } else {
        let each: Vec<String> = lines
            .iter()
            .map(|(n, raw)| format!("line {n} as {}", shown_key(raw)))
            .collect();
        join_and(&each)
    };
    Some(format!(
        "{} is defined more than once ({list}); the value from line {last} is pushed",
        shown_key(key)
    ))
}

/// `=x` yields an empty key; a warning that starts with " is defined…" would read as garbage.
fn shown_key(key: &str) -> std::borrow::Cow<'_, str> {
    if key.is_empty() {
        "(empty key)".into()
    } else {
        crate::report::shown_key(key)
    }
}

/// `a`, `a and b`, `a, b and c`.
fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [only] => only.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::{aws, azure, gcp, gh, vault};
    use proptest::prelude::*;
    use std::fs;
    use tempfile::TempDir;

    /// The shape the rule tests below were written against: the pure core's tasks, with a
    /// file reference shown as its resolved path.
    #[derive(Debug, Default)]
    struct Parsed {
        entries: Vec<Entry>,
        skipped: Vec<String>,
    }

    #[derive(Debug)]
    struct Entry {
        key: String,
        line: usize,
        value: Value,
    }

    #[derive(Debug, PartialEq, Eq)]
    enum Value {
        Literal(Vec<u8>),
        File(PathBuf),
    }

    fn parse_text(text: &str, policy: &Policy, vault_root: &Path, home: &Path) -> Parsed {
        let parsed = parse_tasks(text, policy, vault_root, Some(home), &vault::KIND).unwrap();
        let entries = parsed
            .tasks
            .into_iter()
            .map(|t| Entry {
                key: t.key,
                line: t.line,
                value: match t.source {
                    Source::Literal => Value::Literal(t.value),
                    Source::File(file) => Value::File(file.path),
                },
            })
            .collect();
        Parsed {
            entries,
            skipped: parsed.skipped,
        }
    }

    /// A vault directory `<tmp>/vault/dev` holding `.env.dev`, and a separate home `<tmp>/home`.
    struct Fixture {
        _tmp: TempDir,
        vault: PathBuf,
        home: PathBuf,
    }

    impl Fixture {
        fn new() -> Fixture {
            let tmp = tempfile::tempdir().unwrap();
            let vault = tmp.path().join("vault").join("dev");
            let home = tmp.path().join("home");
            fs::create_dir_all(&vault).unwrap();
            fs::create_dir_all(&home).unwrap();
            Fixture {
                _tmp: tmp,
                vault,
                home,
            }
        }

        fn env_path(&self) -> PathBuf {
            self.vault.join(".env.dev")
        }

        fn file(&self, relative: &str, contents: &[u8]) -> PathBuf {
            let path = self.vault.join(relative);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, contents).unwrap();
            path
        }

        fn load(&self, env: &[u8], policy: &Policy) -> anyhow::Result<ParsedEnv> {
            self.load_for(env, policy, &gcp::KIND)
        }

        fn load_for(
            &self,
            env: &[u8],
            policy: &Policy,
            target: &Kind,
        ) -> anyhow::Result<ParsedEnv> {
            fs::write(self.env_path(), env).unwrap();
            load_env_file(&self.env_path(), policy, Some(&self.home), target)
        }

        fn ok(&self, env: &str, policy: &Policy) -> ParsedEnv {
            self.load(env.as_bytes(), policy).unwrap()
        }

        fn err(&self, env: &str, policy: &Policy) -> String {
            format!("{:#}", self.load(env.as_bytes(), policy).unwrap_err())
        }
    }

    fn policy(suffixes: &[&str], excludes: &[&str]) -> Policy {
        Policy {
            inline_file_suffixes: suffixes.iter().map(|s| s.to_string()).collect(),
            exclude_properties: excludes.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn no_policy() -> Policy {
        Policy::default()
    }

    /// Key/value pairs as strings, for compact assertions on literal values.
    fn pairs(parsed: &ParsedEnv) -> Vec<(String, String)> {
        parsed
            .tasks
            .iter()
            .map(|t| (t.key.clone(), String::from_utf8(t.value.clone()).unwrap()))
            .collect()
    }

    fn kv(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The single value of a one-line env file, parsed with the pure core.
    fn value_of(line: &str, vault_root: &str, home: &str) -> Vec<u8> {
        let parsed = parse_text(line, &no_policy(), Path::new(vault_root), Path::new(home));
        assert_eq!(parsed.entries.len(), 1, "{line:?}");
        match &parsed.entries[0].value {
            Value::Literal(bytes) => bytes.clone(),
            Value::File(path) => panic!("unexpected file reference {path:?}"),
        }
    }

    fn literal(line: &str) -> String {
        String::from_utf8(value_of(line, "/vault", "/home/u")).unwrap()
    }

    /// The resolved path of a one-line `X_PATH=…` reference, parsed with the pure core.
    fn reference(value: &str) -> PathBuf {
        let text = format!("X_PATH={value}");
        let parsed = parse_text(
            &text,
            &policy(&["_PATH"], &[]),
            Path::new("/repo/infra/vault/dev"),
            Path::new("/home/u"),
        );
        match &parsed.entries[0].value {
            Value::File(path) => path.clone(),
            Value::Literal(_) => panic!("expected a file reference"),
        }
    }

    // --- line syntax ---

    #[test]
    fn comments_and_blank_lines_are_skipped() {
        let fx = Fixture::new();
        let parsed = fx.ok(
            "# a comment\n\n   \n  # indented comment\nA=1\n",
            &no_policy(),
        );
        assert_eq!(pairs(&parsed), kv(&[("A", "1")]));
    }

    #[test]
    fn a_line_without_an_equals_sign_is_ignored() {
        let fx = Fixture::new();
        let parsed = fx.ok("JUST_A_WORD\nA=1\nexport\n", &no_policy());
        assert_eq!(pairs(&parsed), kv(&[("A", "1")]));
    }

    #[test]
    fn the_first_equals_sign_splits_key_and_value() {
        let fx = Fixture::new();
        let parsed = fx.ok("URL=postgres://h/db?a=b&c==d\n", &no_policy());
        assert_eq!(pairs(&parsed), kv(&[("URL", "postgres://h/db?a=b&c==d")]));
    }

    #[test]
    fn key_and_value_are_trimmed() {
        let fx = Fixture::new();
        let parsed = fx.ok("  \tKEY \t=  some value \t \n", &no_policy());
        assert_eq!(pairs(&parsed), kv(&[("KEY", "some value")]));
    }

    #[test]
    fn an_empty_value_is_an_empty_literal() {
        assert_eq!(literal("A="), "");
        assert_eq!(literal("A=   "), "");
        assert_eq!(literal("A=\"\""), "");
    }

    #[test]
    fn a_hash_after_the_value_is_part_of_the_value() {
        assert_eq!(literal("A=abc # not a comment"), "abc # not a comment");
    }

    #[test]
    fn double_quotes_around_the_value_are_removed() {
        assert_eq!(literal("A=\"hello world\""), "hello world");
    }

    #[test]
    fn single_quotes_around_the_value_are_removed() {
        assert_eq!(literal("A='hello world'"), "hello world");
    }

    #[test]
    fn whitespace_inside_quotes_is_kept() {
        assert_eq!(literal("A=  \"  padded  \"  "), "  padded  ");
    }

    #[test]
    fn only_one_pair_of_quotes_is_removed() {
        assert_eq!(literal("A=\"\"x\"\""), "\"x\"");
        assert_eq!(literal("A='\"x\"'"), "\"x\"");
    }

    #[test]
    fn mismatched_quotes_are_kept() {
        assert_eq!(literal("A=\"x'"), "\"x'");
        assert_eq!(literal("A='x\""), "'x\"");
        assert_eq!(literal("A=\"x"), "\"x");
        assert_eq!(literal("A=x\""), "x\"");
    }

    #[test]
    fn a_lone_quote_character_is_kept() {
        assert_eq!(literal("A=\""), "\"");
        assert_eq!(literal("A='"), "'");
    }

    #[test]
    fn backslashes_are_not_escapes() {
        assert_eq!(literal(r#"A="a\nb\"""#), r#"a\nb\""#);
    }

    #[test]
    fn crlf_line_endings_are_stripped() {
        let fx = Fixture::new();
        let parsed = fx.ok("A=1\r\nB=\"two\"\r\n\r\n# c\r\nC=3", &no_policy());
        assert_eq!(pairs(&parsed), kv(&[("A", "1"), ("B", "two"), ("C", "3")]));
    }

    #[test]
    fn a_leading_bom_is_ignored() {
        let fx = Fixture::new();
        let parsed = fx.load(b"\xEF\xBB\xBFA=1\nB=2\n", &no_policy()).unwrap();
        assert_eq!(pairs(&parsed), kv(&[("A", "1"), ("B", "2")]));
    }

    #[test]
    fn a_bom_is_only_stripped_at_the_start_of_the_file() {
        let fx = Fixture::new();
        let parsed = fx.load(b"A=1\n\xEF\xBB\xBFB=2\n", &no_policy()).unwrap();
        assert_eq!(pairs(&parsed), kv(&[("A", "1"), ("\u{FEFF}B", "2")]));
    }

    #[test]
    fn a_key_with_whitespace_is_kept_as_written() {
        let fx = Fixture::new();
        let parsed = fx.ok("export FOO=1\n", &no_policy());
        assert_eq!(pairs(&parsed), kv(&[("export FOO", "1")]));
    }

    #[test]
    fn an_empty_key_becomes_a_task_with_an_empty_key() {
        let fx = Fixture::new();
        let parsed = fx.ok("=x\n", &no_policy());
        assert_eq!(pairs(&parsed), kv(&[("", "x")]));
    }

    #[test]
    fn line_numbers_count_every_line_of_the_file() {
        let fx = Fixture::new();
        let parsed = fx.ok("# c\n\nA=1\nnoise\r\nB=2\n", &no_policy());
        let lines: Vec<usize> = parsed.tasks.iter().map(|t| t.line).collect();
        assert_eq!(lines, [3, 5]);
        assert!(parsed.tasks.iter().all(|t| t.source == Source::Literal));
    }

    // --- the env file itself ---

    #[test]
    fn a_missing_env_file_is_an_error_with_the_exact_text() {
        let fx = Fixture::new();
        let err =
            load_env_file(&fx.env_path(), &no_policy(), Some(&fx.home), &gh::KIND).unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            format!(".env file not found: {}", fx.env_path().display())
        );
    }

    #[test]
    fn text_that_is_not_utf8_is_an_error_naming_the_file_and_line() {
        let fx = Fixture::new();
        let err = fx
            .load(b"A=1\r\n# ok\nB=caf\xE9\nC=3\n", &no_policy())
            .unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            format!("{}:3: not valid UTF-8", fx.env_path().display())
        );
    }

    #[test]
    fn an_env_file_with_only_comments_gives_no_tasks() {
        let fx = Fixture::new();
        let parsed = fx.ok("# nothing\n\n", &no_policy());
        assert!(parsed.tasks.is_empty() && parsed.skipped.is_empty());
    }

    // --- placeholders in plain values ---

    #[test]
    fn the_vault_root_placeholder_is_expanded_in_plain_values() {
        assert_eq!(
            literal("A=${VAULT_ROOT}/x:${VAULT_ROOT}"),
            "/vault/x:/vault"
        );
    }

    #[test]
    fn the_home_placeholder_is_expanded_in_plain_values() {
        assert_eq!(literal("A=pre-${HOME}-post"), "pre-/home/u-post");
    }

    #[test]
    fn a_leading_tilde_slash_is_expanded() {
        assert_eq!(literal("A=~/x/y"), "/home/u/x/y");
        assert_eq!(literal("A=\"~/quoted\""), "/home/u/quoted");
    }

    #[test]
    fn a_tilde_slash_that_is_not_leading_is_literal() {
        assert_eq!(literal("A=a:~/x"), "a:~/x");
        assert_eq!(literal("A= x~/"), "x~/");
    }

    #[test]
    fn a_bare_tilde_is_literal() {
        assert_eq!(literal("A=~"), "~");
        assert_eq!(literal("A=~user/x"), "~user/x");
    }

    #[test]
    fn a_dollar_variable_without_braces_is_literal() {
        assert_eq!(literal("A=$HOME/x $VAULT_ROOT"), "$HOME/x $VAULT_ROOT");
    }

    #[test]
    fn unknown_or_unclosed_braced_placeholders_are_literal() {
        assert_eq!(literal("A=${USER}"), "${USER}");
        assert_eq!(literal("A=${HOME"), "${HOME");
        assert_eq!(literal("A=$${HOME}"), "$/home/u");
        assert_eq!(literal("A=${"), "${");
    }

    #[test]
    fn inserted_text_is_never_expanded_again() {
        let value = value_of(
            "A=~/${HOME}|${VAULT_ROOT}",
            "/v/${HOME}",
            "/h/${VAULT_ROOT}",
        );
        assert_eq!(value, b"/h/${VAULT_ROOT}//h/${VAULT_ROOT}|/v/${HOME}");
    }

    #[cfg(unix)]
    #[test]
    fn a_home_that_is_not_utf8_is_inserted_byte_for_byte() {
        use std::os::unix::ffi::OsStrExt;
        let home = Path::new(std::ffi::OsStr::from_bytes(b"/h\xFF"));
        let parsed = parse_text("A=${HOME}/x", &no_policy(), Path::new("/v"), home);
        assert_eq!(
            parsed.entries[0].value,
            Value::Literal(b"/h\xFF/x".to_vec())
        );
    }

    // --- file references ---

    #[test]
    fn without_suffixes_a_path_key_is_pushed_literally() {
        let fx = Fixture::new();
        fx.file("keys/foo", b"secret");
        let parsed = fx.ok("FOO_PATH=keys/foo\n", &no_policy());
        assert_eq!(pairs(&parsed), kv(&[("FOO_PATH", "keys/foo")]));
        assert_eq!(parsed.tasks[0].source, Source::Literal);
    }

    #[test]
    fn a_custom_suffix_makes_a_file_reference() {
        let fx = Fixture::new();
        let file = fx.file("keys/deploy", b"key bytes");
        let parsed = fx.ok("DEPLOY__REF=keys/deploy\n", &policy(&["__REF"], &[]));
        assert_eq!(pairs(&parsed), kv(&[("DEPLOY", "key bytes")]));
        assert_eq!(parsed.tasks[0].source, Source::file(file, "DEPLOY__REF"));
        assert_eq!(parsed.tasks[0].line, 1);
    }

    #[test]
    fn the_first_matching_suffix_wins() {
        let fx = Fixture::new();
        fx.file("k", b"contents");
        let parsed = fx.ok("A_KEY_PATH=k\n", &policy(&["_PATH", "_KEY_PATH"], &[]));
        assert_eq!(pairs(&parsed), kv(&[("A_KEY", "contents")]));
        let parsed = fx.ok("A_KEY_PATH=k\n", &policy(&["_KEY_PATH", "_PATH"], &[]));
        assert_eq!(pairs(&parsed), kv(&[("A", "contents")]));
    }

    #[test]
    fn a_suffix_with_an_empty_stem_is_a_plain_key() {
        let fx = Fixture::new();
        let parsed = fx.ok("_PATH=keys/missing\n", &policy(&["_PATH"], &[]));
        assert_eq!(pairs(&parsed), kv(&[("_PATH", "keys/missing")]));
        assert_eq!(parsed.tasks[0].source, Source::Literal);
    }

    #[test]
    fn a_later_suffix_applies_when_the_first_leaves_an_empty_stem() {
        let fx = Fixture::new();
        fx.file("k", b"contents");
        let parsed = fx.ok("X_PATH=k\n", &policy(&["X_PATH", "_PATH"], &[]));
        assert_eq!(pairs(&parsed), kv(&[("X", "contents")]));
    }

    #[test]
    fn an_empty_suffix_matches_nothing() {
        let fx = Fixture::new();
        let parsed = fx.ok("A=keys/missing\n", &policy(&[""], &[]));
        assert_eq!(pairs(&parsed), kv(&[("A", "keys/missing")]));
    }

    #[test]
    fn a_relative_path_resolves_against_the_vault_root() {
        assert_eq!(
            reference("keys/x"),
            Path::new("/repo/infra/vault/dev/keys/x")
        );
    }

    #[test]
    fn a_dot_slash_path_resolves_against_the_vault_root() {
        assert_eq!(
            reference("./keys/x"),
            Path::new("/repo/infra/vault/dev/keys/x")
        );
        assert_eq!(
            reference("../shared/x"),
            Path::new("/repo/infra/vault/dev/../shared/x")
        );
    }

    #[test]
    fn a_tilde_path_resolves_against_home() {
        assert_eq!(reference("~/.ssh/id"), Path::new("/home/u/.ssh/id"));
    }

    #[test]
    fn a_home_placeholder_path_resolves_against_home() {
        assert_eq!(reference("${HOME}/.ssh/id"), Path::new("/home/u/.ssh/id"));
    }

    #[test]
    fn a_vault_root_placeholder_path_resolves_against_the_vault_root() {
        assert_eq!(
            reference("${VAULT_ROOT}/keys/x"),
            Path::new("/repo/infra/vault/dev/keys/x")
        );
    }

    #[test]
    fn an_absolute_path_passes_through() {
        assert_eq!(reference("/etc/ssl/key.pem"), Path::new("/etc/ssl/key.pem"));
        assert_eq!(reference("'/quoted/key'"), Path::new("/quoted/key"));
    }

    #[test]
    fn every_path_form_reads_the_right_file() {
        let fx = Fixture::new();
        fx.file("keys/rel", b"rel");
        fs::write(fx.home.join("h"), b"home").unwrap();
        let abs = fx.file("abs", b"abs");
        let env = format!(
            "A_PATH=keys/rel\nB_PATH=./keys/rel\nC_PATH=~/h\nD_PATH=${{HOME}}/h\n\
             E_PATH=${{VAULT_ROOT}}/keys/rel\nF_PATH={}\n",
            abs.display()
        );
        let parsed = fx.ok(&env, &policy(&["_PATH"], &[]));
        assert_eq!(
            pairs(&parsed),
            kv(&[
                ("A", "rel"),
                ("B", "rel"),
                ("C", "home"),
                ("D", "home"),
                ("E", "rel"),
                ("F", "abs"),
            ])
        );
    }

    #[test]
    fn binary_file_contents_are_preserved_byte_for_byte() {
        let fx = Fixture::new();
        let bytes: Vec<u8> = (0..=255u8).chain([0, b'\r', b'\n', 0xFF]).collect();
        fx.file("blob", &bytes);
        let parsed = fx.ok("BLOB_FILE=blob\n", &policy(&["_FILE"], &[]));
        assert_eq!(parsed.tasks[0].value, bytes);
    }

    #[test]
    fn missing_and_unreadable_references_abort_with_one_exact_error() {
        let fx = Fixture::new();
        fx.file("keys/ok", b"fine");
        fs::create_dir_all(fx.vault.join("keys/dir")).unwrap();
        let err = fx.err(
            "A=1\nOK_PATH=keys/ok\nSSH_PRIVATE_KEY_PATH=keys/missing\nDEPLOY_KEY_FILE=./keys/dir\n",
            &policy(&["_PATH", "_FILE"], &[]),
        );
        assert_eq!(
            err,
            format!(
                "parseEnvFile: aborting sync — 2 file reference(s) could not be resolved:\n  \
                 - SSH_PRIVATE_KEY_PATH: file not found at {}\n  \
                 - DEPLOY_KEY_FILE: error reading {}: not a regular file (it is a directory)",
                fx.vault.join("keys/missing").display(),
                fx.vault.join("keys/dir").display(),
            )
        );
    }

    #[test]
    fn a_directory_reference_counts_as_unreadable() {
        let fx = Fixture::new();
        let err = fx.err("KEY_PATH=${HOME}\n", &policy(&["_PATH"], &[]));
        assert!(
            err.ends_with(&format!(
                "  - KEY_PATH: error reading {}: not a regular file (it is a directory)",
                fx.home.display(),
            )),
            "{err}"
        );
    }

    #[test]
    fn a_reference_is_read_only_one_byte_past_the_targets_limit() {
        let fx = Fixture::new();
        fx.file("big", &vec![b'x'; 30_000]);
        let parsed = fx
            .load_for(b"BIG_FILE=big\n", &policy(&["_FILE"], &[]), &azure::KIND)
            .unwrap();
        assert_eq!(parsed.tasks[0].value.len(), azure::KIND.value_limit() + 1);
        let parsed = fx
            .load_for(b"BIG_FILE=big\n", &policy(&["_FILE"], &[]), &gh::KIND)
            .unwrap();
        assert_eq!(parsed.tasks[0].value.len(), 30_000);
    }

    #[test]
    fn a_reference_to_a_device_is_refused_without_reading_it() {
        let fx = Fixture::new();
        let err = fx.err("Z_PATH=/dev/zero\n", &policy(&["_PATH"], &[]));
        assert!(
            err.ends_with(
                "  - Z_PATH: error reading /dev/zero: not a regular file (it is a character device)"
            ),
            "{err}"
        );
    }

    #[test]
    fn a_symlink_to_a_regular_file_is_read() {
        let fx = Fixture::new();
        let target = fx.file("real", b"linked");
        std::os::unix::fs::symlink(target, fx.vault.join("link")).unwrap();
        let parsed = fx.ok("L_PATH=link\n", &policy(&["_PATH"], &[]));
        assert_eq!(pairs(&parsed), kv(&[("L", "linked")]));
    }

    // --- without a home directory ---

    #[test]
    fn without_a_home_a_value_using_it_is_an_error_naming_home() {
        let err = parse_tasks(
            "A=1\nB=~/x\nC=${VAULT_ROOT}\nD=pre${HOME}\n",
            &no_policy(),
            Path::new("/v"),
            None,
            &gh::KIND,
        )
        .unwrap_err();
        assert_eq!(
            err,
            "HOME is not set and this account has no home directory on record, but line 2 (B) \
             and line 4 (D) use ~/ or ${HOME}; set HOME and run again"
        );
    }

    #[test]
    fn without_a_home_values_not_using_it_still_parse() {
        let parsed = parse_tasks(
            "A=1\nB=a~/x\nC=${VAULT_ROOT}/k\nD=$HOME\n",
            &no_policy(),
            Path::new("/v"),
            None,
            &gh::KIND,
        )
        .unwrap();
        assert_eq!(parsed.tasks.len(), 4);
        assert_eq!(parsed.tasks[2].value, b"/v/k");
    }

    // --- exclusions ---

    #[test]
    fn an_excluded_raw_key_is_skipped_and_reported_once() {
        let fx = Fixture::new();
        let parsed = fx.ok(
            "GITHUB_TOKEN=t1\nA=1\nOTHER=x\nGITHUB_TOKEN=t2\n",
            &policy(&[], &["OTHER", "GITHUB_TOKEN", "NOT_THERE"]),
        );
        assert_eq!(pairs(&parsed), kv(&[("A", "1")]));
        assert_eq!(parsed.skipped, ["GITHUB_TOKEN", "OTHER"]);
        assert!(parsed.warnings.is_empty());
    }

    #[test]
    fn excluding_a_file_reference_never_reads_its_file() {
        let fx = Fixture::new();
        let parsed = fx.ok(
            "FOO_PATH=keys/missing\nA=1\n",
            &policy(&["_PATH"], &["FOO_PATH"]),
        );
        assert_eq!(pairs(&parsed), kv(&[("A", "1")]));
        assert_eq!(parsed.skipped, ["FOO_PATH"]);
    }

    #[test]
    fn excluding_the_stem_does_not_exclude_the_file_reference() {
        let fx = Fixture::new();
        fx.file("foo", b"from file");
        let parsed = fx.ok("FOO_PATH=foo\nFOO=plain\n", &policy(&["_PATH"], &["FOO"]));
        assert_eq!(pairs(&parsed), kv(&[("FOO", "from file")]));
        assert_eq!(parsed.skipped, ["FOO"]);
        assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    }

    #[test]
    fn exclusion_matches_the_trimmed_key_literally() {
        let fx = Fixture::new();
        let parsed = fx.ok("  SECRET  =x\nsecret=y\n", &policy(&[], &["SECRET"]));
        assert_eq!(pairs(&parsed), kv(&[("secret", "y")]));
        assert_eq!(parsed.skipped, ["SECRET"]);
    }

    // --- duplicates (D3) ---

    #[test]
    fn a_repeated_key_keeps_the_last_definition_and_warns() {
        let fx = Fixture::new();
        let parsed = fx.ok("A=1\nFOO=old\nB=2\n\nC=3\n# x\nFOO=new\n", &no_policy());
        assert_eq!(
            pairs(&parsed),
            kv(&[("A", "1"), ("B", "2"), ("C", "3"), ("FOO", "new")])
        );
        assert_eq!(parsed.tasks[3].line, 7);
        assert_eq!(
            parsed.warnings,
            ["FOO is defined more than once (lines 2 and 7); the value from line 7 is pushed"]
        );
    }

    #[test]
    fn keys_differing_in_case_are_duplicates_where_the_target_ignores_case() {
        let fx = Fixture::new();
        let env = b"api_key=1\nB=2\nAPI_KEY=3\nApi_Key=4\n";
        for target in [&gh::KIND, &azure::KIND] {
            let parsed = fx.load_for(env, &no_policy(), target).unwrap();
            assert_eq!(pairs(&parsed), kv(&[("B", "2"), ("Api_Key", "4")]));
            assert_eq!(
                parsed.warnings,
                [
                    "api_key is defined more than once (line 1 as api_key, line 3 as API_KEY \
                     and line 4 as Api_Key); the value from line 4 is pushed"
                ]
            );
        }
        for target in [&gcp::KIND, &aws::KIND, &vault::KIND] {
            let parsed = fx.load_for(env, &no_policy(), target).unwrap();
            assert_eq!(parsed.tasks.len(), 4, "{}", target.name);
            assert!(parsed.warnings.is_empty());
        }
    }

    #[test]
    fn three_definitions_name_every_line() {
        let fx = Fixture::new();
        let parsed = fx.ok("K=1\nK=2\nK=3\n", &no_policy());
        assert_eq!(pairs(&parsed), kv(&[("K", "3")]));
        assert_eq!(
            parsed.warnings,
            ["K is defined more than once (lines 1, 2 and 3); the value from line 3 is pushed"]
        );
    }

    #[test]
    fn a_plain_key_and_its_file_reference_collide() {
        let fx = Fixture::new();
        let file = fx.file("foo", b"from file");
        let parsed = fx.ok("FOO=plain\nBAR=1\nFOO_PATH=foo\n", &policy(&["_PATH"], &[]));
        assert_eq!(pairs(&parsed), kv(&[("BAR", "1"), ("FOO", "from file")]));
        assert_eq!(parsed.tasks[1].source, Source::file(file, "FOO_PATH"));
        assert_eq!(
            parsed.warnings,
            [
                "FOO is defined more than once (line 1 as FOO and line 3 as FOO_PATH); \
              the value from line 3 is pushed"
            ]
        );
    }

    #[test]
    fn only_the_winning_definitions_file_is_read() {
        let fx = Fixture::new();
        let parsed = fx.ok("FOO_PATH=keys/gone\nFOO=plain\n", &policy(&["_PATH"], &[]));
        assert_eq!(pairs(&parsed), kv(&[("FOO", "plain")]));
        assert_eq!(parsed.warnings.len(), 1);
    }

    #[test]
    fn a_winning_reference_to_a_missing_file_still_aborts() {
        let fx = Fixture::new();
        let err = fx.err("FOO=plain\nFOO_PATH=keys/gone\n", &policy(&["_PATH"], &[]));
        assert!(
            err.starts_with("parseEnvFile: aborting sync — 1 file reference(s)"),
            "{err}"
        );
    }

    #[test]
    fn warnings_never_contain_values() {
        let fx = Fixture::new();
        fx.file("f", b"FILE-SECRET");
        let parsed = fx.ok(
            "TOKEN=hunter2\nTOKEN_PATH=f\nTOKEN=s3cr3t\n=e1\n=e2\n",
            &policy(&["_PATH"], &[]),
        );
        assert_eq!(parsed.warnings.len(), 2);
        for warning in &parsed.warnings {
            for value in ["hunter2", "s3cr3t", "FILE-SECRET", "e1", "e2"] {
                assert!(!warning.contains(value), "{warning}");
            }
        }
        assert!(parsed.warnings[1].starts_with("(empty key) is defined more than once"));
    }

    // --- properties ---

    /// A value the renderer can write verbatim and the parser must return unchanged.
    fn plain_value() -> impl Strategy<Value = String> {
        "[ -~é€\u{A0}]{0,16}".prop_filter("needs no quoting or expansion", |v| {
            let quoted = v.len() >= 2
                && (v.starts_with('"') && v.ends_with('"')
                    || v.starts_with('\'') && v.ends_with('\''));
            v.trim_ascii() == v && !v.contains("${") && !v.starts_with("~/") && !quoted
        })
    }

    /// Mostly arbitrary keys, but often one of two short ones, so repeats are common.
    fn key() -> impl Strategy<Value = String> {
        prop_oneof![2 => "[A-Z_][A-Z0-9_]{0,10}", 1 => "[AB]"]
    }

    fn noise_line() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            "[ \t]{1,3}",
            "#[ -~]{0,12}",
            "[ \t]{0,2}#[ -~]{0,12}",
        ]
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let fx = Fixture::new();
            let _ = fx.load(&bytes, &policy(&["_PATH", "E"], &["A"]));
        }

        #[test]
        fn parsing_dotenv_like_text_never_panics(text in "[A-Z_=#\"' \t\r\n~/${}.a-z\u{FEFF}]{0,120}") {
            let fx = Fixture::new();
            let _ = fx.load(text.as_bytes(), &policy(&["_PATH", "E", ""], &["A", "B_PATH"]));
        }

        #[test]
        fn rendered_entries_parse_back_with_the_last_definition_winning(
            entries in proptest::collection::vec(
                (key(), plain_value(), noise_line(), "[ \t]{0,2}", "[ \t]{0,2}", any::<bool>()),
                0..12,
            ),
            bom in any::<bool>(),
        ) {
            let mut text = String::from(if bom { "\u{FEFF}" } else { "" });
            let mut line = 0;
            let mut expected: Vec<(String, String, usize)> = Vec::new();
            for (key, value, noise, pad_l, pad_r, crlf) in &entries {
                let eol = if *crlf { "\r\n" } else { "\n" };
                text.push_str(&format!("{noise}{eol}{pad_l}{key}{pad_r}={pad_l}{value}{pad_r}{eol}"));
                line += 2;
                expected.retain(|(k, _, _)| k != key);
                expected.push((key.clone(), value.clone(), line));
            }
            let text = decode(text.as_bytes()).unwrap();
            let parsed = parse_text(text, &no_policy(), Path::new("/v"), Path::new("/h"));
            let got: Vec<(String, String, usize)> = parsed
                .entries
                .iter()
                .map(|e| match &e.value {
                    Value::Literal(v) => (e.key.clone(), String::from_utf8(v.clone()).unwrap(), e.line),
                    Value::File(p) => panic!("unexpected file reference {p:?}"),
                })
                .collect();
            prop_assert_eq!(got, expected);
            prop_assert!(parsed.skipped.is_empty());
        }
    }
}
