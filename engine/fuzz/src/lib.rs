//! Shared pieces of tessera's fuzz targets: a fixed key ring, a byte cursor for targets that
//! build structured inputs, and the checks every ticket-open target applies.
//!
//! Each target in `fuzz_targets/` is a few lines that call into here, so the properties live
//! in one place and the seed generator (`examples/gen_seeds.rs`) uses the same ring.
#![forbid(unsafe_code)]

use std::sync::OnceLock;

use tessera::TicketKey;
use tessera::format::{self, MAX_TICKET_LEN, TicketFormat};
use tessera::wire::StatePlaintext;

/// The longest state the fuzz ring claims to seal; sets its length bound.
pub const RING_MAX_STATE: usize = 1024;

/// The fuzz ring: an AES-128 key named `10 11 .. 1f` and an AES-256 key named `20 21 .. 2f`,
/// secrets fixed so the committed seed tickets keep opening.
pub fn ring() -> &'static [TicketKey; 2] {
    static RING: OnceLock<[TicketKey; 2]> = OnceLock::new();
    RING.get_or_init(|| {
        let bytes = |start: u8, n: u8| (start..start + n).collect::<Vec<u8>>();
        let name = |start: u8| core::array::from_fn(|i| start + i as u8);
        let key128 = TicketKey::new(name(0x10), &bytes(0x40, 16), &bytes(0x60, 16));
        let key256 = TicketKey::new(name(0x20), &bytes(0x80, 32), &bytes(0xa0, 32));
        match (key128, key256) {
            (Ok(a), Ok(b)) => [a, b],
            _ => panic!("fixed fuzz keys refused"),
        }
    })
}

/// Looks a key name up in [`ring`].
pub fn lookup(name: &[u8; 16]) -> Option<&'static TicketKey> {
    ring().iter().find(|k| &k.name().0 == name)
}

/// Opens `ticket` with real crypto against [`ring`] through both `open_into` and `open_with`.
///
/// The two must agree. An accepted ticket must be exactly what sealing its state again with
/// its own IV or nonce gives: anything else opening would be a forgery or a malleability the
/// fuzzer found (with real keys and random inputs, only the committed seeds should open).
pub fn open_real(f: TicketFormat, ticket: &[u8]) {
    let max_len = f.max_ticket_len(RING_MAX_STATE);
    let mut out = vec![0u8; f.open_buf_len(ticket.len())];
    let into = format::open_into(f, ticket, max_len, lookup, &mut out);
    let mut appended = Vec::new();
    let with = format::open_with(f, ticket, max_len, lookup, &mut appended);
    match (into, with) {
        (Ok(opened), Ok(key)) => {
            let state = &out[..opened.state_len];
            assert_eq!(state, &appended[..], "open_into and open_with disagree");
            assert_eq!(opened.key.name(), key.name());
            let iv = &ticket[16..16 + f.iv_len()];
            let mut again = Vec::new();
            format::seal_with_iv(f, key, iv, state, &mut again).expect("re-seal");
            assert_eq!(
                again, ticket,
                "{f}: accepted a ticket sealing would not produce"
            );
        }
        (Err(a), Err(b)) => {
            assert_eq!(a, b, "open_into and open_with disagree");
            assert!(
                appended.is_empty(),
                "rejection left bytes in open_with's output"
            );
            assert!(
                out.iter().all(|&b| b == 0),
                "rejection left bytes in the output"
            );
        }
        (a, b) => panic!("open_into {a:?} vs open_with {:?}", b.map(|k| k.name())),
    }
}

/// Whether `ticket` opens against [`ring`] with real crypto (for checking seeds).
pub fn opens(f: TicketFormat, ticket: &[u8]) -> bool {
    let mut out = vec![0u8; f.open_buf_len(ticket.len())];
    format::open_into(
        f,
        ticket,
        f.max_ticket_len(RING_MAX_STATE),
        lookup,
        &mut out,
    )
    .is_ok()
}

/// Null-crypto open (`--cfg tessera_fuzzing` only): the first byte picks the format, the rest
/// is the ticket; any key name finds a key. What comes out must be the ciphertext minus valid
/// PKCS#7 padding (CBC) or the ciphertext itself (AEAD), and must decode as a StatePlaintext
/// exactly when it re-encodes to itself.
pub fn open_null(data: &[u8]) {
    let Some((&selector, ticket)) = data.split_first() else {
        return;
    };
    let f = TicketFormat::ALL[usize::from(selector) % 3];
    let any_key = |name: &[u8; 16]| ring().get(usize::from(name[0] & 1));
    let mut out = vec![0u8; f.open_buf_len(ticket.len())];
    let Ok(opened) = format::open_into(f, ticket, MAX_TICKET_LEN, any_key, &mut out) else {
        return;
    };
    let (header, trailer) = match f {
        TicketFormat::Rfc5077 => (34, 32),
        TicketFormat::OpenSsl => (32, 32),
        TicketFormat::Aead => (40, 16),
    };
    let body = &ticket[header..ticket.len() - trailer];
    let state = &out[..opened.state_len];
    if f == TicketFormat::Aead {
        assert_eq!(state, body);
    } else {
        let pad = body.len() - state.len();
        assert!((1..=16).contains(&pad), "padding of {pad} bytes accepted");
        assert!(body[state.len()..].iter().all(|&b| usize::from(b) == pad));
        assert_eq!(state, &body[..state.len()]);
    }
    round_trip_state(state);
}

/// Switches the open path to null crypto for this process (see [`open_null`]).
///
/// # Panics
/// Without `--cfg tessera_fuzzing` the hook does not exist; rather than fuzz real crypto
/// under the null-crypto target's name, this refuses to start.
pub fn enable_null_crypto() {
    #[cfg(tessera_fuzzing)]
    tessera::format::fuzzing::set_null_crypto(true);
    #[cfg(not(tessera_fuzzing))]
    panic!("open_null_crypto needs RUSTFLAGS='--cfg tessera_fuzzing' (scripts/fuzz.sh sets it)");
}

/// Decodes a StatePlaintext; if it decodes, it must re-encode to the very same bytes.
pub fn round_trip_state(bytes: &[u8]) {
    if let Ok(state) = StatePlaintext::decode(bytes) {
        let mut again = Vec::new();
        state
            .encode(&mut again)
            .expect("a decoded state re-encodes");
        assert_eq!(
            again, bytes,
            "StatePlaintext decode/encode is not the identity"
        );
        assert_eq!(state.encoded_len(), bytes.len());
    }
}

/// A cursor that turns fuzz bytes into numbers; reads past the end give zeros.
pub struct Bytes<'a>(pub &'a [u8]);

impl Bytes<'_> {
    /// The next `N` bytes (zero-filled past the end).
    pub fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        let n = N.min(self.0.len());
        out[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        out
    }

    /// One byte.
    pub fn u8(&mut self) -> u8 {
        self.array::<1>()[0]
    }

    /// A big-endian u32.
    pub fn u32(&mut self) -> u32 {
        u32::from_be_bytes(self.array())
    }

    /// A big-endian u64.
    pub fn u64(&mut self) -> u64 {
        u64::from_be_bytes(self.array())
    }

    /// Up to `n` bytes.
    pub fn take(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head
    }
}
