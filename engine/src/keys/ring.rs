//! The keys a server holds: exactly one sealing key plus any number of opening-only keys.
//!
//! A [`KeyRing`] is immutable once built. Changing keys (rotation, revocation, reload) builds a
//! new ring and publishes it through a [`SharedKeyRing`], an atomically swapped `Arc`: the hot
//! path loads a snapshot without taking a lock, and a ticket opened against one snapshot sees
//! one consistent set of keys.
//!
//! Lookup by key name runs in time that does not depend on the presented name. A ring of up to
//! [`SCAN_MAX_KEYS`] keys (every deployment we know of: current, next and a few grace keys)
//! compares the name against every slot, in a fixed order, 16 bytes at a time, and selects the
//! hit without a branch: the same loads and the same instructions for every name, so the time
//! depends only on the (public) ring size. An earlier hashed table showed a 0.5-1.4 ns timing
//! difference between hash buckets under dudect, which the full scan removes; scanning 8 names
//! costs about as much as hashing one. Larger rings use a hashed table (built collision-free
//! when possible) whose buckets all have the same number of slots, each compared in constant
//! time: O(1), and the work does not depend on which bytes of a name differ from a real one,
//! but which bucket a name lands in can show in the timing (names are public in RFC 5077, so
//! this reveals nothing secret).

use core::fmt;
use std::sync::Arc;

use arc_swap::{ArcSwap, Guard};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

use super::key::{CipherKind, KeyName, TicketKey};
use crate::error::Error;

/// What a key in a ring may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyRole {
    /// The one key that seals new tickets (and opens them).
    Sealing,
    /// A key that only opens tickets sealed earlier (or by a peer that rotated first).
    OpeningOnly,
}

impl KeyRole {
    /// `"seal"` or `"open"`, the words tessera's key file uses.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sealing => "seal",
            Self::OpeningOnly => "open",
        }
    }
}

impl fmt::Display for KeyRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One slot of the name index. Unoccupied slots never match (their `occupied` is 0).
#[derive(Clone, Copy, Default)]
struct Slot {
    name: [u8; 16],
    index: u32,
    occupied: u8,
}

/// Rings up to this many keys are searched by a full constant-time scan (see the module doc).
pub const SCAN_MAX_KEYS: usize = 32;

/// Name -> position map with a constant-time comparison. Built once per ring.
#[derive(Clone)]
enum NameIndex {
    /// Every name, compared on every lookup. `index` = position in the ring.
    Scan(Box<[(u128, u32)]>),
    Hashed(HashedIndex),
}

impl NameIndex {
    fn build(names: &[[u8; 16]]) -> Self {
        if names.len() <= SCAN_MAX_KEYS {
            Self::Scan(
                names
                    .iter()
                    .enumerate()
                    .map(|(i, n)| (u128::from_le_bytes(*n), i as u32))
                    .collect(),
            )
        } else {
            Self::Hashed(HashedIndex::build(names))
        }
    }

    fn get(&self, name: &[u8; 16]) -> Option<usize> {
        match self {
            Self::Scan(names) => {
                let probe = u128::from_le_bytes(*name);
                // Branch-free masks: all ones on the slot that matches, zero elsewhere. Only
                // ORs accumulate, so no early exit is possible; the final mask goes through
                // subtle's optimisation barrier before the one branch on "found at all".
                let mut found = 0u64;
                let mut index = 0u64;
                for &(real, i) in names.iter() {
                    let diff = probe ^ real;
                    let d = (diff as u64) | (diff >> 64) as u64;
                    let hit = ((d | d.wrapping_neg()) >> 63).wrapping_sub(1);
                    index |= hit & u64::from(i);
                    found |= hit;
                }
                bool::from(found.ct_eq(&u64::MAX)).then_some(index as usize)
            }
            Self::Hashed(table) => table.get(name),
        }
    }
}

/// The hashed name table for rings above [`SCAN_MAX_KEYS`].
#[derive(Clone)]
struct HashedIndex {
    seed: u64,
    bucket_bits: u32,
    slots_per_bucket: usize,
    slots: Box<[Slot]>,
}

/// Seeds tried per table size before accepting buckets with more than one slot.
const SEED_TRIES: u64 = 32;
/// How many doublings of the table are tried for a collision-free layout.
const EXTRA_BITS: u32 = 2;

