//! The learnt regulated-topic detector: three one-vs-rest logistic regressions (`models/
//! regulated.txt`, written by `scripts/train-signals.py --only regulated`) that tell whether a
//! message is a medical, legal or financial advice situation ("用了面霜脸上起红疹", "is this
//! no-refund clause enforceable?", "should I move my savings into your fund?") rather than an
//! ordinary question near one ("我的贷款什么时候到账", "is the charger safe for my phone").
//!
//! The features are the sentiment models' ([`crate::sentiment::model::features`] and
//! [`crate::sentiment::model::english_features`]): the distinct character 1- to 3-grams of the
//! text's Chinese runs and its English words and pairs of adjacent words, each counted once. The
//! weights are learnt only from the examples `scripts/regulated-examples.py` generates (templates
//! and slot fillers written for Tandem, in both languages), never from the evaluation sets.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::sentiment::model::{english_features, features};

const MODEL: &str = include_str!("../../models/regulated.txt");

/// The topics, in the order of the model's weight columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Topic {
    Medical,
    Legal,
    Financial,
}

const TOPICS: [Topic; 3] = [Topic::Medical, Topic::Legal, Topic::Financial];

struct Model {
    weights: HashMap<&'static str, [f32; 3]>,
    intercepts: [f32; 3],
    threshold: f32,
}

fn model() -> &'static Model {
    static MODEL_CELL: OnceLock<Model> = OnceLock::new();
    MODEL_CELL.get_or_init(|| Model::parse(MODEL))
}

impl Model {
    fn parse(text: &'static str) -> Model {
        let mut scale = 1.0f32;
        let mut threshold = 0.0f32;
        let mut intercepts = [0.0f32; 3];
        let mut weights = HashMap::new();
        let columns = |values: &str| -> Option<[f32; 3]> {
            let mut parsed = [0.0f32; 3];
            let mut values = values.split(['\t', ' ']);
            for slot in &mut parsed {
                *slot = values.next()?.parse().ok()?;
            }
            Some(parsed)
        };
        for line in text.lines().filter(|line| !line.starts_with('#') && !line.is_empty()) {
            // A weight line has a tab (an English feature may start "scale " or "intercept ").
            if let Some((gram, values)) = line.split_once('\t') {
                if let Some(values) = columns(values) {
                    weights.insert(gram, values);
                }
            } else if let Some(value) = line.strip_prefix("scale ") {
                scale = value.parse().unwrap_or(1.0);
            } else if let Some(value) = line.strip_prefix("threshold ") {
                threshold = value.parse().unwrap_or(0.0);
            } else if let Some(value) = line.strip_prefix("intercept ") {
                intercepts = columns(value).unwrap_or_default();
            }
        }
        for values in weights.values_mut() {
            values.iter_mut().for_each(|weight| *weight /= scale);
        }
        intercepts.iter_mut().for_each(|intercept| *intercept /= scale);
        Model { weights, intercepts, threshold }
    }

    /// Each topic's log-odds for normalised text; `None` when it has no feature at all.
    fn logits(&self, normalized: &str) -> Option<[f32; 3]> {
        let english = normalized.replace('\u{2019}', "'");
        let mut grams: Vec<String> = features(normalized).into_iter().map(str::to_owned).collect();
        grams.extend(english_features(&english));
        if grams.is_empty() {
            return None;
        }
        grams.sort_unstable();
        grams.dedup();
        let mut logits = self.intercepts;
        for values in grams.iter().filter_map(|gram| self.weights.get(gram.as_str())) {
            logits.iter_mut().zip(values).for_each(|(logit, weight)| *logit += weight);
        }
        Some(logits)
    }
}

