//! Portable crypto through the RustCrypto crates (which carry their own AES-NI / ARMv8 paths).
//!
//! Everything here is safe code and is the oracle every SIMD backend is tested against:
//! - AES-CBC in place over whole blocks (decryption 8 blocks at a time through the `aes`
//!   crate's parallel path), PKCS#7 pad and a constant-time unpad;
//! - HMAC-SHA-256 from precomputed inner/outer states (`sha2::compress256` plus the final
//!   padding done here), constant-time tag check;
//! - AES-GCM (CTR + `ghash`), tag checked in constant time BEFORE any decryption;
//! - XAES-256-GCM (C2SP): per-message AES-256 key from the CMAC-based KDF, then AES-256-GCM.

use aes::cipher::consts::U16;
use aes::cipher::{BlockDecrypt, BlockEncrypt, BlockSizeUser, KeyInit};
use ghash::GHash;
use ghash::universal_hash::UniversalHash;
use hkdf::Hkdf;
use sha2::Sha256;
use subtle::{Choice, ConstantTimeEq, ConstantTimeGreater, ConstantTimeLess};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::keys::CipherKind;

/// AES block size in bytes.
pub const BLOCK: usize = 16;
/// Blocks handed to the `aes` crate at once (its AES-NI path pipelines 8).
const PAR_BLOCKS: usize = 8;
type Block = aes::Block;

/// `info` for the HKDF that separates a ticket key's AEAD key from its CBC/HMAC keys.
pub const AEAD_KEY_INFO: &[u8] = b"tessera aead xaes-256-gcm v1";

/// An expanded AES key (the `aes` crate zeroizes its schedules on drop).
// One per ticket key, not per ticket: boxing would only add an indirection on every block.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
pub(crate) enum AesKey {
    Aes128(aes::Aes128),
    Aes256(aes::Aes256),
}

impl AesKey {
    /// CBC-encrypts `buf` (whole blocks) in place.
    pub(crate) fn cbc_encrypt(&self, iv: &[u8; 16], buf: &mut [u8]) {
        match self {
            Self::Aes128(c) => cbc_encrypt(c, iv, buf),
            Self::Aes256(c) => cbc_encrypt(c, iv, buf),
        }
    }

    /// CBC-decrypts `buf` (whole blocks) in place.
    pub(crate) fn cbc_decrypt(&self, iv: &[u8; 16], buf: &mut [u8]) {
        match self {
            Self::Aes128(c) => cbc_decrypt(c, iv, buf),
            Self::Aes256(c) => cbc_decrypt(c, iv, buf),
        }
    }
}

/// An XAES-256-GCM key: the expanded AES-256 key `K` and the CMAC subkey `K1` derived from
/// `L = AES-256(K, 0^128)` (C2SP XAES-256-GCM). Both are secret; dropped with zeroization.
#[derive(Clone)]
pub struct XaesKey {
    cipher: aes::Aes256Enc,
    k1: [u8; 16],
    /// The same key for the x86 AEAD kernel, expanded at key setup when PCLMULQDQ and AES-NI
    /// were detected (whichever backend is selected, so forcing one later costs nothing).
    #[cfg(target_arch = "x86_64")]
    x86: Option<super::XaesRoundKeys>,
}

impl Drop for XaesKey {
    fn drop(&mut self) {
        self.k1.zeroize();
        #[cfg(test)]
        crate::drop_probe::observe("XaesKey.k1", &self.k1);
    }
}
impl ZeroizeOnDrop for XaesKey {}

impl XaesKey {
    /// Expands a 256-bit XAES key and precomputes `K1`.
    pub fn new(key: &[u8; 32]) -> Self {
        let cipher = aes::Aes256Enc::new(key.into());
        let mut l = Block::default();
        cipher.encrypt_block(&mut l);
        // K1 = L << 1, reduced by x^128 + x^7 + x^2 + x + 1 when the top bit falls out.
        let l = u128::from_be_bytes(l.into());
        let k1 = (l << 1) ^ ((l >> 127) * 0x87);
        Self {
            cipher,
            k1: k1.to_be_bytes(),
            #[cfg(target_arch = "x86_64")]
            x86: super::Clmul::new().map(|proof| proof.xaes_round_keys(key)),
        }
    }

