//! The checked claims written out: a Markdown table (stdout for `--claims`, `claims.md`, and a
//! section of `summary.md`) and `claims.json`. Both list claims and checks in a fixed order.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::Claim;

/// Version of the `claims.json` layout.
pub const CLAIMS_SCHEMA: u32 = 1;

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// Run directories by their last component, `a`, `b`.
fn short(runs: &[String]) -> String {
    runs.iter()
        .map(|r| {
            let name = std::path::Path::new(r)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| r.clone());
            format!("`{name}`")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The claims table: a bold row per claim, then one row per check.
pub fn markdown(claims: &[Claim], fit_threshold: f64) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Status: **holds** on every check; **fails** if any check fails; **not run** when no run \
         the claim needs exists; **partly**: nothing failed, something held, some needed runs are \
         missing. Fitted = {}% training accuracy reached. Numbers: mean ± sample std over seeds.\n",
        crate::runs::fmt_num(fit_threshold * 100.0)
    );
    out.push_str("| Claim | Status | Numbers | Runs |\n|---|---|---|---|\n");
    for (i, c) in claims.iter().enumerate() {
        let mut numbers = format!("{} of {} checks hold", count(c, "holds"), c.checks.len());
        if !c.not_run.is_empty() {
            numbers.push_str(&format!("; not run: {}", c.not_run.join(", ")));
        }
        let _ = writeln!(
            out,
            "| **{}. {}** ({}) | **{}** | {} | |",
            i + 1,
            cell(c.claim),
            c.source,
            c.status.name(),
            cell(&numbers)
        );
        for k in &c.checks {
            let _ = writeln!(
                out,
                "| ↳ {} | {} | {} | {} |",
                cell(&k.subject),
                k.status.name(),
                cell(&k.detail),
                short(&k.runs)
            );
        }
    }
    out.push_str(
        "\nA run of a sweep is rerun with `make <run dir>/summary.json` (its folder name encodes \
         condition, model, setting and seed).\n",
    );
    out
}

fn count(c: &Claim, status: &str) -> usize {
    c.checks
        .iter()
        .filter(|k| k.status.name() == status)
        .count()
}

/// `claims.json`.
pub fn json(claims: &[Claim], fit_threshold: f64) -> Value {
    json!({
        "schema_version": CLAIMS_SCHEMA,
        "fit_threshold": fit_threshold,
        "claims": claims.iter().map(|c| json!({
            "id": c.id,
            "source": c.source,
            "claim": c.claim,
            "status": c.status.name(),
            "not_run": c.not_run,
            "runs": c.runs(),
            "checks": c.checks.iter().map(|k| json!({
                "subject": k.subject,
                "status": k.status.name(),
                "detail": k.detail,
                "runs": k.runs,
                "values": k.values,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}
