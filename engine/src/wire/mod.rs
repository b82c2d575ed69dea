//! RFC 5077 wire codecs (safe code only): SessionTicket extension, NewSessionTicket, StatePlaintext.
//!
//! Every decoder is strict: lengths must agree with what remains, nothing may trail a
//! structure, unknown enum values are refused, and each failure is a [`WireError`] naming the
//! field (see [`fields`]). Decoders never panic on any input. Encoders append to a
//! `&mut Vec<u8>` and append nothing when they fail (a length out of range).
//!
//! | Structure | RFC 5077 | Types |
//! |---|---|---|
//! | SessionTicket extension (type 35) | 3.2, Appendix A | [`ClientHelloTicketExt`], [`ServerHelloTicketExt`], [`Extensions`] |
//! | NewSessionTicket (handshake type 4) | 3.3 | [`NewSessionTicket`] |
//! | StatePlaintext, ClientIdentity | 4 | [`StatePlaintext`], [`ClientIdentity`], [`MasterSecret`] |
//! | ticket (public layout only) | 4 | [`TicketLayout`] |
//!
//! ```
//! use tessera::wire::{ClientHelloTicketExt, NewSessionTicket, WireError, fields};
//!
//! // A ClientHello extensions block: ec_point_formats, then SessionTicket with a 3-byte ticket.
//! let block = [0, 13, 0, 11, 0, 2, 1, 0, 0, 35, 0, 3, 0xAA, 0xBB, 0xCC];
//! let ext = ClientHelloTicketExt::find_in(&block)?;
//! assert_eq!(ext.as_ref().and_then(|e| e.ticket()), Some(&[0xAA, 0xBB, 0xCC][..]));
//!
//! // Issue a ticket: NewSessionTicket with its handshake header.
//! let mut msg = Vec::new();
//! NewSessionTicket::new(7200, vec![1, 2, 3]).encode(&mut msg)?;
//! assert_eq!(msg, [4, 0, 0, 9, 0, 0, 0x1c, 0x20, 0, 3, 1, 2, 3]);
//!
//! // Strict: one byte too many is an error that names the structure.
//! msg.push(0);
//! assert_eq!(
//!     NewSessionTicket::decode(&msg),
//!     Err(WireError::TrailingBytes { field: fields::HANDSHAKE, count: 1 })
//! );
//! # Ok::<(), WireError>(())
//! ```
#![forbid(unsafe_code)]

pub mod codec;
pub mod extension;
pub mod nst;
pub mod state;
pub mod ticket;

pub use codec::{Reader, WireError};
pub use extension::{
    ClientHelloTicketExt, Extension, Extensions, PRE_SHARED_KEY_EXTENSION_TYPE,
    SESSION_TICKET_EXTENSION_TYPE, ServerHelloTicketExt,
};
pub use nst::{HANDSHAKE_HEADER_LEN, HANDSHAKE_TYPE_NEW_SESSION_TICKET, NewSessionTicket};
pub use state::{
    ClientAuthenticationType, ClientIdentity, MasterSecret, ProtocolVersion, StatePlaintext,
};
pub use ticket::TicketLayout;

/// The field names [`WireError`] reports, one constant per field, so callers can match on
/// them. Values are stable: `Struct.field` in the RFC's own spelling.
pub mod fields {
    /// The extensions block as a whole (its `uint16` length, duplicates, trailing bytes).
    pub const EXTENSIONS: &str = "extensions";
    /// One extension taken as a whole (trailing bytes after it).
    pub const EXTENSION: &str = "Extension";
    /// `Extension.extension_type`.
    pub const EXTENSION_TYPE: &str = "Extension.extension_type";
    /// `Extension.extension_data` (its `uint16` length and bytes).
    pub const EXTENSION_DATA: &str = "Extension.extension_data";
    /// The ticket inside a ClientHello SessionTicket extension.
    pub const SESSION_TICKET: &str = "SessionTicket.ticket";
    /// A ServerHello SessionTicket extension's data (must be empty).
    pub const SERVER_SESSION_TICKET: &str = "ServerHello.SessionTicket.extension_data";

    /// A handshake message taken as a whole (trailing bytes after it).
    pub const HANDSHAKE: &str = "Handshake";
    /// `Handshake.msg_type`.
    pub const HANDSHAKE_TYPE: &str = "Handshake.msg_type";
    /// `Handshake.length` (and the body it delimits).
    pub const HANDSHAKE_LENGTH: &str = "Handshake.length";
    /// The NewSessionTicket body taken as a whole (trailing bytes inside it).
    pub const NEW_SESSION_TICKET: &str = "NewSessionTicket";
    /// `NewSessionTicket.ticket_lifetime_hint`.
    pub const NST_LIFETIME_HINT: &str = "NewSessionTicket.ticket_lifetime_hint";
    /// `NewSessionTicket.ticket`.
    pub const NST_TICKET: &str = "NewSessionTicket.ticket";

    /// StatePlaintext taken as a whole (trailing bytes after it).
    pub const STATE_PLAINTEXT: &str = "StatePlaintext";
    /// `StatePlaintext.protocol_version`.
    pub const PROTOCOL_VERSION: &str = "StatePlaintext.protocol_version";
    /// `StatePlaintext.cipher_suite`.
    pub const CIPHER_SUITE: &str = "StatePlaintext.cipher_suite";
    /// `StatePlaintext.compression_method`.
    pub const COMPRESSION_METHOD: &str = "StatePlaintext.compression_method";
    /// `StatePlaintext.master_secret`.
    pub const MASTER_SECRET: &str = "StatePlaintext.master_secret";
    /// `StatePlaintext.timestamp`.
    pub const TIMESTAMP: &str = "StatePlaintext.timestamp";
    /// ClientIdentity taken as a whole (trailing bytes after it).
    pub const CLIENT_IDENTITY: &str = "ClientIdentity";
    /// `ClientIdentity.client_authentication_type`.
    pub const CLIENT_AUTH_TYPE: &str = "ClientIdentity.client_authentication_type";
    /// `ClientIdentity.certificate_list`.
    pub const CERTIFICATE_LIST: &str = "ClientIdentity.certificate_list";
    /// One `ASN.1Cert` in the certificate list.
    pub const CERTIFICATE: &str = "ASN.1Cert";
    /// `ClientIdentity.psk_identity`.
    pub const PSK_IDENTITY: &str = "ClientIdentity.psk_identity";

    /// A ticket taken as a whole (its length, trailing bytes).
    pub const TICKET: &str = "ticket";
    /// `ticket.key_name`.
    pub const TICKET_KEY_NAME: &str = "ticket.key_name";
    /// `ticket.iv`.
    pub const TICKET_IV: &str = "ticket.iv";
    /// `ticket.encrypted_state` (and, in RFC 5077 layout, its `uint16` length).
    pub const TICKET_ENCRYPTED_STATE: &str = "ticket.encrypted_state";
    /// `ticket.mac`.
    pub const TICKET_MAC: &str = "ticket.mac";
}
