//! [`IvRng`]: a per-worker CSPRNG for IVs and nonce prefixes, so sealing never makes a system
//! call per ticket.

use core::fmt;
use std::num::NonZeroU64;

use rand_chacha::ChaCha20Rng;
use rand_core::{CryptoRng, RngCore, SeedableRng};
use zeroize::Zeroize;

use crate::error::Error;

/// A ChaCha20 generator seeded from the OS (`getrandom`) once, then reseeded every
/// `reseed_interval` output bytes (default [`IvRng::DEFAULT_RESEED_BYTES`]). Give each worker
/// its own: it is `Send`, not shared, and needs no lock.
///
/// # Security assumptions
/// - **What it is for.** CBC IVs must be unpredictable to whoever chooses the plaintext; nonce
///   prefixes must not repeat. Both are published in the ticket, so the generator's output is
///   not secret once used; what matters is that *future* output cannot be predicted and
///   streams of different workers and processes never coincide. ChaCha20 keyed with 256 OS
///   bits gives both (the rand crate's `StdRng` uses the weaker ChaCha12 for the same job).
/// - **Cost.** One `getrandom` call per `reseed_interval` bytes (1 MiB = 65 536 IVs by
///   default); in between, output comes from ChaCha20's buffered blocks (a few ns per IV).
/// - **Reseeding** draws 32 bytes from the generator itself and XORs in 32 fresh OS bytes to
///   key the next generator, overwriting the old state in place. So a snapshot of the state
///   reveals neither earlier output (forward secrecy: the old key is gone and the new one is a
///   one-way function of it) nor, after the next reseed, later output (the OS bytes are
///   unknown to the attacker). If the OS source ever fails at a reseed, the generator still
///   ratchets from its own output (keeping forward secrecy) and counts the failure
///   ([`IvRng::reseed_failures`]); the next interval tries the OS again.
/// - **Memory.** Seeds are zeroized; the ChaCha state itself comes from `rand_chacha`, which does
///   not zeroize on drop, so a freed generator's last key may linger in memory until reused.
/// - **fork().** A child process inherits an exact copy of the state, so parent and child
///   would produce the same IVs/nonces until the next reseed. Checking the process id per call
///   would cost a system call per ticket, which this type exists to avoid. Call
///   [`IvRng::reseed`] in the child before sealing (a [`Pool`](super::Pool)'s workers are
///   threads and do not exist in a forked child; build a new pool there).
pub struct IvRng {
    rng: ChaCha20Rng,
    since_reseed: u64,
    reseed_after: u64,
    reseeds: u64,
    reseed_failures: u64,
}

impl fmt::Debug for IvRng {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IvRng")
            .field("reseeds", &self.reseeds)
            .field("reseed_failures", &self.reseed_failures)
            .finish_non_exhaustive()
    }
}

impl IvRng {
    /// Default reseed interval: 1 MiB of output (65 536 16-byte IVs).
    pub const DEFAULT_RESEED_BYTES: u64 = 1 << 20;

    /// A generator seeded from the OS, reseeding every [`Self::DEFAULT_RESEED_BYTES`].
    ///
    /// # Errors
    /// [`Error::Rng`] if the OS random source fails.
    pub fn new() -> Result<Self, Error> {
        Self::with_reseed_interval(
            NonZeroU64::new(Self::DEFAULT_RESEED_BYTES).unwrap_or(NonZeroU64::MIN),
        )
    }

    /// A generator seeded from the OS that reseeds after every `bytes` bytes of output.
    ///
    /// # Errors
    /// [`Error::Rng`] if the OS random source fails.
    pub fn with_reseed_interval(bytes: NonZeroU64) -> Result<Self, Error> {
        let mut seed = [0u8; 32];
        let drawn = getrandom::getrandom(&mut seed).map_err(|_| Error::Rng);
        let rng = ChaCha20Rng::from_seed(seed);
        seed.zeroize();
        drawn?;
        Ok(Self::from_chacha(rng, bytes))
    }

    fn from_chacha(rng: ChaCha20Rng, bytes: NonZeroU64) -> Self {
        Self {
            rng,
            since_reseed: 0,
            reseed_after: bytes.get(),
            reseeds: 0,
            reseed_failures: 0,
        }
    }

    /// Fills `dst` with random bytes (an IV, a nonce prefix). Reseeds first if the interval is
    /// used up; never fails (see the struct docs for an OS failure at reseed).
    pub fn fill(&mut self, dst: &mut [u8]) {
        if self.since_reseed >= self.reseed_after {
            // A failed OS draw is counted inside; the ratchet still happened.
            let _ = self.reseed();
        }
        self.rng.fill_bytes(dst);
        self.since_reseed = self.since_reseed.saturating_add(dst.len() as u64);
    }

