//! Rough per-ticket cost of each format (seal and open of a 113-byte state, the size of an
//! nginx + OpenSSL 3 TLS 1.2 session). Ignored by default: timing is not a test. Run with
//! `cargo test -p tessera --test format_cost -- --ignored --nocapture`; the bench crate holds
//! the real measurements.

mod common;

use std::hint::black_box;
use std::time::Instant;

use common::{CIPHERS, state, test_key};
use tessera::format::{self, TicketFormat};

#[test]
#[ignore = "timing report, not a test"]
fn per_ticket_cost() {
    const N: u32 = 200_000;
    let st = state(113);
    for cipher in CIPHERS {
        let key = test_key(cipher);
        for f in TicketFormat::ALL {
            let iv = vec![0x42u8; f.iv_len()];
            let mut ticket = vec![0u8; f.sealed_len(st.len())];
            let t0 = Instant::now();
            for _ in 0..N {
                format::seal_into(f, &key, black_box(&iv), black_box(&st), &mut ticket).unwrap();
            }
            let seal = t0.elapsed() / N;
            let mut out = vec![0u8; f.open_buf_len(ticket.len())];
            let t0 = Instant::now();
            for _ in 0..N {
                format::open_into(f, black_box(&ticket), 4096, |_| Some(&key), &mut out).unwrap();
            }
            let open = t0.elapsed() / N;
            println!(
                "{f:8} {cipher:?}: seal {seal:?}/ticket, open {open:?}/ticket ({} bytes)",
                ticket.len()
            );
        }
    }
}
