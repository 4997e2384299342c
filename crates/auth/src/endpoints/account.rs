//! list-accounts and unlink-account.

use super::Body;
use crate::adapter::{self, FindOptions, Where};
use crate::error::{codes, AuthError};
use crate::models::Account;
use crate::schema::Model;
use crate::service::{Call, Reply};
use crate::session::{self, adapter_error};

/// The user's email-and-password account (`providerId: "credential"`), if there is one.
pub(crate) async fn credential_account(
    txn: &mut database::Transaction,
    user_id: &str,
) -> Result<Option<Account>, AuthError> {
    adapter::find_one_row::<Account>(txn, &[Where::eq("userId", user_id), Where::eq("providerId", "credential")])
        .await
        .map_err(adapter_error)
}

/// `GET /list-accounts` (session): the user's accounts without secrets.
pub(crate) async fn list_accounts(call: &Call<'_>) -> Result<Reply, AuthError> {
    let accounts = read!(call.svc, txn, {
        let active = session::require(call, txn).await?;
        adapter::find_many_rows::<Account>(txn, &[Where::eq("userId", active.user.id.as_str())], FindOptions::default())
            .await
            .map_err(adapter_error)
    })?;
    let list: Vec<serde_json::Value> =
        accounts.iter().filter_map(|a| serde_json::to_value(a.to_list_json()).ok()).collect();
    Ok(Reply::json(serde_json::Value::Array(list)))
}

/// `POST /unlink-account {providerId, accountId?}` (fresh): never the last account.
pub(crate) async fn unlink_account(call: &Call<'_>) -> Result<Reply, AuthError> {
    let body = Body::required(call)?;
    let provider_id = body.string("providerId")?.to_string();
    let account_id = body.opt_string("accountId")?.map(str::to_string);
    transact!(call.svc, txn, {
        let active = session::require_fresh(call, txn).await?;
        let accounts = adapter::find_many_rows::<Account>(
            txn,
            &[Where::eq("userId", active.user.id.as_str())],
            FindOptions::default(),
        )
        .await
        .map_err(adapter_error)?;
        if accounts.len() <= 1 {
            return Err(codes::FAILED_TO_UNLINK_LAST_ACCOUNT());
        }
        let target = accounts
            .iter()
            .find(|a| a.provider_id == provider_id && account_id.as_deref().is_none_or(|id| a.account_id == id));
        let Some(target) = target else { return Err(codes::ACCOUNT_NOT_FOUND()) };
        adapter::delete_one(txn, Model::Account, &[Where::id(target.id.as_str())]).await.map_err(adapter_error)?;
        Ok(())
    })?;
    Ok(Reply::json(serde_json::json!({"status": true})))
}
