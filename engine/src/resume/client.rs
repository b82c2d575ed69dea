//! Client side: a ticket store (RFC 5077 sections 3.2-3.4, 5.6, 5.8).
//!
//! Per server name the store keeps one ticket with its lifetime hint and the time it arrived.
//! A ticket is presented with a fresh random session ID; the server echoing that ID is how the
//! client learns the ticket was accepted (3.4). A ticket whose resumed handshake failed is
//! deleted (3.2); with `unlinkable` each ticket is used once (5.8).
//!
//! ```
//! use tessera::resume::{ClientPolicy, ResumptionOutcome, TicketStore};
//! let mut store = TicketStore::new(ClientPolicy::default());
//! store.insert("example.com", &[0x42; 160], 7200, 1_000);
//! let p = store.take_for("example.com", 1_100).unwrap().unwrap();
//! // ... send p.ticket() in the SessionTicket extension, p.session_id() as the session ID ...
//! let echoed = p.session_id();
//! assert_eq!(store.on_server_hello(&p, echoed.as_bytes()), ResumptionOutcome::Resumed);
//! ```

use core::fmt;
use core::num::NonZeroUsize;
use std::collections::{BTreeMap, HashMap};

use super::session_id::SessionId;
use crate::error::Error;

/// The client's own ticket policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClientPolicy {
    /// Longest a ticket is kept, in seconds: the lifetime when the server's hint is 0
    /// ("unspecified"), and a cap on longer hints (a client may discard earlier, 3.3).
    pub max_lifetime_secs: u64,
    /// Use each ticket at most once, so observers cannot link sessions by ticket (5.8).
    pub unlinkable: bool,
    /// Most servers remembered; inserting beyond it evicts the oldest ticket.
    pub capacity: NonZeroUsize,
}

impl ClientPolicy {
    /// Default cap: 24 hours, the session-cache lifetime RFC 5077 takes as its reference point.
    pub const DEFAULT_MAX_LIFETIME_SECS: u64 = 24 * 60 * 60;
    /// Default capacity: 1024 servers.
    pub const DEFAULT_CAPACITY: usize = 1024;

    /// How long a ticket with this hint may be used.
    fn effective_lifetime(&self, hint: u32) -> u64 {
        if hint == 0 {
            self.max_lifetime_secs
        } else {
            u64::from(hint).min(self.max_lifetime_secs)
        }
    }
}

impl Default for ClientPolicy {
    fn default() -> Self {
        Self {
            max_lifetime_secs: Self::DEFAULT_MAX_LIFETIME_SECS,
            unlinkable: false,
            capacity: NonZeroUsize::new(Self::DEFAULT_CAPACITY).unwrap_or(NonZeroUsize::MIN),
        }
    }
}

struct Stored {
    ticket: Vec<u8>,
    lifetime_hint: u32,
    received_at: u64,
    /// Unique per insert: ties a presentation to the exact ticket it carried, and orders
    /// entries for eviction.
    generation: u64,
}

/// What [`TicketStore::insert`] did.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum InsertOutcome {
    /// Stored for a server that had no ticket; `evicted` names the server whose ticket made
    /// room, if the store was full.
    Stored {
        /// The server whose (oldest) ticket was dropped for capacity.
        evicted: Option<String>,
    },
    /// Replaced the server's previous ticket.
    Replaced,
    /// A zero-length ticket: the server promised one and changed its mind (3.3). Nothing new
    /// is kept; an existing ticket stays.
    IgnoredEmpty,
    /// Longer than a NewSessionTicket can carry (2^16-1 bytes): not from a valid message.
    IgnoredTooLong,
}

/// Whether the server accepted the presented ticket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResumptionOutcome {
    /// The server echoed our session ID: abbreviated handshake on the ticket.
    Resumed,
    /// Any other session ID: the server ignored the ticket and runs a full handshake.
    FullHandshake,
}

/// A ticket taken from the store for one ClientHello, with the session ID to send beside it.
pub struct Presentation {
    server: String,
    ticket: Vec<u8>,
    session_id: SessionId,
    generation: u64,
}

impl Presentation {
    /// The server this ticket is for.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The ticket bytes for the ClientHello's SessionTicket extension.
    pub fn ticket(&self) -> &[u8] {
        &self.ticket
    }

    /// The fresh 32-byte session ID for the ClientHello (3.4).
    pub fn session_id(&self) -> SessionId {
        self.session_id
    }

