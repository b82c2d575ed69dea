//! Key files: the layouts fleets already use (nginx, HAProxy) and tessera's own text format
//! that carries time windows. Parse and write.
//!
//! # Formats
//!
//! | name        | layout                                                                   |
//! |-------------|--------------------------------------------------------------------------|
//! | `nginx48`   | binary, exactly 48 bytes: `name[16] \| aes128[16] \| hmac[16]`            |
//! | `nginx80`   | binary, exactly 80 bytes: `name[16] \| hmac[32] \| aes256[32]` (order!)   |
//! | `haproxy48` | text, one base64 key per line, each 48 bytes: `name \| aes128 \| hmac16`  |
//! | `haproxy80` | text, one base64 key per line, each 80 bytes: `name \| aes256 \| hmac32`  |
//! | `tessera`   | text, versioned, with times and roles (below)                            |
//!
//! nginx holds one key per file; with several `ssl_session_ticket_key` directives the first
//! file seals and the others only open, which [`load_key_files`] mirrors.
//!
//! HAProxy (`tls-ticket-keys`) encrypts with the SECOND-TO-LAST key of the file and decrypts
//! with all of them, so operators rotate by appending a line. With a single line, that line
//! seals. Blank lines and lines starting with `#` are ignored (HAProxy itself does not accept
//! comments, so [`write_key_file`] never writes any). All lines of one file must hold keys of
//! the same size. Note: a stock HAProxy build (`TLS_TICKETS_NO` = 3) refuses files with fewer
//! than 3 keys; tessera reads them anyway.
//!
//! # tessera's format, version 1
//!
//! ```text
//! tessera-ticket-keys v1
//! # comments and blank lines are ignored
//! key name=<32 hex> cipher=aes128|aes256 aes=<32|64 hex> hmac=<32|64 hex> created=<t> seal_until=<t> open_until=<t> role=seal|open
//! ```
//!
//! - The first line is exactly the header `tessera-ticket-keys v1` (a different version is
//!   refused with an error naming it).
//! - Every other non-blank, non-comment line is one key: the word `key`, then `field=value`
//!   pairs separated by spaces or tabs, in any order; each of the eight fields exactly once,
//!   unknown fields refused.
//! - `name`: the 16-byte key name in hex. `cipher`: `aes128` (16-byte AES key) or `aes256`
//!   (32-byte). `aes`: the AES key in hex, its length matching `cipher`. `hmac`: the HMAC-SHA-256
//!   key in hex, 16 or 32 bytes.
//! - `created`, `seal_until`, `open_until`: unix seconds (decimal), or `-` for "no limit"
//!   (see [`KeyTimes`]). `seal_until` may not be after `open_until`.
//! - `role`: `seal` or `open`. The FIRST `seal` key of the file seals; any later `seal` key is
//!   loaded as opening-only (so a staged successor can sit in the file before it takes over).
//!   A file without any `seal` key parses (all keys open) but cannot be the first file of a
//!   ring.
//! - Keys of both ciphers may share one file. Hex is case-insensitive; writers emit lowercase.
//!
//! # Detection
//! Without an explicit format: a first line starting with `tessera-ticket-keys` means tessera;
//! other text (printable ASCII and whitespace only) means HAProxy, 48 or 80 after the first key
//! line's decoded size; a binary file of 48 or 80 bytes means nginx48 / nginx80. A random 48-
//! or 80-byte nginx key is all printable with probability below 2^-60; if it is, and it is not
//! a HAProxy file, it is still read as nginx.
//!
//! # Errors and hygiene
//! Every error is [`Error::KeyFile`] naming the file and the 1-based line (0 for binary files)
//! and never contains secret bytes (key names, which travel in the clear in every ticket, may
//! appear). Decoded secrets live only in zeroized buffers. [`check_permissions`] reports files
//! readable or writable by group or others, as ssh does; [`load_key_files_checked`] returns those
//! warnings, and [`save_key_file`] creates files with mode 0600.

use core::fmt;
use core::str::FromStr;
use std::collections::HashMap;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose};
use zeroize::Zeroizing;

use super::key::{CipherKind, KeyName, KeyTimes, TicketKey};
use super::ring::{KeyRing, KeyRole};
use crate::error::Error;

/// The first line of a tessera key file.
pub const TESSERA_HEADER: &str = "tessera-ticket-keys v1";
const TESSERA_MAGIC: &str = "tessera-ticket-keys";

