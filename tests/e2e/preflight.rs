//! Pre-flight checks (all or none) through the real binary: for every target, every key that breaks a
//! rule of that target (name, empty value, size, UTF-8) is listed in ONE error with the rule
//! and a hint, the run exits 1 and not a single vendor call is made — not even gcp's or aws's
//! list call. And the values a vendor CLI will alter are named in a warning before pushing.
//!
//! The rules themselves are unit-tested in `src/preflight.rs`; this file checks what a user
//! sees and that the check really comes before the first call.

use crate::support::{Output, Test, gh_scope, policy_header};

/// A non-UTF-8 file, pushed through `BIN_PATH=bin.dat` with `--inline-file-suffix=_PATH`.
const BINARY: &[u8] = &[0xff, 0xfe, 0x00, b'k', b'e', b'y', 0x80];

fn aggregated(target: &str, lines: &[String]) -> String {
    format!(
        "vsync: error: {} secret(s) cannot be pushed to {target}; nothing was pushed:\n{}\n",
        lines.len(),
        lines.join("\n")
    )
}

/// One line of the aggregated error; `exclude` is the key to exclude as written in the file
/// (None: the key itself; a file reference names its `…_PATH` key).
fn bad(key: &str, line: usize, problems: &[&str], exclude: Option<&str>) -> String {
    let hint = match exclude {
        Some(k) => format!("--exclude-property={k}"),
        None => format!("--exclude-property={key}"),
    };
    format!(
        "  - {key} (line {line}): {} — fix or rename it in the env file, or pass {hint}",
        problems.join("; ")
    )
}

fn too_big(len: usize, limit: usize) -> String {
    format!("the value is {len} bytes; the limit is {limit} bytes")
}

const NOT_UTF8: &str = "the value is not UTF-8 text, which this target's CLI cannot carry";
const EMPTY: &str = "the value is empty, which this target rejects";

fn run(target: &str, flags: &[&str], env_file: &str) -> (Test, Output) {
    let mut t = Test::new()
        .env_file("dev", env_file)
        .file("infra/vault/dev/bin.dat", BINARY)
        .args(["sync", "dev", target, "--inline-file-suffix=_PATH"])
        .args(flags);
    let out = t.run();
    (t, out)
}

/// Exit 1, exactly the aggregated error on stderr, only the policy header on stdout (no
/// banner), and no vendor call at all.
#[track_caller]
fn assert_refused(t: &Test, out: &Output, target: &str, lines: &[String]) {
    out.failure(1)
        .stderr_is(&aggregated(target, lines))
        .stdout_is(&policy_header(&["_PATH"], &[]));
    let calls = t.calls();
    assert!(calls.is_empty(), "vendor calls were made: {calls:#?}");
    assert!(!t.fake_dir().join("store").exists(), "something was stored");
}

#[test]
fn gh_lists_every_bad_name_oversized_and_non_utf8_value_and_calls_nothing() {
    let big = "a".repeat(48 * 1024 + 1);
    let (t, out) = run(
        "gh",
        &["--gh-repo=acme/api"],
        &format!(
            "GOOD=fine-value\n1BAD=x\nGITHUB_PAT=y\nDASH-KEY=z\nBIG={big}\nBIN_PATH=bin.dat\n\
             EMPTY=\nexport FOO=1\n"
        ),
    );
    let chars =
        "GitHub secret names allow only A-Z, a-z, 0-9 and _, and must not start with a digit";
    assert_refused(
        &t,
        &out,
        "gh",
        &[
            bad("1BAD", 2, &[chars], Some("1BAD")),
            bad(
                "GITHUB_PAT",
                3,
                &["GitHub secret names must not start with GITHUB_"],
                Some("GITHUB_PAT"),
            ),
            bad("DASH-KEY", 4, &[chars], Some("DASH-KEY")),
            bad("BIG", 5, &[&too_big(49_153, 49_152)], Some("BIG")),
            bad("BIN", 6, &[NOT_UTF8], Some("BIN_PATH")),
            bad("export FOO", 8, &[chars], Some("'export FOO'")),
        ],
    );
}

