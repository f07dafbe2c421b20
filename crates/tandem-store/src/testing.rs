//! Test support for other crates' tests: a PostgreSQL database of their own on the server that
//! `TANDEM_TEST_POSTGRES` names.

/// The PostgreSQL server `TANDEM_TEST_POSTGRES` names (a URL of any database on it), or
/// `None`: tests that need one skip without it (`.ci/run` sets it).
pub fn postgres_server() -> Option<String> {
    std::env::var("TANDEM_TEST_POSTGRES").ok().filter(|url| !url.trim().is_empty())
}

/// A database created for one test, dropped (with its connections) when the test ends.
pub struct TestDatabase {
    pub url: String,
    server: String,
    name: String,
}

impl TestDatabase {
    pub async fn create(server: &str) -> TestDatabase {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let name = format!(
            "tandem_test_{}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            crate::now_millis() % 1_000_000
        );
        let (client, connection) =
            tokio_postgres::connect(server, tokio_postgres::NoTls).await.expect("reach postgres");
        tokio::spawn(connection);
        client.batch_execute(&format!("CREATE DATABASE {name}")).await.expect("create database");
        let mut config: tokio_postgres::Config = server.parse().expect("postgres url");
        config.dbname(&name);
        let url = match config.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(host)) => format!(
                "postgres://{}@{}:{}/{}",
                config.get_user().unwrap_or("postgres"),
                host,
                config.get_ports().first().copied().unwrap_or(5432),
                name
            ),
            _ => panic!("TANDEM_TEST_POSTGRES must name a TCP host"),
        };
        TestDatabase { url, server: server.to_owned(), name }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (server, name) = (self.server.clone(), self.name.clone());
        // Dropped inside the test's runtime: a thread of its own runs the cleanup.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async {
                let (client, connection) =
                    tokio_postgres::connect(&server, tokio_postgres::NoTls).await?;
                tokio::spawn(connection);
                client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await
            })?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        })
        .join();
        if let Ok(Err(error)) = dropped {
            eprintln!("could not drop test database {}: {error}", self.name);
        }
    }
}
