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
    let literal = without_figures_of_speech(normalized);
    let flags = [
        (Reason::AsksForHuman, asks_for_person_normalized(normalized)),
        (Reason::Complaint, has(lexicon::COMPLAINT)),
        (Reason::LegalThreat, has(lexicon::LEGAL_THREAT)),
        (Reason::RegulatedMedical, has(lexicon::REGULATED_MEDICAL) || medical_situation(&literal)),
        (Reason::RegulatedLegal, has(lexicon::REGULATED_LEGAL) || legal_situation(&literal)),
        (
            Reason::RegulatedFinancial,
            has(lexicon::REGULATED_FINANCIAL) || financial_situation(&literal),
        ),
        (Reason::Privacy, has(lexicon::PRIVACY)),
        (Reason::PersonalData, !find_personal_data(text).is_empty()),
        (Reason::MultiPart, is_multi_part(normalized)),
    ];
    flags.into_iter().filter_map(|(reason, raised)| raised.then_some(reason)).collect()
}

/// Normalised text without [`lexicon::FIGURES_OF_SPEECH`] ("让人头疼", "still valid"), where
/// regulated situations are looked for.
fn without_figures_of_speech(normalized: &str) -> String {
    lexicon::FIGURES_OF_SPEECH
        .iter()
        .fold(normalized.to_owned(), |text, figure| text.replace(figure, " "))
}

fn has_any(text: &str, cues: &[&str]) -> bool {
    cues.iter().any(|cue| contains_cue(text, cue))
}

/// A health condition or an effect on the body ("高血压能喝吗"), or a symptom
/// ([`lexicon::SYMPTOMS`]) after using a product or on a part of the body: "用了面霜脸上起红疹",
/// "after taking the supplement I get headaches".
fn medical_situation(literal: &str) -> bool {
    has_any(literal, lexicon::HEALTH)
        || (has_any(literal, lexicon::SYMPTOMS)
            && (has_any(literal, lexicon::USE_CUES) || has_any(literal, lexicon::BODY_PARTS)))
}

/// Whether a contract, clause, term or policy ([`lexicon::LEGAL_OBJECTS`]) is lawful, valid or
/// enforceable ([`lexicon::LEGALITY`]): "你们这个霸王条款合法吗", "is this no-refund clause
/// enforceable?". "合同在哪里下载" asks nothing of the law, "is my code valid" names no contract.
fn legal_situation(literal: &str) -> bool {
    has_any(literal, lexicon::LEGALITY) && has_any(literal, lexicon::LEGAL_OBJECTS)
}

