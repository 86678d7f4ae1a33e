//! HashiCorp Vault KV v2 through ONE `vault kv put -mount=M -- PATH -` per run.
//!
//! The lone `-` makes the vault CLI read a JSON object from stdin: positional `K=V`
//! arguments would expose every value in argv, hit ARG_MAX, and let a value starting with `@`
//! be read as a file path. `kv put` replaces the whole secret at PATH atomically.
//!
//! Keys the env file excludes or `--keep` protects are carried over: read with `kv get`, then
//! written back with the file's keys, with `-cas=<version read>` on KV v2 so that a change
//! made in between fails the write instead of being lost. KV v1 has no versions to check.

use super::{
    Backend, Bulk, Failure, Keeps, Location, ReadBack, ReadCall, ReadFailure, Reads, Scope,
    Setting, Stored, Target, ValueRules, VendorCmd, Writes, looks_transient,
};
use crate::task::SecretTask;

pub const BACKEND: Backend = Backend {
    name: "vault",
    title: "HashiCorp Vault KV v2, one atomic write",
    example: "--vault-addr=https://vault:8200 --vault-mount=secret --vault-path=api/dev",
    bin: "vault",
    settings: &[ADDR, MOUNT, PATH],
    values: &VALUES,
    case_insensitive_names: false,
    open: |settings, _open| {
        Box::new(Vault {
            addr: settings.required(&ADDR),
            mount: settings.required(&MOUNT),
            path: settings.required(&PATH),
        })
    },
};

const ADDR: Setting = Setting {
    config_key: "addr",
    flag: "vault-addr",
    prompt: "Vault address (e.g. https://vault.example.com:8200)",
    required: true,
    value: "URL",
    help: &[],
};

const MOUNT: Setting = Setting {
    config_key: "mount",
    flag: "vault-mount",
    prompt: "Vault KV mount (e.g. secret)",
    required: true,
    value: "MOUNT",
    help: &[],
};

const PATH: Setting = Setting {
    config_key: "secretPath",
    flag: "vault-path",
    prompt: "Vault secret path (e.g. myapp/dev)",
    required: true,
    value: "PATH",
    help: &[],
};

/// Values travel as JSON strings, so they must be text. Vault has no per-value limit of its
/// own; 1 MiB is its server's default limit for a whole storage entry, so no larger value
/// can be written either.
const VALUES: ValueRules = ValueRules {
    max_bytes: 1024 * 1024,
    empty_ok: true,
    utf8: true,
    altered: None,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vault {
    pub addr: String,
    pub mount: String,
    pub path: String,
}

impl Target for Vault {
    fn backend(&self) -> &'static Backend {
        &BACKEND
    }

    fn location(&self) -> Location {
        Location {
            service: "HashiCorp Vault",
            fields: vec![
                ("addr", self.addr.clone()),
                ("mount", self.mount.clone()),
                ("path", self.path.clone()),
            ],
        }
    }

    fn name_problem(&self, name: &str) -> Option<String> {
        name_problem(name)
    }

    fn writes(&self) -> Writes<'_> {
        Writes::Bulk(self)
    }

    fn reads(&self) -> Option<&dyn Reads> {
        Some(self)
    }

    /// The document at PATH: the write replaces it whole, dropping keys the file lacks.
    fn scope(&self) -> Scope<'_> {
        Scope::Document
    }
}

impl Vault {
    /// `kv get` of the whole document; the path after `--`, as for the write.
    fn get_cmd(&self) -> VendorCmd {
        let mut cmd = VendorCmd::new(
            "vault",
            &[
                "kv",
                "get",
                "-format=json",
                &format!("-mount={}", self.mount),
                "--",
                &self.path,
            ],
        );
        cmd.env.push(("VAULT_ADDR", self.addr.clone()));
        cmd
    }
}

impl Reads for Vault {
    /// One `kv get` of the whole document.
    fn read_calls(&self, names: &[&str]) -> Vec<ReadCall> {
        vec![ReadCall {
            cmd: self.get_cmd(),
            names: names.iter().map(|n| n.to_string()).collect(),
        }]
    }

