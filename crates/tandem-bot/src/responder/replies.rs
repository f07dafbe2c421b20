//! The bot's words for an engine decision, and the replies that do not come from one: after
//! "that didn't help", and the question a short follow-up goes with.

use tandem_domain::{Article, DecisionRecord, MessageMeta, TurnOutcome};
use tandem_flow::{BotReply, Phrases, Turn};
use tandem_knowledge::{DecisionPolicy, Outcome};

use crate::engines::Built;

/// Stage 2: the customer says the last answer did not help.
pub(super) fn after_didnt_help(turn: &Turn, built: &Built, phrases: &Phrases) -> Option<BotReply> {
    if !tandem_text::signals::says_it_did_not_help(&turn.message.body) {
        return None;
    }
    next_step_after_failure(turn, built, phrases)
}

/// The question a correction means ("不是这个，我是问退货怎么办" → "退货怎么办"), to be decided
/// instead of the message: when it says enough to be a question of its own, or when the engine
/// answers it ("不对，退货" with a returns article). A bare "不是这个" is none.
pub(super) fn corrected_question(turn: &Turn, built: &Built) -> Option<String> {
    let correction = tandem_text::signals::correction(&turn.message.body)?;
    let answered = || {
        built.decide(&correction.question, Some(turn.inbox.channel)).0.outcome == Outcome::Answer
    };
    (correction.substantive || answered()).then_some(correction.question)
}

/// After "that didn't help": offer the other candidates for the question the failed answer
/// was for, or hand off to a person when there are none.
fn next_step_after_failure(turn: &Turn, built: &Built, phrases: &Phrases) -> Option<BotReply> {
    let policy = built.policy;
    let failed = turn
        .history
        .iter()
        .rev()
        .find(|message| message.author_kind == tandem_domain::AuthorKind::Bot)?;
    let failed_article = failed.meta.as_ref()?.source.as_ref()?.article.clone();
    let question = turn
        .history
        .iter()
        .rev()
        .filter(|message| {
            message.seq < failed.seq && message.author_kind == tandem_domain::AuthorKind::Customer
        })
        .map(|message| message.body.clone())
        .next()?;
    let (decision, articles) = built.rank(
        &question,
        Some(turn.inbox.channel),
        DecisionPolicy { clarify_margin: 0.0, ..policy },
    );
    let alternatives: Vec<String> = decision
        .candidates
        .iter()
        .zip(&articles)
        .filter(|(candidate, article)| {
            article.key != failed_article && candidate.score >= policy.threshold / 2.0
        })
        .take(2)
        .map(|(_, article)| article.title.clone())
        .collect();
    let mut reply = if alternatives.is_empty() {
        BotReply::text(phrases.sorry_handing_off, TurnOutcome::Abstain, true)
    } else {
        BotReply {
            body: phrases.clarify.to_owned(),
            outcome: TurnOutcome::Clarify,
            hand_off: false,
            meta: Some(MessageMeta {
                source: None,
                quick_replies: alternatives,
                more_sources: Vec::new(),
                ..MessageMeta::default()
            }),
            decision: None,
        }
    };
    reply.decision = Some(DecisionRecord {
        query: turn.message.body.clone(),
        outcome: if reply.hand_off { TurnOutcome::HandOff } else { TurnOutcome::Clarify },
        threshold: policy.threshold,
        candidates: Vec::new(),
        knowledge_version: built.version.clone(),
        latency_us: 0,
        action: None,
        llm: None,
        parts: Vec::new(),
    });
    Some(reply)
}

/// For a short message that reads as a follow-up, the customer's previous question.
pub(super) fn follow_up_context(turn: &Turn) -> Option<String> {
    let text = turn.message.body.trim();
    let han = text.chars().filter(|character| tandem_text::is_han(*character)).count();
    let words = text.split_whitespace().count();
    const MARKERS: &[&str] =
        &["那", "那么", "还有", "如果是", "and ", "what about", "how about", "and for", "also "];
    let lower = text.to_lowercase();
    let short = if han > 0 { han <= 8 } else { words <= 5 };
    if !short || !MARKERS.iter().any(|marker| lower.starts_with(marker)) {
        return None;
    }
    turn.history
        .iter()
        .rev()
        .find(|message| message.author_kind == tandem_domain::AuthorKind::Customer)
        .map(|message| message.body.clone())
}

/// The bot's words for an engine outcome.
pub(super) fn reply(phrases: &Phrases, outcome: Outcome, articles: &[Article]) -> BotReply {
    match outcome {
        Outcome::Answer => {
            let article = &articles[0];
            BotReply {
                body: article.answer.clone(),
                outcome: TurnOutcome::Answer,
                hand_off: false,
                meta: Some(MessageMeta {
                    source: Some(article.source()),
                    quick_replies: Vec::new(),
                    more_sources: Vec::new(),
                    ..MessageMeta::default()
                }),
                decision: None,
            }
        }
        Outcome::Clarify => BotReply {
            body: phrases.clarify.to_owned(),
            outcome: TurnOutcome::Clarify,
            hand_off: false,
            meta: Some(MessageMeta {
                source: None,
                quick_replies: articles
                    .iter()
                    .take(2)
                    .map(|article| article.title.clone())
                    .collect(),
                more_sources: Vec::new(),
                ..MessageMeta::default()
            }),
            decision: None,
        },
        Outcome::Abstain => BotReply::text(phrases.cannot_answer, TurnOutcome::Abstain, false),
    }
}
