//! SessionTicket extension and extensions-block decoding, ClientHello and ServerHello side:
//! never a panic, decode/encode round trips, and inserting a SessionTicket extension into any
//! block that decodes yields a block that decodes to the same extensions plus that ticket.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera::wire::{
    ClientHelloTicketExt, Extension, Extensions, SESSION_TICKET_EXTENSION_TYPE,
    ServerHelloTicketExt,
};

const TICKET: &[u8] = b"a ticket of some bytes";

fuzz_target!(|data: &[u8]| {
    if let Ok(ext) = Extension::decode(data) {
        let mut again = Vec::new();
        ext.encode(&mut again)
            .expect("a decoded extension re-encodes");
        assert_eq!(again, data);
    }
    if let Ok(ext) = ClientHelloTicketExt::decode(data) {
        let mut again = Vec::new();
        ext.encode(&mut again)
            .expect("a decoded SessionTicket extension re-encodes");
        assert_eq!(again, data);
    }
    if ServerHelloTicketExt::decode(data).is_ok() {
        assert_eq!(data, ServerHelloTicketExt::ENCODED);
    }
    let Ok(block) = Extensions::decode(data) else {
        assert!(ClientHelloTicketExt::find_in(data).is_err());
        assert!(ServerHelloTicketExt::find_in(data).is_err());
        return;
    };
    let mut again = Vec::new();
    block
        .encode(&mut again)
        .expect("a decoded block re-encodes");
    assert_eq!(again, data);
    assert_eq!(block.encoded_len(), data.len());
    let _ = ClientHelloTicketExt::find_in(data);
    let _ = ServerHelloTicketExt::find_in(data);

    let ticket = ClientHelloTicketExt::Ticket(TICKET.into());
    let mut inserted = Vec::new();
    if ticket.insert_into(data, &mut inserted).is_ok() {
        let new = Extensions::decode(&inserted).expect("insert_into output decodes");
        assert_eq!(new.get(SESSION_TICKET_EXTENSION_TYPE), Some(TICKET));
        let others = |b: &Extensions<'_>| {
            b.iter()
                .filter(|e| e.ext_type != SESSION_TICKET_EXTENSION_TYPE)
                .map(|e| (e.ext_type, e.data.to_vec()))
                .collect::<Vec<_>>()
        };
        assert_eq!(others(&new), others(&block));
    }
    let mut inserted = Vec::new();
    if ServerHelloTicketExt
        .insert_into(data, &mut inserted)
        .is_ok()
    {
        let new = Extensions::decode(&inserted).expect("insert_into output decodes");
        assert_eq!(new.get(SESSION_TICKET_EXTENSION_TYPE), Some(&[][..]));
    }
});
