//! Deterministic signals in a customer message, for routing and for what may be stored or shown:
//! whether the customer asks for a person, complains, threatens legal action, raises a regulated
//! topic (medical, legal or financial advice), makes a privacy request, sends personal data, or
//! packs several questions into one message.
//!
//! Every signal is a phrase list or a small scanner rather than a model, so that each flag can be
//! explained by the words that raised it and a test pins it down. Phrases are matched on
//! [`crate::normalize`]d text; personal data is found in the original, so that its offsets can be
//! used to mask it.

mod lexicon;
mod personal;

pub use personal::{PersonalKind, PersonalSpan, find_personal_data, mask_personal_data};

pub use tandem_domain::Reason;

/// The reasons a message raises, each once, in the order [`Reason`] declares them (all of
/// them [`Reason::OF_A_MESSAGE`]; anger comes from [`crate::sentiment::analyze`]).
pub fn reasons(text: &str) -> Vec<Reason> {
    reasons_of_normalized(text, &crate::normalize(text))
}

/// Like [`reasons`], for a text and its [`crate::normalize`]d form.
pub(crate) fn reasons_of_normalized(text: &str, normalized: &str) -> Vec<Reason> {
    let has = |cues: &[&str]| cues.iter().any(|cue| cue_starts(normalized, cue).next().is_some());
    let flags = [
        (Reason::AsksForHuman, asks_for_person_normalized(normalized)),
        (Reason::Complaint, has(lexicon::COMPLAINT)),
        (Reason::LegalThreat, has(lexicon::LEGAL_THREAT)),
        (Reason::RegulatedMedical, has(lexicon::REGULATED_MEDICAL)),
        (Reason::RegulatedLegal, has(lexicon::REGULATED_LEGAL)),
        (Reason::RegulatedFinancial, has(lexicon::REGULATED_FINANCIAL)),
        (Reason::Privacy, has(lexicon::PRIVACY)),
        (Reason::PersonalData, !find_personal_data(text).is_empty()),
        (Reason::MultiPart, is_multi_part(normalized)),
    ];
    flags.into_iter().filter_map(|(reason, raised)| raised.then_some(reason)).collect()
}

fn is_word_char(character: char) -> bool {
    character.is_ascii_alphanumeric()
}

/// Where `cue` (a [`lexicon`] phrase) starts in normalised text. An end of the phrase that is an
/// ASCII letter or digit must be a word boundary in the text, unless the phrase ends in `*`.
fn cue_starts<'a>(text: &'a str, cue: &'a str) -> impl Iterator<Item = usize> + 'a {
    let (phrase, open_ended) = cue.strip_suffix('*').map_or((cue, false), |stem| (stem, true));
    let check_start = phrase.starts_with(is_word_char);
    let check_end = !open_ended && phrase.ends_with(is_word_char);
    text.match_indices(phrase).map(|(start, _)| start).filter(move |start| {
        let before = text[..*start].chars().next_back();
        let after = text[start + phrase.len()..].chars().next();
        let runs_into_word = (check_start && before.is_some_and(is_word_char))
            || (check_end && after.is_some_and(is_word_char));
        !runs_into_word
    })
}

fn contains_cue(text: &str, cue: &str) -> bool {
    cue_starts(text, cue).next().is_some()
}

/// The ASCII words of normalised text (Chinese characters and punctuation separate them).
fn ascii_words(normalized: &str) -> Vec<&str> {
    normalized
        .split(|character: char| !is_word_char(character))
        .filter(|word| !word.is_empty())
        .collect()
}

/// How many words after a request ("talk to") may come before the person ("a real person").
const PERSON_WINDOW: usize = 3;

/// At most this many English words and this many Chinese characters make a message so short
/// that a bare "agent" or 人工 in it can only be asking for one.
const SHORT_WORDS: usize = 3;
const SHORT_HAN: usize = 3;

/// Whether the customer explicitly asks for a person ("转人工", "can I talk to a human").
pub fn asks_for_person(text: &str) -> bool {
    asks_for_person_normalized(&crate::normalize(text))
}

