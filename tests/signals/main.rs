//! The tests that signal vsync (interrupts, SIGQUIT, SIGABRT, a closed output pipe) and
//! count the processes it leaves. They run one at a time (`support::serial`), in a crate of
//! their own: a signal meant for one run must never reach another test's processes, and
//! process ids are reused quickly on a busy machine.

#[path = "../support/mod.rs"]
mod support;

mod hardening_process;
mod interrupt;
mod json_on_interrupt;
mod prune_prompt;
