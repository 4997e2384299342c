//! Query journals over the sync protocol: a subscribed page's first execution records its end in the journal sent
//! with `QueryUpdated`; re-executions keep that end, so a page grows with the rows inserted into it instead of
//! pushing its last rows out (where the next page, which starts at the old end, would never show them); an Add that
//! carries a journal (a reconnecting client) gets the same page back; a journal of another query is InvalidCursor.

use super::harness::{check, SESSION_1, SESSION_2};

#[tokio::test]
async fn subscribed_pages_keep_their_ends_through_the_journal() {
    let script = format!(
        r#"
{{"mutate":{{"path":"messages:send","args":{{"body":"a"}}}}}}
{{"mutate":{{"path":"messages:send","args":{{"body":"b"}}}}}}
{{"mutate":{{"path":"messages:send","args":{{"body":"c"}}}}}}
{{"connect":"{SESSION_1}"}}
{{"send":{{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{{"type":"Add","queryId":0,"udfPath":"messages:page","args":[{{"paginationOpts":{{"numItems":2,"cursor":null,"id":1}}}}]}}]}}}}
{{"expect":{{"type":"Transition","modifications":[{{"type":"QueryUpdated","queryId":0,"value":{{"page":["c","b"],"isDone":false,"continueCursor":"$C0","splitCursor":null,"pageStatus":null}},"journal":"$J0"}}]}}}}
{{"send":{{"type":"ModifyQuerySet","baseVersion":1,"newVersion":2,"modifications":[{{"type":"Add","queryId":1,"udfPath":"messages:page","args":[{{"paginationOpts":{{"numItems":2,"cursor":"$C0","id":1}}}}]}}]}}}}
{{"expect":{{"type":"Transition","modifications":[{{"type":"QueryUpdated","queryId":1,"value":{{"page":["a"],"isDone":true,"continueCursor":"$C1"}},"journal":"$J1"}}]}}}}
// A new message is newest: it joins the first page, which keeps "b" (its end stays); the second page is not re-run.
{{"mutate":{{"path":"messages:send","args":{{"body":"d"}}}}}}
{{"notify":true}}
{{"expect":{{"type":"Transition","modifications":[{{"type":"QueryUpdated","queryId":0,"value":{{"page":["d","c","b"],"isDone":false,"continueCursor":"$C0"}},"journal":"$J0"}}]}}}}
// A reconnecting client re-adds its pages with their journals and gets the same pages back.
{{"on":"b","connect":"{SESSION_2}"}}
{{"on":"b","send":{{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{{"type":"Add","queryId":0,"udfPath":"messages:page","args":[{{"paginationOpts":{{"numItems":2,"cursor":null,"id":1}}}}],"journal":"$J0"}},{{"type":"Add","queryId":1,"udfPath":"messages:page","args":[{{"paginationOpts":{{"numItems":2,"cursor":"$C0","id":1}}}}],"journal":"$J1"}}]}}}}
{{"on":"b","expect":{{"type":"Transition","modifications":[{{"type":"QueryUpdated","queryId":0,"value":{{"page":["d","c","b"],"continueCursor":"$C0"}},"journal":"$J0"}},{{"type":"QueryUpdated","queryId":1,"value":{{"page":["a"],"isDone":true,"continueCursor":"$C1"}},"journal":"$J1"}}]}}}}
// Without the journal the same arguments are a first execution: numItems rules.
{{"on":"b","send":{{"type":"ModifyQuerySet","baseVersion":1,"newVersion":2,"modifications":[{{"type":"Add","queryId":2,"udfPath":"messages:page","args":[{{"paginationOpts":{{"numItems":2,"cursor":null,"id":1}}}}],"journal":null}}]}}}}
{{"on":"b","expect":{{"type":"Transition","modifications":[{{"type":"QueryUpdated","queryId":2,"value":{{"page":["d","c"],"isDone":false}},"journal":"*"}}]}}}}
// A journal that does not belong to the query: InvalidCursor, which usePaginatedQuery answers by starting over.
{{"on":"b","send":{{"type":"ModifyQuerySet","baseVersion":2,"newVersion":3,"modifications":[{{"type":"Add","queryId":3,"udfPath":"messages:page","args":[{{"paginationOpts":{{"numItems":2,"cursor":null,"id":1}}}}],"journal":"[\"AQ\"]"}}]}}}}
{{"on":"b","expect":{{"type":"Transition","modifications":[{{"type":"QueryFailed","queryId":3,"errorData":{{"isConvexSystemError":true,"paginationError":"InvalidCursor"}},"journal":"[\"AQ\"]"}}]}}}}
// A query that does not paginate still has a null journal.
{{"on":"b","send":{{"type":"ModifyQuerySet","baseVersion":3,"newVersion":4,"modifications":[{{"type":"Add","queryId":4,"udfPath":"messages:list","args":[{{}}]}}]}}}}
{{"on":"b","expect":{{"type":"Transition","modifications":[{{"type":"QueryUpdated","queryId":4,"journal":null}}]}}}}
"#
    );
    let session = check(&script).await;
    // On "a": q0 and q1, q0 again after "d". On "b": q0 with its journal shares a's evaluation at the same
    // timestamp (same path, arguments, identity and journal); q1 with its journal, q2 and q3 run.
    assert_eq!(session.d.runs.of("messages:page"), 6);
}
