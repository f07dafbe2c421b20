//! Triage: whether a conversation stays with the bot, waits for a person to approve the bot's
//! draft, or goes to people now — and the hand-off packet those people receive.
//!
//! Everything here is a pure function of the conversation so far, the workspace's
//! [`EscalationPolicy`] and the signal models in `tandem-text`, so each rule is tested on its own.

use std::collections::BTreeSet;

use tandem_domain::{
    BotReply as PacketReply, Conversation, Customer, CustomerCard, DecisionRecord, Entity,
    EscalationDecision, EscalationOutcome, EscalationPolicy, HandoffPacket, IntentGuess, Locale,
    Message, Millis, Queue, QueueId, Reason, RequestPart, TurnOutcome, TurnSignal,
};
use tandem_text::{Analysis, Emotion, Lang};

/// How many earlier customer messages a repeat is looked for in.
const REPEAT_WINDOW: usize = 4;
/// Character-bigram overlap (Dice) above which two messages ask the same thing.
const REPEAT_SIMILARITY: f32 = 0.6;

/// One customer message with what the signal models read in it.
#[derive(Debug, Clone)]
pub struct CustomerTurn {
    pub seq: i64,
    pub text: String,
    pub analysis: Analysis,
}

impl CustomerTurn {
    pub fn new(seq: i64, text: &str) -> CustomerTurn {
        CustomerTurn { seq, text: text.to_owned(), analysis: tandem_text::analyze(text) }
    }
}

/// What the policy looks at: the conversation since a person last had it.
#[derive(Debug, Clone, Copy)]
pub struct Situation<'a> {
    /// The customer's messages, oldest first; the newest is the one being decided on.
    pub turns: &'a [CustomerTurn],
    /// The outcomes of the bot's turns, oldest first.
    pub bot_outcomes: &'a [TurnOutcome],
    /// The customer's `tier` profile attribute.
    pub tier: Option<&'a str>,
}

/// Applies the policy. Hand-off reasons win over approval reasons; each reason is listed once.
pub fn decide(policy: &EscalationPolicy, situation: Situation<'_>) -> EscalationDecision {
    let mut hand_off = Vec::new();
    let mut approve = Vec::new();
    let Some(current) = situation.turns.last() else {
        return EscalationDecision { outcome: EscalationOutcome::KeepWithBot, reasons: Vec::new() };
    };
    let analysis = &current.analysis;
    for &reason in &analysis.reasons {
        if policy.hand_off_on.contains(&reason) {
            hand_off.push(reason);
        } else if policy.approve_on.contains(&reason) {
            approve.push(reason);
        }
    }
    let abstains = situation
        .bot_outcomes
        .iter()
        .rev()
        .take_while(|outcome| **outcome == TurnOutcome::Abstain)
        .count();
    if policy.abstains_in_a_row > 0 && abstains >= policy.abstains_in_a_row as usize {
        hand_off.push(Reason::AbstainedRepeatedly);
    }
    if policy.repeats > 0 && times_asked(situation.turns) >= policy.repeats as usize {
        hand_off.push(Reason::RepeatedQuestion);
    }
    // A correction ("不对，退货", "no, I meant shipping") says what was meant instead: the
    // bot answers that, and it is no failure.
    let didnt_help = situation
        .turns
        .iter()
        .filter(|turn| {
            tandem_text::signals::says_it_did_not_help(&turn.text)
                && tandem_text::signals::correction(&turn.text).is_none()
        })
        .count();
    if policy.didnt_help > 0 && didnt_help >= policy.didnt_help as usize {
        hand_off.push(Reason::DidntHelp);
    }
    let angry = situation
        .turns
        .iter()
        .rev()
        .take(3)
        .filter(|turn| turn.analysis.emotion == Emotion::Anger)
        .count();
    let falling = situation.turns.len() >= 2
        && analysis.sentiment <= -0.75
        && situation.turns[situation.turns.len() - 2].analysis.sentiment - analysis.sentiment
            >= 0.75;
    if policy.anger_turns > 0 && (angry >= policy.anger_turns as usize || falling) {
        hand_off.push(Reason::AngerRising);
    }
    if analysis.sentiment <= policy.negative_sentiment {
        hand_off.push(Reason::VeryNegative);
    }
    let vip = situation.tier.is_some_and(|tier| {
        policy.vip_tiers.iter().any(|listed| listed.eq_ignore_ascii_case(tier.trim()))
    });
    let trouble = !analysis.reasons.is_empty()
        && analysis
            .reasons
            .iter()
            .any(|reason| !matches!(reason, Reason::PersonalData | Reason::MultiPart))
        || analysis.sentiment < -0.3
        || abstains > 0;
    if vip && trouble {
        hand_off.push(Reason::Vip);
    }
    let (outcome, mut reasons) = if !hand_off.is_empty() {
        // The message's own flags explain the hand-off too.
        let mut reasons = hand_off;
        reasons.extend(approve);
        (EscalationOutcome::HandOff, reasons)
    } else if !approve.is_empty() {
        (EscalationOutcome::DraftForApproval, approve)
    } else {
        (EscalationOutcome::KeepWithBot, Vec::new())
    };
    let mut seen = BTreeSet::new();
    reasons.retain(|reason| seen.insert(*reason));
    EscalationDecision { outcome, reasons }
}

