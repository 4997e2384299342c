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
