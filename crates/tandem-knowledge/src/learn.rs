//! What the knowledge should learn from the questions people answered: new wordings of the
//! articles it has (variants) and the topics it has no article for (gaps).
//!
//! A question people answered teaches in one of two ways:
//! - the agent's reply is an article's answer (it says what the answer says: their texts match
//!   closely and clearly better than any other article's), yet the engine would not have
//!   answered the customer's wording with that article: the wording becomes a **variant** of
//!   the article;
//! - the agent's reply is no article's answer and the engine would not have answered at all:
//!   the question is part of a **gap**. Gap questions are clustered by what they say (words,
//!   word pairs and character n-grams, so Chinese and English alike), and every cluster of
//!   [`MIN_GAP`] or more conversations is proposed as a new article with a label (its most
//!   telling words), representative questions and the reply agents gave most.
//!
//! Nothing is applied here: `tandem learn` writes the proposals, and the console's
//! Knowledge → Suggestions page lists the same proposals for people to accept or reject.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use tandem_text::{analyzer, normalize, signals::mask_personal_data};

use crate::history::{self, Author, DayCount, HistoryConversation};
use crate::{Article, DecisionPolicy, Engine};

/// A reply is an article's answer when their texts' similarity reaches this...
const REPLY_MATCH: f32 = 0.5;
/// ...and beats the next article's by this much.
const REPLY_MARGIN: f32 = 0.1;
/// A gap needs questions from at least this many conversations.
pub const MIN_GAP: usize = 2;
/// A question joins a cluster whose centre it resembles at least this much (cosine).
const CLUSTER_SIMILARITY: f32 = 0.3;
/// Wordings longer than this (characters) are stories, not question variants.
const MAX_VARIANT_CHARS: usize = 200;
/// Representative questions shown per gap.
const REPRESENTATIVES: usize = 5;

/// A question people answered, with what they answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handled {
    pub conversation: String,
    /// The day the conversation was created (`YYYY-MM-DD`, as its `created_at` writes it, in
    /// the source's own offset), so a gap can say when it was asked about; `None` when
    /// `created_at` is not an RFC 3339 moment.
    pub date: Option<String>,
    pub question: String,
    pub reply: String,
}

/// The question of a conversation that people answered: of the customer's messages before the
/// first agent message, the one with the most words (not the "hello" before it), and the agent
/// messages that followed until the customer spoke again.
pub fn handled(conversation: &HistoryConversation) -> Option<Handled> {
    let messages = &conversation.messages;
    let first_agent = messages.iter().position(|message| message.author == Author::Agent)?;
    let question = messages[..first_agent]
        .iter()
        .filter(|message| message.author == Author::Customer)
        .map(|message| message.text.trim())
        .max_by_key(|text| analyzer().words(&normalize(text)).len())?;
    let reply: Vec<&str> = messages[first_agent..]
        .iter()
        .take_while(|message| message.author != Author::Customer)
        .filter(|message| message.author == Author::Agent)
        .map(|message| message.text.trim())
        .collect();
    Some(Handled {
        conversation: conversation.id.clone(),
        date: history::day_of(&conversation.created_at).map(str::to_owned),
        question: question.to_owned(),
        reply: reply.join("\n"),
    })
}

/// A customer's wording proposed as a new question variant of an article.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Variant {
    pub article: String,
    pub question: String,
    pub conversation_ids: Vec<String>,
}

impl Variant {
    /// Which suggestion this is, for remembering what people decided about it: the article
    /// and the wording as normalised.
    pub fn subject(&self) -> String {
        format!("{}:{}", self.article, normalize(&self.question))
    }
}

/// A topic customers asked about that no article covers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gap {
    /// Its most telling words, `发票 / 补开`.
    pub label: String,
    pub terms: Vec<String>,
    /// Representative questions, most typical first.
    pub questions: Vec<String>,
    pub count: usize,
    /// Its conversations per day of their creation, oldest day first (days without one left
    /// out), so people see whether a topic is growing. Conversations without a readable date
    /// count in `count` only.
    pub daily: Vec<DayCount>,
    pub conversation_ids: Vec<String>,
    /// The reply most like the other replies agents gave.
    pub suggested_answer: String,
}

