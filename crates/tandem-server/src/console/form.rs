//! Console forms: [`CsrfForm`], the one place where a signed-in agent's form is checked for the
//! session's CSRF token before any handler sees it.
//!
//! Browsers send the session cookie on their own, even with a form posted from another site, so
//! every console form that changes something repeats the session's CSRF token in a hidden `csrf`
//! field. Handlers take `CsrfForm<T>` instead of `Form<T>`, so a handler cannot forget the check.
//! The sign-in form is the exception: there is no session yet, and `login.rs` checks its own
//! double-submit cookie.

use axum::Form;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::{PageAgent, PageError};
use crate::AppState;
use crate::auth::Agent;

/// A signed-in agent's posted (urlencoded) form whose `csrf` field matched the session's token.
///
/// Read in this order: the agent (anyone not signed in is sent to the sign-in page, as with
/// [`PageAgent`]), the body, the token, then the form as `Form<T>` reads it. A missing or wrong
/// token is the `csrf_failed` error page in the agent's language (403), answered before the form
/// is read, so a forged request never reaches a handler nor learns what the form expects. `T`
/// may be `Vec<(String, String)>` for forms with repeated fields (check boxes); the `csrf` field
/// is then one of the pairs, for the handler to ignore.
#[derive(Debug)]
pub struct CsrfForm<T> {
    pub agent: Agent,
    pub form: T,
}

/// The fields of a form that carries nothing but its token (signing out, rotating a secret).
#[derive(Debug, Deserialize)]
pub struct NoFields {}

/// Only the token of a posted form; every other field is the handler's.
#[derive(Debug, Default, Deserialize)]
struct SentToken {
    #[serde(default)]
    csrf: String,
}

impl<T> FromRequest<AppState> for CsrfForm<T>
where
    T: DeserializeOwned + Send,
{
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let PageAgent(agent) = PageAgent::from_request_parts(&mut parts, state).await?;
        // The body is read once, within the route's body limit, and handed to `Form` afterwards,
        // so a refused form body is answered exactly as `Form` answers it.
        let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        // A body that does not read as a form carries no token: refused like a wrong one.
        let sent = serde_urlencoded::from_bytes::<SentToken>(&bytes).unwrap_or_default();
        // `check_csrf` compares in constant time; an API token (no session) needs no CSRF token.
        agent
            .check_csrf(&sent.csrf)
            .map_err(|error| PageError::for_agent(&agent)(error).into_response())?;
        let request = Request::from_parts(parts, Body::from(bytes));
        let Form(form) =
            Form::<T>::from_request(request, state).await.map_err(IntoResponse::into_response)?;
        Ok(CsrfForm { agent, form })
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use axum::http::StatusCode;

    use crate::i18n::Text;
    use crate::testing::{ADMIN, TestApp};

    /// Every Rust file under `src/console`, read from the source tree rather than listed, so
    /// that a handler file added later is checked without anyone remembering to list it.
    fn console_sources() -> Vec<(PathBuf, String)> {
        fn walk(directory: &Path, found: &mut Vec<(PathBuf, String)>) {
            let entries = std::fs::read_dir(directory).expect("the console's source folder");
            for entry in entries {
                let path = entry.expect("a folder entry").path();
                if path.is_dir() {
                    walk(&path, found);
                } else if path.extension().is_some_and(|extension| extension == "rs") {
                    let text = std::fs::read_to_string(&path).expect("a readable source file");
                    found.push((path, text));
                }
            }
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/console");
        let mut found = Vec::new();
        walk(&root, &mut found);
        found
    }

    /// Whether the bare name `Form` (not `CsrfForm`, `ModelForm`...) is used as a type or
    /// pattern on `line`.
    fn uses_plain_form(line: &str) -> bool {
        line.match_indices("Form").any(|(at, _)| {
            let before = line[..at].chars().next_back();
            let after = line[at + "Form".len()..].chars().next();
            !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
                && matches!(after, Some('<' | '('))
        })
    }

    #[test]
    fn only_the_form_extractor_checks_csrf_tokens() {
        let sources = console_sources();
        let names: Vec<String> = sources
            .iter()
            .map(|(path, _)| path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        // The walk found the console, not an empty folder.
        assert!(names.iter().any(|name| name == "form.rs") && sources.len() > 20, "{names:?}");
        let mut offenders = Vec::new();
        for (path, text) in &sources {
            let name = path.file_name().unwrap().to_string_lossy();
            for (number, line) in text.lines().enumerate() {
                let location = format!("{}:{}", path.display(), number + 1);
                if name != "form.rs" && line.contains("check_csrf(") {
                    offenders.push(format!("{location}: checks the CSRF token by hand"));
                }
                // The sign-in form has no session yet and checks its own cookie.
                if name != "form.rs" && name != "login.rs" && uses_plain_form(line) {
                    offenders.push(format!("{location}: reads a form without CsrfForm"));
                }
            }
        }
        assert!(offenders.is_empty(), "{offenders:#?}");
    }

    #[test]
    fn plain_forms_are_told_from_other_forms() {
        assert!(uses_plain_form("    Form(form): Form<ActionForm>,"));
        assert!(uses_plain_form("let Form(fields) = request;"));
        assert!(!uses_plain_form("    CsrfForm { agent, form }: CsrfForm<ActionForm>,"));
        assert!(!uses_plain_form("fn from_fields(fields: Vec<(String, String)>) -> CreateForm {"));
        assert!(!uses_plain_form("use axum::Form;"));
    }

    /// Every console form that changes something, each with a path its route accepts. The
    /// token is checked before the handler runs, so the ids need not exist.
    const POSTED_FORMS: [&str; 25] = [
        "/logout",
        "/conversations/1/actions",
        "/conversations/1/messages",
        "/conversations/1/wrapup/topic",
        "/admin/agents",
        "/admin/agents/1",
        "/settings",
        "/settings/tokens",
        "/settings/inboxes/1/identity/rotate",
        "/settings/escalation",
        "/settings/routing/agents/1",
        "/settings/routing/queues/1",
        "/settings/webhooks",
        "/settings/webhooks/1",
        "/settings/actions",
        "/settings/actions/order-status",
        "/settings/model",
        "/settings/csat/1",
        "/knowledge",
        "/knowledge/import",
        "/knowledge/settings",
        "/knowledge/returns",
        "/knowledge/returns/status",
        "/desk/presence",
        "/desk/reroute",
    ];

    #[tokio::test]
    async fn every_console_form_refuses_a_missing_or_forged_token() {
        let app = TestApp::new().await;
        let admin = app.login(ADMIN).await;
        let (user, _) = app.store.user_credentials(ADMIN.0).await.unwrap().unwrap();
        let refusal = Text::for_locale(user.locale).error_message("csrf_failed");
        let cookie = [("cookie", admin.cookie.as_str())];
        for uri in POSTED_FORMS {
            let forged = [("csrf", "forged"), ("action", "delete"), ("status", "archived")];
            let missing = [("action", "delete"), ("status", "archived")];
            for (case, fields) in [("forged", &forged[..]), ("missing", &missing[..])] {
                let response = app.post_form(uri, &cookie, fields).await;
                assert_eq!(response.status, StatusCode::FORBIDDEN, "{uri} with a {case} token");
                assert!(response.text().contains(refusal), "{uri} with a {case} token");
            }
        }
        // The session's own token passes the check (signing out is the form with no fields).
        let signed_out = app.post_form("/logout", &cookie, &[("csrf", &admin.csrf)]).await;
        assert_eq!(signed_out.status, StatusCode::SEE_OTHER);
    }
}
