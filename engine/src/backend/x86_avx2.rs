//! AVX2 8-lane SHA-256: eight independent messages, one 32-bit word of each per ymm lane.
//!
//! For CPUs with AVX2 but no SHA-NI (Intel before Ice Lake). On the dev VM (Zen 5) it is slower
//! than SHA-NI (~160 cycles per compression, issue 4), so detection prefers SHA-NI. The lane
//! scheduler (`hash_lanes.rs`) feeds one block per lane per call; states and blocks are
//! transposed in and out with an 8x8 word transpose.
//!
//! Ends with `vzeroupper` (SHA-NI after dirty ymm state is ~100x slower on the dev VM).

#![allow(unsafe_code)]

use core::arch::x86_64::*;

use super::x86_shani::K;

/// Messages hashed side by side.
pub(super) const LANES: usize = 8;

/// Transposes an 8x8 matrix of 32-bit words (row i = lane i  ->  row j = word j).
#[target_feature(enable = "avx2")]
#[inline]
fn transpose(r: [__m256i; 8]) -> [__m256i; 8] {
    let t0 = _mm256_unpacklo_epi32(r[0], r[1]);
    let t1 = _mm256_unpackhi_epi32(r[0], r[1]);
    let t2 = _mm256_unpacklo_epi32(r[2], r[3]);
    let t3 = _mm256_unpackhi_epi32(r[2], r[3]);
    let t4 = _mm256_unpacklo_epi32(r[4], r[5]);
    let t5 = _mm256_unpackhi_epi32(r[4], r[5]);
    let t6 = _mm256_unpacklo_epi32(r[6], r[7]);
    let t7 = _mm256_unpackhi_epi32(r[6], r[7]);
    let u0 = _mm256_unpacklo_epi64(t0, t2);
    let u1 = _mm256_unpackhi_epi64(t0, t2);
    let u2 = _mm256_unpacklo_epi64(t1, t3);
    let u3 = _mm256_unpackhi_epi64(t1, t3);
    let u4 = _mm256_unpacklo_epi64(t4, t6);
    let u5 = _mm256_unpackhi_epi64(t4, t6);
    let u6 = _mm256_unpacklo_epi64(t5, t7);
    let u7 = _mm256_unpackhi_epi64(t5, t7);
    [
        _mm256_permute2x128_si256::<0x20>(u0, u4),
        _mm256_permute2x128_si256::<0x20>(u1, u5),
        _mm256_permute2x128_si256::<0x20>(u2, u6),
        _mm256_permute2x128_si256::<0x20>(u3, u7),
        _mm256_permute2x128_si256::<0x31>(u0, u4),
        _mm256_permute2x128_si256::<0x31>(u1, u5),
        _mm256_permute2x128_si256::<0x31>(u2, u6),
        _mm256_permute2x128_si256::<0x31>(u3, u7),
    ]
}

macro_rules! ror {
    ($x:expr, $n:literal) => {
        _mm256_or_si256(
            _mm256_srli_epi32::<$n>($x),
            _mm256_slli_epi32::<{ 32 - $n }>($x),
        )
    };
}

/// Compresses one block into each of the 8 states.
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn compress(states: &mut [[u32; 8]; LANES], blocks: &[&[u8; 64]; LANES]) {
    // Big-endian words: reverse the bytes of every 32-bit word.
    let bswap = _mm256_setr_epi8(
        3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12, 3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8,
        15, 14, 13, 12,
    );
    // SAFETY: each state is 32 readable bytes, each block 64; unaligned loads.
    let (rows, lo, hi) = unsafe {
        (
            core::array::from_fn(|i| _mm256_loadu_si256(states[i].as_ptr().cast())),
            core::array::from_fn(|i| {
                _mm256_shuffle_epi8(_mm256_loadu_si256(blocks[i].as_ptr().cast()), bswap)
            }),
            core::array::from_fn(|i| {
                _mm256_shuffle_epi8(_mm256_loadu_si256(blocks[i].as_ptr().add(32).cast()), bswap)
            }),
        )
    };
    let init = transpose(rows);
    let (lo, hi) = (transpose(lo), transpose(hi));
    let mut w = [_mm256_setzero_si256(); 16];
    w[..8].copy_from_slice(&lo);
    w[8..].copy_from_slice(&hi);
    let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = init;
    for t in 0..64 {
        if t >= 16 {
            let w15 = w[(t - 15) & 15];
            let w2 = w[(t - 2) & 15];
            let s0 = _mm256_xor_si256(
                _mm256_xor_si256(ror!(w15, 7), ror!(w15, 18)),
                _mm256_srli_epi32::<3>(w15),
            );
            let s1 = _mm256_xor_si256(
                _mm256_xor_si256(ror!(w2, 17), ror!(w2, 19)),
                _mm256_srli_epi32::<10>(w2),
            );
            w[t & 15] = _mm256_add_epi32(
                _mm256_add_epi32(w[t & 15], s0),
                _mm256_add_epi32(w[(t - 7) & 15], s1),
            );
        }
        let big_s1 = _mm256_xor_si256(_mm256_xor_si256(ror!(e, 6), ror!(e, 11)), ror!(e, 25));
        let ch = _mm256_xor_si256(_mm256_and_si256(e, f), _mm256_andnot_si256(e, g));
        let k = _mm256_set1_epi32(K.0[t] as i32);
        let t1 = _mm256_add_epi32(
            _mm256_add_epi32(h, big_s1),
            _mm256_add_epi32(ch, _mm256_add_epi32(k, w[t & 15])),
        );
        let big_s0 = _mm256_xor_si256(_mm256_xor_si256(ror!(a, 2), ror!(a, 13)), ror!(a, 22));
        let maj = _mm256_or_si256(
            _mm256_and_si256(a, b),
            _mm256_and_si256(c, _mm256_or_si256(a, b)),
        );
        let t2 = _mm256_add_epi32(big_s0, maj);
        h = g;
        g = f;
        f = e;
        e = _mm256_add_epi32(d, t1);
        d = c;
        c = b;
        b = a;
        a = _mm256_add_epi32(t1, t2);
    }
    let sum = [a, b, c, d, e, f, g, h];
    let out = transpose(core::array::from_fn(|i| _mm256_add_epi32(sum[i], init[i])));
    for (state, row) in states.iter_mut().zip(out) {
        // SAFETY: each state is 32 writable bytes; unaligned store.
        unsafe { _mm256_storeu_si256(state.as_mut_ptr().cast(), row) };
    }
    _mm256_zeroupper();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_sha2_compress() {
        if !super::super::detect::features().avx2 {
            return;
        }
        let mut seed = 0x9e37_79b9_u32;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        for _ in 0..20 {
            let mut states = [[0u32; 8]; LANES];
            let mut blocks = [[0u8; 64]; LANES];
            for s in 0..LANES {
                states[s].iter_mut().for_each(|w| *w = next());
                blocks[s].iter_mut().for_each(|b| *b = next() as u8);
            }
            let mut expect = states;
            for s in 0..LANES {
                sha2::compress256(&mut expect[s], &[blocks[s].into()]);
            }
            // SAFETY: AVX2 detected above.
            unsafe { compress(&mut states, &core::array::from_fn(|i| &blocks[i])) };
            assert_eq!(states, expect);
        }
    }
}
