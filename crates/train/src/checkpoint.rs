//! Checkpoints for `--resume` and Ctrl-C: `checkpoint/` holds the model (`model.bpk`), the
//! optimizer state (`optimizer.bpk`, momentum buffers) and `state.json` (step, wall time, the
//! running loss sum). A new checkpoint is written whole into `checkpoint.tmp` and swapped in by
//! renames, the previous one kept as `checkpoint.old` until then, so a crash at any moment leaves
//! one complete checkpoint to resume from. The test hook `RETHINK_TEST_ABORT_AT` (see
//! `rethink_dataset::fault`) can kill the process at `checkpoint:model` (model written),
//! `checkpoint:optimizer` (optimizer written) and `checkpoint:swap` (the previous checkpoint
//! renamed to `checkpoint.old`, the new one not yet in place).

use std::path::Path;

use anyhow::{Context, Result, anyhow};
use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::store::ModuleRecord;
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::models::Network;
use rethink_dataset::fault;

/// What `checkpoint/state.json` records beside the model and optimizer files.
#[derive(Serialize, Deserialize)]
pub struct CheckpointState {
    /// SGD steps taken.
    pub step: u64,
    /// Seconds of training so far (a resumed run continues the count).
    pub wall_s: f64,
    /// The training loss summed since the last `train` record (f32, as summed on the device),
    /// and over how many steps: a resumed run continues the same sum.
    pub loss_sum: Option<f32>,
    /// Over how many steps `loss_sum` was summed.
    pub loss_count: u64,
}

impl CheckpointState {
    /// The state of a run that has not taken a step.
    pub fn start() -> CheckpointState {
        CheckpointState {
            step: 0,
            wall_s: 0.0,
            loss_sum: None,
            loss_count: 0,
        }
    }

    /// The state at `step`, reading the running loss sum off the device.
    pub fn at(
        step: u64,
        wall_s: f64,
        loss_sum: &Option<Tensor<1>>,
        loss_count: u64,
    ) -> CheckpointState {
        CheckpointState {
            step,
            wall_s,
            loss_sum: loss_sum.as_ref().map(|t| t.clone().into_scalar::<f32>()),
            loss_count,
        }
    }
}

/// Whether `out` holds a checkpoint to resume from (the current one, or the previous one that a
/// crash during the swap left behind).
pub fn exists(out: &Path) -> bool {
    out.join("checkpoint").join("state.json").exists()
        || out.join("checkpoint.old").join("state.json").exists()
}

/// Writes the checkpoint of `model` and `optimizer` at `state` into `out/checkpoint`.
pub fn save(
    out: &Path,
    model: &Network,
    optimizer: &ModuleOptimizer,
    state: CheckpointState,
) -> Result<()> {
    let tmp = out.join("checkpoint.tmp");
    let dir = out.join("checkpoint");
    let old = out.join("checkpoint.old");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).with_context(|| format!("{}: cannot create", tmp.display()))?;
    model
        .clone()
        .save_file(tmp.join("model.bpk"))
        .map_err(|e| anyhow!("{}: {e}", tmp.join("model.bpk").display()))?;
    fault::abort_point("checkpoint:model");
    optimizer
        .save(tmp.join("optimizer.bpk"))
        .map_err(|e| anyhow!("{}: {e}", tmp.join("optimizer.bpk").display()))?;
    fault::abort_point("checkpoint:optimizer");
    std::fs::write(tmp.join("state.json"), serde_json::to_vec(&state)?)?;
    let _ = std::fs::remove_dir_all(&old);
    if dir.exists() {
        std::fs::rename(&dir, &old)?;
    }
    fault::abort_point("checkpoint:swap");
    std::fs::rename(&tmp, &dir)?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}

/// Loads the checkpoint in `out` (the current one, else the previous one) into `model` and
/// `optimizer`.
pub fn load(
    out: &Path,
    model: Network,
    optimizer: ModuleOptimizer,
) -> Result<(Network, ModuleOptimizer, CheckpointState)> {
    let dir = if out.join("checkpoint").join("state.json").exists() {
        out.join("checkpoint")
    } else {
        out.join("checkpoint.old")
    };
    let state_path = dir.join("state.json");
    let state: CheckpointState = serde_json::from_str(
        &std::fs::read_to_string(&state_path)
            .with_context(|| format!("{}: cannot read", state_path.display()))?,
    )
    .with_context(|| format!("{}: not a checkpoint state", state_path.display()))?;
    let record = ModuleRecord::load(dir.join("model.bpk"))
        .map_err(|e| anyhow!("{}: {e}", dir.join("model.bpk").display()))?;
    let model = model
        .try_load_record(record)
        .map_err(|e| anyhow!("{}: {e}", dir.join("model.bpk").display()))?;
    let optimizer = optimizer
        .load(dir.join("optimizer.bpk"))
        .map_err(|e| anyhow!("{}: {e}", dir.join("optimizer.bpk").display()))?;
    Ok((model, optimizer, state))
}
