//! Rotation across a fleet: edges whose clocks differ, and followers whose key files lag the
//! leader, never meet an unknown key name, because the next key is pre-published one period
//! before it seals. Each test also runs the counterfactual (pre-publishing off) and shows that
//! it does fail, so the property is really carried by pre-publishing.

use std::collections::VecDeque;
use std::sync::Arc;

use tessera::keys::{FleetDeriver, KeyFileFormat, save_key_file};
use tessera::rotation::{ManualClock, RotationPolicy, Rotator};
use tessera::{CipherKind, RejectReason, TicketFormat};

const T0: u64 = 1_760_000_000;
const PERIOD: u64 = 60;

fn secret() -> Vec<u8> {
    (0u8..32).map(|i| i.wrapping_mul(37) ^ 0xa5).collect()
}

/// Outcome counts of opening on one edge the tickets another sealed.
#[derive(Debug, Default, PartialEq, Eq)]
struct Tally {
    /// Opened while the sealing key was inside its opening window (on the opener's clock).
    opened: u64,
    /// Refused after the window ended.
    refused_after_window: u64,
    /// Refused inside the window, or opened after it: must be 0.
    violations: u64,
    /// Of the violations, how many were an unknown key name.
    unknown_inside_window: u64,
}

impl Tally {
    fn record<T>(&mut self, result: Result<T, tessera::Rejected>, now: u64, open_until: u64) {
        let inside = now < open_until;
        match (result, inside) {
            (Ok(_), true) => self.opened += 1,
            (Err(_), false) => self.refused_after_window += 1,
            (Ok(_), false) => self.violations += 1,
            (Err(e), true) => {
                self.violations += 1;
                if e.reason() == RejectReason::UnknownKey {
                    self.unknown_inside_window += 1;
                }
            }
        }
    }
}

/// Two fleet edges, A's clock `skew` seconds ahead of B's; both seal every step and open what
/// the other sealed during the last period. Each ticket's window comes from the deriver's
/// schedule for the epoch it was sealed in (on the sealer's clock).
fn skewed_fleet(skew: u64, prepublish: bool) -> Tally {
    let deriver = FleetDeriver::new(&secret(), PERIOD, CipherKind::Aes128, 1)
        .unwrap()
        .with_next_prepublished(prepublish);
    let clock_a = Arc::new(ManualClock::new(T0 + skew));
    let clock_b = Arc::new(ManualClock::new(T0));
    let a = Rotator::fleet(deriver.clone(), 90, clock_a.clone()).unwrap();
    let b = Rotator::fleet(deriver.clone(), 90, clock_b.clone()).unwrap();
    let (ta, tb) = (
        a.ticketer(TicketFormat::Aead),
        b.ticketer(TicketFormat::Aead),
    );
    let window_end = |sealed_at: u64| {
        deriver
            .times_for_epoch(deriver.epoch_at(sealed_at))
            .open_until
            .unwrap()
    };
    // (B-time sealed, open_until, ticket)
    let mut from_a: VecDeque<(u64, u64, Vec<u8>)> = VecDeque::new();
    let mut from_b: VecDeque<(u64, u64, Vec<u8>)> = VecDeque::new();
    let mut tally = Tally::default();
    let mut out = Vec::new();
    // 200 periods in 7-second steps: every offset inside a period is visited.
    for step in 0..(200 * PERIOD / 7) {
        let t = T0 + step * 7;
        clock_a.set(t + skew);
        clock_b.set(t);
        a.tick(t + skew).unwrap();
        b.tick(t).unwrap();
        from_a.push_back((t, window_end(t + skew), ta.seal(b"sealed on A").unwrap()));
        from_b.push_back((t, window_end(t), tb.seal(b"sealed on B").unwrap()));
        for q in [&mut from_a, &mut from_b] {
            while q.front().is_some_and(|(when, _, _)| t - when >= PERIOD) {
                q.pop_front();
            }
        }
        for (_, until, ticket) in &from_a {
            out.clear();
            tally.record(tb.open_at(ticket, t, &mut out), t, *until);
        }
        for (_, until, ticket) in &from_b {
            out.clear();
            tally.record(ta.open_at(ticket, t + skew, &mut out), t + skew, *until);
        }
    }
    tally
}

#[test]
fn fleet_edges_with_skewed_clocks_never_see_an_unknown_name() {
    for skew in [0, 1, 29, PERIOD - 1] {
        let tally = skewed_fleet(skew, true);
        assert_eq!(tally.violations, 0, "skew {skew}: {tally:?}");
        assert!(tally.opened > 10_000, "skew {skew}: {tally:?}");
        // With a large skew, tickets near one period old fall out of the window on the
        // leading edge: those refusals are correct and must show up.
        if skew >= 29 {
            assert!(tally.refused_after_window > 0, "skew {skew}: {tally:?}");
        }
    }
}

#[test]
fn without_prepublishing_a_lagging_edge_meets_unknown_names() {
    let tally = skewed_fleet(29, false);
    assert!(tally.unknown_inside_window > 0, "{tally:?}");
}

/// A leader generates keys (a new one every 3 steps of 20 s) and exports them every third
/// step, 20 s after each rotation, so the follower's file lags by up to 40 s. Everything the
/// leader seals must open on the follower.
fn leader_and_lagging_follower(prepublish: bool) -> Tally {
    let dir = std::env::temp_dir().join(format!(
        "tessera-rot-fleet-{prepublish}-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("keys");
    let clock = Arc::new(ManualClock::new(T0));
    let policy = RotationPolicy {
        period_secs: PERIOD,
        grace_secs: 2 * PERIOD,
        lifetime_secs: 120,
        prepublish,
        cipher: CipherKind::Aes256,
    };
    let leader = Rotator::generated(policy, clock.clone()).unwrap();
    save_key_file(&file, &leader.export(KeyFileFormat::Tessera).unwrap()).unwrap();
    let follower = Rotator::from_key_files(&[&file], None, 120, clock.clone()).unwrap();
    let (sealer, opener) = (
        leader.ticketer(TicketFormat::OpenSsl),
        follower.ticketer(TicketFormat::OpenSsl),
    );
    let mut tally = Tally::default();
    let mut out = Vec::new();
    for step in 1..=(150 * PERIOD / 20) {
        let now = clock.advance(20);
        leader.tick(now).unwrap();
        if step % 3 == 1 {
            save_key_file(&file, &leader.export(KeyFileFormat::Tessera).unwrap()).unwrap();
            follower.reload().unwrap();
        }
        let ticket = sealer.seal(b"leader state").unwrap();
        out.clear();
        // A fresh ticket: inside its key's window by construction.
        tally.record(opener.open_at(&ticket, now, &mut out), now, u64::MAX);
    }
    std::fs::remove_dir_all(&dir).ok();
    tally
}

#[test]
fn followers_of_an_exported_ring_open_everything_the_leader_seals() {
    let tally = leader_and_lagging_follower(true);
    assert_eq!(
        tally,
        Tally {
            opened: 150 * PERIOD / 20,
            ..Tally::default()
        }
    );
}

#[test]
fn without_prepublishing_followers_miss_fresh_keys() {
    let tally = leader_and_lagging_follower(false);
    assert!(tally.unknown_inside_window > 0, "{tally:?}");
}
