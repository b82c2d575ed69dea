//! Batch sealing and opening: many tickets per call through the multi-buffer kernels.
//!
//! The entry points are [`Ticketer::seal_many`](crate::Ticketer::seal_many) and
//! [`Ticketer::open_many`](crate::Ticketer::open_many); this module holds the engine behind
//! them plus lower-level forms that take an explicit [`Backend`], per-ticket keys and formats
//! ([`seal_many`], [`OpenParams::open_many`]) so tests and benches can force each backend.
//!
//! # Shape
//! Outputs go to caller-owned [`TicketBatch`] / [`StateBatch`] values: one flat byte buffer
//! plus a span per ticket, laid out once per call. They only grow, so after the first batch
//! of a given size a call allocates nothing (`tests/batch_alloc.rs` counts). Each ticket gets
//! its own result in a caller-provided status slice; a bad ticket never affects another.
//!
//! # Pipeline
//! Work runs in chunks of [`CHUNK`] tickets whose bookkeeping lives on the stack:
//! - seal: one call to the per-thread IV generator for the chunk, header + state + PKCS#7
//!   padding written in place, all CBC encryptions through
//!   [`AesKernel::cbc_encrypt_many`](crate::backend::AesKernel::cbc_encrypt_many), then all
//!   MACs through [`MacKernel::hmac_sha256_many`](crate::backend::MacKernel::hmac_sha256_many);
//! - open: length and layout checks and key lookup per ticket (scalar, cheapest rejection
//!   first), then ALL MACs of the chunk in one multi-buffer call, constant-time tag checks,
//!   then CBC decryption of only the tickets whose MAC verified, then padding and the key's
//!   opening window.
//!
//! Mixed keys (AES-128 and AES-256), mixed lengths and mixed CBC formats share the kernels'
//! lanes: the kernels refill a lane as soon as its ticket ends, so a long ticket never drops
//! the batch to one lane. AEAD tickets (XAES-256-GCM) are queued in groups of four for the x86
//! XAES kernel ([`Clmul`](crate::backend::Clmul), `backend/x86_gcm.rs`: key derivations and
//! schedules interleaved, GHASH in lockstep); on open each group's tags are checked before any
//! decryption. The [`Backend::Portable`] backend goes through the single-ticket code of
//! [`crate::format`] (the oracle the SIMD path is tested against). The AES phase (ymm with
//! VAES) and the SHA-NI phase are separate calls, and every VAES entry point ends with
//! `vzeroupper`, so SHA-NI never runs with dirty upper state.
//!
//! # Cost (rfc5077, 128-byte state, batch 1024, one thread; see `bench/benches/batch.rs`)
//! Measured on the 2-vCPU AMD EPYC dev VM (Zen 5, ~4.2 GHz; best of 1000 calls,
//! `bench/examples/batch_profile.rs`): vaes-shani ~96-101 ns/ticket to seal and ~109-112 to open
//! (before the hand-scheduled SHA-NI kernels: ~123 and ~128). Where a sealed ticket's time goes
//! (perf): SHA-256 compressions ~64 ns (4 per ticket: 3 inner blocks for the 178-byte MAC input
//! after the precomputed key block, 1 outer; 4 SHA-NI streams at ~16 ns a block), CBC ~12 ns, IVs
//! ~3 ns (AES-256-CTR, `pool::IvRng`), HMAC glue (lockstep groups) ~4 ns, this module ~10 ns
//! (headers, padding, copies). Opening: the same MAC, CBC decryption ~15 ns (straight from the
//! ticket into the output), this module with split, unpadding and tag checks ~16 ns. Unknown-key
//! rejection: ~12 ns per ticket.
//!
//! The MAC is at its floor here: `sha256rnds2` issues once per 2 cycles, so 4 blocks cost at
//! least ~61 ns whatever the stream count. What is left to win is the non-SHA work, which
//! could run in the SHA unit's shadow: CBC of the next group of tickets (sealing) or of the
//! already verified previous group (opening) interleaved with the SHA-NI rounds.
//!
//! AEAD (XAES-256-GCM), same shape: vaes-shani ~73 ns/ticket to seal and ~75 to open, against
//! ~365 on the portable backend; where the time goes: see `backend/x86_gcm.rs`.
//!
//! Per-ticket costs removed here on the way: a byte-wise volatile wipe of the (public) IV
//! buffer, `subtle`'s volatile-read barrier per byte (the workspace now enables its
//! `core_hint_black_box` feature), a barrier-per-operation PKCS#7 check (`unpad_ct`), the
//! byte-wise MAC comparison (`tag_matches`), repeated key lookups of one key name, and
//! 128-slot stack arrays for small batches.
#![forbid(unsafe_code)]

use core::fmt;
use core::marker::PhantomData;

use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use crate::backend::Backend;
use crate::error::{Error, RejectReason, Rejected};
use crate::format::{self, TicketFormat};
use crate::keys::{KeyRing, KeyRole, TicketKey};
use crate::ticketer::{OpenedTicket, fill_iv};

/// Tickets handled per internal chunk. All per-chunk bookkeeping is on the stack (~20 KB);
/// 128 tickets of a 128-byte state are ~23 KB of ticket bytes, so the AES and the MAC passes
/// over one chunk run in L1/L2, and a chunk holds 8 full groups of the widest (16-lane) kernel.
pub const CHUNK: usize = 128;

/// Chunk arrays used when a whole chunk has at most this many tickets (a small pool flush;
/// a lone ticket gets arrays of one): initializing 128 slots would cost more than the ticket.
const SMALL_CHUNK: usize = 16;

/// Bytes per ticket in [`IvSource::Fixed`]: an AEAD nonce is 24 bytes; CBC formats use the
/// first 16.
pub const IV_SLOT: usize = 24;

/// Where sealing takes its IVs / nonces from.
#[derive(Clone, Copy, Debug)]
pub enum IvSource<'a> {
    /// The per-thread [`IvRng`](crate::pool::IvRng) (one fill per chunk).
    Random,
    /// One slot per ticket, for known-answer and differential tests only: reusing an IV or
    /// nonce under one key breaks confidentiality.
    Fixed(&'a [[u8; IV_SLOT]]),
}

/// One ticket to seal: its format, key and state.
#[derive(Clone, Copy)]
pub struct SealInput<'a> {
    /// The ticket format.
    pub format: TicketFormat,
    /// The sealing key.
    pub key: &'a TicketKey,
    /// The session state to seal.
    pub state: &'a [u8],
}

impl fmt::Debug for SealInput<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealInput")
            .field("format", &self.format)
            .field("key", &self.key.name())
            .field("state_len", &self.state.len())
            .finish()
    }
}

/// The format of each ticket in an open batch.
#[derive(Clone, Copy, Debug)]
pub enum Formats<'a> {
    /// Every ticket has this format.
    One(TicketFormat),
    /// `formats[i]` is ticket i's format (same length as the batch).
    PerTicket(&'a [TicketFormat]),
}

