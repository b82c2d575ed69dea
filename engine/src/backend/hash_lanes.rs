//! Lane scheduler for multi-buffer HMAC-SHA-256 (safe code; the kernels compress blocks).
//!
//! Each lane carries one message. Per step every live lane contributes its next 64-byte block
//! (message body, then the 1 or 2 padding blocks, then the single outer-hash block), and one
//! kernel call compresses them side by side. A lane whose HMAC is finished is refilled from the
//! queue at once, so messages of different lengths never drop the batch to one lane; only the
//! last messages of a batch run with idle lanes (one live lane uses the single-stream kernel).
//!
//! The usual batch (one format, one state size) has a single block shape; [`lockstep`] runs
//! such messages in groups that take every step together, with no per-lane bookkeeping
//! between kernel calls (the scheduler's was ~20 ns per ticket, the lockstep glue is ~4).

#![forbid(unsafe_code)]

use core::fmt;

use zeroize::Zeroize;

/// One HMAC-SHA-256 computation from precomputed key states.
#[derive(Clone, Copy)]
pub struct HmacInput<'a> {
    /// SHA-256 state after the `key ^ ipad` block (64 bytes already counted).
    pub inner: &'a [u32; 8],
    /// SHA-256 state after the `key ^ opad` block (64 bytes already counted).
    pub outer: &'a [u32; 8],
    /// The message to authenticate.
    pub msg: &'a [u8],
}

impl fmt::Debug for HmacInput<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HmacInput")
            .field("msg_len", &self.msg.len())
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Whole message blocks remain in `rest`.
    Body,
    /// Padding block `i` of `tail_blocks`.
    Tail(usize),
    /// The outer hash's only block.
    Outer,
}

/// Where a lane's next block is.
#[derive(Clone, Copy)]
enum Source<'a> {
    /// In the caller's message.
    Msg(&'a [u8; 64]),
    /// In the lane's own padding buffer (block 0 or 1).
    Tail(usize),
    /// The lane's outer-hash block.
    Outer,
}

/// What the block just handed out finishes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum After {
    Nothing,
    Inner,
    Outer,
}

struct Lane<'a> {
    out_index: usize,
    outer: &'a [u32; 8],
    rest: &'a [u8],
    tail: [u8; 128],
    tail_blocks: usize,
    outer_block: [u8; 64],
    stage: Stage,
}

impl<'a> Lane<'a> {
    /// A lane for `input`; its state starts at `input.inner` (set by the caller).
    fn new(out_index: usize, input: &HmacInput<'a>) -> Self {
        let msg = input.msg;
        let body = msg.len() - msg.len() % 64;
        let (whole, partial) = msg.split_at(body);
        let mut tail = [0u8; 128];
        tail[..partial.len()].copy_from_slice(partial);
        tail[partial.len()] = 0x80;
        let tail_blocks = if partial.len() < 56 { 1 } else { 2 };
        // The key block (64 bytes) was compressed before this message.
        let bits = (64 + msg.len() as u64) * 8;
        tail[tail_blocks * 64 - 8..tail_blocks * 64].copy_from_slice(&bits.to_be_bytes());
        let mut outer_block = [0u8; 64];
        outer_block[32] = 0x80;
        // 64-byte key block + 32-byte inner digest.
        outer_block[56..].copy_from_slice(&((64u64 + 32) * 8).to_be_bytes());
        Self {
            out_index,
            outer: input.outer,
            rest: whole,
            tail,
            tail_blocks,
            outer_block,
            stage: if whole.is_empty() {
                Stage::Tail(0)
            } else {
                Stage::Body
            },
        }
    }

    /// Moves past the next block and says where it is. `state` is this lane's chaining state
    /// (consumed into the outer block, then reset to the outer key state, at the outer step).
    fn advance(&mut self, state: &mut [u32; 8], layout: Layout) -> (Source<'a>, After) {
        if self.stage == Stage::Body {
            if let Some((head, rest)) = self.rest.split_first_chunk::<64>() {
                self.rest = rest;
                if rest.is_empty() {
                    self.stage = Stage::Tail(0);
                }
                return (Source::Msg(head), After::Nothing);
            }
            self.stage = Stage::Tail(0);
        }
        match self.stage {
            Stage::Tail(i) if i + 1 < self.tail_blocks => {
                self.stage = Stage::Tail(i + 1);
                (Source::Tail(i), After::Nothing)
            }
            Stage::Tail(i) => (Source::Tail(i), After::Inner),
            _ => {
                let digest = (layout.export)(state);
                for (dst, w) in self.outer_block.chunks_exact_mut(4).zip(digest) {
                    dst.copy_from_slice(&w.to_be_bytes());
                }
                *state = (layout.import)(self.outer);
                (Source::Outer, After::Outer)
            }
        }
    }