    /// Reseeds now: next key = own output XOR fresh OS bytes (see the struct docs). Call it in
    /// a child process after `fork()`.
    ///
    /// # Errors
    /// [`Error::Rng`] if the OS source failed; the generator has still moved to a new key
    /// derived from its own output, and the failure is counted.
    pub fn reseed(&mut self) -> Result<(), Error> {
        let mut next = [0u8; 32];
        self.rng.fill_bytes(&mut next);
        let mut fresh = [0u8; 32];
        let drawn = getrandom::getrandom(&mut fresh);
        for (n, f) in next.iter_mut().zip(fresh.iter()) {
            *n ^= f;
        }
        // Assigning in place overwrites the old key and its buffered, unused output.
        self.rng = ChaCha20Rng::from_seed(next);
        next.zeroize();
        fresh.zeroize();
        self.since_reseed = 0;
        match drawn {
            Ok(()) => {
                self.reseeds += 1;
                Ok(())
            }
            Err(_) => {
                self.reseed_failures += 1;
                Err(Error::Rng)
            }
        }
    }

    /// Successful reseeds from the OS since creation.
    pub fn reseeds(&self) -> u64 {
        self.reseeds
    }

    /// Reseeds where the OS source failed (the generator ratcheted on its own output).
    pub fn reseed_failures(&self) -> u64 {
        self.reseed_failures
    }
}

impl RngCore for IvRng {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill(&mut b);
        u32::from_le_bytes(b)
    }

    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill(&mut b);
        u64::from_le_bytes(b)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.fill(dest);
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill(dest);
        Ok(())
    }
}

impl CryptoRng for IvRng {}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn interval(n: u64) -> NonZeroU64 {
        NonZeroU64::new(n).expect("nonzero")
    }

    #[test]
    fn ivs_are_distinct_within_and_across_generators() {
        let mut a = IvRng::new().expect("os rng");
        let mut b = IvRng::new().expect("os rng");
        let mut seen = HashSet::new();
        for _ in 0..2000 {
            let mut iv = [0u8; 16];
            a.fill(&mut iv);
            assert!(seen.insert(iv), "repeat within one generator");
            b.fill(&mut iv);
            assert!(seen.insert(iv), "repeat across generators");
        }
        assert_ne!(a.next_u64(), b.next_u64());
    }

    #[test]
    fn output_is_chacha20_until_the_interval_then_leaves_the_old_stream() {
        let seed = [7u8; 32];
        let mut reference = ChaCha20Rng::from_seed(seed);
        let mut rng = IvRng::from_chacha(ChaCha20Rng::from_seed(seed), interval(64));
        let (mut want, mut got) = ([0u8; 64], [0u8; 64]);
        reference.fill_bytes(&mut want);
        rng.fill(&mut got[..32]);
        rng.fill(&mut got[32..]);
        assert_eq!(got, want, "before the interval: plain ChaCha20 output");
        assert_eq!(rng.reseeds(), 0);

        reference.fill_bytes(&mut want);
        rng.fill(&mut got);
        assert_eq!(
            rng.reseeds(),
            1,
            "the interval was used up, so this fill reseeded"
        );
        assert_ne!(got, want, "after reseeding the old stream is abandoned");
        assert_eq!(rng.reseed_failures(), 0);
    }

    #[test]
    fn reseeds_every_interval() {
        let mut rng = IvRng::with_reseed_interval(interval(32)).expect("os rng");
        let mut iv = [0u8; 16];
        for _ in 0..20 {
            rng.fill(&mut iv);
        }
        // 320 bytes, a reseed before every fill that starts with >= 32 bytes used.
        assert_eq!(rng.reseeds(), 9);
        rng.reseed().expect("os rng");
        assert_eq!(rng.reseeds(), 10);
    }

    #[test]
    fn same_seed_diverges_after_reseed() {
        // Models a fork: two identical states must part ways once each reseeds.
        let mut parent = IvRng::from_chacha(ChaCha20Rng::from_seed([1; 32]), interval(1 << 20));
        let mut child = IvRng::from_chacha(ChaCha20Rng::from_seed([1; 32]), interval(1 << 20));
        assert_eq!(parent.next_u64(), child.next_u64());
        child.reseed().expect("os rng");
        assert_ne!(parent.next_u64(), child.next_u64());
    }

    #[test]
    fn debug_hides_state() {
        let rng = IvRng::new().expect("os rng");
        assert_eq!(
            format!("{rng:?}"),
            "IvRng { reseeds: 0, reseed_failures: 0, .. }"
        );
    }
}
