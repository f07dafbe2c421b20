//! The demo workspace that `tandem demo` seeds: a Chinese online shop with an English side,
//! three agents, two queues, a dozen knowledge articles, a few customers and past
//! conversations in every state.

use std::collections::BTreeMap;
use std::sync::Arc;

use tandem_domain::{
    AgentRouting, ArticleStatus, AuthorKind, Channel, Inbox, Locale, Presence, QueueRouting, Role,
    Transition, User, WorkspaceId,
};
use tandem_store::{
    MessageTarget, NewArticle, NewCustomer, NewInbox, NewMessage, NewUser, Store, StoreError,
    VerifiedCustomer,
};

use tandem_server::auth::{hash_password, random_token};

use crate::DemoError;

const BOT_NAME: &str = "小河";

/// The shop's own id of its signed-in demo customer 张伟; `/demo?as=u-1001` signs in as him.
pub const DEMO_USER_ID: &str = "u-1001";
pub const DEMO_USER_NAME: &str = "张伟";
pub const DEMO_USER_EMAIL: &str = "zhangwei@example.cn";

/// The setting that marks the demo workspace, the only one whose widget `/demo` may sign in
/// as [`DEMO_USER_ID`] (a real workspace's inbox must never get a hash from a public page).
pub const DEMO_WORKSPACE_SETTING: &str = "demo_workspace_id";

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
/// Points the demo workspace's model settings at the echo model served at `url` (switched
/// off: an admin turns it on in Settings → Model to see answers streamed).
pub async fn point_model_at(store: &Arc<dyn Store>, url: &str) -> Result<(), DemoError> {
    let Some(workspace) = store.workspaces().await?.first().map(|workspace| workspace.id) else {
        return Ok(());
    };
    let settings = tandem_llm::LlmSettings {
        base_url: format!("{url}{}", crate::echo_model::BASE_PATH),
        model: "echo".to_owned(),
        api_key_env: None,
        allow_external: true,
        timeout_ms: 3_000,
        total_timeout_ms: 5_000,
        ..tandem_llm::LlmSettings::default()
    };
    tandem_bot::model::save_llm_settings(store.as_ref(), workspace, &settings).await?;
    Ok(())
}

pub async fn seed(store: &Arc<dyn Store>) -> Result<bool, DemoError> {
    if !store.workspaces().await?.is_empty() {
        return Ok(false);
    }
    let workspace = store.create_workspace("星河商城 Galaxy Shop").await?.id;
    store.setting_or_insert(DEMO_WORKSPACE_SETTING, &workspace.0.to_string()).await?;
    let inbox = store
        .create_inbox(NewInbox {
            workspace_id: workspace,
            name: "星河商城 Galaxy Shop".into(),
            channel: Channel::Web,
            public_key: format!("pk_{}", random_token()),
            bot_name: BOT_NAME.into(),
        })
        .await?;
    let queue = |topics: &[&str], skills: &[(&str, u8)]| QueueRouting {
        topics: topics.iter().map(|topic| (*topic).to_owned()).collect(),
        skills: skills.iter().map(|(skill, level)| ((*skill).to_owned(), *level)).collect(),
        ..QueueRouting::default()
    };
    store
        .create_queue(
            workspace,
            "售前咨询 Pre-sales",
            "Product questions before buying; 中文 and English",
            queue(&["活动", "会员", "支付", "发票", "contact"], &[]),
        )
        .await?;
    store
        .create_queue(
            workspace,
            "售后服务 After-sales",
            "Orders, deliveries, returns and refunds",
            queue(&["售后", "退货", "物流", "after-sales", "returns", "shipping"], &[]),
        )
        .await?;
    store
        .create_queue(
            workspace,
            "投诉与纠纷 Disputes",
            "Complaints, refund disputes and legal threats: experienced staff only",
            queue(&["complaint", "legal_threat", "anger"], &[("disputes", 3)]),
        )
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
                    password_hash: hash_password(account.password)
                        .map_err(|error| DemoError::Password(error.to_string()))?,
                })
                .await?,
        );
    }
    // Who takes what: 李强 handles disputes; Emily takes English and simple Chinese; 王芳
    // (the admin) is offline until she switches herself on.
    let skills: [&[(&str, u8)]; 3] = [
        &[("lang:zh", 5), ("lang:en", 4)],
        &[("disputes", 4), ("lang:zh", 5), ("lang:en", 3)],
        &[("lang:en", 5), ("lang:zh", 2)],
    ];
    for (agent, skills) in agents.iter().zip(skills) {
        let mut routing = AgentRouting::new(agent.id);
        routing.skills =
            skills.iter().map(|(skill, level)| ((*skill).to_owned(), *level)).collect();
        routing.presence =
            if agent.role == Role::Admin { Presence::Offline } else { Presence::Online };
        store.save_agent_routing(routing).await?;
    }
    seed_conversations(store, workspace, &inbox, &agents).await?;
    store
        .save_articles(workspace, articles(), ArticleStatus::Published, Some(agents[0].id))
        .await?;
    crate::shop::seed_actions(store, workspace).await?;
    Ok(true)
}

