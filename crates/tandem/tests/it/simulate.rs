//! `tandem simulate` as a business runs it in CI: scripted conversations through the real bot,
//! a JSON report of what each turn did, and an exit status that fails the build when a scenario
//! does not end as expected.

use std::process::Command;

use serde_json::{Value, json};

/// A small shop's knowledge in Chinese and English.
const KB: &str = r#"{"id": "refund-time", "title": "退款多久到账", "answer": "退款会在审核通过后 3 到 5 个工作日内原路退回。", "questions": ["退款多久到账", "钱什么时候退回来", "退款要几天", "退款什么时候到"], "lang": "zh"}
{"id": "return-policy", "title": "七天无理由退货", "answer": "签收后 7 天内可申请无理由退货，商品需保持完好。", "questions": ["怎么退货", "可以退货吗", "退货政策是什么", "七天无理由退货"], "lang": "zh"}
{"id": "shipping-fee", "title": "Shipping fees", "answer": "Shipping is free on orders over 99 yuan; otherwise it costs 8 yuan.", "questions": ["how much is shipping", "do you charge for delivery", "what are the shipping costs", "is shipping free"], "lang": "en"}
{"id": "opening-hours", "title": "Customer service hours", "answer": "Our team is available from 9:00 to 21:00 every day.", "questions": ["when are you open", "what are your opening hours", "what time does support open"], "lang": "en"}
"#;

/// How a run of `tandem simulate` ended.
struct Run {
    status: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn report(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|error| panic!("{error}: {}\n{}", self.stdout, self.stderr))
    }
}

/// Runs `tandem simulate` on [`KB`] and `scenarios` with the extra `arguments`.
fn simulate(scenarios: &str, arguments: &[&str]) -> Run {
    simulate_files(&[("kb.jsonl", KB), ("scenarios.jsonl", scenarios)], arguments)
}