    /// KV v2: `{"data":{"data":{…},"metadata":{…}}}`, where a deleted latest version has
    /// `data: null`; KV v1 (no versions): `{"data":{…}}`. A value that is not a string
    /// (written by another tool) counts as different.
    fn parse_read(&self, _call: &ReadCall, stdout: &[u8]) -> Result<ReadBack, String> {
        let doc: serde_json::Value = serde_json::from_slice(stdout)
            .map_err(|e| format!("unreadable vault kv get output: {e}"))?;
        let mut back = ReadBack::default();
        for (key, value) in stored_keys(&doc["data"]).into_iter().flatten() {
            match value.as_str() {
                Some(v) => back.values.push((key.clone(), v.as_bytes().to_vec())),
                None => back.unreadable.push(key.clone()),
            }
        }
        Ok(back)
    }

    fn read_failure(&self, stderr: &str) -> ReadFailure {
        if stderr.contains("No value found at") {
            ReadFailure::NotFound
        } else if stderr.contains("Code: 403") || stderr.contains("permission denied") {
            ReadFailure::Denied
        } else if is_transient(stderr) {
            ReadFailure::Transient
        } else {
            ReadFailure::Other
        }
    }

    fn read_permission(&self) -> &'static str {
        "the read capability on MOUNT/data/PATH"
    }
}

impl Keeps for Vault {
    fn stored_cmd(&self) -> VendorCmd {
        self.get_cmd()
    }

    fn parse_stored(&self, stdout: &[u8]) -> Result<Stored, String> {
        parse_stored(stdout)
    }

    fn absent(&self, stderr: &str) -> bool {
        self.read_failure(stderr) == ReadFailure::NotFound
    }

    /// `-cas=N` before `--`: KV v2 writes only if the latest version is still N.
    fn write_cmd_at(&self, version: Option<u64>) -> VendorCmd {
        let mut cmd = self.write_cmd();
        if let Some(v) = version {
            cmd.args.insert(2, format!("-cas={v}"));
        }
        cmd
    }

    fn document_keeping(
        &self,
        tasks: &[SecretTask],
        kept: &serde_json::Map<String, serde_json::Value>,
    ) -> Vec<u8> {
        document_keeping(tasks, kept)
    }

    fn advice(&self, stderr: &str) -> Option<&'static str> {
        stderr.contains("check-and-set").then_some(
            "the document changed after vsync read it, so nothing was written (the change \
             is kept): run the sync again",
        )
    }

    fn location(&self) -> String {
        format!("{}/{}", self.mount, self.path)
    }
}

/// The stored document in `kv get -format=json` output: its map and, on KV v2, its version
/// (a deleted latest version has no map, but its number still guards the write).
pub fn parse_stored(stdout: &[u8]) -> Result<Stored, String> {
    let doc: serde_json::Value = serde_json::from_slice(stdout)
        .map_err(|e| format!("unreadable vault kv get output: {e}"))?;
    let data = &doc["data"];
    Ok(Stored {
        data: stored_keys(data).cloned().unwrap_or_default(),
        version: data["metadata"]["version"]
            .as_u64()
            .filter(|_| data.get("data").is_some()),
    })
}

/// The key/value map in a `kv get` response's `data`: nested with its version metadata on a
/// KV v2 mount, the map itself on a KV v1 mount. A v1 secret that happens to hold `data` and
/// `metadata` keys reads as v2 only if `metadata` carries a numeric `version`, as v2's does.
fn stored_keys(data: &serde_json::Value) -> Option<&serde_json::Map<String, serde_json::Value>> {
    let versioned = data["metadata"]["version"].is_u64() && data.get("data").is_some();
    if versioned {
        data["data"].as_object()
    } else {
        data.as_object()
    }
}

impl Bulk for Vault {
    fn announce(&self, n: usize) -> String {
        format!("Writing {n} keys to {}/{}", self.mount, self.path)
    }

    /// The single bulk write; the JSON document goes on stdin. The path follows `--`: the
    /// vault CLI reads `-h` anywhere before it as a request for help (exit 0, nothing
    /// written), and Go's flag parsing would take any other leading `-` as a flag.
    fn write_cmd(&self) -> VendorCmd {
        let mut cmd = VendorCmd::new(
            "vault",
            &[
                "kv",
                "put",
                &format!("-mount={}", self.mount),
                "--",
                &self.path,
                "-",
            ],
        );
        cmd.env.push(("VAULT_ADDR", self.addr.clone()));
        cmd
    }

    fn document(&self, tasks: &[SecretTask]) -> Vec<u8> {
        document(tasks)
    }

