//! Which conversation a mail continues. Tandem puts the conversation's id where replies carry it
//! back: in the Message-IDs of its mails (which replies quote in In-Reply-To and References), in
//! a reply address (`support+c42-…@`, for clients that drop those headers) and in a subject tag
//! (for people who start a new mail and paste the subject). Each carries a short HMAC of the id
//! under a secret, so a sender who changes the number finds no conversation rather than someone
//! else's: a mail with a wrong token starts a new conversation instead.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::InboundMail;

/// Characters of token: 10 base32 characters are 50 bits, far beyond guessing by mail.
const TOKEN_LEN: usize = 10;
/// RFC 4648's base32 alphabet, lowercased: local parts and subjects survive case changes better
/// in one case, and the check lowercases what it reads.
const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// The secret that signs conversation ids.
#[derive(Clone)]
pub struct ThreadKey {
    secret: Vec<u8>,
}

impl std::fmt::Debug for ThreadKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ThreadKey(..)")
    }
}

impl ThreadKey {
    pub fn new(secret: &[u8]) -> ThreadKey {
        ThreadKey { secret: secret.to_vec() }
    }

    fn token(&self, conversation: i64) -> String {
        // HMAC accepts keys of any length.
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("any key length");
        mac.update(b"tandem-email-thread:");
        mac.update(conversation.to_string().as_bytes());
        let digest = mac.finalize().into_bytes();
        let bits = digest[..8].iter().fold(0u64, |acc, &byte| acc << 8 | u64::from(byte));
        (0..TOKEN_LEN).map(|i| char::from(BASE32[(bits >> (59 - 5 * i) & 31) as usize])).collect()
    }

    /// Whether `token` (as read, in any case) is the one for `conversation`.
    fn verify(&self, conversation: i64, token: &str) -> bool {
        let expected = self.token(conversation);
        let token = token.to_ascii_lowercase();
        // Compared in constant time: the answer must not tell how many characters were right.
        token.len() == expected.len()
            && token.bytes().zip(expected.bytes()).fold(0u8, |diff, (a, b)| diff | (a ^ b)) == 0
    }

    /// The Message-ID (without angle brackets) for the `seq`th mail Tandem sends in
    /// `conversation`: `tandem.<conversation>.<seq>.<token>@<domain>`.
    pub fn message_id(&self, conversation: i64, seq: i64, domain: &str) -> String {
        format!("tandem.{conversation}.{seq}.{}@{domain}", self.token(conversation))
    }

    /// The address replies to `conversation` go to: `<local>+c<conversation>-<token>@<domain>`
    /// (a subaddress, which mail servers deliver to `local`).
    pub fn reply_address(&self, local: &str, domain: &str, conversation: i64) -> String {
        format!("{local}+c{conversation}-{}@{domain}", self.token(conversation))
    }

    /// The tag Tandem's subjects end with: `[#<conversation>-<token>]`.
    pub fn subject_tag(&self, conversation: i64) -> String {
        format!("[#{conversation}-{}]", self.token(conversation))
    }

    /// The conversation `mail` continues, from (in this order) the Message-IDs it answers, the
    /// addresses it was sent to, and its subject; only ids with a valid token count.
    pub fn conversation_of(&self, mail: &InboundMail) -> Option<i64> {
        let ids = mail.in_reply_to.iter().chain(mail.references.iter().rev());
        ids.filter_map(|id| self.in_message_id(id))
            .chain(mail.to.iter().chain(&mail.cc).filter_map(|to| self.in_reply_address(to)))
            .chain(self.in_subject(&mail.subject))
            .next()
    }

    fn in_message_id(&self, id: &str) -> Option<i64> {
        let id = id.trim().trim_start_matches('<').trim_end_matches('>');
        let (local, _domain) = id.rsplit_once('@')?;
        let rest = local.strip_prefix("tandem.")?;
        let (rest, token) = rest.rsplit_once('.')?;
        let (conversation, seq) = rest.rsplit_once('.')?;
        seq.parse::<i64>().ok()?;
        self.checked(conversation, token)
    }

