//! The server side of SMTP (RFC 5321) with the extensions a relay expects: PIPELINING (RFC 2920),
//! 8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531), SIZE (RFC 1870) and ENHANCEDSTATUSCODES (RFC 2034).
//!
//! There is no STARTTLS and no AUTH: this listener is meant for a private address that only the
//! business's mail server or relay reaches, which receives mail from the Internet, checks it and
//! forwards Tandem's share. Put it on a public address and anyone can write to any inbox.
//!
//! A mail is acknowledged (`250` after its data) only once [`MailHandler::deliver`] returned, so
//! a mail the handler could not store stays the relay's to retry; the relay, not Tandem, is the
//! queue.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// A command line's limit. RFC 5321 §4.5.3.1.4 says 512 octets, which SIZE parameters and
/// internationalised addresses (SMTPUTF8) outgrow; more than this is not a client's mistake.
const MAX_COMMAND_LINE: usize = 2048;
/// A line of message data. RFC 5321 allows 1000 octets, but real mail (HTML from some clients)
/// breaks that; a line this long is abuse.
const MAX_TEXT_LINE: usize = 64 * 1024;
/// Unrecognised or out-of-sequence commands after which the connection is closed: a client that
/// makes this many mistakes is not a mail server.
const MAX_ERRORS: usize = 10;

/// How the listener behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerConfig {
    /// The name the listener greets with.
    pub hostname: String,
    /// The largest message accepted (its data, after dot-unstuffing), announced with SIZE.
    pub max_message_bytes: usize,
    /// Recipients accepted per mail; more are answered 452, which tells the client to send the
    /// rest in another transaction (RFC 5321 §4.5.3.1.10).
    pub max_recipients: usize,
    /// How long the client may stay silent before the connection is closed with 421.
    pub idle_timeout: Duration,
}

impl Default for ListenerConfig {
    fn default() -> ListenerConfig {
        ListenerConfig {
            hostname: "localhost".to_owned(),
            max_message_bytes: 25 * 1024 * 1024,
            max_recipients: 100,
            idle_timeout: Duration::from_secs(300),
        }
    }
}

/// Whether a recipient is one of Tandem's inboxes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recipient {
    Accept,
    /// Answered `550 5.1.1`: the relay bounces the mail for this address.
    Unknown,
}

/// A mail as SMTP delivered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The reverse path (where bounces go); `None` for the null path `<>` of a bounce itself.
    pub mail_from: Option<String>,
    /// The accepted recipients, as the client wrote them.
    pub rcpt_to: Vec<String>,
    /// The message (RFC 5322), dot-unstuffed, with the client's CRLF line endings.
    pub data: Vec<u8>,
}

/// Why a handler did not take a mail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    /// `554` (the relay bounces the mail) rather than `451` (it tries again later).
    pub permanent: bool,
    /// Told to the client; one line.
    pub message: String,
}

impl Refusal {
    /// The mail could not be taken now (the store is down, say): the relay retries.
    pub fn temporary(message: impl Into<String>) -> Refusal {
        Refusal { permanent: false, message: message.into() }
    }

    /// The mail will never be taken: the relay bounces it.
    pub fn permanent(message: impl Into<String>) -> Refusal {
        Refusal { permanent: true, message: message.into() }
    }
}

/// What the listener asks of the application.
#[async_trait]
pub trait MailHandler: Send + Sync {
    /// Whether `address` (from `RCPT TO`, as the client wrote it) is one to accept mail for.
    async fn recipient(&self, address: &str) -> Recipient;

    /// Takes a mail: returns once it is stored, for only then is it acknowledged.
    async fn deliver(&self, envelope: Envelope) -> Result<(), Refusal>;
}

/// Accepts connections on `listener` and serves each on its own task, until accepting fails.
pub async fn serve(
    listener: TcpListener,
    config: ListenerConfig,
    handler: Arc<dyn MailHandler>,
) -> io::Result<()> {
    let config = Arc::new(config);
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            // The client went away between connecting and being accepted: not the listener's fault.
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::ConnectionAborted
                        | io::ErrorKind::ConnectionReset
                        | io::ErrorKind::Interrupted
                ) =>
            {
                continue;
            }
            Err(error) => return Err(error),
        };
        // Replies are whole lines written at once: waiting to coalesce them only adds a delayed
        // ACK's 40 ms to every step of a conversation.
        let _ = stream.set_nodelay(true);
        let (config, handler) = (Arc::clone(&config), Arc::clone(&handler));
        tokio::spawn(async move {
            if let Err(error) = session(stream, &config, handler.as_ref()).await {
                tracing::debug!(%peer, %error, "SMTP session ended with an error");
            }
        });
    }
}

