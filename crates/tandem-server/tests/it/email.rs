//! The e-mail channel end to end: customers' mails reach the SMTP listener over real SMTP, are
//! threaded and stored, and the bot's and agents' answers leave through the inbox's SMTP server,
//! here a sink (Tandem's own SMTP listener code with a handler that records what it gets, lettre
//! being the client) on a loopback port.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use base64::Engine;
use serde_json::{Value, json};
use tandem_channels::email::{self, Envelope, MailHandler, Recipient, Refusal};
use tandem_domain::{AuthorKind, Channel, Conversation, ConversationId, Message};
use tandem_server::ServerConfig;
use tandem_server::testing::browser::{Browser, chromium_or_skip};
use tandem_server::testing::{ADMIN, AGENT, Session, TestApp};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::webhooks::call;

const INBOX_ADDRESS: &str = "support@shop.example";
const CUSTOMER: &str = "anna@example.com";
/// A tiny but well-formed PDF.
const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

// ---------------------------------------------------------------------------------------------
// The outbound side: an SMTP server that records every mail.

#[derive(Clone, Default)]
struct Recorded(Arc<Mutex<Vec<Envelope>>>);

#[async_trait::async_trait]
impl MailHandler for Recorded {
    async fn recipient(&self, _address: &str) -> Recipient {
        Recipient::Accept
    }

    async fn deliver(&self, envelope: Envelope) -> Result<(), Refusal> {
        self.0.lock().unwrap().push(envelope);
        Ok(())
    }
}

/// The business's SMTP server, as far as Tandem can tell.
struct Sink {
    address: SocketAddr,
    mails: Recorded,
}

impl Sink {
    async fn start() -> Sink {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let mails = Recorded::default();
        let handler: Arc<dyn MailHandler> = Arc::new(mails.clone());
        tokio::spawn(email::serve(listener, email::ListenerConfig::default(), handler));
        Sink { address, mails }
    }

    fn all(&self) -> Vec<Envelope> {
        self.mails.0.lock().unwrap().clone()
    }

    /// Waits (up to 15 s) until `count` mails have arrived; returns them all.
    async fn wait_for(&self, count: usize) -> Vec<Envelope> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let all = self.all();
            if all.len() >= count {
                return all;
            }
            assert!(Instant::now() < deadline, "{count} mails did not arrive: {}", dump(&all));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn dump(mails: &[Envelope]) -> String {
    mails
        .iter()
        .map(|mail| String::from_utf8_lossy(&mail.data).into_owned())
        .collect::<Vec<_>>()
        .join("\n=====\n")
}

/// A header of a raw mail, unfolded; the first one named `name`.
fn header(data: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(data).replace("\r\n", "\n");
    let head = text.split("\n\n").next().unwrap_or_default();
    let unfolded = head.replace("\n ", " ").replace("\n\t", " ");
    unfolded.lines().find_map(|line| {
        let (field, value) = line.split_once(':')?;
        field.trim().eq_ignore_ascii_case(name).then(|| value.trim().to_owned())
    })
}

/// The conversation and seq a Message-ID of Tandem's names (`tandem.<c>.<seq>.<token>@domain`).
fn tandem_id(id: &str) -> (i64, i64) {
    let parts: Vec<&str> = id.split('@').next().unwrap().split('.').collect();
    assert_eq!((parts.len(), parts[0]), (4, "tandem"), "not one of Tandem's ids: {id}");
    (parts[1].parse().unwrap(), parts[2].parse().unwrap())
}

// ---------------------------------------------------------------------------------------------
// The inbound side: a raw SMTP client, as the business's mail server would relay.

struct Client {
    reader: BufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: tokio::net::tcp::OwnedWriteHalf,
}

impl Client {
    async fn connect(address: SocketAddr) -> Client {
        let (reader, writer) = TcpStream::connect(address).await.unwrap().into_split();
        let mut client = Client { reader: BufReader::new(reader), writer };
        assert_eq!(client.reply().await, 220);
        assert_eq!(client.command("EHLO relay.shop.example").await, 250);
        client
    }

    /// The code of the next (possibly multi-line) reply.
    async fn reply(&mut self) -> u16 {
        loop {
            let mut line = String::new();
            let read =
                tokio::time::timeout(Duration::from_secs(15), self.reader.read_line(&mut line))
                    .await
                    .expect("the listener answers")
                    .unwrap();
            assert!(read > 0, "the listener closed the connection");
            if line.as_bytes().get(3) != Some(&b'-') {
                return line[..3].parse().unwrap();
            }
        }
    }

    async fn command(&mut self, line: &str) -> u16 {
        self.writer.write_all(format!("{line}\r\n").as_bytes()).await.unwrap();
        self.reply().await
    }