/// How many times the customer has asked what their newest message asks, within the last few
/// messages (1 = only now). Greetings and one-word messages never count as repeats.
fn times_asked(turns: &[CustomerTurn]) -> usize {
    let Some((current, earlier)) = turns.split_last() else { return 0 };
    let grams = bigrams(&current.text);
    if grams.len() < 3 {
        return 1;
    }
    1 + earlier
        .iter()
        .rev()
        .take(REPEAT_WINDOW)
        .filter(|turn| dice(&grams, &bigrams(&turn.text)) >= REPEAT_SIMILARITY)
        .count()
}

/// Pairs of neighbouring letters and Chinese characters. Digits are left out: a customer who
/// gives order numbers one after another is answering questions, not repeating one.
fn bigrams(text: &str) -> BTreeSet<(char, char)> {
    let characters: Vec<char> = tandem_text::normalize(text)
        .chars()
        .filter(|character| {
            (character.is_alphanumeric() || tandem_text::is_han(*character))
                && !character.is_ascii_digit()
        })
        .collect();
    characters.windows(2).map(|pair| (pair[0], pair[1])).collect()
}

fn dice(a: &BTreeSet<(char, char)>, b: &BTreeSet<(char, char)>) -> f32 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    2.0 * a.intersection(b).count() as f32 / (a.len() + b.len()) as f32
}

/// The waiting priority before aging: customer value first, then how upset they are and how
/// serious the reasons. Roughly 0..=100.
pub fn priority(
    customer: &Customer,
    policy: &EscalationPolicy,
    analysis: &Analysis,
    reasons: &[Reason],
) -> i64 {
    let mut priority = 10;
    let tier = customer.attributes.get("tier").map(|tier| tier.trim().to_lowercase());
    if tier.is_some_and(|tier| {
        policy.vip_tiers.iter().any(|listed| listed.eq_ignore_ascii_case(&tier))
    }) {
        priority += 40;
    }
    if let Some(value) =
        customer.attributes.get("value").and_then(|value| value.trim().parse::<f64>().ok())
    {
        // Lifetime value: +1 per 1,000, at most +20.
        priority += (value / 1000.0).clamp(0.0, 20.0) as i64;
    }
    priority += match analysis.emotion {
        Emotion::Anger => 20,
        Emotion::Frustration | Emotion::Anxiety => 10,
        _ => 0,
    };
    if reasons.contains(&Reason::LegalThreat) {
        priority += 15;
    }
    if reasons.contains(&Reason::Complaint) {
        priority += 5;
    }
    priority.min(100)
}

