//! Figures 1b and 1c: time to fit and test error grow with the label corruption level, judged
//! on the seed means and on seed-matched pairs of adjacent levels.

use super::describe_all;
use crate::claims::*;

impl<'a> Checker<'a> {
    /// Per label corruption level (clean pixels) of a model: the level, and one number per run.
    fn by_level(&self, m: &ModelRuns<'a>, value: impl Fn(&Run) -> Option<f64>) -> Vec<Level<'a>> {
        m.conds
            .iter()
            .filter(|(c, _)| c.pixels.is_none())
            .map(|(c, rs)| (c.labels, rs.iter().map(|r| (*r, value(r))).collect()))
            .collect()
    }

    /// Seed-matched pairs of adjacent levels: (pairs compared, pairs where `worse` holds).
    fn seed_violations(
        levels: &[Level],
        worse: impl Fn(f64, f64) -> bool,
    ) -> (usize, usize, Vec<String>) {
        let (mut pairs, mut bad, mut which) = (0, 0, Vec::new());
        for w in levels.windows(2) {
            for (r0, v0) in &w[0].1 {
                let Some(v0) = v0 else { continue };
                for (r1, v1) in &w[1].1 {
                    let Some(v1) = v1 else { continue };
                    if seed(r0) != seed(r1) {
                        continue;
                    }
                    pairs += 1;
                    if worse(*v0, *v1) {
                        bad += 1;
                        which.push(format!(
                            "seed {} p={}→{}",
                            seed(r0),
                            fmt_num(w[0].0),
                            fmt_num(w[1].0)
                        ));
                    }
                }
            }
        }
        (pairs, bad, which)
    }

    // ---- Figure 1c: test error grows with label corruption ----

    pub(in crate::claims) fn error_grows(&self, models: &[ModelRuns<'a>]) -> Claim {
        let mut checks = Vec::new();
        let mut not_run = Vec::new();
        for m in models {
            let wanted: Vec<Cond> = LEVELS.iter().map(|&p| Cond::labels(p)).collect();
            let (_, missing) = m.split(&wanted);
            not_run.extend(
                missing
                    .iter()
                    .map(|c| format!("{}: {}", m.name, c.describe())),
            );
            let levels: Vec<_> = self
                .by_level(m, |r| test_acc(r).map(|a| 100.0 * (1.0 - a)))
                .into_iter()
                .filter(|(_, v)| v.iter().any(|x| x.1.is_some()))
                .collect();
            if levels.len() < 2 {
                continue;
            }
            let means: Vec<(f64, Vec<f64>)> = levels
                .iter()
                .map(|(p, v)| (*p, v.iter().filter_map(|x| x.1).collect()))
                .collect();
            let drops: Vec<String> = means
                .windows(2)
                .filter(|w| mean(&w[1].1) < mean(&w[0].1))
                .map(|w| {
                    format!(
                        "p={} {:.2} → p={} {:.2}",
                        fmt_num(w[0].0),
                        mean(&w[0].1),
                        fmt_num(w[1].0),
                        mean(&w[1].1)
                    )
                })
                .collect();
            let (pairs, bad, which) = Self::seed_violations(&levels, |a, b| b < a);
            let curve = means
                .iter()
                .map(|(p, xs)| format!("p={}: {}", fmt_num(*p), mean_std(xs, 2)))
                .collect::<Vec<_>>()
                .join(", ");
            let mut detail = format!("test error % {curve}; ");
            detail.push_str(&if drops.is_empty() {
                "seed means increase at every step".to_string()
            } else {
                format!("seed means decrease: {}", drops.join(", "))
            });
            detail.push_str(&format!(
                "; per-seed violations {bad}/{pairs}{}",
                if which.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", which.join(", "))
                }
            ));
            let mut parts = vec![if drops.is_empty() {
                Status::Holds
            } else {
                Status::Fails
            }];
            if !missing.is_empty() {
                parts.push(Status::NotRun);
                detail.push_str(&format!("; not run: {}", describe_all(&missing)));
            }
            let runs: Vec<&Run> = levels
                .iter()
                .flat_map(|(_, v)| v.iter().map(|x| x.0))
                .collect();
            checks.push(Check {
                subject: m.name.clone(),
                status: Status::combine(&parts),
                detail,
                runs: names(&runs),
                values: json!({
                    "levels": means.iter().map(|(p, xs)| json!({
                        "p": p, "test_error_mean": mean(xs), "test_error_std": std(xs), "seeds": xs.len()
                    })).collect::<Vec<_>>(),
                    "mean_decreases": drops.len(),
                    "seed_pairs": pairs,
                    "seed_violations": bad,
                }),
            });
        }
        Claim::new(
            "error-grows",
            "Figure 1c",
            "Test error grows monotonically with the label corruption level (seed means)",
            checks,
            not_run,
        )
    }

    // ---- Figure 1b: time to fit grows with label corruption ----

    pub(in crate::claims) fn slowdown(&self, models: &[ModelRuns<'a>]) -> Claim {
        let mut checks = Vec::new();
        let mut not_run = Vec::new();
        for m in models {
            let wanted: Vec<Cond> = LEVELS.iter().map(|&p| Cond::labels(p)).collect();
            let (_, missing) = m.split(&wanted);
            not_run.extend(
                missing
                    .iter()
                    .map(|c| format!("{}: {}", m.name, c.describe())),
            );
            let all = self.by_level(m, |r| self.steps_to_fit(r));
            // A level counts when every seed fitted: a mean over the fitted ones would flatter it.
            let (levels, unfit): (Vec<_>, Vec<_>) = all
                .into_iter()
                .partition(|(_, v)| v.iter().all(|x| x.1.is_some()));
            if levels.len() < 2 {
                continue;
            }
            let means: Vec<(f64, Vec<f64>)> = levels
                .iter()
                .map(|(p, v)| (*p, v.iter().filter_map(|x| x.1).collect()))
                .collect();
            let base = means
                .iter()
                .find(|(p, _)| *p == 0.0)
                .map(|(_, xs)| mean(xs));
            let drops: Vec<String> = means
                .windows(2)
                .filter(|w| mean(&w[1].1) <= mean(&w[0].1))
                .map(|w| {
                    format!(
                        "p={} {:.0} → p={} {:.0}",
                        fmt_num(w[0].0),
                        mean(&w[0].1),
                        fmt_num(w[1].0),
                        mean(&w[1].1)
                    )
                })
                .collect();
            let random = means
                .iter()
                .find(|(p, _)| *p >= 1.0)
                .map(|(_, xs)| mean(xs));
            let (pairs, bad, which) = Self::seed_violations(&levels, |a, b| b <= a);
            let curve = means
                .iter()
                .map(|(p, xs)| {
                    let ratio = base
                        .filter(|b| *b > 0.0)
                        .map_or(String::new(), |b| format!(" (×{:.2})", mean(xs) / b));
                    format!("p={}: {}{ratio}", fmt_num(*p), mean_std(xs, 0))
                })
                .collect::<Vec<_>>()
                .join(", ");
            let mut parts = Vec::new();
            let mut detail = format!("steps to fit {curve}; ");
            detail.push_str(&if drops.is_empty() {
                parts.push(Status::Holds);
                "seed means increase at every step".to_string()
            } else {
                parts.push(Status::Fails);
                format!("seed means do not increase: {}", drops.join(", "))
            });
            match (base, random) {
                (Some(b), Some(r)) => {
                    parts.push(if r > b { Status::Holds } else { Status::Fails });
                    detail.push_str(&format!(
                        "; random labels {} true labels ({:.0} vs {:.0} steps)",
                        if r > b {
                            "slower than"
                        } else {
                            "not slower than"
                        },
                        r,
                        b
                    ));
                }
                _ => parts.push(Status::NotRun),
            }
            detail.push_str(&format!(
                "; per-seed violations {bad}/{pairs}{}",
                if which.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", which.join(", "))
                }
            ));
            if !unfit.is_empty() {
                parts.push(Status::NotRun);
                detail.push_str(&format!(
                    "; left out, not every seed fitted: {}",
                    unfit
                        .iter()
                        .map(|(p, _)| format!("p={}", fmt_num(*p)))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            if !missing.is_empty() {
                parts.push(Status::NotRun);
                detail.push_str(&format!("; not run: {}", describe_all(&missing)));
            }
            let runs: Vec<&Run> = levels
                .iter()
                .chain(unfit.iter())
                .flat_map(|(_, v)| v.iter().map(|x| x.0))
                .collect();
            checks.push(Check {
                subject: m.name.clone(),
                status: Status::combine(&parts),
                detail,
                runs: names(&runs),
                values: json!({
                    "levels": means.iter().map(|(p, xs)| json!({
                        "p": p, "steps_mean": mean(xs), "steps_std": std(xs), "seeds": xs.len(),
                        "relative_to_true": base.filter(|b| *b > 0.0).map(|b| mean(xs) / b),
                    })).collect::<Vec<_>>(),
                    "not_all_fitted": unfit.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
                    "mean_non_increases": drops.len(),
                    "seed_pairs": pairs,
                    "seed_violations": bad,
                }),
            });
        }
        Claim::new(
            "slowdown",
            "Figure 1b",
            "Time to fit grows with the label corruption level; random labels take longer than true labels",
            checks,
            not_run,
        )
    }
}
