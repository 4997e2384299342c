//! Transaction blocks for endpoints. Macros rather than closures: the body borrows the request and the
//! transaction inline, so the endpoint futures stay `Send` without boxing.

/// Runs `$body` (which sees `$txn: &mut Transaction`) in one serializable transaction, re-run on conflicts by
/// `database::run_serializable` (its one retry policy); an `Err` from the body discards every write. Evaluates to
/// `Result<T, AuthError>`.
macro_rules! transact {
    ($svc:expr, $txn:ident, $body:expr) => {{
        let svc: &$crate::service::Inner = $svc;
        ::database::run_serializable(&svc.db, || async {
            let mut owned = svc.db.begin(false).await.map_err($crate::service::AttemptError::Database)?;
            let result: Result<_, $crate::error::AuthError> = $crate::triggers::ACTIVE
                .scope(svc.triggers.clone(), async {
                    let $txn = &mut owned;
                    $body
                })
                .await;
            let value = result.map_err($crate::service::AttemptError::Auth)?;
            svc.db.commit(owned).await.map_err($crate::service::AttemptError::Database)?;
            Ok::<_, $crate::service::AttemptError>(value)
        })
        .await
        .map_err($crate::service::AttemptError::into_auth)
    }};
}

/// Runs `$body` in a read-only transaction. Evaluates to `Result<T, AuthError>`.
macro_rules! read {
    ($svc:expr, $txn:ident, $body:expr) => {{
        let svc: &$crate::service::Inner = $svc;
        match svc.db.begin(true).await {
            Ok(mut owned) => {
                let result: Result<_, $crate::error::AuthError> = async {
                    let $txn = &mut owned;
                    $body
                }
                .await;
                result
            }
            Err(e) => Err($crate::service::storage_error(&e)),
        }
    }};
}
