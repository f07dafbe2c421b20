//! The demo shop's HTTP API on its own router: auth, orders, return requests and the failure
//! switches that connectors are tested against.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tandem_demo::shop::DemoShop;
use tower::ServiceExt;

use tandem_server::testing::{Response, build};

const KEY: &str = "k";
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

struct Shop {
    router: Router,
    shop: DemoShop,
}

impl Shop {
    fn new() -> Shop {
        let shop = DemoShop::new(KEY).with_slow_delay(Duration::from_millis(20));
        Shop { router: shop.router(), shop }
    }

    async fn send(&self, method: Method, path: &str, key: Option<&str>, body: Body) -> Response {
        let uri = format!("/demo/shop/api{path}");
        let bearer = key.map(|key| format!("Bearer {key}"));
        let mut headers = vec![("content-type", "application/json")];
        if let Some(bearer) = &bearer {
            headers.push(("authorization", bearer));
        }
        let response =
            self.router.clone().oneshot(build(method, &uri, &headers, body)).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes().to_vec();
        Response { status, headers, body }
    }

    async fn get(&self, path: &str) -> Response {
        self.send(Method::GET, path, Some(KEY), Body::empty()).await
    }

    async fn request_return(&self, order_number: &str, user_id: &str) -> Response {
        let body =
            json!({ "order_number": order_number, "reason": "不想要了", "user_id": user_id });
        self.send(Method::POST, "/returns", Some(KEY), Body::from(body.to_string())).await
    }
}

