//! rustls 0.23's own ticketers, exactly as a rustls server gets them: `Ticketer::new()` of
//! the provider, a `TicketRotator` (a lock and a clock read per call, key rolled every 6
//! hours) over
//! - *ring*: an AEAD ticketer (ChaCha20-Poly1305, random 96-bit nonce from the OS per ticket,
//!   16-byte key name as associated data): format `rustls-aead`;
//! - *aws-lc-rs*: RFC 5077's recommended construction (AES-256-CBC, IV from the OS per ticket,
//!   HMAC-SHA-256 over name, IV, length and ciphertext; the ticket omits the length field):
//!   format `rustls-cbc`. aws-lc-sys builds AWS-LC with only a C compiler on x86_64 Linux.
//!
//! Their API returns a new `Vec` per ticket; `out` takes it over without a copy. Their keys
//! are random and internal, so the bad-padding class (which needs the MAC key) is not run.

use std::sync::Arc;

use ::rustls::server::ProducesTickets;

use super::{Peer, PeerError};

/// One of rustls's provider ticketers.
pub struct RustlsTicketer {
    ticketer: Arc<dyn ProducesTickets>,
    name: &'static str,
    format: &'static str,
}

impl RustlsTicketer {
    /// The *ring* provider's ticketer (random key, as rustls makes it).
    pub fn new() -> Result<Self, PeerError> {
        let ticketer = ::rustls::crypto::ring::Ticketer::new()
            .map_err(|e| PeerError::Library(e.to_string()))?;
        Ok(Self {
            ticketer,
            name: "rustls-ring",
            format: "rustls-aead",
        })
    }

    /// The *aws-lc-rs* provider's ticketer (random keys, as rustls makes them).
    pub fn aws_lc_rs() -> Result<Self, PeerError> {
        let ticketer = ::rustls::crypto::aws_lc_rs::Ticketer::new()
            .map_err(|e| PeerError::Library(e.to_string()))?;
        Ok(Self {
            ticketer,
            name: "rustls-aws-lc-rs",
            format: "rustls-cbc",
        })
    }
}

impl Peer for RustlsTicketer {
    fn name(&self) -> &'static str {
        self.name
    }

    fn format(&self) -> &'static str {
        self.format
    }

    fn name_len(&self) -> usize {
        16
    }

    fn has_padding(&self) -> bool {
        false
    }

    fn seal(&mut self, state: &[u8], out: &mut Vec<u8>) -> Result<(), PeerError> {
        *out = self
            .ticketer
            .encrypt(state)
            .ok_or_else(|| PeerError::Library("rustls encrypt failed".into()))?;
        Ok(())
    }

    fn open(&mut self, ticket: &[u8], out: &mut Vec<u8>) -> Result<(), PeerError> {
        *out = self.ticketer.decrypt(ticket).ok_or(PeerError::Rejected)?;
        Ok(())
    }
}
