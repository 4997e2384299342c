//! The plugin interface. A plugin (compiled in, enabled by [`crate::config::AuthConfig`]) contributes, each part
//! optional:
//!
//! * **schema** ([`SchemaPart`], a `const` listed in `plugins::SCHEMA`): tables it owns and fields and indexes it
//!   adds to core tables (part of the component schema and of `authvex generate`);
//! * **routes** ([`RouteSpec`]): method + path → [`Plugin::handle`];
//! * **request hooks** ([`Plugin::on_request`], Better Auth's `onRequest`): run first, before rate limits, routing
//!   and the origin check; they may rewrite the request's headers (expo turns `expo-origin` into `Origin`);
//! * **before hooks** ([`Plugin::before`]): run after routing, the origin check and body parsing, just before the
//!   endpoint; they may rewrite the request's headers (bearer turns `Authorization` into the session cookie,
//!   crossDomain `Better-Auth-Cookie` into `Cookie`), its JSON body and query (crossDomain makes relative
//!   callback URLs absolute) or answer early;
//! * **after hooks** ([`Plugin::after`]): run on every endpoint's reply (errors included); they may rewrite it
//!   (cookies, headers, `Location`). The reply says which session the endpoint created or found
//!   ([`Reply::session`]), Better Auth's `newSession` / `session`;
//! * **rate-limit rules** ([`Plugin::rate_limit_rules`], path → window/max, checked before the defaults);
//! * **origin rules** ([`Plugin::origin_rule`]: which paths skip the origin/CSRF check, or get the login rule);
//! * **context** (Better Auth's `init`): origins it trusts ([`Plugin::trusted_origins`]) and whether OAuth
//!   callbacks check the state cookie ([`Plugin::skips_oauth_state_cookie`]).
//!
//! Core endpoints never name a plugin; the pipeline (`service`) calls the hooks in registration order.

use crate::error::AuthError;
use crate::origin::CsrfScope;
use crate::rate_limit::SpecialRule;
use crate::schema::{FieldSpec, IndexSpec, Model};
use crate::service::{Call, Inner, Reply};
use async_trait::async_trait;
use http::{HeaderMap, Method};

/// The methods a route answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verb {
    Get,
    Post,
}

impl Verb {
    fn allows(self, method: &Method) -> bool {
        match self {
            Verb::Get => *method == Method::GET,
            Verb::Post => *method == Method::POST,
        }
    }
}

/// How a route's path (after the base path) matches: exactly (trailing slashes and `//` are other paths).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PathPattern {
    /// Exactly this path.
    Exact(&'static str),
    /// This prefix then one non-empty segment without `/` (`/oauth2/callback/` + `:providerId`), the route's
    /// parameter.
    Param(&'static str),
}

impl PathPattern {
    /// The parameter (`""` for exact paths) when `path` matches.
    pub fn matches<'p>(&self, path: &'p str) -> Option<&'p str> {
        match *self {
            PathPattern::Exact(exact) => (path == exact).then_some(""),
            PathPattern::Param(prefix) => {
                let rest = path.strip_prefix(prefix)?;
                (!rest.is_empty() && !rest.contains('/')).then_some(rest)
            }
        }
    }
}

/// One route a plugin serves.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RouteSpec {
    pub verb: Verb,
    pub path: PathPattern,
    /// Whether a form-encoded body is accepted (OAuth callbacks); otherwise JSON only.
    pub accepts_form: bool,
    /// The plugin's name for the route, handed back to [`Plugin::handle`].
    pub name: &'static str,
}

impl RouteSpec {
    pub const fn get(path: &'static str, name: &'static str) -> RouteSpec {
        RouteSpec { verb: Verb::Get, path: PathPattern::Exact(path), accepts_form: false, name }
    }

    pub const fn post(path: &'static str, name: &'static str) -> RouteSpec {
        RouteSpec { verb: Verb::Post, path: PathPattern::Exact(path), accepts_form: false, name }
    }

    /// The parameter when this route serves `method path`.
    pub fn matches<'p>(&self, method: &Method, path: &'p str) -> Option<&'p str> {
        if !self.verb.allows(method) {
            return None;
        }
        self.path.matches(path)
    }
}

/// A matched plugin route.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Routed<'a> {
    pub name: &'static str,
    /// The path parameter of a [`PathPattern::Param`] route (`""` otherwise).
    pub param: &'a str,
}

/// What a plugin adds to the component schema. Static: the tables exist whether or not the plugin is enabled
/// (as in the schema Better Auth's CLI generates), so enabling a plugin never needs a migration.
#[derive(Debug, Clone, Copy)]
pub struct SchemaPart {
    /// Tables the plugin owns.
    pub tables: &'static [Model],
    /// Fields it adds to core tables.
    pub fields: &'static [(Model, FieldSpec)],
    /// Indexes it adds to core tables.
    pub indexes: &'static [(Model, IndexSpec)],
}

impl SchemaPart {
    pub const EMPTY: SchemaPart = SchemaPart { tables: &[], fields: &[], indexes: &[] };
}

/// What a plugin says about the origin/CSRF check of a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OriginRule {
    /// No origin check (a path that takes cross-site requests by design; no built-in plugin has one yet).
    #[allow(dead_code)]
    Skip,
    /// The check with this scope.
    Check(CsrfScope),
}

/// The request as before hooks see it, which they may rewrite.
pub(crate) struct BeforeRequest<'a> {
    pub method: &'a Method,
    /// The path after the base path.
    pub path: &'a str,
    pub headers: &'a mut HeaderMap,
    /// The parsed body (`None`: empty).
    pub body: &'a mut Option<serde_json::Value>,
    /// The decoded query pairs, in order.
    pub query: &'a mut Vec<(String, String)>,
}

#[async_trait]
pub(crate) trait Plugin: Send + Sync + 'static {
    /// Better Auth's plugin id (`convex`, `bearer`, `generic-oauth`).
    fn id(&self) -> &'static str;

    fn routes(&self) -> &'static [RouteSpec] {
        &[]
    }

    /// Answers one of [`Plugin::routes`].
    async fn handle(&self, _route: Routed<'_>, _call: &Call<'_>) -> Result<Reply, AuthError> {
        Err(AuthError::not_found())
    }

    /// May rewrite the request's headers before anything else looks at them (Better Auth's `onRequest`).
    fn on_request(&self, _headers: &mut HeaderMap) {}

    /// May rewrite the request, or answer it (`Some`: the endpoint does not run; after hooks do).
    fn before(&self, _svc: &Inner, _request: BeforeRequest<'_>) -> Option<Reply> {
        None
    }

    /// May rewrite the reply of the endpoint at `path` (the path after the base path).
    async fn after(&self, _path: &str, _call: &Call<'_>, _reply: &mut Reply) {}

    /// Rate-limit rules for the plugin's paths (checked before the built-in ones; custom rules still win).
    fn rate_limit_rules(&self) -> Vec<SpecialRule> {
        Vec::new()
    }

    /// The origin rule for `path`, `None` to leave it to the core's.
    fn origin_rule(&self, _path: &str) -> Option<OriginRule> {
        None
    }

    /// Origins the plugin adds to the trusted ones (crossDomain's `siteUrl`).
    fn trusted_origins(&self) -> Vec<String> {
        Vec::new()
    }

    /// Whether OAuth callbacks accept a state without the browser's signed `state` cookie (crossDomain: the
    /// callback reaches the deployment from another site's flow; the state is still checked against the
    /// database, once).
    fn skips_oauth_state_cookie(&self) -> bool {
        false
    }
}
