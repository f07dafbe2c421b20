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
        crate::bench::postgres_admin(server, &format!("CREATE DATABASE {name}"))
            .await
            .expect("create database");
        let url = crate::bench::postgres_url_with_database(server, &name)
            .expect("TANDEM_TEST_POSTGRES is a postgres:// URL");
        TestDatabase { url, server: server.to_owned(), name }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (server, name) = (self.server.clone(), self.name.clone());
        // Dropped inside the test's runtime: a thread of its own runs the cleanup.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(crate::bench::postgres_admin(
                &server,
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            ))?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        })
        .join();
        if let Ok(Err(error)) = dropped {
            eprintln!("could not drop test database {}: {error}", self.name);
        }
    }
}
