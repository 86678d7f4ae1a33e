//! `--json`: the run's report as one JSON document on stdout, printed when the run ends,
//! whichever way it ends once the target was reached (stdout holds nothing else; warnings and
//! errors stay on stderr). The schema is in docs/json.md; `SCHEMA` changes when a field
//! changes meaning or goes away, and fields may be added without it.

use crate::report::RunReport;
use serde::Serialize;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

pub const SCHEMA: u32 = 1;

#[derive(Debug, Serialize)]
struct Doc<'a> {
    schema: u32,
    /// `sync`, `diff` or `dry_run`.
    mode: &'static str,
    target: &'a str,
    env: &'a str,
    /// Where the secrets go, as the banner says it after its `:` (`region=…, prefix=…`).
    scope: String,
    /// The same, field by field, with the service's name.
    location: Location<'a>,
    duration_ms: u64,
    /// The exit status the run ends with.
    exit: u8,
    /// `done`, `interrupted`, `deadline` or `error`.
    ended: &'static str,
    /// Why a step could not run (a read, a list, a prune), or null.
    error: Option<&'a str>,
    /// Vendor calls the store throttled in this run (each one paced the whole target).
    throttles: u64,
    keys: Vec<Entry<'a>>,
}

#[derive(Debug, Serialize)]
struct Location<'a> {
    service: &'a str,
    #[serde(flatten)]
    fields: BTreeMap<&'a str, &'a str>,
}

/// One key of the env file, or one name in scope the file does not define.
#[derive(Debug, Serialize)]
struct Entry<'a> {
    key: &'a str,
    /// The secret's name in the target.
    name: Cow<'a, str>,
    status: &'static str,
    /// Vendor calls made for it (0: none).
    attempts: u32,
    /// The last call's error, scrubbed of every value.
    error: Option<&'a str>,
    /// Calls for it that the store throttled.
    throttles: u32,
    /// Present (`true`) only when a deleted secret of vsync's held the name and was
    /// recovered before the write: `status` says whether the new value then landed (if not,
    /// the secret holds its old value again).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    recovered: bool,
}

fn millis(d: Duration) -> u64 {
    d.as_millis().min(u128::from(u64::MAX)) as u64
}

/// The document of a finished run.
pub fn render(report: &RunReport) -> String {
    let doc = Doc {
        schema: SCHEMA,
        mode: report.mode.name(),
        target: report.target_name(),
        env: report.env,
        scope: report.location.fields_text(),
        location: Location {
            service: report.location.service,
            fields: report
                .location
                .fields
                .iter()
                .map(|(k, v)| (*k, v.as_str()))
                .collect(),
        },
        duration_ms: millis(report.started.elapsed()),
        exit: report.exit().code(),
        ended: report.ended().name(),
        error: report.error.as_deref(),
        throttles: report.throttles,
        keys: report
            .entries()
            .map(|e| Entry {
                key: e.key,
                name: e.name,
                status: e.state.name(),
                attempts: e.attempts,
                error: e.error,
                throttles: e.throttles,
                recovered: e.recovered,
            })
            .collect(),
    };
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Mode, Outcome, State};
    use crate::task::{SecretTask, Source};

    #[test]
    fn the_document_has_the_documented_fields() {
        let aws =
            crate::targets::opened("aws", &[("aws-region", "r"), ("aws-secret-prefix", "p/")]);
        let tasks = [SecretTask {
            key: "A".into(),
            value: b"v".to_vec(),
            source: Source::Literal,
            line: 1,
        }];
        let mut report = RunReport::new(Mode::Sync, &*aws, "dev", &tasks);
        let throttled = Outcome {
            attempts: 3,
            throttles: 2,
            ..Outcome::default()
        };
        report.record(0, State::Created, throttled);
        report.throttles = 2;
        let v: serde_json::Value = serde_json::from_str(&render(&report)).unwrap();
        assert_eq!(v["schema"], 1);
        assert_eq!(v["scope"], "region=r, prefix=p/");
        assert_eq!(v["keys"][0]["name"], "p/A");
        assert_eq!(v["keys"][0]["error"], serde_json::Value::Null);
        assert_eq!(v["location"]["service"], "AWS Secrets Manager");
        assert_eq!(v["location"]["prefix"], "p/");
        assert_eq!(v["ended"], "done");
        assert_eq!(v["error"], serde_json::Value::Null);
        assert_eq!(v["throttles"], 2);
        assert_eq!(v["keys"][0]["throttles"], 2);
        assert_eq!(v["keys"][0]["recovered"], serde_json::Value::Null);
    }
}
