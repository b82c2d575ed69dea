//! Splitting one huge batch across cores with rayon.
//!
//! The work runs on the current rayon pool: the global one, or the caller's own pool when
//! called inside `ThreadPool::install`. Chunks are contiguous and aligned with each other, so
//! `f` sees `inputs[k..k+c]` beside `outputs[k..k+c]` (and `status[k..k+c]`). A panic in `f`
//! propagates to the caller once the other chunks finish (rayon's rule).

use rayon::prelude::*;

use crate::error::Error;

/// The smallest automatic chunk: below this the cost of a rayon task is no longer small next
/// to the work (~60 ns per ticket × 64 ≈ 4 us).
const MIN_AUTO_CHUNK: usize = 64;
/// Automatic chunks are a multiple of this, so every chunk fills whole SIMD lane groups
/// (8 or 16 lanes) and only the last one has a tail.
const CHUNK_ALIGN: usize = 16;

/// The chunk length used for `len` items when the caller passes `chunk == 0`: about four
/// chunks per rayon thread (so a thread slowed by other load is evened out), at least
/// 64 items, rounded up to a multiple of 16.
pub(super) fn auto_chunk(len: usize) -> usize {
    let pieces = rayon::current_num_threads().max(1).saturating_mul(4);
    len.div_ceil(pieces)
        .max(MIN_AUTO_CHUNK)
        .next_multiple_of(CHUNK_ALIGN)
}

fn chunk_for(len: usize, chunk: usize) -> usize {
    if chunk == 0 { auto_chunk(len) } else { chunk }
}

/// Runs `f` over aligned chunks of `inputs` and `outputs` in parallel. `chunk` is the chunk
/// length (`0` = automatic; pass a multiple of the backend's lane count for full lanes).
///
/// # Errors
/// [`Error::BatchShape`] if the slices differ in length (nothing is run).
pub fn split_batch<In, Out, F>(
    inputs: &[In],
    outputs: &mut [Out],
    chunk: usize,
    f: F,
) -> Result<(), Error>
where
    In: Sync,
    Out: Send,
    F: Fn(&[In], &mut [Out]) + Sync,
{
    try_split_batch(inputs, outputs, chunk, |i, o| {
        f(i, o);
        Ok::<(), Error>(())
    })
}

/// As [`split_batch`] for a fallible `f` (e.g. one wrapping `seal_many`): returns an error of
/// one failing chunk (which one is unspecified); other chunks may or may not have run.
///
/// # Errors
/// `Error::BatchShape` (converted into `E`) if the slices differ in length, else an error `f`
/// returned.
pub fn try_split_batch<In, Out, E, F>(
    inputs: &[In],
    outputs: &mut [Out],
    chunk: usize,
    f: F,
) -> Result<(), E>
where
    In: Sync,
    Out: Send,
    E: From<Error> + Send,
    F: Fn(&[In], &mut [Out]) -> Result<(), E> + Sync,
{
    if inputs.len() != outputs.len() {
        return Err(Error::BatchShape.into());
    }
    if inputs.is_empty() {
        return Ok(());
    }
    let c = chunk_for(inputs.len(), chunk);
    if inputs.len() <= c {
        return f(inputs, outputs);
    }
    inputs
        .par_chunks(c)
        .zip(outputs.par_chunks_mut(c))
        .try_for_each(|(i, o)| f(i, o))
}

/// As [`split_batch`] with a third, per-item status slice (the shape of `open_many`).
///
/// # Errors
/// [`Error::BatchShape`] if the three slices differ in length (nothing is run).
pub fn split_batch_status<In, Out, St, F>(
    inputs: &[In],
    outputs: &mut [Out],
    status: &mut [St],
    chunk: usize,
    f: F,
) -> Result<(), Error>
where
    In: Sync,
    Out: Send,
    St: Send,
    F: Fn(&[In], &mut [Out], &mut [St]) + Sync,
{
    try_split_batch_status(inputs, outputs, status, chunk, |i, o, s| {
        f(i, o, s);
        Ok::<(), Error>(())
    })
}

/// As [`split_batch_status`] for a fallible `f` (see [`try_split_batch`]).
///
/// # Errors
/// `Error::BatchShape` (converted into `E`) if the slices differ in length, else an error `f`
/// returned.
pub fn try_split_batch_status<In, Out, St, E, F>(
    inputs: &[In],
    outputs: &mut [Out],
    status: &mut [St],
    chunk: usize,
    f: F,
) -> Result<(), E>
where
    In: Sync,
    Out: Send,
    St: Send,
    E: From<Error> + Send,
    F: Fn(&[In], &mut [Out], &mut [St]) -> Result<(), E> + Sync,
{
    if inputs.len() != outputs.len() || inputs.len() != status.len() {
        return Err(Error::BatchShape.into());
    }
    if inputs.is_empty() {
        return Ok(());
    }
    let c = chunk_for(inputs.len(), chunk);
    if inputs.len() <= c {
        return f(inputs, outputs, status);
    }
    (
        inputs.par_chunks(c),
        outputs.par_chunks_mut(c),
        status.par_chunks_mut(c),
    )
        .into_par_iter()
        .try_for_each(|(i, o, s)| f(i, o, s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_chunk_is_aligned_and_bounded() {
        for len in [0, 1, 63, 64, 65, 1000, 1 << 20] {
            let c = auto_chunk(len);
            assert!(
                c >= MIN_AUTO_CHUNK && c.is_multiple_of(CHUNK_ALIGN),
                "len {len}: chunk {c}"
            );
            let pieces = rayon::current_num_threads() * 4;
            assert!(c * pieces >= len, "len {len}: {c} x {pieces} covers it");
        }
    }

    #[test]
    fn explicit_chunk_is_kept() {
        assert_eq!(chunk_for(1000, 7), 7);
        assert_eq!(chunk_for(1000, 0), auto_chunk(1000));
    }
}
