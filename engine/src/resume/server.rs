//! Server side: what to do with a ClientHello's session ID and SessionTicket extension
//! (RFC 5077 sections 3.1-3.4, 5.1, 5.6, 5.8).
//!
//! [`decide`] is a pure function of what the ClientHello carried, the result of opening the
//! ticket, the state of the sealing key, the policy and `now`. Its [`Decision`] says which
//! handshake to run and exactly what goes on the wire:
//!
//! | ClientHello                   | Decision                                   | ServerHello ext | NewSessionTicket |
//! |-------------------------------|--------------------------------------------|-----------------|------------------|
//! | no extension                  | full handshake, no ticket                  | no              | no               |
//! | empty extension               | full handshake, ticket if policy + key     | iff ticket      | iff ticket       |
//! | ticket, not accepted          | full handshake, ticket if policy + key     | iff ticket      | iff ticket       |
//! | ticket, accepted              | resume; renew if opening-only key / aged / unlinkable | iff renew | iff renew |
//!
//! Rules the types enforce:
//! - The empty SessionTicket extension goes in ServerHello if and only if a NewSessionTicket
//!   follows, and only when the client sent the extension (3.2). Both come from one
//!   [`TicketPromise`]; a server that cannot seal after promising sends the zero-length
//!   NewSessionTicket from [`TicketPromise::seal_failed`] (3.3).
//! - A ticket that does not open, or is expired or from the future, means a full handshake,
//!   never an error: [`decide`] is infallible (3.2, 5.6).
//! - A presented ticket is never looked up as a stateful session ID (3.4): only
//!   [`FullHandshakeCause::NoTicket`] carries a session-cache lookup key.
//! - An accepted ticket echoes the ClientHello's session ID (3.4).
//! - The lifetime hint of a new ticket never exceeds the time its sealing key can still open it.
//!
//! How a TLS 1.2 server drives it (the opener and sealer are the integrator's key ring):
//!
//! ```
//! use tessera::resume::{decide, ClientOffer, ClientTicket, Decision, KeyRole, OpenedTicket,
//!                       SealerStatus, ServerPolicy, ServerSessionId, SessionId};
//! let now = 1_700_000_000;
//! let policy = ServerPolicy::default();
//! // ClientHello: 32-byte session ID + a ticket that the ring opened with a decrypt-only key.
//! let offer = ClientOffer {
//!     session_id: SessionId::new(&[7; 32]).unwrap(),
//!     ticket: ClientTicket::Presented(Ok(OpenedTicket {
//!         issued_at: now - 60, key_role: KeyRole::OpeningOnly, key_open_until: Some(now + 600),
//!     })),
//! };
//! let sealer = SealerStatus::Ready { open_until: Some(now + 3600) };
//! let d = decide(&offer, sealer, &policy, now);
//! // ServerHello: session ID and the (empty) SessionTicket extension.
//! assert_eq!(d.server_session_id(), ServerSessionId::Echo(offer.session_id));
//! assert!(d.server_hello_ticket_extension()); // renewing: moves the client to the new key
//! assert!(d.is_resumption());
//! // NewSessionTicket: seal a fresh ticket; if sealing fails, keep the promise with length 0.
//! if let Some(promise) = d.new_session_ticket() {
//!     let sealed: Result<Vec<u8>, ()> = Ok(vec![0xab; 192]);
//!     let nst = match &sealed {
//!         Ok(ticket) => promise.sealed(ticket),
//!         Err(_) => promise.seal_failed(),
//!     };
//!     assert_eq!(nst.lifetime_hint, 3600); // min(policy 2 h, sealing key's 1 h left)
//! }
//! ```

use core::fmt;
use core::num::NonZeroU32;

use super::session_id::SessionId;
use crate::error::{RejectReason, Rejected};

/// The role, in the key ring, of the key that opened a ticket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyRole {
    /// The ring's current sealing key.
    Sealing,
    /// A key kept only to open tickets it sealed earlier (rotated out or pre-published).
    OpeningOnly,
}

