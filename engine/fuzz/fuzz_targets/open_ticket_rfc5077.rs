//! Arbitrary bytes as a `rfc5077` ticket against the fixed fuzz ring, real crypto: never a panic,
//! open_into and open_with agree, and nothing opens that sealing would not produce.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera::format::TicketFormat;

fuzz_target!(|data: &[u8]| tessera_fuzz::open_real(TicketFormat::Rfc5077, data));
