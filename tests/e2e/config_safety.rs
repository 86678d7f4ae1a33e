//! Config safety through the real binary: a corrupt or invalid config file is an error
//! naming its path, and stays byte for byte as it was, with nothing pushed; a saved config is
//! 0600 in a 0700 directory whatever the umask; concurrent runs never leave (nor show a
//! reader) a torn file.
//!
//! Decoding, validation and the atomic write are unit-tested in `src/config.rs`; this file
//! checks them in a real run, where a push and a save are at stake.

use crate::support::{Test, policy_header};
use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use serde_json::{Value, json};
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

/// The config as vsync writes it: gzip JSON.
fn decode(bytes: &[u8]) -> Result<Value, String> {
    let mut json = Vec::new();
    MultiGzDecoder::new(bytes)
        .read_to_end(&mut json)
        .map_err(|e| format!("not gzip: {e}"))?;
    serde_json::from_slice(&json).map_err(|e| format!("not JSON: {e}"))
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

/// Files in the config directory other than the config itself and its lock file (temp files
/// left behind). `env_dev.lock` stays on purpose: see `ConfigFile::update`.
fn leftovers(config: &Path) -> Vec<String> {
    let name = config.file_name().unwrap().to_str().unwrap();
    fs::read_dir(config.parent().unwrap())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != name && *n != format!("{name}.lock"))
        .collect()
}

/// A credential of the TypeScript tool that may sit in the file: never to be printed.
const CREDENTIAL: &str = "AKIA-S3-SECRET-0042";