/// The regulated topics the model raises for normalised text (without figures of speech, see
/// [`super::reasons_of_normalized`]), in [`Topic`] order.
pub(super) fn topics(normalized: &str) -> Vec<Topic> {
    let model = model();
    let Some(logits) = model.logits(normalized) else {
        return Vec::new();
    };
    TOPICS
        .into_iter()
        .zip(logits)
        .filter(|(_, logit)| *logit > model.threshold)
        .map(|(topic, _)| topic)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::Reason;

    #[test]
    fn model_loads() {
        let model = model();
        assert!(model.weights.len() > 1_000);
        assert!(model.intercepts.iter().all(|intercept| *intercept < 0.0));
        assert!(topics("").is_empty());
        assert!(topics("!!!").is_empty());
    }

    /// The regulated reasons [`super::super::reasons`] gives a text.
    fn regulated_reasons(text: &str) -> Vec<Reason> {
        super::super::reasons(text)
            .into_iter()
            .filter(|reason| {
                matches!(
                    reason,
                    Reason::RegulatedMedical | Reason::RegulatedLegal | Reason::RegulatedFinancial
                )
            })
            .collect()
    }

    /// Situations written for this test (not taken from the evaluation sets or the generator's
    /// output), each raising its topic, and ordinary questions near them raising none.
    #[test]
    fn situations_and_the_ordinary_questions_near_them() {
        use Reason::*;
        let cases: &[(&str, &[Reason])] = &[
            ("用了你们的身体乳以后胳膊上起了一片红点，还很痒", &[RegulatedMedical]),
            ("喝了两天你们的酵素，一直拉肚子", &[RegulatedMedical]),
            ("since I started the collagen drink my stomach hurts", &[RegulatedMedical]),
            ("my daughter's ears got swollen after wearing the earrings", &[RegulatedMedical]),
            ("这个用户协议里的自动扣费条款有法律效力吗", &[RegulatedLegal]),
            ("is the cancellation fee in your terms even enforceable?", &[RegulatedLegal]),
            ("你们改了合同，我在法律上能解约吗", &[RegulatedLegal]),
            ("我有二十万闲钱，买你们的基金还是存定期好", &[RegulatedFinancial]),
            (
                "should I put my bonus into the gold account or the index fund?",
                &[RegulatedFinancial],
            ),
            ("is it smart to borrow money to buy your wealth product", &[RegulatedFinancial]),
            ("我的消费贷什么时候放款", &[]),
            ("when will the loan money reach my account", &[]),
            ("这个无线充电板对手机电池安全吗", &[]),
            ("will this fast charger damage my tablet", &[]),
            ("延保服务多少钱", &[]),
            ("how many years is the warranty on the vacuum", &[]),
            ("电子合同在哪里下载", &[]),
            ("my voucher code says it is not valid", &[]),
            ("我的包裹到哪了", &[]),
            ("发货太慢了真让人头疼", &[]),
            ("this refund process is giving me a headache", &[]),
            ("电暖器有3C认证吗", &[]),
            ("用了两天吹风机就不出热风了", &[]),
            ("how do I redeem my fund online", &[]),
        ];
        let wrong: Vec<_> = cases
            .iter()
            .filter(|(text, expected)| regulated_reasons(text) != *expected)
            .map(|(text, _)| (*text, regulated_reasons(text)))
            .collect();
        assert!(wrong.is_empty(), "wrong regulated topics: {wrong:?}");
    }

    #[test]
    fn features_match_the_training_script() {
        // `python3 scripts/train-signals.py --regulated-features "用了面霜 I don’t think it's OK"`
        let normalized = crate::normalize("用了面霜 I don\u{2019}t think it's OK");
        let english = normalized.replace('\u{2019}', "'");
        let mut grams: Vec<String> = features(&normalized).into_iter().map(str::to_owned).collect();
        grams.extend(english_features(&english));
        grams.sort_unstable();
        grams.dedup();
        let expected = "don't | don't think | i | i don't | it's | it's ok | ok | think | \
                        think it's | 了 | 了面 | 了面霜 | 用 | 用了 | 用了面 | 霜 | 面 | 面霜";
        assert_eq!(grams.join(" | "), expected);
    }
}
