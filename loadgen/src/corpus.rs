//! Keys and tickets of every class, prepared before any clock starts.
//!
//! Key setup (one AES-128 key per role, raw bytes kept so forged tickets can be crafted the way
//! a key holder would):
//! - `sealing`: the ring's sealing key; seals `valid`, `expired`, `future`, and is the key name
//!   `bad_mac` and `bad_padding` tickets carry.
//! - `opening`: an opening-only key in the ring; seals `renew` tickets.
//!
//! Time rules, exactly as [`tessera::resume::decide`] applies them to the `timestamp` of the
//! decoded [`StatePlaintext`] (RFC 5077 section 4):
//! - `valid` and `renew`: timestamp 60 s ago (well inside the lifetime, below the renewal age);
//! - `expired`: timestamp one day past the policy lifetime (`ServerPolicy::lifetime_secs`);
//!   the key itself is still open, so this is the "valid ticket past its lifetime" case;
//! - `future`: timestamp one day ahead, far beyond `max_future_skew_secs`.

use std::sync::Arc;

use aes::cipher::KeyInit;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use tessera::backend::hazmat;
use tessera::resume::ServerPolicy;
use tessera::wire::{ClientIdentity, MasterSecret, ProtocolVersion, StatePlaintext};
use tessera::{KeyRing, SharedKeyRing, TicketFormat, TicketKey, Ticketer, format};

use crate::LoadgenError;
use crate::mix::{Class, Mix};

/// The smallest encodable `StatePlaintext` (anonymous client, no identity).
pub const MIN_STATE_BYTES: usize = StatePlaintext::MIN_LEN;

/// Distinct tickets prepared per class (requests cycle through them).
pub const TICKETS_PER_CLASS: usize = 512;
/// Distinct oversized tickets (each is ~16 KiB; the length check rejects them all the same).
const OVERSIZED_TICKETS: usize = 8;
/// Length of the request schedule (class picks drawn once from the mix).
pub const SCHEDULE_LEN: usize = 1 << 16;

/// A key with its raw parts (the ring holds the same key).
#[derive(Clone)]
pub struct RawKey {
    /// Key name.
    pub name: [u8; 16],
    aes: [u8; 16],
    hmac: [u8; 32],
}

impl RawKey {
    /// Fresh random name and secrets.
    pub fn generate_with(rng: &mut ChaCha20Rng) -> Self {
        let mut k = Self {
            name: [0; 16],
            aes: [0; 16],
            hmac: [0; 32],
        };
        rng.fill_bytes(&mut k.name);
        rng.fill_bytes(&mut k.aes);
        rng.fill_bytes(&mut k.hmac);
        k
    }

    /// The engine's key.
    pub fn ticket_key(&self) -> Result<TicketKey, LoadgenError> {
        TicketKey::new(self.name, &self.aes, &self.hmac).map_err(LoadgenError::engine)
    }
}

impl Drop for RawKey {
    fn drop(&mut self) {
        self.aes.fill(0);
        self.hmac.fill(0);
    }
}

/// One prepared ticket.
pub struct Ticket {
    /// What the client presents.
    pub bytes: Vec<u8>,
    /// The state the server must recover (`valid` and `renew` only).
    pub expected_state: Option<Vec<u8>>,
}

/// Everything a storm needs, built before the clock starts.
pub struct Corpus {
    /// Ticket format under test.
    pub format: TicketFormat,
    /// Encoded state size.
    pub state_bytes: usize,
    /// Tickets per class, in [`Class::ALL`] order.
    pub tickets: [Vec<Ticket>; Class::COUNT],
    /// The sealing key.
    pub sealing: RawKey,
    /// The opening-only key.
    pub opening: RawKey,
    /// The ring the edge opens with (shared with the rotator).
    pub ring: Arc<SharedKeyRing>,
    /// The server's resumption policy.
    pub policy: ServerPolicy,
    /// The longest ticket the server issues.
    pub max_ticket_len: usize,
}