    /// Sends `message` (lines ending in `\n`) as DATA; the code of the final reply.
    async fn data(&mut self, message: &str) -> u16 {
        assert_eq!(self.command("DATA").await, 354);
        let mut wire = String::new();
        for line in message.lines() {
            if line.starts_with('.') {
                wire.push('.');
            }
            wire.push_str(line);
            wire.push_str("\r\n");
        }
        wire.push_str(".\r\n");
        self.writer.write_all(wire.as_bytes()).await.unwrap();
        self.reply().await
    }
}

/// Relays `message` from `mail_from` (`""` for a bounce's null path) to `rcpt`; the code
/// answered to its data.
async fn relay(app: &TestApp, mail_from: &str, rcpt: &str, message: &str) -> u16 {
    let mut client = Client::connect(app.smtp.expect("the listener is on")).await;
    assert_eq!(client.command(&format!("MAIL FROM:<{mail_from}>")).await, 250);
    assert_eq!(client.command(&format!("RCPT TO:<{rcpt}>")).await, 250, "RCPT {rcpt}");
    let code = client.data(message).await;
    client.command("QUIT").await;
    code
}

/// A plain-text mail from the customer to the inbox, with `extra` header lines.
fn plain(message_id: &str, subject: &str, extra: &str, body: &str) -> String {
    format!(
        "From: Anna Lee <{CUSTOMER}>\nTo: Shop support <{INBOX_ADDRESS}>\nSubject: {subject}\n\
         Message-ID: <{message_id}>\nDate: Sun, 06 Dec 2026 10:00:00 +0000\n{extra}\
         MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n{body}\n"
    )
}

// ---------------------------------------------------------------------------------------------
// The app.

struct Mail {
    app: TestApp,
    admin: Session,
    inbox: i64,
    sink: Sink,
}

fn config() -> ServerConfig {
    let mut config = ServerConfig::default();
    config.email.smtp_listen = Some("127.0.0.1:0".parse().unwrap());
    config.webhooks.retry_secs = vec![0.2, 0.2];
    config
}

/// An app with an e-mail inbox whose replies leave through a fresh sink.
async fn mail_app() -> Mail {
    mail_app_with(config()).await
}

async fn mail_app_with(config: ServerConfig) -> Mail {
    let app = TestApp::fixture().config(config).sample_articles().build().await;
    let admin = app.login(ADMIN).await;
    let created = call(
        &app,
        &admin,
        Method::POST,
        "/api/v1/inboxes",
        Some(json!({ "name": "Mail", "channel": "email" })),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let inbox = created.json()["id"].as_i64().unwrap();
    let sink = Sink::start().await;
    let saved = save_settings(&app, &admin, inbox, smtp_settings(sink.address, None)).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text());
    Mail { app, admin, inbox, sink }
}

fn smtp_settings(sink: SocketAddr, credentials: Option<(&str, Option<&str>)>) -> Value {
    let mut smtp =
        json!({ "host": "127.0.0.1", "port": sink.port(), "security": "none", "timeout": 10 });
    if let Some((username, password)) = credentials {
        smtp["username"] = json!(username);
        if let Some(password) = password {
            smtp["password"] = json!(password);
        }
    }
    json!({ "email": { "address": INBOX_ADDRESS, "display_name": "Shop support", "smtp": smtp } })
}

async fn save_settings(
    app: &TestApp,
    admin: &Session,
    inbox: i64,
    settings: Value,
) -> tandem_server::testing::Response {
    let uri = format!("/api/v1/inboxes/{inbox}/channel");
    call(app, admin, Method::PUT, &uri, Some(settings)).await
}

/// The e-mail conversations, newest first.
async fn email_conversations(app: &TestApp) -> Vec<Conversation> {
    app.store
        .conversations_on(
            app.workspace,
            tandem_store::ConversationFilter::All,
            Some(Channel::Email),
            50,
        )
        .await
        .unwrap()
}

async fn messages(app: &TestApp, conversation: i64) -> Vec<Message> {
    app.store.messages(ConversationId(conversation), 0, 100).await.unwrap()
}

fn customer_messages(messages: &[Message]) -> Vec<&Message> {
    messages.iter().filter(|message| message.author_kind == AuthorKind::Customer).collect()
}

/// The customer's first mail: text and HTML alternatives and a PDF.
fn first_mail() -> String {
    let pdf = base64::engine::general_purpose::STANDARD.encode(PDF);
    format!(
        "From: Anna Lee <{CUSTOMER}>\nTo: Shop support <{INBOX_ADDRESS}>\nSubject: Returning a jacket\n\
         Message-ID: <c1.anna@example.com>\nDate: Sun, 06 Dec 2026 10:00:00 +0000\nMIME-Version: 1.0\n\
         Content-Type: multipart/mixed; boundary=\"mixed-1\"\n\n\
         --mixed-1\nContent-Type: multipart/alternative; boundary=\"alt-1\"\n\n\
         --alt-1\nContent-Type: text/plain; charset=utf-8\n\nHow do I return an item?\n\n\
         --alt-1\nContent-Type: text/html; charset=utf-8\n\n<p>How do I <b>return an item</b>?</p>\n\n\
         --alt-1--\n\n\
         --mixed-1\nContent-Type: application/pdf; name=\"receipt.pdf\"\n\
         Content-Disposition: attachment; filename=\"receipt.pdf\"\nContent-Transfer-Encoding: base64\n\n\
         {pdf}\n--mixed-1--\n"
    )
}

// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_threaded_exchange_with_the_bot_and_then_an_agent() {
    let Mail { app, sink, .. } = mail_app().await;
    assert_eq!(relay(&app, CUSTOMER, INBOX_ADDRESS, &first_mail()).await, 250);

    // The bot's answer, threaded under the customer's mail.
    let bot = sink.wait_for(1).await.remove(0);
    assert_eq!(bot.rcpt_to, vec![CUSTOMER.to_owned()]);
    assert_eq!(bot.mail_from.as_deref(), Some(INBOX_ADDRESS));
    let parsed = email::parse(&bot.data).unwrap();
    assert_eq!(parsed.from.address, INBOX_ADDRESS);
    assert_eq!(parsed.from.name.as_deref(), Some("Shop support"));
    assert_eq!(parsed.to, vec![CUSTOMER.to_owned()]);
    assert_eq!(parsed.in_reply_to, vec!["c1.anna@example.com".to_owned()]);
    assert_eq!(header(&bot.data, "In-Reply-To").as_deref(), Some("<c1.anna@example.com>"));
    let bot_id = parsed.message_id.clone().unwrap();
    assert!(bot_id.ends_with("@shop.example"), "{bot_id}");
    let (conversation, _) = tandem_id(&bot_id);
    assert_eq!(header(&bot.data, "Auto-Submitted").as_deref(), Some("auto-replied"));
    assert!(
        parsed.subject.starts_with(&format!("Re: Returning a jacket [#{conversation}-")),
        "{}",
        parsed.subject
    );
    assert!(parsed.subject.ends_with(']'), "{}", parsed.subject);
    let reply_to = header(&bot.data, "Reply-To").unwrap();
    assert!(reply_to.contains(&format!("support+c{conversation}-")), "{reply_to}");
    assert!(parsed.text.contains("7 days"), "the returns answer: {}", parsed.text);

