//! How a customer feels in a message: its sentiment (-1 to 1), its emotion (anger, frustration,
//! anxiety, sadness, joy or neutral), and the reasons it raises (see [`crate::signals`]), for
//! routing and for the agent console.
//!
//! Two kinds of evidence are added up. The trained models (`models/`, written by
//! `scripts/train-signals.py`) give a polarity to the Chinese character n-grams, and the English
//! words and word pairs, of any text (the English valences of VADER's lexicon too); the word lists written for Tandem ([`lexicon`]) say which words show which
//! emotion, and how negation ("不是很满意", "not happy at all"), intensity ("非常", "!!!"),
//! contrast ("但是", "but") and shouting change what follows. A message that asks something and
//! holds no evaluative word stays near zero whatever the review-trained model thinks of its
//! topic: "我的订单到哪了" is a question, not a complaint.
//!
//! The models and lists are parsed once, on first use.

mod lexicon;
pub(crate) mod model;

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::signals::Reason;
use crate::{Lang, detect_language, is_han};

/// The emotion a message shows most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Emotion {
    Anger,
    Frustration,
    Anxiety,
    Sadness,
    Joy,
    Neutral,
}

impl Emotion {
    pub const ALL: [Emotion; 6] = [
        Emotion::Anger,
        Emotion::Frustration,
        Emotion::Anxiety,
        Emotion::Sadness,
        Emotion::Joy,
        Emotion::Neutral,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Emotion::Anger => "anger",
            Emotion::Frustration => "frustration",
            Emotion::Anxiety => "anxiety",
            Emotion::Sadness => "sadness",
            Emotion::Joy => "joy",
            Emotion::Neutral => "neutral",
        }
    }

    /// The emotion with this code ([`Emotion::as_str`]).
    pub fn parse(code: &str) -> Option<Emotion> {
        Emotion::ALL.into_iter().find(|emotion| emotion.as_str() == code)
    }
}

impl std::fmt::Display for Emotion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What [`analyze`] finds in a message.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    pub language: Option<Lang>,
    /// -1 (very negative) to 1 (very positive); 0 when nothing evaluative is said.
    pub sentiment: f32,
    pub emotion: Emotion,
    /// 0 to 1: how clearly the message shows [`Analysis::emotion`].
    pub emotion_confidence: f32,
    /// [`crate::signals::reasons`], plus [`Reason::Anger`] when the emotion is anger.
    pub reasons: Vec<Reason>,
}

/// Analyses a customer message.
pub fn analyze(text: &str) -> Analysis {
    let mut normalized = crate::normalize(text);
    if normalized.contains('\u{2019}') {
        normalized = normalized.replace('\u{2019}', "'");
    }
    let mut reasons = crate::signals::reasons_of_normalized(text, &normalized);
    let feeling = feel(text, &normalized, &reasons);
    if feeling.emotion == Emotion::Anger {
        reasons.push(Reason::Anger);
        reasons.sort_by_key(|reason| Reason::ALL.iter().position(|other| other == reason));
    }
    Analysis {
        language: detect_language(text),
        sentiment: feeling.sentiment,
        emotion: feeling.emotion,
        emotion_confidence: feeling.confidence,
        reasons,
    }
}

/// The emotions a cue can show, in [`Emotion::ALL`] order (neutral is what is left).
const EMOTIONS: usize = 5;

/// How a cue changes what follows it in its clause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Negation {
    None,
    /// "不", "not": a positive word turns clearly negative, a negative one mildly positive.
    Partial,
    /// "一点都不", "not ... at all".
    Full,
}

/// One entry of the [`lexicon`].
#[derive(Debug, Clone, Copy)]
struct Cue {
    valence: f32,
    emotions: [f32; EMOTIONS],
    negation: Negation,
    /// Multiplies the next evaluative word ("非常", "a bit").
    multiplier: Option<f32>,
    /// What follows outweighs what came before ("但是", "but").
    contrast: bool,
    /// Makes a nearby negation full ("at all").
    at_all: bool,
}

impl Cue {
    fn is_evaluative(&self) -> bool {
        self.valence != 0.0 || self.emotions.iter().any(|weight| *weight > 0.0)
    }

