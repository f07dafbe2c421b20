//! Text analysis for Chinese and English, shared by the answer engine and the message signals:
//! Unicode normalisation, language detection, word segmentation (jieba for Chinese, Snowball
//! stemming for English), stop-words, the hashed features the engine learns from, and what a
//! customer message shows ([`signals`] for reason flags and personal data, [`sentiment`] for
//! sentiment and emotion).
//!
//! Numbers and order-like tokens (`20241123001`, `a-1234`) are kept whole: in support
//! conversations they carry meaning.

use std::collections::HashSet;
use std::sync::OnceLock;

use jieba_rs::Jieba;
use rust_stemmers::{Algorithm, Stemmer};
use unicode_normalization::UnicodeNormalization;

pub mod sentiment;
pub mod signals;

pub use sentiment::{Analysis, Emotion, analyze};

/// A language Tandem analyses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }
}

/// Digit runs at least this long are identifiers rather than quantities.
const LONG_NUMBER: usize = 5;

/// Replaces every run of [`LONG_NUMBER`] or more digits by a single `0`.
fn mask_long_numbers(text: &str) -> String {
    let mut masked = String::with_capacity(text.len());
    let mut digits = String::new();
    let flush = |digits: &mut String, masked: &mut String| {
        if digits.len() >= LONG_NUMBER {
            masked.push('0');
        } else {
            masked.push_str(digits);
        }
        digits.clear();
    };
    for character in text.chars() {
        if character.is_ascii_digit() {
            digits.push(character);
        } else {
            flush(&mut digits, &mut masked);
            masked.push(character);
        }
    }
    flush(&mut digits, &mut masked);
    masked
}

/// Whether `c` is a CJK ideograph (Chinese character).
pub fn is_han(c: char) -> bool {
    matches!(c, '\u{4e00}'..='\u{9fff}' | '\u{3400}'..='\u{4dbf}' | '\u{f900}'..='\u{faff}' | '\u{20000}'..='\u{2a6df}')
}

/// NFKC (full-width letters, digits and punctuation become their ASCII forms), lower case,
/// traditional Chinese characters folded to simplified ones (customers from Hong Kong and Taiwan
/// ask the same knowledge base), and runs of white space collapsed to one space.
pub fn normalize(text: &str) -> String {
    let mut normalized = String::with_capacity(text.len());
    let mut pending_space = false;
    for character in text.nfkc().flat_map(char::to_lowercase) {
        if character.is_whitespace() || character.is_control() {
            pending_space = !normalized.is_empty();
            continue;
        }
        if pending_space {
            normalized.push(' ');
            pending_space = false;
        }
        normalized.push(character);
    }
    if normalized.chars().any(is_han) { fast2s::convert(&normalized) } else { normalized }
}

/// The language of a text, if it has any letters. A Chinese character carries about as much as
/// a short English word, so a few of them among English words still make the text Chinese.
pub fn detect_language(text: &str) -> Option<Lang> {
    let (mut han, mut latin) = (0usize, 0usize);
    for character in text.chars() {
        if is_han(character) {
            han += 1;
        } else if character.is_ascii_alphabetic() {
            latin += 1;
        }
    }
    if han > 0 && han * 5 >= latin {
        Some(Lang::Zh)
    } else if latin > 0 {
        Some(Lang::En)
    } else {
        None
    }
}

/// Segments and normalises words. Building one loads jieba's dictionary (a few hundred
/// milliseconds); use [`analyzer`] for the shared instance.
pub struct Analyzer {
    jieba: Jieba,
    stemmer: Stemmer,
}

impl std::fmt::Debug for Analyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Analyzer")
    }
}

impl Default for Analyzer {
    fn default() -> Self {
        Analyzer::new()
    }
}

/// The process-wide analyzer, built on first use.
pub fn analyzer() -> &'static Analyzer {
    static ANALYZER: OnceLock<Analyzer> = OnceLock::new();
    ANALYZER.get_or_init(Analyzer::new)
}

/// What a stretch of normalised text is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Run {
    Han,
    Word,
    Other,
}

fn run_of(character: char) -> Run {
    if is_han(character) {
        Run::Han
    } else if character.is_alphanumeric() || character == '\'' {
        Run::Word
    } else {
        Run::Other
    }
}

/// Splits normalised text into runs of Chinese characters and of letters/digits.
fn runs(text: &str) -> impl Iterator<Item = (Run, &str)> {
    let mut rest = text;
    std::iter::from_fn(move || {
        loop {
            let first = rest.chars().next()?;
            let kind = run_of(first);
            let end = rest
                .char_indices()
                .find(|(_, character)| run_of(*character) != kind)
                .map_or(rest.len(), |(index, _)| index);
            let (run, tail) = rest.split_at(end);
            rest = tail;
            if kind != Run::Other {
                return Some((kind, run));
            }
        }
    })
}

