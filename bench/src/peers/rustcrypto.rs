//! The RustCrypto crates used directly, RFC 5077 layout (`key_name[16] iv[16] u16 len
//! AES-128-CBC(PKCS#7(state)) HMAC-SHA-256(name|iv|len|ct)[32]`, what tessera's `rfc5077`
//! format opens), plus an AES-GCM variant for the AEAD row. Both CBC variants run the same
//! checks in the same order as tessera (length and layout, key name, MAC in constant time,
//! then decryption and padding); they differ only in keying:
//! - naive: `cbc::Encryptor::<Aes128>::new` and `Hmac::<Sha256>::new_from_slice` per ticket
//!   (an AES key expansion and two SHA-256 blocks of HMAC key setup every time);
//! - pre-keyed: `Aes128Enc`/`Aes128Dec` and `Hmac<Sha256>` built once per key and cloned
//!   per ticket (what a careful user of these crates writes).
//!
//! IVs and nonces come from a ChaCha20 generator seeded once from the OS (the shape of
//! `rand::thread_rng`), not a syscall per ticket.

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockDecryptMut, BlockEncryptMut, InnerIvInit, KeyInit, KeyIvInit};
use aes::{Aes128, Aes128Dec, Aes128Enc};
use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes256Gcm, Nonce};
use hmac::{Hmac, Mac};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::{Peer, PeerError};
use crate::fixtures::KeyBytes;

type HmacSha256 = Hmac<Sha256>;

const NAME: usize = 16;
const IV: usize = 16;
const HEAD: usize = NAME + IV + 2;
const MAC: usize = 32;

/// The key whose name is `name`, compared in constant time against every key.
fn find<'k, K>(keys: &'k [K], name: &[u8], key_name: impl Fn(&K) -> &[u8; 16]) -> Option<&'k K> {
    let mut found = None;
    for k in keys {
        if bool::from(key_name(k).ct_eq(name)) {
            found = Some(k);
        }
    }
    found
}

/// Length and layout checks of the `rfc5077` layout: returns the ciphertext length.
fn check_layout(ticket: &[u8]) -> Result<usize, PeerError> {
    if ticket.len() < HEAD + 16 + MAC {
        return Err(PeerError::Rejected);
    }
    let body = ticket.len() - HEAD - MAC;
    let declared = usize::from(u16::from_be_bytes([
        ticket[NAME + IV],
        ticket[NAME + IV + 1],
    ]));
    if declared != body || !body.is_multiple_of(16) {
        return Err(PeerError::Rejected);
    }
    Ok(body)
}

fn write_head(out: &mut Vec<u8>, name: &[u8; 16], iv: &[u8; 16], state_len: usize) {
    out.clear();
    out.extend_from_slice(name);
    out.extend_from_slice(iv);
    let body = (state_len / 16 + 1) * 16;
    out.extend_from_slice(&(body as u16).to_be_bytes());
    out.resize(HEAD + body, 0);
}

fn fresh_rng() -> ChaCha20Rng {
    ChaCha20Rng::from_entropy()
}

/// RustCrypto `cbc` + `hmac`, everything keyed from raw bytes per ticket.
pub struct RustCryptoNaive {
    keys: Vec<KeyBytes>,
    rng: ChaCha20Rng,
}

impl RustCryptoNaive {
    /// A ring over `keys` (`keys[0]` seals).
    pub fn new(keys: &[KeyBytes]) -> Self {
        Self {
            keys: keys.to_vec(),
            rng: fresh_rng(),
        }
    }
}