impl Formats<'_> {
    fn get(self, i: usize) -> Option<TicketFormat> {
        match self {
            Self::One(f) => Some(f),
            Self::PerTicket(v) => v.get(i).copied(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Caller-owned outputs

/// A flat buffer with one region per ticket, laid out back to back. Only grows.
#[derive(Default)]
struct Flat {
    buf: Vec<u8>,
    /// `(start, len)` of each ticket's bytes; `None` for a ticket that failed.
    spans: Vec<Option<(usize, usize)>>,
}

impl Flat {
    /// Lays out `n` regions of `region_len(i)` bytes (`None`: no region). Grows the buffer
    /// only when it is too small (no memset of an already large buffer).
    fn layout(
        &mut self,
        n: usize,
        mut region_len: impl FnMut(usize) -> Option<usize>,
    ) -> Result<usize, Error> {
        self.spans.clear();
        self.spans.reserve(n);
        let mut at = 0usize;
        for i in 0..n {
            let span = region_len(i).map(|len| (at, len));
            if let Some((_, len)) = span {
                at = at.checked_add(len).ok_or(Error::BatchShape)?;
            }
            self.spans.push(span);
        }
        if self.buf.len() < at {
            self.buf.resize(at, 0);
        }
        Ok(at)
    }

    fn get(&self, i: usize) -> Option<&[u8]> {
        let (start, len) = (*self.spans.get(i)?)?;
        self.buf.get(start..start.checked_add(len)?)
    }
}

/// What a [`Batch`] holds. Sealed, so only [`Tickets`] and [`States`] exist.
pub trait Contents: private::Sealed {
    /// The name `Debug` prints.
    const NAME: &'static str;
    /// Plaintext: zeroized on drop (rejected regions are zeroized at once by `open_many`).
    const SECRET: bool;
}

mod private {
    pub trait Sealed {}
    impl Sealed for super::Tickets {}
    impl Sealed for super::States {}
}

/// [`Contents`] of a [`TicketBatch`]: sealed tickets (public bytes).
#[derive(Debug)]
pub enum Tickets {}

/// [`Contents`] of a [`StateBatch`]: opened session states (plaintext).
#[derive(Debug)]
pub enum States {}

impl Contents for Tickets {
    const NAME: &'static str = "TicketBatch";
    const SECRET: bool = false;
}

impl Contents for States {
    const NAME: &'static str = "StateBatch";
    const SECRET: bool = true;
}

/// The output of a batch call: one region per ticket in one flat buffer. Reuse it across
/// calls; it grows to the largest batch seen and then allocates no more. See [`TicketBatch`]
/// and [`StateBatch`].
pub struct Batch<C: Contents> {
    flat: Flat,
    contents: PhantomData<C>,
}

/// Output of a seal batch: the tickets in one flat buffer.
pub type TicketBatch = Batch<Tickets>;

/// Output of an open batch: the opened states in one flat buffer. Plaintext: the buffer is
/// zeroized on drop and by [`Batch::clear`]; a rejected ticket's region is zeroized at once.
pub type StateBatch = Batch<States>;

impl<C: Contents> Default for Batch<C> {
    fn default() -> Self {
        Self {
            flat: Flat::default(),
            contents: PhantomData,
        }
    }
}

impl<C: Contents> Batch<C> {
    /// An empty batch output.
    pub fn new() -> Self {
        Self::default()
    }

    /// Room for `tickets` tickets totalling `bytes` bytes (of ciphertext, for states) without
    /// growing.
    pub fn with_capacity(tickets: usize, bytes: usize) -> Self {
        Self {
            flat: Flat {
                buf: vec![0; bytes],
                spans: Vec::with_capacity(tickets),
            },
            contents: PhantomData,
        }
    }

    /// Tickets in the last batch (whether they succeeded or not).
    pub fn len(&self) -> usize {
        self.flat.spans.len()
    }

    /// True if the last batch was empty.
    pub fn is_empty(&self) -> bool {
        self.flat.spans.is_empty()
    }

    /// Item `i` of the last batch (a ticket, or an opened state), `None` if that ticket failed
    /// or `i` is out of range.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        self.flat.get(i)
    }

    /// Every item of the last batch in order (`None` for the tickets that failed).
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Option<&[u8]>> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Zeroizes every byte held and forgets the last batch (keeps the capacity).
    pub fn clear(&mut self) {
        self.flat.buf.zeroize();
        // `Vec::zeroize` empties the vector; restore the length so capacity stays usable.
        let cap = self.flat.buf.capacity();
        self.flat.buf.resize(cap, 0);
        self.flat.spans.clear();
    }
}

impl<C: Contents> Drop for Batch<C> {
    fn drop(&mut self) {
        if C::SECRET {
            self.flat.buf.zeroize();
        }
    }
}

impl<C: Contents> fmt::Debug for Batch<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(C::NAME)
            .field("tickets", &self.len())
            .finish_non_exhaustive()
    }
}

/// Takes the next `len` bytes off the front of `rest`.
fn take_region<'b>(rest: &mut &'b mut [u8], len: usize) -> &'b mut [u8] {
    let whole = core::mem::take(rest);
    let at = len.min(whole.len());
    let (region, tail) = whole.split_at_mut(at);
    *rest = tail;
    region
}

// ---------------------------------------------------------------------------------------------
// Seal

/// Seals `inputs[i]` into `out` with per-ticket results in `status[i]` (`Ok(ticket_len)`),
/// through `backend`. Per-ticket failures: [`Error::StateTooLong`] above the format's
/// [`TicketFormat::max_state_len`], [`Error::Rng`] if the OS random source failed.
///
/// Errors (nothing sealed): [`Error::BatchShape`] if `status` (or a fixed IV list) differs in
/// length from `inputs`.
pub fn seal_many(
    backend: Backend,
    inputs: &[SealInput<'_>],
    ivs: IvSource<'_>,
    out: &mut TicketBatch,
    status: &mut [Result<usize, Error>],
) -> Result<(), Error> {
    seal_core(
        backend,
        inputs.len(),
        usize::MAX,
        |i| inputs.get(i).copied(),
        ivs,
        out,
        status,
    )
}

/// The seal engine: `input(i)` for `i < n`; states longer than `max_state_len` (or the
/// format's own bound) are refused.
pub(crate) fn seal_core<'k>(
    backend: Backend,
    n: usize,
    max_state_len: usize,
    input: impl Fn(usize) -> Option<SealInput<'k>>,
    ivs: IvSource<'_>,
    out: &mut TicketBatch,
    status: &mut [Result<usize, Error>],
) -> Result<(), Error> {
    if status.len() != n {
        return Err(Error::BatchShape);
    }
    if let IvSource::Fixed(v) = ivs
        && v.len() != n
    {
        return Err(Error::BatchShape);
    }
    out.flat.layout(n, |i| {
        let Some(inp) = input(i) else {
            status[i] = Err(Error::BatchShape);
            return None;
        };
        let limit = max_state_len.min(inp.format.max_state_len());
        if inp.state.len() > limit {
            status[i] = Err(Error::StateTooLong(inp.state.len()));
            return None;
        }
        Some(inp.format.sealed_len(inp.state.len()))
    })?;
    let Flat { buf, spans } = &mut out.flat;
    let mut rest: &mut [u8] = buf.as_mut_slice();
    let mut base = 0;
    while base < n {
        let m = CHUNK.min(n - base);
        let chunk = Chunk {
            base,
            spans: &mut spans[base..base + m],
            status: &mut status[base..base + m],
        };
        // Small batches get small stack arrays: a lone ticket must not pay for 128 slots.
        if m == 1 {
            seal_chunk::<1>(backend, &input, ivs, &mut rest, chunk);
        } else if m <= SMALL_CHUNK {
            seal_chunk::<SMALL_CHUNK>(backend, &input, ivs, &mut rest, chunk);
        } else {
            seal_chunk::<CHUNK>(backend, &input, ivs, &mut rest, chunk);
        }
        base += m;
    }
    Ok(())
}

