//! XAES-256-GCM for the `aead` ticket format: AES-NI + PCLMULQDQ (xmm), and a ymm variant
//! (VAES + VPCLMULQDQ) used by the VAES backends.
//!
//! Per ticket: the C2SP key derivation (two AES-256 blocks under the ring's XAES key `K`, from
//! `N[..12] ^ K1`), the AES-256 key schedule of the derived key (`aeskeygenassist`),
//! `H = E(0)` and `E(J0)`, then AES-256-GCM with `N[12..]`. Derivation, schedules and the two
//! first blocks are serial chains of dependent instructions, so [`LANES`] tickets run them
//! side by side ([`prepare`]). CTR blocks of one ticket are independent and go 8 at a time
//! (ymm: 4 registers of 2 blocks under broadcast round keys).
//!
//! GHASH is computed in the POLYVAL domain (RFC 8452 appendix A: byte-reversed blocks, `H`
//! multiplied by x), where a carry-less product needs no bit reflection and reduces with two
//! `pclmulqdq` by the constant `0xc2 << 56` (Montgomery form, Gueron's AES-GCM-SIV code).
//! When the tickets of a group have one shape (AAD and data lengths: the usual batch of one key
//! and one state size), their GHASH chains run in lockstep, one Horner step per block for every
//! ticket (ymm: two tickets per register; sealing reduces once per two blocks with `H^2`).
//! Otherwise each ticket hashes alone, four blocks per reduction with `H^4..H`.
//!
//! Opening hashes the ciphertext first, compares the tag in constant time (`ptest` over the
//! XOR) and decrypts only on a match: on a bad tag the buffer is never written.
//!
//! Derived round keys, `H` and its powers live in stack arrays that are zeroized before
//! returning; key stream for a partial last block goes through a 16-byte buffer that is
//! zeroized too. Register temporaries (key stream blocks, GHASH accumulators, the KDF blocks)
//! are not wiped: zeroizing an array forces it into memory (stores and reloads inside the
//! AES rounds and the GHASH chain).
//!
//! # Cost (128-byte state, batch 1024, one thread, 2-vCPU AMD EPYC dev VM)
//! `bench/examples/batch_profile.rs ... aead`, best of 500 calls: vaes-shani ~73 ns/ticket to
//! seal and ~75 to open; aesni-shani (xmm) ~89 / ~92; portable ~365 / ~367. Single-ticket
//! calls (`seal_append` / `open_at`): ~115 / ~118 against ~361 / ~376 portable. Where a sealed
//! ticket goes on vaes-shani (perf, share of samples x 72 ns): [`prepare`] ~16 ns (KDF, key
//! schedule, `H`, `E(J0)`: 4 AES-256 blocks and 13 schedule steps per ticket, per-ticket work
//! that plain AES-GCM with a fixed key would not have), GHASH of 10 blocks ~14 ns, CTR of 8
//! blocks ~13 ns, the batch pipeline (`seal_chunk`, headers, copies) ~17 ns, nonces from the
//! ChaCha IV generator ~8 ns (24 bytes per ticket). Opening: GHASH and tag check ~20 ns,
//! [`prepare`] ~17, CTR ~13, the pipeline (split, lookup, copies) ~25.
//!
//! Tried and measured no faster here (so not kept): Karatsuba products in the ymm GHASH (+3 ns:
//! the chain is latency-bound, not `pclmulqdq`-bound); groups of 8 tickets (+5..8 ns: spills);
//! `H^2` aggregation when opening (H^2 sits on the critical path before GHASH); VAES for the
//! KDF and first blocks (same time: [`prepare`] is not bound by AES throughput); the schedule
//! through `aesenclast` instead of `aeskeygenassist` (same time); two tickets' CTR blocks
//! paired per ymm register (+3..6 ns sealing: the lane inserts and extracts cost more than the
//! extra AES parallelism gives). Issue 4's 30 ns/ticket was set for plain AES-GCM; XAES pays
//! [`prepare`] per ticket (~16 ns) before any GCM work, and AES-NI for the 14 blocks per
//! ticket is ~1 `vaesenc` per cycle on this CPU.

#![allow(unsafe_code)]

use core::arch::x86_64::*;
use core::fmt;

use zeroize::Zeroize;

use super::x86_aesni::{expand_256, expand_step};

/// Tickets whose key derivation and key schedule are interleaved.
pub(super) const LANES: usize = 4;

/// The ring's XAES-256-GCM key for this kernel: `K` expanded and the CMAC subkey `K1`.
/// Zeroized on drop.
#[derive(Clone)]
pub struct XaesRoundKeys {
    rk: [__m128i; 15],
    k1: __m128i,
}

impl Drop for XaesRoundKeys {
    fn drop(&mut self) {
        self.rk.zeroize();
        self.k1.zeroize();
        #[cfg(test)]
        {
            let mut bytes = [0u8; 16 * 16];
            for (c, k) in bytes
                .chunks_exact_mut(16)
                .zip(self.rk.iter().chain([&self.k1]))
            {
                // SAFETY: `c` is 16 bytes; unaligned store (SSE2, baseline on x86_64).
                unsafe { _mm_storeu_si128(c.as_mut_ptr().cast(), *k) };
            }
            crate::drop_probe::observe("XaesRoundKeys", &bytes);
        }
    }
}

impl zeroize::ZeroizeOnDrop for XaesRoundKeys {}

impl fmt::Debug for XaesRoundKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XaesRoundKeys").finish_non_exhaustive()
    }
}

/// One AEAD ticket for [`Clmul::xaes_seal_many`](super::Clmul::xaes_seal_many) /
/// [`Clmul::xaes_open_many`](super::Clmul::xaes_open_many).
pub struct GcmJob<'a> {
    /// The ring's XAES key.
    pub key: &'a XaesRoundKeys,
    /// The 24-byte XAES nonce (first half: key derivation; second half: GCM nonce).
    pub nonce: [u8; 24],
    /// Additional authenticated data (the key name for tickets).
    pub aad: &'a [u8],
    /// Plaintext (seal) or ciphertext (open), replaced in place.
    pub data: &'a mut [u8],
    /// Seal: the computed tag. Open: the tag to verify.
    pub tag: [u8; 16],
    /// Open: true if the tag verified (and `data` now holds the plaintext). On false `data`
    /// was not written.
    pub ok: bool,
}

