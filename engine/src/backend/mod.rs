//! THE dispatch point for the crypto behind every ticket format.
//!
//! Key setup builds a `KeyMaterial` once per key (expanded AES schedules, HMAC inner/outer
//! states precomputed so a ticket costs no ipad/opad compressions).
//!
//! # Backends
//! [`Backend`] names the combination of AES and MAC implementations in use. [`Backend::detect`]
//! picks the best one this CPU supports; [`Backend::selected`] honours the `TESSERA_BACKEND`
//! environment variable (read once) and [`Backend::force`]. Hardware kernels can only be reached
//! through proof tokens ([`AesNi`], [`Vaes`], [`ShaNi`], [`Avx2`], [`Clmul`]) whose constructors
//! return `None` unless runtime detection found the feature.
//!
//! # Multi-buffer kernels
//! - [`AesKernel::cbc_encrypt_many`]: CBC encryption across tickets (one ticket per lane,
//!   lanes refilled from the queue as tickets end; see `x86_aesni.rs`).
//! - [`AesKernel::cbc_decrypt_many`]: CBC decryption, blocks of all tickets decrypted 8 at a
//!   time (AES-NI; also on VAES backends, where it measured faster than 16-block ymm groups).
//! - [`MacKernel::hmac_sha256_many`]: HMAC-SHA-256 from precomputed key states, one message
//!   per lane (4 SHA-NI streams in hand-scheduled asm, or 8 AVX2 lanes; see `hash_lanes.rs`).
//! - [`Clmul::xaes_seal_many`] / [`Clmul::xaes_open_many`]: XAES-256-GCM for the AEAD format,
//!   four tickets' key derivations and schedules interleaved, GHASH in lockstep across them
//!   (AES-NI + PCLMULQDQ; VAES + VPCLMULQDQ ymm on the VAES backends; see `x86_gcm.rs`).
//!   Every x86 backend uses it for AEAD tickets, in batches and single-ticket calls alike
//!   ([`Backend::gcm`]); [`Backend::Portable`] keeps the RustCrypto code.
//!
//! Lanes are independent tickets: each has its own round keys (AES-128 and AES-256 may mix in
//! one call), IV and length. Mixed lengths never drop a batch to one lane: a lane whose ticket
//! ends is refilled from the queue at once (a lane scheduler), and only the final tickets of a
//! batch run with fewer lanes. Callers own every buffer; the kernels allocate nothing.
//!
//! The ymm kernels (VAES, AVX2) end with `vzeroupper`, so SHA-NI code after them runs at full
//! speed (this AMD EPYC, family 26, slows SHA-NI ~100x on dirty upper ymm state).

// `unsafe_code` stays denied here except on the few wrapper functions that call into the
// `x86_*` modules; each such call sits behind a proof token, with "detect() proved support".

#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
mod detect;
pub(crate) mod fork;
mod hash_lanes;
mod portable;
#[cfg(target_arch = "x86_64")]
mod x86_aesni;
#[cfg(target_arch = "x86_64")]
mod x86_avx2;
#[cfg(target_arch = "x86_64")]
mod x86_gcm;
#[cfg(target_arch = "x86_64")]
mod x86_shani;
#[cfg(target_arch = "x86_64")]
mod x86_vaes;

use core::fmt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};

pub use hash_lanes::HmacInput;
pub(crate) use portable::KeyMaterial;
#[doc(hidden)]
pub use portable::hazmat;
#[cfg(target_arch = "x86_64")]
pub use x86_aesni::{CbcDecryptTicket, CbcTicket, RoundKeys};
#[cfg(target_arch = "x86_64")]
pub use x86_gcm::{GcmJob, XaesRoundKeys};

use crate::error::Error;

// ---------------------------------------------------------------------------------------------
// Proof tokens: witnesses that detection found a feature (zero-sized, but for the flag in
// `Clmul` that selects its ymm variant, itself set only from detection).

/// Proof that the CPU supports AES-NI and SSE4.1.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AesNi(());

/// Proof that the CPU supports SHA-NI and SSE4.1.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShaNi(());

/// Proof that the CPU supports VAES with AVX2 (ymm), plus everything [`AesNi`] proves.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vaes(AesNi);

/// Proof that the CPU supports PCLMULQDQ, plus everything [`AesNi`] proves (the AEAD kernel).
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clmul {
    aesni: AesNi,
    /// VAES + VPCLMULQDQ + AVX2 were also detected and the backend is a VAES one: the ymm
    /// kernel. Only ever set from detection ([`Clmul::wide`]).
    ymm: bool,
}