    // Stored: an e-mail conversation with the customer's mail and its file.
    let stored = app.store.conversation(ConversationId(conversation)).await.unwrap().unwrap();
    let inbox = app.store.inbox(stored.inbox_id).await.unwrap().unwrap();
    assert_eq!(inbox.channel, Channel::Email);
    let history = messages(&app, conversation).await;
    let first = customer_messages(&history)[0].clone();
    assert!(first.body.starts_with("How do I return an item?"), "{}", first.body);
    assert!(first.body.contains("receipt.pdf"), "the file is mentioned: {}", first.body);
    let external = first.meta.as_ref().unwrap().external.as_ref().unwrap();
    assert_eq!(external.id, "c1.anna@example.com");
    assert_eq!(external.subject.as_deref(), Some("Returning a jacket"));
    assert_eq!(external.reply_to.as_deref(), Some(CUSTOMER));
    let files = app.store.conversation_attachments(ConversationId(conversation)).await.unwrap();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(
        (files[0].filename.as_str(), files[0].content_type.as_str()),
        ("receipt.pdf", "application/pdf")
    );
    assert_eq!(files[0].size, PDF.len() as i64);

    // An agent downloads it; an unknown id is not found.
    let agent = app.login(AGENT).await;
    let download =
        call(&app, &agent, Method::GET, &format!("/api/v1/attachments/{}", files[0].id), None)
            .await;
    assert_eq!(download.status, StatusCode::OK, "{}", download.text());
    assert_eq!(download.body, PDF);
    let disposition = download.headers["content-disposition"].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment;") && disposition.contains("receipt.pdf"),
        "{disposition}"
    );
    assert_eq!(download.headers["x-content-type-options"], "nosniff");
    let unknown = call(&app, &agent, Method::GET, "/api/v1/attachments/987654", None).await;
    assert_eq!(
        (unknown.status, unknown.code().as_str()),
        (StatusCode::NOT_FOUND, "attachment_not_found")
    );

    // The customer answers from her client: the history quoted below, a signature.
    let quoted: String = parsed.text.lines().map(|line| format!("> {line}\n")).collect();
    let reply = plain(
        "c2.anna@example.com",
        &format!("Re: {}", parsed.subject.trim_start_matches("Re: ")),
        &format!("In-Reply-To: <{bot_id}>\nReferences: <c1.anna@example.com> <{bot_id}>\n"),
        &format!(
            "Thanks! And how long does shipping take?\n\n-- \nAnna Lee\nSent from my phone\n\n\
             On Sun, 6 Dec 2026 at 10:01, Shop support <{INBOX_ADDRESS}> wrote:\n{quoted}>\n\
             >> On Sun, 6 Dec 2026 at 10:00, Anna Lee <{CUSTOMER}> wrote:\n>> How do I return an item?\n"
        ),
    );
    assert_eq!(relay(&app, CUSTOMER, INBOX_ADDRESS, &reply).await, 250);
    let mails = sink.wait_for(2).await;
    assert_eq!(email_conversations(&app).await.len(), 1, "the reply threads into the conversation");
    let history = messages(&app, conversation).await;
    let customer = customer_messages(&history);
    assert_eq!(customer.len(), 2, "{history:#?}");
    assert_eq!(customer[1].body, "Thanks! And how long does shipping take?");
    let external = customer[1].meta.as_ref().unwrap().external.as_ref().unwrap();
    assert_eq!(external.id, "c2.anna@example.com");
    let original = external.original.as_deref().expect("the whole text is kept");
    assert!(
        original.contains("wrote:")
            && original.contains("> ")
            && original.contains("Sent from my phone"),
        "{original}"
    );

    // The bot's second answer continues the thread.
    let second = email::parse(&mails[1].data).unwrap();
    assert_eq!(second.in_reply_to, vec!["c2.anna@example.com".to_owned()]);
    assert_eq!(tandem_id(second.message_id.as_deref().unwrap()).0, conversation);
    assert!(second.references.contains(&bot_id), "{:?}", second.references);
    assert!(second.text.contains("48 hours"), "the shipping answer: {}", second.text);

    // An agent takes the conversation and answers: a person wrote it, so no Auto-Submitted.
    let transitions = format!("/api/v1/conversations/{conversation}/transitions");
    let taken =
        call(&app, &agent, Method::POST, &transitions, Some(json!({ "action": "assign" }))).await;
    assert_eq!(taken.status, StatusCode::OK, "{}", taken.text());
    let uri = format!("/api/v1/conversations/{conversation}/messages");
    // An internal note first: it never leaves.
    let note = json!({ "body": "Internal: check the jacket's stock", "note": true });
    let noted = call(&app, &agent, Method::POST, &uri, Some(note)).await;
    assert_eq!(noted.status, StatusCode::CREATED, "{}", noted.text());
    let answer = json!({ "body": "Hi Anna, I have registered your return. Emily" });
    let replied = call(&app, &agent, Method::POST, &uri, Some(answer)).await;
    assert_eq!(replied.status, StatusCode::CREATED, "{}", replied.text());
    sink.wait_for(3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mails = sink.all();
    assert_eq!(mails.len(), 3, "{}", dump(&mails));
    assert!(!dump(&mails).contains("Internal:"), "the note stayed inside");
    let by_agent = &mails[2];
    let parsed = email::parse(&by_agent.data).unwrap();
    assert!(parsed.text.contains("I have registered your return"), "{}", parsed.text);
    assert_eq!(header(&by_agent.data, "Auto-Submitted"), None);
    assert_eq!(parsed.automatic, None, "a person's answer is no automatic mail");
    assert_eq!(parsed.from.address, INBOX_ADDRESS);
    assert_eq!(parsed.in_reply_to, vec!["c2.anna@example.com".to_owned()]);
    for earlier in ["c1.anna@example.com", bot_id.as_str(), "c2.anna@example.com"] {
        assert!(
            parsed.references.iter().any(|id| id == earlier),
            "{earlier} in {:?}",
            parsed.references
        );
    }
    assert!(parsed.subject.contains(&format!("[#{conversation}-")), "{}", parsed.subject);
}