/// A message that names a person asks for one unless it is a question about the human service
/// (its hours, whether there is one, how to reach it) with no demand in it: "人工客服几点上班？"
/// and "what hours can I talk to a human?" ask about the service, "转人工", "can I talk to a
/// human?" and "几点上班？我要找人工" ask for a person.
fn asks_for_person_normalized(normalized: &str) -> bool {
    let words = ascii_words(normalized);
    names_a_person(normalized, &words)
        && (demands(normalized) || !asks_about_the_service(normalized, &words))
}

/// Whether a desire or an imperative ([`lexicon::PERSON_DEMANDS`]) is in the message, not
/// followed by a wish to know ("我想知道", "I want to know").
fn demands(normalized: &str) -> bool {
    lexicon::PERSON_DEMANDS.iter().any(|cue| {
        cue_starts(normalized, cue).any(|start| {
            let rest = normalized[start + cue.len()..].trim_start();
            !lexicon::WISH_TO_KNOW.iter().any(|know| rest.starts_with(know))
        })
    })
}

/// Whether the message is a question ([`lexicon::INTERROGATIVES`], or an English question's
/// first word) about the human service's hours, existence or contact ([`lexicon::SERVICE_TOPICS`]).
fn asks_about_the_service(normalized: &str, words: &[&str]) -> bool {
    let question = lexicon::INTERROGATIVES.iter().any(|cue| contains_cue(normalized, cue))
        || words.first().is_some_and(|first| lexicon::QUESTION_STARTS.contains(first));
    question && lexicon::SERVICE_TOPICS.iter().any(|cue| contains_cue(normalized, cue))
}

/// Whether the message names a person the way a request for one does: a phrase of
/// [`lexicon::ASKS_FOR_PERSON`], a bare "agent" or 人工 in a very short message, or a request
/// verb followed by a person ("talk to a real person").
fn names_a_person(normalized: &str, words: &[&str]) -> bool {
    let han = normalized.chars().filter(|character| crate::is_han(*character)).count();
    let is_short = words.len() <= SHORT_WORDS && han <= SHORT_HAN;
    lexicon::ASKS_FOR_PERSON.iter().any(|cue| contains_cue(normalized, cue))
        || (is_short && lexicon::PERSON_ALONE.iter().any(|cue| contains_cue(normalized, cue)))
        || (0..words.len()).any(|start| {
            lexicon::PERSON_REQUESTS.iter().any(|request| {
                words[start..].starts_with(request)
                    && words[start + request.len()..]
                        .iter()
                        .take(PERSON_WINDOW)
                        .any(|word| lexicon::PERSON_NOUNS.contains(word))
            })
        })
}

/// Longest message, in characters, that is read as a verdict on the last answer: a longer one
/// says more than "that didn't help" and is answered as a question of its own.
const DIDNT_HELP_CHARS: usize = 30;

/// Whether the customer says, in a short message, that the last answer did not help ("没用",
/// "that's not it").
/// A correction ("不是这个，我是问退货" is one, a bare "不是这个" is not) is not a verdict: its
/// new question is answered instead (see [`correction`]).
pub fn says_it_did_not_help(text: &str) -> bool {
    let normalized = crate::normalize(text);
    text.chars().count() <= DIDNT_HELP_CHARS
        && lexicon::DIDNT_HELP.iter().any(|cue| contains_cue(&normalized, cue))
        && !correction(text).is_some_and(|correction| correction.substantive)
}

/// A customer correcting the bot: a correction cue ("不是这个", "不对", "no", "that's not what I
/// asked") at the start of the message, then what they meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Correction {
    /// What they meant, normalised, with the cue and any lead-in ("我是问", "I meant") removed.
    pub question: String,
    /// Whether it says enough to be a question of its own: two English words or four Chinese
    /// characters that are not fillers ("那个", "the other one"), or after a lead-in ("我是问",
    /// "I meant") one word or two characters. A shorter one may still name an article (the bot
    /// checks).
    pub substantive: bool,
}

