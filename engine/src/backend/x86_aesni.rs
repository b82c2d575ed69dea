//! AES-NI (xmm) kernels: key schedules, multi-buffer CBC encryption across tickets and
//! CBC decryption in groups of 8 blocks (within and across tickets).
//!
//! Lane scheduler (shared with the VAES module): CBC encryption is serial inside a ticket, so
//! each lane carries one ticket. The queue of tickets is consumed in order; every lane runs
//! until its ticket ends and is refilled from the queue at once, so short tickets never hold up
//! long ones. Lanes are kept compacted at the front; a group runs for as many blocks as its
//! shortest live lane has left, then finished lanes are replaced. When the queue is drained and
//! fewer lanes are alive, the kernel of exactly that width runs (AES-NI: 1..=8 lanes; VAES:
//! ceil(live / 2) registers) rather than computing dummies. AES-128 and AES-256 tickets are
//! processed in two passes (10 and 14 rounds cannot share one interleaved round loop). When
//! every live lane uses the same key, round keys are loaded once per round for all lanes.
//!
//! Decryption is parallel inside a ticket, so the blocks of all tickets form one stream that is
//! cut into groups of 8 (AES-NI) or 16 (VAES) blocks, in runs per ticket.

#![allow(unsafe_code)]

use core::arch::x86_64::*;
use core::fmt;

use zeroize::Zeroize;

/// Round keys for one AES key, in the layout the x86 kernels load directly: the encryption
/// schedule and the "equivalent inverse cipher" decryption schedule (FIPS 197 section 5.3.5).
/// Zeroized on drop.
#[derive(Clone)]
pub struct RoundKeys {
    pub(super) enc: [__m128i; 15],
    pub(super) dec: [__m128i; 15],
    /// 10 (AES-128) or 14 (AES-256).
    pub(super) rounds: usize,
}

impl RoundKeys {
    /// Number of AES rounds: 10 for AES-128, 14 for AES-256.
    pub fn rounds(&self) -> usize {
        self.rounds
    }
}

impl Drop for RoundKeys {
    fn drop(&mut self) {
        self.enc.zeroize();
        self.dec.zeroize();
    }
}

impl zeroize::ZeroizeOnDrop for RoundKeys {}

impl fmt::Debug for RoundKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoundKeys")
            .field("rounds", &self.rounds)
            .finish_non_exhaustive()
    }
}

/// One CBC ticket: data (whole 16-byte blocks) processed in place.
pub struct CbcTicket<'a> {
    /// Round keys of this ticket's AES key.
    pub keys: &'a RoundKeys,
    /// The ticket's IV.
    pub iv: [u8; 16],
    /// Plaintext (encrypt) or ciphertext (decrypt), replaced in place; a multiple of 16 bytes.
    pub data: &'a mut [u8],
}

impl fmt::Debug for CbcTicket<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CbcTicket")
            .field("len", &self.data.len())
            .finish_non_exhaustive()
    }
}

/// One CBC ticket decrypted out of place: `src` (ciphertext, whole 16-byte blocks) into `dst`
/// (the same length), so the ciphertext never has to be copied into the output first.
pub struct CbcDecryptTicket<'a> {
    /// Round keys of this ticket's AES key.
    pub keys: &'a RoundKeys,
    /// The ticket's IV.
    pub iv: [u8; 16],
    /// The ciphertext, read only.
    pub src: &'a [u8],
    /// Receives the plaintext; as long as `src`.
    pub dst: &'a mut [u8],
}

impl fmt::Debug for CbcDecryptTicket<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CbcDecryptTicket")
            .field("len", &self.src.len())
            .finish_non_exhaustive()
    }
}

/// A ticket the decryption scheduler can walk: in place ([`CbcTicket`]) or out of place
/// ([`CbcDecryptTicket`]).
pub(super) trait DecryptSource {
    /// Round keys, IV, where the ciphertext is read, where the plaintext goes, whole blocks.
    /// For in-place tickets both pointers derive from one `&mut` borrow.
    fn layout(&mut self) -> (&RoundKeys, *const u8, *const u8, *mut u8, usize);
}

