//! E-mail in: the SMTP listener's handler. The business's mail server (or a relay such as
//! Postfix, or a forwarding rule) delivers the inbox's mail to Tandem's listener; a mail is
//! acknowledged (`250`) only once it is stored, so a mail server that gets no answer, or a
//! temporary refusal, keeps it and tries again.
//!
//! A recipient is an inbox's address, or its `+tag` form that Tandem's replies carry. Each
//! mail is threaded by Tandem's own tokens first (`Message-ID`s of its replies, the reply
//! address, the subject tag), then by the customer's earlier mails it references, and starts
//! a new conversation otherwise. Automatic mail (bounces, out-of-office replies, lists) is
//! accepted and dropped: answering it is how mail loops start.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tandem_channels::email::{
    self as mail, Envelope, InboundMail, MailHandler, Recipient, Refusal,
};
use tandem_domain::{Channel, ExternalMeta, IdentityKind, Inbox};

use super::inbound::{self, File, Inbound, Thread};
use super::settings::{ChannelSettings, EmailSettings};
use crate::AppState;
use crate::error::ApiError;

/// The `[server.email]` section of the configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmailConfig {
    /// Where the SMTP listener listens (`127.0.0.1:2525`); unset (the default): no listener.
    /// It has neither TLS nor authentication: keep it on a private address that only the
    /// business's mail server reaches.
    pub smtp_listen: Option<SocketAddr>,
    /// The name the listener greets with.
    pub hostname: String,
    /// Largest mail accepted, attachments included, in bytes.
    pub max_message_bytes: usize,
}

impl Default for EmailConfig {
    fn default() -> Self {
        EmailConfig {
            smtp_listen: None,
            hostname: "tandem.localhost".to_owned(),
            max_message_bytes: 25 * 1024 * 1024,
        }
    }
}

/// Starts the SMTP listener when the configuration names an address; returns the address it
/// listens on.
pub async fn start(state: AppState) -> std::io::Result<Option<SocketAddr>> {
    let Some(address) = state.config.email.smtp_listen else { return Ok(None) };
    let listener = tokio::net::TcpListener::bind(address).await?;
    let bound = listener.local_addr()?;
    let _ = state.smtp.set(bound);
    let config = mail::ListenerConfig {
        hostname: state.config.email.hostname.clone(),
        max_message_bytes: state.config.email.max_message_bytes,
        max_recipients: 100,
        idle_timeout: Duration::from_secs(300),
    };
    let handler: Arc<dyn MailHandler> = Arc::new(Listener { state });
    tokio::spawn(async move {
        if let Err(error) = mail::serve(listener, config, handler).await {
            tracing::error!(%error, "the SMTP listener stopped");
        }
    });
    tracing::info!(%bound, "SMTP listener ready");
    Ok(Some(bound))
}

struct Listener {
    state: AppState,
}

/// The e-mail inboxes with their settings.
async fn email_inboxes(state: &AppState) -> Result<Vec<(Inbox, EmailSettings)>, ApiError> {
    let inboxes = state.store.channel_inboxes(Channel::Email).await?;
    Ok(inboxes
        .into_iter()
        .filter_map(|(inbox, json)| match serde_json::from_value(json) {
            Ok(ChannelSettings::Email(settings)) => Some((inbox, settings)),
            _ => None,
        })
        .collect())
}

/// Whether `recipient` is the inbox's address or its `+tag` form. An inbox's address may carry
/// a tag itself (`support+cn@`), whose own tagged forms are `support+cn+…@`.
fn addressed_to(settings: &EmailSettings, recipient: &str) -> bool {
    let recipient = recipient.trim().to_lowercase();
    let address = settings.address.to_lowercase();
    let (Some((local, domain)), Some((inbox_local, inbox_domain))) =
        (recipient.split_once('@'), address.split_once('@'))
    else {
        return false;
    };
    let tagged = local.strip_prefix(inbox_local).is_some_and(|rest| rest.starts_with('+'));
    (local == inbox_local || tagged) && domain == inbox_domain
}

/// The inbox a recipient names: the most specific one, for `support+cn@` is the address of
/// the `support+cn@` inbox, not a tagged form of `support@`'s.
fn inbox_for<'a>(
    inboxes: &'a [(Inbox, EmailSettings)],
    recipient: &str,
) -> Option<&'a (Inbox, EmailSettings)> {
    inboxes
        .iter()
        .filter(|(_, settings)| addressed_to(settings, recipient))
        .max_by_key(|(_, settings)| settings.address.len())
}

#[async_trait::async_trait]
impl MailHandler for Listener {
    async fn recipient(&self, address: &str) -> Recipient {
        match email_inboxes(&self.state).await {
            Ok(inboxes) if inboxes.iter().any(|(_, settings)| addressed_to(settings, address)) => {
                Recipient::Accept
            }
            Ok(_) => Recipient::Unknown,
            // The store is away: not "unknown", which would bounce the mail for good. The
            // mail is refused for now at its end instead, and the sender's server retries.
            Err(_) => Recipient::Accept,
        }
    }

