//! What every channel does with a customer's message once its protocol has been checked:
//! find the customer by the identity the channel vouches for, pick the conversation, turn a
//! numbered answer into the choice it names, store the message with how the channel knows
//! it (and its files), and let the relay run the bot's turn, as the widget does.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use tandem_domain::{
    AuthorKind, ConversationId, ExternalMeta, IdentityKind, Inbox, MessageMeta, validate,
};
use tandem_domain::{Conversation, Customer};
use tandem_flow::CustomerSend;
use tandem_store::{
    Appended, Attached, AuditActorKind, CustomerMerge, IdentifiedCustomer, MessageTarget,
    NewAttachment, NewAuditEntry, StoreError,
};

use crate::AppState;
use crate::error::{ApiError, ApiResult};

/// Longest message body Tandem stores (as the widget's); a longer e-mail is cut there, and
/// its whole text kept in the message's `external.original`.
const MAX_BODY_CHARS: usize = 4000;
/// Longest original text kept with a message.
const MAX_ORIGINAL_CHARS: usize = 100_000;

/// A customer's message as a channel delivered it.
#[derive(Debug)]
pub(crate) struct Inbound {
    /// How the channel names the sender.
    pub identity: IdentityKind,
    pub identity_value: String,
    /// Whether the channel vouches for the identity (a platform's signed account id) rather
    /// than the sender stating it (an e-mail's `From`).
    pub verified: bool,
    /// The sender's name, for a new customer.
    pub name: String,
    pub email: Option<String>,
    /// What the bot and agents read.
    pub text: String,
    pub external: ExternalMeta,
    pub thread: Thread,
    pub files: Vec<File>,
}

/// Which conversation a message belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Thread {
    /// The customer's current conversation in the inbox (chat apps).
    Latest,
    /// A conversation the message answers (an e-mail reply), if it is the customer's.
    In(ConversationId),
    /// A new conversation (a new e-mail thread).
    New,
}

#[derive(Debug)]
pub(crate) struct File {
    pub filename: String,
    pub content_type: String,
    pub data: Vec<u8>,
}

/// The `client_msg_id` of a channel's message: its channel id hashed to the allowed
/// characters, so a redelivered message (a mail server's retry, WeCom's repeated callback)
/// is stored once.
pub(crate) fn client_msg_id(external_id: &str) -> String {
    let digest = Sha256::digest(external_id.trim().as_bytes());
    let hex: String = digest.iter().take(20).map(|byte| format!("{byte:02x}")).collect();
    format!("ext:{hex}")
}

/// Stores the message and starts the bot's turn; answers once it is durable.
pub(crate) async fn receive(
    state: &AppState,
    inbox: &Inbox,
    inbound: Inbound,
) -> ApiResult<Appended> {
    let customer = state
        .store
        .identified_customer(IdentifiedCustomer {
            workspace_id: inbox.workspace_id,
            kind: inbound.identity,
            value: inbound.identity_value.clone(),
            verified: inbound.verified,
            name: display_name(&inbound.name, &inbound.identity_value),
            email: inbound.email.clone(),
            locale: None,
            attributes: BTreeMap::from([("source".to_owned(), inbox.channel.as_str().to_owned())]),
        })
        .await?;
    let client_msg_id = client_msg_id(&inbound.external.id);
    // A redelivery (a mail server's retry, a platform's repeated callback) of a message stored
    // already, wherever it went: answered as stored (with files a failed first attempt may have
    // left out), without a second turn or a rate-limit charge.
    let stored =
        state.store.conversation_by_client_msg_ids(inbox.id, std::slice::from_ref(&client_msg_id));
    if let Some(conversation) = stored.await?.filter(|c| c.customer_id == customer.id)
        && let Some(message) =
            state.store.message_by_client_id(conversation.id, &client_msg_id).await?
    {
        store_files(state, conversation.id, &inbound.files).await?;
        return Ok(Appended { message, conversation, created: false });
    }
    let new = MessageTarget::NewConversation { inbox_id: inbox.id, customer_id: customer.id };
    // Where the message goes, and that conversation as it stands (none for a new one).
    let (target, current) = match inbound.thread {
        Thread::In(id) => match state.store.conversation(id).await? {
            // A thread is followed only for its own customer: someone else answering a
            // forwarded mail starts a conversation of their own.
            Some(conversation)
                if conversation.inbox_id == inbox.id && conversation.customer_id == customer.id =>
            {
                (MessageTarget::Conversation(id), Some(conversation))
            }
            _ => (new, None),
        },
        Thread::New => (new, None),
        Thread::Latest => (
            MessageTarget::CustomerLatest { inbox_id: inbox.id, customer_id: customer.id },
            state.store.latest_conversation(inbox.id, customer.id).await?,
        ),
    };
    if let Err(retry_after_secs) =
        state.limits.widget_messages.take(state.store.as_ref(), &customer.id).await
    {
        return Err(ApiError::RateLimited { retry_after_secs });
    }
    let mut text = match &current {
        Some(conversation) => chosen(state, conversation, &inbound.text).await?,
        None => inbound.text.clone(),
    };
    for file in &inbound.files {
        // Named in the text too, so that the bot, the reports and a reader without the file
        // list know it came.
        text.push_str(&format!("\n[{}, {}]", file.filename, size(file.data.len())));
    }
    let text = text.trim();
    let body = if text.is_empty() { "…".to_owned() } else { cut(text, MAX_BODY_CHARS) };
    let mut external = inbound.external;
    external.original = external.original.map(|original| cut(&original, MAX_ORIGINAL_CHARS));
    let meta = MessageMeta { external: Some(external), ..MessageMeta::default() };
    let send = CustomerSend {
        inbox: inbox.clone(),
        customer,
        client_msg_id: Some(client_msg_id),
        body: validate::message_body(&body)?,
    };
    let appended = state.relay.customer_message_to(send, target, Some(meta)).await?;
    store_files(state, appended.conversation.id, &inbound.files).await?;
    Ok(appended)
}

