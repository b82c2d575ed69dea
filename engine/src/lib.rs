//! # tessera
//!
//! Seals and opens TLS session tickets (RFC 5077) at line rate.
//!
//! ## Security
//! A ticket is attacker-controlled input until its MAC verifies. Every ticket that fails to open
//! yields a [`Rejected`] (meaning: do a full handshake), never a panic or an alert.

#![cfg_attr(not(test), warn(missing_docs))]

pub mod backend;
pub mod batch;
#[cfg(test)]
mod drop_probe;
pub mod error;
pub mod format;
pub mod keys;
pub mod pool;
pub mod resume;
pub mod rotation;
#[cfg(feature = "rustls")]
pub mod rustls;
mod ticketer;
pub mod wire;

pub use batch::{Batch, StateBatch, TicketBatch};
pub use error::{Error, RejectReason, Rejected};
pub use format::TicketFormat;
pub use keys::{CipherKind, KeyName, KeyRing, KeyRole, KeyTimes, SharedKeyRing, TicketKey};
pub use rotation::{Clock, ManualClock, ReloadReport, RotationPolicy, Rotator, SystemClock};
pub use ticketer::{DEFAULT_MAX_STATE_LEN, OpenedTicket, Ticketer, unix_now};

/// README.md's Rust examples, compiled and run as doctests so the README never goes stale.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
