//! dudect-style constant-time check (Reparaz, Balasch, Verbauwhede, "Dude, is my code constant
//! time?", DATE 2017): time one operation on two classes of input, interleaved at random, and
//! compare the timing distributions with Welch's t-test, raw and cropped at 100 upper
//! percentiles. |t| above 4.5 means the classes are distinguishable (a leak, or a measurement
//! problem worth a look). On demand only, never in CI:
//!
//! ```text
//! cargo run --release --manifest-path engine/fuzz/Cargo.toml --example dudect -- [MEASUREMENTS] [FILTER]
//! ```
//!
//! `DUDECT_AA=1` runs every test with identical classes (an A/A test): what |t| this machine
//! reaches by chance. MEASUREMENTS per test defaults to 1,000,000. FILTER runs only the tests whose name contains
//! it. Exit status 1 if any test reaches |t| >= 4.5; 2 if the control (a byte loop that exits
//! at the first difference, which must show |t| >= 4.5) goes undetected, i.e. the machine is
//! too noisy for the result to mean anything.
//!
//! Tests (class 0 vs class 1):
//! - `open/<format>/mac_first_vs_last`: open a ticket with a real key name whose MAC (AEAD:
//!   tag) is wrong in its first byte vs its last byte, through `format::open_into` with a
//!   `KeyRing::find` lookup: the full rejection path up to and including the MAC comparison.
//! - `open_many/<backend>/mac_first_vs_last`: the same through the batch API (a batch of one
//!   openssl ticket) on every backend the CPU has: the SIMD MAC and its word-wise check.
//! - `open_many/<backend>/aead_tag_first_vs_last`: a batch of four copies of an AEAD ticket
//!   whose tag is wrong in its first vs its last byte (the XAES kernel's lockstep group).
//! - `tags_equal/first_vs_last`: the 32-byte comparison alone, 64 calls per measurement.
//! - `ring_find/first_vs_last`: `KeyRing::find` on a 16-key ring for a name one byte off a
//!   real one, in its first vs its last byte, 64 calls per measurement.
//! - `ring_find/last_vs_other_last`: two names off in the last byte by different values
//!   (equally close to the real name, different hash buckets), to tell bucket placement from
//!   byte position.
//! - `ticketer/unknown_name_first_vs_last`: `Ticketer::open_at` (lookup, revoked-name check)
//!   on a ticket whose key name is one byte off the sealing key's, first vs last byte.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use tessera::backend::Backend;
use tessera::backend::hazmat::tags_equal;
use tessera::batch::{Formats, OpenParams};
use tessera::format::{self, TicketFormat};
use tessera::{CipherKind, KeyRing, RejectReason, Rejected, StateBatch, TicketKey, Ticketer};

/// dudect's threshold: |t| above this rejects "the two classes time the same".
const T_THRESHOLD: f64 = 4.5;
/// Cropped tests: keep measurements below the p-th percentile, p = 1 - 0.5^(10 (i+1) / 100).
const PERCENTILES: usize = 100;
const BATCH: usize = 100_000;

/// Welford running mean and variance per class, and Welch's t.
#[derive(Clone, Copy, Default)]
struct Welch {
    n: [f64; 2],
    mean: [f64; 2],
    m2: [f64; 2],
}

impl Welch {
    fn push(&mut self, class: usize, x: f64) {
        self.n[class] += 1.0;
        let d = x - self.mean[class];
        self.mean[class] += d / self.n[class];
        self.m2[class] += d * (x - self.mean[class]);
    }

    fn samples(&self) -> f64 {
        self.n[0] + self.n[1]
    }

    fn t(&self) -> f64 {
        if self.n[0] < 2.0 || self.n[1] < 2.0 {
            return 0.0;
        }
        let v0 = self.m2[0] / (self.n[0] - 1.0);
        let v1 = self.m2[1] / (self.n[1] - 1.0);
        let se = (v0 / self.n[0] + v1 / self.n[1]).sqrt();
        if se == 0.0 {
            return 0.0;
        }
        (self.mean[0] - self.mean[1]) / se
    }
}

/// xorshift64*: the class sequence only needs to be unpredictable to the code under test's
/// timing, not cryptographically random.
struct Classes(u64);

