//! Resumption decisions (RFC 5077 sections 3.1-3.4, 5.1, 5.6, 5.8), server and client side.
#![forbid(unsafe_code)]
