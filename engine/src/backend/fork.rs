//! Fork detection for the IV/nonce generators: a counter that a `pthread_atfork` child handler
//! bumps, so a generator seeded before `fork()` notices in the child, with one relaxed atomic
//! load per draw instead of a `getpid` system call (~100 ns here).
//!
//! This is the one piece of `unsafe` outside the ISA kernels: registering the handler is an FFI
//! call. It lives in `backend/` with them because that is where tessera keeps its unsafe code
//! and its contact with the platform, each block with its `// SAFETY:` line.
#![allow(unsafe_code)]

use std::sync::Once;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Bumped in every child process right after `fork()`.
static GENERATION: AtomicU64 = AtomicU64::new(0);
/// Whether the handler is in place; if registration failed, [`generation`] falls back to the
/// process id (a system call per draw, but still correct).
static REGISTERED: AtomicBool = AtomicBool::new(false);
static REGISTER: Once = Once::new();

#[cfg(unix)]
extern "C" fn child_after_fork() {
    // Runs in the single-threaded child; an atomic add is async-signal-safe.
    GENERATION.fetch_add(1, Ordering::Relaxed);
}

/// Installs the fork handler (once per process). Generators call it when they are created, so
/// the handler exists before any state worth protecting does.
pub(crate) fn register() {
    REGISTER.call_once(|| {
        #[cfg(unix)]
        {
            // SAFETY: `pthread_atfork` only records the function pointers; the child handler
            // is an `extern "C"` function with no arguments that touches nothing but an atomic,
            // which is allowed between fork() and exec() in a multi-threaded program.
            let rc = unsafe { libc::pthread_atfork(None, None, Some(child_after_fork)) };
            REGISTERED.store(rc == 0, Ordering::Release);
        }
        #[cfg(not(unix))]
        {
            // No fork() on this platform: the generation never changes.
            REGISTERED.store(true, Ordering::Release);
        }
    });
}

/// A value that differs between a process and any child forked from it after [`register`]
/// (and between successive generations of children). Cheap: one or two atomic loads.
#[inline]
pub(crate) fn generation() -> u64 {
    if REGISTERED.load(Ordering::Acquire) {
        GENERATION.load(Ordering::Relaxed)
    } else {
        // The process id tags the generation; the top bit keeps it apart from counter values.
        u64::from(std::process::id()) | 1 << 63
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::pool::IvRng;

    /// Forks for real: the child reports its generation and 64 bytes from a generator created
    /// (and drawn from) before the fork; the parent draws 64 bytes from its copy.
    #[test]
    fn a_forked_child_sees_a_new_generation_and_draws_different_ivs() {
        let mut rng = IvRng::new().expect("os rng");
        let mut warm = [0u8; 16];
        rng.fill(&mut warm); // leaves buffered output that the child must not reuse
        let before = generation();
        let mut fds = [0i32; 2];
        // SAFETY: `fds` is a valid array of two ints for pipe() to fill.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: the child only reads atomics, reseeds the generator (getrandom, clock and
        // getpid system calls, no allocation, no locks), writes to a pipe and calls _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            let mut report = [0u8; 72];
            report[..8].copy_from_slice(&generation().to_le_bytes());
            rng.fill(&mut report[8..]);
            // SAFETY: writes from a live 72-byte buffer to the pipe's write end, then leaves
            // the child without running destructors or atexit handlers.
            unsafe {
                libc::write(fds[1], report.as_ptr().cast(), report.len());
                libc::_exit(0);
            }
        }
        let mut ours = [0u8; 64];
        rng.fill(&mut ours);
        let mut got = [0u8; 72];
        // SAFETY: reads at most 72 bytes into a live buffer of 72; waits for our own child.
        let n = unsafe {
            libc::close(fds[1]);
            let n = libc::read(fds[0], got.as_mut_ptr().cast(), got.len());
            libc::close(fds[0]);
            libc::waitpid(pid, core::ptr::null_mut(), 0);
            n
        };
        assert_eq!(n, 72, "the child reported");
        assert_ne!(
            got[..8],
            before.to_le_bytes(),
            "the child saw a new generation"
        );
        for (i, c) in got[8..].chunks(16).enumerate() {
            assert!(
                ours.chunks(16).all(|p| p != c),
                "child IV {i} repeats a parent IV"
            );
        }
    }
}
