//! CPU feature detection, run once and cached. Used only by `backend/mod.rs`.
//!
//! std's runtime detection is used rather than `cpufeatures`: `cpufeatures` 0.2 demands
//! AVX-512 (zmm) OS state before it reports `vaes`, which hides the ymm VAES path on CPUs and
//! kernels where it works (issue 4: "the `aes` crate's own VAES path is not selected on this
//! CPU"). std checks XCR0 for the ymm state that VEX-encoded VAES actually needs.

/// Instruction-set extensions the x86_64 kernels use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Features {
    /// AES-NI + SSE4.1 (xmm AES rounds, `pshufb`, `pblendw`).
    pub(crate) aesni: bool,
    /// VAES + AVX2 (ymm AES rounds, two blocks per register).
    pub(crate) vaes: bool,
    /// SHA-NI + SSE4.1 (`sha256rnds2` and friends).
    pub(crate) shani: bool,
    /// PCLMULQDQ with AES-NI (GHASH for the AEAD format).
    pub(crate) clmul: bool,
    /// VPCLMULQDQ with VAES and PCLMULQDQ (ymm GHASH and CTR for the AEAD format).
    pub(crate) vclmul: bool,
    /// AVX2 (8-lane SHA-256).
    pub(crate) avx2: bool,
}

impl Features {
    const NONE: Self = Self {
        aesni: false,
        vaes: false,
        shani: false,
        clmul: false,
        vclmul: false,
        avx2: false,
    };
}

#[cfg(all(target_arch = "x86_64", not(miri)))]
fn probe() -> Features {
    let sse41 = std::arch::is_x86_feature_detected!("sse4.1");
    let aesni = sse41 && std::arch::is_x86_feature_detected!("aes");
    let avx2 = std::arch::is_x86_feature_detected!("avx2");
    Features {
        aesni,
        vaes: aesni && avx2 && std::arch::is_x86_feature_detected!("vaes"),
        shani: sse41 && std::arch::is_x86_feature_detected!("sha"),
        clmul: aesni && std::arch::is_x86_feature_detected!("pclmulqdq"),
        vclmul: aesni
            && avx2
            && std::arch::is_x86_feature_detected!("vaes")
            && std::arch::is_x86_feature_detected!("pclmulqdq")
            && std::arch::is_x86_feature_detected!("vpclmulqdq"),
        avx2,
    }
}

#[cfg(any(not(target_arch = "x86_64"), miri))]
fn probe() -> Features {
    Features::NONE
}

/// The detected features (probed on first call, cached for the process).
pub(crate) fn features() -> Features {
    static CACHE: std::sync::OnceLock<Features> = std::sync::OnceLock::new();
    *CACHE.get_or_init(|| if cfg!(miri) { Features::NONE } else { probe() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_value_is_stable() {
        assert_eq!(features(), features());
    }

    #[test]
    fn implications_hold() {
        let f = features();
        // VAES kernels also run AES-NI code paths (key schedule), so VAES implies AES-NI.
        assert!(!f.vaes || f.aesni);
        assert!(!f.vaes || f.avx2);
        assert!(!f.clmul || f.aesni);
        assert!(!f.vclmul || (f.clmul && f.vaes));
    }
}
