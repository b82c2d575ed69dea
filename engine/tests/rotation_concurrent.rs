//! 1000 rotations under load: while two threads seal and open tickets continuously, a
//! [`Rotator`] driven by a [`ManualClock`] rotates 1000 times (with sub-period steps, exact
//! boundaries and multi-period stalls). Every ticket remembers its sealing key's opening window;
//! each open is checked against it:
//! - opened  => the clock before the call was inside the window, and the state is intact;
//! - refused => the clock after the call was past the window, and the reason is `Expired`
//!   (ring still held the key) or `UnknownKey` (the key was erased).
//!
//! Any other outcome is a violation; the test requires 0.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tessera::rotation::{Clock, ManualClock, RotationPolicy, Rotator};
use tessera::{CipherKind, RejectReason, TicketFormat, Ticketer};

const T0: u64 = 1_750_000_000;
const ROTATIONS: u64 = 1000;
const PERIOD: u64 = 60;
const GRACE: u64 = 90;

#[derive(Default)]
struct Counts {
    opened: AtomicU64,
    refused: AtomicU64,
    violations: AtomicU64,
    sealed: AtomicU64,
}

struct Issued {
    ticket: Vec<u8>,
    state: Vec<u8>,
    open_until: u64,
}

fn worker(
    id: u8,
    ticketer: Ticketer,
    clock: Arc<ManualClock>,
    stop: Arc<AtomicBool>,
    ops: Arc<AtomicU64>,
    counts: Arc<Counts>,
) {
    let mut recent: VecDeque<Issued> = VecDeque::new();
    // The first ticket of each sealing key, kept for several keys so window ends are crossed.
    let mut per_key: VecDeque<Issued> = VecDeque::new();
    let mut n: u64 = 0;
    let mut out = Vec::new();
    let check = |issued: &Issued, out: &mut Vec<u8>| {
        out.clear();
        let before = clock.now();
        let result = ticketer.open_at(&issued.ticket, before, out);
        let after = clock.now();
        let ok = match result {
            Ok(_) => before < issued.open_until && *out == issued.state,
            Err(r) => {
                after >= issued.open_until
                    && matches!(r.reason(), RejectReason::Expired | RejectReason::UnknownKey)
            }
        };
        let counter = match (result.is_ok(), ok) {
            (_, false) => &counts.violations,
            (true, true) => &counts.opened,
            (false, true) => &counts.refused,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    };
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let state: Vec<u8> = [&[id][..], &n.to_be_bytes()[..], &[0x5a; 40][..]].concat();
        // Seal, and learn the sealing key's window from the same snapshot. A rotation between
        // the snapshot and the seal shows as a name mismatch: retry.
        let ring = ticketer.keys().load();
        let sealer = ring.sealing_key();
        let ticket = ticketer.seal(&state).expect("seal");
        if ticket.get(..16) != Some(&sealer.name().0[..]) {
            continue;
        }
        counts.sealed.fetch_add(1, Ordering::Relaxed);
        let issued = Issued {
            ticket,
            state,
            open_until: sealer
                .times()
                .open_until
                .expect("generated keys have windows"),
        };
        drop(ring);
        if per_key
            .back()
            .is_none_or(|last| last.ticket[..16] != issued.ticket[..16])
        {
            per_key.push_back(Issued {
                ticket: issued.ticket.clone(),
                state: issued.state.clone(),
                open_until: issued.open_until,
            });
            if per_key.len() > 8 {
                per_key.pop_front();
            }
        }
        recent.push_back(issued);
        if recent.len() > 16 {
            recent.pop_front();
        }
        for issued in recent.iter().chain(per_key.iter()) {
            check(issued, &mut out);
        }
        ops.fetch_add(1, Ordering::Release);
        // Two workers and the rotator share two cores: let the rotator in.
        std::thread::yield_now();
    }
}

#[test]
fn thousand_rotations_while_two_threads_seal_and_open() {
    let clock = Arc::new(ManualClock::new(T0));
    let policy = RotationPolicy {
        period_secs: PERIOD,
        grace_secs: GRACE,
        lifetime_secs: 90,
        prepublish: true,
        cipher: CipherKind::Aes128,
    };
    let rotator = Rotator::generated(policy, clock.clone()).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let ops = Arc::new(AtomicU64::new(0));
    let counts = Arc::new(Counts::default());
    let workers: Vec<_> = [TicketFormat::Rfc5077, TicketFormat::Aead]
        .into_iter()
        .enumerate()
        .map(|(i, format)| {
            let (t, c, s, o, n) = (
                rotator.ticketer(format),
                clock.clone(),
                stop.clone(),
                ops.clone(),
                counts.clone(),
            );
            std::thread::spawn(move || worker(i as u8, t, c, s, o, n))
        })
        .collect();

    let mut rotations = 0u64;
    let mut ticks = 0u64;
    let mut erased = 0usize;
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let deadline = Instant::now() + Duration::from_secs(120);
    while rotations < ROTATIONS {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        // Mostly sub-period steps; sometimes exactly a period; now and then a stall of several.
        let step = match rng % 50 {
            0 => 4 * PERIOD + 7,
            1..=5 => PERIOD,
            _ => 1 + (rng >> 8) % PERIOD,
        };
        let now = clock.advance(step);
        let report = rotator.tick(now).unwrap();
        ticks += 1;
        if report.new_sealer.is_some() {
            rotations += 1;
        }
        erased += report.removed.len();
        // Bounded ring: sealer, pre-published next, and keys still inside their window.
        assert!(rotator.keys().load().len() <= 2 + (GRACE / PERIOD + 1) as usize);
        // Let both workers run against this ring before moving on.
        let seen = ops.load(Ordering::Acquire);
        while ops.load(Ordering::Acquire) < seen + 8 {
            assert!(Instant::now() < deadline, "workers stalled");
            std::thread::yield_now();
        }
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().expect("worker panicked");
    }
    let (opened, refused, violations, sealed) = (
        counts.opened.load(Ordering::Relaxed),
        counts.refused.load(Ordering::Relaxed),
        counts.violations.load(Ordering::Relaxed),
        counts.sealed.load(Ordering::Relaxed),
    );
    eprintln!(
        "rotations={rotations} ticks={ticks} keys_erased={erased} sealed={sealed} \
         opened_in_window={opened} refused_after_window={refused} violations={violations}"
    );
    assert_eq!(violations, 0);
    assert_eq!(rotations, ROTATIONS);
    // Both outcomes were exercised many times, across many keys.
    assert!(opened > 10 * ROTATIONS, "opened {opened}");
    assert!(refused > ROTATIONS, "refused {refused}");
    assert!(erased as u64 >= ROTATIONS - 5, "erased {erased}");
}
