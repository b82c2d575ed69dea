//! Resumption decisions (RFC 5077 sections 3.1-3.4, 5.1, 5.6, 5.8), server and client side.
//!
//! Everything here is pure and clock-injected: the caller passes `now` (unix seconds) and what
//! the handshake carried, and gets back what to put on the wire. Nothing here parses bytes or
//! touches keys; the wire codecs and the key ring feed the small input types defined here.
//!
//! - [`server`]: [`decide`] turns a ClientHello's session ID, its SessionTicket extension and
//!   the result of opening the ticket into a [`Decision`] (resume, resume and renew, full
//!   handshake with or without a new ticket), plus the derived wire actions.
//! - [`client`]: [`TicketStore`] keeps tickets per server, honours lifetime hints, uses each
//!   ticket once when asked for unlinkability, and detects resumption by the session-ID echo.
#![forbid(unsafe_code)]

pub mod client;
pub mod server;
mod session_id;

pub use client::{ClientPolicy, InsertOutcome, Presentation, ResumptionOutcome, TicketStore};
pub use server::{
    ClientOffer, ClientTicket, Decision, DecisionKind, FullHandshake, FullHandshakeCause, KeyRole,
    NewSessionTicketContent, NoTicketReason, OpenedTicket, RenewReason, Renewal, Resume,
    SealerStatus, ServerPolicy, ServerSessionId, SessionCacheMode, TicketPromise, decide,
};
pub use session_id::{SessionId, SessionIdTooLong};
