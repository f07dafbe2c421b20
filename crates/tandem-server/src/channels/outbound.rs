//! Replies through the customer's channel. A bot's or agent's message in a conversation of an
//! e-mail, WeCom, WeChat, Feishu or DingTalk inbox leaves through the webhook outbox: saving
//! the inbox's settings binds a channel endpoint (URL `tandem-channel:<channel>`) to it, so
//! the store writes one delivery per message in the message's own transaction. The webhook
//! worker then hands these deliveries here instead of posting them, which gives every channel
//! the outbox's guarantees: nothing is lost between commit and send, a failed send is retried
//! on the webhook schedule (a refusal that cannot change, such as an unknown user, is not),
//! one conversation's replies leave one at a time in `seq` order, and on several nodes each
//! is claimed by one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tandem_channels::{dingtalk, email, feishu, wecom};
use tandem_domain::{AuthorKind, InboxId, Message, WebhookEventType};
use tandem_store::{DueWebhook, Store, now_millis};

use super::settings::{ChannelSettings, EmailSettings};

/// The URL scheme of a channel endpoint.
pub const SCHEME: &str = "tandem-channel:";

/// The channel endpoint URL for a channel.
pub fn endpoint_url(channel: tandem_domain::Channel) -> String {
    format!("{SCHEME}{}", channel.as_str())
}

/// What became of one send.
#[derive(Debug, PartialEq, Eq)]
pub enum Sent {
    /// Sent, or nothing to send (a customer's own message, a note).
    Done,
    /// Failed; worth retrying.
    Retry(String),
    /// Failed for good.
    Refused(String),
}

/// One inbox's client, built from its settings and rebuilt when they change.
enum Client {
    Email(email::Sender, EmailSettings),
    Wecom(Arc<wecom::WecomClient>, String),
    Wechat(wecom::WechatClient),
    Feishu(feishu::FeishuClient),
    Dingtalk(dingtalk::DingtalkClient),
}

/// Sends replies through their inboxes' channels; cheap to share.
pub struct Outbound {
    store: Arc<dyn Store>,
    http: reqwest::Client,
    clients: Mutex<HashMap<InboxId, (serde_json::Value, Arc<Client>)>>,
}

impl Outbound {
    pub fn new(store: Arc<dyn Store>, http: reqwest::Client) -> Outbound {
        Outbound { store, http, clients: Mutex::new(HashMap::new()) }
    }

    /// Sends a channel endpoint's delivery.
    pub async fn deliver(&self, webhook: &DueWebhook) -> Sent {
        match self.try_deliver(webhook).await {
            Ok(sent) => sent,
            Err(error) => Sent::Retry(error.to_string()),
        }
    }

