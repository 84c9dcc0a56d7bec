//! `rethink-testkit`: the test harness every crate's tests share, so that no test file carries
//! its own copy. Used as a `[dev-dependencies]` entry only; nothing in it reaches a release
//! binary.
//!
//! - [`Dir`]: a temporary folder removed when dropped, with helpers to write fixtures into it.
//! - [`TestCommand`]: a tool invocation that pipes bytes in and, when an expectation fails,
//!   prints the command, its exit status and its stderr; [`Run`]: a finished invocation with the
//!   same kind of assertions (also under a memory limit).
//! - [`tiny_dataset`], [`encode`], [`decode`], [`Gen`]: small generated datasets and a seeded
//!   generator for fixtures, without an RNG crate.
//! - [`runs::Fixture`]: a run folder in the format `train` writes, with exactly the numbers
//!   given; [`csv`]: reading the report's CSV files back into values.
//! - [`python`], [`run_python`]: the project's Python (with numpy) for interop tests.
//! - [`TestServer`]: a local HTTP server for download tests (no test touches the internet).
//! - [`training`]: fixtures and run-folder readers for the tests of `train`.

#![warn(missing_docs)]

mod command;
pub mod csv;
mod data;
mod python;
mod run;
pub mod runs;
mod server;
pub mod training;

pub use command::{TestCommand, assert_one_line_error};
pub use data::{Dir, Gen, cut, decode, encode, tiny_dataset};
pub use python::{python, run_python, workspace_root};
pub use run::Run;
pub use server::TestServer;
