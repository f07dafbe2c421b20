//! One customer across channels: a supervisor merges an anonymous widget visitor into the
//! verified customer (agents may not), the customer's history then has both conversations,
//! the visitor's later messages go to the kept customer, and the undo puts everything back.

use axum::http::{Method, StatusCode};
use serde_json::json;
use tandem_domain::{ConversationId, CustomerId};
use tandem_server::testing::{ADMIN, AGENT, SUPERVISOR, TestApp};

use crate::webhooks::call;

/// The customer of the conversation a widget message went to.
async fn customer_of(app: &TestApp, sent: &tandem_server::testing::Response) -> (i64, i64) {
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.text());
    let conversation = sent.json()["message"]["conversation_id"].as_i64().unwrap();
    let customer =
        app.store.conversation(ConversationId(conversation)).await.unwrap().unwrap().customer_id.0;
    (customer, conversation)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_merges_two_customers_and_undoes_it() {
    let app = TestApp::new().await;
    let supervisor = app.login(SUPERVISOR).await;
    let agent = app.login(AGENT).await;
    let admin = app.login(ADMIN).await;
    let visitor_token = app.widget_token().await;
    let (visitor, visitor_conversation) =
        customer_of(&app, &app.widget_send(&visitor_token, "v1", "耳机坏了").await).await;
    let signed_in = app.signed_in_session("u-3003").await;
    let signed_in_token = signed_in["token"].as_str().unwrap().to_owned();
    let (keep, keep_conversation) =
        customer_of(&app, &app.widget_send(&signed_in_token, "s1", "订单到哪了").await).await;
    assert_ne!(visitor, keep);

    let merge_uri = format!("/api/v1/customers/{visitor}/merge");
    // Agents may not merge; a customer is not merged into itself.
    let refused = call(&app, &agent, Method::POST, &merge_uri, Some(json!({ "into": keep }))).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text());
    assert_eq!(refused.code(), "managers_only");
    let itself =
        call(&app, &supervisor, Method::POST, &merge_uri, Some(json!({ "into": visitor }))).await;
    assert_eq!(itself.status, StatusCode::CONFLICT, "{}", itself.text());
    assert_eq!(itself.code(), "merge_into_itself");
    let unknown =
        call(&app, &supervisor, Method::POST, &merge_uri, Some(json!({ "into": 999_999 }))).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.text());
    assert_eq!(unknown.code(), "customer_not_found");

    // Merged: the kept customer's history has both conversations.
    let merged =
        call(&app, &supervisor, Method::POST, &merge_uri, Some(json!({ "into": keep }))).await;
    assert_eq!(merged.status, StatusCode::OK, "{}", merged.text());
    let record = merged.json();
    assert_eq!(
        (record["keep_id"].as_i64(), record["merged_id"].as_i64()),
        (Some(keep), Some(visitor))
    );
    assert_eq!(record["conversation_ids"], json!([visitor_conversation]));
    let merge_id = record["id"].as_i64().unwrap();
    let shown = call(&app, &agent, Method::GET, &format!("/api/v1/customers/{keep}"), None).await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.text());
    let shown = shown.json();
    let mut conversations: Vec<i64> = shown["conversation_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_i64().unwrap())
        .collect();
    conversations.sort();
    assert_eq!(conversations, vec![visitor_conversation, keep_conversation]);
    assert_eq!(shown["merges"][0]["id"], merge_id);
    assert_eq!(shown["merges"][0]["undone_at"], json!(null));
    let history = app.store.customer_history(CustomerId(keep)).await.unwrap();
    assert_eq!(history.conversations, 2);
    // A second merge of the merged-away customer is refused.
    let again = call(&app, &admin, Method::POST, &merge_uri, Some(json!({ "into": keep }))).await;
    assert_eq!(again.code(), "customer_merged_away", "{}", again.text());

    // The visitor's widget session still works: its message goes to the kept customer.
    let (later, _) =
        customer_of(&app, &app.widget_send(&visitor_token, "v2", "还在吗").await).await;
    assert_eq!(later, keep);

    // The audit log names the merge.
    let audit = call(&app, &admin, Method::GET, "/api/v1/audit?action=customer.merge", None).await;
    assert_eq!(audit.status, StatusCode::OK, "{}", audit.text());
    let entries = audit.json()["entries"].clone();
    assert_eq!(entries[0]["action"], "customer.merge", "{entries:#}");

    // Undo (agents may not): the visitor has its conversation back; only once.
    let undo_uri = format!("/api/v1/customer-merges/{merge_id}/undo");
    let refused = call(&app, &agent, Method::POST, &undo_uri, None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text());
    let undone = call(&app, &supervisor, Method::POST, &undo_uri, None).await;
    assert_eq!(undone.status, StatusCode::OK, "{}", undone.text());
    assert!(undone.json()["undone_at"].is_i64(), "{}", undone.text());
    let history = app.store.customer_history(CustomerId(visitor)).await.unwrap();
    assert_eq!(history.conversations, 1);
    let shown =
        call(&app, &agent, Method::GET, &format!("/api/v1/customers/{visitor}"), None).await;
    assert_eq!(shown.json()["conversation_ids"], json!([visitor_conversation]));
    let twice = call(&app, &supervisor, Method::POST, &undo_uri, None).await;
    assert_eq!(twice.status, StatusCode::CONFLICT, "{}", twice.text());
    assert_eq!(twice.code(), "merge_undone");
    let missing =
        call(&app, &supervisor, Method::POST, "/api/v1/customer-merges/999999/undo", None).await;
    assert_eq!(missing.code(), "customer_merge_not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_conversation_page_merges_the_customer_and_undoes_it() {
    let app = TestApp::new().await;
    let supervisor = app.login(SUPERVISOR).await;
    let agent = app.login(AGENT).await;
    let visitor_token = app.widget_token().await;
    let (visitor, _) =
        customer_of(&app, &app.widget_send(&visitor_token, "v1", "耳机坏了").await).await;
    let signed_in = app.signed_in_session("u-4004").await;
    let token = signed_in["token"].as_str().unwrap().to_owned();
    let (keep, conversation) =
        customer_of(&app, &app.widget_send(&token, "s1", "订单到哪了").await).await;
    let page = format!("/conversations/{conversation}");
    let cookie = |session: &tandem_server::testing::Session| session.cookie.clone();

    // Agents see no merge form and may not post it.
    let shown = app.get(&page, &[("cookie", &cookie(&agent))]).await;
    assert!(!shown.text().contains("customer-merge"), "{}", shown.text());
    let fields = [
        ("csrf", agent.csrf.as_str()),
        ("into", &keep.to_string()),
        ("conversation", &conversation.to_string()),
    ];
    let refused = app
        .post_form(&format!("/customers/{visitor}/merge"), &[("cookie", &cookie(&agent))], &fields)
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text());

    // A supervisor merges the visitor into this conversation's customer, then undoes it.
    let shown = app.get(&page, &[("cookie", &cookie(&supervisor))]).await;
    assert!(shown.text().contains("customer-merge"), "{}", shown.text());
    assert!(!shown.text().contains("undo-merge"));
    let fields = [
        ("csrf", supervisor.csrf.as_str()),
        ("into", &keep.to_string()),
        ("conversation", &conversation.to_string()),
    ];
    let merged = app
        .post_form(
            &format!("/customers/{visitor}/merge"),
            &[("cookie", &cookie(&supervisor))],
            &fields,
        )
        .await;
    assert_eq!(merged.status, StatusCode::SEE_OTHER, "{}", merged.text());
    assert_eq!(app.store.customer_history(CustomerId(keep)).await.unwrap().conversations, 2);
    let shown = app.get(&page, &[("cookie", &cookie(&supervisor))]).await;
    let html = shown.text();
    assert!(html.contains("undo-merge"), "{html}");
    let merge = tandem_server::testing::attribute(&html, "action=\"/customer-merges/");
    let merge = merge.split('/').next().unwrap().to_owned();
    let fields = [("csrf", supervisor.csrf.as_str()), ("conversation", &conversation.to_string())];
    let undone = app
        .post_form(
            &format!("/customer-merges/{merge}/undo"),
            &[("cookie", &cookie(&supervisor))],
            &fields,
        )
        .await;
    assert_eq!(undone.status, StatusCode::SEE_OTHER, "{}", undone.text());
    assert_eq!(app.store.customer_history(CustomerId(keep)).await.unwrap().conversations, 1);
    assert_eq!(app.store.customer_history(CustomerId(visitor)).await.unwrap().conversations, 1);
    let shown = app.get(&page, &[("cookie", &cookie(&supervisor))]).await;
    assert!(!shown.text().contains("undo-merge"));
}
