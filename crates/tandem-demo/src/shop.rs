//! A fake online shop with its own small JSON API, for the offline demo.
//!
//! Tandem's bot reaches business systems through declarative HTTP connectors. So that the demo
//! can answer "我的订单 20241123001 到哪了" or "I want to return order 20241123001" through the
//! very mechanism a real business would use, `tandem demo` serves this shop next to the app,
//! under [`BASE_PATH`] (`/demo/shop/api`). It is not part of Tandem proper: nothing else in the
//! server calls it, and it knows nothing of workspaces or conversations.
//!
//! # API
//!
//! Every request needs `Authorization: Bearer <key>` (the key is [`DEFAULT_KEY`],
//! `demo-shop-key`, unless `tandem demo` finds [`KEY_VARIABLE`], `TANDEM_DEMO_SHOP_KEY`, set);
//! without it the answer is 401 `{"error":"unauthorized"}`. Errors are always
//! `{"error": "<code>", ...}`.
//!
//! - `GET /orders/{number}`: 200 with the order (below); 400 `invalid_order_number` unless the
//!   number is 8 to 20 digits; 404 `not_found`.
//! - `GET /orders?user_id=u-1001`: 200 `{"user_id", "orders": [order, ...]}`, newest first;
//!   400 `missing_user_id`.
//! - `POST /returns` with `{"order_number", "reason", "user_id"}` and optionally `"kind"`
//!   (`return`, the default, or `exchange`: the same item sent again, nothing refunded): 201
//!   with the request;
//!   400 `invalid_request` (malformed JSON, a missing or empty field) or `invalid_order_number`;
//!   404 `not_found`; 403 `not_your_order`; 409 `already_requested` (with its
//!   `request_number`); 422 `not_delivered`; 422 `outside_return_window` (with `delivered_at`,
//!   `delivered_at_ms` and `window_days`: 7).
//! - `GET /returns/{request_number}`: 200 with the return request; 404 `not_found`.
//!
//! An order is `{"number", "user_id", "customer_name", "status" (paid, shipped, delivered,
//! cancelled), "items": [{"name", "quantity", "price"}], "total", "currency": "CNY",
//! "placed_at", "shipped_at", "delivered_at", "carrier", "tracking_number", "shipment"}`; the
//! shipment (null until shipped) is `{"status" (in_transit, delivered), "last_event",
//! "last_location", "updated_at", "eta", "eta_date", "events": [{"at", "location", "description"}]}`, its
//! events newest first. A return request is `{"request_number" (`R…`, or `E…` for an
//! exchange), "kind", "order_number", "user_id", "reason", "status": "open", "refund_amount"
//! (0 for an exchange), "created_at"}`. Money is a JSON number in yuan.
//! Every time is an RFC 3339 string in China time (`+08:00`) and, beside it, the same instant
//! in milliseconds since the epoch under the name with `_ms` appended (`placed_at_ms`); a time
//! that does not apply is null in both.
//!
//! # Seed data
//!
//! The orders are made afresh at start-up, their times relative to the start (so the demo
//! always works, whatever the date):
//!
//! | order | customer | state |
//! |---|---|---|
//! | 20241123001 | u-1001 张伟 | delivered 2 days ago (phone case and earbuds): returnable |
//! | 20241120002 | u-1001 张伟 | delivered 12 days ago: outside the 7-day return window |
//! | 20241124003 | u-1001 张伟 | shipped yesterday, in transit, arriving tomorrow |
//! | 20241125004 | u-1001 张伟 | paid 2 hours ago, not shipped |
//! | 20241122005 | u-1002 Emily Brown | delivered 3 days ago (English item names) |
//!
//! Return requests live in memory only: they are lost when the server restarts, and the seed
//! orders move with the new start time.
//!
//! # Failure switches
//!
//! For trying out connectors' error handling, two order numbers misbehave wherever an order
//! number is taken (`GET /orders/{number}`, `POST /returns`): [`FAILING_ORDER`]
//! (`20240000500`) answers 500 `{"error":"internal_error"}`, and [`SLOW_ORDER`]
//! (`20240000408`) waits 15 seconds, then answers as for any unknown order (404).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tandem_domain::Millis;