    async fn deliver(&self, envelope: Envelope) -> Result<(), Refusal> {
        let parsed = mail::parse(&envelope.data)
            .map_err(|error| Refusal::permanent(format!("unreadable message: {error}")))?;
        if mail::envelope_is_bounce(envelope.mail_from.as_deref()) || parsed.automatic.is_some() {
            tracing::info!(automatic = ?parsed.automatic, "automatic mail dropped: Tandem does not answer it");
            return Ok(());
        }
        let inboxes = email_inboxes(&self.state)
            .await
            .map_err(|_| Refusal::temporary("the store is unavailable; try again later"))?;
        let mut delivered = Vec::new();
        for recipient in &envelope.rcpt_to {
            if let Some((inbox, settings)) = inbox_for(&inboxes, recipient)
                && !delivered.contains(&inbox.id)
            {
                delivered.push(inbox.id);
                store(&self.state, inbox, settings, &parsed).await?;
            }
        }
        Ok(())
    }
}

/// Stores one mail in one inbox.
async fn store(
    state: &AppState,
    inbox: &Inbox,
    settings: &EmailSettings,
    mail: &InboundMail,
) -> Result<(), Refusal> {
    let unavailable = || Refusal::temporary("the store is unavailable; try again later");
    // A mail without a Message-ID (rare, and against RFC 5322) is identified by its bytes.
    let id = mail.message_id.clone().unwrap_or_else(|| {
        format!("{}-{}-{}", mail.from.address, mail.subject, mail.original.len())
    });
    let key =
        mail::ThreadKey::new(settings.thread_secret.as_deref().unwrap_or_default().as_bytes());
    // A relay's retry of a mail stored already is known as one by `inbound::receive`.
    let thread = match key.conversation_of(mail) {
        Some(conversation) => Thread::In(tandem_domain::ConversationId(conversation)),
        None => {
            let referenced: Vec<String> = mail
                .in_reply_to
                .iter()
                .chain(&mail.references)
                .map(|id| inbound::client_msg_id(id))
                .collect();
            match state.store.conversation_by_client_msg_ids(inbox.id, &referenced).await {
                Ok(Some(conversation)) => Thread::In(conversation.id),
                Ok(None) => Thread::New,
                Err(_) => return Err(unavailable()),
            }
        }
    };
    let reply_to = mail.reply_to.as_ref().unwrap_or(&mail.from).address.clone();
    let inbound = Inbound {
        identity: IdentityKind::Email,
        identity_value: mail.from.address.clone(),
        verified: false,
        name: mail.from.name.clone().unwrap_or_default(),
        email: Some(mail.from.address.clone()),
        text: mail.text.clone(),
        external: ExternalMeta {
            id,
            subject: Some(mail.subject.clone()).filter(|subject| !subject.is_empty()),
            reply_to: Some(reply_to),
            reply_until: None,
            original: (mail.original.trim() != mail.text.trim()).then(|| mail.original.clone()),
        },
        thread,
        files: mail
            .attachments
            .iter()
            .map(|attachment| File {
                filename: attachment.filename.clone(),
                content_type: attachment.content_type.clone(),
                data: attachment.data.clone(),
            })
            .collect(),
    };
    match inbound::receive(state, inbox, inbound).await {
        Ok(_) => Ok(()),
        Err(ApiError::RateLimited { retry_after_secs }) => Err(Refusal::temporary(format!(
            "too many messages from this sender; try again in {retry_after_secs} s"
        ))),
        Err(ApiError::Invalid(error)) => Err(Refusal::permanent(format!("refused: {error}"))),
        Err(error) => {
            tracing::warn!(inbox_id = %inbox.id, %error, "cannot store an e-mail; the sender's server will retry");
            Err(Refusal::temporary("cannot store the message now; try again later"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inbox_takes_its_address_and_its_tagged_forms() {
        let settings = EmailSettings {
            address: "Support@Shop.example".into(),
            display_name: None,
            smtp: serde_json::from_value(serde_json::json!({"host": "smtp.shop.example"})).unwrap(),
            thread_secret: None,
        };
        assert!(addressed_to(&settings, "support@shop.example"));
        assert!(addressed_to(&settings, "SUPPORT+c12-abc@shop.example"));
        assert!(!addressed_to(&settings, "sales@shop.example"));
        assert!(!addressed_to(&settings, "support@other.example"));
        assert!(!addressed_to(&settings, "supportx@shop.example"));
        let tagged = EmailSettings { address: "support+cn@shop.example".into(), ..settings };
        assert!(addressed_to(&tagged, "support+cn@shop.example"));
        assert!(addressed_to(&tagged, "support+cn+c12-abc@shop.example"));
        assert!(!addressed_to(&tagged, "support@shop.example"));
        assert!(!addressed_to(&tagged, "support+c12-abc@shop.example"));
    }
}
