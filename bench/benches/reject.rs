//! Rejection cost for the RFC 5077 section 5.4 classes, 128-byte states: unknown key name,
//! right name + bad MAC, bad padding (valid MAC), expired key, malformed length. One group per
//! class (`reject-bad-mac/128B`, ...), tessera (single and batch) and every peer the class
//! applies to, ids as in `benches/peers.rs`. Each iteration rejects 1024 tickets.
//!
//! Where a class does not apply to a peer it is left out, not faked:
//! - bad padding: only the CBC peers (`openssl-evp`, `rustcrypto-*` rfc5077) have padding;
//! - expired: tessera checks key windows at open time; nginx/OpenSSL, rustls and Go drop an
//!   expired key from their ring, so its tickets are in the unknown-key class for them (for
//!   Go that means a MAC under every key);
//! - unknown key for `go-style-8keys`: its tickets carry no name, so "another server's ticket"
//!   is a ticket whose MAC matches no key: 8 HMACs.
//!
//! Run: `cargo bench -p tessera-bench --bench reject`.
#![forbid(unsafe_code)]

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tessera::{KeyTimes, OpenedTicket, RejectReason, Rejected, StateBatch, TicketFormat, Ticketer};
use tessera_bench::fixtures::{self, PRIMARY_STATE, RejectClass};
use tessera_bench::matrix::{Matrix, OWN, SINGLE, TARGET_BATCH, bench_id};
use tessera_bench::peers::{self, PeerError};

const N: usize = TARGET_BATCH;
/// The clock of the opener in the expired class: one second after the keys' window closed.
const EXPIRES: u64 = 1_000_000;

/// tessera's forged tickets of one class (and the ticketer and clock that reject them).
fn tessera_case(
    class: RejectClass,
    format: TicketFormat,
    states: &[Vec<u8>],
) -> (Ticketer, u64, Vec<Vec<u8>>) {
    let keys = fixtures::keys();
    let (ring, now) = match class {
        RejectClass::Expired => (
            fixtures::ring_with_times(KeyTimes {
                open_until: Some(EXPIRES),
                ..KeyTimes::default()
            }),
            EXPIRES + 1,
        ),
        _ => (fixtures::ring(), 0),
    };
    let t = Ticketer::new(ring, format);
    let tickets = states
        .iter()
        .enumerate()
        .map(|(i, s)| match class {
            RejectClass::BadPadding => fixtures::bad_padding_cbc(
                format,
                &keys[i % keys.len()],
                [i as u8 ^ 0x5a; 16],
                s.len(),
            ),
            _ => fixtures::corrupt(class, &t.seal(s).expect("seals"), 16),
        })
        .collect();
    (t, now, tickets)
}

fn expected(class: RejectClass) -> RejectReason {
    match class {
        RejectClass::UnknownKey => RejectReason::UnknownKey,
        RejectClass::BadMac => RejectReason::BadMac,
        RejectClass::BadPadding => RejectReason::BadPadding,
        RejectClass::Expired => RejectReason::Expired,
        RejectClass::MalformedLength => RejectReason::Malformed,
    }
}

fn bench(c: &mut Criterion) {
    let m = Matrix::from_env();
    let fx = fixtures::Fixtures::new(N, PRIMARY_STATE);
    for class in RejectClass::ALL {
        let mut g = c.benchmark_group(format!("{}/{PRIMARY_STATE}B", class.op()));
        g.throughput(Throughput::Elements(N as u64));
        let format = TicketFormat::Rfc5077;
        let (t, now, forged) = tessera_case(class, format, &fx.states);
        let want = expected(class);

        let mut out = Vec::new();
        for tk in &forged {
            assert_eq!(
                t.open_at(tk, now, &mut out).map(|_| ()),
                Err(Rejected(want)),
                "{class:?}"
            );
        }
        g.bench_function(
            BenchmarkId::new(bench_id("tessera", format.as_str(), SINGLE), 1),
            |b| {
                b.iter(|| {
                    for tk in &forged {
                        black_box(t.open_at(tk, now, &mut out).is_err());
                    }
                })
            },
        );

        let refs: Vec<&[u8]> = forged.iter().map(Vec::as_slice).collect();
        for backend in m.best_and_portable() {
            let t = t.clone().with_backend(backend);
            let mut states = StateBatch::new();
            let mut status: Vec<Result<OpenedTicket, Rejected>> =
                vec![Err(Rejected(RejectReason::TooShort)); N];
            t.open_many_at(&refs, now, &mut states, &mut status)
                .expect("batch shape");
            assert!(
                status
                    .iter()
                    .all(|s| matches!(s, Err(Rejected(r)) if *r == want)),
                "{class:?} {backend:?}"
            );
            g.bench_function(
                BenchmarkId::new(bench_id("tessera", format.as_str(), backend.name()), N),
                |b| {
                    b.iter(|| {
                        t.open_many_at(&refs, now, &mut states, &mut status)
                            .expect("batch shape");
                        black_box(&status);
                    })
                },
            );
        }

        for mut p in peers::all(&fx.keys) {
            let applies = match class {
                RejectClass::BadPadding => p.has_padding(),
                RejectClass::Expired => false,
                _ => true,
            };
            if !applies {
                continue;
            }
            let forged: Vec<Vec<u8>> = fx
                .states
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    if class == RejectClass::BadPadding {
                        let f = if p.format() == "openssl" {
                            TicketFormat::OpenSsl
                        } else {
                            TicketFormat::Rfc5077
                        };
                        return fixtures::bad_padding_cbc(
                            f,
                            &fx.keys[i % fx.keys.len()],
                            [i as u8; 16],
                            s.len(),
                        );
                    }
                    let mut t = Vec::new();
                    p.seal(s, &mut t).expect("peer seals");
                    // No key name: another server's ticket is one no key's MAC matches.
                    let class = if p.name_len() == 0 && class == RejectClass::UnknownKey {
                        RejectClass::BadMac
                    } else {
                        class
                    };
                    fixtures::corrupt(class, &t, p.name_len())
                })
                .collect();
            let mut out = Vec::new();
            for tk in &forged {
                assert_eq!(
                    p.open(tk, &mut out),
                    Err(PeerError::Rejected),
                    "{} {class:?}",
                    p.name()
                );
            }
            g.bench_function(
                BenchmarkId::new(bench_id(p.name(), p.format(), OWN), 1),
                |b| {
                    b.iter(|| {
                        for tk in &forged {
                            black_box(p.open(tk, &mut out).is_err());
                        }
                    })
                },
            );
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
