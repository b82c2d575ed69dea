//! StatePlaintext and ClientIdentity, exactly as RFC 5077 section 4 recommends.
//!
//! ```text
//! struct {
//!     ProtocolVersion protocol_version;      // {uint8 major; uint8 minor}
//!     CipherSuite cipher_suite;              // uint8[2]
//!     CompressionMethod compression_method;  // uint8
//!     opaque master_secret[48];
//!     ClientIdentity client_identity;
//!     uint32 timestamp;
//! } StatePlaintext;
//!
//! enum { anonymous(0), certificate_based(1), psk(2) } ClientAuthenticationType;
//!
//! struct {
//!     ClientAuthenticationType client_authentication_type;
//!     select (ClientAuthenticationType) {
//!         case anonymous: struct {};
//!         case certificate_based: ASN.1Cert certificate_list<0..2^24-1>;
//!         case psk: opaque psk_identity<0..2^16-1>;
//!     };
//! } ClientIdentity;
//!
//! opaque ASN.1Cert<1..2^24-1>;               // RFC 5246 section 7.4.2
//! ```

use core::fmt;

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::codec::{
    MAX_U24_LEN, Reader, WireError, encode_atomically, put_opaque_u16, put_opaque_u24, put_u8,
    put_u16, put_u24, put_u32, u16_len,
};
use super::fields;

/// `ProtocolVersion`: `{uint8 major; uint8 minor}`. Any value decodes; policy is the caller's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProtocolVersion {
    /// Major version (3 for SSL 3.0 and every TLS version).
    pub major: u8,
    /// Minor version.
    pub minor: u8,
}

impl ProtocolVersion {
    /// TLS 1.0 `{3, 1}`.
    pub const TLS1_0: Self = Self::new(3, 1);
    /// TLS 1.1 `{3, 2}`.
    pub const TLS1_1: Self = Self::new(3, 2);
    /// TLS 1.2 `{3, 3}`.
    pub const TLS1_2: Self = Self::new(3, 3);

    /// A version from its two bytes.
    pub const fn new(major: u8, minor: u8) -> Self {
        Self { major, minor }
    }
}

/// `ClientAuthenticationType` of RFC 5077 section 4.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClientAuthenticationType {
    /// `anonymous(0)`: no client authentication.
    Anonymous,
    /// `certificate_based(1)`: the client sent a certificate chain.
    CertificateBased,
    /// `psk(2)`: the client authenticated with a pre-shared key.
    Psk,
}

impl ClientAuthenticationType {
    /// The wire code.
    pub const fn as_u8(self) -> u8 {
        match self {
            Self::Anonymous => 0,
            Self::CertificateBased => 1,
            Self::Psk => 2,
        }
    }

    /// The type for a wire code; `None` for any value RFC 5077 does not define.
    pub const fn from_u8(v: u8) -> Option<Self> {
        match v {
            0 => Some(Self::Anonymous),
            1 => Some(Self::CertificateBased),
            2 => Some(Self::Psk),
            _ => None,
        }
    }
}

/// `ClientIdentity` of RFC 5077 section 4.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ClientIdentity {
    /// No client authentication; empty body.
    Anonymous,
    /// The client's certificate chain: each certificate 1..=2^24-1 bytes of DER, the whole
    /// encoded list (with the 3-byte length of each) at most 2^24-1 bytes.
    CertificateBased {
        /// DER certificates, leaf first, as in the TLS Certificate message.
        certificate_list: Vec<Vec<u8>>,
    },
    /// A pre-shared-key identity, at most 2^16-1 bytes.
    Psk {
        /// The PSK identity the client used.
        psk_identity: Vec<u8>,
    },
}

impl ClientIdentity {
    /// Its `ClientAuthenticationType`.
    pub const fn auth_type(&self) -> ClientAuthenticationType {
        match self {
            Self::Anonymous => ClientAuthenticationType::Anonymous,
            Self::CertificateBased { .. } => ClientAuthenticationType::CertificateBased,
            Self::Psk { .. } => ClientAuthenticationType::Psk,
        }
    }

    /// Length of the encoded `certificate_list` contents (without its own 3-byte length).
    fn certificate_list_len(list: &[Vec<u8>]) -> usize {
        list.iter().map(|c| 3 + c.len()).sum()
    }

    /// Bytes this identity takes on the wire.
    pub fn encoded_len(&self) -> usize {
        1 + match self {
            Self::Anonymous => 0,
            Self::CertificateBased { certificate_list } => {
                3 + Self::certificate_list_len(certificate_list)
            }
            Self::Psk { psk_identity } => 2 + psk_identity.len(),
        }
    }

