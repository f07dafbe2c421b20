//! Stable-toolchain fuzzing of the actions reader (TOML and JSON): mutated valid action files
//! for `TANDEM_FUZZ_SECS` seconds (default 2), none of which may panic, report a line the file
//! does not have or give an action that fails its own check. The check is the libFuzzer
//! target's own (`fuzz/checks`).

#[path = "../../../../fuzz/checks/actions.rs"]
mod checks;
#[path = "../../../../fuzz/mutate.rs"]
mod mutate;

const GIFT_CARD: &str = r#"[[action]]
key = "gift-card-balance"
name = "Gift card balance"
triggers = ["what is left on my gift card", "礼品卡余额"]

[[action.params]]
name = "card"
kind = "number"
pattern = "^[0-9]{8,16}$"
ask = { zh = "请提供礼品卡号。", en = "What is the gift card number?" }

[[action.steps]]
method = "GET"
url = "https://shop.example.com/cards/{card}"
extract = { balance = "/balance" }

[action.replies]
done = { zh = "余额：{balance}", en = "Balance: {balance}" }
not_found = { zh = "没有找到这张卡。", en = "No such card." }
error = { zh = "暂时查不到。", en = "Not available right now." }
"#;

#[test]
fn actions_file() {
    let json = format!(
        "{{\"actions\": [{}]}}",
        serde_json::to_string(&tandem_bot::actions::parse(GIFT_CARD).unwrap()[0]).unwrap()
    );
    let seeds = [GIFT_CARD, include_str!("../../../tandem-demo/assets/demo-actions.toml"), &json];
    mutate::run_text("actions", &seeds, checks::parse);
}