    /// Parses the fields of a lexicon line (see [`lexicon`]).
    fn parse(fields: &str) -> Option<Cue> {
        let mut cue = Cue {
            valence: 0.0,
            emotions: [0.0; EMOTIONS],
            negation: Negation::None,
            multiplier: None,
            contrast: false,
            at_all: false,
        };
        for field in fields.split_whitespace() {
            match field {
                "neg" => cue.negation = Negation::Partial,
                "neg!" => cue.negation = Negation::Full,
                "but" => cue.contrast = true,
                "atall" => cue.at_all = true,
                _ => {
                    if let Some((name, weight)) = field.split_once(':') {
                        let emotion = Emotion::parse(name).filter(|e| *e != Emotion::Neutral)?;
                        cue.emotions[emotion as usize] = weight.parse().ok()?;
                    } else if let Some(factor) = field.strip_prefix('x') {
                        cue.multiplier = Some(factor.parse().ok()?);
                    } else {
                        cue.valence = field.parse().ok()?;
                    }
                }
            }
        }
        Some(cue)
    }
}

/// The parsed [`lexicon`].
struct Lexicon {
    /// Chinese phrases, matched longest first.
    chinese: HashMap<String, Cue>,
    chinese_longest: usize,
    /// English words and phrases (words joined by one space), emoji and emoticons.
    english: HashMap<&'static str, Cue>,
    english_longest: usize,
    /// Entries ending in `*`: a word starting with the prefix.
    english_prefixes: Vec<(&'static str, Cue)>,
    /// Single English words by their stem, for inflections the list does not spell out.
    english_stems: HashMap<String, Cue>,
    /// The longest emoticon or emoji entry, in characters.
    symbol_longest: usize,
}

fn lexicon() -> &'static Lexicon {
    static LEXICON: OnceLock<Lexicon> = OnceLock::new();
    LEXICON.get_or_init(Lexicon::load)
}

/// The phrase and fields of each entry of a [`lexicon`] list, or the line that does not parse.
fn entries(list: &'static str) -> impl Iterator<Item = Result<(&'static str, Cue), &'static str>> {
    list.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with('#')).map(
        |line| {
            let (phrase, fields) = line.split_once(" =").ok_or(line)?;
            let phrase = phrase.trim();
            if phrase.is_empty() {
                return Err(line);
            }
            Cue::parse(fields).map(|cue| (phrase, cue)).ok_or(line)
        },
    )
}

fn is_word_char(character: char) -> bool {
    character.is_ascii_alphanumeric() || character == '\''
}

impl Lexicon {
    fn load() -> Lexicon {
        let english_model = model::english();
        let mut lexicon = Lexicon {
            chinese: HashMap::new(),
            chinese_longest: 1,
            english: HashMap::new(),
            english_longest: 1,
            english_prefixes: Vec::new(),
            english_stems: HashMap::new(),
            symbol_longest: 1,
        };
        // The lists are constants checked by a test: a line that does not parse is skipped.
        for (phrase, cue) in entries(lexicon::CHINESE).flatten() {
            // Normalised as messages are: folding to simplified characters changes a few that
            // are simplified already (呵 becomes 嗬).
            let phrase = crate::normalize(phrase);
            lexicon.chinese_longest = lexicon.chinese_longest.max(phrase.chars().count());
            lexicon.chinese.insert(phrase, cue);
        }
        for (phrase, cue) in entries(lexicon::ENGLISH).flatten() {
            if let Some(prefix) = phrase.strip_suffix('*') {
                lexicon.english_prefixes.push((prefix, cue));
                continue;
            }
            if phrase.chars().all(is_word_char) {
                if let Some(stem) = english_model.stem(phrase) {
                    lexicon.english_stems.entry(stem).or_insert(cue);
                }
            } else if !phrase.contains(' ') {
                lexicon.symbol_longest = lexicon.symbol_longest.max(phrase.chars().count());
            }
            lexicon.english_longest = lexicon.english_longest.max(phrase.split(' ').count());
            lexicon.english.insert(phrase, cue);
        }
        lexicon
    }
}

/// A unit of a message, as the scorer sees it.
#[derive(Debug, Clone, Copy)]
enum Unit {
    /// A lexicon entry.
    Cue(Cue),
    /// An emoji or emoticon from the lexicon: it says what it says, negation or not.
    Symbol(Cue),
    /// An English word or emoticon valued by the model alone.
    Valence(f32),
    /// A word or Chinese character neither knows.
    Other,
    /// The end of a clause: negation and intensity do not reach past it.
    Break,
}

/// What the scorer counts besides units.
#[derive(Debug, Default)]
struct Marks {
    exclamations: usize,
    /// "?!", "!?": asked in disbelief.
    interrobang: bool,
    /// "??", "？？": asked again, impatiently.
    repeated_question: bool,
    question: bool,
}

