//! The provider-token helpers (spec §7.26): `get-access-token` (refreshing a token about to expire),
//! `refresh-token` and `account-info`. They are how an app gets at the tokens of a linked account, which are
//! stored encrypted. All need a session; an account is only ever looked up among the session user's own.

use super::Body;
use crate::adapter::{self, Where};
use crate::crypto;
use crate::dates::iso_millis;
use crate::error::{codes, AuthError};
use crate::models::Account;
use crate::schema::Model;
use crate::service::{Call, Reply};
use crate::session::{self, adapter_error};
use crate::social::{ProviderConfig, Tokens};
use protocol::ErrorCode;
use serde_json::{json, Map, Value as Json};
use value::{Object, Value};

/// An access token expiring within this many milliseconds is refreshed first (Better Auth: 5 s).
const REFRESH_MARGIN_MS: f64 = 5000.0;

fn bad_request(code: ErrorCode, message: impl Into<String>) -> AuthError {
    AuthError::new(code, message)
}

/// A stored access or refresh token in clear (rows written before `encryptOAuthTokens` was on are plain).
fn clear_token(call: &Call<'_>, stored: &str) -> String {
    if call.svc.config.account.encrypt_oauth_tokens {
        if let Some(clear) = crypto::symmetric_decrypt(stored, &call.svc.config.secret) {
            return clear;
        }
    }
    stored.to_string()
}

fn stored_token(call: &Call<'_>, token: &str) -> String {
    if call.svc.config.account.encrypt_oauth_tokens {
        crypto::symmetric_encrypt(token, &call.svc.config.secret, call.svc.entropy.as_ref())
    } else {
        token.to_string()
    }
}

/// The session user's id (a bodyless 401 without a session).
async fn session_user(call: &Call<'_>) -> Result<String, AuthError> {
    read!(call.svc, txn, Ok(session::require(call, txn).await?.user.id))
}

/// The user's accounts.
async fn accounts_of(call: &Call<'_>, user_id: &str) -> Result<Vec<Account>, AuthError> {
    read!(call.svc, txn, {
        adapter::find_many_rows::<Account>(txn, &[Where::eq("userId", user_id)], adapter::FindOptions::default())
            .await
            .map_err(adapter_error)
    })
}

/// The user's account of `provider_id` (the row `account_row_id` when given).
async fn own_account(
    call: &Call<'_>,
    user_id: &str,
    provider_id: &str,
    account_row_id: Option<&str>,
) -> Result<Account, AuthError> {
    accounts_of(call, user_id)
        .await?
        .into_iter()
        .find(|a| a.provider_id == provider_id && account_row_id.is_none_or(|id| a.id == id))
        .ok_or_else(codes::ACCOUNT_NOT_FOUND)
}