    /// The key expanded for the x86 AEAD kernel (`None` without PCLMULQDQ + AES-NI).
    #[cfg(target_arch = "x86_64")]
    pub fn x86(&self) -> Option<&super::XaesRoundKeys> {
        self.x86.as_ref()
    }

    /// [`Self::seal`] through `backend`: the x86 kernel on x86 backends, this portable code on
    /// [`Backend::Portable`](super::Backend::Portable). Same output either way.
    pub fn seal_with(
        &self,
        backend: super::Backend,
        nonce: &[u8; 24],
        aad: &[u8],
        buf: &mut [u8],
    ) -> [u8; 16] {
        #[cfg(target_arch = "x86_64")]
        if let (Some(proof), Some(key)) = (backend.gcm(), self.x86.as_ref()) {
            let mut job = [super::GcmJob {
                key,
                nonce: *nonce,
                aad,
                data: buf,
                tag: [0; 16],
                ok: false,
            }];
            proof.xaes_seal_many(&mut job);
            return job[0].tag;
        }
        let _ = backend;
        self.seal(nonce, aad, buf)
    }

    /// [`Self::open`] through `backend` (see [`Self::seal_with`]): tag checked in constant
    /// time before decryption; on a mismatch `buf` is untouched.
    pub fn open_with(
        &self,
        backend: super::Backend,
        nonce: &[u8; 24],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; 16],
    ) -> Result<(), BadTag> {
        #[cfg(target_arch = "x86_64")]
        if let (Some(proof), Some(key)) = (backend.gcm(), self.x86.as_ref()) {
            let mut job = [super::GcmJob {
                key,
                nonce: *nonce,
                aad,
                data: buf,
                tag: *tag,
                ok: false,
            }];
            proof.xaes_open_many(&mut job);
            return if job[0].ok { Ok(()) } else { Err(BadTag) };
        }
        let _ = backend;
        self.open(nonce, aad, buf, tag)
    }

    /// The per-message AES-256 key for the first 12 bytes of a 24-byte nonce:
    /// `AES(K, [0,1,'X',0] || N[..12] ^ K1) || AES(K, [0,2,'X',0] || N[..12] ^ K1)`
    /// (one-block CMAC, which needs no K2, so two AES blocks in all).
    fn derive(&self, nonce_head: &[u8; 12]) -> aes::Aes256Enc {
        let mut blocks = [Block::default(); 2];
        for (i, b) in blocks.iter_mut().enumerate() {
            b[..4].copy_from_slice(&[0, i as u8 + 1, b'X', 0]);
            b[4..].copy_from_slice(nonce_head);
            for (x, k) in b.iter_mut().zip(&self.k1) {
                *x ^= k;
            }
        }
        self.cipher.encrypt_blocks(&mut blocks);
        let mut key = [0u8; 32];
        key[..16].copy_from_slice(&blocks[0]);
        key[16..].copy_from_slice(&blocks[1]);
        let cipher = aes::Aes256Enc::new(&key.into());
        key.zeroize();
        wipe(&mut blocks);
        cipher
    }

    /// XAES-256-GCM seal in place; returns the tag.
    pub fn seal(&self, nonce: &[u8; 24], aad: &[u8], buf: &mut [u8]) -> [u8; 16] {
        let (head, tail) = split_nonce(nonce);
        gcm_seal(&self.derive(head), tail, aad, buf)
    }

    /// XAES-256-GCM open in place: the tag is checked (constant time) before decryption; on a
    /// mismatch `buf` is untouched.
    pub fn open(
        &self,
        nonce: &[u8; 24],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; 16],
    ) -> Result<(), BadTag> {
        let (head, tail) = split_nonce(nonce);
        gcm_open(&self.derive(head), tail, aad, buf, tag)
    }
}

