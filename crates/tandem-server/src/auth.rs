//! Who is calling: agents (session cookie or API token) and widget customers (signed token),
//! and the identity hashes by which a business vouches for its logged-in users.
//!
//! Secrets are random 32-byte tokens; the store keeps only their SHA-256, so a leaked database
//! does not leak live sessions. Passwords are hashed with argon2id.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{Method, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use tandem_domain::{ApiToken, CustomerId, InboxId, TokenScope, TokenStatus, User};
use tandem_store::Session;

use crate::AppState;
use crate::error::ApiError;

pub const SESSION_COOKIE: &str = "tandem_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A random token, URL-safe.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The stored form of a secret token.
pub fn token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt =
        SaltString::encode_b64(&salt).map_err(|error| ApiError::internal(error.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| ApiError::internal(error.to_string()))
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// A customer's identity in one inbox, as carried by a widget token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WidgetIdentity {
    pub inbox_id: InboxId,
    pub customer_id: CustomerId,
}

type HmacSha256 = Hmac<Sha256>;

impl WidgetIdentity {
    /// `w1.<inbox>.<customer>.<signature>`: the server's secret signs the ids, so a customer
    /// cannot pose as another by editing them.
    pub fn sign(self, secret: &[u8]) -> String {
        let payload = format!("w1.{}.{}", self.inbox_id, self.customer_id);
        let signature = Self::signature(secret, &payload);
        format!("{payload}.{signature}")
    }

