//! Input hardening through the real binary: names that only differ in case on targets that
//! ignore case, concurrent runs saving routing to one config file, file references that are
//! not regular files or are far too long, a missing `HOME`, a config directory the user made
//! read-only, and a `files.vaultFolder` that leaves the repository.

use crate::support::{Test, gh_scope};
use flate2::read::MultiGzDecoder;
use serde_json::Value;
use std::ffi::CStr;
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn gh_sync() -> [&'static str; 4] {
    ["sync", "dev", "gh", "--gh-repo=acme/api"]
}

// ----- 1. names that differ only in case -----------------------------------------------------

#[test]
fn gh_pushes_keys_differing_in_case_once_with_the_last_value() {
    let mut t = Test::new()
        .env_file("dev", "api_key=s3cr3t-old\nOTHER=x\nAPI_KEY=s3cr3t-new\n")
        .args(gh_sync());
    let out = t.run();
    out.success()
        .stdout_has("Syncing 2 secrets to GitHub")
        .stdout_has("✅ 2 secrets synced to gh in")
        .stderr_has(
            "warning: api_key is defined more than once (line 1 as api_key and line 3 as \
             API_KEY); the value from line 3 is pushed",
        );
    let scope = gh_scope("acme/api", "dev");
    assert_eq!(
        t.versions("gh", &scope, "API_KEY"),
        [b"s3cr3t-new".to_vec()]
    );
    let pushed: Vec<String> = t
        .calls_of("gh")
        .iter()
        .filter_map(|c| c.secret().map(str::to_string))
        .collect();
    assert_eq!(pushed.len(), 2, "{pushed:?}");
    assert!(pushed.contains(&"API_KEY".to_string()), "{pushed:?}");
}

#[test]
fn the_fake_az_treats_names_case_insensitively_like_key_vault() {
    let t = Test::new();
    for (name, value) in [("my-key", "one"), ("MY-KEY", "two")] {
        t.vendor(
            "az",
            [
                "keyvault",
                "secret",
                "set",
                "--vault-name",
                "kv1",
                "--name",
                name,
                "--file",
                "/dev/stdin",
                "-o",
                "none",
            ],
            value,
        )
        .success();
    }
    assert_eq!(t.secret_names("azure", "kv1"), ["my-key"]);
    assert_eq!(
        t.versions("azure", "kv1", "my-key"),
        [b"one".to_vec(), b"two".to_vec()]
    );
}

#[test]
fn azure_pushes_keys_differing_in_case_once_with_the_last_value() {
    let mut t = Test::new()
        .env_file(
            "dev",
            "db-pass=s3cr3t-1\nDB-PASS=s3cr3t-2\nDb-Pass=s3cr3t-3\n",
        )
        .args(["sync", "dev", "azure", "--azure-vault=acme-kv"]);
    let out = t.run();
    out.success()
        .stdout_has("Syncing 1 secrets to Azure Key Vault")
        .stdout_has("✅ 1 secrets synced to azure in")
        .stderr_has("(line 1 as db-pass, line 2 as DB-PASS and line 3 as Db-Pass)");
    assert_eq!(t.secret_names("azure", "acme-kv"), ["Db-Pass"]);
    assert_eq!(
        t.versions("azure", "acme-kv", "Db-Pass"),
        [b"s3cr3t-3".to_vec()]
    );
    assert_eq!(t.calls_of("az").len(), 1);
}

#[test]
fn gcp_keeps_keys_differing_in_case_apart() {
    let mut t = Test::new().env_file("dev", "api_key=a\nAPI_KEY=b\n").args([
        "sync",
        "dev",
        "gcp",
        "--gcp-project=p1",
    ]);
    t.run()
        .success()
        .stdout_has("✅ 2 secrets synced to gcp in")
        .stderr_lacks("defined more than once");
}

// ----- 2. concurrent runs saving routing -------------------------------------------------------

fn config_doc(path: &Path) -> Value {
    let bytes = fs::read(path).unwrap();
    let mut json = Vec::new();
    MultiGzDecoder::new(&bytes[..])
        .read_to_end(&mut json)
        .unwrap();
    serde_json::from_slice(&json).unwrap()
}

