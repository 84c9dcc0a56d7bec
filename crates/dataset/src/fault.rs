//! A test-only fault hook, compiled into every build and inert unless asked for: with
//! `RETHINK_TEST_ABORT_AT=POINT` (or `POINT#N`, the N-th time it is reached) a writer kills its
//! own process with SIGKILL at that point, mid-write, as `kill -9` or a power cut would, so tests
//! can show that what a killed tool leaves is nothing, or a complete and valid file.
//!
//! The points: `entry:NAME` (the dataset writer, after an entry's local header and first part,
//! flushed: e.g. `entry:train_images.npy`), `before-link` (an output file complete but not yet
//! given its name, in `rethink-cli`), `shard:K` (`imagenet-pack`, after shard K was written).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The environment variable that names the point.
pub const TEST_ABORT_VAR: &str = "RETHINK_TEST_ABORT_AT";

struct Wanted {
    point: String,
    nth: u64,
    seen: AtomicU64,
}

fn wanted() -> Option<&'static Wanted> {
    static WANTED: OnceLock<Option<Wanted>> = OnceLock::new();
    WANTED
        .get_or_init(|| {
            let value = std::env::var(TEST_ABORT_VAR).ok()?;
            let (point, nth) = match value.rsplit_once('#') {
                Some((point, n)) => (point.to_string(), n.parse().ok()?),
                None => (value, 1),
            };
            Some(Wanted {
                point,
                nth,
                seen: AtomicU64::new(0),
            })
        })
        .as_ref()
}

/// True when the test hook asks to die at `point` now; counts the visits to `point`.
pub fn reached(point: &str) -> bool {
    match wanted() {
        Some(w) if w.point == point => w.seen.fetch_add(1, Ordering::SeqCst) + 1 == w.nth,
        _ => false,
    }
}

/// Kills this process with SIGKILL if the test hook names `point` (see the module docs).
pub fn abort_point(point: &str) {
    if reached(point) {
        kill_self();
    }
}

/// SIGKILL to this process: no destructor, no `atexit`, nothing flushed that was not already.
pub fn kill_self() -> ! {
    #[cfg(unix)]
    {
        unsafe extern "C" {
            fn kill(pid: i32, sig: i32) -> i32;
        }
        // SAFETY: kill(2) on our own pid with SIGKILL (9).
        unsafe {
            kill(std::process::id() as i32, 9);
        }
    }
    std::process::abort()
}
