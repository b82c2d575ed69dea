//! StatePlaintext and ClientIdentity decoding: never a panic, and whatever decodes re-encodes
//! to the same bytes (the codecs are strict, so there is exactly one encoding).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera::wire::ClientIdentity;

fuzz_target!(|data: &[u8]| {
    tessera_fuzz::round_trip_state(data);
    if let Ok(id) = ClientIdentity::decode(data) {
        let mut again = Vec::new();
        id.encode(&mut again)
            .expect("a decoded identity re-encodes");
        assert_eq!(again, data);
        assert_eq!(id.encoded_len(), data.len());
    }
});