    async fn try_deliver(&self, webhook: &DueWebhook) -> Result<Sent, tandem_store::StoreError> {
        if webhook.event.event_type != WebhookEventType::MessageCreated {
            return Ok(Sent::Done);
        }
        let Some(inbox) = webhook.inbox_id else {
            return Ok(Sent::Refused("the channel endpoint is bound to no inbox".into()));
        };
        let message: Message = match serde_json::from_value(webhook.event.data["message"].clone()) {
            Ok(message) => message,
            Err(error) => return Ok(Sent::Refused(format!("unreadable message: {error}"))),
        };
        // The customer wrote it, or it is for agents only: nothing goes back.
        if !matches!(message.author_kind, AuthorKind::Bot | AuthorKind::Agent) {
            return Ok(Sent::Done);
        }
        let Some(client) = self.client(inbox).await? else {
            return Ok(Sent::Refused("the inbox's channel has no settings".into()));
        };
        // The thread up to this message (its newest thousand messages).
        let from = (message.seq - 1000).max(0);
        let history = self.store.messages(message.conversation_id, from, 1000).await?;
        let last_in =
            history.iter().rev().filter(|earlier| earlier.seq < message.seq).find(|earlier| {
                earlier.author_kind == AuthorKind::Customer && external(earlier).is_some()
            });
        let choices =
            message.meta.as_ref().map(|meta| meta.quick_replies.clone()).unwrap_or_default();
        let (text, html) = email::render(&message.body, &choices, None);
        // A mail's text ends its last line; a chat message has no trailing blank line.
        let chat = text.trim_end().to_owned();
        // An e-mail may start a thread (an agent writing first); a chat app answers a user.
        let last_in = match (last_in, &*client) {
            (Some(last_in), _) => Some(last_in),
            (None, Client::Email(..)) => None,
            (None, _) => {
                return Ok(Sent::Refused(
                    "the customer has written nothing on this channel to answer".into(),
                ));
            }
        };
        let reply_to = last_in.and_then(external).and_then(|meta| meta.reply_to.clone());
        let result = match &*client {
            Client::Email(sender, settings) => {
                let mail =
                    self.mail(settings, &webhook.event.data, &message, &history, text, html)?;
                match mail {
                    Some(mail) => {
                        sender.send(&mail).await.map_err(|e| (e.is_permanent(), e.to_string()))
                    }
                    None => {
                        Err((true, "no address to answer: the customer's mail had none".into()))
                    }
                }
            }
            Client::Wecom(client, open_kfid) => match reply_to {
                Some(user) => {
                    client.send_text(&user, open_kfid, &chat).await.map(drop).map_err(api_error)
                }
                None => Err((true, "no WeCom user to answer".into())),
            },
            Client::Wechat(client) => match reply_to {
                Some(openid) => client.send_text(&openid, &chat).await.map(drop).map_err(api_error),
                None => Err((true, "no WeChat user to answer".into())),
            },
            Client::Feishu(client) => {
                let to = last_in.and_then(external).map(|meta| meta.id.clone()).unwrap_or_default();
                client.reply_text(&to, &chat).await.map(drop).map_err(api_error)
            }
            Client::Dingtalk(client) => {
                let meta = last_in.and_then(external);
                let session = meta
                    .filter(|meta| {
                        meta.reply_until.is_some_and(|until| until > now_millis() + 5_000)
                    })
                    .and_then(|meta| meta.reply_to.clone());
                match session {
                    Some(url) => dingtalk::reply_via_session(&self.http, &url, &chat)
                        .await
                        .map_err(api_error),
                    None => {
                        let staff = self.dingtalk_user(&webhook.event.data).await?;
                        match staff {
                            Some(staff) => {
                                client.send_text(&[staff], &chat).await.map(drop).map_err(api_error)
                            }
                            None => Err((true, "no DingTalk user to answer".into())),
                        }
                    }
                }
            }
        };
        Ok(match result {
            Ok(()) => Sent::Done,
            Err((true, error)) => Sent::Refused(error),
            Err((false, error)) => Sent::Retry(error),
        })
    }

    /// A WeCom inbox's client, also for fetching its messages (`sync_msg`); `None` when the
    /// inbox has no WeCom settings.
    pub(crate) async fn wecom(
        &self,
        inbox: InboxId,
    ) -> Result<Option<Arc<wecom::WecomClient>>, tandem_store::StoreError> {
        Ok(match self.client(inbox).await?.as_deref() {
            Some(Client::Wecom(client, _)) => Some(Arc::clone(client)),
            _ => None,
        })
    }

    /// The inbox's client, from its current settings.
    async fn client(
        &self,
        inbox: InboxId,
    ) -> Result<Option<Arc<Client>>, tandem_store::StoreError> {
        let Some(json) = self.store.inbox_settings(inbox).await? else { return Ok(None) };
        if let Some((seen, client)) = self.clients.lock().expect("not poisoned").get(&inbox)
            && *seen == json
        {
            return Ok(Some(Arc::clone(client)));
        }
        let Ok(settings) = serde_json::from_value::<ChannelSettings>(json.clone()) else {
            return Ok(None);
        };
        let http = self.http.clone();
        let client = match settings {
            ChannelSettings::Email(settings) => match email::Sender::new(&settings.smtp) {
                Ok(sender) => Client::Email(sender, settings),
                Err(error) => {
                    tracing::warn!(inbox_id = %inbox, %error, "cannot set up the inbox's SMTP sender");
                    return Ok(None);
                }
            },
            ChannelSettings::Wecom(s) => Client::Wecom(
                Arc::new(wecom::WecomClient::new(
                    http,
                    s.base_url,
                    s.corp_id,
                    s.secret.unwrap_or_default(),
                )),
                s.open_kfid,
            ),
            ChannelSettings::Wechat(s) => Client::Wechat(wecom::WechatClient::new(
                http,
                s.base_url,
                s.app_id,
                s.app_secret.unwrap_or_default(),
            )),
            ChannelSettings::Feishu(s) => Client::Feishu(feishu::FeishuClient::new(
                http,
                &s.base_url,
                s.app_id,
                s.app_secret.unwrap_or_default(),
            )),
            ChannelSettings::Dingtalk(s) => Client::Dingtalk(dingtalk::DingtalkClient::new(
                http,
                &s.base_url,
                s.app_key,
                s.app_secret.unwrap_or_default(),
                s.robot_code,
            )),
        };
        let client = Arc::new(client);
        self.clients.lock().expect("not poisoned").insert(inbox, (json, Arc::clone(&client)));
        Ok(Some(client))
    }