/// The demo shop's knowledge base: what its customers ask most, in Chinese and English.
fn articles() -> Vec<NewArticle> {
    let article = NewArticle::new;
    vec![
        article(
            "returns",
            Locale::Zh,
            "退货政策",
            &[
                "怎么退货",
                "可以退货吗",
                "七天无理由退货",
                "退货要运费吗",
                "退货流程是什么",
                "买错了能退吗",
            ],
            "签收后 7 天内可申请无理由退货（商品及包装保持完好）。在「我的订单」中选择商品，点击「申请退货」，快递员会上门取件；退款在我们收到退货后 1–3 个工作日原路返回。质量问题退货运费由我们承担。",
            &["售后", "退货"],
        ),
        article(
            "returns-en",
            Locale::En,
            "Return policy",
            &[
                "how do i return an item",
                "can i return my order",
                "what is your return policy",
                "who pays for return shipping",
                "i want to send something back",
            ],
            "You can return any item within 7 days of delivery, unused and in its original packaging. Open My orders, choose the item and tap Request a return; a courier collects it. Refunds go back to your original payment within 1–3 working days after we receive the return. We cover return shipping for faulty items.",
            &["after-sales", "returns"],
        ),
        article(
            "shipping",
            Locale::Zh,
            "发货时间",
            &["什么时候发货", "多久能发货", "下单后几天发货", "怎么还没发货", "发什么快递"],
            "现货商品在付款后 48 小时内发货（预售商品以商品页标注为准），默认使用顺丰或京东快递，江浙沪一般次日达，其他地区 2–4 天送达。",
            &["物流"],
        ),
        article(
            "shipping-en",
            Locale::En,
            "Shipping times",
            &[
                "how long does shipping take",
                "when will my order ship",
                "how long until my order arrives",
                "which courier do you use",
            ],
            "In-stock items ship within 48 hours of payment (pre-orders on the date shown on the product page). Delivery inside mainland China takes 1–4 days; international orders take 7–15 working days.",
            &["shipping"],
        ),
        article(
            "track-order",
            Locale::Zh,
            "查询物流",
            &["我的快递到哪了", "怎么查物流", "订单到哪了", "查看物流信息", "包裹一直没更新"],
            "在「我的订单」中点开订单，点击「查看物流」即可看到实时物流轨迹。物流超过 48 小时没有更新，请回复「人工」，客服会帮您联系快递核实。",
            &["物流"],
        ),
        article(
            "track-order-en",
            Locale::En,
            "Track an order",
            &[
                "where is my order",
                "track my package",
                "my parcel has not arrived",
                "what is my delivery status",
                "tracking number",
            ],
            "Open My orders, tap the order and choose Track to see where your parcel is. If tracking has not moved for 48 hours, reply \"agent\" and we will chase the courier for you.",
            &["shipping"],
        ),
        article(
            "invoice",
            Locale::Zh,
            "开发票",
            &["怎么开发票", "能开专票吗", "发票抬头怎么改", "电子发票在哪下载", "可以开公司发票吗"],
            "订单完成后，在「我的订单」→ 订单详情中点击「申请发票」，可开具个人或企业电子普通发票，增值税专用发票请填写企业税号及开户信息。电子发票会在 24 小时内发送到您的邮箱。",
            &["发票"],
        ),
        article(
            "payment",
            Locale::Zh,
            "支付方式",
            &[
                "支持哪些支付方式",
                "可以用信用卡吗",
                "能用花呗吗",
                "支持微信支付吗",
                "付款失败怎么办",
            ],
            "支持微信支付、支付宝（含花呗分期）、银联储蓄卡和信用卡，以及 Visa / Mastercard 国际信用卡。付款失败时请确认银行卡额度，或换一种支付方式重试。",
            &["支付"],
        ),
        article(
            "points",
            Locale::Zh,
            "会员积分",
            &["积分怎么用", "积分怎么获得", "积分会过期吗", "积分可以抵现吗"],
            "每消费 1 元得 1 积分，100 积分可抵 1 元，结算时勾选「使用积分」即可。积分在获得后的次年 12 月 31 日过期。",
            &["会员"],
        ),
        article(
            "double11",
            Locale::Zh,
            "双十一活动",
            &["双十一什么时候开始", "双十一有什么优惠", "双11活动规则", "双十一满减"],
            "双十一活动 11 月 1 日 20:00 开始，至 11 月 11 日 23:59 结束：全场满 300 减 50，可与店铺优惠券叠加，会员另享 95 折。",
            &["活动"],
        ),
        article(
            "warranty",
            Locale::Zh,
            "保修政策",
            &["怎么保修", "保修期多久", "坏了可以修吗", "质量问题怎么办"],
            "电子产品享受 1 年免费保修（人为损坏除外）。签收 15 天内出现质量问题可直接换新。请在「我的订单」中点击「申请售后」并上传照片。",
            &["售后"],
        ),
        article(
            "service-hours",
            Locale::En,
            "Customer service hours",
            &[
                "when are you open",
                "what are your opening hours",
                "can i talk to someone at night",
                "客服几点上班",
            ],
            "Our assistant answers around the clock. People are available 09:00–22:00 (Beijing time) every day; messages sent outside those hours are answered first thing the next morning.",
            &["contact"],
        ),
    ]
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
    // 张伟 is a signed-in customer of the shop (identity verification): his history is the
    // same on every device the demo page signs in as him.
    let zhang = customer(
        DEMO_USER_NAME,
        Some(DEMO_USER_EMAIL),
        Locale::Zh,
        &[("tier", "gold"), ("value", "3200"), ("city", "上海"), ("orders", "23")],
    );
    let zhang = store
        .verified_customer(VerifiedCustomer {
            workspace_id: workspace,
            external_id: DEMO_USER_ID.into(),
            name: Some(zhang.name),
            email: zhang.email,
            locale: zhang.locale,
            attributes: zhang.attributes,
        })
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
        decision: None,
        sentiment: None,
    }
}
