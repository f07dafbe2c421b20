//! `tandem learn` as a business runs it on its history: the contract's JSON, the knowledge base
//! `--apply` writes, and what `tandem eval` and `tandem kb import` make of it.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};

fn tandem(dir: &Path, arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(arguments)
        .current_dir(dir)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("tandem runs")
}

fn lines(values: &[Value]) -> String {
    values.iter().map(|value| format!("{value}\n")).collect()
}

fn conversation(id: &str, question: &str, reply: &str) -> Value {
    json!({"id": id, "created_at": "2026-09-03T08:12:44Z", "channel": "web", "csat": 4,
        "messages": [
            {"author": "customer", "text": "你好", "at": "2026-09-03T08:12:44Z"},
            {"author": "customer", "text": question},
            {"author": "bot", "text": "正在为您转接人工客服。"},
            {"author": "agent", "agent": "emily@example.com", "text": reply}]})
}

fn knowledge() -> String {
    lines(&[
        json!({"id": "refund-time", "title": "退款到账时间", "questions": ["退款多久到账", "退款什么时候到"],
            "answer": "退款在审核通过后 3 个工作日内原路退回。", "lang": "zh", "tags": ["售后"]}),
        json!({"id": "shipping", "title": "发货时间", "questions": ["什么时候发货", "多久能发货"],
            "answer": "下单后 48 小时内发货。", "lang": "zh"}),
        json!({"id": "invoice", "title": "开发票", "questions": ["怎么开发票", "发票在哪下载"],
            "answer": "在订单详情页申请电子发票。", "lang": "zh"}),
        json!({"id": "returns", "title": "Return policy", "questions": ["how do i return an item", "can i send it back"],
            "answer": "Unused items can be returned within 30 days.", "lang": "en"}),
    ])
}

#[test]
fn people_s_answers_become_variants_and_gaps_and_apply_writes_them() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("kb.jsonl"), knowledge()).unwrap();
    let history = lines(&[
        conversation(
            "c1",
            "我的钱啥时候能回到卡上 电话13812345678",
            "您好，退款在审核通过后 3 个工作日内原路退回。",
        ),
        conversation(
            "c2",
            "我的钱啥时候能回到卡上 电话13812345678",
            "退款在审核通过后3个工作日内原路退回的。",
        ),
        conversation("g1", "可以开增值税专用发票吗", "可以，请在订单页填写公司税号申请专票。"),
        conversation("g2", "能开增值税专用发票吗 公司报销要用", "可以开专票，订单页填写税号即可。"),
        conversation("g3", "我要开增值税专票", "请在订单页填写公司税号申请专票。"),
        // Answered by the bot alone: nothing people taught.
        json!({"id": "b1", "created_at": "2026-09-03T09:00:00Z", "messages": [
            {"author": "customer", "text": "什么时候发货"},
            {"author": "bot", "text": "下单后 48 小时内发货。", "source": "shipping"}]}),
    ]);
    std::fs::write(dir.path().join("history.jsonl"), history).unwrap();
    let output = tandem(
        dir.path(),
        &[
            "learn",
            "--kb",
            "kb.jsonl",
            "--history",
            "history.jsonl",
            "--json",
            "--apply",
            "out.jsonl",
        ],
    );
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let learnt: Value = serde_json::from_slice(&output.stdout).unwrap();
    let variants = learnt["variants"].as_array().unwrap();
    assert_eq!(variants.len(), 1, "{learnt:#}");
    assert_eq!(variants[0]["article"], "refund-time");
    assert_eq!(variants[0]["conversation_ids"], json!(["c1", "c2"]));
    let question = variants[0]["question"].as_str().unwrap();
    assert!(question.starts_with("我的钱啥时候能回到卡上") && !question.contains("13812345678"));
    let gaps = learnt["gaps"].as_array().unwrap();
    assert_eq!(gaps.len(), 1, "{learnt:#}");
    assert_eq!(gaps[0]["count"], 3);
    assert_eq!(gaps[0]["conversation_ids"], json!(["g1", "g2", "g3"]));
    let label = gaps[0]["label"].as_str().unwrap();
    assert!(label.contains("专票") || label.contains("增值税"), "{learnt:#}");
    assert!(!gaps[0]["questions"].as_array().unwrap().is_empty());
    assert!(gaps[0]["suggested_answer"].as_str().unwrap().contains("税号"));

    // --apply: every article kept with its fields, the variant added, the gap a draft.
    let written = std::fs::read_to_string(dir.path().join("out.jsonl")).unwrap();
    let articles: Vec<Value> =
        written.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert_eq!(articles.len(), 5);
    assert_eq!(articles[0]["tags"], json!(["售后"]));
    assert_eq!(articles[0]["questions"].as_array().unwrap().len(), 3);
    assert_eq!(articles[0]["questions"][2], variants[0]["question"]);
    assert_eq!(
        (articles[4]["id"].as_str(), articles[4]["status"].as_str()),
        (Some("gap-1"), Some("draft"))
    );

    // The new wording is answered now; the draft is not.
    let cases = lines(&[
        json!({"text": question, "expect": "refund-time"}),
        json!({"text": "可以开增值税专用发票吗", "expect": null}),
    ]);
    std::fs::write(dir.path().join("cases.jsonl"), cases).unwrap();
    let output = tandem(
        dir.path(),
        &["eval", "--kb", "out.jsonl", "--cases", "cases.jsonl", "--json", "--threshold", "0.3"],
    );
    let figures: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        (figures["articles"].as_u64(), figures["inscope_acc"].as_f64()),
        (Some(4), Some(100.0))
    );
    assert_eq!(figures["oos_recall"].as_f64(), Some(100.0));

    // Importing it would publish the draft: refused, with its line.
    let output = tandem(dir.path(), &["kb", "import", "out.jsonl"]);
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(errors.contains("out.jsonl:5: status: a draft article"), "{errors}");
    assert!(errors.contains("nothing was imported"), "{errors}");
}

#[test]
fn a_bad_history_names_its_lines_and_learns_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("kb.jsonl"), knowledge()).unwrap();
    let history = format!(
        "{}\n{{\"id\": \"x\", \"created_at\": \"2026-09-03T08:12:44Z\", \"messages\": []}}\nnot json\n",
        conversation("c1", "退款多久到账", "3 个工作日。")
    );
    std::fs::write(dir.path().join("history.jsonl"), history).unwrap();
    let output = tandem(
        dir.path(),
        &["learn", "--kb", "kb.jsonl", "--history", "history.jsonl", "--apply", "out.jsonl"],
    );
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(errors.contains("history.jsonl:2: messages: at least one is needed"), "{errors}");
    assert!(errors.contains("history.jsonl:3: "), "{errors}");
    assert!(!dir.path().join("out.jsonl").exists());
}
