//! What Tandem itself says to customers, in each supported language.

use tandem_domain::Locale;

/// The customer-facing sentences of the bot and of system messages.
#[derive(Debug, Clone, Copy)]
pub struct Phrases {
    /// The placeholder bot's reply; `{bot}` is replaced by the bot's name.
    pub acknowledge: &'static str,
    pub handing_off: &'static str,
    /// `{agent}` is replaced by the agent's display name.
    pub agent_joined: &'static str,
    pub back_to_bot: &'static str,
    pub back_to_queue: &'static str,
    pub resolved: &'static str,
    pub reopened: &'static str,
    /// Two articles are close: ask which one (the titles follow as buttons).
    pub clarify: &'static str,
    /// Nothing in the knowledge base answers the question.
    pub cannot_answer: &'static str,
    /// The answer did not help and there is nothing else to offer.
    pub sorry_handing_off: &'static str,
    /// A regulated question: a qualified person checks the answer before the customer gets it.
    pub specialist_review: &'static str,
    /// The bot could not help and a person takes over.
    pub connecting_after_failure: &'static str,
    /// Nobody is in: `{time}` is when the queue opens (its local time).
    pub after_hours: &'static str,
    /// The queue opened: an after-hours ticket goes to a person.
    pub follow_up_now: &'static str,
    /// Before asking again for a parameter that did not fit.
    pub action_retry: &'static str,
    /// A parameter could not be understood after several tries: a person takes over.
    pub action_gave_up: &'static str,
    /// An action that reveals personal data, for a customer who has not logged in.
    pub login_required: &'static str,
    /// Weekday names, Monday first, for `{time}`.
    pub weekdays: [&'static str; 7],
}

const ZH: Phrases = Phrases {
    acknowledge: "您好，我是{bot}。已收到您的消息，不过这个问题我暂时还无法自动解答。如需人工帮助，请点击“转人工”或回复“人工”，客服会尽快接手。",
    handing_off: "好的，正在为您转接人工客服，请稍候。",
    agent_joined: "客服 {agent} 已加入对话",
    back_to_bot: "对话已转回智能助手",
    back_to_queue: "对话已重新排队，下一位客服将尽快接手",
    resolved: "对话已结束。如还有问题，直接发送消息即可。",
    reopened: "对话已重新打开",
    clarify: "您想问的是下面哪一个？",
    sorry_handing_off: "抱歉没能帮到您，正在为您转接人工客服，请稍候。",
    cannot_answer: "抱歉，这个问题我还不能准确回答，不想给您错误的信息。您可以换个说法再问我，或点击“转人工”由客服为您处理。",
    specialist_review: "这个问题需要专业人员确认后再答复您，已为您转接，请稍候。",
    connecting_after_failure: "看来我没能解决您的问题，已为您转接人工客服，请稍候。",
    after_hours: "现在是非工作时间，已为您登记，人工客服将于{time}起尽快回复您。在此之前，我会继续为您解答。",
    follow_up_now: "人工客服已上班，正在为您转接，请稍候。",
    action_retry: "抱歉，这个好像不太对。",
    action_gave_up: "抱歉，我还是没能识别出来，已为您转接人工客服，请稍候。",
    login_required: "查询这些信息需要先登录账号。请登录后再问我一次，或点击“转人工”由客服为您核实身份。",
    weekdays: ["周一", "周二", "周三", "周四", "周五", "周六", "周日"],
};

const EN: Phrases = Phrases {
    acknowledge: "Hi, I'm {bot}. I got your message, but I can't answer this one automatically yet. Tap \"Talk to a person\" or reply \"agent\" and a member of our team will take over.",
    handing_off: "Sure — connecting you to a person now. Please hold on.",
    agent_joined: "{agent} joined the conversation",
    back_to_bot: "The assistant is back in this conversation",
    back_to_queue: "You're back in the queue; the next available person will reply",
    resolved: "This conversation is resolved. Write again any time if you need more help.",
    reopened: "The conversation was reopened",
    clarify: "Which of these did you mean?",
    sorry_handing_off: "Sorry that didn't help — I'm connecting you to a person now.",
    cannot_answer: "Sorry, I can't answer that reliably and I'd rather not guess. Try asking another way, or tap \"Talk to a person\" and a member of our team will help.",
    specialist_review: "A qualified member of our team needs to check the answer to this one. I've passed it on; please hold on.",
    connecting_after_failure: "It looks like I couldn't solve this for you, so I've asked a person to take over. Please hold on.",
    after_hours: "Our team is offline right now. I've noted your request and a person will get back to you from {time}. Until then, I'll keep helping.",
    follow_up_now: "Our team is back — connecting you to a person now.",
    action_retry: "Sorry, that doesn't look right. ",
    action_gave_up: "Sorry, I still couldn't make that out — I'm connecting you to a person now.",
    login_required: "I can look that up once you're logged in. Please log in and ask me again, or tap \"Talk to a person\" and a member of our team will verify your identity.",
    weekdays: ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
};

impl Phrases {
    pub fn for_locale(locale: Locale) -> &'static Phrases {
        match locale {
            Locale::Zh => &ZH,
            Locale::En => &EN,
        }
    }
}