/// The correction in a message: a cue from [`lexicon::CORRECTION_CUES`] at its start, set off by
/// punctuation or followed by a lead-in ([`lexicon::CORRECTION_LEAD_INS`]), and something after
/// it. `None` for a bare "不是这个" or "no", and for messages that only start like one ("不是我的
/// 订单", "no refund yet").
pub fn correction(text: &str) -> Option<Correction> {
    let normalized = crate::normalize(text);
    let trimmed = normalized.trim();
    let cue = lexicon::CORRECTION_CUES.iter().find(|cue| {
        trimmed.starts_with(**cue)
            && !(cue.ends_with(is_word_char) && trimmed[cue.len()..].starts_with(is_word_char))
    })?;
    let after_cue = &trimmed[cue.len()..];
    let is_separator = |character: char| {
        !is_word_char(character) && !crate::is_han(character) && character != '\''
    };
    let rest = after_cue.trim_start_matches(is_separator);
    // Punctuation after the cue ("不是，…", "no, …"), not only a space.
    let set_off = rest.len() != after_cue.trim_start().len();
    let lead_in = lexicon::CORRECTION_LEAD_INS.iter().find(|lead_in| {
        rest.starts_with(**lead_in)
            && !(lead_in.ends_with(is_word_char) && rest[lead_in.len()..].starts_with(is_word_char))
    });
    if !set_off && lead_in.is_none() {
        return None;
    }
    let question = lead_in
        .map_or(rest, |lead_in| &rest[lead_in.len()..])
        .trim_matches(is_separator)
        .to_owned();
    if question.is_empty() {
        return None;
    }
    let substantive = substance(&question) >= if lead_in.is_some() { 1 } else { 2 };
    Some(Correction { question, substantive })
}

/// How much a correction's question says: its English words and its Chinese characters (a
/// Chinese character counting half), leaving out [`lexicon::CORRECTION_FILLERS`].
fn substance(question: &str) -> usize {
    let mut han = question.to_owned();
    for filler in lexicon::CORRECTION_FILLERS.iter().filter(|filler| !filler.is_ascii()) {
        han = han.replace(filler, "");
    }
    let han = han.chars().filter(|character| crate::is_han(*character)).count();
    let words = ascii_words(question)
        .into_iter()
        .filter(|word| !lexicon::CORRECTION_FILLERS.contains(word))
        .count();
    words + han / 2
}

/// Longer messages (in characters, white space collapsed) are multi-part whatever they say.
const LONG_MESSAGE: usize = 300;

/// A message with this many questions or parts is multi-part.
const MANY_PARTS: usize = 3;

/// Three or more questions, parts joined by connectors ("另外", "also,"), or numbered points;
/// or a message too long to answer in one go.
fn is_multi_part(normalized: &str) -> bool {
    let connectors = lexicon::CONNECTORS
        .iter()
        .map(|cue| cue_starts(normalized, cue).count())
        .chain(lexicon::CLAUSE_CONNECTORS.iter().map(|cue| clause_starts(normalized, cue)))
        .sum::<usize>();
    normalized.chars().count() > LONG_MESSAGE
        || question_count(normalized) >= MANY_PARTS
        || connectors + 1 >= MANY_PARTS
        || (numbered_item(normalized, '1') && numbered_item(normalized, '2'))
        || lexicon::ENUMERATION_PAIRS.iter().any(|(first, second)| {
            contains_cue(normalized, first) && contains_cue(normalized, second)
        })
}

/// Question marks, counting a run ("???") once: it is one question asked impatiently.
fn question_count(normalized: &str) -> usize {
    normalized.match_indices('?').filter(|(start, _)| !normalized[..*start].ends_with('?')).count()
}

