//! KeyRing and SharedKeyRing: lookup, roles, duplicates, revocation snapshots, Debug hygiene.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tessera::keys::{CipherKind, KeyRing, KeyRole, SharedKeyRing, TicketKey};
use tessera::{Error, KeyName};

/// A key with recognisable, non-weak bytes derived from `seed`.
fn key_with(seed: u8, cipher: CipherKind) -> TicketKey {
    let mut name = [0u8; 16];
    for (i, b) in name.iter_mut().enumerate() {
        *b = seed.wrapping_mul(31).wrapping_add(i as u8);
    }
    let n = cipher.key_len();
    let aes: Vec<u8> = (0..n).map(|i| seed ^ (0x40 + i as u8)).collect();
    let hmac: Vec<u8> = (0..n).map(|i| seed ^ (0x80 + i as u8)).collect();
    TicketKey::new(name, &aes, &hmac).unwrap()
}

fn key(seed: u8) -> TicketKey {
    key_with(seed, CipherKind::Aes128)
}

fn ring(n: u8) -> KeyRing {
    KeyRing::new(key(0), (1..n).map(key).collect()).unwrap()
}

#[test]
fn finds_every_key_with_its_role() {
    let ring = ring(9);
    assert_eq!(ring.len(), 9);
    assert!(!ring.is_empty());
    assert_eq!(ring.sealing_key().name(), key(0).name());
    for seed in 0..9 {
        let name = key(seed).name();
        let (found, role) = ring.find(&name.0).expect("key present");
        assert_eq!(found.name(), name);
        let want = if seed == 0 {
            KeyRole::Sealing
        } else {
            KeyRole::OpeningOnly
        };
        assert_eq!(role, want);
    }
    let roles: Vec<KeyRole> = ring.keys().map(|(_, r)| r).collect();
    assert_eq!(roles[0], KeyRole::Sealing);
    assert!(roles[1..].iter().all(|r| *r == KeyRole::OpeningOnly));
    assert_eq!(ring.keys().len(), 9);
}

#[test]
fn misses_unknown_names_and_every_one_bit_neighbour() {
    let ring = ring(5);
    assert!(ring.find(&[0x5a; 16]).is_none());
    assert!(ring.find(&key(77).name().0).is_none());
    for (k, _) in ring.keys() {
        let name = k.name().0;
        for bit in 0..128 {
            let mut off = name;
            off[bit / 8] ^= 1 << (bit % 8);
            assert!(
                ring.find(&off).is_none(),
                "bit {bit} off of {} matched",
                k.name()
            );
        }
    }
}

#[test]
fn many_keys_with_shared_prefixes() {
    // Names that differ only in the last byte must still resolve exactly.
    let keys: Vec<TicketKey> = (1..=200u8)
        .map(|i| {
            let mut name = *b"edge-key-2026-\x00\x00";
            name[15] = i;
            let mut aes = [0x11; 16];
            aes[0] = i;
            aes[1] = 0x22;
            let mut hmac = [0x33; 16];
            hmac[15] = !i;
            hmac[14] = 0x44;
            TicketKey::new(name, &aes, &hmac).unwrap()
        })
        .collect();
    let names: Vec<KeyName> = keys.iter().map(TicketKey::name).collect();
    let mut it = keys.into_iter();
    let sealing = it.next().unwrap();
    let ring = KeyRing::new(sealing, it.collect()).unwrap();
    for name in &names {
        assert_eq!(ring.find(&name.0).unwrap().0.name(), *name);
    }
    let mut absent = names[0].0;
    absent[15] = 0;
    assert!(ring.find(&absent).is_none());
}

#[test]
fn duplicate_names_are_refused() {
    let dup = || key(3);
    assert!(matches!(
        KeyRing::new(dup(), vec![key(1), dup()]),
        Err(Error::DuplicateKeyName)
    ));
    assert!(matches!(
        KeyRing::new(key(0), vec![dup(), key(1), dup()]),
        Err(Error::DuplicateKeyName)
    ));
    // Same name, different secrets: still a duplicate.
    let aes: Vec<u8> = (1..=16).collect();
    let hmac: Vec<u8> = (7..23).collect();
    let other = TicketKey::new(key(3).name().0, &aes, &hmac).unwrap();
    assert!(matches!(
        KeyRing::new(key(3), vec![other]),
        Err(Error::DuplicateKeyName)
    ));
    assert!(matches!(
        ring(1).rotated(key(0)),
        Err(Error::DuplicateKeyName)
    ));
}