/// Splits normalised text into [`Unit`]s: Chinese runs by the longest lexicon entries, English
/// words and phrases by the lexicon and then the model, emoji and emoticons by either.
fn units(normalized: &str, lexicon: &Lexicon) -> (Vec<Unit>, Marks) {
    let english = model::english();
    let mut units = Vec::with_capacity(normalized.len() / 2);
    let mut marks = Marks::default();
    let mut position = 0;
    let mut previous_question = false;
    let mut previous_exclamation = false;
    while let Some(character) = normalized[position..].chars().next() {
        if is_han(character) {
            let end = normalized[position..]
                .char_indices()
                .find(|(_, character)| !is_han(*character))
                .map_or(normalized.len(), |(index, _)| position + index);
            chinese_units(&normalized[position..end], lexicon, &mut units);
            position = end;
            (previous_question, previous_exclamation) = (false, false);
            continue;
        }
        if is_word_char(character) {
            position = english_units(normalized, position, lexicon, english, &mut units);
            (previous_question, previous_exclamation) = (false, false);
            continue;
        }
        if character == ' ' || character == '\u{fe0f}' {
            position += character.len_utf8();
            continue;
        }
        // An emoji or an emoticon (":)" but not the ":d" of "re:draft").
        let symbol = (1..=lexicon.symbol_longest).rev().find_map(|length| {
            let end = normalized[position..]
                .char_indices()
                .nth(length)
                .map_or(normalized.len(), |(index, _)| position + index);
            let candidate = &normalized[position..end];
            let runs_on = candidate.ends_with(|c: char| c.is_ascii_alphanumeric())
                && normalized[end..].starts_with(|c: char| c.is_ascii_alphanumeric());
            if candidate.chars().count() != length || runs_on {
                return None;
            }
            let unit = match lexicon.english.get(candidate) {
                Some(cue) => Unit::Symbol(*cue),
                None => Unit::Valence(english.token(candidate)?),
            };
            Some((unit, end))
        });
        if let Some((unit, end)) = symbol {
            units.push(unit);
            position = end;
            continue;
        }
        match character {
            '!' => {
                marks.exclamations += 1;
                marks.interrobang |= previous_question;
            }
            '?' => {
                marks.question = true;
                marks.repeated_question |= previous_question;
                marks.interrobang |= previous_exclamation;
            }
            _ => {}
        }
        previous_question = character == '?';
        previous_exclamation = character == '!';
        if matches!(character, ',' | '.' | ';' | ':' | '!' | '?' | '。' | '、' | '~' | '…') {
            units.push(Unit::Break);
        }
        position += character.len_utf8();
    }
    (units, marks)
}

/// A run of Chinese characters, by the longest lexicon entries from left to right.
fn chinese_units(run: &str, lexicon: &Lexicon, units: &mut Vec<Unit>) {
    let bounds: Vec<usize> =
        run.char_indices().map(|(index, _)| index).chain([run.len()]).collect();
    let characters = bounds.len() - 1;
    let mut start = 0;
    while start < characters {
        let longest = lexicon.chinese_longest.min(characters - start);
        let found = (1..=longest).rev().find_map(|length| {
            let phrase = &run[bounds[start]..bounds[start + length]];
            lexicon.chinese.get(phrase).map(|cue| (length, *cue))
        });
        match found {
            Some((length, cue)) => {
                units.push(Unit::Cue(cue));
                start += length;
            }
            None => {
                units.push(Unit::Other);
                start += 1;
            }
        }
    }
}

/// The English word starting at `start` (with the words after it, when they make a phrase of
/// the lexicon); returns where it ends.
fn english_units(
    normalized: &str,
    start: usize,
    lexicon: &Lexicon,
    english: &model::EnglishModel,
    units: &mut Vec<Unit>,
) -> usize {
    let word_end = |from: usize| {
        normalized[from..].find(|c: char| !is_word_char(c)).map_or(normalized.len(), |i| from + i)
    };
    // The ends of this word and of the words that follow it, each after exactly one space.
    let mut ends = vec![word_end(start)];
    while ends.len() < lexicon.english_longest {
        let last = ends[ends.len() - 1];
        let next = last + 1;
        if normalized[last..].starts_with(' ')
            && normalized[next..].starts_with(|c: char| c.is_ascii_alphanumeric())
        {
            ends.push(word_end(next));
        } else {
            break;
        }
    }
    for length in (2..=ends.len()).rev() {
        let end = ends[length - 1];
        if let Some(cue) = lexicon.english.get(&normalized[start..end]) {
            units.push(Unit::Cue(*cue));
            return end;
        }
    }
    let end = ends[0];
    let word = normalized[start..end].trim_matches('\'');
    units.push(english_word(word, lexicon, english));
    end
}

