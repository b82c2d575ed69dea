//! `tessera keys gen|show|convert`, and key-file loading for `seal`/`open`.

use std::fs;
use std::io::Read as _;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use tessera::keys::{self, KeyFileFormat, KeyRing, KeyRole};
use tessera::{CipherKind, TicketKey};
use zeroize::Zeroizing;

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
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `YYYY-MM-DDTHH:MM:SSZ` for unix seconds (proleptic Gregorian, UTC).
pub(crate) fn utc(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
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

/// Reads and parses one key file (format from the flag or detected from the content); warns on
/// stderr when the file is readable or writable by group or others.
fn read_keys(k: &KeyFileArgs) -> Result<(KeyFileFormat, Vec<(TicketKey, KeyRole)>), Failure> {
    let label = k.key_file.display().to_string();
    // Read at most one byte past the cap, so a huge or endless file (a device, a FIFO) is
    // refused instead of filling memory.
    let mut bytes = Zeroizing::new(Vec::new());
    fs::File::open(&k.key_file)
        .and_then(|f| f.take(keys::MAX_KEY_FILE_LEN + 1).read_to_end(&mut bytes))
        .map_err(|e| Failure::usage(format!("{label}: {e}")))?;
    if bytes.len() as u64 > keys::MAX_KEY_FILE_LEN {
        return Err(Failure::usage(format!(
            "{label}: larger than {} bytes; not a key file",
            keys::MAX_KEY_FILE_LEN
        )));
    }
    if let Some(warning) = keys::check_permissions(&k.key_file) {
        eprintln!("tessera: warning: {warning}");
    }
    Ok(keys::parse_key_file_detailed(
        &bytes,
        k.key_format.map(key_format),
        &label,
    )?)
}

/// The ring a key file describes (nginx: its one key; HAProxy: the second-to-last line seals;
/// tessera: the first `role=seal` key seals), the other keys opening only.
pub(crate) fn load_ring(k: &KeyFileArgs) -> Result<KeyRing, Failure> {
    let (_, list) = read_keys(k)?;
    KeyRing::from_roles(list).map_err(|e| Failure::usage(format!("{}: {e}", k.key_file.display())))
}

/// Writes a key file: mode 0600, via a temporary file and a rename.
fn save(path: &Path, format: KeyFileFormat, list: &[(&TicketKey, KeyRole)]) -> Result<(), Failure> {
    let label = path.display();
    let bytes =
        keys::write_key_file(format, list).map_err(|e| Failure::usage(format!("{label}: {e}")))?;
    keys::save_key_file(path, &bytes).map_err(|e| Failure::usage(format!("{label}: {e}")))
}

pub(crate) fn generate(a: &GenArgs) -> Result<(), Failure> {
    let format = key_format(a.key_format);
    let cipher = match a.key_format {
        KeyFormatArg::Nginx48 | KeyFormatArg::Haproxy48 => CipherKind::Aes128,
        KeyFormatArg::Nginx80 | KeyFormatArg::Haproxy80 | KeyFormatArg::Tessera => {
            CipherKind::Aes256
        }
    };
    let key = TicketKey::generate(cipher)?;
    let key = if a.key_format == KeyFormatArg::Tessera {
        key.with_times(tessera::KeyTimes {
            created: Some(now()),
            ..Default::default()
        })
    } else {
        key
    };
    save(&a.out, format, &[(&key, KeyRole::Sealing)])?;
    eprintln!(
        "wrote {} ({}, key name {})",
        a.out.display(),
        format,
        key.name()
    );
    Ok(())
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
    for (i, (key, role)) in list.iter().enumerate() {
        let sealing = *role == KeyRole::Sealing;
        let role = if sealing { "seals+opens" } else { "opens only" };
        let cipher = match key.cipher() {
            CipherKind::Aes128 => "AES-128",
            CipherKind::Aes256 => "AES-256",
        };
        let t = key.times();
        let when = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), utc);
        let state = if !key.can_open_at(now) {
            "expired"
        } else if sealing && !key.can_seal_at(now) {
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
    let refs: Vec<(&TicketKey, KeyRole)> = list.iter().map(|(k, r)| (k, *r)).collect();
    save(&a.out, key_format(a.to), &refs)?;
    eprintln!(
        "wrote {} ({}, {} key{})",
        a.out.display(),
        key_format(a.to),
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
