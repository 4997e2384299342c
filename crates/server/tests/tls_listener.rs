//! Black-box: both origins over TLS (`ServerConfig::tls`) with a certificate authority made by the test. ALPN
//! chooses HTTP/2 or HTTP/1.1, auth cookies get `__Secure-` on https, and a new certificate (explicit reload, or
//! its files changing) is used for new connections while open ones keep working; a broken pair is not taken.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rustls::pki_types::{pem::PemObject, CertificateDer, ServerName};
use serde_json::json;
use server::tls::TlsSettings;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use test_support::tls::{CertFiles, TestCa};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

fn client_config(ca: &Path, alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

async fn connect(url: &str, ca: &Path, alpn: &[&[u8]]) -> std::io::Result<TlsStream<TcpStream>> {
    let addr = url.trim_start_matches("https://");
    let tcp = TcpStream::connect(addr).await?;
    tokio_rustls::TlsConnector::from(client_config(ca, alpn))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
}

/// One `GET /health` on an open HTTP/1.1 connection; the status line.
async fn get_health(stream: &mut TlsStream<TcpStream>) -> String {
    stream.write_all(b"GET /health HTTP/1.1\r\nhost: localhost\r\n\r\n").await.unwrap();
    let mut response = Vec::new();
    let mut buf = [0u8; 1024];
    while !response.ends_with(b"ok\n") {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "connection closed: {}", String::from_utf8_lossy(&response));
        response.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&response).lines().next().unwrap_or_default().to_owned()
}

/// Copies an issued pair to the paths the server watches.
fn install(pair: &CertFiles, at: &CertFiles) {
    std::fs::copy(&pair.cert, &at.cert).unwrap();
    std::fs::copy(&pair.key, &at.key).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_listeners_serve_h2_and_http1_and_reload_certificates() {
    let (first, second, third) = (TestCa::new("first CA"), TestCa::new("second CA"), TestCa::new("third CA"));
    let dir = tempfile::tempdir().unwrap();
    let live = CertFiles { cert: dir.path().join("cert.pem"), key: dir.path().join("key.pem") };
    install(&first.server_cert("one", &["localhost", "127.0.0.1"]), &live);
    let settings =
        TlsSettings { cert: live.cert.clone(), key: live.key.clone(), watch_every: Some(Duration::from_millis(100)) };
    let server = test_support::deployment::Deployment::new(functions::App::new()).tls(settings).start().await;
    assert!(server.api_url.starts_with("https://") && server.site_url.starts_with("https://"));

    // ALPN: HTTP/2 when offered, HTTP/1.1 otherwise.
    let h2 = connect(&server.api_url, first.ca_path(), &[b"h2", b"http/1.1"]).await.unwrap();
    assert_eq!(h2.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let mut kept = connect(&server.api_url, first.ca_path(), &[b"http/1.1"]).await.unwrap();
    assert_eq!(kept.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    assert_eq!(get_health(&mut kept).await, "HTTP/1.1 200 OK");
    let mut no_alpn = connect(&server.site_url, first.ca_path(), &[]).await.unwrap();
    no_alpn.write_all(b"GET /api/auth/ok HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n").await.unwrap();
    let mut text = String::new();
    no_alpn.read_to_string(&mut text).await.unwrap();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");

    // Sign-up over https: Better Auth's __Secure- cookie names.
    let root = reqwest::Certificate::from_pem(&std::fs::read(first.ca_path()).unwrap()).unwrap();
    let http = reqwest::Client::builder().add_root_certificate(root).build().unwrap();
    let site = server.site_url.replace("127.0.0.1", "localhost");
    let response = http
        .post(format!("{site}/api/auth/sign-up/email"))
        .header("origin", &server.site_url)
        .json(&json!({"name": "Ada", "email": "ada@example.com", "password": "correct horse battery staple"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let cookies: Vec<String> =
        response.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect();
    assert!(
        cookies.iter().any(|c| c.starts_with("__Secure-better-auth.session_token=") && c.contains("; Secure")),
        "{cookies:?}"
    );

    // An explicit reload (what SIGHUP does): new connections get the new certificate, the open one keeps working.
    install(&second.server_cert("two", &["localhost"]), &live);
    server.tls_cert().unwrap().reload().unwrap();
    connect(&server.api_url, second.ca_path(), &[b"http/1.1"]).await.expect("the new certificate");
    assert!(connect(&server.api_url, first.ca_path(), &[b"http/1.1"]).await.is_err(), "the old one is gone");
    assert_eq!(get_health(&mut kept).await, "HTTP/1.1 200 OK", "the open connection is untouched");

    // A broken pair is refused and the current one stays.
    std::fs::write(&live.cert, "not a certificate").unwrap();
    let error = server.tls_cert().unwrap().reload().unwrap_err();
    assert!(error.contains("cert.pem"), "{error}");
    connect(&server.api_url, second.ca_path(), &[b"http/1.1"]).await.expect("still the second certificate");

    // Files that change are picked up without a signal.
    install(&third.server_cert("three", &["localhost"]), &live);
    let deadline = Instant::now() + Duration::from_secs(10);
    while connect(&server.api_url, third.ca_path(), &[b"http/1.1"]).await.is_err() {
        assert!(Instant::now() < deadline, "the changed files were not reloaded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(get_health(&mut kept).await, "HTTP/1.1 200 OK");
    drop(h2);
    server.shutdown().await;
}
