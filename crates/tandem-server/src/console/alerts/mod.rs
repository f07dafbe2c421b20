//! Spike alerts for supervisors and admins: the banner every console page shows them (the
//! alerts of the last two days not dismissed), and `/insight/alerts`, the page that lists the
//! recent alerts with their conversations and dismisses them.

mod dismiss;
mod page;

use axum::Router;
use axum::routing::{get, post};
use tandem_locales::fill;

use crate::AppState;
use crate::auth::Agent;
use crate::i18n::Text;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/insight/alerts", get(page::show_alerts_page))
        .route("/insight/alerts/{id}/dismiss", post(dismiss::dismiss_alert))
}

/// What an alert says in one line: its words, its count and the count expected.
fn sentence(text: &Text, alert: &serde_json::Value) -> String {
    let label = alert["label"].as_str().unwrap_or_default();
    let count = alert["count"].as_u64().unwrap_or_default();
    let expected = format!("{:.1}", alert["expected"].as_f64().unwrap_or_default());
    fill(&text.alerts_banner, &[("label", &label), ("count", &count), ("expected", &expected)])
}

/// The banner's lines for `agent` (none for agents: only supervisors and admins are given
/// alerts).
pub(super) fn banner_lines(agent: &Agent) -> Vec<String> {
    let text = Text::for_locale(agent.user.locale);
    agent.alerts.iter().map(|alert| sentence(text, &alert.alert)).collect()
}
