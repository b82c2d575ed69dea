//! `tessera seal` and `tessera open`.

use rand_core::OsRng;
use tessera::Ticketer;
use tessera::format::{self, TicketFormat};
use zeroize::Zeroizing;

use crate::args::{OpenArgs, SealArgs, TicketFormatArg};
use crate::fail::Failure;
use crate::{io, keycmd};

/// The library's format for a CLI name.
pub(crate) fn ticket_format(f: TicketFormatArg) -> TicketFormat {
    match f {
        TicketFormatArg::Rfc5077 => TicketFormat::Rfc5077,
        TicketFormatArg::Openssl => TicketFormat::OpenSsl,
        TicketFormatArg::Aead => TicketFormat::Aead,
    }
}

pub(crate) fn seal(a: &SealArgs) -> Result<(), Failure> {
    let format = ticket_format(a.ticket_format);
    let ring = keycmd::load_ring(&a.key)?;
    // One byte past the longest sealable state is enough for the library to refuse it.
    let state = Zeroizing::new(io::read_input(&a.input, format.max_state_len())?);
    let key = ring.sealing_key();
    let now = keycmd::now();
    if !key.can_seal_at(now) {
        return Err(Failure::usage(format!(
            "{}: the sealing key {} may not seal at {} (its window: {:?})",
            a.key.key_file.display(),
            key.name(),
            keycmd::utc(now),
            key.times()
        )));
    }
    let mut ticket = Vec::with_capacity(format.sealed_len(state.len()));
    match &a.iv {
        Some(iv_hex) => {
            let iv = io::decode_hex("--iv", iv_hex.as_bytes())?;
            if iv.len() != format.iv_len() {
                return Err(Failure::usage(format!(
                    "--iv must be {} bytes ({} hex digits) for the {} format, got {}",
                    format.iv_len(),
                    2 * format.iv_len(),
                    format.as_str(),
                    iv.len()
                )));
            }
            format::seal_with_iv(format, key, &iv, &state, &mut ticket)?;
        }
        None => format::seal(format, key, &mut OsRng, &state, &mut ticket)?,
    }
    io::write_output(&a.out, &ticket)
}

pub(crate) fn open(a: &OpenArgs) -> Result<(), Failure> {
    let format = ticket_format(a.ticket_format);
    let ring = keycmd::load_ring(&a.key)?;
    // One byte past the longest possible ticket is enough for a `too_long` rejection.
    let ticket = io::read_input(&a.input, format::MAX_TICKET_LEN)?;
    // The embedder's open path, so the CLI judges tickets exactly as a server would: length,
    // layout, key (unknown or revoked), MAC, decryption, padding, then the key's opening window
    // (`expired`, checked only after the MAC). Any state size a format can carry is accepted.
    let ticketer = Ticketer::new(ring, format).with_max_state_len(format.max_state_len());
    let mut state = Zeroizing::new(Vec::new());
    ticketer.open(&ticket, &mut state)?;
    io::write_output(&a.out, &state)
}
