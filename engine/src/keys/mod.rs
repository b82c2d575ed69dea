//! Ticket keys: one key ([`TicketKey`]), the ring of keys a server holds ([`KeyRing`],
//! [`SharedKeyRing`]), the key files fleets already use ([`file`](mod@file)), and fleet-wide
//! derivation ([`FleetDeriver`]).
//!
//! ```
//! use tessera::keys::{
//!     CipherKind, KeyFileFormat, KeyRing, KeyRole, SharedKeyRing, TicketKey, parse_key_file,
//!     write_key_file,
//! };
//!
//! // A HAProxy-style file: the second-to-last line seals.
//! let keys: Vec<TicketKey> =
//!     (0..3).map(|_| TicketKey::generate(CipherKind::Aes128)).collect::<Result<_, _>>()?;
//! let file = write_key_file(
//!     KeyFileFormat::Haproxy48,
//!     &[
//!         (&keys[0], KeyRole::OpeningOnly),
//!         (&keys[1], KeyRole::Sealing),
//!         (&keys[2], KeyRole::OpeningOnly),
//!     ],
//! )?;
//! let ring = KeyRing::from_roles(parse_key_file(&file, None, "tls-ticket-keys")?)?;
//! let shared = SharedKeyRing::new(ring);
//!
//! // Hot path: a lock-free snapshot, constant-time lookup by the ticket's key name.
//! let snapshot = shared.load();
//! assert_eq!(snapshot.sealing_key().name(), keys[1].name());
//! let (_, role) = snapshot.find(&keys[2].name().0).expect("present");
//! assert_eq!(role, KeyRole::OpeningOnly);
//! # Ok::<(), tessera::Error>(())
//! ```
#![forbid(unsafe_code)]

pub mod file;
mod fleet;
mod key;
mod ring;

pub(crate) use key::is_weak;

pub use file::{
    KeyFileFormat, MAX_KEY_FILE_LEN, check_permissions, load_key_files, load_key_files_checked,
    parse_key_file, parse_key_file_detailed, read_key_file, save_key_file, write_key_file,
    write_ring,
};
pub use fleet::{FleetDeriver, MAX_PREVIOUS_EPOCHS, MIN_FLEET_SECRET_LEN};
pub use key::{CipherKind, KeyName, KeyTimes, TicketKey};
pub use ring::{KeyRing, KeyRole, SCAN_MAX_KEYS, SharedKeyRing};
