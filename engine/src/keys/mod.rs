//! Ticket keys: one key ([`TicketKey`]), the ring of keys a server holds ([`KeyRing`]), the key
//! files fleets already use, and fleet-wide derivation.
#![forbid(unsafe_code)]

mod key;

pub(crate) use key::is_weak;
pub use key::{CipherKind, KeyName, KeyTimes, TicketKey};