/// How reading a line ended.
enum Read {
    Line,
    TooLong,
    /// The connection closed (a partial last line counts as closed).
    Closed,
}

/// The mail transaction under way, from MAIL to the end of DATA.
struct Transaction {
    mail_from: Option<String>,
    rcpt_to: Vec<String>,
    /// Whether any RCPT was tried, so that DATA after only refused ones says so.
    rcpt_tried: bool,
}

struct Session<'a, S> {
    reader: BufReader<tokio::io::ReadHalf<S>>,
    writer: tokio::io::WriteHalf<S>,
    /// Replies not yet written: with PIPELINING they go out together, once the client's
    /// commands read so far are all answered (RFC 2920 §3.1).
    out: Vec<u8>,
    config: &'a ListenerConfig,
    errors: usize,
}

impl<S: AsyncRead + AsyncWrite> Session<'_, S> {
    fn reply(&mut self, code: u16, text: &str) {
        if matches!(code, 500..=504 | 555) {
            self.errors += 1;
        }
        self.out.extend_from_slice(format!("{code} {text}\r\n").as_bytes());
    }

    fn reply_lines(&mut self, code: u16, lines: &[String]) {
        for (i, line) in lines.iter().enumerate() {
            let separator = if i + 1 == lines.len() { ' ' } else { '-' };
            self.out.extend_from_slice(format!("{code}{separator}{line}\r\n").as_bytes());
        }
    }

    /// Writes the pending replies. A client that stops reading gets the idle timeout too, or
    /// it could hold the connection (and its task) forever.
    async fn flush(&mut self) -> io::Result<()> {
        let write = async {
            if !self.out.is_empty() {
                self.writer.write_all(&self.out).await?;
                self.out.clear();
            }
            self.writer.flush().await
        };
        match tokio::time::timeout(self.config.idle_timeout, write).await {
            Ok(written) => written,
            Err(_elapsed) => {
                Err(io::Error::new(io::ErrorKind::TimedOut, "the client stopped reading"))
            }
        }
    }

    /// Reads one line (with its line ending) into `line`, keeping at most `max` octets; `None`
    /// when the client stayed silent too long.
    async fn read_line(&mut self, line: &mut Vec<u8>, max: usize) -> io::Result<Option<Read>> {
        if self.reader.buffer().is_empty() {
            self.flush().await?;
        }
        match tokio::time::timeout(self.config.idle_timeout, read_line(&mut self.reader, line, max))
            .await
        {
            Ok(read) => read.map(Some),
            Err(_elapsed) => Ok(None),
        }
    }

    async fn idle_close(&mut self) -> io::Result<()> {
        let text = format!("4.4.2 {} Idle timeout, closing connection", self.config.hostname);
        self.reply(421, &text);
        self.flush().await
    }
}

async fn read_line<R: AsyncBufReadExt + Unpin>(
    reader: &mut R,
    line: &mut Vec<u8>,
    max: usize,
) -> io::Result<Read> {
    line.clear();
    let mut too_long = false;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(Read::Closed);
        }
        let (used, complete) = match available.iter().position(|&b| b == b'\n') {
            Some(at) => (at + 1, true),
            None => (available.len(), false),
        };
        if !too_long {
            if line.len() + used > max {
                too_long = true;
                line.clear();
            } else {
                line.extend_from_slice(&available[..used]);
            }
        }
        reader.consume(used);
        if complete {
            return Ok(if too_long { Read::TooLong } else { Read::Line });
        }
    }
}

