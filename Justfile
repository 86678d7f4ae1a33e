# Tasks for working on vsync. `just` is optional: every recipe is one plain command.

default: test

# Build the debug binary.
build:
    cargo build

# The test command (README, CI).
test:
    cargo test

# Formatting and lints, as CI runs them.
lint:
    cargo fmt --check
    cargo clippy --all-targets -- -D warnings

# A real sync against the fixture backends, no cloud account needed.
demo:
    bash fixtures/demo/run.sh

# The benchmark table of BENCHMARKS.md.
bench:
    cargo bench --bench sync

# Static musl release tarballs (x86_64, aarch64) and SHA256SUMS in dist/.
dist:
    bash scripts/dist

# The release checks: both tarballs, reproducibility, the aarch64 build under qemu.
test-dist:
    VSYNC_TEST_DIST=1 cargo test --test release dist::

# Print a shell completion script (bash, zsh or fish).
completions shell:
    cargo run --quiet -- completions {{shell}}

# What CI runs on a clean clone.
ci:
    bash .ci/run
