//! A threshold for one knowledge base, learnt from that knowledge base.
//!
//! The engine's confidence is not a probability: how high a right match scores depends on how
//! many articles there are, how many variants each has and how they are worded. A threshold
//! chosen on a knowledge base with hundreds of variants per article abstains on most questions
//! of a first knowledge base with three, and one chosen on a small base answers too much on a
//! large one. So each knowledge base gets its own, from questions whose right outcome is known
//! without anyone labelling them:
//!
//! - **held-out variants**: a question variant removed from its article is a customer's
//!   paraphrase of a covered question; answering it with its article is right, with another
//!   article wrong;
//! - **uncovered questions**: the variants of an article removed with all its texts are
//!   near-domain questions the knowledge does not cover (the hard out-of-scope case: they
//!   share the business's words); any answer to them is wrong;
//! - **unrelated questions**: a reference set of customer messages in Chinese and English
//!   about other businesses, general knowledge and chit-chat (`data/out-of-scope.txt`, written
//!   for Tandem); any answer is wrong.
//!
//! Articles are split into folds: each fold's articles are removed whole (their questions are
//! the uncovered ones) and one variant of every other article is held out, and an engine of
//! the same kind is built from what remains. The threshold is the lowest at which no more
//! than [`FALSE_ANSWER_RATE`] of the uncovered and unrelated questions (as many of each) would
//! be answered: a threshold with the same meaning for every knowledge base, whatever its size.
//! The questions that should not be answered decide it, because they are the ones the
//! knowledge base itself represents well; held-out variants are written by the same hand as
//! the rest and score higher than customers' own words do, so they only say what to expect:
//! the share of covered questions answered and the precision of the answers.

use std::collections::HashSet;

use serde::Serialize;

use crate::{Article, Engine};

/// The share of the questions the knowledge does not cover that may be answered anyway.
pub const FALSE_ANSWER_RATE: f32 = 0.1;
/// Folds of articles (at most; fewer for fewer articles).
const FOLDS: usize = 5;
/// Per fold, at most this many held-out and this many uncovered questions are scored: enough
/// for a stable estimate, and the cost stays in the builds.
const SAMPLE_PER_FOLD: usize = 120;
/// Fewer held-out questions than this say too little: keep the default threshold.
const MIN_HELD_OUT: usize = 8;
/// The thresholds tried, in hundredths: the range a workspace may set.
const THRESHOLDS: std::ops::RangeInclusive<u32> = 5..=95;

/// The reference questions about something else, one a line (`#` starts a comment).
const REFERENCE: &str = include_str!("../data/out-of-scope.txt");

/// The unrelated reference questions.
pub fn reference_questions() -> impl Iterator<Item = &'static str> {
    REFERENCE.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with('#'))
}

/// A threshold learnt from a knowledge base, with what it is expected to do.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Calibration {
    pub threshold: f32,
    /// Expected share of right answers among those given, for as many covered questions
    /// (held-out variants) as questions it does not cover.
    pub precision: f32,
    /// Share of held-out variants answered with their article at the threshold.
    pub covered_answered: f32,
    /// Share of uncovered near-domain questions answered (wrongly) at the threshold.
    pub uncovered_answered: f32,
    /// Share of the unrelated reference questions answered (wrongly) at the threshold.
    pub unrelated_answered: f32,
    /// How many questions of each kind were scored.
    pub held_out: usize,
    pub uncovered: usize,
    pub unrelated: usize,
}

/// The best score a question got, and whether its best candidate was right.
#[derive(Debug, Clone, Copy)]
struct Scored {
    score: f32,
    right: bool,
}

/// Learns a threshold for `engine`'s articles, or `None` when they have too few question
/// variants to learn from (fewer than [`MIN_HELD_OUT`] can be held out).
pub fn calibrate(engine: &Engine) -> Option<Calibration> {
    let articles = engine.articles();
    let folds = FOLDS.min(articles.len());
    if folds < 2 {
        return None;
    }
    let mut held_out: Vec<Scored> = Vec::new();
    let mut uncovered: Vec<f32> = Vec::new();
    for fold in 0..folds {
        let mut kept: Vec<Article> = Vec::with_capacity(articles.len());
        let mut removed: Vec<&str> = Vec::new();
        let mut holding: Vec<(String, usize)> = Vec::new();
        for (index, article) in articles.iter().enumerate() {
            if index % folds == fold {
                removed.extend(article.questions.iter().map(String::as_str));
                if article.questions.is_empty() {
                    removed.push(&article.title);
                }
                continue;
            }
            let mut article = article.clone();
            if article.questions.len() >= 2 {
                // A different variant each fold, so that no one wording decides.
                let question = article.questions.remove((fold + index) % article.questions.len());
                holding.push((question, kept.len()));
            }
            kept.push(article);
        }
        if kept.len() < 2 || holding.is_empty() {
            continue;
        }
        // The held-out wording may be another article's variant too: then it is not held out.
        let known: HashSet<String> = kept
            .iter()
            .flat_map(|article| article.questions.iter().chain([&article.title]))
            .map(|text| tandem_text::normalize(text))
            .collect();
        let fold_engine =
            Engine::build_as(kept, engine.dictionary().clone(), Some(engine.has_model()));
        for (question, article) in evenly(&holding, SAMPLE_PER_FOLD) {
            if known.contains(&tandem_text::normalize(question)) {
                continue;
            }
            let best = fold_engine.candidates(question).first().copied();
            held_out.push(match best {
                Some(best) => Scored { score: best.score, right: best.article == *article },
                None => Scored { score: 0.0, right: false },
            });
        }
        for question in evenly(&removed, SAMPLE_PER_FOLD) {
            uncovered.push(best_score(&fold_engine, question));
        }
    }
    if held_out.len() < MIN_HELD_OUT {
        return None;
    }
    let unrelated: Vec<f32> =
        reference_questions().map(|question| best_score(engine, question)).collect();
    Some(choose(&held_out, &uncovered, &unrelated))
}

