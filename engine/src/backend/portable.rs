//! Portable crypto through the RustCrypto crates (which carry their own AES-NI / ARMv8 paths).

use aes::cipher::KeyInit;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::keys::CipherKind;

/// An expanded AES key (the `aes` crate zeroizes its schedules on drop).
#[derive(Clone)]
pub(crate) enum AesKey {
    Aes128(aes::Aes128),
    Aes256(aes::Aes256),
}

/// Per-key precomputation shared by every backend.
#[derive(Clone)]
pub(crate) struct KeyMaterial {
    pub(crate) aes: AesKey,
    /// SHA-256 state after compressing `hmac_key ^ ipad` (one block).
    pub(crate) hmac_inner: [u32; 8],
    /// SHA-256 state after compressing `hmac_key ^ opad` (one block).
    pub(crate) hmac_outer: [u32; 8],
}

impl Drop for KeyMaterial {
    fn drop(&mut self) {
        self.hmac_inner.zeroize();
        self.hmac_outer.zeroize();
    }
}
impl ZeroizeOnDrop for KeyMaterial {}

pub(crate) const SHA256_IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// SHA-256 state after one block of `key ^ pad` (key <= 64 bytes, zero-extended).
fn hmac_half(key: &[u8], pad: u8) -> [u32; 8] {
    let mut block = [pad; 64];
    for (b, k) in block.iter_mut().zip(key) {
        *b ^= k;
    }
    let mut state = SHA256_IV;
    sha2::compress256(&mut state, &[block.into()]);
    block.zeroize();
    state
}

impl KeyMaterial {
    /// `aes_key` has the length of `cipher`; `hmac_key` is at most 64 bytes.
    pub(crate) fn new(cipher: CipherKind, aes_key: &[u8], hmac_key: &[u8]) -> Self {
        let aes = match cipher {
            CipherKind::Aes128 => AesKey::Aes128(aes::Aes128::new_from_slice(aes_key).expect("16-byte key")),
            CipherKind::Aes256 => AesKey::Aes256(aes::Aes256::new_from_slice(aes_key).expect("32-byte key")),
        };
        Self { aes, hmac_inner: hmac_half(hmac_key, 0x36), hmac_outer: hmac_half(hmac_key, 0x5c) }
    }
}
