//! Evaluation of the engine against labelled questions: what `tandem eval` reports.

use std::collections::HashMap;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::{Candidate, Decision, DecisionPolicy, Engine, Outcome};

/// What a case expects.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Expected {
    One(String),
    Any(Vec<String>),
}

/// A labelled customer question. `expect: null` means out of scope: it must not be answered.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Case {
    pub text: String,
    pub expect: Option<Expected>,
}

impl Case {
    fn accepts(&self, id: &str) -> bool {
        match &self.expect {
            None => false,
            Some(Expected::One(expected)) => expected == id,
            Some(Expected::Any(expected)) => expected.iter().any(|expected| expected == id),
        }
    }

    fn in_scope(&self) -> bool {
        self.expect.is_some()
    }
}

/// The engine's scored candidates for one case, and how long it took.
#[derive(Debug, Clone)]
pub struct Run {
    pub candidates: Vec<Candidate>,
    pub micros: u64,
}

/// Scores every case once; policies are applied afterwards, so a sweep costs nothing more.
pub fn run(engine: &Engine, cases: &[Case]) -> Vec<Run> {
    cases
        .iter()
        .map(|case| {
            let started = Instant::now();
            let candidates = engine.candidates(&case.text);
            Run { candidates, micros: started.elapsed().as_micros() as u64 }
        })
        .collect()
}

/// The figures of the `tandem eval` contract, in percent.
#[derive(Debug, Clone, Serialize)]
pub struct Metrics {
    pub cases: usize,
    /// As typed (0.35, not the nearest f32's 0.3499999940395355).
    pub threshold: f64,
    pub top1: f64,
    /// Mean of per-article top-1 accuracy: fair when one article dominates the cases.
    pub macro_top1: f64,
    pub inscope_acc: f64,
    pub oos_recall: Option<f64>,
    pub answer_precision: f64,
    pub clarify_rate: f64,
    pub p50_us: u64,
    pub p99_us: u64,
}

fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 { 0.0 } else { (part as f64 * 1000.0 / whole as f64).round() / 10.0 }
}

pub fn metrics(engine: &Engine, cases: &[Case], runs: &[Run], policy: DecisionPolicy) -> Metrics {
    let id = |candidate: &Candidate| engine.articles()[candidate.article].id.as_str();
    let (mut in_scope, mut top1, mut answered_right, mut out_of_scope, mut oos_held) =
        (0, 0, 0, 0, 0);
    let (mut answers, mut right_answers, mut clarified) = (0, 0, 0);
    let mut per_article: HashMap<String, (usize, usize)> = HashMap::new();
    for (case, run) in cases.iter().zip(runs) {
        let decision = Decision::from_candidates(run.candidates.clone(), policy);
        let best_right =
            decision.candidates.first().is_some_and(|candidate| case.accepts(id(candidate)));
        match decision.outcome {
            Outcome::Answer => {
                answers += 1;
                right_answers += usize::from(best_right);
            }
            Outcome::Clarify => clarified += 1,
            Outcome::Abstain => {}
        }
        if case.in_scope() {
            in_scope += 1;
            top1 += usize::from(best_right);
            answered_right += usize::from(best_right && decision.outcome == Outcome::Answer);
            let key = match &case.expect {
                Some(Expected::One(expected)) => expected.clone(),
                Some(Expected::Any(expected)) => expected.join("|"),
                None => String::new(),
            };
            let entry = per_article.entry(key).or_default();
            entry.0 += 1;
            entry.1 += usize::from(best_right);
        } else {
            out_of_scope += 1;
            oos_held += usize::from(decision.outcome != Outcome::Answer);
        }
    }
    let mut micros: Vec<u64> = runs.iter().map(|run| run.micros).collect();
    micros.sort_unstable();
    let quantile = |fraction: f64| {
        micros
            .get(((micros.len() as f64 * fraction).ceil() as usize).saturating_sub(1))
            .copied()
            .unwrap_or(0)
    };
    let macro_top1 = if per_article.is_empty() {
        0.0
    } else {
        let sum: f64 =
            per_article.values().map(|(total, right)| *right as f64 / *total as f64).sum();
        (sum * 1000.0 / per_article.len() as f64).round() / 10.0
    };
    Metrics {
        cases: cases.len(),
        threshold: (f64::from(policy.threshold) * 1e4).round() / 1e4,
        top1: percent(top1, in_scope),
        macro_top1,
        inscope_acc: percent(answered_right, in_scope),
        oos_recall: (out_of_scope > 0).then(|| percent(oos_held, out_of_scope)),
        answer_precision: percent(right_answers, answers),
        clarify_rate: percent(clarified, cases.len()),
        p50_us: quantile(0.50),
        p99_us: quantile(0.99),
    }
}

/// Pairs of (expected article, article answered instead) by how often the engine confused them.
pub fn confusions(engine: &Engine, cases: &[Case], runs: &[Run]) -> Vec<(String, String, usize)> {
    let mut counts: HashMap<(String, String), usize> = HashMap::new();
    for (case, run) in cases.iter().zip(runs) {
        let Some(best) = run.candidates.first() else { continue };
        let got = engine.articles()[best.article].id.clone();
        if case.in_scope() && !case.accepts(&got) {
            let expected = match &case.expect {
                Some(Expected::One(expected)) => expected.clone(),
                Some(Expected::Any(expected)) => expected.join("|"),
                None => continue,
            };
            *counts.entry((expected, got)).or_default() += 1;
        }
    }
    let mut pairs: Vec<(String, String, usize)> =
        counts.into_iter().map(|((expected, got), count)| (expected, got, count)).collect();
    pairs.sort_unstable_by(|left, right| right.2.cmp(&left.2).then_with(|| left.0.cmp(&right.0)));
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Article;

    #[test]
    fn metrics_count_answers_abstains_and_out_of_scope() {
        let engine = Engine::build(vec![
            Article {
                id: "returns".into(),
                title: "Return policy".into(),
                questions: vec!["how do i return an item".into()],
                answer: "Within 7 days.".into(),
            },
            Article {
                id: "hours".into(),
                title: "Opening hours".into(),
                questions: vec!["when are you open".into()],
                answer: "9 to 5.".into(),
            },
        ]);
        let cases: Vec<Case> = [
            r#"{"text": "how do i return an item", "expect": "returns"}"#,
            r#"{"text": "when are you open", "expect": ["hours", "other"]}"#,
            r#"{"text": "what is the capital of peru", "expect": null}"#,
        ]
        .iter()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
        let runs = run(&engine, &cases);
        let metrics = metrics(&engine, &cases, &runs, DecisionPolicy::default());
        assert_eq!((metrics.cases, metrics.top1, metrics.inscope_acc), (3, 100.0, 100.0));
        assert_eq!(metrics.oos_recall, Some(100.0));
        assert_eq!(metrics.answer_precision, 100.0);
        assert!(confusions(&engine, &cases, &runs).is_empty());
    }
}