/// What opening a ticket revealed. Only an opener whose MAC check passed can produce this, so
/// nothing in it is attacker-chosen (section 5.1: integrity before use).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OpenedTicket {
    /// The timestamp sealed in the ticket's state (unix seconds).
    pub issued_at: u64,
    /// Whether the key that opened it still seals.
    pub key_role: KeyRole,
    /// When the opening key stops opening (unix seconds); `None` = no limit.
    pub key_open_until: Option<u64>,
}

/// The ClientHello's SessionTicket extension (type 35), with the open result when it carried
/// a ticket. The ticket bytes themselves were handed to the opener; only the outcome matters
/// here, so a ticket's contents can never leak into the decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClientTicket {
    /// No SessionTicket extension: the client does not do tickets.
    Absent,
    /// A zero-length extension: the client has no ticket and wants one.
    Empty,
    /// A ticket, and what opening it gave. A ticket the wire layer could not even frame is
    /// `Presented(Err(Rejected(RejectReason::Malformed)))`: still a full handshake, never an alert.
    Presented(Result<OpenedTicket, Rejected>),
}

impl ClientTicket {
    /// Did the ClientHello carry the SessionTicket extension at all?
    pub const fn extension_sent(&self) -> bool {
        !matches!(self, Self::Absent)
    }

    /// Did the ClientHello carry a (non-empty) ticket?
    pub const fn ticket_presented(&self) -> bool {
        matches!(self, Self::Presented(_))
    }
}

/// The parts of a ClientHello that matter for ticket resumption.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClientOffer {
    /// The legacy session ID the client sent (0..=32 bytes).
    pub session_id: SessionId,
    /// The SessionTicket extension and, for a ticket, the open result.
    pub ticket: ClientTicket,
}

/// Whether the server can seal a new ticket right now. Kept apart from [`ServerPolicy`]
/// because it is key-ring state that changes with every rotation, not configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SealerStatus {
    /// A sealing key is available; it opens tickets until `open_until` (`None` = no limit).
    Ready {
        /// When the sealing key stops opening (unix seconds).
        open_until: Option<u64>,
    },
    /// No key can seal now (empty ring, sealing window over, or the operator disabled it).
    Unavailable,
}

/// How the server's stateful session cache, if any, coexists with tickets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SessionCacheMode {
    /// Tickets only. Full handshakes send an empty session ID; nothing is looked up by ID.
    #[default]
    TicketsOnly,
    /// A session cache runs alongside tickets. A ClientHello without a ticket may be looked up
    /// by session ID; a full handshake that issues no ticket gets a fresh session ID; one that
    /// issues a ticket sends an empty session ID (RFC 5077 section 3.4).
    Alongside,
    /// Like `Alongside`, but a full handshake that issues a ticket also gets a fresh session ID
    /// (and a cache entry), for clients that might drop the ticket. Section 3.4 recommends an
    /// empty ID instead; a client that keeps the ticket discards this ID.
    AlongsideFreshWithTicket,
}

/// The server's resumption policy. Plain data; `Default` gives the documented defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ServerPolicy {
    /// Issue new tickets (full handshakes and renewals). Off = still accept presented tickets,
    /// e.g. while draining a fleet off tickets.
    pub issue_tickets: bool,
    /// How long a ticket stays valid after its timestamp, in seconds; also the lifetime hint.
    /// A ticket whose age equals the lifetime is still accepted; one second more and it is not.
    /// Non-zero because a zero hint means "unspecified" on the wire (section 3.3).
    pub lifetime_secs: NonZeroU32,
    /// Renew an accepted ticket once its age exceeds this percentage of the lifetime
    /// (values above 100 never renew on age).
    pub renew_after_percent: u8,
    /// Issue a fresh ticket on every resumption so observers cannot link sessions by ticket
    /// (section 5.8).
    pub unlinkable: bool,
    /// How far in the future (seconds) a ticket's timestamp may be, for fleets whose clocks
    /// differ; beyond it the ticket is rejected as `Future`.
    pub max_future_skew_secs: u64,
    /// Session ID handling when a stateful cache runs too.
    pub session_cache: SessionCacheMode,
}

