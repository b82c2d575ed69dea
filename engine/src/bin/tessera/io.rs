//! Files in and out. `-` means stdin/stdout. Every error names the file.

use std::fs;
use std::io::{Read as _, Write as _};
use std::path::Path;

use crate::fail::Failure;

/// Reads a file (or stdin for `-`), at most `limit + 1` bytes: enough for the caller to see
/// that the input is too long without letting a huge or endless input fill memory.
pub(crate) fn read_input(path: &Path, limit: usize) -> Result<Vec<u8>, Failure> {
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    let mut buf = Vec::new();
    if path == Path::new("-") {
        std::io::stdin()
            .lock()
            .take(cap)
            .read_to_end(&mut buf)
            .map_err(|e| Failure::usage(format!("reading stdin: {e}")))?;
        return Ok(buf);
    }
    fs::File::open(path)
        .and_then(|f| f.take(cap).read_to_end(&mut buf))
        .map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?;
    Ok(buf)
}

/// Writes a whole file (or stdout for `-`).
pub(crate) fn write_output(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    if path == Path::new("-") {
        let mut out = std::io::stdout().lock();
        return out
            .write_all(bytes)
            .and_then(|()| out.flush())
            .map_err(|e| Failure::usage(format!("writing stdout: {e}")));
    }
    fs::write(path, bytes).map_err(|e| Failure::usage(format!("{}: {e}", path.display())))
}

/// Prints text to stdout, turning a closed pipe into a clean error instead of a panic.
pub(crate) fn print(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| Failure::usage(format!("writing stdout: {e}")))
}

/// Decodes hex text, ignoring whitespace (so `xxd -p` output and wrapped lines work) and an
/// optional `0x` prefix.
pub(crate) fn decode_hex(what: &str, text: &[u8]) -> Result<Vec<u8>, Failure> {
    let compact: Vec<u8> = text
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let digits = compact.strip_prefix(b"0x").unwrap_or(&compact);
    hex::decode(digits).map_err(|e| Failure::usage(format!("{what}: not valid hex ({e})")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_ignores_whitespace_and_prefix() {
        assert_eq!(
            decode_hex("x", b"0xab cd\n0e").ok(),
            Some(vec![0xab, 0xcd, 0x0e])
        );
        assert!(decode_hex("x", b"abc").is_err());
        assert!(decode_hex("x", b"zz").is_err());
    }
}
