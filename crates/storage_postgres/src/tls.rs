//! TLS to PostgreSQL with rustls, configured by libpq's connection parameters.
//!
//! tokio-postgres understands `sslmode=disable|prefer|require` only and rejects the other libpq parameters, so
//! [`parse`] takes `sslmode`, `sslrootcert`, `sslcert` and `sslkey` out of the connection string (URL query or
//! `key=value` form) before handing the rest to tokio-postgres. The semantics are libpq's:
//!
//! | `sslmode`     | TLS                          | server certificate                                   |
//! |---------------|------------------------------|------------------------------------------------------|
//! | `disable`     | never                        | —                                                    |
//! | `prefer`      | if the server offers it      | not checked                                          |
//! | `require`     | always (never falls back)    | not checked; with `sslrootcert`, checked as verify-ca |
//! | `verify-ca`   | always                       | signed by a root in `sslrootcert`                    |
//! | `verify-full` | always                       | as verify-ca, and issued for the host connected to   |
//!
//! `prefer` is the default, as in libpq. `sslrootcert=system` trusts the platform's roots and, as in libpq, requires
//! `verify-full` (the default then). `sslcert` + `sslkey` (PEM) present a client certificate (`cert`
//! authentication). libpq's default files under `~/.postgresql/` are not read: name the files in the URL.
//! Channel binding (`SCRAM-SHA-256-PLUS`) is not offered; password authentication uses plain SCRAM inside TLS.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::config::SslMode as PgSslMode;
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect};

/// libpq's `sslmode` (`allow` is not supported: it tries plain TCP first, which nobody should want).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Result<SslMode, String> {
        match value {
            "disable" => Ok(SslMode::Disable),
            "prefer" => Ok(SslMode::Prefer),
            "require" => Ok(SslMode::Require),
            "verify-ca" => Ok(SslMode::VerifyCa),
            "verify-full" => Ok(SslMode::VerifyFull),
            "allow" => Err("sslmode=allow is not supported (use prefer, require, verify-ca or verify-full)".into()),
            other => {
                Err(format!("invalid sslmode {other:?} (expected disable, prefer, require, verify-ca or verify-full)"))
            }
        }
    }

    /// The libpq spelling.
    pub fn name(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// Where trusted root certificates come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCerts {
    /// A PEM file (`sslrootcert=/path/to/ca.pem`).
    File(PathBuf),
    /// The platform's trust store (`sslrootcert=system`).
    System,
}

/// The TLS parameters of a connection string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    pub mode: SslMode,
    pub root_cert: Option<RootCerts>,
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
}

impl TlsSettings {
    /// For messages: `sslmode=verify-full, sslrootcert=/etc/ca.pem`.
    pub fn describe(&self) -> String {
        let mut text = format!("sslmode={}", self.mode.name());
        match &self.root_cert {
            Some(RootCerts::File(path)) => text.push_str(&format!(", sslrootcert={}", path.display())),
            Some(RootCerts::System) => text.push_str(", sslrootcert=system"),
            None => {}
        }
        if let Some(path) = &self.client_cert {
            text.push_str(&format!(", sslcert={}", path.display()));
        }
        text
    }
}

const TLS_KEYS: [&str; 4] = ["sslmode", "sslrootcert", "sslcert", "sslkey"];

/// Splits a connection string into tokio-postgres's config (with its `sslmode` set to what the TLS layer needs)
/// and the TLS settings.
///
/// # Errors
/// An invalid connection string or TLS parameter, described without the password.
pub fn parse(url: &str) -> Result<(tokio_postgres::Config, TlsSettings), String> {
    let (rest, params) = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        split_url(url)?
    } else {
        split_key_values(url)?
    };
    let value = |key: &str| params.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    let root_cert = value("sslrootcert").filter(|v| !v.is_empty()).map(|v| {
        if v == "system" {
            RootCerts::System
        } else {
            RootCerts::File(PathBuf::from(v))
        }
    });
    let mode = match value("sslmode").filter(|v| !v.is_empty()) {
        Some(mode) => SslMode::parse(&mode)?,
        // libpq: with sslrootcert=system the default is verify-full.
        None if root_cert == Some(RootCerts::System) => SslMode::VerifyFull,
        None => SslMode::Prefer,
    };
    if root_cert == Some(RootCerts::System) && mode != SslMode::VerifyFull {
        return Err(format!(
            "sslrootcert=system requires sslmode=verify-full (got sslmode={}): the platform's roots vouch for host \
             names, not for a particular server",
            mode.name()
        ));
    }
    let client_cert = value("sslcert").filter(|v| !v.is_empty()).map(PathBuf::from);
    let client_key = value("sslkey").filter(|v| !v.is_empty()).map(PathBuf::from);
    if client_cert.is_some() != client_key.is_some() {
        return Err("sslcert and sslkey must be given together".into());
    }
    let mut config: tokio_postgres::Config =
        rest.parse().map_err(|error| format!("invalid PostgreSQL connection string: {error}"))?;
    config.ssl_mode(match mode {
        SslMode::Disable => PgSslMode::Disable,
        SslMode::Prefer => PgSslMode::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => PgSslMode::Require,
    });
    Ok((config, TlsSettings { mode, root_cert, client_cert, client_key }))
}

