//! Customer satisfaction (CSAT): the questions an inbox asks a customer once their conversation
//! is resolved, and the checks of a customer's answers to them.
//!
//! A workspace keeps its inboxes' questions in one settings document ([`CsatSettings`], stored
//! under [`SETTINGS_KEY`]). Every inbox asks for a rating from 1 to 5 (its wording is
//! configurable), may ask for a comment, and may ask up to [`MAX_EXTRA_QUESTIONS`] further
//! questions, each a yes/no question or another 1–5 scale, written in Chinese and in English.
//! An inbox without settings asks the default questions (a rating and a comment), whose wording
//! the caller takes from the catalogue.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::validate::{ValidationError, one_line};
use crate::{InboxId, Problem};

/// The key of the workspace settings document.
pub const SETTINGS_KEY: &str = "csat";
/// Most questions besides the rating and the comment.
pub const MAX_EXTRA_QUESTIONS: usize = 3;
/// Longest question, in characters.
pub const MAX_QUESTION_CHARS: usize = 200;
/// Longest comment of a customer, in characters.
pub const MAX_COMMENT_CHARS: usize = 1000;
/// Longest id of a further question.
pub const MAX_QUESTION_ID: usize = 32;
/// The lowest and highest rating (and point of a scale question).
pub const SCALE: std::ops::RangeInclusive<i64> = 1..=5;
/// The ids of the rating and the comment, which further questions cannot take.
pub const RATING_ID: &str = "rating";
pub const COMMENT_ID: &str = "comment";

/// A workspace's CSAT settings: each configured inbox's questions, by inbox id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsatSettings {
    #[serde(default)]
    pub inboxes: BTreeMap<String, InboxCsat>,
}

impl CsatSettings {
    /// The inbox's questions, when they were configured.
    pub fn inbox(&self, inbox: InboxId) -> Option<&InboxCsat> {
        self.inboxes.get(&inbox.0.to_string())
    }

    /// Sets the inbox's questions.
    pub fn set_inbox(&mut self, inbox: InboxId, csat: InboxCsat) {
        self.inboxes.insert(inbox.0.to_string(), csat);
    }
}

/// A question's text in both languages (both are required: see [`inbox_csat`]).
pub use crate::action::Texts;

/// What an inbox asks after a conversation is resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InboxCsat {
    /// Whether the widget asks at all.
    pub enabled: bool,
    /// The rating question (1 to 5), always asked.
    pub rating: Texts,
    /// The comment question; `None` asks for no comment.
    pub comment: Option<Texts>,
    /// Further questions, at most [`MAX_EXTRA_QUESTIONS`].
    #[serde(default)]
    pub questions: Vec<CsatQuestion>,
}

/// The kind of a further question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = CsatQuestionKind)]
pub enum QuestionKind {
    /// The rating, 1 to 5.
    Rating,
    /// Free text.
    Comment,
    /// Yes or no: answered `true` or `false`.
    YesNo,
    /// A scale from 1 to 5: answered with a whole number.
    Scale,
}

impl QuestionKind {
    /// The kinds a further question may have.
    pub const EXTRA: [QuestionKind; 2] = [QuestionKind::YesNo, QuestionKind::Scale];

    pub fn as_str(self) -> &'static str {
        match self {
            QuestionKind::Rating => "rating",
            QuestionKind::Comment => "comment",
            QuestionKind::YesNo => "yes_no",
            QuestionKind::Scale => "scale",
        }
    }

    /// A further question's kind by its code.
    pub fn parse_extra(code: &str) -> Option<QuestionKind> {
        QuestionKind::EXTRA.into_iter().find(|kind| kind.as_str() == code)
    }
}

/// A further question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CsatQuestion {
    /// The key its answer is stored under: 1 to 32 of `a-z 0-9 _`.
    pub id: String,
    /// [`QuestionKind::YesNo`] or [`QuestionKind::Scale`].
    pub kind: QuestionKind,
    pub text: Texts,
}

impl InboxCsat {
    /// What an inbox asks when nothing was configured: a rating and a comment, worded as given
    /// (the catalogue's default questions).
    pub fn default_with(rating: Texts, comment: Texts) -> InboxCsat {
        InboxCsat { enabled: true, rating, comment: Some(comment), questions: Vec::new() }
    }

