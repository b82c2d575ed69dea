//! Ticket formats: strict RFC 5077, OpenSSL/nginx-compatible, and AEAD. Each seals and opens.
#![forbid(unsafe_code)]