/// A key-file layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyFileFormat {
    /// tessera's own text format with time windows and roles (see the module docs).
    Tessera,
    /// nginx `ssl_session_ticket_key`, 48 bytes: name | AES-128 key | 16-byte HMAC key.
    Nginx48,
    /// nginx `ssl_session_ticket_key`, 80 bytes: name | 32-byte HMAC key | AES-256 key.
    Nginx80,
    /// HAProxy `tls-ticket-keys`, base64 lines of 48 bytes: name | AES-128 key | HMAC key.
    Haproxy48,
    /// HAProxy `tls-ticket-keys`, base64 lines of 80 bytes: name | AES-256 key | HMAC key.
    Haproxy80,
}

impl KeyFileFormat {
    /// Every format, in CLI order.
    pub const ALL: [Self; 5] = [
        Self::Tessera,
        Self::Nginx48,
        Self::Nginx80,
        Self::Haproxy48,
        Self::Haproxy80,
    ];

    /// The CLI name: `tessera`, `nginx48`, `nginx80`, `haproxy48`, `haproxy80`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Tessera => "tessera",
            Self::Nginx48 => "nginx48",
            Self::Nginx80 => "nginx80",
            Self::Haproxy48 => "haproxy48",
            Self::Haproxy80 => "haproxy80",
        }
    }

    /// The cipher every key of this format uses, or `None` for tessera (per key).
    pub const fn cipher(self) -> Option<CipherKind> {
        match self {
            Self::Tessera => None,
            Self::Nginx48 | Self::Haproxy48 => Some(CipherKind::Aes128),
            Self::Nginx80 | Self::Haproxy80 => Some(CipherKind::Aes256),
        }
    }

    /// How many keys a file of this format can hold: `Some(1)` for nginx, `None` = any.
    pub const fn max_keys(self) -> Option<usize> {
        match self {
            Self::Nginx48 | Self::Nginx80 => Some(1),
            _ => None,
        }
    }

    /// Guesses the format from a file's content (see the module docs). `None` when it fits none.
    pub fn detect(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(TESSERA_MAGIC.as_bytes()) {
            return Some(Self::Tessera);
        }
        let nginx = match bytes.len() {
            48 => Some(Self::Nginx48),
            80 => Some(Self::Nginx80),
            _ => None,
        };
        if !is_text(bytes) {
            return nginx;
        }
        let first_key_line = lines(bytes).find(|(_, l)| !is_skipped(l)).map(|(_, l)| l);
        let haproxy = first_key_line.and_then(|l| match base64_decoded_len(l) {
            48 => Some(Self::Haproxy48),
            80 => Some(Self::Haproxy80),
            _ => None,
        });
        haproxy.or(nginx)
    }
}

impl fmt::Display for KeyFileFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyFileFormat {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| Error::KeyFile {
                path: "--key-format".into(),
                line: 0,
                msg: format!(
                    "unknown key-file format '{}' (expected tessera, nginx48, nginx80, haproxy48 \
                 or haproxy80)",
                    s.escape_default()
                ),
            })
    }
}

/// One parsed key with where it came from.
struct Entry {
    key: TicketKey,
    role: KeyRole,
    line: usize,
}

fn file_err(path: &str, line: usize, msg: impl Into<String>) -> Error {
    Error::KeyFile {
        path: path.to_owned(),
        line,
        msg: msg.into(),
    }
}

/// `TicketKey::new` errors re-worded for a file position (they never carry key bytes).
fn key_err(path: &str, line: usize, e: Error) -> Error {
    let msg = match e {
        Error::WeakKey(what) => format!("{what} is all-zero or one repeated byte; refusing it"),
        Error::KeyLength { what, len } => format!("{what} has unsupported length {len}"),
        other => other.to_string(),
    };
    file_err(path, line, msg)
}

fn is_text(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .all(|&b| b.is_ascii_graphic() || matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
}

/// Lines with 1-based numbers, surrounding whitespace (and a CR) trimmed.
fn lines(bytes: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_ascii()))
}

fn is_skipped(line: &[u8]) -> bool {
    line.is_empty() || line.first() == Some(&b'#')
}

/// Decoded size of a padded or unpadded base64 string, from its length alone.
fn base64_decoded_len(line: &[u8]) -> usize {
    let body = line.iter().rposition(|&b| b != b'=').map_or(0, |p| p + 1);
    body * 3 / 4
}