/// The `error` field of a JSON error body (this API's errors are not the app's `code`).
fn error_code(response: &Response) -> String {
    response.json()["error"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn demo_shop_refuses_requests_without_the_key() {
    let shop = Shop::new();
    for key in [None, Some("wrong"), Some("")] {
        for path in ["/orders/20241123001", "/orders?user_id=u-1001", "/returns/R1", "/nowhere"] {
            let response = shop.send(Method::GET, path, key, Body::empty()).await;
            assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{path} with {key:?}");
            assert_eq!(response.json(), json!({ "error": "unauthorized" }));
        }
    }
    let response =
        shop.send(Method::POST, "/returns", None, Body::from(json!({}).to_string())).await;
    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    // Another scheme with the right key is still refused.
    let response = shop
        .router
        .clone()
        .oneshot(build(
            Method::GET,
            "/demo/shop/api/orders/20241123001",
            &[("authorization", "Basic k")],
            Body::empty(),
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn demo_shop_shows_an_order_with_its_shipment() {
    let shop = Shop::new();
    let started_at = shop.shop.started_at();
    let response = shop.get("/orders/20241123001").await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    let order = response.json();
    assert_eq!(order["number"], "20241123001");
    assert_eq!(order["user_id"], "u-1001");
    assert_eq!(order["customer_name"], "张伟");
    assert_eq!(order["status"], "delivered");
    assert_eq!(order["currency"], "CNY");
    assert_eq!(order["items"].as_array().unwrap().len(), 2);
    assert_eq!(order["items"][0]["quantity"], 1);
    assert_eq!(order["total"], json!(338.0));
    assert_eq!(order["delivered_at_ms"], json!(started_at - 2 * DAY_MS));
    assert!(order["delivered_at"].as_str().unwrap().ends_with("+08:00"));
    assert!(order["placed_at_ms"].as_i64().unwrap() < order["shipped_at_ms"].as_i64().unwrap());
    assert_eq!(order["shipment"]["status"], "delivered");
    assert_eq!(order["shipment"]["eta"], Value::Null);
    assert!(order["carrier"].as_str().unwrap().contains("SF Express"));
    assert!(order["tracking_number"].is_string());

    let in_transit = shop.get("/orders/20241124003").await.json();
    assert_eq!(in_transit["status"], "shipped");
    assert_eq!(in_transit["delivered_at"], Value::Null);
    assert_eq!(in_transit["delivered_at_ms"], Value::Null);
    let shipment = &in_transit["shipment"];
    assert_eq!(shipment["status"], "in_transit");
    assert_eq!(shipment["last_event"], "快件已到达【上海转运中心】 / Arrived at Shanghai hub");
    assert_eq!(shipment["last_location"], "上海转运中心 / Shanghai hub");
    assert_eq!(shipment["eta_ms"], json!(started_at + DAY_MS));
    assert_eq!(shipment["events"][0]["description"], shipment["last_event"]);
    assert_eq!(shipment["events"][0]["at_ms"], shipment["updated_at_ms"]);

    let paid = shop.get("/orders/20241125004").await.json();
    assert_eq!(paid["status"], "paid");
    assert_eq!(paid["shipment"], Value::Null);
    assert_eq!(paid["carrier"], Value::Null);
    assert_eq!(paid["shipped_at"], Value::Null);
}

#[tokio::test]
async fn demo_shop_refuses_unknown_and_malformed_order_numbers() {
    let shop = Shop::new();
    for (path, status, code) in [
        ("/orders/20249999999", StatusCode::NOT_FOUND, "not_found"),
        ("/orders/1234567", StatusCode::BAD_REQUEST, "invalid_order_number"),
        ("/orders/123456789012345678901", StatusCode::BAD_REQUEST, "invalid_order_number"),
        ("/orders/2024112300a", StatusCode::BAD_REQUEST, "invalid_order_number"),
        ("/orders", StatusCode::BAD_REQUEST, "missing_user_id"),
        ("/returns/R000000000001", StatusCode::NOT_FOUND, "not_found"),
        ("/nowhere", StatusCode::NOT_FOUND, "not_found"),
    ] {
        let response = shop.get(path).await;
        assert_eq!(response.status, status, "{path}: {}", response.text());
        assert_eq!(error_code(&response), code, "{path}");
    }
}

#[tokio::test]
async fn demo_shop_lists_a_users_orders_newest_first() {
    let shop = Shop::new();
    let response = shop.get("/orders?user_id=u-1001").await;
    assert_eq!(response.status, StatusCode::OK);
    let numbers: Vec<Value> = response.json()["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|order| order["number"].clone())
        .collect();
    assert_eq!(
        numbers,
        [json!("20241125004"), json!("20241124003"), json!("20241123001"), json!("20241120002")]
    );
    let emily = shop.get("/orders?user_id=u-1002").await.json();
    assert_eq!(emily["orders"][0]["customer_name"], "Emily Brown");
    assert_eq!(emily["orders"].as_array().unwrap().len(), 1);
    let nobody = shop.get("/orders?user_id=u-9999").await.json();
    assert_eq!(nobody["orders"], json!([]));
}

#[tokio::test]
async fn demo_shop_creates_a_return_request_once() {
    let shop = Shop::new();
    let response = shop.request_return("20241123001", "u-1001").await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
    let request = response.json();
    let request_number = request["request_number"].as_str().unwrap().to_owned();
    assert!(request_number.starts_with('R'), "{request_number}");
    assert_eq!(request["order_number"], "20241123001");
    assert_eq!(request["status"], "open");
    assert_eq!(request["refund_amount"], json!(338.0));
    assert!(request["created_at"].as_str().unwrap().ends_with("+08:00"));
    assert!(request["created_at_ms"].is_i64());

    let shown = shop.get(&format!("/returns/{request_number}")).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert_eq!(shown.json(), request);

    let again = shop.request_return("20241123001", "u-1001").await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(
        again.json(),
        json!({ "error": "already_requested", "request_number": request_number })
    );

    // A clone shares the requests (the router holds one).
    let other = Shop { router: shop.shop.clone().router(), shop: shop.shop.clone() };
    assert_eq!(other.request_return("20241123001", "u-1001").await.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn demo_shop_files_an_exchange_without_a_refund() {
    let shop = Shop::new();
    let body = json!({ "order_number": "20241123001", "reason": "size", "user_id": "u-1001", "kind": "exchange" });
    let response =
        shop.send(Method::POST, "/returns", Some(KEY), Body::from(body.to_string())).await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
    let request = response.json();
    assert!(request["request_number"].as_str().unwrap().starts_with('E'), "{request}");
    assert_eq!(
        (request["kind"].clone(), request["refund_amount"].clone()),
        (json!("exchange"), json!(0.0))
    );
    let bad = json!({ "order_number": "20241122005", "reason": "x", "user_id": "u-1002", "kind": "upgrade" });
    let refused = shop.send(Method::POST, "/returns", Some(KEY), Body::from(bad.to_string())).await;
    assert_eq!(
        (refused.status, error_code(&refused).as_str()),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    assert_eq!(shop.request_return("20241123001", "u-1001").await.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn demo_shop_refuses_returns_it_cannot_accept() {
    let shop = Shop::new();
    let outside = shop.request_return("20241120002", "u-1001").await;
    assert_eq!(outside.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", outside.text());
    let body = outside.json();
    assert_eq!(body["error"], "outside_return_window");
    assert_eq!(body["window_days"], 7);
    assert_eq!(body["delivered_at_ms"], json!(shop.shop.started_at() - 12 * DAY_MS));
    assert!(body["delivered_at"].is_string());

    for (order_number, user_id, status, code) in [
        ("20241124003", "u-1001", StatusCode::UNPROCESSABLE_ENTITY, "not_delivered"),
        ("20241125004", "u-1001", StatusCode::UNPROCESSABLE_ENTITY, "not_delivered"),
        ("20241122005", "u-1001", StatusCode::FORBIDDEN, "not_your_order"),
        ("20241123001", "u-1002", StatusCode::FORBIDDEN, "not_your_order"),
        ("20249999999", "u-1001", StatusCode::NOT_FOUND, "not_found"),
        ("123", "u-1001", StatusCode::BAD_REQUEST, "invalid_order_number"),
    ] {
        let response = shop.request_return(order_number, user_id).await;
        assert_eq!(response.status, status, "{order_number} by {user_id}: {}", response.text());
        assert_eq!(error_code(&response), code, "{order_number} by {user_id}");
    }
    // Refusals leave nothing behind: the owner can still ask.
    assert_eq!(shop.request_return("20241122005", "u-1002").await.status, StatusCode::CREATED);
}

#[tokio::test]
async fn demo_shop_refuses_malformed_return_bodies() {
    let shop = Shop::new();
    for body in [
        "{not json".to_owned(),
        String::new(),
        json!({ "order_number": "20241123001", "user_id": "u-1001" }).to_string(),
        json!({ "order_number": "20241123001", "reason": "x" }).to_string(),
        json!({ "order_number": 20241123001u64, "reason": "x", "user_id": "u-1001" }).to_string(),
        json!({ "order_number": "20241123001", "reason": " ", "user_id": "u-1001" }).to_string(),
        json!([]).to_string(),
    ] {
        let response =
            shop.send(Method::POST, "/returns", Some(KEY), Body::from(body.clone())).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{body}: {}", response.text());
        assert_eq!(error_code(&response), "invalid_request", "{body}");
    }
}

#[tokio::test]
async fn demo_shop_failure_switches_misbehave() {
    let shop = Shop::new();
    let failing = shop.get("/orders/20240000500").await;
    assert_eq!(failing.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(error_code(&failing), "internal_error");
    assert_eq!(
        shop.request_return("20240000500", "u-1001").await.status,
        StatusCode::INTERNAL_SERVER_ERROR
    );

    let started = std::time::Instant::now();
    let slow = shop.get("/orders/20240000408").await;
    assert!(started.elapsed() >= Duration::from_millis(20));
    assert_eq!(slow.status, StatusCode::NOT_FOUND);
}
