//! The built-in answer engine: given a customer's question and the published knowledge
//! articles, pick the article that answers it, ask which of two it is, or abstain.
//!
//! Two kinds of evidence are fused:
//! - **retrieval**: TF-IDF cosine similarity between the question and every question variant,
//!   title and answer of every article (an inverted index over hashed word, word-pair and
//!   character n-gram features from `tandem-text`), scored per article by its best match;
//! - **an intent model**: multinomial logistic regression over the same features, trained on
//!   the question variants and titles, used when the articles have enough variants to learn
//!   from. With one or two variants per article the retrieval evidence carries the decision.
//!
//! The fused score is a confidence in `[0, 1]`; the decision compares it with a threshold and
//! the gap to the runner-up. What a score means depends on the knowledge base, so each gets its
//! own threshold, learnt from its own articles ([`calibrate`]).

pub mod calibrate;
pub mod eval;
pub mod formats;
pub mod history;
pub mod learn;
mod model;
pub mod trends;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use tandem_text::{Dictionary, Feature, FeatureMap, analyzer, normalize};

use crate::model::{LinearModel, SparseVector};

/// A knowledge article as the engine sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Article {
    pub id: String,
    pub title: String,
    /// The ways customers ask for this article.
    #[serde(default)]
    pub questions: Vec<String>,
    pub answer: String,
}

/// What the engine decided for one question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Answer with the best article.
    Answer,
    /// The two best articles are too close: ask which one is meant.
    Clarify,
    /// Nothing is good enough: do not answer from knowledge.
    Abstain,
}

impl Outcome {
    /// The outcome's name in records and the API (as serialised).
    pub fn as_str(self) -> &'static str {
        tandem_domain::TurnOutcome::from(self).as_str()
    }
}

impl From<Outcome> for tandem_domain::TurnOutcome {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Answer => tandem_domain::TurnOutcome::Answer,
            Outcome::Clarify => tandem_domain::TurnOutcome::Clarify,
            Outcome::Abstain => tandem_domain::TurnOutcome::Abstain,
        }
    }
}

/// One scored article.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Candidate {
    /// Index into the engine's articles.
    pub article: usize,
    /// The fused confidence.
    pub score: f32,
    /// Best TF-IDF cosine similarity with one of the article's texts.
    pub retrieval: f32,
    /// The intent model's probability, when there is a model.
    pub intent: Option<f32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    pub outcome: Outcome,
    /// The best candidates, best first (at most [`CANDIDATES`]).
    pub candidates: Vec<Candidate>,
    pub threshold: f32,
}

impl Decision {
    /// The article to answer with, when the outcome is `Answer`.
    pub fn answer(&self) -> Option<usize> {
        (self.outcome == Outcome::Answer).then(|| self.candidates[0].article)
    }
}

/// How many candidates a decision reports.
pub const CANDIDATES: usize = 5;

/// Decision settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DecisionPolicy {
    /// Below this confidence the engine abstains.
    pub threshold: f32,
    /// When the runner-up is within this fraction of the best's score (and above the
    /// threshold), clarify: a relative margin, so that two strong candidates 0.50 and 0.47
    /// apart are as close as 0.20 and 0.19.
    pub clarify_margin: f32,
}

impl Default for DecisionPolicy {
    fn default() -> Self {
        DecisionPolicy { threshold: DEFAULT_THRESHOLD, clarify_margin: 0.08 }
    }
}

/// The confidence threshold of a knowledge base too small to calibrate (see `tandem eval
/// --sweep`).
pub const DEFAULT_THRESHOLD: f32 = 0.35;

/// Features found in more than this fraction of all texts are skipped by retrieval: with their
/// low inverse document frequency they barely move a similarity, yet their long posting lists
/// cost most of the time.
const COMMON_FRACTION: f32 = 0.1;
/// Relative weight of the texts an article is found by.
const QUESTION_WEIGHT: f32 = 1.0;
const TITLE_WEIGHT: f32 = 1.0;
const ANSWER_WEIGHT: f32 = 0.7;
/// Articles need this many examples on average before an intent model is worth training.
const MIN_EXAMPLES_PER_ARTICLE: f32 = 3.0;
/// Above this many articles the model would be too large to be worth it; retrieval decides.
const MAX_MODEL_ARTICLES: usize = 2000;

