//! The demo workspace that `tandem demo` seeds: a Chinese online shop with an English side,
//! three agents, two queues, a few customers and past conversations in every state.

use std::collections::BTreeMap;
use std::sync::Arc;

use tandem_domain::{AuthorKind, Channel, Inbox, Locale, Role, Transition, User, WorkspaceId};
use tandem_store::{MessageTarget, NewCustomer, NewInbox, NewMessage, NewUser, Store, StoreError};

use crate::auth::{hash_password, random_token};
use crate::error::ApiError;

const BOT_NAME: &str = "小河";

/// A demo account and its (public, printed) password.
#[derive(Debug, Clone, Copy)]
pub struct DemoAccount {
    pub email: &'static str,
    pub name: &'static str,
    pub role: Role,
    pub locale: Locale,
    pub password: &'static str,
}

pub const ACCOUNTS: [DemoAccount; 3] = [
    DemoAccount {
        email: "fang@galaxy.example",
        name: "王芳",
        role: Role::Admin,
        locale: Locale::Zh,
        password: "tandem-admin",
    },
    DemoAccount {
        email: "qiang@galaxy.example",
        name: "李强",
        role: Role::Supervisor,
        locale: Locale::Zh,
        password: "tandem-super",
    },
    DemoAccount {
        email: "emily@galaxy.example",
        name: "Emily Chen",
        role: Role::Agent,
        locale: Locale::En,
        password: "tandem-agent",
    },
];

/// Seeds the demo workspace unless the store already has a workspace. Returns whether it seeded.
pub async fn seed(store: &Arc<dyn Store>) -> Result<bool, ApiError> {
    if !store.workspaces().await?.is_empty() {
        return Ok(false);
    }
    let workspace = store.create_workspace("星河商城 Galaxy Shop").await?.id;
    let inbox = store
        .create_inbox(NewInbox {
            workspace_id: workspace,
            name: "星河商城 Galaxy Shop".into(),
            channel: Channel::Web,
            public_key: format!("pk_{}", random_token()),
            bot_name: BOT_NAME.into(),
        })
        .await?;
    store
        .create_queue(
            workspace,
            "售前咨询 Pre-sales",
            "Product questions before buying; 中文 and English",
        )
        .await?;
    store
        .create_queue(workspace, "售后服务 After-sales", "Orders, deliveries, returns and refunds")
        .await?;
    let mut agents = Vec::new();
    for account in ACCOUNTS {
        agents.push(
            store
                .create_user(NewUser {
                    workspace_id: workspace,
                    email: account.email.into(),
                    display_name: account.name.into(),
                    role: account.role,
                    locale: account.locale,
                    password_hash: hash_password(account.password)?,
                })
                .await?,
        );
    }
    seed_conversations(store, workspace, &inbox, &agents).await?;
    Ok(true)
}

