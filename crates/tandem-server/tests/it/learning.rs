//! Knowledge → Suggestions: what people answered becomes wordings and gaps that a supervisor
//! accepts or rejects, and an accepted wording is answered by the bot at once.

use axum::http::StatusCode;
use serde_json::json;
use tandem_server::testing::{AGENT, SUPERVISOR, Session, TestApp};

const RETURNS_ANSWER: &str = "签收后 7 天内可申请无理由退货（商品及包装保持完好）。退款在我们收到退货后 1–3 个工作日原路返回。";

/// A new customer asks `question`; an agent takes the conversation and answers `reply`.
async fn answered_by_people(app: &TestApp, agent: &Session, question: &str, reply: &str) -> i64 {
    let token = app.widget_token().await;
    let sent = app.widget_send(&token, "q1", question).await;
    let conversation = sent.json()["message"]["conversation_id"].as_i64().unwrap();
    let headers = [("cookie", agent.cookie.as_str()), ("x-csrf-token", agent.csrf.as_str())];
    let transitions = format!("/api/v1/conversations/{conversation}/transitions");
    let taken = app.post_json(&transitions, &headers, json!({ "action": "assign" })).await;
    assert_eq!(taken.status, StatusCode::OK, "{}", taken.text());
    let messages = format!("/api/v1/conversations/{conversation}/messages");
    let replied =
        app.post_json(&messages, &headers, json!({ "body": reply, "client_msg_id": "a1" })).await;
    assert_eq!(replied.status, StatusCode::CREATED, "{}", replied.text());
    conversation
}

/// The value of the form field `name` on `html`.
fn field(html: &str, name: &str) -> String {
    let start =
        html.find(&format!("name=\"{name}\" value=\"")).unwrap_or_else(|| panic!("{name}: {html}"))
            + name.len()
            + 15;
    let value = &html[start..];
    value[..value.find('"').unwrap()].replace("&#x2f;", "/")
}

#[tokio::test]
async fn what_people_answer_is_suggested_and_an_accepted_wording_is_answered_at_once() {
    let app = TestApp::fixture().sample_articles().build().await;
    let agent = app.login(AGENT).await;
    let wording = "买的裙子不合适 能寄回给你们吗";
    let first = answered_by_people(&app, &agent, wording, RETURNS_ANSWER).await;
    let second =
        answered_by_people(&app, &agent, wording, &format!("您好，{RETURNS_ANSWER}")).await;
    for question in ["可以开增值税专用发票吗", "能开增值税专用发票吗 公司报销要用"]
    {
        answered_by_people(&app, &agent, question, "可以，请在订单页填写公司税号申请专票。").await;
    }

    // Every agent reads the suggestions; only managers decide.
    let page = app.get("/knowledge/suggestions", &[("cookie", &agent.cookie)]).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(html.contains("data-variant=\"returns\""), "{html}");
    assert!(html.contains(&format!("href=\"/conversations/{first}\"")));
    assert!(html.contains(&format!("href=\"/conversations/{second}\"")));
    assert!(html.contains("data-gap="), "{html}");
    assert!(html.contains("税号"), "the agents' answer is shown");
    // The gap says on which days it was asked: both conversations began today (UTC).
    let detail = format!("/api/v1/conversations/{first}");
    let created =
        app.get(&detail, &[("cookie", &agent.cookie)]).await.json()["conversation"]["created_at"]
            .as_i64()
            .unwrap();
    let today = tandem_domain::validate::format_timestamp(created)[..10].to_owned();
    assert!(html.contains("data-testid=\"gap-daily\""), "{html}");
    assert!(html.contains(&format!("<time datetime=\"{today}\">{today}</time> 2")), "{html}");
    let refused = app
        .post_form(
            "/knowledge/suggestions",
            &[("cookie", &agent.cookie)],
            &[("csrf", agent.csrf.as_str()), ("decision", "accept"), ("pick", "v0")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let supervisor = app.login(SUPERVISOR).await;
    let html = app.get("/knowledge/suggestions", &[("cookie", &supervisor.cookie)]).await.text();
    assert!(html.contains("/knowledge/new?title="), "a gap can be created as an article");
    let edited = format!("{wording}？");
    let accepted = app
        .post_form(
            "/knowledge/suggestions",
            &[("cookie", &supervisor.cookie)],
            &[
                ("csrf", supervisor.csrf.as_str()),
                ("pick", "v0"),
                ("wording_v0", edited.as_str()),
                ("subject_v0", field(&html, "subject_v0").as_str()),
                ("article_v0", "returns"),
                ("conversations_v0", field(&html, "conversations_v0").as_str()),
                ("decision", "accept"),
            ],
        )
        .await;
    assert_eq!(accepted.status, StatusCode::SEE_OTHER, "{}", accepted.text());
    assert_eq!(accepted.headers["location"], "/knowledge/suggestions?notice=accepted");

    // The edited wording is in the article's new version and the bot answers it now.
    let articles = app.get("/api/v1/articles", &[("cookie", &supervisor.cookie)]).await.json();
    let list = articles.as_array().or(articles["articles"].as_array()).unwrap().clone();
    let article = list.iter().find(|article| article["key"] == "returns").unwrap();
    assert!(article["questions"].as_array().unwrap().contains(&json!(edited)), "{article}");
    let token = app.widget_token().await;
    app.widget_send(&token, "n1", wording).await;
    app.bot_reply_containing(&token, "7 天内").await;

    // The article's history says which version learnt the wording, and from which
    // conversations; the versions before it learnt nothing.
    let edit = app.get("/knowledge/returns", &[("cookie", &supervisor.cookie)]).await.text();
    assert_eq!(edit.matches("data-testid=\"learnt-from\"").count(), 1, "{edit}");
    let provenance = &edit[edit.find("data-testid=\"learnt-from\"").unwrap()..];
    let provenance = &provenance[..provenance.find("</p>").unwrap()];
    let (low, high) = (first.min(second), first.max(second));
    let links = format!(
        "<a href=\"/conversations/{low}\">#{low}</a>, <a href=\"/conversations/{high}\">#{high}</a>"
    );
    assert!(provenance.contains(&links), "{provenance}");
    let versions: Vec<usize> =
        edit.match_indices("class=\"kb-version-no\"").map(|(at, _)| at).collect();
    let at = edit.find("data-testid=\"learnt-from\"").unwrap();
    assert!(versions.len() >= 2 && versions[0] < at && at < versions[1], "the newest version");

    // Rejected, the gap is not suggested again; decided, the wording neither.
    let html = app.get("/knowledge/suggestions", &[("cookie", &supervisor.cookie)]).await.text();
    assert!(!html.contains("data-variant=\"returns\""), "{html}");
    let rejected = app
        .post_form(
            "/knowledge/suggestions",
            &[("cookie", &supervisor.cookie)],
            &[
                ("csrf", supervisor.csrf.as_str()),
                ("pick", "g0"),
                ("subject_g0", field(&html, "subject_g0").as_str()),
                ("conversations_g0", field(&html, "conversations_g0").as_str()),
                ("decision", "reject"),
            ],
        )
        .await;
    assert_eq!(rejected.headers["location"], "/knowledge/suggestions?notice=rejected");
    let html = app.get("/knowledge/suggestions", &[("cookie", &supervisor.cookie)]).await.text();
    assert!(!html.contains("data-gap="), "{html}");
}
