//! The SMTP listener against a real client (lettre, through `Sender`) and against a raw TCP
//! conversation, on the loopback interface.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tandem_channels::email::{
    Attachment, Envelope, ListenerConfig, MailHandler, Mailbox, OutboundMail, Recipient, Refusal,
    Security, Sender, SmtpSettings, ThreadKey, parse, render, serve,
};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// Accepts mail for `@shop.example` and records it; refuses (for now) mail to `busy@`.
#[derive(Default)]
struct Recorder {
    mails: Mutex<Vec<Envelope>>,
}

impl Recorder {
    fn mails(&self) -> Vec<Envelope> {
        self.mails.lock().unwrap().clone()
    }
}

#[async_trait]
impl MailHandler for Recorder {
    async fn recipient(&self, address: &str) -> Recipient {
        let known = address.ends_with("@shop.example") && !address.starts_with("nobody@");
        if known { Recipient::Accept } else { Recipient::Unknown }
    }

    async fn deliver(&self, envelope: Envelope) -> Result<(), Refusal> {
        if envelope.rcpt_to.iter().any(|to| to.starts_with("busy@")) {
            return Err(Refusal::temporary("the store is busy, try again later"));
        }
        self.mails.lock().unwrap().push(envelope);
        Ok(())
    }
}

async fn start(max_message_bytes: usize) -> (SocketAddr, Arc<Recorder>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let recorder = Arc::new(Recorder::default());
    let config = ListenerConfig {
        hostname: "mx.tandem.test".to_owned(),
        max_message_bytes,
        max_recipients: 10,
        idle_timeout: Duration::from_secs(30),
    };
    let handler: Arc<dyn MailHandler> = recorder.clone();
    tokio::spawn(serve(listener, config, handler));
    (address, recorder)
}

#[tokio::test]
async fn a_mail_sent_with_lettre_arrives_whole() {
    let (address, recorder) = start(1024 * 1024).await;
    let key = ThreadKey::new(b"integration secret");
    let sender = Sender::new(&SmtpSettings {
        host: address.ip().to_string(),
        port: address.port(),
        security: Security::None,
        timeout: Duration::from_secs(10),
        ..SmtpSettings::default()
    })
    .unwrap();
    let (text, html) = render(
        "您好，王女士：\n\n您的订单已于今天发出，请查收附件中的发票。",
        &["查询物流".to_owned(), "联系人工客服".to_owned()],
        Some("Tandem 客服中心"),
    );
    let pdf = b"%PDF-1.4\n\x00\x01\x02 binary \xff\xfe".to_vec();
    let mail = OutboundMail {
        from: Mailbox::new(Some("Tandem 客服"), "support@shop.example"),
        to: Mailbox::new(Some("王芳"), "wangfang@shop.example"),
        reply_to: Some(key.reply_address("support", "shop.example", 42)),
        subject: format!("订单发货通知 {}", key.subject_tag(42)),
        message_id: key.message_id(42, 2, "shop.example"),
        in_reply_to: Some("customer-1@example.cn".to_owned()),
        references: vec![key.message_id(42, 1, "shop.example")],
        text,
        html,
        attachments: vec![Attachment {
            filename: "发票.pdf".to_owned(),
            content_type: "application/pdf".to_owned(),
            data: pdf.clone(),
        }],
        auto_submitted: true,
    };
    sender.send(&mail).await.unwrap();

    let mails = recorder.mails();
    assert_eq!(mails.len(), 1);
    let envelope = &mails[0];
    assert_eq!(envelope.mail_from.as_deref(), Some("support@shop.example"));
    assert_eq!(envelope.rcpt_to, ["wangfang@shop.example"]);

    let parsed = parse(&envelope.data).unwrap();
    assert_eq!(parsed.subject, format!("Re: 订单发货通知 {}", key.subject_tag(42)));
    assert_eq!(parsed.from, Mailbox::new(Some("Tandem 客服"), "support@shop.example"));
    assert_eq!(parsed.to, ["wangfang@shop.example"]);
    assert_eq!(parsed.message_id, Some(key.message_id(42, 2, "shop.example")));
    assert_eq!(parsed.in_reply_to, ["customer-1@example.cn"]);
    assert_eq!(
        parsed.references,
        [key.message_id(42, 1, "shop.example"), "customer-1@example.cn".to_owned()]
    );
    assert_eq!(
        parsed.text,
        "您好，王女士：\n\n您的订单已于今天发出，请查收附件中的发票。\n\n1. 查询物流\n2. 联系人工客服",
        "the footer is cut as a signature"
    );
    assert!(parsed.original.contains("Tandem 客服中心"));
    assert_eq!(parsed.automatic, Some(tandem_channels::email::Automatic::AutoSubmitted));
    assert_eq!(parsed.attachments.len(), 1, "{:?}", parsed.attachments);
    let attachment = &parsed.attachments[0];
    assert_eq!(attachment.filename, "发票.pdf");
    assert_eq!(attachment.content_type, "application/pdf");
    assert_eq!(attachment.data, pdf);

    // A reply that quotes this mail finds the conversation again, whichever header survives.
    assert_eq!(key.conversation_of(&parsed), Some(42));
}

/// One end of a raw SMTP conversation.
struct Client {
    read: BufReader<OwnedReadHalf>,
    write: OwnedWriteHalf,
}

