//! What an evaluation measures: the loss, top-1 and top-5 of a model on a whole split, and the
//! label subsets the paper's memorization plots need (labels that differ from the clean ones,
//! labels that were redrawn), kept on the host.

use burn::tensor::Tensor;
use burn::tensor::activation::log_softmax;

use crate::data::{DeviceSplit, Pipeline};
use crate::metrics::CorruptionCounts;
use crate::models::Network;

/// Host-side label sets for the subset accuracies.
pub struct Subsets {
    /// The training labels as trained on.
    pub labels: Vec<u16>,
    /// The clean (uncorrupted) training labels, when the data has them.
    pub clean: Option<Vec<u16>>,
    /// 1 where the training label differs from the clean label: the examples that can only be
    /// memorized (a redrawn label equal to the true class can be learned by generalization).
    pub corrupted: Option<Vec<u8>>,
    /// 1 where the label was redrawn (`train_corrupted`).
    pub redrawn: Option<Vec<u8>>,
    /// The test labels, when the data has a test split.
    pub test_labels: Option<Vec<u16>>,
    /// Top-5 accuracy is recorded with more than 5 classes.
    pub top5: bool,
}

impl Subsets {
    /// Derives the subsets from the training labels and, where given, the clean ones.
    pub fn new(
        labels: &[u16],
        clean: Option<&[u16]>,
        redrawn: Option<Vec<u8>>,
        test_labels: Option<Vec<u16>>,
        classes: usize,
    ) -> Subsets {
        let corrupted = clean.map(|c| labels.iter().zip(c).map(|(l, c)| (l != c) as u8).collect());
        Subsets {
            labels: labels.to_vec(),
            clean: clean.map(<[u16]>::to_vec),
            corrupted,
            redrawn,
            test_labels,
            top5: classes > 5,
        }
    }

    /// The subsets of the training examples `indices` (the test labels unchanged).
    pub fn select(&self, indices: &[usize]) -> Subsets {
        fn pick<T: Copy>(values: &[T], indices: &[usize]) -> Vec<T> {
            indices.iter().map(|&i| values[i]).collect()
        }
        Subsets {
            labels: pick(&self.labels, indices),
            clean: self.clean.as_deref().map(|c| pick(c, indices)),
            corrupted: self.corrupted.as_deref().map(|c| pick(c, indices)),
            redrawn: self.redrawn.as_deref().map(|r| pick(r, indices)),
            test_labels: self.test_labels.clone(),
            top5: self.top5,
        }
    }

    /// How many training labels are corrupted and how many redrawn.
    pub fn counts(&self) -> CorruptionCounts {
        let ones = |m: &Option<Vec<u8>>| m.as_ref().map(|m| m.iter().filter(|&&v| v == 1).count());
        CorruptionCounts {
            corrupted: ones(&self.corrupted),
            redrawn: ones(&self.redrawn),
        }
    }
}

/// What [`evaluate`] measures on a split.
pub struct Evaluation {
    /// Mean cross-entropy.
    pub loss: f64,
    /// Predicted class of each example.
    pub predictions: Vec<i64>,
    /// The rank of each label: how many classes scored above it (0 means top-1, < 5 top-5).
    pub ranks: Vec<i64>,
    /// Row-major `[n, classes]` log-probabilities, when asked for (per-example records).
    pub log_probs: Option<Vec<f32>>,
}

/// Evaluates `model` on a whole split, in batches of `batch`; `keep_log_probs` also brings every
/// example's log-probabilities to the host.
pub fn evaluate(
    model: &Network,
    pipeline: &Pipeline,
    split: &DeviceSplit,
    batch: usize,
    keep_log_probs: bool,
) -> Evaluation {
    let mut losses = Vec::new();
    let mut predictions = Vec::new();
    let mut ranks = Vec::new();
    let mut kept = Vec::new();
    for start in (0..split.len).step_by(batch) {
        let end = (start + batch).min(split.len);
        let logits = model.forward(pipeline.eval_batch(split, start, end)); // [b, classes]
        let log_probs = log_softmax(logits, 1);
        if keep_log_probs {
            kept.push(log_probs.clone());
        }
        let labels = split
            .labels
            .clone()
            .slice([start..end])
            .unsqueeze_dim::<2>(1); // [b, 1]
        let label_log_probs = log_probs.clone().gather(1, labels); // [b, 1]
        let classes = log_probs.dims()[1];
        ranks.push(
            log_probs
                .clone()
                .greater(label_log_probs.clone().expand([end - start, classes]))
                .int()
                .sum_dim(1),
        ); // [b, 1]
        losses.push(label_log_probs.sum().neg());
        predictions.push(log_probs.argmax(1)); // [b, 1]
    }
    let loss: f64 = Tensor::cat(losses, 0).sum().into_scalar::<f32>() as f64 / split.len as f64;
    let predictions = Tensor::cat(predictions, 0)
        .into_data()
        .convert::<i64>()
        .to_vec::<i64>()
        .expect("int predictions");
    let ranks = Tensor::cat(ranks, 0)
        .into_data()
        .convert::<i64>()
        .to_vec::<i64>()
        .expect("int ranks");
    let log_probs = keep_log_probs.then(|| {
        Tensor::cat(kept, 0)
            .into_data()
            .convert::<f32>()
            .to_vec::<f32>()
            .expect("float log-probabilities")
    });
    Evaluation {
        loss,
        predictions,
        ranks,
        log_probs,
    }
}
