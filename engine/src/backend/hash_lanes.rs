//! Lane scheduler for multi-buffer HMAC-SHA-256 (safe code; the kernels compress blocks).
//!
//! Each lane carries one message. Per step every live lane contributes its next 64-byte block
//! (message body, then the 1 or 2 padding blocks, then the single outer-hash block), and one
//! kernel call compresses them side by side. A lane whose HMAC is finished is refilled from the
//! queue at once, so messages of different lengths never drop the batch to one lane; only the
//! last messages of a batch run with idle lanes (one live lane uses the single-stream kernel).

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

#[derive(Clone)]
struct Lane<'a> {
    out_index: usize,
    state: [u32; 8],
    outer: &'a [u32; 8],
    rest: &'a [u8],
    tail: [u8; 128],
    tail_blocks: usize,
    stage: Stage,
}

/// What the block just handed out finishes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum After {
    Nothing,
    Inner,
    Outer,
}

impl Drop for Lane<'_> {
    fn drop(&mut self) {
        // Mid-message states are as good as the HMAC key for this message's prefix.
        self.state.zeroize();
    }
}

impl<'a> Lane<'a> {
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
        Self {
            out_index,
            state: *input.inner,
            outer: input.outer,
            rest: whole,
            tail,
            tail_blocks,
            stage: if whole.is_empty() {
                Stage::Tail(0)
            } else {
                Stage::Body
            },
        }
    }

    /// Copies the next block into `block` and moves past it.
    fn next_block(&mut self, block: &mut [u8; 64]) -> After {
        match self.stage {
            Stage::Body => {
                let (head, rest) = self.rest.split_at(64);
                block.copy_from_slice(head);
                self.rest = rest;
                if rest.is_empty() {
                    self.stage = Stage::Tail(0);
                }
                After::Nothing
            }
            Stage::Tail(i) => {
                block.copy_from_slice(&self.tail[i * 64..i * 64 + 64]);
                if i + 1 < self.tail_blocks {
                    self.stage = Stage::Tail(i + 1);
                    After::Nothing
                } else {
                    After::Inner
                }
            }
            Stage::Outer => {
                block.fill(0);
                for (dst, w) in block.chunks_exact_mut(4).zip(self.state) {
                    dst.copy_from_slice(&w.to_be_bytes());
                }
                block[32] = 0x80;
                // 64-byte key block + 32-byte inner digest.
                block[56..].copy_from_slice(&((64u64 + 32) * 8).to_be_bytes());
                self.state = *self.outer;
                After::Outer
            }
        }
    }

    fn tag(&self) -> [u8; 32] {
        let mut tag = [0u8; 32];
        for (dst, w) in tag.chunks_exact_mut(4).zip(self.state) {
            dst.copy_from_slice(&w.to_be_bytes());
        }
        tag
    }
}

/// Computes `out[i] = HMAC(inputs[i])` with `N` lanes: `wide` compresses one block into each of
/// `N` states, `single` into one (used when a single lane is left). `inputs.len() == out.len()`
/// is checked by the caller.
pub(super) fn hmac_many<const N: usize>(
    inputs: &[HmacInput<'_>],
    out: &mut [[u8; 32]],
    mut wide: impl FnMut(&mut [[u32; 8]; N], &[[u8; 64]; N]),
    mut single: impl FnMut(&mut [u32; 8], &[u8; 64]),
) {
    debug_assert_eq!(inputs.len(), out.len());
    let mut lanes: [Option<Lane<'_>>; N] = [const { None }; N];
    let mut queue = inputs.iter().enumerate();
    let mut states = [[0u32; 8]; N];
    let mut blocks = [[0u8; 64]; N];
    let mut after = [After::Nothing; N];
    loop {
        let mut live = 0;
        for slot in lanes.iter_mut() {
            if slot.is_none()
                && let Some((i, input)) = queue.next()
            {
                *slot = Some(Lane::new(i, input));
            }
            live += usize::from(slot.is_some());
        }
        if live == 0 {
            // The states derive from the HMAC key.
            states.zeroize();
            return;
        }
        for (s, slot) in lanes.iter_mut().enumerate() {
            if let Some(lane) = slot {
                after[s] = lane.next_block(&mut blocks[s]);
                states[s] = lane.state;
            }
        }
        if live == 1 {
            if let Some(s) = lanes.iter().position(Option::is_some) {
                single(&mut states[s], &blocks[s]);
            }
        } else {
            // Idle lanes compress leftover data whose result is never read.
            wide(&mut states, &blocks);
        }
        for (s, slot) in lanes.iter_mut().enumerate() {
            let Some(lane) = slot else { continue };
            lane.state = states[s];
            match after[s] {
                After::Nothing => {}
                After::Inner => lane.stage = Stage::Outer,
                After::Outer => {
                    if let Some(dst) = out.get_mut(lane.out_index) {
                        *dst = lane.tag();
                    }
                    *slot = None;
                }
            }
        }
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
        |s, b| compress_portable(&mut s[0], &b[0]),
        compress_portable,
    );
}