#[tokio::test]
async fn a_subject_tag_threads_a_reply_without_headers_and_a_forged_one_does_not() {
    let Mail { app, sink, .. } = mail_app().await;
    let first =
        plain("t1.anna@example.com", "Where is my order", "", "How long does shipping take?");
    assert_eq!(relay(&app, CUSTOMER, INBOX_ADDRESS, &first).await, 250);
    let bot = email::parse(&sink.wait_for(1).await[0].data).unwrap();
    let (conversation, _) = tandem_id(bot.message_id.as_deref().unwrap());
    let tag = bot.subject.rsplit_once(' ').unwrap().1.to_owned();
    assert!(tag.starts_with(&format!("[#{conversation}-")), "{tag}");

    // No In-Reply-To, no References: only the tag in the subject.
    let tagged = plain(
        "t2.anna@example.com",
        &format!("Re: Where is my order {tag}"),
        "",
        "When are you open?",
    );
    assert_eq!(relay(&app, CUSTOMER, INBOX_ADDRESS, &tagged).await, 250);
    let threaded = async {
        for _ in 0..500 {
            if customer_messages(&messages(&app, conversation).await).len() == 2 {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    };
    assert!(threaded.await, "{:#?}", messages(&app, conversation).await);
    assert_eq!(email_conversations(&app).await.len(), 1);

    // A follow-up to her own mail (In-Reply-To her first one): the same conversation.
    let follow_up = plain(
        "t2b.anna@example.com",
        "Forgot to say",
        "In-Reply-To: <t1.anna@example.com>\nReferences: <t1.anna@example.com>\n",
        "It is order 1234.",
    );
    assert_eq!(relay(&app, CUSTOMER, INBOX_ADDRESS, &follow_up).await, 250);
    assert_eq!(customer_messages(&messages(&app, conversation).await).len(), 3);
    assert_eq!(email_conversations(&app).await.len(), 1);

    // The same number with a token that is not ours: a conversation of its own.
    let token = &tag[tag.find('-').unwrap() + 1..tag.len() - 1];
    let forged_token: String =
        token.chars().rev().map(|c| if c == 'a' { 'b' } else { 'a' }).collect();
    let forged = plain(
        "t3.anna@example.com",
        &format!("Re: Where is my order [#{conversation}-{forged_token}]"),
        "",
        "What is your return policy?",
    );
    assert_eq!(relay(&app, CUSTOMER, INBOX_ADDRESS, &forged).await, 250);
    let conversations = email_conversations(&app).await;
    assert_eq!(conversations.len(), 2, "{conversations:#?}");
    let other = conversations.iter().find(|c| c.id.0 != conversation).unwrap();
    assert_eq!(
        other.customer_id,
        conversations.iter().find(|c| c.id.0 == conversation).unwrap().customer_id
    );
    assert_eq!(
        customer_messages(&messages(&app, conversation).await).len(),
        3,
        "nothing was added"
    );
}

#[tokio::test]
async fn automatic_mail_and_bounces_are_accepted_and_dropped() {
    let Mail { app, sink, .. } = mail_app().await;
    let out_of_office = plain(
        "ooo.anna@example.com",
        "Out of office",
        "Auto-Submitted: auto-replied\n",
        "I am away until Monday.",
    );
    let newsletter =
        plain("news.anna@example.com", "Our December news", "Precedence: bulk\n", "News!");
    let bounce = format!(
        "From: Mail Delivery System <mailer-daemon@example.com>\nTo: {INBOX_ADDRESS}\n\
         Subject: Undelivered Mail Returned to Sender\nMessage-ID: <bounce.1@example.com>\n\
         Content-Type: text/plain\n\nThis is the mail system at host example.com.\n"
    );
    assert_eq!(relay(&app, CUSTOMER, INBOX_ADDRESS, &out_of_office).await, 250);
    assert_eq!(relay(&app, CUSTOMER, INBOX_ADDRESS, &newsletter).await, 250);
    assert_eq!(relay(&app, "", INBOX_ADDRESS, &bounce).await, 250);
    // A person's mail afterwards is answered, so the worker did run in the meantime.
    let person = plain("p.anna@example.com", "Question", "", "How do I return an item?");
    assert_eq!(relay(&app, CUSTOMER, INBOX_ADDRESS, &person).await, 250);
    sink.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let conversations = email_conversations(&app).await;
    assert_eq!(conversations.len(), 1, "only the person's mail is stored: {conversations:#?}");
    let stored = customer_messages(&messages(&app, conversations[0].id.0).await)
        .iter()
        .map(|m| m.body.clone())
        .collect::<Vec<_>>();
    assert_eq!(stored, vec!["How do I return an item?".to_owned()]);
    assert_eq!(sink.all().len(), 1, "{}", dump(&sink.all()));
}

#[tokio::test]
async fn a_mail_delivered_twice_is_stored_and_answered_once() {
    // A customer may write two mails a minute; a relay's retries are not the customer writing.
    let mut config = config();
    config.widget_burst = 2;
    config.widget_per_minute = 1;
    let Mail { app, sink, .. } = mail_app_with(config).await;
    let mail = first_mail();
    assert_eq!(relay(&app, CUSTOMER, INBOX_ADDRESS, &mail).await, 250);
    // The relay did not hear the 250 and delivers again, and again.
    for _ in 0..3 {
        assert_eq!(relay(&app, CUSTOMER, INBOX_ADDRESS, &mail).await, 250, "a redelivery");
    }
    sink.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let conversations = email_conversations(&app).await;
    assert_eq!(conversations.len(), 1, "{conversations:#?}");
    let conversation = conversations[0].id;
    assert_eq!(customer_messages(&messages(&app, conversation.0).await).len(), 1);
    assert_eq!(app.store.conversation_attachments(conversation).await.unwrap().len(), 1);
    assert_eq!(sink.all().len(), 1, "answered once: {}", dump(&sink.all()));
    // The customer's own second mail still goes through.
    let second = plain("dup.2@example.com", "Another thing", "", "When are you open?");
    assert_eq!(relay(&app, CUSTOMER, INBOX_ADDRESS, &second).await, 250);
}

#[tokio::test]
async fn unknown_recipients_wrong_settings_and_masked_passwords() {
    let Mail { app, admin, inbox, sink } = mail_app().await;

    // Nobody here by that name: 550, and the mail never gets to DATA.
    let mut client = Client::connect(app.smtp.unwrap()).await;
    assert_eq!(client.command(&format!("MAIL FROM:<{CUSTOMER}>")).await, 250);
    assert_eq!(client.command("RCPT TO:<sales@shop.example>").await, 550);
    assert_eq!(client.command("RCPT TO:<support@other.example>").await, 550);
    assert_eq!(
        client.command("RCPT TO:<SUPPORT+c1-whatever@Shop.Example>").await,
        250,
        "the +tag form"
    );
    client.command("QUIT").await;

    // Another channel's settings for an e-mail inbox.
    let wecom = json!({ "wecom": {
        "corp_id": "ww1", "secret": "s", "token": "t", "encoding_aes_key": "a".repeat(43), "open_kfid": "wk1"
    } });
    let refused = save_settings(&app, &admin, inbox, wecom).await;
    assert_eq!(
        (refused.status, refused.code().as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input"),
        "{}",
        refused.text()
    );

    // The password is never shown again, and a write without it keeps it.
    let saved = save_settings(
        &app,
        &admin,
        inbox,
        smtp_settings(sink.address, Some(("mailer", Some("hunter2")))),
    )
    .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text());
    assert!(!saved.text().contains("hunter2"), "{}", saved.text());
    let uri = format!("/api/v1/inboxes/{inbox}/channel");
    let shown = call(&app, &admin, Method::GET, &uri, None).await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.text());
    let view = shown.json();
    assert_eq!(view["settings"]["email"]["smtp"]["password"], "********", "{view}");
    let listening = app.smtp.unwrap().to_string();
    assert_eq!(view["smtp_listener"], listening.as_str(), "the port it bound, not `:0`");
    assert_eq!(view["settings"]["email"]["smtp"]["username"], "mailer");
    assert!(view["settings"]["email"].get("thread_secret").is_none(), "{view}");
    assert!(!shown.text().contains("hunter2"));

    let mut without = smtp_settings(sink.address, Some(("mailer", None)));
    without["email"]["smtp"]["timeout"] = json!(20);
    let saved = save_settings(&app, &admin, inbox, without).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text());
    let stored = app.store.inbox_settings(tandem_domain::InboxId(inbox)).await.unwrap().unwrap();
    assert_eq!(stored["email"]["smtp"]["password"], "hunter2", "kept: {stored}");
    assert_eq!(stored["email"]["smtp"]["timeout"], 20);
    // Sending the mask back keeps it too.
    let masked = smtp_settings(sink.address, Some(("mailer", Some("********"))));
    assert_eq!(save_settings(&app, &admin, inbox, masked).await.status, StatusCode::OK);
    let stored = app.store.inbox_settings(tandem_domain::InboxId(inbox)).await.unwrap().unwrap();
    assert_eq!(stored["email"]["smtp"]["password"], "hunter2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_answers_an_email_from_the_console() {
    let Some(chromium) = chromium_or_skip("an_agent_answers_an_email_from_the_console") else {
        return;
    };
    let Mail { app, sink, .. } = mail_app().await;
    assert_eq!(relay(&app, CUSTOMER, INBOX_ADDRESS, &first_mail()).await, 250);
    let bot = email::parse(&sink.wait_for(1).await[0].data).unwrap();
    let (conversation, _) = tandem_id(bot.message_id.as_deref().unwrap());

    let base = format!("http://{}", app.spawn().await);
    let browser = Browser::launch(&chromium, "/tmp").await;
    let page = browser.new_page().await;
    page.sign_in(&base, AGENT).await;
    page.goto(&format!("{base}/inbox?view=all")).await;
    let row = format!("document.querySelector('li[data-conversation-id=\"{conversation}\"] a')");
    page.wait_for(&row, "the e-mail conversation in the inbox").await;
    page.screenshot("email_inbox").await;
    page.click(&row).await;
    page.wait_for(
        &format!("location.pathname === '/conversations/{conversation}' && document.readyState === 'complete'"),
        "the conversation page",
    )
    .await;
    let shown = page.eval("document.body.innerText").await;
    let shown = shown.as_str().unwrap();
    assert!(shown.contains("How do I return an item?"), "{shown}");

    page.eval(
        "document.querySelector('#reply-body').value = 'Hello Anna, please send the jacket back with the receipt.'; true",
    )
    .await;
    page.click("document.querySelector('#send-button')").await;
    let mails = sink.wait_for(2).await;
    let parsed = email::parse(&mails[1].data).unwrap();
    assert!(parsed.text.contains("please send the jacket back"), "{}", parsed.text);
    assert_eq!(mails[1].rcpt_to, vec![CUSTOMER.to_owned()]);
    assert_eq!(parsed.in_reply_to, vec!["c1.anna@example.com".to_owned()]);
    assert_eq!(header(&mails[1].data, "Auto-Submitted"), None);

    page.goto(&format!("{base}/conversations/{conversation}")).await;
    page.wait_for(
        "document.body.innerText.includes('please send the jacket back')",
        "the sent reply",
    )
    .await;
    page.screenshot_full_page("email_console").await;
}

/// `text` as an RFC 2047 encoded word (UTF-8, base64).
fn encoded_word(text: &str) -> String {
    format!("=?UTF-8?B?{}?=", base64::engine::general_purpose::STANDARD.encode(text))
}

/// A mail in Chinese as a Chinese client writes it: encoded subject and name, base64 body.
fn chinese(message_id: &str, subject: &str, to: &str, extra: &str, body: &str) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(body);
    format!(
        "From: {} <zhang@example.cn>\nTo: {to}\nSubject: {}\nMessage-ID: <{message_id}>\n\
         Date: Sun, 06 Dec 2026 10:00:00 +0800\n{extra}MIME-Version: 1.0\n\
         Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n{body}\n",
        encoded_word("张伟"),
        encoded_word(subject),
    )
}