    pub fn verify(token: &str, secret: &[u8]) -> Option<WidgetIdentity> {
        let (payload, signature) = token.rsplit_once('.')?;
        let expected = URL_SAFE_NO_PAD.decode(signature).ok()?;
        let mut mac = HmacSha256::new_from_slice(secret).ok()?;
        mac.update(payload.as_bytes());
        mac.verify_slice(&expected).ok()?;
        let mut parts = payload.split('.');
        let (Some("w1"), Some(inbox), Some(customer), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        Some(WidgetIdentity {
            inbox_id: InboxId(inbox.parse().ok()?),
            customer_id: CustomerId(customer.parse().ok()?),
        })
    }

    fn signature(secret: &[u8], payload: &str) -> String {
        let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length");
        mac.update(payload.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }
}

/// Identity verification: the hash a business's backend computes for its logged-in user and
/// passes to the widget, the HMAC-SHA256 of the user's id (UTF-8) keyed with the inbox's
/// identity secret (the secret's text, UTF-8), written as lowercase hex.
pub fn user_hash(identity_secret: &str, user_id: &str) -> String {
    let mut mac = HmacSha256::new_from_slice(identity_secret.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(user_id.as_bytes());
    mac.finalize().into_bytes().iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Whether `user_hash` is [`user_hash`] of `user_id`; compared in constant time, so timing
/// reveals nothing about the expected hash. Hex digits of either case are accepted.
pub fn verify_user_hash(identity_secret: &str, user_id: &str, user_hash: &str) -> bool {
    let Some(sent) = decode_hex(user_hash.trim()) else { return false };
    let Ok(mut mac) = HmacSha256::new_from_slice(identity_secret.as_bytes()) else {
        return false;
    };
    mac.update(user_id.as_bytes());
    mac.verify_slice(&sent).is_ok()
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.as_bytes()
        .chunks(2)
        .map(|pair| {
            let digit = |byte: u8| char::from(byte).to_digit(16);
            Some((digit(pair[0])? * 16 + digit(pair[1])?) as u8)
        })
        .collect()
}

pub fn bearer_token(parts: &Parts) -> Option<&str> {
    parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ").map(str::trim)
}

pub fn cookie<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// A signed-in agent. Cookie sessions must send the CSRF token with every unsafe request (a
/// form field, checked by the console's `CsrfForm`, or the `X-CSRF-Token` header for the JSON
/// API); API tokens are not sent by browsers on their own and need none.
#[derive(Debug, Clone)]
pub struct Agent {
    pub user: User,
    /// The session, when signed in with a cookie.
    pub session: Option<Session>,
    /// The API token, when called with one; `user.role` is then already capped by its scope.
    pub token: Option<ApiToken>,
    /// On console pages of supervisors and admins: the spike alerts their banner shows
    /// (filled by the console's `PageAgent`; empty elsewhere).
    pub alerts: Vec<tandem_store::InsightAlert>,
}

impl Agent {
    /// The widest scope this caller may give a new API token: a token's own scope, or any
    /// for a signed-in person.
    pub fn token_scope(&self) -> TokenScope {
        self.token.as_ref().map_or(TokenScope::Admin, |token| token.scope)
    }

    pub fn csrf_token(&self) -> &str {
        self.session.as_ref().map(|session| session.csrf_token.as_str()).unwrap_or_default()
    }

    pub fn require_admin(&self) -> Result<(), ApiError> {
        Ok(tandem_domain::permissions::require_admin(&self.user)?)
    }

    /// Supervisors and admins.
    pub fn require_manager(&self) -> Result<(), ApiError> {
        Ok(tandem_domain::permissions::require_manager(&self.user)?)
    }

    /// Checks a CSRF token sent in a form.
    pub fn check_csrf(&self, sent: &str) -> Result<(), ApiError> {
        match &self.session {
            Some(session) if constant_time_eq(session.csrf_token.as_bytes(), sent.as_bytes()) => {
                Ok(())
            }
            Some(_) => Err(ApiError::CsrfFailed),
            None => Ok(()),
        }
    }
}

fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    left.len() == right.len()
        && left.iter().zip(right).fold(0u8, |diff, (a, b)| diff | (a ^ b)) == 0
}

async fn authenticate(parts: &Parts, state: &AppState) -> Result<Option<Agent>, ApiError> {
    if let Some(token) = bearer_token(parts) {
        let (token, mut user) =
            state.store.api_token(&token_hash(token)).await?.ok_or(ApiError::InvalidToken)?;
        let now = tandem_store::now_millis();
        match token.status(now) {
            TokenStatus::Revoked => return Err(ApiError::TokenRevoked),
            TokenStatus::Expired => return Err(ApiError::TokenExpired),
            TokenStatus::Active => {}
        }
        if !token.scope.may_write() && !matches!(parts.method, Method::GET | Method::HEAD) {
            return Err(ApiError::TokenReadOnly);
        }
        note_token_use(state, &token, now);
        user.role = token.scope.cap(user.role);
        return Ok(Some(Agent { user, session: None, token: Some(token), alerts: Vec::new() }));
    }
    let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else { return Ok(None) };
    let Some((session, user)) =
        state.store.session(&token_hash(token), tandem_store::now_millis()).await?
    else {
        return Ok(None);
    };
    let agent = Agent { user, session: Some(session), token: None, alerts: Vec::new() };
    let unsafe_method = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    // Page forms carry their token in the body and are checked by `CsrfForm`; JSON calls
    // from the console's script carry it in a header.
    if unsafe_method && parts.uri.path().starts_with("/api/") {
        let sent = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        agent.check_csrf(sent)?;
    }
    Ok(Some(agent))
}

/// Notes when a token was used, off the request's path: at most one write a minute per token
/// (the store skips a use within a minute of the last one, and this skips asking it).
fn note_token_use(state: &AppState, token: &ApiToken, now: tandem_domain::Millis) {
    if token.last_used_at.is_some_and(|last| now - last < 60_000) {
        return;
    }
    let (store, id) = (state.store.clone(), token.id);
    tokio::spawn(async move {
        if let Err(error) = store.touch_api_token(id, now).await {
            tracing::warn!(%error, token = %id, "could not note an API token's use");
        }
    });
}

impl FromRequestParts<AppState> for Agent {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        authenticate(parts, state).await?.ok_or(ApiError::Unauthorized)
    }
}

impl OptionalFromRequestParts<AppState> for Agent {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, Self::Rejection> {
        authenticate(parts, state).await
    }
}

/// A widget customer, from `Authorization: Bearer <widget token>`.
#[derive(Debug, Clone)]
pub struct WidgetCustomer(pub WidgetIdentity);

impl FromRequestParts<AppState> for WidgetCustomer {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer_token(parts).ok_or(ApiError::Unauthorized)?;
        WidgetIdentity::verify(token, &state.secret)
            .map(WidgetCustomer)
            .ok_or(ApiError::InvalidToken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widget_tokens_verify_only_with_their_secret_and_ids() {
        let identity = WidgetIdentity { inbox_id: InboxId(3), customer_id: CustomerId(42) };
        let token = identity.sign(b"secret");
        assert_eq!(WidgetIdentity::verify(&token, b"secret"), Some(identity));
        assert_eq!(WidgetIdentity::verify(&token, b"other"), None);
        let forged = token.replace("w1.3.42", "w1.3.43");
        assert_eq!(WidgetIdentity::verify(&forged, b"secret"), None);
        assert_eq!(WidgetIdentity::verify("garbage", b"secret"), None);
        assert_eq!(WidgetIdentity::verify("", b"secret"), None);
    }

    #[test]
    fn user_hashes_verify_only_for_their_secret_and_user() {
        // The RFC 4231 test case 2 key and data, as a business's backend would compute them.
        let expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        assert_eq!(user_hash("Jefe", "what do ya want for nothing?"), expected);
        let hash = user_hash("secret", "u-1001");
        assert!(verify_user_hash("secret", "u-1001", &hash));
        assert!(verify_user_hash("secret", "u-1001", &hash.to_uppercase()));
        assert!(!verify_user_hash("other", "u-1001", &hash));
        assert!(!verify_user_hash("secret", "u-1002", &hash));
        assert!(!verify_user_hash("secret", "u-1001", &hash[..62]));
        assert!(!verify_user_hash("secret", "u-1001", ""));
        assert!(!verify_user_hash("secret", "u-1001", "zz"));
        assert!(!verify_user_hash("secret", "u-1001", &format!("{hash}00")));
    }

    #[test]
    fn passwords_hash_and_verify() {
        let hash = hash_password("correct horse").unwrap();
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
    }
}

/// The caller's IP address: the socket's peer (loopback for tests without a socket), or, when
/// that peer is one of the configured trusted proxies, the address the proxy reports in the
/// configured header (`X-Forwarded-For`: the nearest address that is not itself a trusted
/// proxy). A header from anyone else is ignored, so a client cannot choose its own address.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub std::net::IpAddr);

/// An e-mail address as logs may show it: the first character of the name and the domain
/// (`e***@example.com`), without control characters and at most 100 characters long, so a
/// log line says whose sign-in failed without holding the address or letting it forge lines.
pub fn masked_email(email: &str) -> String {
    let clean = |text: &str, max: usize| -> String {
        text.chars().filter(|c| !c.is_control()).take(max).collect()
    };
    let email = email.trim();
    match email.rsplit_once('@') {
        Some((name, domain)) if !name.is_empty() => {
            format!("{}***@{}", clean(name, 1), clean(domain, 100))
        }
        _ => "***".to_owned(),
    }
}

impl ClientIp {
    fn of(parts: &Parts, config: &crate::ServerConfig) -> std::net::IpAddr {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map_or(std::net::IpAddr::from([127, 0, 0, 1]), |info| info.0.ip());
        let trusted = |address: &std::net::IpAddr| {
            config.trusted_proxies.iter().any(|proxy| proxy.contains(address))
        };
        if !trusted(&peer) {
            return peer;
        }
        let forwarded = parts
            .headers
            .get_all(config.client_ip_header.as_str())
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .filter_map(|address| address.trim().parse::<std::net::IpAddr>().ok())
            .collect::<Vec<_>>();
        // Each proxy appends the address it saw: the last one not ours is the client.
        forwarded.into_iter().rev().find(|address| !trusted(address)).unwrap_or(peer)
    }
}

impl FromRequestParts<crate::AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &crate::AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(ClientIp::of(parts, &state.config)))
    }
}