impl Classes {
    fn next(&mut self) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 63) as usize
    }
}

struct Report {
    name: String,
    measurements: usize,
    mean_ns: [f64; 2],
    max_t: f64,
    max_t_test: String,
}

/// Set by `DUDECT_AA=1`: an A/A run (both classes identical) that measures the false-positive
/// rate of this machine and harness; every |t| above 4.5 in it is noise, not a leak.
static A_A: AtomicBool = AtomicBool::new(false);

/// One test: two classes of input copied, outside the timed region, into the one buffer the
/// operation reads, so both classes run from the same address (otherwise alignment and cache
/// placement of two separate buffers show up as a difference between the classes).
struct Case<F> {
    inputs: [Vec<u8>; 2],
    buf: Vec<u8>,
    op: F,
}

impl<F: FnMut(&[u8])> Case<F> {
    fn new(inputs: [Vec<u8>; 2], op: F) -> Self {
        assert_eq!(inputs[0].len(), inputs[1].len());
        let buf = inputs[0].clone();
        Self { inputs, buf, op }
    }

    fn prepare(&mut self, class: usize) {
        // A/A mode: both classes get class 0's input, so any |t| >= 4.5 is the machine's.
        let class = if A_A.load(Ordering::Relaxed) {
            0
        } else {
            class
        };
        self.buf.copy_from_slice(&self.inputs[class]);
    }

    fn run(&mut self) {
        (self.op)(black_box(&self.buf));
    }
}

/// A [`Case`] over a borrowed operation, so every test goes through one `measure` instance.
type DynCase<'a> = Case<&'a mut dyn FnMut(&[u8])>;

/// Measures `case` `measurements` times; each measurement times `reps` runs.
fn measure<F: FnMut(&[u8])>(
    name: &str,
    measurements: usize,
    reps: usize,
    case: &mut Case<F>,
) -> Report {
    let mut classes = Classes(0x9e37_79b9_7f4a_7c15 ^ name.len() as u64);
    for _ in 0..20_000 {
        case.prepare(classes.next());
        case.run();
    }
    let mut raw = Welch::default();
    let mut cropped = [Welch::default(); PERCENTILES];
    let mut thresholds: Option<Vec<f64>> = None;
    let mut class_of = vec![0usize; BATCH];
    let mut times = vec![0f64; BATCH];
    let mut done = 0;
    while done < measurements {
        let n = BATCH.min(measurements - done);
        for c in &mut class_of[..n] {
            *c = classes.next();
        }
        for (t, &c) in times[..n].iter_mut().zip(&class_of[..n]) {
            case.prepare(c);
            let start = Instant::now();
            for _ in 0..reps {
                case.run();
            }
            *t = start.elapsed().as_nanos() as f64;
        }
        let thr = thresholds.get_or_insert_with(|| {
            let mut sorted = times[..n].to_vec();
            sorted.sort_by(f64::total_cmp);
            (0..PERCENTILES)
                .map(|i| {
                    let p = 1.0 - 0.5f64.powf(10.0 * (i + 1) as f64 / PERCENTILES as f64);
                    sorted[((p * n as f64) as usize).min(n - 1)]
                })
                .collect()
        });
        for (&x, &c) in times[..n].iter().zip(&class_of[..n]) {
            raw.push(c, x);
            for (w, &limit) in cropped.iter_mut().zip(thr.iter()) {
                if x < limit {
                    w.push(c, x);
                }
            }
        }
        done += n;
    }
    let mut max_t = raw.t().abs();
    let mut max_t_test = "raw".to_owned();
    for (i, w) in cropped.iter().enumerate() {
        // As dudect: a cropped test needs enough samples to mean anything.
        if w.samples() >= 10_000.0 && w.t().abs() > max_t {
            max_t = w.t().abs();
            max_t_test = format!("cropped p{i}");
        }
    }
    Report {
        name: name.to_owned(),
        measurements,
        mean_ns: [raw.mean[0] / reps as f64, raw.mean[1] / reps as f64],
        max_t,
        max_t_test,
    }
}