/// Proof that the CPU supports AVX2.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Avx2(());

#[cfg(target_arch = "x86_64")]
impl Vaes {
    /// `Some` if VAES, AVX2, AES-NI and SSE4.1 were detected (never under Miri).
    pub fn new() -> Option<Self> {
        let f = detect::features();
        (f.vaes && f.avx2).then_some(Self(AesNi::new()?))
    }

    /// The AES-NI proof this one implies.
    pub fn aesni(self) -> AesNi {
        self.0
    }
}

#[cfg(target_arch = "x86_64")]
impl Clmul {
    /// `Some` if PCLMULQDQ, AES-NI and SSE4.1 were detected (never under Miri).
    pub fn new() -> Option<Self> {
        let aesni = AesNi::new()?;
        detect::features()
            .clmul
            .then_some(Self { aesni, ymm: false })
    }

    /// The ymm kernel (VAES + VPCLMULQDQ) if detected, else [`Self::new`].
    pub fn wide() -> Option<Self> {
        let f = detect::features();
        Self::new().map(|k| Self {
            ymm: f.vclmul && f.vaes && f.avx2,
            ..k
        })
    }

    /// True for the ymm kernel.
    pub fn is_wide(self) -> bool {
        self.ymm
    }

    /// The AES-NI proof this one implies.
    pub fn aesni(self) -> AesNi {
        self.aesni
    }

    /// Expands a ring's XAES-256-GCM key for [`Self::xaes_seal_many`] / [`Self::xaes_open_many`].
    #[allow(unsafe_code)] // Dispatch into the ISA module, behind the proof token.
    pub fn xaes_round_keys(self, key: &[u8; 32]) -> XaesRoundKeys {
        // SAFETY: `self` proves AES-NI and SSE4.1 were detected.
        unsafe { x86_gcm::xaes_round_keys(key) }
    }

