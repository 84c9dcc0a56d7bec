//! The claims of Figure 1: everything is fitted, fitted randomized data generalize at chance
//! (`fitted`), test error and time to fit grow with label corruption (`corruption`), and
//! Figure 1a's order of time to fit (`order`). Each is a method of `Checker`.

mod corruption;
mod fitted;
mod order;

use crate::claims::Cond;

/// The conditions' descriptions, comma-separated ("random labels, Gaussian").
fn describe_all(conditions: &[Cond]) -> String {
    conditions
        .iter()
        .map(|c| c.describe())
        .collect::<Vec<_>>()
        .join(", ")
}