impl fmt::Debug for GcmJob<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GcmJob")
            .field("len", &self.data.len())
            .field("ok", &self.ok)
            .finish_non_exhaustive()
    }
}

/// Expands the ring's XAES key and computes `K1 = dbl(AES(K, 0^128))` (CMAC subkey).
///
/// # Safety
/// The CPU must support AES-NI and SSE4.1.
#[target_feature(enable = "aes,sse4.1")]
pub(super) unsafe fn xaes_round_keys(key: &[u8; 32]) -> XaesRoundKeys {
    // SAFETY: the caller guarantees AES-NI and SSE4.1.
    let keys = unsafe { expand_256(key) };
    let mut l = [_mm_setzero_si128()];
    aes256::<1>(&keys.enc, &mut l);
    let mut bytes = [0u8; 16];
    // SAFETY: 16-byte array, unaligned store.
    unsafe { _mm_storeu_si128(bytes.as_mut_ptr().cast(), l[0]) };
    // CMAC doubling: L << 1 in big-endian bit order, reduced by x^128 + x^7 + x^2 + x + 1.
    let v = u128::from_be_bytes(bytes);
    let mut k1 = ((v << 1) ^ ((v >> 127) * 0x87)).to_be_bytes();
    // SAFETY: 16-byte array, unaligned load.
    let k1v = unsafe { _mm_loadu_si128(k1.as_ptr().cast()) };
    let out = XaesRoundKeys {
        rk: keys.enc,
        k1: k1v,
    };
    bytes.zeroize();
    k1.zeroize();
    l.zeroize();
    out
}

// ---------------------------------------------------------------------------------------------
// Building blocks.

/// Reverses the 16 bytes of `x` (GHASH block <-> POLYVAL element).
#[target_feature(enable = "sse4.1")]
#[inline]
fn rev(x: __m128i) -> __m128i {
    _mm_shuffle_epi8(
        x,
        _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
    )
}

/// AES-256 encryption of `W` independent blocks in place.
#[target_feature(enable = "aes,sse4.1")]
#[inline]
fn aes256<const W: usize>(rk: &[__m128i; 15], b: &mut [__m128i; W]) {
    for x in b.iter_mut() {
        *x = _mm_xor_si128(*x, rk[0]);
    }
    for k in &rk[1..14] {
        for x in b.iter_mut() {
            *x = _mm_aesenc_si128(*x, *k);
        }
    }
    for x in b.iter_mut() {
        *x = _mm_aesenclast_si128(*x, rk[14]);
    }
}

/// Unreduced carry-less product: (low, middle, high) 128-bit parts.
#[target_feature(enable = "pclmulqdq,sse4.1")]
#[inline]
fn clmul(a: __m128i, b: __m128i) -> [__m128i; 3] {
    [
        _mm_clmulepi64_si128::<0x00>(a, b),
        _mm_xor_si128(
            _mm_clmulepi64_si128::<0x01>(a, b),
            _mm_clmulepi64_si128::<0x10>(a, b),
        ),
        _mm_clmulepi64_si128::<0x11>(a, b),
    ]
}

#[target_feature(enable = "sse4.1")]
#[inline]
fn add3(a: [__m128i; 3], b: [__m128i; 3]) -> [__m128i; 3] {
    [
        _mm_xor_si128(a[0], b[0]),
        _mm_xor_si128(a[1], b[1]),
        _mm_xor_si128(a[2], b[2]),
    ]
}

/// Montgomery reduction of a 256-bit product for POLYVAL (`a * b * x^-128` mod
/// x^128 + x^127 + x^126 + x^121 + 1), two folds by `0xc2 << 56` (Gueron, AES-GCM-SIV).
#[target_feature(enable = "pclmulqdq,sse4.1")]
#[inline]
fn reduce(p: [__m128i; 3]) -> __m128i {
    let lo = _mm_xor_si128(p[0], _mm_slli_si128::<8>(p[1]));
    let hi = _mm_xor_si128(p[2], _mm_srli_si128::<8>(p[1]));
    let poly = _mm_set_epi64x(0xc200_0000_0000_0000_u64 as i64, 0);
    let t = _mm_clmulepi64_si128::<0x10>(lo, poly);
    let lo = _mm_xor_si128(_mm_shuffle_epi32::<0x4e>(lo), t);
    let t = _mm_clmulepi64_si128::<0x10>(lo, poly);
    let lo = _mm_xor_si128(_mm_shuffle_epi32::<0x4e>(lo), t);
    _mm_xor_si128(lo, hi)
}

/// POLYVAL product.
#[target_feature(enable = "pclmulqdq,sse4.1")]
#[inline]
fn gmul(a: __m128i, b: __m128i) -> __m128i {
    reduce(clmul(a, b))
}

/// `mulX_POLYVAL` (RFC 8452 appendix A): the POLYVAL key for GHASH key `rev(H)`.
#[target_feature(enable = "sse4.1")]
#[inline]
fn mulx(v: __m128i) -> __m128i {
    // 128-bit shift left by one: each qword shifted, bit 63 of the low qword carried up.
    let carry = _mm_slli_si128::<8>(_mm_srli_epi64::<63>(v));
    let shifted = _mm_or_si128(_mm_slli_epi64::<1>(v), carry);
    // All ones if bit 127 was set.
    let top = _mm_srai_epi32::<31>(_mm_shuffle_epi32::<0xff>(v));
    let poly = _mm_set_epi64x(0xc200_0000_0000_0000_u64 as i64, 1);
    _mm_xor_si128(shifted, _mm_and_si128(top, poly))
}

/// Counter block `base || be32(ctr)` (`base` has zeros in bytes 12..16).
#[target_feature(enable = "sse4.1")]
#[inline]
fn counter(base: __m128i, ctr: u32) -> __m128i {
    _mm_insert_epi32::<3>(base, ctr.swap_bytes() as i32)
}