/// One chunk's spans and statuses (indices relative to `base`).
struct Chunk<'c, S> {
    base: usize,
    spans: &'c mut [Option<(usize, usize)>],
    status: &'c mut [S],
}

/// Bytes before the ciphertext in a CBC ticket: name, IV and (rfc5077) the length field.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
fn cbc_header_len(format: TicketFormat) -> usize {
    match format {
        TicketFormat::Rfc5077 => 34,
        _ => 32,
    }
}

#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const MAC_LEN: usize = 32;

fn seal_chunk<'k, const C: usize>(
    backend: Backend,
    input: &impl Fn(usize) -> Option<SealInput<'k>>,
    ivs: IvSource<'_>,
    rest: &mut &mut [u8],
    chunk: Chunk<'_, Result<usize, Error>>,
) {
    let m = chunk.spans.len();
    // IVs for the whole chunk in one generator call.
    let mut random = [[0u8; IV_SLOT]; C];
    let random = random.as_flattened_mut();
    let mut rng_ok = true;
    if let IvSource::Random = ivs {
        let need: usize = (0..m)
            .filter(|&j| chunk.spans[j].is_some())
            .filter_map(|j| input(chunk.base + j))
            .map(|inp| inp.format.iv_len())
            .sum();
        rng_ok = fill_iv(&mut random[..need]).is_ok();
    }
    let mut random_at = 0;

    let mut simd = SimdSeal::<C>::new(backend);
    let mut aead = AeadSeal::new(backend);
    for j in 0..m {
        let Some((_, len)) = chunk.spans[j] else {
            continue;
        };
        let region = take_region(rest, len);
        let Some(inp) = input(chunk.base + j) else {
            continue;
        };
        if !rng_ok {
            chunk.spans[j] = None;
            chunk.status[j] = Err(Error::Rng);
            continue;
        }
        let iv_len = inp.format.iv_len();
        let iv: &[u8] = match ivs {
            IvSource::Random => {
                let iv = &random[random_at..random_at + iv_len];
                random_at += iv_len;
                iv
            }
            IvSource::Fixed(v) => &v[chunk.base + j][..iv_len],
        };
        let Some(region) = simd.try_push(j, inp, iv, region) else {
            continue;
        };
        let region = match aead.try_push(inp, iv, region) {
            Ok(len) => {
                chunk.status[j] = Ok(len);
                continue;
            }
            Err(region) => region,
        };
        chunk.status[j] =
            format::seal_into_using(backend, inp.format, inp.key, iv, inp.state, region);
        if chunk.status[j].is_err() {
            chunk.spans[j] = None;
        }
    }
    // IVs are public (they travel in the clear in the ticket): no zeroization needed.
    aead.finish();
    simd.finish(chunk.spans, chunk.status);
}

// ---------------------------------------------------------------------------------------------
// Open

/// Everything an open batch needs besides the tickets.
#[derive(Clone, Copy, Debug)]
pub struct OpenParams<'a> {
    /// The implementation to use.
    pub backend: Backend,
    /// Format of each ticket.
    pub formats: Formats<'a>,
    /// The keys (a snapshot; lookups by name in constant time).
    pub ring: &'a KeyRing,
    /// The longest state ever sealed: tickets longer than the matching ticket length are
    /// rejected as `TooLong` before any crypto.
    pub max_state_len: usize,
    /// The time (unix seconds) the keys' opening windows are checked against.
    pub now: u64,
}

