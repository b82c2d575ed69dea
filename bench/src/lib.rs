//! Shared pieces of the tessera benches (`benches/`): the peers (other ticket engines, run the
//! way their users run them), the fixtures (states, keys, tickets for every rejection class)
//! and the run matrix (which sizes, batches and backends a run measures).
//!
//! The peers live here rather than in `benches/` so every bench shares one implementation and
//! the unit tests can check them against tessera's own formats: a peer that computed something
//! else would be measured for nothing.
#![forbid(unsafe_code)]

pub mod fixtures;
pub mod matrix;
pub mod peers;

pub use fixtures::{Fixtures, RejectClass, STATE_SIZES};
pub use matrix::Matrix;