/// The business's own words (product names, brand and plan names) that segmentation keeps
/// whole: to a customer "天猫精灵" is one thing, not 天猫 + 精灵. Each engine holds its
/// workspace's dictionary rather than adding words to the shared segmenter, so one workspace's
/// words never change another's segmentation, and a removed word is gone at the next build.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dictionary {
    /// Normalised words made only of Chinese characters, matched inside runs of them.
    han: HashSet<String>,
    /// The longest of those, in characters.
    longest: usize,
    /// Every other normalised word or phrase ("airpods pro", "小米14"), found whole.
    phrases: Vec<String>,
}

impl Dictionary {
    pub fn new<'a>(words: impl IntoIterator<Item = &'a str>) -> Dictionary {
        let mut dictionary = Dictionary::default();
        for word in words {
            let word = normalize(word);
            let length = word.chars().count();
            if length < 2 {
                continue;
            }
            if word.chars().all(is_han) {
                dictionary.longest = dictionary.longest.max(length);
                dictionary.han.insert(word);
            } else if !dictionary.phrases.contains(&word) {
                dictionary.phrases.push(word);
            }
        }
        dictionary
    }

    pub fn is_empty(&self) -> bool {
        self.han.is_empty() && self.phrases.is_empty()
    }

    /// The dictionary's phrases found in normalised text, each once. A phrase edge that is a
    /// letter or digit must not continue into a longer word ("pro" is not in "product").
    fn phrases_in<'a>(&'a self, normalized: &'a str) -> impl Iterator<Item = &'a String> {
        let continues = |character: Option<char>| {
            character.is_some_and(|character| character.is_ascii_alphanumeric())
        };
        self.phrases.iter().filter(move |phrase| {
            normalized.match_indices(phrase.as_str()).any(|(start, _)| {
                let end = start + phrase.len();
                let before = normalized[..start].chars().next_back();
                let after = normalized[end..].chars().next();
                let runs_on_before = continues(phrase.chars().next()) && continues(before);
                let runs_on_after = continues(phrase.chars().next_back()) && continues(after);
                !(runs_on_before || runs_on_after)
            })
        })
    }
}

impl Analyzer {
    pub fn new() -> Analyzer {
        Analyzer { jieba: Jieba::new(), stemmer: Stemmer::create(Algorithm::English) }
    }

    /// The words of normalised text: Chinese segmented by jieba, English stemmed, numbers kept
    /// whole. Function words are kept: "are you a bot" is all function words, and inverse
    /// document frequency already discounts words that say little.
    pub fn words(&self, normalized: &str) -> Vec<String> {
        self.words_with(normalized, &Dictionary::default())
    }

    /// Like [`Analyzer::words`], keeping the dictionary's words whole.
    pub fn words_with(&self, normalized: &str, dictionary: &Dictionary) -> Vec<String> {
        let mut words = Vec::new();
        for (kind, run) in runs(normalized) {
            match kind {
                Run::Han => self.cut_han(run, dictionary, &mut words),
                Run::Word => {
                    let word = run.trim_matches('\'');
                    if word.is_empty() {
                        continue;
                    }
                    if word.chars().any(|character| character.is_ascii_digit()) {
                        words.push(word.to_owned());
                    } else {
                        words.push(self.stemmer.stem(&word.replace('\'', "")).into_owned());
                    }
                }
                Run::Other => {}
            }
        }
        words.extend(dictionary.phrases_in(normalized).cloned());
        words
    }

    /// Segments a run of Chinese characters: the dictionary's words (longest first, left to
    /// right) are kept whole, and jieba segments the stretches between them.
    fn cut_han(&self, run: &str, dictionary: &Dictionary, words: &mut Vec<String>) {
        if dictionary.han.is_empty() {
            return self.jieba_cut(run, words);
        }
        let mut bounds: Vec<usize> = run.char_indices().map(|(index, _)| index).collect();
        bounds.push(run.len());
        let characters = bounds.len() - 1;
        let (mut position, mut pending) = (0, 0);
        while position < characters {
            let longest = dictionary.longest.min(characters - position);
            let word = (2..=longest)
                .rev()
                .map(|length| (length, &run[bounds[position]..bounds[position + length]]))
                .find(|(_, candidate)| dictionary.han.contains(*candidate));
            match word {
                Some((length, word)) => {
                    self.jieba_cut(&run[bounds[pending]..bounds[position]], words);
                    words.push(word.to_owned());
                    position += length;
                    pending = position;
                }
                None => position += 1,
            }
        }
        self.jieba_cut(&run[bounds[pending]..], words);
    }