/// A single English word: the lexicon, then the model, each as written and then by stem.
fn english_word(word: &str, lexicon: &Lexicon, english: &model::EnglishModel) -> Unit {
    if let Some(cue) = lexicon.english.get(word) {
        return Unit::Cue(*cue);
    }
    if is_negation(word) {
        return Unit::Cue(NEGATOR);
    }
    if let Some((_, cue)) =
        lexicon.english_prefixes.iter().find(|(prefix, _)| word.starts_with(prefix))
    {
        return Unit::Cue(*cue);
    }
    if let Some(valence) = english.token(word) {
        return Unit::Valence(valence);
    }
    if word.len() < 4 || !word.bytes().all(|byte| byte.is_ascii_alphabetic()) {
        return Unit::Other;
    }
    let Some(stem) = english.stem(word) else {
        return Unit::Other;
    };
    if let Some(cue) = lexicon.english_stems.get(&stem) {
        return Unit::Cue(*cue);
    }
    english.by_stem(&stem).map_or(Unit::Other, Unit::Valence)
}

/// "don't", "isn't", "can't": any word ending in n't.
fn is_negation(word: &str) -> bool {
    word.ends_with("n't")
}

const NEGATOR: Cue = Cue {
    valence: 0.0,
    emotions: [0.0; EMOTIONS],
    negation: Negation::Partial,
    multiplier: None,
    contrast: false,
    at_all: false,
};

/// How far back (in units) a negation or an intensifier reaches.
const REACH_BACK: usize = 4;
/// How far ahead an "at all" completes a negation.
const REACH_AHEAD: usize = 2;
/// A negated positive word turns clearly negative ("不满意" is not far from "不好"); a negated
/// negative one only mildly positive ("not bad" is not "good").
const NEGATED_POSITIVE: f32 = -0.75;
const NEGATED_NEGATIVE: f32 = -0.5;
const FULLY_NEGATED_POSITIVE: f32 = -1.0;
const FULLY_NEGATED_NEGATIVE: f32 = -0.75;
/// Before a contrast what was said counts less, after it more.
const BEFORE_CONTRAST: f32 = 0.5;
const AFTER_CONTRAST: f32 = 1.5;
/// Each exclamation mark (up to four) adds this much in the direction the message leans.
const EXCLAMATION: f32 = 0.3;
const MAX_EXCLAMATIONS: usize = 4;
/// Shouting makes a negative message this much more negative.
const SHOUTING: f32 = 1.3;
/// How much the models' log-odds count beside the lexicon's valences. Both models are logistic
/// regressions with balanced classes, so what they add up to is a log-odds on the same scale,
/// and one weight serves both (a text in both languages gets the sum).
const MODEL_WEIGHT: f32 = 1.2;
/// The share of that weight the English model gets. It reads words one by one and in pairs, so
/// it cannot turn a negated word ("not bad") the way the lexicon does, and what it learnt from
/// Reddit comments carries over to customers' messages only in part: at full weight its
/// log-odds for "not bad" (-2.5: "not" and "bad" are both negative on Reddit) would outweigh
/// the lexicon's negation. A quarter is the largest of 1, 0.6, 0.4 and 0.25 with which a
/// negated word the lexicon knows still reads the lexicon's way; the evaluation sets were
/// only checked with it, not fitted.
const ENGLISH_MODEL_SHARE: f32 = 0.25;
/// A question with no evaluative word: how much of the model's opinion of its topic is kept.
const QUESTION_DAMPING: f32 = 0.25;
/// The sum of valences is squashed into -1..1 by `x / sqrt(x² + SQUASH)`: one clear word
/// ("满意", "great") gives about 0.5, two or an intensifier about 0.75.
const SQUASH: f32 = 15.0;
/// An emotion needs at least this much evidence to be shown rather than neutral.
const EMOTION_THRESHOLD: f32 = 1.0;
/// Exclamation marks that make a negative message angry (and a positive one joyful).
const EMPHATIC_EXCLAMATIONS: usize = 2;
/// A message at least this negative that speaks to someone blames them: this much anger.
const BLAME_SENTIMENT: f32 = -0.5;
const BLAME: f32 = 0.75;
/// Anger at least this strong, and at least this share of the strongest emotion, is shown.
const CLEAR_ANGER: f32 = 2.0;
const ANGER_PRIORITY: f32 = 0.5;
/// Beyond its cues, a message this negative or positive shows frustration or joy.
const IMPLIED_EMOTION: f32 = 0.4;
const IMPLIED_WEIGHT: f32 = 2.5;

/// What [`feel`] finds.
#[derive(Debug)]
struct Feeling {
    sentiment: f32,
    emotion: Emotion,
    confidence: f32,
}