    fn classify(&self, stderr: &str, _exit: Option<i32>) -> Failure {
        if stderr.contains("Code: 429") || super::looks_throttled(stderr) {
            Failure::Throttled
        } else if stderr.contains("missing client token") || stderr.contains("VAULT_TOKEN") {
            Failure::Store("run `vault login` (or set VAULT_TOKEN)".into())
        } else if stderr.contains("no handler for route") {
            Failure::Store(format!(
                "enable a KV v2 engine at the mount: `vault secrets enable -path={} kv-v2`",
                self.mount
            ))
        } else if stderr.contains("dial tcp") || stderr.contains("no such host") {
            Failure::Unreachable(format!("check VAULT_ADDR ({}) and the network", self.addr))
        } else if is_transient(stderr) {
            Failure::Transient
        } else {
            Failure::Permanent
        }
    }

    fn label(&self) -> String {
        "vault kv put".into()
    }

    fn keeps(&self) -> Option<&dyn Keeps> {
        Some(self)
    }
}

/// The document with `kept` keys as stored (a value another tool wrote as a number stays
/// one) beside the tasks; a task's key wins over a kept one of that name.
pub fn document_keeping(
    tasks: &[SecretTask],
    kept: &serde_json::Map<String, serde_json::Value>,
) -> Vec<u8> {
    if kept.is_empty() {
        return document(tasks);
    }
    let mut map = kept.clone();
    for t in tasks {
        let value = String::from_utf8_lossy(&t.value).into_owned();
        map.insert(t.key.clone(), serde_json::Value::String(value));
    }
    serde_json::to_vec(&map).expect("a JSON map always serialises")
}

/// `{"KEY":"value",…}`, keys in byte order (the order serde_json's `Map`, a `BTreeMap` without
/// its `preserve_order` feature, always gave this document). Values are UTF-8 by then
/// (pre-flight rejects others); a stray invalid byte would be replaced rather than panic.
///
/// KeyWrite straight from the tasks into a buffer sized for the whole object, rather than
/// through a `Map` holding a copy of every key and value: at 10,000 keys those copies and the
/// buffer's doublings were the peak of a vault run.
pub fn document(tasks: &[SecretTask]) -> Vec<u8> {
    use serde::Serializer;
    let mut sorted: Vec<&SecretTask> = tasks.iter().collect();
    // Stable, so if a key were repeated its last task would come last, and win as it did in
    // the map (the parser already keeps one task per key).
    sorted.sort_by(|a, b| a.key.cmp(&b.key));
    let entries = sorted
        .chunk_by(|a, b| a.key == b.key)
        .map(|same_key| same_key[same_key.len() - 1])
        .map(|t| (&t.key, String::from_utf8_lossy(&t.value)));
    // `{` `}`, and per key two pairs of quotes, `:` and `,`: exact unless something needs
    // escaping.
    let size = 2 + tasks
        .iter()
        .map(|t| t.key.len() + t.value.len() + 6)
        .sum::<usize>();
    let mut out = Vec::with_capacity(size);
    serde_json::Serializer::new(&mut out)
        .collect_map(entries)
        .expect("a map of strings always serialises");
    out
}

/// Vault's CLI exits 2 for server errors; 429/5xx among them are worth retrying.
pub fn is_transient(stderr: &str) -> bool {
    looks_transient(stderr)
        || ["Code: 500", "Code: 502", "Code: 504", "sealed"]
            .iter()
            .any(|m| stderr.contains(m))
}

/// Vault accepts any key; only an empty one or one with whitespace is refused up front.
/// Keys travel in the JSON document on stdin, so no argv limit applies; still, a key this long
/// is a mistake in the env file (a value pasted into the key), and bounding it keeps it from
/// being stored, or printed, by accident.
const MAX_NAME: usize = 4096;

