//! How the process gives memory back to the operating system.
//!
//! The binary allocates through mimalloc (see `main.rs`). By default mimalloc 3 keeps freed
//! pages for a second before returning them, and returns them only when the thread that freed
//! them comes back to the allocator: threads of the blocking pool that render an image or hash
//! a password and then idle kept their pages, and the process stayed near its peak (a password
//! hash takes 19 MiB; after 200 sign-ups the server held 128 MB, 59 MB with prompt purging).
//! Purging at once keeps the resident size near what is in use, for a `madvise` per freed span
//! (bench/RESULTS.md, 2026-12-02, has the figures).
//!
//! mimalloc reads its options from the environment once, when the process starts, and this
//! workspace forbids the `unsafe` its C API would take; so the binary, started without the
//! setting, starts itself over with it ([`std::os::unix::process::CommandExt::exec`]: same
//! process id, arguments and environment plus this one variable).

use std::ffi::OsString;

/// The variable, and the value that makes mimalloc purge freed memory at once.
pub const PURGE_DELAY: (&str, &str) = ("MIMALLOC_PURGE_DELAY", "0");

/// Whether the allocator setting is missing from `environment` (set neither by the operator nor
/// by an earlier start).
pub fn restart_needed(environment: impl Iterator<Item = (OsString, OsString)>) -> bool {
    !environment.into_iter().any(|(name, _)| name == PURGE_DELAY.0)
}

/// Starts this program over with [`PURGE_DELAY`] set, unless it is set already. Returns only
/// if it is, or if starting over failed (then the process goes on with mimalloc's defaults).
pub fn return_freed_memory_promptly() {
    use std::os::unix::process::CommandExt;
    if !restart_needed(std::env::vars_os()) {
        return;
    }
    let Ok(program) = std::env::current_exe() else { return };
    let mut args = std::env::args_os();
    let arg0 = args.next().unwrap_or_else(|| program.clone().into_os_string());
    let error = std::process::Command::new(&program).arg0(arg0).args(args).env(PURGE_DELAY.0, PURGE_DELAY.1).exec();
    eprintln!(
        "could not restart with {}={} ({error}); going on with the allocator's defaults",
        PURGE_DELAY.0, PURGE_DELAY.1
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restarts_only_without_the_setting() {
        let env = |vars: &[(&str, &str)]| {
            vars.iter().map(|(k, v)| (OsString::from(k), OsString::from(v))).collect::<Vec<_>>().into_iter()
        };
        assert!(restart_needed(env(&[("PATH", "/bin")])));
        assert!(!restart_needed(env(&[("MIMALLOC_PURGE_DELAY", "0")])));
        // An operator's own value is kept.
        assert!(!restart_needed(env(&[("MIMALLOC_PURGE_DELAY", "250")])));
    }
}
