//! The numbers an evaluation computes from predictions (accuracies on subsets, top-k). The
//! records they go into (`metrics.jsonl`, `summary.json`) are the run folder's schema, owned by
//! `rethink-runs` and re-exported here.

pub use rethink_runs::{EvalRecord, MetricsLog, StopReason, Summary, THRESHOLDS, TrainRecord};

/// How many training labels differ from the clean ones, and how many were redrawn.
#[derive(Clone, Copy, Debug, Default)]
pub struct CorruptionCounts {
    /// Training labels that differ from the clean ones, when the clean labels are known.
    pub corrupted: Option<usize>,
    /// Training labels that were redrawn, when the data records which.
    pub redrawn: Option<usize>,
}

/// Top-k accuracy from each example's rank (how many classes scored above its label),
/// optionally only where `mask` equals `keep`.
pub fn top_k(ranks: &[i64], k: i64, mask: Option<(&[u8], u8)>) -> Option<f64> {
    let (mut right, mut total) = (0usize, 0usize);
    for (i, &r) in ranks.iter().enumerate() {
        if let Some((mask, keep)) = mask
            && mask[i] != keep
        {
            continue;
        }
        total += 1;
        right += (r < k) as usize;
    }
    (total > 0).then(|| right as f64 / total as f64)
}

/// Accuracy of `predictions` against `labels`, optionally only where `mask` equals `keep`.
pub fn accuracy(predictions: &[i64], labels: &[u16], mask: Option<(&[u8], u8)>) -> Option<f64> {
    let (mut right, mut total) = (0usize, 0usize);
    for (i, (&p, &l)) in predictions.iter().zip(labels).enumerate() {
        if let Some((mask, keep)) = mask
            && mask[i] != keep
        {
            continue;
        }
        total += 1;
        right += (p == l as i64) as usize;
    }
    (total > 0).then(|| right as f64 / total as f64)
}