/// One connection, from the greeting to QUIT (or the client leaving, or a timeout).
async fn session<S: AsyncRead + AsyncWrite>(
    stream: S,
    config: &ListenerConfig,
    handler: &dyn MailHandler,
) -> io::Result<()> {
    let (reader, writer) = tokio::io::split(stream);
    let mut s =
        Session { reader: BufReader::new(reader), writer, out: Vec::new(), config, errors: 0 };
    let host = config.hostname.clone();
    s.reply(220, &format!("{host} ESMTP Tandem"));

    let mut greeted = false;
    let mut transaction: Option<Transaction> = None;
    let mut line = Vec::new();
    loop {
        if s.errors >= MAX_ERRORS {
            s.reply(421, &format!("4.7.0 {host} Too many errors, closing connection"));
            return s.flush().await;
        }
        match s.read_line(&mut line, MAX_COMMAND_LINE).await? {
            None => return s.idle_close().await,
            Some(Read::Closed) => return Ok(()),
            Some(Read::TooLong) => {
                s.reply(500, "5.5.6 Line too long");
                continue;
            }
            Some(Read::Line) => {}
        }
        let Ok(command) = std::str::from_utf8(&line) else {
            s.reply(500, "5.5.2 Syntax error, command unrecognized");
            continue;
        };
        let command = command.trim_end_matches(['\r', '\n']);
        let (verb, argument) = match command.split_once(' ') {
            Some((verb, argument)) => (verb, argument.trim()),
            None => (command, ""),
        };
        match verb.to_ascii_uppercase().as_str() {
            "EHLO" | "HELO" if argument.is_empty() => {
                s.reply(501, "5.5.4 Syntax: EHLO domain");
            }
            "EHLO" => {
                greeted = true;
                transaction = None;
                let lines = [
                    format!("{host} Hello {argument}"),
                    "PIPELINING".to_owned(),
                    "8BITMIME".to_owned(),
                    "SMTPUTF8".to_owned(),
                    "ENHANCEDSTATUSCODES".to_owned(),
                    format!("SIZE {}", config.max_message_bytes),
                    "HELP".to_owned(),
                ];
                s.reply_lines(250, &lines);
            }
            "HELO" => {
                greeted = true;
                transaction = None;
                s.reply(250, &format!("{host} Hello {argument}"));
            }
            "MAIL" => {
                if !greeted {
                    s.reply(503, "5.5.1 Send EHLO or HELO first");
                } else if transaction.is_some() {
                    s.reply(503, "5.5.1 Nested MAIL command");
                } else {
                    match mail_from(argument, config.max_message_bytes) {
                        Ok(path) => {
                            transaction = Some(Transaction {
                                mail_from: path,
                                rcpt_to: Vec::new(),
                                rcpt_tried: false,
                            });
                            s.reply(250, "2.1.0 OK");
                        }
                        Err((code, text)) => s.reply(code, text),
                    }
                }
            }
            "RCPT" => {
                let Some(tx) = transaction.as_mut() else {
                    s.reply(503, "5.5.1 Need MAIL before RCPT");
                    continue;
                };
                match rcpt_to(argument) {
                    Err((code, text)) => s.reply(code, text),
                    Ok(_) if tx.rcpt_to.len() >= config.max_recipients => {
                        tx.rcpt_tried = true;
                        s.reply(452, "4.5.3 Too many recipients");
                    }
                    Ok(address) => {
                        tx.rcpt_tried = true;
                        match handler.recipient(&address).await {
                            Recipient::Accept => {
                                tx.rcpt_to.push(address);
                                s.reply(250, "2.1.5 OK");
                            }
                            Recipient::Unknown => {
                                s.reply(550, "5.1.1 No such mailbox here");
                            }
                        }
                    }
                }
            }
            "DATA" => {
                if !argument.is_empty() {
                    s.reply(501, "5.5.4 DATA takes no argument");
                    continue;
                }
                let tx = match transaction.take() {
                    None => {
                        s.reply(503, "5.5.1 Need MAIL before DATA");
                        continue;
                    }
                    Some(tx) if tx.rcpt_to.is_empty() => {
                        if tx.rcpt_tried {
                            s.reply(554, "5.5.1 No valid recipients");
                        } else {
                            s.reply(503, "5.5.1 Need RCPT before DATA");
                        }
                        transaction = Some(tx);
                        continue;
                    }
                    Some(tx) => tx,
                };
                s.reply(354, "Start mail input; end with <CRLF>.<CRLF>");
                let Some(data) = read_data(&mut s, &mut line).await? else { return Ok(()) };
                match data {
                    Data::TooBig => {
                        s.reply(552, "5.3.4 Message size exceeds fixed maximum message size")
                    }
                    Data::LineTooLong => s.reply(500, "5.5.6 Line too long"),
                    Data::Message(data) => {
                        let envelope =
                            Envelope { mail_from: tx.mail_from, rcpt_to: tx.rcpt_to, data };
                        match handler.deliver(envelope).await {
                            Ok(()) => s.reply(250, "2.0.0 OK: message accepted"),
                            Err(refusal) => {
                                let text = one_line(&refusal.message);
                                if refusal.permanent {
                                    s.reply(554, &format!("5.6.0 {text}"));
                                } else {
                                    s.reply(451, &format!("4.3.0 {text}"));
                                }
                            }
                        }
                    }
                }
            }
            "RSET" if !argument.is_empty() => s.reply(501, "5.5.4 RSET takes no argument"),
            "RSET" => {
                transaction = None;
                s.reply(250, "2.0.0 OK");
            }
            "NOOP" => s.reply(250, "2.0.0 OK"),
            "VRFY" if argument.is_empty() => s.reply(501, "5.5.4 Syntax: VRFY address"),
            "VRFY" => s.reply(
                252,
                "2.5.0 Cannot verify the user, but will accept mail and attempt delivery",
            ),
            "HELP" => {
                s.reply(214, "2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP VRFY HELP QUIT")
            }
            "QUIT" => {
                s.reply(221, &format!("2.0.0 {host} closing connection"));
                return s.flush().await;
            }
            "EXPN" | "STARTTLS" | "AUTH" | "BDAT" | "ETRN" | "TURN" => {
                s.reply(502, "5.5.1 Command not implemented");
            }
            _ => s.reply(500, "5.5.2 Syntax error, command unrecognized"),
        }
    }
}

