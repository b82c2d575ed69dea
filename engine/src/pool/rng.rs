//! [`IvRng`]: a per-worker CSPRNG for IVs and nonce prefixes, so sealing never makes a system
//! call per ticket.

use core::fmt;
use std::num::NonZeroU64;

use rand_chacha::ChaCha12Core;
use rand_core::block::BlockRngCore;
use rand_core::{CryptoRng, RngCore, SeedableRng};
use zeroize::Zeroize;

use crate::backend::fork;
use crate::error::Error;

/// Bytes per ChaCha call: four 64-byte blocks, what the SIMD code makes at once.
const BLOCK: usize = 256;
type Words = <ChaCha12Core as BlockRngCore>::Results;

/// A ChaCha12 generator seeded from the OS (`getrandom`) once, then reseeded every
/// `reseed_interval` output bytes (default [`IvRng::DEFAULT_RESEED_BYTES`]). Give each worker
/// its own: it is `Send`, not shared, and needs no lock.
///
/// # Security assumptions
/// - **What it is for.** CBC IVs must be unpredictable to whoever chooses the plaintext; nonce
///   prefixes must not repeat. Both are published in the ticket, so the generator's output is
///   not secret once used; what matters is that *future* output cannot be predicted and
///   streams of different workers and processes never coincide. ChaCha keyed with 256 OS bits
///   gives both. Twelve rounds is the rand crate's `StdRng` choice: the best published attacks
///   reach 7 rounds, and 12 costs about two thirds of ChaCha20 per IV.
/// - **Cost.** One `getrandom` call per `reseed_interval` bytes (1 MiB = 65 536 IVs by
///   default); in between, output is copied from a 256-byte buffer refilled four blocks at a
///   time by `rand_chacha`'s SIMD code (~8.5 ns per 16-byte IV measured here, against ~12 ns
///   for `ChaCha20Rng::fill_bytes`).
/// - **Forward secrecy.** Reseeding draws 32 bytes from the generator itself and XORs in 32
///   fresh OS bytes to key the next generator, overwriting the old state in place and wiping
///   buffered output. So a snapshot of the state reveals nothing generated before the last
///   reseed, and after the next reseed nothing generated later either (the OS bytes are
///   unknown to the attacker). Within one 256-byte buffer, bytes already handed out stay
///   until the next refill: wiping them per call cost ~3 ns per IV here, for output that
///   is published in tickets anyway. Do not use this generator for secret keys. If the OS
///   source fails at a reseed, the generator still ratchets on its own output (keeping
///   forward secrecy) and counts the failure ([`IvRng::reseed_failures`]); the next interval
///   tries the OS again.
/// - **Memory.** Seeds and buffers are zeroized; the ChaCha key schedule lives in
///   `rand_chacha`'s core, which does not zeroize on drop, so a dropped generator's last key
///   may linger in freed memory until it is reused.
/// - **fork().** A child process inherits an exact copy of the state, which would make parent
///   and child hand out the same IVs/nonces (for the AEAD format, nonce reuse). So every draw
///   first compares a fork generation, bumped in the child by a `pthread_atfork` handler
///   (one relaxed atomic load; `getpid` would be a ~100 ns system call per ticket), and a
///   generator that finds itself in a new process discards its buffered output and reseeds
///   from the OS, mixing in the process id and the clock, before producing anything. This
///   covers `fork()` through libc; a raw `clone` system call that bypasses libc's fork
///   handlers is not detected. A [`Pool`](super::Pool)'s workers are threads and do not
///   exist in a forked child; build a new pool there.
pub struct IvRng {
    core: ChaCha12Core,
    words: Words,
    buf: [u8; BLOCK],
    /// Next unread byte of `buf`; `BLOCK` = empty.
    pos: usize,
    since_reseed: u64,
    reseed_after: u64,
    reseeds: u64,
    reseed_failures: u64,
    /// [`fork::generation`] when this state was seeded in this process.
    fork_generation: u64,
}

impl fmt::Debug for IvRng {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IvRng")
            .field("reseeds", &self.reseeds)
            .field("reseed_failures", &self.reseed_failures)
            .finish_non_exhaustive()
    }
}