fn feel(text: &str, normalized: &str, reasons: &[Reason]) -> Feeling {
    let (units, marks) = units(normalized, lexicon());
    let evidence = weigh(&units);
    let mut valence = evidence.valence;
    if valence != 0.0 {
        let exclamations = marks.exclamations.min(MAX_EXCLAMATIONS) as f32;
        valence += valence.signum() * EXCLAMATION * exclamations;
    }
    let shouting = is_shouting(text);
    if shouting && valence < 0.0 {
        valence *= SHOUTING;
    }
    let mut logit = model::chinese().logit(normalized)
        + ENGLISH_MODEL_SHARE * model::english_sentiment().logit(normalized);
    if evidence.evaluative == 0 && is_question(normalized, &marks) {
        logit *= QUESTION_DAMPING;
    }
    let raw = valence + MODEL_WEIGHT * logit;
    let sentiment = raw / (raw * raw + SQUASH).sqrt();

    let mut emotions = evidence.emotions;
    let mut add = |emotion: Emotion, weight: f32| emotions[emotion as usize] += weight;
    if reasons.contains(&Reason::LegalThreat) {
        add(Emotion::Anger, 1.0);
    }
    // Shouting, exclamations, disbelief and blame make a negative message an angry one.
    if sentiment < 0.0 {
        if shouting {
            add(Emotion::Anger, 1.5);
        }
        if marks.exclamations >= EMPHATIC_EXCLAMATIONS {
            add(Emotion::Anger, 1.0);
        }
        if marks.interrobang {
            add(Emotion::Anger, 1.0);
        }
        if marks.repeated_question {
            add(Emotion::Frustration, 0.5);
        }
        if sentiment <= BLAME_SENTIMENT && addresses_someone(normalized) {
            add(Emotion::Anger, BLAME);
        }
    } else if marks.exclamations >= EMPHATIC_EXCLAMATIONS {
        add(Emotion::Joy, 0.5);
    }
    // A message that names no feeling but is clearly negative or positive still shows one.
    if emotions.iter().sum::<f32>() < EMOTION_THRESHOLD {
        if sentiment <= -IMPLIED_EMOTION {
            emotions[Emotion::Frustration as usize] += IMPLIED_WEIGHT * -sentiment;
        } else if sentiment >= IMPLIED_EMOTION {
            emotions[Emotion::Joy as usize] += IMPLIED_WEIGHT * sentiment;
        }
    }
    let (emotion, confidence) = strongest(&emotions);
    Feeling { sentiment, emotion, confidence }
}

/// What the units of a message add up to, before punctuation and the model.
#[derive(Debug)]
struct Evidence {
    valence: f32,
    /// How many units carried a valence or an emotion.
    evaluative: usize,
    emotions: [f32; EMOTIONS],
}

/// Adds up the units' valences and emotions, each changed by the negation and intensity that
/// reach it, what follows a contrast weighing more than what came before.
fn weigh(units: &[Unit]) -> Evidence {
    let mut evidence = Evidence { valence: 0.0, evaluative: 0, emotions: [0.0; EMOTIONS] };
    let mut weight = 1.0f32;
    for (index, unit) in units.iter().enumerate() {
        let (value, cue) = match unit {
            Unit::Cue(cue) if cue.contrast => {
                evidence.valence *= BEFORE_CONTRAST;
                weight = AFTER_CONTRAST;
                if !cue.is_evaluative() {
                    continue;
                }
                (cue.valence, Some(cue))
            }
            Unit::Cue(cue) if cue.is_evaluative() => {
                // An intensifier that is also a word ("好": good, or "very" before another
                // word) counts only as an intensifier when an evaluative word follows.
                if cue.multiplier.is_some() && next_is_evaluative(units, index) {
                    continue;
                }
                (cue.valence, Some(cue))
            }
            Unit::Symbol(cue) => {
                evidence.evaluative += 1;
                evidence.valence += cue.valence * weight;
                for (total, cue_weight) in evidence.emotions.iter_mut().zip(cue.emotions) {
                    *total += cue_weight;
                }
                continue;
            }
            Unit::Valence(value) => (*value, None),
            _ => continue,
        };
        evidence.evaluative += 1;
        let (multiplier, negation) = modifiers(units, index);
        let mut value = value * multiplier;
        if negation != Negation::None {
            value *= match (value > 0.0, negation == Negation::Full) {
                (true, false) => NEGATED_POSITIVE,
                (true, true) => FULLY_NEGATED_POSITIVE,
                (false, false) => NEGATED_NEGATIVE,
                (false, true) => FULLY_NEGATED_NEGATIVE,
            };
        }
        evidence.valence += value * weight;
        let Some(cue) = cue else { continue };
        let strength = multiplier.clamp(0.5, 2.0);
        if negation == Negation::None {
            for (total, cue_weight) in evidence.emotions.iter_mut().zip(cue.emotions) {
                *total += cue_weight * strength;
            }
        } else {
            // "不开心", "not happy": dissatisfied rather than joyful; a negated anger or worry
            // ("不生气", "don't worry") shows nothing.
            evidence.emotions[Emotion::Frustration as usize] +=
                0.5 * cue.emotions[Emotion::Joy as usize] * strength;
        }
    }
    evidence
}

