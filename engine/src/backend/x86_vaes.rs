//! VAES (ymm) kernels: two AES blocks per register, 8 registers in flight.
//!
//! CBC encryption: 16 tickets side by side (lanes 2j and 2j+1 share register j), scheduled by
//! the AES-NI module's lane scheduler. A register whose two halves use different keys gets its
//! round keys merged once per group; the common case (one key for the whole group) broadcasts
//! each round key instead. Measured here (min of 300 runs): ~0.8 ns/block on long tickets vs
//! ~1.45 for AES-NI; 1024 tickets x 8 blocks ~10 ns/ticket vs ~14.
//!
//! No VAES CBC *decryption*: a 16-block-group kernel (gathered across tickets like the AES-NI
//! one, commit c6e7f12) measured 10-15% slower than the AES-NI 8-block groups on 8- and
//! 9-block tickets and equal on long ones: decryption here is bound by the gather and memory
//! traffic, not AES throughput. VAES backends decrypt with the AES-NI kernel.
//!
//! Every entry point ends with `vzeroupper`: SHA-NI code run after dirty ymm state is ~100x
//! slower on this AMD EPYC (family 26, Zen 5; issue 4 calls it Zen 3).

#![allow(unsafe_code)]

use core::arch::x86_64::*;

use zeroize::Zeroize;

use super::x86_aesni::{CbcTicket, EncLane, schedule_encrypt};

/// Tickets in flight for CBC encryption.
pub(super) const ENC_LANES: usize = 16;

/// Round keys for register j: halves from `lo` and `hi` (broadcast when they are the same key).
#[target_feature(enable = "vaes,avx2,aes,sse4.1")]
#[inline]
fn merge_keys<const R: usize>(lo: &[__m128i; 15], hi: &[__m128i; 15], same: bool) -> [__m256i; 15] {
    let mut k = [_mm256_setzero_si256(); 15];
    for r in 0..=R {
        k[r] = if same {
            _mm256_broadcastsi128_si256(lo[r])
        } else {
            _mm256_set_m128i(hi[r], lo[r])
        };
    }
    k
}