/// One ticket's per-ticket secrets: the derived key's schedule and GHASH key powers
/// `[H, H^2, H^3, H^4]` (POLYVAL domain; powers only when the data has 4+ blocks).
struct TicketKeys {
    rk: [__m128i; 15],
    h: [__m128i; 4],
    ej0: __m128i,
    base: __m128i,
}

impl TicketKeys {
    #[target_feature(enable = "sse4.1")]
    #[inline]
    fn wipe(&mut self) {
        self.rk.zeroize();
        self.h.zeroize();
        self.ej0.zeroize();
    }
}

/// The two KDF input blocks `[0, i, 'X', 0] || N[..12] ^ K1` of each ticket, already XORed
/// with round key 0 of `K`, and each ticket's counter base `N[12..] || 0^32`.
#[target_feature(enable = "sse4.1")]
#[inline]
fn kdf_inputs<const L: usize>(
    keys: &[&XaesRoundKeys; L],
    nonces: &[&[u8; 24]; L],
) -> ([[__m128i; 2]; L], [__m128i; L]) {
    // [0, i, 'X', 0] as a little-endian word.
    let pre = [
        _mm_set_epi32(0, 0, 0, 0x0058_0100),
        _mm_set_epi32(0, 0, 0, 0x0058_0200),
    ];
    let mut m = [[_mm_setzero_si128(); 2]; L];
    let mut base = [_mm_setzero_si128(); L];
    for ((m, base), (key, nonce)) in m
        .iter_mut()
        .zip(base.iter_mut())
        .zip(keys.iter().zip(nonces))
    {
        let n = nonce.as_ptr();
        // SAFETY: the nonce is 24 bytes: 16 from offset 0 and 16 from offset 8 are in range.
        let (head, tail) = unsafe { (_mm_loadu_si128(n.cast()), _mm_loadu_si128(n.add(8).cast())) };
        // Bytes 4..16 = N[..12]; bytes 0..12 = N[12..24].
        let head = _mm_slli_si128::<4>(head);
        *base = _mm_srli_si128::<4>(tail);
        for (mi, p) in m.iter_mut().zip(pre) {
            *mi = _mm_xor_si128(_mm_xor_si128(_mm_or_si128(head, p), key.k1), key.rk[0]);
        }
    }
    (m, base)
}

/// Completes the AES-256 schedules whose first two round keys (the derived key) are set,
/// `L` tickets side by side (FIPS 197 5.2: even words RotWord+SubWord+Rcon, odd SubWord).
#[target_feature(enable = "aes,sse4.1")]
#[inline]
fn expand_lanes<const L: usize>(e: &mut [[__m128i; 15]; L]) {
    macro_rules! step {
        ($i:literal, $rcon:literal) => {
            for k in e.iter_mut() {
                k[$i] = expand_step(
                    k[$i - 2],
                    _mm_shuffle_epi32::<0xff>(_mm_aeskeygenassist_si128::<$rcon>(k[$i - 1])),
                );
            }
        };
        ($i:literal, $rcon:literal, odd) => {
            step!($i, $rcon);
            for k in e.iter_mut() {
                k[$i + 1] = expand_step(
                    k[$i - 1],
                    _mm_shuffle_epi32::<0xaa>(_mm_aeskeygenassist_si128::<0>(k[$i])),
                );
            }
        };
    }
    step!(2, 0x01, odd);
    step!(4, 0x02, odd);
    step!(6, 0x04, odd);
    step!(8, 0x08, odd);
    step!(10, 0x10, odd);
    step!(12, 0x20, odd);
    step!(14, 0x40);
}

/// The tickets' keys from their schedules, `H = E(0)` and `E(J0)`.
#[target_feature(enable = "sse4.1")]
#[inline]
fn ticket_keys<const L: usize>(
    e: &[[__m128i; 15]; L],
    first: &[[__m128i; 2]; L],
    base: &[__m128i; L],
) -> [TicketKeys; L] {
    core::array::from_fn(|l| {
        let z = _mm_setzero_si128();
        TicketKeys {
            rk: e[l],
            h: [mulx(rev(first[l][0])), z, z, z],
            ej0: first[l][1],
            base: base[l],
        }
    })
}

/// Interleaved XAES key derivation, AES-256 key schedule and first blocks (`H`, `E(J0)`) for
/// `L` tickets. Returns each ticket's keys with `h[0]` set (powers not yet computed).
///
/// # Safety
/// AES-NI, PCLMULQDQ and SSE4.1 available.
#[target_feature(enable = "aes,pclmulqdq,sse4.1")]
#[inline]
unsafe fn prepare<const L: usize>(
    keys: [&XaesRoundKeys; L],
    nonces: [&[u8; 24]; L],
) -> [TicketKeys; L] {
    let (mut m, base) = kdf_inputs(&keys, &nonces);
    for r in 1..14 {
        for (m, key) in m.iter_mut().zip(&keys) {
            m[0] = _mm_aesenc_si128(m[0], key.rk[r]);
            m[1] = _mm_aesenc_si128(m[1], key.rk[r]);
        }
    }
    let mut e = [[_mm_setzero_si128(); 15]; L];
    for ((e, m), key) in e.iter_mut().zip(&m).zip(&keys) {
        e[0] = _mm_aesenclast_si128(m[0], key.rk[14]);
        e[1] = _mm_aesenclast_si128(m[1], key.rk[14]);
    }
    expand_lanes(&mut e);
    // H = E(0) and E(J0), J0 = N[12..] || 1, for all tickets side by side.
    let mut b: [[__m128i; 2]; L] =
        core::array::from_fn(|l| [e[l][0], _mm_xor_si128(counter(base[l], 1), e[l][0])]);
    for r in 1..14 {
        for (b, e) in b.iter_mut().zip(&e) {
            b[0] = _mm_aesenc_si128(b[0], e[r]);
            b[1] = _mm_aesenc_si128(b[1], e[r]);
        }
    }
    for (b, e) in b.iter_mut().zip(&e) {
        b[0] = _mm_aesenclast_si128(b[0], e[14]);
        b[1] = _mm_aesenclast_si128(b[1], e[14]);
    }
    let out = ticket_keys(&e, &b, &base);
    e.zeroize();
    out
}

