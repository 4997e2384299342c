//! Outgoing mail: verification, password reset, change-email and delete-account links go through an
//! [`EmailTransport`]. `authvex dev` uses [`DevTransport`] (logs the link and appends it to an outbox file);
//! production deployments configure SMTP; app authors can plug their own.

use async_trait::async_trait;
use parking_lot::Mutex;
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;

/// Why a mail is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EmailKind {
    VerifyEmail,
    ResetPassword,
    ChangeEmailConfirmation,
    ChangeEmailVerification,
    DeleteAccount,
}

/// One outgoing mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Email {
    pub kind: EmailKind,
    pub to: String,
    pub subject: String,
    pub text: String,
    /// The link the mail carries.
    pub url: String,
}

#[derive(Debug, thiserror::Error)]
#[error("could not send mail: {0}")]
pub struct EmailError(pub String);

#[async_trait]
pub trait EmailTransport: Send + Sync + 'static {
    async fn send(&self, email: Email) -> Result<(), EmailError>;
}

/// Development transport: logs each link and appends the mail as one JSON line to an outbox file, so a developer
/// (or a test) can open the link without a mail server.
pub struct DevTransport {
    outbox: Option<PathBuf>,
    file_lock: Mutex<()>,
}

impl DevTransport {
    pub fn new(outbox: Option<PathBuf>) -> Self {
        DevTransport { outbox, file_lock: Mutex::new(()) }
    }
}

#[async_trait]
impl EmailTransport for DevTransport {
    async fn send(&self, email: Email) -> Result<(), EmailError> {
        tracing::info!(target: "authvex::mail", kind = ?email.kind, to = %email.to, url = %email.url, "dev mail (not sent)");
        if let Some(path) = &self.outbox {
            let line = serde_json::to_string(&email).map_err(|e| EmailError(e.to_string()))?;
            let _guard = self.file_lock.lock();
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| EmailError(format!("outbox {}: {e}", path.display())))?;
            writeln!(file, "{line}").map_err(|e| EmailError(format!("outbox {}: {e}", path.display())))?;
        }
        Ok(())
    }
}

/// Keeps mails in memory (tests).
#[derive(Default)]
pub struct MemoryTransport {
    pub sent: Mutex<Vec<Email>>,
}

#[async_trait]
impl EmailTransport for MemoryTransport {
    async fn send(&self, email: Email) -> Result<(), EmailError> {
        self.sent.lock().push(email);
        Ok(())
    }
}

/// SMTP relay settings (`smtp://` or `smtps://` URL with credentials, and the From address).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    /// e.g. `smtps://user:password@smtp.example.com:465` or `smtp://localhost:1025` (STARTTLS when offered).
    pub url: String,
    pub from: String,
}
