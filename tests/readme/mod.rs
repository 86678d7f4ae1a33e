//! The runnable code blocks of README.md and docs/*.md, for the tests that keep their
//! commands true.
//!
//! A fenced block whose info string is `sh` plus a tag (```` ```sh demo ````,
//! ```` ```sh install ````) is a script the tests run: all of its lines in one `bash`, with
//! `set -eo pipefail`, so every command in it must succeed and a `cd` or a variable carries
//! to the next line, as when a reader pastes the block. GitHub highlights such a block as
//! `sh` and ignores the tag.

#![allow(dead_code)] // each test crate uses a part of it

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::Duration;
use wait_timeout::ChildExt;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One tagged block: its file (relative to the repo root), where it starts there (1-based
/// line of the fence) and its text.
#[derive(Debug, Clone)]
pub struct Block {
    pub file: String,
    pub line: usize,
    pub script: String,
}

/// The blocks of `text` fenced as ```` ```sh <tag> ````.
pub fn blocks(text: &str, tag: &str) -> Vec<Block> {
    let mut found = Vec::new();
    let mut open: Option<(usize, bool, String)> = None; // (line, tagged, body)
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        match open.as_mut() {
            None => {
                if let Some(info) = trimmed.strip_prefix("```") {
                    let words: Vec<&str> = info.split_whitespace().collect();
                    let tagged = words.first() == Some(&"sh") && words[1..].contains(&tag);
                    open = Some((i + 1, tagged, String::new()));
                }
            }
            Some((start, tagged, body)) => {
                if trimmed.starts_with("```") && trimmed.trim_end() == "```" {
                    if *tagged {
                        found.push(Block {
                            file: String::new(),
                            line: *start,
                            script: std::mem::take(body),
                        });
                    }
                    open = None;
                } else {
                    body.push_str(line);
                    body.push('\n');
                }
            }
        }
    }
    found
}

/// README.md and every docs/*.md, in that order (docs by name).
pub fn documents() -> Vec<String> {
    let mut docs: Vec<String> = std::fs::read_dir(root().join("docs"))
        .map(|dir| {
            dir.flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|name| name.ends_with(".md"))
                .map(|name| format!("docs/{name}"))
                .collect()
        })
        .unwrap_or_default();
    docs.sort();
    docs.insert(0, "README.md".to_string());
    docs
}

/// The blocks with `tag` in README.md and docs/*.md. When there are none: `None` after
/// printing `SKIP`, or a failure when `CI` is set — CI must never pass by running nothing.
pub fn tagged_blocks_or_skip(tag: &str) -> Option<Vec<Block>> {
    let mut found = Vec::new();
    for file in documents() {
        let text = std::fs::read_to_string(root().join(&file)).unwrap_or_default();
        found.extend(blocks(&text, tag).into_iter().map(|b| Block {
            file: file.clone(),
            ..b
        }));
    }
    if !found.is_empty() {
        return Some(found);
    }
    let why = format!(
        "neither README.md nor docs/*.md has a ```sh {tag} code block: tag the {tag} \
         commands that way so a test runs them"
    );
    assert!(std::env::var_os("CI").is_none(), "{why} (CI is set)");
    println!("SKIP: {why}");
    None
}

/// What a script printed and how it ended.
pub struct Ran {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    pub fn describe(&self) -> String {
        format!(
            "exit {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status.code(),
            self.stdout,
            self.stderr
        )
    }
}

/// Runs `script` with `bash` (after `set -eo pipefail`, and `ulimit -c 0` so that nothing
/// it starts can leave a core file in the tree) in `cwd`, with the test's environment
/// plus `env`; killed, and the test failed, after `limit`.
pub fn run_script(script: &str, cwd: &Path, env: &[(&str, &str)], limit: Duration) -> Ran {
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(format!("set -eo pipefail\nulimit -c 0\n{script}"))
        .current_dir(cwd)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning bash");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let status = match child.wait_timeout(limit).expect("waiting for bash") {
        Some(status) => status,
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("did not finish within {limit:?}:\n{script}");
        }
    };
    Ran {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sh_blocks_with_the_tag_are_picked_with_their_fence_line() {
        let text = "intro\n```sh demo\necho one\necho two\n```\n```sh\nnot tagged\n```\n\
                    ```bash demo\nnot sh\n```\n```sh install demo\necho three\n```\n";
        let found = blocks(text, "demo");
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].line, 2);
        assert_eq!(found[0].script, "echo one\necho two\n");
        assert_eq!(found[1].script, "echo three\n");
        assert!(blocks(text, "install").len() == 1);
    }
}
