//! Server-side resumption decisions against RFC 5077 sections 3.1-3.4, 5.6, 5.8.
//!
//! The table test walks every combination of ClientHello session ID, SessionTicket extension,
//! open result, policy and sealer state, and checks each decision both against an independent
//! statement of the expected outcome and against the RFC's invariants.

use std::num::NonZeroU32;

use proptest::prelude::*;
use tessera::resume::{
    ClientOffer, ClientTicket, Decision, DecisionKind, FullHandshakeCause, KeyRole, NoTicketReason,
    OpenedTicket, RenewReason, SealerStatus, ServerPolicy, ServerSessionId, SessionCacheMode,
    SessionId, decide,
};
use tessera::{RejectReason, Rejected};

const NOW: u64 = 1_700_000_000;
const LIFETIME: u32 = 3600;
const SKEW: u64 = 30;

fn policy(issue_tickets: bool, unlinkable: bool, session_cache: SessionCacheMode) -> ServerPolicy {
    ServerPolicy {
        issue_tickets,
        lifetime_secs: NonZeroU32::new(LIFETIME).unwrap(),
        renew_after_percent: 50,
        unlinkable,
        max_future_skew_secs: SKEW,
        session_cache,
    }
}

/// What the opener could have said about a presented ticket, with the expected window verdict.
#[derive(Clone, Copy, Debug)]
enum Opened {
    /// Young ticket from the sealing key: no reason to renew (unless unlinkable).
    SealingFresh,
    /// Sealing key, but older than half the lifetime.
    SealingAged,
    /// Young ticket, but its key only opens now.
    OpeningOnly,
    /// Older than the lifetime.
    TooOld,
    /// Stamped beyond the allowed skew in the future.
    TooNew,
    /// The opening key's window is over (stale snapshot).
    KeyWindowOver,
    /// The opener rejected it.
    Rejected(RejectReason),
}

impl Opened {
    fn all() -> Vec<Self> {
        let mut v = vec![
            Self::SealingFresh,
            Self::SealingAged,
            Self::OpeningOnly,
            Self::TooOld,
            Self::TooNew,
            Self::KeyWindowOver,
        ];
        v.extend(RejectReason::ALL.iter().map(|&r| Self::Rejected(r)));
        v
    }

    fn ticket(self) -> ClientTicket {
        let ok = |issued_at, key_role, key_open_until| {
            ClientTicket::Presented(Ok(OpenedTicket {
                issued_at,
                key_role,
                key_open_until,
            }))
        };
        match self {
            Self::SealingFresh => ok(NOW - 10, KeyRole::Sealing, Some(NOW + 10_000)),
            Self::SealingAged => ok(NOW - 2000, KeyRole::Sealing, None),
            Self::OpeningOnly => ok(NOW - 10, KeyRole::OpeningOnly, Some(NOW + 500)),
            Self::TooOld => ok(NOW - u64::from(LIFETIME) - 1, KeyRole::Sealing, None),
            Self::TooNew => ok(NOW + SKEW + 1, KeyRole::Sealing, None),
            Self::KeyWindowOver => ok(NOW - 10, KeyRole::OpeningOnly, Some(NOW)),
            Self::Rejected(r) => ClientTicket::Presented(Err(Rejected(r))),
        }
    }