/// Where the shop's API is mounted.
pub const BASE_PATH: &str = "/demo/shop/api";
/// The bearer key when none is configured.
pub const DEFAULT_KEY: &str = "demo-shop-key";
/// The environment variable `tandem demo` reads the key from.
pub const KEY_VARIABLE: &str = "TANDEM_DEMO_SHOP_KEY";
/// An order number that always answers 500.
pub const FAILING_ORDER: &str = "20240000500";
/// An order number that answers only after [`SLOW_DELAY`].
pub const SLOW_ORDER: &str = "20240000408";
/// How long [`SLOW_ORDER`] takes, unless changed with [`DemoShop::with_slow_delay`].
pub const SLOW_DELAY: Duration = Duration::from_secs(15);
/// Days after delivery in which an order may be returned.
pub const RETURN_WINDOW_DAYS: i64 = 7;

const MINUTE: Millis = 60 * 1000;
const HOUR: Millis = 60 * MINUTE;
const DAY: Millis = 24 * HOUR;
/// China Standard Time, the shop's time zone.
const ZONE_OFFSET: Millis = 8 * HOUR;

/// The demo shop: its seed orders, its return requests and its key. Cheap to clone; clones
/// share the return requests.
#[derive(Clone)]
pub struct DemoShop {
    shop: Arc<Shop>,
    slow_delay: Duration,
}

impl std::fmt::Debug for DemoShop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoShop")
            .field("orders", &self.shop.orders.len())
            .field("started_at", &self.shop.started_at)
            .finish_non_exhaustive()
    }
}

struct Shop {
    key: String,
    started_at: Millis,
    orders: BTreeMap<String, Order>,
    returns: Mutex<Returns>,
}

#[derive(Default)]
struct Returns {
    /// By request number.
    requests: BTreeMap<String, ReturnRequest>,
    /// Request number by order number: one request per order.
    by_order: BTreeMap<String, String>,
    /// The last sequence number handed out.
    sequence: u32,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum OrderStatus {
    Paid,
    Shipped,
    Delivered,
    // Kept for the API's vocabulary even though no seed order is cancelled.
    #[allow(dead_code)]
    Cancelled,
}

impl OrderStatus {
    fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Paid => "paid",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Cancelled => "cancelled",
        }
    }
}

struct Item {
    name: &'static str,
    quantity: u32,
    /// Unit price in fen (hundredths of a yuan: 3900 is ¥39.00), so that sums are exact.
    price: i64,
}

struct TrackingEvent {
    at: Millis,
    location: &'static str,
    description: &'static str,
}

struct Shipment {
    carrier: &'static str,
    tracking_number: &'static str,
    /// Oldest first.
    events: Vec<TrackingEvent>,
    eta: Option<Millis>,
}

struct Order {
    number: &'static str,
    user_id: &'static str,
    customer_name: &'static str,
    status: OrderStatus,
    items: Vec<Item>,
    placed_at: Millis,
    shipped_at: Option<Millis>,
    delivered_at: Option<Millis>,
    shipment: Option<Shipment>,
}

impl Order {
    fn total(&self) -> i64 {
        self.items.iter().map(|item| item.price * i64::from(item.quantity)).sum()
    }

