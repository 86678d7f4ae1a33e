//! The vendor CLIs themselves (`aws`, `gcloud`, `gh`, OpenBao's `bao` as `vault`) against
//! servers on 127.0.0.1: moto, the doubles in `fixtures/doubles/`, a dev OpenBao; `az` reaches
//! its double through an HTTPS proxy (see `azure.rs`). Each test
//! prints `SKIP:` and passes when its tools are missing, unless `CI` is set.

#[path = "../support/mod.rs"]
mod support;

mod azure;
mod cli;
mod common;
mod doubles;
mod owner;
mod vault;