#[tokio::test]
async fn a_chinese_thread_follows_the_reply_address_and_survives_resolving() {
    let Mail { app, sink, .. } = mail_app().await;
    let first = chinese("z1@example.cn", "退货咨询", INBOX_ADDRESS, "", "你好，怎么退货？");
    assert_eq!(relay(&app, "zhang@example.cn", INBOX_ADDRESS, &first).await, 250);
    let mails = sink.wait_for(1).await;
    let bot = email::parse(&mails[0].data).unwrap();
    let (conversation, _) = tandem_id(bot.message_id.as_deref().unwrap());
    assert!(bot.subject.starts_with(&format!("Re: 退货咨询 [#{conversation}-")), "{}", bot.subject);
    assert!(bot.text.contains("7 天内"), "the returns answer in Chinese: {}", bot.text);
    assert_eq!(bot.to, vec!["zhang@example.cn".to_owned()]);
    let reply_address = header(&mails[0].data, "Reply-To").unwrap();
    let reply_address = reply_address.trim_start_matches('<').trim_end_matches('>').to_owned();
    let customer =
        app.store.conversation(ConversationId(conversation)).await.unwrap().unwrap().customer_id;
    let stored = app.store.customer(customer).await.unwrap().unwrap();
    assert_eq!(stored.name, "张伟");

    // A reply to the reply address, the headers lost and the subject rewritten; Foxmail's
    // attribution line above the quote.
    let quoted: String = bot.text.lines().map(|line| format!("> {line}\n")).collect();
    let reply = chinese(
        "z2@example.cn",
        "还有一个问题",
        &reply_address,
        "",
        &format!(
            "多久能发货？\n\n在 2026年12月6日 10:03，Shop support <{INBOX_ADDRESS}> 写道：\n{quoted}"
        ),
    );
    assert_eq!(relay(&app, "zhang@example.cn", &reply_address, &reply).await, 250);
    let mails = sink.wait_for(2).await;
    let history = messages(&app, conversation).await;
    let said: Vec<&str> = customer_messages(&history).iter().map(|m| m.body.as_str()).collect();
    assert_eq!(said, vec!["你好，怎么退货？", "多久能发货？"]);
    let second = email::parse(&mails[1].data).unwrap();
    assert!(second.text.contains("48 小时"), "the shipping answer: {}", second.text);
    assert!(
        second.subject.starts_with("Re: 退货咨询 [#"),
        "the thread keeps its subject: {}",
        second.subject
    );

    // Resolved by an agent; the customer writes into the thread once more: stored and answered,
    // not refused (which would have the relay retry for days).
    let agent = app.login(AGENT).await;
    let transitions = format!("/api/v1/conversations/{conversation}/transitions");
    for action in ["assign", "resolve"] {
        let done =
            call(&app, &agent, Method::POST, &transitions, Some(json!({ "action": action }))).await;
        assert_eq!(done.status, StatusCode::OK, "{action}: {}", done.text());
    }
    let bot_id = second.message_id.unwrap();
    let again = chinese(
        "z3@example.cn",
        &format!("回复：{}", second.subject.trim_start_matches("Re: ")),
        INBOX_ADDRESS,
        &format!("In-Reply-To: <{bot_id}>\nReferences: <z1@example.cn> <{bot_id}>\n"),
        "客服几点上班？",
    );
    assert_eq!(relay(&app, "zhang@example.cn", INBOX_ADDRESS, &again).await, 250);
    let mails = sink.wait_for(3).await;
    let answer = email::parse(&mails[2].data).unwrap();
    assert_eq!(answer.in_reply_to, vec!["z3@example.cn".to_owned()]);
    let stored_in = tandem_id(answer.message_id.as_deref().unwrap()).0;
    assert_eq!(stored_in, conversation, "the thread goes on in its conversation");
    let history = messages(&app, conversation).await;
    assert_eq!(customer_messages(&history).last().unwrap().body, "客服几点上班？");
}

