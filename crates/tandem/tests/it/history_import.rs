//! `tandem import conversations` as an operator runs it: a clean history is imported once (a
//! second run skips it), a history with mistakes names each `FILE:LINE` and stores nothing.

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn tandem(directory: &Path, arguments: &[&str], stdin: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(arguments)
        .current_dir(directory)
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tandem runs");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const HISTORY: &str = concat!(
    r#"{"id": "zd-1", "created_at": "2026-09-03T08:12:44Z", "channel": "web", "customer": {"id": "u-1", "name": "王芳"}, "messages": [{"author": "customer", "text": "退款多久到账"}, {"author": "agent", "agent": "emily@example.com", "text": "三个工作日内。", "at": "2026-09-03T08:20:00Z"}], "resolved_at": "2026-09-03T08:30:00Z", "csat": 5}"#,
    "\n",
    r#"{"id": "zd-2", "created_at": "2026-09-04T09:00:00+08:00", "channel": "email", "tags": ["invoice"], "messages": [{"author": "customer", "text": "发票怎么开"}]}"#,
    "\n"
);

#[test]
fn a_history_imports_once_and_a_bad_one_names_its_lines_and_stores_nothing() {
    let directory = tempfile::tempdir().unwrap();
    let data = directory.path().join("data").display().to_string();
    let created = tandem(
        directory.path(),
        &[
            "user",
            "create",
            "--data-dir",
            &data,
            "--email",
            "admin@example.com",
            "--name",
            "Admin",
            "--role",
            "admin",
            "--password-stdin",
        ],
        "a long enough password\n",
    );
    assert!(created.status.success(), "{}", text(&created.stderr));
    std::fs::write(directory.path().join("history.jsonl"), HISTORY).unwrap();
    let bad = HISTORY.replace("\"csat\": 5", "\"csat\": 7").replace("\"email\"", "\"fax\"");
    std::fs::write(directory.path().join("bad.jsonl"), bad).unwrap();

    // A file with mistakes next to a clean one: nothing of either is stored.
    let refused = tandem(
        directory.path(),
        &["import", "conversations", "history.jsonl", "bad.jsonl", "--data-dir", &data],
        "",
    );
    assert!(!refused.status.success());
    let errors = text(&refused.stderr);
    assert!(errors.contains("bad.jsonl:1: csat: 7 is not a rating from 1 to 5"), "{errors}");
    assert!(
        errors.contains("bad.jsonl:2: channel: \"fax\" is not one of web, email, api"),
        "{errors}"
    );
    assert!(errors.contains("nothing was imported"), "{errors}");
    // One conversation twice (here, the same file twice) is refused too.
    let twice = tandem(
        directory.path(),
        &["import", "conversations", "history.jsonl", "history.jsonl", "--data-dir", &data],
        "",
    );
    assert!(!twice.status.success());
    let errors = text(&twice.stderr);
    assert!(errors.contains("history.jsonl:1: id: zd-1 is already on history.jsonl:1"), "{errors}");

    let first = tandem(
        directory.path(),
        &["import", "conversations", "history.jsonl", "--data-dir", &data, "--json"],
        "",
    );
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert_eq!(text(&first.stdout).trim(), r#"{"imported":2,"skipped":0}"#);
    let again = tandem(
        directory.path(),
        &[
            "import",
            "conversations",
            "history.jsonl",
            "--data-dir",
            &data,
            "--workspace",
            "1",
            "--json",
        ],
        "",
    );
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert_eq!(text(&again.stdout).trim(), r#"{"imported":0,"skipped":2}"#);

    let elsewhere = tandem(
        directory.path(),
        &["import", "conversations", "history.jsonl", "--data-dir", &data, "--workspace", "9"],
        "",
    );
    assert!(!elsewhere.status.success());
    assert!(text(&elsewhere.stderr).contains("--workspace 9: there is no such workspace"));
}