struct Turn(AuthorKind, &'static str);

async fn seed_conversations(
    store: &Arc<dyn Store>,
    workspace: WorkspaceId,
    inbox: &Inbox,
    agents: &[User],
) -> Result<(), StoreError> {
    let customer =
        |name: &str, email: Option<&str>, locale, attributes: &[(&str, &str)]| NewCustomer {
            workspace_id: workspace,
            name: name.into(),
            email: email.map(str::to_owned),
            locale: Some(locale),
            attributes: attributes
                .iter()
                .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
                .collect::<BTreeMap<_, _>>(),
        };
    let zhang = store
        .create_customer(customer(
            "张伟",
            Some("zhangwei@example.cn"),
            Locale::Zh,
            &[("tier", "VIP 金卡"), ("city", "上海"), ("orders", "23")],
        ))
        .await?;
    let sarah = store
        .create_customer(customer(
            "Sarah Miller",
            Some("sarah.miller@example.com"),
            Locale::En,
            &[("tier", "standard"), ("country", "UK"), ("orders", "2")],
        ))
        .await?;
    let liu = store
        .create_customer(customer(
            "刘洋",
            None,
            Locale::Zh,
            &[("tier", "new"), ("source", "web widget")],
        ))
        .await?;

    let (fang, emily) = (&agents[0], &agents[2]);
    // 张伟: a return handled by a person and resolved.
    let conversation = write(store, inbox, zhang.id, &[
        Turn(AuthorKind::Customer, "你好，我上周买的蓝牙耳机右耳没声音，可以退货吗？订单号 20241123001"),
        Turn(AuthorKind::Bot, "您好，我是小河。已收到您的消息，不过这个问题我暂时还无法自动解答。如需人工帮助，请点击“转人工”或回复“人工”，客服会尽快接手。"),
        Turn(AuthorKind::Customer, "人工"),
    ], fang).await?;
    store
        .transition(
            conversation,
            Transition::Escalate,
            Some("好的，正在为您转接人工客服，请稍候。".into()),
        )
        .await?;
    store
        .transition(
            conversation,
            Transition::Assign { agent: fang.id },
            Some("客服 王芳 已加入对话".into()),
        )
        .await?;
    write_to(store, conversation, &[
        Turn(AuthorKind::Agent, "张先生您好，耳机在 7 天无理由退货期内，我已为您创建退货单，快递员明天上门取件，退款将在收货后 1–3 个工作日原路返回。"),
        Turn(AuthorKind::Note, "VIP 客户，已申请免运费。"),
        Turn(AuthorKind::Customer, "好的，谢谢！"),
    ], fang).await?;
    store
        .transition(
            conversation,
            Transition::Resolve,
            Some("对话已结束。如还有问题，直接发送消息即可。".into()),
        )
        .await?;

    // Sarah: a billing problem waiting in the queue.
    let conversation = write(store, inbox, sarah.id, &[
        Turn(AuthorKind::Customer, "Hi, I was charged twice for order 20241123002. Can someone check?"),
        Turn(AuthorKind::Bot, "Hi, I'm 小河. I got your message, but I can't answer this one automatically yet. Tap \"Talk to a person\" or reply \"agent\" and a member of our team will take over."),
        Turn(AuthorKind::Customer, "agent please"),
    ], emily).await?;
    store
        .transition(
            conversation,
            Transition::Escalate,
            Some("Sure — connecting you to a person now. Please hold on.".into()),
        )
        .await?;

    // 刘洋: talking to the bot right now.
    write(store, inbox, liu.id, &[
        Turn(AuthorKind::Customer, "双十一活动什么时候开始？"),
        Turn(AuthorKind::Bot, "您好，我是小河。已收到您的消息，不过这个问题我暂时还无法自动解答。如需人工帮助，请点击“转人工”或回复“人工”，客服会尽快接手。"),
    ], fang).await?;
    Ok(())
}

/// Starts the customer's conversation with `turns`; returns its id.
async fn write(
    store: &Arc<dyn Store>,
    inbox: &Inbox,
    customer: tandem_domain::CustomerId,
    turns: &[Turn],
    agent: &User,
) -> Result<tandem_domain::ConversationId, StoreError> {
    let target = MessageTarget::CustomerLatest { inbox_id: inbox.id, customer_id: customer };
    let first = store.append_message(message(target, &turns[0], agent)).await?;
    write_to(store, first.conversation.id, &turns[1..], agent).await?;
    Ok(first.conversation.id)
}

async fn write_to(
    store: &Arc<dyn Store>,
    conversation: tandem_domain::ConversationId,
    turns: &[Turn],
    agent: &User,
) -> Result<(), StoreError> {
    for turn in turns {
        store
            .append_message(message(MessageTarget::Conversation(conversation), turn, agent))
            .await?;
    }
    Ok(())
}

fn message(target: MessageTarget, turn: &Turn, agent: &User) -> NewMessage {
    let author_name = match turn.0 {
        AuthorKind::Agent | AuthorKind::Note => Some(agent.display_name.clone()),
        AuthorKind::Bot => Some(BOT_NAME.to_owned()),
        _ => None,
    };
    NewMessage {
        target,
        author_kind: turn.0,
        author_id: matches!(turn.0, AuthorKind::Agent | AuthorKind::Note).then_some(agent.id.0),
        author_name,
        body: turn.1.into(),
        client_msg_id: None,
        reopen_if_resolved: false,
        only_while_bot_owns: false,
        meta: None,
    }
}