fn key(cipher: CipherKind, seed: u8) -> TicketKey {
    let n = cipher.key_len();
    let name: [u8; 16] = core::array::from_fn(|i| seed.wrapping_add(i as u8 * 7));
    let aes: Vec<u8> = (0..n).map(|i| seed ^ (i as u8).wrapping_mul(13)).collect();
    let hmac: Vec<u8> = (0..n).map(|i| seed.wrapping_add(0x55) ^ i as u8).collect();
    TicketKey::new(name, &aes, &hmac).expect("test key")
}

fn ring(cipher: CipherKind) -> KeyRing {
    let sealing = key(cipher, 1);
    let opening = (2..17).map(|s| key(cipher, s * 11)).collect();
    KeyRing::new(sealing, opening).expect("ring")
}

/// Two copies of `ticket`: one with `at_first` flipped, one with `at_last` flipped.
fn two_classes(ticket: &[u8], at_first: usize, at_last: usize) -> [Vec<u8>; 2] {
    let mut a = ticket.to_vec();
    a[at_first] ^= 0x01;
    let mut b = ticket.to_vec();
    b[at_last] ^= 0x01;
    [a, b]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let measurements: usize = args
        .next()
        .map(|s| {
            s.replace('_', "")
                .parse()
                .expect("MEASUREMENTS must be a number")
        })
        .unwrap_or(1_000_000);
    let filter = args.next().unwrap_or_default();
    if std::env::var_os("DUDECT_AA").is_some_and(|v| v == "1") {
        A_A.store(true, Ordering::Relaxed);
        println!("A/A mode: both classes identical; |t| >= 4.5 here is noise");
    }
    let mut reports = Vec::new();
    let mut run = |name: &str, reps: usize, case: &mut DynCase<'_>| {
        if name.contains(&filter) {
            let r = measure(name, measurements, reps, case);
            println!(
                "{:<44} n={:<9} mean {:>9.1} / {:>9.1} ns  max|t| {:>6.2} ({})",
                r.name, r.measurements, r.mean_ns[0], r.mean_ns[1], r.max_t, r.max_t_test
            );
            reports.push(r);
        }
    };

    let state: Vec<u8> = (0..113u8).collect();
    for (f, cipher) in [
        (TicketFormat::OpenSsl, CipherKind::Aes128),
        (TicketFormat::Rfc5077, CipherKind::Aes256),
        (TicketFormat::Aead, CipherKind::Aes128),
    ] {
        let ring = ring(cipher);
        let mut ticket = Vec::new();
        let iv = vec![0x42; f.iv_len()];
        format::seal_with_iv(f, ring.sealing_key(), &iv, &state, &mut ticket).expect("seal");
        let mac_len = if f == TicketFormat::Aead { 16 } else { 32 };
        let n = ticket.len();
        let max_len = f.max_ticket_len(state.len());
        let mut out = vec![0u8; f.open_buf_len(n)];
        let mut op = |t: &[u8]| {
            let lookup = |name: &[u8; 16]| ring.find(name).map(|(k, _)| k);
            black_box(format::open_into(f, t, max_len, lookup, &mut out).is_ok());
        };
        let name = format!("open/{f}-{cipher:?}/mac_first_vs_last").to_lowercase();
        run(
            &name,
            1,
            &mut Case::new(two_classes(&ticket, n - mac_len, n - 1), &mut op),
        );
    }

    // The batch path compares MACs and tags with its own checks, on every backend:
    // - openssl, a batch of one ticket: the SIMD MAC and its word-wise check;
    // - AEAD, a batch of four copies: the x86 XAES kernel's lockstep group, each tag checked
    //   before decrypting.
    let ring128 = ring(CipherKind::Aes128);
    for (f, test, copies) in [
        (TicketFormat::OpenSsl, "mac_first_vs_last", 1),
        (TicketFormat::Aead, "aead_tag_first_vs_last", 4),
    ] {
        let mut ticket = Vec::new();
        let iv = vec![0x42; f.iv_len()];
        format::seal_with_iv(f, ring128.sealing_key(), &iv, &state, &mut ticket).expect("seal");
        let mac_len = if f == TicketFormat::Aead { 16 } else { 32 };
        let n = ticket.len();
        for backend in Backend::available() {
            let params = OpenParams {
                backend,
                formats: Formats::One(f),
                ring: &ring128,
                max_state_len: state.len(),
                now: 1_700_000_000,
            };
            let mut out = StateBatch::new();
            let mut status: Vec<Result<_, Rejected>> = (0..copies)
                .map(|_| Err(Rejected(RejectReason::TooShort)))
                .collect();
            let mut op = |t: &[u8]| {
                let batch = [t; 4];
                let r = params.open_many(&batch[..copies], &mut out, &mut status);
                black_box((r.is_ok(), status[copies - 1].is_ok()));
            };
            let name = format!("open_many/{}/{test}", backend.name());
            run(
                &name,
                1,
                &mut Case::new(two_classes(&ticket, n - mac_len, n - 1), &mut op),
            );
        }
    }

    let mac = [0xa5u8; 32];
    let mut op = |t: &[u8]| {
        black_box(tags_equal(black_box(&mac), t));
    };
    run(
        "tags_equal/first_vs_last",
        64,
        &mut Case::new(two_classes(&mac, 0, 31), &mut op),
    );

    let ring128 = ring(CipherKind::Aes128);
    let real = ring128.sealing_key().name().0;
    let mut op = |n: &[u8]| {
        let name: &[u8; 16] = n.try_into().expect("16 bytes");
        black_box(ring128.find(name).is_some());
    };
    run(
        "ring_find/first_vs_last",
        64,
        &mut Case::new(two_classes(&real, 0, 15), &mut op),
    );
    // Both names off in the last byte, by different values: same closeness to the real name,
    // different hash buckets. A |t| like first_vs_last's here points at the bucket (a public
    // function of the probed name) rather than at how many bytes matched.
    let mut other_last = real;
    other_last[15] ^= 0x80;
    let mut op = |n: &[u8]| {
        let name: &[u8; 16] = n.try_into().expect("16 bytes");
        black_box(ring128.find(name).is_some());
    };
    run(
        "ring_find/last_vs_other_last",
        64,
        &mut Case::new(
            [two_classes(&real, 15, 15)[0].clone(), other_last.to_vec()],
            &mut op,
        ),
    );

    let ticketer = Ticketer::new(ring(CipherKind::Aes128), TicketFormat::OpenSsl);
    let ticket = ticketer.seal(&state).expect("seal");
    let mut out = Vec::with_capacity(ticket.len());
    let mut op = |t: &[u8]| {
        out.clear();
        black_box(ticketer.open_at(t, 1_700_000_000, &mut out).is_ok());
    };
    run(
        "ticketer/unknown_name_first_vs_last",
        1,
        &mut Case::new(two_classes(&ticket, 0, 15), &mut op),
    );

    // Control: a comparison that exits at the first differing byte must be caught, or the
    // harness is too blunt to mean anything on this machine. Not part of the verdict.
    let mut control_t = None;
    if "control/early_exit_compare".contains(&filter) {
        let mut op = |t: &[u8]| {
            let early = t.iter().zip(&mac).all(|(a, b)| black_box(*a) == *b);
            black_box(early);
        };
        let r = measure(
            "control/early_exit_compare",
            measurements,
            64,
            &mut Case::new(two_classes(&mac, 0, 31), &mut op),
        );
        println!(
            "{:<44} n={:<9} mean {:>9.1} / {:>9.1} ns  max|t| {:>6.2} ({}) <- must be >= {T_THRESHOLD}",
            r.name, r.measurements, r.mean_ns[0], r.mean_ns[1], r.max_t, r.max_t_test
        );
        control_t = Some(r.max_t);
    }

    let worst = reports.iter().map(|r| r.max_t).fold(0.0, f64::max);
    println!(
        "{} tests, {} measurements each, max |t| = {worst:.2} (threshold {T_THRESHOLD})",
        reports.len(),
        measurements
    );
    if worst >= T_THRESHOLD {
        std::process::exit(1);
    }
    if control_t.is_some_and(|t| t < T_THRESHOLD) {
        eprintln!("the early-exit control was not detected: the measurements are too noisy");
        std::process::exit(2);
    }
}
