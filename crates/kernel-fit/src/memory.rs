//! How much memory a fit needs, said before anything large is allocated: a kernel matrix grows
//! with n², and a 60,000 × 60,000 float64 matrix (28.8 GB) must be refused with a message, not
//! met with the kernel's out-of-memory killer.

use anyhow::{Result, bail};

/// Bytes that this machine can still give (`MemAvailable` of `/proc/meminfo`), if known.
pub fn available() -> Option<u64> {
    rethink_dataset::meminfo("MemAvailable")
}

/// `bytes` in decimal units with three significant digits: "800 MB", "28.8 GB".
pub fn human(bytes: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < units.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else if v >= 100.0 {
        format!("{v:.0} {}", units[u])
    } else if v >= 10.0 {
        format!("{v:.1} {}", units[u])
    } else {
        format!("{v:.2} {}", units[u])
    }
}

/// What a fit will hold at its peak.
pub struct Plan {
    /// What the big matrix is, for messages ("K is 10000 × 10000 float64").
    pub what: String,
    /// Its bytes.
    pub matrix: u64,
    /// Everything at the peak: the matrix, the solver's workspace, the data.
    pub total: u64,
}

/// The Gaussian kernel: K (n × n, one copy, factorized in place), the n × D data (float64, and
/// float32 pixel integers for the exact distances) and the prediction blocks.
pub fn gaussian(n: usize, d: usize, test: usize, classes: usize, block: usize) -> Plan {
    let n = n as u64;
    let matrix = n.saturating_mul(n).saturating_mul(8);
    let data = (n + test as u64).saturating_mul((d as u64 + classes as u64 + 2) * 8 + d as u64 * 4);
    let blocks = (block as u64).saturating_mul(n) * 8;
    Plan {
        what: format!("K is {n} × {n} float64"),
        matrix,
        total: matrix.saturating_add(data).saturating_add(blocks),
    }
}

/// Random features: Φ (n × N) and its thin SVD (U n × r, V N × r, r = min(n, N), and faer's
/// workspace of about one more copy of Φ), the D × N weights, the data.
pub fn features(n: usize, d: usize, test: usize, features: usize, block: usize) -> Plan {
    let (n, f, d) = (n as u64, features as u64, d as u64);
    let r = n.min(f);
    let matrix = n.saturating_mul(f).saturating_mul(8);
    let svd = matrix
        .saturating_add(n.saturating_mul(r) * 8)
        .saturating_add(f.saturating_mul(r) * 8);
    let weights = d.saturating_mul(f) * 8;
    let data = (n + test as u64).saturating_mul(d + 2) * 8;
    let blocks = (block as u64).saturating_mul(f) * 8;
    Plan {
        what: format!("Φ is {n} × {f} float64"),
        matrix,
        total: matrix
            .saturating_add(svd)
            .saturating_add(weights)
            .saturating_add(data)
            .saturating_add(blocks),
    }
}

/// Refuses a plan that needs more than `limit` bytes (`--max-memory`, else what the machine has
/// available), with a one-line error that states both and what to do; `n` is the training size.
pub fn check(plan: &Plan, limit: Option<u64>, limit_name: &str, n: usize) -> Result<()> {
    let Some(limit) = limit else {
        return Ok(());
    };
    if plan.total > limit {
        // The largest n that fits, for a kernel: total grows like 8n².
        let scale = (limit as f64 / plan.total as f64).sqrt();
        let fits = ((n as f64) * scale * 0.95).floor() as usize;
        bail!(
            "{} = {}; with the data and the solver's workspace the fit needs {}, more than the {} {limit_name}: use --max-train (about {fits} would fit)",
            plan.what,
            human(plan.matrix),
            human(plan.total),
            human(limit)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sixty_thousand_squared_is_28_8_gb() {
        let p = gaussian(60_000, 784, 10_000, 10, 256);
        assert_eq!(human(p.matrix), "28.8 GB");
        assert_eq!(human(800_000_000), "800 MB");
        assert_eq!(human(999), "999 B");
        let err = check(&p, Some(16 << 30), "available", 60_000).unwrap_err();
        let text = format!("{err:#}");
        assert!(
            text.contains("K is 60000 × 60000 float64 = 28.8 GB") && text.contains("--max-train"),
            "{text}"
        );
        assert!(check(&p, None, "available", 60_000).is_ok());
    }
}
