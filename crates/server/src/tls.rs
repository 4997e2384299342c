//! TLS on authvex's own listeners (`authvex serve --tls-cert --tls-key`), for deployments without a proxy.
//!
//! Both origins serve HTTP/1.1 and HTTP/2 (chosen by ALPN) on one port through hyper-util's auto connection
//! builder; WebSocket upgrades (`wss://`) go over HTTP/1.1 as usual. The certificate and key (PEM) are loaded into a
//! [`ReloadableCert`], which every handshake asks for the current pair: [`ReloadableCert::reload`] (on SIGHUP from
//! the CLI, or when the files' modification times change, checked every few seconds) swaps it for new
//! handshakes while open connections keep theirs. A reload that fails (a half-written file, a key that does not
//! match) keeps the old pair and logs why.

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use parking_lot::{Mutex, RwLock};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::Service;

/// How long a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The certificate files of the listeners.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// PEM certificate chain (leaf first).
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// How often the files' modification times are compared (`None`: only explicit reloads, e.g. SIGHUP).
    pub watch_every: Option<Duration>,
}

impl TlsSettings {
    /// Files reloaded on change (checked every 5 s) and on [`ReloadableCert::reload`].
    pub fn new(cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> TlsSettings {
        TlsSettings { cert: cert.into(), key: key.into(), watch_every: Some(Duration::from_secs(5)) }
    }
}

/// The listeners' certificate, swappable while serving.
pub struct ReloadableCert {
    settings: TlsSettings,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
    /// The files' modification times and sizes when last loaded.
    stamp: Mutex<Option<FileStamp>>,
}

type FileStamp = [(Option<SystemTime>, u64); 2];

impl std::fmt::Debug for ReloadableCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReloadableCert").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl ReloadableCert {
    /// Loads the pair.
    ///
    /// # Errors
    /// A file that cannot be read, holds no certificate or key, or a key that does not match the certificate.
    pub fn load(settings: TlsSettings) -> Result<Arc<ReloadableCert>, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let stamp = stamp(&settings);
        let key = load_pair(&settings, &provider)?;
        Ok(Arc::new(ReloadableCert { settings, provider, current: RwLock::new(key), stamp: Mutex::new(stamp) }))
    }

    /// Reads the files again; new handshakes use the new pair, open connections are untouched.
    ///
    /// # Errors
    /// As [`ReloadableCert::load`]; the previous pair stays in use.
    pub fn reload(&self) -> Result<(), String> {
        let stamp = stamp(&self.settings);
        let key = load_pair(&self.settings, &self.provider)?;
        *self.current.write() = key;
        *self.stamp.lock() = stamp;
        tracing::info!(cert = %self.settings.cert.display(), "TLS certificate reloaded");
        Ok(())
    }

    /// Reloads when either file changed since the last load.
    fn reload_if_changed(&self) {
        let now = stamp(&self.settings);
        if now.is_none() || now == *self.stamp.lock() {
            return;
        }
        if let Err(error) = self.reload() {
            // Remember the stamp so a broken pair is reported once, not every check.
            *self.stamp.lock() = now;
            tracing::error!(%error, "TLS certificate changed but cannot be loaded; still serving the previous one");
        }
    }

    /// The rustls configuration of the listeners: this certificate, ALPN `h2` then `http/1.1`.
    pub fn server_config(self: &Arc<Self>) -> Result<Arc<rustls::ServerConfig>, String> {
        let mut config = rustls::ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|error| format!("TLS: {error}"))?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// Checks the files every `watch_every` until `stopped`.
    pub(crate) fn spawn_watcher(self: &Arc<Self>, mut stopped: watch::Receiver<bool>) {
        let Some(every) = self.settings.watch_every else { return };
        let cert = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = stopped.wait_for(|s| *s) => return,
                }
                let Some(cert) = cert.upgrade() else { return };
                // File metadata and parsing are blocking I/O, but tiny.
                cert.reload_if_changed();
            }
        });
    }
}

impl ResolvesServerCert for ReloadableCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.read().clone())
    }
}

fn stamp(settings: &TlsSettings) -> Option<FileStamp> {
    let one = |path: &Path| std::fs::metadata(path).ok().map(|m| (m.modified().ok(), m.len()));
    Some([one(&settings.cert)?, one(&settings.key)?])
}

fn load_pair(settings: &TlsSettings, provider: &CryptoProvider) -> Result<Arc<CertifiedKey>, String> {
    let cert_path = settings.cert.display();
    let chain = CertificateDer::pem_file_iter(&settings.cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|error| format!("TLS certificate {cert_path}: {error}"))?;
    if chain.is_empty() {
        return Err(format!("TLS certificate {cert_path}: no certificate in the file"));
    }
    let key = PrivateKeyDer::from_pem_file(&settings.key)
        .map_err(|error| format!("TLS key {}: {error}", settings.key.display()))?;
    let key = CertifiedKey::from_der(chain, key, provider)
        .map_err(|error| format!("TLS certificate {cert_path} and key {}: {error}", settings.key.display()))?;
    Ok(Arc::new(key))
}

/// Serves `router` over TLS on `listener` until `stopped`; then stops accepting and lets open requests finish
/// (WebSockets are closed by their own shutdown watch, as on plain listeners).
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    config: Arc<rustls::ServerConfig>,
    mut stopped: watch::Receiver<bool>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    let mut stop = std::pin::pin!(async move {
        let _ = stopped.wait_for(|s| *s).await;
    });
    loop {
        let (tcp, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: pause instead of spinning.
                    tracing::debug!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        // Small protocol messages (a MutationResponse then its Transition) must not wait for delayed ACKs.
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
        let (acceptor, router, builder, watcher) =
            (acceptor.clone(), router.clone(), builder.clone(), graceful.watcher());
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(error)) => {
                    tracing::debug!(%error, %remote, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%remote, "TLS handshake timed out");
                    return;
                }
            };
            let service = hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo(remote));
                router.clone().call(request)
            });
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            if let Err(error) = watcher.watch(connection.into_owned()).await {
                tracing::debug!(%error, %remote, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// `addr` as a URL with the listener's scheme.
pub(crate) fn url(tls: bool, addr: SocketAddr) -> String {
    format!("{}://{addr}", if tls { "https" } else { "http" })
}
