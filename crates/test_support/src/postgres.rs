//! Test support: a fresh, uniquely named PostgreSQL database per test, dropped (best effort) afterwards.
//!
//! The admin connection comes from `AUTHVEX_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`). A test that needs PostgreSQL fails with a message saying how to
//! start it when it cannot be reached (never skips silently); `.ci/run` starts it before the tests.

use std::time::Duration;
use storage_postgres::pg_detail;

/// The env var naming the admin connection used to create and drop test databases.
pub const ADMIN_URL_VAR: &str = "AUTHVEX_TEST_POSTGRES_URL";
/// The admin connection used when [`ADMIN_URL_VAR`] is not set.
pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The admin connection string for tests.
pub fn admin_url() -> String {
    // Test support reads its one setting from the environment, like the test runner's own settings.
    #[allow(clippy::disallowed_methods)]
    std::env::var(ADMIN_URL_VAR).ok().filter(|url| !url.trim().is_empty()).unwrap_or_else(|| DEFAULT_ADMIN_URL.into())
}

/// A database created for one test. Dropping it drops the database (terminating its connections); failures to
/// drop are printed, never fatal.
#[derive(Debug)]
pub struct TestDatabase {
    name: String,
    url: String,
    admin_url: String,
}

impl TestDatabase {
    /// Creates a database named `authvex_test_<random>`.
    ///
    /// # Errors
    /// A message naming the admin URL and how to start PostgreSQL when the server cannot be reached, or the
    /// server's error when the database cannot be created.
    pub async fn create() -> Result<TestDatabase, String> {
        let admin_url = admin_url();
        let admin = admin_client(&admin_url).await?;
        let name = format!("authvex_test_{:016x}", rand::random::<u64>());
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .map_err(|error| format!("cannot create test database {name}: {}", pg_detail(&error)))?;
        let url = with_database(&admin_url, &name);
        Ok(TestDatabase { name, url, admin_url })
    }

    /// Like [`TestDatabase::create`], failing the test with the message.
    pub async fn create_or_panic() -> TestDatabase {
        match Self::create().await {
            Ok(database) => database,
            Err(message) => panic!("{message}"),
        }
    }

    /// The connection string of this database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (name, admin_url) = (self.name.clone(), self.admin_url.clone());
        // Drop may run inside a runtime (which must not block on another one), so use a thread of its own.
        let dropped = std::thread::spawn(move || {
            let runtime =
                tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let admin = admin_client(&admin_url).await?;
                admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
                    .map_err(|error| pg_detail(&error))
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(message)) => eprintln!("note: could not drop test database {}: {message}", self.name),
            Err(_) => eprintln!("note: dropping test database {} failed", self.name),
        }
    }
}

async fn admin_client(admin_url: &str) -> Result<tokio_postgres::Client, String> {
    let unreachable = |detail: String| {
        format!(
            "cannot connect to the test PostgreSQL at {admin_url} ({ADMIN_URL_VAR}): {detail}. Start it with \
             `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` (as .ci/run does) or point \
             {ADMIN_URL_VAR} at a server where this user may create databases"
        )
    };
    let mut config: tokio_postgres::Config = admin_url.parse().map_err(|error| unreachable(format!("{error}")))?;
    config.connect_timeout(Duration::from_secs(10));
    let (client, connection) =
        config.connect(tokio_postgres::NoTls).await.map_err(|error| unreachable(pg_detail(&error)))?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            eprintln!("note: test admin connection ended: {error}");
        }
    });
    Ok(client)
}

/// `url` with its database replaced by `name` (URL or `key=value` form).
pub fn with_database(url: &str, name: &str) -> String {
    for scheme in ["postgres://", "postgresql://"] {
        if let Some(rest) = url.strip_prefix(scheme) {
            let (before_query, query) = match rest.find('?') {
                Some(at) => rest.split_at(at),
                None => (rest, ""),
            };
            let authority = before_query.split('/').next().unwrap_or(before_query);
            return format!("{scheme}{authority}/{name}{query}");
        }
    }
    format!("{url} dbname={name}")
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_names_are_replaced_in_both_forms() {
        let cases = [
            ("postgres://postgres@127.0.0.1:5432/postgres", "postgres://postgres@127.0.0.1:5432/t1"),
            ("postgres://u:p@h/db?sslmode=disable", "postgres://u:p@h/t1?sslmode=disable"),
            ("postgresql://h:5433", "postgresql://h:5433/t1"),
            ("postgres://h?x=1", "postgres://h/t1?x=1"),
            ("host=127.0.0.1 user=postgres", "host=127.0.0.1 user=postgres dbname=t1"),
        ];
        for (url, expected) in cases {
            assert_eq!(with_database(url, "t1"), expected, "{url}");
        }
    }
}
