//! The `.env.<env>` parser: turns the env file plus the parser policy into the list of
//! secrets to push (the rules in the README, "The env file and the parser policy").
//!
//! It owns: line syntax, quotes, placeholders (`${VAULT_ROOT}`, `${HOME}`, a leading `~/`),
//! `--exclude-property`, `--inline-file-suffix` references and their all-or-none reading,
//! and resolving duplicate keys (last definition wins).
//!
//! It deliberately does not: validate key names or values (per target, in pre-flight),
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
//! Memory: with many keys the parse is where vsync's memory peaks. So the tasks are built
//! once, in a vector sized by a first pass over the lines, duplicates are dropped in place, and
//! a file reference is a task whose value is filled in later: no second per-key collection.

use crate::targets::Backend;
use crate::task::{SecretTask, Source};
use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

/// The parser policy of one invocation: no defaults, both lists as typed.
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
/// bad key, and no task at all. Only the files of definitions that win (the last one of a key) are read: an
/// overridden line is never pushed, so a stale path in it must not abort the run — the
/// duplicate warning already points at it.
///
/// `home` is `None` when there is no home directory; then a value using `~/` or `${HOME}` is
/// an error rather than a path at the filesystem root.
pub fn load_env_file(
    path: &Path,
    policy: &Policy,
    home: Option<&Path>,
    target: &Backend,
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

/// One line of the aggregated file-reference error (the TypeScript tool's wording, kept byte
/// for byte).
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

/// Strips a leading UTF-8 BOM (editors on Windows add one, and it would otherwise glue
/// itself to the first key) and checks the rest is UTF-8. The error is the 1-based line of the
/// first bad byte, so the user can find it.
fn decode(bytes: &[u8]) -> Result<&str, usize> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|e| {
        let before = &bytes[..e.valid_up_to()];
        before.iter().filter(|&&b| b == b'\n').count() + 1
    })
}

/// The pure core: every rule of the env file except reading files, plus the duplicate
/// resolution (last definition wins).
///
/// A file reference comes out as a task with an empty value and `Source::File`, its path
/// resolved against VAULT_ROOT / home but not read. The error lists the lines that need a
/// home directory when there is none.
fn parse_tasks(
    text: &str,
    policy: &Policy,
    vault_root: &Path,
    home: Option<&Path>,
    target: &Backend,
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

/// Two definitions of one secret would race in the worker pool, so only the last one is
/// kept, at its own position. One warning per secret, ordered by its first definition, naming
/// every line (and the raw key of each line when they differ, e.g. `FOO` vs `FOO_PATH`, or
/// `api_key` vs `API_KEY` on a target that ignores case).
///
/// Repeats are found by sorting indices by the target's name identity (stable, so each
/// secret's definitions stay in file order) rather than with a hash table: a few bytes per
/// key instead of a table of them, and no key is copied to compare it.
fn resolve_duplicates(tasks: &mut Vec<SecretTask>, target: &Backend) -> Vec<String> {
    let by_name = |a: usize, b: usize| target.compare_names(&tasks[a].key, &tasks[b].key);
    let mut order: Vec<usize> = (0..tasks.len()).collect();
    order.sort_by(|&a, &b| by_name(a, b));
    let mut overridden = vec![false; tasks.len()];
    // (first definition, warning), put in file order below.
    let mut warnings = Vec::new();
    for group in order.chunk_by(|&a, &b| by_name(a, b).is_eq()) {
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
        crate::term::shown_key(key)
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
mod tests;
