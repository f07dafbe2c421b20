//! What WeCom customer service and Official Accounts POST to Tandem: the encrypted envelope,
//! the message or event inside it, replay protection, and the encrypted passive reply.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

use super::crypto::{Crypto, CryptoError};
use super::xml::{self, cdata};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("malformed callback: {0}")]
    Malformed(String),
    #[error("the callback's timestamp {timestamp} is outside the accepted window")]
    Stale { timestamp: i64 },
    #[error("the callback's timestamp and nonce were seen before (a replay)")]
    Replayed,
}

/// A decrypted callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// An Official Account follower's message. `to` is the account's original id, `from` the
    /// follower's openid.
    Message { to: String, from: String, create_time: i64, msg_id: String, kind: MessageKind },
    /// An Official Account event (`subscribe`, `unsubscribe`, `CLICK`, `SCAN`…), as written.
    Event {
        to: String,
        from: String,
        event: String,
        /// Absent or empty in the callback: `None`.
        event_key: Option<String>,
    },
    /// WeCom customer service's notice that messages or events wait: it carries none of them,
    /// only the `token` that lets [`super::WecomClient::sync_msg`] fetch them promptly.
    KfNotice { token: String, open_kfid: String, create_time: i64 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageKind {
    Text(String),
    Image {
        url: String,
        media_id: String,
    },
    /// `recognition` is the speech recognised by WeChat, when the account has it turned on.
    Voice {
        media_id: String,
        format: String,
        recognition: Option<String>,
    },
    /// Any other `MsgType` (video, location, link…), as written.
    Other(String),
}

/// The event WeCom customer service sends for "call sync_msg".
const KF_NOTICE: &str = "kf_msg_or_event";

/// Reads a decrypted callback (or a plain-mode body).
pub fn parse_message(xml: &str) -> Result<Inbound, CallbackError> {
    let fields = xml::parse(xml)?;
    let msg_type = fields.require("MsgType")?;
    let create_time = |fields: &xml::Fields| -> Result<i64, CallbackError> {
        let raw = fields.require("CreateTime")?;
        raw.trim()
            .parse()
            .map_err(|_| CallbackError::Malformed(format!("<CreateTime> is not a number: {raw:?}")))
    };
    if msg_type == "event" {
        let event = fields.require("Event")?;
        if event == KF_NOTICE {
            return Ok(Inbound::KfNotice {
                token: fields.require("Token")?.to_owned(),
                open_kfid: fields.require("OpenKfId")?.to_owned(),
                create_time: create_time(&fields)?,
            });
        }
        return Ok(Inbound::Event {
            to: fields.require("ToUserName")?.to_owned(),
            from: fields.require("FromUserName")?.to_owned(),
            event: event.to_owned(),
            event_key: fields.get("EventKey").filter(|key| !key.is_empty()).map(str::to_owned),
        });
    }
    let kind = match msg_type {
        "text" => MessageKind::Text(fields.require("Content")?.to_owned()),
        "image" => MessageKind::Image {
            url: fields.require("PicUrl")?.to_owned(),
            media_id: fields.require("MediaId")?.to_owned(),
        },
        "voice" => MessageKind::Voice {
            media_id: fields.require("MediaId")?.to_owned(),
            format: fields.get("Format").unwrap_or_default().to_owned(),
            recognition: fields
                .get("Recognition")
                .filter(|text| !text.is_empty())
                .map(str::to_owned),
        },
        other => MessageKind::Other(other.to_owned()),
    };
    Ok(Inbound::Message {
        to: fields.require("ToUserName")?.to_owned(),
        from: fields.require("FromUserName")?.to_owned(),
        create_time: create_time(&fields)?,
        msg_id: fields.require("MsgId")?.trim().to_owned(),
        kind,
    })
}

impl Crypto {
    /// Opens an encrypted callback body (`<xml><ToUserName/><Encrypt/>…</xml>`): checks
    /// `msg_signature` over its `Encrypt` and answers the decrypted inner XML, for
    /// [`parse_message`].
    pub fn open_envelope(
        &self,
        body: &[u8],
        msg_signature: &str,
        timestamp: &str,
        nonce: &str,
    ) -> Result<String, CallbackError> {
        let body = std::str::from_utf8(body)
            .map_err(|_| CallbackError::Malformed("the callback body is not UTF-8".to_owned()))?;
        let fields = xml::parse(body)?;
        let encrypted = fields.require("Encrypt")?;
        self.verify(msg_signature, timestamp, nonce, encrypted)?;
        Ok(self.decrypt(encrypted)?)
    }

    /// The body of an encrypted passive reply to a callback: `inner_xml` (a reply such as
    /// [`text_reply`] builds) encrypted and signed with the given timestamp and nonce.
    pub fn encrypted_reply(&self, inner_xml: &str, timestamp: &str, nonce: &str) -> String {
        let encrypted = self.encrypt(inner_xml);
        let signature = self.signature(timestamp, nonce, &encrypted);
        format!(
            "<xml><Encrypt>{}</Encrypt><MsgSignature>{}</MsgSignature><TimeStamp>{}</TimeStamp><Nonce>{}</Nonce></xml>",
            cdata(&encrypted),
            cdata(&signature),
            xml::escape(timestamp),
            cdata(nonce),
        )
    }
}

/// A passive text reply to an Official Account message: `to` is the follower's openid (the
/// message's `from`), `from` the account (the message's `to`).
pub fn text_reply(to: &str, from: &str, create_time: i64, content: &str) -> String {
    format!(
        "<xml><ToUserName>{}</ToUserName><FromUserName>{}</FromUserName><CreateTime>{create_time}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content>{}</Content></xml>",
        cdata(to),
        cdata(from),
        cdata(content),
    )
}

/// How many (timestamp, nonce) pairs a guard remembers at most. Past that the oldest are
/// forgotten: a burst should not make the guard refuse genuine callbacks, and a replayed
/// callback that slips through is one that already passed its signature check.
const REMEMBERED: usize = 100_000;

/// Refuses callbacks whose timestamp is far from now, and a (timestamp, nonce) seen before
/// within that window: the signature covers both, so a captured request could otherwise be
/// sent again. Check it after the signature, so forged requests do not fill its memory.
#[derive(Debug)]
pub struct ReplayGuard {
    window: i64,
    capacity: usize,
    seen: Mutex<BTreeSet<(i64, String)>>,
}

impl ReplayGuard {
    /// `window` is how far a timestamp may be from now either way (clocks drift, and the
    /// platforms retry a callback for a while).
    pub fn new(window: Duration) -> ReplayGuard {
        ReplayGuard::with_capacity(window, REMEMBERED)
    }

    pub fn with_capacity(window: Duration, capacity: usize) -> ReplayGuard {
        ReplayGuard {
            window: i64::try_from(window.as_secs()).unwrap_or(i64::MAX),
            capacity: capacity.max(1),
            seen: Mutex::new(BTreeSet::new()),
        }
    }

    /// Accepts (and remembers) a callback's `timestamp` and `nonce` at `now_secs` (Unix time).
    pub fn check(&self, timestamp: &str, nonce: &str, now_secs: i64) -> Result<(), CallbackError> {
        let timestamp: i64 = timestamp.trim().parse().map_err(|_| {
            CallbackError::Malformed(format!("the timestamp is not a number: {timestamp:?}"))
        })?;
        let mut seen = self.seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // Pairs older than the window would be refused as stale anyway.
        let oldest = now_secs.saturating_sub(self.window);
        *seen = seen.split_off(&(oldest, String::new()));
        if timestamp.abs_diff(now_secs) > self.window.unsigned_abs() {
            return Err(CallbackError::Stale { timestamp });
        }
        if !seen.insert((timestamp, nonce.to_owned())) {
            return Err(CallbackError::Replayed);
        }
        while seen.len() > self.capacity {
            seen.pop_first();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "OCb8YY4UojTIXKTHcQ/TCJWt+iso8mk80iwGUr5Zo6c";

    fn crypto() -> Crypto {
        Crypto::new("tandemToken", KEY, "wwtandem0001").unwrap()
    }

    fn malformed(result: Result<Inbound, CallbackError>) -> String {
        match result {
            Err(CallbackError::Malformed(message)) => message,
            other => panic!("expected Malformed, got {other:?}"),
        }
    }

    #[test]
    fn parses_official_account_messages() {
        let text = "<xml><ToUserName><![CDATA[gh_tandem]]></ToUserName><FromUserName><![CDATA[oUser1]]></FromUserName>\
                    <CreateTime>1733400000</CreateTime><MsgType><![CDATA[text]]></MsgType>\
                    <Content><![CDATA[退货 <怎么> 办]]]]><![CDATA[>?]]></Content><MsgId>24500000000000001</MsgId></xml>";
        assert_eq!(
            parse_message(text).unwrap(),
            Inbound::Message {
                to: "gh_tandem".into(),
                from: "oUser1".into(),
                create_time: 1733400000,
                msg_id: "24500000000000001".into(),
                kind: MessageKind::Text("退货 <怎么> 办]]>?".into()),
            }
        );
        let image = "<xml><ToUserName>gh_tandem</ToUserName><FromUserName>oUser1</FromUserName><CreateTime>1</CreateTime>\
                     <MsgType>image</MsgType><PicUrl>https://example.com/p?a=1&amp;b=2</PicUrl><MediaId>m1</MediaId><MsgId>2</MsgId></xml>";
        assert_eq!(
            parse_message(image).unwrap(),
            Inbound::Message {
                to: "gh_tandem".into(),
                from: "oUser1".into(),
                create_time: 1,
                msg_id: "2".into(),
                kind: MessageKind::Image {
                    url: "https://example.com/p?a=1&b=2".into(),
                    media_id: "m1".into()
                },
            }
        );
        let voice = "<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>1</CreateTime>\
                     <MsgType>voice</MsgType><MediaId>v1</MediaId><Format>amr</Format><Recognition></Recognition><MsgId>3</MsgId></xml>";
        assert!(matches!(
            parse_message(voice).unwrap(),
            Inbound::Message { kind: MessageKind::Voice { media_id, format, recognition: None }, .. }
                if media_id == "v1" && format == "amr"
        ));
        let location = "<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>1</CreateTime>\
                        <MsgType>location</MsgType><Location_X>23.1</Location_X><MsgId>4</MsgId></xml>";
        assert!(matches!(
            parse_message(location).unwrap(),
            Inbound::Message { kind: MessageKind::Other(kind), .. } if kind == "location"
        ));
    }

    #[test]
    fn parses_events_and_kf_notices() {
        let subscribe = "<xml><ToUserName><![CDATA[gh_tandem]]></ToUserName><FromUserName><![CDATA[oUser1]]></FromUserName>\
                         <CreateTime>1</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event><EventKey><![CDATA[]]></EventKey></xml>";
        assert_eq!(
            parse_message(subscribe).unwrap(),
            Inbound::Event {
                to: "gh_tandem".into(),
                from: "oUser1".into(),
                event: "subscribe".into(),
                event_key: None
            }
        );
        let click = subscribe
            .replace("subscribe", "CLICK")
            .replace("<![CDATA[]]>", "<![CDATA[MENU_HELP]]>");
        assert!(matches!(
            parse_message(&click).unwrap(),
            Inbound::Event { event, event_key: Some(key), .. } if event == "CLICK" && key == "MENU_HELP"
        ));
        let notice = "<xml><ToUserName><![CDATA[wwtandem0001]]></ToUserName><CreateTime>1733400000</CreateTime>\
                      <MsgType><![CDATA[event]]></MsgType><Event><![CDATA[kf_msg_or_event]]></Event>\
                      <Token><![CDATA[ENCsyncToken]]></Token><OpenKfId><![CDATA[wkTandem]]></OpenKfId></xml>";
        assert_eq!(
            parse_message(notice).unwrap(),
            Inbound::KfNotice {
                token: "ENCsyncToken".into(),
                open_kfid: "wkTandem".into(),
                create_time: 1733400000
            }
        );
    }

    #[test]
    fn malformed_messages_are_refused_with_a_reason() {
        assert!(malformed(parse_message("<xml><MsgType>text</MsgType>")).contains("not closed"));
        assert!(
            malformed(parse_message("<xml><ToUserName>a</ToUserName></xml>")).contains("<MsgType>")
        );
        let no_content = "<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType><MsgId>1</MsgId></xml>";
        assert!(malformed(parse_message(no_content)).contains("<Content>"));
        let bad_time = "<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>soon</CreateTime><MsgType>text</MsgType><Content>x</Content><MsgId>1</MsgId></xml>";
        assert!(malformed(parse_message(bad_time)).contains("CreateTime"));
        let notice = "<xml><CreateTime>1</CreateTime><MsgType>event</MsgType><Event>kf_msg_or_event</Event><OpenKfId>wk</OpenKfId></xml>";
        assert!(malformed(parse_message(notice)).contains("<Token>"));
        assert!(malformed(parse_message("<xml><A>&nope;</A></xml>")).contains("entity"));
    }

    #[test]
    fn envelopes_open_and_replies_seal() {
        let crypto = crypto();
        let inner = text_reply("oUser1", "gh_tandem", 1733400000, "Hi ]]> there");
        let envelope = crypto.encrypted_reply(&inner, "1733400000", "n<1>");
        let fields = xml::parse(&envelope).unwrap();
        assert_eq!(fields.get("TimeStamp"), Some("1733400000"));
        assert_eq!(fields.get("Nonce"), Some("n<1>"));
        let signature = fields.get("MsgSignature").unwrap();
        assert_eq!(
            crypto.open_envelope(envelope.as_bytes(), signature, "1733400000", "n<1>").unwrap(),
            inner
        );
        let reply = xml::parse(&inner).unwrap();
        assert_eq!(reply.get("Content"), Some("Hi ]]> there"));
        assert_eq!(reply.get("ToUserName"), Some("oUser1"));

        // An inbound envelope with the ToUserName/AgentID WeCom puts beside Encrypt.
        let encrypted = crypto.encrypt("<xml><Content>x</Content></xml>");
        let signature = crypto.signature("1", "n", &encrypted);
        let body = format!(
            "<xml><ToUserName><![CDATA[wwtandem0001]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt><AgentID><![CDATA[]]></AgentID></xml>"
        );
        assert_eq!(
            crypto.open_envelope(body.as_bytes(), &signature, "1", "n").unwrap(),
            "<xml><Content>x</Content></xml>"
        );
        assert_eq!(
            crypto.open_envelope(body.as_bytes(), &signature, "2", "n"),
            Err(CallbackError::Crypto(CryptoError::BadSignature))
        );
        assert!(matches!(
            crypto.open_envelope(b"<xml><ToUserName>a</ToUserName></xml>", &signature, "1", "n"),
            Err(CallbackError::Malformed(message)) if message.contains("<Encrypt>")
        ));
        assert!(matches!(
            crypto.open_envelope(&[0xff, 0xfe], &signature, "1", "n"),
            Err(CallbackError::Malformed(_))
        ));
    }

    #[test]
    fn the_replay_guard_refuses_repeats_and_stale_timestamps() {
        let guard = ReplayGuard::new(Duration::from_secs(300));
        let now = 1_733_400_000;
        assert_eq!(guard.check("1733400000", "a", now), Ok(()));
        assert_eq!(guard.check("1733400000", "a", now + 10), Err(CallbackError::Replayed));
        assert_eq!(guard.check("1733400000", "b", now + 10), Ok(()));
        assert_eq!(guard.check("1733400010", "a", now + 10), Ok(()));
        assert_eq!(
            guard.check("1733399000", "c", now),
            Err(CallbackError::Stale { timestamp: 1733399000 })
        );
        assert_eq!(
            guard.check("1733401000", "c", now),
            Err(CallbackError::Stale { timestamp: 1733401000 })
        );
        assert!(matches!(guard.check("soon", "c", now), Err(CallbackError::Malformed(_))));
        // Later, the old pairs are forgotten (they are stale now anyway).
        assert!(matches!(
            guard.check("1733400000", "a", now + 301),
            Err(CallbackError::Stale { .. })
        ));
        assert_eq!(guard.seen.lock().unwrap().len(), 1);

        let small = ReplayGuard::with_capacity(Duration::from_secs(300), 2);
        for nonce in ["1", "2", "3"] {
            assert_eq!(small.check("1733400000", nonce, now), Ok(()));
        }
        assert_eq!(small.seen.lock().unwrap().len(), 2, "memory is bounded");
    }
}