/// Refreshes an account's tokens at the provider and stores the new ones (encrypted).
async fn refresh_account(
    call: &Call<'_>,
    provider: &ProviderConfig,
    account: &Account,
    refresh_token: &str,
) -> Result<Tokens, String> {
    let endpoints = call.svc.providers.endpoints(provider, call.now.as_date_millis()).await?;
    let tokens = call.svc.providers.refresh(provider, &endpoints, refresh_token, call.now.as_date_millis()).await?;
    let now = call.now.as_date_millis();
    let mut update = Object::new();
    if let Some(access) = &tokens.access_token {
        update.insert("accessToken".into(), Value::String(stored_token(call, access)));
    }
    if let Some(refresh) = &tokens.refresh_token {
        update.insert("refreshToken".into(), Value::String(stored_token(call, refresh)));
    }
    update.insert("accessTokenExpiresAt".into(), tokens.access_token_expires_at.map_or(Value::Null, Value::Float64));
    if let Some(at) = tokens.refresh_token_expires_at {
        update.insert("refreshTokenExpiresAt".into(), Value::Float64(at));
    }
    if !tokens.scopes.is_empty() {
        update.insert("scope".into(), Value::String(tokens.scopes.join(",")));
    }
    if let Some(id_token) = &tokens.id_token {
        update.insert("idToken".into(), Value::String(id_token.clone()));
    }
    update.insert("updatedAt".into(), Value::Float64(now));
    let svc = call.svc;
    let id = account.id.clone();
    transact!(svc, txn, {
        adapter::update_one(txn, Model::Account, &[Where::id(id.as_str())], update.clone())
            .await
            .map_err(adapter_error)?;
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    Ok(tokens)
}

/// The account's access token, refreshed first when it expires within five seconds and can be refreshed.
async fn valid_tokens(call: &Call<'_>, provider: &ProviderConfig, account: &Account) -> Result<Tokens, String> {
    let expiring = account.access_token_expires_at.is_some_and(|at| at - call.now.as_date_millis() < REFRESH_MARGIN_MS);
    if let (true, Some(refresh)) = (expiring, &account.refresh_token) {
        let mut tokens = refresh_account(call, provider, account, &clear_token(call, refresh)).await?;
        if tokens.id_token.is_none() {
            tokens.id_token = account.id_token.clone();
        }
        if tokens.scopes.is_empty() {
            tokens.scopes = scopes(account);
        }
        return Ok(tokens);
    }
    Ok(Tokens {
        access_token: account.access_token.as_deref().map(|t| clear_token(call, t)),
        refresh_token: account.refresh_token.as_deref().map(|t| clear_token(call, t)),
        id_token: account.id_token.clone(),
        access_token_expires_at: account.access_token_expires_at,
        refresh_token_expires_at: account.refresh_token_expires_at,
        scopes: scopes(account),
    })
}

fn scopes(account: &Account) -> Vec<String> {
    account.scope.as_deref().map(|s| s.split(',').map(str::to_string).collect()).unwrap_or_default()
}

/// `POST /get-access-token {providerId, accountId?}` (session) → `{accessToken, accessTokenExpiresAt?, scopes,
/// idToken?}`. `accountId` is the account row's id.
pub(crate) async fn get_access_token(call: &Call<'_>) -> Result<Reply, AuthError> {
    let body = Body::required(call)?;
    let provider_id = body.string("providerId")?.to_string();
    let account_id = body.opt_string("accountId")?.map(str::to_string);
    let user_id = session_user(call).await?;
    let Some(provider) = call.svc.providers.get(&provider_id) else {
        return Err(bad_request(
            ErrorCode::PROVIDER_NOT_SUPPORTED,
            format!("Provider {provider_id} is not supported."),
        ));
    };
    let account = own_account(call, &user_id, &provider_id, account_id.as_deref()).await?;
    let tokens = valid_tokens(call, provider, &account).await.map_err(|e| {
        tracing::warn!(provider = %provider.id, error = %e, "could not get a valid access token");
        bad_request(ErrorCode::FAILED_TO_GET_A_VALID_ACCESS_TOKEN, "Failed to get a valid access token")
    })?;
    let mut out = Map::new();
    out.insert("accessToken".into(), json!(tokens.access_token.unwrap_or_default()));
    if let Some(at) = tokens.access_token_expires_at {
        out.insert("accessTokenExpiresAt".into(), json!(iso_millis(at)));
    }
    out.insert("scopes".into(), json!(tokens.scopes));
    if let Some(id_token) = tokens.id_token {
        out.insert("idToken".into(), json!(id_token));
    }
    Ok(Reply::json(Json::Object(out)))
}

/// `POST /refresh-token {providerId, accountId?}` (session): refreshes now and answers the new tokens.
pub(crate) async fn refresh_token(call: &Call<'_>) -> Result<Reply, AuthError> {
    let body = Body::required(call)?;
    let provider_id = body.string("providerId")?.to_string();
    let account_id = body.opt_string("accountId")?.map(str::to_string);
    let user_id = session_user(call).await?;
    let Some(provider) = call.svc.providers.get(&provider_id) else {
        return Err(bad_request(ErrorCode::PROVIDER_NOT_FOUND_400, format!("Provider {provider_id} not found.")));
    };
    let account = own_account(call, &user_id, &provider_id, account_id.as_deref()).await?;
    let Some(stored) = &account.refresh_token else {
        return Err(bad_request(ErrorCode::REFRESH_TOKEN_NOT_FOUND, "Refresh token not found"));
    };
    let tokens = refresh_account(call, provider, &account, &clear_token(call, stored)).await.map_err(|e| {
        tracing::warn!(provider = %provider.id, error = %e, "refreshing an access token failed");
        bad_request(ErrorCode::FAILED_TO_REFRESH_ACCESS_TOKEN, "Failed to refresh access token")
    })?;
    let scope = if tokens.scopes.is_empty() { account.scope.clone() } else { Some(tokens.scopes.join(",")) };
    Ok(Reply::json(json!({
        "accessToken": tokens.access_token,
        "refreshToken": tokens.refresh_token,
        "accessTokenExpiresAt": tokens.access_token_expires_at.map(iso_millis),
        "refreshTokenExpiresAt": tokens.refresh_token_expires_at.map(iso_millis),
        "scope": scope,
        "idToken": tokens.id_token.or(account.id_token),
        "providerId": account.provider_id,
        "accountId": account.account_id,
    })))
}

/// `GET /account-info?accountId=<provider account id>` (session): the provider's current profile of one of the
/// user's accounts, `{user: {id, name, email, image, emailVerified}, data: <raw profile>}`.
pub(crate) async fn account_info(call: &Call<'_>) -> Result<Reply, AuthError> {
    let wanted = call.query_param("accountId").unwrap_or_default().to_string();
    let user_id = session_user(call).await?;
    let account = accounts_of(call, &user_id)
        .await?
        .into_iter()
        .find(|a| !wanted.is_empty() && a.account_id == wanted)
        .ok_or_else(codes::ACCOUNT_NOT_FOUND)?;
    let Some(provider) = call.svc.providers.get(&account.provider_id) else {
        tracing::error!(provider = %account.provider_id, "an account's provider is not configured");
        return Err(AuthError::internal("Internal server error"));
    };
    let tokens = valid_tokens(call, provider, &account).await.map_err(|e| {
        tracing::warn!(provider = %provider.id, error = %e, "could not get a valid access token");
        bad_request(ErrorCode::FAILED_TO_GET_A_VALID_ACCESS_TOKEN, "Failed to get a valid access token")
    })?;
    if tokens.access_token.as_deref().is_none_or(str::is_empty) {
        return Err(bad_request(ErrorCode::ACCESS_TOKEN_NOT_FOUND, "Access token not found"));
    }
    let endpoints = call.svc.providers.endpoints(provider, call.now.as_date_millis()).await.map_err(|e| {
        tracing::warn!(provider = %provider.id, error = %e, "provider endpoints unavailable");
        AuthError::from_code(ErrorCode::FAILED_TO_GET_USER_INFO)
    })?;
    let profile = call.svc.providers.stored_profile(provider, &endpoints, &tokens).await.map_err(|e| {
        tracing::warn!(provider = %provider.id, error = %e, "could not read the provider profile");
        AuthError::from_code(ErrorCode::FAILED_TO_GET_USER_INFO)
    })?;
    Ok(Reply::json(json!({
        "user": {
            "id": profile.id, "name": profile.name, "email": profile.email, "image": profile.image,
            "emailVerified": profile.email_verified,
        },
        "data": profile.raw,
    })))
}
