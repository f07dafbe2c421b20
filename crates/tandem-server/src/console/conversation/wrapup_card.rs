//! The wrap-up card of a resolved conversation: its summary, key points and topic, each key
//! point labelled by its kind in the agent's language.

use tandem_domain::{KeyPointKind, Wrapup};

use crate::i18n::Text;

#[derive(Debug)]
pub struct WrapupView {
    pub summary: String,
    /// The model's summary, when it wrote one that checks out.
    pub model_summary: Option<String>,
    pub topic: Option<String>,
    pub points: Vec<KeyPointView>,
}

#[derive(Debug)]
pub struct KeyPointView {
    /// The kind's code, for styling and tests.
    pub kind: &'static str,
    pub label: &'static str,
    pub text: String,
    /// An entity's kind or an action's outcome, labelled when the catalogue has a label.
    pub detail: Option<String>,
}

pub(super) fn wrapup_view(text: &'static Text, wrapup: Wrapup) -> WrapupView {
    let points = wrapup
        .key_points
        .into_iter()
        .map(|point| {
            let label: &'static str = match point.kind {
                KeyPointKind::Request => &text.wrapup_request,
                KeyPointKind::Done => &text.wrapup_done,
                KeyPointKind::Action => &text.wrapup_action,
                KeyPointKind::Promise => &text.wrapup_promise,
                KeyPointKind::Entity => &text.wrapup_entity,
                KeyPointKind::FollowUp => &text.wrapup_follow_up,
            };
            let detail = point.detail.map(|detail| match (point.kind, detail.as_str()) {
                (KeyPointKind::Entity, "amount") => text.wrapup_entity_amount.clone(),
                (KeyPointKind::Entity, "date") => text.wrapup_entity_date.clone(),
                (KeyPointKind::Entity, kind) => {
                    text.entity_kind(kind).map_or_else(|| kind.to_owned(), str::to_owned)
                }
                _ => detail,
            });
            KeyPointView { kind: point.kind.as_str(), label, text: point.text, detail }
        })
        .collect();
    WrapupView {
        summary: wrapup.summary,
        model_summary: wrapup.model_summary,
        topic: wrapup.topic,
        points,
    }
}