#[cfg(test)]
mod client_ip_tests {
    use super::*;

    #[test]
    fn e_mails_are_masked_for_logs() {
        assert_eq!(masked_email("emily@example.com"), "e***@example.com");
        assert_eq!(masked_email(" 王芳@例子.cn "), "王***@例子.cn");
        assert_eq!(masked_email("no-at-sign"), "***");
        assert_eq!(masked_email("@example.com"), "***");
        assert_eq!(masked_email("a@b\nforged line"), "a***@bforged line");
        assert_eq!(masked_email("a@ex\u{7}ample.com"), "a***@example.com");
    }

    fn address(peer: &str, forwarded: Option<&str>, trusted: &[&str]) -> String {
        let mut request = axum::http::Request::builder();
        if let Some(forwarded) = forwarded {
            request = request.header("x-forwarded-for", forwarded);
        }
        let (mut parts, ()) = request.body(()).unwrap().into_parts();
        let socket: std::net::SocketAddr = format!("{peer}:5000").parse().unwrap();
        parts.extensions.insert(axum::extract::ConnectInfo(socket));
        let config = crate::ServerConfig {
            trusted_proxies: trusted.iter().map(|proxy| proxy.parse().unwrap()).collect(),
            ..crate::ServerConfig::default()
        };
        ClientIp::of(&parts, &config).to_string()
    }

    #[test]
    fn the_forwarded_address_counts_only_behind_a_trusted_proxy() {
        // No proxy configured: the header is the client's to forge, so it is ignored.
        assert_eq!(address("203.0.113.9", Some("1.2.3.4"), &[]), "203.0.113.9");
        // Behind the trusted proxy: the client it saw.
        assert_eq!(address("10.0.0.2", Some("198.51.100.7"), &["10.0.0.0/8"]), "198.51.100.7");
        // A client's forged entry sits to the left of what the proxy appended.
        assert_eq!(
            address("10.0.0.2", Some("1.2.3.4, 198.51.100.7, 10.0.0.3"), &["10.0.0.0/8"]),
            "198.51.100.7"
        );
        // A peer that is not a trusted proxy is the client, whatever it says.
        assert_eq!(address("192.0.2.1", Some("1.2.3.4"), &["10.0.0.0/8"]), "192.0.2.1");
        // A trusted proxy that sent no usable header: the proxy itself.
        assert_eq!(address("10.0.0.2", Some("garbage"), &["10.0.0.0/8"]), "10.0.0.2");
    }
}