#[test]
fn a_corrupt_or_invalid_config_is_an_error_naming_its_path_and_stays_byte_identical() {
    let cases: Vec<(&str, Vec<u8>, Option<&str>)> = vec![
        ("garbage bytes", b"\x00\xffnot a config\x13\x37".to_vec(), None),
        (
            "bad gzip",
            [&[0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0x03][..], b"\xde\xad\xbe\xef"].concat(),
            None,
        ),
        (
            "invalid JSON",
            format!(r#"{{"version": 1, "s3": {{"secretAccessKey": "{CREDENTIAL}""#).into_bytes(),
            None,
        ),
        (
            "version 2",
            gzip(
                format!(
                    r#"{{"version":2,"s3":{{"secretAccessKey":"{CREDENTIAL}"}},"sync":{{"gh":{{"repo":"old/repo"}}}}}}"#
                )
                .as_bytes(),
            ),
            Some("unsupported version 2 (expected 1)"),
        ),
        (
            "JSON that is not an object",
            gzip(b"[1, 2, 3]"),
            Some("the top level must be a JSON object"),
        ),
        (
            "an empty required routing field",
            gzip(br#"{"version":1,"sync":{"gh":{"repo":""}}}"#),
            Some("sync.gh.repo must be a non-empty string"),
        ),
    ];
    for (what, bytes, problem) in cases {
        let t = Test::new().env_file("dev", "ALPHA=a-value-1\n");
        let config = t.config_path("dev");
        fs::create_dir_all(config.parent().unwrap()).unwrap();
        fs::write(&config, &bytes).unwrap();
        fs::set_permissions(&config, fs::Permissions::from_mode(0o600)).unwrap();
        // A routing flag that differs from anything stored: a save would be due.
        let mut t = t.args(["sync", "dev", "gh", "--gh-repo=acme/new"]);
        let out = t.run();

        out.failure(1).stdout_is(&policy_header(&[], &[]));
        let prefix = format!(
            "vsync: error: config file {} is invalid: ",
            config.display()
        );
        let suffix = " (fix or delete it; vsync does not overwrite a config file it cannot read)\n";
        assert!(
            out.stderr.starts_with(&prefix)
                && out.stderr.ends_with(suffix)
                && out.stderr.lines().count() == 1,
            "{what}: {}",
            out.stderr
        );
        if let Some(problem) = problem {
            assert_eq!(
                &out.stderr[prefix.len()..out.stderr.len() - suffix.len()],
                problem,
                "{what}"
            );
        }
        out.stderr_lacks(CREDENTIAL);
        assert_eq!(
            fs::read(&config).unwrap(),
            bytes,
            "{what}: the file changed"
        );
        assert_eq!(mode(&config), 0o600, "{what}");
        assert_eq!(leftovers(&config), Vec::<String>::new(), "{what}");
        assert!(t.calls().is_empty(), "{what}: a vendor was called");
    }
}

#[test]
fn a_config_saved_under_umask_000_is_0600_in_0700_directories() {
    let t = Test::new().env_file("dev", "ALPHA=a-value-1\n");
    let config = t.config_path("dev");
    let mut t = t.args(["sync", "dev", "gh", "--gh-repo=acme/api"]);
    let out = t.run_with_umask(0o000);
    out.success().stderr_is("");
    assert_eq!(mode(&config), 0o600);
    // vsync created both `vsync/` and `vsync/repo/`.
    assert_eq!(mode(config.parent().unwrap()), 0o700);
    assert_eq!(mode(config.parent().unwrap().parent().unwrap()), 0o700);
    assert_eq!(
        decode(&fs::read(&config).unwrap()).unwrap(),
        json!({"version": 1, "sync": {"gh": {"repo": "acme/api"}}})
    );
    assert_eq!(leftovers(&config), Vec::<String>::new());
}

#[test]
fn saving_over_a_world_readable_config_makes_it_private_and_keeps_unknown_fields() {
    let t = Test::new().env_file("dev", "ALPHA=a-value-1\n");
    let config = t.config_path("dev");
    let dir = config.parent().unwrap();
    fs::create_dir_all(dir).unwrap();
    let before = json!({
        "version": 1,
        "s3": {"bucket": "b", "secretAccessKey": CREDENTIAL},
        "sync": {"gh": {"repo": "old/repo"}, "gcp": {"project": "p"}}
    });
    fs::write(&config, gzip(before.to_string().as_bytes())).unwrap();
    fs::set_permissions(&config, fs::Permissions::from_mode(0o666)).unwrap();
    fs::set_permissions(dir, fs::Permissions::from_mode(0o777)).unwrap();

    let mut t = t.args(["sync", "dev", "gh", "--gh-repo=acme/api"]);
    let out = t.run_with_umask(0o000);
    out.success().stderr_is("").stdout_lacks(CREDENTIAL);
    assert_eq!(mode(&config), 0o600);
    assert_eq!(mode(dir), 0o700);
    let mut after = before;
    after["sync"]["gh"]["repo"] = json!("acme/api");
    assert_eq!(decode(&fs::read(&config).unwrap()).unwrap(), after);
}

#[test]
fn concurrent_runs_with_different_routing_never_tear_the_config() {
    let mut t = Test::new().env_file("dev", "ALPHA=a-value-1\n");
    let config = t.config_path("dev");
    let stop = Arc::new(AtomicBool::new(false));
    // A reader polling the file all along: every version it sees must decode.
    let reader = {
        let (stop, config) = (Arc::clone(&stop), config.clone());
        std::thread::spawn(move || {
            let mut seen = 0;
            while !stop.load(Ordering::SeqCst) {
                if let Ok(bytes) = fs::read(&config) {
                    let doc = decode(&bytes).unwrap_or_else(|e| {
                        panic!("a reader saw a torn config ({e}): {} bytes", bytes.len())
                    });
                    assert_eq!(doc["version"], 1);
                    seen += 1;
                }
            }
            seen
        })
    };
    for round in 0..10 {
        let repos: Vec<String> = (0..3).map(|n| format!("acme/r{round}-{n}")).collect();
        let mut runs = Vec::new();
        for repo in &repos {
            t = t.args(["sync", "dev", "gh", &format!("--gh-repo={repo}")]);
            runs.push(t.spawn());
        }
        for run in runs {
            run.wait().success();
        }
        let doc = decode(&fs::read(&config).unwrap())
            .unwrap_or_else(|e| panic!("round {round}: torn config: {e}"));
        let repo = doc["sync"]["gh"]["repo"].as_str().unwrap_or_default();
        assert!(
            repos.iter().any(|r| r == repo),
            "round {round}: {doc} holds none of {repos:?}"
        );
        assert_eq!(mode(&config), 0o600);
        assert_eq!(leftovers(&config), Vec::<String>::new(), "round {round}");
    }
    stop.store(true, Ordering::SeqCst);
    assert!(reader.join().unwrap() > 0, "the reader never saw the file");
}
