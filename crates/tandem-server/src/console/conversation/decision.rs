//! A bot turn's decision record as the conversation page shows it under the bot's message: the
//! outcome, the candidates it weighed, the business action it ran and what the model did.

use tandem_domain::DecisionRecord;

use super::handoff_card::PartView;
use crate::i18n::Text;

/// A bot turn's decision record, ready to show.
#[derive(Debug)]
pub struct DecisionView {
    pub outcome: &'static str,
    pub threshold: String,
    pub latency: String,
    pub knowledge_version: String,
    /// `/knowledge/test?q=...`: the same question against today's knowledge.
    pub replay_url: String,
    /// (title, key, score, retrieval, intent)
    pub candidates: Vec<(String, String, String, String, String)>,
    /// The business action the turn ran: its key and outcome, its parameters, and each call
    /// as "GET url → 200 · 35 ms" (or the error).
    pub action: Option<(String, &'static str, String, Vec<String>)>,
    /// What the model did with the answer: "used · 1 attempt · 312+45 tokens · 0.0021 · 840 ms",
    /// or why its wording was not used.
    pub llm: Option<String>,
    /// A message with several requests: each, whether the bot answered it, and from which
    /// article.
    pub parts: Vec<PartView>,
}

pub(super) fn decision_view(text: &'static Text, record: &DecisionRecord) -> DecisionView {
    let outcome = text.bot_outcome(Some(record.outcome));
    let action = record.action.as_ref().map(|action| {
        let params = super::params_line(&action.params);
        let calls = action
            .calls
            .iter()
            .map(|call| {
                let result = match (&call.status, &call.error) {
                    (_, Some(error)) => error.clone(),
                    (Some(status), None) => status.to_string(),
                    (None, None) => "—".to_owned(),
                };
                format!("{} {} → {result} · {} ms", call.method, call.url, call.latency_ms)
            })
            .collect();
        (action.action.clone(), action.outcome.as_str(), params, calls)
    });
    let llm = record.llm.as_ref().map(|llm| {
        let mut parts = vec![llm.outcome.as_str().to_owned()];
        if let Some(tool) = &llm.tool {
            parts.push(format!("{} {tool}", text.llm_chose_action));
        }
        if let Some(article) = &llm.article {
            parts.push(format!("{} {article}", text.llm_chose_article));
        }
        if let Some(error) = &llm.error {
            parts.push(error.clone());
        }
        if !llm.rejected_claims.is_empty() {
            parts.push(format!("{} {}", text.llm_unsupported, llm.rejected_claims.join(", ")));
        }
        parts.push(format!("{} × {}", llm.attempts, text.llm_attempts));
        parts.push(format!("{}+{} tokens", llm.prompt_tokens, llm.completion_tokens));
        parts.push(format!("{:.4}", llm.cost));
        parts.push(format!("{} ms", llm.latency_ms));
        parts.join(" · ")
    });
    let query = serde_urlencoded::to_string([("q", record.query.as_str())]).unwrap_or_default();
    DecisionView {
        outcome,
        threshold: format!("{:.2}", record.threshold),
        latency: format!("{} µs", record.latency_us),
        knowledge_version: record.knowledge_version.clone(),
        replay_url: format!("/knowledge/test?{query}"),
        candidates: record
            .candidates
            .iter()
            .map(|candidate| {
                (
                    candidate.title.clone(),
                    candidate.article.clone(),
                    format!("{:.3}", candidate.score),
                    format!("{:.3}", candidate.retrieval),
                    candidate
                        .intent
                        .map_or_else(|| "—".to_owned(), |intent| format!("{intent:.3}")),
                )
            })
            .collect(),
        action,
        llm,
        parts: record.parts.iter().map(PartView::of).collect(),
    }
}

#[cfg(test)]
mod tests {
    use tandem_domain::{DecisionRecord, LlmOutcome, LlmRecord, Locale, TurnOutcome};

    use super::decision_view;
    use crate::i18n::Text;

    #[test]
    fn a_decision_shows_what_the_model_did_and_why_its_words_were_not_used() {
        let record = DecisionRecord {
            query: "退货期多久".into(),
            outcome: TurnOutcome::Answer,
            threshold: 0.35,
            candidates: Vec::new(),
            knowledge_version: "1 articles".into(),
            latency_us: 120,
            action: None,
            llm: Some(LlmRecord {
                outcome: LlmOutcome::Rejected,
                error: None,
                rejected_claims: vec!["30 天".into()],
                attempts: 1,
                prompt_tokens: 312,
                completion_tokens: 45,
                cost: 0.0021,
                latency_ms: 840,
                tool: None,
                article: None,
                by_meaning: Vec::new(),
            }),
            parts: Vec::new(),
        };
        let view = decision_view(Text::for_locale(Locale::Zh), &record);
        let llm = view.llm.unwrap();
        assert!(llm.starts_with("rejected · 无依据： 30 天 · 1 × 次调用"), "{llm}");
        assert!(llm.contains("312+45 tokens") && llm.ends_with("840 ms"), "{llm}");
        let chose = DecisionRecord {
            llm: Some(LlmRecord {
                tool: Some("order-status".into()),
                ..LlmRecord::new(LlmOutcome::Used)
            }),
            ..record.clone()
        };
        let llm = decision_view(Text::for_locale(Locale::En), &chose).llm.unwrap();
        assert!(llm.starts_with("used · chose the action order-status · "), "{llm}");
        let picked = DecisionRecord {
            llm: Some(LlmRecord {
                article: Some("returns".into()),
                ..LlmRecord::new(LlmOutcome::Used)
            }),
            ..record.clone()
        };
        let llm = decision_view(Text::for_locale(Locale::En), &picked).llm.unwrap();
        assert!(llm.starts_with("used · chose the article returns · "), "{llm}");
        let plain = DecisionRecord { llm: None, ..record };
        assert_eq!(decision_view(Text::for_locale(Locale::En), &plain).llm, None);
    }
}