    /// The expected verdict: accepted (with the renewal reason it calls for) or rejected.
    fn verdict(self, unlinkable: bool) -> Result<Option<RenewReason>, RejectReason> {
        match self {
            Self::SealingFresh => Ok(unlinkable.then_some(RenewReason::Unlinkable)),
            Self::SealingAged => Ok(Some(RenewReason::Aged)),
            Self::OpeningOnly => Ok(Some(RenewReason::OpeningOnlyKey)),
            Self::TooOld | Self::KeyWindowOver => Err(RejectReason::Expired),
            Self::TooNew => Err(RejectReason::Future),
            Self::Rejected(r) => Err(r),
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Ext {
    Absent,
    Empty,
    Ticket(Opened),
}

fn sealers() -> [SealerStatus; 4] {
    [
        SealerStatus::Ready { open_until: None },
        // Less time left than the policy lifetime: the hint must shrink to it.
        SealerStatus::Ready {
            open_until: Some(NOW + 900),
        },
        // The key's window ends now: it must not promise a ticket it cannot open.
        SealerStatus::Ready {
            open_until: Some(NOW),
        },
        SealerStatus::Unavailable,
    ]
}

fn sealer_can_issue(sealer: SealerStatus) -> bool {
    matches!(sealer, SealerStatus::Ready { open_until } if open_until.is_none_or(|t| t > NOW))
}

/// RFC invariants that hold for every decision, whatever the inputs.
fn check_invariants(
    offer: &ClientOffer,
    sealer: SealerStatus,
    policy: &ServerPolicy,
    now: u64,
    d: &Decision,
) {
    let ctx =
        || format!("offer={offer:?} sealer={sealer:?} policy={policy:?} now={now} decision={d:?}");
    // 3.2: the empty ServerHello extension iff a NewSessionTicket follows, and only if the
    // client sent the extension.
    assert_eq!(
        d.server_hello_ticket_extension(),
        d.new_session_ticket().is_some(),
        "{}",
        ctx()
    );
    if d.server_hello_ticket_extension() {
        assert!(
            offer.ticket.extension_sent(),
            "ext without client ext: {}",
            ctx()
        );
        assert!(policy.issue_tickets, "ticket while policy off: {}", ctx());
    }
    // 5.6: the hint is positive, no longer than the lifetime, no longer than the sealing key
    // can still open.
    if let Some(p) = d.new_session_ticket() {
        let hint = u64::from(p.lifetime_hint());
        assert!(
            hint > 0 && hint <= u64::from(policy.lifetime_secs.get()),
            "{}",
            ctx()
        );
        match sealer {
            SealerStatus::Ready {
                open_until: Some(t),
            } => {
                assert!(t > now && hint <= t - now, "hint outlives key: {}", ctx())
            }
            SealerStatus::Ready { open_until: None } => {}
            SealerStatus::Unavailable => panic!("promise without a sealer: {}", ctx()),
        }
    }
    // 3.4: a presented ticket is never looked up as a session ID.
    if offer.ticket.ticket_presented() {
        assert_eq!(d.session_cache_lookup(), None, "{}", ctx());
    }
    if let Some(id) = d.session_cache_lookup() {
        assert_eq!(id, offer.session_id);
        assert!(!id.is_empty());
    }
    // Only a presented ticket can resume, and an accepted one echoes the session ID.
    match d {
        Decision::Resume(r) => {
            assert!(
                matches!(offer.ticket, ClientTicket::Presented(Ok(_))),
                "{}",
                ctx()
            );
            assert_eq!(
                d.server_session_id(),
                ServerSessionId::Echo(offer.session_id)
            );
            assert_eq!(r.echo_session_id(), offer.session_id);
            assert_eq!(d.rejection(), None);
            assert!(r.renew().is_none() || r.renewal_withheld().is_none());
        }
        Decision::FullHandshake(f) => {
            assert!(
                !matches!(d.server_session_id(), ServerSessionId::Echo(_)),
                "{}",
                ctx()
            );
            assert_eq!(f.issue().is_some(), f.withheld().is_none());
            // 3.4: issuing a ticket in a full handshake sends an empty session ID unless the
            // operator asked for a fresh one alongside a cache.
            if f.issue().is_some()
                && policy.session_cache != SessionCacheMode::AlongsideFreshWithTicket
            {
                assert_eq!(f.session_id(), ServerSessionId::Empty, "{}", ctx());
            }
            if policy.session_cache == SessionCacheMode::TicketsOnly {
                assert_eq!(f.session_id(), ServerSessionId::Empty, "{}", ctx());
            }
            assert_eq!(
                d.rejection().is_some(),
                offer.ticket.ticket_presented(),
                "{}",
                ctx()
            );
        }
    }
}

#[test]
fn decision_table_every_combination() {
    let session_ids = [
        SessionId::EMPTY,
        SessionId::new(&[0x11; 32]).unwrap(),
        SessionId::new(&[0x22]).unwrap(),
    ];
    let mut exts = vec![Ext::Absent, Ext::Empty];
    exts.extend(Opened::all().into_iter().map(Ext::Ticket));
    let caches = [
        SessionCacheMode::TicketsOnly,
        SessionCacheMode::Alongside,
        SessionCacheMode::AlongsideFreshWithTicket,
    ];
    let mut cases = 0;
    let mut kinds = std::collections::HashMap::new();
    for session_id in session_ids {
        for &ext in &exts {
            for issue in [false, true] {
                for unlinkable in [false, true] {
                    for cache in caches {
                        for sealer in sealers() {
                            let pol = policy(issue, unlinkable, cache);
                            let ticket = match ext {
                                Ext::Absent => ClientTicket::Absent,
                                Ext::Empty => ClientTicket::Empty,
                                Ext::Ticket(o) => o.ticket(),
                            };
                            let offer = ClientOffer { session_id, ticket };
                            let d = decide(&offer, sealer, &pol, NOW);
                            assert_eq!(pol.decide(&offer, sealer, NOW), d);
                            check_invariants(&offer, sealer, &pol, NOW, &d);
                            check_expected(ext, &offer, sealer, &pol, &d);
                            *kinds.entry(d.kind()).or_insert(0) += 1;
                            cases += 1;
                        }
                    }
                }
            }
        }
    }
    assert_eq!(cases, 3 * (2 + 6 + RejectReason::ALL.len()) * 2 * 2 * 3 * 4);
    // Every outcome is reachable from the table.
    assert_eq!(kinds.len(), 4, "{kinds:?}");
}

/// The expected decision, stated per input class.
fn check_expected(
    ext: Ext,
    offer: &ClientOffer,
    sealer: SealerStatus,
    pol: &ServerPolicy,
    d: &Decision,
) {
    let can_issue = pol.issue_tickets && sealer_can_issue(sealer);
    let why_not = if !pol.issue_tickets {
        NoTicketReason::PolicyOff
    } else {
        NoTicketReason::NoSealingKey
    };
    let ctx = format!("ext={ext:?} sealer={sealer:?} policy={pol:?} decision={d:?}");
    let expect_full_session_id = |issuing: bool| match (pol.session_cache, issuing) {
        (SessionCacheMode::TicketsOnly, _) | (SessionCacheMode::Alongside, true) => {
            ServerSessionId::Empty
        }
        _ => ServerSessionId::Fresh,
    };
    match ext {
        Ext::Absent | Ext::Empty => {
            let Decision::FullHandshake(f) = d else {
                panic!("{ctx}")
            };
            let lookup = (pol.session_cache != SessionCacheMode::TicketsOnly
                && !offer.session_id.is_empty())
            .then_some(offer.session_id);
            assert_eq!(
                f.cause(),
                FullHandshakeCause::NoTicket {
                    session_cache_lookup: lookup
                },
                "{ctx}"
            );
            let issuing = matches!(ext, Ext::Empty) && can_issue;
            assert_eq!(f.issue().is_some(), issuing, "{ctx}");
            if matches!(ext, Ext::Absent) {
                assert_eq!(f.withheld(), Some(NoTicketReason::ClientDidNotAsk), "{ctx}");
            } else if !issuing {
                assert_eq!(f.withheld(), Some(why_not), "{ctx}");
            }
            assert_eq!(f.session_id(), expect_full_session_id(issuing), "{ctx}");
        }
        Ext::Ticket(o) => match o.verdict(pol.unlinkable) {
            Err(reason) => {
                let Decision::FullHandshake(f) = d else {
                    panic!("{ctx}")
                };
                assert_eq!(
                    f.cause(),
                    FullHandshakeCause::TicketRejected(reason),
                    "{ctx}"
                );
                assert_eq!(d.rejection(), Some(reason), "{ctx}");
                // 3.1: the server may issue a new ticket after refusing one.
                assert_eq!(f.issue().is_some(), can_issue, "{ctx}");
                if !can_issue {
                    assert_eq!(f.withheld(), Some(why_not), "{ctx}");
                }
                assert_eq!(f.session_id(), expect_full_session_id(can_issue), "{ctx}");
            }
            Ok(renew) => {
                let Decision::Resume(r) = d else {
                    panic!("{ctx}")
                };
                match (renew, can_issue) {
                    (None, _) => {
                        assert_eq!(d.kind(), DecisionKind::Resumed, "{ctx}");
                        assert_eq!(r.renewal_withheld(), None, "{ctx}");
                    }
                    (Some(reason), true) => {
                        assert_eq!(d.kind(), DecisionKind::ResumedRenewed, "{ctx}");
                        assert_eq!(r.renew().map(|x| x.reason), Some(reason), "{ctx}");
                    }
                    (Some(_), false) => {
                        assert_eq!(d.kind(), DecisionKind::Resumed, "{ctx}");
                        assert_eq!(r.renewal_withheld(), Some(why_not), "{ctx}");
                    }
                }
            }
        },
    }
    // Hint: min(lifetime, key remaining), exactly.
    if let Some(p) = d.new_session_ticket() {
        let expected = match sealer {
            SealerStatus::Ready {
                open_until: Some(t),
            } => (t - NOW).min(u64::from(LIFETIME)),
            _ => u64::from(LIFETIME),
        };
        assert_eq!(u64::from(p.lifetime_hint()), expected, "{ctx}");
    }
}

fn opened_at(issued_at: u64) -> ClientOffer {
    ClientOffer {
        session_id: SessionId::new(&[3; 32]).unwrap(),
        ticket: ClientTicket::Presented(Ok(OpenedTicket {
            issued_at,
            key_role: KeyRole::Sealing,
            key_open_until: None,
        })),
    }
}

const READY: SealerStatus = SealerStatus::Ready { open_until: None };

#[test]
fn lifetime_boundaries_with_injected_clock() {
    let pol = policy(true, false, SessionCacheMode::TicketsOnly);
    let issued = 1_000_000;
    let lifetime = u64::from(LIFETIME);
    // The same ticket as the clock moves.
    let at = |now: u64| decide(&opened_at(issued), READY, &pol, now);
    assert!(at(issued).is_resumption());
    assert!(at(issued + lifetime - 1).is_resumption());
    assert!(
        at(issued + lifetime).is_resumption(),
        "age == lifetime is still valid"
    );
    assert_eq!(
        at(issued + lifetime + 1).rejection(),
        Some(RejectReason::Expired)
    );
    assert_eq!(at(u64::MAX).rejection(), Some(RejectReason::Expired));
    // Clock behind the ticket's stamp: within skew resumes with age 0, beyond is Future.
    let Decision::Resume(r) = at(issued - SKEW) else {
        panic!()
    };
    assert_eq!(r.age(), 0);
    assert_eq!(
        at(issued - SKEW - 1).rejection(),
        Some(RejectReason::Future)
    );
    assert_eq!(at(0).rejection(), Some(RejectReason::Future));
    // Expired and Future tickets still get a fresh ticket in the full handshake.
    assert_eq!(
        at(issued + lifetime + 1).kind(),
        DecisionKind::FullWithTicket
    );
}

#[test]
fn renewal_boundary_at_fraction_of_lifetime() {
    let pol = policy(true, false, SessionCacheMode::TicketsOnly);
    let threshold = u64::from(LIFETIME) / 2;
    let d = decide(&opened_at(NOW - threshold), READY, &pol, NOW);
    assert_eq!(d.kind(), DecisionKind::Resumed);
    let d = decide(&opened_at(NOW - threshold - 1), READY, &pol, NOW);
    assert_eq!(d.kind(), DecisionKind::ResumedRenewed);
    let Decision::Resume(r) = d else { panic!() };
    assert_eq!(r.renew().unwrap().reason, RenewReason::Aged);
    // 0 %: any age above zero renews; above 100 %: age never renews.
    let eager = ServerPolicy {
        renew_after_percent: 0,
        ..pol
    };
    assert_eq!(
        decide(&opened_at(NOW), READY, &eager, NOW).kind(),
        DecisionKind::Resumed
    );
    assert_eq!(
        decide(&opened_at(NOW - 1), READY, &eager, NOW).kind(),
        DecisionKind::ResumedRenewed
    );
    let never = ServerPolicy {
        renew_after_percent: 255,
        ..pol
    };
    let oldest = NOW - u64::from(LIFETIME);
    assert_eq!(
        decide(&opened_at(oldest), READY, &never, NOW).kind(),
        DecisionKind::Resumed
    );
}

#[test]
fn unlinkable_renews_every_resumption() {
    let pol = policy(true, true, SessionCacheMode::TicketsOnly);
    for age in [0, 1, 100, u64::from(LIFETIME)] {
        let d = decide(&opened_at(NOW - age), READY, &pol, NOW);
        assert_eq!(d.kind(), DecisionKind::ResumedRenewed, "age {age}");
        assert!(d.server_hello_ticket_extension());
    }
}

#[test]
fn key_window_ends_exactly_at_open_until() {
    let pol = policy(true, false, SessionCacheMode::TicketsOnly);
    let offer = |until| ClientOffer {
        session_id: SessionId::EMPTY,
        ticket: ClientTicket::Presented(Ok(OpenedTicket {
            issued_at: NOW - 5,
            key_role: KeyRole::OpeningOnly,
            key_open_until: Some(until),
        })),
    };
    assert!(decide(&offer(NOW + 1), READY, &pol, NOW).is_resumption());
    assert_eq!(
        decide(&offer(NOW).clone(), READY, &pol, NOW).rejection(),
        Some(RejectReason::Expired)
    );
}

#[test]
fn hint_never_outlives_sealing_key() {
    let pol = policy(true, false, SessionCacheMode::TicketsOnly);
    let empty = ClientOffer {
        session_id: SessionId::EMPTY,
        ticket: ClientTicket::Empty,
    };
    for (left, hint) in [
        (1, 1),
        (899, 899),
        (u64::from(LIFETIME), LIFETIME),
        (u64::MAX - NOW, LIFETIME),
    ] {
        let d = decide(
            &empty,
            SealerStatus::Ready {
                open_until: Some(NOW + left),
            },
            &pol,
            NOW,
        );
        assert_eq!(
            d.new_session_ticket().unwrap().lifetime_hint(),
            hint,
            "left {left}"
        );
    }
    let past = decide(
        &empty,
        SealerStatus::Ready {
            open_until: Some(NOW - 1),
        },
        &pol,
        NOW,
    );
    assert_eq!(past.new_session_ticket(), None);
}

#[test]
fn promised_then_seal_failed_sends_zero_length_ticket() {
    let pol = policy(true, false, SessionCacheMode::TicketsOnly);
    let offer = ClientOffer {
        session_id: SessionId::EMPTY,
        ticket: ClientTicket::Empty,
    };
    let d = decide(&offer, READY, &pol, NOW);
    // ServerHello went out with the empty extension: the promise is made.
    assert!(d.server_hello_ticket_extension());
    let promise = d.new_session_ticket().unwrap();
    // ... the sealing key vanished before the client's Finished arrived.
    let nst = promise.seal_failed();
    assert_eq!(nst.lifetime_hint, 0);
    assert!(nst.ticket.is_empty() && nst.is_withdrawal());
}

#[test]
fn stateful_lookup_only_without_ticket() {
    let sid = SessionId::new(&[9; 32]).unwrap();
    let pol = policy(true, false, SessionCacheMode::Alongside);
    for ticket in [ClientTicket::Absent, ClientTicket::Empty] {
        assert_eq!(
            decide(
                &ClientOffer {
                    session_id: sid,
                    ticket
                },
                READY,
                &pol,
                NOW
            )
            .session_cache_lookup(),
            Some(sid)
        );
    }
    for r in RejectReason::ALL {
        let ticket = ClientTicket::Presented(Err(Rejected(r)));
        assert_eq!(
            decide(
                &ClientOffer {
                    session_id: sid,
                    ticket
                },
                READY,
                &pol,
                NOW
            )
            .session_cache_lookup(),
            None
        );
    }
    // No cache, nothing to look up.
    let pol = policy(true, false, SessionCacheMode::TicketsOnly);
    assert_eq!(
        decide(
            &ClientOffer {
                session_id: sid,
                ticket: ClientTicket::Empty
            },
            READY,
            &pol,
            NOW
        )
        .session_cache_lookup(),
        None
    );
}

#[test]
fn counter_names_are_stable_and_distinct() {
    let names: Vec<_> = [
        DecisionKind::Resumed,
        DecisionKind::ResumedRenewed,
        DecisionKind::FullWithTicket,
        DecisionKind::FullWithoutTicket,
    ]
    .iter()
    .map(|k| k.as_str())
    .collect();
    assert_eq!(
        names,
        [
            "resumed",
            "renewed",
            "full_with_ticket",
            "full_without_ticket"
        ]
    );
    let reasons: std::collections::HashSet<_> = [
        RenewReason::OpeningOnlyKey,
        RenewReason::Aged,
        RenewReason::Unlinkable,
    ]
    .iter()
    .map(|r| r.as_str())
    .chain(
        [
            NoTicketReason::ClientDidNotAsk,
            NoTicketReason::PolicyOff,
            NoTicketReason::NoSealingKey,
        ]
        .iter()
        .map(|r| r.as_str()),
    )
    .collect();
    assert_eq!(reasons.len(), 6);
}

fn any_ticket() -> impl Strategy<Value = ClientTicket> {
    let opened = (
        any::<u64>(),
        any::<bool>(),
        proptest::option::of(any::<u64>()),
    )
        .prop_map(|(issued_at, sealing, key_open_until)| {
            ClientTicket::Presented(Ok(OpenedTicket {
                issued_at,
                key_role: if sealing {
                    KeyRole::Sealing
                } else {
                    KeyRole::OpeningOnly
                },
                key_open_until,
            }))
        });
    let rejected = proptest::sample::select(RejectReason::ALL.to_vec())
        .prop_map(|r| ClientTicket::Presented(Err(Rejected(r))));
    prop_oneof![
        Just(ClientTicket::Absent),
        Just(ClientTicket::Empty),
        opened,
        rejected
    ]
}

fn any_policy() -> impl Strategy<Value = ServerPolicy> {
    (
        any::<bool>(),
        1..=u32::MAX,
        any::<u8>(),
        any::<bool>(),
        any::<u64>(),
        0..3u8,
    )
        .prop_map(|(issue, life, pct, unl, skew, cache)| ServerPolicy {
            issue_tickets: issue,
            lifetime_secs: NonZeroU32::new(life).unwrap(),
            renew_after_percent: pct,
            unlinkable: unl,
            max_future_skew_secs: skew,
            session_cache: [
                SessionCacheMode::TicketsOnly,
                SessionCacheMode::Alongside,
                SessionCacheMode::AlongsideFreshWithTicket,
            ][usize::from(cache)],
        })
}

fn any_sealer() -> impl Strategy<Value = SealerStatus> {
    prop_oneof![
        Just(SealerStatus::Unavailable),
        proptest::option::of(any::<u64>())
            .prop_map(|open_until| SealerStatus::Ready { open_until })
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Arbitrary inputs, including extreme timestamps: never a panic, always the invariants.
    #[test]
    fn invariants_hold_for_arbitrary_inputs(
        sid in proptest::collection::vec(any::<u8>(), 0..=32),
        ticket in any_ticket(),
        sealer in any_sealer(),
        pol in any_policy(),
        now in any::<u64>(),
    ) {
        let offer = ClientOffer { session_id: SessionId::new(&sid).unwrap(), ticket };
        let d = decide(&offer, sealer, &pol, now);
        check_invariants(&offer, sealer, &pol, now, &d);
        if let Decision::Resume(r) = d {
            prop_assert!(r.age() <= u64::from(pol.lifetime_secs.get()));
        }
    }
}