#[tokio::test]
async fn numbered_choices_are_answered_with_a_number() {
    let Mail { app, sink, .. } = mail_app().await;
    let first = chinese("q1@example.cn", "咨询", INBOX_ADDRESS, "", "怎么退货");
    assert_eq!(relay(&app, "zhang@example.cn", INBOX_ADDRESS, &first).await, 250);
    let bot = email::parse(&sink.wait_for(1).await[0].data).unwrap();
    let (conversation, _) = tandem_id(bot.message_id.as_deref().unwrap());

    // The bot asks which one the customer means (as it does when two articles are close).
    let choices = vec!["退货政策".to_owned(), "发货时间".to_owned()];
    let meta = tandem_domain::MessageMeta { quick_replies: choices.clone(), ..Default::default() };
    app.store
        .append_message(tandem_store::NewMessage {
            target: tandem_store::MessageTarget::Conversation(ConversationId(conversation)),
            author_kind: AuthorKind::Bot,
            author_id: None,
            author_name: None,
            body: "您想问的是哪一个？".into(),
            client_msg_id: None,
            reopen_if_resolved: false,
            only_while_bot_owns: false,
            meta: Some(meta),
            decision: None,
            sentiment: None,
        })
        .await
        .unwrap();
    let mails = sink.wait_for(2).await;
    let asked = email::parse(&mails[1].data).unwrap();
    assert!(asked.text.contains("1. 退货政策\n2. 发货时间"), "{}", asked.text);
    assert!(String::from_utf8_lossy(&mails[1].data).contains("multipart/alternative"));

    // "２" (full-width, as Chinese input methods type it) above the quoted mail.
    let asked_id = asked.message_id.unwrap();
    let quoted: String = asked.text.lines().map(|line| format!("> {line}\n")).collect();
    let answer = chinese(
        "q2@example.cn",
        &format!("回复：{}", asked.subject.trim_start_matches("Re: ")),
        INBOX_ADDRESS,
        &format!("In-Reply-To: <{asked_id}>\nReferences: <q1@example.cn> <{asked_id}>\n"),
        &format!("２\n\n在 2026年12月6日 10:03，Shop support <{INBOX_ADDRESS}> 写道：\n{quoted}"),
    );
    assert_eq!(relay(&app, "zhang@example.cn", INBOX_ADDRESS, &answer).await, 250);
    let mails = sink.wait_for(3).await;
    let history = messages(&app, conversation).await;
    assert_eq!(
        customer_messages(&history).last().unwrap().body,
        "发货时间",
        "the number is the choice"
    );
    let third = email::parse(&mails[2].data).unwrap();
    assert!(third.text.contains("48 小时"), "the shipping answer: {}", third.text);
}

