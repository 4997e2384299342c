//! The built-in plugins (see [`crate::plugin`]). Each is one module; core endpoints never name them.

pub(crate) mod bearer;
pub(crate) mod convex;
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
/// always (its endpoints answer "no config" for providers it does not have).
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
    Enabled { list, convex }
}
