//! One ticket key: a public key name plus secret cipher and MAC keys, with its time window.

use core::fmt;

use zeroize::{Zeroize, Zeroizing};

use crate::backend::KeyMaterial;
use crate::error::Error;

/// The 16-byte key name carried in the clear at the start of every ticket (RFC 5077 section 4).
/// Not secret; compared in constant time anyway so lookups leak nothing about near misses.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyName(pub [u8; 16]);

impl fmt::Debug for KeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyName({self})")
    }
}

impl fmt::Display for KeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// AES key size of a ticket key; picks AES-128-CBC or AES-256-CBC for the CBC formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CipherKind {
    /// 16-byte AES key (nginx/HAProxy 48-byte key files, RFC 5077's recommendation).
    Aes128,
    /// 32-byte AES key (nginx/HAProxy 80-byte key files).
    Aes256,
}

impl CipherKind {
    /// Key length in bytes.
    pub const fn key_len(self) -> usize {
        match self {
            Self::Aes128 => 16,
            Self::Aes256 => 32,
        }
    }
}

/// When a key may seal and open, in seconds since the Unix epoch. `None` = no limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeyTimes {
    /// When the key was made.
    pub created: Option<u64>,
    /// The key seals new tickets only before this instant.
    pub seal_until: Option<u64>,
    /// The key opens tickets only before this instant; after it the key is dropped.
    pub open_until: Option<u64>,
}

/// A ticket key. Secrets are zeroized on drop and never printed.
pub struct TicketKey {
    name: KeyName,
    aes: Zeroizing<Vec<u8>>,
    hmac: Zeroizing<Vec<u8>>,
    times: KeyTimes,
    material: KeyMaterial,
}

/// True when every byte equals the first (covers all-zero keys). An empty slice is weak too.
pub(crate) fn is_weak(bytes: &[u8]) -> bool {
    match bytes.split_first() {
        Some((first, rest)) => rest.iter().all(|b| b == first),
        None => true,
    }
}

impl TicketKey {
    /// Builds a key from its parts. The AES key is 16 or 32 bytes, the HMAC key 16 or 32.
    /// All-zero or single-repeated-byte secrets and key names are refused.
    pub fn new(name: [u8; 16], aes_key: &[u8], hmac_key: &[u8]) -> Result<Self, Error> {
        let cipher = match aes_key.len() {
            16 => CipherKind::Aes128,
            32 => CipherKind::Aes256,
            len => {
                return Err(Error::KeyLength {
                    what: "AES key",
                    len,
                });
            }
        };
        if !matches!(hmac_key.len(), 16 | 32) {
            return Err(Error::KeyLength {
                what: "HMAC key",
                len: hmac_key.len(),
            });
        }
        if is_weak(&name) {
            return Err(Error::WeakKey("key name"));
        }
        if is_weak(aes_key) {
            return Err(Error::WeakKey("AES key"));
        }
        if is_weak(hmac_key) {
            return Err(Error::WeakKey("HMAC key"));
        }
        let material = KeyMaterial::new(cipher, aes_key, hmac_key);
        Ok(Self {
            name: KeyName(name),
            aes: Zeroizing::new(aes_key.to_vec()),
            hmac: Zeroizing::new(hmac_key.to_vec()),
            times: KeyTimes::default(),
            material,
        })
    }

    /// A fresh random key from the OS random source.
    pub fn generate(cipher: CipherKind) -> Result<Self, Error> {
        let mut buf = Zeroizing::new([0u8; 16 + 32 + 32]);
        getrandom::getrandom(&mut buf[..]).map_err(|_| Error::Rng)?;
        let mut name = [0u8; 16];
        name.copy_from_slice(&buf[..16]);
        let n = cipher.key_len();
        Self::new(name, &buf[16..16 + n], &buf[48..48 + n])
    }

    /// Sets the key's time window (builder style).
    pub fn with_times(mut self, times: KeyTimes) -> Self {
        self.times = times;
        self
    }

    /// The public key name.
    pub fn name(&self) -> KeyName {
        self.name
    }

    /// AES-128 or AES-256.
    pub fn cipher(&self) -> CipherKind {
        if self.aes.len() == 16 {
            CipherKind::Aes128
        } else {
            CipherKind::Aes256
        }
    }

    /// The key's time window.
    pub fn times(&self) -> KeyTimes {
        self.times
    }

    /// Raw AES key bytes, for key-file writers only.
    pub(crate) fn aes_key(&self) -> &[u8] {
        &self.aes
    }

    /// Raw HMAC key bytes, for key-file writers only.
    pub(crate) fn hmac_key(&self) -> &[u8] {
        &self.hmac
    }

    /// Expanded schedules and precomputed HMAC states for the backends.
    #[allow(dead_code)] // read by format/ and backend/ once they land
    pub(crate) fn material(&self) -> &KeyMaterial {
        &self.material
    }

    /// May this key seal at `now` (unix seconds)?
    pub fn can_seal_at(&self, now: u64) -> bool {
        self.times.seal_until.is_none_or(|t| now < t) && self.can_open_at(now)
    }

    /// May this key open at `now` (unix seconds)?
    pub fn can_open_at(&self, now: u64) -> bool {
        self.times.open_until.is_none_or(|t| now < t)
    }
}

impl Clone for TicketKey {
    fn clone(&self) -> Self {
        Self {
            name: self.name,
            aes: self.aes.clone(),
            hmac: self.hmac.clone(),
            times: self.times,
            material: self.material.clone(),
        }
    }
}

impl Drop for TicketKey {
    fn drop(&mut self) {
        // `Zeroizing` wipes the buffers again as they are freed; wiping here, in place, lets
        // the test-only probe see the very bytes the key used.
        self.aes.as_mut_slice().zeroize();
        self.hmac.as_mut_slice().zeroize();
        #[cfg(test)]
        {
            crate::drop_probe::observe("TicketKey.aes", &self.aes);
            crate::drop_probe::observe("TicketKey.hmac", &self.hmac);
        }
    }
}

impl fmt::Debug for TicketKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TicketKey")
            .field("name", &self.name)
            .field("cipher", &self.cipher())
            .field("times", &self.times)
            .finish_non_exhaustive()
    }
}