    fn to_json(&self) -> Value {
        let mut order = Map::new();
        order.insert("number".into(), json!(self.number));
        order.insert("user_id".into(), json!(self.user_id));
        order.insert("customer_name".into(), json!(self.customer_name));
        order.insert("status".into(), json!(self.status.as_str()));
        let items: Vec<Value> = self
            .items
            .iter()
            .map(|item| {
                json!({ "name": item.name, "quantity": item.quantity, "price": yuan(item.price) })
            })
            .collect();
        order.insert("items".into(), Value::Array(items));
        order.insert("total".into(), yuan(self.total()));
        order.insert("currency".into(), json!("CNY"));
        insert_time(&mut order, "placed_at", Some(self.placed_at));
        insert_time(&mut order, "shipped_at", self.shipped_at);
        insert_time(&mut order, "delivered_at", self.delivered_at);
        order.insert("carrier".into(), json!(self.shipment.as_ref().map(|s| s.carrier)));
        order.insert(
            "tracking_number".into(),
            json!(self.shipment.as_ref().map(|s| s.tracking_number)),
        );
        let shipment = self.shipment.as_ref().map_or(Value::Null, |shipment| {
            let last = shipment.events.last();
            let mut value = Map::new();
            let status = if self.delivered_at.is_some() { "delivered" } else { "in_transit" };
            value.insert("status".into(), json!(status));
            value.insert("last_event".into(), json!(last.map(|event| event.description)));
            value.insert("last_location".into(), json!(last.map(|event| event.location)));
            insert_time(&mut value, "updated_at", last.map(|event| event.at));
            insert_time(&mut value, "eta", shipment.eta);
            // The day, for people ("2026-11-27").
            value.insert(
                "eta_date".into(),
                json!(shipment.eta.map(|eta| rfc3339(eta)[..10].to_owned())),
            );
            let events: Vec<Value> = shipment
                .events
                .iter()
                .rev()
                .map(|event| {
                    let mut value = Map::new();
                    insert_time(&mut value, "at", Some(event.at));
                    value.insert("location".into(), json!(event.location));
                    value.insert("description".into(), json!(event.description));
                    Value::Object(value)
                })
                .collect();
            value.insert("events".into(), Value::Array(events));
            Value::Object(value)
        });
        order.insert("shipment".into(), shipment);
        Value::Object(order)
    }
}

#[derive(Clone)]
struct ReturnRequest {
    request_number: String,
    /// `return` or `exchange`.
    kind: &'static str,
    order_number: String,
    user_id: String,
    reason: String,
    refund_amount: i64,
    created_at: Millis,
}

impl ReturnRequest {
    fn to_json(&self) -> Value {
        let mut request = Map::new();
        request.insert("request_number".into(), json!(self.request_number));
        request.insert("kind".into(), json!(self.kind));
        request.insert("order_number".into(), json!(self.order_number));
        request.insert("user_id".into(), json!(self.user_id));
        request.insert("reason".into(), json!(self.reason));
        request.insert("status".into(), json!("open"));
        request.insert("refund_amount".into(), yuan(self.refund_amount));
        request.insert("currency".into(), json!("CNY"));
        insert_time(&mut request, "created_at", Some(self.created_at));
        Value::Object(request)
    }
}

impl DemoShop {
    /// A shop whose seed orders are timed relative to now, answering to bearer `key`.
    pub fn new(key: impl Into<String>) -> DemoShop {
        DemoShop::starting_at(key, tandem_store::now_millis())
    }

    /// A shop whose seed orders are timed relative to `started_at` (rounded down to the
    /// minute, so the seed times read naturally).
    pub fn starting_at(key: impl Into<String>, started_at: Millis) -> DemoShop {
        let started_at = started_at - started_at.rem_euclid(MINUTE);
        DemoShop {
            shop: Arc::new(Shop {
                key: key.into(),
                started_at,
                orders: seed_orders(started_at)
                    .into_iter()
                    .map(|order| (order.number.to_owned(), order))
                    .collect(),
                returns: Mutex::new(Returns::default()),
            }),
            slow_delay: SLOW_DELAY,
        }
    }

    /// Changes how long [`SLOW_ORDER`] takes (tests use milliseconds).
    pub fn with_slow_delay(mut self, delay: Duration) -> DemoShop {
        self.slow_delay = delay;
        self
    }

    /// When the seed orders' times count from.
    pub fn started_at(&self) -> Millis {
        self.shop.started_at
    }