impl ServerPolicy {
    /// Default ticket lifetime: 2 hours. Long enough that a revisit within a browsing session
    /// resumes; short enough that a stolen ticket key exposes little (forward secrecy lasts
    /// only as long as a ticket can open). Far below TLS 1.3's 7-day cap (RFC 8446 4.6.1).
    pub const DEFAULT_LIFETIME_SECS: u32 = 2 * 60 * 60;
    /// Default renewal point: half the lifetime, so an active client never runs out.
    pub const DEFAULT_RENEW_AFTER_PERCENT: u8 = 50;
    /// Default clock skew allowance: 60 s, comfortably above NTP-synchronised fleet drift.
    pub const DEFAULT_MAX_FUTURE_SKEW_SECS: u64 = 60;

    /// Decides for one ClientHello (same as [`decide`]).
    pub fn decide(&self, offer: &ClientOffer, sealer: SealerStatus, now: u64) -> Decision {
        decide(offer, sealer, self, now)
    }

    /// Age of an opened ticket if it is inside its validity window at `now`, else why not.
    fn check_window(&self, ticket: &OpenedTicket, now: u64) -> Result<u64, RejectReason> {
        // An opener working from a slightly stale ring snapshot could hand us a ticket whose
        // key has just stopped opening; treat it as the key's window being over.
        if ticket.key_open_until.is_some_and(|until| now >= until) {
            return Err(RejectReason::Expired);
        }
        if ticket.issued_at > now {
            return if ticket.issued_at - now > self.max_future_skew_secs {
                Err(RejectReason::Future)
            } else {
                Ok(0)
            };
        }
        let age = now - ticket.issued_at;
        if age > u64::from(self.lifetime_secs.get()) {
            return Err(RejectReason::Expired);
        }
        Ok(age)
    }

    /// Why an accepted ticket should be replaced, if it should (first matching reason).
    fn renewal_due(&self, ticket: &OpenedTicket, age: u64) -> Option<RenewReason> {
        let renew_after =
            u64::from(self.lifetime_secs.get()) * u64::from(self.renew_after_percent) / 100;
        if ticket.key_role == KeyRole::OpeningOnly {
            Some(RenewReason::OpeningOnlyKey)
        } else if age > renew_after {
            Some(RenewReason::Aged)
        } else if self.unlinkable {
            Some(RenewReason::Unlinkable)
        } else {
            None
        }
    }

    /// Can a ticket be issued now (the client having sent the extension)? With what hint?
    fn plan_ticket(&self, sealer: SealerStatus, now: u64) -> Result<TicketPromise, NoTicketReason> {
        if !self.issue_tickets {
            return Err(NoTicketReason::PolicyOff);
        }
        let SealerStatus::Ready { open_until } = sealer else {
            return Err(NoTicketReason::NoSealingKey);
        };
        let lifetime = self.lifetime_secs.get();
        let hint = match open_until {
            None => lifetime,
            Some(until) => {
                let remaining = until.saturating_sub(now);
                if remaining == 0 {
                    // The key would seal a ticket it can no longer open.
                    return Err(NoTicketReason::NoSealingKey);
                }
                // min() with a u32 fits in u32.
                u32::try_from(remaining.min(u64::from(lifetime))).unwrap_or(lifetime)
            }
        };
        Ok(TicketPromise {
            lifetime_hint: hint,
        })
    }

    /// The session ID of a full handshake's ServerHello.
    fn full_handshake_session_id(&self, issuing: bool) -> ServerSessionId {
        match (self.session_cache, issuing) {
            (SessionCacheMode::TicketsOnly, _) => ServerSessionId::Empty,
            (SessionCacheMode::Alongside, true) => ServerSessionId::Empty,
            (SessionCacheMode::Alongside, false) => ServerSessionId::Fresh,
            (SessionCacheMode::AlongsideFreshWithTicket, _) => ServerSessionId::Fresh,
        }
    }
}

impl Default for ServerPolicy {
    fn default() -> Self {
        Self {
            issue_tickets: true,
            lifetime_secs: NonZeroU32::new(Self::DEFAULT_LIFETIME_SECS).unwrap_or(NonZeroU32::MIN),
            renew_after_percent: Self::DEFAULT_RENEW_AFTER_PERCENT,
            unlinkable: false,
            max_future_skew_secs: Self::DEFAULT_MAX_FUTURE_SKEW_SECS,
            session_cache: SessionCacheMode::TicketsOnly,
        }
    }
}

