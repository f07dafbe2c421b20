//! The customer's rating of the conversation (CSAT): stars, comment and the answers to the
//! inbox's further questions, each labelled by its question in the agent's language.

use tandem_domain::Locale;
use tandem_domain::csat::{InboxCsat, QuestionKind};
use tandem_store::Rating;

use crate::console::format_time;
use crate::i18n::Text;

#[derive(Debug)]
pub struct RatingView {
    /// 1 to 5 (0 when imported without one).
    pub rating: u8,
    /// Filled and empty stars, `★★★★☆`.
    pub stars: String,
    /// "4 of 5".
    pub label: String,
    pub comment: Option<String>,
    /// Each further question (in the agent's language, or its id when the inbox no longer
    /// asks it) with the answer.
    pub answers: Vec<(String, String)>,
    pub time: String,
    pub timestamp: i64,
}

pub(super) fn rating_view(
    text: &'static Text,
    locale: Locale,
    csat: &InboxCsat,
    rating: Rating,
) -> RatingView {
    let points = rating.rating.unwrap_or(0).min(5);
    let stars: String = (1..=5).map(|n| if n <= points { '★' } else { '☆' }).collect();
    let out_of_five = |points: &dyn std::fmt::Display| {
        tandem_locales::fill(&text.csat_stars, &[("rating", points)])
    };
    let answers = rating
        .answers
        .iter()
        .map(|(id, answer)| {
            let question = csat.questions.iter().find(|question| &question.id == id);
            let label = question.map_or_else(|| id.clone(), |q| q.text.get(locale).to_owned());
            let value = match (question.map(|q| q.kind), answer) {
                (_, serde_json::Value::Bool(true)) => text.csat_yes.clone(),
                (_, serde_json::Value::Bool(false)) => text.csat_no.clone(),
                (Some(QuestionKind::Scale), serde_json::Value::Number(n)) => out_of_five(n),
                (_, serde_json::Value::String(s)) => s.clone(),
                (_, other) => other.to_string(),
            };
            (label, value)
        })
        .collect();
    RatingView {
        rating: points,
        stars,
        label: rating.rating.map(|points| out_of_five(&points)).unwrap_or_default(),
        comment: rating.comment,
        answers,
        time: format_time(rating.rated_at),
        timestamp: rating.rated_at,
    }
}