    /// The shop's API, mounted at [`BASE_PATH`]; merge it with the app's router.
    pub fn router(&self) -> Router {
        let api = Router::new()
            .route("/orders", get(list_orders))
            .route("/orders/{number}", get(show_order))
            .route("/returns", post(create_return))
            .route("/returns/{request_number}", get(show_return))
            .route("/{*rest}", any(unknown_path))
            .layer(middleware::from_fn_with_state(self.clone(), authorize))
            .layer(DefaultBodyLimit::max(tandem_server::MAX_BODY_BYTES))
            .with_state(self.clone());
        Router::new().nest(BASE_PATH, api)
    }

    fn returns(&self) -> std::sync::MutexGuard<'_, Returns> {
        // A panic while holding the lock cannot leave the books half-written (every change is
        // two inserts after all checks), so a poisoned lock is still usable.
        self.shop.returns.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies the failure switches for `number`: `Some` is the answer to give instead.
    async fn misbehave(&self, number: &str) -> Option<Response> {
        if number == FAILING_ORDER {
            return Some(error(StatusCode::INTERNAL_SERVER_ERROR, "internal_error"));
        }
        if number == SLOW_ORDER {
            tokio::time::sleep(self.slow_delay).await;
        }
        None
    }
}

/// Refuses every request without the right bearer key.
async fn authorize(State(shop): State<DemoShop>, request: Request, next: Next) -> Response {
    if bearer(request.headers()) == Some(shop.shop.key.as_str()) {
        next.run(request).await
    } else {
        error(StatusCode::UNAUTHORIZED, "unauthorized")
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// With `?user_id=`, an order of someone else is refused (403 `not_your_order`), as a shop
/// answering on behalf of a signed-in customer would.
async fn show_order(
    State(shop): State<DemoShop>,
    Path(number): Path<String>,
    Query(query): Query<ListQuery>,
) -> Response {
    if let Some(response) = shop.misbehave(&number).await {
        return response;
    }
    if !is_order_number(&number) {
        return error(StatusCode::BAD_REQUEST, "invalid_order_number");
    }
    match shop.shop.orders.get(&number) {
        Some(order) if query.user_id.as_ref().is_some_and(|user| *user != order.user_id) => {
            error(StatusCode::FORBIDDEN, "not_your_order")
        }
        Some(order) => Json(order.to_json()).into_response(),
        None => error(StatusCode::NOT_FOUND, "not_found"),
    }
}

#[derive(Deserialize)]
struct ListQuery {
    user_id: Option<String>,
}

async fn list_orders(State(shop): State<DemoShop>, Query(query): Query<ListQuery>) -> Response {
    let Some(user_id) = query.user_id.filter(|user_id| !user_id.trim().is_empty()) else {
        return error(StatusCode::BAD_REQUEST, "missing_user_id");
    };
    let mut orders: Vec<&Order> =
        shop.shop.orders.values().filter(|order| order.user_id == user_id).collect();
    orders.sort_by_key(|order| std::cmp::Reverse(order.placed_at));
    let orders: Vec<Value> = orders.into_iter().map(Order::to_json).collect();
    Json(json!({ "user_id": user_id, "orders": orders })).into_response()
}

#[derive(Deserialize)]
struct NewReturn {
    order_number: String,
    reason: String,
    user_id: String,
    #[serde(default)]
    kind: Option<String>,
}

async fn create_return(State(shop): State<DemoShop>, body: Bytes) -> Response {
    // The body is parsed here rather than by `Json` so that every refusal is this API's JSON.
    let new: NewReturn = match serde_json::from_slice(&body) {
        Ok(new) => new,
        Err(parse_error) => {
            return error_with(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                json!({ "message": parse_error.to_string() }),
            );
        }
    };
    let (order_number, reason, user_id) =
        (new.order_number.trim(), new.reason.trim(), new.user_id.trim());
    for (field, value) in [("order_number", order_number), ("reason", reason), ("user_id", user_id)]
    {
        if value.is_empty() {
            return error_with(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                json!({ "message": format!("{field} must not be empty") }),
            );
        }
    }
    let kind = match new.kind.as_deref().map(str::trim) {
        None | Some("return") => "return",
        Some("exchange") => "exchange",
        Some(other) => {
            return error_with(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                json!({ "message": format!("kind must be return or exchange, not {other:?}") }),
            );
        }
    };
    if let Some(response) = shop.misbehave(order_number).await {
        return response;
    }
    if !is_order_number(order_number) {
        return error(StatusCode::BAD_REQUEST, "invalid_order_number");
    }
    let Some(order) = shop.shop.orders.get(order_number) else {
        return error(StatusCode::NOT_FOUND, "not_found");
    };
    if order.user_id != user_id {
        return error(StatusCode::FORBIDDEN, "not_your_order");
    }
    let now = tandem_store::now_millis();
    let mut returns = shop.returns();
    if let Some(existing) = returns.by_order.get(order_number) {
        return error_with(
            StatusCode::CONFLICT,
            "already_requested",
            json!({ "request_number": existing }),
        );
    }
    let Some(delivered_at) = order.delivered_at.filter(|_| order.status == OrderStatus::Delivered)
    else {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "not_delivered");
    };
    if now - delivered_at > RETURN_WINDOW_DAYS * DAY {
        let mut details = Map::new();
        insert_time(&mut details, "delivered_at", Some(delivered_at));
        details.insert("window_days".into(), json!(RETURN_WINDOW_DAYS));
        return error_with(
            StatusCode::UNPROCESSABLE_ENTITY,
            "outside_return_window",
            Value::Object(details),
        );
    }
    returns.sequence += 1;
    let (year, month, day) = local_date(now);
    let request = ReturnRequest {
        request_number: format!(
            "{}{year:04}{month:02}{day:02}{:04}",
            if kind == "exchange" { 'E' } else { 'R' },
            returns.sequence
        ),
        kind,
        order_number: order_number.to_owned(),
        user_id: user_id.to_owned(),
        reason: reason.to_owned(),
        refund_amount: if kind == "exchange" { 0 } else { order.total() },
        created_at: now,
    };
    returns.by_order.insert(request.order_number.clone(), request.request_number.clone());
    returns.requests.insert(request.request_number.clone(), request.clone());
    drop(returns);
    tracing::info!(
        order_number = %request.order_number,
        request_number = %request.request_number,
        "demo shop return requested"
    );
    (StatusCode::CREATED, Json(request.to_json())).into_response()
}

async fn show_return(State(shop): State<DemoShop>, Path(request_number): Path<String>) -> Response {
    match shop.returns().requests.get(&request_number) {
        Some(request) => Json(request.to_json()).into_response(),
        None => error(StatusCode::NOT_FOUND, "not_found"),
    }
}

async fn unknown_path() -> Response {
    error(StatusCode::NOT_FOUND, "not_found")
}

fn is_order_number(number: &str) -> bool {
    (8..=20).contains(&number.len()) && number.bytes().all(|byte| byte.is_ascii_digit())
}

fn error(status: StatusCode, code: &str) -> Response {
    (status, Json(json!({ "error": code }))).into_response()
}

/// An error with more fields beside its code (`details` must be an object).
fn error_with(status: StatusCode, code: &str, details: Value) -> Response {
    let mut body = Map::new();
    body.insert("error".into(), json!(code));
    if let Value::Object(details) = details {
        body.extend(details);
    }
    (status, Json(Value::Object(body))).into_response()
}

/// Fen as a JSON number of yuan.
fn yuan(fen: i64) -> Value {
    json!(fen as f64 / 100.0)
}

/// Inserts `name` (RFC 3339 in +08:00) and `name_ms` (milliseconds), both null when absent.
fn insert_time(object: &mut Map<String, Value>, name: &str, time: Option<Millis>) {
    object.insert(name.into(), json!(time.map(rfc3339)));
    object.insert(format!("{name}_ms"), json!(time));
}

/// `YYYY-MM-DDTHH:MM:SS+08:00`.
fn rfc3339(millis: Millis) -> String {
    let seconds = (millis + ZONE_OFFSET).div_euclid(1000);
    let (days, rest) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (year, month, day) = tandem_domain::validate::civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}+08:00",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// The date in China at `millis`.
fn local_date(millis: Millis) -> (i64, u32, u32) {
    tandem_domain::validate::civil_from_days((millis + ZONE_OFFSET).div_euclid(DAY))
}

/// The seed orders, timed relative to `now`.
fn seed_orders(now: Millis) -> Vec<Order> {
    let ago = |days: i64, hours: i64| now - days * DAY - hours * HOUR;
    vec![
        Order {
            number: "20241123001",
            user_id: "u-1001",
            customer_name: "张伟",
            status: OrderStatus::Delivered,
            items: vec![
                Item { name: "iPhone 15 透明磁吸手机壳", quantity: 1, price: 3900 },
                Item { name: "无线降噪蓝牙耳机", quantity: 1, price: 29900 },
            ],
            placed_at: ago(5, 3),
            shipped_at: Some(ago(4, 6)),
            delivered_at: Some(ago(2, 0)),
            shipment: Some(Shipment {
                carrier: "顺丰速运 SF Express",
                tracking_number: "SF1402358816732",
                events: vec![
                    TrackingEvent {
                        at: ago(4, 6),
                        location: "深圳 / Shenzhen",
                        description: "快件已揽收 / Picked up in Shenzhen",
                    },
                    TrackingEvent {
                        at: ago(3, 10),
                        location: "上海转运中心 / Shanghai hub",
                        description: "快件已到达【上海转运中心】 / Arrived at Shanghai hub",
                    },
                    TrackingEvent {
                        at: ago(2, 4),
                        location: "上海市浦东新区 / Pudong, Shanghai",
                        description: "快件派送中 / Out for delivery",
                    },
                    TrackingEvent {
                        at: ago(2, 0),
                        location: "上海市浦东新区 / Pudong, Shanghai",
                        description: "已签收，签收人：本人 / Delivered, signed for by the recipient",
                    },
                ],
                eta: None,
            }),
        },
        Order {
            number: "20241120002",
            user_id: "u-1001",
            customer_name: "张伟",
            status: OrderStatus::Delivered,
            items: vec![Item { name: "不锈钢保温杯 500ml", quantity: 2, price: 8900 }],
            placed_at: ago(16, 2),
            shipped_at: Some(ago(15, 5)),
            delivered_at: Some(ago(12, 0)),
            shipment: Some(Shipment {
                carrier: "中通快递 ZTO Express",
                tracking_number: "78231904561287",
                events: vec![
                    TrackingEvent {
                        at: ago(15, 5),
                        location: "杭州 / Hangzhou",
                        description: "快件已揽收 / Picked up in Hangzhou",
                    },
                    TrackingEvent {
                        at: ago(13, 8),
                        location: "上海转运中心 / Shanghai hub",
                        description: "快件已到达【上海转运中心】 / Arrived at Shanghai hub",
                    },
                    TrackingEvent {
                        at: ago(12, 0),
                        location: "上海市浦东新区 / Pudong, Shanghai",
                        description: "已签收，放置于快递柜 / Delivered to a parcel locker",
                    },
                ],
                eta: None,
            }),
        },
        Order {
            number: "20241124003",
            user_id: "u-1001",
            customer_name: "张伟",
            status: OrderStatus::Shipped,
            items: vec![Item {
                name: "机械键盘（青轴，87键）", quantity: 1, price: 45900
            }],
            placed_at: ago(1, 20),
            shipped_at: Some(ago(1, 0)),
            delivered_at: None,
            shipment: Some(Shipment {
                carrier: "京东物流 JD Logistics",
                tracking_number: "JDVA20938471625",
                events: vec![
                    TrackingEvent {
                        at: ago(1, 0),
                        location: "广州 / Guangzhou",
                        description: "快件已揽收 / Picked up in Guangzhou",
                    },
                    TrackingEvent {
                        at: ago(0, 16),
                        location: "广州转运中心 / Guangzhou hub",
                        description: "快件已从【广州转运中心】发出 / Departed Guangzhou hub",
                    },
                    TrackingEvent {
                        at: ago(0, 3),
                        location: "上海转运中心 / Shanghai hub",
                        description: "快件已到达【上海转运中心】 / Arrived at Shanghai hub",
                    },
                ],
                eta: Some(now + DAY),
            }),
        },
        Order {
            number: "20241125004",
            user_id: "u-1001",
            customer_name: "张伟",
            status: OrderStatus::Paid,
            items: vec![
                Item { name: "纯棉圆领T恤（白色，L）", quantity: 2, price: 7900 },
                Item { name: "运动袜（5双装）", quantity: 1, price: 3500 },
            ],
            placed_at: ago(0, 2),
            shipped_at: None,
            delivered_at: None,
            shipment: None,
        },
        Order {
            number: "20241122005",
            user_id: "u-1002",
            customer_name: "Emily Brown",
            status: OrderStatus::Delivered,
            items: vec![
                Item { name: "Ceramic pour-over coffee set", quantity: 1, price: 16800 },
                Item { name: "Paper coffee filters (100 pack)", quantity: 2, price: 2500 },
            ],
            placed_at: ago(6, 4),
            shipped_at: Some(ago(5, 2)),
            delivered_at: Some(ago(3, 0)),
            shipment: Some(Shipment {
                carrier: "顺丰速运 SF Express",
                tracking_number: "SF1402359920418",
                events: vec![
                    TrackingEvent {
                        at: ago(5, 2),
                        location: "厦门 / Xiamen",
                        description: "快件已揽收 / Picked up in Xiamen",
                    },
                    TrackingEvent {
                        at: ago(4, 6),
                        location: "上海转运中心 / Shanghai hub",
                        description: "快件已到达【上海转运中心】 / Arrived at Shanghai hub",
                    },
                    TrackingEvent {
                        at: ago(3, 0),
                        location: "上海市静安区 / Jing'an, Shanghai",
                        description: "已签收，签收人：前台 / Delivered, signed for at reception",
                    },
                ],
                eta: None,
            }),
        },
    ]
}

/// The demo workspace's business actions (`assets/demo-actions.toml`), which call this shop
/// through `{env.DEMO_SHOP_URL}` and `{env.DEMO_SHOP_KEY}`.
pub const ACTIONS: &str = include_str!("../assets/demo-actions.toml");

/// Loads [`ACTIONS`] into the demo workspace.
pub async fn seed_actions(
    store: &std::sync::Arc<dyn tandem_store::Store>,
    workspace: tandem_domain::WorkspaceId,
) -> Result<(), crate::DemoError> {
    let actions = tandem_bot::actions::parse(ACTIONS).map_err(crate::DemoError::Actions)?;
    store.save_actions(workspace, actions).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times_in_china() {
        assert_eq!(rfc3339(0), "1970-01-01T08:00:00+08:00");
        assert_eq!(rfc3339(1_764_072_000_000), "2025-11-25T20:00:00+08:00");
        // 16:00 UTC is already the next day in China.
        assert_eq!(local_date(1_764_086_400_000), (2025, 11, 26));
    }

    #[test]
    fn recognises_order_numbers() {
        for (number, expected) in [
            ("20241123001", true),
            ("12345678", true),
            ("1234567", false),
            ("123456789012345678901", false),
            ("2024112300a", false),
            ("", false),
        ] {
            assert_eq!(is_order_number(number), expected, "{number:?}");
        }
    }

    #[test]
    fn seed_orders_are_consistent() {
        for order in seed_orders(1_764_072_000_000) {
            assert_eq!(order.delivered_at.is_some(), order.status == OrderStatus::Delivered);
            assert_eq!(order.shipment.is_some(), order.shipped_at.is_some());
            if let Some(shipment) = &order.shipment {
                assert!(shipment.events.windows(2).all(|pair| pair[0].at < pair[1].at));
                assert_eq!(shipment.events.first().map(|event| event.at), order.shipped_at);
            }
        }
    }
}