impl HashedIndex {
    fn bucket_of(seed: u64, bits: u32, name: &[u8; 16]) -> usize {
        // Names are public and chosen by the operator, not the peer, so a fast multiplicative
        // mix suffices; multiplications and shifts take the same time for every input.
        let x = u128::from_le_bytes(*name);
        let mut h = (x as u64) ^ seed;
        h = h.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        h ^= (x >> 64) as u64;
        h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h ^= h >> 31;
        h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
        (h >> (64 - bits)) as usize
    }

    fn occupancy(seed: u64, bits: u32, names: &[[u8; 16]]) -> usize {
        let mut counts = vec![0usize; 1 << bits];
        let mut max = 0;
        for name in names {
            if let Some(c) = counts.get_mut(Self::bucket_of(seed, bits, name)) {
                *c += 1;
                max = max.max(*c);
            }
        }
        max
    }

    fn build(names: &[[u8; 16]]) -> Self {
        // At least 2 buckets per name (load factor <= 1/2), at least 2 buckets.
        let min_bits = (names.len().max(1) * 2)
            .next_power_of_two()
            .trailing_zeros()
            .clamp(1, 40);
        let mut chosen = None;
        'search: for bits in min_bits..=min_bits + EXTRA_BITS {
            for i in 0..SEED_TRIES {
                let seed = i.wrapping_mul(0xd6e8_feb8_6659_fd93) ^ 0x5851_f42d_4c95_7f2d;
                if Self::occupancy(seed, bits, names) <= 1 {
                    chosen = Some((seed, bits, 1));
                    break 'search;
                }
            }
        }
        let (seed, bits, per_bucket) = chosen.unwrap_or_else(|| {
            let seed = 0x5851_f42d_4c95_7f2d;
            (
                seed,
                min_bits,
                Self::occupancy(seed, min_bits, names).max(1),
            )
        });
        let mut slots = vec![Slot::default(); (1usize << bits) * per_bucket].into_boxed_slice();
        for (index, name) in names.iter().enumerate() {
            let start = Self::bucket_of(seed, bits, name) * per_bucket;
            let Some(bucket) = slots.get_mut(start..start + per_bucket) else {
                continue;
            };
            if let Some(slot) = bucket.iter_mut().find(|s| s.occupied == 0) {
                *slot = Slot {
                    name: *name,
                    index: index as u32,
                    occupied: 1,
                };
            }
        }
        Self {
            seed,
            bucket_bits: bits,
            slots_per_bucket: per_bucket,
            slots,
        }
    }

    /// The position of `name`, comparing every slot of its bucket in constant time.
    fn get(&self, name: &[u8; 16]) -> Option<usize> {
        let start = Self::bucket_of(self.seed, self.bucket_bits, name) * self.slots_per_bucket;
        let bucket = self.slots.get(start..start + self.slots_per_bucket)?;
        let mut found = Choice::from(0);
        let mut index = 0u32;
        for slot in bucket {
            let hit = slot.name.ct_eq(name) & Choice::from(slot.occupied);
            index.conditional_assign(&slot.index, hit);
            found |= hit;
        }
        if bool::from(found) {
            Some(index as usize)
        } else {
            None
        }
    }
}

/// Exactly one sealing key and any number of opening-only keys. Immutable once built.
///
/// Keys are held behind `Arc`, so deriving a new ring (revocation, rotation) shares the key
/// material instead of copying secrets around.
#[derive(Clone)]
pub struct KeyRing {
    /// `keys[0]` seals; the rest only open.
    keys: Vec<Arc<TicketKey>>,
    index: NameIndex,
    revoked: Vec<KeyName>,
    revoked_index: NameIndex,
}

impl KeyRing {
    /// A ring from one sealing key and any number of opening-only keys.
    /// Two keys with the same name give [`Error::DuplicateKeyName`].
    pub fn new(sealing: TicketKey, opening: Vec<TicketKey>) -> Result<Self, Error> {
        let mut keys = Vec::with_capacity(1 + opening.len());
        keys.push(Arc::new(sealing));
        keys.extend(opening.into_iter().map(Arc::new));
        Self::from_arcs(keys, Vec::new())
    }

    /// A ring holding a single key, which seals. Cannot fail.
    pub fn single(sealing: TicketKey) -> Self {
        let keys = vec![Arc::new(sealing)];
        let names = [keys[0].name().0];
        Self {
            index: NameIndex::build(&names),
            keys,
            revoked: Vec::new(),
            revoked_index: NameIndex::build(&[]),
        }
    }

