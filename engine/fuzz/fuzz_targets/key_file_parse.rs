//! Key-file parsing (nginx, HAProxy, tessera; detected or forced): never a panic, and a file
//! that parses writes back (in the format it was read as) to a file that parses to the same
//! keys: same names, ciphers, times and roles, and the same secrets (checked by sealing one
//! state with a fixed IV under both and comparing the tickets).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera::format::{self, TicketFormat};
use tessera::keys::{KeyFileFormat, KeyRing, parse_key_file, parse_key_file_detailed};
use tessera::{TicketKey, keys::write_key_file};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, file)) = data.split_first() else {
        return;
    };
    let forced = match usize::from(selector) % 6 {
        0 => None,
        i => Some(KeyFileFormat::ALL[i - 1]),
    };
    let Ok((fmt, keys)) = parse_key_file_detailed(file, forced, "fuzz") else {
        return;
    };
    assert!(!keys.is_empty(), "a key file parsed to no keys");
    if let Some(f) = forced {
        assert_eq!(fmt, f);
    }
    let refs: Vec<_> = keys.iter().map(|(k, r)| (k, *r)).collect();
    let written = write_key_file(fmt, &refs).expect("parsed keys write back");
    let again = parse_key_file(&written, Some(fmt), "fuzz-rewritten").expect("rewritten parses");
    assert_eq!(again.len(), keys.len());
    for ((a, ra), (b, rb)) in keys.iter().zip(&again) {
        assert_eq!(ra, rb);
        assert_eq!(a.name(), b.name());
        assert_eq!(a.cipher(), b.cipher());
        assert_eq!(a.times(), b.times());
        assert!(same_secrets(a, b), "secrets changed across write/parse");
    }
    if let Ok(ring) = KeyRing::from_roles(keys) {
        for (k, _) in &again {
            assert!(ring.find(&k.name().0).is_some());
        }
    }
});

fn same_secrets(a: &TicketKey, b: &TicketKey) -> bool {
    TicketFormat::ALL.into_iter().all(|f| {
        let iv = vec![0x24; f.iv_len()];
        let (mut ta, mut tb) = (Vec::new(), Vec::new());
        format::seal_with_iv(f, a, &iv, b"state", &mut ta).is_ok()
            && format::seal_with_iv(f, b, &iv, b"state", &mut tb).is_ok()
            && ta == tb
    })
}
