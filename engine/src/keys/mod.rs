//! Ticket keys: one key ([`TicketKey`]), the ring of keys a server holds ([`KeyRing`],
//! [`SharedKeyRing`]), the key files fleets already use ([`file`](mod@file)), and fleet-wide
//! derivation ([`FleetDeriver`]).
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
pub use ring::{KeyRing, KeyRole, SharedKeyRing};
