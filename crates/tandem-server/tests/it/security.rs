//! The security headers (`tandem_server::security`): the table of what each kind of response
//! carries, and, in a real browser (headless Chromium), every console page and the widget on a
//! page under the console's policy without a single Content-Security-Policy violation.
//!
//! Without Chromium the browser test says so loudly and passes, unless `TANDEM_REQUIRE_BROWSER`
//! is set, in which case a missing browser fails it.

use axum::Router;
use axum::http::StatusCode;
use axum::response::Html;
use axum::routing::get;
use serde_json::{Value, json};

use tandem_server::security::{CONTENT_SECURITY_POLICY, REFERRER_POLICY};
use tandem_server::testing::browser::{Browser, Page, chromium_or_skip};
use tandem_server::testing::{ADMIN, TestApp};

/// Where failure screenshots go.
const SCREENSHOTS: &str = concat!(env!("CARGO_TARGET_TMPDIR"), "/e2e");

/// What a response should carry beyond nosniff and the referrer policy, which all carry.
struct Expect {
    uri: String,
    signed_in: bool,
    html: bool,
    cache: &'static str,
}

#[tokio::test]
async fn every_kind_of_response_carries_the_security_headers() {
    let app = TestApp::fixture().sample_articles().build().await;
    let session = app.login(ADMIN).await;
    let token = app.widget_token().await;
    let sent = app.widget_send(&token, "security-1", "你好").await;
    let conversation = sent.json()["message"]["conversation_id"].as_i64().unwrap();
    let version = tandem_server::assets::VERSION.as_str();
    let expect = |uri: &str, signed_in: bool, html: bool, cache: &'static str| Expect {
        uri: uri.to_owned(),
        signed_in,
        html,
        cache,
    };
    let table = [
        expect("/login", false, true, "no-store"),
        expect("/inbox", true, true, "no-store"),
        expect(&format!("/conversations/{conversation}"), true, true, "no-store"),
        expect("/settings", true, true, "no-store"),
        expect("/insight", true, true, "no-store"),
        expect("/insight/export.csv", true, false, "no-store"),
        expect("/no-such-page", true, true, "no-store"),
        expect("/widget.js", false, false, "public, max-age=300"),
        expect(
            &format!("/assets/{version}/console.js"),
            false,
            false,
            "public, max-age=31536000, immutable",
        ),
        expect("/healthz", false, false, "no-store"),
        expect("/openapi.json", false, false, "no-cache"),
        expect("/api/v1/widget/messages", false, false, "no-store"),
        expect("/api/v1/no-such-route", false, false, "no-store"),
    ];
    let bearer = format!("Bearer {token}");
    for row in table {
        let mut headers = vec![];
        if row.signed_in {
            headers.push(("cookie", session.cookie.as_str()));
        }
        if row.html {
            headers.push(("accept", "text/html"));
        }
        if row.uri.starts_with("/api/v1/widget/") {
            headers.push(("authorization", bearer.as_str()));
        }
        let response = app.get(&row.uri, &headers).await;
        let uri = &row.uri;
        let header =
            |name: &str| response.headers.get(name).map(|value| value.to_str().unwrap().to_owned());
        assert!(
            response.status == StatusCode::OK || uri.contains("no-such"),
            "{uri}: {}",
            response.status
        );
        assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"), "{uri}");
        assert_eq!(header("referrer-policy").as_deref(), Some(REFERRER_POLICY), "{uri}");
        assert_eq!(header("cache-control").as_deref(), Some(row.cache), "{uri}");
        let content_type = header("content-type").unwrap_or_default();
        assert_eq!(content_type.starts_with("text/html"), row.html, "{uri}: {content_type}");
        if row.html {
            assert_eq!(
                header("content-security-policy").as_deref(),
                Some(CONTENT_SECURITY_POLICY),
                "{uri}"
            );
            assert_eq!(header("x-frame-options").as_deref(), Some("DENY"), "{uri}");
        } else {
            assert_eq!(header("content-security-policy"), None, "{uri}");
        }
    }
    let policy: Vec<&str> = CONTENT_SECURITY_POLICY.split("; ").collect();
    for directive in [
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "base-uri 'none'",
    ] {
        assert!(policy.contains(&directive), "{directive} in {CONTENT_SECURITY_POLICY}");
    }
    assert!(!CONTENT_SECURITY_POLICY.contains("unsafe"), "{CONTENT_SECURITY_POLICY}");
}

/// Installed in every document before its own scripts: records each violation report.
const RECORD_VIOLATIONS: &str = "window.__cspViolations = []; \
     document.addEventListener('securitypolicyviolation', (e) => \
     window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile || location.pathname}:${e.lineNumber}`), true);";

/// The violations the current document recorded.
async fn violations(page: &Page<'_>) -> Vec<String> {
    let recorded = page.eval("window.__cspViolations ?? ['the recorder is not installed']").await;
    serde_json::from_value(recorded).unwrap()
}

/// Visits `path`, waits for it to settle (live fragments fetched, sockets open) and returns its
/// violations, prefixed with the path.
async fn visit(page: &Page<'_>, base: &str, path: &str) -> Vec<String> {
    page.goto(&format!("{base}{path}")).await;
    let status = page.eval("performance.getEntriesByType('navigation')[0].responseStatus").await;
    assert_eq!(status, json!(200), "{path}");
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    violations(page).await.into_iter().map(|violation| format!("{path}: {violation}")).collect()
}

