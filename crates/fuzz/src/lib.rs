//! Seeded mutation fuzzing of every parser the tools run on files from outside: the dataset
//! reader (npz/npy, from a buffer and from a stream), IDX files (`mnist-fetch`), CIFAR archives
//! (`cifar-fetch`: tar, gzip) and image decoding (`imagenet-pack`: JPEG, PNG, then the resize).
//!
//! cargo-fuzz would need a nightly toolchain and libFuzzer, which `make test` and CI do not have;
//! this runs on stable. Each target mutates a few valid seed files (bit flips, overwritten
//! integers of every width and byte order, truncation, deleted, duplicated and inserted chunks,
//! splices of two seeds), re-encodes them where the real input is compressed (gzip), and feeds
//! them to the parser. An input passes when the parser returns, accepting or refusing it with a
//! one-line printable message, within [`HANG`]. A panic or a multi-line message is a finding;
//! an abort (an allocation that fails) or a hang ends the process, with the input left in the
//! findings folder. The same seed gives the same inputs, so a finding is reproducible.

#![warn(missing_docs)]

pub mod targets;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// An input taking longer than this is a hang: the process prints it and aborts.
pub const HANG: Duration = Duration::from_secs(10);

/// Mutated inputs are cut to this size, so a run of duplications cannot grow them forever.
const MAX_INPUT: usize = 1 << 20;

/// splitmix64: a small, seedable generator; the same seed gives the same inputs everywhere.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    /// Uniform index into a slice of `len > 0`.
    pub fn index(&mut self, len: usize) -> usize {
        self.below(len.max(1) as u64) as usize
    }
    /// True with probability `1 / n`.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }
}

/// Values that break size arithmetic: zero, powers of two and their neighbours, sign bits.
const INTERESTING: [u64; 18] = [
    0,
    1,
    2,
    0x7f,
    0x80,
    0xff,
    0x100,
    0x7fff,
    0x8000,
    0xffff,
    0x1_0000,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    1 << 40,
    0x7fff_ffff_ffff_ffff,
    u64::MAX,
];

/// Applies one random mutation to `input`; `donors` are the other seeds, for splices.
pub fn mutate(rng: &mut Rng, input: &mut Vec<u8>, donors: &[Vec<u8>]) {
    let len = input.len();
    match rng.below(9) {
        0 => {
            for _ in 0..1 + rng.below(8) {
                if len > 0 {
                    let at = rng.index(len);
                    input[at] ^= 1 << rng.below(8);
                }
            }
        }
        1 => {
            for _ in 0..1 + rng.below(4) {
                if len > 0 {
                    let at = rng.index(len);
                    input[at] = rng.next_u64() as u8;
                }
            }
        }
        2 => input.truncate(rng.index(len + 1)),
        3 | 4 => {
            // An integer field: a size, count, offset or dimension, in either byte order.
            let width = [1, 2, 4, 8][rng.index(4)];
            if len >= width {
                let at = rng.index(len - width + 1);
                let value = if rng.one_in(4) {
                    let mut old = [0u8; 8];
                    old[..width].copy_from_slice(&input[at..at + width]);
                    u64::from_le_bytes(old)
                        .wrapping_add(rng.below(33))
                        .wrapping_sub(16)
                } else {
                    INTERESTING[rng.index(INTERESTING.len())]
                };
                let bytes = if rng.one_in(2) {
                    value.to_le_bytes()[..width].to_vec()
                } else {
                    value.to_be_bytes()[8 - width..].to_vec()
                };
                input[at..at + width].copy_from_slice(&bytes);
            }
        }
        5 => {
            // Delete a chunk.
            if len > 0 {
                let at = rng.index(len);
                let most = if rng.one_in(2) { 16 } else { 4096 };
                let n = 1 + rng.index((len - at).min(most));
                input.drain(at..at + n);
            }
        }
        6 => {
            // Duplicate a chunk somewhere else.
            if len > 0 {
                let at = rng.index(len);
                let most = if rng.one_in(2) { 16 } else { 4096 };
                let n = 1 + rng.index((len - at).min(most));
                let chunk = input[at..at + n].to_vec();
                let to = rng.index(len + 1);
                input.splice(to..to, chunk);
            }
        }
        7 => {
            // Insert random bytes.
            let to = rng.index(len + 1);
            let bytes: Vec<u8> = (0..1 + rng.below(32))
                .map(|_| rng.next_u64() as u8)
                .collect();
            input.splice(to..to, bytes);
        }
        _ => {
            // Splice: this input's head, another seed's tail.
            if !donors.is_empty() {
                let donor = &donors[rng.index(donors.len())];
                let cut = rng.index(len + 1);
                let from = rng.index(donor.len() + 1);
                input.truncate(cut);
                input.extend_from_slice(&donor[from..]);
            }
        }
    }
    input.truncate(MAX_INPUT);
}