/// Zeroizes blocks that held key stream, round keys or plaintext.
fn wipe(blocks: &mut [Block]) {
    for b in blocks {
        b.as_mut_slice().zeroize();
    }
}

fn split_nonce(nonce: &[u8; 24]) -> (&[u8; 12], &[u8; 12]) {
    let (head, tail) = nonce.split_at(12);
    // Both halves are exactly 12 bytes by construction.
    (
        head.try_into().unwrap_or(&[0; 12]),
        tail.try_into().unwrap_or(&[0; 12]),
    )
}

/// Per-key precomputation shared by every backend.
#[derive(Clone)]
pub(crate) struct KeyMaterial {
    pub(crate) aes: AesKey,
    /// SHA-256 state after compressing `hmac_key ^ ipad` (one block).
    pub(crate) hmac_inner: [u32; 8],
    /// SHA-256 state after compressing `hmac_key ^ opad` (one block).
    pub(crate) hmac_outer: [u32; 8],
    /// The AEAD format's XAES-256-GCM key, HKDF-derived from the AES and HMAC keys so the
    /// CBC formats and the AEAD format never share a key.
    pub(crate) aead: XaesKey,
    /// The AES key expanded for the x86 multi-buffer kernels (encryption and decryption
    /// schedules; AES-NI and VAES both read this layout). Built at key setup whenever AES-NI
    /// was detected, whichever backend is selected, so forcing a backend later (tests,
    /// benches, `TESSERA_BACKEND`) never expands a key on the hot path. `None` without AES-NI.
    #[cfg(target_arch = "x86_64")]
    pub(crate) x86: Option<super::RoundKeys>,
}

impl Drop for KeyMaterial {
    fn drop(&mut self) {
        self.hmac_inner.zeroize();
        self.hmac_outer.zeroize();
        #[cfg(test)]
        {
            crate::drop_probe::observe_words("KeyMaterial.hmac_inner", &self.hmac_inner);
            crate::drop_probe::observe_words("KeyMaterial.hmac_outer", &self.hmac_outer);
        }
    }
}
impl ZeroizeOnDrop for KeyMaterial {}

impl KeyMaterial {
    /// `aes_key` has the length of `cipher` (checked by `TicketKey::new`); `hmac_key` may have
    /// any length.
    pub(crate) fn new(cipher: CipherKind, aes_key: &[u8], hmac_key: &[u8]) -> Self {
        // TicketKey::new checked the length against `cipher`; key setup is configuration, never
        // attacker input, so a mismatch here is a bug worth a panic rather than a silent key.
        let aes = match cipher {
            CipherKind::Aes128 => {
                AesKey::Aes128(aes::Aes128::new_from_slice(aes_key).expect("16-byte AES key"))
            }
            CipherKind::Aes256 => {
                AesKey::Aes256(aes::Aes256::new_from_slice(aes_key).expect("32-byte AES key"))
            }
        };
        let (hmac_inner, hmac_outer) = hmac_states(hmac_key);
        let mut aead_key = derive_aead_key(aes_key, hmac_key);
        let aead = XaesKey::new(&aead_key);
        aead_key.zeroize();
        #[cfg(target_arch = "x86_64")]
        let x86 = super::AesNi::new().and_then(|proof| proof.round_keys(aes_key).ok());
        Self {
            aes,
            hmac_inner,
            hmac_outer,
            aead,
            #[cfg(target_arch = "x86_64")]
            x86,
        }
    }

    /// HMAC-SHA-256 with this key over the concatenation of `parts`.
    pub(crate) fn hmac(&self, parts: &[&[u8]]) -> [u8; 32] {
        hmac_sha256(&self.hmac_inner, &self.hmac_outer, parts)
    }
}

