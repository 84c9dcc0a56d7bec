//! `corrupt -o OUT` killed mid-write, as `kill -9` would (the test hook `RETHINK_TEST_ABORT_AT`
//! makes the tool SIGKILL itself at a chosen point of the write): OUT is absent, or still the
//! complete file that was there before, and nothing else is left in the folder, visible or hidden.

use std::os::unix::process::ExitStatusExt;
use std::process::Command;

use rethink_testkit as testkit;

/// Runs corrupt in `dir` with the hook set to `point`; asserts it was killed by it.
fn killed_at(dir: &testkit::Dir, point: &str, args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_corrupt"))
        .args(args)
        .current_dir(dir.root())
        .env("RETHINK_TEST_ABORT_AT", point)
        .output()
        .unwrap();
    assert_eq!(
        out.status.signal(),
        Some(9),
        "{point} {args:?}: expected SIGKILL from the hook, got {} ({})",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_killed_write_leaves_nothing_or_the_previous_file() {
    let dir = testkit::Dir::new();
    dir.dataset("in.npz", &testkit::tiny_dataset(40, 10, [6, 6, 3], 10, 1));
    // Labels: images written from memory (add); Gaussian: images streamed (add_streamed).
    let labels: &[&str] = &["in.npz", "--labels", "0.5", "--seed", "1", "-o", "out.npz"];
    let gaussian: &[&str] = &["in.npz", "--gaussian", "--seed", "1", "-o", "out.npz"];
    for args in [labels, gaussian] {
        for point in [
            "entry:meta.npy",
            "entry:train_images.npy",
            "entry:test_labels.npy",
            "before-link",
        ] {
            killed_at(&dir, point, args);
            assert_eq!(dir.files(), ["in.npz"], "{point} {args:?}");
        }
    }

    // Over an existing output, a killed run leaves the old file whole.
    testkit::TestCommand::new(env!("CARGO_BIN_EXE_corrupt"))
        .args(labels)
        .current_dir(dir.root())
        .assert_exit_code(0);
    let before = std::fs::read(dir.path("out.npz")).unwrap();
    let reseeded: &[&str] = &["in.npz", "--labels", "0.5", "--seed", "2", "-o", "out.npz"];
    for point in ["entry:train_images.npy", "before-link"] {
        killed_at(&dir, point, reseeded);
        assert_eq!(dir.files(), ["in.npz", "out.npz"], "{point}");
        assert!(
            std::fs::read(dir.path("out.npz")).unwrap() == before,
            "{point}"
        );
    }
    let d = rethink_dataset::read_path(dir.path("out.npz")).unwrap();
    assert_eq!(d.train.as_ref().unwrap().len(), 40);
}