impl OpenParams<'_> {
    /// Opens `tickets[i]` into `out` with per-ticket results in `status[i]`, exactly as
    /// [`Ticketer::open_at`](crate::Ticketer::open_at) would for each one alone.
    ///
    /// Errors (nothing opened): [`Error::BatchShape`] if `status` (or per-ticket formats)
    /// differs in length from `tickets`.
    pub fn open_many(
        &self,
        tickets: &[&[u8]],
        out: &mut StateBatch,
        status: &mut [Result<OpenedTicket, Rejected>],
    ) -> Result<(), Error> {
        let n = tickets.len();
        if status.len() != n {
            return Err(Error::BatchShape);
        }
        if let Formats::PerTicket(v) = self.formats
            && v.len() != n
        {
            return Err(Error::BatchShape);
        }
        out.flat.layout(n, |i| {
            let f = self.formats.get(i)?;
            let t = tickets.get(i)?;
            let max_len = f.max_ticket_len(self.max_state_len);
            (f.min_len()..=max_len)
                .contains(&t.len())
                .then(|| f.open_buf_len(t.len()))
        })?;
        let Flat { buf, spans } = &mut out.flat;
        let mut rest: &mut [u8] = buf.as_mut_slice();
        let mut base = 0;
        while base < n {
            let m = CHUNK.min(n - base);
            let chunk = Chunk {
                base,
                spans: &mut spans[base..base + m],
                status: &mut status[base..base + m],
            };
            if m == 1 {
                self.open_chunk::<1>(&tickets[base..base + m], &mut rest, chunk);
            } else if m <= SMALL_CHUNK {
                self.open_chunk::<SMALL_CHUNK>(&tickets[base..base + m], &mut rest, chunk);
            } else {
                self.open_chunk::<CHUNK>(&tickets[base..base + m], &mut rest, chunk);
            }
            base += m;
        }
        Ok(())
    }

    fn open_chunk<const C: usize>(
        &self,
        tickets: &[&[u8]],
        rest: &mut &mut [u8],
        chunk: Chunk<'_, Result<OpenedTicket, Rejected>>,
    ) {
        let mut simd = SimdOpen::<C>::new(self.backend);
        let mut aead = AeadOpen::new(self.backend, self.now);
        let mut last: Option<(&[u8; 16], &TicketKey, KeyRole)> = None;
        for (j, ticket) in tickets.iter().enumerate() {
            let region = match chunk.spans[j] {
                Some((_, len)) => take_region(rest, len),
                None => &mut [],
            };
            let Some(f) = self.formats.get(chunk.base + j) else {
                chunk.spans[j] = None;
                chunk.status[j] = Err(Rejected(RejectReason::Malformed));
                continue;
            };
            let max_len = f.max_ticket_len(self.max_state_len);
            let parts = match format::split(f, ticket, max_len) {
                Ok(parts) => parts,
                Err(e) => {
                    chunk.spans[j] = None;
                    chunk.status[j] = Err(e);
                    continue;
                }
            };
            // Tickets of one batch mostly carry the same key name: reuse the last lookup.
            let found = match last {
                Some((name, key, role)) if names_equal(name, parts.name) => Some((key, role)),
                _ => self.ring.find(parts.name),
            };
            let Some((key, role)) = found else {
                chunk.spans[j] = None;
                chunk.status[j] = Err(Rejected(if self.ring.is_revoked(parts.name) {
                    RejectReason::Revoked
                } else {
                    RejectReason::UnknownKey
                }));
                continue;
            };
            last = Some((parts.name, key, role));
            let Some(region) = simd.try_push(j, f, ticket, &parts, (key, role), region) else {
                continue;
            };
            let Some(region) =
                aead.try_push(j, f, &parts, (key, role), region, chunk.spans, chunk.status)
            else {
                continue;
            };
            {
                // No multi-buffer kernel for this ticket: the single-ticket path.
                let result = format::open_into_using(
                    self.backend,
                    f,
                    ticket,
                    max_len,
                    |_| Some(key),
                    region,
                );
                let result = finish_open(result.map(|o| o.state_len), key, role, self.now, region);
                set_open_result(&mut chunk.spans[j], &mut chunk.status[j], result);
            }
        }
        aead.finish(chunk.spans, chunk.status);
        simd.finish(self.now, chunk.spans, chunk.status);
    }
}

/// The last step of every open: the key's opening window (checked after the crypto, as
/// [`Ticketer::open_at`](crate::Ticketer::open_at) does, so both give the same reason).
fn finish_open(
    result: Result<usize, Rejected>,
    key: &TicketKey,
    role: KeyRole,
    now: u64,
    region: &mut [u8],
) -> Result<OpenedTicket, Rejected> {
    let state_len = match result {
        Ok(len) if key.can_open_at(now) => len,
        Ok(_) => {
            region.zeroize();
            return Err(Rejected(RejectReason::Expired));
        }
        Err(e) => {
            region.zeroize();
            return Err(e);
        }
    };
    Ok(OpenedTicket {
        state_len,
        key_name: key.name(),
        key_role: role,
        key_open_until: key.times().open_until,
    })
}

/// Records an open result: the span shrinks to the state, or goes away on rejection.
fn set_open_result(
    span: &mut Option<(usize, usize)>,
    status: &mut Result<OpenedTicket, Rejected>,
    result: Result<OpenedTicket, Rejected>,
) {
    *span = match (&result, *span) {
        (Ok(o), Some((start, _))) => Some((start, o.state_len)),
        _ => None,
    };
    *status = result;
}

/// Constant-time equality of two 16-byte key names (word-wise, one barrier).
fn names_equal(a: &[u8; 16], b: &[u8; 16]) -> bool {
    bool::from(u128::from_ne_bytes(*a).ct_eq(&u128::from_ne_bytes(*b)))
}

/// Constant-time check of a computed HMAC against a ticket's 32-byte MAC field: the words'
/// differences are OR-ed together and tested once (`subtle`'s slice comparison puts an
/// optimisation barrier after every byte, ~9 ns per ticket here).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
fn tag_matches(mac: &[u8; 32], field: &[u8]) -> bool {
    let Ok(field) = <&[u8; 32]>::try_from(field) else {
        return false; // length is public
    };
    let word = |b: &[u8]| u64::from_ne_bytes(b.try_into().unwrap_or([0; 8]));
    let diff = mac
        .chunks_exact(8)
        .zip(field.chunks_exact(8))
        .fold(0u64, |acc, (a, b)| acc | (word(a) ^ word(b)));
    bool::from(diff.ct_eq(&0))
}

/// PKCS#7 unpadding of `buf` (a non-empty multiple of 16 bytes): accepts exactly what
/// [`pkcs7_unpad`](crate::backend::hazmat::pkcs7_unpad) accepts, also in constant time over
/// the last block, but with plain mask arithmetic and one optimisation barrier instead of a
/// `subtle` barrier per byte and operation (~50 ns per ticket less on the open path).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
fn unpad_ct(buf: &[u8]) -> Option<usize> {
    if !buf.len().is_multiple_of(16) {
        return None; // lengths are public
    }
    let last = buf.last_chunk::<16>()?;
    let pad = core::hint::black_box(last[15]);
    let p = u16::from(pad);
    // Bit 15 of a wrapped u16 difference of two bytes is set iff the difference is negative.
    let mut bad: u16 = (p.wrapping_sub(1) >> 15) | (16u16.wrapping_sub(p) >> 15);
    for (i, &b) in (0u16..).zip(last.iter().rev()) {
        let in_pad = i.wrapping_sub(p) >> 15; // 1 iff i < pad
        bad |= in_pad.wrapping_neg() & u16::from(b ^ pad);
    }
    (core::hint::black_box(bad) == 0).then(|| buf.len() - usize::from(pad))
}

// ---------------------------------------------------------------------------------------------
// The multi-buffer part of a chunk (x86_64 kernels)

#[cfg(target_arch = "x86_64")]
use simd::{AeadOpen, AeadSeal, SimdOpen, SimdSeal};

#[cfg(target_arch = "x86_64")]
mod simd {
    use zeroize::Zeroize;

    use super::{MAC_LEN, cbc_header_len, finish_open, set_open_result, tag_matches, unpad_ct};
    /// Key name bytes at the start of every ticket.
    const NAME_LEN: usize = 16;
    use crate::backend::hazmat::pkcs7_pad;
    use crate::backend::{
        AesKernel, Backend, CbcDecryptTicket, CbcTicket, Clmul, GcmJob, HmacInput, KeyMaterial,
        MacKernel, XaesRoundKeys,
    };
    use crate::error::{Error, RejectReason, Rejected};
    use crate::format::{Parts, TicketFormat};
    use crate::keys::{KeyRole, TicketKey};
    use crate::ticketer::OpenedTicket;

    /// Placeholder HMAC state for unused array slots (never hashed).
    static NO_STATE: [u32; 8] = [0; 8];