#[test]
/// An empty value is refused: the API stores no empty payload, and `gcloud secrets create`
/// with empty data leaves a secret without any version.
fn gcp_lists_bad_ids_oversized_and_empty_values_but_takes_raw_bytes() {
    let big = "a".repeat(64 * 1024 + 1);
    let (t, out) = run(
        "gcp",
        &["--gcp-project=proj"],
        &format!("GOOD=fine\nA.B=x\nBIG={big}\nEMPTY=\nBIN_PATH=bin.dat\nSLASH/KEY=x\n"),
    );
    let rule = "GCP secret ids allow only A-Z, a-z, 0-9, _ and -, 1-255 characters";
    assert_refused(
        &t,
        &out,
        "gcp",
        &[
            bad("A.B", 2, &[rule], Some("A.B")),
            bad("BIG", 3, &[&too_big(65_537, 65_536)], Some("BIG")),
            bad("EMPTY", 4, &[EMPTY], Some("EMPTY")),
            bad("SLASH/KEY", 6, &[rule], Some("SLASH/KEY")),
        ],
    );
}

#[test]
fn aws_lists_empty_values_bad_names_oversized_and_non_utf8_values_and_calls_nothing() {
    let big = "a".repeat(65_537);
    let (t, out) = run(
        "aws",
        &["--aws-region=eu-west-1"],
        &format!("GOOD=fine\nEMPTY=\nBAD!NAME=x\nBIG={big}\nBIN_PATH=bin.dat\n"),
    );
    let rule =
        "AWS secret names (prefix + key) allow only A-Z, a-z, 0-9 and /_+=.@-, 1-512 characters";
    assert_refused(
        &t,
        &out,
        "aws",
        &[
            bad("EMPTY", 2, &[EMPTY], Some("EMPTY")),
            bad("BAD!NAME", 3, &[rule], Some("'BAD!NAME'")),
            bad("BIG", 4, &[&too_big(65_537, 65_536)], Some("BIG")),
            bad("BIN", 5, &[NOT_UTF8], Some("BIN_PATH")),
        ],
    );
}

#[test]
fn aws_checks_the_prefixed_name() {
    let (t, out) = run(
        "aws",
        &["--aws-region=eu-west-1", "--aws-secret-prefix=my app/"],
        "GOOD=fine\n",
    );
    let rule =
        "AWS secret names (prefix + key) allow only A-Z, a-z, 0-9 and /_+=.@-, 1-512 characters";
    assert_refused(&t, &out, "aws", &[bad("GOOD", 1, &[rule], Some("GOOD"))]);
}

#[test]
fn azure_lists_every_broken_rule_of_a_key_and_never_renames_underscores() {
    let big = "a".repeat(25 * 1024 + 1);
    let (t, out) = run(
        "azure",
        &["--azure-vault=kv1"],
        &format!("GOOD-KEY=fine\nDB_URL=\nBIG={big}\nBIN_PATH=bin.dat\nEMPTY=\n"),
    );
    let rule =
        "Azure Key Vault names allow only 0-9, A-Z, a-z and - (no underscore), 1-127 characters";
    assert_refused(
        &t,
        &out,
        "azure",
        &[
            bad(
                "DB_URL",
                2,
                &[
                    &format!("{rule} (or pass --azure-names=dashes to store each _ as -)"),
                    EMPTY,
                ],
                Some("DB_URL"),
            ),
            bad("BIG", 3, &[&too_big(25_601, 25_600)], Some("BIG")),
            bad("BIN", 4, &[NOT_UTF8], Some("BIN_PATH")),
            bad("EMPTY", 5, &[EMPTY], Some("EMPTY")),
        ],
    );
}

