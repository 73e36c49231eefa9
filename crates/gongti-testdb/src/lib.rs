//! Test support: fresh, migrated stores on SQLite and PostgreSQL, so that every
//! contract test runs once per engine.
//!
//! PostgreSQL comes from `GONGTI_TEST_DATABASE_URL` (an admin URL on a throwaway
//! server: `scripts/test-postgres.sh` starts one). Without it, the PostgreSQL half of a
//! test fails under `CI=true` and says loudly that it was skipped elsewhere.

pub mod logscan;

use std::path::PathBuf;

use gongti_store::Store;
use gongti_store::crypto::DataKeys;
use sqlx::Connection;

pub const POSTGRES_URL_VAR: &str = "GONGTI_TEST_DATABASE_URL";

/// A random lower-case hex name part.
pub fn unique_suffix() -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("random bytes");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new empty directory under the system temp dir (left for the OS to clean).
pub fn temp_dir(prefix: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("{prefix}-{}", unique_suffix()));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

pub async fn fresh_sqlite() -> Store {
    let store = Store::open_sqlite(&temp_dir("gongti-test"), DataKeys::generate())
        .await
        .expect("open sqlite");
    store.migrate().await.expect("migrate sqlite");
    store
}

/// The admin URL of the test PostgreSQL server, or `None` outside CI when it is absent.
pub fn postgres_admin_url() -> Option<String> {
    match std::env::var(POSTGRES_URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{POSTGRES_URL_VAR} is not set: CI requires the PostgreSQL contract tests")
        }
        _ => {
            eprintln!(
                "SKIPPED the PostgreSQL half: {POSTGRES_URL_VAR} is not set (scripts/postgres.sh starts a server)"
            );
            None
        }
    }
}

/// A URL of a new, empty database on the test server.
pub async fn fresh_postgres_url(admin_url: &str) -> String {
    let name = format!("gongti_test_{}", unique_suffix());
    let mut admin = sqlx::PgConnection::connect(admin_url)
        .await
        .expect("connect to test PostgreSQL");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("create test database");
    let (base, _) = admin_url
        .rsplit_once('/')
        .expect("URL with a database path");
    format!("{base}/{name}")
}

pub async fn fresh_postgres(admin_url: &str) -> Store {
    let store = Store::connect_postgres(&fresh_postgres_url(admin_url).await, DataKeys::generate())
        .await
        .expect("connect");
    store.migrate().await.expect("migrate postgres");
    store
}

/// A fresh store with the URL of its database, for tests that must look past the store
/// (`sqlite://…/gongti.db` or `postgres://…`).
pub async fn engines_with_urls() -> Vec<(Store, String)> {
    let dir = temp_dir("gongti-test");
    let sqlite = Store::open_sqlite(&dir, DataKeys::generate())
        .await
        .expect("open sqlite");
    sqlite.migrate().await.expect("migrate sqlite");
    let mut stores = vec![(
        sqlite,
        format!("sqlite://{}", dir.join("gongti.db").display()),
    )];
    if let Some(admin) = postgres_admin_url() {
        let url = fresh_postgres_url(&admin).await;
        let store = Store::connect_postgres(&url, DataKeys::generate())
            .await
            .expect("connect");
        store.migrate().await.expect("migrate postgres");
        stores.push((store, url));
    }
    stores
}

/// A fresh store on every engine available: SQLite always, PostgreSQL when configured.
pub async fn engines() -> Vec<Store> {
    let mut stores = vec![fresh_sqlite().await];
    if let Some(url) = postgres_admin_url() {
        stores.push(fresh_postgres(&url).await);
    }
    stores
}