    /// A ring from keys tagged with their roles, in any order: exactly one must be
    /// [`KeyRole::Sealing`] ([`Error::NoSealingKey`] otherwise). Opening-only keys keep their
    /// order.
    pub fn from_roles(keys: Vec<(TicketKey, KeyRole)>) -> Result<Self, Error> {
        let mut sealing = None;
        let mut opening = Vec::with_capacity(keys.len().saturating_sub(1));
        for (key, role) in keys {
            match role {
                KeyRole::Sealing if sealing.is_none() => sealing = Some(key),
                KeyRole::Sealing => return Err(Error::NoSealingKey),
                KeyRole::OpeningOnly => opening.push(key),
            }
        }
        Self::new(sealing.ok_or(Error::NoSealingKey)?, opening)
    }

    fn from_arcs(keys: Vec<Arc<TicketKey>>, revoked: Vec<KeyName>) -> Result<Self, Error> {
        if keys.is_empty() {
            return Err(Error::NoSealingKey);
        }
        let names: Vec<[u8; 16]> = keys.iter().map(|k| k.name().0).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        if sorted.windows(2).any(|w| w[0] == w[1]) {
            return Err(Error::DuplicateKeyName);
        }
        let revoked_names: Vec<[u8; 16]> = revoked.iter().map(|n| n.0).collect();
        Ok(Self {
            index: NameIndex::build(&names),
            keys,
            revoked_index: NameIndex::build(&revoked_names),
            revoked,
        })
    }

    /// The key that seals new tickets.
    pub fn sealing_key(&self) -> &TicketKey {
        // `keys` is never empty: every constructor puts the sealing key first.
        &self.keys[0]
    }

    /// The key with this name and its role, or `None`. The time taken does not depend on the
    /// name for rings up to [`SCAN_MAX_KEYS`] keys (a full constant-time scan); larger rings
    /// use an O(1) hashed table with constant-time comparisons (see the module doc). The key's time window is not checked here: the open path asks
    /// [`TicketKey::can_open_at`] (and sealers [`TicketKey::can_seal_at`]).
    pub fn find(&self, name: &[u8; 16]) -> Option<(&TicketKey, KeyRole)> {
        let i = self.index.get(name)?;
        let key = self.keys.get(i)?;
        let role = if i == 0 {
            KeyRole::Sealing
        } else {
            KeyRole::OpeningOnly
        };
        Some((key, role))
    }

    /// Was this name removed from the ring by [`KeyRing::without`] (or a replacement of the
    /// sealing key)? Lets the open path count [`crate::RejectReason::Revoked`] apart from
    /// unknown names. Same lookup as [`KeyRing::find`], over the revoked names.
    pub fn is_revoked(&self, name: &[u8; 16]) -> bool {
        // Most rings have revoked nothing; whether one has is public.
        !self.revoked.is_empty() && self.revoked_index.get(name).is_some()
    }

    /// Names revoked from this ring's ancestors, oldest first.
    pub fn revoked_names(&self) -> &[KeyName] {
        &self.revoked
    }

    /// Every key with its role, the sealing key first.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = (&TicketKey, KeyRole)> + '_ {
        self.keys.iter().enumerate().map(|(i, k)| {
            (
                &**k,
                if i == 0 {
                    KeyRole::Sealing
                } else {
                    KeyRole::OpeningOnly
                },
            )
        })
    }

    /// Number of keys (sealing plus opening-only). Always at least 1.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Always false: a ring holds at least its sealing key. Present for API symmetry.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The widest AES key in the ring, for formats that size buffers or bound ticket length.
    /// (For the CBC formats the ticket length does not depend on it; AES-256 keys only cost
    /// more rounds.)
    pub fn max_cipher(&self) -> CipherKind {
        if self.keys.iter().any(|k| k.cipher() == CipherKind::Aes256) {
            CipherKind::Aes256
        } else {
            CipherKind::Aes128
        }
    }

    /// The longest HMAC key in the ring, in bytes (16 or 32).
    pub fn max_hmac_key_len(&self) -> usize {
        self.keys
            .iter()
            .map(|k| k.hmac_key().len())
            .max()
            .unwrap_or(32)
    }

    /// A new ring without the opening-only key `name`, which is recorded as revoked.
    ///
    /// Removing the sealing key would leave the ring without one, so it is refused with
    /// [`Error::NoSealingKey`]; use [`KeyRing::replacing_sealing`] instead. A name that is not
    /// in the ring gives an identical copy (revoking twice is harmless).
    pub fn without(&self, name: &[u8; 16]) -> Result<Self, Error> {
        match self.index.get(name) {
            None => Ok(self.clone()),
            Some(0) => Err(Error::NoSealingKey),
            Some(i) => {
                let mut keys = self.keys.clone();
                keys.remove(i);
                let mut revoked = self.revoked.clone();
                revoked.push(KeyName(*name));
                Self::from_arcs(keys, revoked)
            }
        }
    }

    /// A new ring where `replacement` seals and the current sealing key is revoked (removed and
    /// recorded). Opening-only keys are kept. Fails with [`Error::DuplicateKeyName`] when the
    /// replacement's name is already in the ring.
    pub fn replacing_sealing(&self, replacement: TicketKey) -> Result<Self, Error> {
        let mut keys = Vec::with_capacity(self.keys.len());
        keys.push(Arc::new(replacement));
        keys.extend(self.keys.iter().skip(1).cloned());
        let mut revoked = self.revoked.clone();
        revoked.push(self.sealing_key().name());
        Self::from_arcs(keys, revoked)
    }

    /// A new ring where `new_sealing` seals and the current sealing key is kept as opening-only
    /// (ordinary rotation: tickets it sealed still open). Fails with
    /// [`Error::DuplicateKeyName`] when the new key's name is already in the ring.
    pub fn rotated(&self, new_sealing: TicketKey) -> Result<Self, Error> {
        let mut keys = Vec::with_capacity(self.keys.len() + 1);
        keys.push(Arc::new(new_sealing));
        keys.extend(self.keys.iter().cloned());
        Self::from_arcs(keys, self.revoked.clone())
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("sealing", &self.sealing_key())
            .field("opening", &self.keys.get(1..).unwrap_or_default())
            .field("revoked", &self.revoked)
            .finish()
    }
}