    /// Checks every length limit `encode` enforces, before anything is written.
    fn check(&self) -> Result<(), WireError> {
        match self {
            Self::Anonymous => Ok(()),
            Self::CertificateBased { certificate_list } => {
                for cert in certificate_list {
                    check_certificate_len(cert.len())?;
                }
                let len = Self::certificate_list_len(certificate_list);
                if len > MAX_U24_LEN {
                    return Err(WireError::TooLong {
                        field: fields::CERTIFICATE_LIST,
                        len,
                        max: MAX_U24_LEN,
                    });
                }
                Ok(())
            }
            Self::Psk { psk_identity } => {
                u16_len(psk_identity.len(), fields::PSK_IDENTITY).map(drop)
            }
        }
    }

    /// Appends the identity; fails (appending nothing) if a length is out of range.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        self.check()?;
        encode_atomically(out, |out| {
            put_u8(out, self.auth_type().as_u8());
            match self {
                Self::Anonymous => Ok(()),
                Self::CertificateBased { certificate_list } => {
                    put_u24(
                        out,
                        Self::certificate_list_len(certificate_list),
                        fields::CERTIFICATE_LIST,
                    )?;
                    for cert in certificate_list {
                        put_opaque_u24(out, cert, fields::CERTIFICATE)?;
                    }
                    Ok(())
                }
                Self::Psk { psk_identity } => {
                    put_opaque_u16(out, psk_identity, fields::PSK_IDENTITY)
                }
            }
        })
    }

    /// Reads an identity from `r`, leaving whatever follows it.
    pub fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let code = r.read_u8(fields::CLIENT_AUTH_TYPE)?;
        match ClientAuthenticationType::from_u8(code) {
            Some(ClientAuthenticationType::Anonymous) => Ok(Self::Anonymous),
            Some(ClientAuthenticationType::CertificateBased) => {
                let mut list = r.sub_u24(fields::CERTIFICATE_LIST)?;
                let mut certificate_list = Vec::new();
                while !list.is_empty() {
                    let cert = list.opaque_u24(fields::CERTIFICATE)?;
                    check_certificate_len(cert.len())?;
                    certificate_list.push(cert.to_vec());
                }
                Ok(Self::CertificateBased { certificate_list })
            }
            Some(ClientAuthenticationType::Psk) => Ok(Self::Psk {
                psk_identity: r.opaque_u16(fields::PSK_IDENTITY)?.to_vec(),
            }),
            None => Err(WireError::BadValue {
                field: fields::CLIENT_AUTH_TYPE,
                value: u32::from(code),
            }),
        }
    }

    /// Decodes exactly one identity; trailing bytes are an error.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(bytes);
        let id = Self::read(&mut r)?;
        r.expect_empty(fields::CLIENT_IDENTITY)?;
        Ok(id)
    }
}

/// `ASN.1Cert` is `opaque<1..2^24-1>`: an empty certificate is malformed.
fn check_certificate_len(len: usize) -> Result<(), WireError> {
    if len == 0 {
        Err(WireError::TooShort {
            field: fields::CERTIFICATE,
            len,
            min: 1,
        })
    } else if len > MAX_U24_LEN {
        Err(WireError::TooLong {
            field: fields::CERTIFICATE,
            len,
            max: MAX_U24_LEN,
        })
    } else {
        Ok(())
    }
}

/// The 48-byte TLS master secret. Zeroized on drop, compared in constant time, and never
/// printed: its `Debug` is `<redacted>`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct MasterSecret([u8; MasterSecret::LEN]);

impl MasterSecret {
    /// Length of a TLS master secret.
    pub const LEN: usize = 48;

    /// Wraps the secret bytes.
    pub const fn new(bytes: [u8; Self::LEN]) -> Self {
        Self(bytes)
    }

    /// Copies the secret from a slice that must be exactly 48 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, WireError> {
        if bytes.len() < Self::LEN {
            return Err(WireError::Truncated {
                field: fields::MASTER_SECRET,
                needed: Self::LEN,
                available: bytes.len(),
            });
        }
        if bytes.len() > Self::LEN {
            return Err(WireError::TooLong {
                field: fields::MASTER_SECRET,
                len: bytes.len(),
                max: Self::LEN,
            });
        }
        let mut secret = Self([0; Self::LEN]);
        // Lengths are equal (checked above), so this cannot panic.
        secret.0.copy_from_slice(bytes);
        Ok(secret)
    }

    /// The secret bytes. Handle with care: copies are not zeroized for you.
    pub const fn as_bytes(&self) -> &[u8; Self::LEN] {
        &self.0
    }
}

impl PartialEq for MasterSecret {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for MasterSecret {}

impl fmt::Debug for MasterSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// `StatePlaintext` of RFC 5077 section 4: the session state a ticket seals.
///
/// Its `Debug` prints `master_secret: <redacted>`. Its encoding contains the master secret:
/// prefer [`to_zeroizing_vec`](Self::to_zeroizing_vec), or zeroize the buffer you passed to
/// [`encode`](Self::encode).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatePlaintext {
    /// Negotiated protocol version.
    pub protocol_version: ProtocolVersion,
    /// Negotiated cipher suite (`CipherSuite`, the two bytes as a big-endian `u16`).
    pub cipher_suite: u16,
    /// Negotiated compression method.
    pub compression_method: u8,
    /// The session's master secret.
    pub master_secret: MasterSecret,
    /// How the client authenticated.
    pub client_identity: ClientIdentity,
    /// When the ticket was issued (seconds since the Unix epoch); lets the server expire it.
    pub timestamp: u32,
}