/// How many of `conversations` were created on each day, oldest day first.
fn per_day(conversations: &[String], dates: &HashMap<&str, &str>) -> Vec<DayCount> {
    let mut days: BTreeMap<&str, usize> = BTreeMap::new();
    for conversation in conversations {
        if let Some(date) = dates.get(conversation.as_str()) {
            *days.entry(date).or_default() += 1;
        }
    }
    days.into_iter().map(|(date, count)| DayCount { date: date.to_owned(), count }).collect()
}

impl Gap {
    /// Which suggestion this is, for remembering what people decided about it: its label as
    /// normalised (a gap that grows keeps its label while its most telling words stay).
    pub fn subject(&self) -> String {
        normalize(&self.label)
    }
}

/// What `tandem learn` proposes.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Suggestions {
    pub variants: Vec<Variant>,
    pub gaps: Vec<Gap>,
}

/// Proposes variants and gaps from `handled` questions, for `engine`'s articles answered at
/// `policy`.
pub fn learn(engine: &Engine, policy: DecisionPolicy, handled: &[Handled]) -> Suggestions {
    let answers = answer_index(engine.articles());
    let mut variants: Vec<Variant> = Vec::new();
    let mut variant_at: HashMap<(usize, String), usize> = HashMap::new();
    let mut unanswered: Vec<&Handled> = Vec::new();
    for item in handled {
        let question = mask_personal_data(item.question.trim());
        if question.is_empty() {
            continue;
        }
        let answered = engine.decide(&question, policy).answer();
        match reply_article(&answers, &item.reply) {
            Some(article) if answered == Some(article) => {} // Already answered so.
            Some(article) => {
                if question.chars().count() > MAX_VARIANT_CHARS {
                    continue;
                }
                let key = (article, normalize(&question));
                let at = *variant_at.entry(key).or_insert_with(|| {
                    variants.push(Variant {
                        article: engine.articles()[article].id.clone(),
                        question: question.clone(),
                        conversation_ids: Vec::new(),
                    });
                    variants.len() - 1
                });
                variants[at].conversation_ids.push(item.conversation.clone());
            }
            None if answered.is_none() => unanswered.push(item),
            None => {} // The bot would answer, people said something else: not clear which.
        }
    }
    variants.sort_by(|left, right| {
        left.article
            .cmp(&right.article)
            .then(right.conversation_ids.len().cmp(&left.conversation_ids.len()))
    });
    Suggestions { variants, gaps: gaps(&unanswered) }
}

/// What the variants would change, measured on the questions people answered.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Effect {
    /// Questions whose reply says an article's answer: the ones with a known right article.
    pub questions: usize,
    /// Share of them the engine answers with that article now...
    pub before: f32,
    /// ...and with the proposed variants added.
    pub after: f32,
}

/// Conversations are split into this many folds for [`effect`].
const EFFECT_FOLDS: usize = 5;

/// Measures the proposed `variants` on the `handled` questions whose reply says an article.
/// A question is never measured against its own wording: the conversations are split into
/// folds, and each fold is answered by an engine given only the variants learnt from the
/// other folds.
pub fn effect(
    engine: &Engine,
    policy: DecisionPolicy,
    handled: &[Handled],
    variants: &[Variant],
) -> Effect {
    let answers = answer_index(engine.articles());
    let labelled: Vec<(usize, &Handled, usize)> = handled
        .iter()
        .enumerate()
        .filter_map(|(index, item)| {
            reply_article(&answers, &item.reply).map(|article| (index, item, article))
        })
        .collect();
    if labelled.is_empty() {
        return Effect { questions: 0, before: 0.0, after: 0.0 };
    }
    let right = |engine: &Engine, item: &Handled, article: usize| {
        let question = mask_personal_data(item.question.trim());
        engine
            .decide(&question, policy)
            .answer()
            .is_some_and(|answered| engine.articles()[answered].id == engine_id(&answers, article))
    };
    let before = labelled.iter().filter(|(_, item, article)| right(engine, item, *article)).count();
    let fold_of: HashMap<&str, usize> = handled
        .iter()
        .enumerate()
        .map(|(index, item)| (item.conversation.as_str(), index % EFFECT_FOLDS))
        .collect();
    let mut after = 0;
    for fold in 0..EFFECT_FOLDS {
        let measured: Vec<&(usize, &Handled, usize)> =
            labelled.iter().filter(|(index, _, _)| index % EFFECT_FOLDS == fold).collect();
        if measured.is_empty() {
            continue;
        }
        let mut articles = engine.articles().to_vec();
        for variant in variants {
            let learnt_elsewhere = variant
                .conversation_ids
                .iter()
                .any(|id| fold_of.get(id.as_str()).is_some_and(|other| *other != fold));
            if let Some(article) = articles.iter_mut().find(|article| article.id == variant.article)
                && learnt_elsewhere
            {
                article.questions.push(variant.question.clone());
            }
        }
        let fold_engine = Engine::build_with(articles, engine.dictionary().clone());
        after += measured
            .iter()
            .filter(|(_, item, article)| right(&fold_engine, item, *article))
            .count();
    }
    let share = |count: usize| count as f32 / labelled.len() as f32;
    Effect { questions: labelled.len(), before: share(before), after: share(after) }
}