    fn block(&self, src: Source<'a>) -> &[u8; 64] {
        match src {
            Source::Msg(b) => b,
            Source::Tail(0) => self.tail.first_chunk::<64>().unwrap_or(&ZERO_BLOCK),
            Source::Tail(_) => self.tail.last_chunk::<64>().unwrap_or(&ZERO_BLOCK),
            Source::Outer => &self.outer_block,
        }
    }
}

/// The block idle lanes compress (their results are never read).
static ZERO_BLOCK: [u8; 64] = [0; 64];

fn tag(state: &[u32; 8]) -> [u8; 32] {
    let mut tag = [0u8; 32];
    for (dst, w) in tag.chunks_exact_mut(4).zip(state) {
        dst.copy_from_slice(&w.to_be_bytes());
    }
    tag
}

/// How a kernel holds a SHA-256 state: `import` turns the standard `[a, ..., h]` words into
/// the kernel's layout, `export` back (the SHA-NI kernels keep their register layout so a
/// block pays no shuffles).
#[derive(Clone, Copy)]
pub(super) struct Layout {
    pub(super) import: fn(&[u32; 8]) -> [u32; 8],
    pub(super) export: fn(&[u32; 8]) -> [u32; 8],
}

/// The standard word order.
pub(super) const STANDARD: Layout = Layout {
    import: identity,
    export: identity,
};

fn identity(s: &[u32; 8]) -> [u32; 8] {
    *s
}

