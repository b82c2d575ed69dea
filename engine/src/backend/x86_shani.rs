//! SHA-NI SHA-256 compression of N independent streams, interleaved.
//!
//! One stream is latency-bound on `sha256rnds2` (~129 cycles/block on Zen 3). Interleaving the
//! 4-round groups of independent streams fills the gaps. Measured here (min of 300 runs,
//! ~2.9 GHz): 1 stream ~45 ns/block, 2 streams ~24, 3 streams ~21 (~60 cycles, near the
//! `sha256rnds2` throughput floor of 32 x ~2 cycles), 4 streams no better (spills). A variant
//! that precomputed the whole W+K schedule to memory before the rounds was slower (~28 ns).
//! Every call compresses exactly one 64-byte block per stream; the lane scheduler
//! (`hash_lanes.rs`) feeds the blocks. Converting `[u32; 8]` <-> ABEF/CDGH costs a few
//! shuffles per block, small next to the 32 `sha256rnds2`.

#![allow(unsafe_code)]

use core::arch::x86_64::*;

/// SHA-256 round constants (FIPS 180-4 section 4.2.2).
pub(super) static K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/// Streams interleaved by the multi-stream kernel.
pub(super) const STREAMS: usize = 3;

/// Compresses one block into each of `N` states, the streams' round groups interleaved.
///
/// # Safety
/// The CPU must support SHA-NI, SSSE3 and SSE4.1.
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
pub(super) unsafe fn compress<const N: usize>(states: &mut [[u32; 8]; N], blocks: &[&[u8; 64]; N]) {
    let bswap = _mm_set_epi64x(0x0c0d_0e0f_0809_0a0b, 0x0405_0607_0001_0203);
    let mut abef = [_mm_setzero_si128(); N];
    let mut cdgh = [_mm_setzero_si128(); N];
    for s in 0..N {
        // SAFETY: each state is 32 readable bytes; two unaligned loads.
        let (dcba, efgh) = unsafe {
            (
                _mm_loadu_si128(states[s].as_ptr().cast()),
                _mm_loadu_si128(states[s].as_ptr().add(4).cast()),
            )
        };
        let cdab = _mm_shuffle_epi32::<0xb1>(dcba);
        let efgh = _mm_shuffle_epi32::<0x1b>(efgh);
        abef[s] = _mm_alignr_epi8::<8>(cdab, efgh);
        cdgh[s] = _mm_blend_epi16::<0xf0>(efgh, cdab);
    }
    let (abef_save, cdgh_save) = (abef, cdgh);
    let mut w = [[_mm_setzero_si128(); N]; 4];
    for (j, wj) in w.iter_mut().enumerate() {
        for s in 0..N {
            // SAFETY: each block is 64 readable bytes; load j covers bytes 16j..16j+16.
            let m = unsafe { _mm_loadu_si128(blocks[s].as_ptr().add(16 * j).cast()) };
            wj[s] = _mm_shuffle_epi8(m, bswap);
        }
    }
    // Fully unrolled (literal group numbers) so `w` stays in registers.
    macro_rules! group {
        ($i:literal) => {{
            // SAFETY: `K` has 64 words; the load covers words 4i..4i+4.
            let k = unsafe { _mm_loadu_si128(K.as_ptr().add(4 * $i).cast()) };
            for s in 0..N {
                if $i >= 4 {
                    // w[i % 4] holds W(i-4); produce W(i) from the four previous groups.
                    let (w0, w1, w2, w3) = (
                        w[$i % 4][s],
                        w[($i + 1) % 4][s],
                        w[($i + 2) % 4][s],
                        w[($i + 3) % 4][s],
                    );
                    let t =
                        _mm_add_epi32(_mm_sha256msg1_epu32(w0, w1), _mm_alignr_epi8::<4>(w3, w2));
                    w[$i % 4][s] = _mm_sha256msg2_epu32(t, w3);
                }
                let t1 = _mm_add_epi32(w[$i % 4][s], k);
                cdgh[s] = _mm_sha256rnds2_epu32(cdgh[s], abef[s], t1);
                abef[s] = _mm_sha256rnds2_epu32(abef[s], cdgh[s], _mm_shuffle_epi32::<0x0e>(t1));
            }
        }};
    }
    group!(0);
    group!(1);
    group!(2);
    group!(3);
    group!(4);
    group!(5);
    group!(6);
    group!(7);
    group!(8);
    group!(9);
    group!(10);
    group!(11);
    group!(12);
    group!(13);
    group!(14);
    group!(15);
    for s in 0..N {
        let abef = _mm_add_epi32(abef[s], abef_save[s]);
        let cdgh = _mm_add_epi32(cdgh[s], cdgh_save[s]);
        let feba = _mm_shuffle_epi32::<0x1b>(abef);
        let dchg = _mm_shuffle_epi32::<0xb1>(cdgh);
        let dcba = _mm_blend_epi16::<0xf0>(feba, dchg);
        let hgef = _mm_alignr_epi8::<8>(dchg, feba);
        // SAFETY: each state is 32 writable bytes; two unaligned stores.
        unsafe {
            _mm_storeu_si128(states[s].as_mut_ptr().cast(), dcba);
            _mm_storeu_si128(states[s].as_mut_ptr().add(4).cast(), hgef);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_sha2_compress() {
        if !super::super::detect::features().shani {
            return;
        }
        let mut seed = 0x1234_5678_u32;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        for _ in 0..50 {
            let mut states = [[0u32; 8]; 2];
            let mut blocks = [[0u8; 64]; 2];
            for s in 0..2 {
                states[s].iter_mut().for_each(|w| *w = next());
                blocks[s].iter_mut().for_each(|b| *b = next() as u8);
            }
            let mut expect = states;
            for s in 0..2 {
                sha2::compress256(&mut expect[s], &[blocks[s].into()]);
            }
            // SAFETY: SHA-NI detected above.
            unsafe { compress::<2>(&mut states, &[&blocks[0], &blocks[1]]) };
            assert_eq!(states, expect);
            let mut one = [expect[0]];
            sha2::compress256(&mut expect[0], &[blocks[0].into()]);
            // SAFETY: SHA-NI detected above.
            unsafe { compress::<1>(&mut one, &[&blocks[0]]) };
            assert_eq!(one[0], expect[0]);
        }
    }
}
