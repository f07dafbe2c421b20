//! An inbox's CSAT form as typed: the stored questions shown as fields, the posted fields read
//! back, and the questions they describe (checked by the domain when saved).

use serde::Deserialize;
use tandem_domain::csat::{CsatQuestion, EXTRA_FIELDS, InboxCsat, QuestionKind, Texts};
use tandem_domain::{Problem, ValidationError};

/// A further question's row as typed.
#[derive(Debug, Default, Clone)]
pub(super) struct ExtraRow {
    pub(super) id: String,
    pub(super) kind: String,
    pub(super) zh: String,
    pub(super) en: String,
}

/// The form of one inbox, as typed (check boxes send `1` when checked, nothing otherwise).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct CsatForm {
    pub(super) enabled: Option<String>,
    pub(super) rating_zh: String,
    pub(super) rating_en: String,
    pub(super) comment: Option<String>,
    pub(super) comment_zh: String,
    pub(super) comment_en: String,
    pub(super) q1_id: String,
    pub(super) q1_kind: String,
    pub(super) q1_zh: String,
    pub(super) q1_en: String,
    pub(super) q2_id: String,
    pub(super) q2_kind: String,
    pub(super) q2_zh: String,
    pub(super) q2_en: String,
    pub(super) q3_id: String,
    pub(super) q3_kind: String,
    pub(super) q3_zh: String,
    pub(super) q3_en: String,
}

impl CsatForm {
    /// The form showing `csat`; the comment's texts are `default_comment`'s when it asks none,
    /// so that ticking the box has a wording to start from.
    pub(super) fn from_csat(csat: &InboxCsat, default_comment: &Texts) -> CsatForm {
        let comment = csat.comment.as_ref().unwrap_or(default_comment);
        let row = |index: usize| {
            csat.questions.get(index).map_or_else(ExtraRow::default, |question| ExtraRow {
                id: question.id.clone(),
                kind: question.kind.as_str().to_owned(),
                zh: question.text.zh.clone(),
                en: question.text.en.clone(),
            })
        };
        let [q1, q2, q3] = [row(0), row(1), row(2)];
        CsatForm {
            enabled: csat.enabled.then(|| "1".to_owned()),
            rating_zh: csat.rating.zh.clone(),
            rating_en: csat.rating.en.clone(),
            comment: csat.comment.is_some().then(|| "1".to_owned()),
            comment_zh: comment.zh.clone(),
            comment_en: comment.en.clone(),
            q1_id: q1.id,
            q1_kind: q1.kind,
            q1_zh: q1.zh,
            q1_en: q1.en,
            q2_id: q2.id,
            q2_kind: q2.kind,
            q2_zh: q2.zh,
            q2_en: q2.en,
            q3_id: q3.id,
            q3_kind: q3.kind,
            q3_zh: q3.zh,
            q3_en: q3.en,
        }
    }

    /// The further questions' rows, in order.
    pub(super) fn rows(&self) -> [ExtraRow; 3] {
        let row = |id: &String, kind: &String, zh: &String, en: &String| ExtraRow {
            id: id.clone(),
            kind: kind.clone(),
            zh: zh.clone(),
            en: en.clone(),
        };
        [
            row(&self.q1_id, &self.q1_kind, &self.q1_zh, &self.q1_en),
            row(&self.q2_id, &self.q2_kind, &self.q2_zh, &self.q2_en),
            row(&self.q3_id, &self.q3_kind, &self.q3_zh, &self.q3_en),
        ]
    }

    /// The same form with the further questions left blank moved to the end, so that a
    /// refused question is named by the row it is shown in.
    pub(super) fn compacted(mut self) -> CsatForm {
        let blank =
            |row: &ExtraRow| [&row.id, &row.zh, &row.en].iter().all(|p| p.trim().is_empty());
        let (mut rows, blanks): (Vec<ExtraRow>, Vec<ExtraRow>) =
            self.rows().into_iter().partition(|row| !blank(row));
        rows.extend(
            blanks.into_iter().map(|row| ExtraRow { kind: row.kind, ..ExtraRow::default() }),
        );
        let mut rows = rows.into_iter();
        for (id, kind, zh, en) in [
            (&mut self.q1_id, &mut self.q1_kind, &mut self.q1_zh, &mut self.q1_en),
            (&mut self.q2_id, &mut self.q2_kind, &mut self.q2_zh, &mut self.q2_en),
            (&mut self.q3_id, &mut self.q3_kind, &mut self.q3_zh, &mut self.q3_en),
        ] {
            let row = rows.next().unwrap_or_default();
            (*id, *kind, *zh, *en) = (row.id, row.kind, row.zh, row.en);
        }
        self
    }

    pub(super) fn enabled(&self) -> bool {
        self.enabled.is_some()
    }

    pub(super) fn asks_comment(&self) -> bool {
        self.comment.is_some()
    }

    /// The questions the form describes (not yet checked: the domain checks them when saved);
    /// a row left blank is no question. A kind that is not a further kind is refused here.
    pub(super) fn to_csat(&self) -> Result<InboxCsat, ValidationError> {
        let mut questions = Vec::new();
        for (row, [_, kind_field, _, _]) in self.rows().into_iter().zip(EXTRA_FIELDS) {
            if [&row.id, &row.zh, &row.en].iter().all(|part| part.trim().is_empty()) {
                continue;
            }
            let kind = QuestionKind::parse_extra(row.kind.trim()).ok_or_else(|| {
                let allowed: Vec<&str> =
                    QuestionKind::EXTRA.iter().map(|kind| kind.as_str()).collect();
                ValidationError::new(kind_field, Problem::not_one_of(row.kind.trim(), &allowed))
            })?;
            questions.push(CsatQuestion {
                id: row.id,
                kind,
                text: Texts { zh: row.zh, en: row.en },
            });
        }
        Ok(InboxCsat {
            enabled: self.enabled(),
            rating: Texts { zh: self.rating_zh.clone(), en: self.rating_en.clone() },
            comment: self
                .asks_comment()
                .then(|| Texts { zh: self.comment_zh.clone(), en: self.comment_en.clone() }),
            questions,
        })
    }
}