/// Why an accepted ticket is replaced by a new one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RenewReason {
    /// It was opened by a key that no longer seals: move the client onto the current key.
    OpeningOnlyKey,
    /// Its age passed `renew_after_percent` of the lifetime.
    Aged,
    /// The policy asks for a fresh ticket on every resumption (section 5.8).
    Unlinkable,
}

impl RenewReason {
    /// A stable snake_case name for counters.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::OpeningOnlyKey => "opening_only_key",
            Self::Aged => "aged",
            Self::Unlinkable => "unlinkable",
        }
    }
}

/// Why no new ticket goes out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NoTicketReason {
    /// The ClientHello had no SessionTicket extension; the server must not send one (3.2).
    ClientDidNotAsk,
    /// The policy does not issue tickets.
    PolicyOff,
    /// No key can seal now (or the sealing key could not open what it seals).
    NoSealingKey,
}

impl NoTicketReason {
    /// A stable snake_case name for counters.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ClientDidNotAsk => "client_did_not_ask",
            Self::PolicyOff => "policy_off",
            Self::NoSealingKey => "no_sealing_key",
        }
    }
}

/// The server has committed (by the empty SessionTicket extension in ServerHello) to send a
/// NewSessionTicket. It must be kept: either with the sealed ticket or, if sealing failed,
/// with a zero-length ticket (section 3.3). Never both, never neither.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[must_use = "a promised NewSessionTicket must be sent"]
pub struct TicketPromise {
    lifetime_hint: u32,
}

impl TicketPromise {
    /// The lifetime hint for the new ticket: min(policy lifetime, time the sealing key can still
    /// open), in seconds; never 0 (0 means "unspecified" on the wire).
    pub const fn lifetime_hint(&self) -> u32 {
        self.lifetime_hint
    }

    /// The NewSessionTicket to send with a freshly sealed ticket. A ticket the message cannot
    /// carry (empty or longer than 2^16-1 bytes) becomes the zero-length ticket instead, so the
    /// promise is still kept.
    pub fn sealed(self, ticket: &[u8]) -> NewSessionTicketContent<'_> {
        if ticket.is_empty() || ticket.len() > usize::from(u16::MAX) {
            return self.seal_failed();
        }
        NewSessionTicketContent {
            lifetime_hint: self.lifetime_hint,
            ticket,
        }
    }

    /// The server promised a ticket but cannot seal one (key gone mid-handshake, seal error):
    /// send a NewSessionTicket with a zero-length ticket and hint 0 (section 3.3).
    pub const fn seal_failed(self) -> NewSessionTicketContent<'static> {
        NewSessionTicketContent {
            lifetime_hint: 0,
            ticket: &[],
        }
    }
}

/// The body of a NewSessionTicket message: `uint32 ticket_lifetime_hint; opaque ticket<0..2^16-1>`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct NewSessionTicketContent<'a> {
    /// Seconds; 0 = unspecified.
    pub lifetime_hint: u32,
    /// The ticket; empty when the server changed its mind.
    pub ticket: &'a [u8],
}

impl NewSessionTicketContent<'_> {
    /// True for the zero-length "changed my mind" ticket.
    pub const fn is_withdrawal(&self) -> bool {
        self.ticket.is_empty()
    }
}

impl fmt::Debug for NewSessionTicketContent<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewSessionTicketContent")
            .field("lifetime_hint", &self.lifetime_hint)
            .field("ticket_len", &self.ticket.len())
            .finish()
    }
}

/// The session ID the ServerHello carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServerSessionId {
    /// Echo the ClientHello's session ID (ticket accepted, section 3.4). May be empty if the
    /// client sent none.
    Echo(SessionId),
    /// Send an empty session ID (ticket issued, section 3.4; or nothing resumable by ID).
    Empty,
    /// Draw a fresh random session ID (e.g. [`SessionId::random`]) and cache the session under
    /// it; only with a stateful cache.
    Fresh,
}

/// A ticket was accepted: abbreviated handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Resume {
    echo_session_id: SessionId,
    age: u64,
    renew: Option<Renewal>,
    renewal_withheld: Option<NoTicketReason>,
}

impl Resume {
    /// The ClientHello's session ID, to put in ServerHello (section 3.4).
    pub const fn echo_session_id(&self) -> SessionId {
        self.echo_session_id
    }

