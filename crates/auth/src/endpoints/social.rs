//! Social sign-in (spec §7.21–§7.23): `sign-in/social`, `callback/:providerId`, `link-social`.
//!
//! The redirect flow: sign-in stores the OAuth state (PKCE verifier, callback URLs, nonce) in a verification row
//! keyed by the 32-character `state` and sets the signed `state` cookie; the callback consumes that row exactly
//! once (one serializable transaction: of concurrent callbacks with one state, one wins and the others find no
//! row), checks the cookie, exchanges the code (no redirects followed), reads the profile (ID tokens verified),
//! then resolves the user and account in one transaction. Every failure after the state check is a redirect to
//! the error URL with `?error=<code>`, as Better Auth records them.

use super::Body;
use crate::adapter::{self, Where};
use crate::cookies;
use crate::crypto;
use crate::error::{codes, AuthError};
use crate::models::{Account, Session, User, Verification};
use crate::origin::CallbackKind;
use crate::schema::Model;
use crate::service::{Call, Reply};
use crate::session::{self, adapter_error};
use crate::social::oidc::Endpoints;
use crate::social::{self, http::form_urlencode, Profile, ProviderConfig, ProviderKind, Tokens};
use database::Transaction;
use protocol::ErrorCode;
use serde_json::{json, Map, Value as Json};
use value::{Object, Value};

/// The state row and data live ten minutes.
/// State keys only the server writes; a client's `additionalData` cannot set them.
const RESERVED_STATE_KEYS: &[&str] = &[
    "callbackURL",
    "codeVerifier",
    "errorURL",
    "newUserURL",
    "link",
    "expiresAt",
    "requestSignUp",
    "state",
    "providerId",
    "nonce",
];

const STATE_TTL_MS: f64 = 600_000.0;
/// The state cookie's Max-Age: 1.4.9 passes 300 * 1000 where seconds are meant (spec §2.1); reproduced.
pub(crate) const STATE_COOKIE_MAX_AGE: u64 = 300_000;
/// Expired verification rows a new sign-in sweeps away (abandoned flows leave their state rows behind).
const SWEEP_BATCH: usize = 8;
/// Google's ID-token sign-in accepts tokens issued within the last hour (`maxTokenAge: "1h"`).
const ID_TOKEN_MAX_AGE_SECS: u64 = 3600;

pub(crate) fn provider_not_found() -> AuthError {
    AuthError::from_code(ErrorCode::PROVIDER_NOT_FOUND)
}

/// Which endpoints a flow runs through: the core social ones, or a plugin's (genericOAuth's
/// `/oauth2/callback/:providerId`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Flow {
    /// The callback path after the base path, without the provider id (`callback`).
    pub callback_path: &'static str,
    /// The flow's names for some of the callback's failures (`(core name, flow name)`).
    pub error_codes: &'static [(&'static str, &'static str)],
}

impl Flow {
    pub const SOCIAL: Flow = Flow { callback_path: "callback", error_codes: &[] };

    fn error_code(self, code: &str) -> &str {
        self.error_codes.iter().find(|(core, _)| *core == code).map_or(code, |(_, renamed)| renamed)
    }
}

fn redirect_uri(call: &Call<'_>, provider: &ProviderConfig, flow: Flow) -> String {
    format!("{}/{}/{}", call.svc.config.auth_base(), flow.callback_path, provider.id)
}

/// The fields sign-in/social and link-social share.
pub(crate) struct SocialRequest {
    pub provider: String,
    callback_url: Option<String>,
    error_callback_url: Option<String>,
    new_user_callback_url: Option<String>,
    pub disable_redirect: bool,
    scopes: Vec<String>,
    login_hint: Option<String>,
    request_sign_up: Option<bool>,
    additional_data: Option<Map<String, Json>>,
    pub id_token: Option<IdTokenBody>,
}

pub(crate) struct IdTokenBody {
    token: String,
    nonce: Option<String>,
    access_token: Option<String>,
    refresh_token: Option<String>,
    expires_at: Option<f64>,
    scopes: Vec<String>,
}

fn string_list(body: &Body<'_>, field: &str) -> Result<Vec<String>, AuthError> {
    match body.raw(field) {
        None | Some(Json::Null) => Ok(Vec::new()),
        Some(Json::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                item.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| AuthError::validation(format!("[body.{field}.{i}] Invalid input: expected string")))
            })
            .collect(),
        Some(_) => Err(AuthError::validation(format!("[body.{field}] Invalid input: expected array"))),
    }
}

