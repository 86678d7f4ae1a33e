//! End-to-end tests: the real `vsync` binary against the fake vendor CLIs
//! (`fixtures/fake_vendor.rs`), one module per feature, sharing `tests/support`.

#[path = "../support/mod.rs"]
mod support;

mod azure_names;
mod cli;
mod config_safety;
mod dry_run;
mod failure_model;
mod fake_vendor;
mod hardening_argv;
mod hardening_input;
mod hardening_output;
mod json_every_path;
mod know_target;
mod no_leaks;
mod preflight;
mod prune_owner;
mod recover;
mod store_settings;
mod store_signals;
mod sync_aws;
mod sync_azure;
mod sync_gcp;
mod sync_gh;
mod sync_ssm;
mod sync_targets;
mod sync_vault;
mod vendor_calls;