/// GBK, GB2312, GB18030 and Big5 mail (mail-parser's `full_encoding`) is read as Chinese.
#[tokio::test]
async fn an_html_only_mail_in_gbk_is_read_and_answered() {
    let Mail { app, sink, .. } = mail_app().await;
    // Foxmail's way: GBK, HTML only, the subject an encoded word in GB2312.
    let mail = "From: =?GBK?B?1cXOsA==?= <zhang@example.cn>\nTo: support@shop.example\n\
                Subject: =?GB2312?B?zcu79dfJ0a8=?=\nMessage-ID: <gbk.1@example.cn>\nMIME-Version: 1.0\n\
                Content-Type: text/html; charset=\"gbk\"\nContent-Transfer-Encoding: base64\n\n\
                PGh0bWw+PGJvZHk+PGRpdj7E47rDo6w8Yj7U9cO0zcu79aO/PC9iPjwvZGl2PjxkaXY+PGJyPjwvZGl2PjxkaXY+1cXOsDwvZGl2PjwvYm9keT48L2h0bWw+\n";
    assert_eq!(relay(&app, "zhang@example.cn", INBOX_ADDRESS, mail).await, 250);
    let mails = sink.wait_for(1).await;
    let bot = email::parse(&mails[0].data).unwrap();
    let (conversation, _) = tandem_id(bot.message_id.as_deref().unwrap());
    let history = messages(&app, conversation).await;
    let first = customer_messages(&history)[0];
    assert!(bot.subject.starts_with("Re: 退货咨询 [#"), "{}", bot.subject);
    assert!(bot.text.contains("7 天内"), "{}", bot.text);
    assert!(first.body.contains("怎么退货？"), "{}", first.body);
    assert!(!first.body.contains('<'), "no markup: {}", first.body);
    let customer = app
        .store
        .customer(
            app.store
                .conversation(ConversationId(conversation))
                .await
                .unwrap()
                .unwrap()
                .customer_id,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(customer.name, "张伟");
}

#[tokio::test]
async fn an_inbox_whose_address_has_a_tag_gets_its_mail_and_only_its_mail() {
    let Mail { app, admin, inbox, sink } = mail_app().await;
    // A second inbox on a tagged form of the same mailbox.
    let body = json!({ "name": "Mail CN", "channel": "email" });
    let created = call(&app, &admin, Method::POST, "/api/v1/inboxes", Some(body)).await;
    let tagged_inbox = created.json()["id"].as_i64().unwrap();
    let mut settings = smtp_settings(sink.address, None);
    settings["email"]["address"] = json!("support+cn@shop.example");
    let saved = save_settings(&app, &admin, tagged_inbox, settings).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text());

    let mail = plain("tag.1@example.com", "Order", "", "How do I return an item?")
        .replace(&format!("To: Shop support <{INBOX_ADDRESS}>"), "To: support+cn@shop.example");
    assert_eq!(relay(&app, CUSTOMER, "support+cn@shop.example", &mail).await, 250);
    let bot = email::parse(&sink.wait_for(1).await[0].data).unwrap();
    assert_eq!(bot.from.address, "support+cn@shop.example");
    let conversations = email_conversations(&app).await;
    assert_eq!(conversations.len(), 1, "stored once, in the tagged inbox: {conversations:#?}");
    assert_eq!(conversations[0].inbox_id.0, tagged_inbox);
    assert_ne!(tagged_inbox, inbox);

    // Its replies' reply address reaches it too.
    let reply_to = header(&sink.all()[0].data, "Reply-To").unwrap();
    let reply_to = reply_to.trim_start_matches('<').trim_end_matches('>').to_owned();
    assert!(reply_to.starts_with("support+cn+c"), "{reply_to}");
    let reply = plain("tag.2@example.com", "Hm", "", "And how long does shipping take?")
        .replace(&format!("To: Shop support <{INBOX_ADDRESS}>"), &format!("To: {reply_to}"));
    assert_eq!(relay(&app, CUSTOMER, &reply_to, &reply).await, 250);
    sink.wait_for(2).await;
    let conversations = email_conversations(&app).await;
    assert_eq!(conversations.len(), 1, "{conversations:#?}");
    assert_eq!(customer_messages(&messages(&app, conversations[0].id.0).await).len(), 2);
}