/// The body of sign-in/social and link-social (`provider_field` = `provider`), or of the genericOAuth plugin's
/// sign-in/oauth2 and oauth2/link (`providerId`).
pub(crate) fn parse_request(call: &Call<'_>, provider_field: &str) -> Result<SocialRequest, AuthError> {
    let body = Body::required(call)?;
    let provider = body.string(provider_field)?.to_string();
    let callback_url = body.opt_string("callbackURL")?.map(str::to_string);
    let error_callback_url = body.opt_string("errorCallbackURL")?.map(str::to_string);
    let new_user_callback_url = body.opt_string("newUserCallbackURL")?.map(str::to_string);
    let disable_redirect = body.opt_bool("disableRedirect")?.unwrap_or(false);
    let scopes = string_list(&body, "scopes")?;
    let login_hint = body.opt_string("loginHint")?.map(str::to_string);
    let request_sign_up = body.opt_bool("requestSignUp")?;
    let additional_data = match body.raw("additionalData") {
        None | Some(Json::Null) => None,
        Some(Json::Object(map)) => Some(map.clone()),
        Some(_) => return Err(AuthError::validation("[body.additionalData] Invalid input: expected record")),
    };
    let id_token = match body.raw("idToken") {
        None | Some(Json::Null) => None,
        Some(Json::Object(map)) => {
            let text = |name: &str| -> Result<Option<String>, AuthError> {
                match map.get(name) {
                    None | Some(Json::Null) => Ok(None),
                    Some(Json::String(s)) => Ok(Some(s.clone())),
                    Some(_) => {
                        Err(AuthError::validation(format!("[body.idToken.{name}] Invalid input: expected string")))
                    }
                }
            };
            let token = text("token")?.ok_or_else(|| {
                AuthError::validation("[body.idToken.token] Invalid input: expected string, received undefined")
            })?;
            let scopes = match map.get("scopes") {
                Some(Json::Array(items)) => items.iter().filter_map(Json::as_str).map(str::to_string).collect(),
                _ => Vec::new(),
            };
            Some(IdTokenBody {
                token,
                nonce: text("nonce")?,
                access_token: text("accessToken")?,
                refresh_token: text("refreshToken")?,
                expires_at: map.get("expiresAt").and_then(Json::as_f64),
                scopes,
            })
        }
        Some(_) => return Err(AuthError::validation("[body.idToken] Invalid input: expected object")),
    };
    // The redirect targets are checked before anything else (Better Auth's origin middleware).
    super::sign::check_callback(call, callback_url.as_deref(), CallbackKind::Callback)?;
    super::sign::check_callback(call, error_callback_url.as_deref(), CallbackKind::ErrorCallback)?;
    super::sign::check_callback(call, new_user_callback_url.as_deref(), CallbackKind::NewUserCallback)?;
    Ok(SocialRequest {
        provider,
        callback_url,
        error_callback_url,
        new_user_callback_url,
        disable_redirect,
        scopes,
        login_hint,
        request_sign_up,
        additional_data,
        id_token,
    })
}

/// Who a link-flow state belongs to.
#[derive(Debug, Clone)]
pub(crate) struct LinkTarget {
    pub user_id: String,
    pub email: String,
}

