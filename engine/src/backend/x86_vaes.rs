//! VAES (ymm) kernels: two AES blocks per register, 8 registers in flight.
//!
//! CBC encryption: 16 tickets side by side (lanes 2j and 2j+1 share register j), scheduled by
//! the AES-NI module's lane scheduler. CBC decryption: 16 gathered blocks per group. A register
//! whose two halves use different keys gets its round keys merged once per group; the common
//! case (one key for the whole group) broadcasts each round key instead.
//!
//! Every entry point ends with `vzeroupper`: SHA-NI code run after dirty ymm state is ~100x
//! slower on Zen 3 (issue 4).

#![allow(unsafe_code)]

use core::arch::x86_64::*;

use zeroize::Zeroize;

use super::x86_aesni::{
    CbcTicket, DecSlot, EncLane, RoundKeys, schedule_decrypt, schedule_encrypt,
};

/// Tickets in flight for CBC encryption.
pub(super) const ENC_LANES: usize = 16;
/// Blocks decrypted per group.
pub(super) const DEC_BLOCKS: usize = 16;

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
        for r in 1..R {
            for j in 0..M {
                let k = keys[table(j)][r];
                x[j] = _mm256_aesenc_epi128(x[j], k);
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

/// Decrypts `slots[..n]` with `M = ceil(n / 2)` registers (an odd tail loads its block twice
/// and stores it once). `UNIFORM`: every slot uses `slots[0].keys` (broadcast round keys);
/// otherwise each register's round keys are assembled from its two halves' schedules as the
/// rounds go (a group is a single pass, so merging up front would cost as much).
///
/// # Safety
/// VAES + AVX2 available; every slot in `..n` has 16 writable bytes at `ptr`, 16 readable
/// bytes at `prev` and valid `keys`; no slot's `prev` points at a later slot.
#[target_feature(enable = "vaes,avx2,aes,sse4.1")]
#[inline]
unsafe fn decrypt_group<const M: usize, const R: usize, const UNIFORM: bool>(
    slots: &[DecSlot; 16],
    n: usize,
) {
    let hi_of = |j: usize| if 2 * j + 1 < n { 2 * j + 1 } else { 2 * j };
    // SAFETY: slots point at round keys borrowed for the whole call.
    let lo_keys: [&RoundKeys; M] = core::array::from_fn(|j| unsafe { &*slots[2 * j].keys });
    // SAFETY: as above.
    let hi_keys: [&RoundKeys; M] = core::array::from_fn(|j| unsafe { &*slots[hi_of(j)].keys });
    let round_key = |j: usize, r: usize| {
        if UNIFORM {
            _mm256_broadcastsi128_si256(lo_keys[0].dec[r])
        } else {
            _mm256_set_m128i(hi_keys[j].dec[r], lo_keys[j].dec[r])
        }
    };
    // A register whose two blocks are neighbours in one ticket (the common case) loads and
    // stores them as one 32-byte access.
    let adjacent: [bool; M] = core::array::from_fn(|j| {
        2 * j + 1 < n && slots[2 * j + 1].ptr == slots[2 * j].ptr.wrapping_add(16)
    });
    let mut x = [_mm256_setzero_si256(); M];
    for j in 0..M {
        // SAFETY: 16 readable bytes at each slot (caller contract); adjacent slots are 32
        // consecutive bytes of one ticket.
        let c = unsafe {
            if adjacent[j] {
                _mm256_loadu_si256(slots[2 * j].ptr.cast())
            } else {
                _mm256_loadu2_m128i(slots[hi_of(j)].ptr.cast(), slots[2 * j].ptr.cast())
            }
        };
        x[j] = _mm256_xor_si256(c, round_key(j, 0));
    }
    for r in 1..R {
        for (j, xj) in x.iter_mut().enumerate() {
            *xj = _mm256_aesdec_epi128(*xj, round_key(j, r));
        }
    }
    // Back to front: a slot's `prev` may be the previous slot's ciphertext, still unwritten.
    for j in (0..M).rev() {
        // SAFETY: each `prev` has 16 readable bytes (caller contract).
        let prev =
            unsafe { _mm256_loadu2_m128i(slots[hi_of(j)].prev.cast(), slots[2 * j].prev.cast()) };
        let p = _mm256_xor_si256(_mm256_aesdeclast_epi128(x[j], round_key(j, R)), prev);
        // SAFETY: each slot's own 16 bytes (32 for adjacent slots); a duplicated odd tail is
        // stored once.
        unsafe {
            if adjacent[j] {
                _mm256_storeu_si256(slots[2 * j].ptr.cast(), p);
                continue;
            }
            if 2 * j + 1 < n {
                _mm_storeu_si128(
                    slots[2 * j + 1].ptr.cast(),
                    _mm256_extracti128_si256::<1>(p),
                );
            }
            _mm_storeu_si128(slots[2 * j].ptr.cast(), _mm256_castsi256_si128(p));
        }
    }
}

/// # Safety
/// As [`decrypt_group`].
#[target_feature(enable = "vaes,avx2,aes,sse4.1")]
unsafe fn decrypt_group_any<const R: usize>(slots: &[DecSlot; 16], n: usize) {
    let uniform = slots[..n]
        .iter()
        .all(|s| core::ptr::eq(s.keys, slots[0].keys));
    macro_rules! regs {
        ($m:literal) => {
            if uniform {
                decrypt_group::<$m, R, true>(slots, n)
            } else {
                decrypt_group::<$m, R, false>(slots, n)
            }
        };
    }
    // SAFETY: forwarded caller contract; M = ceil(n / 2).
    unsafe {
        match n.div_ceil(2) {
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

/// CBC-decrypts every ticket in place (lengths already checked to be whole blocks).
///
/// # Safety
/// The CPU must support VAES, AVX2, AES-NI and SSE4.1.
#[target_feature(enable = "vaes,avx2,aes,sse4.1")]
pub(super) unsafe fn cbc_decrypt_many(tickets: &mut [CbcTicket<'_>]) {
    // SAFETY: the group functions write only the gathered blocks; VAES by contract.
    unsafe {
        schedule_decrypt::<DEC_BLOCKS>(tickets, 10, |s, n| decrypt_group_any::<10>(s, n));
        schedule_decrypt::<DEC_BLOCKS>(tickets, 14, |s, n| decrypt_group_any::<14>(s, n));
    }
    _mm256_zeroupper();
}
