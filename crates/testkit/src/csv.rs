//! Reading the report's CSV files (`table.csv`, a figure's series) back into values, so that
//! tests assert on numbers rather than on bytes.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

/// `table.csv` (or any figure CSV) as header-keyed records.
pub fn read_csv(path: &Path) -> Vec<BTreeMap<String, String>> {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header = split_csv(lines.next().unwrap());
    lines
        .map(|l| {
            let fields = split_csv(l);
            assert_eq!(
                fields.len(),
                header.len(),
                "{}: ragged line {l:?}",
                path.display()
            );
            header.iter().cloned().zip(fields).collect()
        })
        .collect()
}

/// One CSV line's fields, with RFC 4180 quoting.
fn split_csv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// The series of a figure CSV: name → points, in file order.
pub fn series(path: &Path) -> Vec<(String, Vec<(f64, f64)>)> {
    let mut out: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    for rec in read_csv(path) {
        let point = (rec["x"].parse().unwrap(), rec["y"].parse().unwrap());
        match out.iter_mut().find(|(n, _)| *n == rec["series"]) {
            Some((_, pts)) => pts.push(point),
            None => out.push((rec["series"].clone(), vec![point])),
        }
    }
    out
}

/// The (panel, series) pairs of a small-multiples figure CSV, in order of first appearance.
pub fn panel_series(path: &Path) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for rec in read_csv(path) {
        let pair = (rec["panel"].clone(), rec["series"].clone());
        if !out.contains(&pair) {
            out.push(pair);
        }
    }
    out
}

/// The names of a figure CSV's main lines, in file order: its series without the thin
/// "(best so far)" companions of Figure 2.
pub fn line_names(path: &Path) -> Vec<String> {
    series(path)
        .into_iter()
        .map(|(n, _)| n)
        .filter(|n| !n.ends_with("(best so far)"))
        .collect()
}

/// A field of a record as a number, panicking with the key when it is not one.
pub fn num(rec: &BTreeMap<String, String>, key: &str) -> f64 {
    rec[key]
        .parse()
        .unwrap_or_else(|_| panic!("{key}: not a number: {:?}", rec[key]))
}

/// Asserts two numbers agree to 1e-6.
#[track_caller]
pub fn assert_close(actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() < 1e-6,
        "expected {expected}, got {actual}"
    );
}
