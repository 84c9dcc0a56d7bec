//! The claims about regularizers: Table 1 (explicit regularization neither necessary nor
//! sufficient) and Figure 2 (early stopping, BatchNorm).

use super::*;

impl<'a> Checker<'a> {
    // ---- Table 1: explicit regularization is neither necessary nor sufficient ----

    pub(super) fn regularization(&self) -> Claim {
        let mut checks = Vec::new();
        let mut not_run = Vec::new();
        // Not necessary: true labels, no weight decay, no augmentation (dropout: none either).
        // One check per experiment (a model's fit-to-100% runs and its fixed-budget runs are two).
        let mut plain: BTreeMap<String, Vec<&Run>> = BTreeMap::new();
        let mut regularized_random: BTreeMap<String, Vec<(&Group, Vec<&Run>)>> = BTreeMap::new();
        let plain_groups: Vec<&Group> = self
            .groups
            .iter()
            .filter(|g| Cond::of(g) == TRUE && g.regularizers_label() == "none")
            .collect();
        for g in self.groups {
            let c = Cond::of(g);
            if c == TRUE && g.regularizers_label() == "none" {
                let subject = self.subject(g, &plain_groups);
                plain.entry(subject).or_default().extend(self.group_runs(g));
            }
            if c == RANDOM_LABELS && (g.weight_decay > 0.0 || !g.augment.is_empty()) {
                regularized_random
                    .entry(self.model_name(g))
                    .or_default()
                    .push((g, self.group_runs(g)));
            }
        }
        if plain.is_empty() {
            not_run.push("true labels without weight decay and augmentation".to_string());
        }
        for (model, mut runs) in plain {
            runs.sort_by(|a, b| a.dir.cmp(&b.dir));
            let mut accs = Vec::new();
            let mut below = Vec::new();
            let mut chance = 0.0;
            let mut upper = 0.0;
            for r in &runs {
                let Some(a) = test_acc(r) else { continue };
                let k = r.config.num_classes.max(2);
                chance = 1.0 / k as f64;
                upper = chance_interval(r.config.test_size.max(1), k).1;
                // "Far above chance": above the 99% chance interval and at least twice chance.
                if a <= upper || a < 2.0 * chance {
                    below.push(format!("`{}` {}", r.name, pct(a)));
                }
                accs.push(100.0 * a);
            }
            if accs.is_empty() {
                continue;
            }
            let status = if below.is_empty() {
                Status::Holds
            } else {
                Status::Fails
            };
            checks.push(Check {
                subject: format!("{model}, true labels, no wd/augmentation"),
                status,
                detail: format!(
                    "test {} vs chance {} (99% interval up to {}; far above = above it and ≥ 2× chance){}",
                    mean_std_unit(&accs, 2, "%"),
                    pct(chance),
                    pct(upper),
                    if below.is_empty() {
                        String::new()
                    } else {
                        format!("; not far above: {}", below.join(", "))
                    }
                ),
                runs: names(&runs),
                values: json!({
                    "part": "not necessary", "test_acc_mean": mean(&accs) / 100.0,
                    "test_acc_std": std(&accs).map(|s| s / 100.0), "seeds": accs.len(),
                    "chance": chance, "chance_upper_99": upper,
                }),
            });
        }
        if regularized_random.is_empty() {
            not_run.push("random labels with weight decay or augmentation".to_string());
        }
        for (model, gs) in regularized_random {
            for (g, runs) in gs {
                let judged: Vec<&&Run> = runs
                    .iter()
                    .filter(|r| self.fitted(r) || !r.in_progress())
                    .collect();
                let unfit: Vec<String> = judged
                    .iter()
                    .filter(|r| !self.fitted(r))
                    .map(|r| {
                        format!(
                            "`{}` stopped at {} train",
                            r.name,
                            train_acc(r).map_or("?".into(), pct)
                        )
                    })
                    .collect();
                let trains: Vec<f64> = judged
                    .iter()
                    .filter_map(|r| train_acc(r).map(|a| 100.0 * a))
                    .collect();
                let status = if judged.is_empty() {
                    Status::NotRun
                } else if unfit.is_empty() {
                    Status::Holds
                } else {
                    Status::Fails
                };
                checks.push(Check {
                    subject: format!("{model}, random labels, {}", g.regularizers_label()),
                    status,
                    detail: format!(
                        "{}/{} runs fitted (final train {}){}",
                        judged.len() - unfit.len(),
                        judged.len(),
                        if trains.is_empty() {
                            "?".to_string()
                        } else {
                            mean_std_unit(&trains, 2, "%")
                        },
                        if unfit.is_empty() {
                            String::new()
                        } else {
                            format!("; not fitted: {}", unfit.join(", "))
                        }
                    ),
                    runs: names(&runs),
                    values: json!({
                        "part": "not sufficient", "runs": judged.len(), "fitted": judged.len() - unfit.len(),
                    }),
                });
            }
        }
        Claim::new(
            "regularization",
            "Table 1",
            "Explicit regularization is neither necessary nor sufficient: without weight decay and \
             augmentation the models generalize far above chance; with them random labels are still fitted",
            checks,
            not_run,
        )
    }

    /// The model's name, and in parentheses the settings that tell `g` apart from the `peers`
    /// of the same model (a fixed budget from training until fitted, say).
    fn subject(&self, g: &Group, peers: &[&Group]) -> String {
        let same_model: Vec<&Group> = peers
            .iter()
            .copied()
            .filter(|p| p.dataset == g.dataset && p.model_label() == g.model_label())
            .collect();
        let common = common_settings(&same_model);
        let settings = g.part_without(Part::Settings, &common);
        let mut subject = self.model_name(g);
        if !settings.is_empty() {
            subject.push_str(&format!(" ({settings})"));
        }
        subject
    }

