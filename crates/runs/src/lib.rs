//! The run folder, a contract like the dataset file: `train` writes `runs/<name>/config.json`,
//! `metrics.jsonl` and `summary.json`, `kernel-fit` (the paper's Section 5) writes
//! `config.json` and `summary.json` with `"kind": "kernel"` ([`RunKind`]); `report` reads them. This crate
//! owns their schema, so that writer and reader share one set of types (serde only, no burn).
//!
//! Every field of the three files is documented in this crate's README. Files written before
//! [`SCHEMA_VERSION`] 1 still read: a field they lack takes its default (`schema_version` 0).

#![warn(missing_docs)]

mod config;
mod corruption;
mod kernel;
mod metrics;
mod summary;

pub use config::Config;
pub use corruption::{Corruption, Pixels, fmt_num};
pub use kernel::{
    FeatureMap, KERNEL_KIND, KernelConfig, KernelSummary, KernelTimings, Method, RunKind,
};
pub use metrics::{
    EvalRecord, Metrics, MetricsLog, Record, TrainRecord, parse_metrics, read_metrics,
};
pub use summary::{Final, StopReason, Summary, THRESHOLDS};

use std::path::Path;

use anyhow::Context as _;
use serde::Serialize;

/// The version of the run-folder schema written by this crate, recorded as `schema_version` in
/// `config.json` and `summary.json`. 0 (the field absent) marks a folder written before it existed,
/// where `train_acc_corrupted` meant "label redrawn" rather than "label differs from the clean one".
pub const SCHEMA_VERSION: u32 = 1;

/// File names inside a run folder.
pub const CONFIG_FILE: &str = "config.json";
/// See [`CONFIG_FILE`].
pub const METRICS_FILE: &str = "metrics.jsonl";
/// See [`CONFIG_FILE`].
pub const SUMMARY_FILE: &str = "summary.json";

/// Writes `value` as pretty JSON with keys in alphabetical order and a final newline, atomically
/// (the format `config.json` and `summary.json` have always had).
pub fn write_json(path: &Path, value: &impl Serialize) -> anyhow::Result<()> {
    // Through a `Value`: its map sorts keys, so field order in the structs does not matter.
    let value = serde_json::to_value(value)
        .with_context(|| format!("{}: cannot serialize", path.display()))?;
    rethink_cli::atomic_write(path, |w| {
        serde_json::to_writer_pretty(&mut *w, &value)?;
        w.write_all(b"\n")?;
        Ok(())
    })
}

/// Reads and parses one JSON file of a run folder.
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "{}: not a valid {}",
            path.display(),
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        )
    })
}
