//! rustls 0.23's own ticketer for the *ring* provider, exactly as a rustls server gets it:
//! `rustls::crypto::ring::Ticketer::new()`, a `TicketRotator` (a lock and a clock read per
//! call, key rolled every 6 hours) over an AEAD ticketer (ChaCha20-Poly1305, random 96-bit
//! nonce from the OS per ticket, 16-byte key name as associated data). Its API returns a new
//! `Vec` per ticket; `out` takes it over without a copy.
//!
//! `rustls-aws-lc-rs` is not measured: aws-lc-sys builds AWS-LC from C sources with CMake (or
//! its cc-builder with extra tooling), which this project does not require of a fresh machine.

use std::sync::Arc;

use rustls::server::ProducesTickets;

use super::{Peer, PeerError};

/// rustls's ring-provider ticketer.
pub struct RustlsRing {
    ticketer: Arc<dyn ProducesTickets>,
}

impl RustlsRing {
    /// A fresh ticketer (random key, as rustls makes it).
    pub fn new() -> Result<Self, PeerError> {
        let ticketer =
            rustls::crypto::ring::Ticketer::new().map_err(|e| PeerError::Library(e.to_string()))?;
        Ok(Self { ticketer })
    }
}

impl Peer for RustlsRing {
    fn name(&self) -> &'static str {
        "rustls-ring"
    }

    fn format(&self) -> &'static str {
        "rustls"
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
