//! Fleet derivation: determinism across edges, the derivation spec checked against the `hkdf`
//! crate, epoch boundaries and windows, next-epoch pre-publication, refusals, Debug hygiene.

use hkdf::Hkdf;
use sha2::Sha256;
use tessera::Error;
use tessera::keys::{
    CipherKind, FleetDeriver, KeyFileFormat, KeyRing, KeyRole, TicketKey, write_key_file,
};

const PERIOD: u64 = 3600;

fn secret() -> Vec<u8> {
    (0x00..0x20).collect()
}

fn deriver(previous: usize) -> FleetDeriver {
    FleetDeriver::new(&secret(), PERIOD, CipherKind::Aes128, previous).unwrap()
}

/// Full key content (name, secrets, times) as tessera text.
fn render(key: &TicketKey) -> String {
    let bytes = write_key_file(KeyFileFormat::Tessera, &[(key, KeyRole::OpeningOnly)]).unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn names(ring: &KeyRing) -> Vec<[u8; 16]> {
    let mut v: Vec<[u8; 16]> = ring.keys().map(|(k, _)| k.name().0).collect();
    v.sort_unstable();
    v
}

#[test]
fn two_edges_with_one_secret_agree() {
    let a = deriver(2);
    let b = FleetDeriver::new(&secret(), PERIOD, CipherKind::Aes128, 2).unwrap();
    for now in [
        0,
        1,
        PERIOD - 1,
        PERIOD,
        1_764_460_800,
        1_764_460_800 + 1799,
    ] {
        let (ra, rb) = (a.ring_at(now), b.ring_at(now));
        assert_eq!(names(&ra), names(&rb));
        assert_eq!(ra.sealing_key().name(), rb.sealing_key().name());
        for (k, _) in ra.keys() {
            let (other, _) = rb.find(&k.name().0).unwrap();
            assert_eq!(render(k), render(other));
        }
    }
    assert_eq!(a.fingerprint(), b.fingerprint());
    // A different secret, cipher or epoch gives a different key.
    let mut other_secret = secret();
    other_secret[31] ^= 1;
    let c = FleetDeriver::new(&other_secret, PERIOD, CipherKind::Aes128, 2).unwrap();
    assert_ne!(c.key_for_epoch(7).name(), a.key_for_epoch(7).name());
    assert_ne!(c.fingerprint(), a.fingerprint());
    let d = FleetDeriver::new(&secret(), PERIOD, CipherKind::Aes256, 2).unwrap();
    assert_ne!(d.key_for_epoch(7).name(), a.key_for_epoch(7).name());
    assert_eq!(d.key_for_epoch(7).cipher(), CipherKind::Aes256);
    assert_ne!(a.key_for_epoch(7).name(), a.key_for_epoch(8).name());
}

/// The derivation documented in `keys/fleet.rs`, recomputed with the `hkdf` crate.
#[test]
fn derivation_follows_the_documented_hkdf_layout() {
    for (cipher, id, k) in [
        (CipherKind::Aes128, 1u8, 16usize),
        (CipherKind::Aes256, 2, 32),
    ] {
        let fleet = FleetDeriver::new(&secret(), PERIOD, cipher, 1).unwrap();
        for epoch in [0u64, 1, 490_128, u64::MAX] {
            let hk = Hkdf::<Sha256>::new(Some(b"tessera fleet ticket keys v1"), &secret());
            let mut info = b"tessera fleet ticket key v1\x00".to_vec();
            info.extend(epoch.to_be_bytes());
            info.push(id);
            info.extend(0u32.to_be_bytes());
            let mut okm = vec![0u8; 16 + 2 * k];
            hk.expand(&info, &mut okm).unwrap();
            let key = fleet.key_for_epoch(epoch);
            assert_eq!(key.name().0, okm[..16]);
            let text = render(&key);
            assert!(
                text.contains(&format!("aes={} ", hex::encode(&okm[16..16 + k]))),
                "{text}"
            );
            assert!(
                text.contains(&format!("hmac={} ", hex::encode(&okm[16 + k..]))),
                "{text}"
            );
        }
    }
}

/// Pinned output of derivation v1 (computed by this implementation when v1 was fixed; it
/// catches any change that would split a fleet running mixed tessera versions).
#[test]
fn derivation_v1_is_pinned() {
    let key = deriver(1).key_for_epoch(490_128);
    assert_eq!(key.name().to_string(), PINNED_NAME_EPOCH_490128);
}
const PINNED_NAME_EPOCH_490128: &str = "dccd4291f36fd601693d2f7b1ec7fddd";

#[test]
fn epoch_boundaries_and_windows() {
    let fleet = deriver(2);
    let e = 490_128u64;
    let start = e * PERIOD;
    // One second before the boundary epoch e-1 seals; at the boundary epoch e seals.
    assert_eq!(fleet.epoch_at(start - 1), e - 1);
    assert_eq!(fleet.epoch_at(start), e);
    assert_eq!(fleet.next_rotation_at(start - 1), start);
    assert_eq!(fleet.next_rotation_at(start), start + PERIOD);
    let before = fleet.ring_at(start - 1);
    let at = fleet.ring_at(start);
    assert_eq!(
        before.sealing_key().name(),
        fleet.key_for_epoch(e - 1).name()
    );
    assert_eq!(at.sealing_key().name(), fleet.key_for_epoch(e).name());
    assert_eq!(
        fleet.ring_at(start + PERIOD - 1).sealing_key().name(),
        at.sealing_key().name()
    );

    // Ring at e: e seals; e+1 (pre-published), e-1, e-2 open; e-3 and e+2 absent.
    assert_eq!(at.len(), 4);
    for (epoch, role) in [
        (e + 1, Some(KeyRole::OpeningOnly)),
        (e, Some(KeyRole::Sealing)),
        (e - 1, Some(KeyRole::OpeningOnly)),
        (e - 2, Some(KeyRole::OpeningOnly)),
        (e - 3, None),
        (e + 2, None),
    ] {
        let name = fleet.key_for_epoch(epoch).name();
        assert_eq!(at.find(&name.0).map(|(_, r)| r), role, "epoch {epoch}");
    }

    // Times: key e seals during epoch e and opens for 2 more periods.
    let t = fleet.key_for_epoch(e).times();
    assert_eq!(t.created, Some(start));
    assert_eq!(t.seal_until, Some(start + PERIOD));
    assert_eq!(t.open_until, Some(start + 3 * PERIOD));
    let k = fleet.key_for_epoch(e);
    assert!(k.can_seal_at(start) && k.can_seal_at(start + PERIOD - 1));
    assert!(!k.can_seal_at(start + PERIOD));
    assert!(k.can_open_at(start + 3 * PERIOD - 1));
    assert!(!k.can_open_at(start + 3 * PERIOD));
    // Every key of the ring may open now, and the sealer may seal now.
    for now in [start, start + 1234, start + PERIOD - 1] {
        let ring = fleet.ring_at(now);
        assert!(ring.sealing_key().can_seal_at(now));
        assert!(ring.keys().all(|(k, _)| k.can_open_at(now)));
        // The oldest key dropped from the ring can no longer open.
        let dropped = fleet.key_for_epoch(fleet.epoch_at(now) - 3);
        assert!(!dropped.can_open_at(now));
    }
}

#[test]
fn next_epoch_prepublication_is_configurable() {
    let on = deriver(1);
    assert!(on.next_prepublished());
    let off = deriver(1).with_next_prepublished(false);
    assert!(!off.next_prepublished());
    let now = 100 * PERIOD + 5;
    let next = on.key_for_epoch(101).name();
    assert_eq!(
        on.ring_at(now).find(&next.0).map(|(_, r)| r),
        Some(KeyRole::OpeningOnly)
    );
    assert!(off.ring_at(now).find(&next.0).is_none());
    assert_eq!(off.ring_at(now).len(), 2);
    // A fast edge already in epoch 101 seals with a key the slow edge can open, and the slow
    // edge's tickets open on the fast edge.
    let slow = on.ring_at(101 * PERIOD - 2);
    let fast = on.ring_at(101 * PERIOD + 1);
    assert!(slow.find(&fast.sealing_key().name().0).is_some());
    assert!(fast.find(&slow.sealing_key().name().0).is_some());
}

#[test]
fn early_and_extreme_times_do_not_panic() {
    let fleet = deriver(3);
    let ring = fleet.ring_at(0);
    assert_eq!(
        ring.len(),
        2,
        "epoch 0 has no previous epochs, plus the pre-published one"
    );
    assert_eq!(ring.sealing_key().name(), fleet.key_for_epoch(0).name());
    let last = FleetDeriver::new(&secret(), 1, CipherKind::Aes256, 2).unwrap();
    let ring = last.ring_at(u64::MAX);
    assert_eq!(ring.len(), 3, "no epoch after u64::MAX to pre-publish");
    assert_eq!(
        last.key_for_epoch(u64::MAX).times().open_until,
        Some(u64::MAX)
    );
    assert_eq!(last.next_rotation_at(u64::MAX), u64::MAX);
    let none = FleetDeriver::new(&secret(), PERIOD, CipherKind::Aes128, 0).unwrap();
    assert_eq!(none.ring_at(50 * PERIOD).len(), 2);
}

#[test]
fn bad_parameters_are_refused() {
    assert!(matches!(
        FleetDeriver::new(&[7; 31], PERIOD, CipherKind::Aes128, 1),
        Err(Error::KeyLength {
            what: "fleet secret",
            len: 31
        })
    ));
    assert!(matches!(
        FleetDeriver::new(&[0; 64], PERIOD, CipherKind::Aes128, 1),
        Err(Error::WeakKey("fleet secret"))
    ));
    assert!(matches!(
        FleetDeriver::new(&[0xab; 32], PERIOD, CipherKind::Aes128, 1),
        Err(Error::WeakKey("fleet secret"))
    ));
    assert!(matches!(
        FleetDeriver::new(&secret(), 0, CipherKind::Aes128, 1),
        Err(Error::InvalidConfig(_))
    ));
    assert!(matches!(
        FleetDeriver::new(&secret(), PERIOD, CipherKind::Aes128, 1025),
        Err(Error::InvalidConfig(_))
    ));
    assert!(FleetDeriver::new(&secret(), PERIOD, CipherKind::Aes128, 1024).is_ok());
}

#[test]
fn debug_never_shows_the_secret() {
    let secret: Vec<u8> = (0..48u8).map(|i| 0xa0 ^ i.wrapping_mul(7)).collect();
    let fleet = FleetDeriver::new(&secret, 600, CipherKind::Aes256, 4).unwrap();
    let shown = format!("{fleet:?} {fleet:#?}");
    assert!(!shown.contains(&hex::encode(&secret)), "{shown}");
    for window in secret.chunks(4) {
        assert!(!shown.contains(&hex::encode(window)), "{shown}");
    }
    assert!(shown.contains(&hex::encode(fleet.fingerprint())), "{shown}");
    assert!(shown.contains("period_secs: 600"), "{shown}");
    // Derived keys' Debug hides their secrets too.
    let key = fleet.key_for_epoch(3);
    let text = render(&key);
    let aes_hex = text
        .split(" aes=")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    assert!(!format!("{key:?}").contains(aes_hex));
    assert!(!format!("{:?}", fleet.ring_at(1800)).contains(aes_hex));
}