/// The queue for a hand-off, by what the hand-off is about now. In order, the first queue
/// whose topics name:
/// 1. one of the hand-off's reasons (`complaint`, `legal_threat`, `privacy`...): why the
///    customer needs a person now outranks what they asked about before;
/// 2. one of `current`: the key or a tag of the article the message(s) that led to the
///    hand-off were matched to;
/// 3. one of `earlier`: the key or a tag of the article an earlier message was matched to,
///    the conversation's topic when nothing current names a queue;
///
/// else the first queue without topics (the general one); else the first queue. Topics are
/// compared without regard to ASCII case.
pub fn choose_queue<'a>(
    queues: &'a [Queue],
    reasons: &[Reason],
    current: &[String],
    earlier: &[String],
) -> Option<&'a Queue> {
    let names = |queue: &Queue, wanted: &[&str]| {
        let named = |topic: &String| wanted.iter().any(|want| want.eq_ignore_ascii_case(topic));
        queue.routing.topics.iter().any(named)
    };
    let naming = |wanted: &[&str]| queues.iter().find(|queue| names(queue, wanted));
    let reasons: Vec<&str> = reasons.iter().map(|reason| reason.as_str()).collect();
    let current: Vec<&str> = current.iter().map(String::as_str).collect();
    let earlier: Vec<&str> = earlier.iter().map(String::as_str).collect();
    naming(&reasons)
        .or_else(|| naming(&current))
        .or_else(|| naming(&earlier))
        .or_else(|| queues.iter().find(|queue| queue.routing.topics.is_empty()))
        .or_else(|| queues.first())
}

/// The skills a conversation needs beyond its queue's: its language.
pub fn language_skills(language: Option<Locale>) -> Vec<String> {
    language.map(|locale| format!("lang:{}", locale.as_str())).into_iter().collect()
}

/// The language the customer writes in, from their messages (newest decides), else the profile.
pub fn customer_language(turns: &[CustomerTurn], customer: &Customer) -> Option<Locale> {
    turns
        .iter()
        .rev()
        .find_map(|turn| turn.analysis.language)
        .map(|language| match language {
            Lang::Zh => Locale::Zh,
            Lang::En => Locale::En,
        })
        .or(customer.locale)
}

/// A few of the customer's own sentences that state the problem, personal data masked, in the
/// order they were written: greetings, requests for a person and thanks are left out, and the
/// sentences carrying the most information (reasons, numbers, distinct words) are kept.
pub fn summarize(turns: &[CustomerTurn], limit_chars: usize) -> String {
    struct Candidate {
        order: usize,
        text: String,
        score: f32,
    }
    let mut candidates = Vec::new();
    for turn in turns {
        for sentence in sentences(&turn.text) {
            let masked = tandem_text::signals::mask_personal_data(sentence);
            let signal = tandem_text::signals::reasons(sentence);
            let informative = bigrams(sentence).len();
            let asks_only = tandem_text::signals::asks_for_person(sentence) && informative < 8;
            if informative < 3 || asks_only {
                continue;
            }
            let digits = sentence.chars().any(|character| character.is_ascii_digit());
            let score = (informative as f32).sqrt()
                + 2.0 * signal.len() as f32
                + if digits { 1.5 } else { 0.0 }
                + if candidates.is_empty() { 1.0 } else { 0.0 };
            candidates.push(Candidate { order: candidates.len(), text: masked, score });
        }
    }
    candidates.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.order.cmp(&b.order)));
    let mut chosen = Vec::new();
    let mut length = 0;
    for candidate in candidates {
        let size = candidate.text.chars().count();
        if !chosen.is_empty() && length + size > limit_chars {
            continue;
        }
        length += size;
        chosen.push(candidate);
        if chosen.len() == 3 {
            break;
        }
    }
    chosen.sort_by_key(|candidate| candidate.order);
    let mut summary = String::new();
    for candidate in chosen {
        // Chinese sentences follow each other without a space; others get one.
        let joined_tight = summary.chars().next_back().is_some_and(|last| {
            tandem_text::is_han(last) || matches!(last, '。' | '！' | '？' | '；' | '，' | '…')
        });
        if !summary.is_empty() && !joined_tight {
            summary.push(' ');
        }
        summary.push_str(&candidate.text);
    }
    if summary.chars().count() > limit_chars {
        summary = summary.chars().take(limit_chars.saturating_sub(1)).collect::<String>() + "…";
    }
    summary
}