enum Data {
    Message(Vec<u8>),
    TooBig,
    LineTooLong,
}

/// The message after `354`, up to the line with a single dot; `None` when the connection closed
/// or went idle (then closed) first, which delivers nothing.
async fn read_data<S: AsyncRead + AsyncWrite>(
    s: &mut Session<'_, S>,
    line: &mut Vec<u8>,
) -> io::Result<Option<Data>> {
    let max = s.config.max_message_bytes;
    let mut data = Vec::new();
    let (mut too_big, mut too_long) = (false, false);
    // The end is a dot alone on a line that follows a CRLF. Taking a bare LF for a line end here
    // would let a message smuggle a second one past the relay in front (which may read the same
    // bytes differently): "SMTP smuggling".
    let mut after_crlf = true;
    loop {
        match s.read_line(line, MAX_TEXT_LINE).await? {
            None => {
                s.idle_close().await?;
                return Ok(None);
            }
            Some(Read::Closed) => return Ok(None),
            Some(Read::TooLong) => {
                too_long = true;
                after_crlf = false;
                continue;
            }
            Some(Read::Line) => {}
        }
        if after_crlf && line.as_slice() == b".\r\n" {
            break;
        }
        after_crlf = line.ends_with(b"\r\n");
        // Dot-stuffing (RFC 5321 §4.5.2): the client doubled every leading dot.
        let content = line.strip_prefix(b".").unwrap_or(line);
        if !too_big {
            if data.len() + content.len() > max {
                too_big = true;
                data = Vec::new();
            } else {
                data.extend_from_slice(content);
            }
        }
    }
    Ok(Some(if too_big {
        Data::TooBig
    } else if too_long {
        Data::LineTooLong
    } else {
        Data::Message(data)
    }))
}

type Failure = (u16, &'static str);

/// The path in `FROM:<path>` or `TO:<path>` and what follows it.
fn path<'a>(argument: &'a str, keyword: &str) -> Result<(&'a str, &'a str), Failure> {
    let syntax = (501, "5.5.4 Syntax: MAIL FROM:<address> or RCPT TO:<address>");
    let head = argument.get(..keyword.len()).ok_or(syntax)?;
    if !head.eq_ignore_ascii_case(keyword) {
        return Err(syntax);
    }
    let rest = argument[keyword.len()..].trim_start();
    let rest = rest.strip_prefix('<').ok_or(syntax)?;
    let close = rest.find('>').ok_or(syntax)?;
    let mut path = &rest[..close];
    // An obsolete source route, "<@relay.example:user@example.com>", is to be ignored.
    if path.starts_with('@') {
        path = path.split_once(':').ok_or(syntax)?.1;
    }
    Ok((path, rest[close + 1..].trim()))
}

fn valid_address(address: &str) -> bool {
    let Some((local, domain)) = address.rsplit_once('@') else { return false };
    !local.is_empty()
        && !domain.is_empty()
        && !address.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>'))
}

/// `MAIL FROM:<path> [parameters]`: the reverse path (`None` for `<>`).
fn mail_from(argument: &str, max_message_bytes: usize) -> Result<Option<String>, Failure> {
    let (path, parameters) = path(argument, "FROM:")?;
    if !path.is_empty() && !valid_address(path) {
        return Err((501, "5.1.7 Bad sender address syntax"));
    }
    for parameter in parameters.split_whitespace() {
        let (name, value) = parameter.split_once('=').unwrap_or((parameter, ""));
        match name.to_ascii_uppercase().as_str() {
            "SIZE" => {
                let size: u64 = value.parse().map_err(|_| (501, "5.5.4 Bad SIZE parameter"))?;
                if size > max_message_bytes as u64 {
                    return Err((552, "5.3.4 Message size exceeds fixed maximum message size"));
                }
            }
            "BODY"
                if value.eq_ignore_ascii_case("7BIT") || value.eq_ignore_ascii_case("8BITMIME") => {
            }
            "SMTPUTF8" if value.is_empty() => {}
            _ => return Err((555, "5.5.4 MAIL FROM parameter not recognized")),
        }
    }
    Ok((!path.is_empty()).then(|| path.to_owned()))
}