/// The id of the `index`th article of the answer index (the same order as the engine's).
fn engine_id(answers: &Engine, index: usize) -> &str {
    &answers.articles()[index].id
}

/// The articles' answers, indexed for finding which one a reply says.
fn answer_index(articles: &[Article]) -> Engine {
    Engine::build(
        articles
            .iter()
            .map(|article| Article {
                id: article.id.clone(),
                title: String::new(),
                questions: vec![article.answer.clone()],
                answer: String::new(),
            })
            .collect(),
    )
}

/// The article whose answer `reply` says, if one clearly does.
fn reply_article(answers: &Engine, reply: &str) -> Option<usize> {
    if reply.trim().is_empty() {
        return None;
    }
    let ranked = answers.candidates(reply);
    let best = ranked.first()?;
    let second = ranked.get(1).map_or(0.0, |candidate| candidate.retrieval);
    (best.retrieval >= REPLY_MATCH && best.retrieval - second >= REPLY_MARGIN)
        .then_some(best.article)
}

/// A sparse unit vector over hashed features, sorted by feature.
pub(crate) type Vector = Vec<(u64, f32)>;

pub(crate) fn dot(left: &Vector, right: &Vector) -> f32 {
    let (mut i, mut j, mut sum) = (0, 0, 0.0);
    while i < left.len() && j < right.len() {
        match left[i].0.cmp(&right[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                sum += left[i].1 * right[j].1;
                i += 1;
                j += 1;
            }
        }
    }
    sum
}

pub(crate) fn unit(mut vector: Vector) -> Vector {
    let norm = vector.iter().map(|(_, value)| value * value).sum::<f32>().sqrt();
    if norm > 0.0 {
        for entry in &mut vector {
            entry.1 /= norm;
        }
    }
    vector
}

/// Sublinear TF-IDF unit vectors of `texts`, the inverse document frequency taken over them.
pub(crate) fn vectors(texts: &[&str]) -> Vec<Vector> {
    let counted: Vec<Vec<(u64, u32)>> = texts
        .iter()
        .map(|text| {
            let mut features: Vec<u64> =
                analyzer().features(text).into_iter().map(|feature| feature.0).collect();
            features.sort_unstable();
            features.chunk_by(|a, b| a == b).map(|run| (run[0], run.len() as u32)).collect()
        })
        .collect();
    let mut frequency: HashMap<u64, u32> = HashMap::new();
    for counts in &counted {
        for (feature, _) in counts {
            *frequency.entry(*feature).or_default() += 1;
        }
    }
    let total = texts.len() as f32;
    counted
        .into_iter()
        .map(|counts| {
            unit(
                counts
                    .into_iter()
                    .map(|(feature, count)| {
                        let idf = ((total + 1.0) / (frequency[&feature] as f32 + 1.0)).ln() + 1.0;
                        (feature, (1.0 + (count as f32).ln()) * idf)
                    })
                    .collect(),
            )
        })
        .collect()
}