#[test]
fn max_cipher_reports_the_widest_key() {
    assert_eq!(ring(3).max_cipher(), CipherKind::Aes128);
    assert_eq!(ring(3).max_hmac_key_len(), 16);
    let mixed = KeyRing::new(key(0), vec![key_with(1, CipherKind::Aes256)]).unwrap();
    assert_eq!(mixed.max_cipher(), CipherKind::Aes256);
    assert_eq!(mixed.max_hmac_key_len(), 32);
}

#[test]
fn without_removes_opening_keys_and_refuses_the_sealer() {
    let ring = ring(4);
    let name = key(2).name().0;
    let smaller = ring.without(&name).unwrap();
    assert_eq!(smaller.len(), 3);
    assert!(smaller.find(&name).is_none());
    assert!(smaller.is_revoked(&name));
    assert!(
        !ring.is_revoked(&name),
        "the original snapshot is unchanged"
    );
    assert!(ring.find(&name).is_some());
    assert_eq!(smaller.revoked_names(), &[KeyName(name)]);
    for seed in [0, 1, 3] {
        assert!(smaller.find(&key(seed).name().0).is_some());
    }
    // Unknown name: identical copy, nothing recorded.
    let same = ring.without(&[0x5a; 16]).unwrap();
    assert_eq!(same.len(), 4);
    assert!(!same.is_revoked(&[0x5a; 16]));
    // The sealing key cannot be removed without a replacement.
    assert!(matches!(
        ring.without(&key(0).name().0),
        Err(Error::NoSealingKey)
    ));
    let replaced = ring.replacing_sealing(key(9)).unwrap();
    assert_eq!(replaced.sealing_key().name(), key(9).name());
    assert!(replaced.find(&key(0).name().0).is_none());
    assert!(replaced.is_revoked(&key(0).name().0));
    assert_eq!(replaced.len(), 4);
    // Ordinary rotation keeps the old sealer as opening-only.
    let rotated = ring.rotated(key(9)).unwrap();
    assert_eq!(
        rotated.find(&key(0).name().0).unwrap().1,
        KeyRole::OpeningOnly
    );
    assert_eq!(rotated.find(&key(9).name().0).unwrap().1, KeyRole::Sealing);
}

#[test]
fn revoke_publishes_a_new_snapshot_atomically() {
    let shared = SharedKeyRing::new(ring(4));
    let name = key(2).name().0;
    let before = shared.load_full();
    let guard = shared.load();
    assert!(shared.revoke(&name));
    // Snapshots taken before the revocation still hold the key; new loads do not.
    assert!(before.find(&name).is_some());
    assert!(guard.find(&name).is_some());
    let after = shared.load();
    assert!(after.find(&name).is_none());
    assert!(after.is_revoked(&name));
    assert_eq!(after.len(), 3);
    // Second revoke, unknown name, and the sealing key: false, nothing changes.
    assert!(!shared.revoke(&name));
    assert!(!shared.revoke(&[0x5a; 16]));
    assert!(!shared.revoke(&key(0).name().0));
    assert_eq!(shared.load().sealing_key().name(), key(0).name());
    assert_eq!(shared.load().len(), 3);
    // Revoking the sealer needs a replacement.
    assert_eq!(shared.revoke_sealing(key(8)).unwrap(), key(0).name());
    let now = shared.load();
    assert_eq!(now.sealing_key().name(), key(8).name());
    assert!(now.is_revoked(&key(0).name().0));
    assert!(now.is_revoked(&name));
    // A replacement whose name is already present changes nothing.
    assert!(matches!(
        shared.revoke_sealing(key(1)),
        Err(Error::DuplicateKeyName)
    ));
    assert_eq!(shared.load().sealing_key().name(), key(8).name());
    // store/swap replace everything.
    let old = shared.swap(ring(2));
    assert_eq!(old.sealing_key().name(), key(8).name());
    assert_eq!(shared.load().len(), 2);
    shared.store(ring(6));
    assert_eq!(shared.load().len(), 6);
}