impl Client {
    async fn connect(address: SocketAddr) -> Client {
        let (read, write) = TcpStream::connect(address).await.unwrap().into_split();
        let mut client = Client { read: BufReader::new(read), write };
        assert_eq!(client.reply().await.0, 220);
        client
    }

    async fn send(&mut self, text: &str) {
        self.write.write_all(text.as_bytes()).await.unwrap();
    }

    /// The next reply's code and its last line.
    async fn reply(&mut self) -> (u16, String) {
        loop {
            let mut line = String::new();
            let read =
                tokio::time::timeout(Duration::from_secs(10), self.read.read_line(&mut line))
                    .await
                    .expect("a reply in time")
                    .unwrap();
            assert!(read > 0, "the server closed the connection");
            let code = line[..3].parse().unwrap();
            if line.as_bytes()[3] == b' ' {
                return (code, line.trim_end().to_owned());
            }
        }
    }

    async fn command(&mut self, text: &str) -> (u16, String) {
        self.send(&format!("{text}\r\n")).await;
        self.reply().await
    }

    async fn codes(&mut self, n: usize) -> Vec<u16> {
        let mut codes = Vec::new();
        for _ in 0..n {
            codes.push(self.reply().await.0);
        }
        codes
    }
}

#[tokio::test]
async fn a_raw_conversation() {
    let (address, recorder) = start(4096).await;
    let mut client = Client::connect(address).await;

    // Out of sequence before the greeting and before a transaction.
    assert_eq!(client.command("MAIL FROM:<anna@example.com>").await.0, 503);
    let (code, last) = client.command("EHLO client.example").await;
    assert_eq!(code, 250);
    assert_eq!(last, "250 HELP");
    assert_eq!(client.command("DATA").await.0, 503, "DATA before MAIL");
    assert_eq!(client.command("RCPT TO:<support@shop.example>").await.0, 503, "RCPT before MAIL");
    assert_eq!(client.command("MAIL FROM:<anna@example.com>").await.0, 250);
    assert_eq!(client.command("DATA").await.0, 503, "DATA before RCPT");
    assert_eq!(client.command("RSET").await.0, 250);

    // Pipelined: every reply comes, in order, including the unknown recipient's.
    client
        .send(
            "MAIL FROM:<anna@example.com> SIZE=200 BODY=8BITMIME\r\n\
             RCPT TO:<nobody@shop.example>\r\n\
             RCPT TO:<support@shop.example>\r\n\
             DATA\r\n",
        )
        .await;
    assert_eq!(client.codes(4).await, [250, 550, 250, 354]);
    client
        .send(
            "From: anna@example.com\r\nSubject: dots\r\n\r\n\
             ..a line that began with a dot\r\n...\r\nend\r\n.\r\n",
        )
        .await;
    assert_eq!(client.reply().await.0, 250);
    let mails = recorder.mails();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].mail_from.as_deref(), Some("anna@example.com"));
    assert_eq!(mails[0].rcpt_to, ["support@shop.example"]);
    assert_eq!(
        mails[0].data,
        b"From: anna@example.com\r\nSubject: dots\r\n\r\n.a line that began with a dot\r\n..\r\nend\r\n"
    );
    assert_eq!(parse(&mails[0].data).unwrap().text, ".a line that began with a dot\n..\nend");

    // Too big, announced: refused at MAIL.
    let (code, text) = client.command("MAIL FROM:<anna@example.com> SIZE=5000").await;
    assert_eq!((code, text.contains("5.3.4")), (552, true));

    // Too big, unannounced: read to the end, refused, and the connection still works.
    assert_eq!(client.command("MAIL FROM:<anna@example.com>").await.0, 250);
    assert_eq!(client.command("RCPT TO:<support@shop.example>").await.0, 250);
    assert_eq!(client.command("DATA").await.0, 354);
    let line = "x".repeat(99);
    client.send(&format!("Subject: big\r\n\r\n{}.\r\n", format!("{line}\r\n").repeat(60))).await;
    assert_eq!(client.reply().await.0, 552);
    assert_eq!(client.command("NOOP").await.0, 250);

    // Refused by the handler for now: 451, and nothing stored.
    client.send("MAIL FROM:<>\r\nRCPT TO:<busy@shop.example>\r\nDATA\r\n").await;
    assert_eq!(client.codes(3).await, [250, 250, 354]);
    client.send("Subject: later\r\n\r\nhello\r\n.\r\n").await;
    let (code, text) = client.reply().await;
    assert_eq!(code, 451);
    assert!(text.contains("try again later"), "{text}");
    assert_eq!(recorder.mails().len(), 1);

    // Only unknown recipients: DATA says so.
    client.send("MAIL FROM:<anna@example.com>\r\nRCPT TO:<nobody@shop.example>\r\nDATA\r\n").await;
    assert_eq!(client.codes(3).await, [250, 550, 554]);
    assert_eq!(client.command("RSET").await.0, 250);

    assert_eq!(client.command("VRFY support").await.0, 252);
    assert_eq!(client.command("HELP").await.0, 214);
    assert_eq!(client.command("STARTTLS").await.0, 502);
    assert_eq!(client.command("FROB").await.0, 500);
    assert_eq!(client.command(&"NOOP ".repeat(1000)).await.0, 500, "line too long");
    assert_eq!(client.command("QUIT").await.0, 221);
    let mut rest = String::new();
    assert_eq!(client.read.read_line(&mut rest).await.unwrap(), 0, "closed after QUIT");
}