/// JavaScript: the widget's shadow root.
const WIDGET: &str = "document.querySelector('tandem-widget')?.shadowRoot";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_console_page_or_the_widget_violates_the_content_security_policy() {
    let Some(chromium) =
        chromium_or_skip("no_console_page_or_the_widget_violates_the_content_security_policy")
    else {
        return;
    };
    let app = TestApp::fixture().sample_articles().build().await;
    let token = app.widget_token().await;
    let sent = app.widget_send(&token, "security-1", "你好").await;
    let conversation = sent.json()["message"]["conversation_id"].as_i64().unwrap();

    // The console, and a shop's page with the widget under the same headers.
    let inbox_key = app.inbox_key.clone();
    let shop = Router::new()
        .route(
            "/shop",
            get(move || async move {
                Html(format!(
                    "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>Shop</title></head><body><h1>Shop</h1><script src=\"/widget.js\" data-inbox=\"{inbox_key}\" async></script></body></html>"
                ))
            }),
        )
        .layer(axum::middleware::from_fn(tandem_server::security::headers));
    let router = shop.merge(app.router.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = tandem_server::serve(listener, router).await;
    });

    let browser = Browser::launch(&chromium, SCREENSHOTS).await;
    let page = browser.new_page().await;
    page.call("Page.enable", json!({})).await;
    page.call("Page.addScriptToEvaluateOnNewDocument", json!({ "source": RECORD_VIOLATIONS }))
        .await;
    let mut found = visit(&page, &base, "/login").await;
    page.sign_in(&base, ADMIN).await;
    page.wait_for(
        "document.querySelector('#live-status')?.dataset.state === 'live'",
        "console socket",
    )
    .await;
    found.extend(
        violations(&page).await.into_iter().map(|violation| format!("/inbox: {violation}")),
    );

    let article = page
        .eval("(async () => { const html = await (await fetch('/knowledge')).text(); const doc = new DOMParser().parseFromString(html, 'text/html'); return [...doc.querySelectorAll('a[href^=\"/knowledge/\"]')].map(a => a.getAttribute('href')).find(h => !['/knowledge/new', '/knowledge/test', '/knowledge/export'].includes(h.split('?')[0])); })()")
        .await;
    let article = article.as_str().expect("an article's page is linked from the list").to_owned();
    let pages = [
        "/inbox?view=bot".to_owned(),
        format!("/conversations/{conversation}"),
        "/knowledge".to_owned(),
        "/knowledge/new".to_owned(),
        article,
        "/knowledge/test?q=%E9%80%80%E8%B4%A7".to_owned(),
        "/knowledge/import".to_owned(),
        "/knowledge/suggestions".to_owned(),
        "/knowledge/settings".to_owned(),
        "/desk".to_owned(),
        "/insight".to_owned(),
        "/insight/conversations?metric=conversations".to_owned(),
        "/insight/alerts".to_owned(),
        "/settings".to_owned(),
        "/settings/escalation".to_owned(),
        "/settings/routing".to_owned(),
        "/settings/csat".to_owned(),
        "/settings/actions".to_owned(),
        "/settings/model".to_owned(),
        "/settings/webhooks".to_owned(),
        "/settings/audit".to_owned(),
        "/settings/privacy".to_owned(),
        "/admin/agents".to_owned(),
    ];
    for path in &pages {
        found.extend(visit(&page, &base, path).await);
    }

    // The widget on the shop's page: opened, a message sent and answered.
    let customer = browser.new_page().await;
    customer.call("Page.enable", json!({})).await;
    customer
        .call("Page.addScriptToEvaluateOnNewDocument", json!({ "source": RECORD_VIOLATIONS }))
        .await;
    customer.goto(&format!("{base}/shop")).await;
    customer
        .wait_for(&format!("{WIDGET}?.querySelector('[data-testid=launcher]')"), "widget launcher")
        .await;
    customer.click(&format!("{WIDGET}.querySelector('[data-testid=launcher]')")).await;
    customer
        .wait_for(&format!("!{WIDGET}.querySelector('[data-testid=panel]').hidden"), "widget panel")
        .await;
    // Styled: the constructed stylesheet applies (the panel is laid out as a fixed box).
    let position = customer
        .eval(&format!("getComputedStyle({WIDGET}.querySelector('[data-testid=panel]')).position"))
        .await;
    assert_eq!(position, json!("fixed"), "the widget's stylesheet applies");
    customer
        .eval(&format!(
            "(() => {{ const input = {WIDGET}.querySelector('[data-testid=input]'); input.value = '退货'; input.dispatchEvent(new Event('input', {{ bubbles: true }})); {WIDGET}.querySelector('[data-testid=send]').click(); return true; }})()"
        ))
        .await;
    customer
        .wait_for(
            &format!(
                "{WIDGET}.querySelector('[data-testid=message][data-author-kind=bot][data-seq]')"
            ),
            "the bot's answer in the widget",
        )
        .await;
    found.extend(
        violations(&customer).await.into_iter().map(|violation| format!("/shop: {violation}")),
    );
    assert!(found.is_empty(), "Content-Security-Policy violations:\n{}", found.join("\n"));

    // The recorder does see a violation: an inline style is refused and reported.
    let reported: Value = customer
        .eval("(async () => { const s = document.createElement('style'); s.textContent = 'body { color: red }'; document.head.append(s); await new Promise(r => setTimeout(r, 200)); return window.__cspViolations.length; })()")
        .await;
    assert_eq!(reported, json!(1), "an inline <style> is reported");
}