/// Standard alphabet; padding optional (some tools strip it).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Parses a key file. `format: None` detects it from the content. `path_for_errors` names the
/// source in errors. Roles: the file's sealing key (nginx: its only key; HAProxy: the
/// second-to-last line; tessera: the first `role=seal`) is [`KeyRole::Sealing`], all others
/// [`KeyRole::OpeningOnly`]. Keys come back in file order.
pub fn parse_key_file(
    bytes: &[u8],
    format: Option<KeyFileFormat>,
    path_for_errors: &str,
) -> Result<Vec<(TicketKey, KeyRole)>, Error> {
    parse_key_file_detailed(bytes, format, path_for_errors).map(|(_, keys)| keys)
}

/// [`parse_key_file`], also returning the format that was read (the detected one when `format`
/// is `None`), e.g. for `tessera keys show`.
pub fn parse_key_file_detailed(
    bytes: &[u8],
    format: Option<KeyFileFormat>,
    path_for_errors: &str,
) -> Result<(KeyFileFormat, Vec<(TicketKey, KeyRole)>), Error> {
    let (format, entries) = parse_entries(bytes, format, path_for_errors)?;
    Ok((
        format,
        entries.into_iter().map(|e| (e.key, e.role)).collect(),
    ))
}

fn parse_entries(
    bytes: &[u8],
    format: Option<KeyFileFormat>,
    path: &str,
) -> Result<(KeyFileFormat, Vec<Entry>), Error> {
    if bytes.is_empty() {
        return Err(file_err(path, 0, "key file is empty"));
    }
    let format = match format.or_else(|| KeyFileFormat::detect(bytes)) {
        Some(f) => f,
        None if is_text(bytes) => {
            // Read as HAProxy of either size so the error names the offending line.
            let entries = parse_haproxy(bytes, None, path)?;
            check_unique(&entries, path)?;
            let fmt = if entries
                .first()
                .is_some_and(|e| e.key.cipher() == CipherKind::Aes256)
            {
                KeyFileFormat::Haproxy80
            } else {
                KeyFileFormat::Haproxy48
            };
            return Ok((fmt, entries));
        }
        None => {
            return Err(file_err(
                path,
                0,
                format!(
                    "unknown key-file format: a binary file of {} bytes (nginx key files are \
                     exactly 48 or 80 bytes; HAProxy and tessera files are text)",
                    bytes.len()
                ),
            ));
        }
    };
    let entries = match format {
        KeyFileFormat::Nginx48 => parse_nginx(bytes, CipherKind::Aes128, path)?,
        KeyFileFormat::Nginx80 => parse_nginx(bytes, CipherKind::Aes256, path)?,
        KeyFileFormat::Haproxy48 => parse_haproxy(bytes, Some(CipherKind::Aes128), path)?,
        KeyFileFormat::Haproxy80 => parse_haproxy(bytes, Some(CipherKind::Aes256), path)?,
        KeyFileFormat::Tessera => parse_tessera(bytes, path)?,
    };
    check_unique(&entries, path)?;
    Ok((format, entries))
}

fn check_unique(entries: &[Entry], path: &str) -> Result<(), Error> {
    let mut seen: HashMap<KeyName, usize> = HashMap::with_capacity(entries.len());
    for e in entries {
        if let Some(first) = seen.insert(e.key.name(), e.line) {
            return Err(file_err(
                path,
                e.line,
                format!(
                    "duplicate key name {} (first on line {first})",
                    e.key.name()
                ),
            ));
        }
    }
    Ok(())
}

fn parse_nginx(bytes: &[u8], cipher: CipherKind, path: &str) -> Result<Vec<Entry>, Error> {
    let (size, name) = match cipher {
        CipherKind::Aes128 => (48, "nginx48"),
        CipherKind::Aes256 => (80, "nginx80"),
    };
    if bytes.len() != size {
        let hint = if bytes.len() == size + 1 && bytes.last() == Some(&b'\n') {
            " (a trailing newline counts; nginx refuses it too)"
        } else {
            ""
        };
        return Err(file_err(
            path,
            0,
            format!(
                "{name} key files are exactly {size} bytes; this one has {}{hint}",
                bytes.len()
            ),
        ));
    }
    let field = |r: core::ops::Range<usize>| bytes.get(r).unwrap_or_default();
    let key_name: [u8; 16] = field(0..16)
        .try_into()
        .map_err(|_| file_err(path, 0, "truncated key name"))?;
    // nginx: 48 = name | aes | hmac; 80 = name | hmac | aes.
    let (aes, hmac) = match cipher {
        CipherKind::Aes128 => (field(16..32), field(32..48)),
        CipherKind::Aes256 => (field(48..80), field(16..48)),
    };
    let key = TicketKey::new(key_name, aes, hmac).map_err(|e| key_err(path, 0, e))?;
    Ok(vec![Entry {
        key,
        role: KeyRole::Sealing,
        line: 0,
    }])
}

