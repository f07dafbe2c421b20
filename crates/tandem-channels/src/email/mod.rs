//! E-mail as a channel: mail reaches Tandem through an SMTP listener that the business's own
//! mail server or relay forwards to, is parsed into an [`InboundMail`] with the quoted history
//! and signature trimmed, is matched to its conversation with [`ThreadKey`], and answers leave
//! through the business's SMTP server with [`Sender`].
//!
//! - [`parse`] reads a message (RFC 5322 and MIME) into plain values; [`trim_reply`] keeps only
//!   what the customer wrote this time, for English and Chinese mail clients.
//! - [`automatic`] and [`envelope_is_bounce`] recognise mail that no person wrote (auto-replies,
//!   mailing lists, bounces): Tandem never answers it, or two robots would answer each other
//!   forever.
//! - [`ThreadKey`] signs the Message-IDs, reply addresses and subject tags Tandem hands out, so a
//!   reply finds its conversation and nobody writes into someone else's by guessing a number.
//! - [`serve`] is the server side of SMTP (RFC 5321), without STARTTLS or AUTH: it is meant to
//!   listen on a private address behind the business's mail server, which does TLS, spam
//!   filtering and sender authentication, and relays what it accepted.
//! - [`compose`], [`render`] and [`Sender`] build and send the answers.

mod automatic;
mod outbound;
mod parse;
mod send;
mod smtp;
mod thread;
mod trim;

pub use automatic::{Automatic, automatic, envelope_is_bounce};
pub use outbound::{ComposeError, OutboundMail, choice_from_reply, compose, render};
pub use parse::{InboundMail, ParseError, parse};
pub use send::{Security, SendError, Sender, SmtpSettings};
pub use smtp::{Envelope, ListenerConfig, MailHandler, Recipient, Refusal, serve};
pub use thread::ThreadKey;
pub use trim::trim_reply;

/// A person's address with the display name their client sent, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub name: Option<String>,
    /// Lowercased when parsed: the domain is case-insensitive and, in practice, so is the local
    /// part, and the address identifies the customer.
    pub address: String,
}

impl Mailbox {
    pub fn new(name: Option<&str>, address: &str) -> Mailbox {
        Mailbox { name: name.map(str::to_owned), address: address.to_owned() }
    }
}

/// A file that came with a mail, or goes out with one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub filename: String,
    /// `type/subtype`, lowercased, without parameters.
    pub content_type: String,
    pub data: Vec<u8>,
}