/// Creates the state (verification row + signed cookie) and answers `{url, redirect}`.
pub(crate) async fn start_redirect(
    call: &Call<'_>,
    request: &SocialRequest,
    provider: &ProviderConfig,
    link: Option<LinkTarget>,
    flow: Flow,
) -> Result<Reply, AuthError> {
    let svc = call.svc;
    let endpoints = svc.providers.endpoints(provider, call.now.as_date_millis()).await.map_err(|e| {
        tracing::error!(provider = %provider.id, error = %e, "provider endpoints unavailable");
        AuthError::from_code(ErrorCode::INVALID_OAUTH_CONFIGURATION)
    })?;
    let entropy = svc.entropy.as_ref();
    let state = crypto::oauth_state(entropy);
    let verifier = crypto::pkce_verifier(entropy);
    let nonce = provider.is_oidc().then(|| crypto::oauth_state(entropy));
    let now = call.now.as_date_millis();
    let mut data = request.additional_data.clone().unwrap_or_default();
    // The client's additionalData never sets what the server decides: a `link` (which user the provider account
    // joins), the redirect targets (validated above only when they come as parameters), the PKCE verifier, …
    data.retain(|key, _| !RESERVED_STATE_KEYS.contains(&key.as_str()));
    data.insert(
        "callbackURL".into(),
        json!(request.callback_url.clone().unwrap_or_else(|| svc.config.base_url.clone())),
    );
    data.insert("codeVerifier".into(), json!(verifier));
    if let Some(url) = &request.error_callback_url {
        data.insert("errorURL".into(), json!(url));
    }
    if let Some(url) = &request.new_user_callback_url {
        data.insert("newUserURL".into(), json!(url));
    }
    if let Some(link) = &link {
        data.insert("link".into(), json!({"email": link.email, "userId": link.user_id}));
    }
    data.insert("expiresAt".into(), json!(now + STATE_TTL_MS));
    if let Some(flag) = request.request_sign_up {
        data.insert("requestSignUp".into(), json!(flag));
    }
    data.insert("state".into(), json!(state));
    // Binds the state to the provider it was issued for (an authvex addition; Better Auth ignores unknown keys).
    data.insert("providerId".into(), json!(provider.id));
    if let Some(nonce) = &nonce {
        data.insert("nonce".into(), json!(nonce));
    }
    let value_text = Json::Object(data).to_string();
    transact!(svc, txn, {
        let row = Verification::new(&state, &value_text, now, now + STATE_TTL_MS);
        adapter::create_row(txn, &row).await.map_err(adapter_error)?;
        Ok(())
    })?;
    sweep_expired_rows(call).await;
    let url = social::authorization_url(
        provider,
        &endpoints,
        &state,
        provider.pkce.then_some(verifier.as_str()),
        nonce.as_deref(),
        &redirect_uri(call, provider, flow),
        &request.scopes,
        request.login_hint.as_deref(),
    );
    let cookie = cookies::signed_cookie(&svc.cookies, "state", &state, &svc.config.secret, Some(STATE_COOKIE_MAX_AGE));
    Ok(Reply::json(json!({"url": url, "redirect": !request.disable_redirect})).with_cookies([cookie]))
}

/// Deletes a few expired verification rows, best effort (one attempt: a conflict means a concurrent sign-in swept
/// them). Every sign-in sweeps more rows than it creates, so abandoned flows cannot grow the table without bound;
/// Better Auth deletes expired rows on each verification lookup for the same reason.
async fn sweep_expired_rows(call: &Call<'_>) {
    let db = &call.svc.db;
    let Ok(mut txn) = db.begin(false).await else { return };
    let expired = [Where::new("expiresAt", adapter::Operator::Lt, call.now.as_date_millis())];
    let options = adapter::FindOptions::limit(SWEEP_BATCH).sort_by("expiresAt", database::Order::Asc);
    let rows = match adapter::find_many_rows::<Verification>(&mut txn, &expired, options).await {
        Ok(rows) if !rows.is_empty() => rows,
        _ => return,
    };
    for row in &rows {
        if adapter::delete_one(&mut txn, Model::Verification, &[Where::id(row.id.as_str())]).await.is_err() {
            return;
        }
    }
    if let Err(e) = db.commit(txn).await {
        tracing::debug!(error = %e, "sweeping expired verification rows lost a race");
    }
}

/// `POST /sign-in/social`.
pub(crate) async fn sign_in_social(call: &Call<'_>) -> Result<Reply, AuthError> {
    let request = parse_request(call, "provider")?;
    let provider = call.svc.providers.get(&request.provider).ok_or_else(provider_not_found)?;
    let Some(id_token) = &request.id_token else {
        return start_redirect(call, &request, provider, None, Flow::SOCIAL).await;
    };
    let profile = verify_id_token_body(call, provider, id_token).await?;
    let Some(email) = profile.email.clone() else {
        return Err(AuthError::from_code(ErrorCode::USER_EMAIL_NOT_FOUND));
    };
    let tokens = Tokens {
        access_token: id_token.access_token.clone(),
        refresh_token: id_token.refresh_token.clone(),
        id_token: Some(id_token.token.clone()),
        access_token_expires_at: id_token.expires_at,
        ..Tokens::default()
    };
    let callback = request.callback_url.clone().unwrap_or_default();
    let disable_sign_up = sign_up_disabled(provider, request.request_sign_up);
    let outcome = resolve_user(call, provider, &profile, &email, &tokens, disable_sign_up).await?;
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(message) => return Err(AuthError::new(error_code(message), message)),
    };
    if outcome.is_register {
        send_verification_if_configured(call, &outcome.user, &callback).await;
    }
    let body = json!({"redirect": false, "token": outcome.session.token, "user": call.svc.user_json(&outcome.user)});
    Ok(Reply::json(body)
        .with_cookies(session::cookies_for(call.svc, &outcome.session, false))
        .with_session(&outcome.user, &outcome.session))
}