/// The AEAD key of a ticket key: HKDF-SHA-256(salt = none, ikm = aes_key || hmac_key,
/// info = [`AEAD_KEY_INFO`]), 32 bytes.
pub fn derive_aead_key(aes_key: &[u8], hmac_key: &[u8]) -> [u8; 32] {
    let mut ikm = zeroize::Zeroizing::new(Vec::with_capacity(aes_key.len() + hmac_key.len()));
    ikm.extend_from_slice(aes_key);
    ikm.extend_from_slice(hmac_key);
    let mut okm = [0u8; 32];
    // 32 bytes is far below HKDF-SHA-256's 255 * 32 limit, so expand cannot fail.
    let _ = Hkdf::<Sha256>::new(None, &ikm).expand(AEAD_KEY_INFO, &mut okm);
    okm
}

// ---------------------------------------------------------------------------------------------
// AES-CBC and PKCS#7

/// CBC-encrypts `buf` in place. `buf.len()` must be a multiple of 16 (a trailing partial block
/// is left untouched; callers pad first).
pub fn cbc_encrypt<C>(cipher: &C, iv: &[u8; 16], buf: &mut [u8])
where
    C: BlockEncrypt + BlockSizeUser<BlockSize = U16>,
{
    debug_assert_eq!(buf.len() % BLOCK, 0);
    let mut chain = Block::from(*iv);
    for chunk in buf.chunks_exact_mut(BLOCK) {
        for (c, p) in chain.iter_mut().zip(chunk.iter()) {
            *c ^= p;
        }
        cipher.encrypt_block(&mut chain);
        chunk.copy_from_slice(&chain);
    }
}

/// CBC-decrypts `buf` in place, eight blocks at a time. `buf.len()` must be a multiple of 16
/// (a trailing partial block is left untouched).
pub fn cbc_decrypt<C>(cipher: &C, iv: &[u8; 16], buf: &mut [u8])
where
    C: BlockDecrypt + BlockSizeUser<BlockSize = U16>,
{
    debug_assert_eq!(buf.len() % BLOCK, 0);
    let whole = buf.len() - buf.len() % BLOCK;
    let mut prev = Block::from(*iv);
    let mut blocks = [Block::default(); PAR_BLOCKS];
    for chunk in buf[..whole].chunks_mut(BLOCK * PAR_BLOCKS) {
        let n = chunk.len() / BLOCK;
        for (b, c) in blocks.iter_mut().zip(chunk.chunks_exact(BLOCK)) {
            b.copy_from_slice(c);
        }
        let saved = blocks;
        cipher.decrypt_blocks(&mut blocks[..n]);
        for (i, out) in chunk.chunks_exact_mut(BLOCK).enumerate() {
            let chain = if i == 0 { &prev } else { &saved[i - 1] };
            for ((o, d), c) in out.iter_mut().zip(blocks[i].iter()).zip(chain.iter()) {
                *o = d ^ c;
            }
        }
        prev = saved[n - 1];
    }
    wipe(&mut blocks);
}

/// Length of `len` bytes after PKCS#7 padding to 16-byte blocks (always adds 1..=16 bytes).
pub const fn pkcs7_padded_len(len: usize) -> usize {
    (len / BLOCK + 1) * BLOCK
}

/// Writes the PKCS#7 padding for a `data_len`-byte message into `buf[data_len..]`, which must
/// be exactly `pkcs7_padded_len(data_len)` long. Returns false (writing nothing) otherwise.
pub fn pkcs7_pad(buf: &mut [u8], data_len: usize) -> bool {
    let padded = pkcs7_padded_len(data_len);
    if buf.len() != padded {
        return false;
    }
    let pad = (padded - data_len) as u8;
    buf[data_len..].fill(pad);
    true
}

/// The PKCS#7 padding of `buf` was malformed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadPadding;

