//! Fault injection for crash tests: named points on the paths that change a
//! container's state, at which the runtime can be made to die as if killed
//! with `kill -9` — no destructors, no cleanup, no flushed buffers.
//!
//! A point fires when the environment variable [`ENV`] names it exactly; the
//! names are listed in `docs/state.md`. The variable is read once per
//! process, so a point costs a string comparison. Points are only for
//! tests: each marks a distinct partial state that `state` must describe
//! and `delete --force` must clean up.

use std::sync::OnceLock;

/// The environment variable naming the point to die at.
pub const ENV: &str = "RCR_FAULT";

/// Dies by SIGKILL here if [`ENV`] names `name`.
#[inline]
pub fn point(name: &str) {
    static ARMED: OnceLock<Option<String>> = OnceLock::new();
    let armed = ARMED.get_or_init(|| std::env::var(ENV).ok().filter(|v| !v.is_empty()));
    if armed.as_deref() == Some(name) {
        die();
    }
}

#[cold]
fn die() -> ! {
    // SIGKILL cannot be blocked or caught and is delivered before kill(2)
    // returns to us; abort only covers a kill that somehow failed.
    let _ = nix::sys::signal::kill(nix::unistd::Pid::this(), nix::sys::signal::Signal::SIGKILL);
    std::process::abort()
}