/// `POST /link-social` (session): starts a link flow, or links an ID token's account directly.
pub(crate) async fn link_social(call: &Call<'_>) -> Result<Reply, AuthError> {
    let request = parse_request(call, "provider")?;
    let active = read!(call.svc, txn, session::require(call, txn).await)?;
    let provider = call.svc.providers.get(&request.provider).ok_or_else(provider_not_found)?;
    let Some(id_token) = &request.id_token else {
        let link = LinkTarget { user_id: active.user.id.clone(), email: active.user.email.clone() };
        return start_redirect(call, &request, provider, Some(link), Flow::SOCIAL).await;
    };
    let profile = verify_id_token_body(call, provider, id_token).await?;
    let Some(email) = profile.email.clone() else {
        return Err(AuthError::from_code(ErrorCode::USER_EMAIL_NOT_FOUND));
    };
    let linking = &call.svc.config.account.account_linking;
    let svc = call.svc;
    let now = call.now.as_date_millis();
    let outcome = transact!(svc, txn, {
        let accounts = user_accounts(txn, &active.user.id).await?;
        if accounts.iter().any(|a| a.provider_id == provider.id && a.account_id == profile.id) {
            return Ok(());
        }
        let trusted = linking.trusted_providers.contains(&provider.id);
        if (!trusted && !profile.email_verified) || !linking.enabled {
            return Err(AuthError::from_code(ErrorCode::ACCOUNT_NOT_LINKED__LINKING_NOT_ALLOWED));
        }
        if email.to_lowercase() != active.user.email && !linking.allow_different_emails {
            return Err(AuthError::from_code(ErrorCode::ACCOUNT_NOT_LINKED__DIFFERENT_EMAILS_NOT_ALLOWED));
        }
        if find_account(txn, &provider.id, &profile.id).await?.is_some() {
            return Err(AuthError::from_code(ErrorCode::ACCOUNT_NOT_LINKED__UNABLE_TO_CREATE_ACCOUNT));
        }
        let tokens = Tokens {
            access_token: id_token.access_token.clone(),
            refresh_token: id_token.refresh_token.clone(),
            id_token: Some(id_token.token.clone()),
            scopes: id_token.scopes.clone(),
            ..Tokens::default()
        };
        create_account(call, txn, &active.user.id, &provider.id, &profile.id, &tokens, now).await?;
        Ok(())
    });
    outcome?;
    Ok(Reply::json(json!({"url": "", "status": true, "redirect": false})))
}

/// Verifies the `idToken` of sign-in/social or link-social (providers that issue ID tokens only).
async fn verify_id_token_body(
    call: &Call<'_>,
    provider: &ProviderConfig,
    id_token: &IdTokenBody,
) -> Result<Profile, AuthError> {
    if !provider.is_oidc() {
        return Err(AuthError::from_code(ErrorCode::ID_TOKEN_NOT_SUPPORTED));
    }
    if provider.disable_id_token_sign_in {
        return Err(codes::INVALID_TOKEN_401());
    }
    let endpoints = endpoints_or_error(call, provider).await.map_err(|_| codes::INVALID_TOKEN_401())?;
    let max_age = (provider.kind == ProviderKind::Google).then_some(ID_TOKEN_MAX_AGE_SECS);
    call.svc
        .providers
        .id_token_profile(
            provider,
            &endpoints,
            &id_token.token,
            id_token.nonce.as_deref(),
            max_age,
            call.now.as_date_millis(),
        )
        .await
        .map_err(|e| {
            tracing::info!(provider = %provider.id, error = %e, "rejected an ID token");
            codes::INVALID_TOKEN_401()
        })
}

async fn endpoints_or_error(call: &Call<'_>, provider: &ProviderConfig) -> Result<Endpoints, String> {
    call.svc.providers.endpoints(provider, call.now.as_date_millis()).await.inspect_err(|e| {
        tracing::error!(provider = %provider.id, error = %e, "provider endpoints unavailable");
    })
}

fn sign_up_disabled(provider: &ProviderConfig, request_sign_up: Option<bool>) -> bool {
    (provider.disable_implicit_sign_up && request_sign_up != Some(true)) || provider.disable_sign_up
}

/// The wire code of a message (1.4.9 derives it: upper-case, spaces as `_`, other characters dropped).
fn error_code(message: &'static str) -> ErrorCode {
    match message {
        "account not linked" => ErrorCode::ACCOUNT_NOT_LINKED,
        "signup disabled" => ErrorCode::SIGNUP_DISABLED,
        "unable to link account" => ErrorCode::UNABLE_TO_LINK_ACCOUNT,
        "unable to create session" => ErrorCode::UNABLE_TO_CREATE_SESSION,
        _ => ErrorCode::UNABLE_TO_CREATE_USER,
    }
}

