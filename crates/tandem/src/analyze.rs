//! `tandem analyze`: the signals of customer messages, JSONL in and out, with the same models the
//! server uses (`tandem_text::analyze`).

use std::io::{BufRead, BufWriter, Write};

use anyhow::{Context, bail};
use clap::Args;
use serde_json::{Map, Value};
use tandem_domain::{EscalationOutcome, EscalationPolicy};
use tandem_flow::triage::{self, CustomerTurn, Situation};
use tandem_text::Analysis;

#[derive(Debug, Args)]
#[command(after_help = "\
Reads one JSON object a line on stdin, {\"text\": \"...\", ...}, and writes one line for each on \
stdout: the input's fields plus lang (\"zh\", \"en\" or null), sentiment (-1 to 1), emotion \
(anger, frustration, anxiety, sadness, joy or neutral), emotion_confidence (0 to 1), escalate \
(true or false) and reasons (codes such as asks_for_human, anger, complaint, legal_threat). \
Blank lines are skipped. A line that is not a JSON object with a string \"text\" is reported on \
stderr as `line N: ...` and writes nothing; the other lines are still analysed, and the command \
then exits with an error.")]
pub struct AnalyzeArgs {
    /// Write JSONL (the only output format; accepted for symmetry with `tandem eval --json`).
    #[arg(long)]
    json: bool,
}

pub fn run(args: AnalyzeArgs) -> anyhow::Result<()> {
    let _ = args.json;
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let stdout = std::io::stdout();
    let mut output = BufWriter::new(stdout.lock());
    let mut line = Vec::new();
    let (mut number, mut failed) = (0usize, 0usize);
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line).context("cannot read stdin")? == 0 {
            break;
        }
        number += 1;
        match analyze_line(&line) {
            Ok(None) => {}
            Ok(Some(object)) => {
                serde_json::to_writer(&mut output, &object).context("cannot write stdout")?;
                output.write_all(b"\n").context("cannot write stdout")?;
            }
            Err(error) => {
                failed += 1;
                output.flush().context("cannot write stdout")?;
                eprintln!("line {number}: {error}");
            }
        }
    }
    output.flush().context("cannot write stdout")?;
    if failed > 0 {
        bail!("{failed} of {number} lines could not be analysed");
    }
    Ok(())
}

/// The output object for one input line, or `None` for a blank line.
fn analyze_line(line: &[u8]) -> Result<Option<Map<String, Value>>, String> {
    let line = std::str::from_utf8(line).map_err(|_| "not UTF-8".to_owned())?;
    if line.trim().is_empty() {
        return Ok(None);
    }
    let mut object = match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(object)) => object,
        Ok(_) => return Err("expected a JSON object".to_owned()),
        Err(error) => return Err(format!("invalid JSON: {error}")),
    };
    let Some(Value::String(text)) = object.get("text") else {
        return Err("expected a string field \"text\"".to_owned());
    };
    let text = text.clone();
    let analysis = tandem_text::analyze(&text);
    let rounded = |value: f32| Value::from((f64::from(value) * 1000.0).round() / 1000.0);
    object.insert(
        "lang".to_owned(),
        analysis.language.map_or(Value::Null, |lang| Value::from(lang.as_str())),
    );
    object.insert("sentiment".to_owned(), rounded(analysis.sentiment));
    object.insert("emotion".to_owned(), Value::from(analysis.emotion.as_str()));
    object.insert("emotion_confidence".to_owned(), rounded(analysis.emotion_confidence));
    object.insert("escalate".to_owned(), Value::from(escalates(&text, &analysis)));
    object.insert(
        "reasons".to_owned(),
        analysis.reasons.iter().map(|reason| Value::from(reason.as_str())).collect(),
    );
    // Several separate requests: each, as the bot answers them one by one.
    let parts = tandem_text::signals::request_parts(&text);
    if parts.len() >= 2 {
        object.insert("parts".to_owned(), parts.into_iter().map(Value::from).collect());
    }
    Ok(Some(object))
}

/// What the default escalation policy (the one a new workspace gets) does with this message
/// alone: anything but "keep with the bot" escalates (hand off, or draft for approval).
fn escalates(text: &str, analysis: &Analysis) -> bool {
    let turn = CustomerTurn { seq: 1, text: text.to_owned(), analysis: analysis.clone() };
    let situation = Situation { turns: std::slice::from_ref(&turn), bot_outcomes: &[], tier: None };
    triage::decide(&EscalationPolicy::default(), situation).outcome
        != EscalationOutcome::KeepWithBot
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_text::Emotion;

    #[test]
    fn lines_keep_their_fields_and_gain_signals() {
        let object = analyze_line(br#"{"text": "I want to talk to a real person", "id": 7}"#)
            .unwrap()
            .unwrap();
        assert_eq!(object["id"], 7);
        assert_eq!(object["lang"], "en");
        assert_eq!(object["escalate"], true);
        assert_eq!(object["reasons"], serde_json::json!(["asks_for_human"]));
        assert!(Emotion::parse(object["emotion"].as_str().unwrap()).is_some());
        assert!(object["sentiment"].as_f64().unwrap().abs() <= 1.0);
    }

    #[test]
    fn blank_and_bad_lines() {
        assert_eq!(analyze_line(b"  \n").unwrap(), None);
        assert!(analyze_line(b"[1, 2]").is_err());
        assert!(analyze_line(br#"{"text": 3}"#).is_err());
        assert!(analyze_line(b"{not json").is_err());
        assert!(analyze_line(b"\xff\xfe").is_err());
    }

    /// The message signals of issue 14's behaviours, both languages: a request for a person and
    /// a question about the human service, several requests in one message, regulated
    /// situations and the ordinary questions near them.
    #[test]
    fn signals_table() {
        let cases: &[(&str, &[&str])] = &[
            ("转人工", &["asks_for_human"]),
            ("I want to talk to a real person", &["asks_for_human"]),
            ("人工客服几点上班？", &[]),
            ("Do you have live agents on weekends?", &[]),
            ("我想改一下收货地址，改不了就退款。另外上个订单的发票还没收到", &["multi_part"]),
            ("Where is my order? Also, can I change the delivery address?", &["multi_part"]),
            ("我昨天买了个耳机。怎么退货？", &[]),
            ("I bought a lamp last week. It arrived broken. How do I return it?", &[]),
            ("吃了你们的保健品之后一直头疼，还能继续吃吗", &["regulated_medical"]),
            ("Is the no-refund clause in your contract even legal?", &["regulated_legal"]),
            ("我有十万存款，买你们哪个理财产品比较好", &["regulated_financial"]),
            ("When will my loan arrive?", &[]),
            ("这个充电器给手机用安全吗", &[]),
        ];
        for (text, expected) in cases {
            let line = serde_json::json!({ "text": text }).to_string();
            let object = analyze_line(line.as_bytes()).unwrap().unwrap();
            let reasons: Vec<&str> =
                object["reasons"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
            let relevant: Vec<&str> =
                reasons.into_iter().filter(|reason| *reason != "personal_data").collect();
            assert_eq!(relevant, *expected, "{text}");
            assert_eq!(object.contains_key("parts"), expected.contains(&"multi_part"), "{text}");
        }
    }

    #[test]
    fn neutral_questions_do_not_escalate() {
        let object = analyze_line(r#"{"text": "我的订单到哪了"}"#.as_bytes()).unwrap().unwrap();
        assert_eq!(object["escalate"], false);
        assert_eq!(object["lang"], "zh");
    }
}
