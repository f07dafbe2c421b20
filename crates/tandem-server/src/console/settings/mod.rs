//! One's own settings: name, language, password and API tokens (admins: the workspace's); admins also see each inbox's
//! identity secret there and rotate it, create inboxes and set each one's channel (e-mail, WeCom,
//! WeChat, Feishu, DingTalk) credentials.

mod channel_form;
mod channel_save;
mod identity_rotate;
mod inbox_create;
mod page;
mod save;
mod token_create;
mod token_revoke;

use axum::Router;
use axum::routing::{get, post};

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/settings", get(page::show_settings_page).post(save::save_settings))
        .route("/settings/tokens", post(token_create::create_api_token))
        .route("/settings/tokens/{id}/revoke", post(token_revoke::revoke_api_token))
        .route(
            "/settings/inboxes/{id}/identity/rotate",
            post(identity_rotate::rotate_identity_secret),
        )
        .route("/settings/inboxes", post(inbox_create::create_inbox))
        .route("/settings/inboxes/{id}/channel", post(channel_save::save_channel_settings))
}
