//! The built-in plugins (see [`crate::plugin`]). Each is one module; core endpoints never name them.

pub(crate) mod bearer;
pub(crate) mod convex;
pub(crate) mod cross_domain;
pub(crate) mod expo;
pub(crate) mod generic_oauth;

use crate::config::AuthConfig;
use crate::plugin::{Plugin, SchemaPart};
use std::sync::Arc;

/// The schema parts of every built-in plugin (enabled or not: see [`SchemaPart`]).
pub(crate) const SCHEMA: &[SchemaPart] = &[convex::SCHEMA];

/// The enabled plugins, in hook order, and a typed handle on the convex plugin (its keys back
/// [`crate::AuthService::jwks`]).
pub(crate) struct Enabled {
    pub list: Vec<Arc<dyn Plugin>>,
    pub convex: Option<Arc<convex::Convex>>,
}

/// The plugins `config` enables: convex when `jwt` is set, bearer unless `plugins.bearer` is off, genericOAuth
/// always (its endpoints answer "no config" for providers it does not have), expo and crossDomain when configured.
/// Order matters for after hooks: expo and crossDomain read the cookies the others set, so they come last
/// (crossDomain moves them out of `Set-Cookie`).
pub(crate) fn enabled(config: &AuthConfig) -> Enabled {
    let mut list: Vec<Arc<dyn Plugin>> = Vec::new();
    let convex = config.jwt.as_ref().map(|_| Arc::new(convex::Convex::default()));
    if config.plugins.bearer {
        list.push(Arc::new(bearer::Bearer));
    }
    list.push(Arc::new(generic_oauth::GenericOAuth));
    if let Some(convex) = &convex {
        list.push(convex.clone());
    }
    if let Some(options) = &config.plugins.expo {
        list.push(Arc::new(expo::Expo::new(options.clone(), &config.trusted_origins)));
    }
    if let Some(options) = &config.plugins.cross_domain {
        list.push(Arc::new(cross_domain::CrossDomain::new(&options.site_url)));
    }
    Enabled { list, convex }
}

/// Sets (replaces) one query parameter of an absolute URL, keeping the rest and the fragment.
pub(crate) fn set_query_param(url: &str, name: &str, value: &str) -> String {
    let (base, fragment) = match url.split_once('#') {
        Some((base, fragment)) => (base, Some(fragment)),
        None => (url, None),
    };
    let (path, query) = base.split_once('?').unwrap_or((base, ""));
    let encoded = crate::social::http::form_urlencode(&[(name, value)]);
    let mut pairs: Vec<&str> =
        query.split('&').filter(|p| !p.is_empty() && p.split('=').next() != Some(name)).collect();
    pairs.push(&encoded);
    let mut out = format!("{path}?{}", pairs.join("&"));
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}
