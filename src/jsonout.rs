//! `--json`: the run as one JSON document on stdout, printed when the run ends (the human
//! lines are not printed; warnings and errors stay on stderr). The schema is in the README;
//! `SCHEMA` changes when a field changes meaning or goes away.

use serde::Serialize;
use std::time::Duration;

pub const SCHEMA: u32 = 1;

#[derive(Debug, Serialize)]
pub struct Doc<'a> {
    pub schema: u32,
    /// `sync`, `diff` or `dry_run`.
    pub mode: &'a str,
    pub target: &'a str,
    pub env: &'a str,
    /// Where the secrets go, as the banner says it after its `:` (`region=…, prefix=…`).
    pub scope: String,
    pub duration_ms: u64,
    /// The exit status the run ends with.
    pub exit: u8,
    /// Vendor calls the store throttled in this run (each one paced the whole target).
    pub throttles: u64,
    pub keys: Vec<Entry>,
}

/// One key of the env file, or one name in scope the file does not define.
#[derive(Debug, Serialize)]
pub struct Entry {
    pub key: String,
    /// The secret's name in the target.
    pub name: String,
    pub status: &'static str,
    /// Vendor calls made for it (0: none).
    pub attempts: u32,
    /// The last call's error, scrubbed of every value.
    pub error: Option<String>,
    /// Present (`true`) only when a deleted secret of vsync's held the name and was
    /// recovered before the write: `status` says whether the new value then landed (if not,
    /// the secret holds its old value again).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub recovered: bool,
    /// Calls for it that the store throttled.
    pub throttles: u32,
}

/// The part of a banner after `: `.
pub fn scope_of(banner: &str) -> String {
    banner
        .split_once(": ")
        .map_or(banner, |(_, s)| s)
        .to_string()
}

pub fn millis(d: Duration) -> u64 {
    d.as_millis().min(u128::from(u64::MAX)) as u64
}

pub fn render(doc: &Doc<'_>) -> String {
    serde_json::to_string_pretty(doc).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_has_the_documented_fields() {
        let doc = Doc {
            schema: SCHEMA,
            mode: "sync",
            target: "aws",
            env: "dev",
            scope: scope_of("Syncing 2 secrets to AWS Secrets Manager: region=r, prefix=p/"),
            duration_ms: 12,
            exit: 0,
            throttles: 2,
            keys: vec![Entry {
                key: "A".into(),
                name: "p/A".into(),
                status: "created",
                attempts: 3,
                error: None,
                recovered: false,
                throttles: 2,
            }],
        };
        let v: serde_json::Value = serde_json::from_str(&render(&doc)).unwrap();
        assert_eq!(v["schema"], 1);
        assert_eq!(v["scope"], "region=r, prefix=p/");
        assert_eq!(v["keys"][0]["name"], "p/A");
        assert_eq!(v["keys"][0]["error"], serde_json::Value::Null);
        assert_eq!(v["throttles"], 2);
        assert_eq!(v["keys"][0]["throttles"], 2);
    }
}