/// Sentences with their closing punctuation.
pub(crate) fn sentences(text: &str) -> impl Iterator<Item = &str> {
    let mut start = 0;
    let mut pieces = Vec::new();
    for (index, character) in text.char_indices() {
        if matches!(character, '。' | '！' | '？' | '!' | '?' | '\n' | '；' | ';')
            || (character == '.' && text[index + 1..].starts_with(char::is_whitespace))
        {
            let end = index + character.len_utf8();
            pieces.push(text[start..end].trim());
            start = end;
        }
    }
    pieces.push(text[start..].trim());
    pieces.into_iter().filter(|piece| !piece.is_empty())
}

/// Order numbers and personal data the customer gave, personal data masked, each once.
pub fn entities(turns: &[CustomerTurn]) -> Vec<Entity> {
    entities_in(turns.iter().map(|turn| turn.text.as_str()))
}

/// Order numbers and personal data in these texts, personal data masked, each once (shared
/// with the wrap-up, which reads the agents' replies too).
pub(crate) fn entities_in<'a>(texts: impl IntoIterator<Item = &'a str>) -> Vec<Entity> {
    let mut found = Vec::new();
    for text in texts {
        let personal = tandem_text::signals::find_personal_data(text);
        for span in &personal {
            let value = tandem_text::signals::mask_personal_data(&text[span.start..span.end]);
            found.push(Entity { kind: span.kind.as_str().to_owned(), value });
        }
        let mut digits = String::new();
        let mut start = 0;
        for (index, character) in text.char_indices().chain([(text.len(), ' ')]) {
            if character.is_ascii_digit() {
                if digits.is_empty() {
                    start = index;
                }
                digits.push(character);
                continue;
            }
            let inside_personal =
                personal.iter().any(|span| span.start <= start && start < span.end);
            if (8..=24).contains(&digits.len()) && !inside_personal {
                found.push(Entity {
                    kind: "order_number".into(),
                    value: std::mem::take(&mut digits),
                });
            }
            digits.clear();
        }
    }
    let mut seen = BTreeSet::new();
    found.retain(|entity| seen.insert((entity.kind.clone(), entity.value.clone())));
    found
}

/// What [`packet`] is built from.
#[derive(Debug, Clone, Copy)]
pub struct PacketInput<'a> {
    pub conversation: &'a Conversation,
    pub customer: &'a Customer,
    pub turns: &'a [CustomerTurn],
    /// The conversation's messages, oldest first (for the bot's replies).
    pub messages: &'a [Message],
    pub decisions: &'a [(tandem_domain::MessageId, DecisionRecord)],
    /// The bot's decision on the newest message when it is not among `decisions` (a draft
    /// handed over for approval is not stored as a reply).
    pub current: Option<&'a DecisionRecord>,
    pub decision: &'a EscalationDecision,
    pub draft: Option<&'a str>,
    pub history: tandem_store::CustomerHistory,
    pub skills: &'a [String],
    pub priority: i64,
    pub queue: Option<QueueId>,
    pub now: Millis,
}

