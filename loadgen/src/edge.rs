//! The server side of a storm: what an edge server does with each presented ticket.
//!
//! Per batch: open every ticket with the shared ring in one call ([`Ticketer::open_many_at`],
//! the multi-buffer path on the selected backend), then per ticket decode the `StatePlaintext`
//! and feed the outcome to [`tessera::resume::decide`] exactly as a TLS 1.2 server would; the
//! replacement tickets of every renewal are sealed together ([`Ticketer::seal_many`]). The full handshake
//! that follows a rejection is not simulated (network mode measures what it costs a server).
//! Every outcome is checked against what the class demands; a forged ticket that resumes, or an
//! honest one that resumes with the wrong state, is a false accept.

use std::sync::Arc;
use std::time::Instant;

use hdrhistogram::Histogram;
use tessera::backend::Backend;
use tessera::resume::{
    self, ClientOffer, ClientTicket, Decision, OpenedTicket, SealerStatus, SessionId,
};
use tessera::wire::StatePlaintext;
use tessera::{Error, RejectReason, Rejected, StateBatch, TicketBatch, TicketFormat, Ticketer};

use crate::corpus::Corpus;
use crate::mix::Class;

/// Number of reject reasons the engine reports.
pub const REASONS: usize = RejectReason::ALL.len();

/// Highest latency the histograms track (60 s); longer ones saturate.
const MAX_LATENCY_NS: u64 = 60_000_000_000;

/// A new latency histogram (1 ns .. 60 s, 3 significant digits).
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_NS, 3)
        .unwrap_or_else(|_| Histogram::new(3).unwrap_or_else(|_| unreachable_hist()))
}

fn unreachable_hist() -> Histogram<u64> {
    // new(3) cannot fail (3 significant digits is in range); keep a defined fallback anyway.
    Histogram::new_with_max(MAX_LATENCY_NS, 2).unwrap_or_else(|_| std::process::abort())
}

/// What the server did with one ticket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Abbreviated handshake, no new ticket.
    Resumed,
    /// Abbreviated handshake and a new ticket.
    Renewed,
    /// Full handshake, with the counted reason.
    Rejected(RejectReason),
}

/// Counters of one class.
#[derive(Clone)]
pub struct ClassStats {
    /// Requests presented.
    pub offered: u64,
    /// Resumed (with or without renewal).
    pub accepted: u64,
    /// Resumed and renewed.
    pub renewed: u64,
    /// Full handshakes by reason (index = position in `RejectReason::ALL`).
    pub rejected: [u64; REASONS],
    /// Accepted although it must not be, or accepted with the wrong state.
    pub false_accepts: u64,
    /// Honest tickets that did not resume.
    pub false_rejects: u64,
    /// Rejected, but for another reason than the class is built to trigger.
    pub unexpected_reason: u64,
    /// Latency from intended send time to decision, ns.
    pub latency: Histogram<u64>,
}

impl ClassStats {
    fn new() -> Self {
        Self {
            offered: 0,
            accepted: 0,
            renewed: 0,
            rejected: [0; REASONS],
            false_accepts: 0,
            false_rejects: 0,
            unexpected_reason: 0,
            latency: new_histogram(),
        }
    }

    fn merge(&mut self, o: &Self) {
        self.offered += o.offered;
        self.accepted += o.accepted;
        self.renewed += o.renewed;
        for (a, b) in self.rejected.iter_mut().zip(o.rejected) {
            *a += b;
        }
        self.false_accepts += o.false_accepts;
        self.false_rejects += o.false_rejects;
        self.unexpected_reason += o.unexpected_reason;
        // Both histograms have the same bounds; add cannot fail then.
        let _ = self.latency.add(&o.latency);
    }
}

/// Counters of a whole run (one worker's, or merged).
#[derive(Clone)]
pub struct Stats {
    /// Per class, in [`Class::ALL`] order.
    pub classes: Vec<ClassStats>,
    /// Thread CPU time spent inside batches, ns.
    pub cpu_ns: u64,
    /// Batches processed.
    pub batches: u64,
    /// Replacement tickets sealed on renewal.
    pub sealed: u64,
    /// Renewals whose seal failed (the promise is kept with an empty ticket).
    pub seal_failures: u64,
    /// Arrivals scheduled in the window but never served before the drain limit, per class.
    pub unserved: [u64; Class::COUNT],
    /// When the last batch completed.
    pub last_done: Option<Instant>,
}

impl Stats {
    /// Empty counters.
    pub fn new() -> Self {
        Self {
            classes: (0..Class::COUNT).map(|_| ClassStats::new()).collect(),
            cpu_ns: 0,
            batches: 0,
            sealed: 0,
            seal_failures: 0,
            unserved: [0; Class::COUNT],
            last_done: None,
        }
    }

