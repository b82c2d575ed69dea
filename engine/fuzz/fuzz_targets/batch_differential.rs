//! Backend-vs-portable differential fuzzing of the batch API: a batch of tickets (arbitrary
//! bytes, genuine tickets sealed from fuzzed states, genuine tickets with one byte changed,
//! mixed AES-128/AES-256 keys, mixed lengths and, optionally, mixed formats) goes through
//! `OpenParams::open_many` on every backend the CPU has; every backend must give exactly the
//! portable backend's status and state for every ticket, and the portable batch must agree
//! with the single-ticket `format::open_into`. The genuine tickets' states also go through
//! `seal_many` with fixed IVs: every backend must produce the single-ticket seal's bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera::backend::Backend;
use tessera::batch::{Formats, IV_SLOT, IvSource, OpenParams, SealInput, seal_many};
use tessera::format::{self, TicketFormat};
use tessera::{Error, KeyRing, OpenedTicket, RejectReason, Rejected, StateBatch, TicketBatch};
use tessera_fuzz::{Bytes, RING_MAX_STATE, ring};

const MAX_TICKETS: usize = 48;

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes(data);
    let mode = b.u8();
    let keys = ring();
    let mut tickets: Vec<Vec<u8>> = Vec::new();
    let mut formats: Vec<TicketFormat> = Vec::new();
    let mut seals: Vec<(TicketFormat, usize, Vec<u8>, [u8; IV_SLOT])> = Vec::new();
    while !b.0.is_empty() && tickets.len() < MAX_TICKETS {
        let kind = b.u8();
        let f = if mode < 3 {
            TicketFormat::ALL[usize::from(mode)]
        } else {
            TicketFormat::ALL[usize::from(kind >> 5) % 3]
        };
        if kind & 1 == 0 {
            let len = usize::from(u16::from_be_bytes(b.array())) % 700;
            tickets.push(b.take(len).to_vec());
        } else {
            let key = usize::from(kind >> 1) & 1;
            let iv: [u8; IV_SLOT] = b.array();
            let state_len = usize::from(b.u8()) * 4 % (RING_MAX_STATE + 64);
            let state = b.take(state_len).to_vec();
            let mut t = Vec::new();
            let sealed =
                format::seal_with_iv(f, &keys[key], &iv[..f.iv_len()], &state, &mut t).is_ok();
            if sealed && kind & 4 != 0 && !t.is_empty() {
                let at = usize::from(u16::from_be_bytes(b.array())) % t.len();
                t[at] ^= b.u8() | 1;
            }
            seals.push((f, key, state, iv));
            tickets.push(t);
        }
        formats.push(f);
    }
    let fmts = if mode < 3 {
        Formats::One(formats.first().copied().unwrap_or(TicketFormat::Rfc5077))
    } else {
        Formats::PerTicket(&formats)
    };
    let keyring = KeyRing::new(keys[0].clone(), vec![keys[1].clone()]).expect("ring");
    let refs: Vec<&[u8]> = tickets.iter().map(Vec::as_slice).collect();
    let open = |backend| {
        let params = OpenParams {
            backend,
            formats: fmts,
            ring: &keyring,
            max_state_len: RING_MAX_STATE,
            now: 1_700_000_000,
        };
        let mut out = StateBatch::new();
        let mut status: Vec<Result<OpenedTicket, Rejected>> =
            vec![Err(Rejected(RejectReason::TooShort)); refs.len()];
        params
            .open_many(&refs, &mut out, &mut status)
            .expect("batch shape");
        let states: Vec<Option<Vec<u8>>> = (0..refs.len())
            .map(|i| out.get(i).map(<[u8]>::to_vec))
            .collect();
        (status, states)
    };
    let (want_status, want_states) = open(Backend::Portable);
    // The portable batch is the single-ticket code.
    for (i, t) in refs.iter().enumerate() {
        let f = if mode < 3 {
            formats.first().copied().unwrap_or(TicketFormat::Rfc5077)
        } else {
            formats[i]
        };
        let mut out = vec![0u8; f.open_buf_len(t.len())];
        let lookup = |n: &[u8; 16]| keyring.find(n).map(|(k, _)| k);
        let single = format::open_into(f, t, f.max_ticket_len(RING_MAX_STATE), lookup, &mut out);
        match (&single, &want_status[i]) {
            (Ok(o), Ok(b)) => {
                assert_eq!(o.state_len, b.state_len);
                assert_eq!(Some(&out[..o.state_len]), want_states[i].as_deref());
            }
            (Err(a), Err(b)) => assert_eq!(a, b, "ticket {i}"),
            (a, b) => panic!(
                "ticket {i}: open_into {:?} vs open_many {b:?}",
                a.as_ref().map(|o| o.state_len)
            ),
        }
        if want_status[i].is_err() {
            assert!(want_states[i].is_none(), "a rejected ticket has output");
        }
    }
    for backend in Backend::available() {
        let (status, states) = open(backend);
        assert_eq!(status, want_status, "{} vs portable", backend.name());
        assert_eq!(states, want_states, "{} vs portable", backend.name());
    }

    // seal_many: every backend seals exactly what the single-ticket code seals.
    let inputs: Vec<SealInput<'_>> = seals
        .iter()
        .map(|(f, k, state, _)| SealInput {
            format: *f,
            key: &keys[*k],
            state,
        })
        .collect();
    let ivs: Vec<[u8; IV_SLOT]> = seals.iter().map(|s| s.3).collect();
    let seal = |backend| {
        let mut out = TicketBatch::new();
        let mut status: Vec<Result<usize, Error>> =
            (0..inputs.len()).map(|_| Err(Error::Rng)).collect();
        seal_many(
            backend,
            &inputs,
            IvSource::Fixed(&ivs),
            &mut out,
            &mut status,
        )
        .expect("batch shape");
        let tickets: Vec<Option<Vec<u8>>> = (0..inputs.len())
            .map(|i| out.get(i).map(<[u8]>::to_vec))
            .collect();
        let ok: Vec<Option<usize>> = status.iter().map(|r| r.as_ref().ok().copied()).collect();
        (ok, tickets)
    };
    let want = seal(Backend::Portable);
    for (i, (f, k, state, iv)) in seals.iter().enumerate() {
        let mut t = Vec::new();
        let single = format::seal_with_iv(*f, &keys[*k], &iv[..f.iv_len()], state, &mut t);
        assert_eq!(single.is_ok(), want.0[i].is_some(), "seal {i}");
        if single.is_ok() {
            assert_eq!(want.1[i].as_deref(), Some(&t[..]), "seal {i}");
        }
    }
    for backend in Backend::available() {
        assert!(
            seal(backend) == want,
            "{} seal_many differs from portable",
            backend.name()
        );
    }
});
