#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::snapshot::{
    GET, KEYS_ASC, KEYS_ASC_BOUNDED, KEYS_DESC, KEYS_DESC_BOUNDED, SCAN_ASC, SCAN_ASC_BOUNDED, SCAN_DESC,
    SCAN_DESC_BOUNDED,
};
use crate::SqlitePersistence;

/// The query plan of `sql`, one line per step.
fn plan(persistence: &SqlitePersistence, sql: &str) -> Vec<String> {
    persistence
        .inner
        .readers
        .with(|conn| {
            let mut statement = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            // Plans are fixed at prepare time; the bound values (all NULL here) do not change them.
            let parameters = vec![rusqlite::types::Null; statement.parameter_count()];
            let rows =
                statement.query_map(rusqlite::params_from_iter(parameters), |row| row.get::<_, String>(3)).unwrap();
            Ok(rows.map(Result::unwrap).collect())
        })
        .unwrap()
}

/// Scans walk the primary key of `index_entries` in either direction without a sort, and look each document up by
/// its primary key: their cost is proportional to the rows returned, not to the size of the index.
#[test]
fn scans_walk_the_primary_key_without_sorting() {
    let dir = tempfile::tempdir().unwrap();
    let persistence = SqlitePersistence::open(&dir.path().join("plan.sqlite")).unwrap();
    for sql in [SCAN_ASC, SCAN_DESC, SCAN_ASC_BOUNDED, SCAN_DESC_BOUNDED] {
        let plan = plan(&persistence, sql);
        let text = plan.join("\n");
        assert_eq!(plan.len(), 2, "two steps, the entries then the document:\n{text}");
        assert!(plan[0].starts_with("SEARCH e USING PRIMARY KEY (idx=? AND key>?"), "entries by key range:\n{text}");
        if sql.contains("key < ?4") {
            assert!(plan[0].contains("key<?"), "the end bound is part of the key range:\n{text}");
        }
        assert_eq!(plan[1], "SEARCH d USING PRIMARY KEY (id=?)", "documents by id:\n{text}");
        assert!(!text.contains("TEMP B-TREE"), "no sort step:\n{text}");
    }
    let plan = plan(&persistence, GET);
    assert_eq!(plan, vec!["SEARCH documents USING PRIMARY KEY (id=?)".to_owned()], "a point read");
}

/// Keys-only scans are one walk of the primary key of `index_entries` (which holds the document id) and read no
/// document.
#[test]
fn keys_only_scans_read_no_document() {
    let dir = tempfile::tempdir().unwrap();
    let persistence = SqlitePersistence::open(&dir.path().join("plan.sqlite")).unwrap();
    for sql in [KEYS_ASC, KEYS_DESC, KEYS_ASC_BOUNDED, KEYS_DESC_BOUNDED] {
        let plan = plan(&persistence, sql);
        let text = plan.join("\n");
        assert_eq!(plan.len(), 1, "one step, the entries:\n{text}");
        assert!(
            plan[0].starts_with("SEARCH index_entries USING PRIMARY KEY (idx=? AND key>?"),
            "by key range:\n{text}"
        );
        if sql.contains("key < ?4") {
            assert!(plan[0].contains("key<?"), "the end bound is part of the key range:\n{text}");
        }
        assert!(!text.contains("TEMP B-TREE"), "no sort step:\n{text}");
    }
}
