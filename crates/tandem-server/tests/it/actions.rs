//! The business actions API: import all or nothing with named problems, save, list, delete,
//! and who may change them.

use axum::body::Body;
use axum::http::{Method, StatusCode};
use serde_json::json;

use tandem_server::testing::{ADMIN, AGENT, TestApp, build};

const TOML: &str = r#"
[[action]]
key = "order-status"
name = "查询订单 Order status"
triggers = ["我的订单到哪了", "where is my order"]
[[action.params]]
name = "order_number"
kind = "order_number"
ask = { zh = "请提供订单号", en = "Your order number, please" }
[[action.steps]]
method = "GET"
url = "https://shop.example/api/orders/{order_number}"
headers = { Authorization = "Bearer {env.SHOP_KEY}" }
extract = { status = "/status" }
[action.replies]
done = { zh = "订单 {order_number}：{status}", en = "Order {order_number}: {status}" }
not_found = { zh = "没有找到订单", en = "No such order" }
error = { zh = "系统繁忙，已转人工", en = "The system is busy; a person will help" }
"#;

#[tokio::test]
async fn actions_are_imported_all_or_nothing_and_managed_by_managers() {
    let app = TestApp::new().await;
    let admin = app.login(ADMIN).await;
    let headers = [
        ("cookie", admin.cookie.as_str()),
        ("x-csrf-token", admin.csrf.as_str()),
        ("content-type", "text/plain"),
    ];
    let imported =
        app.send(build(Method::POST, "/api/v1/actions/import", &headers, Body::from(TOML))).await;
    assert_eq!(imported.status, StatusCode::OK, "{}", imported.text());
    assert_eq!(imported.json()["actions"], json!(["order-status"]));

    // An unknown placeholder and a bad pattern: both named, nothing saved.
    let broken = TOML
        .replace("{order_number}\"\nheaders", "{order_id}\"\nheaders")
        .replace("kind = \"order_number\"", "kind = \"order_number\"\npattern = \"[\"")
        .replace("order-status", "order-status-2");
    let refused =
        app.send(build(Method::POST, "/api/v1/actions/import", &headers, Body::from(broken))).await;
    assert_eq!(
        (refused.status, refused.code().as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "actions_invalid"),
        "{}",
        refused.text()
    );
    let problems = refused.json()["problems"].clone();
    assert_eq!(problems[0]["action"], "order-status-2", "{problems}");
    assert_eq!(problems[0]["field"], "params[0].pattern", "{problems}");
    assert!(problems[0]["reason"].as_str().unwrap().starts_with("could not be read: regex"));
    let garbled = app
        .send(build(
            Method::POST,
            "/api/v1/actions/import",
            &headers,
            Body::from("[[action]]\nkey = "),
        ))
        .await;
    assert!(
        garbled.json()["problems"][0]["reason"].as_str().unwrap().starts_with("line "),
        "{}",
        garbled.text()
    );
    let listed = app.get("/api/v1/actions", &[("cookie", &admin.cookie)]).await.json();
    let keys: Vec<&str> = listed["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|action| action["key"].as_str().unwrap())
        .collect();
    assert!(keys.contains(&"order-status") && !keys.contains(&"order-status-2"), "{keys:?}");

    // Saved one at a time as JSON; disabled; deleted.
    let mut action = listed["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|action| action["key"] == "order-status")
        .unwrap()
        .clone();
    action["enabled"] = json!(false);
    let json_headers = [
        ("cookie", admin.cookie.as_str()),
        ("x-csrf-token", admin.csrf.as_str()),
        ("content-type", "application/json"),
    ];
    let saved = app
        .send(build(
            Method::PUT,
            "/api/v1/actions/order-status",
            &json_headers,
            Body::from(action.to_string()),
        ))
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text());
    assert_eq!(saved.json()["enabled"], false);
    let mismatch = app
        .send(build(
            Method::PUT,
            "/api/v1/actions/other",
            &json_headers,
            Body::from(action.to_string()),
        ))
        .await;
    assert_eq!(mismatch.status, StatusCode::UNPROCESSABLE_ENTITY);

    let agent = app.login(AGENT).await;
    let agent_headers = [
        ("cookie", agent.cookie.as_str()),
        ("x-csrf-token", agent.csrf.as_str()),
        ("content-type", "text/plain"),
    ];
    let forbidden = app
        .send(build(Method::POST, "/api/v1/actions/import", &agent_headers, Body::from(TOML)))
        .await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    let deleted = app
        .send(build(Method::DELETE, "/api/v1/actions/order-status", &headers, Body::empty()))
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let again = app
        .send(build(Method::DELETE, "/api/v1/actions/order-status", &headers, Body::empty()))
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
}