/// Checks the PKCS#7 padding of `buf` (a non-empty multiple of 16 bytes) and returns the
/// unpadded length. The whole last block is examined the same way whatever the pad byte, so
/// the time taken does not depend on where the padding goes wrong.
pub fn pkcs7_unpad(buf: &[u8]) -> Result<usize, BadPadding> {
    let Some(last) = buf.len().checked_sub(BLOCK).and_then(|at| buf.get(at..)) else {
        return Err(BadPadding);
    };
    let pad = last[BLOCK - 1];
    let mut bad: Choice = pad.ct_eq(&0) | pad.ct_gt(&(BLOCK as u8));
    for (i, &b) in last.iter().rev().enumerate() {
        let in_pad = (i as u8).ct_lt(&pad);
        bad |= in_pad & !b.ct_eq(&pad);
    }
    if bool::from(bad) || !buf.len().is_multiple_of(BLOCK) {
        Err(BadPadding)
    } else {
        Ok(buf.len() - usize::from(pad))
    }
}

// ---------------------------------------------------------------------------------------------
// HMAC-SHA-256 from precomputed states

pub(crate) const SHA256_IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

fn compress(state: &mut [u32; 8], block: &[u8; 64]) {
    sha2::compress256(state, core::slice::from_ref(block.into()));
}

/// Feeds `parts` through SHA-256 starting from `state` (which has already absorbed
/// `absorbed` whole blocks), applies the final padding and returns the digest.
fn sha256_finish(state: &[u32; 8], absorbed_blocks: u64, parts: &[&[u8]]) -> [u8; 32] {
    let mut st = *state;
    let mut buf = [0u8; 64];
    let mut fill = 0usize;
    let mut total: u64 = absorbed_blocks * 64;
    for part in parts {
        total += part.len() as u64;
        let mut rest = *part;
        if fill > 0 {
            let take = rest.len().min(64 - fill);
            buf[fill..fill + take].copy_from_slice(&rest[..take]);
            fill += take;
            rest = &rest[take..];
            if fill < 64 {
                continue;
            }
            compress(&mut st, &buf);
        }
        let mut blocks = rest.chunks_exact(64);
        for block in &mut blocks {
            let block: &[u8; 64] = block.try_into().unwrap_or(&[0; 64]);
            compress(&mut st, block);
        }
        let tail = blocks.remainder();
        buf[..tail.len()].copy_from_slice(tail);
        fill = tail.len();
    }
    // Final padding: 0x80, zeros, 64-bit big-endian bit length.
    buf[fill] = 0x80;
    buf[fill + 1..].fill(0);
    if fill >= 56 {
        compress(&mut st, &buf);
        buf.fill(0);
    }
    buf[56..].copy_from_slice(&(total * 8).to_be_bytes());
    compress(&mut st, &buf);
    buf.zeroize();
    let mut out = [0u8; 32];
    for (o, w) in out.chunks_exact_mut(4).zip(st) {
        o.copy_from_slice(&w.to_be_bytes());
    }
    st.zeroize();
    out
}

/// SHA-256 states after one block of `key ^ ipad` and of `key ^ opad` (RFC 2104). Keys longer
/// than 64 bytes are hashed first, as HMAC requires.
pub fn hmac_states(key: &[u8]) -> ([u32; 8], [u32; 8]) {
    let mut hashed;
    let key = if key.len() > 64 {
        hashed = sha256_finish(&SHA256_IV, 0, &[key]);
        &hashed[..]
    } else {
        hashed = [0; 32];
        key
    };
    let half = |pad: u8| {
        let mut block = [pad; 64];
        for (b, k) in block.iter_mut().zip(key) {
            *b ^= k;
        }
        let mut state = SHA256_IV;
        compress(&mut state, &block);
        block.zeroize();
        state
    };
    let states = (half(0x36), half(0x5c));
    hashed.zeroize();
    states
}

/// HMAC-SHA-256 over the concatenation of `parts`, from the states of [`hmac_states`].
pub fn hmac_sha256(inner: &[u32; 8], outer: &[u32; 8], parts: &[&[u8]]) -> [u8; 32] {
    let mut inner_digest = sha256_finish(inner, 1, parts);
    let tag = sha256_finish(outer, 1, &[&inner_digest]);
    inner_digest.zeroize();
    tag
}

