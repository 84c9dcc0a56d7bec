//! `--indices FILE`: a list of training indices, one per line, as `report` writes the hardest and
//! easiest examples of a run (`# ...` comments, whole-line or trailing, and blank lines
//! ignored). Every mistake is reported with the file and line.

use std::path::Path;

use anyhow::{Context as _, Result, bail};

/// Parses `text` (read from `name`) into indices below `n` (the training examples), in file
/// order. Malformed, out-of-range and repeated indices are errors naming `name` and the line.
pub fn parse(text: &str, name: &str, n: usize) -> Result<Vec<usize>> {
    let mut kept = Vec::new();
    let mut line_of = std::collections::HashMap::new();
    for (k, line) in text.lines().enumerate() {
        let at = k + 1;
        let content = line.split('#').next().unwrap_or("").trim();
        if content.is_empty() {
            continue;
        }
        if content.split_whitespace().nth(1).is_some() {
            bail!("{name}:{at}: expected one index per line, got {content:?}");
        }
        let i: usize = content.parse().map_err(|_| {
            anyhow::anyhow!("{name}:{at}: {content:?} is not an index (a whole number from 0)")
        })?;
        if i >= n {
            bail!(
                "{name}:{at}: index {i} is out of range: the training split holds {n} examples (0-{})",
                n.saturating_sub(1)
            );
        }
        if let Some(first) = line_of.insert(i, at) {
            bail!("{name}:{at}: index {i} repeats line {first}");
        }
        kept.push(i);
    }
    if kept.is_empty() {
        bail!("{name}: no indices (one training index per line; '#' starts a comment)");
    }
    Ok(kept)
}

/// Reads and parses the index file at `path` for a training split of `n` examples.
pub fn read(path: &Path, n: usize) -> Result<Vec<usize>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read the index list", path.display()))?;
    parse(&text, &path.display().to_string(), n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_order_comments_and_blank_lines() {
        let text = "# hardest first\n7  # never fitted\n\n 2\r\n0\n";
        assert_eq!(parse(text, "l.txt", 8).unwrap(), [7, 2, 0]);
    }

    #[test]
    fn mistakes_name_the_file_and_line() {
        let err = |text: &str| parse(text, "l.txt", 5).unwrap_err().to_string();
        assert_eq!(
            err("1\n5\n"),
            "l.txt:2: index 5 is out of range: the training split holds 5 examples (0-4)"
        );
        assert_eq!(
            err("1\n-3\n"),
            "l.txt:2: \"-3\" is not an index (a whole number from 0)"
        );
        assert_eq!(
            err("1\n2.5\n"),
            "l.txt:2: \"2.5\" is not an index (a whole number from 0)"
        );
        assert_eq!(
            err("1 2\n"),
            "l.txt:1: expected one index per line, got \"1 2\""
        );
        assert_eq!(err("3\n# c\n3\n"), "l.txt:3: index 3 repeats line 1");
        assert!(err("# only a comment\n").starts_with("l.txt: no indices"));
    }
}
