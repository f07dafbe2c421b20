//! `tandem kb import` and `tandem actions import` as an operator runs them: a file with
//! mistakes imports nothing and says, in English, what is wrong on which line.

use std::process::Command;

/// Runs `tandem` with `arguments` in a fresh directory; its exit success and standard error.
fn run(arguments: &[&str], files: &[(&str, &str)]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let output = Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(arguments)
        .current_dir(dir.path())
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("tandem runs");
    (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn a_knowledge_file_with_mistakes_names_each_line_and_imports_nothing() {
    let file = concat!(
        r#"{"id": "returns", "title": "", "answer": "7 天无理由退货", "questions": ["怎么退货"]}"#,
        "\nnot json\n",
        r#"{"id": "hours", "title": "营业时间", "answer": "", "questions": ["几点开门"]}"#,
        "\n"
    );
    let (imported, errors) = run(&["kb", "import", "articles.jsonl"], &[("articles.jsonl", file)]);
    assert!(!imported, "{errors}");
    assert!(errors.contains("articles.jsonl:1: title: must not be empty"), "{errors}");
    assert!(errors.contains("articles.jsonl:2: could not be read"), "{errors}");
    assert!(errors.contains("articles.jsonl:3: answer: must not be empty"), "{errors}");
    assert!(errors.contains("3 problem(s) found; nothing was imported"), "{errors}");
}

#[test]
fn an_actions_file_with_mistakes_says_what_is_wrong_and_imports_nothing() {
    let file = "[[action]]\nkey = \"order-status\"\nname = \"Order status\"\n[[action.steps]]\nurl = \"https://shop.example/orders\"\n";
    let (imported, errors) = run(&["actions", "import", "actions.toml"], &[("actions.toml", file)]);
    assert!(!imported, "{errors}");
    assert!(
        errors.contains("actions.toml: line 4 could not be read: missing field `method`"),
        "{errors}"
    );
    assert!(errors.contains("nothing was imported"), "{errors}");
}