/// How often `cue` starts a clause: at the start of the message, after punctuation, or after
/// "and".
fn clause_starts(normalized: &str, cue: &str) -> usize {
    cue_starts(normalized, cue)
        .filter(|start| {
            let before = normalized[..*start].trim_end();
            before.is_empty()
                || before.ends_with(['.', ',', ';', ':', '!', '?', '。', '、'])
                || before.strip_suffix("and").is_some_and(|rest| !rest.ends_with(is_word_char))
        })
        .count()
}

/// Whether a point numbered `number` starts somewhere: "1." "1)" "1、" "1:" not inside a longer
/// number or word and not followed by a digit ("1.5 kg", "2024.1.5", "1:30").
fn numbered_item(normalized: &str, number: char) -> bool {
    normalized.match_indices(number).any(|(start, _)| {
        let before = normalized[..start].chars().next_back();
        let mut after = normalized[start + number.len_utf8()..].chars();
        !before.is_some_and(is_word_char)
            && after.next().is_some_and(|marker| matches!(marker, '.' | ')' | '、' | ':'))
            && !after.next().is_some_and(|next| next.is_ascii_digit())
    })
}

#[cfg(test)]
mod tests {
    use super::Reason::*;
    use super::*;

    fn check(text: &str, expected: &[Reason]) {
        assert_eq!(reasons(text), expected, "{text:?}");
    }

    #[test]
    fn saying_the_answer_did_not_help() {
        for text in ["没用", "这个回答没有帮助", "不对，不是这个", "That didn't help", "useless"]
        {
            assert!(says_it_did_not_help(text), "{text:?}");
        }
        for text in [
            "怎么退货",
            "is this useful for travel?",
            "这个充电器我用了一周，发现完全没用，想问一下怎么申请退货退款，需要寄回吗？",
        ] {
            assert!(!says_it_did_not_help(text), "{text:?}");
        }
    }

    #[test]
    fn asking_for_a_person() {
        let cases: &[(&str, &[Reason])] = &[
            ("转人工", &[AsksForHuman]),
            ("人工！", &[AsksForHuman]),
            ("我要人工客服", &[AsksForHuman]),
            ("你是机器人吗？我要找真人", &[AsksForHuman]),
            ("agent please", &[AsksForHuman]),
            ("HUMAN", &[AsksForHuman]),
            ("Can I talk to a real person please", &[AsksForHuman]),
            ("I want to speak to someone about my refund", &[AsksForHuman]),
            ("connect me with an agent", &[AsksForHuman]),
            ("Can I get a representative", &[AsksForHuman]),
            ("My travel agent booked the wrong hotel for me", &[]),
            ("What user agent does the app send", &[]),
            ("人工智能翻译功能怎么用", &[]),
            ("人工智能", &[]),
            ("我要轉人工", &[AsksForHuman]),
            ("I'll talk to my husband about it", &[]),
        ];
        for (text, expected) in cases {
            check(text, expected);
        }
    }

    /// Questions about the human service (its hours, whether there is one, how to reach it):
    /// answered from the knowledge base, not handed off.
    const ZH_SERVICE_QUESTIONS: &[&str] = &[
        "人工客服几点上班？",
        "你们有人工客服吗",
        "人工服务时间是什么时候",
        "人工客服什么时候下班",
        "有没有人工客服",
        "人工客服周末上班吗",
        "人工客服是24小时的吗",
        "请问人工服务几点开始",
        "人工客服电话是多少",
        "你们客服几点下班呀",
        "节假日有人工客服吗？",
        "我想知道人工客服的工作时间",
        "人工客服晚上几点下班",
        "是否有人工服务",
        "有真人客服吗",
        "人工坐席什么时间在线",
        "帮我查一下人工客服几点上班",
        "人工客服热线是多少？",
    ];

    /// Requests for a person: handed off.
    const ZH_REQUESTS: &[&str] = &[
        "转人工",
        "我要找人工客服",
        "给我接人工",
        "人工！",
        "我要人工客服",
        "帮我转人工",
        "请转人工",
        "转人工？",
        "人工客服",
        "我想找真人聊",
        "不要机器人，给我人工",
        "快点转人工",
        "马上给我接客服",
        "找你们经理来",
        "人工客服几点上班？我要找人工",
        "我在上班没空，转人工",
        "你是机器人吗？我要找真人",
        "赶紧叫人工",
    ];