    /// Did the ServerHello's session ID echo ours? Ours is 32 random bytes, so a server that
    /// did not accept the ticket cannot match it by accident or from a session cache.
    pub fn outcome(&self, server_session_id: &[u8]) -> ResumptionOutcome {
        if server_session_id == self.session_id.as_bytes() {
            ResumptionOutcome::Resumed
        } else {
            ResumptionOutcome::FullHandshake
        }
    }
}

impl fmt::Debug for Presentation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Presentation")
            .field("server", &self.server)
            .field("ticket_len", &self.ticket.len())
            .field("session_id", &self.session_id)
            .finish()
    }
}

/// Tickets per server name, bounded, clock-injected (`now` in unix seconds).
///
/// Server names are used exactly as given; callers that want case-insensitive host names
/// should normalise them first.
pub struct TicketStore {
    policy: ClientPolicy,
    entries: HashMap<String, Stored>,
    /// generation -> server name, oldest first.
    order: BTreeMap<u64, String>,
    next_generation: u64,
}

impl TicketStore {
    /// An empty store.
    pub fn new(policy: ClientPolicy) -> Self {
        Self {
            policy,
            entries: HashMap::new(),
            order: BTreeMap::new(),
            next_generation: 0,
        }
    }

    /// The store's policy.
    pub fn policy(&self) -> &ClientPolicy {
        &self.policy
    }

    /// Number of servers with a stored ticket (expired ones included until purged).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no ticket is stored.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Is there a ticket for `server` that is still usable at `now`?
    pub fn has_usable(&self, server: &str, now: u64) -> bool {
        self.entries
            .get(server)
            .is_some_and(|s| self.usable(s, now))
    }

    /// Keeps the ticket from a NewSessionTicket for `server`, replacing any earlier one.
    /// A zero-length ticket means the server changed its mind: nothing new is kept.
    pub fn insert(
        &mut self,
        server: &str,
        ticket: &[u8],
        lifetime_hint: u32,
        now: u64,
    ) -> InsertOutcome {
        if ticket.is_empty() {
            return InsertOutcome::IgnoredEmpty;
        }
        if ticket.len() > usize::from(u16::MAX) {
            return InsertOutcome::IgnoredTooLong;
        }
        let generation = self.next_generation;
        self.next_generation += 1;
        let stored = Stored {
            ticket: ticket.to_vec(),
            lifetime_hint,
            received_at: now,
            generation,
        };
        if let Some(old) = self.entries.insert(server.to_owned(), stored) {
            self.order.remove(&old.generation);
            self.order.insert(generation, server.to_owned());
            return InsertOutcome::Replaced;
        }
        self.order.insert(generation, server.to_owned());
        let evicted = if self.entries.len() > self.policy.capacity.get() {
            self.evict_oldest()
        } else {
            None
        };
        InsertOutcome::Stored { evicted }
    }

    /// Takes the ticket for `server` to present in a ClientHello, with a fresh random session
    /// ID. An expired ticket is dropped and `None` returned. With `unlinkable` the ticket
    /// leaves the store; otherwise it stays until replaced or deleted.
    ///
    /// Fails only if the OS random source fails; the store is then unchanged.
    pub fn take_for(&mut self, server: &str, now: u64) -> Result<Option<Presentation>, Error> {
        let Some(stored) = self.entries.get(server) else {
            return Ok(None);
        };
        if !self.usable(stored, now) {
            self.remove(server);
            return Ok(None);
        }
        let session_id = SessionId::random()?;
        let generation = stored.generation;
        let ticket = if self.policy.unlinkable {
            self.order.remove(&generation);
            self.entries
                .remove(server)
                .map(|s| s.ticket)
                .unwrap_or_default()
        } else {
            stored.ticket.clone()
        };
        Ok(Some(Presentation {
            server: server.to_owned(),
            ticket,
            session_id,
            generation,
        }))
    }

    /// Reads the ServerHello's session ID after presenting `presentation`. A declined ticket
    /// is dropped (if still stored) so it is not presented again: it would not open and would
    /// only let observers link the attempts.
    pub fn on_server_hello(
        &mut self,
        presentation: &Presentation,
        server_session_id: &[u8],
    ) -> ResumptionOutcome {
        let outcome = presentation.outcome(server_session_id);
        if outcome == ResumptionOutcome::FullHandshake {
            self.remove_presented(presentation);
        }
        outcome
    }

    /// The handshake that presented `presentation` failed: delete that ticket (3.2). A newer
    /// ticket stored for the server meanwhile is kept. Returns whether anything was deleted.
    pub fn on_handshake_failed(&mut self, presentation: &Presentation) -> bool {
        self.remove_presented(presentation)
    }