impl Drop for IvRng {
    fn drop(&mut self) {
        self.buf.zeroize();
        self.words.as_mut().zeroize();
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

    /// A generator seeded from the OS that reseeds once `bytes` bytes have been generated
    /// (checked per 256-byte refill, so intervals below 256 mean "every refill").
    ///
    /// # Errors
    /// [`Error::Rng`] if the OS random source fails.
    pub fn with_reseed_interval(bytes: NonZeroU64) -> Result<Self, Error> {
        let mut seed = [0u8; 32];
        let drawn = getrandom::getrandom(&mut seed).map_err(|_| Error::Rng);
        let core = ChaCha12Core::from_seed(seed);
        seed.zeroize();
        drawn?;
        Ok(Self::from_core(core, bytes))
    }

    fn from_core(core: ChaCha12Core, bytes: NonZeroU64) -> Self {
        fork::register();
        Self {
            fork_generation: fork::generation(),
            core,
            words: Words::default(),
            buf: [0; BLOCK],
            pos: BLOCK,
            since_reseed: 0,
            reseed_after: bytes.get(),
            reseeds: 0,
            reseed_failures: 0,
        }
    }

    /// Fills `dst` with random bytes (an IV, a nonce prefix). Reseeds first when the interval
    /// is used up; never fails (see the struct docs for an OS failure at reseed).
    #[inline]
    pub fn fill(&mut self, dst: &mut [u8]) {
        if self.fork_generation != fork::generation() {
            self.reseed_after_fork();
        }
        // Fast path: the request fits in what is buffered (15 of 16 IVs).
        if let Some(avail) = self
            .buf
            .get_mut(self.pos..self.pos.saturating_add(dst.len()))
        {
            dst.copy_from_slice(avail);
            self.pos += dst.len();
            return;
        }
        self.fill_slow(dst);
    }

    /// `fill` across refills.
    #[cold]
    fn fill_slow(&mut self, mut dst: &mut [u8]) {
        while !dst.is_empty() {
            if self.pos >= BLOCK {
                self.refill();
            }
            let avail = &mut self.buf[self.pos.min(BLOCK)..];
            let n = avail.len().min(dst.len());
            let (head, rest) = dst.split_at_mut(n);
            head.copy_from_slice(&avail[..n]);
            self.pos += n;
            dst = rest;
        }
    }

    /// The next 256 bytes into `buf`, reseeding first if the interval is used up.
    fn refill(&mut self) {
        if self.since_reseed >= self.reseed_after {
            // A failed OS draw is counted inside; the ratchet still happened.
            let _ = self.reseed();
        }
        self.generate_into_buf();
        self.since_reseed = self.since_reseed.saturating_add(BLOCK as u64);
    }

    fn generate_into_buf(&mut self) {
        self.core.generate(&mut self.words);
        // `generate` leaves each word holding the little-endian reading of the key stream.
        for (out, w) in self.buf.chunks_exact_mut(4).zip(self.words.as_ref()) {
            out.copy_from_slice(&w.to_le_bytes());
        }
        self.words.as_mut().zeroize();
        self.pos = 0;
    }

    /// Reseeds now: next key = own output XOR fresh OS bytes (see the struct docs), and any
    /// buffered output of the old key is discarded. Call it in a child process after `fork()`.
    ///
    /// # Errors
    /// [`Error::Rng`] if the OS source failed; the generator has still moved to a new key
    /// derived from its own output, and the failure is counted.
    pub fn reseed(&mut self) -> Result<(), Error> {
        self.reseed_mixing(&[0; 32])
    }

    /// [`Self::reseed`], with `extra` XORed into the next key as well.
    fn reseed_mixing(&mut self, extra: &[u8; 32]) -> Result<(), Error> {
        self.generate_into_buf();
        let mut next = [0u8; 32];
        next.copy_from_slice(&self.buf[..32]);
        let mut fresh = [0u8; 32];
        let drawn = getrandom::getrandom(&mut fresh);
        for ((n, f), e) in next.iter_mut().zip(fresh.iter()).zip(extra) {
            *n ^= f ^ e;
        }
        // Assigning in place overwrites the old key.
        self.core = ChaCha12Core::from_seed(next);
        next.zeroize();
        fresh.zeroize();
        self.buf.zeroize();
        self.pos = BLOCK;
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

    /// In a forked child: drop the parent's buffered output and move to a key the parent
    /// cannot share. The OS bytes make it unpredictable; the pid and clock keep parent and
    /// child apart even if the OS source fails (counted, as for any reseed).
    #[cold]
    fn reseed_after_fork(&mut self) {
        self.fork_generation = fork::generation();
        let mut tag = [0u8; 32];
        tag[..4].copy_from_slice(&std::process::id().to_le_bytes());
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        tag[4..20].copy_from_slice(&nanos.to_le_bytes());
        // A failed OS draw is counted inside; the pid and clock still separated the streams.
        let _ = self.reseed_mixing(&tag);
        tag.zeroize();
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

    /// Two generators in the same state, as parent and child are right after `fork()`.
    fn twins() -> (IvRng, IvRng) {
        let seed = [7u8; 32];
        let make = || IvRng::from_core(ChaCha12Core::from_seed(seed), interval(1 << 20));
        (make(), make())
    }

    fn draws(rng: &mut IvRng, n: usize) -> Vec<[u8; 16]> {
        (0..n)
            .map(|_| {
                let mut iv = [0u8; 16];
                rng.fill(&mut iv);
                iv
            })
            .collect()
    }

    #[test]
    fn a_generator_that_finds_itself_forked_leaves_its_twins_stream() {
        // Control: without a fork, twins agree, so the assertion below can fail.
        let (mut a, mut b) = twins();
        assert_eq!(draws(&mut a, 40), draws(&mut b, 40));

        let (mut parent, mut child) = twins();
        let _ = draws(&mut parent, 3);
        let _ = draws(&mut child, 3); // both hold the same buffered bytes now
        // What the atfork handler does, seen from this generator only (the process-wide
        // counter is left alone so concurrent tests are not disturbed).
        child.fork_generation = child.fork_generation.wrapping_add(1);
        let p = draws(&mut parent, 1000);
        let c: HashSet<[u8; 16]> = draws(&mut child, 1000).into_iter().collect();
        assert!(
            p.iter().all(|iv| !c.contains(iv)),
            "child repeated a parent IV"
        );
        assert_eq!(child.reseeds() + child.reseed_failures(), 1);
        assert_eq!(parent.reseeds() + parent.reseed_failures(), 0);
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
    fn output_is_chacha12_until_the_interval_then_leaves_the_old_stream() {
        use rand_chacha::ChaCha12Rng;
        let seed = [7u8; 32];
        let mut reference = ChaCha12Rng::from_seed(seed);
        let mut rng = IvRng::from_core(ChaCha12Core::from_seed(seed), interval(256));
        // Odd split sizes cross the 256-byte buffer edge mid-request.
        let (mut want, mut got) = ([0u8; 256], [0u8; 256]);
        reference.fill_bytes(&mut want);
        let (a, rest) = got.split_at_mut(5);
        let (b, c) = rest.split_at_mut(200);
        rng.fill(a);
        rng.fill(b);
        rng.fill(c);
        assert_eq!(got, want, "before the interval: plain ChaCha12 key stream");
        assert_eq!(rng.reseeds(), 0);

        reference.fill_bytes(&mut want);
        rng.fill(&mut got);
        assert_eq!(
            rng.reseeds(),
            1,
            "the interval was used up, so this refill reseeded"
        );
        assert_ne!(got, want, "after reseeding the old stream is abandoned");
        assert_eq!(rng.reseed_failures(), 0);
    }

    #[test]
    fn spans_several_refills_in_one_call() {
        let seed = [3u8; 32];
        let mut reference = rand_chacha::ChaCha12Rng::from_seed(seed);
        let mut rng = IvRng::from_core(ChaCha12Core::from_seed(seed), interval(1 << 20));
        let (mut want, mut got) = (vec![0u8; 1000], vec![0u8; 1000]);
        reference.fill_bytes(&mut want);
        rng.fill(&mut got[..3]);
        rng.fill(&mut got[3..]);
        assert_eq!(got, want);
    }

    #[test]
    fn reseed_wipes_buffered_output_and_words() {
        let mut rng = IvRng::new().expect("os rng");
        let mut iv = [0u8; 16];
        rng.fill(&mut iv);
        assert_eq!(rng.pos, 16);
        assert!(
            rng.words.as_ref().iter().all(|&w| w == 0),
            "words wiped after each refill"
        );
        rng.reseed().expect("os rng");
        assert_eq!(rng.pos, BLOCK);
        assert!(
            rng.buf.iter().all(|&b| b == 0),
            "old key's output discarded"
        );
    }

    #[test]
    fn reseeds_every_interval() {
        // 1600 bytes = 7 refills of 256; with a 256-byte interval all but the first reseed.
        let mut rng = IvRng::with_reseed_interval(interval(256)).expect("os rng");
        let mut iv = [0u8; 16];
        for _ in 0..100 {
            rng.fill(&mut iv);
        }
        assert_eq!(rng.reseeds(), 6);
        rng.reseed().expect("os rng");
        assert_eq!(rng.reseeds(), 7);

        // With 1024 only the fifth refill reseeds.
        let mut rng = IvRng::with_reseed_interval(interval(1024)).expect("os rng");
        for _ in 0..100 {
            rng.fill(&mut iv);
        }
        assert_eq!(rng.reseeds(), 1);
    }

    #[test]
    fn same_seed_diverges_after_reseed() {
        // Models a fork: two identical states must part ways once each reseeds.
        let mut parent = IvRng::from_core(ChaCha12Core::from_seed([1; 32]), interval(1 << 20));
        let mut child = IvRng::from_core(ChaCha12Core::from_seed([1; 32]), interval(1 << 20));
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
