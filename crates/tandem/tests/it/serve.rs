//! `tandem serve` and `tandem demo` as processes: a production server never serves the demo,
//! even on a database that `tandem demo` seeded.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A running `tandem` process, killed when dropped.
struct Running {
    child: Child,
    /// `http://host:port`, as the process printed it.
    url: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `tandem` with `arguments` and waits for it to say where it listens.
fn start(arguments: &[&str]) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(arguments)
        .env("TANDEM__LOG__FILTER", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("tandem starts");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines.next().expect("tandem printed its address").unwrap();
        if let Some(url) = line.strip_prefix("Tandem is listening on ") {
            break url.trim().to_owned();
        }
    };
    // Keep reading: a closed pipe would fail the process's next print.
    std::thread::spawn(move || lines.for_each(drop));
    Running { child, url }
}

/// The status of `method path` on the server at `url` (an HTTP/1.1 request by hand: the
/// binary's tests need no HTTP client for a status line).
fn status(url: &str, method: &str, path: &str) -> u16 {
    let address = url.strip_prefix("http://").unwrap();
    let mut stream = TcpStream::connect(address).unwrap();
    let body = if method == "POST" { "{}" } else { "" };
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap()
}

fn data_dir(directory: &Path) -> String {
    directory.join("data").to_string_lossy().into_owned()
}

#[test]
fn serve_on_a_database_seeded_by_demo_serves_no_demo_route() {
    let directory = tempfile::tempdir().unwrap();
    let data = data_dir(directory.path());
    let demo = start(&["demo", "--data-dir", &data, "--listen", "127.0.0.1:0"]);
    assert_eq!(status(&demo.url, "GET", "/demo"), 200, "the demo serves its shop page");
    assert_eq!(status(&demo.url, "GET", "/demo/shop/api/orders/20241123001"), 401, "keyed");
    drop(demo);

    let serve = start(&["serve", "--data-dir", &data, "--listen", "127.0.0.1:0"]);
    assert_eq!(status(&serve.url, "GET", "/healthz"), 200);
    assert_eq!(status(&serve.url, "GET", "/login"), 200);
    for (method, path) in [
        ("GET", "/demo"),
        ("GET", "/demo?as=u-1001"),
        ("GET", "/demo/shop/api/orders/20241123001"),
        ("POST", "/demo/model/v1/chat/completions"),
    ] {
        assert_eq!(status(&serve.url, method, path), 404, "{method} {path}");
    }
}

/// A customer message stored and acknowledged whose bot turn never ran (the process was
/// killed first) is answered by the next start of the server, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_answers_the_message_a_killed_server_acknowledged() {
    use std::collections::BTreeMap;
    use std::sync::Arc;
    use tandem_domain::AuthorKind;
    use tandem_store::{MessageTarget, NewCustomer, SqliteConfig, SqliteStore, Store};

    let directory = tempfile::tempdir().unwrap();
    let data = data_dir(directory.path());
    let open = || SqliteStore::open(&SqliteConfig::new(Path::new(&data).join("tandem.db")));
    let sqlite = open().unwrap();
    let store: Arc<dyn Store> = Arc::new(sqlite.clone());
    tandem_demo::seed(&store).await.unwrap();
    let workspace = store.workspaces().await.unwrap()[0].id;
    let inbox = store.inboxes(workspace).await.unwrap()[0].id;
    let customer = store
        .create_customer(NewCustomer {
            workspace_id: workspace,
            name: "Restart test".into(),
            email: None,
            locale: None,
            attributes: BTreeMap::new(),
        })
        .await
        .unwrap();
    // Stored as the relay stores a customer's message before it acknowledges it.
    let target = MessageTarget::CustomerLatest { inbox_id: inbox, customer_id: customer.id };
    let stored = store.append_message(super::backup::message(target, "怎么退货".into())).await;
    let stored = stored.unwrap();
    sqlite.close();

    let conversation = stored.conversation.id;
    let replies = |store: &SqliteStore| {
        let store = store.clone();
        async move {
            let messages = store.messages(conversation, 0, 100).await.unwrap();
            messages.iter().filter(|message| message.author_kind == AuthorKind::Bot).count()
        }
    };
    for restart in 0..2 {
        let server = start(&["serve", "--data-dir", &data, "--listen", "127.0.0.1:0"]);
        let reader = open().unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while replies(&reader).await == 0 {
            assert!(std::time::Instant::now() < deadline, "no reply after restart {restart}");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        // Give a second (wrong) turn the time it would take, then count.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert_eq!(replies(&reader).await, 1, "exactly one reply (restart {restart})");
        reader.close();
        drop(server); // SIGKILL
    }
}