/// The hand-off packet.
pub fn packet(input: PacketInput<'_>) -> HandoffPacket {
    let language = customer_language(input.turns, input.customer);
    let limit = if language == Some(Locale::Zh) { 120 } else { 280 };
    let latest_decision = input
        .current
        .into_iter()
        .chain(input.decisions.iter().rev().map(|(_, record)| record))
        .find(|record| !record.candidates.is_empty());
    let intents = latest_decision
        .map(|record| {
            record
                .candidates
                .iter()
                .take(3)
                .map(|candidate| IntentGuess {
                    article: candidate.article.clone(),
                    title: candidate.title.clone(),
                    score: candidate.score,
                })
                .collect()
        })
        .unwrap_or_default();
    let bot_replies = input
        .messages
        .iter()
        .filter(|message| message.author_kind == tandem_domain::AuthorKind::Bot)
        .map(|message| PacketReply {
            seq: message.seq,
            outcome: input
                .decisions
                .iter()
                .find(|(id, _)| *id == message.id)
                .map(|(_, record)| record.outcome),
            source: message.meta.as_ref().and_then(|meta| meta.source.clone()),
        })
        .collect();
    let emotions = input
        .turns
        .iter()
        .map(|turn| TurnSignal {
            seq: turn.seq,
            sentiment: (turn.analysis.sentiment * 100.0).round() / 100.0,
            emotion: turn.analysis.emotion.as_str().to_owned(),
        })
        .collect();
    let attributes = &input.customer.attributes;
    let mut shown = attributes.clone();
    shown.remove("tier");
    shown.remove("value");
    HandoffPacket {
        conversation_id: input.conversation.id,
        created_at: input.now,
        reasons: input.decision.reasons.clone(),
        outcome: input.decision.outcome,
        language,
        summary: summarize(input.turns, limit),
        model_summary: None,
        intents,
        emotions,
        bot_replies,
        actions: input.decisions.iter().filter_map(|(_, record)| record.action.clone()).collect(),
        draft: input.draft.map(str::to_owned),
        parts: parts(&input),
        entities: entities(input.turns),
        customer: CustomerCard {
            name: input.customer.name.clone(),
            tier: attributes.get("tier").cloned(),
            value: attributes.get("value").cloned(),
            attributes: shown,
            conversations: input.history.conversations,
            with_people: input.history.with_people,
            previous_agent: input.history.last_agent,
        },
        skills: input.skills.to_vec(),
        priority: input.priority,
        queue_id: input.queue,
    }
}