    /// Every question in the order the customer sees them: the rating, the further questions,
    /// then the comment.
    pub fn all_questions(&self) -> Vec<(&str, QuestionKind, &Texts)> {
        let mut all = vec![(RATING_ID, QuestionKind::Rating, &self.rating)];
        all.extend(
            self.questions
                .iter()
                .map(|question| (question.id.as_str(), question.kind, &question.text)),
        );
        if let Some(comment) = &self.comment {
            all.push((COMMENT_ID, QuestionKind::Comment, comment));
        }
        all
    }
}

/// The form fields of the further questions' parts, by position, so that a refused value names
/// the input it is about.
pub const EXTRA_FIELDS: [[&str; 4]; MAX_EXTRA_QUESTIONS] = [
    ["q1_id", "q1_kind", "q1_zh", "q1_en"],
    ["q2_id", "q2_kind", "q2_zh", "q2_en"],
    ["q3_id", "q3_kind", "q3_zh", "q3_en"],
];

/// Checks an inbox's questions: every text 1 to [`MAX_QUESTION_CHARS`] characters on one line
/// in both languages, at most [`MAX_EXTRA_QUESTIONS`] further questions of a further kind with
/// distinct ids that are not `rating` or `comment`. Texts are trimmed.
pub fn inbox_csat(csat: InboxCsat) -> Result<InboxCsat, ValidationError> {
    let texts = |fields: [&'static str; 2], texts: &Texts| -> Result<Texts, ValidationError> {
        Ok(Texts {
            zh: one_line(fields[0], &texts.zh, MAX_QUESTION_CHARS)?,
            en: one_line(fields[1], &texts.en, MAX_QUESTION_CHARS)?,
        })
    };
    let rating = texts(["rating_zh", "rating_en"], &csat.rating)?;
    let comment = csat
        .comment
        .as_ref()
        .map(|comment| texts(["comment_zh", "comment_en"], comment))
        .transpose()?;
    if csat.questions.len() > MAX_EXTRA_QUESTIONS {
        let problem = Problem::Count { min: 0, max: MAX_EXTRA_QUESTIONS };
        return Err(ValidationError::new("questions", problem));
    }
    let mut questions: Vec<CsatQuestion> = Vec::with_capacity(csat.questions.len());
    for (question, [id_field, kind_field, zh_field, en_field]) in
        csat.questions.iter().zip(EXTRA_FIELDS)
    {
        let id = question_id(id_field, &question.id)?;
        if questions.iter().any(|earlier| earlier.id == id) {
            return Err(ValidationError::new(id_field, Problem::Duplicate { value: id }));
        }
        if !QuestionKind::EXTRA.contains(&question.kind) {
            let allowed: Vec<&str> = QuestionKind::EXTRA.iter().map(|kind| kind.as_str()).collect();
            let problem = Problem::not_one_of(question.kind.as_str(), &allowed);
            return Err(ValidationError::new(kind_field, problem));
        }
        let text = texts([zh_field, en_field], &question.text)?;
        questions.push(CsatQuestion { id, kind: question.kind, text });
    }
    Ok(InboxCsat { enabled: csat.enabled, rating, comment, questions })
}

/// A further question's id: 1 to [`MAX_QUESTION_ID`] of `a-z 0-9 _`, not `rating` or
/// `comment`.
pub fn question_id(field: &'static str, text: &str) -> Result<String, ValidationError> {
    let id = text.trim();
    if id == RATING_ID || id == COMMENT_ID {
        return Err(ValidationError::new(field, Problem::Reserved { value: id.to_owned() }));
    }
    let valid = !id.is_empty()
        && id.len() <= MAX_QUESTION_ID
        && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid {
        let problem = Problem::Identifier {
            value: id.to_owned(),
            max: MAX_QUESTION_ID,
            allowed: "a-z 0-9 _".into(),
        };
        return Err(ValidationError::new(field, problem));
    }
    Ok(id.to_owned())
}

/// Why a customer's answers were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RatingRefusal {
    /// A value out of its bounds, or of the wrong kind.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// An answer to a question the inbox does not ask (`comment` when it asks for none).
    #[error("the inbox asks no question {0:?}")]
    UnknownQuestion(String),
}

/// A customer's answers, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedRating {
    pub rating: u8,
    /// Trimmed; `None` when blank.
    pub comment: Option<String>,
    pub answers: BTreeMap<String, serde_json::Value>,
}

