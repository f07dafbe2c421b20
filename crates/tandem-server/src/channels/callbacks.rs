//! The platforms' callbacks, one route per channel and inbox (`/channels/<channel>/<inbox
//! public key>`). Each checks the request by its platform's published rules before anything
//! is stored: the signature, the timestamp's age and (WeCom, WeChat) that the same timestamp
//! and nonce were not seen before, then decrypts and parses. A refused request gets a clear
//! error (`bad_signature`, `malformed_callback`) and stores nothing; redeliveries of a message
//! already stored are acknowledged without storing it twice (its channel id is its
//! `client_msg_id`).

use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use tandem_channels::{dingtalk, feishu, wecom};
use tandem_domain::{Channel, ExternalMeta, IdentityKind, Inbox};
use tandem_store::now_millis;

use super::inbound::{self, Inbound, Thread};
use super::settings::ChannelSettings;
use crate::AppState;
use crate::error::{ApiError, ApiJson, ApiResult};

/// How far a callback's timestamp may be from now.
pub(super) const MAX_SKEW: Duration = Duration::from_secs(300);

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/channels/wecom/{key}", get(wecom_verify).post(wecom_callback))
        .route("/channels/wechat/{key}", get(wechat_verify).post(wechat_callback))
        .route("/channels/feishu/{key}", post(feishu_callback))
        .route("/channels/dingtalk/{key}", post(dingtalk_callback))
}

fn now_secs() -> i64 {
    now_millis().div_euclid(1000)
}

/// The inbox a callback URL names, with its settings; both must be of `channel`.
async fn inbox(
    state: &AppState,
    key: &str,
    channel: Channel,
) -> ApiResult<(Inbox, ChannelSettings)> {
    let inbox = state
        .store
        .inbox_by_public_key(key)
        .await?
        .filter(|inbox| inbox.channel == channel)
        .ok_or(ApiError::ChannelNotConfigured)?;
    let settings = super::stored(state, inbox.id).await?.ok_or(ApiError::ChannelNotConfigured)?;
    if settings.channel() != channel {
        return Err(ApiError::ChannelNotConfigured);
    }
    Ok((inbox, settings))
}

fn refused(error: impl std::fmt::Display) -> ApiError {
    ApiError::BadSignature(error.to_string())
}

fn malformed(error: impl std::fmt::Display) -> ApiError {
    ApiError::MalformedCallback(error.to_string())
}

/// A WeCom or WeChat callback error: a signature, age or replay problem is `bad_signature`,
/// anything else about the body `malformed_callback`.
fn callback_error(error: wecom::CallbackError) -> ApiError {
    match error {
        wecom::CallbackError::Malformed(_) => malformed(error),
        wecom::CallbackError::Crypto(wecom::CryptoError::BadSignature)
        | wecom::CallbackError::Stale { .. }
        | wecom::CallbackError::Replayed => refused(error),
        wecom::CallbackError::Crypto(_) => malformed(error),
    }
}

fn crypto_error(error: wecom::CryptoError) -> ApiError {
    callback_error(wecom::CallbackError::Crypto(error))
}

/// The platform's acknowledgement.
fn success() -> Response {
    "success".into_response()
}

#[derive(Debug, Deserialize)]
struct Signed {
    msg_signature: Option<String>,
    signature: Option<String>,
    #[serde(default)]
    timestamp: String,
    #[serde(default)]
    nonce: String,
    echostr: Option<String>,
}

impl Signed {
    fn msg_signature(&self) -> ApiResult<&str> {
        self.msg_signature.as_deref().ok_or_else(|| refused("msg_signature is missing"))
    }
}

fn wecom_crypto(
    settings: &ChannelSettings,
) -> ApiResult<(wecom::Crypto, &super::settings::WecomSettings)> {
    let ChannelSettings::Wecom(wecom_settings) = settings else {
        return Err(ApiError::ChannelNotConfigured);
    };
    let crypto = wecom::Crypto::new(
        wecom_settings.token.as_deref().unwrap_or_default(),
        wecom_settings.encoding_aes_key.as_deref().unwrap_or_default(),
        &wecom_settings.corp_id,
    )
    .map_err(|error| ApiError::internal(format!("the inbox's WeCom key is unusable: {error}")))?;
    Ok((crypto, wecom_settings))
}

/// WeCom's URL check when the callback is saved: answer the decrypted `echostr`.
async fn wecom_verify(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Query(query): Query<Signed>,
) -> ApiResult<Response> {
    let (_, settings) = inbox(&state, &key, Channel::Wecom).await?;
    let (crypto, _) = wecom_crypto(&settings)?;
    let echostr = query.echostr.as_deref().ok_or_else(|| malformed("echostr is missing"))?;
    let plain = crypto
        .verify_url(query.msg_signature()?, &query.timestamp, &query.nonce, echostr)
        .map_err(crypto_error)?;
    Ok(plain.into_response())
}