/// The emotion with the most evidence and how clearly it leads, or neutral when none has
/// enough. Anger that is clearly there wins over a stronger frustration or sadness: it is what a
/// support team must not miss.
fn strongest(emotions: &[f32; EMOTIONS]) -> (Emotion, f32) {
    let total: f32 = emotions.iter().sum();
    let (mut best, mut score) = (Emotion::Neutral, 0.0f32);
    for (emotion, weight) in Emotion::ALL.into_iter().zip(emotions) {
        if *weight > score {
            (best, score) = (emotion, *weight);
        }
    }
    let anger = emotions[Emotion::Anger as usize];
    if anger >= CLEAR_ANGER && anger >= ANGER_PRIORITY * score {
        (best, score) = (Emotion::Anger, anger);
    }
    if score >= EMOTION_THRESHOLD {
        (best, (score / (total + 1.0)).clamp(0.0, 1.0))
    } else {
        (Emotion::Neutral, 1.0 / (1.0 + total))
    }
}

fn next_is_evaluative(units: &[Unit], index: usize) -> bool {
    match units.get(index + 1) {
        Some(Unit::Cue(cue) | Unit::Symbol(cue)) => cue.is_evaluative() && !cue.contrast,
        Some(Unit::Valence(_)) => true,
        _ => false,
    }
}

/// The intensity and negation that reach the unit at `index` within its clause.
fn modifiers(units: &[Unit], index: usize) -> (f32, Negation) {
    let mut multiplier = 1.0f32;
    let mut negation = Negation::None;
    let mut at_all = false;
    for unit in units[..index].iter().rev().take(REACH_BACK) {
        match unit {
            Unit::Break => break,
            Unit::Cue(cue) if cue.contrast => break,
            Unit::Cue(cue) => {
                if let Some(factor) = cue.multiplier {
                    multiplier *= factor;
                }
                negation = negation.max(cue.negation);
                at_all |= cue.at_all;
            }
            _ => {}
        }
    }
    for unit in units[index + 1..].iter().take(REACH_AHEAD) {
        match unit {
            Unit::Break => break,
            Unit::Cue(cue) => at_all |= cue.at_all,
            _ => {}
        }
    }
    if at_all && negation == Negation::Partial {
        negation = Negation::Full;
    }
    (multiplier.clamp(0.3, 3.0), negation)
}

/// Whether a message speaks to someone ("你们", "you"): very negative, it blames them.
fn addresses_someone(normalized: &str) -> bool {
    normalized.contains('你')
        || normalized.contains('您')
        || normalized
            .split(|c: char| !c.is_ascii_alphabetic())
            .any(|word| matches!(word, "you" | "your" | "you're" | "yours" | "u" | "ur"))
}

/// Words that start an English question.
const QUESTION_STARTS: &[&str] = &[
    "what", "where", "when", "why", "how", "who", "which", "can", "could", "do", "does", "did",
    "is", "are", "was", "will", "would", "should", "may", "have", "has",
];

/// Chinese words that make a sentence a question.
const QUESTION_WORDS: &[&str] = &[
    "吗", "呢", "怎么", "如何", "哪", "什么", "是否", "能否", "可否", "几", "多久", "请问", "多少",
];

fn is_question(normalized: &str, marks: &Marks) -> bool {
    marks.question
        || QUESTION_WORDS.iter().any(|word| normalized.contains(word))
        || normalized
            .split(|c: char| !c.is_ascii_alphabetic())
            .find(|word| !word.is_empty())
            .is_some_and(|first| QUESTION_STARTS.contains(&first))
}