    /// The ticket's age in seconds (0 for a timestamp slightly in the future).
    pub const fn age(&self) -> u64 {
        self.age
    }

    /// The renewal to perform, if any.
    pub const fn renew(&self) -> Option<Renewal> {
        self.renew
    }

    /// A renewal was due but cannot happen (policy off or no sealing key); for counters.
    pub const fn renewal_withheld(&self) -> Option<NoTicketReason> {
        self.renewal_withheld
    }
}

/// A renewal on resumption: send the empty extension in ServerHello and a NewSessionTicket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Renewal {
    /// Why the ticket is replaced.
    pub reason: RenewReason,
    /// The NewSessionTicket commitment.
    pub promise: TicketPromise,
}

/// Why a full handshake happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FullHandshakeCause {
    /// No ticket was presented (extension absent or empty). A server with a stateful cache may
    /// first try the session ID in `session_cache_lookup`; if that hits, it resumes statefully
    /// and this decision's ticket plan still applies.
    NoTicket {
        /// The session ID to look up, when there is one and the policy has a cache.
        session_cache_lookup: Option<SessionId>,
    },
    /// A ticket was presented but not accepted. There is deliberately no cache lookup here:
    /// a ClientHello with a ticket is never resumed by session ID (section 3.4).
    TicketRejected(RejectReason),
}

/// No ticket was accepted: full handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FullHandshake {
    cause: FullHandshakeCause,
    ticket: Result<TicketPromise, NoTicketReason>,
    session_id: ServerSessionId,
}

impl FullHandshake {
    /// Why no ticket resumed the session.
    pub const fn cause(&self) -> FullHandshakeCause {
        self.cause
    }

    /// The new ticket to issue, if any.
    pub const fn issue(&self) -> Option<TicketPromise> {
        match self.ticket {
            Ok(p) => Some(p),
            Err(_) => None,
        }
    }

    /// Why no ticket is issued, if none is.
    pub const fn withheld(&self) -> Option<NoTicketReason> {
        match self.ticket {
            Ok(_) => None,
            Err(r) => Some(r),
        }
    }

    /// The ServerHello's session ID.
    pub const fn session_id(&self) -> ServerSessionId {
        self.session_id
    }
}

/// What the server does with one ClientHello.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Abbreviated handshake on the presented ticket.
    Resume(Resume),
    /// Full handshake.
    FullHandshake(FullHandshake),
}

/// The four outcomes, for counters and logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DecisionKind {
    /// Resumed on the ticket, no new ticket.
    Resumed,
    /// Resumed and a new ticket issued.
    ResumedRenewed,
    /// Full handshake, new ticket issued.
    FullWithTicket,
    /// Full handshake, no ticket.
    FullWithoutTicket,
}

impl DecisionKind {
    /// A stable snake_case name for counters.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Resumed => "resumed",
            Self::ResumedRenewed => "renewed",
            Self::FullWithTicket => "full_with_ticket",
            Self::FullWithoutTicket => "full_without_ticket",
        }
    }
}

impl Decision {
    /// Which of the four outcomes this is.
    pub const fn kind(&self) -> DecisionKind {
        match self {
            Self::Resume(Resume { renew: Some(_), .. }) => DecisionKind::ResumedRenewed,
            Self::Resume(_) => DecisionKind::Resumed,
            Self::FullHandshake(FullHandshake { ticket: Ok(_), .. }) => {
                DecisionKind::FullWithTicket
            }
            Self::FullHandshake(_) => DecisionKind::FullWithoutTicket,
        }
    }

    /// True for an abbreviated handshake.
    pub const fn is_resumption(&self) -> bool {
        matches!(self, Self::Resume(_))
    }

    /// The NewSessionTicket commitment, if one follows.
    pub const fn new_session_ticket(&self) -> Option<TicketPromise> {
        match self {
            Self::Resume(Resume { renew: Some(r), .. }) => Some(r.promise),
            Self::Resume(_) => None,
            Self::FullHandshake(f) => f.issue(),
        }
    }

    /// Does ServerHello carry the empty SessionTicket extension? True exactly when a
    /// NewSessionTicket follows (section 3.2).
    pub const fn server_hello_ticket_extension(&self) -> bool {
        self.new_session_ticket().is_some()
    }