/// Constant-time tag comparison (false on a length mismatch; length is public).
pub fn tags_equal(a: &[u8], b: &[u8]) -> bool {
    bool::from(a.ct_eq(b))
}

// ---------------------------------------------------------------------------------------------
// AES-GCM (96-bit nonce, 128-bit tag)

/// The GCM tag did not verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadTag;

/// XORs the GCM keystream for `nonce`, starting at counter 2, into `buf`.
fn gcm_ctr<C>(cipher: &C, nonce: &[u8; 12], buf: &mut [u8])
where
    C: BlockEncrypt + BlockSizeUser<BlockSize = U16>,
{
    let mut ctr: u32 = 2;
    let mut ks = [Block::default(); PAR_BLOCKS];
    for chunk in buf.chunks_mut(BLOCK * PAR_BLOCKS) {
        let n = chunk.len().div_ceil(BLOCK);
        for b in ks.iter_mut().take(n) {
            b[..12].copy_from_slice(nonce);
            b[12..].copy_from_slice(&ctr.to_be_bytes());
            ctr = ctr.wrapping_add(1);
        }
        cipher.encrypt_blocks(&mut ks[..n]);
        for (x, k) in chunk.iter_mut().zip(ks.iter().flatten()) {
            *x ^= k;
        }
    }
    wipe(&mut ks);
}

/// GHASH(aad, ct) ^ E(J0): the GCM tag.
fn gcm_tag<C>(cipher: &C, nonce: &[u8; 12], aad: &[u8], ct: &[u8]) -> [u8; 16]
where
    C: BlockEncrypt + BlockSizeUser<BlockSize = U16>,
{
    let mut h = Block::default();
    cipher.encrypt_block(&mut h);
    let mut ghash = GHash::new(&h);
    wipe(core::slice::from_mut(&mut h));
    ghash.update_padded(aad);
    ghash.update_padded(ct);
    let mut lens = Block::default();
    lens[..8].copy_from_slice(&(aad.len() as u64 * 8).to_be_bytes());
    lens[8..].copy_from_slice(&(ct.len() as u64 * 8).to_be_bytes());
    ghash.update(&[lens]);
    let mut tag: [u8; 16] = ghash.finalize().into();
    let mut j0 = Block::default();
    j0[..12].copy_from_slice(nonce);
    j0[15] = 1;
    cipher.encrypt_block(&mut j0);
    for (t, k) in tag.iter_mut().zip(j0.iter()) {
        *t ^= k;
    }
    tag
}

/// AES-GCM seal in place with a 96-bit nonce; returns the 128-bit tag.
pub fn gcm_seal<C>(cipher: &C, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8]) -> [u8; 16]
where
    C: BlockEncrypt + BlockSizeUser<BlockSize = U16>,
{
    gcm_ctr(cipher, nonce, buf);
    gcm_tag(cipher, nonce, aad, buf)
}

/// AES-GCM open in place: verifies `tag` in constant time first and decrypts only if it
/// matches (on failure `buf` still holds the ciphertext).
pub fn gcm_open<C>(
    cipher: &C,
    nonce: &[u8; 12],
    aad: &[u8],
    buf: &mut [u8],
    tag: &[u8; 16],
) -> Result<(), BadTag>
where
    C: BlockEncrypt + BlockSizeUser<BlockSize = U16>,
{
    let expected = gcm_tag(cipher, nonce, aad, buf);
    if !tags_equal(&expected, tag) {
        return Err(BadTag);
    }
    gcm_ctr(cipher, nonce, buf);
    Ok(())
}

/// Raw primitives, exposed for known-answer tests, fuzzing and benches only.
///
/// **Hazardous**: no IV/nonce management, no encrypt-then-MAC ordering; not a stable API.
/// Use [`crate::format`] for tickets.
#[doc(hidden)]
pub mod hazmat {
    pub use super::{
        AEAD_KEY_INFO, BLOCK, BadPadding, BadTag, XaesKey, cbc_decrypt, cbc_encrypt,
        derive_aead_key, gcm_open, gcm_seal, hmac_sha256, hmac_states, pkcs7_pad, pkcs7_padded_len,
        pkcs7_unpad, tags_equal,
    };
}

