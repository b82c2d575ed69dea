//! What Go's crypto/tls does (`ticket.go`, `encryptTicket`/`decryptTicket`): tickets carry no
//! key name, so the opener computes the HMAC under every key of its ring until one matches.
//! Layout `iv[16] AES-128-CTR(state) HMAC-SHA-256(iv|ct)[32]`; like Go, the HMAC is set up
//! (`hmac.New`) per key tried and the AES key expanded (`aes.NewCipher`) per ticket.
//!
//! Go keeps up to 8 automatic keys (one per day, 7 days of validity), so a forged ticket, or
//! one from another server, costs 8 HMACs; a valid ticket under the newest key costs 1. That
//! is what tessera's key name buys: an unknown name is rejected after a table lookup.

use aes::Aes128;
use aes::cipher::{KeyIvInit, StreamCipher};
use hmac::{Hmac, Mac};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use sha2::Sha256;

use super::{Peer, PeerError};
use crate::fixtures::KeyBytes;

type HmacSha256 = Hmac<Sha256>;
type Aes128Ctr = ctr::Ctr128BE<Aes128>;

const IV: usize = 16;
const MAC: usize = 32;

/// A Go-style ticketer over a ring of keys without names.
pub struct GoStyle {
    keys: Vec<KeyBytes>,
    rng: ChaCha20Rng,
    sealing: usize,
}

impl GoStyle {
    /// A ring over `keys` (`keys[0]` seals, as Go's newest key does).
    pub fn new(keys: &[KeyBytes]) -> Self {
        Self {
            keys: keys.to_vec(),
            rng: ChaCha20Rng::from_entropy(),
            sealing: 0,
        }
    }

    /// Seals with `keys[i]` instead (a ticket from an older key: the opener tries i+1 MACs).
    pub fn sealing_with(mut self, i: usize) -> Self {
        self.sealing = i.min(self.keys.len().saturating_sub(1));
        self
    }
}

impl Peer for GoStyle {
    fn name(&self) -> &'static str {
        "go-style-8keys"
    }

    fn format(&self) -> &'static str {
        "go"
    }

    fn name_len(&self) -> usize {
        0
    }

    fn has_padding(&self) -> bool {
        false
    }

    fn seal(&mut self, state: &[u8], out: &mut Vec<u8>) -> Result<(), PeerError> {
        let key = self.keys.get(self.sealing).ok_or(PeerError::Rejected)?;
        let mut iv = [0u8; IV];
        self.rng.fill_bytes(&mut iv);
        out.clear();
        out.extend_from_slice(&iv);
        out.extend_from_slice(state);
        Aes128Ctr::new(&key.aes.into(), &iv.into()).apply_keystream(&mut out[IV..]);
        let mut mac =
            <HmacSha256 as Mac>::new_from_slice(&key.hmac).expect("HMAC takes any key length");
        mac.update(out);
        out.extend_from_slice(&mac.finalize().into_bytes());
        Ok(())
    }

    fn open(&mut self, ticket: &[u8], out: &mut Vec<u8>) -> Result<(), PeerError> {
        if ticket.len() < IV + MAC {
            return Err(PeerError::Rejected);
        }
        let (signed, tag) = ticket.split_at(ticket.len() - MAC);
        let key = self
            .keys
            .iter()
            .find(|k| {
                let mut mac = <HmacSha256 as Mac>::new_from_slice(&k.hmac)
                    .expect("HMAC takes any key length");
                mac.update(signed);
                mac.verify_slice(tag).is_ok()
            })
            .ok_or(PeerError::Rejected)?;
        let iv: [u8; 16] = signed[..IV].try_into().expect("16 bytes");
        out.clear();
        out.extend_from_slice(&signed[IV..]);
        Aes128Ctr::new(&key.aes.into(), &iv.into()).apply_keystream(out);
        Ok(())
    }
}
