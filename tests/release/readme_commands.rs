//! The demo commands of the README and docs/ work as written: every ```` ```sh demo ````
//! block runs from the repo root and exits 0, and so does `fixtures/demo/run.sh` itself, which must land every
//! demo secret in all five fake backends without a value ever reaching a vendor's argv.
//!
//! The install commands (```` ```sh install ````) need the release tarball: `tests/release/dist.rs`
//! runs them when `VSYNC_TEST_DIST=1`.

use std::time::Duration;

/// The demo builds vsync and the fake (a no-op after `cargo test` built them) and runs six
/// syncs; this is a generous bound for a cold, busy machine.
const LIMIT: Duration = Duration::from_secs(900);

#[test]
fn every_sh_demo_block_of_the_readme_exits_0_from_the_repo_root() {
    let Some(blocks) = crate::readme::tagged_blocks_or_skip("demo") else {
        return;
    };
    for block in blocks {
        let ran = crate::readme::run_script(&block.script, &crate::readme::root(), &[], LIMIT);
        assert!(
            ran.status.success(),
            "{} line {}: the demo block failed:\n{}\n{}",
            block.file,
            block.line,
            block.script,
            ran.describe()
        );
    }
}

#[test]
fn the_demo_script_lands_every_secret_in_all_five_fake_backends() {
    let ran = crate::readme::run_script(
        "bash fixtures/demo/run.sh",
        &crate::readme::root(),
        &[],
        LIMIT,
    );
    assert!(ran.status.success(), "the demo failed:\n{}", ran.describe());
    let out = &ran.stdout;
    let landed = |service: &str, scope: &str, name: &str| {
        out.lines().any(|l| {
            let cells: Vec<&str> = l.split_whitespace().collect();
            cells.len() >= 3 && cells[..3] == [service, scope, name]
        })
    };
    for name in [
        "DATABASE_URL",
        "STRIPE_API_KEY",
        "FEATURE_FLAGS",
        "DEPLOY_KEY",
    ] {
        assert!(landed("gh", "acme__demo__dev", name), "gh {name}\n{out}");
        assert!(landed("gcp", "acme-demo", name), "gcp {name}\n{out}");
        let aws_name = format!("demo/dev/{name}");
        assert!(landed("aws", "eu-west-1", &aws_name), "aws {name}\n{out}");
        assert!(
            out.contains(&format!("\"{name}\":")),
            "vault doc lacks {name}\n{out}"
        );
        // The same env file, each `_` stored as `-` (`--azure-names=dashes`).
        let azure_name = name.replace('_', "-");
        assert!(
            landed("azure", "acme-demo-kv", &azure_name),
            "azure {name}\n{out}"
        );
    }
    assert!(landed("vault", "secret", "demo/dev"), "{out}");
    // The excluded key went nowhere; the multi-line file reference arrived whole.
    assert!(!landed("gh", "acme__demo__dev", "GITHUB_TOKEN"), "{out}");
    assert!(!landed("gcp", "acme-demo", "GITHUB_TOKEN"), "{out}");
    assert!(!landed("azure", "acme-demo-kv", "GITHUB-TOKEN"), "{out}");
    assert!(!out.contains("\"GITHUB_TOKEN\":"), "{out}");
    assert!(
        out.contains("      | -----BEGIN DEMO DEPLOY KEY-----\n      | bm90"),
        "{out}"
    );
    assert!(
        out.contains("Dry run: no vendor CLI was run and nothing was saved."),
        "{out}"
    );
    assert!(out.contains("no value in any argv."), "{out}");
    for target in ["gh", "gcp", "aws", "azure", "vault"] {
        assert!(
            out.contains(&format!(" secrets synced to {target} in ")),
            "{target} did not sync\n{out}"
        );
    }
}