/// An agent writes by e-mail to a customer who chatted on the widget: a new e-mail conversation
/// assigned to the agent, mailed to the customer's address, into which the answer threads; a
/// customer without an address is refused, naming `to`.
#[tokio::test]
async fn an_agent_writes_by_email_to_a_customer_met_on_another_channel() {
    let Mail { app, sink, .. } = mail_app().await;
    let visitor = app
        .store
        .create_customer(tandem_store::NewCustomer {
            workspace_id: app.workspace,
            name: "林晓".into(),
            email: Some("lin@example.cn".into()),
            locale: None,
            attributes: Default::default(),
        })
        .await
        .unwrap();
    let agent = app.login(AGENT).await;
    let uri = format!("/api/v1/customers/{}/emails", visitor.id.0);
    let body = json!({ "subject": "您的退货", "body": "您好，退货地址已发到您的邮箱，请查收。" });
    let started = call(&app, &agent, Method::POST, &uri, Some(body)).await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.text());
    let started = started.json();
    assert_eq!(started["to"], "lin@example.cn");
    let conversation = started["conversation_id"].as_i64().unwrap();
    let stored = app.store.conversation(ConversationId(conversation)).await.unwrap().unwrap();
    assert_eq!(stored.state, tandem_domain::ConversationState::Human);
    assert!(stored.assignee_id.is_some(), "assigned to the agent who wrote");

    let mails = sink.wait_for(1).await;
    let first = email::parse(&mails[0].data).unwrap();
    assert_eq!(mails[0].rcpt_to, ["lin@example.cn"]);
    assert!(first.subject.starts_with("您的退货 [#"), "{}", first.subject);
    assert!(first.in_reply_to.is_empty(), "it starts the thread");
    assert_eq!(header(&mails[0].data, "Auto-Submitted"), None, "a person wrote it");
    assert!(first.text.contains("退货地址"), "{}", first.text);

    // The customer's answer threads back into that conversation, which a person holds.
    let our_id = first.message_id.clone().unwrap();
    let reply = plain(
        "lin.1@example.cn",
        &format!("Re: {}", first.subject),
        &format!("In-Reply-To: <{our_id}>\nReferences: <{our_id}>\n"),
        "收到，谢谢！",
    )
    .replace(CUSTOMER, "lin@example.cn");
    assert_eq!(relay(&app, "lin@example.cn", INBOX_ADDRESS, &reply).await, 250);
    let thread = messages(&app, conversation).await;
    let answers = customer_messages(&thread);
    assert_eq!(answers.len(), 1, "{thread:#?}");
    assert_eq!(answers[0].body, "收到，谢谢！");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.all().len(), 1, "the bot does not answer in a person's conversation");

    // Nobody to write to.
    let nameless = app
        .store
        .create_customer(tandem_store::NewCustomer {
            workspace_id: app.workspace,
            name: "Visitor 4242".into(),
            email: None,
            locale: None,
            attributes: Default::default(),
        })
        .await
        .unwrap();
    let uri = format!("/api/v1/customers/{}/emails", nameless.id.0);
    let refused = call(&app, &agent, Method::POST, &uri, Some(json!({ "body": "hello" }))).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.text());
    assert_eq!(refused.json()["field"], "to");
}

/// One customer across channels: a customer made by an e-mail is merged automatically into the
/// verified customer the API channel names with that address (the business vouches for it),
/// recorded in the audit log and undone like any merge; an address typed into the widget
/// merges nothing.
#[tokio::test]
async fn a_verified_address_merges_the_customer_an_email_made() {
    let Mail { app, admin, sink, .. } = mail_app().await;
    assert_eq!(relay(&app, CUSTOMER, INBOX_ADDRESS, &first_mail()).await, 250);
    sink.wait_for(1).await;
    let mailed = email_conversations(&app).await[0].clone();
    let by_mail = mailed.customer_id;

    // The business's own app, on the API channel, names its user with that address.
    let created = call(
        &app,
        &admin,
        Method::POST,
        "/api/v1/inboxes",
        Some(json!({ "name": "App", "channel": "api" })),
    )
    .await;
    let (api_inbox, key) = {
        let inbox = created.json();
        (inbox["id"].as_i64().unwrap(), inbox["public_key"].as_str().unwrap().to_owned())
    };
    let uri = format!("/api/v1/inboxes/{api_inbox}/identity");
    let secret = call(&app, &admin, Method::GET, &uri, None).await.json()["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let sent = app
        .post_json(
            "/api/v1/channel/messages",
            &[("x-tandem-inbox", key.as_str()), ("authorization", &format!("Bearer {secret}"))],
            json!({
                "customer": { "id": "u-77", "name": "Anna Lee", "email": "Anna@Example.com" },
                "text": "Is my return on its way?",
                "client_msg_id": "app-1",
            }),
        )
        .await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.text());
    let verified = tandem_domain::CustomerId(sent.json()["customer_id"].as_i64().unwrap());
    assert_ne!(verified, by_mail);

    // The e-mail's conversation and the address now belong to the verified customer.
    let moved = app.store.conversation(mailed.id).await.unwrap().unwrap();
    assert_eq!(moved.customer_id, verified);
    let identities = app.store.customer_identities(verified).await.unwrap();
    let email = identities.iter().find(|identity| identity.value == CUSTOMER).expect("moved");
    assert!(email.verified, "the business vouched for it");
    let merges = app.store.customer_merges(app.workspace, verified).await.unwrap();
    assert_eq!(merges.len(), 1);
    assert_eq!((merges[0].merged, merges[0].by), (by_mail, None), "automatic");
    let audit = app.store.audit(app.workspace, Default::default(), 100, None).await.unwrap();
    assert!(audit.iter().any(|entry| entry.action == "customer.merge.automatic"), "{audit:#?}");

    // The next mail from that address reaches the verified customer.
    let next = plain("anna.9@example.com", "Another question", "", "Do you ship to Canada?");
    assert_eq!(relay(&app, CUSTOMER, INBOX_ADDRESS, &next).await, 250);
    let newest = email_conversations(&app).await[0].clone();
    assert_eq!(newest.customer_id, verified);

    // A supervisor undoes the merge: the first conversation and the address go back.
    let undo = format!("/api/v1/customer-merges/{}/undo", merges[0].id);
    let undone = call(&app, &admin, Method::POST, &undo, None).await;
    assert_eq!(undone.status, StatusCode::OK, "{}", undone.text());
    let back = app.store.conversation(mailed.id).await.unwrap().unwrap();
    assert_eq!(back.customer_id, by_mail);
    let returned = app.store.customer_identities(by_mail).await.unwrap();
    assert!(returned.iter().any(|identity| identity.value == CUSTOMER), "{returned:#?}");
}