/// A [`KeyRing`] published for many threads: readers load a snapshot with no lock, writers
/// swap in a whole new ring atomically (`arc_swap`).
///
/// A snapshot a reader already holds stays valid and unchanged after a swap; the next load sees
/// the new ring. Concurrent writers do not lose each other's updates ([`SharedKeyRing::revoke`]
/// and [`SharedKeyRing::revoke_sealing`] retry on top of the latest ring).
pub struct SharedKeyRing {
    current: ArcSwap<KeyRing>,
}

impl SharedKeyRing {
    /// Publishes `ring` as the first snapshot.
    pub fn new(ring: KeyRing) -> Self {
        Self {
            current: ArcSwap::from_pointee(ring),
        }
    }

    /// The current snapshot, cheaply (no lock, no reference-count traffic in the common case).
    /// Hold it for one operation, not across long waits.
    pub fn load(&self) -> Guard<Arc<KeyRing>> {
        self.current.load()
    }

    /// The current snapshot as an owned `Arc`, for holding longer.
    pub fn load_full(&self) -> Arc<KeyRing> {
        self.current.load_full()
    }

    /// Publishes `ring`, replacing the current snapshot entirely (its revocation list included:
    /// revocation lives in memory; remove a revoked key from its file to make it stick).
    pub fn store(&self, ring: KeyRing) {
        self.current.store(Arc::new(ring));
    }

    /// Publishes `ring` and returns the snapshot it replaced.
    pub fn swap(&self, ring: KeyRing) -> Arc<KeyRing> {
        self.current.swap(Arc::new(ring))
    }

    /// Atomically replaces the ring with `f(current)`, retrying `f` on the newer ring if another
    /// writer published in between (so no update is lost). An error from `f` leaves the ring
    /// unchanged and is returned. Returns the ring now published.
    ///
    /// ```
    /// # use tessera::keys::{CipherKind, KeyRing, SharedKeyRing, TicketKey};
    /// let shared = SharedKeyRing::new(KeyRing::single(TicketKey::generate(CipherKind::Aes128)?));
    /// let next = TicketKey::generate(CipherKind::Aes128)?;
    /// shared.update(|ring| ring.rotated(next.clone()))?;
    /// assert_eq!(shared.load().len(), 2);
    /// # Ok::<(), tessera::Error>(())
    /// ```
    pub fn update<F>(&self, mut f: F) -> Result<Arc<KeyRing>, Error>
    where
        F: FnMut(&KeyRing) -> Result<KeyRing, Error>,
    {
        let mut outcome = Ok(());
        let mut published = None;
        self.current.rcu(|ring| match f(ring) {
            Ok(next) => {
                outcome = Ok(());
                let next = Arc::new(next);
                published = Some(Arc::clone(&next));
                next
            }
            Err(e) => {
                outcome = Err(e);
                published = None;
                Arc::clone(ring)
            }
        });
        outcome?;
        Ok(published.unwrap_or_else(|| self.current.load_full()))
    }

