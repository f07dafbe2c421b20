//! WeCom customer service (微信客服) and WeChat Official Account (公众号) callbacks and APIs.
//!
//! Both platforms reach Tandem the same way: a GET to verify the callback URL, then POSTs
//! whose XML body is encrypted with the account's EncodingAESKey and signed with its token
//! ([`Crypto`]; an Official Account may also run in plain mode, checked with
//! [`plain_signature`]). A handler checks the signature and replay ([`ReplayGuard`]), opens the
//! envelope ([`Crypto::open_envelope`]) and reads what is inside ([`parse_message`]).
//!
//! An Official Account's callback carries the follower's message itself. WeCom customer
//! service's carries only a notice ([`Inbound::KfNotice`]): the messages are then fetched with
//! [`WecomClient::sync_msg`]. Replies go out through the APIs ([`WecomClient::send_text`],
//! [`WechatClient::send_text`]), or for an Official Account as a passive reply in the
//! callback's response ([`Crypto::encrypted_reply`]).

mod api;
mod callback;
mod crypto;
mod xml;

pub use api::{
    ApiError, KfKind, KfMessage, SyncPage, WECHAT_API, WECOM_API, WechatClient, WecomClient,
    errcode_meaning,
};
pub use callback::{CallbackError, Inbound, MessageKind, ReplayGuard, parse_message, text_reply};
pub use crypto::{Crypto, CryptoError, plain_signature, verify_plain};
pub use xml::cdata;