/// `postgres://…?a=b&sslmode=…` → the URL without the TLS parameters, and those parameters (percent-decoded).
fn split_url(url: &str) -> Result<(String, Vec<(String, String)>), String> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), Vec::new()));
    };
    let mut kept = Vec::new();
    let mut params = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = decode(key)?;
        if TLS_KEYS.contains(&key.as_str()) {
            params.push((key, decode(value)?));
        } else {
            kept.push(pair);
        }
    }
    let rest = if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) };
    Ok((rest, params))
}

fn decode(text: &str) -> Result<String, String> {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| "invalid percent-encoding in the connection string".to_owned())
}

/// `host=… sslmode=… sslrootcert='/a b/ca.pem'` → the string without the TLS parameters, and those parameters.
fn split_key_values(text: &str) -> Result<(String, Vec<(String, String)>), String> {
    let mut kept = Vec::new();
    let mut params = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            return Err(format!("invalid PostgreSQL connection string: expected `=` after {key:?}"));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    Some('\'') => break,
                    Some('\\') => value.push(chars.next().ok_or("invalid PostgreSQL connection string")?),
                    Some(c) => value.push(c),
                    None => return Err("invalid PostgreSQL connection string: unterminated quoted value".into()),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    value.push(chars.next().ok_or("invalid PostgreSQL connection string")?);
                } else {
                    value.push(c);
                }
            }
        }
        if TLS_KEYS.contains(&key.as_str()) {
            params.push((key, value));
        } else {
            let quoted = value.replace('\\', "\\\\").replace('\'', "\\'");
            kept.push(format!("{key}='{quoted}'"));
        }
    }
    Ok((kept.join(" "), params))
}

/// A connection error with what rustls's certificate verdicts mean in libpq's terms appended.
pub(crate) fn explain(detail: String) -> String {
    let hint = if detail.contains("UnknownIssuer") {
        "the server's certificate was not issued by a certificate authority in sslrootcert"
    } else if detail.contains("NotValidForName") || detail.contains("not valid for name") {
        "the server's certificate is not issued for the host connected to (sslmode=verify-full checks it; \
         verify-ca does not)"
    } else if detail.contains("does not support TLS") {
        "the server does not accept TLS; this sslmode never falls back to an unencrypted connection"
    } else {
        return detail;
    };
    format!("{detail} ({hint})")
}

/// The rustls connector for `settings` (certificate files are read now, so a missing or invalid file is a start-up
/// error).
///
/// # Errors
/// A file that cannot be read or holds no usable certificate or key.
pub fn connector(settings: &TlsSettings) -> Result<MakeRustlsConnect, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier: Arc<dyn ServerCertVerifier> = match (&settings.mode, &settings.root_cert) {
        (SslMode::Disable | SslMode::Prefer, _) | (SslMode::Require, None) => {
            Arc::new(NoHostCheck { chain: None, provider: provider.clone() })
        }
        (SslMode::VerifyCa | SslMode::VerifyFull, None) => {
            return Err(format!(
                "sslmode={} needs sslrootcert (a PEM file of the certificate authority, or `system` for the \
                 platform's roots)",
                settings.mode.name()
            ))
        }
        (mode, Some(roots)) => {
            let roots = Arc::new(root_store(roots)?);
            let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .map_err(|error| format!("sslrootcert: {error}"))?;
            if *mode == SslMode::VerifyFull {
                webpki
            } else {
                // require (with a root certificate, as libpq) and verify-ca: the chain, not the host name.
                Arc::new(NoHostCheck { chain: Some(webpki), provider: provider.clone() })
            }
        }
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| format!("TLS: {error}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match (&settings.client_cert, &settings.client_key) {
        (Some(cert), Some(key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|error| format!("sslcert {}: {error}", cert.display()))?;
            if chain.is_empty() {
                return Err(format!("sslcert {}: no certificate in the file", cert.display()));
            }
            let key =
                PrivateKeyDer::from_pem_file(key).map_err(|error| format!("sslkey {}: {error}", key.display()))?;
            builder.with_client_auth_cert(chain, key).map_err(|error| format!("sslcert/sslkey: {error}"))?
        }
        _ => builder.with_no_client_auth(),
    };
    // PostgreSQL 17's direct TLS negotiation requires it; older servers ignore it.
    config.alpn_protocols = vec![b"postgresql".to_vec()];
    Ok(MakeRustlsConnect { config: Arc::new(config) })
}

fn root_store(roots: &RootCerts) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    match roots {
        RootCerts::File(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|error| format!("sslrootcert {}: {error}", path.display()))?;
            let (added, _ignored) = store.add_parsable_certificates(certs);
            if added == 0 {
                return Err(format!("sslrootcert {}: no usable certificate in the file", path.display()));
            }
        }
        RootCerts::System => {
            let found = rustls_native_certs::load_native_certs();
            store.add_parsable_certificates(found.certs);
            if store.is_empty() {
                let errors: Vec<String> = found.errors.iter().map(ToString::to_string).collect();
                return Err(format!("sslrootcert=system: no root certificates found ({})", errors.join("; ")));
            }
        }
    }
    Ok(store)
}