/// Most of the message's English words in capitals: "THIS IS RIDICULOUS".
fn is_shouting(text: &str) -> bool {
    let (mut upper, mut words) = (0, 0);
    for word in text.split(|c: char| !c.is_ascii_alphabetic()).filter(|word| word.len() >= 2) {
        words += 1;
        if word.bytes().all(|byte| byte.is_ascii_uppercase()) {
            upper += 1;
        }
    }
    upper >= 2 && upper * 3 >= words * 2
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sentiment(text: &str) -> f32 {
        analyze(text).sentiment
    }

    fn emotion(text: &str) -> Emotion {
        analyze(text).emotion
    }

    #[test]
    fn clear_positives_and_negatives() {
        for text in [
            "东西收到了，质量很好，非常喜欢",
            "客服态度很好，问题很快就解决了，谢谢",
            "Great service, the replacement arrived in two days. Thank you!",
            "I love the new app, it works perfectly",
        ] {
            assert!(sentiment(text) > 0.4, "{text:?}: {}", sentiment(text));
        }
        for text in [
            "质量太差了，用了两天就坏了",
            "等了一个小时，饭都凉了，难吃",
            "Terrible experience, the package arrived damaged and nobody answers",
            "This is the worst support I have ever dealt with",
        ] {
            assert!(sentiment(text) < -0.4, "{text:?}: {}", sentiment(text));
        }
    }

    #[test]
    fn negation_turns_and_softens() {
        assert!(sentiment("满意") > 0.3);
        assert!(sentiment("不是很满意") < -0.2, "{}", sentiment("不是很满意"));
        assert!(sentiment("不满意") < -0.3);
        assert!(sentiment("一点都不好") < -0.3, "{}", sentiment("一点都不好"));
        assert!(sentiment("一点都不好") < sentiment("不太好"));
        assert!(sentiment("不难吃") > 0.0);
        let not_bad = sentiment("not bad");
        assert!(not_bad > 0.05 && not_bad < 0.5, "not bad: {not_bad}");
        assert!(sentiment("not good") < -0.2);
        assert!(sentiment("not happy at all") < -0.3, "{}", sentiment("not happy at all"));
        assert!(sentiment("not happy at all") < sentiment("not happy"));
        assert!(sentiment("I don't think this is good") < 0.0);
        assert!(sentiment("no problem, thanks") > 0.3);
    }

    #[test]
    fn intensity_strengthens_and_weakens() {
        assert!(sentiment("非常满意") > 0.6, "{}", sentiment("非常满意"));
        assert!(sentiment("非常满意") > sentiment("满意"));
        assert!(sentiment("太差劲了！！！") < -0.7, "{}", sentiment("太差劲了！！！"));
        assert!(sentiment("太差劲了！！！") < sentiment("差劲"));
        assert!(sentiment("有点慢") > sentiment("太慢了"));
        assert!(sentiment("very good") > sentiment("good"));
        assert!(sentiment("a bit disappointed") > sentiment("extremely disappointed"));
        assert!(sentiment("THIS IS TERRIBLE") < sentiment("this is terrible"));
    }

    #[test]
    fn contrast_weighs_what_follows() {
        assert!(sentiment("东西很好，但是物流太慢了") < 0.0);
        assert!(sentiment("物流有点慢，但是东西很好") > 0.0);
        assert!(sentiment("The food was good but the delivery was terribly slow") < 0.0);
        assert!(sentiment("Delivery was a bit late but the food was excellent") > 0.0);
    }

    #[test]
    fn each_emotion_in_both_languages() {
        let cases = [
            ("气死我了，你们这是什么态度！", Emotion::Anger),
            ("你们这群骗子，垃圾公司", Emotion::Anger),
            ("This is outrageous, I'm furious with how you treated me", Emotion::Anger),
            ("You people are useless idiots", Emotion::Anger),
            ("快递一直没到，都一个星期了，到底怎么回事？？", Emotion::Frustration),
            ("说了多少次了，问题还是没有解决", Emotion::Frustration),
            ("I've been waiting for weeks and it still doesn't work", Emotion::Frustration),
            ("Ugh, the app keeps crashing again", Emotion::Frustration),
            ("我很担心，钱扣了订单却没有生成，怎么办", Emotion::Anxiety),
            ("明天就要用了，很着急，能不能快点发货", Emotion::Anxiety),
            ("I'm worried someone used my card, please help urgently", Emotion::Anxiety),
            ("I'm nervous the ticket won't arrive in time", Emotion::Anxiety),
            ("礼物没赶上妈妈的生日，好难过", Emotion::Sadness),
            ("收到的花都枯了，真的很伤心", Emotion::Sadness),
            ("So sad, the vase my grandmother gave me arrived broken", Emotion::Sadness),
            ("I'm heartbroken, the photos are gone", Emotion::Sadness),
            ("太好了，谢谢你们，非常开心", Emotion::Joy),
            ("收到了，很喜欢，给你们点赞", Emotion::Joy),
            ("Thank you so much, that fixed it!", Emotion::Joy),
            ("Awesome, I'm really happy with it", Emotion::Joy),
            ("我想修改收货地址", Emotion::Neutral),
            ("Can I change my delivery address?", Emotion::Neutral),
        ];
        for (text, expected) in cases {
            let analysis = analyze(text);
            assert_eq!(analysis.emotion, expected, "{text:?}: {analysis:?}");
            assert!((0.0..=1.0).contains(&analysis.emotion_confidence), "{analysis:?}");
        }
    }

    #[test]
    fn neutral_questions_stay_neutral() {
        for text in [
            "我的订单到哪了",
            "请问怎么退货",
            "发票怎么开？",
            "where is my order",
            "How do I reset my password?",
            "What are your opening hours",
        ] {
            let analysis = analyze(text);
            assert_eq!(analysis.emotion, Emotion::Neutral, "{text:?}: {analysis:?}");
            assert!(analysis.sentiment.abs() < 0.2, "{text:?}: {analysis:?}");
            assert!(analysis.emotion_confidence >= 0.5, "{text:?}: {analysis:?}");
        }
    }

    #[test]
    fn negated_feelings_are_not_shown() {
        assert_ne!(emotion("我不生气，只是想问一下"), Emotion::Anger);
        assert_ne!(emotion("Don't worry about it"), Emotion::Anxiety);
        assert_ne!(emotion("不担心，慢慢来"), Emotion::Anxiety);
        let unhappy = emotion("我一点都不开心");
        assert!(matches!(unhappy, Emotion::Sadness | Emotion::Frustration), "{unhappy:?}");
        // An emoji says what it says, whatever comes before it.
        assert_eq!(emotion("not again 😡"), Emotion::Anger);
    }

    #[test]
    fn mixed_chinese_and_english() {
        let angry = analyze("这个app太垃圾了, totally useless!!");
        assert_eq!(angry.language, Some(Lang::Zh));
        assert!(angry.sentiment < -0.5, "{angry:?}");
        assert_eq!(angry.emotion, Emotion::Anger, "{angry:?}");
        let happy = analyze("thanks，问题解决了，great");
        assert!(happy.sentiment > 0.4, "{happy:?}");
        assert_eq!(happy.emotion, Emotion::Joy, "{happy:?}");
        let question = analyze("我的order什么时候发货");
        assert_eq!(question.emotion, Emotion::Neutral, "{question:?}");
        assert!(question.sentiment.abs() < 0.2, "{question:?}");
    }

    #[test]
    fn anger_is_a_reason_and_other_reasons_stay() {
        let analysis = analyze("气死我了，我要投诉你们！");
        assert_eq!(analysis.emotion, Emotion::Anger);
        assert_eq!(analysis.reasons, [Reason::Complaint, Reason::Anger]);
        let analysis = analyze("转人工");
        assert_eq!(analysis.reasons, [Reason::AsksForHuman]);
        assert_eq!(analysis.language, Some(Lang::Zh));
        assert_eq!(analyze("12345").language, None);
    }

    #[test]
    fn traditional_and_full_width_text_reads_the_same() {
        assert_eq!(analyze("非常滿意，謝謝").sentiment, analyze("非常满意，谢谢").sentiment);
        assert_eq!(analyze("ＧＲＥＡＴ ｓｅｒｖｉｃｅ").emotion, analyze("great service").emotion);
    }

    #[test]
    fn emotion_codes_round_trip() {
        for emotion in Emotion::ALL {
            assert_eq!(Emotion::parse(emotion.as_str()), Some(emotion));
        }
        assert_eq!(Emotion::parse("angry"), None);
        assert_eq!(Emotion::Frustration.to_string(), "frustration");
    }

    #[test]
    fn sentiment_stays_in_range() {
        let extreme = "垃圾垃圾垃圾！！！！ worst worst worst, 气死 气死 气死 😡😡😡".repeat(20);
        assert!((-1.0..=1.0).contains(&sentiment(&extreme)));
        assert!(sentiment(&extreme) < -0.9);
        assert_eq!(analyze("").sentiment, 0.0);
        assert_eq!(analyze("").emotion, Emotion::Neutral);
    }

    #[test]
    fn lexicon_lines_all_parse_and_are_unique() {
        for list in [lexicon::CHINESE, lexicon::ENGLISH] {
            let mut seen = std::collections::HashSet::new();
            for entry in entries(list) {
                let (phrase, _) = entry.unwrap_or_else(|line| panic!("bad lexicon line {line:?}"));
                let normalized = crate::normalize(phrase);
                // Chinese is normalised when loaded; the rest is matched as written.
                if !phrase.chars().any(is_han) {
                    assert_eq!(normalized, phrase, "not normalised: {phrase:?}");
                }
                assert!(seen.insert(normalized), "listed twice: {phrase:?}");
            }
        }
    }
}
