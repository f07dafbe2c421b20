//! The mails Tandem sends: an answer as plain text and HTML (clients show the one they prefer),
//! threaded into the customer's conversation with In-Reply-To and References (RFC 5322 §3.6.4),
//! and marked `Auto-Submitted: auto-replied` when the bot wrote it (RFC 3834), so that the
//! customer's own auto-responder stays quiet.

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment as LettreAttachment, Mailbox as LettreMailbox, MultiPart};

use super::{Attachment, Mailbox};

/// A mail to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundMail {
    pub from: Mailbox,
    pub to: Mailbox,
    /// Where replies go, normally [`ThreadKey::reply_address`](super::ThreadKey::reply_address).
    pub reply_to: Option<String>,
    pub subject: String,
    /// Without angle brackets, normally [`ThreadKey::message_id`](super::ThreadKey::message_id).
    pub message_id: String,
    /// The customer's mail this answers (without angle brackets).
    pub in_reply_to: Option<String>,
    /// The thread so far, oldest first (without angle brackets); `in_reply_to` is added at the end
    /// when missing.
    pub references: Vec<String>,
    pub text: String,
    pub html: String,
    /// Files an agent sends along.
    pub attachments: Vec<Attachment>,
    /// Set for what the bot wrote; not for an agent's answers, which a person wrote.
    pub auto_submitted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComposeError {
    #[error("invalid e-mail address {address:?}: {reason}")]
    Address { address: String, reason: String },
    #[error("invalid content type {0:?} for an attachment")]
    ContentType(String),
    #[error("the mail could not be built: {0}")]
    Build(String),
}

fn lettre_mailbox(mailbox: &Mailbox) -> Result<LettreMailbox, ComposeError> {
    let address = mailbox.address.parse().map_err(|error: lettre::address::AddressError| {
        ComposeError::Address { address: mailbox.address.clone(), reason: error.to_string() }
    })?;
    let name = mailbox.name.clone().filter(|name| !name.trim().is_empty());
    Ok(LettreMailbox::new(name, address))
}

fn bracket(id: &str) -> String {
    format!("<{}>", id.trim().trim_start_matches('<').trim_end_matches('>'))
}

/// Whether a subject already says it is a reply, in the prefixes common clients write.
fn is_reply_subject(subject: &str) -> bool {
    let lower = subject.trim_start().to_lowercase();
    ["re:", "re：", "aw:", "sv:", "antw:", "回复:", "回复：", "答复:", "答复：", "回覆:", "回覆："]
        .iter()
        .any(|prefix| lower.starts_with(prefix))
}

/// Builds the message: multipart/alternative text and HTML (inside multipart/mixed when there are
/// attachments), with the threading headers.
pub fn compose(mail: &OutboundMail) -> Result<lettre::Message, ComposeError> {
    let subject = match &mail.in_reply_to {
        Some(_) if !is_reply_subject(&mail.subject) => format!("Re: {}", mail.subject.trim()),
        _ => mail.subject.trim().to_owned(),
    };
    let mut builder = lettre::Message::builder()
        .from(lettre_mailbox(&mail.from)?)
        .to(lettre_mailbox(&mail.to)?)
        .subject(subject)
        .message_id(Some(bracket(&mail.message_id)));
    if let Some(reply_to) = &mail.reply_to {
        builder = builder.reply_to(lettre_mailbox(&Mailbox::new(None, reply_to))?);
    }
    let mut references: Vec<String> = mail.references.iter().map(|id| bracket(id)).collect();
    if let Some(parent) = &mail.in_reply_to {
        builder = builder.in_reply_to(bracket(parent));
        if !references.contains(&bracket(parent)) {
            references.push(bracket(parent));
        }
    }
    if !references.is_empty() {
        builder = builder.references(references.join(" "));
    }
    if mail.auto_submitted {
        let name = HeaderName::new_from_ascii_str("Auto-Submitted");
        builder = builder.raw_header(HeaderValue::new(name, "auto-replied".to_owned()));
        // Exchange's own switch for the same thing: no out-of-office answer to this.
        let name = HeaderName::new_from_ascii_str("X-Auto-Response-Suppress");
        builder = builder.raw_header(HeaderValue::new(name, "All".to_owned()));
    }
    let body = MultiPart::alternative_plain_html(mail.text.clone(), mail.html.clone());
    let message = if mail.attachments.is_empty() {
        builder.multipart(body)
    } else {
        let mut mixed = MultiPart::mixed().multipart(body);
        for file in &mail.attachments {
            let content_type = ContentType::parse(&file.content_type)
                .map_err(|_| ComposeError::ContentType(file.content_type.clone()))?;
            mixed = mixed.singlepart(
                LettreAttachment::new(file.filename.clone()).body(file.data.clone(), content_type),
            );
        }
        builder.multipart(mixed)
    };
    message.map_err(|error| ComposeError::Build(error.to_string()))
}

