//! Removing what has expired: sessions past `expiresAt`, verification rows (e-mail, reset and OAuth-state tokens)
//! past `expiresAt`, and JWKS keys whose `expiresAt` (the end of a rotation's grace period) has passed. Run by the
//! scheduler as a built-in periodic job; each table is swept in bounded batches, each batch its own serializable
//! transaction, so a sweep never holds up requests or grows into one huge commit.

use crate::schema::{table, Model};
use database::{Database, DatabaseError, IndexRange, ScanRequest, UnixTime};
use value::{DocumentId, Value};

/// Rows removed by one sweep.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    pub sessions: usize,
    pub verifications: usize,
    pub keys: usize,
}

impl std::fmt::Display for Swept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} sessions, {} verification rows, {} keys removed", self.sessions, self.verifications, self.keys)
    }
}

/// Deletes expired rows as of `now`, at most `batch` per transaction and `max_batches` transactions per table.
pub async fn sweep_expired(
    db: &Database,
    now: UnixTime,
    batch: usize,
    max_batches: usize,
) -> Result<Swept, DatabaseError> {
    let now_ms = now.as_date_millis();
    let mut swept = Swept::default();
    for (model, count) in [(Model::Session, &mut swept.sessions), (Model::Verification, &mut swept.verifications)] {
        for _ in 0..max_batches {
            let deleted = delete_batch(db, model, now_ms, batch, true).await?;
            *count += deleted;
            if deleted < batch {
                break;
            }
        }
    }
    swept.keys = delete_batch(db, Model::Jwks, now_ms, batch, false).await?;
    Ok(swept)
}

/// One transaction deleting up to `batch` rows of `model` whose `expiresAt` is before `now_ms` (by the `expiresAt`
/// index when the table has one; the JWKS table holds a handful of rows and is read whole).
async fn delete_batch(
    db: &Database,
    model: Model,
    now_ms: f64,
    batch: usize,
    indexed: bool,
) -> Result<usize, DatabaseError> {
    database::run_serializable(db, || async {
        let mut t = db.begin(false).await?;
        let name = table(model);
        let request = if indexed {
            let mut r = ScanRequest::new(&name, "expiresAt");
            r.range = IndexRange::all().gt("expiresAt", Value::Null).lt("expiresAt", now_ms);
            r.limit = Some(batch);
            r
        } else {
            let mut r = ScanRequest::new(&name, database::schema::BY_CREATION_TIME);
            r.limit = Some(1024);
            r
        };
        let rows = t.scan(request).await?.documents;
        let mut deleted = 0;
        for row in rows {
            let expired = row.get("expiresAt").and_then(Value::as_f64).is_some_and(|at| at < now_ms);
            let id = row.get("_id").and_then(Value::as_str).and_then(|s| DocumentId::parse(s).ok());
            if let (true, Some(id)) = (expired, id) {
                t.delete(&id).await?;
                deleted += 1;
                if deleted >= batch {
                    break;
                }
            }
        }
        db.commit(t).await?;
        Ok(deleted)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use database::{DatabaseConfig, ManualClock, SeededEntropy};
    use std::sync::Arc;
    use value::Object;

    fn row(fields: &[(&str, Value)]) -> Object {
        fields.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    #[tokio::test]
    async fn expired_rows_are_swept_in_bounded_batches_and_live_ones_stay() {
        let clock = ManualClock::new(1_767_607_650_000_000_000);
        let schema = crate::schema::auth_schema();
        let config = DatabaseConfig::new(schema, Arc::new(clock.clone()), Arc::new(SeededEntropy::new(3)));
        let db = Database::open(test_support::test_persistence().await, config).await.unwrap();
        let now = database::Clock::now(&clock);
        let (past, future) = (now.as_date_millis() - 1000.0, now.as_date_millis() + 3_600_000.0);
        let mut t = db.begin(false).await.unwrap();
        for i in 0..7 {
            let at = if i < 5 { past } else { future };
            let session = row(&[
                ("token", Value::String(format!("t{i}"))),
                ("userId", Value::String("u".into())),
                ("expiresAt", Value::Float64(at)),
                ("createdAt", Value::Float64(past)),
                ("updatedAt", Value::Float64(past)),
            ]);
            t.insert(&table(Model::Session), session).await.unwrap();
        }
        for at in [past, future] {
            let verification = row(&[
                ("identifier", Value::String("x".into())),
                ("value", Value::String("v".into())),
                ("expiresAt", Value::Float64(at)),
                ("createdAt", Value::Float64(past)),
                ("updatedAt", Value::Float64(past)),
            ]);
            t.insert(&table(Model::Verification), verification).await.unwrap();
        }
        for expires in [Some(past), Some(future), None] {
            let mut key = row(&[
                ("publicKey", Value::String("p".into())),
                ("privateKey", Value::String("k".into())),
                ("createdAt", Value::Float64(past)),
            ]);
            if let Some(at) = expires {
                key.insert("expiresAt".into(), Value::Float64(at));
            }
            t.insert(&table(Model::Jwks), key).await.unwrap();
        }
        db.commit(t).await.unwrap();

        // Batches of 2, at most 2 per table: 4 of the 5 expired sessions go now, the last one next time.
        let swept = sweep_expired(&db, now, 2, 2).await.unwrap();
        assert_eq!(swept, Swept { sessions: 4, verifications: 1, keys: 1 });
        let swept = sweep_expired(&db, now, 2, 2).await.unwrap();
        assert_eq!(swept, Swept { sessions: 1, verifications: 0, keys: 0 });
        let mut left = Vec::new();
        for model in [Model::Session, Model::Verification, Model::Jwks] {
            let mut t = db.begin(true).await.unwrap();
            let request = ScanRequest::new(&table(model), database::schema::BY_CREATION_TIME);
            left.push(t.scan(request).await.unwrap().documents.len());
        }
        // Sessions and verification rows that have not expired stay, and so do unexpired and never-expiring keys.
        assert_eq!(left, [2, 1, 2]);
    }
}
