//! Output files appear whole or not at all: a writer killed mid-write (`kill -9`) leaves neither
//! the output nor a temporary file, an existing output survives such a kill unchanged, and a
//! completed write replaces it.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use rethink_cli::atomic_write;

/// Set in the child process that [`a_killed_writer_leaves_nothing_behind`] starts: the path to
/// write, then hang.
const CHILD_TARGET: &str = "RETHINK_TEST_KILLED_WRITER";
/// What the child prints, on a line of its own, once its bytes are written.
const WRITTEN: &str = "4 MB written, waiting to be killed";

/// Not a test on its own: when started by [`a_killed_writer_leaves_nothing_behind`], writes 4 MB
/// of its output, says so and waits to be killed.
#[test]
fn killed_writer_child() {
    let Ok(target) = std::env::var(CHILD_TARGET) else {
        return;
    };
    atomic_write(Path::new(&target), |out| {
        out.write_all(&vec![7u8; 4 << 20])?;
        out.flush()?;
        println!("\n{WRITTEN}");
        std::io::stdout().flush()?;
        loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    })
    .unwrap();
}

fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn a_killed_writer_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out.npz");
    for existing in [None, Some(&b"the previous output"[..])] {
        if let Some(old) = existing {
            std::fs::write(&target, old).unwrap();
        }
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "killed_writer_child",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_TARGET, &target)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let said = stdout.lines().map(|l| l.unwrap()).find(|l| l == WRITTEN);
        assert!(said.is_some(), "the child never wrote");
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        match existing {
            None => assert!(
                files(dir.path()).is_empty(),
                "left: {:?}",
                files(dir.path())
            ),
            Some(old) => {
                assert_eq!(files(dir.path()), ["out.npz"]);
                assert_eq!(std::fs::read(&target).unwrap(), old);
            }
        }
    }
}

#[test]
fn a_write_replaces_the_output_and_a_failed_one_leaves_it() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out.npz");
    for content in [&b"first"[..], b"second, longer"] {
        atomic_write(&target, |out| Ok(out.write_all(content)?)).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), content);
        assert_eq!(files(dir.path()), ["out.npz"]);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&target).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644);
    }
    let err = atomic_write(&target, |out| {
        out.write_all(b"half")?;
        anyhow::bail!("failed midway")
    })
    .unwrap_err();
    assert!(err.to_string().contains("failed midway"));
    assert_eq!(std::fs::read(&target).unwrap(), b"second, longer");
    assert_eq!(files(dir.path()), ["out.npz"]);
    // A new file beside it: linked straight to its name.
    let fresh = dir.path().join("fresh.npz");
    atomic_write(&fresh, |out| Ok(out.write_all(b"x")?)).unwrap();
    assert_eq!(files(dir.path()), ["fresh.npz", "out.npz"]);
}

#[test]
fn an_output_into_a_missing_directory_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("missing").join("out.npz");
    let err = atomic_write(&target, |out| Ok(out.write_all(b"x")?)).unwrap_err();
    let text = format!("{err:#}");
    assert!(text.contains("out.npz") && !text.contains('\n'), "{text}");
}