/// Longest line accepted before decoding: an 80-byte key is 108 base64 characters.
const HAPROXY_MAX_LINE: usize = 128;

fn parse_haproxy(
    bytes: &[u8],
    cipher: Option<CipherKind>,
    path: &str,
) -> Result<Vec<Entry>, Error> {
    if !is_text(bytes) {
        return Err(file_err(
            path,
            0,
            "HAProxy key files are text; this one holds binary data",
        ));
    }
    let mut entries = Vec::new();
    // The key size of the file: given by the format, or set by the first key line.
    let mut size: Option<(usize, usize)> = cipher.map(|c| (16 + 2 * c.key_len(), 0));
    for (line_no, line) in lines(bytes) {
        if is_skipped(line) {
            continue;
        }
        if line.len() > HAPROXY_MAX_LINE {
            return Err(file_err(
                path,
                line_no,
                "line too long for a 48- or 80-byte base64 key",
            ));
        }
        let mut buf = Zeroizing::new([0u8; 96]);
        let n = BASE64
            .decode_slice(line, &mut buf[..])
            .map_err(|_| file_err(path, line_no, "not valid base64"))?;
        if n != 48 && n != 80 {
            return Err(file_err(
                path,
                line_no,
                format!("key decodes to {n} bytes; HAProxy keys are 48 or 80 bytes"),
            ));
        }
        match size {
            Some((want, 0)) if want != n => {
                return Err(file_err(
                    path,
                    line_no,
                    format!(
                        "key decodes to {n} bytes; haproxy{want} keys are {want} bytes (mixed \
                         key sizes?)"
                    ),
                ));
            }
            Some((want, first)) if want != n => {
                return Err(file_err(
                    path,
                    line_no,
                    format!(
                        "mixed key sizes: this key has {n} bytes, the key on line {first} has \
                         {want}; all keys of one file must be the same size"
                    ),
                ));
            }
            Some(_) => {}
            None => size = Some((n, line_no)),
        }
        let k = (n - 16) / 2;
        let decoded = buf.get(..n).unwrap_or_default();
        let key_name: [u8; 16] = decoded
            .get(..16)
            .and_then(|n| n.try_into().ok())
            .ok_or_else(|| file_err(path, line_no, "truncated key name"))?;
        let aes = decoded.get(16..16 + k).unwrap_or_default();
        let hmac = decoded.get(16 + k..n).unwrap_or_default();
        let key = TicketKey::new(key_name, aes, hmac).map_err(|e| key_err(path, line_no, e))?;
        entries.push(Entry {
            key,
            role: KeyRole::OpeningOnly,
            line: line_no,
        });
    }
    // HAProxy seals with the second-to-last key (the last one alone when there is one).
    let sealer = entries.len().saturating_sub(2);
    match entries.get_mut(sealer) {
        Some(e) => e.role = KeyRole::Sealing,
        None => return Err(file_err(path, 0, "no keys in file")),
    }
    Ok(entries)
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decodes hex into `out`, which must be exactly half as long. False on any bad digit or length.
fn hex_decode(hex: &[u8], out: &mut [u8]) -> bool {
    if hex.len() != out.len() * 2 {
        return false;
    }
    for (o, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        match (
            pair.first().copied().and_then(hex_val),
            pair.get(1).copied().and_then(hex_val),
        ) {
            (Some(hi), Some(lo)) => *o = hi << 4 | lo,
            _ => return false,
        }
    }
    true
}

fn parse_time(v: &[u8]) -> Option<Option<u64>> {
    if v == b"-" {
        return Some(None);
    }
    if v.is_empty() || v.len() > 20 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    core::str::from_utf8(v).ok()?.parse().ok().map(Some)
}

const TESSERA_FIELDS: [&str; 8] = [
    "name",
    "cipher",
    "aes",
    "hmac",
    "created",
    "seal_until",
    "open_until",
    "role",
];

fn parse_tessera(bytes: &[u8], path: &str) -> Result<Vec<Entry>, Error> {
    let mut all = lines(bytes);
    let header = all.next().map(|(_, l)| l).unwrap_or_default();
    if header != TESSERA_HEADER.as_bytes() {
        let msg = match header.strip_prefix(TESSERA_MAGIC.as_bytes()) {
            Some(rest) if is_text(rest) => format!(
                "unsupported tessera key-file version '{}' (this tessera reads v1)",
                String::from_utf8_lossy(rest.trim_ascii())
                    .chars()
                    .take(16)
                    .collect::<String>()
            ),
            _ => format!("missing header line '{TESSERA_HEADER}'"),
        };
        return Err(file_err(path, 1, msg));
    }
    let mut entries = Vec::new();
    let mut have_sealer = false;
    for (line_no, line) in all {
        if is_skipped(line) {
            continue;
        }
        let err = |msg: String| file_err(path, line_no, msg);
        let mut words = line
            .split(|b| b.is_ascii_whitespace())
            .filter(|w| !w.is_empty());
        if words.next() != Some(b"key".as_slice()) {
            return Err(err("expected a line starting with 'key'".into()));
        }
        let mut values: [Option<&[u8]>; 8] = [None; 8];
        for word in words {
            let Some(eq) = word.iter().position(|&b| b == b'=') else {
                return Err(err("expected field=value".into()));
            };
            let (field, value) = (
                word.get(..eq).unwrap_or_default(),
                word.get(eq + 1..).unwrap_or_default(),
            );
            let Some(i) = TESSERA_FIELDS.iter().position(|f| f.as_bytes() == field) else {
                // Echo the field name only when it looks like one (never a pasted secret).
                let plausible =
                    field.len() <= 16 && field.iter().all(|b| b.is_ascii_lowercase() || *b == b'_');
                return Err(err(match core::str::from_utf8(field) {
                    Ok(f) if plausible => format!("unknown field '{f}'"),
                    _ => "unknown field".into(),
                }));
            };
            let slot = values
                .get_mut(i)
                .ok_or_else(|| err("internal field index".into()))?;
            if slot.replace(value).is_some() {
                return Err(err(format!("field '{}' given twice", TESSERA_FIELDS[i])));
            }
        }
        let get = |i: usize| -> Result<&[u8], Error> {
            values
                .get(i)
                .copied()
                .flatten()
                .ok_or_else(|| err(format!("missing field '{}'", TESSERA_FIELDS[i])))
        };
        let mut key_name = [0u8; 16];
        if !hex_decode(get(0)?, &mut key_name) {
            return Err(err("name must be 32 hex digits".into()));
        }
        let cipher = match get(1)? {
            b"aes128" => CipherKind::Aes128,
            b"aes256" => CipherKind::Aes256,
            _ => return Err(err("cipher must be aes128 or aes256".into())),
        };
        let mut aes = Zeroizing::new([0u8; 32]);
        let aes = aes.get_mut(..cipher.key_len()).unwrap_or_default();
        if !hex_decode(get(2)?, aes) {
            return Err(err(format!(
                "aes must be {} hex digits for {}",
                cipher.key_len() * 2,
                if cipher == CipherKind::Aes128 {
                    "aes128"
                } else {
                    "aes256"
                }
            )));
        }
        let hmac_hex = get(3)?;
        let mut hmac = Zeroizing::new([0u8; 32]);
        let hmac = hmac.get_mut(..hmac_hex.len() / 2).unwrap_or_default();
        if !matches!(hmac_hex.len(), 32 | 64) || !hex_decode(hmac_hex, hmac) {
            return Err(err("hmac must be 32 or 64 hex digits".into()));
        }
        let mut times = [None; 3];
        for (t, field) in times.iter_mut().zip(4..7) {
            *t = parse_time(get(field)?).ok_or_else(|| {
                err(format!(
                    "{} must be unix seconds or '-'",
                    TESSERA_FIELDS[field]
                ))
            })?;
        }
        let [created, seal_until, open_until] = times;
        if let (Some(s), Some(o)) = (seal_until, open_until)
            && s > o
        {
            return Err(err("seal_until is after open_until".into()));
        }
        let role = match get(7)? {
            b"seal" if !have_sealer => {
                have_sealer = true;
                KeyRole::Sealing
            }
            b"seal" | b"open" => KeyRole::OpeningOnly,
            _ => return Err(err("role must be seal or open".into())),
        };
        let key = TicketKey::new(key_name, aes, hmac)
            .map_err(|e| key_err(path, line_no, e))?
            .with_times(KeyTimes {
                created,
                seal_until,
                open_until,
            });
        entries.push(Entry {
            key,
            role,
            line: line_no,
        });
    }
    if entries.is_empty() {
        return Err(file_err(path, 0, "no keys in file"));
    }
    Ok(entries)
}

/// Reads and parses one key file (see [`parse_key_file`]).
pub fn read_key_file(
    path: impl AsRef<Path>,
    format: Option<KeyFileFormat>,
) -> Result<Vec<(TicketKey, KeyRole)>, Error> {
    let path = path.as_ref();
    let shown = path.display().to_string();
    let bytes = read_secret(path, &shown)?;
    parse_key_file(&bytes, format, &shown)
}

/// Larger files are refused before reading: no key file needs more than a few kilobytes.
pub const MAX_KEY_FILE_LEN: u64 = 1 << 20;

fn read_secret(path: &Path, shown: &str) -> Result<Zeroizing<Vec<u8>>, Error> {
    let io = |e| Error::Io(format!("reading key file {shown}"), e);
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > MAX_KEY_FILE_LEN {
        return Err(file_err(
            shown,
            0,
            format!("key file of {len} bytes is implausibly large"),
        ));
    }
    std::fs::read(path).map(Zeroizing::new).map_err(io)
}

/// Loads one or more key files into a ring. The first file's sealing key seals; every other
/// key (the first file's other keys and all keys of later files) only opens, as nginx does
/// with several `ssl_session_ticket_key` lines. A key name found twice, in one file or across
/// files, is an error naming the second place. `format` applies to every file; `None` detects
/// each file's format on its own.
pub fn load_key_files<P: AsRef<Path>>(
    paths: &[P],
    format: Option<KeyFileFormat>,
) -> Result<KeyRing, Error> {
    load_key_files_checked(paths, format).map(|(ring, _)| ring)
}

/// [`load_key_files`], also returning one warning per file whose permissions let group or
/// others read or write it (see [`check_permissions`]). Warnings never stop loading.
pub fn load_key_files_checked<P: AsRef<Path>>(
    paths: &[P],
    format: Option<KeyFileFormat>,
) -> Result<(KeyRing, Vec<String>), Error> {
    let mut warnings = Vec::new();
    let mut keys = Vec::new();
    let mut seen: HashMap<KeyName, (String, usize)> = HashMap::new();
    let mut first_path = None;
    for (file_index, path) in paths.iter().enumerate() {
        let path = path.as_ref();
        let shown = path.display().to_string();
        warnings.extend(check_permissions(path));
        let bytes = read_secret(path, &shown)?;
        let (_, entries) = parse_entries(&bytes, format, &shown)?;
        for e in entries {
            if let Some((other, other_line)) = seen.get(&e.key.name()) {
                let place = if *other_line > 0 {
                    format!("{other}:{other_line}")
                } else {
                    other.clone()
                };
                return Err(file_err(
                    &shown,
                    e.line,
                    format!(
                        "duplicate key name {} (already loaded from {place})",
                        e.key.name()
                    ),
                ));
            }
            seen.insert(e.key.name(), (shown.clone(), e.line));
            let role = if file_index == 0 {
                e.role
            } else {
                KeyRole::OpeningOnly
            };
            keys.push((e.key, role));
        }
        first_path.get_or_insert(shown);
    }
    let Some(first_path) = first_path else {
        return Err(Error::NoSealingKey);
    };
    if !keys.iter().any(|(_, r)| *r == KeyRole::Sealing) {
        return Err(file_err(
            &first_path,
            0,
            "no sealing key (no key with role=seal)",
        ));
    }
    Ok((KeyRing::from_roles(keys)?, warnings))
}

/// A warning when a key file is readable or writable by its group or by others (unix mode
/// `& 0o077 != 0`), like ssh's check on private keys; `None` when the mode is fine, the file
/// cannot be inspected, or the platform has no unix modes. Never fails: callers print it.
pub fn check_permissions(path: impl AsRef<Path>) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let path = path.as_ref();
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o7777;
        (mode & 0o077 != 0).then(|| {
            format!(
                "key file {} is accessible by group or others (mode {mode:04o}); run \
                 `chmod 600 {}`",
                path.display(),
                path.display()
            )
        })
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

fn write_err(format: KeyFileFormat, msg: impl Into<String>) -> Error {
    file_err(&format!("writing {format}"), 0, msg)
}

fn push_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 0xf)]);
    }
}