#[test]
fn concurrent_runs_routing_different_targets_both_keep_their_setting() {
    for round in 0..8 {
        let mut t = Test::new().env_file("dev", "A=s3cr3t-a\n");
        t = t.args(["sync", "dev", "gh", "--gh-repo=acme/api"]);
        let gh = t.spawn();
        t = t.args(["sync", "dev", "gcp", "--gcp-project=p1"]);
        let gcp = t.spawn();
        gh.wait().success();
        gcp.wait().success();
        let doc = config_doc(&t.config_path("dev"));
        assert_eq!(
            doc["sync"]["gh"]["repo"], "acme/api",
            "round {round}: {doc}"
        );
        assert_eq!(doc["sync"]["gcp"]["project"], "p1", "round {round}: {doc}");
        let lock = t.config_path("dev").with_file_name("env_dev.lock");
        assert_eq!(
            fs::metadata(&lock).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}

// ----- 3. file references without a bound ------------------------------------------------------

#[test]
fn a_reference_to_a_fifo_is_an_error_naming_key_and_path_and_returns_promptly() {
    let mut t = Test::new().env_file("dev", "A=1\nPIPE_PATH=keys/pipe\n");
    let fifo = t.root().join("infra/vault/dev/keys/pipe");
    fs::create_dir_all(fifo.parent().unwrap()).unwrap();
    let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    let started = Instant::now();
    t = t.args(gh_sync()).arg("--inline-file-suffix=_PATH");
    let out = t.run();
    out.failure(1).stderr_has(&format!(
        "1 file reference(s) could not be resolved:\n  - PIPE_PATH: error reading {}: not a \
         regular file (it is a named pipe)",
        fifo.display()
    ));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(t.calls().is_empty(), "nothing is pushed");
}

#[test]
fn a_reference_to_dev_zero_is_an_error_and_memory_stays_bounded() {
    let mut t = Test::new()
        .env_file("dev", "ZERO_PATH=/dev/zero\n")
        .args(gh_sync())
        .arg("--inline-file-suffix=_PATH");
    let started = Instant::now();
    let out = t.run_with_memory_limit(512 * 1024);
    out.failure(1).stderr_has(
        "  - ZERO_PATH: error reading /dev/zero: not a regular file (it is a character device)",
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(t.calls().is_empty(), "nothing is pushed");
}

#[test]
fn a_100_mb_file_fails_pre_flight_quickly_with_the_limit() {
    let mut t = Test::new().env_file("dev", "BIG_PATH=keys/big\n");
    let big = t.root().join("infra/vault/dev/keys/big");
    fs::create_dir_all(big.parent().unwrap()).unwrap();
    fs::File::create(&big)
        .unwrap()
        .set_len(100 * 1024 * 1024)
        .unwrap();
    let started = Instant::now();
    t = t.args(gh_sync()).arg("--inline-file-suffix=_PATH");
    let out = t.run_with_memory_limit(512 * 1024);
    out.failure(1).stderr_has(
        "  - BIG (line 1): the file holds more than 49152 bytes; the limit is 49152 bytes",
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(t.calls().is_empty(), "nothing is pushed");
}

// ----- 4. HOME unset -------------------------------------------------------------------------

/// The account's home directory as the password database has it.
fn account_home() -> PathBuf {
    // SAFETY: getpwuid returns a pointer into static storage, read at once.
    let dir = unsafe {
        let pw = libc::getpwuid(libc::getuid());
        assert!(!pw.is_null(), "no passwd entry for this account");
        CStr::from_ptr((*pw).pw_dir)
    };
    PathBuf::from(dir.to_str().unwrap())
}

#[test]
fn without_home_the_accounts_home_is_expanded_never_an_empty_one() {
    let mut t = Test::new()
        .env_file("dev", "X=${HOME}/a\nY=~/b\n")
        .args(gh_sync());
    t.run_without_var("HOME").success();
    let home = account_home();
    assert!(home.is_absolute() && home != Path::new("/"), "{home:?}");
    let scope = gh_scope("acme/api", "dev");
    let stored = |k| String::from_utf8(t.stored("gh", &scope, k).unwrap()).unwrap();
    assert_eq!(stored("X"), format!("{}/a", home.display()));
    assert_eq!(stored("Y"), format!("{}/b", home.display()));
}

// ----- 5. a config directory made read-only ----------------------------------------------------

#[test]
fn a_read_only_config_directory_is_refused_not_reopened_and_nothing_is_pushed() {
    let mut t = Test::new().env_file("dev", "A=s3cr3t-a\n").args(gh_sync());
    let dir = t.config_path("dev").parent().unwrap().to_path_buf();
    fs::create_dir_all(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o500)).unwrap();
    let out = t.run();
    let mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
    out.failure(1)
        .stderr_has(&format!(
            "config directory {} is read-only for you (mode 0500)",
            dir.display()
        ))
        .stderr_has(&format!("chmod 700 {}", dir.display()));
    assert_eq!(mode, 0o500, "the user's permissions are left alone");
    assert!(t.calls().is_empty(), "nothing is pushed");
    assert!(!t.config_path("dev").exists());
}

#[test]
fn a_loose_config_directory_is_still_tightened() {
    let mut t = Test::new().env_file("dev", "A=s3cr3t-a\n").args(gh_sync());
    let dir = t.config_path("dev").parent().unwrap().to_path_buf();
    fs::create_dir_all(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    t.run().success();
    assert_eq!(
        fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
}

// ----- 6. files.vaultFolder outside the repository ---------------------------------------------

fn with_vault_folder(folder: &str) -> Test {
    let t = Test::new();
    let config = t.config_path("dev");
    fs::create_dir_all(config.parent().unwrap()).unwrap();
    let doc = serde_json::json!({"version": 1, "files": {"vaultFolder": folder}});
    fs::write(&config, doc.to_string()).unwrap();
    // A tempting env file just outside the repository.
    let outside = t.root().parent().unwrap().join("outside");
    fs::create_dir_all(&outside).unwrap();
    fs::write(outside.join(".env.dev"), "A=s3cr3t-outside\n").unwrap();
    t
}

#[test]
fn a_vault_folder_climbing_out_of_the_repo_is_refused() {
    let mut t = with_vault_folder("../outside").args(gh_sync());
    let out = t.run();
    out.failure(1).stderr_has(&format!(
        "config file {}: files.vaultFolder \"../outside\" points outside the repository {}",
        t.config_path("dev").display(),
        t.root().display()
    ));
    assert!(t.calls().is_empty(), "nothing is pushed");
}

#[test]
fn a_vault_folder_symlinked_out_of_the_repo_is_refused() {
    let mut t = with_vault_folder("secrets").args(gh_sync());
    std::os::unix::fs::symlink("../outside", t.root().join("secrets")).unwrap();
    let out = t.run();
    out.failure(1).stderr_has(&format!(
        "config file {}: files.vaultFolder \"secrets\" leads outside the repository",
        t.config_path("dev").display(),
    ));
    assert!(t.calls().is_empty(), "nothing is pushed");
}