pub fn name_problem(name: &str) -> Option<String> {
    if name.len() > MAX_NAME {
        Some(format!(
            "the key is {} bytes; vsync allows Vault keys of at most {MAX_NAME} bytes",
            name.len()
        ))
    } else if name.is_empty() {
        Some("Vault keys must not be empty".into())
    } else if name.chars().any(char::is_whitespace) {
        Some("keys must not contain whitespace (an `export ` prefix is not supported)".into())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::assert_option_safe;
    use crate::task::Source;

    fn task(key: &str, value: &str) -> SecretTask {
        SecretTask {
            key: key.into(),
            value: value.as_bytes().to_vec(),
            source: Source::Literal,
            line: 1,
        }
    }

    #[test]
    fn vault_store_level_failures_name_login_the_mount_and_the_address() {
        let v = Vault {
            addr: "http://127.0.0.1:8200".into(),
            mount: "secret".into(),
            path: "app/dev".into(),
        };
        let classify = |stderr: &str| Bulk::classify(&v, stderr, Some(2));
        let token =
            classify("Error making API request.\n\nCode: 400. Errors:\n\n* missing client token");
        assert!(matches!(token, Failure::Store(n) if n.contains("vault login")));
        let mount =
            classify("Code: 404. Errors:\n\n* no handler for route \"secret/data/app/dev\"");
        assert!(matches!(mount, Failure::Store(n) if n.contains("-path=secret kv-v2")));
        let refused = classify(
            "Get \"http://127.0.0.1:9/v1/sys/internal/ui/mounts/secret\": dial tcp 127.0.0.1:9: connect: connection refused",
        );
        assert!(matches!(refused, Failure::Unreachable(n) if n.contains("VAULT_ADDR")));
        assert_eq!(
            classify("Code: 429. Errors:\n\n* rate limit quota exceeded"),
            Failure::Throttled
        );
        assert_eq!(
            classify("Code: 503. Errors:\n\n* Vault is sealed"),
            Failure::Transient
        );
        assert_eq!(
            classify("Code: 403. Errors:\n\n* permission denied"),
            Failure::Permanent
        );
    }

    #[test]
    fn the_write_is_one_kv_put_reading_json_from_stdin_with_vault_addr_set() {
        let r = Vault {
            addr: "https://vault:8200".into(),
            mount: "secret".into(),
            path: "myapp/dev".into(),
        };
        let cmd = r.write_cmd();
        assert_eq!(cmd.program, "vault");
        assert_eq!(
            cmd.args,
            ["kv", "put", "-mount=secret", "--", "myapp/dev", "-"]
        );
        assert_eq!(cmd.env, [("VAULT_ADDR", "https://vault:8200".to_string())]);
    }

    #[test]
    fn the_document_holds_every_value_exactly_even_ones_the_cli_would_interpret() {
        let tasks = [
            task("A", "@/etc/passwd"),
            task("B", "-"),
            task("C", "line1\nline2 \"q\" 'x' =y"),
            task("D", "ünï"),
        ];
        let doc: serde_json::Value = serde_json::from_slice(&document(&tasks)).unwrap();
        assert_eq!(
            doc,
            serde_json::json!({"A":"@/etc/passwd","B":"-","C":"line1\nline2 \"q\" 'x' =y","D":"ünï"})
        );
    }

    /// The same document built the plain way, through a `serde_json::Map`: what the streamed
    /// one must equal.
    fn document_via_map(tasks: &[SecretTask]) -> Vec<u8> {
        let map: serde_json::Map<String, serde_json::Value> = tasks
            .iter()
            .map(|t| {
                let value = String::from_utf8_lossy(&t.value).into_owned();
                (t.key.clone(), serde_json::Value::String(value))
            })
            .collect();
        serde_json::to_vec(&map).unwrap()
    }

    #[test]
    fn the_streamed_document_has_the_bytes_the_map_gave() {
        let mut invalid = task("BAD", "");
        invalid.value = b"a\xFFb\xC3".to_vec();
        let inputs = [
            vec![],
            vec![task("A", "1")],
            vec![
                task("Z", "last"),
                task("a", "lower"),
                task(
                    "B",
                    "tab\tquote\" back\\slash nl\n cr\r nul\0 bell\x07 del\x7f",
                ),
                task("ünï", "cödé ☃ 😀 \u{2028}"),
                task("", "empty key"),
                task("E", ""),
                invalid,
            ],
            vec![task("DUP", "first"), task("X", "x"), task("DUP", "second")],
        ];
        for tasks in inputs {
            let streamed = document(&tasks);
            assert_eq!(
                String::from_utf8_lossy(&streamed),
                String::from_utf8_lossy(&document_via_map(&tasks))
            );
            assert_eq!(streamed, document_via_map(&tasks));
        }
    }

    #[test]
    fn the_read_is_one_kv_get_of_the_document() {
        let r = Vault {
            addr: "http://v:1".into(),
            mount: "-m".into(),
            path: "-h".into(),
        };
        let calls = r.read_calls(&["A", "B"]);
        assert_eq!(calls.len(), 1);
        assert_eq!(
            calls[0].cmd.args,
            ["kv", "get", "-format=json", "-mount=-m", "--", "-h"]
        );
        assert_option_safe(&calls[0].cmd, &["-m", "-h"]);
        let out = br#"{"data":{"data":{"A":"1","Z":"2","N":3},"metadata":{"version":2}}}"#;
        let back = r.parse_read(&calls[0], out).unwrap();
        assert_eq!(
            back.values,
            [
                ("A".to_string(), b"1".to_vec()),
                ("Z".to_string(), b"2".to_vec())
            ]
        );
        assert_eq!(back.unreadable, ["N"]);
        let deleted = br#"{"data":{"data":null,"metadata":{"version":3}}}"#;
        assert!(r.parse_read(&calls[0], deleted).unwrap().values.is_empty());
        // KV v1: the map is `data` itself, whatever its keys are called.
        let v1 = br#"{"data":{"A":"1","data":"2","metadata":"3"},"lease_duration":2764800}"#;
        assert_eq!(
            r.parse_read(&calls[0], v1).unwrap().values,
            [
                ("A".to_string(), b"1".to_vec()),
                ("data".to_string(), b"2".to_vec()),
                ("metadata".to_string(), b"3".to_vec())
            ]
        );
        assert_eq!(
            r.read_failure("No value found at -m/data/-h"),
            ReadFailure::NotFound
        );
        assert_eq!(
            r.read_failure("Code: 403. Errors:\n\n* permission denied"),
            ReadFailure::Denied
        );
    }

    #[test]
    fn kept_keys_are_written_back_as_stored_under_the_version_read() {
        let r = Vault {
            addr: "http://v:1".into(),
            mount: "secret".into(),
            path: "-h".into(),
        };
        let v2 = br#"{"data":{"data":{"A":"old","K":"k","N":7},"metadata":{"version":4}}}"#;
        let stored = parse_stored(v2).unwrap();
        assert_eq!(stored.version, Some(4));
        assert_eq!(stored.data["N"], 7);
        let v1 = br#"{"data":{"A":"old","K":"k"},"lease_duration":2764800}"#;
        assert_eq!(parse_stored(v1).unwrap().version, None);
        assert_eq!(parse_stored(v1).unwrap().data.len(), 2);
        let deleted = br#"{"data":{"data":null,"metadata":{"version":5}}}"#;
        let gone = parse_stored(deleted).unwrap();
        assert_eq!((gone.data.len(), gone.version), (0, Some(5)));

        let cmd = r.write_cmd_at(Some(4));
        assert_eq!(
            cmd.args,
            ["kv", "put", "-cas=4", "-mount=secret", "--", "-h", "-"]
        );
        assert_eq!(r.write_cmd_at(None), r.write_cmd());

        let mut kept = stored.data.clone();
        kept.remove("A");
        let doc: serde_json::Value =
            serde_json::from_slice(&document_keeping(&[task("A", "new")], &kept)).unwrap();
        assert_eq!(doc, serde_json::json!({"A":"new","K":"k","N":7}));
        assert_eq!(
            document_keeping(&[task("A", "x")], &Default::default()),
            document(&[task("A", "x")])
        );
        assert!(
            r.advice(
                "Code: 400. Errors:\n\n* check-and-set parameter did not match the current version"
            )
            .is_some()
        );
        assert!(r.absent("No value found at secret/data/-h"));
    }

    #[test]
    fn server_side_failures_are_transient() {
        assert!(is_transient(
            "Error writing data to secret/data/x: Code: 503. Errors: * Vault is sealed"
        ));
        assert!(!is_transient(
            "Error writing data to secret/data/x: Code: 403. Errors: * permission denied"
        ));
    }

    #[test]
    fn mounts_and_paths_that_look_like_options_are_never_read_as_options() {
        let r = Vault {
            addr: "http://x:1".into(),
            mount: "-m".into(),
            path: "-h".into(),
        };
        let cmd = r.write_cmd();
        assert_option_safe(&cmd, &["-m", "-h"]);
        assert_eq!(cmd.args[cmd.args.len() - 3..], ["--", "-h", "-"]);
    }

    #[test]
    fn keys_are_bounded_at_4096_bytes() {
        assert_eq!(name_problem(&"k".repeat(4096)), None);
        assert!(name_problem(&"k".repeat(4097)).is_some());
        assert!(name_problem("").is_some());
        assert!(name_problem("a b").is_some());
    }
}