/// A text of an article before indexing: its article, its weight, its counted features.
type Text = (u32, f32, Vec<(Feature, u32)>);

/// A text of an article, vectorised.
#[derive(Debug)]
struct Document {
    article: u32,
    weight: f32,
}

/// The engine over one set of articles. Build a new one when the articles change.
#[derive(Debug)]
pub struct Engine {
    articles: Vec<Article>,
    vocabulary: FeatureMap<u32>,
    idf: Vec<f32>,
    /// The inverse document frequency of a feature no text has.
    unseen_idf: f32,
    /// For each feature column, the documents containing it and the feature's weight there.
    postings: Vec<Vec<(u32, f32)>>,
    documents: Vec<Document>,
    /// Exact (normalised) question texts, for an instant certain match.
    exact: HashMap<String, u32>,
    model: Option<LinearModel>,
    /// The business's words that segmentation keeps whole.
    dictionary: Dictionary,
}

impl Engine {
    /// Indexes `articles` and, where they have enough question variants, trains the intent
    /// model.
    pub fn build(articles: Vec<Article>) -> Engine {
        Engine::build_with(articles, Dictionary::default())
    }

    /// Like [`Engine::build`], keeping the business's own words whole when segmenting.
    pub fn build_with(articles: Vec<Article>, dictionary: Dictionary) -> Engine {
        Engine::build_as(articles, dictionary, None)
    }

    /// Like [`Engine::build_with`]; `with_model` says whether to train the intent model
    /// (`None`: where the articles have enough variants), so that a calibration fold with a
    /// variant held out scores the way the whole knowledge base does.
    pub(crate) fn build_as(
        articles: Vec<Article>,
        dictionary: Dictionary,
        with_model: Option<bool>,
    ) -> Engine {
        let analyzer = analyzer();
        // Normalised once: for the exact-match table and for the features.
        let features =
            |normalized: &str| counted(analyzer.features_of_normalized(normalized, &dictionary));
        // Feature extraction (segmentation, hashing, counting) is most of the work: spread it
        // over the cores, then merge in article order so the result does not depend on the
        // split.
        let analyze = |chunk: &[Article], offset: usize| {
            let mut texts: Vec<Text> = Vec::new();
            let mut exact: Vec<(String, u32)> = Vec::new();
            for (position, article) in chunk.iter().enumerate() {
                let index = (offset + position) as u32;
                for (text, weight) in std::iter::once((&article.title, TITLE_WEIGHT))
                    .chain(article.questions.iter().map(|question| (question, QUESTION_WEIGHT)))
                {
                    let normalized = normalize(text);
                    texts.push((index, weight, features(&normalized)));
                    exact.push((normalized, index));
                }
                if !article.answer.trim().is_empty() {
                    texts.push((index, ANSWER_WEIGHT, features(&normalize(&article.answer))));
                }
            }
            (texts, exact)
        };
        let parts = in_parallel(&articles, |chunk, offset| analyze(chunk, offset));
        let mut texts = Vec::new();
        let mut exact = HashMap::new();
        for (part_texts, part_exact) in parts {
            texts.extend(part_texts);
            for (text, index) in part_exact {
                exact.entry(text).or_insert(index);
            }
        }
        // Columns and document frequencies over all texts.
        let mut vocabulary: FeatureMap<u32> = FeatureMap::default();
        let mut document_frequency: Vec<u32> = Vec::new();
        for (_, _, counts) in &texts {
            for (feature, _) in counts {
                let next = vocabulary.len() as u32;
                let column = *vocabulary.entry(*feature).or_insert(next);
                if column as usize == document_frequency.len() {
                    document_frequency.push(0);
                }
                document_frequency[column as usize] += 1;
            }
        }
        // The reference questions count as documents too: a first knowledge base of a few
        // dozen texts cannot tell on its own that "什么时候" or "how do I" say little.
        let background = background();
        for features in background {
            for feature in features {
                if let Some(&column) = vocabulary.get(feature) {
                    document_frequency[column as usize] += 1;
                }
            }
        }
        let total = (texts.len() + background.len()) as f32;
        let idf: Vec<f32> = document_frequency
            .iter()
            .map(|&df| ((total + 1.0) / (df as f32 + 1.0)).ln() + 1.0)
            .collect();
        let unseen_idf = (total + 1.0).ln() + 1.0;
        let vectors: Vec<SparseVector> = in_parallel(&texts, |chunk, _| {
            chunk
                .iter()
                .map(|(_, _, counts)| vectorize_counts(counts, &vocabulary, &idf, unseen_idf))
                .collect::<Vec<_>>()
        })
        .into_iter()
        .flatten()
        .collect();
        let mut postings: Vec<Vec<(u32, f32)>> =
            document_frequency.iter().map(|&df| Vec::with_capacity(df as usize)).collect();
        let mut documents = Vec::with_capacity(texts.len());
        let mut examples = Vec::new();
        for (document, ((article, weight, _), vector)) in texts.iter().zip(vectors).enumerate() {
            for &(column, value) in &vector.entries {
                postings[column as usize].push((document as u32, value));
            }
            documents.push(Document { article: *article, weight: *weight });
            if *weight != ANSWER_WEIGHT {
                examples.push((vector, *article));
            }
        }
        let enough_examples =
            examples.len() as f32 >= MIN_EXAMPLES_PER_ARTICLE * articles.len() as f32;
        let with_model = with_model
            .unwrap_or(articles.len() <= MAX_MODEL_ARTICLES && enough_examples)
            && articles.len() >= 2;
        let model =
            with_model.then(|| LinearModel::train(&examples, articles.len(), &document_frequency));
        Engine {
            articles,
            vocabulary,
            idf,
            unseen_idf,
            postings,
            documents,
            exact,
            model,
            dictionary,
        }
    }

