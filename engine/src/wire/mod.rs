//! RFC 5077 wire codecs (safe code only): SessionTicket extension, NewSessionTicket, StatePlaintext.
#![forbid(unsafe_code)]