/// An answer as plain text and as HTML. E-mail has no buttons, so `choices` become numbered lines
/// the customer answers with a number ([`choice_from_reply`]); `footer` goes below a signature
/// separator, where the customer's client leaves it out of the quoted reply's new text.
pub fn render(body: &str, choices: &[String], footer: Option<&str>) -> (String, String) {
    let body = body.trim().replace("\r\n", "\n");
    let numbered: Vec<String> = choices
        .iter()
        .enumerate()
        .map(|(i, choice)| format!("{}. {}", i + 1, choice.trim()))
        .collect();

    let mut text = body.clone();
    if !numbered.is_empty() {
        text.push_str("\n\n");
        text.push_str(&numbered.join("\n"));
    }
    let footer = footer.map(str::trim).filter(|footer| !footer.is_empty());
    if let Some(footer) = footer {
        text.push_str("\n\n-- \n");
        text.push_str(footer);
    }
    text.push('\n');

    let mut html = String::from("<!DOCTYPE html>\n<html><body>\n");
    for paragraph in body.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        html.push_str(&paragraph_html(paragraph));
    }
    if !numbered.is_empty() {
        html.push_str(&paragraph_html(&numbered.join("\n")));
    }
    if let Some(footer) = footer {
        html.push_str("<div style=\"color:#666;font-size:smaller\">-- <br>\n");
        html.push_str(&lines_html(footer));
        html.push_str("</div>\n");
    }
    html.push_str("</body></html>\n");
    (text, html)
}

fn paragraph_html(paragraph: &str) -> String {
    format!("<p>{}</p>\n", lines_html(paragraph))
}

fn lines_html(text: &str) -> String {
    text.lines().map(linkify).collect::<Vec<_>>().join("<br>\n")
}