    pub fn articles(&self) -> &[Article] {
        &self.articles
    }

    /// The business's words this engine keeps whole.
    pub fn dictionary(&self) -> &Dictionary {
        &self.dictionary
    }

    /// Whether an intent model was trained.
    pub fn has_model(&self) -> bool {
        self.model.is_some()
    }

    /// Scores the articles for `question`, best first. A question that is word for word one
    /// of an article's is that article, with certainty.
    pub fn candidates(&self, question: &str) -> Vec<Candidate> {
        self.candidates_where(question, &|_| true)
    }

    /// Like [`Engine::candidates`], over the articles `allowed` accepts (by index) only.
    pub fn candidates_where(
        &self,
        question: &str,
        allowed: &dyn Fn(usize) -> bool,
    ) -> Vec<Candidate> {
        if let Some(&article) =
            self.exact.get(&normalize(question)).filter(|article| allowed(**article as usize))
        {
            let intent = self.has_model().then_some(1.0);
            return vec![Candidate {
                article: article as usize,
                score: 1.0,
                retrieval: 1.0,
                intent,
            }];
        }
        self.ranked_where(question, allowed)
    }

    /// Scores every article for `question` by the evidence, best first, even when the question
    /// is word for word an article's (to find the runners-up).
    pub fn ranked(&self, question: &str) -> Vec<Candidate> {
        self.ranked_where(question, &|_| true)
    }