/// The callback's parameters, in the order Better Auth's schema lists them.
const CALLBACK_FIELDS: [&str; 6] = ["code", "error", "device_id", "error_description", "state", "user"];

/// `GET|POST /callback/:providerId`, and plugins' callbacks (`flow`).
pub(crate) async fn callback(call: &Call<'_>, provider_id: &str, flow: Flow) -> Result<Reply, AuthError> {
    let svc = call.svc;
    let auth_base = svc.config.auth_base();
    let default_error_url = format!("{auth_base}/error");
    if call.req.method == http::Method::POST {
        // Form-post providers: answer with a GET of the same callback (body, then query, values).
        let from_body = |name: &str| call.body.as_ref().and_then(|b| b.get(name)).and_then(Json::as_str);
        let mut pairs = Vec::new();
        for name in CALLBACK_FIELDS {
            if let Some(v) = call.query_param(name).or_else(|| from_body(name)) {
                pairs.push((name, v));
            }
        }
        return Ok(Reply::redirect(format!("{auth_base}/callback/{provider_id}?{}", form_urlencode(&pairs))));
    }
    let param = |name: &str| call.query_param(name).map(str::to_string);
    let Some(state) = param("state") else {
        let sep = if default_error_url.contains('?') { '&' } else { '?' };
        return Ok(Reply::redirect(format!("{default_error_url}{sep}state=state_not_found")));
    };
    let restart = || Reply::redirect(format!("{default_error_url}?error=please_restart_the_process"));

    // The state: read, matched against the cookie, consumed — one transaction, so exactly one callback wins.
    let cookie_name = cookies::cookie_name(&svc.cookies, "state");
    let cookie_state = cookies::read_signed_cookie(call.cookie_header.as_deref(), &cookie_name, &svc.config.secret);
    let consumed = transact!(svc, txn, {
        let clauses = [Where::eq("identifier", state.as_str())];
        if adapter::find_one_row::<Verification>(txn, &clauses).await.map_err(adapter_error)?.is_none() {
            return Ok(StateCheck::NotFound);
        }
        let matches = svc.skip_oauth_state_cookie
            || cookie_state.as_deref().is_some_and(|c| crypto::constant_time_eq(c.as_bytes(), state.as_bytes()));
        if !matches {
            return Ok(StateCheck::Mismatch);
        }
        match adapter::consume_one_row::<Verification>(txn, &clauses).await.map_err(adapter_error)? {
            Some(row) => Ok(StateCheck::Consumed(row)),
            None => Ok(StateCheck::NotFound),
        }
    })?;
    let row = match consumed {
        StateCheck::NotFound => {
            tracing::info!(provider = provider_id, "OAuth callback with an unknown or spent state");
            return Ok(restart());
        }
        StateCheck::Mismatch => {
            tracing::info!(provider = provider_id, "OAuth callback whose state cookie is missing or different");
            return Ok(Reply::redirect(format!("{default_error_url}?error=state_mismatch")));
        }
        StateCheck::Consumed(row) => row,
    };
    let clear_state = cookies::bare_delete_cookie(&svc.cookies, "state");
    let Some(data) = StateData::parse(&row.value) else {
        return Ok(restart().with_cookies([clear_state]));
    };
    if data.expires_at < call.now.as_date_millis() || row.expires_at < call.now.as_date_millis() {
        return Ok(restart().with_cookies([clear_state]));
    }
    let error_url = data.error_url.clone().unwrap_or(default_error_url);
    let fail = |code: &str, description: Option<&str>| {
        let mut pairs = vec![("error", flow.error_code(code))];
        if let Some(description) = description {
            pairs.push(("error_description", description));
        }
        let sep = if error_url.contains('?') { '&' } else { '?' };
        Reply::redirect(format!("{error_url}{sep}{}", form_urlencode(&pairs))).with_cookies([clear_state.clone()])
    };

    if let Some(error) = param("error") {
        return Ok(fail(&error, param("error_description").as_deref()));
    }
    let Some(code) = param("code") else { return Ok(fail("no_code", None)) };
    let Some(provider) = svc.providers.get(provider_id) else {
        return Ok(fail("oauth_provider_not_found", None));
    };
    if data.provider_id.as_deref().is_some_and(|issued_for| issued_for != provider.id) {
        // A state from one provider's flow at another provider's callback (an OAuth mix-up): never exchange.
        tracing::warn!(provider = %provider.id, "OAuth callback with a state issued for another provider");
        return Ok(fail("state_mismatch", None));
    }
    let Ok(endpoints) = endpoints_or_error(call, provider).await else {
        return Ok(fail("invalid_code", None));
    };
    let verifier = provider.pkce.then_some(data.code_verifier.as_str());
    let tokens = match svc
        .providers
        .exchange_code(
            provider,
            &endpoints,
            &code,
            verifier,
            &redirect_uri(call, provider, flow),
            call.now.as_date_millis(),
        )
        .await
    {
        Ok(tokens) => tokens,
        Err(e) => {
            tracing::warn!(provider = %provider.id, error = %e, "OAuth code exchange failed");
            return Ok(fail("invalid_code", None));
        }
    };
    let profile = match svc
        .providers
        .profile(provider, &endpoints, &tokens, data.nonce.as_deref(), call.now.as_date_millis())
        .await
    {
        Ok(profile) => profile,
        Err(e) => {
            tracing::warn!(provider = %provider.id, error = %e, "could not read the provider profile");
            return Ok(fail("unable_to_get_user_info", None));
        }
    };

    if let Some(link) = &data.link {
        return match link_account(call, provider, &profile, &tokens, link).await? {
            Ok(()) => Ok(Reply::redirect(data.callback_url.clone()).with_cookies([clear_state])),
            Err(code) => Ok(fail(code, None)),
        };
    }
    let Some(email) = profile.email.clone() else { return Ok(fail("email_not_found", None)) };
    let disable_sign_up = sign_up_disabled(provider, data.request_sign_up);
    let outcome = match resolve_user(call, provider, &profile, &email, &tokens, disable_sign_up).await? {
        Ok(outcome) => outcome,
        Err(message) => return Ok(fail(&message.replace(' ', "_"), None)),
    };
    if outcome.is_register {
        send_verification_if_configured(call, &outcome.user, &data.callback_url).await;
    }
    let target = if outcome.is_register {
        data.new_user_url.clone().unwrap_or_else(|| data.callback_url.clone())
    } else {
        data.callback_url.clone()
    };
    Ok(Reply::redirect(target)
        .with_cookies([clear_state])
        .with_cookies(session::cookies_for(svc, &outcome.session, false))
        .with_session(&outcome.user, &outcome.session))
}

