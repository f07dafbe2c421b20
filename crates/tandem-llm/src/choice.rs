//! The model as a second opinion when the built-in engine is unsure: given the customer's
//! question and the engine's best few articles, it names the one whose answer answers the
//! question, or none. It only *chooses*: the customer then gets that article's own answer (or
//! its grounded rewording), never text the model wrote here, and an answer that is not exactly
//! one of the keys or [`NONE`] counts as no choice.

use crate::{ChatMessage, Passage};

/// What the model replies when no article answers the question.
pub const NONE: &str = "NONE";
/// Longest part of an article's answer shown to the model: enough to tell articles apart.
const EXCERPT_CHARS: usize = 400;

/// The prompt: the candidates with their keys, and the rule to reply with one key or
/// [`NONE`].
pub fn choice_messages(question: &str, candidates: &[Passage]) -> Vec<ChatMessage> {
    let mut system = format!(
        "You match a customer's message to a business's help articles. Below are candidate \
         articles, each introduced by its key in square brackets. Reply with only the key of the \
         one article whose answer answers the customer's question, or with exactly {NONE} if \
         none of them does (a related topic is not enough). No other words.\n\nArticles:\n"
    );
    for candidate in candidates {
        let excerpt: String = candidate.text.chars().take(EXCERPT_CHARS).collect();
        system.push_str(&format!("\n[{}] {}\n{}\n", candidate.key, candidate.title, excerpt));
    }
    vec![ChatMessage::system(system), ChatMessage::user(question)]
}

/// What the model's reply chose: `Some(Some(key))` an article, `Some(None)` none of them, and
/// `None` when the reply is neither (it then counts as no choice, and is recorded rejected).
pub fn chosen(reply: &str, keys: &[&str]) -> Option<Option<String>> {
    let answer = reply
        .trim()
        .trim_matches(|c: char| c.is_whitespace() || "[]\"'`.。:：".contains(c))
        .trim_start_matches("ref:");
    if answer.eq_ignore_ascii_case(NONE) {
        return Some(None);
    }
    keys.iter().find(|key| **key == answer).map(|key| Some((*key).to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_key_or_none_is_a_choice() {
        let keys = ["returns", "invoice"];
        assert_eq!(chosen("returns", &keys), Some(Some("returns".into())));
        assert_eq!(chosen(" [invoice]。\n", &keys), Some(Some("invoice".into())));
        assert_eq!(chosen("none", &keys), Some(None));
        assert_eq!(chosen("NONE.", &keys), Some(None));
        assert_eq!(chosen("shipping", &keys), None, "not a candidate");
        assert_eq!(chosen("I think returns", &keys), None, "more than a key");
        assert_eq!(chosen("", &keys), None);
    }

    #[test]
    fn the_prompt_lists_each_candidate_by_key() {
        let passages = [Passage {
            key: "returns".into(),
            title: "退货政策".into(),
            text: "签收后 7 天内可无理由退货。".into(),
        }];
        let messages = choice_messages("东西不想要了怎么办", &passages);
        assert!(messages[0].content.contains("[returns] 退货政策\n签收后 7 天内可无理由退货。"));
        assert_eq!(messages[1].content, "东西不想要了怎么办");
    }
}