/// A parser under test.
pub trait Target: Sync {
    /// Its name on the command line and in reports (`npz`, `idx`, `cifar`, `image`).
    fn name(&self) -> &'static str;
    /// Valid inputs to start from.
    fn seeds(&self) -> Vec<Vec<u8>>;
    /// The mutated bytes as the parser meets them (e.g. gzipped, as the real files are).
    fn encode(&self, rng: &mut Rng, bytes: Vec<u8>) -> Vec<u8> {
        let _ = rng;
        bytes
    }
    /// Parses `input`; `scratch` is an empty folder for parsers that read a path. `Ok` when the
    /// input is accepted, `Err(message)` (the message the tool would print) when refused.
    fn run(&self, input: &[u8], scratch: &Path) -> Result<(), String>;
}

/// How long to run.
#[derive(Clone, Copy, Debug)]
pub enum Budget {
    /// This many inputs.
    Inputs(u64),
    /// Until this much time has passed.
    Time(Duration),
}

/// An input that made the parser misbehave, and how.
pub struct Finding {
    /// The input.
    pub input: Vec<u8>,
    /// What happened: a panic's message, or the multi-line or unprintable error.
    pub what: String,
}

/// What a run did.
pub struct Report {
    /// The target's name.
    pub target: &'static str,
    /// The seed of the run.
    pub seed: u64,
    /// Inputs run.
    pub inputs: u64,
    /// Inputs the parser accepted.
    pub accepted: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// The slowest input's time.
    pub slowest: Duration,
    /// Panics and bad messages.
    pub findings: Vec<Finding>,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: seed {}, {} inputs in {:.1} s ({} accepted, {} refused), slowest {:.1} ms, {} findings",
            self.target,
            self.seed,
            self.inputs,
            self.elapsed.as_secs_f64(),
            self.accepted,
            self.inputs - self.accepted,
            self.slowest.as_secs_f64() * 1e3,
            self.findings.len()
        )
    }
}

/// A message is fit for the tools' one-line errors: one line, no control characters.
pub fn is_one_printable_line(message: &str) -> bool {
    !message.chars().any(char::is_control)
}

