//! Seal/open round trips for every format, both key sizes and many state sizes, through both
//! the allocation-free `_into` functions and the `Vec` wrappers.

mod common;

use common::{CIPHERS, state, test_key};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use tessera::format::{self, MAX_TICKET_LEN, TicketFormat};
use tessera::{Error, TicketKey};

fn round_trip(f: TicketFormat, key: &TicketKey, rng: &mut ChaCha20Rng, len: usize) {
    let st = state(len);
    let max = f.max_ticket_len(f.max_state_len());
    // Vec API, appending after existing bytes.
    let mut ticket = b"prefix".to_vec();
    format::seal(f, key, rng, &st, &mut ticket).unwrap();
    let ticket = &ticket[6..];
    assert_eq!(ticket.len(), f.sealed_len(len), "{f} {len}");
    assert!(ticket.len() <= MAX_TICKET_LEN);
    assert_eq!(format::key_name(f, ticket).unwrap(), &key.name().0);
    let mut out = b"old".to_vec();
    let opener = format::open_with(
        f,
        ticket,
        max,
        |n| (n == &key.name().0).then_some(key),
        &mut out,
    )
    .unwrap();
    assert_eq!(opener.name(), key.name());
    assert_eq!(&out[..3], b"old");
    assert_eq!(&out[3..], &st[..], "{f} {len}");

    // Slice API into exactly-sized buffers.
    let mut buf = vec![0u8; f.sealed_len(len)];
    let n = format::seal_into_rng(f, key, rng, &st, &mut buf).unwrap();
    assert_eq!(n, buf.len());
    let mut plain = vec![0u8; f.open_buf_len(n)];
    let opened = format::open_into(f, &buf, max, |_| Some(key), &mut plain).unwrap();
    assert_eq!(&plain[..opened.state_len], &st[..]);
    // Fresh randomness per ticket.
    assert_ne!(&buf[..], ticket);
}

#[test]
fn every_format_key_size_and_state_size() {
    let mut rng = ChaCha20Rng::seed_from_u64(5077);
    let mut count = 0;
    for cipher in CIPHERS {
        let key = test_key(cipher);
        for f in TicketFormat::ALL {
            for len in (0..=300).chain([2000, f.max_state_len() - 1, f.max_state_len()]) {
                round_trip(f, &key, &mut rng, len);
                count += 1;
            }
        }
    }
    assert_eq!(count, 2 * 3 * 304);
}

#[test]
fn oversize_state_is_refused() {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    for cipher in CIPHERS {
        let key = test_key(cipher);
        for f in TicketFormat::ALL {
            let too_long = state(f.max_state_len() + 1);
            let mut out = Vec::new();
            assert!(matches!(
                format::seal(f, &key, &mut rng, &too_long, &mut out),
                Err(Error::StateTooLong(n)) if n == too_long.len()
            ));
            assert!(out.is_empty());
            let mut buf = vec![0u8; 70_000];
            assert!(matches!(
                format::seal_into_rng(f, &key, &mut rng, &too_long, &mut buf),
                Err(Error::StateTooLong(_))
            ));
            assert!(matches!(
                format::seal(f, &key, &mut rng, &vec![0; 1 << 20], &mut out),
                Err(Error::StateTooLong(_))
            ));
        }
    }
}

#[test]
fn seal_argument_errors() {
    let key = test_key(tessera::CipherKind::Aes128);
    for f in TicketFormat::ALL {
        let st = state(40);
        let mut out = vec![0xaa; 3];
        let wrong_iv = vec![1u8; f.iv_len() + 1];
        assert!(matches!(
            format::seal_with_iv(f, &key, &wrong_iv, &st, &mut out),
            Err(Error::KeyLength { .. })
        ));
        assert!(matches!(
            format::seal_with_iv(f, &key, &[], &st, &mut out),
            Err(Error::KeyLength { .. })
        ));
        assert_eq!(out, [0xaa; 3], "failed seal leaves the Vec unchanged");
        let iv = vec![7u8; f.iv_len()];
        let need = f.sealed_len(st.len());
        let mut small = vec![0u8; need - 1];
        assert!(matches!(
            format::seal_into(f, &key, &iv, &st, &mut small),
            Err(Error::BufferTooSmall { needed, got }) if needed == need && got == need - 1
        ));
        // A larger buffer is fine; only the prefix is written.
        let mut big = vec![0u8; need + 10];
        assert_eq!(
            format::seal_into(f, &key, &iv, &st, &mut big).unwrap(),
            need
        );
        assert_eq!(&big[need..], &[0; 10]);
        // Deterministic with a fixed IV.
        let mut a = Vec::new();
        format::seal_with_iv(f, &key, &iv, &st, &mut a).unwrap();
        assert_eq!(a, &big[..need]);
    }
}