impl StatePlaintext {
    /// Smallest encoding: anonymous identity.
    pub const MIN_LEN: usize = 2 + 2 + 1 + MasterSecret::LEN + 1 + 4;

    /// Bytes this state takes on the wire.
    pub fn encoded_len(&self) -> usize {
        Self::MIN_LEN - 1 + self.client_identity.encoded_len()
    }

    /// Appends the state; fails (appending nothing) if an identity length is out of range.
    ///
    /// Reserves the full length first, so `out` never reallocates (leaving a stray copy of
    /// the secret in freed memory) after the master secret has been written.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        self.client_identity.check()?;
        out.reserve(self.encoded_len());
        encode_atomically(out, |out| {
            put_u8(out, self.protocol_version.major);
            put_u8(out, self.protocol_version.minor);
            put_u16(out, self.cipher_suite);
            put_u8(out, self.compression_method);
            out.extend_from_slice(self.master_secret.as_bytes());
            self.client_identity.encode(out)?;
            put_u32(out, self.timestamp);
            Ok(())
        })
    }

    /// The encoding in a buffer that is zeroized when dropped.
    pub fn to_zeroizing_vec(&self) -> Result<Zeroizing<Vec<u8>>, WireError> {
        let mut out = Zeroizing::new(Vec::with_capacity(self.encoded_len()));
        self.encode(&mut out)?;
        Ok(out)
    }

    /// Reads a state from `r`, leaving whatever follows it.
    pub fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let [major, minor] = r.read_array(fields::PROTOCOL_VERSION)?;
        let cipher_suite = r.read_u16(fields::CIPHER_SUITE)?;
        let compression_method = r.read_u8(fields::COMPRESSION_METHOD)?;
        // Copied straight from the input into the zeroizing type: no stack temporary.
        let master_secret =
            MasterSecret::from_slice(r.read_bytes(MasterSecret::LEN, fields::MASTER_SECRET)?)?;
        let client_identity = ClientIdentity::read(r)?;
        let timestamp = r.read_u32(fields::TIMESTAMP)?;
        Ok(Self {
            protocol_version: ProtocolVersion::new(major, minor),
            cipher_suite,
            compression_method,
            master_secret,
            client_identity,
            timestamp,
        })
    }

    /// Decodes exactly one state; trailing bytes are an error.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(bytes);
        let state = Self::read(&mut r)?;
        r.expect_empty(fields::STATE_PLAINTEXT)?;
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> StatePlaintext {
        StatePlaintext {
            protocol_version: ProtocolVersion::TLS1_2,
            cipher_suite: 0xC02F,
            compression_method: 0,
            master_secret: MasterSecret::new([0x5A; 48]),
            client_identity: ClientIdentity::Anonymous,
            timestamp: 1_700_000_000,
        }
    }

    #[test]
    fn debug_hides_master_secret() {
        let dbg = format!("{:?}", sample());
        assert!(dbg.contains("master_secret: <redacted>"), "{dbg}");
        // 0x5A = 90: neither the byte value nor its hex form may appear.
        assert!(!dbg.contains("90"), "{dbg}");
        assert!(!dbg.to_lowercase().contains("5a"), "{dbg}");
        assert_eq!(format!("{:?}", MasterSecret::new([1; 48])), "<redacted>");
    }

    #[test]
    fn master_secret_zeroizes() {
        let mut s = MasterSecret::new([0xFF; 48]);
        s.zeroize();
        assert_eq!(s.as_bytes(), &[0; 48]);
    }

    #[test]
    fn master_secret_from_slice_checks_length() {
        assert!(MasterSecret::from_slice(&[1; 47]).is_err());
        assert!(MasterSecret::from_slice(&[1; 49]).is_err());
        assert_eq!(
            MasterSecret::from_slice(&[1; 48]).unwrap(),
            MasterSecret::new([1; 48])
        );
    }

    #[test]
    fn encoded_len_matches() {
        let mut s = sample();
        for id in [
            ClientIdentity::Anonymous,
            ClientIdentity::Psk {
                psk_identity: b"abc".to_vec(),
            },
            ClientIdentity::CertificateBased {
                certificate_list: vec![vec![1; 5], vec![2]],
            },
        ] {
            s.client_identity = id;
            assert_eq!(s.to_zeroizing_vec().unwrap().len(), s.encoded_len());
        }
    }

    #[test]
    fn unknown_auth_type_rejected() {
        assert_eq!(
            ClientIdentity::decode(&[3]),
            Err(WireError::BadValue {
                field: fields::CLIENT_AUTH_TYPE,
                value: 3
            })
        );
    }
}