/// Runs `target` on mutated inputs for `budget`. With `findings`, every input is written to
/// `<findings>/<target>.current` before it runs (so an abort leaves it behind) and each finding
/// to `<findings>/<target>-<n>.bin`.
pub fn fuzz(target: &dyn Target, seed: u64, budget: Budget, findings: Option<&Path>) -> Report {
    let seeds = target.seeds();
    assert!(!seeds.is_empty(), "{}: no seeds", target.name());
    let scratch = tempfile::tempdir().expect("a scratch folder");
    let current: Option<PathBuf> =
        findings.map(|dir| dir.join(format!("{}.current", target.name())));
    if let Some(dir) = findings {
        std::fs::create_dir_all(dir).expect("the findings folder");
    }

    // The watchdog: an input running past HANG is printed and the process aborted.
    let started_ms = Arc::new(AtomicU64::new(u64::MAX));
    let running: Arc<Mutex<Vec<u8>>> = Arc::default();
    let epoch = Instant::now();
    let stop = Arc::new(AtomicU64::new(0));
    let watchdog = {
        let (started_ms, running, stop) = (started_ms.clone(), running.clone(), stop.clone());
        let name = target.name();
        let current = current.clone();
        std::thread::spawn(move || {
            while stop.load(Ordering::Relaxed) == 0 {
                std::thread::sleep(Duration::from_millis(200));
                let since = started_ms.load(Ordering::Relaxed);
                let now = epoch.elapsed().as_millis() as u64;
                if since != u64::MAX && now.saturating_sub(since) > HANG.as_millis() as u64 {
                    let input = running.lock().map(|i| i.clone()).unwrap_or_default();
                    eprintln!(
                        "rethink-fuzz: {name}: an input ran over {HANG:?} (a hang){}; its {} bytes: {:02x?}",
                        current
                            .as_ref()
                            .map(|c| format!(", left in {}", c.display()))
                            .unwrap_or_default(),
                        input.len(),
                        &input[..input.len().min(256)]
                    );
                    std::process::abort();
                }
            }
        })
    };

    // A panic is reported with the input that caused it, not by the default hook.
    let hook = std::panic::take_hook();
    let message: Arc<Mutex<String>> = Arc::default();
    {
        let message = message.clone();
        std::panic::set_hook(Box::new(move |info| {
            if let Ok(mut m) = message.lock() {
                *m = info.to_string().replace('\n', " ");
            }
        }));
    }

    let mut rng = Rng(seed);
    let mut report = Report {
        target: target.name(),
        seed,
        inputs: 0,
        accepted: 0,
        elapsed: Duration::ZERO,
        slowest: Duration::ZERO,
        findings: Vec::new(),
    };
    let start = Instant::now();
    loop {
        match budget {
            Budget::Inputs(n) if report.inputs >= n => break,
            Budget::Time(t) if start.elapsed() >= t => break,
            _ => {}
        }
        let k = rng.index(seeds.len());
        let mut bytes = seeds[k].clone();
        for _ in 0..1 + rng.below(4) {
            mutate(&mut rng, &mut bytes, &seeds);
        }
        let input = target.encode(&mut rng, bytes);
        if let Some(current) = &current {
            let _ = std::fs::write(current, &input);
        }
        if let Ok(mut r) = running.lock() {
            r.clone_from(&input);
        }
        let t0 = Instant::now();
        started_ms.store(epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
        let outcome = catch_unwind(AssertUnwindSafe(|| target.run(&input, scratch.path())));
        started_ms.store(u64::MAX, Ordering::Relaxed);
        report.slowest = report.slowest.max(t0.elapsed());
        report.inputs += 1;
        let what = match outcome {
            Ok(Ok(())) => {
                report.accepted += 1;
                None
            }
            Ok(Err(e)) if is_one_printable_line(&e) => None,
            Ok(Err(e)) => Some(format!("not one printable line: {e:?}")),
            Err(_) => Some(format!(
                "panic: {}",
                message.lock().map(|m| m.clone()).unwrap_or_default()
            )),
        };
        if let Some(what) = what {
            if let Some(dir) = findings {
                let path = dir.join(format!("{}-{}.bin", target.name(), report.findings.len()));
                let _ = std::fs::write(&path, &input);
                eprintln!(
                    "rethink-fuzz: {}: {what} (input in {})",
                    target.name(),
                    path.display()
                );
            }
            report.findings.push(Finding { input, what });
        }
        // Parsers that read a path leave files in the scratch folder: start each input afresh.
        if report.inputs.is_multiple_of(64) {
            let _ = std::fs::remove_dir_all(scratch.path());
            let _ = std::fs::create_dir_all(scratch.path());
        }
    }
    report.elapsed = start.elapsed();
    std::panic::set_hook(hook);
    stop.store(1, Ordering::Relaxed);
    let _ = watchdog.join();
    if let Some(current) = &current {
        let _ = std::fs::remove_file(current);
    }
    report
}