    /// XAES-256-GCM seal of every job in place; each job's tag is written to `job.tag`.
    /// Several tickets' key derivations and schedules run interleaved.
    #[allow(unsafe_code)] // Dispatch into the ISA module, behind the proof token.
    pub fn xaes_seal_many(self, jobs: &mut [GcmJob<'_>]) {
        if self.ymm {
            // SAFETY: `ymm` is set only when detection found VAES, VPCLMULQDQ and AVX2 (and
            // `self` proves AES-NI, PCLMULQDQ and SSE4.1).
            unsafe { x86_gcm::seal_many_ymm(jobs) }
        } else {
            // SAFETY: `self` proves AES-NI, PCLMULQDQ and SSE4.1 were detected.
            unsafe { x86_gcm::seal_many(jobs) }
        }
    }

    /// XAES-256-GCM open of every job in place: the tag is checked in constant time first;
    /// `job.ok` is set and only then is `job.data` decrypted (untouched otherwise).
    #[allow(unsafe_code)] // Dispatch into the ISA module, behind the proof token.
    pub fn xaes_open_many(self, jobs: &mut [GcmJob<'_>]) {
        if self.ymm {
            // SAFETY: `ymm` is set only when detection found VAES, VPCLMULQDQ and AVX2 (and
            // `self` proves AES-NI, PCLMULQDQ and SSE4.1).
            unsafe { x86_gcm::open_many_ymm(jobs) }
        } else {
            // SAFETY: `self` proves AES-NI, PCLMULQDQ and SSE4.1 were detected.
            unsafe { x86_gcm::open_many(jobs) }
        }
    }

    /// Plain AES-256-GCM seal through the kernel's GCM layer (known-answer tests).
    #[allow(unsafe_code)] // Dispatch into the ISA module, behind the proof token.
    pub fn gcm256_seal(
        self,
        key: &[u8; 32],
        nonce: &[u8; 12],
        aad: &[u8],
        data: &mut [u8],
    ) -> [u8; 16] {
        // SAFETY: `self` proves AES-NI, PCLMULQDQ and SSE4.1 were detected.
        unsafe { x86_gcm::gcm256(key, nonce, aad, data, None) }.unwrap_or([0; 16])
    }

    /// Plain AES-256-GCM open through the kernel's GCM layer: tag checked in constant time
    /// before decryption; on a mismatch `data` is untouched.
    #[allow(unsafe_code)] // Dispatch into the ISA module, behind the proof token.
    pub fn gcm256_open(
        self,
        key: &[u8; 32],
        nonce: &[u8; 12],
        aad: &[u8],
        data: &mut [u8],
        tag: &[u8; 16],
    ) -> Result<(), portable::BadTag> {
        // SAFETY: `self` proves AES-NI, PCLMULQDQ and SSE4.1 were detected.
        unsafe { x86_gcm::gcm256(key, nonce, aad, data, Some(tag)) }
            .map(|_| ())
            .map_err(|()| portable::BadTag)
    }
}

#[cfg(target_arch = "x86_64")]
impl Avx2 {
    /// `Some` if AVX2 was detected (never under Miri).
    pub fn new() -> Option<Self> {
        detect::features().avx2.then_some(Self(()))
    }
}

#[cfg(target_arch = "x86_64")]
impl AesNi {
    /// `Some` if AES-NI and SSE4.1 were detected (never under Miri).
    pub fn new() -> Option<Self> {
        detect::features().aesni.then_some(Self(()))
    }

    /// Expands an AES-128 key.
    #[allow(unsafe_code)] // Dispatch into the ISA module, behind the proof token.
    pub fn round_keys_128(self, key: &[u8; 16]) -> RoundKeys {
        // SAFETY: `self` proves AES-NI and SSE4.1 were detected.
        unsafe { x86_aesni::expand_128(key) }
    }

    /// Expands an AES-256 key.
    #[allow(unsafe_code)] // Dispatch into the ISA module, behind the proof token.
    pub fn round_keys_256(self, key: &[u8; 32]) -> RoundKeys {
        // SAFETY: `self` proves AES-NI and SSE4.1 were detected.
        unsafe { x86_aesni::expand_256(key) }
    }

    /// Expands a 16- or 32-byte AES key.
    pub fn round_keys(self, key: &[u8]) -> Result<RoundKeys, Error> {
        if let Ok(k) = <&[u8; 16]>::try_from(key) {
            Ok(self.round_keys_128(k))
        } else if let Ok(k) = <&[u8; 32]>::try_from(key) {
            Ok(self.round_keys_256(k))
        } else {
            Err(Error::KeyLength {
                what: "AES key",
                len: key.len(),
            })
        }
    }
}

#[cfg(target_arch = "x86_64")]
impl ShaNi {
    /// `Some` if SHA-NI and SSE4.1 were detected (never under Miri).
    pub fn new() -> Option<Self> {
        detect::features().shani.then_some(Self(()))
    }
}

#[cfg(target_arch = "x86_64")]
impl RoundKeys {
    /// Expands an AES-128 key (AES-NI proven by `proof`).
    pub fn new_128(proof: AesNi, key: &[u8; 16]) -> Self {
        proof.round_keys_128(key)
    }

    /// Expands an AES-256 key (AES-NI proven by `proof`).
    pub fn new_256(proof: AesNi, key: &[u8; 32]) -> Self {
        proof.round_keys_256(key)
    }
}

/// Every ticket's data must be whole AES blocks.
#[cfg(target_arch = "x86_64")]
fn check_blocks(tickets: &[CbcTicket<'_>]) -> Result<(), Error> {
    if tickets.iter().all(|t| t.data.len() % 16 == 0) {
        Ok(())
    } else {
        Err(Error::BatchShape)
    }
}

// ---------------------------------------------------------------------------------------------
// Kernel families.

/// A multi-buffer AES-CBC implementation, available only with a detection proof.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AesKernel {
    /// AES-NI, xmm: 8 tickets in flight for encryption, 8 blocks per decryption group.
    AesNi(AesNi),
    /// VAES, ymm: 16 tickets in flight for encryption (decryption uses the AES-NI kernel).
    Vaes(Vaes),
}

#[cfg(target_arch = "x86_64")]
impl AesKernel {
    /// The AES-NI proof every x86 AES kernel carries (for key expansion).
    pub fn aesni(self) -> AesNi {
        match self {
            Self::AesNi(p) => p,
            Self::Vaes(p) => p.aesni(),
        }
    }

    /// Tickets encrypted side by side.
    pub fn lanes(self) -> usize {
        match self {
            Self::AesNi(_) => x86_aesni::ENC_LANES,
            Self::Vaes(_) => x86_vaes::ENC_LANES,
        }
    }

    /// CBC-encrypts each ticket's data in place with its own keys and IV. Tickets may mix
    /// AES-128 and AES-256 keys and lengths. Errors with [`Error::BatchShape`] (touching
    /// nothing) if some ticket is not whole blocks.
    #[allow(unsafe_code)] // Dispatch into the ISA module, behind the proof token.
    pub fn cbc_encrypt_many(self, tickets: &mut [CbcTicket<'_>]) -> Result<(), Error> {
        check_blocks(tickets)?;
        match self {
            // Too few tickets to fill ymm lanes: the xmm kernel has less setup per call.
            // SAFETY: detect() proved support (the token exists only after detection; VAES
            // implies AES-NI).
            Self::AesNi(_) | Self::Vaes(_) if tickets.len() <= x86_aesni::ENC_LANES => unsafe {
                x86_aesni::cbc_encrypt_many(tickets)
            },
            // SAFETY: detect() proved support (the token exists only after detection).
            Self::AesNi(_) => unsafe { x86_aesni::cbc_encrypt_many(tickets) },
            // SAFETY: detect() proved support (the token exists only after detection).
            Self::Vaes(_) => unsafe { x86_vaes::cbc_encrypt_many(tickets) },
        }
        Ok(())
    }

    /// CBC-decrypts each ticket's data in place (no padding removal). Same rules as
    /// [`Self::cbc_encrypt_many`].
    #[allow(unsafe_code)] // Dispatch into the ISA module, behind the proof token.
    pub fn cbc_decrypt_many(self, tickets: &mut [CbcTicket<'_>]) -> Result<(), Error> {
        check_blocks(tickets)?;
        // SAFETY: detect() proved support (the token exists only after detection; VAES implies
        // AES-NI, and the AES-NI kernel is the faster decryption here, see `x86_vaes.rs`).
        unsafe { x86_aesni::cbc_decrypt_many(tickets) };
        Ok(())
    }

    /// CBC-decrypts each ticket's `src` into its `dst` (no padding removal), so a caller
    /// opening into its own buffer skips copying the ciphertext there first.
    /// [`Error::BatchShape`] (nothing decrypted) unless every `src` is whole 16-byte blocks
    /// and as long as its `dst`.
    #[allow(unsafe_code)] // Dispatch into the ISA module, behind the proof token.
    pub fn cbc_decrypt_many_into(self, tickets: &mut [CbcDecryptTicket<'_>]) -> Result<(), Error> {
        if !tickets
            .iter()
            .all(|t| t.src.len() % 16 == 0 && t.src.len() == t.dst.len())
        {
            return Err(Error::BatchShape);
        }
        // SAFETY: as `cbc_decrypt_many`; `src` and `dst` are distinct borrows.
        unsafe { x86_aesni::cbc_decrypt_many(tickets) };
        Ok(())
    }

    /// CBC-decrypts one ticket in place (blocks decrypted in parallel groups).
    pub fn cbc_decrypt(self, keys: &RoundKeys, iv: [u8; 16], data: &mut [u8]) -> Result<(), Error> {
        self.cbc_decrypt_many(&mut [CbcTicket { keys, iv, data }])
    }
}

/// A multi-message HMAC-SHA-256 implementation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MacKernel {
    /// The `sha2` crate's compression function, one message at a time.
    Portable,
    /// SHA-NI, several messages interleaved.
    #[cfg(target_arch = "x86_64")]
    ShaNi(ShaNi),
    /// AVX2, eight messages, one per 32-bit lane.
    #[cfg(target_arch = "x86_64")]
    Avx2(Avx2),
}

impl MacKernel {
    /// Messages hashed side by side.
    pub fn lanes(self) -> usize {
        match self {
            Self::Portable => 1,
            #[cfg(target_arch = "x86_64")]
            Self::ShaNi(_) => x86_shani::STREAMS,
            #[cfg(target_arch = "x86_64")]
            Self::Avx2(_) => x86_avx2::LANES,
        }
    }

    /// `out[i] = HMAC-SHA-256(inputs[i])`. Errors with [`Error::BatchShape`] if the slices
    /// differ in length.
    #[allow(unsafe_code)] // Dispatch into the ISA module, behind the proof token.
    pub fn hmac_sha256_many(
        self,
        inputs: &[HmacInput<'_>],
        out: &mut [[u8; 32]],
    ) -> Result<(), Error> {
        if inputs.len() != out.len() {
            return Err(Error::BatchShape);
        }
        match self {
            Self::Portable => hash_lanes::hmac_many_portable(inputs, out),
            #[cfg(target_arch = "x86_64")]
            Self::ShaNi(_) => hmac_shani(inputs, out),
            // One message: no 8-lane transposes for a single lane.
            #[cfg(target_arch = "x86_64")]
            Self::Avx2(_) if inputs.len() == 1 => hash_lanes::hmac_many_portable(inputs, out),
            #[cfg(target_arch = "x86_64")]
            Self::Avx2(_) => hash_lanes::hmac_many::<{ x86_avx2::LANES }>(
                inputs,
                out,
                hash_lanes::STANDARD,
                // SAFETY: detect() proved support (the token exists only after detection).
                |s, b| unsafe { x86_avx2::compress(s, b) },
                // A lone lane: the portable compression (sha2 picks its own best code).
                hash_lanes::compress_portable,
            ),
        }
        Ok(())
    }
}

/// SHA-NI HMAC (the [`ShaNi`] token's only caller): messages of one block shape (the usual
/// batch: one format, one state size) in lockstep groups of 4, the last 1-3 with the kernel of
/// their size; mixed shapes through the lane scheduler, which refills a lane as its message
/// ends.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)] // Dispatch into the ISA module, behind the proof token.
fn hmac_shani(inputs: &[HmacInput<'_>], out: &mut [[u8; 32]]) {
    use hash_lanes::{Layout, lockstep};
    use x86_shani as k;
    const LAYOUT: Layout = Layout {
        import: k::import,
        export: k::export,
    };
    if !hash_lanes::one_shape(inputs) {
        hash_lanes::hmac_many::<{ k::STREAMS }>(
            inputs,
            out,
            LAYOUT,
            // SAFETY: only `MacKernel::ShaNi` calls this function (this holds for every kernel
            // call below), and its token exists only after detect() found SHA-NI and SSE4.1.
            |s, b| unsafe { k::compress_4(s, b) },
            // SAFETY: as above.
            |s, b| unsafe { k::compress_1(core::array::from_mut(s), &[b]) },
        );
        return;
    }
    let (groups, rest_in) = inputs.as_chunks::<{ k::STREAMS }>();
    let (out_groups, rest_out) = out.as_chunks_mut::<{ k::STREAMS }>();
    for (i, o) in groups.iter().zip(out_groups) {
        // SAFETY: as above.
        lockstep(
            i,
            o,
            LAYOUT,
            // SAFETY: as above.
            |s, b| unsafe { k::compress_4(s, b) },
            // SAFETY: as above.
            |s, o| unsafe { k::compress_outer_4(s, o) },
        );
    }
    // The last 1-3 messages: no idle streams.
    if let (Ok(i), Ok(o)) = (
        <&[_; 3]>::try_from(rest_in),
        <&mut [_; 3]>::try_from(&mut *rest_out),
    ) {
        // SAFETY: as above.
        lockstep(
            i,
            o,
            LAYOUT,
            // SAFETY: as above.
            |s, b| unsafe { k::compress_3(s, b) },
            // SAFETY: as above.
            |s, o| unsafe { k::compress_outer_3(s, o) },
        );
    } else if let (Ok(i), Ok(o)) = (
        <&[_; 2]>::try_from(rest_in),
        <&mut [_; 2]>::try_from(&mut *rest_out),
    ) {
        // SAFETY: as above.
        lockstep(
            i,
            o,
            LAYOUT,
            // SAFETY: as above.
            |s, b| unsafe { k::compress_2(s, b) },
            // SAFETY: as above.
            |s, o| unsafe { k::compress_outer_2(s, o) },
        );
    } else if let (Ok(i), Ok(o)) = (
        <&[_; 1]>::try_from(rest_in),
        <&mut [_; 1]>::try_from(&mut *rest_out),
    ) {
        // SAFETY: as above.
        lockstep(
            i,
            o,
            LAYOUT,
            // SAFETY: as above.
            |s, b| unsafe { k::compress_1(s, b) },
            // SAFETY: as above.
            |s, o| unsafe { k::compress_outer_1(s, o) },
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Backend: the combination in use.

/// The crypto implementation combination (AES x MAC) used for tickets.
#[derive(Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Backend {
    /// RustCrypto crates one ticket at a time (they carry their own AES-NI / ARMv8 code).
    Portable,
    /// VAES multi-buffer CBC, SHA-NI multi-stream HMAC.
    #[cfg(target_arch = "x86_64")]
    VaesShaNi(Vaes, ShaNi),
    /// AES-NI multi-buffer CBC, SHA-NI multi-stream HMAC.
    #[cfg(target_arch = "x86_64")]
    AesNiShaNi(AesNi, ShaNi),
    /// VAES multi-buffer CBC, AVX2 8-lane HMAC.
    #[cfg(target_arch = "x86_64")]
    VaesAvx2(Vaes, Avx2),
    /// AES-NI multi-buffer CBC, AVX2 8-lane HMAC.
    #[cfg(target_arch = "x86_64")]
    AesNiAvx2(AesNi, Avx2),
    /// AES-NI multi-buffer CBC, portable HMAC (CPUs before AVX2).
    #[cfg(target_arch = "x86_64")]
    AesNi(AesNi),
}

/// Backend names, best first (the order [`Backend::detect`] tries them in).
#[cfg(target_arch = "x86_64")]
const NAMES: &[&str] = &[
    "vaes-shani",
    "aesni-shani",
    "vaes-avx2",
    "aesni-avx2",
    "aesni",
    "portable",
];
#[cfg(not(target_arch = "x86_64"))]
const NAMES: &[&str] = &["portable"];

impl Backend {
    /// Every backend name this build knows, best first.
    pub const ALL_NAMES: &'static [&'static str] = NAMES;

    /// The backend called `name` if this CPU supports it.
    pub fn from_name(name: &str) -> Result<Self, Error> {
        let found = match name {
            "portable" => Some(Self::Portable),
            #[cfg(target_arch = "x86_64")]
            "vaes-shani" => Self::vaes_shani(),
            #[cfg(target_arch = "x86_64")]
            "aesni-shani" => Self::aesni_shani(),
            #[cfg(target_arch = "x86_64")]
            "vaes-avx2" => Self::vaes_avx2(),
            #[cfg(target_arch = "x86_64")]
            "aesni-avx2" => Self::aesni_avx2(),
            #[cfg(target_arch = "x86_64")]
            "aesni" => Self::aesni(),
            _ => return Err(Error::BackendUnavailable("(unknown backend name)")),
        };
        let static_name = NAMES
            .iter()
            .copied()
            .find(|n| *n == name)
            .unwrap_or("(unknown backend name)");
        found.ok_or(Error::BackendUnavailable(static_name))
    }

    /// VAES + SHA-NI, if detected.
    #[cfg(target_arch = "x86_64")]
    pub fn vaes_shani() -> Option<Self> {
        Some(Self::VaesShaNi(Vaes::new()?, ShaNi::new()?))
    }

    /// AES-NI + SHA-NI, if detected.
    #[cfg(target_arch = "x86_64")]
    pub fn aesni_shani() -> Option<Self> {
        Some(Self::AesNiShaNi(AesNi::new()?, ShaNi::new()?))
    }

    /// VAES + AVX2 SHA-256, if detected.
    #[cfg(target_arch = "x86_64")]
    pub fn vaes_avx2() -> Option<Self> {
        Some(Self::VaesAvx2(Vaes::new()?, Avx2::new()?))
    }

    /// AES-NI + AVX2 SHA-256, if detected.
    #[cfg(target_arch = "x86_64")]
    pub fn aesni_avx2() -> Option<Self> {
        Some(Self::AesNiAvx2(AesNi::new()?, Avx2::new()?))
    }

    /// AES-NI + portable HMAC, if detected.
    #[cfg(target_arch = "x86_64")]
    pub fn aesni() -> Option<Self> {
        Some(Self::AesNi(AesNi::new()?))
    }

    /// The best backend this CPU supports (`Portable` under Miri).
    pub fn detect() -> Self {
        // No `available()` here: `selected()` calls this per batch, which must not allocate.
        NAMES
            .iter()
            .find_map(|n| Self::from_name(n).ok())
            .unwrap_or(Self::Portable)
    }

    /// Every backend this CPU supports, best first (always ends with `Portable`).
    pub fn available() -> Vec<Self> {
        NAMES
            .iter()
            .filter_map(|n| Self::from_name(n).ok())
            .collect()
    }

    /// The backend to use: the one passed to [`Backend::force`] if any, else the one named by
    /// the environment variable `TESSERA_BACKEND` (read once per process), else
    /// [`Backend::detect`]. Errors if the variable names an unknown or unsupported backend (a
    /// run that asked for a backend must not silently measure another).
    pub fn selected() -> Result<Self, Error> {
        let forced = FORCED.load(Ordering::Acquire);
        if let Some(name) = usize::from(forced)
            .checked_sub(1)
            .and_then(|i| NAMES.get(i))
        {
            return Self::from_name(name);
        }
        static FROM_ENV: OnceLock<Option<String>> = OnceLock::new();
        match FROM_ENV.get_or_init(|| std::env::var(ENV_VAR).ok()) {
            Some(name) if name != "auto" => Self::from_name(name),
            _ => Ok(Self::detect()),
        }
    }

    /// Makes [`Backend::selected`] return `backend` (or, with `None`, go back to the
    /// environment variable / detection). Process-wide; meant for tests, benches and loadgen.
    pub fn force(backend: Option<Self>) {
        let code = backend.map_or(0, |b| {
            NAMES
                .iter()
                .position(|n| *n == b.name())
                .map_or(0, |i| i + 1)
        });
        FORCED.store(u8::try_from(code).unwrap_or(0), Ordering::Release);
    }

    /// The backend's name, as accepted by [`Backend::from_name`] and `TESSERA_BACKEND`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Portable => "portable",
            #[cfg(target_arch = "x86_64")]
            Self::VaesShaNi(..) => "vaes-shani",
            #[cfg(target_arch = "x86_64")]
            Self::AesNiShaNi(..) => "aesni-shani",
            #[cfg(target_arch = "x86_64")]
            Self::VaesAvx2(..) => "vaes-avx2",
            #[cfg(target_arch = "x86_64")]
            Self::AesNiAvx2(..) => "aesni-avx2",
            #[cfg(target_arch = "x86_64")]
            Self::AesNi(..) => "aesni",
        }
    }

    /// Tickets processed side by side by the AES kernel (1 for portable).
    pub fn lanes(self) -> usize {
        #[cfg(target_arch = "x86_64")]
        return self.aes().map_or(1, |k| k.lanes());
        #[cfg(not(target_arch = "x86_64"))]
        return 1;
    }

    /// The multi-buffer AES kernel, `None` for the portable backend.
    #[cfg(target_arch = "x86_64")]
    pub fn aes(self) -> Option<AesKernel> {
        match self {
            Self::Portable => None,
            Self::VaesShaNi(v, _) | Self::VaesAvx2(v, _) => Some(AesKernel::Vaes(v)),
            Self::AesNiShaNi(a, _) | Self::AesNiAvx2(a, _) | Self::AesNi(a) => {
                Some(AesKernel::AesNi(a))
            }
        }
    }

    /// The multi-buffer AES kernel (none on this architecture).
    #[cfg(not(target_arch = "x86_64"))]
    pub fn aes(self) -> Option<core::convert::Infallible> {
        None
    }

    /// The XAES-256-GCM kernel for the AEAD format: every x86 backend has one when PCLMULQDQ
    /// was detected (ymm on the VAES backends when VPCLMULQDQ was detected too); `None` for
    /// the portable backend (which keeps the RustCrypto code).
    #[cfg(target_arch = "x86_64")]
    pub fn gcm(self) -> Option<Clmul> {
        match self {
            Self::Portable => None,
            // VAES backends: the ymm kernel when VPCLMULQDQ is there too.
            Self::VaesShaNi(..) | Self::VaesAvx2(..) => Clmul::wide(),
            _ => Clmul::new(),
        }
    }

    /// The HMAC-SHA-256 kernel.
    pub fn mac(self) -> MacKernel {
        match self {
            Self::Portable => MacKernel::Portable,
            #[cfg(target_arch = "x86_64")]
            Self::VaesShaNi(_, s) | Self::AesNiShaNi(_, s) => MacKernel::ShaNi(s),
            #[cfg(target_arch = "x86_64")]
            Self::VaesAvx2(_, a) | Self::AesNiAvx2(_, a) => MacKernel::Avx2(a),
            #[cfg(target_arch = "x86_64")]
            Self::AesNi(_) => MacKernel::Portable,
        }
    }
}

impl fmt::Debug for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Backend({})", self.name())
    }
}

/// Environment variable naming the backend for [`Backend::selected`] (`auto` = detect).
pub const ENV_VAR: &str = "TESSERA_BACKEND";

/// 0 = not forced, else 1 + index into `NAMES`.
static FORCED: AtomicU8 = AtomicU8::new(0);