    /// AEAD tickets per kernel call: the XAES kernel derives and expands this many tickets'
    /// keys side by side.
    const AEAD_GROUP: usize = 4;

    /// A placeholder job for unused slots (never processed: only `jobs[..count]` is).
    fn idle_job(key: &XaesRoundKeys) -> GcmJob<'_> {
        GcmJob {
            key,
            nonce: [0; 24],
            aad: &[],
            data: &mut [],
            tag: [0; 16],
            ok: false,
        }
    }

    /// AEAD tickets of one chunk queued for the XAES-256-GCM kernel, a group at a time.
    pub(super) struct AeadSeal<'a> {
        kernel: Option<Clmul>,
        count: usize,
        /// Filled lazily (a slot needs some key reference).
        jobs: Option<[GcmJob<'a>; AEAD_GROUP]>,
        /// Where each queued ticket's tag goes.
        tags: [&'a mut [u8]; AEAD_GROUP],
    }

    impl<'a> AeadSeal<'a> {
        pub(super) fn new(backend: Backend) -> Self {
            Self {
                kernel: backend.gcm(),
                count: 0,
                jobs: None,
                tags: core::array::from_fn(|_| <&mut [u8]>::default()),
            }
        }

        /// Writes the ticket's header and state into `region` and queues it; returns the
        /// ticket length. Hands `region` back when the kernel cannot take it (CBC format,
        /// portable backend, no PCLMULQDQ, a key without x86 round keys).
        pub(super) fn try_push(
            &mut self,
            inp: super::SealInput<'a>,
            iv: &[u8],
            region: &'a mut [u8],
        ) -> Result<usize, &'a mut [u8]> {
            let key = inp.key.material().aead.x86();
            let (Some(kernel), Some(key), TicketFormat::Aead) = (self.kernel, key, inp.format)
            else {
                return Err(region);
            };
            let Ok(nonce) = <[u8; 24]>::try_from(iv) else {
                return Err(region);
            };
            let len = region.len();
            if len != inp.format.sealed_len(inp.state.len()) {
                return Err(region);
            }
            let (head, rest) = region.split_at_mut(NAME_LEN + 24);
            let (body, tag) = rest.split_at_mut(inp.state.len());
            head[..NAME_LEN].copy_from_slice(&inp.key.name().0);
            head[NAME_LEN..].copy_from_slice(&nonce);
            body.copy_from_slice(inp.state);
            // AAD = the key name, read back from the ticket header just written.
            let head: &'a [u8] = head;
            let jobs = self
                .jobs
                .get_or_insert_with(|| core::array::from_fn(|_| idle_job(key)));
            jobs[self.count] = GcmJob {
                key,
                nonce,
                aad: &head[..NAME_LEN],
                data: body,
                tag: [0; 16],
                ok: false,
            };
            self.tags[self.count] = tag;
            self.count += 1;
            if self.count == AEAD_GROUP {
                Self::flush(kernel, jobs, &mut self.tags, self.count);
                self.count = 0;
            }
            Ok(len)
        }

        fn flush(
            kernel: Clmul,
            jobs: &mut [GcmJob<'a>; AEAD_GROUP],
            tags: &mut [&'a mut [u8]; AEAD_GROUP],
            count: usize,
        ) {
            kernel.xaes_seal_many(&mut jobs[..count]);
            for (job, tag) in jobs.iter().zip(tags.iter_mut()).take(count) {
                tag.copy_from_slice(&job.tag);
            }
        }

        /// Seals the tickets still queued.
        pub(super) fn finish(mut self) {
            if let (Some(kernel), Some(jobs)) = (self.kernel, self.jobs.as_mut())
                && self.count > 0
            {
                Self::flush(kernel, jobs, &mut self.tags, self.count);
            }
        }
    }

    /// AEAD tickets of one open chunk queued for the XAES-256-GCM kernel.
    pub(super) struct AeadOpen<'a> {
        kernel: Option<Clmul>,
        now: u64,
        count: usize,
        jobs: Option<[GcmJob<'a>; AEAD_GROUP]>,
        /// Chunk index, key and role of each queued ticket.
        meta: [Option<(usize, &'a TicketKey, KeyRole)>; AEAD_GROUP],
    }

    impl<'a> AeadOpen<'a> {
        pub(super) fn new(backend: Backend, now: u64) -> Self {
            Self {
                kernel: backend.gcm(),
                now,
                count: 0,
                jobs: None,
                meta: [None; AEAD_GROUP],
            }
        }

        /// Queues a split AEAD ticket whose key was found (ciphertext copied into `region`,
        /// which must be body-sized); a full group is opened at once and its results recorded
        /// in `spans` / `status`. Hands `region` back when the kernel cannot take it.
        #[allow(clippy::too_many_arguments)] // The chunk's result slices travel with the push.
        pub(super) fn try_push(
            &mut self,
            j: usize,
            format: TicketFormat,
            parts: &Parts<'a>,
            (key, role): (&'a TicketKey, KeyRole),
            region: &'a mut [u8],
            spans: &mut [Option<(usize, usize)>],
            status: &mut [Result<OpenedTicket, Rejected>],
        ) -> Option<&'a mut [u8]> {
            let xkey = key.material().aead.x86();
            let (Some(kernel), Some(xkey), TicketFormat::Aead) = (self.kernel, xkey, format) else {
                return Some(region);
            };
            let nonce = parts
                .head
                .get(NAME_LEN..NAME_LEN + 24)
                .and_then(|n| <[u8; 24]>::try_from(n).ok());
            let tag = <[u8; 16]>::try_from(parts.trailer).ok();
            let (Some(nonce), Some(tag)) = (nonce, tag) else {
                return Some(region);
            };
            if region.len() != parts.body.len() {
                return Some(region);
            }
            region.copy_from_slice(parts.body);
            let jobs = self
                .jobs
                .get_or_insert_with(|| core::array::from_fn(|_| idle_job(xkey)));
            jobs[self.count] = GcmJob {
                key: xkey,
                nonce,
                aad: parts.name,
                data: region,
                tag,
                ok: false,
            };
            self.meta[self.count] = Some((j, key, role));
            self.count += 1;
            if self.count == AEAD_GROUP {
                Self::flush(
                    kernel, jobs, &self.meta, self.count, self.now, spans, status,
                );
                self.count = 0;
            }
            None
        }

        /// Opens `jobs[..count]`; a ticket whose tag failed is `BadMac` with its region
        /// zeroized (it held ciphertext only: the kernel decrypts nothing unverified).
        fn flush(
            kernel: Clmul,
            jobs: &mut [GcmJob<'a>; AEAD_GROUP],
            meta: &[Option<(usize, &'a TicketKey, KeyRole)>; AEAD_GROUP],
            count: usize,
            now: u64,
            spans: &mut [Option<(usize, usize)>],
            status: &mut [Result<OpenedTicket, Rejected>],
        ) {
            kernel.xaes_open_many(&mut jobs[..count]);
            for (job, m) in jobs.iter_mut().zip(meta).take(count) {
                let Some((j, key, role)) = *m else { continue };
                let region = core::mem::take(&mut job.data);
                let result = if job.ok {
                    Ok(region.len())
                } else {
                    Err(Rejected(RejectReason::BadMac))
                };
                let result = finish_open(result, key, role, now, region);
                set_open_result(&mut spans[j], &mut status[j], result);
            }
        }

        /// Opens the tickets still queued.
        pub(super) fn finish(
            mut self,
            spans: &mut [Option<(usize, usize)>],
            status: &mut [Result<OpenedTicket, Rejected>],
        ) {
            if let (Some(kernel), Some(jobs)) = (self.kernel, self.jobs.as_mut())
                && self.count > 0
            {
                Self::flush(
                    kernel, jobs, &self.meta, self.count, self.now, spans, status,
                );
            }
        }
    }

    /// CBC tickets of one chunk gathered for the sealing kernels.
    pub(super) struct SimdSeal<'k, 'b, const C: usize> {
        aes: Option<AesKernel>,
        mac: MacKernel,
        count: usize,
        /// Chunk index of each gathered ticket.
        idx: [usize; C],
        keys: [Option<&'k KeyMaterial>; C],
        ivs: [[u8; 16]; C],
        /// Header length of each ticket (34 rfc5077, 32 openssl).
        hdr: [usize; C],
        regions: [&'b mut [u8]; C],
    }

    impl<'k, 'b, const C: usize> SimdSeal<'k, 'b, C> {
        pub(super) fn new(backend: Backend) -> Self {
            Self {
                aes: backend.aes(),
                mac: backend.mac(),
                count: 0,
                idx: [0; C],
                keys: [None; C],
                ivs: [[0; 16]; C],
                hdr: [0; C],
                regions: core::array::from_fn(|_| <&mut [u8]>::default()),
            }
        }

        /// Writes the ticket's header, state and padding into `region` and queues it for
        /// the kernels. Hands `region` back when the ticket needs the single-ticket path
        /// (AEAD, portable backend, key without x86 round keys).
        pub(super) fn try_push(
            &mut self,
            j: usize,
            inp: super::SealInput<'k>,
            iv: &[u8],
            region: &'b mut [u8],
        ) -> Option<&'b mut [u8]> {
            let material = inp.key.material();
            if self.aes.is_none()
                || material.x86.is_none()
                || inp.format == TicketFormat::Aead
                || self.count == C
            {
                return Some(region);
            }
            let hdr = cbc_header_len(inp.format);
            let body_len = inp.format.sealed_len(inp.state.len()) - hdr - MAC_LEN;
            let (Ok(iv16), Ok(len16)) = (<[u8; 16]>::try_from(iv), u16::try_from(body_len)) else {
                return Some(region);
            };
            if region.len() != hdr + body_len + MAC_LEN {
                return Some(region);
            }
            region[..16].copy_from_slice(&inp.key.name().0);
            region[16..32].copy_from_slice(&iv16);
            if inp.format == TicketFormat::Rfc5077 {
                region[32..34].copy_from_slice(&len16.to_be_bytes());
            }
            let body = &mut region[hdr..hdr + body_len];
            body[..inp.state.len()].copy_from_slice(inp.state);
            pkcs7_pad(body, inp.state.len());
            let c = self.count;
            self.idx[c] = j;
            self.keys[c] = Some(material);
            self.ivs[c] = iv16;
            self.hdr[c] = hdr;
            self.regions[c] = region;
            self.count += 1;
            None
        }

        /// Encrypts every queued ticket, then MACs them all; records the results. Takes
        /// `&mut self` so the (several KB) queue is not moved per chunk.
        pub(super) fn finish(
            &mut self,
            spans: &mut [Option<(usize, usize)>],
            status: &mut [Result<usize, Error>],
        ) {
            let Self {
                aes,
                mac,
                count,
                idx,
                keys,
                ivs,
                hdr,
                regions,
            } = self;
            let (aes, mac, count) = (*aes, *mac, core::mem::take(count));
            let (Some(aes), Some(first)) = (aes, keys[0].and_then(|m| m.x86.as_ref())) else {
                return;
            };
            let regions = &mut regions[..count];
            let encrypted = {
                let mut queued = regions.iter_mut().enumerate().map(|(c, r)| {
                    let end = r.len() - MAC_LEN;
                    CbcTicket {
                        keys: keys[c].and_then(|m| m.x86.as_ref()).unwrap_or(first),
                        iv: ivs[c],
                        data: &mut r[hdr[c]..end],
                    }
                });
                let mut tickets: [CbcTicket<'_>; C] = core::array::from_fn(|_| {
                    queued.next().unwrap_or(CbcTicket {
                        keys: first,
                        iv: [0; 16],
                        data: &mut [],
                    })
                });
                aes.cbc_encrypt_many(&mut tickets[..count])
            };
            let mut macs = [[0u8; 32]; C];
            let maced = encrypted.and_then(|()| {
                let mut queued = regions.iter().enumerate().map(|(c, r)| HmacInput {
                    inner: keys[c].map_or(&NO_STATE, |m| &m.hmac_inner),
                    outer: keys[c].map_or(&NO_STATE, |m| &m.hmac_outer),
                    msg: &r[..r.len() - MAC_LEN],
                });
                let inputs: [HmacInput<'_>; C] = core::array::from_fn(|_| {
                    queued.next().unwrap_or(HmacInput {
                        inner: &NO_STATE,
                        outer: &NO_STATE,
                        msg: &[],
                    })
                });
                mac.hmac_sha256_many(&inputs[..count], &mut macs[..count])
            });
            for (c, region) in regions.iter_mut().enumerate() {
                let j = idx[c];
                if maced.is_ok() {
                    let end = region.len();
                    region[end - MAC_LEN..].copy_from_slice(&macs[c]);
                    // Overwrite a reused `Ok` in place: assigning the whole `Result` copies
                    // it through the stack and calls the `Error` drop glue per ticket.
                    match &mut status[j] {
                        Ok(len) => *len = end,
                        other => *other = Ok(end),
                    }
                } else {
                    // Kernels refuse only malformed shapes, which try_push never queues.
                    region.zeroize();
                    spans[j] = None;
                    status[j] = Err(Error::BatchShape);
                }
            }
        }
    }

    /// One queued CBC ticket of an open chunk (everything but its output region).
    #[derive(Clone, Copy)]
    struct OpenJob<'t, 'k> {
        /// Chunk index.
        j: usize,
        key: &'k TicketKey,
        role: KeyRole,
        /// name | iv | [len] | ciphertext: what the MAC covers.
        mac_msg: &'t [u8],
        body: &'t [u8],
        tag: &'t [u8],
        iv: [u8; 16],
    }

    /// CBC tickets of one chunk gathered for MAC verification and decryption.
    pub(super) struct SimdOpen<'t, 'k, 'b, const C: usize> {
        aes: Option<AesKernel>,
        mac: MacKernel,
        count: usize,
        jobs: [Option<OpenJob<'t, 'k>>; C],
        regions: [&'b mut [u8]; C],
    }

    impl<'t, 'k, 'b, const C: usize> SimdOpen<'t, 'k, 'b, C> {
        pub(super) fn new(backend: Backend) -> Self {
            Self {
                aes: backend.aes(),
                mac: backend.mac(),
                count: 0,
                jobs: [None; C],
                regions: core::array::from_fn(|_| <&mut [u8]>::default()),
            }
        }

        /// Queues a split ticket whose key was found. Hands `region` back when the ticket
        /// needs the single-ticket path (AEAD, portable backend, key without x86 round keys).
        pub(super) fn try_push(
            &mut self,
            j: usize,
            format: TicketFormat,
            ticket: &'t [u8],
            parts: &Parts<'t>,
            (key, role): (&'k TicketKey, KeyRole),
            region: &'b mut [u8],
        ) -> Option<&'b mut [u8]> {
            if self.aes.is_none()
                || key.material().x86.is_none()
                || format == TicketFormat::Aead
                || self.count == C
                || region.len() != parts.body.len()
            {
                return Some(region);
            }
            let mac_msg = ticket.get(..parts.head.len() + parts.body.len());
            let iv = parts
                .head
                .get(16..32)
                .and_then(|b| <[u8; 16]>::try_from(b).ok());
            let (Some(mac_msg), Some(iv)) = (mac_msg, iv) else {
                return Some(region);
            };
            self.jobs[self.count] = Some(OpenJob {
                j,
                key,
                role,
                mac_msg,
                body: parts.body,
                tag: parts.trailer,
                iv,
            });
            self.regions[self.count] = region;
            self.count += 1;
            None
        }

        /// MACs every queued ticket, decrypts the ones that verified, checks padding and the
        /// key windows; records the results.
        /// Takes `&mut self`: the queue is ~14 KB for a full chunk, and moving it by value
        /// cost a memcpy per chunk (~2 ns per ticket).
        pub(super) fn finish(
            &mut self,
            now: u64,
            spans: &mut [Option<(usize, usize)>],
            status: &mut [Result<OpenedTicket, Rejected>],
        ) {
            let Self {
                aes,
                mac,
                count,
                jobs,
                regions,
            } = self;
            let (Some(aes), mac, count) = (*aes, *mac, core::mem::take(count)) else {
                return;
            };
            let jobs = &jobs[..count];
            let regions = &mut regions[..count];

            // 1. Every MAC of the chunk in one multi-buffer call; constant-time checks.
            let mut macs = [[0u8; 32]; C];
            let mut queued = jobs.iter().flatten().map(|job| {
                let m = job.key.material();
                HmacInput {
                    inner: &m.hmac_inner,
                    outer: &m.hmac_outer,
                    msg: job.mac_msg,
                }
            });
            let inputs: [HmacInput<'_>; C] = core::array::from_fn(|_| {
                queued.next().unwrap_or(HmacInput {
                    inner: &NO_STATE,
                    outer: &NO_STATE,
                    msg: &[],
                })
            });
            let maced = mac.hmac_sha256_many(&inputs[..count], &mut macs[..count]);
            let mut passed = [false; C];
            for (c, job) in jobs.iter().enumerate() {
                let Some(job) = job else { continue };
                passed[c] = maced.is_ok() && tag_matches(&macs[c], job.tag);
                if !passed[c] {
                    spans[job.j] = None;
                    status[job.j] = Err(Rejected(RejectReason::BadMac));
                }
            }

            // 2. Decrypt only what verified.
            let Some(first) = jobs
                .iter()
                .zip(&passed)
                .find_map(|(job, &ok)| job.filter(|_| ok))
                .and_then(|job| job.key.material().x86.as_ref())
            else {
                return;
            };
            let mut live = 0;
            let decrypted =
                {
                    // Straight from the ticket into the output region: no copy first.
                    let mut queued = regions.iter_mut().zip(jobs).zip(&passed).filter_map(
                        |((region, job), &ok)| {
                            let job = job.filter(|_| ok)?;
                            Some(CbcDecryptTicket {
                                keys: job.key.material().x86.as_ref().unwrap_or(first),
                                iv: job.iv,
                                src: job.body,
                                dst: &mut region[..],
                            })
                        },
                    );
                    let mut tickets: [CbcDecryptTicket<'_>; C] = core::array::from_fn(|_| {
                        let t = queued.next();
                        live += usize::from(t.is_some());
                        t.unwrap_or(CbcDecryptTicket {
                            keys: first,
                            iv: [0; 16],
                            src: &[],
                            dst: &mut [],
                        })
                    });
                    aes.cbc_decrypt_many_into(&mut tickets[..live])
                };

            // 3. Padding, then the key's opening window.
            for ((region, job), &ok) in regions.iter_mut().zip(jobs).zip(&passed) {
                let Some(job) = job.filter(|_| ok) else {
                    continue;
                };
                let unpadded = match decrypted {
                    Ok(()) => unpad_ct(region).ok_or(Rejected(RejectReason::BadPadding)),
                    Err(_) => Err(Rejected(RejectReason::Malformed)),
                };
                let result = finish_open(unpadded, job.key, job.role, now, region);
                set_open_result(&mut spans[job.j], &mut status[job.j], result);
            }
        }
    }
}

/// Without multi-buffer kernels every ticket takes the single-ticket path.
#[cfg(not(target_arch = "x86_64"))]
mod simd_none {
    use crate::backend::Backend;
    use crate::error::{Error, Rejected};
    use crate::format::{Parts, TicketFormat};
    use crate::keys::{KeyRole, TicketKey};
    use crate::ticketer::OpenedTicket;

    pub(super) struct SimdSeal<const C: usize>;
    impl<const C: usize> SimdSeal<C> {
        pub(super) fn new(_: Backend) -> Self {
            Self
        }
        pub(super) fn try_push<'b>(
            &mut self,
            _: usize,
            _: super::SealInput<'_>,
            _: &[u8],
            region: &'b mut [u8],
        ) -> Option<&'b mut [u8]> {
            Some(region)
        }
        pub(super) fn finish(
            self,
            _: &mut [Option<(usize, usize)>],
            _: &mut [Result<usize, Error>],
        ) {
        }
    }

    pub(super) struct AeadSeal;
    impl AeadSeal {
        pub(super) fn new(_: Backend) -> Self {
            Self
        }
        pub(super) fn try_push<'b>(
            &mut self,
            _: super::SealInput<'_>,
            _: &[u8],
            region: &'b mut [u8],
        ) -> Result<usize, &'b mut [u8]> {
            Err(region)
        }
        pub(super) fn finish(self) {}
    }

    pub(super) struct AeadOpen;
    impl AeadOpen {
        pub(super) fn new(_: Backend, _: u64) -> Self {
            Self
        }
        #[allow(clippy::too_many_arguments)]
        pub(super) fn try_push<'b>(
            &mut self,
            _: usize,
            _: TicketFormat,
            _: &Parts<'_>,
            _: (&TicketKey, KeyRole),
            region: &'b mut [u8],
            _: &mut [Option<(usize, usize)>],
            _: &mut [Result<OpenedTicket, Rejected>],
        ) -> Option<&'b mut [u8]> {
            Some(region)
        }
        pub(super) fn finish(
            self,
            _: &mut [Option<(usize, usize)>],
            _: &mut [Result<OpenedTicket, Rejected>],
        ) {
        }
    }

    pub(super) struct SimdOpen<const C: usize>;
    impl<const C: usize> SimdOpen<C> {
        pub(super) fn new(_: Backend) -> Self {
            Self
        }
        pub(super) fn try_push<'b>(
            &mut self,
            _: usize,
            _: TicketFormat,
            _: &[u8],
            _: &Parts<'_>,
            _: (&TicketKey, KeyRole),
            region: &'b mut [u8],
        ) -> Option<&'b mut [u8]> {
            Some(region)
        }
        pub(super) fn finish(
            self,
            _: u64,
            _: &mut [Option<(usize, usize)>],
            _: &mut [Result<OpenedTicket, Rejected>],
        ) {
        }
    }
}
#[cfg(not(target_arch = "x86_64"))]
use simd_none::{AeadOpen, AeadSeal, SimdOpen, SimdSeal};

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "x86_64")]
    use crate::CipherKind;

    /// The multi-buffer path really takes CBC tickets on SIMD backends (the equivalence tests
    /// would also pass if everything fell back to the single-ticket path).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn simd_backends_queue_cbc_tickets_and_hand_back_aead() {
        let key = TicketKey::generate(CipherKind::Aes256).unwrap();
        for backend in Backend::available() {
            let mut simd = SimdSeal::<4>::new(backend);
            let mut buf = [0u8; 200];
            let state = [1u8; 40];
            for (format, simd_takes) in [
                (TicketFormat::Rfc5077, backend.aes().is_some()),
                (TicketFormat::OpenSsl, backend.aes().is_some()),
                (TicketFormat::Aead, false),
            ] {
                let len = format.sealed_len(state.len());
                let input = SealInput {
                    format,
                    key: &key,
                    state: &state,
                };
                let iv = [7u8; IV_SLOT];
                let handed_back = simd
                    .try_push(0, input, &iv[..format.iv_len()], &mut buf[..len])
                    .is_some();
                assert_eq!(handed_back, !simd_takes, "{backend:?} {format}");
                simd = SimdSeal::<4>::new(backend);
            }
        }
    }

    /// AEAD tickets really go to the XAES kernel queue on x86 backends (the equivalence tests
    /// would also pass if they fell back to the single-ticket path), never on `Portable`, and
    /// CBC tickets are handed back to the other paths.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn aead_queue_takes_aead_tickets_on_x86_backends() {
        use super::simd::AeadSeal;
        let key = TicketKey::generate(CipherKind::Aes128).unwrap();
        for backend in Backend::available() {
            let state = [3u8; 40];
            for format in TicketFormat::ALL {
                let mut buf = [0u8; 200];
                let len = format.sealed_len(state.len());
                let mut aead = AeadSeal::new(backend);
                let input = SealInput {
                    format,
                    key: &key,
                    state: &state,
                };
                let iv = [7u8; IV_SLOT];
                let taken = aead
                    .try_push(input, &iv[..format.iv_len()], &mut buf[..len])
                    .is_ok();
                aead.finish();
                let expect = format == TicketFormat::Aead && backend.gcm().is_some();
                assert_eq!(taken, expect, "{backend:?} {format}");
                if taken {
                    let mut want = vec![0u8; len];
                    format::seal_into_using(
                        Backend::Portable,
                        format,
                        &key,
                        &iv,
                        &state,
                        &mut want,
                    )
                    .unwrap();
                    assert_eq!(&buf[..len], &want[..], "{backend:?}");
                }
            }
        }
    }

    #[test]
    fn unpad_ct_agrees_with_the_portable_unpad() {
        use crate::backend::hazmat::pkcs7_unpad;
        for len in [0usize, 15, 16, 17, 32, 48] {
            let mut buf = vec![0x33u8; len];
            for pad in 0..=255u8 {
                if let Some(b) = buf.last_mut() {
                    *b = pad;
                }
                assert_eq!(
                    unpad_ct(&buf),
                    pkcs7_unpad(&buf).ok(),
                    "len {len} pad {pad}"
                );
                // Valid paddings, then each padding byte broken in turn.
                if len >= 16 && len.is_multiple_of(16) && (1..=16).contains(&pad) {
                    let mut good = buf.clone();
                    let n = good.len();
                    good[n - usize::from(pad)..].fill(pad);
                    assert_eq!(unpad_ct(&good), Some(n - usize::from(pad)));
                    for i in 0..usize::from(pad) {
                        let mut broken = good.clone();
                        broken[n - 1 - i] ^= 0x01;
                        assert_eq!(unpad_ct(&broken), pkcs7_unpad(&broken).ok());
                        assert_eq!(unpad_ct(&broken), None, "pad {pad} byte {i}");
                    }
                }
            }
        }
    }

    #[test]
    fn tag_and_name_comparisons() {
        let mac = [0x5au8; 32];
        assert!(tag_matches(&mac, &[0x5a; 32]));
        for i in 0..32 {
            let mut other = mac;
            other[i] ^= 0x80;
            assert!(!tag_matches(&mac, &other), "byte {i}");
        }
        assert!(!tag_matches(&mac, &[0x5a; 31]));
        assert!(!tag_matches(&mac, &[0x5a; 33]));
        let name = [3u8; 16];
        assert!(names_equal(&name, &[3; 16]));
        for i in 0..16 {
            let mut other = name;
            other[i] ^= 1;
            assert!(!names_equal(&name, &other));
        }
    }

    #[test]
    fn layout_only_grows() {
        let mut flat = Flat::default();
        assert_eq!(flat.layout(3, |i| (i != 1).then_some(10)).unwrap(), 20);
        assert_eq!(flat.spans, [Some((0, 10)), None, Some((10, 10))]);
        assert_eq!(flat.layout(1, |_| Some(5)).unwrap(), 5);
        assert_eq!(flat.buf.len(), 20);
        assert_eq!(flat.get(0).map(<[u8]>::len), Some(5));
        assert_eq!(flat.get(1), None);
    }
}