    /// Forgets the ticket for `server`. Returns whether there was one.
    pub fn remove(&mut self, server: &str) -> bool {
        match self.entries.remove(server) {
            Some(old) => {
                self.order.remove(&old.generation);
                true
            }
            None => false,
        }
    }

    /// Drops every ticket no longer usable at `now`; returns how many.
    pub fn purge_expired(&mut self, now: u64) -> usize {
        let policy = self.policy;
        let before = self.entries.len();
        let order = &mut self.order;
        self.entries.retain(|_, s| {
            let keep = usable(&policy, s, now);
            if !keep {
                order.remove(&s.generation);
            }
            keep
        });
        before - self.entries.len()
    }

    fn usable(&self, stored: &Stored, now: u64) -> bool {
        usable(&self.policy, stored, now)
    }

    fn remove_presented(&mut self, presentation: &Presentation) -> bool {
        let same = self
            .entries
            .get(&presentation.server)
            .is_some_and(|s| s.generation == presentation.generation);
        same && self.remove(&presentation.server)
    }

    fn evict_oldest(&mut self) -> Option<String> {
        let (_, server) = self.order.pop_first()?;
        self.entries.remove(&server);
        Some(server)
    }
}

/// A ticket is usable while its age is below its effective lifetime. Strictly below: the
/// server stamped it a little before we received it, so at our age == hint it may already
/// be past the server's lifetime. A clock that went backwards counts as age 0.
fn usable(policy: &ClientPolicy, stored: &Stored, now: u64) -> bool {
    now.saturating_sub(stored.received_at) < policy.effective_lifetime(stored.lifetime_hint)
}

impl fmt::Debug for TicketStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (gen_, server) in &self.order {
            if let Some(s) = self.entries.get(server) {
                m.entry(
                    server,
                    &format_args!(
                        "{{ ticket_len: {}, lifetime_hint: {}, received_at: {}, generation: {gen_} }}",
                        s.ticket.len(),
                        s.lifetime_hint,
                        s.received_at
                    ),
                );
            }
        }
        m.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(unlinkable: bool, capacity: usize) -> TicketStore {
        TicketStore::new(ClientPolicy {
            max_lifetime_secs: 1000,
            unlinkable,
            capacity: NonZeroUsize::new(capacity).unwrap(),
        })
    }

    #[test]
    fn expiry_is_strictly_below_hint() {
        let mut s = store(false, 4);
        s.insert("a", &[1; 10], 100, 50);
        assert!(s.take_for("a", 149).unwrap().is_some());
        assert!(s.take_for("a", 150).unwrap().is_none());
        assert!(s.is_empty(), "expired ticket dropped on take");
    }

    #[test]
    fn zero_hint_uses_client_max_and_hint_is_capped() {
        let mut s = store(false, 4);
        s.insert("zero", &[1; 10], 0, 0);
        s.insert("long", &[1; 10], 5000, 0);
        assert!(s.has_usable("zero", 999));
        assert!(!s.has_usable("zero", 1000));
        assert!(s.has_usable("long", 999));
        assert!(!s.has_usable("long", 1000));
        assert_eq!(s.purge_expired(1000), 2);
        assert!(s.is_empty());
    }

    #[test]
    fn order_index_stays_consistent() {
        let mut s = store(false, 2);
        s.insert("a", &[1], 10, 0);
        s.insert("b", &[2], 10, 0);
        s.insert("a", &[3], 10, 1); // refreshes a: b is now oldest
        assert_eq!(
            s.insert("c", &[4], 10, 2),
            InsertOutcome::Stored {
                evicted: Some("b".into())
            }
        );
        assert_eq!(s.order.len(), s.entries.len());
        assert!(s.remove("a"));
        assert_eq!(s.order.len(), s.entries.len());
        assert_eq!(s.purge_expired(100), 1);
        assert!(s.order.is_empty() && s.entries.is_empty());
    }

    #[test]
    fn debug_hides_ticket_bytes() {
        // A distinctive ticket, so a random session ID printed beside it cannot match by chance.
        const TICKET: &[u8] = b"SECRET-TICKET-BYTES";
        let leaks = |text: &str| {
            text.contains("SECRET-TICKET")
                || text.contains("83, 69, 67, 82, 69, 84")
                || text.to_lowercase().contains("5345435245")
        };
        let mut s = store(false, 2);
        s.insert("example.com", TICKET, 10, 0);
        let text = format!("{s:?}");
        assert!(text.contains("ticket_len: 19"), "{text}");
        assert!(!leaks(&text), "{text}");
        let p = s.take_for("example.com", 1).unwrap().unwrap();
        let text = format!("{p:?}");
        assert!(text.contains("ticket_len: 19") && !leaks(&text), "{text}");
    }
}