/// One line escaped, with its http(s) links made clickable.
fn linkify(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(start) = ["https://", "http://"].iter().filter_map(|s| rest.find(s)).min() {
        out.push_str(&escape(&rest[..start]));
        let link = &rest[start..];
        let end = link
            .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"') || !c.is_ascii())
            .unwrap_or(link.len());
        // Punctuation that ends a sentence is not part of the link.
        let url = link[..end].trim_end_matches(['.', ',', ';', ':', '!', '?', ')']);
        let url = if url.len() <= "https://".len() { &link[..end] } else { url };
        out.push_str(&format!("<a href=\"{0}\">{0}</a>", escape(url)));
        rest = &link[url.len()..];
    }
    out.push_str(&escape(rest));
    out
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The choice (0-based) a reply picks: a reply that is only its number ("2", "２", "2.", "#2",
/// "二") or only the choice's own text. `text` should be the trimmed reply
/// ([`InboundMail::text`](super::InboundMail::text)).
pub fn choice_from_reply(text: &str, choices: &[String]) -> Option<usize> {
    let reply: String = text
        .trim()
        .chars()
        .map(|c| match c {
            // Full-width digits, which Chinese input methods type.
            '０'..='９' => char::from(b'0' + (c as u32 - '０' as u32) as u8),
            _ => c,
        })
        .collect();
    let reply = reply.trim_start_matches(['#', '(', '（', '第']);
    let reply = reply
        .trim_end_matches(['.', '。', '．', ')', '）', '、', '个', '項', '项', '!', '！', ' ']);
    let number = match reply {
        "一" => Some(1),
        "二" | "两" => Some(2),
        "三" => Some(3),
        "四" => Some(4),
        "五" => Some(5),
        "六" => Some(6),
        "七" => Some(7),
        "八" => Some(8),
        "九" => Some(9),
        "十" => Some(10),
        _ if !reply.is_empty() && reply.chars().all(|c| c.is_ascii_digit()) => reply.parse().ok(),
        _ => None,
    };
    if let Some(n) = number {
        return (1..=choices.len()).contains(&n).then(|| n - 1);
    }
    let text = text.trim().to_lowercase();
    choices.iter().position(|choice| choice.trim().to_lowercase() == text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail() -> OutboundMail {
        OutboundMail {
            from: Mailbox::new(Some("Tandem 客服"), "support@shop.example"),
            to: Mailbox::new(Some("王芳"), "wangfang@example.cn"),
            reply_to: Some("support+c42-abcdefghij@shop.example".into()),
            subject: "订单问题".into(),
            message_id: "tandem.42.2.abcdefghij@shop.example".into(),
            in_reply_to: Some("m1@example.cn".into()),
            references: vec!["tandem.42.1.abcdefghij@shop.example".into()],
            text: "您好".into(),
            html: "<p>您好</p>".into(),
            attachments: Vec::new(),
            auto_submitted: true,
        }
    }

    #[test]
    fn compose_threads_and_marks_the_bot_s_mail() {
        let raw = String::from_utf8(compose(&mail()).unwrap().formatted()).unwrap();
        let parsed = mail_parser::MessageParser::default().parse(raw.as_bytes()).unwrap();
        assert_eq!(parsed.subject(), Some("Re: 订单问题"));
        assert_eq!(parsed.message_id(), Some("tandem.42.2.abcdefghij@shop.example"));
        assert_eq!(parsed.in_reply_to().as_text(), Some("m1@example.cn"));
        let references: Vec<&str> = parsed
            .references()
            .as_text_list()
            .map(|list| list.iter().map(|id| id.as_ref()).collect())
            .unwrap_or_default();
        assert_eq!(references, ["tandem.42.1.abcdefghij@shop.example", "m1@example.cn"]);
        assert!(raw.contains("Auto-Submitted: auto-replied"), "{raw}");
        assert!(raw.contains("multipart/alternative"));
        assert_eq!(parsed.body_text(0).as_deref(), Some("您好"));

        let mut by_agent = mail();
        by_agent.auto_submitted = false;
        by_agent.subject = "RE: 订单问题".into();
        let raw = String::from_utf8(compose(&by_agent).unwrap().formatted()).unwrap();
        assert!(!raw.contains("Auto-Submitted"));
        let parsed = mail_parser::MessageParser::default().parse(raw.as_bytes()).unwrap();
        assert_eq!(parsed.subject(), Some("RE: 订单问题"), "no second Re:");
    }

    #[test]
    fn compose_refuses_a_bad_address() {
        let mut bad = mail();
        bad.to.address = "not an address".into();
        assert!(matches!(compose(&bad), Err(ComposeError::Address { .. })));
    }

    #[test]
    fn render_numbers_choices_and_escapes() {
        let choices = vec!["Track my order".to_owned(), "退货 <return>".to_owned()];
        let (text, html) =
            render("Hello!\n\nSee https://shop.example/help.\nBye", &choices, Some("Shop & Co"));
        assert_eq!(
            text,
            "Hello!\n\nSee https://shop.example/help.\nBye\n\n1. Track my order\n2. 退货 <return>\n\n-- \nShop & Co\n"
        );
        assert!(html.contains("<p>Hello!</p>"));
        assert!(html.contains(
            "<p>See <a href=\"https://shop.example/help\">https://shop.example/help</a>.<br>\nBye</p>"
        ));
        assert!(html.contains("<p>1. Track my order<br>\n2. 退货 &lt;return&gt;</p>"));
        assert!(html.contains("Shop &amp; Co"));
        let (text, html) = render("<b>hi</b>", &[], None);
        assert_eq!(text, "<b>hi</b>\n");
        assert!(html.contains("<p>&lt;b&gt;hi&lt;/b&gt;</p>"));
    }

    #[test]
    fn choices_from_replies() {
        let choices = vec!["Track my order".to_owned(), "Return".to_owned(), "其他".to_owned()];
        assert_eq!(choice_from_reply("1", &choices), Some(0));
        assert_eq!(choice_from_reply(" 2. ", &choices), Some(1));
        assert_eq!(choice_from_reply("３", &choices), Some(2));
        assert_eq!(choice_from_reply("#2", &choices), Some(1));
        assert_eq!(choice_from_reply("二", &choices), Some(1));
        assert_eq!(choice_from_reply("第3个", &choices), Some(2));
        assert_eq!(choice_from_reply("return", &choices), Some(1));
        assert_eq!(choice_from_reply("4", &choices), None);
        assert_eq!(choice_from_reply("0", &choices), None);
        assert_eq!(choice_from_reply("1 more question", &choices), None);
        assert_eq!(choice_from_reply("", &choices), None);
    }
}