    const EN_SERVICE_QUESTIONS: &[&str] = &[
        "do you have live agents?",
        "what are your customer service hours?",
        "when can I talk to a real person — what hours?",
        "what hours can I talk to a human?",
        "when are humans available?",
        "Is there a human agent I can reach on weekends?",
        "Are there real people working there?",
        "What time do your human agents start?",
        "Do you offer a live agent on holidays?",
        "Is a live agent available 24/7?",
        "When does the live person chat open?",
        "What are the opening hours of your human agents",
        "I want to know when I can speak to a real person",
        "Which days can I talk to a representative?",
        "Does your support have a real human?",
        "What's the phone number for a representative?",
        "I need to know your live agent hours",
    ];

    const EN_REQUESTS: &[&str] = &[
        "let me talk to a human",
        "I want a real person",
        "agent please",
        "can I talk to a human?",
        "Can I talk to a real person please",
        "connect me with an agent",
        "transfer me to a human",
        "I need a real person now",
        "get me a manager",
        "HUMAN",
        "I want to speak to someone about my refund",
        "put me through to a representative",
        "Can I get a representative",
        "I'd like to speak with a live agent",
        "I've waited for hours, let me talk to a human",
        "I would like to talk to a person",
        "give me a real human, what time is it there anyway?",
        "Speak to a human",
    ];

    /// Precision of asks-for-human on questions about the service (none may be flagged) and
    /// recall on requests (all must be), in both languages.
    #[test]
    fn questions_about_the_human_service_are_not_requests_for_one() {
        for (questions, requests) in
            [(ZH_SERVICE_QUESTIONS, ZH_REQUESTS), (EN_SERVICE_QUESTIONS, EN_REQUESTS)]
        {
            let flagged: Vec<&&str> =
                questions.iter().filter(|text| asks_for_person(text)).collect();
            let missed: Vec<&&str> =
                requests.iter().filter(|text| !asks_for_person(text)).collect();
            assert!(flagged.is_empty(), "questions flagged as requests: {flagged:?}");
            assert!(missed.is_empty(), "requests missed: {missed:?}");
        }
        assert!(reasons("人工客服几点上班？").is_empty());
        assert_eq!(reasons("转人工"), [AsksForHuman]);
    }

    #[test]
    fn corrections_carry_the_question_meant() {
        let cases: &[(&str, Option<(&str, bool)>)] = &[
            ("不是这个，我是问退货", Some(("退货", true))),
            ("不是这个，我是问退货怎么办", Some(("退货怎么办", true))),
            ("不是，我想问的是发票", Some(("发票", true))),
            ("不对，发票怎么开？", Some(("发票怎么开", true))),
            ("不是这个我是问运费", Some(("运费", true))),
            ("不对，退货", Some(("退货", false))),
            ("不是这个，是那个", Some(("那个", false))),
            ("no, I meant shipping costs", Some(("shipping costs", true))),
            ("no, I meant how do returns work", Some(("how do returns work", true))),
            ("that's not what I asked, I want to know about returns", Some(("returns", true))),
            ("Not that. How do I get an invoice?", Some(("how do i get an invoice", true))),
            ("no, the other one", Some(("the other one", false))),
            ("不是这个", None),
            ("不是这个。", None),
            ("that's not it", None),
            ("no", None),
            ("No.", None),
            ("不是我的订单", None),
            ("不对劲，手机充不进电", None),
            ("no refund yet", None),
            ("nothing arrived", None),
            ("怎么退货", None),
        ];
        for (text, expected) in cases {
            let found = correction(text);
            let found = found.as_ref().map(|found| (found.question.as_str(), found.substantive));
            assert_eq!(found, *expected, "{text:?}");
        }
        // A correction with a question of its own is not a verdict on the answer; a bare one is.
        assert!(!says_it_did_not_help("不是这个，我是问退货怎么办"));
        assert!(says_it_did_not_help("不是这个"));
        assert!(says_it_did_not_help("不是这个，是那个"));
        assert!(says_it_did_not_help("that's not it"));
    }

