//! The server's resumption decision over arbitrary policies, offers, sealer states and clocks:
//! never a panic, and the RFC 5077 rules hold for every input (see `check` below).
#![no_main]

use core::num::NonZeroU32;

use libfuzzer_sys::fuzz_target;
use tessera::resume::{
    ClientOffer, ClientTicket, Decision, KeyRole, OpenedTicket, SealerStatus, ServerPolicy,
    ServerSessionId, SessionCacheMode, SessionId, decide,
};
use tessera::{RejectReason, Rejected};
use tessera_fuzz::Bytes;

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes(data);
    let flags = b.u8();
    let policy = ServerPolicy {
        issue_tickets: flags & 1 != 0,
        lifetime_secs: NonZeroU32::new(b.u32()).unwrap_or(NonZeroU32::MIN),
        renew_after_percent: b.u8(),
        unlinkable: flags & 2 != 0,
        max_future_skew_secs: b.u64(),
        session_cache: match (flags >> 2) % 3 {
            0 => SessionCacheMode::TicketsOnly,
            1 => SessionCacheMode::Alongside,
            _ => SessionCacheMode::AlongsideFreshWithTicket,
        },
    };
    let now = b.u64();
    let sealer = if flags & 16 != 0 {
        SealerStatus::Unavailable
    } else {
        let until = b.u64();
        SealerStatus::Ready {
            open_until: (flags & 32 != 0).then_some(until),
        }
    };
    let id_len = usize::from(b.u8() % 33);
    let session_id = SessionId::new(b.take(id_len)).unwrap_or_default();
    let ticket = match b.u8() % 4 {
        0 => ClientTicket::Absent,
        1 => ClientTicket::Empty,
        2 => {
            let reasons = RejectReason::ALL;
            ClientTicket::Presented(Err(Rejected(reasons[usize::from(b.u8()) % reasons.len()])))
        }
        _ => {
            let issued_at = b.u64();
            let role = b.u8();
            let until = b.u64();
            ClientTicket::Presented(Ok(OpenedTicket {
                issued_at,
                key_role: if role & 1 == 0 {
                    KeyRole::Sealing
                } else {
                    KeyRole::OpeningOnly
                },
                key_open_until: (role & 2 != 0).then_some(until),
            }))
        }
    };
    let offer = ClientOffer { session_id, ticket };
    let d = decide(&offer, sealer, &policy, now);
    assert_eq!(
        d,
        policy.decide(&offer, sealer, now),
        "decide is not deterministic"
    );
    check(&offer, sealer, &policy, now, &d);
});

fn check(offer: &ClientOffer, sealer: SealerStatus, policy: &ServerPolicy, now: u64, d: &Decision) {
    // 3.2: the empty extension in ServerHello iff a NewSessionTicket follows, and never
    // when the client did not send the extension.
    assert_eq!(
        d.server_hello_ticket_extension(),
        d.new_session_ticket().is_some()
    );
    if !offer.ticket.extension_sent() {
        assert!(d.new_session_ticket().is_none());
        assert!(!d.is_resumption());
    }
    // No ticket from a server that will not or cannot seal; hints never 0, never beyond the
    // policy lifetime or the sealing key's remaining opening time.
    if let Some(promise) = d.new_session_ticket() {
        assert!(policy.issue_tickets);
        let hint = u64::from(promise.lifetime_hint());
        assert!(hint >= 1 && hint <= u64::from(policy.lifetime_secs.get()));
        match sealer {
            SealerStatus::Unavailable => panic!("ticket promised without a sealing key"),
            SealerStatus::Ready {
                open_until: Some(until),
            } => {
                assert!(until > now && hint <= until - now)
            }
            SealerStatus::Ready { open_until: None } => {}
        }
    }
    // 3.4: a presented ticket is never resumed by session ID; only a rejection reason.
    if offer.ticket.ticket_presented() {
        assert!(d.session_cache_lookup().is_none());
    } else {
        assert!(d.rejection().is_none());
    }
    if policy.session_cache == SessionCacheMode::TicketsOnly {
        assert!(d.session_cache_lookup().is_none());
    }
    // Resumption only on an opened ticket inside its window, echoing the session ID.
    if d.is_resumption() {
        let ClientTicket::Presented(Ok(t)) = offer.ticket else {
            panic!("resumed without an opened ticket");
        };
        assert_eq!(
            d.server_session_id(),
            ServerSessionId::Echo(offer.session_id)
        );
        assert!(t.key_open_until.is_none_or(|u| now < u));
        assert!(t.issued_at <= now.saturating_add(policy.max_future_skew_secs));
        assert!(now.saturating_sub(t.issued_at) <= u64::from(policy.lifetime_secs.get()));
        if t.key_role == KeyRole::OpeningOnly
            && policy.issue_tickets
            && let SealerStatus::Ready { open_until } = sealer
            && open_until.is_none_or(|u| u > now)
        {
            assert!(
                d.new_session_ticket().is_some(),
                "opening-only key not renewed"
            );
        }
    } else {
        assert!(!matches!(d.server_session_id(), ServerSessionId::Echo(_)));
        if let ClientTicket::Presented(Err(Rejected(r))) = offer.ticket {
            assert_eq!(d.rejection(), Some(r));
        }
    }
}