enum StateCheck {
    NotFound,
    Mismatch,
    Consumed(Verification),
}

/// The stored state (Better Auth's `stateData`; unknown keys, e.g. `additionalData`, are kept but unused).
struct StateData {
    callback_url: String,
    code_verifier: String,
    error_url: Option<String>,
    new_user_url: Option<String>,
    expires_at: f64,
    link: Option<LinkTarget>,
    request_sign_up: Option<bool>,
    nonce: Option<String>,
    provider_id: Option<String>,
}

impl StateData {
    fn parse(text: &str) -> Option<StateData> {
        let data: Map<String, Json> = serde_json::from_str(text).ok()?;
        let text = |name: &str| data.get(name).and_then(Json::as_str).map(str::to_string);
        let link = match data.get("link") {
            Some(Json::Object(link)) => Some(LinkTarget {
                email: link.get("email")?.as_str()?.to_string(),
                user_id: match link.get("userId")? {
                    Json::String(s) => s.clone(),
                    other => other.to_string(),
                },
            }),
            _ => None,
        };
        Some(StateData {
            callback_url: text("callbackURL")?,
            code_verifier: text("codeVerifier")?,
            error_url: text("errorURL"),
            new_user_url: text("newUserURL"),
            expires_at: data.get("expiresAt")?.as_f64()?,
            link,
            request_sign_up: data.get("requestSignUp").and_then(Json::as_bool),
            nonce: text("nonce"),
            provider_id: text("providerId"),
        })
    }
}

/// A signed-in (or registered) user.
struct SignedIn {
    user: User,
    session: Session,
    is_register: bool,
}

async fn find_account(
    txn: &mut Transaction,
    provider_id: &str,
    account_id: &str,
) -> Result<Option<Account>, AuthError> {
    adapter::find_one_row::<Account>(txn, &[Where::eq("accountId", account_id), Where::eq("providerId", provider_id)])
        .await
        .map_err(adapter_error)
}

async fn user_accounts(txn: &mut Transaction, user_id: &str) -> Result<Vec<Account>, AuthError> {
    adapter::find_many_rows::<Account>(txn, &[Where::eq("userId", user_id)], adapter::FindOptions::default())
        .await
        .map_err(adapter_error)
}