/// A verified customer (the business vouched for them: a signed widget identity, the API
/// channel's key) owns the e-mail address or phone number the business gave for them. A
/// customer who wrote from that address before (an e-mail) is the same person, and is merged
/// into them automatically: recorded in the merge history and the audit log, and undone like
/// an agent's merge. A holder that is itself another of the business's verified users is
/// left alone: two signed-in users are two people, whatever address they typed.
pub(crate) async fn claim_identity(
    state: &AppState,
    customer: &Customer,
    kind: IdentityKind,
    value: &str,
) -> ApiResult<Option<CustomerMerge>> {
    let holder = match state.store.attach_identity(customer.id, kind, value, true).await? {
        Attached::Attached | Attached::Already => return Ok(None),
        Attached::HeldBy(holder) => holder,
    };
    let Some(other) = state.store.customer(holder).await? else { return Ok(None) };
    if other.external_id.is_some() {
        tracing::info!(customer_id = %customer.id, other = %holder, kind = kind.as_str(), "a verified identifier is held by another verified customer; not merged");
        return Ok(None);
    }
    let merge =
        match state.store.merge_customers(customer.workspace_id, customer.id, holder, None).await {
            Ok(merge) => merge,
            // Merged away meanwhile (another request got there first): nothing left to do.
            Err(StoreError::Conflict(_)) | Err(StoreError::NotFound(_)) => return Ok(None),
            Err(error) => return Err(error.into()),
        };
    // The identity moved with the merge; now it is vouched for.
    state.store.attach_identity(customer.id, kind, value, true).await?;
    let entry = NewAuditEntry {
        workspace_id: customer.workspace_id,
        actor_kind: AuditActorKind::System,
        actor_id: None,
        actor_name: "Tandem".to_owned(),
        action: "customer.merge.automatic".to_owned(),
        target: format!("customer:{}", customer.id),
        detail: serde_json::json!({
            "merge_id": merge.id,
            "merged": holder.0,
            "identity": { "kind": kind.as_str(), "value": value },
        }),
        ip: None,
    };
    state.store.append_audit(entry).await?;
    tracing::info!(customer_id = %customer.id, merged = %holder, merge_id = merge.id, "customers merged on a verified identifier");
    Ok(Some(merge))
}

/// A new customer's name: the channel's, or the identity's value.
fn display_name(name: &str, identity: &str) -> String {
    let name = name.trim();
    let name = if name.is_empty() { identity } else { name };
    cut(name, 80)
}

/// Stores the files the conversation does not have yet (by their SHA-256).
async fn store_files(
    state: &AppState,
    conversation: ConversationId,
    files: &[File],
) -> ApiResult<()> {
    if files.is_empty() {
        return Ok(());
    }
    let stored = state.store.conversation_attachments(conversation).await?;
    for file in files {
        let sha256: String =
            Sha256::digest(&file.data).iter().map(|byte| format!("{byte:02x}")).collect();
        if stored.iter().any(|info| info.sha256 == sha256 && info.filename == file.filename) {
            continue;
        }
        state
            .store
            .store_attachment(NewAttachment {
                conversation_id: conversation,
                filename: file.filename.clone(),
                content_type: file.content_type.clone(),
                data: file.data.clone(),
            })
            .await?;
    }
    Ok(())
}

/// The customer's answer to the bot's numbered choices ("2", "２", "2." or "#2") as the
/// choice's text; any other text as it is.
async fn chosen(state: &AppState, conversation: &Conversation, text: &str) -> ApiResult<String> {
    let from = (conversation.last_seq - 5).max(0);
    let recent = state.store.messages(conversation.id, from, 10).await?;
    let Some(last_bot) =
        recent.iter().rev().find(|message| message.author_kind != AuthorKind::Customer)
    else {
        return Ok(text.to_owned());
    };
    if last_bot.author_kind != AuthorKind::Bot {
        return Ok(text.to_owned());
    }
    let choices = last_bot.meta.as_ref().map(|meta| meta.quick_replies.as_slice()).unwrap_or(&[]);
    Ok(match tandem_channels::email::choice_from_reply(text, choices) {
        Some(index) => choices[index].clone(),
        None => text.to_owned(),
    })
}

/// At most `max` characters, with an ellipsis when cut.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max - 1).collect();
    cut.push('…');
    cut
}

fn size(bytes: usize) -> String {
    match bytes {
        0..1024 => format!("{bytes} B"),
        1024..1_048_576 => format!("{} KB", bytes.div_ceil(1024)),
        _ => format!("{:.1} MB", bytes as f64 / 1_048_576.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_message_ids_become_stable_client_ids() {
        let id = client_msg_id("<CAF=abc@mail.example.com>");
        assert_eq!(id, client_msg_id(" <CAF=abc@mail.example.com> "));
        assert_ne!(id, client_msg_id("<CAF=abd@mail.example.com>"));
        assert!(validate::client_msg_id(&id).is_ok(), "{id}");
    }

    #[test]
    fn long_text_is_cut_with_an_ellipsis() {
        assert_eq!(cut("退货政策", 10), "退货政策");
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(size(2048), "2 KB");
        assert_eq!(size(3 * 1_048_576), "3.0 MB");
    }
}
