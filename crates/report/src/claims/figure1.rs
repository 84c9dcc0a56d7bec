//! The claims of Figure 1: everything is fitted, fitted randomized data generalize at chance,
//! test error and time to fit grow with label corruption, and Figure 1a's order of time to fit.

use super::*;

impl<'a> Checker<'a> {
    // ---- Figure 1a / Table 1: everything is fitted ----

    pub(super) fn fit(&self, models: &[ModelRuns<'a>]) -> Claim {
        let wanted = figure1_conditions();
        let mut checks = Vec::new();
        let mut not_run = Vec::new();
        for m in models {
            let (have, missing) = m.split(&wanted);
            not_run.extend(
                missing
                    .iter()
                    .map(|c| format!("{}: {}", m.name, c.describe())),
            );
            let mut parts: Vec<Status> = missing.iter().map(|_| Status::NotRun).collect();
            let mut failed = Vec::new();
            let mut running = Vec::new();
            let mut runs = Vec::new();
            let mut fitted_n = 0;
            let mut judged_n = 0;
            let mut per_cond = Vec::new();
            for (c, rs) in &have {
                runs.extend(rs.iter().copied());
                let judged: Vec<&&Run> = rs
                    .iter()
                    .filter(|r| self.fitted(r) || !r.in_progress())
                    .collect();
                running.extend(
                    rs.iter()
                        .filter(|r| !self.fitted(r) && r.in_progress())
                        .map(|r| r.name.clone()),
                );
                let not_fitted: Vec<&&&Run> = judged.iter().filter(|r| !self.fitted(r)).collect();
                judged_n += judged.len();
                fitted_n += judged.len() - not_fitted.len();
                for r in &not_fitted {
                    failed.push(format!(
                        "`{}` ({}) stopped at {} train",
                        r.name,
                        c.describe(),
                        train_acc(r).map_or("?".into(), pct)
                    ));
                }
                per_cond.push(json!({
                    "condition": c.describe(),
                    "runs": judged.len(),
                    "fitted": judged.len() - not_fitted.len(),
                    "not_fitted": not_fitted.iter().map(|r| r.dir.display().to_string()).collect::<Vec<_>>(),
                }));
                parts.push(if judged.is_empty() {
                    Status::NotRun
                } else if not_fitted.is_empty() {
                    Status::Holds
                } else {
                    Status::Fails
                });
            }
            if have.is_empty() {
                continue;
            }
            let mut detail = format!(
                "{fitted_n}/{judged_n} runs fitted over {} conditions",
                have.len()
            );
            if !failed.is_empty() {
                detail.push_str(&format!("; not fitted: {}", failed.join(", ")));
            }
            if !missing.is_empty() {
                detail.push_str(&format!("; not run: {}", describe_all(&missing)));
            }
            if !running.is_empty() {
                detail.push_str(&format!("; still training: {}", running.join(", ")));
            }
            checks.push(Check {
                subject: m.name.clone(),
                status: Status::combine(&parts),
                detail,
                runs: names(&runs),
                values: json!({ "conditions": per_cond }),
            });
        }
        Claim::new(
            "fit",
            "Figure 1a, Table 1",
            "Every model fits every randomization to 100% training accuracy",
            checks,
            not_run,
        )
    }

    // ---- Section 2: fitted randomized data generalize at chance ----

    pub(super) fn chance(&self, models: &[ModelRuns<'a>]) -> Claim {
        let wanted = [RANDOM_LABELS, RANDOM_PIXELS, GAUSSIAN];
        let mut checks = Vec::new();
        let mut not_run = Vec::new();
        for m in models {
            let (have, missing) = m.split(&wanted);
            not_run.extend(
                missing
                    .iter()
                    .map(|c| format!("{}: {}", m.name, c.describe())),
            );
            if have.is_empty() {
                continue;
            }
            let mut parts: Vec<Status> = missing.iter().map(|_| Status::NotRun).collect();
            let mut texts = Vec::new();
            let mut runs = Vec::new();
            let mut per_cond = Vec::new();
            for (c, rs) in &have {
                runs.extend(rs.iter().copied());
                let fitted: Vec<&&Run> = rs.iter().filter(|r| self.fitted(r)).collect();
                let mut outside = Vec::new();
                let mut seeds = Vec::new();
                let mut accs = Vec::new();
                for r in &fitted {
                    let k = r.config.num_classes.max(2);
                    let n = r.config.test_size;
                    let Some(acc) = test_acc(r) else { continue };
                    let (lo, hi) = chance_interval(n.max(1), k);
                    let inside = acc >= lo - 1e-9 && acc <= hi + 1e-9;
                    if !inside {
                        outside.push(format!("`{}` {}", r.name, pct(acc)));
                    }
                    accs.push(100.0 * acc);
                    seeds.push(json!({
                        "run": r.dir.display().to_string(), "seed": seed(r), "test_acc": acc,
                        "chance": 1.0 / k as f64, "interval": [lo, hi], "test_size": n, "inside": inside,
                    }));
                }
                let interval = fitted.first().map(|r| {
                    let k = r.config.num_classes.max(2);
                    let (lo, hi) = chance_interval(r.config.test_size.max(1), k);
                    format!(
                        "chance {} [{}, {}] at n={}",
                        pct(1.0 / k as f64),
                        pct(lo),
                        pct(hi),
                        r.config.test_size
                    )
                });
                let status = if accs.is_empty() {
                    texts.push(format!("{}: no run fitted, not judged", c.describe()));
                    Status::NotRun
                } else {
                    texts.push(format!(
                        "{}: test {} ({}; {}/{} seeds inside{})",
                        c.describe(),
                        mean_std_unit(&accs, 2, "%"),
                        interval.unwrap_or_default(),
                        accs.len() - outside.len(),
                        accs.len(),
                        if outside.is_empty() {
                            String::new()
                        } else {
                            format!("; outside: {}", outside.join(", "))
                        }
                    ));
                    if outside.is_empty() {
                        Status::Holds
                    } else {
                        Status::Fails
                    }
                };
                parts.push(status);
                per_cond.push(
                    json!({ "condition": c.describe(), "status": status.name(), "seeds": seeds }),
                );
            }
            if !missing.is_empty() {
                texts.push(format!("not run: {}", describe_all(&missing)));
            }
            checks.push(Check {
                subject: m.name.clone(),
                status: Status::combine(&parts),
                detail: texts.join("; "),
                runs: names(&runs),
                values: json!({ "conditions": per_cond }),
            });
        }
        Claim::new(
            "chance",
            "Section 2, Table 1",
            "Once fitted, random labels, random pixels and Gaussian inputs give test accuracy at chance \
             (inside the 99% binomial interval around 1/K at the test-set size, every seed)",
            checks,
            not_run,
        )
    }

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

    pub(super) fn error_grows(&self, models: &[ModelRuns<'a>]) -> Claim {
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

    pub(super) fn slowdown(&self, models: &[ModelRuns<'a>]) -> Claim {
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

    // ---- Figure 1a: the order of time to fit ----

    pub(super) fn order(&self, models: &[ModelRuns<'a>]) -> Claim {
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

/// The conditions' descriptions, comma-separated ("random labels, Gaussian").
fn describe_all(conditions: &[Cond]) -> String {
    conditions
        .iter()
        .map(|c| c.describe())
        .collect::<Vec<_>>()
        .join(", ")
}
