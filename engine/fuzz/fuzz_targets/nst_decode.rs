//! NewSessionTicket decoding (whole handshake message and body alone): never a panic, and
//! whatever decodes re-encodes to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera::wire::NewSessionTicket;

fuzz_target!(|data: &[u8]| {
    if let Ok(nst) = NewSessionTicket::decode(data) {
        let mut again = Vec::new();
        nst.encode(&mut again)
            .expect("a decoded message re-encodes");
        assert_eq!(again, data);
        assert_eq!(nst.encoded_len(), data.len());
    }
    if let Ok(nst) = NewSessionTicket::decode_body(data) {
        let mut again = Vec::new();
        nst.encode_body(&mut again)
            .expect("a decoded body re-encodes");
        assert_eq!(again, data);
        assert_eq!(nst.body_len(), data.len());
    }
});
