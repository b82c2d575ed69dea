//! Test-only probe for "secrets are zeroized on drop" (issue 7, key hygiene).
//!
//! The `Drop` impls of [`TicketKey`](crate::TicketKey), the backend's `KeyMaterial` and
//! `XaesKey` report their secret buffers here (under `cfg(test)` only) right after wiping them
//! and before the memory is freed. A test arms the probe on its thread, drops a key, and gets
//! one record per buffer: which field, how long, and whether every byte was zero. A missing
//! wipe shows as a non-zero buffer; a removed `Drop` impl shows as a missing record. Safe code
//! only: nothing reads freed memory. The AES key schedules inside the `aes` crate are wiped by
//! that crate's own `Drop` (feature `zeroize`), which the tests check at the type level.

use std::cell::RefCell;

/// One secret buffer as its owner's `Drop` left it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Seen {
    pub(crate) field: &'static str,
    pub(crate) len: usize,
    pub(crate) all_zero: bool,
}

thread_local! {
    static SEEN: RefCell<Option<Vec<Seen>>> = const { RefCell::new(None) };
}

/// Called from `Drop` impls after wiping `bytes`.
pub(crate) fn observe(field: &'static str, bytes: &[u8]) {
    SEEN.with(|s| {
        if let Some(seen) = s.borrow_mut().as_mut() {
            seen.push(Seen {
                field,
                len: bytes.len(),
                all_zero: bytes.iter().all(|&b| b == 0),
            });
        }
    });
}

/// [`observe`] for buffers of 32-bit words (SHA-256 states), length in bytes.
pub(crate) fn observe_words(field: &'static str, words: &[u32]) {
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_ne_bytes()).collect();
    observe(field, &bytes);
}

/// Runs `f` with the probe armed on this thread; returns what the `Drop` impls reported.
pub(crate) fn record(f: impl FnOnce()) -> Vec<Seen> {
    SEEN.with(|s| *s.borrow_mut() = Some(Vec::new()));
    f();
    SEEN.with(|s| s.borrow_mut().take()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use zeroize::ZeroizeOnDrop;

    use super::*;
    use crate::keys::{FleetDeriver, KeyRing};
    use crate::{CipherKind, TicketKey};

    fn key(cipher: CipherKind, seed: u8) -> TicketKey {
        let n = cipher.key_len();
        let name: [u8; 16] = core::array::from_fn(|i| seed ^ i as u8);
        let aes: Vec<u8> = (0..n).map(|i| seed.wrapping_add(i as u8) | 1).collect();
        let hmac: Vec<u8> = (0..n)
            .map(|i| seed.wrapping_mul(3) ^ i as u8 | 0x80)
            .collect();
        TicketKey::new(name, &aes, &hmac).unwrap()
    }

    /// The records one dropped key must leave, all zero.
    fn expect_one_key(seen: &[Seen], cipher: CipherKind) {
        let n = cipher.key_len();
        let mut fields = vec![
            ("TicketKey.aes", n),
            ("TicketKey.hmac", n),
            ("KeyMaterial.hmac_inner", 32),
            ("KeyMaterial.hmac_outer", 32),
            ("XaesKey.k1", 16),
        ];
        // The XAES key expanded for the x86 AEAD kernel: 15 round keys and K1.
        if records_per_key() == 6 {
            fields.push(("XaesRoundKeys", 256));
        }
        for (field, len) in fields {
            let want = Seen {
                field,
                len,
                all_zero: true,
            };
            let got: Vec<_> = seen.iter().filter(|s| s.field == field).collect();
            assert_eq!(got, [&want], "{field} in {seen:?}");
        }
        assert_eq!(seen.len(), records_per_key(), "{seen:?}");
    }

    /// Secret buffers per key: 6 where the x86 AEAD kernel's key is built, else 5.
    fn records_per_key() -> usize {
        #[cfg(target_arch = "x86_64")]
        if crate::backend::Clmul::new().is_some() {
            return 6;
        }
        5
    }

    #[test]
    fn the_probe_sees_unwiped_buffers_and_nothing_when_unarmed() {
        let seen = record(|| observe("x", &[0, 0, 1]));
        assert_eq!(
            seen,
            [Seen {
                field: "x",
                len: 3,
                all_zero: false
            }]
        );
        observe("unarmed", &[1]);
        assert!(record(|| {}).is_empty());
    }

    #[test]
    fn ticket_keys_are_zero_when_dropped() {
        for cipher in [CipherKind::Aes128, CipherKind::Aes256] {
            let k = key(cipher, 0x31);
            let copy = k.clone();
            expect_one_key(&record(|| drop(k)), cipher);
            // A clone owns its own buffers and wipes them too.
            expect_one_key(&record(|| drop(copy)), cipher);
        }
    }

    #[test]
    fn rings_wipe_every_key_when_the_last_reference_goes() {
        let ring = KeyRing::new(
            key(CipherKind::Aes128, 1),
            vec![key(CipherKind::Aes256, 2), key(CipherKind::Aes128, 3)],
        )
        .unwrap();
        let derived = ring.without(&key(CipherKind::Aes256, 2).name().0).unwrap();
        // `derived` shares keys 1 and 3 with `ring`: dropping `ring` wipes only key 2.
        let seen = record(|| drop(ring));
        expect_one_key(&seen, CipherKind::Aes256);
        let seen = record(|| drop(derived));
        assert_eq!(seen.len(), 2 * records_per_key());
        assert!(seen.iter().all(|s| s.all_zero), "{seen:?}");
    }

    #[test]
    fn fleet_derived_keys_are_wiped_too() {
        let d = FleetDeriver::new(
            &[0x42; 31].iter().chain(&[1]).copied().collect::<Vec<_>>(),
            60,
            CipherKind::Aes256,
            1,
        )
        .unwrap();
        let ring = d.ring_at(1_700_000_000);
        let n = ring.len();
        let seen = record(|| drop(ring));
        assert_eq!(seen.len(), records_per_key() * n);
        assert!(seen.iter().all(|s| s.all_zero), "{seen:?}");
    }

    /// What the probe cannot see is wiped by types that promise it: the `aes` crate's key
    /// schedules (feature `zeroize`) and the fleet deriver's `Zeroizing` PRK. A build without
    /// the feature fails here.
    #[test]
    fn unprobed_secrets_live_in_zeroize_on_drop_types() {
        fn zeroize_on_drop<T: ZeroizeOnDrop>() {}
        zeroize_on_drop::<aes::Aes128>();
        zeroize_on_drop::<aes::Aes256>();
        zeroize_on_drop::<aes::Aes256Enc>();
        zeroize_on_drop::<zeroize::Zeroizing<[u8; 32]>>();
        zeroize_on_drop::<crate::backend::KeyMaterial>();
    }
}
