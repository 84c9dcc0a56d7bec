//! The per-example measures, as pure functions of one example's correctness history (its
//! top-1 correctness at each evaluation, oldest first): when it was fitted for good, how often it
//! was forgotten; and the rank correlation that compares two runs' orders of examples.

/// The first evaluation from which the example stays correct to the last one; `None` when it is
/// not correct at the last evaluation (never fitted for good).
pub fn first_fitted(history: &[bool]) -> Option<usize> {
    if !*history.last()? {
        return None;
    }
    Some(history.iter().rposition(|&c| !c).map_or(0, |k| k + 1))
}

/// Forgetting events (Toneva et al. 2019): correct at one evaluation, incorrect at the next.
pub fn forgetting_events(history: &[bool]) -> usize {
    history.windows(2).filter(|w| w[0] && !w[1]).count()
}

/// Unforgettable (Toneva et al.): learned at some evaluation and never forgotten after. An example
/// never learned is not unforgettable (Toneva count it as forgotten infinitely often).
pub fn unforgettable(history: &[bool]) -> bool {
    history.contains(&true) && forgetting_events(history) == 0
}

/// Ranks from 1, ties sharing their mean rank (infinities rank last, equal to each other).
pub fn ranks(xs: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..xs.len()).collect();
    order.sort_by(|&a, &b| xs[a].total_cmp(&xs[b]));
    let mut out = vec![0.0; xs.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && xs[order[j + 1]] == xs[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            out[k] = rank;
        }
        i = j + 1;
    }
    out
}

/// Spearman's rank correlation (Pearson's r of the tie-averaged ranks); `None` for fewer than two
/// pairs or when either side is constant.
pub fn spearman(a: &[f64], b: &[f64]) -> Option<f64> {
    assert_eq!(a.len(), b.len());
    if a.len() < 2 {
        return None;
    }
    let (ra, rb) = (ranks(a), ranks(b));
    let m = (a.len() as f64 + 1.0) / 2.0; // the mean rank, ties or not
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in ra.iter().zip(&rb) {
        sab += (x - m) * (y - m);
        saa += (x - m) * (x - m);
        sbb += (y - m) * (y - m);
    }
    (saa > 0.0 && sbb > 0.0).then(|| sab / (saa * sbb).sqrt())
}

/// The median of `xs` (the mean of the middle two for an even count); `None` when empty.
pub fn median(xs: &[f64]) -> Option<f64> {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// The empirical CDF of first-fitted evaluations at each evaluation `e`: the fraction of
/// `fitted` (one entry per example, `None` = never) with a first-fitted evaluation ≤ `e`. Examples
/// never fitted stay in the denominator, so the curve ends at the fraction fitted.
pub fn ecdf(fitted: &[Option<usize>], evaluations: usize) -> Vec<f64> {
    let mut count = vec![0usize; evaluations];
    for &f in fitted.iter().flatten() {
        count[f] += 1;
    }
    let total = fitted.len().max(1) as f64;
    let mut acc = 0;
    count
        .iter()
        .map(|c| {
            acc += c;
            acc as f64 / total
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `"0110"` → [false, true, true, false].
    fn h(s: &str) -> Vec<bool> {
        s.bytes().map(|b| b == b'1').collect()
    }

    /// A hand-written correctness matrix: one row per example, one column per evaluation.
    const MATRIX: [(&str, Option<usize>, usize, bool); 9] = [
        // history   first fitted  forgetting  unforgettable
        ("00000", None, 0, false),    // never learned
        ("11111", Some(0), 0, true),  // correct from the start
        ("00111", Some(2), 0, true),  // learned once, kept
        ("01011", Some(3), 1, false), // forgotten once, relearned: fitted from its last rise
        ("11110", None, 1, false),    // forgotten at the end: not fitted
        ("10101", Some(4), 2, false), // flip-flops: fitted only at the last evaluation
        ("01010", None, 2, false),
        ("00001", Some(4), 0, true),
        ("1", Some(0), 0, true), // one evaluation
    ];

    #[test]
    fn first_fitted_forgetting_and_unforgettable_on_a_hand_written_matrix() {
        for (row, fitted, forgotten, unforgettable_) in MATRIX {
            let history = h(row);
            assert_eq!(first_fitted(&history), fitted, "first fitted of {row}");
            assert_eq!(
                forgetting_events(&history),
                forgotten,
                "forgetting of {row}"
            );
            assert_eq!(
                unforgettable(&history),
                unforgettable_,
                "unforgettable {row}"
            );
        }
        assert_eq!(first_fitted(&[]), None);
        assert_eq!(forgetting_events(&[]), 0);
    }

    #[test]
    fn ecdf_counts_never_fitted_in_the_denominator() {
        let fitted: Vec<Option<usize>> =
            MATRIX[..8].iter().map(|r| first_fitted(&h(r.0))).collect();
        // Fitted at 0, 2, 3, 4, 4; three never: 5 of 8 by the end.
        assert_eq!(
            ecdf(&fitted, 5),
            [1.0 / 8.0, 1.0 / 8.0, 2.0 / 8.0, 3.0 / 8.0, 5.0 / 8.0]
        );
    }

    #[test]
    fn ranks_share_ties() {
        assert_eq!(ranks(&[10.0, 30.0, 20.0]), [1.0, 3.0, 2.0]);
        assert_eq!(
            ranks(&[5.0, f64::INFINITY, 5.0, f64::INFINITY, 1.0]),
            [2.5, 4.5, 2.5, 4.5, 1.0]
        );
    }

    #[test]
    fn spearman_of_monotone_reversed_and_tied_orders() {
        let a = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(spearman(&a, &[10.0, 20.0, 35.0, 100.0]), Some(1.0));
        assert_eq!(spearman(&a, &[4.0, 3.0, 2.0, 1.0]), Some(-1.0));
        assert_eq!(
            spearman(&a, &[7.0; 4]),
            None,
            "a constant side has no rank order"
        );
        // With ties: ranks 1..5 against 1.5, 1.5, 3, 4.5, 4.5 (mean 3): r = 9 / √(10 · 9).
        let r = spearman(&[1.0, 2.0, 3.0, 4.0, 5.0], &[1.0, 1.0, 2.0, 3.0, 3.0]).unwrap();
        assert!((r - 9.0 / 90f64.sqrt()).abs() < 1e-12, "{r}");
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }
}