/// Fills `h[1..4]` with `H^2, H^3, H^4`.
#[target_feature(enable = "pclmulqdq,sse4.1")]
#[inline]
fn powers(h: &mut [__m128i; 4]) {
    h[1] = gmul(h[0], h[0]);
    h[2] = gmul(h[1], h[0]);
    h[3] = gmul(h[1], h[1]);
}

/// GHASH update with `data` zero-padded to whole blocks.
///
/// # Safety
/// PCLMULQDQ and SSE4.1 available; `h` holds powers if `data` has 4+ blocks.
#[target_feature(enable = "pclmulqdq,sse4.1")]
#[inline]
unsafe fn ghash(mut y: __m128i, h: &[__m128i; 4], data: &[u8]) -> __m128i {
    let mut chunks = data.chunks_exact(64);
    for c in &mut chunks {
        let p = c.as_ptr();
        // SAFETY: `c` is 64 bytes: four unaligned 16-byte loads.
        let x = unsafe {
            [
                _mm_xor_si128(rev(_mm_loadu_si128(p.cast())), y),
                rev(_mm_loadu_si128(p.add(16).cast())),
                rev(_mm_loadu_si128(p.add(32).cast())),
                rev(_mm_loadu_si128(p.add(48).cast())),
            ]
        };
        let mut acc = clmul(x[0], h[3]);
        acc = add3(acc, clmul(x[1], h[2]));
        acc = add3(acc, clmul(x[2], h[1]));
        acc = add3(acc, clmul(x[3], h[0]));
        y = reduce(acc);
    }
    let mut blocks = chunks.remainder().chunks_exact(16);
    for c in &mut blocks {
        // SAFETY: `c` is 16 bytes.
        let x = rev(unsafe { _mm_loadu_si128(c.as_ptr().cast()) });
        y = gmul(_mm_xor_si128(y, x), h[0]);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        let mut t = [0u8; 16];
        t[..tail.len()].copy_from_slice(tail);
        // SAFETY: 16-byte array.
        let x = rev(unsafe { _mm_loadu_si128(t.as_ptr().cast()) });
        y = gmul(_mm_xor_si128(y, x), h[0]);
    }
    y
}

/// The GCM tag over `aad` and the ciphertext `ct`.
///
/// # Safety
/// PCLMULQDQ and SSE4.1 available.
#[target_feature(enable = "pclmulqdq,sse4.1")]
#[inline]
unsafe fn tag(k: &mut TicketKeys, aad: &[u8], ct: &[u8]) -> __m128i {
    if aad.len() >= 64 || ct.len() >= 64 {
        powers(&mut k.h);
    }
    // SAFETY: features as the caller guarantees; `h` has powers for 4+ block inputs.
    let mut y = unsafe { ghash(_mm_setzero_si128(), &k.h, aad) };
    // SAFETY: as above.
    y = unsafe { ghash(y, &k.h, ct) };
    // rev(be64(aad bits) || be64(ct bits)).
    let lens = _mm_set_epi64x((aad.len() as u64 * 8) as i64, (ct.len() as u64 * 8) as i64);
    y = gmul(_mm_xor_si128(y, lens), k.h[0]);
    _mm_xor_si128(rev(y), k.ej0)
}

/// GHASH update of `L` tickets in lockstep over inputs of one common length `n` (zero-padded
/// to whole blocks): one Horner step per block for every ticket, so `L` independent
/// multiply-reduce chains overlap instead of one waiting on its own latency.
///
/// # Safety
/// PCLMULQDQ and SSE4.1 available; every `data[l]` is at least `n` bytes.
#[target_feature(enable = "pclmulqdq,sse4.1")]
#[inline]
unsafe fn ghash_lanes<const L: usize>(
    y: &mut [__m128i; L],
    h: &[__m128i; L],
    data: [&[u8]; L],
    n: usize,
) {
    for b in 0..n / 16 {
        for l in 0..L {
            // SAFETY: block `b` lies within the first `n` bytes of `data[l]`.
            let x = rev(unsafe { _mm_loadu_si128(data[l].as_ptr().add(16 * b).cast()) });
            y[l] = gmul(_mm_xor_si128(y[l], x), h[l]);
        }
    }
    let at = n / 16 * 16;
    if at < n {
        for l in 0..L {
            let mut t = [0u8; 16];
            t[..n - at].copy_from_slice(&data[l][at..n]);
            // SAFETY: 16-byte array.
            let x = rev(unsafe { _mm_loadu_si128(t.as_ptr().cast()) });
            y[l] = gmul(_mm_xor_si128(y[l], x), h[l]);
        }
    }
}

/// The GCM tags of `L` tickets whose AAD lengths are equal and whose ciphertext lengths are
/// equal (the common batch: one key name, one state size), computed in lockstep.
///
/// # Safety
/// PCLMULQDQ and SSE4.1 available; `aad[l].len()` and `ct[l].len()` equal across `l`.
#[target_feature(enable = "pclmulqdq,sse4.1")]
#[inline]
unsafe fn tags_lockstep<const L: usize>(
    k: &[TicketKeys; L],
    aad: [&[u8]; L],
    ct: [&[u8]; L],
) -> [__m128i; L] {
    let h: [__m128i; L] = core::array::from_fn(|l| k[l].h[0]);
    let mut y = [_mm_setzero_si128(); L];
    let (na, nc) = (aad[0].len(), ct[0].len());
    // SAFETY: features as the caller guarantees; all lengths are equal to `na` / `nc`.
    unsafe {
        ghash_lanes(&mut y, &h, aad, na);
        ghash_lanes(&mut y, &h, ct, nc);
    }
    let lens = _mm_set_epi64x((na as u64 * 8) as i64, (nc as u64 * 8) as i64);
    let mut out = [_mm_setzero_si128(); L];
    for l in 0..L {
        out[l] = _mm_xor_si128(rev(gmul(_mm_xor_si128(y[l], lens), h[l])), k[l].ej0);
    }
    out
}

