//! Ctrl-C as a request to stop cleanly rather than a kill: a long-running tool (`train`) installs
//! [`install`], polls [`requested`] between units of work, saves what it must and returns an
//! [`Interrupted`] error, which [`crate::exit_for`] turns into exit code 130 (128 + SIGINT, what a
//! shell reports for a process killed by Ctrl-C). A second Ctrl-C exits at once with 130.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    if REQUESTED.swap(true, Ordering::SeqCst) {
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(130) };
    }
}

/// Installs the SIGINT handler: the first Ctrl-C sets the flag [`requested`] reads, the second
/// exits with 130 without cleaning up.
pub fn install() {
    // SAFETY: the handler only touches an atomic and calls the async-signal-safe _exit.
    unsafe {
        libc::signal(libc::SIGINT, on_sigint as *const () as libc::sighandler_t);
    }
}

/// Whether Ctrl-C was pressed since [`install`].
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// The error a tool returns when it stopped on Ctrl-C (exit code 130); the message says what was
/// saved and how to continue.
#[derive(Debug)]
pub struct Interrupted(pub String);

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Interrupted {}
