//! Resource bounds (issue 7): a ticket longer than the longest this ring can issue is rejected
//! as `TooLong` before any key lookup, and so before any crypto (as rustls does). Lookups are
//! counted through the lookup closure; the tickets are genuine (sealed by the ring's own key,
//! only with a longer state), so nothing but the length bound stands between them and `Ok`.

use std::cell::Cell;

use tessera::format::{self, MAX_TICKET_LEN, TicketFormat};
use tessera::{CipherKind, KeyRing, RejectReason, TicketKey, Ticketer};

fn key(cipher: CipherKind) -> TicketKey {
    let n = cipher.key_len();
    let name: [u8; 16] = core::array::from_fn(|i| 0xc0 ^ i as u8);
    let aes: Vec<u8> = (0..n as u8).map(|i| i.wrapping_mul(29) ^ 0x5a).collect();
    let hmac: Vec<u8> = (0..n as u8).map(|i| i.wrapping_mul(17) ^ 0xa5).collect();
    TicketKey::new(name, &aes, &hmac).unwrap()
}

/// Opens `ticket` with a ring whose longest state is `max_state`; returns the result and how
/// many times the key lookup ran.
fn open_counting(
    f: TicketFormat,
    key: &TicketKey,
    ticket: &[u8],
    max_state: usize,
    out_len: usize,
) -> (Result<usize, RejectReason>, usize) {
    let lookups = Cell::new(0usize);
    let mut out = vec![0u8; out_len];
    let r = format::open_into(
        f,
        ticket,
        f.max_ticket_len(max_state),
        |name| {
            lookups.set(lookups.get() + 1);
            (name == &key.name().0).then_some(key)
        },
        &mut out,
    );
    (
        r.map(|o| o.state_len).map_err(|e| e.reason()),
        lookups.get(),
    )
}

fn seal(f: TicketFormat, key: &TicketKey, len: usize) -> Vec<u8> {
    let mut t = Vec::new();
    let state: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
    format::seal_with_iv(f, key, &vec![0x19; f.iv_len()], &state, &mut t).unwrap();
    t
}

#[test]
fn longer_than_the_ring_issues_is_too_long_before_any_lookup() {
    let mut checked = 0;
    for cipher in [CipherKind::Aes128, CipherKind::Aes256] {
        let key = key(cipher);
        for f in TicketFormat::ALL {
            for max_state in [0usize, 1, 113, 500, 16 * 1024] {
                let bound = f.max_ticket_len(max_state);
                // At the bound: one lookup, and it opens.
                let at_bound = seal(f, &key, max_state);
                assert_eq!(at_bound.len(), bound);
                let (r, lookups) =
                    open_counting(f, &key, &at_bound, max_state, f.open_buf_len(bound));
                assert_eq!((r, lookups), (Ok(max_state), 1), "{f} {max_state}");
                // Genuine tickets for longer states: every one is TooLong with no lookup. The
                // output buffer is big enough, so only the length bound can refuse them.
                // The shortest longer state whose ticket is longer (CBC pads states of one
                // block to the same length), a block more, and far more.
                let next = (max_state + 1..)
                    .find(|&s| f.sealed_len(s) > bound)
                    .unwrap();
                for longer_state in [next, next + 16, max_state + 1000] {
                    let t = seal(f, &key, longer_state);
                    assert!(t.len() > bound);
                    let (r, lookups) =
                        open_counting(f, &key, &t, max_state, f.open_buf_len(t.len()));
                    assert_eq!(
                        r,
                        Err(RejectReason::TooLong),
                        "{f} {max_state} {longer_state}"
                    );
                    assert_eq!(lookups, 0, "{f}: lookup ran for an over-long ticket");
                    checked += 1;
                }
            }
            // Whatever the caller's bound, nothing above 2^16-1 bytes (the most a
            // NewSessionTicket can carry) reaches the lookup; nor does a megabyte.
            for len in [MAX_TICKET_LEN + 1, 1 << 20] {
                let mut t = seal(f, &key, 40);
                t.resize(len, 0x42);
                let lookups = Cell::new(0usize);
                let mut out = vec![0u8; f.open_buf_len(len)];
                let r = format::open_into(
                    f,
                    &t,
                    usize::MAX,
                    |_| {
                        lookups.set(lookups.get() + 1);
                        Some(&key)
                    },
                    &mut out,
                );
                assert_eq!(r.unwrap_err().reason(), RejectReason::TooLong);
                assert_eq!(lookups.get(), 0);
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 2 * 3 * (5 * 3 + 2));
}

#[test]
fn output_buffer_too_small_is_refused_before_any_lookup() {
    let key = key(CipherKind::Aes128);
    for f in TicketFormat::ALL {
        let t = seal(f, &key, 113);
        let need = f.open_buf_len(t.len());
        let (r, lookups) = open_counting(f, &key, &t, 113, need - 1);
        assert_eq!((r, lookups), (Err(RejectReason::TooLong), 0), "{f}");
        let (r, lookups) = open_counting(f, &key, &t, 113, need);
        assert_eq!((r, lookups), (Ok(113), 1), "{f}");
    }
}

#[test]
fn ticketer_refuses_tickets_longer_than_it_issues() {
    for f in TicketFormat::ALL {
        let ring = KeyRing::single(key(CipherKind::Aes256));
        let roomy = Ticketer::new(ring, f);
        let strict = Ticketer::with_shared(roomy.keys().clone(), f).with_max_state_len(200);
        let mut out = Vec::new();
        // Same ring, same key: the strict ticketer would open it but for its length. (The
        // bound is in ticket bytes: CBC tickets of 201..=207-byte states are as long as those
        // of 200-byte ones and do open; 208 bytes takes one more block.)
        let longer = if f == TicketFormat::Aead { 201 } else { 208 };
        let long = roomy.seal(&vec![7u8; longer]).unwrap();
        assert!(long.len() > strict.max_ticket_len());
        assert!(roomy.open(&long, &mut out).is_ok());
        out.clear();
        let r = strict.open(&long, &mut out).unwrap_err();
        assert_eq!(r.reason(), RejectReason::TooLong, "{f}");
        assert!(out.is_empty());
        let fits = roomy.seal(&[7u8; 200]).unwrap();
        assert_eq!(fits.len(), strict.max_ticket_len());
        assert!(strict.open(&fits, &mut out).is_ok());
    }
}
