//! A subscribed full-text search is pushed the new message that matches it, and is not re-run by a write of other
//! words (its read set is the postings of its terms, not the table).

use super::harness::{check, SESSION_1};

#[tokio::test]
async fn a_subscribed_search_reruns_only_for_writes_touching_its_terms() {
    let script = format!(
        r#"
{{"mutate":{{"path":"messages:send","args":{{"body":"the quick brown fox"}}}}}}
{{"connect":"{SESSION_1}"}}
{{"send":{{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{{"type":"Add","queryId":0,"udfPath":"messages:search","args":[{{"query":"fox"}}]}},{{"type":"Add","queryId":1,"udfPath":"messages:search","args":[{{"query":""}}]}}]}}}}
{{"expect":{{"type":"Transition","modifications":[{{"type":"QueryUpdated","queryId":0,"value":[{{"body":"the quick brown fox"}}],"journal":null}},{{"type":"QueryUpdated","queryId":1,"value":[]}}]}}}}
// Other words: nothing re-runs, nothing is sent.
{{"mutate":{{"path":"messages:send","args":{{"body":"a blue whale"}}}}}}
{{"notify":true}}
{{"expect_nothing":true}}
// A matching message is pushed, most relevant first.
{{"mutate":{{"path":"messages:send","args":{{"body":"fox"}}}}}}
{{"notify":true}}
{{"expect":{{"type":"Transition","modifications":[{{"type":"QueryUpdated","queryId":0,"value":[{{"body":"fox"}},{{"body":"the quick brown fox"}}]}}]}}}}
"#
    );
    let session = check(&script).await;
    assert_eq!(session.d.runs.of("messages:search"), 3, "two first runs and one re-run for the new fox");
}
