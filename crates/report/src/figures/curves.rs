//! Averaging the seeds of a group: the mean curve over runs sampled at different steps, and the
//! band of the seeds' range around it.

use crate::stats::mean;

/// Mean of several curves sampled at possibly different steps: evaluated at the first curve's x
/// values inside the range all curves cover, others linearly interpolated.
pub fn mean_curve(curves: &[Vec<(f64, f64)>]) -> Vec<(f64, f64)> {
    let curves: Vec<&Vec<(f64, f64)>> = curves.iter().filter(|c| !c.is_empty()).collect();
    let Some(first) = curves.first() else {
        return Vec::new();
    };
    if curves.len() == 1 {
        return first.to_vec();
    }
    let lo = curves
        .iter()
        .map(|c| c[0].0)
        .fold(f64::NEG_INFINITY, f64::max);
    let hi = curves
        .iter()
        .map(|c| c[c.len() - 1].0)
        .fold(f64::INFINITY, f64::min);
    first
        .iter()
        .filter(|(x, _)| *x >= lo && *x <= hi)
        .map(|&(x, _)| {
            let ys: Vec<f64> = curves.iter().map(|c| interpolate(c, x)).collect();
            (x, mean(&ys))
        })
        .collect()
}

/// The seeds' lowest and highest value at each x of `mean` (a [`mean_curve`] of `curves`);
/// `None` for fewer than two curves.
pub fn seed_band(curves: &[Vec<(f64, f64)>], mean: &[(f64, f64)]) -> Option<Vec<(f64, f64, f64)>> {
    let curves: Vec<&Vec<(f64, f64)>> = curves.iter().filter(|c| !c.is_empty()).collect();
    if curves.len() < 2 {
        return None;
    }
    Some(
        mean.iter()
            .map(|&(x, _)| {
                let ys = curves.iter().map(|c| interpolate(c, x));
                let (lo, hi) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| {
                    (a.min(y), b.max(y))
                });
                (x, lo, hi)
            })
            .collect(),
    )
}

/// The lowest and highest of per-seed values at one point.
pub(super) fn range_of(xs: &[f64]) -> Option<(f64, f64)> {
    (xs.len() >= 2).then(|| {
        xs.iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &y| {
                (a.min(y), b.max(y))
            })
    })
}

fn interpolate(c: &[(f64, f64)], x: f64) -> f64 {
    let i = c.partition_point(|p| p.0 < x);
    if i < c.len() && c[i].0 == x {
        return c[i].1;
    }
    if i == 0 {
        return c[0].1;
    }
    if i == c.len() {
        return c[c.len() - 1].1;
    }
    let (x0, y0) = c[i - 1];
    let (x1, y1) = c[i];
    y0 + (y1 - y0) * (x - x0) / (x1 - x0)
}
