//! The trained models that `scripts/train-signals.py` writes to `models/`, embedded in the
//! binary and parsed once on first use:
//!
//! - `zh-sentiment.txt`: a logistic regression, positive vs negative, over the distinct character
//!   1- to 3-grams of a text's Chinese runs;
//! - `en-sentiment.txt`: a logistic regression, positive vs negative, over the distinct words and
//!   pairs of adjacent words of a text, trained on GoEmotions (Google Research, CC BY 4.0);
//! - `en-valence.txt`: English word and emoticon valences (-4..4).
//!
//! The regulated-topic model (`models/regulated.txt`, read by `crate::signals`' `regulated`
//! module) uses the same [`features`] and [`english_features`] together.
//!
//! The features here must stay exactly those of the script's `features()` and
//! `english_features()`; tests pin a few.

use std::collections::HashMap;
use std::sync::OnceLock;

use rust_stemmers::{Algorithm, Stemmer};

use crate::is_han;

const CHINESE_MODEL: &str = include_str!("../../models/zh-sentiment.txt");
const ENGLISH_SENTIMENT_MODEL: &str = include_str!("../../models/en-sentiment.txt");
const ENGLISH_MODEL: &str = include_str!("../../models/en-valence.txt");

/// The longest character n-gram the Chinese model uses.
const MAX_NGRAM: usize = 3;

/// A logistic regression, positive vs negative, over distinct string features.
pub(super) struct LinearModel {
    weights: HashMap<&'static str, f32>,
    intercept: f32,
}

/// The Chinese sentiment model: over character n-grams ([`features`]).
pub(super) struct ChineseModel(LinearModel);

/// The English sentiment model: over words and word pairs ([`english_features`]).
pub(super) struct EnglishSentiment(LinearModel);

pub(super) fn chinese() -> &'static ChineseModel {
    static MODEL: OnceLock<ChineseModel> = OnceLock::new();
    MODEL.get_or_init(|| ChineseModel(LinearModel::parse(CHINESE_MODEL)))
}

pub(super) fn english_sentiment() -> &'static EnglishSentiment {
    static MODEL: OnceLock<EnglishSentiment> = OnceLock::new();
    MODEL.get_or_init(|| EnglishSentiment(LinearModel::parse(ENGLISH_SENTIMENT_MODEL)))
}

impl LinearModel {
    fn parse(text: &'static str) -> LinearModel {
        let mut scale = 1.0f32;
        let mut intercept = 0.0f32;
        let mut weights = HashMap::new();
        for line in text.lines().filter(|line| !line.starts_with('#') && !line.is_empty()) {
            // A weight line has a tab (an English feature may start "scale " or "intercept ").
            if let Some((gram, weight)) = line.split_once('\t') {
                if let Ok(weight) = weight.parse::<f32>() {
                    weights.insert(gram, weight);
                }
            } else if let Some(value) = line.strip_prefix("scale ") {
                scale = value.parse().unwrap_or(1.0);
            } else if let Some(value) = line.strip_prefix("intercept ") {
                intercept = value.parse().unwrap_or(0.0);
            }
        }
        for weight in weights.values_mut() {
            *weight /= scale;
        }
        LinearModel { weights, intercept: intercept / scale }
    }

    /// The log-odds of these features (each counted once); zero when there are none.
    fn logit<S: AsRef<str> + Ord>(&self, mut grams: Vec<S>) -> f32 {
        if grams.is_empty() {
            return 0.0;
        }
        grams.sort_unstable();
        grams.dedup();
        self.intercept
            + grams.iter().filter_map(|gram| self.weights.get(gram.as_ref())).sum::<f32>()
    }
}

impl ChineseModel {
    /// The log-odds that normalised text is positive rather than negative, from its Chinese
    /// characters alone; zero when it has none.
    pub(super) fn logit(&self, normalized: &str) -> f32 {
        self.0.logit(features(normalized))
    }
}

impl EnglishSentiment {
    /// The log-odds that normalised text is positive rather than negative, from its English
    /// words alone; zero when it has none.
    pub(super) fn logit(&self, normalized: &str) -> f32 {
        self.0.logit(english_features(normalized))
    }
}

/// The words of normalised text: maximal runs of ASCII letters, digits and apostrophes, the
/// apostrophes trimmed from both ends ([`super::analyze`] has read a right single quotation mark
/// as one already).
fn english_words(normalized: &str) -> Vec<&str> {
    normalized
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '\''))
        .map(|word| word.trim_matches('\''))
        .filter(|word| !word.is_empty())
        .collect()
}

/// Every word of normalised text and every pair of adjacent words ("not good"), with repeats.
pub(crate) fn english_features(normalized: &str) -> Vec<String> {
    let words = english_words(normalized);
    let mut grams: Vec<String> = words.iter().map(|word| word.to_string()).collect();
    grams.extend(words.windows(2).map(|pair| format!("{} {}", pair[0], pair[1])));
    grams
}

/// Every character 1- to 3-gram inside the runs of Chinese characters of normalised text, with
/// repeats.
pub(crate) fn features(normalized: &str) -> Vec<&str> {
    let mut grams = Vec::new();
    let mut bounds: Vec<usize> = Vec::new();
    let mut flush = |bounds: &mut Vec<usize>, end: usize| {
        if bounds.is_empty() {
            return;
        }
        bounds.push(end);
        let characters = bounds.len() - 1;
        for length in 1..=MAX_NGRAM.min(characters) {
            for start in 0..=characters - length {
                grams.push(&normalized[bounds[start]..bounds[start + length]]);
            }
        }
        bounds.clear();
    };
    for (index, character) in normalized.char_indices() {
        if is_han(character) {
            bounds.push(index);
        } else {
            flush(&mut bounds, index);
        }
    }
    flush(&mut bounds, normalized.len());
    grams
}

