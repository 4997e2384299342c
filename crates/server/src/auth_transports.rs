//! The auth service's network transports, injected into `auth::AuthDeps` (the auth crate knows only the traits):
//! outbound HTTP to OAuth providers ([`ReqwestHttp`]) and SMTP ([`SmtpTransport`]).

use async_trait::async_trait;
use auth::email::{Email, EmailError, EmailTransport, SmtpSettings};
use auth::social::{OAuthHttp, OutboundRequest, OutboundResponse, MAX_RESPONSE_BYTES};
use std::time::Duration;

/// OAuth provider calls: reqwest with rustls, redirects never followed (a token endpoint answering 3xx is a failed
/// exchange), short timeouts, bounded bodies.
pub struct ReqwestHttp {
    client: reqwest::Client,
}

impl ReqwestHttp {
    pub fn new() -> Result<ReqwestHttp, String> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(15))
            .user_agent("authvex")
            .build()
            .map_err(|e| format!("could not build the OAuth HTTP client: {e}"))?;
        Ok(ReqwestHttp { client })
    }
}

#[async_trait]
impl OAuthHttp for ReqwestHttp {
    async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, String> {
        let mut builder = self.client.request(request.method.clone(), &request.url);
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some(body) = request.body {
            builder = builder.body(body);
        }
        let mut response = builder.send().await.map_err(|e| format!("{} {}: {e}", request.method, request.url))?;
        let status = response.status().as_u16();
        let content_type =
            response.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| format!("reading {}: {e}", request.url))? {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(format!("{} answered more than {MAX_RESPONSE_BYTES} bytes", request.url));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(OutboundResponse { status, content_type, body })
    }
}

/// Sends mail through an SMTP relay (lettre, rustls).
pub struct SmtpTransport {
    mailer: lettre::AsyncSmtpTransport<lettre::Tokio1Executor>,
    from: lettre::message::Mailbox,
}

impl SmtpTransport {
    pub fn new(settings: &SmtpSettings) -> Result<Self, EmailError> {
        let mailer = lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(&settings.url)
            .map_err(|e| EmailError(format!("invalid SMTP URL: {e}")))?
            .build();
        let from = settings.from.parse().map_err(|e| EmailError(format!("invalid From address: {e}")))?;
        Ok(SmtpTransport { mailer, from })
    }
}

#[async_trait]
impl EmailTransport for SmtpTransport {
    async fn send(&self, email: Email) -> Result<(), EmailError> {
        use lettre::AsyncTransport;
        let to = email.to.parse().map_err(|e| EmailError(format!("invalid recipient: {e}")))?;
        let message = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(email.subject)
            .body(email.text)
            .map_err(|e| EmailError(e.to_string()))?;
        self.mailer.send(message).await.map(|_| ()).map_err(|e| EmailError(e.to_string()))
    }
}