/// The sum of `members`' vectors, as a unit vector.
fn centre(members: &[usize], vectors: &[Vector]) -> Vector {
    let mut sum: HashMap<u64, f32> = HashMap::new();
    for &member in members {
        for &(feature, value) in &vectors[member] {
            *sum.entry(feature).or_default() += value;
        }
    }
    let mut vector: Vector = sum.into_iter().collect();
    vector.sort_unstable_by_key(|(feature, _)| *feature);
    unit(vector)
}

/// Groups texts by what they say: each text, the ones with the most close neighbours first,
/// joins the cluster whose centre it is most like (at least [`CLUSTER_SIMILARITY`]) or starts
/// one; then every text is placed once more with the final centres, so that early choices made
/// against half-formed clusters are revised. Returns the clusters' members, largest first.
///
/// Written here rather than taken from a crate: the Rust clustering crates work on dense
/// matrices, and these are sparse vectors of hashed features with a few dozen entries each.
pub fn cluster(texts: &[&str]) -> Vec<Vec<usize>> {
    let vectors = vectors(texts);
    let mut neighbours = vec![0usize; texts.len()];
    for i in 0..texts.len() {
        for j in i + 1..texts.len() {
            if dot(&vectors[i], &vectors[j]) >= CLUSTER_SIMILARITY {
                neighbours[i] += 1;
                neighbours[j] += 1;
            }
        }
    }
    let mut order: Vec<usize> = (0..texts.len()).collect();
    order.sort_by_key(|&index| (std::cmp::Reverse(neighbours[index]), index));
    let mut members: Vec<Vec<usize>> = Vec::new();
    let mut centres: Vec<Vector> = Vec::new();
    let best = |centres: &[Vector], vector: &Vector| {
        centres
            .iter()
            .enumerate()
            .map(|(index, centre)| (index, dot(centre, vector)))
            .filter(|(_, similarity)| *similarity >= CLUSTER_SIMILARITY)
            .max_by(|left, right| left.1.total_cmp(&right.1))
            .map(|(index, _)| index)
    };
    for &index in &order {
        match best(&centres, &vectors[index]) {
            Some(cluster) => {
                members[cluster].push(index);
                centres[cluster] = centre(&members[cluster], &vectors);
            }
            None => {
                members.push(vec![index]);
                centres.push(vectors[index].clone());
            }
        }
    }
    let mut placed: Vec<Vec<usize>> = vec![Vec::new(); centres.len()];
    let mut alone: Vec<Vec<usize>> = Vec::new();
    for (index, vector) in vectors.iter().enumerate() {
        match best(&centres, vector) {
            Some(cluster) => placed[cluster].push(index),
            None => alone.push(vec![index]),
        }
    }
    placed.retain(|members| !members.is_empty());
    placed.extend(alone);
    placed.sort_by_key(|members| (std::cmp::Reverse(members.len()), members[0]));
    placed
}

fn gaps(unanswered: &[&Handled]) -> Vec<Gap> {
    let questions: Vec<String> =
        unanswered.iter().map(|item| mask_personal_data(item.question.trim())).collect();
    let texts: Vec<&str> = questions.iter().map(String::as_str).collect();
    let vectors = vectors(&texts);
    let document_terms: Vec<Vec<String>> = texts.iter().map(|text| terms_of(text)).collect();
    let mut term_frequency: HashMap<&str, usize> = HashMap::new();
    for terms in &document_terms {
        for term in terms {
            *term_frequency.entry(term).or_default() += 1;
        }
    }
    let dates: HashMap<&str, &str> = unanswered
        .iter()
        .filter_map(|item| Some((item.conversation.as_str(), item.date.as_deref()?)))
        .collect();
    let mut gaps = Vec::new();
    for members in cluster(&texts) {
        let mut conversations: Vec<String> =
            members.iter().map(|&member| unanswered[member].conversation.clone()).collect();
        conversations.sort();
        conversations.dedup();
        if conversations.len() < MIN_GAP {
            continue;
        }
        let middle = centre(&members, &vectors);
        let mut typical = members.clone();
        typical.sort_by(|&left, &right| {
            dot(&middle, &vectors[right]).total_cmp(&dot(&middle, &vectors[left]))
        });
        let mut representatives: Vec<String> = Vec::new();
        for &member in &typical {
            let question = &questions[member];
            if !representatives.iter().any(|kept| normalize(kept) == normalize(question)) {
                representatives.push(question.clone());
            }
            if representatives.len() == REPRESENTATIVES {
                break;
            }
        }
        let terms = telling_terms(&members, &document_terms, &term_frequency, texts.len());
        let replies: Vec<&str> =
            members.iter().map(|&member| unanswered[member].reply.as_str()).collect();
        gaps.push(Gap {
            label: terms.join(" / "),
            terms,
            questions: representatives,
            count: conversations.len(),
            daily: per_day(&conversations, &dates),
            conversation_ids: conversations,
            suggested_answer: mask_personal_data(most_typical(&replies)),
        });
    }
    gaps.sort_by(|left, right| right.count.cmp(&left.count).then(left.label.cmp(&right.label)));
    gaps
}