fn push_time(out: &mut Vec<u8>, t: Option<u64>) {
    match t {
        Some(t) => out.extend_from_slice(t.to_string().as_bytes()),
        None => out.push(b'-'),
    }
}

/// Serialises keys into a key file of `format`. The output holds secrets: it is zeroized on
/// drop; write it with [`save_key_file`].
///
/// - nginx48 / nginx80: exactly one key, AES-128 with a 16-byte HMAC key / AES-256 with a
///   32-byte HMAC key; its role is ignored.
/// - haproxy48 / haproxy80: exactly one [`KeyRole::Sealing`] key, written on the second-to-last
///   line (opening-only keys keep their order around it); all keys of the format's size.
///   A stock HAProxy wants at least 3 keys.
/// - tessera: at most one sealing key; order and times kept.
pub fn write_key_file(
    format: KeyFileFormat,
    keys: &[(&TicketKey, KeyRole)],
) -> Result<Zeroizing<Vec<u8>>, Error> {
    if keys.is_empty() {
        return Err(write_err(format, "no keys to write"));
    }
    let sealers = keys.iter().filter(|(_, r)| *r == KeyRole::Sealing).count();
    // Size every buffer up front so pushing never reallocates (a reallocation would leave an
    // unzeroized copy of the secrets behind).
    // Header and comment < 200 bytes; one tessera line <= 298 bytes; HAProxy lines 109.
    let mut out = Zeroizing::new(Vec::with_capacity(512 + 320 * keys.len()));
    match format {
        KeyFileFormat::Nginx48 | KeyFileFormat::Nginx80 => {
            let [(key, _)] = keys else {
                return Err(write_err(
                    format,
                    format!("nginx key files hold exactly one key; got {}", keys.len()),
                ));
            };
            check_sizes(format, key)?;
            out.extend_from_slice(&key.name().0);
            if format == KeyFileFormat::Nginx48 {
                out.extend_from_slice(key.aes_key());
                out.extend_from_slice(key.hmac_key());
            } else {
                out.extend_from_slice(key.hmac_key());
                out.extend_from_slice(key.aes_key());
            }
        }
        KeyFileFormat::Haproxy48 | KeyFileFormat::Haproxy80 => {
            if sealers != 1 {
                return Err(write_err(
                    format,
                    format!("HAProxy files need exactly one sealing key; got {sealers}"),
                ));
            }
            let mut order: Vec<&TicketKey> = keys
                .iter()
                .filter(|(_, r)| *r == KeyRole::OpeningOnly)
                .map(|(k, _)| *k)
                .collect();
            let sealer = keys
                .iter()
                .find(|(_, r)| *r == KeyRole::Sealing)
                .map(|(k, _)| *k);
            if let Some(sealer) = sealer {
                order.insert(order.len().saturating_sub(1), sealer);
            }
            for key in order {
                check_sizes(format, key)?;
                let mut raw = Zeroizing::new([0u8; 80]);
                let n = 16 + key.aes_key().len() + key.hmac_key().len();
                if let Some(dst) = raw.get_mut(..n) {
                    let (name, rest) = dst.split_at_mut(16);
                    name.copy_from_slice(&key.name().0);
                    let (aes, hmac) = rest.split_at_mut(key.aes_key().len());
                    aes.copy_from_slice(key.aes_key());
                    hmac.copy_from_slice(key.hmac_key());
                }
                let mut text = Zeroizing::new([0u8; 112]);
                let len = general_purpose::STANDARD
                    .encode_slice(raw.get(..n).unwrap_or_default(), &mut text[..])
                    .map_err(|_| write_err(format, "base64 buffer too small"))?;
                out.extend_from_slice(text.get(..len).unwrap_or_default());
                out.push(b'\n');
            }
        }
        KeyFileFormat::Tessera => {
            if sealers > 1 {
                return Err(write_err(
                    format,
                    format!("at most one sealing key per file; got {sealers}"),
                ));
            }
            out.extend_from_slice(TESSERA_HEADER.as_bytes());
            out.extend_from_slice(
                b"\n# key name=<hex> cipher=aes128|aes256 aes=<hex> hmac=<hex> created=<unix|-> \
                  seal_until=<unix|-> open_until=<unix|-> role=seal|open\n",
            );
            for (key, role) in keys {
                let t = key.times();
                out.extend_from_slice(b"key name=");
                push_hex(&mut out, &key.name().0);
                out.extend_from_slice(match key.cipher() {
                    CipherKind::Aes128 => b" cipher=aes128 aes=".as_slice(),
                    CipherKind::Aes256 => b" cipher=aes256 aes=".as_slice(),
                });
                push_hex(&mut out, key.aes_key());
                out.extend_from_slice(b" hmac=");
                push_hex(&mut out, key.hmac_key());
                out.extend_from_slice(b" created=");
                push_time(&mut out, t.created);
                out.extend_from_slice(b" seal_until=");
                push_time(&mut out, t.seal_until);
                out.extend_from_slice(b" open_until=");
                push_time(&mut out, t.open_until);
                out.extend_from_slice(b" role=");
                out.extend_from_slice(role.as_str().as_bytes());
                out.push(b'\n');
            }
        }
    }
    Ok(out)
}