    /// Atomically publishes a ring without the opening-only key `name`. Returns true when the
    /// key was removed; false when no such key exists, or when `name` is the sealing key: that
    /// is refused (a ring always needs one) and nothing changes; use
    /// [`SharedKeyRing::revoke_sealing`] with a replacement instead.
    pub fn revoke(&self, name: &[u8; 16]) -> bool {
        let mut removed = false;
        self.current.rcu(|ring| match ring.without(name) {
            Ok(next) if next.len() < ring.len() => {
                removed = true;
                Arc::new(next)
            }
            _ => {
                removed = false;
                Arc::clone(ring)
            }
        });
        removed
    }

    /// Atomically revokes the current sealing key and makes `replacement` the sealing key.
    /// Returns the revoked name. Fails (and changes nothing) when the replacement's name is
    /// already in the ring.
    pub fn revoke_sealing(&self, replacement: TicketKey) -> Result<KeyName, Error> {
        let replacement = Arc::new(replacement);
        let mut outcome = Err(Error::NoSealingKey);
        self.current.rcu(|ring| {
            let mut keys = Vec::with_capacity(ring.keys.len());
            keys.push(Arc::clone(&replacement));
            keys.extend(ring.keys.iter().skip(1).cloned());
            let old = ring.sealing_key().name();
            let mut revoked = ring.revoked.clone();
            revoked.push(old);
            match KeyRing::from_arcs(keys, revoked) {
                Ok(next) => {
                    outcome = Ok(old);
                    Arc::new(next)
                }
                Err(e) => {
                    outcome = Err(e);
                    Arc::clone(ring)
                }
            }
        });
        outcome
    }
}

impl fmt::Debug for SharedKeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SharedKeyRing")
            .field(&**self.current.load())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> TicketKey {
        let mut name = [seed; 16];
        name[15] = seed.wrapping_add(1);
        let mut aes = [seed.wrapping_add(2); 16];
        aes[0] = 0x55;
        let mut hmac = [seed.wrapping_add(3); 32];
        hmac[0] = 0xaa;
        TicketKey::new(name, &aes, &hmac).unwrap()
    }

    #[test]
    fn index_finds_every_name_and_nothing_else() {
        for n in [0usize, 1, 2, 3, 7, 32, 33, 64, 300] {
            let names: Vec<[u8; 16]> = (0..n)
                .map(|i| {
                    let mut a = [0u8; 16];
                    a[..8].copy_from_slice(&(i as u64).to_be_bytes());
                    a
                })
                .collect();
            let idx = NameIndex::build(&names);
            assert_eq!(
                matches!(idx, NameIndex::Scan(_)),
                n <= SCAN_MAX_KEYS,
                "n={n} picks the scan exactly up to SCAN_MAX_KEYS"
            );
            for (i, name) in names.iter().enumerate() {
                assert_eq!(idx.get(name), Some(i), "n={n} i={i}");
                // Every name one bit off a real one misses (none of them is another real name:
                // real names differ only in their first 8 bytes, by whole integers).
                for bit in 0..128 {
                    let mut off = *name;
                    off[bit / 8] ^= 1 << (bit % 8);
                    if !names.contains(&off) {
                        assert_eq!(idx.get(&off), None, "n={n} i={i} bit={bit}");
                    }
                }
            }
            assert_eq!(idx.get(&[0xee; 16]), None);
        }
    }

    #[test]
    fn shared_prefix_names_still_resolve() {
        // Operators name keys "key-2026-11-30-a", "...-b": long shared prefixes.
        let names: Vec<[u8; 16]> = (b'a'..=b'z')
            .map(|c| {
                let mut a = *b"key-2026-11-30-?";
                a[15] = c;
                a
            })
            .collect();
        let idx = NameIndex::build(&names);
        for (i, name) in names.iter().enumerate() {
            assert_eq!(idx.get(name), Some(i));
        }
    }

    #[test]
    fn from_roles_needs_exactly_one_sealer() {
        assert!(matches!(
            KeyRing::from_roles(vec![(key(1), KeyRole::OpeningOnly)]),
            Err(Error::NoSealingKey)
        ));
        assert!(matches!(
            KeyRing::from_roles(vec![(key(1), KeyRole::Sealing), (key(2), KeyRole::Sealing)]),
            Err(Error::NoSealingKey)
        ));
        let ring = KeyRing::from_roles(vec![
            (key(1), KeyRole::OpeningOnly),
            (key(2), KeyRole::Sealing),
        ])
        .unwrap();
        assert_eq!(ring.sealing_key().name(), key(2).name());
    }
}
