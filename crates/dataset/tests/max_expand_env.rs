//! `RETHINK_MAX_EXPAND` sets the expansion cap of every reader that does not get explicit limits
//! (every tool). Alone in its test binary: it changes the process environment.

use rethink_dataset::{MAX_EXPAND_VAR, read_bytes, read_from, read_path};

/// `numpy.savez_compressed` output: 1,441 bytes that expand to about 1,500.
const COMPRESSED: &[u8] = include_bytes!("data/numpy-compressed.npz");

fn set(value: Option<&str>) {
    // SAFETY: this binary has one test, so no other thread reads the environment meanwhile.
    unsafe {
        match value {
            Some(v) => std::env::set_var(MAX_EXPAND_VAR, v),
            None => std::env::remove_var(MAX_EXPAND_VAR),
        }
    }
}

#[test]
fn the_environment_sets_the_cap_for_every_reader() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.npz");
    std::fs::write(&path, COMPRESSED).unwrap();
    let read_all = || {
        [
            read_bytes(COMPRESSED.to_vec().into(), "c.npz").map(|_| ()),
            read_from(COMPRESSED, "c.npz").map(|_| ()),
            read_path(&path).map(|_| ()),
        ]
    };
    for value in [None, Some("1M"), Some("4096")] {
        set(value);
        for outcome in read_all() {
            outcome.unwrap_or_else(|e| panic!("{value:?}: {e}"));
        }
    }
    set(Some("100"));
    for outcome in read_all() {
        let message = outcome.expect_err("over the cap").to_string();
        assert!(
            message.contains("c.npz: entry '")
                && message.contains("more than the 100 allowed (RETHINK_MAX_EXPAND)"),
            "{message}"
        );
    }
    set(Some("lots\n"));
    for outcome in read_all() {
        let message = outcome.expect_err("a bad value").to_string();
        assert!(
            message.contains("RETHINK_MAX_EXPAND=lots\\n: expected a size")
                && !message.contains('\n'),
            "{message}"
        );
    }
    set(None);
}
