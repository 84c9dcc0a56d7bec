//! What a file may make a reader do: how much a compressed file may expand to, and how text taken
//! from a file is shown in a message (escaped and cut short, so an error stays one line).
//!
//! Sizes a file declares are claims, not facts: a reader checks them against the bytes present
//! (stored entries), against what the compressed bytes can produce and against [`ReadLimits`]
//! (deflated entries) before it allocates anything from them.

use std::fmt::Write as _;

/// The environment variable that sets [`ReadLimits::max_expand`] for every tool.
pub const MAX_EXPAND_VAR: &str = "RETHINK_MAX_EXPAND";

/// The cap when [`MAX_EXPAND_VAR`] is unset: 64 GiB, or the machine's memory if it has less
/// (decompressed data is held in memory, so a file expanding past it cannot be read anyway).
pub const DEFAULT_MAX_EXPAND: u64 = 64 << 30;

/// Bounds on what reading one file may cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadLimits {
    /// The most bytes the compressed (deflated) entries of one file may expand to, all together.
    pub max_expand: u64,
}

impl Default for ReadLimits {
    fn default() -> ReadLimits {
        ReadLimits {
            max_expand: DEFAULT_MAX_EXPAND.min(physical_memory().unwrap_or(u64::MAX)),
        }
    }
}

impl ReadLimits {
    /// The limits set by the environment ([`MAX_EXPAND_VAR`]), defaults otherwise.
    pub fn from_env() -> Result<ReadLimits, String> {
        match std::env::var_os(MAX_EXPAND_VAR) {
            None => Ok(ReadLimits::default()),
            Some(v) => {
                let text = v.to_string_lossy();
                let max_expand = parse_size(&text).ok_or_else(|| {
                    format!(
                        "{MAX_EXPAND_VAR}={}: expected a size in bytes, optionally with K, M, G or T (powers of 1024)",
                        printable(&text, 40)
                    )
                })?;
                Ok(ReadLimits { max_expand })
            }
        }
    }
}

/// `123`, `64K`, `512M`, `64G`, `1T` (also `64GiB`, `64GB`: powers of 1024 either way).
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let number: u64 = text[..digits].parse().ok()?;
    let shift = match text[digits..].trim_start().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return None,
    };
    number.checked_mul(1 << shift)
}

/// Total memory of the machine (Linux), if known.
fn physical_memory() -> Option<u64> {
    meminfo("MemTotal")
}

/// A field of `/proc/meminfo` in bytes (`MemTotal`, `MemAvailable`, ...), if known (Linux).
pub fn meminfo(field: &str) -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kb: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    kb.checked_mul(1024)
}

/// Text taken from a file, fit for a one-line message: control and invisible formatting
/// characters escaped (`\n`, `\u{202e}`), and at most `max_chars` characters kept (`…` marks a cut).
pub fn printable(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(4 * max_chars + 3));
    for (i, c) in text.chars().enumerate() {
        if i == max_chars {
            out.push('…');
            break;
        }
        push_escaped(&mut out, c);
    }
    out
}

/// `text` with control and invisible formatting characters escaped, nothing cut: for whole
/// messages, which may mix our words with a file's.
pub fn escape_controls(text: &str) -> String {
    if !text.chars().any(needs_escape) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    text.chars().for_each(|c| push_escaped(&mut out, c));
    out
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200b}'..='\u{200f}' // zero-width characters and direction marks
            | '\u{2028}' | '\u{2029}' // line and paragraph separators
            | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' // bidirectional overrides
            | '\u{feff}')
}

fn push_escaped(out: &mut String, c: char) {
    if !needs_escape(c) {
        out.push(c);
        return;
    }
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("123"), Some(123));
        assert_eq!(parse_size("64K"), Some(64 << 10));
        assert_eq!(parse_size("512m"), Some(512 << 20));
        assert_eq!(parse_size(" 64G "), Some(64 << 30));
        assert_eq!(parse_size("64GiB"), Some(64 << 30));
        assert_eq!(parse_size("64GB"), Some(64 << 30));
        assert_eq!(parse_size("1T"), Some(1 << 40));
        for bad in [
            "",
            "G",
            "-1",
            "1.5G",
            "12X",
            "99999999999999999999",
            "20000000T",
            "1Gbb",
        ] {
            assert_eq!(parse_size(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn file_text_is_escaped_and_cut() {
        assert_eq!(printable("train_images.npy", 80), "train_images.npy");
        assert_eq!(printable("a\nb\r\u{1b}[31m", 80), "a\\nb\\r\\u{1b}[31m");
        assert_eq!(printable("\u{202e}gpj.npy", 80), "\\u{202e}gpj.npy");
        assert_eq!(printable("abcdef", 3), "abc…");
        assert_eq!(printable("é日本", 80), "é日本");
        assert_eq!(escape_controls("x: '\u{0}'"), "x: '\\u{0}'");
    }
}