    fn in_reply_address(&self, address: &str) -> Option<i64> {
        let (local, _domain) = address.rsplit_once('@')?;
        let (_, detail) = local.rsplit_once('+')?;
        let detail = detail.strip_prefix('c').or_else(|| detail.strip_prefix('C'))?;
        let (conversation, token) = detail.rsplit_once('-')?;
        self.checked(conversation, token)
    }

    fn in_subject(&self, subject: &str) -> Option<i64> {
        subject.match_indices("[#").find_map(|(at, _)| {
            let tag = &subject[at + 2..];
            let tag = &tag[..tag.find(']')?];
            let (conversation, token) = tag.trim().rsplit_once('-')?;
            self.checked(conversation, token)
        })
    }

    fn checked(&self, conversation: &str, token: &str) -> Option<i64> {
        let conversation = conversation.parse::<i64>().ok()?;
        self.verify(conversation, token).then_some(conversation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::email::Mailbox;

    fn mail() -> InboundMail {
        InboundMail {
            message_id: Some("abc@client.example".into()),
            in_reply_to: Vec::new(),
            references: Vec::new(),
            from: Mailbox::new(None, "anna@example.com"),
            reply_to: None,
            to: vec!["support@shop.example".into()],
            cc: Vec::new(),
            subject: "Help".into(),
            text: String::new(),
            original: String::new(),
            attachments: Vec::new(),
            automatic: None,
        }
    }

    #[test]
    fn formats() {
        let key = ThreadKey::new(b"secret");
        let token = key.token(42);
        assert_eq!(token.len(), TOKEN_LEN);
        assert!(token.bytes().all(|b| BASE32.contains(&b)));
        assert_eq!(
            key.message_id(42, 3, "shop.example"),
            format!("tandem.42.3.{token}@shop.example")
        );
        assert_eq!(
            key.reply_address("help", "shop.example", 42),
            format!("help+c42-{token}@shop.example")
        );
        assert_eq!(key.subject_tag(42), format!("[#42-{token}]"));
        assert_ne!(key.token(43), token);
        assert_ne!(ThreadKey::new(b"other").token(42), token);
        assert_eq!(format!("{key:?}"), "ThreadKey(..)");
    }

    #[test]
    fn each_place_is_looked_at_in_order() {
        let key = ThreadKey::new(b"secret");
        let mut m = mail();
        assert_eq!(key.conversation_of(&m), None);

        m.subject = format!("Re: 订单 {}", key.subject_tag(7));
        assert_eq!(key.conversation_of(&m), Some(7));

        m.cc = vec![key.reply_address("support", "shop.example", 8).to_uppercase()];
        assert_eq!(key.conversation_of(&m), Some(8), "recipients before the subject");

        m.references = vec!["x@y".into(), key.message_id(9, 1, "shop.example")];
        assert_eq!(key.conversation_of(&m), Some(9), "references before recipients");

        m.in_reply_to = vec![key.message_id(10, 2, "shop.example")];
        assert_eq!(key.conversation_of(&m), Some(10), "in-reply-to first");
    }

    #[test]
    fn a_forged_or_altered_token_is_refused() {
        let key = ThreadKey::new(b"secret");
        let theirs = ThreadKey::new(b"guess");
        let mut m = mail();
        m.in_reply_to = vec![theirs.message_id(5, 1, "shop.example")];
        m.to = vec![key.reply_address("support", "shop.example", 5).replace("+c5-", "+c6-")];
        m.subject = format!("[#6-{}]", key.token(5));
        assert_eq!(key.conversation_of(&m), None);
        m.subject = format!("Fwd: [#5-{}] [#5-{}]", key.token(6), key.token(5));
        assert_eq!(key.conversation_of(&m), Some(5));
    }
}