/// The verifier of every mode but `verify-full`: the server's host name is never compared. With `chain` (`require`
/// with a root certificate, as libpq, and `verify-ca`) the chain must lead to a trusted root — rustls checks the
/// chain before the name, so a name mismatch means the chain was good; without it (`prefer`, `require` without a
/// root certificate) any certificate is accepted: encryption without authentication of the server, libpq's
/// behaviour. The handshake's signatures are always checked.
#[derive(Debug)]
struct NoHostCheck {
    chain: Option<Arc<rustls::client::WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for NoHostCheck {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else { return Ok(ServerCertVerified::assertion()) };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// tokio-postgres's TLS hook, backed by one rustls client configuration.
#[derive(Clone)]
pub struct MakeRustlsConnect {
    config: Arc<rustls::ClientConfig>,
}

impl<S> MakeTlsConnect<S> for MakeRustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type TlsConnect = RustlsConnect;
    type Error = io::Error;

    fn make_tls_connect(&mut self, domain: &str) -> io::Result<RustlsConnect> {
        let name = ServerName::try_from(domain.to_owned()).map_err(|error| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("host {domain:?} is not a valid TLS server name: {error}"),
            )
        })?;
        Ok(RustlsConnect { config: self.config.clone(), name })
    }
}

/// One connection's handshake.
pub struct RustlsConnect {
    config: Arc<rustls::ClientConfig>,
    name: ServerName<'static>,
}

impl<S> TlsConnect<S> for RustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<RustlsStream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let stream = tokio_rustls::TlsConnector::from(self.config).connect(self.name, stream).await?;
            Ok(RustlsStream(Box::new(stream)))
        })
    }
}

/// A TLS session to the server.
pub struct RustlsStream<S>(Box<tokio_rustls::client::TlsStream<S>>);

impl<S> tokio_postgres::tls::TlsStream for RustlsStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for RustlsStream<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for RustlsStream<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_parameters_are_taken_out() {
        let (config, tls) = parse(
            "postgres://u:secret@db.example.com:6543/app?application_name=x&sslmode=verify-full&sslrootcert=%2Fetc%2Fca%20b.pem&connect_timeout=5",
        )
        .unwrap();
        assert_eq!(tls.mode, SslMode::VerifyFull);
        assert_eq!(tls.root_cert, Some(RootCerts::File(PathBuf::from("/etc/ca b.pem"))));
        assert_eq!(config.get_ssl_mode(), PgSslMode::Require);
        assert_eq!(config.get_application_name(), Some("x"));
        assert_eq!(config.get_dbname(), Some("app"));
    }

    #[test]
    fn key_value_parameters_are_taken_out() {
        let (config, tls) = parse(
            r"host=127.0.0.1 port = 5 user='o\'brien' sslmode=verify-ca sslrootcert='/a b/ca.pem' sslcert=/c.pem sslkey=/k.pem",
        )
        .unwrap();
        assert_eq!(tls.mode, SslMode::VerifyCa);
        assert_eq!(tls.root_cert, Some(RootCerts::File(PathBuf::from("/a b/ca.pem"))));
        assert_eq!(tls.client_cert, Some(PathBuf::from("/c.pem")));
        assert_eq!(config.get_user(), Some("o'brien"));
        assert_eq!(config.get_ports(), &[5]);
    }

    #[test]
    fn defaults_and_invalid_combinations() {
        assert_eq!(parse("postgres://h/d").unwrap().1.mode, SslMode::Prefer);
        assert_eq!(parse("postgres://h/d").unwrap().0.get_ssl_mode(), PgSslMode::Prefer);
        assert_eq!(parse("postgres://h/d?sslmode=disable").unwrap().0.get_ssl_mode(), PgSslMode::Disable);
        let system = parse("postgres://h/d?sslrootcert=system").unwrap().1;
        assert_eq!((system.mode, system.root_cert), (SslMode::VerifyFull, Some(RootCerts::System)));
        assert!(parse("postgres://h/d?sslrootcert=system&sslmode=require").unwrap_err().contains("verify-full"));
        assert!(parse("postgres://h/d?sslmode=allow").unwrap_err().contains("not supported"));
        assert!(parse("postgres://h/d?sslmode=bogus").unwrap_err().contains("invalid sslmode"));
        assert!(parse("postgres://h/d?sslcert=/c.pem").unwrap_err().contains("together"));
        let error = connector(&parse("postgres://h/d?sslmode=verify-full").unwrap().1).err().unwrap();
        assert!(error.contains("needs sslrootcert"), "{error}");
        let error = connector(&parse("postgres://h/d?sslmode=verify-ca&sslrootcert=/nonexistent/ca.pem").unwrap().1)
            .err()
            .unwrap();
        assert!(error.contains("/nonexistent/ca.pem"), "{error}");
    }
}