/// Runs `tandem simulate --kb kb.jsonl --scenarios scenarios.jsonl` and the extra `arguments` in a
/// fresh directory holding `files`.
fn simulate_files(files: &[(&str, &str)], arguments: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let output = Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(["simulate", "--kb", "kb.jsonl", "--scenarios", "scenarios.jsonl"])
        .args(arguments)
        .current_dir(dir.path())
        .env("RUST_BACKTRACE", "0")
        .env_remove("RUST_LOG")
        .output()
        .expect("tandem runs");
    Run {
        status: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Scenarios one a line.
fn lines(scenarios: &[Value]) -> String {
    scenarios.iter().map(|scenario| format!("{scenario}\n")).collect()
}

/// Every object of the report has exactly the contract's fields, of the contract's types.
fn assert_contract_shape(report: &Value) {
    let keys = |value: &Value| -> Vec<String> {
        let mut keys: Vec<String> = value.as_object().expect("an object").keys().cloned().collect();
        keys.sort();
        keys
    };
    assert_eq!(keys(report), ["passed", "results", "scenarios"], "{report:#}");
    assert!(report["scenarios"].is_u64() && report["passed"].is_u64(), "{report:#}");
    let results = report["results"].as_array().expect("results is a list");
    assert_eq!(report["scenarios"].as_u64(), Some(results.len() as u64));
    for result in results {
        assert_eq!(keys(result), ["id", "passed", "turns"], "{result:#}");
        assert!(result["id"].is_string() && result["passed"].is_boolean(), "{result:#}");
        for turn in result["turns"].as_array().expect("turns is a list") {
            assert_eq!(keys(turn), ["article", "outcome", "reasons"], "{turn:#}");
            let outcome = turn["outcome"].as_str().expect("outcome is a string");
            assert!(
                ["answer", "clarify", "abstain", "handoff", "action"].contains(&outcome),
                "{turn:#}"
            );
            assert!(turn["article"].is_string() || turn["article"].is_null(), "{turn:#}");
            assert!(
                turn["reasons"].as_array().expect("reasons is a list").iter().all(Value::is_string)
            );
        }
    }
}

/// The result of scenario `id`.
fn result<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["results"]
        .as_array()
        .and_then(|results| results.iter().find(|result| result["id"] == id))
        .unwrap_or_else(|| panic!("no result for {id}: {report:#}"))
}

#[test]
fn scripted_conversations_report_what_the_bot_did_and_pass_when_they_end_as_expected() {
    let scenarios = lines(&[
        json!({"id": "refund-zh", "turns": ["退款多久能到账？"], "expect": {"answer": "refund-time"}}),
        json!({"id": "shipping-en", "turns": ["How much does shipping cost?"], "expect": {"answer": "shipping-fee"}}),
        json!({"id": "out-of-scope", "turns": ["What is the capital of Mongolia?"], "expect": {"abstain": true}}),
        json!({"id": "wants-person", "turns": ["I want to talk to a real person"], "expect": {"handoff": "asks_for_human"}}),
        json!({"id": "angry", "turns": ["你们这什么破服务，气死我了，垃圾！"], "expect": {"handoff": "anger"}}),
        json!({"id": "answer-then-person", "turns": ["怎么退货", "我要转人工", "还在吗"], "expect": {"handoff": "asks_for_human"}}),
        json!({"id": "gives-up", "turns": ["What is the capital of Mongolia?", "Who won the world cup in 1930?", "hello?"], "expect": {"abstain": true}}),
    ]);
    let run = simulate(&scenarios, &["--json"]);
    assert_eq!(run.status, Some(0), "{}\n{}", run.stdout, run.stderr);
    let report = run.report();
    assert_contract_shape(&report);
    assert_eq!(report["scenarios"], 7);
    assert_eq!(report["passed"], 7);
    let answered = |article: &str| json!({"outcome": "answer", "article": article, "reasons": []});
    let abstained = json!({"outcome": "abstain", "article": null, "reasons": []});
    let handed_off =
        |reasons: Value| json!({"outcome": "handoff", "article": null, "reasons": reasons});
    assert_eq!(
        report["results"][0],
        json!({"id": "refund-zh", "turns": [answered("refund-time")], "passed": true})
    );
    assert_eq!(result(&report, "shipping-en")["turns"], json!([answered("shipping-fee")]));
    assert_eq!(result(&report, "out-of-scope")["turns"], json!([abstained]));
    assert_eq!(
        result(&report, "wants-person")["turns"],
        json!([handed_off(json!(["asks_for_human"]))])
    );
    let angry = &result(&report, "angry")["turns"][0];
    assert_eq!(angry["outcome"], "handoff", "{angry}");
    assert!(angry["reasons"].as_array().unwrap().contains(&json!("anger")), "{angry}");
    // Once handed off, the bot no longer speaks: the later turn is a hand-off with no reasons.
    assert_eq!(
        result(&report, "answer-then-person")["turns"],
        json!([
            answered("return-policy"),
            handed_off(json!(["asks_for_human"])),
            handed_off(json!([]))
        ])
    );
    // Two questions it cannot answer in a row: the default policy hands off, which is abstaining.
    assert_eq!(
        result(&report, "gives-up")["turns"],
        json!([abstained, handed_off(json!(["abstained_repeatedly"])), handed_off(json!([]))])
    );
    let ids: Vec<&Value> =
        report["results"].as_array().unwrap().iter().map(|result| &result["id"]).collect();
    assert_eq!(ids.len(), 7, "one result per scenario, in the file's order: {ids:?}");
    assert_eq!(ids[6], "gives-up");
}

#[test]
fn an_unmet_expectation_fails_the_run_with_status_1() {
    let scenarios = lines(&[
        json!({"id": "shipping", "turns": ["How much does shipping cost?"], "expect": {"answer": "shipping-fee"}}),
        json!({"id": "hours-expected", "turns": ["How much does shipping cost?"], "expect": {"answer": "opening-hours"}}),
        json!({"id": "person-expected", "turns": ["退款多久能到账？"], "expect": {"handoff": "asks_for_human"}}),
    ]);
    let run = simulate(&scenarios, &["--json"]);
    assert_eq!(run.status, Some(1), "{}\n{}", run.stdout, run.stderr);
    let report = run.report();
    assert_contract_shape(&report);
    assert_eq!(report["scenarios"], 3);
    assert_eq!(report["passed"], 1);
    assert_eq!(result(&report, "shipping")["passed"], true);
    let wrong_article = result(&report, "hours-expected");
    assert_eq!(wrong_article["passed"], false);
    assert_eq!(wrong_article["turns"][0]["article"], "shipping-fee");
    assert_eq!(result(&report, "person-expected")["passed"], false);

    let text = simulate(&scenarios, &[]);
    assert_eq!(text.status, Some(1), "{}", text.stderr);
    let report: Vec<&str> = text.stdout.lines().collect();
    assert_eq!(
        report,
        [
            "PASS  shipping: answer shipping-fee",
            "FAIL  hours-expected: answer shipping-fee  (expected answer opening-hours)",
            "FAIL  person-expected: answer refund-time  (expected handoff asks_for_human)",
            "3 scenario(s): 1 passed, 2 failed",
        ]
    );
}

#[test]
fn bad_scenarios_are_named_by_line_and_nothing_runs() {
    let scenarios = [
        r#"{"id": "fine", "turns": ["怎么退货"], "expect": {"answer": "return-policy"}}"#,
        "not json",
        r#"{"id": "no-turns", "turns": [], "expect": {"abstain": true}}"#,
        r#"{"id": "typo", "turn": ["hi"], "expect": {"abstain": true}}"#,
        r#"{"id": "unknown-reason", "turns": ["hi"], "expect": {"handoff": "bored"}}"#,
        r#"{"id": "unknown-article", "turns": ["hi"], "expect": {"answer": "warranty"}}"#,
        r#"{"id": "two-expectations", "turns": ["hi"], "expect": {"abstain": true, "answer": "refund-time"}}"#,
    ]
    .join("\n");
    let run = simulate(&scenarios, &["--json"]);
    assert_eq!(run.status, Some(2), "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.stdout, "", "nothing runs");
    let errors: Vec<&str> = run.stderr.lines().collect();
    let expected = [
        "scenarios.jsonl:2: could not be read: expected ident",
        "scenarios.jsonl:3: turns: must have 1 to 100 entries",
        "scenarios.jsonl:4: could not be read: unknown field `turn`",
        "scenarios.jsonl:5: expect.handoff: \"bored\" is not one of asks_for_human, complaint",
        "scenarios.jsonl:6: expect.answer: \"warranty\" is not one of the article ids in kb.jsonl",
        "scenarios.jsonl:7: expect: give exactly one of answer, abstain, handoff",
        "6 problem(s) found; nothing was run",
    ];
    assert_eq!(errors.len(), expected.len(), "{}", run.stderr);
    for (error, start) in errors.iter().zip(expected) {
        assert!(error.starts_with(start), "{error:?} should start with {start:?}");
    }

    let broken_kb = format!("{KB}{}\n", r#"{"id": "warranty", "title": "Warranty", "answer": ""}"#);
    let broken_actions = "[[action]]\nkey = \"order-status\"\n";
    let files = [
        ("kb.jsonl", broken_kb.as_str()),
        ("scenarios.jsonl", r#"{"id": "a", "turns": ["hi"], "expect": {"abstain": true}}"#),
        ("actions.toml", broken_actions),
    ];
    let run = simulate_files(&files, &["--actions", "actions.toml"]);
    assert_eq!(run.status, Some(2), "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.stdout, "", "nothing runs");
    assert!(run.stderr.contains("kb.jsonl:5: answer: must not be empty"), "{}", run.stderr);
    assert!(
        run.stderr.contains("actions.toml: line 1 could not be read: missing field `name`"),
        "{}",
        run.stderr
    );

    let empty = simulate("\n", &[]);
    assert_eq!(empty.status, Some(2), "{}", empty.stderr);
    assert!(
        empty.stderr.contains("scenarios.jsonl:1: scenarios: must have 1 to 10000 entries"),
        "{}",
        empty.stderr
    );
}

#[test]
fn a_draft_in_the_knowledge_file_is_never_answered() {
    let warranty = r#"{"id": "warranty", "title": "Warranty", "answer": "Every device has a two-year warranty.", "questions": ["how long is the warranty", "is there a warranty", "what does the warranty cover"], "status": "draft"}"#;
    let kb = format!("{KB}{warranty}\n");
    let scenarios = lines(&[
        json!({"id": "warranty", "turns": ["How long is the warranty?"], "expect": {"abstain": true}}),
        json!({"id": "shipping", "turns": ["How much does shipping cost?"], "expect": {"answer": "shipping-fee"}}),
    ]);
    let run = simulate_files(&[("kb.jsonl", &kb), ("scenarios.jsonl", &scenarios)], &["--json"]);
    assert_eq!(run.status, Some(0), "{}\n{}", run.stdout, run.stderr);
    let report = run.report();
    assert_eq!(
        result(&report, "warranty")["turns"],
        json!([{"outcome": "abstain", "article": null, "reasons": []}])
    );
}
