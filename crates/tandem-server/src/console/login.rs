//! Signing in and out. Sign-in forms are protected by a double-submit token (a cookie that the
//! form repeats), since there is no session yet to hold a CSRF token; signing out is a form of
//! the session like any other, checked by [`CsrfForm`].

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use tandem_store::Session;

use super::{CsrfForm, NoFields, PageError, PageResult, browser_text, render};
use crate::AppState;
use crate::auth::{
    Agent, ClientIp, SESSION_COOKIE, cookie, masked_email, random_token, token_hash,
    verify_password,
};
use crate::error::ApiError;
use crate::i18n::Text;

const LOGIN_CSRF_COOKIE: &str = "tandem_login";

pub fn routes() -> axum::Router<AppState> {
    Router::new().route("/login", get(show_login).post(submit_login)).route("/logout", post(logout))
}

#[derive(Template)]
#[template(path = "pages/login.html")]
struct LoginPage {
    t: &'static Text,
    csrf: String,
    email: String,
    error: Option<&'static str>,
    version: &'static str,
}

fn cookie_header(state: &AppState, name: &str, value: &str, max_age_secs: u64) -> HeaderValue {
    let secure = if state.config.secure_cookies() { "; Secure" } else { "" };
    let text =
        format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}");
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn login_page(
    state: &AppState,
    text: &'static Text,
    email: String,
    error: Option<&'static str>,
    status: StatusCode,
) -> Response {
    let csrf = random_token();
    let page = LoginPage {
        t: text,
        csrf: csrf.clone(),
        email,
        error,
        version: crate::assets::VERSION.as_str(),
    };
    let mut response = (status, render(&page)).into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, cookie_header(state, LOGIN_CSRF_COOKIE, &csrf, 3600));
    response
}

async fn show_login(
    State(state): State<AppState>,
    agent: Option<Agent>,
    headers: HeaderMap,
) -> Response {
    if agent.is_some() {
        return Redirect::to("/inbox").into_response();
    }
    login_page(&state, browser_text(&headers), String::new(), None, StatusCode::OK)
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    email: String,
    password: String,
    csrf: String,
}

async fn submit_login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> PageResult {
    let text = browser_text(&headers);
    if cookie(&headers, LOGIN_CSRF_COOKIE) != Some(form.csrf.as_str()) {
        failed_sign_in(&form.email, ip, "csrf_failed");
        return Err(PageError::new(ApiError::CsrfFailed, text));
    }
    if let Err(retry_after_secs) = state.limits.logins.take(state.store.as_ref(), &ip).await {
        failed_sign_in(&form.email, ip, "rate_limited");
        let mut response = login_page(
            &state,
            text,
            form.email,
            Some(&text.too_many_attempts),
            StatusCode::TOO_MANY_REQUESTS,
        );
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        return Ok(response);
    }
    let credentials = state
        .store
        .user_credentials(&form.email)
        .await
        .map_err(|error| PageError::new(error.into(), text))?;
    let refused = |reason| {
        failed_sign_in(&form.email, ip, reason);
        Ok(login_page(
            &state,
            text,
            form.email.clone(),
            Some(&text.wrong_credentials),
            StatusCode::UNAUTHORIZED,
        ))
    };
    let user = match credentials {
        Some((user, hash)) if verify_password(&form.password, &hash) => {
            if !user.active {
                return refused("inactive_user");
            }
            user
        }
        Some(_) => return refused("wrong_password"),
        None => return refused("unknown_email"),
    };
    let token = random_token();
    let lifetime_secs = state.config.session_hours * 3600;
    let session = Session {
        token_hash: token_hash(&token),
        user_id: user.id,
        csrf_token: random_token(),
        expires_at: tandem_store::now_millis() + lifetime_secs as i64 * 1000,
    };
    state
        .store
        .create_session(session)
        .await
        .map_err(|error| PageError::new(error.into(), text))?;
    tracing::info!(user_id = %user.id, "agent signed in");
    let mut response = Redirect::to("/inbox").into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, cookie_header(&state, SESSION_COOKIE, &token, lifetime_secs));
    response
        .headers_mut()
        .append(header::SET_COOKIE, cookie_header(&state, LOGIN_CSRF_COOKIE, "", 0));
    Ok(response)
}

/// Logs a refused sign-in for whoever watches for password guessing: the address, why, and
/// the e-mail masked (never the password).
fn failed_sign_in(email: &str, ip: std::net::IpAddr, reason: &'static str) {
    tracing::warn!(email = %masked_email(email), client_ip = %ip, reason, "sign-in refused");
}

async fn logout(
    State(state): State<AppState>,
    CsrfForm { agent, .. }: CsrfForm<NoFields>,
) -> PageResult {
    let text = Text::for_locale(agent.user.locale);
    if let Some(session) = &agent.session {
        state
            .store
            .delete_session(&session.token_hash)
            .await
            .map_err(|error| PageError::new(error.into(), text))?;
    }
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().append(header::SET_COOKIE, cookie_header(&state, SESSION_COOKIE, "", 0));
    Ok(response)
}