    /// Adds another run's counters.
    pub fn merge(&mut self, o: &Self) {
        for (a, b) in self.classes.iter_mut().zip(&o.classes) {
            a.merge(b);
        }
        self.cpu_ns += o.cpu_ns;
        self.batches += o.batches;
        self.sealed += o.sealed;
        self.seal_failures += o.seal_failures;
        for (a, b) in self.unserved.iter_mut().zip(o.unserved) {
            *a += b;
        }
        self.last_done = self.last_done.max(o.last_done);
    }

    /// Requests served.
    pub fn served(&self) -> u64 {
        self.classes.iter().map(|c| c.offered).sum()
    }

    /// False accepts over all classes.
    pub fn false_accepts(&self) -> u64 {
        self.classes.iter().map(|c| c.false_accepts).sum()
    }

    /// Latency over all classes.
    pub fn overall_latency(&self) -> Histogram<u64> {
        let mut h = new_histogram();
        for c in &self.classes {
            let _ = h.add(&c.latency);
        }
        h
    }
}

impl Default for Stats {
    fn default() -> Self {
        Self::new()
    }
}

/// One request: which ticket, and when the client meant to send it.
#[derive(Clone, Copy, Debug)]
pub struct Request {
    /// Ticket class.
    pub class: Class,
    /// Index into the corpus's tickets of that class.
    pub index: u32,
    /// Intended send time (latency is measured from here: no coordinated omission).
    pub intended: Instant,
}

/// The reason a forged class is built to trigger (`None`: any rejection is right).
pub fn expected_reason(class: Class, format: TicketFormat) -> Option<RejectReason> {
    match class {
        Class::Expired => Some(RejectReason::Expired),
        Class::Future => Some(RejectReason::Future),
        Class::UnknownKey => Some(RejectReason::UnknownKey),
        Class::BadMac => Some(RejectReason::BadMac),
        Class::BadPadding if format == TicketFormat::Aead => Some(RejectReason::BadState),
        Class::BadPadding => Some(RejectReason::BadPadding),
        Class::Oversized => Some(RejectReason::TooLong),
        Class::Valid | Class::Renew | Class::Truncated | Class::Garbage => None,
    }
}

/// Position of a reason in `RejectReason::ALL`.
pub fn reason_index(r: RejectReason) -> usize {
    RejectReason::ALL
        .iter()
        .position(|x| *x == r)
        .unwrap_or(REASONS - 1)
}

/// One worker's server: its own buffers, a ticketer over the shared ring, and its counters.
pub struct Edge {
    corpus: Arc<Corpus>,
    ticketer: Ticketer,
    session_id: SessionId,
    opened: StateBatch,
    status: Vec<Result<tessera::OpenedTicket, Rejected>>,
    sealed: TicketBatch,
    seal_status: Vec<Result<usize, Error>>,
    renew: Vec<usize>,
    outcomes: Vec<Outcome>,
    /// This worker's counters.
    pub stats: Stats,
}

impl Edge {
    /// A server over the corpus's ring and policy, on `backend`.
    pub fn new(corpus: Arc<Corpus>, backend: Backend) -> Self {
        let ticketer =
            Ticketer::with_shared(corpus.ring.clone(), corpus.format).with_backend(backend);
        Self {
            ticketer,
            // A TLS 1.2 client offering a ticket sends a session ID to detect resumption (3.4).
            session_id: SessionId::new(&[0x5a; 32]).unwrap_or_default(),
            opened: StateBatch::new(),
            status: Vec::new(),
            sealed: TicketBatch::new(),
            seal_status: Vec::new(),
            renew: Vec::new(),
            outcomes: Vec::new(),
            stats: Stats::new(),
            corpus,
        }
    }

    /// What the server decides for the `i`-th ticket of the batch just opened.
    fn decide_one(&self, i: usize, now: u64, sealer: SealerStatus) -> Decision {
        let presented = match self.status.get(i).copied() {
            Some(Ok(opened)) => self
                .opened
                .get(i)
                .and_then(|st| StatePlaintext::decode(st).ok())
                .map(|st| OpenedTicket {
                    issued_at: u64::from(st.timestamp),
                    key_role: match opened.key_role {
                        tessera::KeyRole::Sealing => resume::KeyRole::Sealing,
                        tessera::KeyRole::OpeningOnly => resume::KeyRole::OpeningOnly,
                    },
                    key_open_until: opened.key_open_until,
                })
                .ok_or(Rejected(RejectReason::BadState)),
            Some(Err(r)) => Err(r),
            None => Err(Rejected(RejectReason::Malformed)),
        };
        let offer = ClientOffer {
            session_id: self.session_id,
            ticket: ClientTicket::Presented(presented),
        };
        resume::decide(&offer, sealer, &self.corpus.policy, now)
    }