    /// The ServerHello's session ID.
    pub const fn server_session_id(&self) -> ServerSessionId {
        match self {
            Self::Resume(r) => ServerSessionId::Echo(r.echo_session_id),
            Self::FullHandshake(f) => f.session_id,
        }
    }

    /// Why a presented ticket was not accepted (for counters only; never for the wire).
    pub const fn rejection(&self) -> Option<RejectReason> {
        match self {
            Self::FullHandshake(FullHandshake {
                cause: FullHandshakeCause::TicketRejected(r),
                ..
            }) => Some(*r),
            _ => None,
        }
    }

    /// The session ID a stateful cache may look up first. Never set when a ticket was presented.
    pub const fn session_cache_lookup(&self) -> Option<SessionId> {
        match self {
            Self::FullHandshake(FullHandshake {
                cause:
                    FullHandshakeCause::NoTicket {
                        session_cache_lookup,
                    },
                ..
            }) => *session_cache_lookup,
            _ => None,
        }
    }
}

/// Decides what the server does with one ClientHello at `now` (unix seconds).
///
/// Infallible by design: every bad, expired or foreign ticket ends in a full handshake.
/// `offer.ticket` must come from the opener for this very ClientHello; `sealer` from the key
/// ring snapshot used for this handshake.
pub fn decide(
    offer: &ClientOffer,
    sealer: SealerStatus,
    policy: &ServerPolicy,
    now: u64,
) -> Decision {
    let opened = match offer.ticket {
        ClientTicket::Absent => {
            return full(
                policy,
                no_ticket(offer, policy),
                Err(NoTicketReason::ClientDidNotAsk),
            );
        }
        ClientTicket::Empty => {
            return full(
                policy,
                no_ticket(offer, policy),
                policy.plan_ticket(sealer, now),
            );
        }
        ClientTicket::Presented(Err(Rejected(reason))) => {
            let cause = FullHandshakeCause::TicketRejected(reason);
            return full(policy, cause, policy.plan_ticket(sealer, now));
        }
        ClientTicket::Presented(Ok(opened)) => opened,
    };
    let age = match policy.check_window(&opened, now) {
        Ok(age) => age,
        Err(reason) => {
            let cause = FullHandshakeCause::TicketRejected(reason);
            return full(policy, cause, policy.plan_ticket(sealer, now));
        }
    };
    let (renew, renewal_withheld) = match policy.renewal_due(&opened, age) {
        None => (None, None),
        Some(reason) => match policy.plan_ticket(sealer, now) {
            Ok(promise) => (Some(Renewal { reason, promise }), None),
            Err(why_not) => (None, Some(why_not)),
        },
    };
    Decision::Resume(Resume {
        echo_session_id: offer.session_id,
        age,
        renew,
        renewal_withheld,
    })
}

fn no_ticket(offer: &ClientOffer, policy: &ServerPolicy) -> FullHandshakeCause {
    let has_cache = policy.session_cache != SessionCacheMode::TicketsOnly;
    let session_cache_lookup =
        (has_cache && !offer.session_id.is_empty()).then_some(offer.session_id);
    FullHandshakeCause::NoTicket {
        session_cache_lookup,
    }
}

