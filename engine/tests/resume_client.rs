//! Client ticket store against RFC 5077 sections 3.2-3.4, 5.6, 5.8, and the client and server
//! halves talking to each other.

use std::num::{NonZeroU32, NonZeroUsize};

use tessera::resume::{
    ClientOffer, ClientPolicy, ClientTicket, DecisionKind, InsertOutcome, KeyRole, OpenedTicket,
    ResumptionOutcome, SealerStatus, ServerPolicy, ServerSessionId, SessionId, TicketStore, decide,
};

fn store(unlinkable: bool, capacity: usize, max_lifetime_secs: u64) -> TicketStore {
    TicketStore::new(ClientPolicy {
        max_lifetime_secs,
        unlinkable,
        capacity: NonZeroUsize::new(capacity).unwrap(),
    })
}

const T: &[u8] = &[0x5a; 192];

#[test]
fn expiry_follows_hint_and_client_cap() {
    let mut s = store(false, 8, 600);
    s.insert("hinted", T, 100, 1000);
    s.insert("unspecified", T, 0, 1000);
    s.insert("long", T, 100_000, 1000);
    for (server, last_ok) in [("hinted", 1099), ("unspecified", 1599), ("long", 1599)] {
        assert!(s.has_usable(server, last_ok), "{server}");
        assert!(!s.has_usable(server, last_ok + 1), "{server}");
        assert!(s.take_for(server, last_ok).unwrap().is_some(), "{server}");
        assert!(
            s.take_for(server, last_ok + 1).unwrap().is_none(),
            "{server}"
        );
        assert!(!s.has_usable(server, 0), "expired ticket removed: {server}");
    }
    assert!(s.is_empty());
}

#[test]
fn clock_going_backwards_keeps_ticket() {
    let mut s = store(false, 8, 600);
    s.insert("a", T, 100, 1000);
    assert!(s.take_for("a", 10).unwrap().is_some());
}

#[test]
fn unlinkable_uses_each_ticket_once() {
    let mut s = store(true, 8, 600);
    s.insert("a", T, 100, 0);
    let p = s.take_for("a", 1).unwrap().unwrap();
    assert_eq!(p.ticket(), T);
    assert!(s.take_for("a", 1).unwrap().is_none(), "second use refused");
    assert!(s.is_empty());
}

#[test]
fn linkable_mode_keeps_ticket_and_draws_fresh_session_ids() {
    let mut s = store(false, 8, 600);
    s.insert("a", T, 100, 0);
    let p1 = s.take_for("a", 1).unwrap().unwrap();
    let p2 = s.take_for("a", 2).unwrap().unwrap();
    assert_eq!(p1.ticket(), p2.ticket());
    assert_eq!(p1.session_id().len(), 32);
    assert_eq!(p2.session_id().len(), 32);
    assert_ne!(
        p1.session_id(),
        p2.session_id(),
        "a fresh session ID per presentation"
    );
    assert_eq!(p1.server(), "a");
}

#[test]
fn resumption_detected_by_echo() {
    let mut s = store(false, 8, 600);
    s.insert("a", T, 100, 0);
    let p = s.take_for("a", 1).unwrap().unwrap();
    let ours = p.session_id();
    assert_eq!(p.outcome(ours.as_bytes()), ResumptionOutcome::Resumed);
    assert_eq!(p.outcome(&[]), ResumptionOutcome::FullHandshake);
    assert_eq!(
        p.outcome(&ours.as_bytes()[..31]),
        ResumptionOutcome::FullHandshake
    );
    let mut other = [0u8; 32];
    other.copy_from_slice(ours.as_bytes());
    other[31] ^= 1;
    assert_eq!(p.outcome(&other), ResumptionOutcome::FullHandshake);
    // Resumed: the ticket stays (linkable mode).
    assert_eq!(
        s.on_server_hello(&p, ours.as_bytes()),
        ResumptionOutcome::Resumed
    );
    assert!(s.has_usable("a", 2));
    // Declined: the dead ticket is dropped so it is not presented again.
    let p = s.take_for("a", 3).unwrap().unwrap();
    assert_eq!(
        s.on_server_hello(&p, &[7; 32]),
        ResumptionOutcome::FullHandshake
    );
    assert!(!s.has_usable("a", 3));
}

#[test]
fn failed_handshake_deletes_presented_ticket_only() {
    let mut s = store(false, 8, 600);
    s.insert("a", T, 100, 0);
    let p = s.take_for("a", 1).unwrap().unwrap();
    assert!(s.on_handshake_failed(&p));
    assert!(!s.has_usable("a", 1));
    assert!(!s.on_handshake_failed(&p), "nothing left to delete");

    // A newer ticket stored meanwhile (another connection) survives the old one's failure.
    s.insert("a", T, 100, 0);
    let p = s.take_for("a", 1).unwrap().unwrap();
    assert_eq!(s.insert("a", &[1; 64], 100, 2), InsertOutcome::Replaced);
    assert!(!s.on_handshake_failed(&p));
    assert_eq!(s.take_for("a", 3).unwrap().unwrap().ticket(), &[1; 64]);
}

