//! Calling the deployment's functions over the Convex HTTP API as the request's user, like `ConvexHttpClient`
//! with `setAuth(token)`.

use crate::{truncate, ClientError, RequestAuth};
use protocol::http_api::{FunctionRequest, FunctionResponse};
use serde::Serialize;
use value::Value;

/// A query result rendered on the server, in the shape `preloadQuery` (`convex/nextjs`) produces and
/// `usePreloadedQuery` / `usePreloadedAuthQuery` take: `{_name, _argsJSON, _valueJSON}` in Convex JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Preloaded {
    #[serde(rename = "_name")]
    pub name: String,
    #[serde(rename = "_argsJSON")]
    pub args_json: serde_json::Value,
    #[serde(rename = "_valueJSON")]
    pub value_json: serde_json::Value,
}

impl Preloaded {
    /// The preloaded result as a value.
    pub fn value(&self) -> Result<Value, ClientError> {
        value::json::from_json(self.value_json.clone()).map_err(|e| ClientError::BadResponse {
            url: self.name.clone(),
            reason: format!("preloaded value is not Convex JSON: {e}"),
        })
    }

    /// JSON text safe to embed in an HTML `<script>` element (`<`, `>`, `&` and line separators escaped).
    pub fn to_script_json(&self) -> String {
        let text = serde_json::to_string(self).unwrap_or_else(|_| "null".to_owned());
        text.replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026")
            .replace('\u{2028}', "\\u2028")
            .replace('\u{2029}', "\\u2029")
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Query,
    Mutation,
    Action,
}

impl Kind {
    fn endpoint(self) -> &'static str {
        match self {
            Kind::Query => "query",
            Kind::Mutation => "mutation",
            Kind::Action => "action",
        }
    }
}

impl RequestAuth {
    /// Runs a query (`"messages:list"`, `"auth:getCurrentUser"`) as the request's user (anonymously when signed
    /// out). `args` is the arguments object (`Value::Object`).
    pub async fn fetch_auth_query(&self, path: &str, args: Value) -> Result<Value, ClientError> {
        self.call(Kind::Query, path, &args).await
    }

    /// Runs a mutation as the request's user.
    pub async fn fetch_auth_mutation(&self, path: &str, args: Value) -> Result<Value, ClientError> {
        self.call(Kind::Mutation, path, &args).await
    }

    /// Runs an action as the request's user.
    pub async fn fetch_auth_action(&self, path: &str, args: Value) -> Result<Value, ClientError> {
        self.call(Kind::Action, path, &args).await
    }

    /// Runs a query and packs its result for a client component (`usePreloadedAuthQuery(preloaded)`).
    pub async fn preload_auth_query(&self, path: &str, args: Value) -> Result<Preloaded, ClientError> {
        let result = self.fetch_auth_query(path, args.clone()).await?;
        Ok(Preloaded {
            name: path.to_owned(),
            args_json: value::json::to_json(&args),
            value_json: value::json::to_json(&result),
        })
    }

    async fn call(&self, kind: Kind, path: &str, args: &Value) -> Result<Value, ClientError> {
        let token = self.token(false).await?;
        match self.call_with(kind, path, args, token.jwt.as_deref()).await {
            // A reused cookie JWT the deployment refuses (rotated keys, a clock far off): ask for a fresh one
            // once. Function errors are answers, never retried (a mutation must not run twice).
            Err(ClientError::Status { status: 401, .. }) if !token.fresh => {
                let token = self.token(true).await?;
                self.call_with(kind, path, args, token.jwt.as_deref()).await
            }
            other => other,
        }
    }

    async fn call_with(&self, kind: Kind, path: &str, args: &Value, jwt: Option<&str>) -> Result<Value, ClientError> {
        let inner = &self.auth.inner;
        let url = format!("{}/api/{}", inner.api, kind.endpoint());
        let body = FunctionRequest::encoded(path, value::json::to_json(args));
        let mut request = inner
            .http
            .post(&url)
            .header("convex-client", concat!("authvex-client-", env!("CARGO_PKG_VERSION")))
            .json(&body);
        if let Some(jwt) = jwt {
            request = request.bearer_auth(jwt);
        }
        let response = request.send().await.map_err(|source| ClientError::Http { url: url.clone(), source })?;
        let status = response.status();
        let text = response.text().await.map_err(|source| ClientError::Http { url: url.clone(), source })?;
        // Function outcomes (success and function errors) come as 200 (or the legacy 560); anything else that
        // is not a function response is a request-level failure.
        match serde_json::from_str::<FunctionResponse>(&text) {
            Ok(FunctionResponse::Success { value, .. }) => value::json::from_json(value)
                .map_err(|e| ClientError::BadResponse { url, reason: format!("value is not Convex JSON: {e}") }),
            Ok(FunctionResponse::Error { error_message, error_data, .. }) => {
                let data = error_data.map(value::json::from_json).transpose().map_err(|e| {
                    ClientError::BadResponse { url: url.clone(), reason: format!("errorData is not Convex JSON: {e}") }
                })?;
                Err(ClientError::Function { message: error_message, data })
            }
            Err(_) if !status.is_success() => {
                Err(ClientError::Status { url, status: status.as_u16(), body: truncate(&text) })
            }
            Err(e) => Err(ClientError::BadResponse {
                url,
                reason: format!("not a function response ({e}): {}", truncate(&text)),
            }),
        }
    }
}