/// A request schedule: class and ticket index per slot, drawn from a mix.
pub struct Schedule {
    slots: Vec<(Class, u32)>,
}

impl Schedule {
    /// Draws [`SCHEDULE_LEN`] picks from `mix` (deterministic for a given seed).
    pub fn new(mix: &Mix, corpus: &Corpus, seed: u64) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let cumulative: Vec<(Class, f64)> = Class::ALL
            .iter()
            .scan(0.0, |acc, c| {
                *acc += mix.fraction(*c);
                Some((*c, *acc))
            })
            .collect();
        let last_nonzero = Class::ALL
            .iter()
            .rev()
            .find(|c| mix.fraction(**c) > 0.0)
            .copied()
            .unwrap_or(Class::Valid);
        let slots = (0..SCHEDULE_LEN)
            .map(|_| {
                let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                let class = cumulative
                    .iter()
                    .find(|(c, acc)| u < *acc && mix.fraction(*c) > 0.0)
                    .map_or(last_nonzero, |(c, _)| *c);
                let n = corpus.tickets[class.index()].len().max(1);
                (class, (rng.next_u64() % n as u64) as u32)
            })
            .collect();
        Self { slots }
    }

    /// The pick for request number `i`.
    pub fn get(&self, i: u64) -> (Class, u32) {
        self.slots[(i % self.slots.len() as u64) as usize]
    }
}

/// A `StatePlaintext` of exactly `len` bytes with a random master secret.
fn state(len: usize, timestamp: u32, rng: &mut ChaCha20Rng) -> Result<Vec<u8>, LoadgenError> {
    let client_identity = match len {
        MIN_STATE_BYTES => ClientIdentity::Anonymous,
        // Psk identity adds 1 type byte, a 2-byte length and the identity.
        l if l >= MIN_STATE_BYTES + 2 => {
            let mut id = vec![0u8; l - MIN_STATE_BYTES - 2];
            rng.fill_bytes(&mut id);
            ClientIdentity::Psk { psk_identity: id }
        }
        _ => return Err(LoadgenError::usage(bad_state_len(len))),
    };
    let mut ms = [0u8; MasterSecret::LEN];
    rng.fill_bytes(&mut ms);
    let st = StatePlaintext {
        protocol_version: ProtocolVersion::TLS1_2,
        cipher_suite: 0xc02f,
        compression_method: 0,
        master_secret: MasterSecret::new(ms),
        client_identity,
        timestamp,
    };
    let mut out = Vec::with_capacity(len);
    st.encode(&mut out)
        .map_err(|e| LoadgenError::usage(format!("state of {len} bytes: {e}")))?;
    debug_assert_eq!(out.len(), len);
    Ok(out)
}

fn bad_state_len(len: usize) -> String {
    format!(
        "--state-bytes {len}: a StatePlaintext takes {MIN_STATE_BYTES} bytes (anonymous) or at least {} (with an identity)",
        MIN_STATE_BYTES + 2
    )
}

/// Checks a `--state-bytes` value for the storm (the state must decode as `StatePlaintext`).
pub fn check_state_bytes(len: usize, format: TicketFormat) -> Result<(), LoadgenError> {
    if len < MIN_STATE_BYTES || len == MIN_STATE_BYTES + 1 || len > MIN_STATE_BYTES + 2 + 0xffff {
        return Err(LoadgenError::usage(bad_state_len(len)));
    }
    if len > tessera::DEFAULT_MAX_STATE_LEN.min(format.max_state_len()) {
        return Err(LoadgenError::usage(format!(
            "--state-bytes {len}: above the server's state limit of {} bytes",
            tessera::DEFAULT_MAX_STATE_LEN.min(format.max_state_len())
        )));
    }
    Ok(())
}

