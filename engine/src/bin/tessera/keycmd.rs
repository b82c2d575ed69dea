//! `tessera keys gen|show|convert`, and key-file loading for `seal`/`open`.

use std::fs;
use std::io::Write as _;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use tessera::keys::{self, KeyFileFormat, KeyRing};
use tessera::{CipherKind, TicketKey};

use crate::args::{ConvertArgs, GenArgs, KeyFileArgs, KeyFormatArg, ShowArgs};
use crate::fail::Failure;
use crate::io;

/// The library's key-file format for a CLI name.
pub(crate) fn key_format(f: KeyFormatArg) -> KeyFileFormat {
    match f {
        KeyFormatArg::Tessera => KeyFileFormat::Tessera,
        KeyFormatArg::Nginx48 => KeyFileFormat::Nginx48,
        KeyFormatArg::Nginx80 => KeyFileFormat::Nginx80,
        KeyFormatArg::Haproxy48 => KeyFileFormat::Haproxy48,
        KeyFormatArg::Haproxy80 => KeyFileFormat::Haproxy80,
    }
}

/// Seconds since the Unix epoch (0 if the clock is before 1970).
pub(crate) fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `YYYY-MM-DDTHH:MM:SSZ` for unix seconds (proleptic Gregorian, UTC).
pub(crate) fn utc(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Days since 1970-01-01 to (year, month, day); Howard Hinnant's `civil_from_days`.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// Reads and parses one key file (format from the flag or detected from the content).
fn read_keys(k: &KeyFileArgs) -> Result<(KeyFileFormat, Vec<TicketKey>), Failure> {
    let bytes = fs::read(&k.key_file)
        .map_err(|e| Failure::usage(format!("{}: {e}", k.key_file.display())))?;
    let label = k.key_file.display().to_string();
    let format = match k.key_format {
        Some(f) => key_format(f),
        None => KeyFileFormat::detect(&bytes).ok_or_else(|| {
            Failure::usage(format!(
                "{label}: cannot tell the key-file format (not 48/80 raw bytes, base64 lines or a \
                 tessera key file); pass --key-format"
            ))
        })?,
    };
    let keys = keys::parse_key_file(&label, &bytes, format)?;
    Ok((format, keys))
}

/// The ring a key file describes: the first key seals, the rest open.
pub(crate) fn load_ring(k: &KeyFileArgs) -> Result<KeyRing, Failure> {
    let (_, mut list) = read_keys(k)?;
    if list.is_empty() {
        return Err(Failure::usage(format!("{}: holds no key", k.key_file.display())));
    }
    let sealing = list.remove(0);
    KeyRing::new(sealing, list)
        .map_err(|e| Failure::usage(format!("{}: {e}", k.key_file.display())))
}

/// Writes a key file readable only by its owner, via a temporary file and a rename so a
/// reader never sees half a file.
fn write_secret_file(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    let fail = |e: std::io::Error| Failure::usage(format!("{}: {e}", path.display()));
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(format!(".tmp{}", std::process::id()));
    let tmp = Path::new(&tmp_name);
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let result = opts
        .open(tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .and_then(|()| fs::rename(tmp, path));
    if result.is_err() {
        let _ = fs::remove_file(tmp);
    }
    result.map_err(fail)
}

pub(crate) fn gen(a: &GenArgs) -> Result<(), Failure> {
    let format = key_format(a.key_format);
    let cipher = match a.key_format {
        KeyFormatArg::Nginx48 | KeyFormatArg::Haproxy48 => CipherKind::Aes128,
        KeyFormatArg::Nginx80 | KeyFormatArg::Haproxy80 | KeyFormatArg::Tessera => {
            CipherKind::Aes256
        }
    };
    let key = TicketKey::generate(cipher)?;
    let key = if a.key_format == KeyFormatArg::Tessera {
        key.with_times(tessera::KeyTimes { created: Some(now()), ..Default::default() })
    } else {
        key
    };
    let bytes = keys::write_key_file(format, std::slice::from_ref(&key))?;
    write_secret_file(&a.out, &bytes)?;
    eprintln!("wrote {} ({}, key name {})", a.out.display(), format_name(a.key_format), key.name());
    Ok(())
}

fn format_name(f: KeyFormatArg) -> &'static str {
    match f {
        KeyFormatArg::Tessera => "tessera",
        KeyFormatArg::Nginx48 => "nginx48",
        KeyFormatArg::Nginx80 => "nginx80",
        KeyFormatArg::Haproxy48 => "haproxy48",
        KeyFormatArg::Haproxy80 => "haproxy80",
    }
}

pub(crate) fn show(a: &ShowArgs) -> Result<(), Failure> {
    let (format, list) = read_keys(&a.key)?;
    let now = now();
    let mut text = format!(
        "{}: {} key file, {} key{}\n",
        a.key.key_file.display(),
        format.as_str(),
        list.len(),
        if list.len() == 1 { "" } else { "s" }
    );
    for (i, key) in list.iter().enumerate() {
        let role = if i == 0 { "seals+opens" } else { "opens only" };
        let cipher = match key.cipher() {
            CipherKind::Aes128 => "AES-128",
            CipherKind::Aes256 => "AES-256",
        };
        let t = key.times();
        let when = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), utc);
        let state = if !key.can_open_at(now) {
            "expired"
        } else if i == 0 && !key.can_seal_at(now) {
            "past sealing window"
        } else {
            "usable"
        };
        text.push_str(&format!(
            "  key {}: name {} role {role} cipher {cipher}-CBC/HMAC-SHA-256 (aead: XAES-256-GCM) \
             created {} seal_until {} open_until {} ({state})\n",
            i + 1,
            key.name(),
            when(t.created),
            when(t.seal_until),
            when(t.open_until),
        ));
    }
    io::print(&text)
}

pub(crate) fn convert(a: &ConvertArgs) -> Result<(), Failure> {
    let (_, list) = read_keys(&a.key)?;
    let bytes = keys::write_key_file(key_format(a.to), &list)?;
    write_secret_file(&a.out, &bytes)?;
    eprintln!(
        "wrote {} ({}, {} key{})",
        a.out.display(),
        format_name(a.to),
        list.len(),
        if list.len() == 1 { "" } else { "s" }
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formats_known_instants() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(utc(4_102_444_799), "2099-12-31T23:59:59Z");
    }
}