#[test]
fn vault_refuses_whitespace_in_keys_and_non_utf8_values_but_not_size_or_empty() {
    let huge = "a".repeat(200 * 1024);
    let (t, out) = run(
        "vault",
        &[
            "--vault-addr=http://127.0.0.1:8200",
            "--vault-mount=secret",
            "--vault-path=app/dev",
        ],
        &format!("GOOD=fine\nexport FOO=1\nBIN_PATH=bin.dat\nHUGE={huge}\nEMPTY=\n"),
    );
    assert_refused(
        &t,
        &out,
        "vault",
        &[
            bad(
                "export FOO",
                2,
                &["keys must not contain whitespace (an `export ` prefix is not supported)"],
                Some("'export FOO'"),
            ),
            bad("BIN", 3, &[NOT_UTF8], Some("BIN_PATH")),
        ],
    );
}

#[test]
fn a_raw_binary_value_passes_on_gcp_and_is_stored_byte_for_byte() {
    let (t, out) = run("gcp", &["--gcp-project=proj"], "BIN_PATH=bin.dat\n");
    out.success().stderr_is("");
    assert_eq!(t.stored("gcp", "proj", "BIN").as_deref(), Some(BINARY));
}

// ----- warnings for values the vendor CLI alters ----------------------------------------------

/// `CRLF` holds `one\r\ntwo`, `NL` holds `three\n`: what each target stores, and the warning.
struct Alteration {
    target: &'static str,
    flags: &'static [&'static str],
    warning: &'static str,
    crlf: &'static [u8],
    nl: &'static [u8],
}

const ALTERATIONS: [Alteration; 5] = [
    Alteration {
        target: "gh",
        flags: &["--gh-repo=acme/api"],
        warning: "warning: gh strips trailing newlines from: NL\n",
        crlf: b"one\r\ntwo",
        nl: b"three",
    },
    Alteration {
        target: "gcp",
        flags: &["--gcp-project=proj"],
        warning: "",
        crlf: b"one\r\ntwo",
        nl: b"three\n",
    },
    Alteration {
        target: "aws",
        flags: &["--aws-region=eu-west-1"],
        warning: "warning: the vendor CLI reads values as text and turns \\r\\n into \\n in: CRLF\n",
        crlf: b"one\ntwo",
        nl: b"three\n",
    },
    Alteration {
        target: "azure",
        flags: &["--azure-vault=kv1"],
        warning: "warning: the vendor CLI reads values as text and turns \\r\\n into \\n in: CRLF\n",
        crlf: b"one\ntwo",
        nl: b"three\n",
    },
    Alteration {
        target: "vault",
        flags: &[
            "--vault-addr=http://127.0.0.1:8200",
            "--vault-mount=secret",
            "--vault-path=app/dev",
        ],
        warning: "",
        crlf: b"one\r\ntwo",
        nl: b"three\n",
    },
];

#[test]
fn values_the_vendor_cli_will_alter_are_named_in_a_warning_and_still_pushed() {
    for a in &ALTERATIONS {
        let mut t = Test::new()
            .env_file("dev", "CRLF_PATH=crlf.txt\nNL_PATH=nl.txt\n")
            .file("infra/vault/dev/crlf.txt", "one\r\ntwo")
            .file("infra/vault/dev/nl.txt", "three\n")
            .args(["sync", "dev", a.target, "--inline-file-suffix=_PATH"])
            .args(a.flags);
        let out = t.run();
        out.success()
            .stderr_is(a.warning)
            .stdout_has(&format!("\n✅ 2 secrets synced to {} in ", a.target));
        let stored = |key: &str| -> Option<Vec<u8>> {
            match a.target {
                "gh" => t.stored("gh", &gh_scope("acme/api", "dev"), key),
                "gcp" => t.stored("gcp", "proj", key),
                "aws" => t.stored("aws", "eu-west-1", key),
                "azure" => t.stored("azure", "kv1", key),
                _ => t
                    .vault_doc("secret", "app/dev")
                    .and_then(|d| d[key].as_str().map(|s| s.as_bytes().to_vec())),
            }
        };
        assert_eq!(stored("CRLF").as_deref(), Some(a.crlf), "{}", a.target);
        assert_eq!(stored("NL").as_deref(), Some(a.nl), "{}", a.target);
    }
}