fn best_score(engine: &Engine, question: &str) -> f32 {
    engine.candidates(question).first().map_or(0.0, |best| best.score)
}

/// At most `limit` items spread evenly over `items`.
fn evenly<T>(items: &[T], limit: usize) -> impl Iterator<Item = &T> {
    let step = items.len().div_ceil(limit.max(1)).max(1);
    items.iter().step_by(step)
}

/// The lowest threshold at which at most [`FALSE_ANSWER_RATE`] of the questions the knowledge
/// does not cover (uncovered and unrelated, as many of each) would be answered.
fn choose(held_out: &[Scored], uncovered: &[f32], unrelated: &[f32]) -> Calibration {
    let share =
        |count: usize, whole: usize| if whole == 0 { 0.0 } else { count as f32 / whole as f32 };
    let at = |threshold: f32| {
        let right = held_out.iter().filter(|s| s.right && s.score >= threshold).count();
        let wrong = held_out.iter().filter(|s| !s.right && s.score >= threshold).count();
        let uncovered_answered =
            share(uncovered.iter().filter(|&&score| score >= threshold).count(), uncovered.len());
        let unrelated_answered =
            share(unrelated.iter().filter(|&&score| score >= threshold).count(), unrelated.len());
        // Where one kind of question is missing, the other stands for both.
        let false_answers = match (uncovered.is_empty(), unrelated.is_empty()) {
            (true, _) => unrelated_answered,
            (_, true) => uncovered_answered,
            _ => (uncovered_answered + unrelated_answered) / 2.0,
        };
        let answered_right = share(right, held_out.len());
        let answered_wrong = share(wrong, held_out.len()) + false_answers;
        let precision = if answered_right + answered_wrong > 0.0 {
            answered_right / (answered_right + answered_wrong)
        } else {
            1.0
        };
        let calibration = Calibration {
            threshold,
            precision,
            covered_answered: answered_right,
            uncovered_answered,
            unrelated_answered,
            held_out: held_out.len(),
            uncovered: uncovered.len(),
            unrelated: unrelated.len(),
        };
        (calibration, false_answers)
    };
    let highest = *THRESHOLDS.end() as f32 / 100.0;
    THRESHOLDS
        .map(|step| at(step as f32 / 100.0))
        .find(|(_, false_answers)| *false_answers <= FALSE_ANSWER_RATE)
        .unwrap_or_else(|| at(highest))
        .0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn article(id: &str, title: &str, questions: &[&str]) -> Article {
        Article {
            id: id.into(),
            title: title.into(),
            questions: questions.iter().map(|question| (*question).to_owned()).collect(),
            answer: String::new(),
        }
    }

    #[test]
    fn the_reference_has_both_languages() {
        let questions: Vec<&str> = reference_questions().collect();
        let chinese = questions
            .iter()
            .filter(|question| question.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)))
            .count();
        assert!(
            chinese >= 100 && questions.len() - chinese >= 100,
            "{chinese} of {}",
            questions.len()
        );
    }

    #[test]
    fn too_few_variants_keep_the_default() {
        let engine = Engine::build(vec![
            article("a", "退货", &["怎么退货"]),
            article("b", "发货", &["什么时候发货"]),
        ]);
        assert_eq!(calibrate(&engine), None);
    }

    #[test]
    fn the_threshold_holds_back_what_the_knowledge_does_not_cover() {
        let scored = |score, right| Scored { score, right };
        // Right answers score 0.3 to 0.5, uncovered questions up to 0.2375, unrelated 0.05.
        let held_out: Vec<Scored> =
            (0..20).map(|index| scored(0.3 + index as f32 * 0.01, true)).collect();
        let uncovered: Vec<f32> = (0..20).map(|index| index as f32 * 0.0125).collect();
        let calibration = choose(&held_out, &uncovered, &[0.05; 50]);
        // 0.19 answers 4 of the 20 uncovered (20%) and no unrelated one: 10% of the mix, just
        // allowed; 0.18 would answer 5 (12.5%).
        assert_eq!(calibration.threshold, 0.19, "{calibration:?}");
        assert_eq!((calibration.covered_answered, calibration.unrelated_answered), (1.0, 0.0));
        assert!(calibration.precision > 0.9, "{calibration:?}");
        // Only unrelated questions: they alone decide.
        assert_eq!(choose(&held_out, &[], &[0.05; 50]).threshold, 0.06);
        // Everything scores high: the highest threshold, and a poor precision said so.
        let calibration = choose(&held_out, &[0.99; 20], &[0.99; 20]);
        assert_eq!(calibration.threshold, 0.95);
        assert!(calibration.precision < 0.5, "{calibration:?}");
    }
}