    /// Like [`Engine::ranked`], over the articles `allowed` accepts (by index) only.
    pub fn ranked_where(&self, question: &str, allowed: &dyn Fn(usize) -> bool) -> Vec<Candidate> {
        let features = analyzer().features_with(question, &self.dictionary);
        let query = vectorize(&features, &self.vocabulary, &self.idf, self.unseen_idf);
        if query.entries.is_empty() {
            return Vec::new();
        }
        // Retrieval: accumulate cosine similarity per document in a dense array, keep the best
        // per article.
        let mut similarity = vec![0f32; self.documents.len()];
        let mut touched: Vec<u32> = Vec::new();
        let limit = ((self.documents.len() as f32 * COMMON_FRACTION) as usize).max(200);
        for &(column, value) in &query.entries {
            let postings = &self.postings[column as usize];
            if postings.len() > limit {
                continue;
            }
            for &(document, weight) in postings {
                let slot = &mut similarity[document as usize];
                if *slot == 0.0 {
                    touched.push(document);
                }
                *slot += value * weight;
            }
        }
        let mut retrieval: HashMap<u32, f32> = HashMap::with_capacity(touched.len().min(4096));
        for document in touched {
            let score = similarity[document as usize] * self.documents[document as usize].weight;
            let best = retrieval.entry(self.documents[document as usize].article).or_insert(0.0);
            if score > *best {
                *best = score;
            }
        }
        let mut candidates: Vec<Candidate> = match &self.model {
            None => retrieval
                .into_iter()
                .map(|(article, similarity)| Candidate {
                    article: article as usize,
                    score: similarity,
                    retrieval: similarity,
                    intent: None,
                })
                .collect(),
            Some(model) => {
                let probabilities = model.probabilities(&query);
                let mut ranked: Vec<usize> = (0..probabilities.len()).collect();
                ranked.sort_unstable_by(|left, right| {
                    probabilities[*right].total_cmp(&probabilities[*left])
                });
                let mut chosen: Vec<u32> = ranked
                    .iter()
                    .filter(|index| allowed(**index))
                    .take(CANDIDATES * 2)
                    .map(|&index| index as u32)
                    .collect();
                let mut by_retrieval: Vec<(&u32, &f32)> = retrieval.iter().collect();
                by_retrieval.sort_unstable_by(|left, right| right.1.total_cmp(left.1));
                chosen.extend(
                    by_retrieval
                        .iter()
                        .filter(|(article, _)| allowed(**article as usize))
                        .take(CANDIDATES * 2)
                        .map(|(article, _)| **article),
                );
                chosen.sort_unstable();
                chosen.dedup();
                chosen
                    .into_iter()
                    .map(|article| {
                        let similarity = retrieval.get(&article).copied().unwrap_or(0.0);
                        let probability = probabilities[article as usize];
                        Candidate {
                            article: article as usize,
                            score: fuse(probability, similarity),
                            retrieval: similarity,
                            intent: Some(probability),
                        }
                    })
                    .collect()
            }
        };
        candidates.retain(|candidate| allowed(candidate.article));
        candidates.sort_unstable_by(|left, right| {
            right.score.total_cmp(&left.score).then(left.article.cmp(&right.article))
        });
        candidates.truncate(CANDIDATES);
        candidates
    }

    /// Decides how to answer `question`.
    pub fn decide(&self, question: &str, policy: DecisionPolicy) -> Decision {
        Decision::from_candidates(self.candidates(question), policy)
    }
}

impl Decision {
    /// Applies `policy` to scored candidates (best first).
    pub fn from_candidates(candidates: Vec<Candidate>, policy: DecisionPolicy) -> Decision {
        let outcome = match candidates.as_slice() {
            [] => Outcome::Abstain,
            [best, ..] if best.score < policy.threshold => Outcome::Abstain,
            [best, second, ..]
                if second.score >= policy.threshold
                    && best.score - second.score < policy.clarify_margin * best.score =>
            {
                Outcome::Clarify
            }
            _ => Outcome::Answer,
        };
        Decision { outcome, candidates, threshold: policy.threshold }
    }
}

/// The distinct features of each reference question (`calibrate::reference_questions`),
/// counted into every engine's document frequencies.
fn background() -> &'static [Vec<Feature>] {
    static BACKGROUND: std::sync::OnceLock<Vec<Vec<Feature>>> = std::sync::OnceLock::new();
    BACKGROUND.get_or_init(|| {
        calibrate::reference_questions()
            .map(|question| {
                let mut features = analyzer().features(question);
                features.sort_unstable();
                features.dedup();
                features
            })
            .collect()
    })
}