    /// Serves one batch: opens every ticket in one batch call, decides for each, seals all
    /// renewals in one batch call, then stamps every request with one completion time and
    /// counts it. Returns the batch's thread CPU time, ns.
    pub fn serve_batch(&mut self, reqs: &[Request]) -> u64 {
        let cpu0 = cpu_time::ThreadTime::try_now().ok();
        let now = tessera::unix_now();
        let sealer = {
            let ring = self.ticketer.keys().load();
            SealerStatus::Ready {
                open_until: ring.sealing_key().times().open_until,
            }
        };
        let corpus = self.corpus.clone();
        // A request whose ticket is missing from the corpus presents nothing openable.
        let tickets: Vec<&[u8]> = reqs
            .iter()
            .map(|r| {
                corpus
                    .ticket(r.class, r.index)
                    .map_or(&[][..], |t| t.bytes.as_slice())
            })
            .collect();
        self.status.clear();
        self.status
            .resize(reqs.len(), Err(Rejected(RejectReason::Malformed)));
        if self
            .ticketer
            .open_many_at(&tickets, now, &mut self.opened, &mut self.status)
            .is_err()
        {
            // Only a shape or backend error lands here (checked at setup): nothing opened.
            self.status.fill(Err(Rejected(RejectReason::Malformed)));
        }
        let mut outcomes = std::mem::take(&mut self.outcomes);
        outcomes.clear();
        self.renew.clear();
        for (i, r) in reqs.iter().enumerate() {
            let outcome = match self.decide_one(i, now, sealer) {
                Decision::Resume(res) => {
                    // Correct state is part of correctness: count a mismatch as a false accept.
                    let right = corpus
                        .ticket(r.class, r.index)
                        .and_then(|t| t.expected_state.as_deref())
                        .is_some_and(|want| Some(want) == self.opened.get(i));
                    if !right {
                        self.stats.classes[r.class.index()].false_accepts += 1;
                    }
                    if res.renew().is_some() {
                        self.renew.push(i);
                        Outcome::Renewed
                    } else {
                        Outcome::Resumed
                    }
                }
                d @ Decision::FullHandshake(_) => {
                    Outcome::Rejected(d.rejection().unwrap_or(RejectReason::Malformed))
                }
            };
            outcomes.push(outcome);
        }
        if !self.renew.is_empty() {
            let states: Vec<&[u8]> = self
                .renew
                .iter()
                .map(|&i| self.opened.get(i).unwrap_or_default())
                .collect();
            self.seal_status.clear();
            self.seal_status.resize_with(states.len(), || Ok(0));
            match self
                .ticketer
                .seal_many(&states, &mut self.sealed, &mut self.seal_status)
            {
                Ok(()) => {
                    for st in &self.seal_status {
                        match st {
                            Ok(_) => self.stats.sealed += 1,
                            Err(_) => self.stats.seal_failures += 1,
                        }
                    }
                }
                Err(_) => self.stats.seal_failures += states.len() as u64,
            }
        }
        // Plaintext states do not outlive the batch.
        self.opened.clear();
        let done = Instant::now();
        let format = self.corpus.format;
        for (r, o) in reqs.iter().zip(&outcomes) {
            let c = &mut self.stats.classes[r.class.index()];
            c.offered += 1;
            match *o {
                Outcome::Resumed | Outcome::Renewed => {
                    c.accepted += 1;
                    if *o == Outcome::Renewed {
                        c.renewed += 1;
                    }
                    if !r.class.should_resume() {
                        c.false_accepts += 1;
                    }
                }
                Outcome::Rejected(reason) => {
                    c.rejected[reason_index(reason)] += 1;
                    if r.class.should_resume() {
                        c.false_rejects += 1;
                    } else if expected_reason(r.class, format).is_some_and(|e| e != reason) {
                        c.unexpected_reason += 1;
                    }
                }
            }
            let ns = u64::try_from(done.saturating_duration_since(r.intended).as_nanos())
                .unwrap_or(u64::MAX)
                .max(1);
            c.latency.saturating_record(ns);
        }
        self.outcomes = outcomes;
        self.stats.last_done = Some(done);
        let cpu = cpu0
            .and_then(|t| t.try_elapsed().ok())
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        self.stats.cpu_ns += cpu;
        self.stats.batches += 1;
        cpu
    }
}