/// The reply most like all the others (the first of the most common, when they are equal).
fn most_typical<'a>(replies: &[&'a str]) -> &'a str {
    let vectors = vectors(replies);
    let similarity =
        |index: usize| -> f32 { vectors.iter().map(|other| dot(&vectors[index], other)).sum() };
    (0..replies.len())
        .filter(|&index| !replies[index].trim().is_empty())
        .max_by(|&left, &right| {
            similarity(left).total_cmp(&similarity(right)).then(right.cmp(&left))
        })
        .map_or("", |index| replies[index].trim())
}

/// Words a label can be made of: Chinese words of two or more characters, English words of
/// three or more letters that are not function words; each once.
pub(crate) fn terms_of(text: &str) -> Vec<String> {
    let normalized = normalize(text);
    let mut terms: Vec<String> = analyzer()
        .words(&normalized)
        .into_iter()
        .filter(|word| word.chars().all(tandem_text::is_han) && word.chars().count() >= 2)
        .filter(|word| !CHINESE_FUNCTION_WORDS.contains(&word.as_str()))
        .collect();
    terms.extend(
        normalized
            .split(|character: char| !character.is_ascii_alphanumeric() && character != '\'')
            .filter(|word| word.len() >= 3 && word.chars().all(|c| c.is_ascii_alphabetic()))
            .filter(|word| !ENGLISH_FUNCTION_WORDS.contains(word))
            .map(str::to_owned),
    );
    terms.sort();
    terms.dedup();
    terms
}

/// The two words most particular to a cluster: frequent in it (in at least a quarter of its
/// questions), rare in the others.
pub(crate) fn telling_terms(
    members: &[usize],
    document_terms: &[Vec<String>],
    term_frequency: &HashMap<&str, usize>,
    documents: usize,
) -> Vec<String> {
    let mut inside: HashMap<&str, usize> = HashMap::new();
    for &member in members {
        for term in &document_terms[member] {
            *inside.entry(term).or_default() += 1;
        }
    }
    let least = members.len().div_ceil(4).max(1);
    let mut scored: Vec<(&str, f32)> = inside
        .into_iter()
        .filter(|(_, count)| *count >= least)
        .map(|(term, count)| {
            let rarity = ((documents as f32 + 1.0) / (term_frequency[term] as f32 + 1.0)).ln();
            (term, count as f32 / members.len() as f32 * (rarity + 0.1))
        })
        .collect();
    scored.sort_by(|left, right| right.1.total_cmp(&left.1).then(left.0.cmp(right.0)));
    scored.into_iter().take(2).map(|(term, _)| term.to_owned()).collect()
}