/// The separate requests of the newest message: as the bot's turn on it read them (what it
/// answered, what it left), or, when the hand-off came before the bot answered, as the
/// message itself lists them.
fn parts(input: &PacketInput<'_>) -> Vec<RequestPart> {
    let Some(newest) = input.turns.last() else { return Vec::new() };
    let answers_newest = |id: &tandem_domain::MessageId| {
        input.messages.iter().any(|message| message.id == *id && message.seq > newest.seq)
    };
    let read = input
        .current
        .into_iter()
        .chain(
            input.decisions.iter().filter(|(id, _)| answers_newest(id)).map(|(_, record)| record),
        )
        .find(|record| !record.parts.is_empty());
    let parts = match read {
        Some(record) => record.parts.clone(),
        None => {
            let texts = tandem_text::signals::request_parts(&newest.text);
            if texts.len() < 2 {
                return Vec::new();
            }
            texts
                .into_iter()
                .map(|text| RequestPart { text, outcome: TurnOutcome::Abstain, source: None })
                .collect()
        }
    };
    parts
        .into_iter()
        .map(|part| RequestPart {
            text: tandem_text::signals::mask_personal_data(&part.text),
            ..part
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use tandem_domain::{CustomerId, QueueRouting, WorkspaceId};

    use super::*;

    fn turns(texts: &[&str]) -> Vec<CustomerTurn> {
        texts
            .iter()
            .enumerate()
            .map(|(index, text)| CustomerTurn::new(index as i64 * 2 + 1, text))
            .collect()
    }

    fn decide_on(texts: &[&str], outcomes: &[&str], tier: Option<&str>) -> EscalationDecision {
        let turns = turns(texts);
        let outcomes: Vec<TurnOutcome> =
            outcomes.iter().map(|code| TurnOutcome::parse(code).unwrap()).collect();
        decide(
            &EscalationPolicy::default(),
            Situation { turns: &turns, bot_outcomes: &outcomes, tier },
        )
    }

    fn hands_off_for(decision: &EscalationDecision, reason: &str) -> bool {
        decision.outcome == EscalationOutcome::HandOff
            && decision.reasons.iter().any(|code| code.as_str() == reason)
    }

    #[test]
    fn routine_questions_stay_with_the_bot() {
        for text in [
            "我的订单到哪了？",
            "退货政策是什么",
            "where is my order?",
            "how do I reset my password",
        ] {
            let decision = decide_on(&[text], &[], None);
            assert_eq!(decision.outcome, EscalationOutcome::KeepWithBot, "{text}: {decision:?}");
            assert!(decision.reasons.is_empty());
        }
    }

    #[test]
    fn each_message_reason_in_the_policy_hands_off() {
        let cases = [
            ("转人工", "asks_for_human"),
            ("I want to talk to a real person", "asks_for_human"),
            ("再不处理我就找律师起诉你们", "legal_threat"),
            ("I will sue you and report this to the regulator", "legal_threat"),
            ("请删除我的账号和所有个人数据", "privacy"),
        ];
        for (text, reason) in cases {
            let decision = decide_on(&[text], &[], None);
            assert!(hands_off_for(&decision, reason), "{text}: {decision:?}");
        }
    }

    #[test]
    fn regulated_topics_are_drafted_for_approval_and_hand_off_reasons_win() {
        let decision = decide_on(&["我血压高，这个药每天吃几片合适？"], &[], None);
        assert_eq!(decision.outcome, EscalationOutcome::DraftForApproval, "{decision:?}");
        assert_eq!(decision.reasons, [Reason::RegulatedMedical]);
        let both = decide_on(&["这个药吃几片合适？转人工"], &[], None);
        assert_eq!(both.outcome, EscalationOutcome::HandOff, "{both:?}");
        assert!(both.reasons.contains(&Reason::RegulatedMedical), "{both:?}");
    }

    #[test]
    fn conversation_rules_hand_off() {
        assert!(hands_off_for(
            &decide_on(&["abc 123 foo"], &["abstain", "abstain"], None),
            "abstained_repeatedly"
        ));
        assert_eq!(
            decide_on(&["abc 123 foo"], &["abstain", "answer"], None).outcome,
            EscalationOutcome::KeepWithBot
        );
        let twice = decide_on(
            &["我的快递怎么还没到", "退货政策", "我的快递怎么还没到啊"],
            &["answer", "answer"],
            None,
        );
        assert_eq!(twice.outcome, EscalationOutcome::KeepWithBot, "{twice:?}");
        let repeated = decide_on(
            &["我的快递怎么还没到", "退货政策", "我的快递怎么还没到啊", "快递怎么还没到？"],
            &["answer", "answer", "answer"],
            None,
        );
        assert!(hands_off_for(&repeated, "repeated_question"), "{repeated:?}");
        let greetings = decide_on(&["你好", "你好"], &["answer"], None);
        assert_eq!(greetings.outcome, EscalationOutcome::KeepWithBot, "{greetings:?}");
        let didnt = decide_on(&["退货怎么退", "没用", "还是没用"], &["answer", "clarify"], None);
        assert!(hands_off_for(&didnt, "didnt_help"), "{didnt:?}");
        // Corrections name what was meant: no failure, however short.
        let corrected = decide_on(
            &["运费怎么算", "不对，退货", "发票怎么开", "no, I meant shipping"],
            &["answer", "answer", "answer"],
            None,
        );
        assert_eq!(corrected.outcome, EscalationOutcome::KeepWithBot, "{corrected:?}");
    }

    #[test]
    fn anger_over_turns_and_vip_trouble_hand_off() {
        let angry = decide_on(
            &["你们怎么回事，气死我了！", "太过分了，简直欺人太甚，气死了！"],
            &["answer"],
            None,
        );
        assert!(hands_off_for(&angry, "anger_rising"), "{angry:?}");
        let vip = decide_on(&["这次的服务让我很失望"], &[], Some("VIP"));
        assert!(hands_off_for(&vip, "vip"), "{vip:?}");
        let calm_vip = decide_on(&["请问营业时间是几点"], &[], Some("vip"));
        assert_eq!(calm_vip.outcome, EscalationOutcome::KeepWithBot, "{calm_vip:?}");
    }

    #[test]
    fn an_empty_policy_keeps_everything_with_the_bot() {
        let policy = EscalationPolicy {
            hand_off_on: Vec::new(),
            approve_on: Vec::new(),
            abstains_in_a_row: 0,
            repeats: 0,
            didnt_help: 0,
            anger_turns: 0,
            negative_sentiment: -1.0,
            vip_tiers: Vec::new(),
            updated_at: 0,
        };
        let turns = turns(&["转人工，我要投诉，找律师"]);
        let decision = decide(
            &policy,
            Situation {
                turns: &turns,
                bot_outcomes: &[TurnOutcome::Abstain; 5],
                tier: Some("vip"),
            },
        );
        assert_eq!(decision.outcome, EscalationOutcome::KeepWithBot, "{decision:?}");
    }

    fn customer(attributes: &[(&str, &str)]) -> Customer {
        Customer {
            id: CustomerId(1),
            workspace_id: WorkspaceId(1),
            name: "李雷".into(),
            email: None,
            locale: Some(Locale::Zh),
            attributes: attributes
                .iter()
                .map(|(key, value)| (key.to_string(), value.to_string()))
                .collect(),
            created_at: 0,
            external_id: None,
            verified: false,
        }
    }

    #[test]
    fn priority_rises_with_value_emotion_and_threats() {
        let policy = EscalationPolicy::default();
        let calm = tandem_text::analyze("请问怎么退货");
        let angry = tandem_text::analyze("气死我了，你们太过分了！");
        let plain = priority(&customer(&[]), &policy, &calm, &[]);
        let vip = priority(&customer(&[("tier", "VIP")]), &policy, &calm, &[]);
        let valuable = priority(&customer(&[("value", "12000")]), &policy, &calm, &[]);
        let upset = priority(&customer(&[]), &policy, &angry, &[Reason::LegalThreat]);
        assert!(vip > valuable && valuable > plain, "{vip} {valuable} {plain}");
        assert!(upset > plain + 20, "{upset} {plain}");
        assert!(
            priority(
                &customer(&[("tier", "vip"), ("value", "1e9")]),
                &policy,
                &angry,
                &[Reason::LegalThreat]
            ) <= 100
        );
    }

    /// A queue of workspace 1 for these topics.
    fn queue(id: i64, topics: &[&str]) -> Queue {
        Queue {
            id: QueueId(id),
            workspace_id: WorkspaceId(1),
            name: format!("q{id}"),
            description: String::new(),
            routing: QueueRouting {
                topics: topics.iter().map(|topic| topic.to_string()).collect(),
                ..QueueRouting::default()
            },
        }
    }

    #[test]
    fn queues_are_chosen_by_topic_then_general() {
        let queues = [queue(1, &["presale"]), queue(2, &[]), queue(3, &["refund", "complaint"])];
        let pick = |reasons: &[&str], topics: &[&str]| {
            let reasons: Vec<Reason> =
                reasons.iter().map(|reason| Reason::parse(reason).unwrap()).collect();
            let topics: Vec<String> = topics.iter().map(|topic| topic.to_string()).collect();
            choose_queue(&queues, &reasons, &topics, &[]).map(|queue| queue.id.0)
        };
        assert_eq!(pick(&["complaint"], &[]), Some(3));
        assert_eq!(pick(&[], &["Refund"]), Some(3));
        assert_eq!(pick(&[], &["presale"]), Some(1));
        assert_eq!(pick(&["asks_for_human"], &["shipping"]), Some(2));
        assert_eq!(choose_queue(&[], &[], &[], &[]).map(|queue| queue.id), None);
    }

    /// The queue follows what the hand-off is about now: its reasons first, then the article
    /// the newest message was matched to, and only then an earlier message's article.
    #[test]
    fn the_current_problem_outranks_an_earlier_topic() {
        // Listed first, as in the demo, so that queue order alone would pick pre-sales.
        let (presale, after_sales, disputes, general) = (1, 2, 3, 4);
        let queues = [
            queue(presale, &["售前", "presale"]),
            queue(after_sales, &["售后", "after-sales"]),
            queue(disputes, &["complaint", "legal_threat", "anger"]),
            queue(general, &[]),
        ];
        // (earlier message, newest message, the newest message's article topics, the earlier
        // message's article topics, the queue)
        type Case =
            (&'static str, &'static str, &'static [&'static str], &'static [&'static str], i64);
        let cases: [Case; 10] = [
            ("你们发货要多久？", "我要投诉！你们太差劲了，必须退款！", &[], &["售前"], disputes),
            (
                "how long does shipping take?",
                "I want to file a complaint, this is unacceptable. Refund me now!",
                &[],
                &["presale"],
                disputes,
            ),
            // A reason names a queue: it outranks the current article's tags too.
            ("发货要多久", "再不处理我就找律师起诉你们", &["售后"], &["售前"], disputes),
            (
                "how long does shipping take?",
                "I will sue you and report this to the regulator",
                &["after-sales"],
                &["presale"],
                disputes,
            ),
            // The reasons name no queue: the current article's tags win over the earlier's.
            ("发货要多久", "转人工", &["退货", "售后"], &["售前"], after_sales),
            (
                "how long does shipping take?",
                "I want to talk to a real person",
                &["returns", "After-Sales"],
                &["presale"],
                after_sales,
            ),
            // Nothing current names a queue: the earlier topic is still the conversation's.
            ("发货要多久", "转人工", &["物流"], &["售前"], presale),
            (
                "how long does shipping take?",
                "I want to talk to a real person",
                &[],
                &["presale"],
                presale,
            ),
            // Nothing names a queue: the general one.
            ("你好", "转人工", &["物流"], &["运费"], general),
            ("hello", "I want to talk to a real person", &[], &[], general),
        ];
        for (earlier_text, text, current, earlier, wanted) in cases {
            let decision = decide_on(&[earlier_text, text], &["answer"], None);
            assert_eq!(decision.outcome, EscalationOutcome::HandOff, "{text}: {decision:?}");
            let current: Vec<String> = current.iter().map(|topic| topic.to_string()).collect();
            let earlier: Vec<String> = earlier.iter().map(|topic| topic.to_string()).collect();
            let chosen = choose_queue(&queues, &decision.reasons, &current, &earlier);
            assert_eq!(
                chosen.map(|queue| queue.id.0),
                Some(wanted),
                "{earlier_text} / {text} ({:?}, {current:?}, {earlier:?})",
                decision.reasons
            );
        }
    }

    #[test]
    fn summaries_keep_the_customers_problem_and_mask_personal_data() {
        let turns = turns(&[
            "你好",
            "我上周买的耳机坏了，订单号 2024112300123，联系电话 13812345678。",
            "转人工",
            "我要求退款，不然就投诉到12315！",
        ]);
        let summary = summarize(&turns, 120);
        assert!(summary.contains("耳机坏了"), "{summary}");
        assert!(summary.contains("退款"), "{summary}");
        assert!(!summary.contains("13812345678"), "{summary}");
        assert!(!summary.starts_with("你好"), "{summary}");
        assert!(summary.chars().count() <= 120);
        let english =
            summarize(&self::turns(&["hi", "My parcel never arrived. I want a refund now!"]), 280);
        assert_eq!(english, "My parcel never arrived. I want a refund now!");
    }

    #[test]
    fn entities_are_found_once_and_personal_ones_masked() {
        let turns = turns(&["订单 2024112300123 的手机号是 13812345678", "还是订单 2024112300123"]);
        let found = entities(&turns);
        let kinds: Vec<&str> = found.iter().map(|entity| entity.kind.as_str()).collect();
        assert_eq!(kinds.iter().filter(|kind| **kind == "order_number").count(), 1, "{found:?}");
        let phone = found.iter().find(|entity| entity.kind != "order_number").unwrap();
        assert!(!phone.value.contains("12345678"), "{phone:?}");
        assert!(found.iter().any(|entity| entity.value == "2024112300123"));
    }
}
