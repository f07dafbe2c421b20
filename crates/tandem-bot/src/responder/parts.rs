//! Stage 3: a message with several separate requests. Each request
//! ([`tandem_text::signals::request_parts`]) is read on its own; the ones an article answers get
//! that answer, each under its own heading and source; a business action that is the only other
//! request runs as usual; the requests nothing answers are left for a person, named in the reply
//! and listed in the decision record, from which the hand-off packet takes them.

use std::time::Instant;

use tandem_domain::{
    Article, DecisionRecord, Locale, MessageMeta, RequestPart, Source, TurnOutcome,
};
use tandem_flow::{BotReply, Phrases, Turn};
use tandem_knowledge::Outcome;

use super::{KnowledgeResponder, record};
use crate::engines::{ACTION_PREFIX, Built};

/// The most characters of a request quoted back to the customer.
const QUOTE_CHARS: usize = 40;

/// One request of the message, as the engine read it on its own.
struct Read {
    text: String,
    /// The article (or action) that answers it.
    answer: Option<Article>,
    record: DecisionRecord,
}

impl Read {
    fn action(&self) -> Option<&str> {
        self.answer.as_ref()?.key.strip_prefix(ACTION_PREFIX)
    }

    fn article(&self) -> Option<&Article> {
        self.answer.as_ref().filter(|article| !article.key.starts_with(ACTION_PREFIX))
    }
}

impl KnowledgeResponder {
    /// The reply to a message with several requests, when reading them one by one answers more
    /// than reading the message whole would: two or more articles, or an article and something
    /// left for a person. `None` leaves the message to the next stages (one request, a single
    /// article answers all of it, or nothing answers any part).
    pub(super) async fn several_requests(
        &self,
        turn: &Turn,
        built: &Built,
        phrases: &Phrases,
    ) -> Option<BotReply> {
        let texts = tandem_text::signals::request_parts(&turn.message.body);
        if texts.len() < 2 {
            return None;
        }
        let channel = Some(turn.inbox.channel);
        let reads: Vec<Read> = texts
            .into_iter()
            .map(|text| {
                let started = Instant::now();
                let (decision, articles) = built.decide(&text, channel);
                let answer = articles.first().filter(|_| decision.outcome == Outcome::Answer);
                let answer = answer.cloned();
                let record = record(text.clone(), &decision, &articles, built, started);
                Read { text, answer, record }
            })
            .collect();
        let mut articles: Vec<&Article> = Vec::new();
        for article in reads.iter().filter_map(Read::article) {
            if !articles.iter().any(|seen| seen.key == article.key) {
                articles.push(article);
            }
        }
        let unanswered = reads.iter().filter(|read| read.answer.is_none()).count();
        let actions: Vec<&Read> = reads.iter().filter(|read| read.action().is_some()).collect();
        // An action asks for what it needs ("which order?"), which does not go with handing
        // the rest to a person: it runs only when it is the one request left besides articles.
        let mut action_reply = None;
        if let [read] = actions.as_slice()
            && unanswered == 0
            && !articles.is_empty()
        {
            let mut part = turn.clone();
            part.message.body = read.text.clone();
            let key = read.action().unwrap_or_default();
            action_reply = self.start_action(&part, key, read.record.clone(), phrases).await;
        }
        let action_ran = action_reply.is_some();
        let ran = |read: &Read| action_ran && read.action().is_some();
        let left: Vec<&Read> =
            reads.iter().filter(|read| read.article().is_none() && !ran(read)).collect();
        if articles.is_empty() || (articles.len() == 1 && left.is_empty() && !action_ran) {
            return None;
        }
        let mut blocks: Vec<String> = articles
            .iter()
            .map(|article| {
                let asked = reads
                    .iter()
                    .find(|read| read.article().is_some_and(|answer| answer.key == article.key))
                    .map_or("", |read| read.text.as_str());
                // The customer's words go in last, so that nothing they wrote is read as a
                // placeholder.
                phrases
                    .part_answer
                    .replace("{answer}", &article.answer)
                    .replace("{part}", &quote(asked))
            })
            .collect();
        let sources: Vec<Source> = articles.iter().map(|article| article.source()).collect();
        let mut meta = MessageMeta {
            source: sources.first().cloned(),
            more_sources: sources.get(1..).unwrap_or_default().to_vec(),
            quick_replies: Vec::new(),
            ..MessageMeta::default()
        };
        let mut outcome = TurnOutcome::Answer;
        let mut hand_off = !left.is_empty();
        // What the turn is about: the first request left for people (what a hand-off is about),
        // else the first answered one; the action's own record when one ran.
        let about =
            left.first().copied().or_else(|| reads.iter().find(|read| read.answer.is_some()));
        let mut decision = about.map(|read| read.record.clone())?;
        if let Some(reply) = action_reply {
            blocks.push(reply.body);
            outcome = reply.outcome;
            hand_off |= reply.hand_off;
            if let Some(action_meta) = reply.meta {
                meta.quick_replies = action_meta.quick_replies;
            }
            if let Some(record) = reply.decision {
                decision = record;
            }
        }
        if !left.is_empty() {
            let zh = turn.locale == Locale::Zh;
            let quoted: Vec<String> = left
                .iter()
                .map(|read| {
                    let text = quote(&read.text);
                    if zh { format!("“{text}”") } else { format!("\"{text}\"") }
                })
                .collect();
            let list = quoted.join(if zh { "、" } else { ", " });
            blocks.push(phrases.parts_left.replace("{parts}", &list));
        }
        decision.query = turn.message.body.clone();
        decision.parts = reads
            .iter()
            .map(|read| RequestPart {
                text: read.text.clone(),
                outcome: if read.article().is_some() || ran(read) {
                    TurnOutcome::Answer
                } else {
                    TurnOutcome::Abstain
                },
                source: read.article().map(Article::source),
            })
            .collect();
        Some(BotReply {
            body: blocks.join("\n\n"),
            outcome,
            hand_off,
            meta: Some(meta),
            decision: Some(decision),
        })
    }
}

/// A request as the reply quotes it: its first [`QUOTE_CHARS`] characters.
fn quote(text: &str) -> String {
    match text.char_indices().nth(QUOTE_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}