impl Peer for RustCryptoNaive {
    fn name(&self) -> &'static str {
        "rustcrypto-naive"
    }

    fn format(&self) -> &'static str {
        "rfc5077"
    }

    fn name_len(&self) -> usize {
        NAME
    }

    fn has_padding(&self) -> bool {
        true
    }

    fn seal(&mut self, state: &[u8], out: &mut Vec<u8>) -> Result<(), PeerError> {
        let key = self.keys.first().ok_or(PeerError::Rejected)?;
        let mut iv = [0u8; IV];
        self.rng.fill_bytes(&mut iv);
        write_head(out, &key.name, &iv, state.len());
        let enc = cbc::Encryptor::<Aes128>::new(&key.aes.into(), &iv.into());
        enc.encrypt_padded_b2b_mut::<Pkcs7>(state, &mut out[HEAD..])
            .map_err(|e| PeerError::Library(e.to_string()))?;
        let mut mac =
            <HmacSha256 as Mac>::new_from_slice(&key.hmac).expect("HMAC takes any key length");
        mac.update(out);
        out.extend_from_slice(&mac.finalize().into_bytes());
        Ok(())
    }

    fn open(&mut self, ticket: &[u8], out: &mut Vec<u8>) -> Result<(), PeerError> {
        let body = check_layout(ticket)?;
        let key = find(&self.keys, &ticket[..NAME], |k| &k.name).ok_or(PeerError::Rejected)?;
        let (signed, tag) = ticket.split_at(HEAD + body);
        let mut mac =
            <HmacSha256 as Mac>::new_from_slice(&key.hmac).expect("HMAC takes any key length");
        mac.update(signed);
        mac.verify_slice(tag).map_err(|_| PeerError::Rejected)?;
        let iv: [u8; 16] = ticket[NAME..NAME + IV].try_into().expect("16 bytes");
        out.clear();
        out.extend_from_slice(&signed[HEAD..]);
        let dec = cbc::Decryptor::<Aes128>::new(&key.aes.into(), &iv.into());
        let len = dec
            .decrypt_padded_mut::<Pkcs7>(out)
            .map_err(|_| PeerError::Rejected)?
            .len();
        out.truncate(len);
        Ok(())
    }
}

struct Prepared {
    name: [u8; 16],
    enc: Aes128Enc,
    dec: Aes128Dec,
    mac: HmacSha256,
}

/// RustCrypto `cbc` + `hmac`, keyed once per key and cloned per ticket.
pub struct RustCryptoPrekeyed {
    keys: Vec<Prepared>,
    rng: ChaCha20Rng,
}

impl RustCryptoPrekeyed {
    /// A ring over `keys` (`keys[0]` seals).
    pub fn new(keys: &[KeyBytes]) -> Self {
        Self {
            keys: keys.iter().map(Self::prepare).collect(),
            rng: fresh_rng(),
        }
    }

    fn prepare(k: &KeyBytes) -> Prepared {
        Prepared {
            name: k.name,
            enc: Aes128Enc::new(&k.aes.into()),
            dec: Aes128Dec::new(&k.aes.into()),
            mac: <HmacSha256 as Mac>::new_from_slice(&k.hmac).expect("HMAC takes any key length"),
        }
    }

    /// One key's setup (the key-setup bench measures it).
    pub fn key_setup(k: &KeyBytes) -> impl Sized {
        Self::prepare(k)
    }
}

impl Peer for RustCryptoPrekeyed {
    fn name(&self) -> &'static str {
        "rustcrypto-prekeyed"
    }

    fn format(&self) -> &'static str {
        "rfc5077"
    }

    fn name_len(&self) -> usize {
        NAME
    }

    fn has_padding(&self) -> bool {
        true
    }

    fn seal(&mut self, state: &[u8], out: &mut Vec<u8>) -> Result<(), PeerError> {
        let key = self.keys.first().ok_or(PeerError::Rejected)?;
        let mut iv = [0u8; IV];
        self.rng.fill_bytes(&mut iv);
        write_head(out, &key.name, &iv, state.len());
        let enc = cbc::Encryptor::inner_iv_init(key.enc.clone(), &iv.into());
        enc.encrypt_padded_b2b_mut::<Pkcs7>(state, &mut out[HEAD..])
            .map_err(|e| PeerError::Library(e.to_string()))?;
        let mut mac = key.mac.clone();
        mac.update(out);
        out.extend_from_slice(&mac.finalize().into_bytes());
        Ok(())
    }

    fn open(&mut self, ticket: &[u8], out: &mut Vec<u8>) -> Result<(), PeerError> {
        let body = check_layout(ticket)?;
        let key = find(&self.keys, &ticket[..NAME], |k| &k.name).ok_or(PeerError::Rejected)?;
        let (signed, tag) = ticket.split_at(HEAD + body);
        let mut mac = key.mac.clone();
        mac.update(signed);
        mac.verify_slice(tag).map_err(|_| PeerError::Rejected)?;
        let iv: [u8; 16] = ticket[NAME..NAME + IV].try_into().expect("16 bytes");
        out.clear();
        out.extend_from_slice(&signed[HEAD..]);
        let dec = cbc::Decryptor::inner_iv_init(key.dec.clone(), &iv.into());
        let len = dec
            .decrypt_padded_mut::<Pkcs7>(out)
            .map_err(|_| PeerError::Rejected)?
            .len();
        out.truncate(len);
        Ok(())
    }
}