/// English valences, looked up by word and, failing that, by the word's stem.
pub(super) struct EnglishModel {
    tokens: HashMap<&'static str, f32>,
    stems: HashMap<String, f32>,
    stemmer: Stemmer,
}

pub(super) fn english() -> &'static EnglishModel {
    static MODEL: OnceLock<EnglishModel> = OnceLock::new();
    MODEL.get_or_init(|| EnglishModel::parse(ENGLISH_MODEL))
}

impl EnglishModel {
    fn parse(text: &'static str) -> EnglishModel {
        let stemmer = Stemmer::create(Algorithm::English);
        let mut tokens = HashMap::new();
        for line in text.lines().filter(|line| !line.starts_with('#')) {
            if let Some((token, tenths)) = line.split_once('\t')
                && let Ok(tenths) = tenths.parse::<f32>()
            {
                tokens.insert(token, tenths / 10.0);
            }
        }
        // Inflections of a word share its mean valence.
        let mut sums: HashMap<String, (f32, f32)> = HashMap::new();
        for (token, valence) in &tokens {
            if token.chars().all(|character| character.is_ascii_alphabetic())
                && let Some(stem) = inflection_stem(&stemmer, token)
            {
                let entry = sums.entry(stem).or_default();
                entry.0 += valence;
                entry.1 += 1.0;
            }
        }
        let stems = sums.into_iter().map(|(stem, (sum, count))| (stem, sum / count)).collect();
        EnglishModel { tokens, stems, stemmer }
    }

    /// A token's valence as written (emoticons included).
    pub(super) fn token(&self, token: &str) -> Option<f32> {
        self.tokens.get(token).copied()
    }

    /// The stem of an English word that is the stem plus an inflection ("loved", "waits",
    /// "annoying"), or `None` for other words ("openness" is not a form of "open").
    pub(super) fn stem(&self, word: &str) -> Option<String> {
        inflection_stem(&self.stemmer, word)
    }

    /// The valence of words with this stem.
    pub(super) fn by_stem(&self, stem: &str) -> Option<f32> {
        self.stems.get(stem).copied()
    }
}

/// What may follow a stem for a word to be one of its inflections.
const INFLECTIONS: &[&str] = &["", "s", "es", "e", "ed", "d", "ing", "ly", "er", "est", "y"];

fn inflection_stem(stemmer: &Stemmer, word: &str) -> Option<String> {
    let stem = stemmer.stem(word);
    // The stemmer rewrites a final y to i ("happy" -> "happi"): compare without it.
    let root = stem.strip_suffix('i').unwrap_or(&stem);
    let rest = word.strip_prefix(root)?;
    let rest = if root.len() < stem.len() { rest.get(1..)? } else { rest };
    INFLECTIONS.contains(&rest).then(|| stem.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_match_the_training_script() {
        // `python3 scripts/train-signals.py --features '我的订单到哪了? 不是很满意!ok 好'`
        let normalized = crate::normalize("我的订单到哪了? 不是很满意!ok 好");
        let mut grams = features(&normalized);
        grams.sort_unstable();
        grams.dedup();
        let expected = "不 不是 不是很 了 到 到哪 到哪了 单 单到 单到哪 哪 哪了 好 很 很满 很满意 \
                        意 我 我的 我的订 是 是很 是很满 满 满意 的 的订 的订单 订 订单 订单到";
        assert_eq!(grams.join(" "), expected);
    }

    #[test]
    fn english_features_match_the_training_script() {
        // `python3 scripts/train-signals.py --english-features "I don’t think it's GOOD, 'not' great!! 2x"`
        let normalized = crate::normalize("I don\u{2019}t think it's GOOD, 'not' great!! 2x")
            .replace('\u{2019}', "'");
        let mut grams = english_features(&normalized);
        grams.sort_unstable();
        grams.dedup();
        let expected = "2x | don't | don't think | good | good not | great | great 2x | i | i don't | \
                        it's | it's good | not | not great | think | think it's";
        assert_eq!(grams.join(" | "), expected);
    }

    #[test]
    fn models_load() {
        let chinese = chinese();
        assert!(chinese.0.weights.len() > 10_000);
        assert!(chinese.logit(&crate::normalize("非常满意，好评")) > 1.0);
        assert!(chinese.logit(&crate::normalize("太差了，很失望")) < -1.0);
        assert_eq!(chinese.logit("no chinese here"), 0.0);
        let sentiment = english_sentiment();
        assert!(sentiment.0.weights.len() > 5_000);
        assert!(sentiment.logit(&crate::normalize("Thank you so much, this is great")) > 1.0);
        assert!(sentiment.logit(&crate::normalize("This is awful, I hate it")) < -1.0);
        assert_eq!(sentiment.logit("没有英文"), 0.0);
        let english = english();
        assert!(english.token("great").is_some_and(|valence| valence > 2.0));
        assert!(english.token("horrible").is_some_and(|valence| valence < -2.0));
        let stem = english.stem("cheated").unwrap();
        assert!(english.by_stem(&stem).is_some_and(|valence| valence < 0.0));
        assert!(english.by_stem(&english.stem("loves").unwrap()).is_some_and(|v| v > 2.0));
        assert_eq!(english.stem("openness"), None);
        assert_eq!(english.stem("happily").as_deref(), Some("happili"));
    }
}
