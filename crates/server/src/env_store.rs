//! Deployment environment variables (`authvex env set NAME VALUE`), stored as metadata of the deployment's
//! database so every process using the data folder sees the same values.

use std::collections::BTreeMap;
use storage::Persistence;

const PREFIX: &str = "env/";
const MAX_NAME: usize = 40;
const MAX_VALUE: usize = 8 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    #[error(
        "invalid environment variable name {0:?}: use 1-40 letters, digits and underscores, not starting with a digit"
    )]
    InvalidName(String),
    #[error("the value of {0} is longer than 8 KiB")]
    ValueTooLong(String),
    #[error(transparent)]
    Storage(#[from] storage::StorageError),
}

pub fn check_name(name: &str) -> Result<(), EnvError> {
    let valid = !name.is_empty()
        && name.len() <= MAX_NAME
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if valid {
        Ok(())
    } else {
        Err(EnvError::InvalidName(name.to_string()))
    }
}

pub async fn list(persistence: &dyn Persistence) -> Result<BTreeMap<String, String>, EnvError> {
    let entries = persistence.list_meta(PREFIX).await?;
    Ok(entries
        .into_iter()
        .filter_map(|(k, v)| Some((k.strip_prefix(PREFIX)?.to_string(), String::from_utf8(v).ok()?)))
        .collect())
}

pub async fn get(persistence: &dyn Persistence, name: &str) -> Result<Option<String>, EnvError> {
    check_name(name)?;
    Ok(persistence.get_meta(&format!("{PREFIX}{name}")).await?.and_then(|v| String::from_utf8(v).ok()))
}

pub async fn set(persistence: &dyn Persistence, name: &str, value: &str) -> Result<(), EnvError> {
    check_name(name)?;
    if value.len() > MAX_VALUE {
        return Err(EnvError::ValueTooLong(name.to_string()));
    }
    persistence.put_meta(vec![(format!("{PREFIX}{name}"), Some(value.as_bytes().to_vec()))]).await?;
    Ok(())
}

/// Removes a variable; returns whether it existed.
pub async fn remove(persistence: &dyn Persistence, name: &str) -> Result<bool, EnvError> {
    let existed = get(persistence, name).await?.is_some();
    persistence.put_meta(vec![(format!("{PREFIX}{name}"), None)]).await?;
    Ok(existed)
}