/// The intent model's probability and the retrieval similarity as one confidence: their
/// geometric mean, so that both must agree. The model knows which intent is likeliest but not
/// whether the question belongs to any (its probabilities always sum to one, and on a small
/// knowledge base it is confident about anything); retrieval knows whether the question
/// resembles a known one at all.
fn fuse(probability: f32, similarity: f32) -> f32 {
    (probability * similarity).sqrt()
}

/// A sublinear TF-IDF vector of `features` over known columns, L2-normalised over *all* its
/// features: words the knowledge base has never seen count toward the norm (at the highest
/// inverse document frequency), so that a question sharing one common character with an
/// article is not mistaken for a close match.
fn vectorize(
    features: &[Feature],
    vocabulary: &FeatureMap<u32>,
    idf: &[f32],
    unseen_idf: f32,
) -> SparseVector {
    vectorize_counts(&counted(features.to_vec()), vocabulary, idf, unseen_idf)
}

/// Each distinct feature with its count, sorted (counting by sorting: cheaper than a hash map
/// for a few hundred features).
fn counted(mut features: Vec<Feature>) -> Vec<(Feature, u32)> {
    features.sort_unstable();
    features.chunk_by(|left, right| left == right).map(|run| (run[0], run.len() as u32)).collect()
}

fn vectorize_counts(
    counts: &[(Feature, u32)],
    vocabulary: &FeatureMap<u32>,
    idf: &[f32],
    unseen_idf: f32,
) -> SparseVector {
    let weight = |count: u32, idf: f32| (1.0 + (count as f32).ln()) * idf;
    let mut entries: Vec<(u32, f32)> = Vec::with_capacity(counts.len());
    let mut unseen_mass = 0.0;
    for &(feature, count) in counts {
        match vocabulary.get(&feature) {
            Some(&column) => entries.push((column, weight(count, idf[column as usize]))),
            None => unseen_mass += weight(count, unseen_idf).powi(2),
        }
    }
    let norm = (entries.iter().map(|(_, value)| value * value).sum::<f32>() + unseen_mass).sqrt();
    if norm > 0.0 {
        for entry in &mut entries {
            entry.1 /= norm;
        }
    }
    entries.sort_unstable_by_key(|(column, _)| *column);
    SparseVector { entries }
}

