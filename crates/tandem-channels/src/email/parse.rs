//! A received message (RFC 5322 with MIME, RFC 2045–2049) read into the values Tandem works with.
//! mail-parser does the MIME work: transfer encodings, charsets (GBK and Big5 included, which
//! Chinese clients still send), encoded words in headers and file names.

use std::borrow::Cow;

use mail_parser::{Address, HeaderValue, MessageParser, MimeHeaders, PartType};

use super::{Attachment, Automatic, Mailbox, automatic, trim_reply};

/// A received mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundMail {
    /// Without angle brackets.
    pub message_id: Option<String>,
    /// The ids this mail answers (without angle brackets); normally one.
    pub in_reply_to: Vec<String>,
    /// The thread's ids, oldest first (without angle brackets).
    pub references: Vec<String>,
    pub from: Mailbox,
    pub reply_to: Option<Mailbox>,
    /// The addresses in To, lowercased.
    pub to: Vec<String>,
    /// The addresses in Cc, lowercased.
    pub cc: Vec<String>,
    pub subject: String,
    /// What the bot and the agent read: [`InboundMail::original`] with quoted history and
    /// signature trimmed ([`trim_reply`]).
    pub text: String,
    /// The whole body as plain text; an HTML-only mail converted to text.
    pub original: String,
    /// Every part that is not the body, inline images included.
    pub attachments: Vec<Attachment>,
    /// Set when no person wrote this mail: Tandem must not answer it.
    pub automatic: Option<Automatic>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("not an e-mail message: no header could be read")]
    NotAMessage,
    #[error("the mail has no From address, so there is nobody to answer")]
    NoSender,
    #[error("the mail has no text or HTML body and no attachment")]
    NoContent,
}

/// Reads a mail as received (the DATA of an SMTP transaction, or an `.eml` file).
pub fn parse(raw: &[u8]) -> Result<InboundMail, ParseError> {
    let message = MessageParser::default().parse(raw).ok_or(ParseError::NotAMessage)?;
    if message.headers().is_empty() {
        return Err(ParseError::NotAMessage);
    }
    let from = message.from().and_then(mailbox).ok_or(ParseError::NoSender)?;

    let bodies: Vec<Cow<'_, str>> =
        (0..message.text_body.len()).filter_map(|i| message.body_text(i)).collect();
    let has_html = !message.html_body.is_empty();
    let mut attachments = Vec::new();
    for &id in &message.attachments {
        if message.text_body.contains(&id) || message.html_body.contains(&id) {
            continue;
        }
        let Some(part) = message.parts.get(id as usize) else { continue };
        attachments.push(attachment(part, attachments.len() + 1));
    }
    if bodies.is_empty() && !has_html && attachments.is_empty() {
        return Err(ParseError::NoContent);
    }
    let original = bodies.join("\n").replace("\r\n", "\n");

    Ok(InboundMail {
        message_id: message.message_id().map(unbracket),
        in_reply_to: ids(message.in_reply_to()),
        references: ids(message.references()),
        from,
        reply_to: message.reply_to().and_then(mailbox),
        to: addresses(message.to()),
        cc: addresses(message.cc()),
        subject: message.subject().unwrap_or("").trim().to_owned(),
        text: trim_reply(&original),
        original,
        attachments,
        automatic: automatic(message.headers_raw()),
    })
}

fn mailbox(address: &Address<'_>) -> Option<Mailbox> {
    let first = address.first()?;
    let email = first.address.as_deref()?.trim();
    if email.is_empty() {
        return None;
    }
    let name = first.name.as_deref().map(str::trim).filter(|name| !name.is_empty());
    Some(Mailbox { name: name.map(str::to_owned), address: email.to_lowercase() })
}

fn addresses(address: Option<&Address<'_>>) -> Vec<String> {
    address
        .into_iter()
        .flat_map(|address| address.iter())
        .filter_map(|addr| addr.address.as_deref())
        .map(|email| email.trim().to_lowercase())
        .filter(|email| !email.is_empty())
        .collect()
}

fn unbracket(id: &str) -> String {
    id.trim().trim_start_matches('<').trim_end_matches('>').to_owned()
}

/// The message ids of In-Reply-To or References, which mail-parser reads as one id or a list.
fn ids(value: &HeaderValue<'_>) -> Vec<String> {
    match value {
        HeaderValue::Text(id) => vec![unbracket(id)],
        HeaderValue::TextList(list) => list.iter().map(|id| unbracket(id)).collect(),
        _ => Vec::new(),
    }
    .into_iter()
    .filter(|id| !id.is_empty())
    .collect()
}

fn attachment(part: &mail_parser::MessagePart<'_>, n: usize) -> Attachment {
    let content_type = match part.content_type() {
        Some(ct) => match ct.subtype() {
            Some(sub) => format!("{}/{}", ct.ctype(), sub),
            None => ct.ctype().to_owned(),
        },
        None => match &part.body {
            PartType::Message(_) => "message/rfc822".to_owned(),
            PartType::Text(_) => "text/plain".to_owned(),
            PartType::Html(_) => "text/html".to_owned(),
            _ => "application/octet-stream".to_owned(),
        },
    }
    .to_ascii_lowercase();
    let filename = match part.attachment_name().map(str::trim).filter(|name| !name.is_empty()) {
        Some(name) => name.to_owned(),
        None => format!("attachment-{n}{}", extension(&content_type)),
    };
    Attachment { filename, content_type, data: part.contents().to_vec() }
}