/// `RCPT TO:<path>`: the recipient.
fn rcpt_to(argument: &str) -> Result<String, Failure> {
    let (path, parameters) = path(argument, "TO:")?;
    if !parameters.is_empty() {
        return Err((555, "5.5.4 RCPT TO parameter not recognized"));
    }
    // "postmaster" without a domain must be accepted (RFC 5321 §4.5.1).
    if !valid_address(path) && !path.eq_ignore_ascii_case("postmaster") {
        return Err((501, "5.1.3 Bad recipient address syntax"));
    }
    Ok(path.to_owned())
}

/// A handler's message made safe for a reply line.
fn one_line(text: &str) -> String {
    let text: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let text = text.trim();
    if text.is_empty() { "Not accepted".to_owned() } else { text.chars().take(400).collect() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_parameters() {
        assert_eq!(mail_from("FROM:<a@b.example>", 100), Ok(Some("a@b.example".into())));
        assert_eq!(mail_from("from: <>", 100), Ok(None));
        assert_eq!(
            mail_from("FROM:<a@b.example> SIZE=100 BODY=8BITMIME SMTPUTF8", 100),
            Ok(Some("a@b.example".into()))
        );
        assert_eq!(mail_from("FROM:<a@b.example> SIZE=101", 100).unwrap_err().0, 552);
        assert_eq!(mail_from("FROM:<a@b.example> SIZE=x", 100).unwrap_err().0, 501);
        assert_eq!(mail_from("FROM:<a@b.example> RET=FULL", 100).unwrap_err().0, 555);
        assert_eq!(mail_from("FROM:a@b.example", 100).unwrap_err().0, 501);
        assert_eq!(mail_from("FROM:<a b@c>", 100).unwrap_err().0, 501);
        assert_eq!(mail_from("TO:<a@b>", 100).unwrap_err().0, 501);
        assert_eq!(rcpt_to("TO:<@relay.example:客服@例子.中国>"), Ok("客服@例子.中国".into()));
        assert_eq!(rcpt_to("To:<Postmaster>"), Ok("Postmaster".into()));
        assert_eq!(rcpt_to("TO:<nobody>").unwrap_err().0, 501);
        assert_eq!(rcpt_to("TO:<a@b> NOTIFY=NEVER").unwrap_err().0, 555);
        assert_eq!(rcpt_to("TO").unwrap_err().0, 501);
    }

    #[test]
    fn refusal_messages_fit_one_line() {
        assert_eq!(one_line("store\r\ndown"), "store  down");
        assert_eq!(one_line(""), "Not accepted");
    }

    struct Nobody;

    #[async_trait]
    impl MailHandler for Nobody {
        async fn recipient(&self, _: &str) -> Recipient {
            Recipient::Unknown
        }
        async fn deliver(&self, _: Envelope) -> Result<(), Refusal> {
            Err(Refusal::permanent("no"))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_client_is_told_and_dropped() {
        let (client, server) = tokio::io::duplex(4096);
        let config =
            ListenerConfig { idle_timeout: Duration::from_secs(60), ..ListenerConfig::default() };
        let serving = tokio::spawn(async move { session(server, &config, &Nobody).await });
        let mut client = BufReader::new(client);
        let mut reply = String::new();
        client.read_line(&mut reply).await.unwrap();
        assert!(reply.starts_with("220 localhost"));
        reply.clear();
        client.read_line(&mut reply).await.unwrap();
        assert!(reply.starts_with("421 4.4.2"), "{reply}");
        serving.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn too_many_errors_close_the_connection() {
        let (client, server) = tokio::io::duplex(4096);
        let config = ListenerConfig::default();
        let serving = tokio::spawn(async move { session(server, &config, &Nobody).await });
        let (read, mut write) = tokio::io::split(client);
        write.write_all("BOGUS\r\n".repeat(MAX_ERRORS).as_bytes()).await.unwrap();
        let mut lines = BufReader::new(read).lines();
        let mut last = String::new();
        while let Some(line) = lines.next_line().await.unwrap() {
            last = line;
        }
        assert!(last.starts_with("421 4.7.0"), "{last}");
        serving.await.unwrap().unwrap();
    }
}