/// Checks a customer's answers against the inbox's questions: a rating from 1 to 5, a comment
/// of at most [`MAX_COMMENT_CHARS`] only when the inbox asks for one, and answers only to its
/// further questions (`true`/`false` for a yes/no question, 1 to 5 for a scale).
pub fn rating(
    csat: &InboxCsat,
    rating: i64,
    comment: Option<&str>,
    answers: &BTreeMap<String, serde_json::Value>,
) -> Result<CheckedRating, RatingRefusal> {
    if !SCALE.contains(&rating) {
        let problem = Problem::out_of_range(SCALE.start(), SCALE.end());
        return Err(ValidationError::new("rating", problem).into());
    }
    let comment = comment.map(str::trim).filter(|comment| !comment.is_empty());
    let comment = match comment {
        Some(_) if csat.comment.is_none() => {
            return Err(RatingRefusal::UnknownQuestion(COMMENT_ID.to_owned()));
        }
        Some(text) => {
            let chars = text.chars().count();
            if chars > MAX_COMMENT_CHARS {
                let problem = Problem::TooLong { max: MAX_COMMENT_CHARS, got: chars };
                return Err(ValidationError::new("comment", problem).into());
            }
            if text.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r')) {
                return Err(ValidationError::new("comment", Problem::ControlCharacters).into());
            }
            Some(text.replace("\r\n", "\n"))
        }
        None => None,
    };
    let mut checked = BTreeMap::new();
    for (id, answer) in answers {
        let Some(question) = csat.questions.iter().find(|question| &question.id == id) else {
            return Err(RatingRefusal::UnknownQuestion(id.clone()));
        };
        let value = match question.kind {
            QuestionKind::YesNo => match answer {
                serde_json::Value::Bool(_) => answer.clone(),
                other => {
                    let problem = Problem::not_one_of(other.to_string(), &["true", "false"]);
                    return Err(ValidationError::new("answers", problem).into());
                }
            },
            _ => match answer.as_i64().filter(|point| SCALE.contains(point)) {
                Some(point) => serde_json::Value::from(point),
                None => {
                    let problem = Problem::item_out_of_range(id, SCALE.start(), SCALE.end());
                    return Err(ValidationError::new("answers", problem).into());
                }
            },
        };
        checked.insert(id.clone(), value);
    }
    // `rating` is within 1..=5 here.
    Ok(CheckedRating { rating: rating as u8, comment, answers: checked })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn texts(zh: &str, en: &str) -> Texts {
        Texts { zh: zh.into(), en: en.into() }
    }

    fn question(id: &str, kind: QuestionKind) -> CsatQuestion {
        CsatQuestion { id: id.into(), kind, text: texts("问题", "Question") }
    }

    fn inbox(questions: Vec<CsatQuestion>) -> InboxCsat {
        InboxCsat {
            enabled: true,
            rating: texts("您对本次服务满意吗？", "How satisfied are you?"),
            comment: Some(texts("还有什么想说的吗？", "Anything else?")),
            questions,
        }
    }

    fn refused(csat: InboxCsat) -> (&'static str, Problem) {
        let error = inbox_csat(csat).unwrap_err();
        (error.field, error.problem)
    }

    #[test]
    fn good_questions_are_kept_trimmed() {
        let mut csat = inbox(vec![
            question(" solved ", QuestionKind::YesNo),
            question("speed", QuestionKind::Scale),
        ]);
        csat.rating.en = "  How satisfied are you?  ".into();
        let checked = inbox_csat(csat).unwrap();
        assert_eq!(checked.rating.en, "How satisfied are you?");
        assert_eq!(checked.questions[0].id, "solved");
        let order: Vec<&str> = checked.all_questions().iter().map(|(id, _, _)| *id).collect();
        assert_eq!(order, ["rating", "solved", "speed", "comment"]);
    }

    #[test]
    fn bad_questions_are_refused_naming_their_input() {
        let mut blank = inbox(Vec::new());
        blank.rating.zh = "  ".into();
        assert_eq!(refused(blank), ("rating_zh", Problem::Length { min: 1, max: 200 }));
        let mut long = inbox(Vec::new());
        long.comment = Some(texts("好", &"x".repeat(201)));
        assert_eq!(refused(long), ("comment_en", Problem::Length { min: 1, max: 200 }));
        let mut broken = inbox(Vec::new());
        broken.rating.en = "two\nlines".into();
        assert_eq!(refused(broken), ("rating_en", Problem::ControlCharacters));
        let four = (0..4).map(|n| question(&format!("q{n}"), QuestionKind::Scale)).collect();
        assert_eq!(refused(inbox(four)), ("questions", Problem::Count { min: 0, max: 3 }));
        let twice =
            vec![question("solved", QuestionKind::YesNo), question("solved", QuestionKind::Scale)];
        assert_eq!(refused(inbox(twice)), ("q2_id", Problem::Duplicate { value: "solved".into() }));
        let reserved = vec![question("rating", QuestionKind::Scale)];
        assert_eq!(
            refused(inbox(reserved)),
            ("q1_id", Problem::Reserved { value: "rating".into() })
        );
        let bad_id = vec![question("Solved!", QuestionKind::YesNo)];
        assert_eq!(refused(inbox(bad_id)).0, "q1_id");
        let bad_kind = vec![question("again", QuestionKind::Comment)];
        assert_eq!(refused(inbox(bad_kind)).0, "q1_kind");
        let mut blank_text = question("solved", QuestionKind::YesNo);
        blank_text.text.en = String::new();
        assert_eq!(refused(inbox(vec![blank_text])).0, "q1_en");
    }

    #[test]
    fn the_document_reads_back_as_written() {
        let mut settings = CsatSettings::default();
        settings.set_inbox(InboxId(7), inbox(vec![question("solved", QuestionKind::YesNo)]));
        let json = serde_json::to_value(&settings).unwrap();
        assert_eq!(json["inboxes"]["7"]["questions"][0]["kind"], "yes_no");
        assert_eq!(json["inboxes"]["7"]["questions"][0]["text"]["en"], "Question");
        let back: CsatSettings = serde_json::from_value(json).unwrap();
        assert_eq!(back, settings);
        assert!(back.inbox(InboxId(7)).is_some() && back.inbox(InboxId(8)).is_none());
    }

    #[test]
    fn answers_are_checked_against_the_questions() {
        let csat = inbox(vec![
            question("solved", QuestionKind::YesNo),
            question("speed", QuestionKind::Scale),
        ]);
        let answers = BTreeMap::from([("solved".into(), json!(true)), ("speed".into(), json!(4))]);
        let checked = rating(&csat, 5, Some("  great  "), &answers).unwrap();
        assert_eq!(checked.rating, 5);
        assert_eq!(checked.comment.as_deref(), Some("great"));
        assert_eq!(checked.answers, answers);
        assert_eq!(rating(&csat, 3, Some("   "), &BTreeMap::new()).unwrap().comment, None);

        let invalid = |result: Result<CheckedRating, RatingRefusal>| match result.unwrap_err() {
            RatingRefusal::Invalid(error) => (error.field, error.problem.code()),
            other => panic!("{other:?}"),
        };
        let none = BTreeMap::new();
        assert_eq!(invalid(rating(&csat, 0, None, &none)), ("rating", "out_of_range"));
        assert_eq!(invalid(rating(&csat, 6, None, &none)), ("rating", "out_of_range"));
        let long = "好".repeat(1001);
        assert_eq!(invalid(rating(&csat, 4, Some(&long), &none)), ("comment", "too_long"));
        let not_bool = BTreeMap::from([("solved".into(), json!("yes"))]);
        assert_eq!(invalid(rating(&csat, 4, None, &not_bool)), ("answers", "not_one_of"));
        let off_scale = BTreeMap::from([("speed".into(), json!(9))]);
        assert_eq!(invalid(rating(&csat, 4, None, &off_scale)), ("answers", "item_out_of_range"));
        let unknown = BTreeMap::from([("colour".into(), json!(true))]);
        assert_eq!(
            rating(&csat, 4, None, &unknown).unwrap_err(),
            RatingRefusal::UnknownQuestion("colour".into())
        );
        let no_comment = InboxCsat { comment: None, ..csat };
        assert_eq!(
            rating(&no_comment, 4, Some("hi"), &none).unwrap_err(),
            RatingRefusal::UnknownQuestion("comment".into())
        );
    }
}
