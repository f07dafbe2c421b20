//! Tandem's channel protocols, each as its published specification defines it, without the
//! store or the HTTP server: what reaches Tandem is parsed, verified and decrypted here into
//! plain values, and what Tandem sends is built and sent here. `tandem-server` wires them to
//! inboxes (see its `channels` module).
//!
//! - [`email`]: an SMTP listener for a mail server or relay to forward to, MIME parsing with
//!   quoted history and signatures trimmed, threading, and outbound mail through SMTP.
//! - [`wecom`]: WeCom customer service (微信客服) and WeChat Official Account callbacks: the
//!   signature, AES-256-CBC message encryption, XML bodies, and their HTTP APIs with an access
//!   token cache.
//! - [`feishu`] and [`dingtalk`]: bot events for internal help desks.

pub mod dingtalk;
pub mod email;
pub mod feishu;
#[cfg(test)]
mod test_http;
pub mod token;
pub mod wecom;
