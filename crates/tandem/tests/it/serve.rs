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
    use tandem_store::{MessageTarget, NewCustomer, NewMessage, SqliteConfig, SqliteStore, Store};

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
    let stored = store
        .append_message(NewMessage {
            target: MessageTarget::CustomerLatest { inbox_id: inbox, customer_id: customer.id },
            author_kind: AuthorKind::Customer,
            author_id: None,
            author_name: Some("Restart test".into()),
            body: "怎么退货".into(),
            client_msg_id: Some("before-the-crash".into()),
            reopen_if_resolved: true,
            only_while_bot_owns: false,
            meta: None,
            decision: None,
            sentiment: None,
        })
        .await
        .unwrap();
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
