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
    let parsed = parse_tasks(text, policy, vault_root, Some(home), &vault::BACKEND).unwrap();
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
        self.load_for(env, policy, &gcp::BACKEND)
    }

    fn load_for(&self, env: &[u8], policy: &Policy, target: &Backend) -> anyhow::Result<ParsedEnv> {
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
        load_env_file(&fx.env_path(), &no_policy(), Some(&fx.home), &gh::BACKEND).unwrap_err();
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
        .load_for(b"BIG_FILE=big\n", &policy(&["_FILE"], &[]), &azure::BACKEND)
        .unwrap();
    assert_eq!(
        parsed.tasks[0].value.len(),
        azure::BACKEND.value_limit() + 1
    );
    let parsed = fx
        .load_for(b"BIG_FILE=big\n", &policy(&["_FILE"], &[]), &gh::BACKEND)
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
        &gh::BACKEND,
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
        &gh::BACKEND,
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

// --- duplicates (last definition wins) ---

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
    for target in [&gh::BACKEND, &azure::BACKEND] {
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
    for target in [&gcp::BACKEND, &aws::BACKEND, &vault::BACKEND] {
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
            && (v.starts_with('"') && v.ends_with('"') || v.starts_with('\'') && v.ends_with('\''));
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