    fn jieba_cut(&self, stretch: &str, words: &mut Vec<String>) {
        for token in self.jieba.cut(stretch, true) {
            if !token.word.trim().is_empty() {
                words.push(token.word.to_owned());
            }
        }
    }

    /// Hashed features of a text for retrieval and the intent model: words, word pairs, and
    /// character n-grams (Chinese characters and character pairs; 2- to 5-grams elsewhere).
    /// Long numbers (order numbers, phone numbers) become one placeholder: what they are
    /// matters to the question, their digits do not.
    pub fn features(&self, text: &str) -> Vec<Feature> {
        self.features_with(text, &Dictionary::default())
    }

    /// Like [`Analyzer::features`], keeping the dictionary's words whole.
    pub fn features_with(&self, text: &str, dictionary: &Dictionary) -> Vec<Feature> {
        self.features_of_normalized(&normalize(text), dictionary)
    }

    /// Like [`Analyzer::features_with`], for text already passed through [`normalize`].
    pub fn features_of_normalized(
        &self,
        normalized: &str,
        dictionary: &Dictionary,
    ) -> Vec<Feature> {
        let normalized = mask_long_numbers(normalized);
        let words = self.words_with(&normalized, dictionary);
        let mut features = Vec::with_capacity(words.len() * 4 + normalized.len());
        for word in &words {
            features.push(Feature::new(Family::Word, word.as_bytes(), &[]));
        }
        for pair in words.windows(2) {
            features.push(Feature::new(Family::WordPair, pair[0].as_bytes(), pair[1].as_bytes()));
        }
        // Chinese characters and character pairs: robust to segmentation mistakes.
        for (_, run) in runs(&normalized).filter(|(kind, _)| *kind == Run::Han) {
            let characters: Vec<char> = run.chars().collect();
            let mut first = [0u8; 4];
            let mut second = [0u8; 4];
            for (index, character) in characters.iter().enumerate() {
                let character = character.encode_utf8(&mut first).as_bytes();
                features.push(Feature::new(Family::Chars, character, &[]));
                if let Some(next) = characters.get(index + 1) {
                    features.push(Feature::new(
                        Family::Chars,
                        character,
                        next.encode_utf8(&mut second).as_bytes(),
                    ));
                }
            }
        }
        // Character 2- to 5-grams of the non-Chinese text, across word boundaries: they forgive
        // typos and inflections, and catch short function-word phrases ("are you") that carry
        // intent.
        let latin: Vec<char> = normalized.chars().filter(|character| !is_han(*character)).collect();
        if latin.iter().any(|character| character.is_alphanumeric()) {
            let padded: Vec<char> =
                std::iter::once(' ').chain(latin).chain(std::iter::once(' ')).collect();
            // Each start's 2- to 5-grams share their prefix: hash it once and extend it.
            let mut buffer = [0u8; 4];
            for start in 0..padded.len() {
                let mut hash = Fnv::new(Family::Chars);
                let mut all_spaces = true;
                for (length, character) in padded[start..].iter().take(5).enumerate() {
                    hash.write(character.encode_utf8(&mut buffer).as_bytes());
                    all_spaces &= *character == ' ';
                    if length >= 1 && !all_spaces {
                        features.push(hash.finish(&[]));
                    }
                }
            }
        }
        features
    }
}

/// Which kind of evidence a feature is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Family {
    Word = 1,
    WordPair = 2,
    Chars = 3,
}

/// Hashes a [`Feature`] by its own value: it is already a hash, so hashing it again (as the
/// standard library's SipHash would) only costs time.
#[derive(Debug, Default, Clone, Copy)]
pub struct FeatureHasher(u64);

impl std::hash::Hasher for FeatureHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

/// A map keyed by features.
pub type FeatureMap<V> =
    std::collections::HashMap<Feature, V, std::hash::BuildHasherDefault<FeatureHasher>>;

/// A hashed feature (FNV-1a over its family and bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Feature(pub u64);

impl Feature {
    fn new(family: Family, first: &[u8], second: &[u8]) -> Feature {
        let mut hash = Fnv::new(family);
        hash.write(first);
        hash.finish(second)
    }
}

/// FNV-1a over a feature's family, its first part, a separator and its second part; kept open
/// so that features sharing a prefix (a character n-gram and its extensions) hash it once.
#[derive(Debug, Clone, Copy)]
struct Fnv(u64);

impl Fnv {
    const PRIME: u64 = 0x0100_0000_01b3;