    #[test]
    fn complaints_and_legal_threats() {
        let cases: &[(&str, &[Reason])] = &[
            ("我要投诉你们，服务太差了", &[Complaint]),
            ("This is unacceptable, I want to file a complaint", &[Complaint]),
            ("Terrible service, very disappointed", &[Complaint]),
            ("再不退款我就打12315", &[LegalThreat]),
            ("我已经联系律师了，准备起诉", &[LegalThreat]),
            ("我要投诉！再不处理就去消费者协会", &[Complaint, LegalThreat]),
            ("I'll have my lawyer contact you and sue", &[LegalThreat]),
            ("See you in court.", &[LegalThreat]),
            ("I will report you to consumer protection", &[LegalThreat]),
            ("I have an issue with my order", &[]),
            ("Thanks for your courtesy", &[]),
            ("I will pursue this with the shop", &[]),
            ("曝光补偿怎么调", &[]),
            ("回复112315号", &[]),
        ];
        for (text, expected) in cases {
            check(text, expected);
        }
    }

    #[test]
    fn regulated_topics() {
        let cases: &[(&str, &[Reason])] = &[
            ("这个药孕妇可以吃吗", &[RegulatedMedical]),
            ("What is the right dosage? Any side effects", &[RegulatedMedical]),
            ("Is it safe during pregnancy", &[RegulatedMedical]),
            ("合同纠纷怎么处理", &[RegulatedLegal]),
            ("Is it legal to resell the tickets", &[RegulatedLegal]),
            ("你们的基金值得投资吗", &[RegulatedFinancial]),
            ("Should I invest in your fund or buy stocks", &[RegulatedFinancial]),
            ("Should I take out a loan to buy the sofa", &[RegulatedFinancial]),
            ("我的贷款什么时候到账", &[]),
            ("Can I use the refund to pay off my loan", &[]),
            ("手机有毛病，屏幕一直闪", &[]),
            ("Is the blue one still in stock", &[]),
            ("What's on the agenda for the sale", &[]),
            ("Do you have a loaner phone", &[]),
        ];
        for (text, expected) in cases {
            check(text, expected);
        }
    }

    #[test]
    fn privacy_and_personal_data() {
        let cases: &[(&str, &[Reason])] = &[
            ("请帮我注销账号并删除我的数据", &[Privacy]),
            ("Under GDPR, what data do you have on me", &[Privacy]),
            ("Please delete my account", &[Privacy]),
            ("我的手机号是13800138000", &[PersonalData]),
            ("card 4111 1111 1111 1111 was charged", &[PersonalData]),
            ("订单 20241123001 还没发货", &[]),
            ("我付了¥1999，2024-11-23下的单", &[]),
        ];
        for (text, expected) in cases {
            check(text, expected);
        }
    }

    #[test]
    fn multi_part_messages() {
        let long = "我买的东西一直没有到，".repeat(30);
        let cases: &[(&str, &[Reason])] = &[
            ("1. 退货 2. 换货 3. 发票", &[MultiPart]),
            ("一、怎么退货 二、发票怎么开", &[MultiPart]),
            ("Where is my order? Can I change the address? How do refunds work?", &[MultiPart]),
            ("我想退货。另外，发票怎么开。还有一个问题，运费谁出", &[MultiPart]),
            ("Where is my parcel. Also, the box was open. Also what about my coupon", &[MultiPart]),
            (&long, &[MultiPart]),
            ("Where is my order???", &[]),
            ("第一次买，第二天就坏了", &[]),
            ("Version 1.5 or 2.0, bought 2024.1.5 at 1:30", &[]),
            ("还有货吗？还有红色的吗？", &[]),
            ("Can I also pay by card and also use a coupon", &[]),
        ];
        for (text, expected) in cases {
            check(text, expected);
        }
    }
}
