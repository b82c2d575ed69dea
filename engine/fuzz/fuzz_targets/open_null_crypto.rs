//! Null-crypto open: the MAC/tag is skipped and the ciphertext is the plaintext, so fuzzed
//! bytes reach the PKCS#7 check and StatePlaintext decoding. Needs `--cfg tessera_fuzzing`
//! (scripts/fuzz.sh sets it); the hook does not exist in normal builds.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(
    init: tessera_fuzz::enable_null_crypto(),
    |data: &[u8]| tessera_fuzz::open_null(data)
);