#[cfg(test)]
mod tests {
    use hmac::{Hmac, Mac};

    use super::*;

    fn reference_hmac(key: &[u8], msg: &[u8]) -> [u8; 32] {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
        m.update(msg);
        m.finalize().into_bytes().into()
    }

    #[test]
    fn hmac_matches_hmac_crate_for_every_length() {
        let msg: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
        for key_len in [1usize, 16, 32, 63, 64, 65, 131] {
            let key: Vec<u8> = (0..key_len).map(|i| i as u8 ^ 0xa5).collect();
            let (inner, outer) = hmac_states(&key);
            for len in 0..=msg.len() {
                let want = reference_hmac(&key, &msg[..len]);
                assert_eq!(
                    hmac_sha256(&inner, &outer, &[&msg[..len]]),
                    want,
                    "key {key_len} len {len}"
                );
                // The same message split into parts at awkward places.
                let (a, b) = msg[..len].split_at(len / 3);
                let (b, c) = b.split_at(b.len() / 2);
                assert_eq!(hmac_sha256(&inner, &outer, &[a, &[], b, c]), want);
            }
        }
    }

    #[test]
    fn unpad_accepts_exactly_valid_padding() {
        for pad in 0u16..=255 {
            let mut block = [0x11u8; 32];
            block[32 - 16..].fill(pad as u8);
            let ok = (1..=16).contains(&pad);
            assert_eq!(pkcs7_unpad(&block).is_ok(), ok, "pad {pad}");
            if ok {
                assert_eq!(pkcs7_unpad(&block), Ok(32 - usize::from(pad)));
                // Break each padding byte in turn.
                for i in 0..usize::from(pad) {
                    let mut broken = block;
                    broken[31 - i] ^= 0x40;
                    assert_eq!(pkcs7_unpad(&broken), Err(BadPadding));
                }
            }
        }
        assert_eq!(pkcs7_unpad(&[]), Err(BadPadding));
        assert_eq!(pkcs7_unpad(&[1; 17]), Err(BadPadding));
    }

    #[test]
    fn pad_then_unpad() {
        for len in 0..50 {
            let mut buf = vec![0xeeu8; pkcs7_padded_len(len)];
            assert!(pkcs7_pad(&mut buf, len));
            assert_eq!(pkcs7_unpad(&buf), Ok(len));
            assert!(!pkcs7_pad(&mut buf[1..], len));
        }
    }

    #[test]
    fn cbc_round_trip_across_parallel_chunk_edges() {
        let key = aes::Aes256::new(&[7u8; 32].into());
        let iv = [9u8; 16];
        for blocks in 0..=20 {
            let pt: Vec<u8> = (0..blocks * 16).map(|i| i as u8).collect();
            let mut buf = pt.clone();
            cbc_encrypt(&key, &iv, &mut buf);
            // Serial reference decryption.
            let mut serial = buf.clone();
            let mut prev = iv;
            for c in serial.chunks_exact_mut(16) {
                let ct: [u8; 16] = c.try_into().unwrap();
                let mut b = Block::from(ct);
                key.decrypt_block(&mut b);
                for (o, (d, p)) in c.iter_mut().zip(b.iter().zip(prev)) {
                    *o = d ^ p;
                }
                prev = ct;
            }
            assert_eq!(serial, pt);
            cbc_decrypt(&key, &iv, &mut buf);
            assert_eq!(buf, pt);
        }
    }

    #[test]
    fn aead_key_is_separated_from_cbc_keys() {
        let k = derive_aead_key(&[1; 16], &[2; 16]);
        assert_ne!(&k[..16], &[1; 16]);
        assert_ne!(k, derive_aead_key(&[1; 16], &[3; 16]));
        assert_ne!(k, derive_aead_key(&[2; 16], &[1; 16]));
    }
}
