//! Figure 1a: the order of time to fit, true labels < shuffled pixels < random pixels ≈
//! Gaussian < random labels.

use super::describe_all;
use crate::claims::*;

impl<'a> Checker<'a> {
    // ---- Figure 1a: the order of time to fit ----

    pub(in crate::claims) fn order(&self, models: &[ModelRuns<'a>]) -> Claim {
        let wanted = [TRUE, SHUFFLED, RANDOM_PIXELS, GAUSSIAN, RANDOM_LABELS];
        // The paper's ranks (random pixels ≈ Gaussian share one): every pair of different rank
        // is compared, so a missing condition does not hide an order between the others.
        let rank = [0, 1, 2, 2, 3];
        let mut before = Vec::new();
        for (i, a) in wanted.iter().enumerate() {
            for (j, b) in wanted.iter().enumerate() {
                if rank[i] < rank[j] {
                    before.push((*a, *b));
                }
            }
        }
        let mut checks = Vec::new();
        let mut not_run = Vec::new();
        for m in models {
            let (have, missing) = m.split(&wanted);
            not_run.extend(
                missing
                    .iter()
                    .map(|c| format!("{}: {}", m.name, c.describe())),
            );
            let mut steps: Vec<(Cond, Vec<f64>)> = Vec::new();
            let mut unfit = Vec::new();
            let mut runs = Vec::new();
            for (c, rs) in &have {
                runs.extend(rs.iter().copied());
                let xs: Vec<f64> = rs.iter().filter_map(|r| self.steps_to_fit(r)).collect();
                if xs.len() == rs.len() && !xs.is_empty() {
                    steps.push((*c, xs));
                } else {
                    unfit.push(*c);
                }
            }
            if steps.len() < 2 {
                if !have.is_empty() {
                    not_run.extend(
                        unfit.iter().map(|c| {
                            format!("{}: {} (not every seed fitted)", m.name, c.describe())
                        }),
                    );
                }
                continue;
            }
            let get = |c: Cond| steps.iter().find(|(k, _)| *k == c).map(|(_, xs)| mean(xs));
            let mut parts = Vec::new();
            let mut wrong = Vec::new();
            for &(a, b) in &before {
                match (get(a), get(b)) {
                    (Some(x), Some(y)) => {
                        if x < y {
                            parts.push(Status::Holds);
                        } else {
                            parts.push(Status::Fails);
                            wrong.push(format!(
                                "{} ({x:.0}) not faster than {} ({y:.0})",
                                a.describe(),
                                b.describe()
                            ));
                        }
                    }
                    _ => parts.push(Status::NotRun),
                }
            }
            let mut sorted = steps.clone();
            sorted.sort_by(|a, b| mean(&a.1).total_cmp(&mean(&b.1)));
            let observed = sorted
                .iter()
                .map(|(c, xs)| format!("{} {}", c.describe(), mean_std(xs, 0)))
                .collect::<Vec<_>>()
                .join(" < ");
            let mut detail = format!("observed (steps to fit): {observed}");
            if !wrong.is_empty() {
                detail.push_str(&format!("; against the paper: {}", wrong.join(", ")));
            }
            if !unfit.is_empty() {
                detail.push_str(&format!(
                    "; left out, not every seed fitted: {}",
                    describe_all(&unfit)
                ));
            }
            if !missing.is_empty() {
                detail.push_str(&format!("; not run: {}", describe_all(&missing)));
            }
            checks.push(Check {
                subject: m.name.clone(),
                status: Status::combine(&parts),
                detail,
                runs: names(&runs),
                values: json!({
                    "observed_order": sorted.iter().map(|(c, xs)| json!({
                        "condition": c.describe(), "steps_mean": mean(xs), "steps_std": std(xs), "seeds": xs.len()
                    })).collect::<Vec<_>>(),
                    "violations": wrong,
                }),
            });
        }
        Claim::new(
            "order",
            "Figure 1a",
            "Time to fit: true labels < shuffled pixels < random pixels ≈ Gaussian < random labels",
            checks,
            not_run,
        )
    }
}