/// A slow model (one that never answers, so each turn waits for its timeout), 20 customers
/// who each were told their message arrived, and `kill -9` while their turns run: after the
/// restart every one of them gets exactly one reply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_customer_acknowledged_before_a_kill_gets_one_reply_after_the_restart() {
    use std::sync::Arc;
    use tandem_domain::AuthorKind;
    use tandem_store::{SqliteConfig, SqliteStore, Store};

    // A model endpoint that accepts connections and never answers.
    let model = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let model_url = format!("http://{}/v1", model.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = model.accept().await {
            held.push(socket);
        }
    });

    let directory = tempfile::tempdir().unwrap();
    let data = data_dir(directory.path());
    let open = || SqliteStore::open(&SqliteConfig::new(Path::new(&data).join("tandem.db")));
    let sqlite = open().unwrap();
    let store: Arc<dyn Store> = Arc::new(sqlite.clone());
    tandem_demo::seed(&store).await.unwrap();
    let workspace = store.workspaces().await.unwrap()[0].id;
    let inbox = store.inboxes(workspace).await.unwrap()[0].clone();
    let settings = tandem_llm::LlmSettings {
        enabled: true,
        base_url: model_url,
        model: "slow".into(),
        api_key_env: None,
        allow_external: true,
        timeout_ms: 2_000,
        total_timeout_ms: 2_500,
        max_retries: 0,
        ..tandem_llm::LlmSettings::default()
    };
    tandem_bot::model::save_llm_settings(store.as_ref(), workspace, &settings).await.unwrap();
    sqlite.close();

    let server = start(&["serve", "--data-dir", &data, "--listen", "127.0.0.1:0"]);
    let http = reqwest::Client::new();
    let mut acknowledged = Vec::new();
    for customer in 0..20 {
        let session: serde_json::Value = http
            .post(format!("{}/api/v1/widget/session", server.url))
            .json(&serde_json::json!({ "inbox_key": inbox.public_key }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = session["token"].as_str().expect("a widget token").to_owned();
        let sent = http
            .post(format!("{}/api/v1/widget/messages", server.url))
            .bearer_auth(&token)
            .json(
                &serde_json::json!({ "body": "怎么退货", "client_msg_id": format!("c{customer}") }),
            )
            .send()
            .await
            .unwrap();
        assert!(sent.status().is_success(), "{}", sent.status());
        let sent: serde_json::Value = sent.json().await.unwrap();
        acknowledged.push(tandem_domain::ConversationId(
            sent["conversation"]["id"].as_i64().expect("the conversation of the message"),
        ));
    }
    drop(server); // SIGKILL while the turns wait for the model

    let bot_replies = |store: SqliteStore, conversation| async move {
        let messages = store.messages(conversation, 0, 100).await.unwrap();
        messages.iter().filter(|message| message.author_kind == AuthorKind::Bot).count()
    };
    let reader = open().unwrap();
    let mut cut_off = 0;
    for conversation in &acknowledged {
        cut_off += usize::from(bot_replies(reader.clone(), *conversation).await == 0);
    }
    reader.close();
    assert!(cut_off > 0, "the kill came after every turn had finished; nothing was tested");

    let _restarted = start(&["serve", "--data-dir", &data, "--listen", "127.0.0.1:0"]);
    let reader = open().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    for conversation in &acknowledged {
        while bot_replies(reader.clone(), *conversation).await == 0 {
            assert!(std::time::Instant::now() < deadline, "{conversation} got no reply");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    // A second turn for the same message would take the model's timeout again.
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    for conversation in &acknowledged {
        assert_eq!(bot_replies(reader.clone(), *conversation).await, 1, "{conversation}");
    }
    reader.close();
}