#[test]
fn readers_always_see_a_consistent_ring_while_writers_revoke() {
    let shared = Arc::new(SharedKeyRing::new(ring(40)));
    let stop = Arc::new(AtomicBool::new(false));
    std::thread::scope(|s| {
        for _ in 0..2 {
            let shared = Arc::clone(&shared);
            let stop = Arc::clone(&stop);
            s.spawn(move || {
                let mut loads = 0u64;
                while !stop.load(Ordering::Relaxed) || loads < 100 {
                    let snap = shared.load();
                    // Exactly the keys the snapshot lists are found; revoked ones are not.
                    let present = (0..40u8)
                        .filter(|&i| snap.find(&key(i).name().0).is_some())
                        .count();
                    assert_eq!(present, snap.len());
                    assert_eq!(
                        snap.find(&snap.sealing_key().name().0).unwrap().1,
                        KeyRole::Sealing
                    );
                    for r in snap.revoked_names() {
                        assert!(snap.find(&r.0).is_none());
                    }
                    loads += 1;
                }
            });
        }
        for i in 1..40u8 {
            assert!(shared.revoke(&key(i).name().0));
        }
        stop.store(true, Ordering::Relaxed);
    });
    assert_eq!(shared.load().len(), 1);
    assert_eq!(shared.load().revoked_names().len(), 39);
}

#[test]
fn concurrent_revokers_lose_no_update() {
    let shared = Arc::new(SharedKeyRing::new(ring(61)));
    std::thread::scope(|s| {
        for t in 0..3u8 {
            let shared = Arc::clone(&shared);
            s.spawn(move || {
                for i in (1..61u8).filter(|i| i % 3 == t) {
                    assert!(shared.revoke(&key(i).name().0));
                }
            });
        }
    });
    assert_eq!(shared.load().len(), 1);
}

#[test]
fn debug_never_shows_secrets() {
    let aes = [
        0x3c, 0x1a, 0x7e, 0x55, 0x90, 0x12, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0x9a,
        0xbc,
    ];
    let hmac = [
        0xd4, 0xe5, 0xf6, 0x07, 0x18, 0x29, 0x3a, 0x4b, 0x5c, 0x6d, 0x7e, 0x8f, 0x90, 0xa1, 0xb2,
        0xc3,
    ];
    let k = TicketKey::new(*b"debug-test-key-1", &aes, &hmac).unwrap();
    let ring = KeyRing::new(k.clone(), vec![key(1)]).unwrap();
    let shared = SharedKeyRing::new(ring.clone());
    for s in [
        format!("{k:?}"),
        format!("{ring:?}"),
        format!("{shared:?}"),
        format!("{:#?}", ring),
    ] {
        for secret in [
            hex::encode(aes),
            hex::encode(hmac),
            hex::encode(&aes[..4]),
            hex::encode(&hmac[..4]),
        ] {
            assert!(!s.contains(&secret), "Debug output leaks a secret: {s}");
        }
        assert!(
            !s.contains("60, 26, 126"),
            "Debug leaks aes as a decimal list: {s}"
        );
        assert!(
            s.contains(&hex::encode(b"debug-test-key-1")),
            "the public name is shown: {s}"
        );
    }
}

#[test]
fn update_applies_on_the_latest_ring_or_changes_nothing() {
    let shared = SharedKeyRing::new(ring(2));
    let published = shared.update(|r| r.rotated(key(7))).unwrap();
    assert_eq!(published.sealing_key().name(), key(7).name());
    assert_eq!(shared.load().len(), 3);
    assert!(matches!(
        shared.update(|r| r.rotated(key(7))),
        Err(Error::DuplicateKeyName)
    ));
    assert_eq!(shared.load().len(), 3);
    assert!(matches!(
        shared.update(|r| r.without(&key(7).name().0)),
        Err(Error::NoSealingKey)
    ));
    assert_eq!(shared.load().sealing_key().name(), key(7).name());
}