/// WeCom customer service: a notice that messages wait. They are fetched (`sync_msg`) and
/// stored before the notice is acknowledged, so a failure makes WeCom notify again.
async fn wecom_callback(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Query(query): Query<Signed>,
    body: Bytes,
) -> ApiResult<Response> {
    let (inbox, settings) = inbox(&state, &key, Channel::Wecom).await?;
    let (crypto, wecom_settings) = wecom_crypto(&settings)?;
    let xml = crypto
        .open_envelope(&body, query.msg_signature()?, &query.timestamp, &query.nonce)
        .map_err(callback_error)?;
    state
        .channels
        .replays
        .check(&query.timestamp, &query.nonce, now_secs())
        .map_err(callback_error)?;
    let notice = wecom::parse_message(&xml).map_err(callback_error)?;
    let wecom::Inbound::KfNotice { token, open_kfid, .. } = notice else {
        return Ok(success());
    };
    if open_kfid != wecom_settings.open_kfid {
        tracing::info!(inbox_id = %inbox.id, "a WeCom notice for another customer-service account; ignored");
        return Ok(success());
    }
    let client =
        state.channels.outbound.wecom(inbox.id).await?.ok_or(ApiError::ChannelNotConfigured)?;
    let account = (inbox.id, wecom_settings.corp_id.clone(), open_kfid.clone());
    let mut cursor = state.channels.cursors.lock().expect("not poisoned").get(&account).cloned();
    loop {
        let page = client
            .sync_msg(cursor.as_deref(), Some(&token), &open_kfid, 1000)
            .await
            .map_err(|error| ApiError::internal(format!("WeCom sync_msg: {error}")))?;
        for message in page.messages {
            if message.origin != wecom::KfMessage::FROM_CUSTOMER {
                continue;
            }
            let text = match message.kind {
                wecom::KfKind::Text(text) => text,
                wecom::KfKind::Image { .. } => "[图片 image]".to_owned(),
                wecom::KfKind::Other(kind) => format!("[{kind}]"),
            };
            let inbound = Inbound {
                identity: IdentityKind::Wecom,
                identity_value: message.external_userid.clone(),
                verified: true,
                name: String::new(),
                email: None,
                text,
                external: ExternalMeta {
                    id: format!("wecom:{}", message.msgid),
                    reply_to: Some(message.external_userid),
                    ..ExternalMeta::default()
                },
                thread: Thread::Latest,
                files: Vec::new(),
            };
            inbound::receive(&state, &inbox, inbound).await?;
        }
        cursor = Some(page.next_cursor).filter(|next| !next.is_empty()).or(cursor);
        if let Some(cursor) = &cursor {
            state
                .channels
                .cursors
                .lock()
                .expect("not poisoned")
                .insert(account.clone(), cursor.clone());
        }
        if !page.has_more {
            break;
        }
    }
    Ok(success())
}

/// A WeChat Official Account's URL check: plain `signature` over token, timestamp and nonce
/// (in safe mode too); answer `echostr` as it came.
async fn wechat_verify(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Query(query): Query<Signed>,
) -> ApiResult<Response> {
    let (_, settings) = inbox(&state, &key, Channel::Wechat).await?;
    let ChannelSettings::Wechat(wechat) = &settings else {
        return Err(ApiError::ChannelNotConfigured);
    };
    let signature = query.signature.as_deref().ok_or_else(|| refused("signature is missing"))?;
    wecom::verify_plain(
        wechat.token.as_deref().unwrap_or_default(),
        signature,
        &query.timestamp,
        &query.nonce,
    )
    .map_err(crypto_error)?;
    Ok(query.echostr.unwrap_or_default().into_response())
}

/// A WeChat Official Account's message: stored, then acknowledged; the bot's answer goes out
/// through the customer-service message API.
async fn wechat_callback(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Query(query): Query<Signed>,
    body: Bytes,
) -> ApiResult<Response> {
    let (inbox, settings) = inbox(&state, &key, Channel::Wechat).await?;
    let ChannelSettings::Wechat(wechat) = &settings else {
        return Err(ApiError::ChannelNotConfigured);
    };
    let token = wechat.token.as_deref().unwrap_or_default();
    let xml = match &wechat.encoding_aes_key {
        Some(aes_key) => {
            let crypto = wecom::Crypto::new(token, aes_key, &wechat.app_id).map_err(|error| {
                ApiError::internal(format!("the inbox's WeChat key is unusable: {error}"))
            })?;
            crypto
                .open_envelope(&body, query.msg_signature()?, &query.timestamp, &query.nonce)
                .map_err(callback_error)?
        }
        None => {
            let signature =
                query.signature.as_deref().ok_or_else(|| refused("signature is missing"))?;
            wecom::verify_plain(token, signature, &query.timestamp, &query.nonce)
                .map_err(crypto_error)?;
            String::from_utf8(body.to_vec()).map_err(|_| malformed("the body is not UTF-8"))?
        }
    };
    state
        .channels
        .replays
        .check(&query.timestamp, &query.nonce, now_secs())
        .map_err(callback_error)?;
    let wecom::Inbound::Message { from, msg_id, kind, .. } =
        wecom::parse_message(&xml).map_err(callback_error)?
    else {
        // Follows, menu clicks and other events need no answer.
        return Ok(success());
    };
    let text = match kind {
        wecom::MessageKind::Text(text) => text,
        wecom::MessageKind::Voice { recognition: Some(text), .. } => text,
        wecom::MessageKind::Image { .. } => "[图片 image]".to_owned(),
        wecom::MessageKind::Voice { .. } => "[语音 voice]".to_owned(),
        wecom::MessageKind::Other(kind) => format!("[{kind}]"),
    };
    let inbound = Inbound {
        identity: IdentityKind::Wechat,
        identity_value: from.clone(),
        verified: true,
        name: String::new(),
        email: None,
        text,
        external: ExternalMeta {
            id: format!("wechat:{msg_id}"),
            reply_to: Some(from),
            ..ExternalMeta::default()
        },
        thread: Thread::Latest,
        files: Vec::new(),
    };
    inbound::receive(&state, &inbox, inbound).await?;
    Ok(success())
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers.get(name).and_then(|value| value.to_str().ok()).unwrap_or_default()
}

