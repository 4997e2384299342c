//! Transaction blocks for endpoints. Macros rather than closures: the body borrows the request and the
//! transaction inline, so the endpoint futures stay `Send` without boxing.

/// Runs `$body` (which sees `$txn: &mut Transaction`) in one serializable transaction, re-running it on
/// conflicts; an `Err` from the body discards every write. Evaluates to `Result<T, AuthError>`.
macro_rules! transact {
    ($svc:expr, $txn:ident, $body:expr) => {{
        let svc: &$crate::service::Inner = $svc;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let mut owned = match svc.db.begin(false).await {
                Ok(t) => t,
                Err(e) => break Err($crate::service::storage_error(&e)),
            };
            let result: Result<_, $crate::error::AuthError> = async {
                let $txn = &mut owned;
                $body
            }
            .await;
            match result {
                Err(e) => break Err(e),
                Ok(value) => match svc.db.commit(owned).await {
                    Ok(_) => break Ok(value),
                    Err(e) if e.is_conflict() && attempt < $crate::service::MAX_ATTEMPTS => {
                        tokio::task::yield_now().await;
                        continue;
                    }
                    Err(e) => break Err($crate::service::storage_error(&e)),
                },
            }
        }
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
