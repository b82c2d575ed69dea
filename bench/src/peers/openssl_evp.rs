//! OpenSSL as nginx and HAProxy drive it: OpenSSL's ticket code (`ssl/statem/statem_srvr.c`
//! `construct_stateless_ticket`, `ssl/t1_lib.c` `tls_decrypt_ticket`) allocates a fresh
//! `EVP_CIPHER_CTX` and HMAC context for every ticket and calls the server's key callback,
//! which looks the key name up in its list (`memcmp`) and initialises both contexts with the
//! raw key bytes (`EVP_EncryptInit_ex(ctx, EVP_aes_128_cbc(), ..)` and the HMAC key). Layout:
//! `key_name[16] iv[16] AES-128-CBC(PKCS#7(state)) HMAC-SHA-256(name|iv|ct)[32]`; IVs from
//! `RAND_bytes` per ticket (nginx's `ngx_ssl_ticket_key_callback`).
//!
//! The HMAC context: with OpenSSL 3 nginx sets the key on an `EVP_MAC_CTX` that OpenSSL made
//! (`ssl_hmac_new`: `EVP_MAC_fetch` + `EVP_MAC_CTX_new` per ticket). The `openssl` crate has no
//! safe `EVP_MAC` API, so this uses `EVP_DigestSignInit` with an HMAC `EVP_PKEY` (built once
//! per key), which OpenSSL 3 runs on the same HMAC provider through its legacy-MAC adapter
//! (one extra `EVP_PKEY_CTX` per ticket). Session (de)serialisation (`i2d_SSL_SESSION`) is
//! not measured, for OpenSSL as for everyone else.

use openssl::cipher::Cipher;
use openssl::cipher_ctx::CipherCtx;
use openssl::md::Md;
use openssl::md_ctx::MdCtx;
use openssl::pkey::{PKey, Private};

use super::{Peer, PeerError};
use crate::fixtures::KeyBytes;

const NAME: usize = 16;
const IV: usize = 16;
const MAC: usize = 32;

struct Key {
    name: [u8; 16],
    aes: [u8; 16],
    hmac: PKey<Private>,
}

/// nginx/HAProxy's OpenSSL ticket path (see the module docs).
pub struct OpensslEvp {
    keys: Vec<Key>,
}

impl OpensslEvp {
    /// A ring over `keys` (`keys[0]` seals).
    pub fn new(keys: &[KeyBytes]) -> Result<Self, PeerError> {
        let keys = keys
            .iter()
            .map(|k| {
                Ok(Key {
                    name: k.name,
                    aes: k.aes,
                    hmac: PKey::hmac(&k.hmac)?,
                })
            })
            .collect::<Result<Vec<_>, PeerError>>()?;
        Ok(Self { keys })
    }

    /// The OpenSSL version the crate linked (vendored: built from source by `openssl-src`).
    pub fn version() -> &'static str {
        openssl::version::version()
    }
}

impl Peer for OpensslEvp {
    fn name(&self) -> &'static str {
        "openssl-evp"
    }

    fn format(&self) -> &'static str {
        "openssl"
    }

    fn name_len(&self) -> usize {
        NAME
    }

    fn has_padding(&self) -> bool {
        true
    }

    fn seal(&mut self, state: &[u8], out: &mut Vec<u8>) -> Result<(), PeerError> {
        let key = self.keys.first().ok_or(PeerError::Rejected)?;
        let mut ctx = CipherCtx::new()?;
        let mut hctx = MdCtx::new()?;
        let mut iv = [0u8; IV];
        openssl::rand::rand_bytes(&mut iv)?;
        ctx.encrypt_init(Some(Cipher::aes_128_cbc()), Some(&key.aes), Some(&iv))?;
        hctx.digest_sign_init(Some(Md::sha256()), &key.hmac)?;

        out.clear();
        out.extend_from_slice(&key.name);
        out.extend_from_slice(&iv);
        let start = out.len();
        // cipher_update wants room for one extra block, cipher_final for the padding block.
        out.resize(start + state.len() + 2 * 16, 0);
        let n = ctx.cipher_update(state, Some(&mut out[start..]))?;
        let m = ctx.cipher_final(&mut out[start + n..])?;
        out.truncate(start + n + m);
        hctx.digest_sign_update(out)?;
        let mut tag = [0u8; MAC];
        hctx.digest_sign_final(Some(&mut tag))?;
        out.extend_from_slice(&tag);
        Ok(())
    }

    fn open(&mut self, ticket: &[u8], out: &mut Vec<u8>) -> Result<(), PeerError> {
        // tls_decrypt_ticket: too short for name + IV: no ticket.
        if ticket.len() < NAME + IV {
            return Err(PeerError::Rejected);
        }
        let mut ctx = CipherCtx::new()?;
        let mut hctx = MdCtx::new()?;
        // nginx's callback: linear search with memcmp; unknown name = full handshake.
        let (name, rest) = ticket.split_at(NAME);
        let Some(key) = self.keys.iter().find(|k| k.name[..] == *name) else {
            return Err(PeerError::Rejected);
        };
        let iv = &rest[..IV];
        ctx.decrypt_init(Some(Cipher::aes_128_cbc()), Some(&key.aes), Some(iv))?;
        hctx.digest_sign_init(Some(Md::sha256()), &key.hmac)?;
        // Then OpenSSL: the MAC over everything before it, compared with CRYPTO_memcmp.
        if ticket.len() <= NAME + IV + MAC {
            return Err(PeerError::Rejected);
        }
        let (signed, tag) = ticket.split_at(ticket.len() - MAC);
        hctx.digest_sign_update(signed)?;
        let mut expect = [0u8; MAC];
        hctx.digest_sign_final(Some(&mut expect))?;
        if !openssl::memcmp::eq(&expect, tag) {
            return Err(PeerError::Rejected);
        }
        let ct = &signed[NAME + IV..];
        out.clear();
        out.resize(ct.len() + 16, 0);
        let n = ctx.cipher_update(ct, Some(out))?;
        // A bad padding or a partial block fails here (EVP_DecryptFinal).
        let m = ctx
            .cipher_final(&mut out[n..])
            .map_err(|_| PeerError::Rejected)?;
        out.truncate(n + m);
        Ok(())
    }
}