/// Which saving or investment product to choose, or whether to put money in one: an
/// [`lexicon::INVESTMENTS`] cue with an [`lexicon::ADVICE`] one ("我该买哪个理财产品", "should I
/// move my savings into your fund plan?"). "when will my loan arrive" asks no advice.
fn financial_situation(literal: &str) -> bool {
    has_any(literal, lexicon::INVESTMENTS) && has_any(literal, lexicon::ADVICE)
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

    // Situations that raise a regulated topic without its listed words, and ordinary questions
    // near them; the same cases are `eval/signals/regulated.jsonl`.
    const ZH_MEDICAL: &[&str] = &[
        "用了你们的面霜脸上起红疹还痒",
        "吃了你们的保健品之后一直头疼",
        "涂了这个精油手上起了好多小疙瘩，很痒",
        "喝了你们的减肥茶以后拉肚子好几天了",
        "戴了这副耳环耳朵红肿",
        "用了这个洗发水头皮特别痒还掉头发",
        "这个蛋白粉小孩喝了会不会对身体有影响",
        "敷完面膜脸上刺痛",
        "吃了你们家的零食后恶心想吐",
        "用了这款眼霜眼睛肿了",
        "我吃了鱼油胶囊后有点头晕",
        "有高血压的人能喝这款茶吗",
    ];

    const EN_MEDICAL: &[&str] = &[
        "after taking the supplement I get headaches",
        "I used your face cream and now I have a rash on my cheeks",
        "since I started using the shampoo my scalp itches",
        "my skin got red and swollen after applying the lotion",
        "I feel dizzy after drinking your energy drink",
        "the protein powder makes me nauseous",
        "my lips are swelling since I used the lip balm",
        "is this tea OK to drink with high blood pressure?",
        "after wearing the earrings my ears are itchy and red",
        "I broke out in hives after eating your snack bar",
        "my son got a stomach ache after eating the gummies",
    ];

    const ZH_LEGAL: &[&str] = &[
        "你们这个霸王条款合法吗",
        "不退款的条款有法律效力吗",
        "这个合同条款是无效的吧",
        "你们的保修条款违反消费者权益保护法了吧",
        "协议里写着最终解释权归商家，这有效吗",
        "商家单方面改规则，我能维权吗",
        "押金不退这个规定是不是违法",
        "合同里写的违约金这么高，受法律保护吗",
        "你们的免责声明在法律上站得住吗",
        "霸王条款我可以不遵守吧",
    ];

    const EN_LEGAL: &[&str] = &[
        "is this no-refund clause even enforceable?",
        "is your warranty exclusion lawful?",
        "can you legally refuse a refund under your terms?",
        "is the cancellation fee in the contract valid?",
        "does this waiver actually hold up legally?",
        "is an arbitration clause like this binding on me?",
        "your terms say you can change the price anytime, is that even allowed by law?",
        "is the auto-renewal clause in my contract legal in California?",
        "can I void the contract if you changed the terms?",
        "what are my rights under consumer law if the policy says no returns?",
    ];

    const ZH_FINANCIAL: &[&str] = &[
        "我该买哪个理财产品",
        "你们的基金现在适合入手吗",
        "把存款转到你们的理财里划算吗",
        "这两款理财我该选哪个",
        "我有十万块，放余额宝还是买基金好",
        "现在是买黄金的好时机吗",
        "你们这个保险理财能不能买，会不会亏",
        "定投哪只基金比较好",
        "退休金该怎么投资比较稳",
        "这个理财产品值得买吗",
    ];

    const EN_FINANCIAL: &[&str] = &[
        "should I move my savings into your fund plan?",
        "which of your investment plans would you recommend for me?",
        "is it a good time to buy into your gold account?",
        "should I put my bonus into the high-yield fund or keep it in savings?",
        "what should I invest my 401k in?",
        "would the growth portfolio or the income portfolio be better for me?",
        "is your crypto product a safe place for my savings?",
        "how should I allocate my savings between stocks and bonds?",
        "will I get better returns if I switch to the premium fund?",
        "should I buy the annuity plan for my retirement?",
    ];

    const ZH_NONE: &[&str] = &[
        "退款什么时候到账",
        "合同在哪里下载",
        "我的贷款什么时候到账",
        "保修期多长时间",
        "充电器对手机安全吗",
        "这个面霜保质期多久",
        "怎么修改支付方式",
        "理财页面打不开",
        "基金账户怎么登录",
        "合同签完什么时候生效",
        "电子合同怎么签",
        "发票怎么开",
        "用了优惠券之后价格不对",
        "衣服洗了之后缩水了",
        "收益什么时候到账",
        "保修条款在哪里看",
        "退货政策是什么",
        "贷款利率是多少",
        "信用卡怎么还款",
        "怎么把存款转到另一张卡",
        "用了三天屏幕就碎了",
        "面霜有没有小样",
        "优惠券的有效期是多久",
        "手机用了之后发烫怎么办",
    ];

    const EN_NONE: &[&str] = &[
        "when will my loan arrive",
        "is the charger safe for my phone",
        "how do I update my payment card",
        "how long is the warranty period",
        "where can I download my contract",
        "when will my refund arrive",
        "how do I log into my fund account",
        "what's the interest rate on the loan",
        "after I placed the order the page froze",
        "since I started using the app it keeps crashing",
        "my phone gets hot after charging",
        "is the cream available in a bigger size",
        "what is your return policy",
        "how do I transfer my savings to another account",
        "where is my order",
        "the terms page won't load",
        "can I cancel my subscription",
        "my promo code is not valid",
        "is a valid ID required for pickup",
        "is the kettle safe for children to use",
        "does the warranty cover water damage",
        "how do I sign the agreement online",
    ];

    /// Each situation raises its topic (and no other regulated topic); no ordinary question
    /// raises any.
    #[test]
    fn regulated_situations() {
        let regulated = [RegulatedMedical, RegulatedLegal, RegulatedFinancial];
        let sets: [(&[&str], Option<Reason>); 8] = [
            (ZH_MEDICAL, Some(RegulatedMedical)),
            (EN_MEDICAL, Some(RegulatedMedical)),
            (ZH_LEGAL, Some(RegulatedLegal)),
            (EN_LEGAL, Some(RegulatedLegal)),
            (ZH_FINANCIAL, Some(RegulatedFinancial)),
            (EN_FINANCIAL, Some(RegulatedFinancial)),
            (ZH_NONE, None),
            (EN_NONE, None),
        ];
        let mut wrong = Vec::new();
        for (texts, expected) in sets {
            for text in texts {
                let found: Vec<Reason> =
                    reasons(text).into_iter().filter(|reason| regulated.contains(reason)).collect();
                if found != expected.into_iter().collect::<Vec<_>>() {
                    wrong.push((*text, found));
                }
            }
        }
        assert!(wrong.is_empty(), "wrong regulated topics: {wrong:?}");
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
