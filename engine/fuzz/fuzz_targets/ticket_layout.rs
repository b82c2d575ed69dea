//! The public ticket split (wire::TicketLayout) against format/'s own layout checks: a ticket
//! whose layout format/ accepts (it got as far as the key lookup) must split, and a split
//! ticket's fields must concatenate back to the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera::RejectReason;
use tessera::format::{self, MAX_TICKET_LEN, TicketFormat};
use tessera::wire::TicketLayout;

fuzz_target!(|data: &[u8]| {
    for (f, layout) in [
        (TicketFormat::Rfc5077, TicketLayout::decode_rfc5077(data)),
        (TicketFormat::OpenSsl, TicketLayout::decode_openssl(data)),
    ] {
        if let Ok(l) = layout {
            let mut again = l.key_name.0.to_vec();
            again.extend_from_slice(&l.iv);
            if f == TicketFormat::Rfc5077 {
                again.extend_from_slice(&(l.encrypted_state.len() as u16).to_be_bytes());
            }
            again.extend_from_slice(l.encrypted_state);
            assert_eq!(l.authenticated, &again[..]);
            again.extend_from_slice(&l.mac);
            assert_eq!(again, data);
        }
        let mut out = vec![0u8; f.open_buf_len(data.len())];
        let r = format::open_into(f, data, MAX_TICKET_LEN, |_| None, &mut out);
        if matches!(r, Err(e) if e.reason() == RejectReason::UnknownKey) {
            assert!(
                layout.is_ok(),
                "{f}: format/ accepted a layout wire/ refuses"
            );
        }
    }
});