/// Access and refresh tokens as stored: encrypted with the secret unless `account.encryptOAuthTokens` is off.
fn stored_token(call: &Call<'_>, token: Option<&String>) -> Option<String> {
    let token = token?;
    if call.svc.config.account.encrypt_oauth_tokens {
        Some(crypto::symmetric_encrypt(token, &call.svc.config.secret, call.svc.entropy.as_ref()))
    } else {
        Some(token.clone())
    }
}

/// The token columns of an account row (only those the exchange produced, as Better Auth updates them).
fn token_fields(call: &Call<'_>, tokens: &Tokens) -> Object {
    let mut fields = Object::new();
    if let Some(v) = stored_token(call, tokens.access_token.as_ref()) {
        fields.insert("accessToken".into(), Value::String(v));
    }
    if let Some(v) = stored_token(call, tokens.refresh_token.as_ref()) {
        fields.insert("refreshToken".into(), Value::String(v));
    }
    if let Some(v) = &tokens.id_token {
        fields.insert("idToken".into(), Value::String(v.clone()));
    }
    if let Some(v) = tokens.access_token_expires_at {
        fields.insert("accessTokenExpiresAt".into(), Value::Float64(v));
    }
    if let Some(v) = tokens.refresh_token_expires_at {
        fields.insert("refreshTokenExpiresAt".into(), Value::Float64(v));
    }
    if !tokens.scopes.is_empty() {
        fields.insert("scope".into(), Value::String(tokens.scopes.join(",")));
    }
    fields
}

async fn create_account(
    call: &Call<'_>,
    txn: &mut Transaction,
    user_id: &str,
    provider_id: &str,
    account_id: &str,
    tokens: &Tokens,
    now: f64,
) -> Result<(), AuthError> {
    let mut fields = token_fields(call, tokens);
    fields.insert("accountId".into(), Value::String(account_id.to_string()));
    fields.insert("providerId".into(), Value::String(provider_id.to_string()));
    fields.insert("userId".into(), Value::String(user_id.to_string()));
    fields.insert("createdAt".into(), Value::Float64(now));
    fields.insert("updatedAt".into(), Value::Float64(now));
    adapter::create(txn, Model::Account, fields).await.map_err(adapter_error)?;
    Ok(())
}

async fn update_account_tokens(
    call: &Call<'_>,
    txn: &mut Transaction,
    account_row_id: &str,
    tokens: &Tokens,
    now: f64,
) -> Result<(), AuthError> {
    let mut fields = token_fields(call, tokens);
    if fields.is_empty() {
        return Ok(());
    }
    fields.insert("updatedAt".into(), Value::Float64(now));
    adapter::update_one(txn, Model::Account, &[Where::id(account_row_id)], fields).await.map_err(adapter_error)?;
    Ok(())
}

async fn update_user(txn: &mut Transaction, user_id: &str, mut fields: Object, now: f64) -> Result<User, AuthError> {
    fields.insert("updatedAt".into(), Value::Float64(now));
    let doc = adapter::update_one(txn, Model::User, &[Where::id(user_id)], fields)
        .await
        .map_err(adapter_error)?
        .ok_or_else(codes::FAILED_TO_UPDATE_USER)?;
    User::from_document(&doc).map_err(adapter_error)
}

