//! The bot against a real SQLite store, through the relay: one binary, a module per area.

mod actions;
mod draft;
mod fuzz;
mod knowledge;
mod llm;

use std::time::Duration;

use tandem_domain::{AuthorKind, DecisionRecord, Locale, Message, NewArticle};
use tandem_flow::Relay;
use tandem_flow::testing::{World, send};

/// A Chinese article with these question variants, for every channel.
pub(crate) fn article(key: &str, title: &str, questions: &[&str], answer: &str) -> NewArticle {
    NewArticle {
        key: key.into(),
        title: title.into(),
        answer: answer.into(),
        questions: questions.iter().map(|question| (*question).to_owned()).collect(),
        tags: Vec::new(),
        language: Some(Locale::Zh),
        effective_from: None,
        expires_at: None,
        channels: Vec::new(),
    }
}

/// The return policy (answered with `returns_answer`) and invoices: the two articles the
/// model tests answer from.
pub(crate) fn returns_and_invoices(returns_answer: &str) -> Vec<NewArticle> {
    vec![
        article(
            "returns",
            "退货政策",
            &["怎么退货", "可以退货吗", "七天无理由退货"],
            returns_answer,
        ),
        article(
            "invoice",
            "开发票",
            &["怎么开发票", "电子发票在哪下载"],
            "在订单详情页申请电子发票。",
        ),
    ]
}

/// Sends `text` as the world's customer and waits for the first reply after it: the bot's, or
/// a system line when the conversation went to people instead.
pub(crate) async fn ask(world: &World, relay: &Relay, text: &str) -> Message {
    let appended = relay.customer_message(send(world, text)).await.unwrap();
    let seq = appended.message.seq;
    for _ in 0..1000 {
        let messages = world.store.messages(appended.conversation.id, seq, 10).await.unwrap();
        if let Some(reply) = messages
            .into_iter()
            .find(|message| matches!(message.author_kind, AuthorKind::Bot | AuthorKind::System))
        {
            return reply;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no reply to {text}");
}

/// The decision record stored with a bot message.
pub(crate) async fn decision_of(world: &World, message: &Message) -> DecisionRecord {
    let decisions = world.store.decisions(message.conversation_id).await.unwrap();
    decisions
        .into_iter()
        .find(|(id, _)| *id == message.id)
        .map(|(_, record)| record)
        .expect("a decision record for the reply")
}