/// True if every job has the first job's AAD and data lengths (lockstep GHASH applies).
fn same_shape(jobs: &[GcmJob<'_>]) -> bool {
    jobs.iter()
        .all(|j| j.aad.len() == jobs[0].aad.len() && j.data.len() == jobs[0].data.len())
}

/// XORs `W` key-stream blocks (counters `ctr..`) into `data` (at most `W * 16` bytes).
///
/// # Safety
/// AES-NI and SSE4.1 available.
#[target_feature(enable = "aes,sse4.1")]
#[inline]
unsafe fn ctr_tail<const W: usize>(rk: &[__m128i; 15], base: __m128i, ctr: u32, data: &mut [u8]) {
    let mut ks: [__m128i; W] = core::array::from_fn(|i| counter(base, ctr.wrapping_add(i as u32)));
    aes256::<W>(rk, &mut ks);
    let whole = data.len() / 16;
    let mut blocks = data.chunks_exact_mut(16);
    for (c, k) in (&mut blocks).zip(ks.iter()) {
        let p = c.as_mut_ptr();
        // SAFETY: `c` is 16 bytes; unaligned load and store.
        unsafe { _mm_storeu_si128(p.cast(), _mm_xor_si128(_mm_loadu_si128(p.cast()), *k)) };
    }
    let tail = blocks.into_remainder();
    if !tail.is_empty() {
        let mut t = [0u8; 16];
        // SAFETY: 16-byte array; the partial block's key stream is block `len / 16`.
        unsafe { _mm_storeu_si128(t.as_mut_ptr().cast(), ks[whole % W]) };
        for (d, k) in tail.iter_mut().zip(t) {
            *d ^= k;
        }
        t.zeroize();
    }
}

/// CTR encryption / decryption of `data` in place, counters from 2.
///
/// # Safety
/// AES-NI and SSE4.1 available.
#[target_feature(enable = "aes,sse4.1")]
#[inline]
unsafe fn ctr(rk: &[__m128i; 15], base: __m128i, data: &mut [u8]) {
    let mut ctr: u32 = 2;
    let mut chunks = data.chunks_exact_mut(128);
    for c in &mut chunks {
        // SAFETY: features as the caller guarantees; `c` is exactly 8 blocks.
        unsafe { ctr_tail::<8>(rk, base, ctr, c) };
        ctr = ctr.wrapping_add(8);
    }
    let rest = chunks.into_remainder();
    // SAFETY: as above; each call gets at most W blocks.
    unsafe {
        match rest.len().div_ceil(16) {
            0 => {}
            1 => ctr_tail::<1>(rk, base, ctr, rest),
            2 => ctr_tail::<2>(rk, base, ctr, rest),
            3 | 4 => ctr_tail::<4>(rk, base, ctr, rest),
            _ => ctr_tail::<8>(rk, base, ctr, rest),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// ymm (VAES + VPCLMULQDQ): two tickets' GHASH chains per register, two CTR blocks per `vaesenc`.

/// [`rev`] on both 128-bit halves.
#[target_feature(enable = "avx2")]
#[inline]
fn rev2(x: __m256i) -> __m256i {
    let m = _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    _mm256_shuffle_epi8(x, _mm256_broadcastsi128_si256(m))
}

/// Unreduced carry-less products on both 128-bit halves: (low, middle, high).
#[target_feature(enable = "avx2,vpclmulqdq")]
#[inline]
fn clmul2(a: __m256i, b: __m256i) -> [__m256i; 3] {
    [
        _mm256_clmulepi64_epi128::<0x00>(a, b),
        _mm256_xor_si256(
            _mm256_clmulepi64_epi128::<0x01>(a, b),
            _mm256_clmulepi64_epi128::<0x10>(a, b),
        ),
        _mm256_clmulepi64_epi128::<0x11>(a, b),
    ]
}

/// [`gmul`] on both 128-bit halves (each half its own product; every op is per half).
#[target_feature(enable = "avx2,vpclmulqdq")]
#[inline]
fn gmul2(a: __m256i, b: __m256i) -> __m256i {
    reduce2(clmul2(a, b))
}

/// [`reduce`] on both 128-bit halves.
#[target_feature(enable = "avx2,vpclmulqdq")]
#[inline]
fn reduce2([lo, mid, hi]: [__m256i; 3]) -> __m256i {
    let lo = _mm256_xor_si256(lo, _mm256_slli_si256::<8>(mid));
    let hi = _mm256_xor_si256(hi, _mm256_srli_si256::<8>(mid));
    let poly = _mm256_set1_epi64x(0xc200_0000_0000_0000_u64 as i64);
    let t = _mm256_clmulepi64_epi128::<0x10>(lo, poly);
    let lo = _mm256_xor_si256(_mm256_shuffle_epi32::<0x4e>(lo), t);
    let t = _mm256_clmulepi64_epi128::<0x10>(lo, poly);
    let lo = _mm256_xor_si256(_mm256_shuffle_epi32::<0x4e>(lo), t);
    _mm256_xor_si256(lo, hi)
}

/// Block `b` of tickets `l0` (low half) and `l1` (high half), zero-padded past `n` bytes.
///
/// # Safety
/// AVX2 available; every `data[l]` is at least `n` bytes.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn pair_block<const L: usize>(
    data: &[&[u8]; L],
    l0: usize,
    l1: usize,
    b: usize,
    n: usize,
) -> __m256i {
    let at = 16 * b;
    if at + 16 <= n {
        // SAFETY: the 16 bytes at `at` are within the first `n` bytes of both tickets.
        unsafe {
            _mm256_set_m128i(
                _mm_loadu_si128(data[l1].as_ptr().add(at).cast()),
                _mm_loadu_si128(data[l0].as_ptr().add(at).cast()),
            )
        }
    } else {
        let mut t = [[0u8; 16]; 2];
        t[0][..n - at].copy_from_slice(&data[l0][at..n]);
        t[1][..n - at].copy_from_slice(&data[l1][at..n]);
        // SAFETY: 32-byte array, unaligned load.
        unsafe { _mm256_loadu_si256(t.as_ptr().cast()) }
    }
}

/// [`tags_lockstep`] with VPCLMULQDQ: tickets `2p` and `2p + 1` share register `p` (an odd
/// last ticket is paired with itself and the copy discarded).
///
/// # Safety
/// AVX2, VPCLMULQDQ and SSE4.1 available; lengths as [`tags_lockstep`].
#[target_feature(enable = "avx2,pclmulqdq,vpclmulqdq,sse4.1")]
#[inline]
#[allow(clippy::needless_range_loop)] // Pair-major loops over parallel arrays.
unsafe fn tags_lockstep_ymm<const L: usize, const P: usize, const AGG: bool>(
    k: &[TicketKeys; L],
    aad: [&[u8]; L],
    ct: [&[u8]; L],
) -> [__m128i; L] {
    let pair = |p: usize| (2 * p, (2 * p + 1).min(L - 1));
    let mut h = [_mm256_setzero_si256(); P];
    for (p, hp) in h.iter_mut().enumerate() {
        let (l0, l1) = pair(p);
        *hp = _mm256_set_m128i(k[l1].h[0], k[l0].h[0]);
    }
    // AGG: two blocks per reduction, y' = (y ^ x0) * H^2 + x1 * H, halving the dependent
    // multiply-reduce chain (GHASH here is latency-bound with two registers in flight). Paid
    // for by computing H^2 first: measured faster when sealing (H^2 overlaps the CTR pass
    // before it), slower when opening (GHASH comes first), so opening goes block by block.
    let h2: [__m256i; P] = core::array::from_fn(|p| if AGG { gmul2(h[p], h[p]) } else { h[p] });
    let mut y = [_mm256_setzero_si256(); P];
    let (na, nc) = (aad[0].len(), ct[0].len());
    let (ba, bc) = (na.div_ceil(16), nc.div_ceil(16));
    let lens = _mm256_set_epi64x(
        (na as u64 * 8) as i64,
        (nc as u64 * 8) as i64,
        (na as u64 * 8) as i64,
        (nc as u64 * 8) as i64,
    );
    // Block `i` of the GHASH input (AAD blocks, ciphertext blocks, length block) of pair `p`.
    let block = |p: usize, i: usize| -> __m256i {
        let (l0, l1) = pair(p);
        if i < ba {
            // SAFETY: features as the caller guarantees; all AAD lengths equal `na`.
            rev2(unsafe { pair_block(&aad, l0, l1, i, na) })
        } else if i < ba + bc {
            // SAFETY: as above; all ciphertext lengths equal `nc`.
            rev2(unsafe { pair_block(&ct, l0, l1, i - ba, nc) })
        } else {
            lens
        }
    };
    let total = ba + bc + 1;
    let mut i = 0;
    while AGG && i + 1 < total {
        for p in 0..P {
            let a = clmul2(_mm256_xor_si256(y[p], block(p, i)), h2[p]);
            let b = clmul2(block(p, i + 1), h[p]);
            y[p] = reduce2([
                _mm256_xor_si256(a[0], b[0]),
                _mm256_xor_si256(a[1], b[1]),
                _mm256_xor_si256(a[2], b[2]),
            ]);
        }
        i += 2;
    }
    while i < total {
        for p in 0..P {
            y[p] = gmul2(_mm256_xor_si256(y[p], block(p, i)), h[p]);
        }
        i += 1;
    }
    let mut out = [_mm_setzero_si128(); L];
    for p in 0..P {
        let t = rev2(y[p]);
        let (l0, l1) = pair(p);
        out[l0] = _mm_xor_si128(_mm256_castsi256_si128(t), k[l0].ej0);
        out[l1] = _mm_xor_si128(_mm256_extracti128_si256::<1>(t), k[l1].ej0);
    }
    h.zeroize();
    let mut h2 = h2;
    h2.zeroize();
    out
}

/// CTR over `data` with VAES: 8 blocks (4 registers) per step under broadcast round keys;
/// the last partial step through the xmm code.
///
/// # Safety
/// AES-NI, VAES, AVX2 and SSE4.1 available.
#[target_feature(enable = "aes,vaes,avx2,sse4.1")]
#[inline]
unsafe fn ctr_ymm(rk: &[__m128i; 15], base: __m128i, data: &mut [u8]) {
    let mut ctr: u32 = 2;
    let mut chunks = data.chunks_exact_mut(128);
    let mut k2 = [_mm256_setzero_si256(); 15];
    if chunks.len() > 0 {
        for (w, k) in k2.iter_mut().zip(rk) {
            *w = _mm256_broadcastsi128_si256(*k);
        }
    }
    for c in &mut chunks {
        let mut x: [__m256i; 4] = core::array::from_fn(|i| {
            let i = i as u32 * 2;
            _mm256_set_m128i(counter(base, ctr + i + 1), counter(base, ctr + i))
        });
        for v in x.iter_mut() {
            *v = _mm256_xor_si256(*v, k2[0]);
        }
        for k in &k2[1..14] {
            for v in x.iter_mut() {
                *v = _mm256_aesenc_epi128(*v, *k);
            }
        }
        let p = c.as_mut_ptr();
        for (i, v) in x.iter_mut().enumerate() {
            *v = _mm256_aesenclast_epi128(*v, k2[14]);
            // SAFETY: `c` is 128 bytes; 32 of them at `32 * i`, unaligned.
            unsafe {
                let d = p.add(32 * i).cast();
                _mm256_storeu_si256(d, _mm256_xor_si256(_mm256_loadu_si256(d), *v));
            }
        }
        ctr = ctr.wrapping_add(8);
    }
    k2.zeroize();
    let rest = chunks.into_remainder();
    // SAFETY: as above; each call gets at most W blocks.
    unsafe {
        match rest.len().div_ceil(16) {
            0 => {}
            1 => ctr_tail::<1>(rk, base, ctr, rest),
            2 => ctr_tail::<2>(rk, base, ctr, rest),
            3 | 4 => ctr_tail::<4>(rk, base, ctr, rest),
            _ => ctr_tail::<8>(rk, base, ctr, rest),
        }
    }
}

#[target_feature(enable = "aes,vaes,avx2,pclmulqdq,vpclmulqdq,sse4.1")]
unsafe fn seal_group_ymm<const L: usize, const P: usize>(jobs: &mut [GcmJob<'_>]) {
    let jobs: &mut [GcmJob<'_>; L] = match jobs.try_into() {
        Ok(j) => j,
        Err(_) => return,
    };
    // SAFETY: features as the caller guarantees.
    let mut keys = unsafe {
        prepare::<L>(
            core::array::from_fn(|l| jobs[l].key),
            core::array::from_fn(|l| &jobs[l].nonce),
        )
    };
    for (k, job) in keys.iter().zip(jobs.iter_mut()) {
        // SAFETY: as above.
        unsafe { ctr_ymm(&k.rk, k.base, job.data) };
    }
    let t = if same_shape(jobs) {
        // SAFETY: as above; `same_shape` checked the lengths.
        unsafe {
            tags_lockstep_ymm::<L, P, true>(
                &keys,
                core::array::from_fn(|l| jobs[l].aad),
                core::array::from_fn(|l| &*jobs[l].data),
            )
        }
    } else {
        // SAFETY: as above.
        core::array::from_fn(|l| unsafe { tag(&mut keys[l], jobs[l].aad, jobs[l].data) })
    };
    for (t, job) in t.iter().zip(jobs.iter_mut()) {
        // SAFETY: 16-byte array, unaligned store.
        unsafe { _mm_storeu_si128(job.tag.as_mut_ptr().cast(), *t) };
        job.ok = true;
    }
    for k in keys.iter_mut() {
        k.wipe();
    }
}

#[target_feature(enable = "aes,vaes,avx2,pclmulqdq,vpclmulqdq,sse4.1")]
unsafe fn open_group_ymm<const L: usize, const P: usize>(jobs: &mut [GcmJob<'_>]) {
    let jobs: &mut [GcmJob<'_>; L] = match jobs.try_into() {
        Ok(j) => j,
        Err(_) => return,
    };
    // SAFETY: features as the caller guarantees.
    let mut keys = unsafe {
        prepare::<L>(
            core::array::from_fn(|l| jobs[l].key),
            core::array::from_fn(|l| &jobs[l].nonce),
        )
    };
    // Every tag over the ciphertext first.
    let tags: [__m128i; L] = if same_shape(jobs) {
        // SAFETY: as above; `same_shape` checked the lengths.
        unsafe {
            tags_lockstep_ymm::<L, P, false>(
                &keys,
                core::array::from_fn(|l| jobs[l].aad),
                core::array::from_fn(|l| &*jobs[l].data),
            )
        }
    } else {
        // SAFETY: as above.
        core::array::from_fn(|l| unsafe { tag(&mut keys[l], jobs[l].aad, jobs[l].data) })
    };
    for ((k, job), t) in keys.iter_mut().zip(jobs.iter_mut()).zip(tags) {
        // SAFETY: 16-byte array, unaligned load.
        let want = unsafe { _mm_loadu_si128(job.tag.as_ptr().cast()) };
        // Constant time: one `ptest` over the XOR of the whole tags.
        let diff = _mm_xor_si128(t, want);
        job.ok = _mm_testz_si128(diff, diff) == 1;
        if job.ok {
            // SAFETY: as above.
            unsafe { ctr_ymm(&k.rk, k.base, job.data) };
        }
        k.wipe();
    }
}

/// [`seal_many`] with VAES + VPCLMULQDQ (ymm); ends with `vzeroupper`.
///
/// # Safety
/// The CPU must support AES-NI, VAES, AVX2, PCLMULQDQ, VPCLMULQDQ and SSE4.1.
#[target_feature(enable = "aes,vaes,avx2,pclmulqdq,vpclmulqdq,sse4.1")]
pub(super) unsafe fn seal_many_ymm(jobs: &mut [GcmJob<'_>]) {
    for group in jobs.chunks_mut(LANES) {
        // SAFETY: features as the caller guarantees; the group length picks the width.
        unsafe {
            match group.len() {
                4 => seal_group_ymm::<4, 2>(group),
                3 => seal_group_ymm::<3, 2>(group),
                2 => seal_group_ymm::<2, 1>(group),
                _ => seal_group::<1>(group),
            }
        }
    }
    // SHA-NI code may follow (see the module docs of `backend`).
    _mm256_zeroupper();
}

/// [`open_many`] with VAES + VPCLMULQDQ (ymm); ends with `vzeroupper`.
///
/// # Safety
/// The CPU must support AES-NI, VAES, AVX2, PCLMULQDQ, VPCLMULQDQ and SSE4.1.
#[target_feature(enable = "aes,vaes,avx2,pclmulqdq,vpclmulqdq,sse4.1")]
pub(super) unsafe fn open_many_ymm(jobs: &mut [GcmJob<'_>]) {
    for group in jobs.chunks_mut(LANES) {
        // SAFETY: features as the caller guarantees; the group length picks the width.
        unsafe {
            match group.len() {
                4 => open_group_ymm::<4, 2>(group),
                3 => open_group_ymm::<3, 2>(group),
                2 => open_group_ymm::<2, 1>(group),
                _ => open_group::<1>(group),
            }
        }
    }
    _mm256_zeroupper();
}

// ---------------------------------------------------------------------------------------------
// Entry points.

#[target_feature(enable = "aes,pclmulqdq,sse4.1")]
unsafe fn seal_group<const L: usize>(jobs: &mut [GcmJob<'_>]) {
    let jobs: &mut [GcmJob<'_>; L] = match jobs.try_into() {
        Ok(j) => j,
        Err(_) => return,
    };
    // SAFETY: features as the caller guarantees.
    let mut keys = unsafe {
        prepare::<L>(
            core::array::from_fn(|l| jobs[l].key),
            core::array::from_fn(|l| &jobs[l].nonce),
        )
    };
    if L > 1 && same_shape(jobs) {
        for (k, job) in keys.iter().zip(jobs.iter_mut()) {
            // SAFETY: as above.
            unsafe { ctr(&k.rk, k.base, job.data) };
        }
        // SAFETY: as above; `same_shape` checked the lengths.
        let t = unsafe {
            tags_lockstep::<L>(
                &keys,
                core::array::from_fn(|l| jobs[l].aad),
                core::array::from_fn(|l| &*jobs[l].data),
            )
        };
        for (t, job) in t.iter().zip(jobs.iter_mut()) {
            // SAFETY: 16-byte array, unaligned store.
            unsafe { _mm_storeu_si128(job.tag.as_mut_ptr().cast(), *t) };
            job.ok = true;
        }
    } else {
        for (k, job) in keys.iter_mut().zip(jobs.iter_mut()) {
            // SAFETY: as above.
            let t = unsafe {
                ctr(&k.rk, k.base, job.data);
                tag(k, job.aad, job.data)
            };
            // SAFETY: 16-byte array, unaligned store.
            unsafe { _mm_storeu_si128(job.tag.as_mut_ptr().cast(), t) };
            job.ok = true;
        }
    }
    for k in keys.iter_mut() {
        k.wipe();
    }
}

#[target_feature(enable = "aes,pclmulqdq,sse4.1")]
unsafe fn open_group<const L: usize>(jobs: &mut [GcmJob<'_>]) {
    let jobs: &mut [GcmJob<'_>; L] = match jobs.try_into() {
        Ok(j) => j,
        Err(_) => return,
    };
    // SAFETY: features as the caller guarantees.
    let mut keys = unsafe {
        prepare::<L>(
            core::array::from_fn(|l| jobs[l].key),
            core::array::from_fn(|l| &jobs[l].nonce),
        )
    };
    // Every tag over the ciphertext first.
    let tags: [__m128i; L] = if L > 1 && same_shape(jobs) {
        // SAFETY: as above; `same_shape` checked the lengths.
        unsafe {
            tags_lockstep::<L>(
                &keys,
                core::array::from_fn(|l| jobs[l].aad),
                core::array::from_fn(|l| &*jobs[l].data),
            )
        }
    } else {
        // SAFETY: as above.
        core::array::from_fn(|l| unsafe { tag(&mut keys[l], jobs[l].aad, jobs[l].data) })
    };
    for ((k, job), t) in keys.iter_mut().zip(jobs.iter_mut()).zip(tags) {
        // SAFETY: 16-byte array, unaligned load.
        let want = unsafe { _mm_loadu_si128(job.tag.as_ptr().cast()) };
        // Constant time: one `ptest` over the XOR of the whole tags.
        let diff = _mm_xor_si128(t, want);
        job.ok = _mm_testz_si128(diff, diff) == 1;
        if job.ok {
            // SAFETY: as above.
            unsafe { ctr(&k.rk, k.base, job.data) };
        }
        k.wipe();
    }
}

/// XAES-256-GCM seal of every job in place (tags into `job.tag`), [`LANES`] tickets at a time.
///
/// # Safety
/// The CPU must support AES-NI, PCLMULQDQ and SSE4.1.
#[target_feature(enable = "aes,pclmulqdq,sse4.1")]
pub(super) unsafe fn seal_many(jobs: &mut [GcmJob<'_>]) {
    for group in jobs.chunks_mut(LANES) {
        // SAFETY: features as the caller guarantees; the group length picks the width.
        unsafe {
            match group.len() {
                4 => seal_group::<4>(group),
                3 => seal_group::<3>(group),
                2 => seal_group::<2>(group),
                _ => seal_group::<1>(group),
            }
        }
    }
}

/// XAES-256-GCM open of every job in place: `job.ok` tells whether the tag verified; only
/// then is `job.data` decrypted.
///
/// # Safety
/// The CPU must support AES-NI, PCLMULQDQ and SSE4.1.
#[target_feature(enable = "aes,pclmulqdq,sse4.1")]
pub(super) unsafe fn open_many(jobs: &mut [GcmJob<'_>]) {
    for group in jobs.chunks_mut(LANES) {
        // SAFETY: features as the caller guarantees; the group length picks the width.
        unsafe {
            match group.len() {
                4 => open_group::<4>(group),
                3 => open_group::<3>(group),
                2 => open_group::<2>(group),
                _ => open_group::<1>(group),
            }
        }
    }
}

/// Plain AES-256-GCM (96-bit nonce) through the same GCM code, for known-answer tests of the
/// GCM layer alone. Returns the tag; on open, `Err(())` leaves `data` untouched.
///
/// # Safety
/// The CPU must support AES-NI, PCLMULQDQ and SSE4.1.
#[target_feature(enable = "aes,pclmulqdq,sse4.1")]
pub(super) unsafe fn gcm256(
    key: &[u8; 32],
    nonce: &[u8; 12],
    aad: &[u8],
    data: &mut [u8],
    open_tag: Option<&[u8; 16]>,
) -> Result<[u8; 16], ()> {
    // SAFETY: features as the caller guarantees.
    let keys = unsafe { expand_256(key) };
    let mut nb = [0u8; 16];
    nb[..12].copy_from_slice(nonce);
    // SAFETY: 16-byte array.
    let base = unsafe { _mm_loadu_si128(nb.as_ptr().cast()) };
    let mut b = [_mm_setzero_si128(), counter(base, 1)];
    aes256::<2>(&keys.enc, &mut b);
    let mut k = TicketKeys {
        rk: keys.enc,
        h: [
            mulx(rev(b[0])),
            _mm_setzero_si128(),
            _mm_setzero_si128(),
            _mm_setzero_si128(),
        ],
        ej0: b[1],
        base,
    };
    b.zeroize();
    let mut out = [0u8; 16];
    let result = match open_tag {
        None => {
            // SAFETY: features as the caller guarantees.
            let t = unsafe {
                ctr(&k.rk, base, data);
                tag(&mut k, aad, data)
            };
            // SAFETY: 16-byte array.
            unsafe { _mm_storeu_si128(out.as_mut_ptr().cast(), t) };
            Ok(out)
        }
        Some(want) => {
            // SAFETY: features as the caller guarantees; 16-byte array.
            let (t, w) = unsafe {
                (
                    tag(&mut k, aad, data),
                    _mm_loadu_si128(want.as_ptr().cast()),
                )
            };
            let diff = _mm_xor_si128(t, w);
            if _mm_testz_si128(diff, diff) == 1 {
                // SAFETY: as above.
                unsafe { ctr(&k.rk, base, data) };
                Ok(out)
            } else {
                Err(())
            }
        }
    };
    k.wipe();
    result
}
