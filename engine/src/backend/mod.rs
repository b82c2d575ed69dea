//! THE dispatch point for the crypto behind every ticket format.
//!
//! Key setup builds a [`KeyMaterial`] once per key (expanded AES schedules, HMAC inner/outer
//! states precomputed so a ticket costs no ipad/opad compressions).

mod portable;

pub(crate) use portable::KeyMaterial;
#[doc(hidden)]
pub use portable::hazmat;
