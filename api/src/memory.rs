//! How the process gives memory back to the operating system.
//!
//! The binary allocates through mimalloc (see `main.rs`), with two of its defaults changed:
//!
//! - **Purge at once.** By default mimalloc 3 keeps freed pages for a second before returning
//!   them, and returns them only when the thread that freed them comes back to the allocator:
//!   threads of the blocking pool that render an image or hash a password and then idle kept
//!   their pages, and the process stayed near its peak (a password hash takes 19 MiB; after 200
//!   sign-ups the server held 128 MB, 59 MB with prompt purging).
//! - **No transparent huge pages.** mimalloc asks the kernel for 2 MiB pages under its arenas
//!   (`madvise(MADV_HUGEPAGE)`); one live object keeps a whole 2 MiB resident, and a purge of
//!   64 KiB inside it returns nothing. Under new-prompt generations a fresh server peaked at
//!   210 MB with 60 MB of it in huge pages, and held 160 MB when idle again; without them it
//!   peaked at 99 MB (bench/RESULTS.md, 2026-12-02).
//!
//! mimalloc reads its options from the environment once, when the process starts, and this
//! workspace forbids the `unsafe` its C API would take; so the binary, started without the
//! settings, starts itself over with them ([`std::os::unix::process::CommandExt::exec`]: same
//! process id, arguments and environment plus these variables). A value the operator set is kept.

use std::ffi::OsString;

/// The variables, and the values that make mimalloc purge freed memory at once and keep to
/// 4 KiB pages.
pub const SETTINGS: [(&str, &str); 2] = [("MIMALLOC_PURGE_DELAY", "0"), ("MIMALLOC_ALLOW_THP", "0")];

/// The settings missing from `environment` (set neither by the operator nor by an earlier start).
pub fn missing_settings(environment: impl Iterator<Item = (OsString, OsString)>) -> Vec<(&'static str, &'static str)> {
    let present: Vec<OsString> = environment.map(|(name, _)| name).collect();
    SETTINGS.into_iter().filter(|(name, _)| !present.iter().any(|p| p == name)).collect()
}

/// Starts this program over with the [`SETTINGS`] that are missing. Returns only if none is,
/// or if starting over failed (then the process goes on with mimalloc's defaults).
pub fn return_freed_memory_promptly() {
    use std::os::unix::process::CommandExt;
    let missing = missing_settings(std::env::vars_os());
    if missing.is_empty() {
        return;
    }
    let Ok(program) = std::env::current_exe() else { return };
    let mut args = std::env::args_os();
    let arg0 = args.next().unwrap_or_else(|| program.clone().into_os_string());
    let error = std::process::Command::new(&program).arg0(arg0).args(args).envs(missing.iter().copied()).exec();
    eprintln!("could not restart with {missing:?} ({error}); going on with the allocator's defaults");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restarts_only_for_missing_settings() {
        let env = |vars: &[(&str, &str)]| {
            vars.iter().map(|(k, v)| (OsString::from(k), OsString::from(v))).collect::<Vec<_>>().into_iter()
        };
        assert_eq!(missing_settings(env(&[("PATH", "/bin")])), SETTINGS.to_vec());
        assert!(missing_settings(env(&[("MIMALLOC_PURGE_DELAY", "0"), ("MIMALLOC_ALLOW_THP", "0")])).is_empty());
        // An operator's own value is kept; only what is missing is added.
        assert_eq!(missing_settings(env(&[("MIMALLOC_PURGE_DELAY", "250")])), vec![("MIMALLOC_ALLOW_THP", "0")]);
    }
}