    /// Figure 2's groups: true labels, the paper's settings, Inception when there is one; of a
    /// setting with fixed-budget runs and runs trained until they fit (Figure 1's, which stop
    /// as soon as they fit and so cannot show what early stopping gains), the budget's.
    fn figure2_groups(&self) -> Vec<&'a Group> {
        let in_setting: Vec<&Group> = self
            .groups
            .iter()
            .filter(|g| Cond::of(g) == TRUE && crate::figures::figure2_setting(g).is_some())
            .collect();
        let inception: Vec<&Group> = in_setting
            .iter()
            .copied()
            .filter(|g| g.model.to_ascii_lowercase().starts_with("inception"))
            .collect();
        let used = if inception.is_empty() {
            in_setting
        } else {
            inception
        };
        // The groups Figure 2 draws.
        crate::figures::prefer_stop(
            self.runs,
            used,
            |g| {
                (
                    crate::figures::same_curve_key(g),
                    crate::figures::figure2_setting(g),
                )
            },
            false,
        )
        .0
    }

    // ---- Figure 2: early stopping ----

    pub(super) fn early_stopping(&self) -> Claim {
        let mut checks = Vec::new();
        let groups = self.figure2_groups();
        let common = common_settings(&groups);
        for &g in &groups {
            let runs = self.group_runs(g);
            let gains: Vec<f64> = runs
                .iter()
                .filter_map(|r| Some(100.0 * (best_test_acc(r)? - test_acc(r)?)))
                .collect();
            if gains.is_empty() {
                continue;
            }
            let m = mean(&gains);
            let s = std(&gains);
            let size = effect_size(m, s);
            // The model's name already says "w/o BN".
            let setting = match crate::figures::figure2_setting(g).unwrap_or("") {
                "w/o BN" => "plain",
                s => s,
            };
            let settings = g.part_without(Part::Settings, &common);
            let mut subject = format!("{}, {setting}", self.model_name(g));
            if !settings.is_empty() {
                subject.push_str(&format!(" ({settings})"));
            }
            checks.push(Check {
                subject,
                status: if m > 0.0 {
                    Status::Holds
                } else {
                    Status::Fails
                },
                detail: format!(
                    "best − final test accuracy {} points: {}",
                    mean_std(&gains, 2),
                    size.text(m > 0.0, "gain", "no gain")
                ),
                runs: names(&runs),
                values: json!({
                    "gain_mean": m / 100.0, "gain_std": s.map(|s| s / 100.0), "seeds": gains.len(),
                    "gain_in_std": size.value,
                }),
            });
        }
        let not_run = if checks.is_empty() {
            vec!["true labels in a setting of Figure 2 (plain, w/o BatchNorm, aug+wd)".to_string()]
        } else {
            Vec::new()
        };
        Claim::new(
            "early-stopping",
            "Figure 2",
            "Early stopping could improve generalization: the best test accuracy during training \
             exceeds the final one",
            checks,
            not_run,
        )
    }

    // ---- Figure 2b: BatchNorm ----

    pub(super) fn batchnorm(&self) -> Claim {
        let mut checks = Vec::new();
        let plain: Vec<&Group> = self
            .groups
            .iter()
            .filter(|g| {
                Cond::of(g) == TRUE && g.regularizers_label() == "none" && has_batchnorm(&g.model)
            })
            .collect();
        for without in plain.iter().filter(|g| g.without_batchnorm) {
            let Some(with) = plain.iter().find(|g| {
                !g.without_batchnorm
                    && g.dataset == without.dataset
                    && g.model == without.model
                    && g.settings_label() == without.settings_label()
            }) else {
                continue;
            };
            let (rw, ro) = (self.group_runs(with), self.group_runs(without));
            let aw: Vec<f64> = rw
                .iter()
                .filter_map(|r| test_acc(r))
                .map(|a| 100.0 * a)
                .collect();
            let ao: Vec<f64> = ro
                .iter()
                .filter_map(|r| test_acc(r))
                .map(|a| 100.0 * a)
                .collect();
            if aw.is_empty() || ao.is_empty() {
                continue;
            }
            let d = mean(&aw) - mean(&ao);
            // Pooled seed std of the two settings; unknown unless both have two seeds or more.
            let pooled = match (std(&aw), std(&ao)) {
                (Some(a), Some(b)) => Some(((a * a + b * b) / 2.0).sqrt()),
                _ => None,
            };
            let size = effect_size(d, pooled);
            let mut runs = rw.clone();
            runs.extend(ro.iter().copied());
            checks.push(Check {
                subject: self.model_name(with),
                status: if d > 0.0 { Status::Holds } else { Status::Fails },
                detail: format!(
                    "final test accuracy with BN {}, without {}: {}",
                    mean_std_unit(&aw, 2, "%"),
                    mean_std_unit(&ao, 2, "%"),
                    size.text(d > 0.0, "BN better", "BN not better")
                ),
                runs: names(&runs),
                values: json!({
                    "with_bn_mean": mean(&aw) / 100.0, "with_bn_std": std(&aw).map(|s| s / 100.0),
                    "without_bn_mean": mean(&ao) / 100.0, "without_bn_std": std(&ao).map(|s| s / 100.0),
                    "difference": d / 100.0, "pooled_std": pooled.map(|s| s / 100.0),
                    "difference_in_std": size.value,
                }),
            });
        }
        let not_run = if checks.is_empty() {
            vec!["a model with BatchNorm, plain, on true labels, with and without BN".to_string()]
        } else {
            Vec::new()
        };
        Claim::new(
            "batchnorm",
            "Figure 2b",
            "BatchNorm improves generalization (Inception with vs without BN, final test accuracy)",
            checks,
            not_run,
        )
    }
}