#[test]
fn zero_length_ticket_keeps_nothing_new() {
    let mut s = store(false, 8, 600);
    assert_eq!(s.insert("a", &[], 100, 0), InsertOutcome::IgnoredEmpty);
    assert!(s.is_empty());
    s.insert("a", T, 100, 0);
    // The server promised a renewal and changed its mind: the old ticket stays.
    assert_eq!(s.insert("a", &[], 100, 5), InsertOutcome::IgnoredEmpty);
    assert_eq!(s.take_for("a", 6).unwrap().unwrap().ticket(), T);
    let too_long = vec![1u8; 65_536];
    assert_eq!(
        s.insert("a", &too_long, 100, 5),
        InsertOutcome::IgnoredTooLong
    );
    let max = vec![1u8; 65_535];
    assert_eq!(s.insert("a", &max, 100, 5), InsertOutcome::Replaced);
}

#[test]
fn capacity_evicts_oldest() {
    let mut s = store(false, 3, 600);
    assert_eq!(
        s.insert("a", T, 100, 0),
        InsertOutcome::Stored { evicted: None }
    );
    assert_eq!(
        s.insert("b", T, 100, 1),
        InsertOutcome::Stored { evicted: None }
    );
    assert_eq!(
        s.insert("c", T, 100, 2),
        InsertOutcome::Stored { evicted: None }
    );
    // Refreshing a makes b the oldest.
    assert_eq!(s.insert("a", T, 100, 3), InsertOutcome::Replaced);
    assert_eq!(
        s.insert("d", T, 100, 4),
        InsertOutcome::Stored {
            evicted: Some("b".into())
        }
    );
    assert_eq!(
        s.insert("e", T, 100, 5),
        InsertOutcome::Stored {
            evicted: Some("c".into())
        }
    );
    assert_eq!(s.len(), 3);
    for server in ["a", "d", "e"] {
        assert!(s.has_usable(server, 6), "{server}");
    }
    // Many more inserts never exceed the bound.
    for i in 0..100 {
        s.insert(&format!("h{i}"), T, 100, 10 + i);
        assert!(s.len() <= 3);
    }
}

#[test]
fn remove_and_purge() {
    let mut s = store(false, 8, 600);
    s.insert("a", T, 10, 0);
    s.insert("b", T, 100, 0);
    assert!(s.remove("a"));
    assert!(!s.remove("a"));
    s.insert("a", T, 10, 0);
    assert_eq!(s.purge_expired(10), 1);
    assert!(s.has_usable("b", 10));
}

/// Client and server halves together: the client presents, the server decides from the open
/// result, and the client learns the outcome from the ServerHello's session ID.
#[test]
fn client_and_server_agree_on_resumption() {
    let now = 1_700_000_000;
    let server_policy = ServerPolicy {
        lifetime_secs: NonZeroU32::new(3600).unwrap(),
        ..ServerPolicy::default()
    };
    let mut s = store(false, 8, 86_400);
    // First connection: full handshake issues a ticket with an empty session ID.
    let first = ClientOffer {
        session_id: SessionId::EMPTY,
        ticket: ClientTicket::Empty,
    };
    let d = decide(
        &first,
        SealerStatus::Ready { open_until: None },
        &server_policy,
        now,
    );
    assert_eq!(d.kind(), DecisionKind::FullWithTicket);
    assert_eq!(d.server_session_id(), ServerSessionId::Empty);
    let hint = d.new_session_ticket().unwrap().lifetime_hint();
    s.insert("edge", T, hint, now);

    // Second connection: ticket accepted, session ID echoed, client sees a resumption.
    let p = s.take_for("edge", now + 60).unwrap().unwrap();
    let opened = OpenedTicket {
        issued_at: now,
        key_role: KeyRole::Sealing,
        key_open_until: None,
    };
    let offer = ClientOffer {
        session_id: p.session_id(),
        ticket: ClientTicket::Presented(Ok(opened)),
    };
    let d = decide(
        &offer,
        SealerStatus::Ready { open_until: None },
        &server_policy,
        now + 60,
    );
    let ServerSessionId::Echo(echo) = d.server_session_id() else {
        panic!("{d:?}")
    };
    assert_eq!(
        s.on_server_hello(&p, echo.as_bytes()),
        ResumptionOutcome::Resumed
    );

    // After the server's lifetime the client has dropped the ticket itself (hint honoured).
    assert!(s.take_for("edge", now + 3600).unwrap().is_none());
    // And had it presented it, the server would not have resumed.
    let d = decide(
        &offer,
        SealerStatus::Ready { open_until: None },
        &server_policy,
        now + 3601,
    );
    assert!(!d.is_resumption());
    assert_eq!(p.outcome(&[]), ResumptionOutcome::FullHandshake);
}