/// Encrypts `steps` blocks in each of `lanes[..live]` with `M = ceil(live / 2)` registers. An
/// odd last lane is paired with a copy of itself (both halves compute and store the same block).
/// `KM` key tables: 1 when every lane shares one key (broadcast), else `M` (one per register);
/// sizing the table by `KM` keeps the uniform case from initialising and wiping unused tables.
///
/// # Safety
/// VAES + AVX2 available; each live lane's `ptr` has `steps * 16` writable bytes and `keys`
/// is valid; `live` is `2M - 1` or `2M`.
#[target_feature(enable = "vaes,avx2,aes,sse4.1")]
#[inline]
unsafe fn encrypt_group<const M: usize, const KM: usize, const R: usize>(
    lanes: &mut [EncLane; 16],
    live: usize,
    steps: usize,
) {
    // Lane index of each register half (an odd tail duplicates its low lane).
    let lo_of = |j: usize| 2 * j;
    let hi_of = |j: usize| if 2 * j + 1 < live { 2 * j + 1 } else { 2 * j };
    // SAFETY: live lanes point at round keys borrowed for the whole call.
    let key_of = |i: usize| unsafe { &*lanes[i].keys };
    let mut keys = [[_mm256_setzero_si256(); 15]; KM];
    for (j, k) in keys.iter_mut().enumerate() {
        let (lo, hi) = (key_of(lo_of(j)), key_of(hi_of(j)));
        *k = merge_keys::<R>(&lo.enc, &hi.enc, core::ptr::eq(lo, hi));
    }
    let table = |j: usize| if KM == 1 { 0 } else { j };
    let mut lo_ptr: [*mut u8; M] = core::array::from_fn(|j| lanes[lo_of(j)].ptr);
    let mut hi_ptr: [*mut u8; M] = core::array::from_fn(|j| lanes[hi_of(j)].ptr);
    let mut cv = [_mm256_setzero_si256(); M];
    for j in 0..M {
        // SAFETY: two 16-byte arrays, unaligned loads.
        cv[j] = unsafe {
            _mm256_loadu2_m128i(
                lanes[hi_of(j)].cv.as_ptr().cast(),
                lanes[lo_of(j)].cv.as_ptr().cast(),
            )
        };
    }
    for _ in 0..steps {
        let mut x = [_mm256_setzero_si256(); M];
        for j in 0..M {
            // SAFETY: both halves have at least 16 bytes left in their tickets (caller contract).
            let p = unsafe { _mm256_loadu2_m128i(hi_ptr[j].cast(), lo_ptr[j].cast()) };
            let k0 = keys[table(j)][0];
            x[j] = _mm256_xor_si256(_mm256_xor_si256(p, cv[j]), k0);
        }
        // Round-major: `r` is the round, and each register picks its own key table.
        #[allow(clippy::needless_range_loop)]
        for r in 1..R {
            for (j, xj) in x.iter_mut().enumerate() {
                *xj = _mm256_aesenc_epi128(*xj, keys[table(j)][r]);
            }
        }
        for j in 0..M {
            let k = keys[table(j)][R];
            cv[j] = _mm256_aesenclast_epi128(x[j], k);
            // SAFETY: the 16 bytes loaded above (hi first: for a duplicated lane both halves
            // are equal); then advance within each ticket.
            unsafe {
                _mm256_storeu2_m128i(hi_ptr[j].cast(), lo_ptr[j].cast(), cv[j]);
                lo_ptr[j] = lo_ptr[j].add(16);
                hi_ptr[j] = hi_ptr[j].add(16);
            }
        }
    }
    for j in 0..M {
        let (lo, hi) = (lo_of(j), hi_of(j));
        lanes[lo].ptr = lo_ptr[j];
        lanes[hi].ptr = hi_ptr[j];
        // SAFETY: 16-byte arrays, unaligned stores (hi first; equal when duplicated).
        unsafe {
            _mm_storeu_si128(
                lanes[hi].cv.as_mut_ptr().cast(),
                _mm256_extracti128_si256::<1>(cv[j]),
            );
            _mm_storeu_si128(
                lanes[lo].cv.as_mut_ptr().cast(),
                _mm256_castsi256_si128(cv[j]),
            );
        }
    }
    // The merged schedules are copies of key material on the stack.
    keys.zeroize();
}

/// # Safety
/// As [`encrypt_group`], for `lanes[..live]`.
#[target_feature(enable = "vaes,avx2,aes,sse4.1")]
unsafe fn encrypt_group_any<const R: usize>(lanes: &mut [EncLane; 16], live: usize, steps: usize) {
    let uniform = lanes[..live]
        .iter()
        .all(|l| core::ptr::eq(l.keys, lanes[0].keys));
    macro_rules! regs {
        ($m:literal) => {
            if uniform {
                encrypt_group::<$m, 1, R>(lanes, live, steps)
            } else {
                encrypt_group::<$m, $m, R>(lanes, live, steps)
            }
        };
    }
    // SAFETY: forwarded caller contract; M = ceil(live / 2).
    unsafe {
        match live.div_ceil(2) {
            8 => regs!(8),
            7 => regs!(7),
            6 => regs!(6),
            5 => regs!(5),
            4 => regs!(4),
            3 => regs!(3),
            2 => regs!(2),
            1 => regs!(1),
            _ => {}
        }
    }
}

/// CBC-encrypts every ticket in place (lengths already checked to be whole blocks).
///
/// # Safety
/// The CPU must support VAES, AVX2, AES-NI and SSE4.1.
#[target_feature(enable = "vaes,avx2,aes,sse4.1")]
pub(super) unsafe fn cbc_encrypt_many(tickets: &mut [CbcTicket<'_>]) {
    // SAFETY: in both passes the group functions touch `steps` blocks of live lanes only, and
    // VAES is guaranteed by this function's contract.
    unsafe {
        schedule_encrypt::<ENC_LANES>(tickets, 10, |l, live, steps| {
            encrypt_group_any::<10>(l, live, steps)
        });
        schedule_encrypt::<ENC_LANES>(tickets, 14, |l, live, steps| {
            encrypt_group_any::<14>(l, live, steps)
        });
    }
    _mm256_zeroupper();
}
