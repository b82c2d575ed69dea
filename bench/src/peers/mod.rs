//! The peers: other ways to seal and open session tickets, each run the way its users run it.
//! None is tuned down: where a peer's own API allows a cheaper call (output buffers reused, keys
//! prepared once) the peer gets it, unless the point of the peer is that its users don't
//! (`openssl-evp` and `rustcrypto-naive` set contexts up per ticket because that is what
//! nginx/HAProxy and a straightforward RustCrypto user do; `rustcrypto-prekeyed` is the same
//! code with that cost removed).
//!
//! | impl                  | format          | per ticket                                             |
//! |-----------------------|-----------------|--------------------------------------------------------|
//! | `openssl-evp`         | `openssl`       | fresh `EVP_CIPHER_CTX` + HMAC context, AES-128-CBC + HMAC-SHA-256 |
//! | `rustls-ring`         | `rustls`        | rustls 0.23 `crypto::ring::Ticketer` (ChaCha20-Poly1305, rotator lock) |
//! | `rustcrypto-naive`    | `rfc5077`       | `cbc` + `hmac` keyed from raw bytes                    |
//! | `rustcrypto-prekeyed` | `rfc5077`       | cipher and HMAC keyed once, cloned                     |
//! | `rustcrypto-prekeyed` | `aead`          | `aes-gcm` `Aes256Gcm` keyed once, 96-bit random nonce  |
//! | `go-style-8keys`      | `go`            | Go crypto/tls: no key name, every key's HMAC tried     |

mod go_style;
mod openssl_evp;
mod rustcrypto;
mod rustls_ring;

pub use go_style::GoStyle;
pub use openssl_evp::OpensslEvp;
pub use rustcrypto::{RustCryptoGcm, RustCryptoNaive, RustCryptoPrekeyed};
pub use rustls_ring::RustlsRing;

use core::fmt;

/// Why a peer did not seal or open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerError {
    /// The ticket was rejected (the server would do a full handshake).
    Rejected,
    /// The library failed (never expected in a bench).
    Library(String),
}

impl fmt::Display for PeerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rejected => f.write_str("ticket rejected"),
            Self::Library(e) => write!(f, "library error: {e}"),
        }
    }
}

impl std::error::Error for PeerError {}

impl From<openssl::error::ErrorStack> for PeerError {
    fn from(e: openssl::error::ErrorStack) -> Self {
        Self::Library(e.to_string())
    }
}

/// A ticket engine measured beside tessera.
pub trait Peer {
    /// The implementation name in reports (`openssl-evp`, ...).
    fn name(&self) -> &'static str;
    /// The ticket layout it produces (`openssl`, `rfc5077`, `aead`, `rustls`, `go`).
    fn format(&self) -> &'static str;
    /// Bytes at the start of a ticket that name the key (0: the format has no key name).
    fn name_len(&self) -> usize;
    /// Whether the format has CBC padding (the bad-padding class applies).
    fn has_padding(&self) -> bool;
    /// Seals `state` under the sealing key with a fresh random IV/nonce; `out` is replaced by
    /// the ticket (its buffer reused where the peer's API allows).
    fn seal(&mut self, state: &[u8], out: &mut Vec<u8>) -> Result<(), PeerError>;
    /// Opens `ticket`; `out` is replaced by the state.
    fn open(&mut self, ticket: &[u8], out: &mut Vec<u8>) -> Result<(), PeerError>;
}

/// Every peer over the fixture keys, in report order.
pub fn all(keys: &[crate::fixtures::KeyBytes]) -> Vec<Box<dyn Peer>> {
    vec![
        Box::new(OpensslEvp::new(keys).expect("OpenSSL keys")),
        Box::new(RustlsRing::new().expect("rustls ticketer")),
        Box::new(RustCryptoNaive::new(keys)),
        Box::new(RustCryptoPrekeyed::new(keys)),
        Box::new(RustCryptoGcm::new(keys)),
        Box::new(GoStyle::new(keys)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{self, RejectClass};
    use tessera::{TicketFormat, Ticketer};

    #[test]
    fn every_peer_round_trips_and_rejects_what_applies() {
        let keys = fixtures::keys();
        for mut p in all(&keys) {
            for size in fixtures::STATE_SIZES {
                let state = &fixtures::states(1, size)[0];
                let (mut ticket, mut back) = (Vec::new(), Vec::new());
                p.seal(state, &mut ticket).unwrap();
                p.open(&ticket, &mut back).unwrap();
                assert_eq!(&back, state, "{} {size}", p.name());
                for class in [RejectClass::BadMac, RejectClass::MalformedLength] {
                    let bad = fixtures::corrupt(class, &ticket, p.name_len());
                    assert_eq!(
                        p.open(&bad, &mut back),
                        Err(PeerError::Rejected),
                        "{} {class:?}",
                        p.name()
                    );
                }
                let forged = fixtures::corrupt(
                    RejectClass::UnknownKey,
                    &ticket,
                    // Go-style has no name: the first 16 bytes (its IV) change, so no MAC matches.
                    16,
                );
                assert_eq!(
                    p.open(&forged, &mut back),
                    Err(PeerError::Rejected),
                    "{}",
                    p.name()
                );
            }
        }
    }

    #[test]
    fn cbc_peers_interoperate_with_tessera() {
        let keys = fixtures::keys();
        let state = &fixtures::states(1, 128)[0];
        let mut out = Vec::new();
        let cases: [(Box<dyn Peer>, TicketFormat); 3] = [
            (
                Box::new(OpensslEvp::new(&keys).unwrap()),
                TicketFormat::OpenSsl,
            ),
            (Box::new(RustCryptoNaive::new(&keys)), TicketFormat::Rfc5077),
            (
                Box::new(RustCryptoPrekeyed::new(&keys)),
                TicketFormat::Rfc5077,
            ),
        ];
        for (mut p, format) in cases {
            let t = Ticketer::new(fixtures::ring(), format);
            let mut ticket = Vec::new();
            p.seal(state, &mut ticket).unwrap();
            out.clear(); // open_at appends
            t.open_at(&ticket, 0, &mut out).unwrap();
            assert_eq!(&out, state, "tessera opens {}", p.name());
            let ours = t.seal(state).unwrap();
            p.open(&ours, &mut out).unwrap();
            assert_eq!(&out, state, "{} opens tessera's", p.name());
            let bad = fixtures::bad_padding_cbc(format, &keys[2], [5; 16], 128);
            assert_eq!(
                p.open(&bad, &mut out),
                Err(PeerError::Rejected),
                "{}",
                p.name()
            );
        }
    }

    #[test]
    fn go_style_tries_every_key() {
        let keys = fixtures::keys();
        let state = &fixtures::states(1, 64)[0];
        let mut old = GoStyle::new(&keys).sealing_with(7);
        let (mut ticket, mut back) = (Vec::new(), Vec::new());
        old.seal(state, &mut ticket).unwrap();
        GoStyle::new(&keys).open(&ticket, &mut back).unwrap();
        assert_eq!(&back, state);
        GoStyle::new(&keys[..7])
            .open(&ticket, &mut back)
            .unwrap_err();
    }
}