/// Runs `work` over chunks of `items` on all cores; results come back in order.
fn in_parallel<T: Sync, R: Send>(items: &[T], work: impl Fn(&[T], usize) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |count| count.get()).min(8);
    let chunk_size = items.len().div_ceil(threads).max(256);
    std::thread::scope(|scope| {
        let work = &work;
        let handles: Vec<_> = items
            .chunks(chunk_size)
            .enumerate()
            .map(|(number, chunk)| scope.spawn(move || work(chunk, number * chunk_size)))
            .collect();
        handles.into_iter().map(|handle| handle.join().expect("a build thread panicked")).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn article(id: &str, title: &str, questions: &[&str], answer: &str) -> Article {
        Article {
            id: id.into(),
            title: title.into(),
            questions: questions.iter().map(|question| (*question).to_owned()).collect(),
            answer: answer.into(),
        }
    }

    fn shop() -> Engine {
        Engine::build(vec![
            article(
                "returns",
                "退货政策",
                &["怎么退货", "可以退货吗", "七天无理由退货", "退货要运费吗"],
                "签收后 7 天内可无理由退货，商品需保持完好。",
            ),
            article(
                "shipping",
                "发货时间",
                &["什么时候发货", "多久能发货", "下单后几天发货", "还没发货"],
                "下单后 48 小时内发货。",
            ),
            article(
                "invoice",
                "开发票",
                &["怎么开发票", "能开专票吗", "发票抬头怎么改", "电子发票在哪下载"],
                "在订单详情页申请电子发票。",
            ),
            article(
                "refund-en",
                "Refund policy",
                &[
                    "how do i get a refund",
                    "refund my order",
                    "can i get my money back",
                    "return and refund",
                ],
                "Refunds go back to the original payment within 3 working days.",
            ),
            article(
                "track-en",
                "Track an order",
                &[
                    "where is my order",
                    "track my package",
                    "my parcel has not arrived",
                    "delivery status",
                ],
                "Open My orders and tap Track.",
            ),
        ])
    }

    #[test]
    fn answers_paraphrases_in_both_languages() {
        let engine = shop();
        let cases = [
            ("请问怎样退货？", "returns"),
            ("退货的话运费谁出", "returns"),
            ("我的包裹什么时候能发出", "shipping"),
            ("发票怎么申请", "invoice"),
            ("I want my money back", "refund-en"),
            ("wheres my parcel", "track-en"),
            ("refnud my ordr please", "refund-en"),
            ("ＷＨＥＲＥ　ＩＳ　ＭＹ　ＯＲＤＥＲ", "track-en"),
            ("請問怎樣退貨？", "returns"),
            ("訂單 20241123001 還沒發貨", "shipping"),
            ("order 20241123001 where is it", "track-en"),
            ("我想 refund 我的 money back", "refund-en"),
        ];
        for (question, expected) in cases {
            let decision = engine.decide(question, DecisionPolicy::default());
            let best = decision
                .candidates
                .first()
                .map(|candidate| engine.articles()[candidate.article].id.as_str());
            assert_eq!(best, Some(expected), "{question}: {decision:?}");
        }
    }

    #[test]
    fn abstains_on_questions_the_knowledge_does_not_cover() {
        let engine = shop();
        for question in
            ["你们公司的股票代码是多少", "what is the meaning of life", "asdfgh", "？？？"]
        {
            let decision = engine.decide(question, DecisionPolicy::default());
            assert_eq!(decision.outcome, Outcome::Abstain, "{question}: {decision:?}");
        }
    }

    #[test]
    fn exact_questions_are_certain() {
        let engine = shop();
        let decision = engine.decide("怎么开发票", DecisionPolicy::default());
        assert_eq!(decision.outcome, Outcome::Answer);
        assert_eq!(decision.candidates[0].score, 1.0);
    }

    #[test]
    fn close_candidates_ask_for_clarification() {
        let engine = Engine::build(vec![
            article("a", "会员积分", &["积分怎么用"], "积分可抵现。"),
            article("b", "会员积分过期", &["积分会过期吗"], "积分在次年年底过期。"),
        ]);
        let policy = DecisionPolicy { threshold: 0.1, clarify_margin: 0.5 };
        assert_eq!(
            engine.decide("会员积分", policy).outcome,
            Outcome::Answer,
            "an exact title is certain"
        );
        assert_eq!(engine.decide("积分", policy).outcome, Outcome::Clarify);
    }

    #[test]
    fn the_business_dictionary_keeps_product_names_whole() {
        let articles = vec![
            article("speaker", "天猫精灵连不上网", &["天猫精灵没反应"], "长按音量键重新配网。"),
            article("cat", "猫粮精选推荐", &["精灵猫粮怎么样"], "推荐鱼肉口味。"),
        ];
        let question = "精灵连不上";
        let with = Engine::build_with(articles.clone(), Dictionary::new(["天猫精灵"]));
        let without = Engine::build(articles);
        // With the product name as one word, its characters are no longer a separate
        // match for "精灵" the way they are without the dictionary.
        let score = |engine: &Engine, id: &str| {
            engine
                .ranked(question)
                .iter()
                .find(|candidate| engine.articles()[candidate.article].id == id)
                .map_or(0.0, |candidate| candidate.retrieval)
        };
        assert!(score(&with, "speaker") > 0.0);
        assert_ne!(score(&with, "cat"), score(&without, "cat"));
        let best = with.ranked("我家天猫精灵坏了")[0].article;
        assert_eq!(with.articles()[best].id, "speaker");
    }

    #[test]
    fn one_variant_articles_are_found_by_retrieval() {
        let engine = Engine::build(vec![
            article("1", "开初婚未育证明怎么弄", &[], ""),
            article("2", "这种图片是用什么软件做的", &[], ""),
            article("3", "信用卡逾期会影响征信吗", &[], ""),
        ]);
        assert!(!engine.has_model());
        let best = engine.candidates("初婚未育情况证明怎么开")[0].article;
        assert_eq!(engine.articles()[best].id, "1");
    }
}