    /// The e-mail for `message`: to the address the customer's last mail asked answers at,
    /// in its thread (`In-Reply-To` their last mail, `References` the thread so far), with our
    /// own `Message-ID`, reply address and subject tag, each carrying the thread's token.
    fn mail(
        &self,
        settings: &EmailSettings,
        data: &serde_json::Value,
        message: &Message,
        history: &[Message],
        text: String,
        html: String,
    ) -> Result<Option<email::OutboundMail>, tandem_store::StoreError> {
        let conversation = message.conversation_id;
        let key =
            email::ThreadKey::new(settings.thread_secret.as_deref().unwrap_or_default().as_bytes());
        let (local, domain) =
            settings.address.split_once('@').unwrap_or((&settings.address, "localhost"));
        let earlier: Vec<&Message> = history.iter().filter(|m| m.seq < message.seq).collect();
        // The customer's last mail, or the line an agent's first mail opened the thread with.
        let last_in = earlier.iter().rev().find(|m| {
            m.author_kind == AuthorKind::Customer
                || (m.author_kind == AuthorKind::System
                    && external(m).is_some_and(|meta| meta.reply_to.is_some()))
        });
        let customer = &data["conversation"]["customer"];
        let to = last_in
            .and_then(|m| external(m))
            .and_then(|meta| meta.reply_to.clone())
            .or_else(|| customer["email"].as_str().map(str::to_owned));
        let Some(to) = to else { return Ok(None) };
        let subject = earlier
            .iter()
            .filter_map(|m| external(m).and_then(|meta| meta.subject.clone()))
            .next()
            .unwrap_or_default();
        let tag = key.subject_tag(conversation.0);
        let subject = if subject.contains(&tag) {
            subject
        } else {
            format!("{subject} {tag}").trim().to_owned()
        };
        let mut references: Vec<String> = earlier
            .iter()
            .filter_map(|m| match m.author_kind {
                AuthorKind::Customer => external(m).map(|meta| meta.id.clone()),
                AuthorKind::Bot | AuthorKind::Agent => {
                    Some(key.message_id(conversation.0, m.seq, domain))
                }
                _ => None,
            })
            .collect();
        // Mail clients keep only so many; the first and the newest matter most.
        if references.len() > 20 {
            references.drain(1..references.len() - 19);
        }
        let from_name = match message.author_kind {
            AuthorKind::Agent => message.author_name.clone(),
            _ => settings.display_name.clone().or_else(|| message.author_name.clone()),
        };
        Ok(Some(email::OutboundMail {
            from: email::Mailbox { name: from_name, address: settings.address.clone() },
            to: email::Mailbox { name: customer["name"].as_str().map(str::to_owned), address: to },
            reply_to: Some(key.reply_address(local, domain, conversation.0)),
            subject,
            message_id: key.message_id(conversation.0, message.seq, domain),
            in_reply_to: last_in
                .and_then(|m| external(m))
                .map(|meta| meta.id.clone())
                .filter(|id| !id.is_empty()),
            references,
            text,
            html,
            attachments: Vec::new(),
            auto_submitted: message.author_kind == AuthorKind::Bot,
        }))
    }

    /// The DingTalk user a conversation's customer is.
    async fn dingtalk_user(
        &self,
        data: &serde_json::Value,
    ) -> Result<Option<String>, tandem_store::StoreError> {
        let Some(customer) = data["conversation"]["customer_id"].as_i64() else { return Ok(None) };
        let identities =
            self.store.customer_identities(tandem_domain::CustomerId(customer)).await?;
        Ok(identities
            .into_iter()
            .find(|identity| identity.kind == tandem_domain::IdentityKind::Dingtalk)
            .map(|identity| identity.value))
    }
}

fn external(message: &Message) -> Option<&tandem_domain::ExternalMeta> {
    message.meta.as_ref()?.external.as_ref()
}

/// A channel API's error as (permanent, text).
fn api_error(error: impl ApiFailure) -> (bool, String) {
    (error.is_permanent(), error.to_string())
}

/// What the channels' API errors have in common.
trait ApiFailure: std::fmt::Display {
    fn is_permanent(&self) -> bool;
}

impl ApiFailure for wecom::ApiError {
    fn is_permanent(&self) -> bool {
        wecom::ApiError::is_permanent(self)
    }
}

impl ApiFailure for feishu::ApiError {
    fn is_permanent(&self) -> bool {
        feishu::ApiError::is_permanent(self)
    }
}

impl ApiFailure for dingtalk::ApiError {
    fn is_permanent(&self) -> bool {
        dingtalk::ApiError::is_permanent(self)
    }
}