/// Words that say nothing about a topic.
const ENGLISH_FUNCTION_WORDS: &[&str] = &[
    "about", "after", "again", "all", "also", "and", "any", "are", "been", "but", "can", "cannot",
    "could", "did", "does", "doing", "done", "for", "from", "get", "got", "had", "has", "have",
    "hello", "help", "her", "here", "him", "his", "how", "i'm", "into", "its", "just", "know",
    "like", "made", "make", "may", "more", "much", "need", "not", "now", "off", "one", "only",
    "our", "out", "please", "should", "some", "still", "than", "thank", "thanks", "that", "the",
    "their", "them", "then", "there", "they", "this", "too", "use", "very", "want", "was", "way",
    "were", "what", "when", "where", "which", "who", "why", "will", "with", "would", "yet", "you",
    "your",
];
const CHINESE_FUNCTION_WORDS: &[&str] = &[
    "请问",
    "你们",
    "我们",
    "怎么",
    "什么",
    "为什么",
    "可以",
    "一下",
    "这个",
    "那个",
    "是不是",
    "有没有",
    "能不能",
    "如何",
    "现在",
    "已经",
    "还是",
    "就是",
    "不是",
    "一个",
    "时候",
    "怎么办",
    "谢谢",
    "你好",
    "您好",
    "麻烦",
    "帮忙",
    "知道",
    "需要",
    "问题",
    "这样",
    "的话",
    "吗",
    "还有",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history;

    fn article(id: &str, questions: &[&str], answer: &str) -> Article {
        Article {
            id: id.into(),
            title: questions[0].into(),
            questions: questions.iter().map(|question| (*question).to_owned()).collect(),
            answer: answer.into(),
        }
    }

    fn handled(conversation: &str, question: &str, reply: &str) -> Handled {
        Handled {
            conversation: conversation.into(),
            date: None,
            question: question.into(),
            reply: reply.into(),
        }
    }

    #[test]
    fn the_question_is_the_customers_longest_message_before_the_agent() {
        let line = r#"{"id": "c1", "created_at": "2026-09-03T08:12:44Z", "messages": [
            {"author": "customer", "text": "在吗"},
            {"author": "customer", "text": "我的退款什么时候到账"},
            {"author": "bot", "text": "正在为您转接人工客服。"},
            {"author": "agent", "text": "您好"},
            {"author": "agent", "text": "退款 3 个工作日内原路退回。"},
            {"author": "customer", "text": "好的谢谢"},
            {"author": "agent", "text": "不客气"}]}"#
            .replace('\n', " ");
        let conversation = &history::parse(&line).unwrap()[0];
        let found = super::handled(conversation).unwrap();
        assert_eq!(found.question, "我的退款什么时候到账");
        assert_eq!(found.reply, "您好\n退款 3 个工作日内原路退回。");
        let bot_only = r#"{"id": "c2", "created_at": "2026-09-03T08:12:44Z", "messages": [
            {"author": "customer", "text": "hi"}, {"author": "bot", "text": "hello"}]}"#
            .replace('\n', " ");
        assert_eq!(super::handled(&history::parse(&bot_only).unwrap()[0]), None);
    }

    #[test]
    fn a_reply_that_says_an_answer_makes_the_wording_a_variant() {
        let engine = Engine::build(vec![
            article(
                "refund-time",
                &["退款多久到账", "什么时候退款"],
                "退款在 3 个工作日内原路退回。",
            ),
            article("invoice", &["怎么开发票", "发票在哪里下载"], "在订单详情页申请电子发票。"),
            article("shipping", &["什么时候发货", "多久发货"], "下单后 48 小时内发货。"),
        ]);
        let policy = DecisionPolicy { threshold: 0.6, ..DecisionPolicy::default() };
        let suggestions = learn(
            &engine,
            policy,
            &[
                handled("a", "钱啥时候能回到我卡上", "您好，退款在 3 个工作日内原路退回的。"),
                handled("b", "钱啥时候能回到我卡上", "退款在3个工作日内原路退回。"),
                // Answered as the bot would: nothing to learn.
                handled("c", "怎么开发票", "在订单详情页申请电子发票。"),
            ],
        );
        assert_eq!(
            suggestions.variants,
            vec![Variant {
                article: "refund-time".into(),
                question: "钱啥时候能回到我卡上".into(),
                conversation_ids: vec!["a".into(), "b".into()],
            }]
        );
        assert!(suggestions.gaps.is_empty());
    }

    #[test]
    fn unanswered_questions_cluster_into_labelled_gaps_in_both_languages() {
        let engine = Engine::build(vec![
            article("shipping", &["什么时候发货", "多久发货"], "下单后 48 小时内发货。"),
            article("returns", &["how do i return an item", "return policy"], "Within 30 days."),
        ]);
        let policy = DecisionPolicy::default();
        let questions = [
            ("g1", "可以开增值税专用发票吗", "可以，请在订单页填写公司税号申请专票。"),
            ("g2", "能开增值税专用发票吗 公司报销要用", "可以开专票，订单页填写税号即可。"),
            ("g3", "我要开增值税专票", "请在订单页填写公司税号申请专票。"),
            ("e1", "do you ship to canada", "Yes, we ship to Canada in 5 to 8 days."),
            ("e2", "can you ship my order to canada", "We ship to Canada, 5 to 8 days."),
            ("e3", "shipping to canada possible?", "Yes, we ship to Canada in 5 to 8 days."),
            ("x1", "你们老板叫什么名字", "不方便透露。"),
        ];
        let handled: Vec<Handled> =
            questions.iter().map(|(id, question, reply)| handled(id, question, reply)).collect();
        let suggestions = learn(&engine, policy, &handled);
        assert!(suggestions.variants.is_empty(), "{:?}", suggestions.variants);
        let ids: Vec<Vec<String>> =
            suggestions.gaps.iter().map(|gap| gap.conversation_ids.clone()).collect();
        assert_eq!(
            ids,
            vec![vec!["e1", "e2", "e3"], vec!["g1", "g2", "g3"]]
                .into_iter()
                .map(|ids| ids.into_iter().map(String::from).collect::<Vec<_>>())
                .collect::<Vec<_>>(),
            "{:#?}",
            suggestions.gaps
        );
        let canada = &suggestions.gaps[0];
        assert!(canada.terms.contains(&"canada".to_owned()), "{canada:?}");
        assert_eq!(canada.suggested_answer, "Yes, we ship to Canada in 5 to 8 days.");
        let invoice = &suggestions.gaps[1];
        assert!(invoice.terms.contains(&"增值税".to_owned()), "{invoice:?}");
    }

    #[test]
    fn a_gap_counts_its_conversations_per_day_they_were_created() {
        let engine = Engine::build(vec![article(
            "shipping",
            &["什么时候发货", "多久发货"],
            "下单后 48 小时内发货。",
        )]);
        let line = |id: &str, created_at: &str, question: &str| {
            serde_json::json!({"id": id, "created_at": created_at, "messages": [
                {"author": "customer", "text": question},
                {"author": "agent", "text": "可以，请在订单页填写公司税号申请专票。"}]})
            .to_string()
        };
        let lines = [
            line("g1", "2026-09-24T09:00:00Z", "可以开增值税专用发票吗"),
            // Late on the 24th where it was written, though the 24th ended in UTC already.
            line("g2", "2026-09-24T23:30:00+08:00", "能开增值税专用发票吗 公司报销要用"),
            line("g3", "2026-09-26T08:00:00Z", "我要开增值税专票"),
            line("g4", "not a date", "增值税专用发票怎么开"),
        ];
        let conversations = history::parse(&lines.join("\n")).unwrap();
        let handled: Vec<Handled> = conversations.iter().filter_map(super::handled).collect();
        assert_eq!(handled[1].date.as_deref(), Some("2026-09-24"));
        assert_eq!(handled[3].date, None);
        let suggestions = learn(&engine, DecisionPolicy::default(), &handled);
        let gap = &suggestions.gaps[0];
        assert_eq!(gap.count, 4, "{gap:?}");
        assert_eq!(
            gap.daily,
            vec![
                DayCount { date: "2026-09-24".to_owned(), count: 2 },
                DayCount { date: "2026-09-26".to_owned(), count: 1 },
            ],
            "the undated conversation counts in the total only"
        );
        let written = serde_json::to_value(gap).unwrap();
        assert_eq!(
            written["daily"],
            serde_json::json!([
                {"date": "2026-09-24", "count": 2},
                {"date": "2026-09-26", "count": 1}
            ])
        );
        for field in ["label", "questions", "count", "conversation_ids", "suggested_answer"] {
            assert!(written.get(field).is_some(), "{field} stays in the contract: {written}");
        }
    }
}
