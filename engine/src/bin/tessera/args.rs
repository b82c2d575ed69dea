//! The command line (the exact interface scripts and tests depend on; see README "CLI").

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Seal, open and inspect RFC 5077 TLS session tickets; manage ticket key files.
///
/// Exit status: 0 success, 1 ticket rejected (reason on stderr), 2 usage or file error.
#[derive(Debug, Parser)]
#[command(name = "tessera", version, max_term_width = 100)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Generate, show and convert ticket key files.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Seal a session state into a ticket with the key file's sealing key.
    ///
    /// The sealing key is nginx's one key, HAProxy's second-to-last line, or tessera's first
    /// `role=seal` key; a key past its `seal_until` is refused.
    Seal(SealArgs),
    /// Open a ticket with the key it names; exit 1 with the reason when it is rejected.
    Open(OpenArgs),
    /// Decode a NewSessionTicket, SessionTicket extension, ticket layout or StatePlaintext
    /// without keys; JSON on stdout.
    Inspect(InspectArgs),
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Write a fresh random key file (one key) from the OS random source.
    Gen(GenArgs),
    /// List the keys in a file: names, algorithms, roles, times. Never prints secrets.
    Show(ShowArgs),
    /// Rewrite a key file in another format (same keys, same order).
    Convert(ConvertArgs),
}

/// Key-file formats (README "Key files").
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum KeyFormatArg {
    /// tessera's own text format, with timestamps.
    Tessera,
    /// nginx `ssl_session_ticket_key`, 48 bytes: name16 | aes16 | hmac16.
    Nginx48,
    /// nginx `ssl_session_ticket_key`, 80 bytes: name16 | hmac32 | aes32.
    Nginx80,
    /// HAProxy `tls-ticket-keys`, base64 lines of 48 bytes: name16 | aes16 | hmac16.
    Haproxy48,
    /// HAProxy `tls-ticket-keys`, base64 lines of 80 bytes: name16 | aes32 | hmac32.
    Haproxy80,
}

/// Ticket formats (README "Ticket formats").
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum TicketFormatArg {
    /// RFC 5077 section 4 exactly: the MAC covers the 2-byte length.
    Rfc5077,
    /// OpenSSL/BoringSSL/nginx/HAProxy: no length field, MAC over name|iv|ciphertext.
    Openssl,
    /// XAES-256-GCM (AES-GCM under a per-ticket derived key, 24-byte random nonce), key name
    /// as associated data.
    Aead,
}

/// What `inspect` decodes its input as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum InspectAs {
    /// NewSessionTicket (handshake type 4), with or without the 4-byte handshake header.
    Nst,
    /// SessionTicket extension (type 35), or an extensions block that contains one.
    Extension,
    /// A ticket's public layout: key name, IV/nonce, lengths.
    Ticket,
    /// RFC 5077 StatePlaintext.
    State,
}

/// A key file and, optionally, its format (detected from the content when absent: 48/80 raw
/// bytes = nginx, base64 lines = HAProxy, tessera's header = tessera).
#[derive(Debug, Args)]
pub(crate) struct KeyFileArgs {
    /// Key file.
    #[arg(long, value_name = "FILE")]
    pub(crate) key_file: PathBuf,
    /// Key-file format; detected from the file when absent.
    #[arg(long, value_name = "F")]
    pub(crate) key_format: Option<KeyFormatArg>,
}

#[derive(Debug, Args)]
pub(crate) struct GenArgs {
    /// Key-file format to write.
    #[arg(long, value_name = "F")]
    pub(crate) key_format: KeyFormatArg,
    /// Where to write the key file (created with mode 0600 on Unix; an existing file is
    /// replaced).
    #[arg(long, value_name = "FILE")]
    pub(crate) out: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    #[command(flatten)]
    pub(crate) key: KeyFileArgs,
}

#[derive(Debug, Args)]
pub(crate) struct ConvertArgs {
    #[command(flatten)]
    pub(crate) key: KeyFileArgs,
    /// Format to write.
    #[arg(long, value_name = "G")]
    pub(crate) to: KeyFormatArg,
    /// Where to write the converted key file.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct SealArgs {
    #[command(flatten)]
    pub(crate) key: KeyFileArgs,
    /// Ticket format.
    #[arg(long, value_name = "FORMAT")]
    pub(crate) ticket_format: TicketFormatArg,
    /// The session state to seal (raw bytes; `-` = stdin).
    #[arg(long = "in", value_name = "STATE")]
    pub(crate) input: PathBuf,
    /// Where to write the ticket (raw bytes; `-` = stdout).
    #[arg(long, value_name = "TICKET")]
    pub(crate) out: PathBuf,
    /// FOR KNOWN-ANSWER TESTS ONLY: use this IV (CBC formats, 16 bytes) or nonce (aead, 24 bytes) in hex
    /// instead of a random one. Reusing an IV/nonce under one key leaks plaintext (and for
    /// aead, the authentication key); never use it for live tickets.
    #[arg(long, value_name = "HEX")]
    pub(crate) iv: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct OpenArgs {
    #[command(flatten)]
    pub(crate) key: KeyFileArgs,
    /// Ticket format.
    #[arg(long, value_name = "FORMAT")]
    pub(crate) ticket_format: TicketFormatArg,
    /// The ticket to open (raw bytes; `-` = stdin).
    #[arg(long = "in", value_name = "TICKET")]
    pub(crate) input: PathBuf,
    /// Where to write the session state (raw bytes; `-` = stdout).
    #[arg(long, value_name = "STATE")]
    pub(crate) out: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    /// Input file (`-` = stdin).
    #[arg(long = "in", value_name = "FILE")]
    pub(crate) input: PathBuf,
    /// The input is hex text (whitespace ignored) rather than raw bytes.
    #[arg(long)]
    pub(crate) hex: bool,
    /// Decode as this structure; when absent, tries nst, extension, state, then ticket.
    #[arg(long = "as", value_name = "KIND")]
    pub(crate) kind: Option<InspectAs>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::*;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
