//! Figure 1a / Table 1: every model fits every randomization; Section 2: once fitted,
//! randomized data give test accuracy at chance.

use super::describe_all;
use crate::claims::*;

impl<'a> Checker<'a> {
    // ---- Figure 1a / Table 1: everything is fitted ----

    pub(in crate::claims) fn fit(&self, models: &[ModelRuns<'a>]) -> Claim {
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
                // Runs trained to fit (`--until-train-acc`), or that fitted, are judged: a
                // fixed-budget run (Table 1's) that stopped short was never asked to fit.
                let rs: Vec<&Run> = rs
                    .iter()
                    .copied()
                    .filter(|r| r.config.until_train_acc.is_some() || self.fitted(r))
                    .collect();
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

    pub(in crate::claims) fn chance(&self, models: &[ModelRuns<'a>]) -> Claim {
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
                // Runs trained to fit (`--until-train-acc`), or that fitted, are judged: a
                // fixed-budget run (Table 1's) that stopped short was never asked to fit.
                let rs: Vec<&Run> = rs
                    .iter()
                    .copied()
                    .filter(|r| r.config.until_train_acc.is_some() || self.fitted(r))
                    .collect();
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
}