    fn new(family: Family) -> Fnv {
        let mut hash = Fnv(0xcbf2_9ce4_8422_2325);
        hash.write(&[family as u8]);
        hash
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 ^ u64::from(*byte)).wrapping_mul(Fnv::PRIME);
        }
    }

    /// The feature of what was written so far followed by `second`.
    fn finish(mut self, second: &[u8]) -> Feature {
        self.write(&[0xff]);
        self.write(second);
        Feature(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_folds_width_case_and_space() {
        let cases = [
            ("ＡＢＣ　１２３", "abc 123"),
            ("Where IS my\n\n order?", "where is my order?"),
            ("订单号：２０２４１１２３００１", "订单号:20241123001"),
            ("  ", ""),
        ];
        for (input, expected) in cases {
            assert_eq!(normalize(input), expected, "{input:?}");
        }
    }

    #[test]
    fn language_detection() {
        let cases = [
            ("我的订单到哪了", Some(Lang::Zh)),
            ("订单 20241123001 的 tracking number", Some(Lang::Zh)),
            ("where is my order", Some(Lang::En)),
            ("I love 火锅 but where is my refund for the hotpot order", Some(Lang::En)),
            ("20241123001", None),
        ];
        for (input, expected) in cases {
            assert_eq!(detect_language(input), expected, "{input:?}");
        }
    }

    #[test]
    fn words_segment_chinese_stem_english_and_keep_numbers() {
        let analyzer = analyzer();
        assert_eq!(
            analyzer.words(&normalize("I was charged twice for my orders")),
            ["i", "was", "charg", "twice", "for", "my", "order"]
        );
        assert_eq!(
            analyzer.words(&normalize("我的订单 20241123001 到哪了？")),
            ["我", "的", "订单", "20241123001", "到", "哪", "了"]
        );
        let mixed = analyzer.words(&normalize("iPhone 15 退货政策"));
        assert!(
            mixed.contains(&"iphon".to_owned())
                && mixed.contains(&"15".to_owned())
                && mixed.contains(&"退货".to_owned()),
            "{mixed:?}"
        );
    }

    #[test]
    fn traditional_characters_fold_to_simplified() {
        assert_eq!(normalize("請問退貨運費誰付？"), "请问退货运费谁付?");
        assert_eq!(normalize("iPhone 15 保固多久"), "iphone 15 保固多久");
        let analyzer = analyzer();
        assert_eq!(analyzer.features("訂單到哪了"), analyzer.features("订单到哪了"));
    }

    #[test]
    fn dictionary_words_stay_whole() {
        let analyzer = analyzer();
        let text = normalize("我的天猫精灵连不上wifi了");
        let plain = analyzer.words(&text);
        assert!(!plain.contains(&"天猫精灵".to_owned()), "{plain:?}");
        let dictionary = Dictionary::new(["天貓精靈", "AirPods Pro", "x"]);
        let words = analyzer.words_with(&text, &dictionary);
        assert_eq!(words.iter().filter(|word| *word == "天猫精灵").count(), 1, "{words:?}");
        assert!(words.contains(&"连".to_owned()) || words.contains(&"连不上".to_owned()));
        // Phrases are found whole, not inside longer words.
        let words = analyzer.words_with(&normalize("my AirPods Pro won't pair"), &dictionary);
        assert!(words.contains(&"airpods pro".to_owned()), "{words:?}");
        let words = analyzer.words_with(&normalize("airpods professional"), &dictionary);
        assert!(!words.contains(&"airpods pro".to_owned()), "{words:?}");
        // Without dictionary words in the text, segmentation is unchanged.
        let other = normalize("退货要多久");
        assert_eq!(analyzer.words_with(&other, &dictionary), analyzer.words(&other));
    }

    #[test]
    fn long_numbers_are_masked_short_ones_kept() {
        assert_eq!(mask_long_numbers("订单 20241123001 到哪了"), "订单 0 到哪了");
        assert_eq!(
            mask_long_numbers("iphone 15 pro, 3 days, 13800138000"),
            "iphone 15 pro, 3 days, 0"
        );
        let analyzer = analyzer();
        assert_eq!(
            analyzer.features("order 20241123001 status"),
            analyzer.features("order 99999999 status")
        );
    }

    #[test]
    fn features_overlap_for_paraphrases_and_typos() {
        let analyzer = analyzer();
        let overlap = |left: &str, right: &str| {
            let left = analyzer.features(left);
            let right = analyzer.features(right);
            left.iter().filter(|feature| right.contains(feature)).count()
        };
        assert!(overlap("refund status", "refnud status") >= 3, "typos share character n-grams");
        assert!(overlap("怎么退货", "退货流程") >= 2);
        assert_eq!(overlap("退货", "shipping"), 0);
    }
}