/// A file name extension for an unnamed part, so that whoever downloads it can open it.
fn extension(content_type: &str) -> &'static str {
    match content_type {
        "message/rfc822" => ".eml",
        "text/plain" => ".txt",
        "text/html" => ".html",
        "image/png" => ".png",
        "image/jpeg" => ".jpg",
        "image/gif" => ".gif",
        "application/pdf" => ".pdf",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_reply() {
        let raw = "From: =?UTF-8?B?5p2O5Lyf?= <Li.Wei@Example.CN>\r\n\
            To: Support <support+c42-abcdefghij@shop.example>, other@shop.example\r\n\
            Cc: boss@example.cn\r\n\
            Reply-To: li.private@example.cn\r\n\
            Subject: =?UTF-8?B?UmU6IOiuouWNlemXrumimA==?=\r\n\
            Message-ID: <m1@example.cn>\r\n\
            In-Reply-To: <tandem.42.1.abcdefghij@shop.example>\r\n\
            References: <a@x> <tandem.42.1.abcdefghij@shop.example>\r\n\
            Content-Type: text/plain; charset=utf-8\r\n\
            \r\n\
            还没收到货。\r\n\r\n在 2026年12月6日 10:03，客服 <support@shop.example> 写道：\r\n> 已发货\r\n";
        let mail = parse(raw.as_bytes()).unwrap();
        assert_eq!(mail.from, Mailbox::new(Some("李伟"), "li.wei@example.cn"));
        assert_eq!(mail.reply_to, Some(Mailbox::new(None, "li.private@example.cn")));
        assert_eq!(mail.to, ["support+c42-abcdefghij@shop.example", "other@shop.example"]);
        assert_eq!(mail.cc, ["boss@example.cn"]);
        assert_eq!(mail.subject, "Re: 订单问题");
        assert_eq!(mail.message_id.as_deref(), Some("m1@example.cn"));
        assert_eq!(mail.in_reply_to, ["tandem.42.1.abcdefghij@shop.example"]);
        assert_eq!(mail.references, ["a@x", "tandem.42.1.abcdefghij@shop.example"]);
        assert_eq!(mail.text, "还没收到货。");
        assert!(mail.original.contains("> 已发货"));
        assert!(mail.attachments.is_empty());
        assert_eq!(mail.automatic, None);
    }

    #[test]
    fn html_only_is_converted_and_attachments_are_collected() {
        let raw = "From: anna@example.com\r\n\
            Subject: Broken lamp\r\n\
            Auto-Submitted: auto-replied\r\n\
            MIME-Version: 1.0\r\n\
            Content-Type: multipart/mixed; boundary=\"b1\"\r\n\
            \r\n\
            --b1\r\n\
            Content-Type: multipart/related; boundary=\"b2\"\r\n\
            \r\n\
            --b2\r\n\
            Content-Type: text/html; charset=utf-8\r\n\
            \r\n\
            <p>The lamp <b>arrived broken</b>.</p><img src=\"cid:photo\">\r\n\
            --b2\r\n\
            Content-Type: image/png\r\n\
            Content-ID: <photo>\r\n\
            Content-Disposition: inline\r\n\
            Content-Transfer-Encoding: base64\r\n\
            \r\n\
            iVBORw0KGgo=\r\n\
            --b2--\r\n\
            --b1\r\n\
            Content-Type: application/pdf; name=\"=?UTF-8?B?5Y+R56WoLnBkZg==?=\"\r\n\
            Content-Disposition: attachment\r\n\
            Content-Transfer-Encoding: base64\r\n\
            \r\n\
            JVBERi0=\r\n\
            --b1--\r\n";
        let mail = parse(raw.as_bytes()).unwrap();
        assert!(
            mail.text.contains("The lamp") && mail.text.contains("arrived broken"),
            "{:?}",
            mail.text
        );
        assert!(!mail.text.contains('<'));
        assert_eq!(mail.automatic, Some(Automatic::AutoSubmitted));
        assert_eq!(mail.attachments.len(), 2, "{:?}", mail.attachments);
        let image = mail.attachments.iter().find(|a| a.content_type == "image/png").unwrap();
        assert_eq!(image.data, b"\x89PNG\r\n\x1a\n");
        assert!(image.filename.ends_with(".png"));
        let pdf = mail.attachments.iter().find(|a| a.content_type == "application/pdf").unwrap();
        assert_eq!((pdf.filename.as_str(), pdf.data.as_slice()), ("发票.pdf", b"%PDF-".as_slice()));
    }

    #[test]
    fn refusals() {
        assert_eq!(parse(b""), Err(ParseError::NotAMessage));
        assert_eq!(parse(b"Subject: hi\r\n\r\nhello\r\n"), Err(ParseError::NoSender));
        let empty =
            b"From: a@b.example\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x--\r\n";
        assert_eq!(parse(empty), Err(ParseError::NoContent));
        assert!(ParseError::NoSender.to_string().contains("From"));
    }
}
