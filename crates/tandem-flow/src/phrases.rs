//! What Tandem itself says to customers, in each supported language: the `[phrases]` table of
//! the translation catalogue (tandem-locales), as plain `&'static str`s that replies can hold.

use std::sync::LazyLock;

use tandem_domain::{Channel, Locale};
use tandem_locales::Catalogue;

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
    /// One answer of a reply to several questions: `{part}` is the question in the customer's
    /// words, `{answer}` the article's answer.
    pub part_answer: &'static str,
    /// The questions of a message that a person takes over (`{parts}`, each quoted).
    pub parts_left: &'static str,
    /// A parameter could not be understood after several tries: a person takes over.
    pub action_gave_up: &'static str,
    /// An action that reveals personal data, for a customer who has not logged in.
    pub login_required: &'static str,
    /// Weekday names, Monday first, for `{time}`.
    pub weekdays: [&'static str; 7],
}

static ZH: LazyLock<Phrases> = LazyLock::new(|| Phrases::from_catalogue(Locale::Zh));
static EN: LazyLock<Phrases> = LazyLock::new(|| Phrases::from_catalogue(Locale::En));
static ZH_BY_REPLY: LazyLock<Phrases> = LazyLock::new(|| ZH.by_reply(Locale::Zh));
static EN_BY_REPLY: LazyLock<Phrases> = LazyLock::new(|| EN.by_reply(Locale::En));

impl Phrases {
    pub fn for_locale(locale: Locale) -> &'static Phrases {
        match locale {
            Locale::Zh => &ZH,
            Locale::En => &EN,
        }
    }

    /// The sentences for a customer on `channel`: where there is no "talk to a person"
    /// button, those that name it say to reply instead.
    pub fn for_channel(locale: Locale, channel: Channel) -> &'static Phrases {
        match (locale, channel.is_live_chat()) {
            (_, true) => Phrases::for_locale(locale),
            (Locale::Zh, false) => &ZH_BY_REPLY,
            (Locale::En, false) => &EN_BY_REPLY,
        }
    }

    fn by_reply(&self, locale: Locale) -> Phrases {
        let phrases = &Catalogue::for_locale(locale).phrases;
        Phrases {
            acknowledge: &phrases.acknowledge_by_reply,
            cannot_answer: &phrases.cannot_answer_by_reply,
            login_required: &phrases.login_required_by_reply,
            ..*self
        }
    }

    /// Borrows the catalogue's sentences, which live as long as the program.
    fn from_catalogue(locale: Locale) -> Phrases {
        let phrases = &Catalogue::for_locale(locale).phrases;
        Phrases {
            acknowledge: &phrases.acknowledge,
            handing_off: &phrases.handing_off,
            agent_joined: &phrases.agent_joined,
            back_to_bot: &phrases.back_to_bot,
            back_to_queue: &phrases.back_to_queue,
            resolved: &phrases.resolved,
            reopened: &phrases.reopened,
            clarify: &phrases.clarify,
            cannot_answer: &phrases.cannot_answer,
            sorry_handing_off: &phrases.sorry_handing_off,
            specialist_review: &phrases.specialist_review,
            connecting_after_failure: &phrases.connecting_after_failure,
            after_hours: &phrases.after_hours,
            follow_up_now: &phrases.follow_up_now,
            action_retry: &phrases.action_retry,
            part_answer: &phrases.part_answer,
            parts_left: &phrases.parts_left,
            action_gave_up: &phrases.action_gave_up,
            login_required: &phrases.login_required,
            weekdays: phrases.weekdays.each_ref().map(String::as_str),
        }
    }
}