/// Computes `out[i] = HMAC(inputs[i])` with `N` lanes: `wide` compresses one block into each of
/// `N` states, `single` into one (used when a single lane is left); both hold states in
/// `layout`. `inputs.len() == out.len()` is checked by the caller.
pub(super) fn hmac_many<const N: usize>(
    inputs: &[HmacInput<'_>],
    out: &mut [[u8; 32]],
    layout: Layout,
    mut wide: impl FnMut(&mut [[u32; 8]; N], &[&[u8; 64]; N]),
    mut single: impl FnMut(&mut [u32; 8], &[u8; 64]),
) {
    debug_assert_eq!(inputs.len(), out.len());
    let mut lanes: [Option<Lane<'_>>; N] = [const { None }; N];
    let mut queue = inputs.iter().enumerate();
    // Chaining state of the message in each lane.
    let mut states = [[0u32; 8]; N];
    let mut sources = [(Source::Outer, After::Nothing); N];
    loop {
        let mut live = 0;
        for (slot, state) in lanes.iter_mut().zip(states.iter_mut()) {
            if slot.is_none()
                && let Some((i, input)) = queue.next()
            {
                *slot = Some(Lane::new(i, input));
                *state = (layout.import)(input.inner);
            }
            live += usize::from(slot.is_some());
        }
        if live == 0 {
            // The states derive from the HMAC keys.
            states.zeroize();
            return;
        }
        for ((slot, state), src) in lanes
            .iter_mut()
            .zip(states.iter_mut())
            .zip(sources.iter_mut())
        {
            if let Some(lane) = slot {
                *src = lane.advance(state, layout);
            }
        }
        let blocks: [&[u8; 64]; N] = core::array::from_fn(|s| {
            lanes[s]
                .as_ref()
                .map_or(&ZERO_BLOCK, |l| l.block(sources[s].0))
        });
        if live == 1 {
            if let Some(s) = lanes.iter().position(Option::is_some) {
                single(&mut states[s], blocks[s]);
            }
        } else {
            // Idle lanes compress a zero block into a stale state; the result is never read.
            wide(&mut states, &blocks);
        }
        for ((slot, state), src) in lanes.iter_mut().zip(states.iter()).zip(sources.iter()) {
            let Some(lane) = slot else { continue };
            match src.1 {
                After::Nothing => {}
                After::Inner => lane.stage = Stage::Outer,
                After::Outer => {
                    if let Some(dst) = out.get_mut(lane.out_index) {
                        *dst = tag(&(layout.export)(state));
                    }
                    *slot = None;
                }
            }
        }
    }
}

/// Block structure of a message after the 64-byte key block: whole body blocks, then 1 or 2
/// padding blocks. Messages of one shape take the same steps, so they can run in lockstep.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // Used by the SHA-NI kernels.
fn shape(len: usize) -> (usize, usize) {
    (len / 64, if len % 64 < 56 { 1 } else { 2 })
}

/// True if every message has the shape of the first (then [`lockstep`] can take them all).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // Used by the SHA-NI kernels.
pub(super) fn one_shape(inputs: &[HmacInput<'_>]) -> bool {
    let Some(first) = inputs.first() else {
        return true;
    };
    let want = shape(first.msg.len());
    inputs.iter().all(|i| shape(i.msg.len()) == want)
}

/// Computes `out[i] = HMAC(inputs[i])` for `N` messages of one [`shape`] side by side: every
/// step compresses the same block of all `N`, so no per-lane bookkeeping runs between kernel
/// calls (the general scheduler, [`hmac_many`], handles mixed shapes). States are in
/// `layout`; `wide` compresses one block into each of `N` states; `outer` turns `N` inner
/// digests into outer hashes from the outer key states (standard order) without storing the
/// digests as bytes.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // Used by the SHA-NI kernels.
pub(super) fn lockstep<const N: usize>(
    inputs: &[HmacInput<'_>; N],
    out: &mut [[u8; 32]; N],
    layout: Layout,
    mut wide: impl FnMut(&mut [[u32; 8]; N], &[&[u8; 64]; N]),
    outer: impl FnOnce(&mut [[u32; 8]; N], &[&[u32; 8]; N]),
) {
    let (body, tail_blocks) = shape(inputs[0].msg.len());
    let mut states: [[u32; 8]; N] = core::array::from_fn(|s| (layout.import)(inputs[s].inner));
    for b in 0..body {
        let blocks: [&[u8; 64]; N] = core::array::from_fn(|s| {
            inputs[s]
                .msg
                .get(64 * b..)
                .and_then(<[u8]>::first_chunk)
                .unwrap_or(&ZERO_BLOCK)
        });
        wide(&mut states, &blocks);
    }
    // Padding blocks: the partial block, 0x80, zeros, the bit length (key block included).
    let mut tails = [[0u8; 128]; N];
    for (tail, input) in tails.iter_mut().zip(inputs) {
        let partial = input.msg.get(64 * body..).unwrap_or_default();
        if let Some(dst) = tail.get_mut(..partial.len()) {
            dst.copy_from_slice(partial);
        }
        if let Some(b) = tail.get_mut(partial.len()) {
            *b = 0x80;
        }
        let bits = (64 + input.msg.len() as u64) * 8;
        if let Some(dst) = tail.get_mut(tail_blocks * 64 - 8..tail_blocks * 64) {
            dst.copy_from_slice(&bits.to_be_bytes());
        }
    }
    for t in 0..tail_blocks {
        let blocks: [&[u8; 64]; N] = core::array::from_fn(|s| {
            tails[s]
                .get(64 * t..)
                .and_then(<[u8]>::first_chunk)
                .unwrap_or(&ZERO_BLOCK)
        });
        wide(&mut states, &blocks);
    }
    // Outer hash: the inner digests as the message, from the outer key states. The states
    // then hold only the tags (public), so nothing key-derived is left to wipe.
    let outer_keys: [&[u32; 8]; N] = core::array::from_fn(|s| inputs[s].outer);
    outer(&mut states, &outer_keys);
    for (dst, state) in out.iter_mut().zip(&states) {
        *dst = tag(&(layout.export)(state));
    }
}

/// The portable kernel: `sha2`'s compression function (which picks its own best code).
pub(super) fn compress_portable(state: &mut [u32; 8], block: &[u8; 64]) {
    sha2::compress256(state, &[(*block).into()]);
}

/// Portable multi-message HMAC through the same scheduler (one lane).
pub(super) fn hmac_many_portable(inputs: &[HmacInput<'_>], out: &mut [[u8; 32]]) {
    hmac_many::<1>(
        inputs,
        out,
        STANDARD,
        |s, b| compress_portable(&mut s[0], b[0]),
        compress_portable,
    );
}
