//! vsync: push the secrets of a dotenv file to GitHub, GCP, AWS, Azure or HashiCorp Vault
//! through each vendor's own CLI.

mod config;
mod envfile;
mod repo;
mod task;

fn main() {}
