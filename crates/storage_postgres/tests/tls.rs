//! TLS to PostgreSQL with libpq's parameters, against a cluster of its own (`test_support::tls::TlsPostgres`: ssl on,
//! a certificate authority made by the test). One test function runs every case on one cluster, started once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};
use storage::{Commit, DocumentWrite, Persistence, Timestamp};
use storage_postgres::PostgresPersistence;
use test_support::tls::{TestCa, TlsPostgres, CERT_USER};

/// Connects (pools and LISTEN connection included) and returns the error text on failure.
async fn connect(url: &str) -> Result<PostgresPersistence, String> {
    PostgresPersistence::connect(url).await.map_err(|error| error.to_string())
}

async fn expect_failure(url: &str, needles: &[&str]) {
    match connect(url).await {
        Ok(_) => panic!("{url}: connected, expected a failure"),
        Err(error) => {
            eprintln!("refused as expected: {error}");
            assert!(needles.iter().any(|needle| error.contains(needle)), "{url}: unexpected error {error}");
            assert!(!error.contains("secret"), "no password in {error}");
        }
    }
}

/// Every connection authvex keeps open (both pools and the LISTEN connection) is encrypted.
async fn all_authvex_connections_use_tls(cluster: &TlsPostgres) {
    let admin = cluster.admin().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let row = admin
            .query_one(
                "SELECT count(*) FILTER (WHERE s.ssl), count(*), count(*) FILTER (WHERE a.query LIKE 'LISTEN%') \
                 FROM pg_stat_activity a JOIN pg_stat_ssl s ON s.pid = a.pid WHERE a.application_name = 'authvex'",
                &[],
            )
            .await
            .unwrap();
        let (encrypted, total, listening): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
        if listening >= 1 && total >= 2 {
            assert_eq!(encrypted, total, "every authvex connection is TLS");
            return;
        }
        assert!(Instant::now() < deadline, "no LISTEN connection appeared ({total} connections)");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn round_trip(persistence: &PostgresPersistence, ts: u64) {
    persistence
        .write(vec![Commit {
            ts: Timestamp(ts),
            documents: vec![DocumentWrite { id: ts.to_be_bytes().to_vec(), table: 1, body: Some(b"x".to_vec()) }],
            indexes: Vec::new(),
            log: Vec::new(),
        }])
        .await
        .unwrap();
    let snapshot = persistence.snapshot().await.unwrap();
    assert!(snapshot.get(&ts.to_be_bytes()).await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libpq_ssl_modes_against_a_tls_cluster() {
    let ca = TestCa::new("authvex test CA");
    let other_ca = TestCa::new("some other CA");
    // Issued for the name `localhost` only: connecting by 127.0.0.1 is a host name mismatch.
    let server = ca.server_cert("server", &["localhost"]);
    let cluster = TlsPostgres::start(&server, ca.ca_path());
    let root = ca.ca_path().display().to_string();
    let wrong_root = other_ca.ca_path().display().to_string();
    let admin = cluster.admin().await;
    admin.batch_execute(&format!("CREATE ROLE {CERT_USER} LOGIN SUPERUSER")).await.unwrap();

    // verify-full: the chain and the host name check out; every pool and the LISTEN connection are encrypted.
    let persistence =
        connect(&cluster.url("postgres:secret", "localhost", &format!("sslmode=verify-full&sslrootcert={root}")))
            .await
            .unwrap();
    round_trip(&persistence, 1).await;
    all_authvex_connections_use_tls(&cluster).await;
    drop(persistence);

    // A root certificate that did not sign the server's: refused under verify-ca, verify-full, and require (which,
    // as in libpq, verifies the chain once a root certificate is given).
    for mode in ["verify-full", "verify-ca", "require"] {
        expect_failure(
            &cluster.url("postgres:secret", "localhost", &format!("sslmode={mode}&sslrootcert={wrong_root}")),
            &["UnknownIssuer"],
        )
        .await;
    }

    // A host name the certificate was not issued for: refused by verify-full, accepted by verify-ca.
    expect_failure(
        &cluster.url("postgres", "127.0.0.1", &format!("sslmode=verify-full&sslrootcert={root}")),
        &["NotValidForName", "not valid for name"],
    )
    .await;
    round_trip(
        &connect(&cluster.url("postgres", "127.0.0.1", &format!("sslmode=verify-ca&sslrootcert={root}")))
            .await
            .unwrap(),
        2,
    )
    .await;
    // require without a root certificate encrypts without checking (libpq's behaviour), so does prefer.
    round_trip(&connect(&cluster.url("postgres", "127.0.0.1", "sslmode=require")).await.unwrap(), 3).await;
    round_trip(&connect(&cluster.url("postgres", "127.0.0.1", "")).await.unwrap(), 4).await;

    // Client-certificate authentication (pg_hba `hostssl … cert`): the certificate's CN is the user.
    let client = ca.client_cert("client", CERT_USER);
    let with_cert = format!(
        "sslmode=verify-full&sslrootcert={root}&sslcert={}&sslkey={}",
        client.cert.display(),
        client.key.display()
    );
    round_trip(&connect(&cluster.url(CERT_USER, "localhost", &with_cert)).await.unwrap(), 5).await;
    expect_failure(
        &cluster.url(CERT_USER, "localhost", &format!("sslmode=verify-full&sslrootcert={root}")),
        &["certificate"],
    )
    .await;
    // A certificate for another user is refused by the server.
    let stranger = ca.client_cert("stranger", "someone_else");
    expect_failure(
        &cluster.url(
            CERT_USER,
            "localhost",
            &format!(
                "sslmode=verify-full&sslrootcert={root}&sslcert={}&sslkey={}",
                stranger.cert.display(),
                stranger.key.display()
            ),
        ),
        &["certificate authentication failed", "SQLSTATE 28000"],
    )
    .await;
    // The key=value form takes the same parameters.
    round_trip(
        &connect(&format!(
            "host=localhost port={} user=postgres dbname=postgres sslmode=verify-full sslrootcert='{root}'",
            cluster.port()
        ))
        .await
        .unwrap(),
        6,
    )
    .await;

    // The server stops offering TLS: require and the verify modes fail instead of falling back; prefer falls back.
    cluster.set_ssl(false).await;
    for params in ["sslmode=require".to_owned(), format!("sslmode=verify-full&sslrootcert={root}")] {
        expect_failure(&cluster.url("postgres", "localhost", &params), &["does not support TLS"]).await;
    }
    round_trip(&connect(&cluster.url("postgres", "127.0.0.1", "sslmode=prefer")).await.unwrap(), 7).await;
    round_trip(&connect(&cluster.url("postgres", "127.0.0.1", "sslmode=disable")).await.unwrap(), 8).await;
}