const NONCE: usize = 12;
const TAG: usize = 16;

/// RustCrypto `aes-gcm`, AES-256-GCM keyed once per key: `key_name[16] nonce[12] ct tag[16]`,
/// key name as associated data. (tessera's `aead` is XAES-256-GCM with 192-bit nonces: safer
/// nonce bounds at a fixed extra cost per ticket; this is the plain-AES-GCM baseline.)
pub struct RustCryptoGcm {
    keys: Vec<([u8; 16], Aes256Gcm)>,
    rng: ChaCha20Rng,
}

impl RustCryptoGcm {
    /// A ring over `keys` (`keys[0]` seals); the 32-byte GCM key is a key's AES || HMAC bytes.
    pub fn new(keys: &[KeyBytes]) -> Self {
        Self {
            keys: keys.iter().map(|k| (k.name, Self::key_setup(k))).collect(),
            rng: fresh_rng(),
        }
    }

    /// One key's setup (the key-setup bench measures it).
    pub fn key_setup(k: &KeyBytes) -> Aes256Gcm {
        let mut raw = [0u8; 32];
        raw[..16].copy_from_slice(&k.aes);
        raw[16..].copy_from_slice(&k.hmac);
        Aes256Gcm::new(&raw.into())
    }
}

impl Peer for RustCryptoGcm {
    fn name(&self) -> &'static str {
        "rustcrypto-prekeyed"
    }

    fn format(&self) -> &'static str {
        "aead"
    }

    fn name_len(&self) -> usize {
        NAME
    }

    fn has_padding(&self) -> bool {
        false
    }

    fn seal(&mut self, state: &[u8], out: &mut Vec<u8>) -> Result<(), PeerError> {
        let (name, key) = self.keys.first().ok_or(PeerError::Rejected)?;
        let mut nonce = [0u8; NONCE];
        self.rng.fill_bytes(&mut nonce);
        out.clear();
        out.extend_from_slice(name);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(state);
        let tag = key
            .encrypt_in_place_detached(Nonce::from_slice(&nonce), name, &mut out[NAME + NONCE..])
            .map_err(|e| PeerError::Library(e.to_string()))?;
        out.extend_from_slice(&tag);
        Ok(())
    }

    fn open(&mut self, ticket: &[u8], out: &mut Vec<u8>) -> Result<(), PeerError> {
        if ticket.len() < NAME + NONCE + TAG {
            return Err(PeerError::Rejected);
        }
        let (name, key) = find(&self.keys, &ticket[..NAME], |k| &k.0).ok_or(PeerError::Rejected)?;
        let (head, rest) = ticket.split_at(NAME + NONCE);
        let (ct, tag) = rest.split_at(rest.len() - TAG);
        out.clear();
        out.extend_from_slice(ct);
        key.decrypt_in_place_detached(Nonce::from_slice(&head[NAME..]), name, out, tag.into())
            .map_err(|_| {
                out.clear();
                PeerError::Rejected
            })
    }
}
