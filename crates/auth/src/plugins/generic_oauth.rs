//! The genericOAuth plugin: OAuth 2 / OIDC providers from the `genericOAuth` config list, through the plugin's own
//! endpoints (`POST /sign-in/oauth2`, `POST /oauth2/link`, `GET /oauth2/callback/:providerId`, for
//! `genericOAuthClient()` apps). The redirect flow itself is the core social one (`endpoints::social`) with this
//! plugin's callback path and error names.

use crate::endpoints::social::{self, Flow, LinkTarget};
use crate::endpoints::Body;
use crate::error::AuthError;
use crate::plugin::{PathPattern, Plugin, RouteSpec, Routed, Verb};
use crate::service::{Call, Reply};
use crate::session;
use crate::social::{http::form_urlencode, ProviderConfig, ProviderKind};
use async_trait::async_trait;
use protocol::ErrorCode;

/// The plugin's flow: its callback path, and its names for three of the callback's failures.
const FLOW: Flow = Flow {
    callback_path: "oauth2/callback",
    error_codes: &[
        ("invalid_code", "oauth_code_verification_failed"),
        ("unable_to_get_user_info", "user_info_is_missing"),
        ("email_not_found", "email_is_missing"),
    ],
};

const ROUTES: &[RouteSpec] = &[
    RouteSpec::post("/sign-in/oauth2", "sign-in"),
    RouteSpec::post("/oauth2/link", "link"),
    RouteSpec { verb: Verb::Get, path: PathPattern::Param("/oauth2/callback/"), accepts_form: false, name: "callback" },
];

pub(crate) struct GenericOAuth;

#[async_trait]
impl Plugin for GenericOAuth {
    fn id(&self) -> &'static str {
        "generic-oauth"
    }

    fn routes(&self) -> &'static [RouteSpec] {
        ROUTES
    }

    async fn handle(&self, route: Routed<'_>, call: &Call<'_>) -> Result<Reply, AuthError> {
        match route.name {
            "sign-in" => sign_in(call).await,
            "link" => link(call).await,
            "callback" => callback(call, route.param).await,
            _ => Err(AuthError::not_found()),
        }
    }
}

/// A provider of this plugin (`genericOAuth` entries; the built-in providers are not the plugin's).
fn plugin_provider<'a>(call: &'a Call<'_>, id: &str) -> Option<&'a ProviderConfig> {
    call.svc.providers.get(id).filter(|p| p.kind == ProviderKind::Generic)
}

fn config_not_found(id: &str) -> AuthError {
    AuthError::new(ErrorCode::PROVIDER_CONFIG_NOT_FOUND, format!("No config found for provider {id}"))
}

/// `POST /sign-in/oauth2`: `{providerId, callbackURL?, …}` → `{url, redirect}`.
async fn sign_in(call: &Call<'_>) -> Result<Reply, AuthError> {
    let mut request = social::parse_request(call, "providerId")?;
    request.id_token = None;
    let provider = plugin_provider(call, &request.provider).ok_or_else(|| config_not_found(&request.provider))?;
    social::start_redirect(call, &request, provider, None, FLOW).await
}

/// `POST /oauth2/link` (session): `{providerId, callbackURL, …}` → `{url, redirect: true}`.
async fn link(call: &Call<'_>) -> Result<Reply, AuthError> {
    let mut request = social::parse_request(call, "providerId")?;
    Body::required(call)?.string("callbackURL")?;
    request.id_token = None;
    request.disable_redirect = false;
    let active = read!(call.svc, txn, session::require(call, txn).await)?;
    let provider = plugin_provider(call, &request.provider).ok_or_else(social::provider_not_found)?;
    let link = LinkTarget { user_id: active.user.id.clone(), email: active.user.email.clone() };
    social::start_redirect(call, &request, provider, Some(link), FLOW).await
}

/// `GET /oauth2/callback/:providerId`: the plugin answers a provider error or a missing code before looking at the
/// state, then runs the core callback.
async fn callback(call: &Call<'_>, provider_id: &str) -> Result<Reply, AuthError> {
    let error = call.query_param("error").filter(|e| !e.is_empty());
    if error.is_some() || call.query_param("code").is_none_or(str::is_empty) {
        let mut pairs = vec![("error", error.unwrap_or("oAuth_code_missing"))];
        if let Some(description) = call.query_param("error_description") {
            pairs.push(("error_description", description));
        }
        let default_error_url = format!("{}/error", call.svc.config.auth_base());
        return Ok(Reply::redirect(format!("{default_error_url}?{}", form_urlencode(&pairs))));
    }
    if plugin_provider(call, provider_id).is_none() {
        return Err(config_not_found(provider_id));
    }
    social::callback(call, provider_id, FLOW).await
}