/// Better Auth's `handleOAuthUserInfo`, as one transaction: the account by (provider, subject) or the user by
/// e-mail; links into an existing user only when the provider vouches for the address (or is trusted) and
/// linking is on; otherwise registers. `Ok(Err(message))`: a refusal (`account not linked`, `signup disabled`).
async fn resolve_user(
    call: &Call<'_>,
    provider: &ProviderConfig,
    profile: &Profile,
    email: &str,
    tokens: &Tokens,
    disable_sign_up: bool,
) -> Result<Result<SignedIn, &'static str>, AuthError> {
    let svc = call.svc;
    let email = email.to_lowercase();
    let now = call.now.as_date_millis();
    let account_cfg = &svc.config.account;
    let name = profile.name.clone().unwrap_or_else(|| email.clone());
    transact!(svc, txn, {
        let linked = find_account(txn, &provider.id, &profile.id).await?;
        let mut user = match &linked {
            Some(account) => adapter::find_one_row::<User>(txn, &[Where::id(account.user_id.as_str())])
                .await
                .map_err(adapter_error)?,
            None => None,
        };
        if user.is_none() {
            user = adapter::find_one_row::<User>(txn, &[Where::eq("email", email.as_str())])
                .await
                .map_err(adapter_error)?;
        }
        let (user, is_register) = match user {
            Some(mut user) => {
                match linked.as_ref().filter(|a| a.user_id == user.id) {
                    Some(account) => {
                        if account_cfg.update_account_on_sign_in {
                            update_account_tokens(call, txn, &account.id, tokens, now).await?;
                        }
                    }
                    None => {
                        let linking = &account_cfg.account_linking;
                        let trusted = linking.trusted_providers.contains(&provider.id);
                        if (!trusted && !profile.email_verified)
                            || (linking.require_local_email_verified && !user.email_verified)
                            || !linking.enabled
                            || linking.disable_implicit_linking
                        {
                            return Ok(Err("account not linked"));
                        }
                        if linked.is_some() {
                            // The subject is linked to a user that no longer matches (deleted): never re-link.
                            return Ok(Err("unable to link account"));
                        }
                        create_account(call, txn, &user.id, &provider.id, &profile.id, tokens, now).await?;
                    }
                }
                if profile.email_verified && !user.email_verified && email == user.email {
                    let mut fields = Object::new();
                    fields.insert("emailVerified".into(), Value::Boolean(true));
                    user = update_user(txn, &user.id, fields, now).await?;
                }
                if provider.override_user_info {
                    let mut fields = Object::new();
                    fields.insert("name".into(), Value::String(name.clone()));
                    if let Some(image) = &profile.image {
                        fields.insert("image".into(), Value::String(image.clone()));
                    }
                    fields.insert("email".into(), Value::String(email.clone()));
                    let verified = if email == user.email {
                        user.email_verified || profile.email_verified
                    } else {
                        profile.email_verified
                    };
                    fields.insert("emailVerified".into(), Value::Boolean(verified));
                    user = update_user(txn, &user.id, fields, now).await?;
                }
                (user, false)
            }
            None => {
                if disable_sign_up {
                    return Ok(Err("signup disabled"));
                }
                if linked.is_some() {
                    return Ok(Err("unable to create user"));
                }
                let mut fields = Object::new();
                fields.insert("name".into(), Value::String(name.clone()));
                fields.insert("email".into(), Value::String(email.clone()));
                fields.insert("emailVerified".into(), Value::Boolean(profile.email_verified));
                fields.insert("image".into(), profile.image.clone().map_or(Value::Null, Value::String));
                fields.insert("createdAt".into(), Value::Float64(now));
                fields.insert("updatedAt".into(), Value::Float64(now));
                let doc = adapter::create(txn, Model::User, fields).await.map_err(adapter_error)?;
                let user = User::from_document(&doc).map_err(adapter_error)?;
                create_account(call, txn, &user.id, &provider.id, &profile.id, tokens, now).await?;
                (user, true)
            }
        };
        let session = session::create(svc, txn, call, &user.id, false).await?;
        Ok(Ok(SignedIn { user, session, is_register }))
    })
}

/// The link flow's callback: the provider must vouch for the address (or be trusted), the address must be the
/// user's unless different e-mails are allowed, and the subject must not belong to another user.
async fn link_account(
    call: &Call<'_>,
    provider: &ProviderConfig,
    profile: &Profile,
    tokens: &Tokens,
    link: &LinkTarget,
) -> Result<Result<(), &'static str>, AuthError> {
    let svc = call.svc;
    let linking = &svc.config.account.account_linking;
    let trusted = linking.trusted_providers.contains(&provider.id);
    if (!trusted && !profile.email_verified) || !linking.enabled {
        return Ok(Err("unable_to_link_account"));
    }
    let same_email = profile.email.as_deref().map(str::to_lowercase) == Some(link.email.to_lowercase());
    if !same_email && !linking.allow_different_emails {
        return Ok(Err("email_doesn't_match"));
    }
    let now = call.now.as_date_millis();
    transact!(svc, txn, {
        match find_account(txn, &provider.id, &profile.id).await? {
            Some(existing) if existing.user_id != link.user_id => Ok(Err("account_already_linked_to_different_user")),
            Some(existing) => {
                update_account_tokens(call, txn, &existing.id, tokens, now).await?;
                Ok(Ok(()))
            }
            None => {
                if adapter::find_one_row::<User>(txn, &[Where::id(link.user_id.as_str())])
                    .await
                    .map_err(adapter_error)?
                    .is_none()
                {
                    return Ok(Err("unable_to_link_account"));
                }
                create_account(call, txn, &link.user_id, &provider.id, &profile.id, tokens, now).await?;
                Ok(Ok(()))
            }
        }
    })
}

/// A new user whose address the provider did not verify gets the verification mail when `sendOnSignUp` is on.
async fn send_verification_if_configured(call: &Call<'_>, user: &User, callback_url: &str) {
    if !user.email_verified && call.svc.config.email_verification.send_on_sign_up {
        super::verification::send_verification_mail(call, &user.email, None, Some(callback_url), false).await;
    }
}