impl DecryptSource for CbcTicket<'_> {
    fn layout(&mut self) -> (&RoundKeys, *const u8, *const u8, *mut u8, usize) {
        let blocks = self.data.len() / 16;
        let dst = self.data.as_mut_ptr();
        (self.keys, self.iv.as_ptr(), dst.cast_const(), dst, blocks)
    }
}

impl DecryptSource for CbcDecryptTicket<'_> {
    fn layout(&mut self) -> (&RoundKeys, *const u8, *const u8, *mut u8, usize) {
        let blocks = self.src.len().min(self.dst.len()) / 16;
        (
            self.keys,
            self.iv.as_ptr(),
            self.src.as_ptr(),
            self.dst.as_mut_ptr(),
            blocks,
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Key schedule (FIPS 197 section 5.2, through AESKEYGENASSIST).

#[target_feature(enable = "aes,sse4.1")]
#[inline]
pub(super) fn expand_step(prev: __m128i, assist: __m128i) -> __m128i {
    let mut k = prev;
    let mut t = _mm_slli_si128::<4>(k);
    k = _mm_xor_si128(k, t);
    t = _mm_slli_si128::<4>(t);
    k = _mm_xor_si128(k, t);
    t = _mm_slli_si128::<4>(t);
    _mm_xor_si128(_mm_xor_si128(k, t), assist)
}

macro_rules! next128 {
    ($k:expr, $rcon:literal) => {
        expand_step(
            $k,
            _mm_shuffle_epi32::<0xff>(_mm_aeskeygenassist_si128::<$rcon>($k)),
        )
    };
}

/// Fills the decryption schedule from the encryption one.
#[target_feature(enable = "aes,sse4.1")]
#[inline]
fn finish_schedule(enc: [__m128i; 15], rounds: usize) -> RoundKeys {
    let mut dec = [_mm_setzero_si128(); 15];
    dec[0] = enc[rounds];
    for i in 1..rounds {
        dec[i] = _mm_aesimc_si128(enc[rounds - i]);
    }
    dec[rounds] = enc[0];
    RoundKeys { enc, dec, rounds }
}

/// Expands an AES-128 key.
///
/// # Safety
/// The CPU must support AES-NI and SSE4.1.
#[target_feature(enable = "aes,sse4.1")]
pub(super) unsafe fn expand_128(key: &[u8; 16]) -> RoundKeys {
    let mut e = [_mm_setzero_si128(); 15];
    // SAFETY: `key` is 16 readable bytes; unaligned load.
    e[0] = unsafe { _mm_loadu_si128(key.as_ptr().cast()) };
    e[1] = next128!(e[0], 0x01);
    e[2] = next128!(e[1], 0x02);
    e[3] = next128!(e[2], 0x04);
    e[4] = next128!(e[3], 0x08);
    e[5] = next128!(e[4], 0x10);
    e[6] = next128!(e[5], 0x20);
    e[7] = next128!(e[6], 0x40);
    e[8] = next128!(e[7], 0x80);
    e[9] = next128!(e[8], 0x1b);
    e[10] = next128!(e[9], 0x36);
    let keys = finish_schedule(e, 10);
    e.zeroize();
    keys
}

macro_rules! next256 {
    ($e:ident, $i:literal, $rcon:literal) => {
        $e[$i] = expand_step(
            $e[$i - 2],
            _mm_shuffle_epi32::<0xff>(_mm_aeskeygenassist_si128::<$rcon>($e[$i - 1])),
        );
        if $i < 14 {
            $e[$i + 1] = expand_step(
                $e[$i - 1],
                _mm_shuffle_epi32::<0xaa>(_mm_aeskeygenassist_si128::<0>($e[$i])),
            );
        }
    };
}

/// Expands an AES-256 key.
///
/// # Safety
/// The CPU must support AES-NI and SSE4.1.
#[target_feature(enable = "aes,sse4.1")]
pub(super) unsafe fn expand_256(key: &[u8; 32]) -> RoundKeys {
    let mut e = [_mm_setzero_si128(); 15];
    // SAFETY: `key` is 32 readable bytes; two unaligned 16-byte loads.
    unsafe {
        e[0] = _mm_loadu_si128(key.as_ptr().cast());
        e[1] = _mm_loadu_si128(key.as_ptr().add(16).cast());
    }
    next256!(e, 2, 0x01);
    next256!(e, 4, 0x02);
    next256!(e, 6, 0x04);
    next256!(e, 8, 0x08);
    next256!(e, 10, 0x10);
    next256!(e, 12, 0x20);
    next256!(e, 14, 0x40);
    let keys = finish_schedule(e, 14);
    e.zeroize();
    keys
}

// ---------------------------------------------------------------------------------------------
// Lane scheduler for CBC encryption (also used by the VAES module).

/// One live lane: a ticket in the middle of CBC encryption.
#[derive(Clone, Copy)]
pub(super) struct EncLane {
    pub(super) keys: *const RoundKeys,
    /// Next block to encrypt (in place).
    pub(super) ptr: *mut u8,
    /// Blocks left in this ticket (> 0 while the lane is live).
    pub(super) left: usize,
    /// Chaining value: IV or the previous ciphertext block.
    pub(super) cv: [u8; 16],
}

impl EncLane {
    const IDLE: Self = Self {
        keys: core::ptr::null(),
        ptr: core::ptr::null_mut(),
        left: 0,
        cv: [0; 16],
    };
}

/// Runs CBC encryption over `tickets` with up to `L` lanes in flight. `group(lanes, live,
/// steps)` must encrypt `steps` blocks for each of `lanes[..live]` (all with `rounds` rounds),
/// advance `ptr`, and update `cv`; the scheduler handles `left` and refills.
///
/// # Safety
/// `group` must only touch `steps * 16` bytes from each live lane's `ptr` (the scheduler
/// guarantees they are inside that lane's ticket) and must be safe to call on this CPU.
pub(super) unsafe fn schedule_encrypt<const L: usize>(
    tickets: &mut [CbcTicket<'_>],
    rounds: usize,
    mut group: impl FnMut(&mut [EncLane; L], usize, usize),
) {
    let mut lanes = [EncLane::IDLE; L];
    let mut live = 0;
    let mut queue = tickets
        .iter_mut()
        .filter(|t| t.keys.rounds == rounds && t.data.len() >= 16);
    loop {
        while live < L {
            let Some(t) = queue.next() else { break };
            lanes[live] = EncLane {
                keys: t.keys,
                ptr: t.data.as_mut_ptr(),
                left: t.data.len() / 16,
                cv: t.iv,
            };
            live += 1;
        }
        if live == 0 {
            return;
        }
        let steps = lanes[..live].iter().map(|l| l.left).min().unwrap_or(0);
        group(&mut lanes, live, steps);
        let mut i = 0;
        while i < live {
            lanes[i].left -= steps;
            if lanes[i].left == 0 {
                live -= 1;
                lanes[i] = lanes[live];
            } else {
                i += 1;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// CBC encryption, N tickets interleaved.

/// Encrypts `steps` blocks in each of `lanes[..N]` (all live, `R` rounds). `UNIFORM`: every
/// lane uses `lanes[0].keys` (one key load per round instead of one per lane).
///
/// # Safety
/// AES-NI available; each lane's `ptr` has `steps * 16` writable bytes and `keys` is valid.
#[target_feature(enable = "aes,sse4.1")]
#[inline]
unsafe fn encrypt_group<const N: usize, const R: usize, const UNIFORM: bool>(
    lanes: &mut [EncLane],
    steps: usize,
) {
    let lanes = &mut lanes[..N];
    let mut keys: [&RoundKeys; N] = [
        // SAFETY: live lanes point at round keys borrowed for the whole call.
        unsafe { &*lanes[0].keys }; N
    ];
    if !UNIFORM {
        for (k, l) in keys.iter_mut().zip(lanes.iter()) {
            // SAFETY: as above.
            *k = unsafe { &*l.keys };
        }
    }
    let mut ptr: [*mut u8; N] = core::array::from_fn(|i| lanes[i].ptr);
    let mut cv: [__m128i; N] = [_mm_setzero_si128(); N];
    for i in 0..N {
        // SAFETY: 16-byte array, unaligned load.
        cv[i] = unsafe { _mm_loadu_si128(lanes[i].cv.as_ptr().cast()) };
    }
    for _ in 0..steps {
        let mut x = [_mm_setzero_si128(); N];
        for i in 0..N {
            // SAFETY: `ptr[i]` has at least 16 bytes left in its ticket (caller contract).
            let p = unsafe { _mm_loadu_si128(ptr[i].cast()) };
            x[i] = _mm_xor_si128(_mm_xor_si128(p, cv[i]), keys[i].enc[0]);
        }
        for r in 1..R {
            if UNIFORM {
                let k = keys[0].enc[r];
                for xi in x.iter_mut() {
                    *xi = _mm_aesenc_si128(*xi, k);
                }
            } else {
                for i in 0..N {
                    x[i] = _mm_aesenc_si128(x[i], keys[i].enc[r]);
                }
            }
        }
        for i in 0..N {
            cv[i] = _mm_aesenclast_si128(x[i], keys[i].enc[R]);
            // SAFETY: same 16 bytes as loaded above; then advance within the ticket.
            unsafe {
                _mm_storeu_si128(ptr[i].cast(), cv[i]);
                ptr[i] = ptr[i].add(16);
            }
        }
    }
    for i in 0..N {
        lanes[i].ptr = ptr[i];
        // SAFETY: 16-byte array, unaligned store.
        unsafe { _mm_storeu_si128(lanes[i].cv.as_mut_ptr().cast(), cv[i]) };
    }
}

/// Dispatches a group to the kernel of exactly `live` lanes.
///
/// # Safety
/// As [`encrypt_group`], for `lanes[..live]`.
#[target_feature(enable = "aes,sse4.1")]
unsafe fn encrypt_group_any<const R: usize>(lanes: &mut [EncLane; 8], live: usize, steps: usize) {
    let uniform = lanes[..live]
        .iter()
        .all(|l| core::ptr::eq(l.keys, lanes[0].keys));
    macro_rules! width {
        ($n:literal) => {
            if uniform {
                encrypt_group::<$n, R, true>(lanes, steps)
            } else {
                encrypt_group::<$n, R, false>(lanes, steps)
            }
        };
    }
    // SAFETY: forwarded caller contract; the kernel width equals the number of live lanes.
    unsafe {
        match live {
            8 => width!(8),
            7 => width!(7),
            6 => width!(6),
            5 => width!(5),
            4 => width!(4),
            3 => width!(3),
            2 => width!(2),
            1 => width!(1),
            _ => {}
        }
    }
}

/// Lanes in flight for CBC encryption.
pub(super) const ENC_LANES: usize = 8;

/// CBC-encrypts every ticket in place (lengths already checked to be whole blocks).
///
/// # Safety
/// The CPU must support AES-NI and SSE4.1.
#[target_feature(enable = "aes,sse4.1")]
pub(super) unsafe fn cbc_encrypt_many(tickets: &mut [CbcTicket<'_>]) {
    // SAFETY: in both passes the group functions touch `steps` blocks of live lanes only, and
    // AES-NI is guaranteed by this function's contract.
    unsafe {
        schedule_encrypt::<ENC_LANES>(tickets, 10, |l, live, steps| {
            encrypt_group_any::<10>(l, live, steps)
        });
        schedule_encrypt::<ENC_LANES>(tickets, 14, |l, live, steps| {
            encrypt_group_any::<14>(l, live, steps)
        });
    }
}

// ---------------------------------------------------------------------------------------------
// CBC decryption: blocks of all tickets form one stream, decrypted 8 at a time.

/// A gathered block: where its ciphertext is read and its plaintext written (the same place
/// when decrypting in place), its key and where the ciphertext that precedes it is.
#[derive(Clone, Copy)]
pub(super) struct DecSlot {
    pub(super) keys: *const RoundKeys,
    pub(super) src: *const u8,
    pub(super) dst: *mut u8,
    /// The IV, the previous slot's ciphertext (same group; in place it is not yet overwritten
    /// while the group stores back to front) or a saved copy of the previous group's last
    /// ciphertext block.
    pub(super) prev: *const u8,
}

impl DecSlot {
    pub(super) const IDLE: Self = Self {
        keys: core::ptr::null(),
        src: core::ptr::null(),
        dst: core::ptr::null_mut(),
        prev: core::ptr::null(),
    };
}

/// Walks the blocks of all `tickets` with `rounds` rounds, gathering groups of up to `W`
/// blocks (mixed tickets allowed) and handing each group to `group(slots, n)`. No ciphertext
/// is copied per block: a slot's `prev` points at the preceding ciphertext block, and only the
/// last block of each group is saved (into one of two alternating buffers) before the group
/// may overwrite it (in place), for the next group's first slot.
///
/// # Safety
/// `group` may write only the 16 bytes at each `slots[..n].dst`, must read every `src` and
/// `prev` of a slot before writing any earlier slot (store back to front), and must be safe to
/// call.
pub(super) unsafe fn schedule_decrypt<const W: usize, T: DecryptSource>(
    tickets: &mut [T],
    rounds: usize,
    mut group: impl FnMut(&[DecSlot; W], usize),
) {
    let mut slots = [DecSlot::IDLE; W];
    let mut carry = [[0u8; 16]; 2];
    let mut which = 0;
    let mut n = 0;
    for t in tickets.iter_mut() {
        let (keys, iv, src, dst, total) = t.layout();
        if keys.rounds != rounds {
            continue;
        }
        let keys: *const RoundKeys = keys;
        let mut b = 0;
        while b < total {
            // A run of this ticket's blocks into the free slots.
            let take = (total - b).min(W - n);
            // A run starts a ticket (IV) or continues it in a fresh group (saved block).
            let first_prev = if b == 0 { iv } else { carry[which].as_ptr() };
            for i in 0..take {
                // Offsets stay inside the ticket: block b + i < total.
                let at = 16 * (b + i);
                let prev = if i == 0 {
                    first_prev
                } else {
                    src.wrapping_add(at - 16)
                };
                slots[n + i] = DecSlot {
                    keys,
                    src: src.wrapping_add(at),
                    dst: dst.wrapping_add(at),
                    prev,
                };
            }
            n += take;
            b += take;
            if n == W {
                // The next group's first slot (if it continues this ticket) chains on this
                // block's ciphertext, which the group may be about to overwrite.
                // SAFETY: the slot's 16 bytes lie inside this ticket's source (b <= total).
                unsafe {
                    core::ptr::copy_nonoverlapping(
                        slots[W - 1].src,
                        carry[which ^ 1].as_mut_ptr(),
                        16,
                    )
                };
                group(&slots, n);
                which ^= 1;
                n = 0;
            }
        }
    }
    if n > 0 {
        group(&slots, n);
    }
}

/// Decrypts `slots[..N]` (all live, `R` rounds), storing back to front.
///
/// # Safety
/// AES-NI available; every slot's `src` and `prev` have 16 readable bytes, `dst` 16 writable
/// bytes and `keys` is valid; no slot's `prev` or `src` is a later slot's `dst`.
#[target_feature(enable = "aes,sse4.1")]
#[inline]
unsafe fn decrypt_group<const N: usize, const R: usize>(slots: &[DecSlot]) {
    let slots = &slots[..N];
    // SAFETY: slots point at round keys borrowed for the whole call.
    let k0 = unsafe { &*slots[0].keys };
    let uniform = slots.iter().all(|s| core::ptr::eq(s.keys, k0));
    let mut x = [_mm_setzero_si128(); N];
    for i in 0..N {
        // SAFETY: 16 readable bytes at each slot (caller contract).
        x[i] = unsafe { _mm_loadu_si128(slots[i].src.cast()) };
    }
    if uniform {
        for xi in x.iter_mut() {
            *xi = _mm_xor_si128(*xi, k0.dec[0]);
        }
        for r in 1..R {
            let k = k0.dec[r];
            for xi in x.iter_mut() {
                *xi = _mm_aesdec_si128(*xi, k);
            }
        }
        for xi in x.iter_mut() {
            *xi = _mm_aesdeclast_si128(*xi, k0.dec[R]);
        }
    } else {
        // SAFETY: as above.
        let keys: [&RoundKeys; N] = core::array::from_fn(|i| unsafe { &*slots[i].keys });
        for i in 0..N {
            x[i] = _mm_xor_si128(x[i], keys[i].dec[0]);
        }
        for r in 1..R {
            for i in 0..N {
                x[i] = _mm_aesdec_si128(x[i], keys[i].dec[r]);
            }
        }
        for i in 0..N {
            x[i] = _mm_aesdeclast_si128(x[i], keys[i].dec[R]);
        }
    }
    // Back to front: slot i's `prev` may be slot i - 1's ciphertext, still unwritten here.
    for i in (0..N).rev() {
        // SAFETY: `prev` has 16 readable bytes; the store hits the slot's own 16 bytes.
        unsafe {
            let p = _mm_xor_si128(x[i], _mm_loadu_si128(slots[i].prev.cast()));
            _mm_storeu_si128(slots[i].dst.cast(), p);
        }
    }
}

/// # Safety
/// As [`decrypt_group`] for `slots[..n]`.
#[target_feature(enable = "aes,sse4.1")]
unsafe fn decrypt_group_any<const R: usize>(slots: &[DecSlot; 8], n: usize) {
    // SAFETY: forwarded caller contract; each call covers live slots only, and a partial group
    // is split into sub-groups handled last to first, so no sub-group overwrites a block a
    // later one still chains on.
    unsafe {
        match n {
            8 => decrypt_group::<8, R>(slots),
            n => {
                let four = if n >= 4 { 4 } else { 0 };
                let two = if n - four >= 2 { 2 } else { 0 };
                if n - four - two == 1 {
                    decrypt_group::<1, R>(&slots[four + two..n]);
                }
                if two == 2 {
                    decrypt_group::<2, R>(&slots[four..four + 2]);
                }
                if four == 4 {
                    decrypt_group::<4, R>(&slots[..4]);
                }
            }
        }
    }
}

/// Blocks decrypted per group.
pub(super) const DEC_BLOCKS: usize = 8;

/// CBC-decrypts every ticket in place (lengths already checked to be whole blocks).
///
/// # Safety
/// The CPU must support AES-NI and SSE4.1.
#[target_feature(enable = "aes,sse4.1")]
pub(super) unsafe fn cbc_decrypt_many<T: DecryptSource>(tickets: &mut [T]) {
    // SAFETY: the group functions write only the gathered blocks; AES-NI by contract.
    unsafe {
        schedule_decrypt::<DEC_BLOCKS, T>(tickets, 10, |s, n| decrypt_group_any::<10>(s, n));
        schedule_decrypt::<DEC_BLOCKS, T>(tickets, 14, |s, n| decrypt_group_any::<14>(s, n));
    }
}