/// A Feishu event: the URL check, or a message to the bot.
async fn feishu_callback(
    State(state): State<AppState>,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let (inbox, settings) = inbox(&state, &key, Channel::Feishu).await?;
    let ChannelSettings::Feishu(settings) = &settings else {
        return Err(ApiError::ChannelNotConfigured);
    };
    let app = feishu::Feishu::new(
        settings.verification_token.clone().unwrap_or_default(),
        settings.encrypt_key.clone(),
    );
    let signature = header(&headers, "x-lark-signature");
    let timestamp = header(&headers, "x-lark-request-timestamp");
    let signed = !signature.is_empty();
    if signed {
        app.verify_signature(timestamp, header(&headers, "x-lark-request-nonce"), &body, signature)
            .map_err(refused)?;
        feishu::check_timestamp(timestamp, now_secs(), MAX_SKEW).map_err(refused)?;
    }
    let callback = app.open(&body).map_err(|error| match error {
        feishu::FeishuError::BadToken | feishu::FeishuError::BadSignature => refused(error),
        _ => malformed(error),
    })?;
    let event = match callback {
        feishu::Callback::UrlVerification { challenge } => {
            return Ok(ApiJson(serde_json::json!({ "challenge": challenge })).into_response());
        }
        feishu::Callback::Other { .. } => return Ok(ApiJson(serde_json::json!({})).into_response()),
        feishu::Callback::Message(event) => event,
    };
    // With an encrypt key every event is signed; an unsigned one is not Feishu's.
    if settings.encrypt_key.as_deref().is_some_and(|key| !key.is_empty()) && !signed {
        return Err(refused("X-Lark-Signature is missing"));
    }
    if event.sender_type != "user" {
        return Ok(ApiJson(serde_json::json!({})).into_response());
    }
    let text =
        if event.text.trim().is_empty() { format!("[{}]", event.message_type) } else { event.text };
    let inbound = Inbound {
        identity: IdentityKind::Feishu,
        identity_value: event.sender_open_id.clone(),
        verified: true,
        name: String::new(),
        email: None,
        text,
        external: ExternalMeta {
            id: event.message_id,
            reply_to: Some(event.sender_open_id),
            ..ExternalMeta::default()
        },
        thread: Thread::Latest,
        files: Vec::new(),
    };
    inbound::receive(&state, &inbox, inbound).await?;
    Ok(ApiJson(serde_json::json!({})).into_response())
}

/// A DingTalk robot's message, signed with the app's secret.
async fn dingtalk_callback(
    State(state): State<AppState>,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let (inbox, settings) = inbox(&state, &key, Channel::Dingtalk).await?;
    let ChannelSettings::Dingtalk(settings) = &settings else {
        return Err(ApiError::ChannelNotConfigured);
    };
    dingtalk::Dingtalk::new(settings.app_secret.clone().unwrap_or_default())
        .verify(header(&headers, "timestamp"), header(&headers, "sign"), now_millis())
        .map_err(refused)?;
    let message = dingtalk::parse(&body).map_err(malformed)?;
    let text = match message.kind {
        dingtalk::MessageKind::Text(text) => text,
        dingtalk::MessageKind::Other(kind) => format!("[{kind}]"),
    };
    // Staff are named by their staff id, which the batch-send API takes when the session
    // webhook has expired; people outside the organisation by their sender id.
    let user = message.sender_staff_id.clone().unwrap_or_else(|| message.sender_id.clone());
    let inbound = Inbound {
        identity: IdentityKind::Dingtalk,
        identity_value: user,
        verified: true,
        name: message.sender_nick.clone(),
        email: None,
        text,
        external: ExternalMeta {
            id: format!("dingtalk:{}", message.msg_id),
            reply_to: Some(message.session_webhook.clone()),
            reply_until: Some(message.session_webhook_expired_time),
            ..ExternalMeta::default()
        },
        thread: Thread::Latest,
        files: Vec::new(),
    };
    inbound::receive(&state, &inbox, inbound).await?;
    Ok(ApiJson(serde_json::json!({})).into_response())
}
