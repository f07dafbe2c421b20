//! `tandem trends` as an analyst runs it: a history on standard input, the contract's JSON out,
//! and a bad line named by its number.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

fn trends(arguments: &[&str], input: &str) -> (bool, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tandem"))
        .arg("trends")
        .args(arguments)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tandem runs");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn line(id: &str, date: &str, text: &str) -> String {
    json!({"id": id, "created_at": format!("{date}T09:30:00+08:00"),
        "messages": [{"author": "customer", "text": text}]})
    .to_string()
}

#[test]
fn a_burst_in_a_history_is_an_alert_with_every_conversation_of_it() {
    let mut lines = Vec::new();
    let ordinary = ["怎么申请退货", "发票在哪里下载", "where is my parcel", "优惠券怎么用"];
    for day in 1..=28 {
        for (slot, text) in ordinary.iter().enumerate() {
            lines.push(line(&format!("o{day}-{slot}"), &format!("2026-09-{day:02}"), text));
        }
    }
    for index in 0..8 {
        let text =
            ["充电器很烫", "充电器发烫严重", "充电器烫手怎么办", "新充电器特别烫"][index % 4];
        lines.push(line(&format!("b{index}"), "2026-09-27", text));
    }
    let input = lines.join("\n");
    let (ok, out, err) = trends(&["--json"], &input);
    assert!(ok, "{err}");
    let found: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(found["conversations"], 120);
    assert!(!found["topics"].as_array().unwrap().is_empty());
    let alert = &found["alerts"][0];
    assert_eq!(alert["first_day"], "2026-09-27", "{found:#}");
    assert!(alert["terms"].as_array().unwrap().contains(&json!("充电器")), "{alert}");
    let ids: Vec<&str> = alert["conversation_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 8);
    assert!(ids.iter().all(|id| id.starts_with('b')));
    for field in ["topic", "label", "days", "count", "expected", "score"] {
        assert!(alert.get(field).is_some(), "{field}");
    }

    // Before the burst, nothing to say.
    let (_, out, _) = trends(&["--json", "--to", "2026-09-26"], &input);
    let quiet: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (quiet["conversations"].as_u64(), quiet["alerts"].as_array().unwrap().len()),
        (Some(104), 0)
    );
}

#[test]
fn a_bad_history_line_is_named_and_nothing_is_analysed() {
    let input = format!("{}\nnot json\n", line("a", "2026-09-01", "hello"));
    let (ok, out, err) = trends(&["--json"], &input);
    assert!(!ok);
    assert!(out.is_empty());
    assert!(err.contains("stdin:2: "), "{err}");
    let (ok, _, err) = trends(&["--from", "yesterday"], &input);
    assert!(!ok && err.contains("YYYY-MM-DD"), "{err}");
}
