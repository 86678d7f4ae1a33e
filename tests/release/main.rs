//! What ships: the release tarballs (`scripts/dist`), the man page, the README's commands
//! and the shell completions.

#[path = "../readme/mod.rs"]
mod readme;

mod completions;
mod dist;
mod man_page;
mod readme_commands;
