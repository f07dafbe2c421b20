//! The trained models that `scripts/train-signals.py` writes to `models/`, embedded in the
//! binary and parsed once on first use:
//!
//! - `zh-sentiment.txt`: a logistic regression, positive vs negative, over the distinct character
//!   1- to 3-grams of a text's Chinese runs;
//! - `en-valence.txt`: English word and emoticon valences (-4..4).
//!
//! The features here must stay exactly those of the script's `features()`; a test pins a few.

use std::collections::HashMap;
use std::sync::OnceLock;

use rust_stemmers::{Algorithm, Stemmer};

use crate::is_han;

const CHINESE_MODEL: &str = include_str!("../../models/zh-sentiment.txt");
const ENGLISH_MODEL: &str = include_str!("../../models/en-valence.txt");

/// The longest character n-gram the Chinese model uses.
const MAX_NGRAM: usize = 3;

/// The Chinese sentiment model.
pub(super) struct ChineseModel {
    weights: HashMap<&'static str, f32>,
    intercept: f32,
}

pub(super) fn chinese() -> &'static ChineseModel {
    static MODEL: OnceLock<ChineseModel> = OnceLock::new();
    MODEL.get_or_init(|| ChineseModel::parse(CHINESE_MODEL))
}

impl ChineseModel {
    fn parse(text: &'static str) -> ChineseModel {
        let mut scale = 1.0f32;
        let mut intercept = 0.0f32;
        let mut weights = HashMap::new();
        for line in text.lines().filter(|line| !line.starts_with('#') && !line.is_empty()) {
            if let Some(value) = line.strip_prefix("scale ") {
                scale = value.parse().unwrap_or(1.0);
            } else if let Some(value) = line.strip_prefix("intercept ") {
                intercept = value.parse().unwrap_or(0.0);
            } else if let Some((gram, weight)) = line.split_once('\t')
                && let Ok(weight) = weight.parse::<f32>()
            {
                weights.insert(gram, weight);
            }
        }
        for weight in weights.values_mut() {
            *weight /= scale;
        }
        ChineseModel { weights, intercept: intercept / scale }
    }

    /// The log-odds that normalised text is positive rather than negative, from its Chinese
    /// characters alone; zero when it has none.
    pub(super) fn logit(&self, normalized: &str) -> f32 {
        let mut grams = features(normalized);
        if grams.is_empty() {
            return 0.0;
        }
        grams.sort_unstable();
        grams.dedup();
        self.intercept + grams.iter().filter_map(|gram| self.weights.get(gram)).sum::<f32>()
    }
}

/// Every character 1- to 3-gram inside the runs of Chinese characters of normalised text, with
/// repeats.
pub(super) fn features(normalized: &str) -> Vec<&str> {
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
    fn models_load() {
        let chinese = chinese();
        assert!(chinese.weights.len() > 10_000);
        assert!(chinese.logit(&crate::normalize("非常满意，好评")) > 1.0);
        assert!(chinese.logit(&crate::normalize("太差了，很失望")) < -1.0);
        assert_eq!(chinese.logit("no chinese here"), 0.0);
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
