//! Summaries written by the workspace's model: for a hand-off, two or three sentences for the
//! person taking over (the problem, what the customer wants, what was tried); for a resolved
//! conversation's wrap-up, one or two for the record (what was wanted, what was done). The extractive summary
//! of the hand-off packet stays beside it and is all there is when the model is off, fails, or
//! writes something the conversation does not support: every number, date, amount, quoted
//! term and promise of the summary must appear in the conversation itself ([`verify`]).

use tandem_domain::{AuthorKind, Locale, Message};

use crate::grounding::{Passage, verify};
use crate::{ChatMessage, NO_ANSWER};

/// How many of the latest messages the model is shown.
pub const MESSAGES: usize = 30;

/// The transcript the model summarises: customer, bot and agent messages (internal notes and
/// system lines left out), oldest first, each on its own line with who wrote it.
pub fn transcript(messages: &[Message]) -> String {
    let shown: Vec<&Message> =
        messages.iter().filter(|message| message.author_kind.visible_to_customer()).collect();
    let start = shown.len().saturating_sub(MESSAGES);
    shown[start..]
        .iter()
        .filter_map(|message| {
            let who = match message.author_kind {
                AuthorKind::Customer => "Customer",
                AuthorKind::Bot => "Bot",
                AuthorKind::Agent => "Agent",
                _ => return None,
            };
            Some(format!("{who}: {}", message.body.replace('\n', " ")))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The prompt of a resolved conversation's wrap-up: what the customer wanted and what was
/// done, for the record.
pub fn wrapup_messages(transcript: &str, locale: Locale) -> Vec<ChatMessage> {
    let language = language(locale);
    let system = format!(
        "A customer-service conversation has just been resolved. Write its summary for the \
         record in {language}: one or two short sentences saying what the customer wanted and \
         what was done or promised. Use only facts stated in the conversation; never add \
         numbers, dates, amounts or promises. Keep placeholders such as [PHONE_1] unchanged. If \
         there is nothing to summarise, reply with exactly {NO_ANSWER}."
    );
    vec![ChatMessage::system(system), ChatMessage::user(transcript)]
}

fn language(locale: Locale) -> &'static str {
    match locale {
        Locale::Zh => "简体中文 (Simplified Chinese)",
        Locale::En => "English",
    }
}

/// The prompt: the rules as the system message, the transcript as the user message.
pub fn summary_messages(transcript: &str, locale: Locale) -> Vec<ChatMessage> {
    let language = language(locale);
    let system = format!(
        "A customer-service conversation is being handed from the bot to a human agent. Write \
         a summary for the agent in {language}: at most three short sentences saying what the \
         customer's problem is, what they want, and what has been tried. Use only facts stated \
         in the conversation; never add numbers, dates, amounts or promises. Keep placeholders \
         such as [PHONE_1] unchanged. If there is nothing to summarise, reply with exactly \
         {NO_ANSWER}."
    );
    vec![ChatMessage::system(system), ChatMessage::user(transcript)]
}

/// The summary to keep, personal data masked as in the rest of the packet, if the model wrote
/// one the conversation supports.
pub fn accepted(summary: &str, transcript: &str) -> Option<String> {
    let source =
        Passage { key: "conversation".into(), title: String::new(), text: transcript.into() };
    let summary = summary.trim();
    verify(summary, std::slice::from_ref(&source))
        .ok()
        .map(|()| tandem_text::signals::mask_personal_data(summary))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_summaries_the_conversation_supports_are_kept() {
        let transcript = "Customer: 我的订单 20241123001 三天没更新了\nBot: 物流超过 48 小时没有更新，请回复「人工」\nCustomer: 人工";
        assert_eq!(
            accepted(" 客户的订单 20241123001 物流三天未更新，要求人工跟进。 ", transcript)
                .as_deref(),
            Some("客户的订单 20241123001 物流三天未更新，要求人工跟进。")
        );
        assert_eq!(accepted("客户要求退款 200 元。", transcript), None);
        assert_eq!(accepted("NO_ANSWER", transcript), None);
        let messages = summary_messages(transcript, Locale::En);
        assert!(messages[0].content.contains("English"));
        assert_eq!(messages[1].content, transcript);
    }
}