fn full(
    policy: &ServerPolicy,
    cause: FullHandshakeCause,
    ticket: Result<TicketPromise, NoTicketReason>,
) -> Decision {
    let session_id = policy.full_handshake_session_id(ticket.is_ok());
    Decision::FullHandshake(FullHandshake {
        cause,
        ticket,
        session_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000;

    fn opened(issued_at: u64, key_role: KeyRole) -> ClientTicket {
        ClientTicket::Presented(Ok(OpenedTicket {
            issued_at,
            key_role,
            key_open_until: None,
        }))
    }

    fn offer(sid: &[u8], ticket: ClientTicket) -> ClientOffer {
        ClientOffer {
            session_id: SessionId::new(sid).unwrap(),
            ticket,
        }
    }

    const READY: SealerStatus = SealerStatus::Ready { open_until: None };

    #[test]
    fn fresh_ticket_resumes_and_echoes() {
        let d = decide(
            &offer(&[9; 32], opened(NOW - 10, KeyRole::Sealing)),
            READY,
            &ServerPolicy::default(),
            NOW,
        );
        assert_eq!(d.kind(), DecisionKind::Resumed);
        assert_eq!(
            d.server_session_id(),
            ServerSessionId::Echo(SessionId::new(&[9; 32]).unwrap())
        );
        assert!(!d.server_hello_ticket_extension());
        assert_eq!(d.new_session_ticket(), None);
    }

    #[test]
    fn opening_only_key_renews_with_capped_hint() {
        let sealer = SealerStatus::Ready {
            open_until: Some(NOW + 100),
        };
        let d = decide(
            &offer(&[], opened(NOW - 10, KeyRole::OpeningOnly)),
            sealer,
            &ServerPolicy::default(),
            NOW,
        );
        let Decision::Resume(r) = d else {
            panic!("expected resume: {d:?}")
        };
        let renewal = r.renew().unwrap();
        assert_eq!(renewal.reason, RenewReason::OpeningOnlyKey);
        assert_eq!(renewal.promise.lifetime_hint(), 100);
        assert!(d.server_hello_ticket_extension());
    }

    #[test]
    fn absent_extension_never_gets_a_ticket() {
        let d = decide(
            &offer(&[1], ClientTicket::Absent),
            READY,
            &ServerPolicy::default(),
            NOW,
        );
        assert_eq!(d.kind(), DecisionKind::FullWithoutTicket);
        let Decision::FullHandshake(f) = d else {
            panic!()
        };
        assert_eq!(f.withheld(), Some(NoTicketReason::ClientDidNotAsk));
        assert!(!d.server_hello_ticket_extension());
    }

    #[test]
    fn rejected_ticket_is_a_full_handshake_with_new_ticket() {
        let t = ClientTicket::Presented(Err(Rejected(RejectReason::BadMac)));
        let d = decide(&offer(&[5; 16], t), READY, &ServerPolicy::default(), NOW);
        assert_eq!(d.kind(), DecisionKind::FullWithTicket);
        assert_eq!(d.rejection(), Some(RejectReason::BadMac));
        assert_eq!(d.session_cache_lookup(), None);
        assert_eq!(d.server_session_id(), ServerSessionId::Empty);
        assert_eq!(
            d.new_session_ticket().unwrap().lifetime_hint(),
            ServerPolicy::DEFAULT_LIFETIME_SECS
        );
    }

    #[test]
    fn promise_kept_or_withdrawn() {
        let p = TicketPromise { lifetime_hint: 300 };
        let ticket = [0xaa; 48];
        let sent = p.sealed(&ticket);
        assert_eq!(sent.lifetime_hint, 300);
        assert_eq!(sent.ticket, &ticket[..]);
        assert!(!sent.is_withdrawal());
        let gone = p.seal_failed();
        assert_eq!((gone.lifetime_hint, gone.ticket.len()), (0, 0));
        assert!(gone.is_withdrawal());
        // Tickets a NewSessionTicket cannot carry still keep the promise, as a withdrawal.
        assert!(p.sealed(&[]).is_withdrawal());
        let huge = vec![1u8; 65_536];
        assert!(p.sealed(&huge).is_withdrawal());
        let max = vec![1u8; 65_535];
        assert_eq!(p.sealed(&max).ticket.len(), 65_535);
    }

    #[test]
    fn nst_debug_shows_length_only() {
        let p = TicketPromise { lifetime_hint: 5 };
        let s = format!("{:?}", p.sealed(&[0xde, 0xad, 0xbe, 0xef]));
        assert_eq!(
            s,
            "NewSessionTicketContent { lifetime_hint: 5, ticket_len: 4 }"
        );
    }

    #[test]
    fn sealing_key_at_end_of_window_cannot_promise() {
        let sealer = SealerStatus::Ready {
            open_until: Some(NOW),
        };
        let d = decide(
            &offer(&[], ClientTicket::Empty),
            sealer,
            &ServerPolicy::default(),
            NOW,
        );
        let Decision::FullHandshake(f) = d else {
            panic!()
        };
        assert_eq!(f.withheld(), Some(NoTicketReason::NoSealingKey));
    }
}