/// Seals `state` under `key` in `format` with a random IV.
fn seal(
    format: TicketFormat,
    key: &TicketKey,
    state: &[u8],
    rng: &mut ChaCha20Rng,
) -> Result<Vec<u8>, LoadgenError> {
    let mut out = Vec::new();
    format::seal(format, key, rng, state, &mut out).map_err(LoadgenError::engine)?;
    Ok(out)
}

/// A CBC ticket whose MAC is right and whose padding is wrong, crafted with the raw key the way
/// only a key holder could (the server must answer `BadPadding`, never accept). For the AEAD
/// format (no padding) it is a correctly tagged ticket whose state does not decode.
fn bad_padding(
    format: TicketFormat,
    key: &RawKey,
    tkey: &TicketKey,
    state_len: usize,
    rng: &mut ChaCha20Rng,
) -> Result<Vec<u8>, LoadgenError> {
    if format == TicketFormat::Aead {
        // 0xff as ClientAuthenticationType is not defined: decoding fails (BadState).
        let mut junk = vec![0xffu8; state_len];
        rng.fill_bytes(&mut junk[..2]);
        return seal(format, tkey, &junk, rng);
    }
    let body_len = (state_len / 16 + 1) * 16;
    let mut body = vec![0u8; body_len];
    rng.fill_bytes(&mut body);
    // Last plaintext byte 0 is never valid PKCS#7 padding.
    if let Some(last) = body.last_mut() {
        *last = 0;
    }
    let mut iv = [0u8; 16];
    rng.fill_bytes(&mut iv);
    let cipher = aes::Aes128::new_from_slice(&key.aes)
        .map_err(|_| LoadgenError::Runtime("AES key length".into()))?;
    hazmat::cbc_encrypt(&cipher, &iv, &mut body);
    let mut t = Vec::with_capacity(body_len + 66);
    t.extend_from_slice(&key.name);
    t.extend_from_slice(&iv);
    if format == TicketFormat::Rfc5077 {
        let len =
            u16::try_from(body_len).map_err(|_| LoadgenError::usage(bad_state_len(state_len)))?;
        t.extend_from_slice(&len.to_be_bytes());
    }
    t.extend_from_slice(&body);
    let (inner, outer) = hazmat::hmac_states(&key.hmac);
    let mac = hazmat::hmac_sha256(&inner, &outer, &[&t]);
    t.extend_from_slice(&mac);
    Ok(t)
}