fn check_sizes(format: KeyFileFormat, key: &TicketKey) -> Result<(), Error> {
    let Some(cipher) = format.cipher() else {
        return Ok(());
    };
    if key.cipher() != cipher || key.hmac_key().len() != cipher.key_len() {
        return Err(write_err(
            format,
            format!(
                "key {} has a {}-byte AES key and a {}-byte HMAC key; {format} needs {} and {}",
                key.name(),
                key.aes_key().len(),
                key.hmac_key().len(),
                cipher.key_len(),
                cipher.key_len()
            ),
        ));
    }
    Ok(())
}

/// [`write_key_file`] for a whole ring (sealing key first, then the opening-only keys).
pub fn write_ring(format: KeyFileFormat, ring: &KeyRing) -> Result<Zeroizing<Vec<u8>>, Error> {
    let keys: Vec<(&TicketKey, KeyRole)> = ring.keys().collect();
    write_key_file(format, &keys)
}

/// Writes key-file bytes to `path` safely: a new file with mode 0600 (unix) next to `path`,
/// synced, then renamed over `path`, so a reader never sees half a file and the secret is never
/// readable by others, even briefly.
pub fn save_key_file(path: impl AsRef<Path>, bytes: &[u8]) -> Result<(), Error> {
    use std::io::Write;
    let path = path.as_ref();
    let shown = path.display().to_string();
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{file_name}.tmp.{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let result = options
        .open(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::Io(format!("writing key file {shown}"), e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detect_by_content() {
        assert_eq!(
            KeyFileFormat::detect(&[0x80; 48]),
            Some(KeyFileFormat::Nginx48)
        );
        assert_eq!(
            KeyFileFormat::detect(&[0x80; 80]),
            Some(KeyFileFormat::Nginx80)
        );
        assert_eq!(KeyFileFormat::detect(&[0x80; 49]), None);
        assert_eq!(
            KeyFileFormat::detect(b"tessera-ticket-keys v1\n"),
            Some(KeyFileFormat::Tessera)
        );
        let line48 = general_purpose::STANDARD.encode([7u8; 48]);
        let line80 = general_purpose::STANDARD.encode([7u8; 80]);
        assert_eq!(
            KeyFileFormat::detect(format!("# c\n\n{line48}\n").as_bytes()),
            Some(KeyFileFormat::Haproxy48)
        );
        assert_eq!(
            KeyFileFormat::detect(format!("{line80}\n").as_bytes()),
            Some(KeyFileFormat::Haproxy80)
        );
        // Printable 48-byte content that is not HAProxy still reads as nginx.
        assert_eq!(
            KeyFileFormat::detect(&[b'k'; 48]),
            Some(KeyFileFormat::Nginx48)
        );
    }

    #[test]
    fn names_round_trip() {
        for f in KeyFileFormat::ALL {
            assert_eq!(f.as_str().parse::<KeyFileFormat>().unwrap(), f);
        }
        assert!("nginx".parse::<KeyFileFormat>().is_err());
    }

    #[test]
    fn hex_decoder() {
        let mut out = [0u8; 2];
        assert!(hex_decode(b"aBf0", &mut out));
        assert_eq!(out, [0xab, 0xf0]);
        assert!(!hex_decode(b"abf", &mut out));
        assert!(!hex_decode(b"abfg", &mut out));
        assert_eq!(base64_decoded_len(b"AAAA"), 3);
        assert_eq!(base64_decoded_len(b"AAA="), 2);
        assert_eq!(base64_decoded_len(b"AAA"), 2);
    }
}