impl Corpus {
    /// Generates keys and `TICKETS_PER_CLASS` tickets per class (8 oversized ones).
    pub fn prepare(
        format: TicketFormat,
        state_bytes: usize,
        now: u64,
    ) -> Result<Self, LoadgenError> {
        check_state_bytes(state_bytes, format)?;
        let mut seed = [0u8; 32];
        getrandom::getrandom(&mut seed).map_err(|e| LoadgenError::Runtime(e.to_string()))?;
        let mut rng = ChaCha20Rng::from_seed(seed);
        let sealing = RawKey::generate_with(&mut rng);
        let mut opening = RawKey::generate_with(&mut rng);
        while opening.name == sealing.name {
            opening = RawKey::generate_with(&mut rng);
        }
        let sealing_key = sealing.ticket_key()?;
        let opening_key = opening.ticket_key()?;
        let ring = KeyRing::new(sealing_key.clone(), vec![opening_key.clone()])
            .map_err(LoadgenError::engine)?;
        let ring = Arc::new(SharedKeyRing::new(ring));
        let policy = ServerPolicy::default();
        let max_ticket_len = Ticketer::with_shared(ring.clone(), format).max_ticket_len();

        let lifetime = u64::from(policy.lifetime_secs.get());
        let ts = |t: u64| u32::try_from(t).unwrap_or(u32::MAX);
        let fresh = ts(now.saturating_sub(60));
        let old = ts(now.saturating_sub(lifetime + 86_400));
        let ahead = ts(now + policy.max_future_skew_secs + 86_400);

        let mut tickets: [Vec<Ticket>; Class::COUNT] = Default::default();
        for class in Class::ALL {
            let n = if class == Class::Oversized {
                OVERSIZED_TICKETS
            } else {
                TICKETS_PER_CLASS
            };
            let list = &mut tickets[class.index()];
            for _ in 0..n {
                let t = match class {
                    Class::Valid | Class::Renew => {
                        let st = state(state_bytes, fresh, &mut rng)?;
                        let key = if class == Class::Valid {
                            &sealing_key
                        } else {
                            &opening_key
                        };
                        Ticket {
                            bytes: seal(format, key, &st, &mut rng)?,
                            expected_state: Some(st),
                        }
                    }
                    Class::Expired | Class::Future => {
                        let stamp = if class == Class::Expired { old } else { ahead };
                        let st = state(state_bytes, stamp, &mut rng)?;
                        Ticket {
                            bytes: seal(format, &sealing_key, &st, &mut rng)?,
                            expected_state: None,
                        }
                    }
                    Class::UnknownKey => {
                        let st = state(state_bytes, fresh, &mut rng)?;
                        let mut b = seal(format, &sealing_key, &st, &mut rng)?;
                        loop {
                            rng.fill_bytes(&mut b[..16]);
                            if b[..16] != sealing.name && b[..16] != opening.name {
                                break;
                            }
                        }
                        Ticket {
                            bytes: b,
                            expected_state: None,
                        }
                    }
                    Class::BadMac => {
                        let st = state(state_bytes, fresh, &mut rng)?;
                        let mut b = seal(format, &sealing_key, &st, &mut rng)?;
                        // Flip one bit in the ciphertext: layout intact, MAC must fail.
                        let header = b.len() - format.open_buf_len(b.len()) - tag_len(format);
                        let span = b.len() - header - tag_len(format);
                        let at = header + (rng.next_u32() as usize) % span.max(1);
                        b[at] ^= 1 << (rng.next_u32() % 8);
                        Ticket {
                            bytes: b,
                            expected_state: None,
                        }
                    }
                    Class::BadPadding => Ticket {
                        bytes: bad_padding(format, &sealing, &sealing_key, state_bytes, &mut rng)?,
                        expected_state: None,
                    },
                    Class::Truncated => {
                        let st = state(state_bytes, fresh, &mut rng)?;
                        let mut b = seal(format, &sealing_key, &st, &mut rng)?;
                        // 1..len: an empty extension would mean "no ticket", not a bad one.
                        let cut = 1 + (rng.next_u32() as usize) % (b.len() - 1).max(1);
                        b.truncate(cut);
                        Ticket {
                            bytes: b,
                            expected_state: None,
                        }
                    }
                    Class::Garbage => {
                        let len =
                            1 + (rng.next_u32() as usize) % (2 * format.sealed_len(state_bytes));
                        let mut b = vec![0u8; len];
                        rng.fill_bytes(&mut b);
                        Ticket {
                            bytes: b,
                            expected_state: None,
                        }
                    }
                    Class::Oversized => {
                        let len = max_ticket_len + 1 + (rng.next_u32() as usize) % 4096;
                        let mut b = vec![0u8; len];
                        rng.fill_bytes(&mut b);
                        b[..16].copy_from_slice(&sealing.name);
                        Ticket {
                            bytes: b,
                            expected_state: None,
                        }
                    }
                };
                list.push(t);
            }
        }
        Ok(Self {
            format,
            state_bytes,
            tickets,
            sealing,
            opening,
            ring,
            policy,
            max_ticket_len,
        })
    }

    /// A ticket by class and index.
    pub fn ticket(&self, class: Class, index: u32) -> Option<&Ticket> {
        self.tickets[class.index()].get(index as usize)
    }
}

/// MAC or tag length of a format.
fn tag_len(format: TicketFormat) -> usize {
    match format {
        TicketFormat::Aead => 16,
        _ => 32,
    }
}
